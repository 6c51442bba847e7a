"""The face-recognition demo's stories hold on its own numbers: alignment ignores the pose, the
margins order the embeddings as the presets say, the threshold does not retrain."""

import math

import numpy as np

from demos import face_recognition as demo


def test_alignment_undoes_the_pose_without_detector_noise():
    runs = [
        demo._pipeline(rotation, scale, dx, dy, 0.0, 0)
        for rotation, scale, dx, dy in ((0.0, 1.0, 0.0, 0.0), (35.0, 0.7, 12.0, -20.0))
    ]
    # the template fit of the same five points: the same residuals in any pose
    np.testing.assert_allclose(runs[0]["residual"], runs[1]["residual"], atol=1e-9)
    np.testing.assert_allclose(runs[0]["mapped"], runs[1]["mapped"], atol=1e-9)
    np.testing.assert_allclose(runs[1]["umeyama"], runs[1]["lstsq"], atol=1e-9)


def test_the_pose_matrix_rotates_counter_clockwise_on_screen():
    matrix = demo.pose_matrix(90.0, 1.0, 0.0, 0.0)
    centre = (demo._photo().shape[0] - 1) / 2
    right_of_centre = np.array([centre + 10, centre])
    # y points down on screen: counter-clockwise takes "right of centre" to "above it"
    np.testing.assert_allclose(
        matrix[:, :2] @ right_of_centre + matrix[:, 2], [centre, centre - 10], atol=1e-9
    )


def angles(preset):
    run = demo._run(preset)
    return np.degrees(run["curves"]["weight_angle"][-1]), run


def test_arcface_preset_has_nearly_even_gaps_on_the_circle():
    preset = demo.presets["arcface"]
    smallest, _ = angles(preset)
    even = 360 / preset.classes
    arcface = next(k for k, (key, _, _) in enumerate(demo._models(preset)) if key == "arcface")
    assert smallest[arcface] > 0.85 * even


def test_sphereface_without_annealing_collapses_and_with_it_separates():
    smallest, run = angles(demo.presets["annealing"])
    assert [key for key, _, _ in demo._models(demo.presets["annealing"])] == [
        "sphereface",
        "sphereface+",
    ]
    assert smallest[0] < 10 < 30 < smallest[1]
    assert run["curves"]["accuracy"][-1, 1] > run["curves"]["accuracy"][-1, 0]


def test_a_margin_too_wide_for_the_circle_keeps_the_loss_high():
    wide = demo.presets["too-wide"]
    assert wide.classes * wide.m_arcface > 2 * math.pi
    fitting = wide.model_copy(update={"m_arcface": 0.5})
    assert wide.classes * fitting.m_arcface < 2 * math.pi
    assert (
        demo._run(wide)["curves"]["loss"][-1, 0] > 2 * demo._run(fitting)["curves"]["loss"][-1, 0]
    )


def test_plain_softmax_separates_but_leaves_classes_wider_than_arcface():
    preset = demo.presets["petals"]
    run = demo._run(preset)
    plain, arcface = (run["verification"][k]["test_accuracy"] for k in range(2))
    assert plain > 0.9 and arcface > 0.9  # both separate the identities
    target_angle = np.degrees(run["curves"]["target_angle"][-1])
    assert target_angle[0] > 2 * target_angle[1]  # but plain softmax is far from its W
    norms = np.linalg.norm(run["embeddings"][0], axis=-1)
    assert norms.max() > 3 * norms.min()  # and its features' norms vary: radial petals


def test_moving_the_threshold_reuses_the_trained_models():
    base = demo.Params(losses=["arcface"], classes=3, per_class=10, steps=10)
    demo.DEMO.render(base)
    before = demo._train.cache_info()
    rendered = demo.DEMO.render(base.model_copy(update={"threshold": 0.1}))
    after = demo._train.cache_info()
    assert after.misses == before.misses and after.hits == before.hits + 1
    assert "FAR" in rendered.notes
