"""The upsampling demo tells its stories: each claim of its text is checked on its figures."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from demos import upsampling as demo


def render(**values):
    return demo.render(demo.Params(**values))


def table(notes: str, header: str) -> dict[str, list[str]]:
    """Rows of the markdown table that starts with `header`, keyed by their first cell."""
    lines = notes.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    rows = {}
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        rows[cells[0]] = cells[1:]
    return rows


def z(figure, index: int) -> np.ndarray:
    return np.asarray(figure.data[index].z, dtype=float)


@pytest.mark.parametrize("name", ["camera", "zone_plate", "checkerboard"])
def test_bundled_images_are_small_grey_images_in_the_unit_range(name):
    image = demo.load_image(name)
    assert image.shape == (demo.IMAGE_SIZE, demo.IMAGE_SIZE) and image.dtype == torch.float32
    assert float(image.min()) >= 0 and float(image.max()) <= 1
    assert float(image.std()) > 0.1  # not blank
    assert demo.PHOTO.stat().st_size < 40_000


def test_zone_plate_rings_get_denser_outwards_without_aliasing_in_the_image():
    half_row = demo.zone_plate().double()[64, 64:] - 0.5  # centre to the right edge
    crossings = (half_row[1:] * half_row[:-1] < 0).nonzero().flatten()
    # phase π r²/(n√2) grows by 71 rad over 64 pixels: 22 half-periods, all of them resolved
    assert len(crossings) == 22
    gaps = crossings.diff()
    assert gaps[:3].min() > gaps[-3:].max()  # rings get denser towards the edge


def test_image_panels_are_the_crop_and_one_per_method_at_the_requested_scale():
    rendered = render(image="checkerboard", scale=2.5, crop=16, methods=["nearest", "bicubic"])
    figure = rendered.figures[0]
    assert z(figure, 0).shape == (16, 16)
    assert z(figure, 1).shape == z(figure, 2).shape == (40, 40)
    crop = z(figure, 0)
    expected = F.interpolate(torch.tensor(crop)[None, None], scale_factor=2.5, mode="bicubic")
    np.testing.assert_allclose(z(figure, 2), expected[0, 0].numpy(), atol=1e-5)


def test_nearest_at_a_non_integer_factor_repeats_pixels_unevenly():
    notes = demo.render(demo.presets["Nearest at a non-integer factor"]).notes
    rows = table(notes, "| method")
    assert rows["nearest"][-1] == "2, 3" and rows["nearest-exact"][-1] == "2, 3"
    assert table(render(scale=4.0).notes, "| method")["nearest"][-1] == "4"


def test_bicubic_overshoots_the_unit_range_where_bilinear_does_not():
    rows = table(demo.render(demo.presets["Bicubic overshoots"]).notes, "| method")
    low, high = float(rows["bicubic"][1]), float(rows["bicubic"][2])
    assert low < 0 and high > 1
    assert float(rows["bilinear"][1]) >= 0 and float(rows["bilinear"][2]) <= 1


def test_downscaling_the_zone_plate_halves_the_crop():
    figure = demo.render(demo.presets["Downscaling aliases"]).figures[0]
    assert z(figure, 0).shape == (64, 64) and z(figure, 1).shape == (32, 32)


def test_the_sampling_table_lists_weights_that_sum_to_one_and_give_the_output():
    for focus in demo.MODES:
        notes = render(focus=focus, map_in=5, map_out=7, out_row=6, out_col=0).notes
        rows = table(notes, "| input pixel")
        total = rows.pop("sum of weights")
        assert float(total[1]) == pytest.approx(1.0, abs=1e-4)
        value = float(notes.split("**Output pixel (6, 0)** = ")[1].split()[0])
        rebuilt = sum(float(v) * float(w) for v, w in rows.values())
        assert rebuilt == pytest.approx(value, abs=2e-2)  # values are printed to 2 decimals


def test_align_corners_true_samples_the_last_output_column_at_the_last_input_centre():
    def sample_point(figure) -> tuple[float, float]:
        cross = next(t for t in figure.data if t.type == "scatter" and t.marker.symbol == "x-thin")
        return cross.x[0], cross.y[0]

    assert sample_point(demo.render(demo.presets["align_corners=True"]).figures[1]) == (3.0, 0.0)
    # (7 + ½)·4/8 − ½ = 3.25: past the last centre; row 0 at (0 + ½)/2 − ½ = −0.25
    assert sample_point(render(out_row=0, out_col=7).figures[1]) == (3.25, -0.25)


def test_an_output_pixel_outside_a_small_map_is_clamped_to_its_last_pixel():
    rendered = render(map_out=3, out_row=15, out_col=15)
    assert "**Output pixel (2, 2)**" in rendered.notes


def interior(values: np.ndarray, margin: int) -> np.ndarray:
    return values[margin:-margin, margin:-margin]


@pytest.mark.parametrize(
    "preset,even", [("Checkerboard artifacts (k=3, s=2)", False), ("Even overlap (k=4, s=2)", True)]
)
def test_transposed_convolution_overlap_is_even_only_when_the_stride_divides_the_kernel(
    preset, even
):
    params = demo.presets[preset]
    figure = demo.render(params).figures[2]
    counts = interior(z(figure, 0), params.kernel)
    assert (counts.min() == counts.max()) == even
    resize_conv = interior(z(figure, 2), params.kernel)
    np.testing.assert_allclose(resize_conv, 1.0, atol=1e-5)  # resize-convolution is flat


def test_a_stride_beyond_the_kernel_leaves_holes():
    counts = z(demo.render(demo.presets["Gaps when s > k"]).figures[2], 0)
    assert counts.min() == 0


def test_pixel_shuffle_panel_colours_each_sub_pixel_by_its_channel():
    for r in (2, 3, 4):
        shuffled = z(render(factor=r).figures[3], 1)
        for i in range(r):
            for j in range(r):
                assert (shuffled[i::r, j::r] == i * r + j).all()


def test_max_unpool_panel_keeps_each_maximum_in_its_place():
    figure = render(factor=3).figures[3]
    original, unpooled = z(figure, 2), z(figure, 4)
    kept = ~np.isnan(unpooled)
    assert kept.sum() == demo.POOLED_SIZE**2
    np.testing.assert_array_equal(unpooled[kept], original[kept])


def test_figure_count_is_the_same_for_every_preset_and_bound():
    counts = {len(demo.render(p).figures) for p in demo.presets.values()}
    counts |= {len(demo.DEMO.render(demo.DEMO.bounds(which)).figures) for which in ("min", "max")}
    assert counts == {4}
