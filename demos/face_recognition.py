"""Face recognition: how a face becomes a unit vector, and how angular margins shape those vectors.

The question: what happens between a photo and "same person or not"? A detector's five landmarks
are mapped onto a canonical 112 × 112 template by the least-squares similarity (Umeyama), the
aligned crop is embedded, and two embeddings are compared by their cosine. The embedder is trained
as a classifier whose logits are cosines with a margin: SphereFace multiplies the angle, CosFace
subtracts from the cosine, ArcFace adds to the angle. Small MLPs trained live on synthetic
identities show, on the circle or the sphere, what each margin does to the classes.
"""

from __future__ import annotations

import base64
import io
import math
from functools import lru_cache
from pathlib import Path
from typing import Literal

import numpy as np
import plotly.graph_objects as go
from pydantic import BaseModel

from demos.base import PARAMS_CONFIG, Demo, Rendered, Source, Text, param
from demos.theme import COLORWAY, caption

PHOTO = Path(__file__).resolve().parents[1] / "assets" / "images" / "astronaut_face.png"
# Five landmarks annotated by hand for this project on the 192 × 192 crop (x 128–320, y 16–208
# of scikit-image's `astronaut`): left eye, right eye (as seen), nose tip, mouth corners.
LANDMARKS = np.array([[74.5, 85.0], [118.6, 87.5], [96.5, 110.0], [75.75, 124.4], [116.5, 126.75]])
SHORT_LANDMARKS = (
    Text("L eye", "左眼"),
    Text("R eye", "右眼"),
    Text("nose", "鼻尖"),
    Text("L mouth", "左嘴角"),
    Text("R mouth", "右嘴角"),
)
LANDMARK_NAMES = (
    Text("left eye", "左眼"),
    Text("right eye", "右眼"),
    Text("nose tip", "鼻尖"),
    Text("left mouth corner", "左嘴角"),
    Text("right mouth corner", "右嘴角"),
)
HELD_OUT = 20  # held-out samples per identity, for verification
HIST_BINS = 40

Loss = Literal["plain", "softmax", "sphereface", "cosface", "arcface"]
LOSSES = {
    "plain": Text("plain softmax (W·x + b)", "普通 softmax（W·x + b）"),
    "softmax": Text("normalised softmax (s·cos θ)", "归一化 softmax（s·cos θ）"),
    "sphereface": Text("SphereFace (cos mθ)", "SphereFace（cos mθ）"),
    "cosface": Text("CosFace (cos θ − m)", "CosFace（cos θ − m）"),
    "arcface": Text("ArcFace (cos(θ + m))", "ArcFace（cos(θ + m)）"),
}
SHORT = {
    "plain": Text("plain softmax", "普通 softmax"),
    "softmax": Text("normalised softmax", "归一化 softmax"),
    "sphereface": Text("SphereFace", "SphereFace"),
    "cosface": Text("CosFace", "CosFace"),
    "arcface": Text("ArcFace", "ArcFace"),
}
KIND_COLOR = {
    "plain": "#8C8C8C",
    "softmax": COLORWAY[0],
    "sphereface": COLORWAY[3],
    "sphereface+": COLORWAY[4],
    "cosface": COLORWAY[2],
    "arcface": COLORWAY[1],
}
ANNEALING = {
    "off": Text("off", "关闭"),
    "on": Text("on (λ 1000 → 5)", "开启（λ 1000 → 5）"),
    "both": Text("both, side by side", "两者并排"),
}
SPACES = {"circle": Text("2-D: circle", "二维：圆"), "sphere": Text("3-D: sphere", "三维：球面")}
LAMBDAS = (1000.0, 5.0)  # SphereFace's λ schedule: from nearly plain softmax to λ_min = 5


class Params(BaseModel):
    model_config = PARAMS_CONFIG

    rotation: float = param(
        20.0, en="Face rotation (°)", zh="人脸旋转（°）", ge=-60.0, le=60.0, step=1.0
    )
    scale: float = param(0.8, en="Face scale", zh="人脸缩放", ge=0.5, le=1.5, step=0.05)
    shift_x: float = param(
        10.0, en="Move right (px)", zh="右移（像素）", ge=-40.0, le=40.0, step=1.0
    )
    shift_y: float = param(
        -8.0, en="Move down (px)", zh="下移（像素）", ge=-40.0, le=40.0, step=1.0
    )
    landmark_noise: float = param(
        2.0,
        en="Detector noise on landmarks (px)",
        zh="关键点的检测噪声（像素）",
        help_en="Standard deviation added to the true landmarks: a stand-in for MTCNN's error.",
        help_zh="加在真实关键点上的标准差：代替 MTCNN 之类检测器的误差。",
        ge=0.0,
        le=10.0,
        step=0.5,
    )
    losses: list[Loss] = param(
        ["plain", "softmax", "sphereface", "cosface", "arcface"],
        en="Losses (one panel each)",
        zh="损失函数（各占一个面板）",
        choices=LOSSES,
        min_length=1,
        max_length=len(LOSSES),
    )
    s: float = param(
        16.0,
        en="Scale s (normalised losses)",
        zh="尺度 s（归一化的损失）",
        help_en="Logits are s·cos θ: the radius of the hypersphere the features live on.",
        help_zh="logit 为 s·cos θ：特征所在超球面的半径。",
        ge=1.0,
        le=64.0,
        step=1.0,
    )
    m_sphereface: int = param(
        4, en="SphereFace m (integer)", zh="SphereFace 的 m（整数）", ge=1, le=6
    )
    m_cosface: float = param(0.35, en="CosFace m", zh="CosFace 的 m", ge=0.0, le=0.8, step=0.05)
    m_arcface: float = param(
        0.5, en="ArcFace m (rad)", zh="ArcFace 的 m（弧度）", ge=0.0, le=1.5, step=0.05
    )
    annealing: Literal["off", "on", "both"] = param(
        "both",
        en="SphereFace annealing",
        zh="SphereFace 退火",
        help_en="(λ·s·cos θ + s·ψ(θ))/(1 + λ), λ decaying from 1000 to 5 over the steps.",
        help_zh="(λ·s·cos θ + s·ψ(θ))/(1 + λ)，λ 在训练中从 1000 衰减到 5。",
        choices=ANNEALING,
    )
    space: Literal["circle", "sphere"] = param(
        "circle", en="Embedding dimension", zh="嵌入维度", choices=SPACES
    )
    classes: int = param(6, en="Identities (classes)", zh="身份数（类别）", ge=2, le=10)
    per_class: int = param(
        40, en="Training samples per identity", zh="每个身份的训练样本", ge=10, le=100, step=10
    )
    spread: float = param(
        0.3,
        en="Spread within an identity",
        zh="身份内部的离散程度",
        help_en="Noise around each identity's centre in the 8-D input (centres ~ N(0, I)).",
        help_zh="8 维输入中每个身份中心周围的噪声（中心 ~ N(0, I)）。",
        ge=0.1,
        le=1.0,
        step=0.1,
    )
    steps: int = param(150, en="Adam steps", zh="Adam 步数", ge=10, le=200, step=10)
    seed: int = param(0, en="Seed", zh="随机种子", ge=0, le=99)
    threshold: float = param(
        0.75,
        en="Verification threshold (cosine)",
        zh="验证阈值（余弦）",
        help_en="A pair is accepted as the same identity when its cosine is at least this.",
        help_zh="两个嵌入的余弦不小于该值时判为同一身份。",
        ge=-1.0,
        le=1.0,
        step=0.05,
    )


# --- computation (torch, core) --------------------------------------------------------------


def _torch():
    import torch

    torch.set_num_threads(1)  # small tensors: threads cost more than they save on 2 cores
    return torch


@lru_cache(maxsize=1)
def _photo() -> np.ndarray:
    from PIL import Image as PILImage  # Pillow comes with Gradio; only this image needs it

    with PILImage.open(PHOTO) as photo:
        return np.asarray(photo.convert("RGB"), dtype=np.float32) / 255.0  # (192, 192, 3)


def _data_uri(rgb: np.ndarray) -> str:
    """An (H, W, 3) image in [0, 1] as a JPEG data URI (small; the encoder is deterministic)."""
    from PIL import Image as PILImage

    buffer = io.BytesIO()
    pixels = (np.clip(rgb, 0, 1) * 255).round().astype(np.uint8)
    PILImage.fromarray(pixels).save(buffer, format="JPEG", quality=88)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()


def pose_matrix(rotation: float, scale: float, shift_x: float, shift_y: float) -> np.ndarray:
    """The similarity (2, 3) that rotates (counter-clockwise on screen) and scales the photo
    about its centre, then moves it."""
    size = _photo().shape[0]
    centre = np.array([(size - 1) / 2, (size - 1) / 2])
    a = math.radians(rotation)
    linear = scale * np.array([[math.cos(a), math.sin(a)], [-math.sin(a), math.cos(a)]])
    return np.concatenate([linear, (centre - linear @ centre + [shift_x, shift_y])[:, None]], 1)


@lru_cache(maxsize=16)
def _pipeline(
    rotation: float, scale: float, shift_x: float, shift_y: float, noise: float, seed: int
) -> dict:
    """Pose the photo, detect (noisy landmarks), align by Umeyama, crop 112 × 112."""
    torch = _torch()
    from core.vision import face

    photo = torch.from_numpy(_photo()).permute(2, 0, 1)
    pose = pose_matrix(rotation, scale, shift_x, shift_y)
    posed = face.warp_affine(photo, pose, photo.shape[1:])
    true_points = LANDMARKS @ pose[:, :2].T + pose[:, 2]
    detected = true_points + noise * np.random.default_rng(seed).standard_normal(true_points.shape)
    umeyama = face.similarity_transform(detected, face.TEMPLATE_112).round(10)
    lstsq = face.least_squares_similarity(detected, face.TEMPLATE_112)
    aligned = face.warp_affine(posed, umeyama, (112, 112))
    # rounded: an SVD (LAPACK) may differ in the last bits between processes
    return {
        "posed": _data_uri(posed.permute(1, 2, 0).numpy()),
        "aligned": _data_uri(aligned.permute(1, 2, 0).numpy()),
        "true": true_points,
        "detected": detected,
        "umeyama": umeyama,
        "lstsq": lstsq,
        "mapped": (detected @ umeyama[:, :2].T + umeyama[:, 2]).round(9),
        "residual": face.transform_residuals(umeyama, detected, face.TEMPLATE_112).round(9),
        "residual_lstsq": face.transform_residuals(lstsq, detected, face.TEMPLATE_112).round(9),
        "template": face.TEMPLATE_112,
    }


def _models(p: Params) -> list[tuple[str, str, bool]]:
    """(key, kind, annealed) of each panel, in the order of LOSSES."""
    models = []
    for kind in LOSSES:
        if kind not in p.losses:
            continue
        if kind == "sphereface" and p.annealing == "both":
            models += [("sphereface", kind, False), ("sphereface+", kind, True)]
        else:
            key = "sphereface+" if kind == "sphereface" and p.annealing == "on" else kind
            models.append((key, kind, key == "sphereface+"))
    return models


def _model_name(key: str, lang: str) -> str:
    if key == "sphereface+":
        return Text("SphereFace, annealed", "SphereFace（退火）")(lang)
    return SHORT[key](lang)


@lru_cache(maxsize=16)
def _train(
    models: tuple[tuple[str, str, bool], ...],
    s: float,
    m_sphereface: int,
    m_cosface: float,
    m_arcface: float,
    dim: int,
    classes: int,
    per_class: int,
    spread: float,
    steps: int,
    seed: int,
) -> dict:
    """Train every selected model side by side; embeddings, curves and pair scores as numpy."""
    torch = _torch()
    from core.trace import Trace
    from core.vision import face

    x, labels, x_test, labels_test = face.synthetic_identities(
        classes, per_class, spread, held_out=HELD_OUT, seed=seed
    )
    trace = Trace()
    trained = face.train_embeddings(
        x, labels, [kind for _, kind, _ in models], dim=dim, s=s,
        margins={"sphereface": m_sphereface, "cosface": m_cosface, "arcface": m_arcface},
        anneal=[annealed for _, _, annealed in models], lambdas=LAMBDAS, steps=steps, seed=seed,
        trace=trace,
    )  # fmt: skip
    with torch.no_grad():
        test = trained.features(x_test)
    curves = {
        name: torch.stack(trace.column("step", name)).numpy()
        for name in ("loss", "accuracy", "target_angle", "weight_angle")
    }
    bins = np.linspace(-1, 1, HIST_BINS + 1)
    verification = []
    for k in range(len(models)):
        genuine, impostor = face.pair_scores(test[k], labels_test)
        unit = torch.nn.functional.normalize(test[k], dim=-1)
        weights = torch.nn.functional.normalize(trained.weight[k], dim=-1)
        scores = unit @ weights.T if models[k][1] != "plain" else test[k] @ trained.weight[k].T
        verification.append(
            {
                "genuine": genuine.numpy(),
                "impostor": impostor.numpy(),
                "genuine_hist": np.histogram(genuine.numpy(), bins)[0] / len(genuine),
                "impostor_hist": np.histogram(impostor.numpy(), bins)[0] / len(impostor),
                "test_accuracy": float((scores.argmax(1) == labels_test).float().mean()),
            }
        )
    embeddings = trace["embeddings"][0].numpy()
    # a model whose ReLUs all died maps a sample to 0: keep it at the origin, not NaN
    unit = embeddings / np.maximum(np.linalg.norm(embeddings, axis=-1, keepdims=True), 1e-12)
    labels_np = labels.numpy()
    spread_angles = []
    for k in range(len(models)):
        angles = []
        for c in range(classes):
            members = unit[k, labels_np == c]
            centre = members.mean(0)
            centre /= max(np.linalg.norm(centre), 1e-12)
            angles.append(np.degrees(np.arccos(np.clip(members @ centre, -1, 1))))
        spread_angles.append(float(np.concatenate(angles).mean()))
    # rounded: what is shown must not depend on the last bits of a process's arithmetic
    return {
        "embeddings": embeddings.round(5),
        "weights": trace["weights"][0].numpy().round(5),
        "labels": labels_np,
        "curves": {name: value.round(6) for name, value in curves.items()},
        "verification": verification,
        "spread": spread_angles,
        "bins": bins,
    }


def _run(p: Params) -> dict:
    return _train(
        tuple(_models(p)), p.s, p.m_sphereface, p.m_cosface, p.m_arcface,
        2 if p.space == "circle" else 3, p.classes, p.per_class, p.spread, p.steps, p.seed,
    )  # fmt: skip


# --- figures ---------------------------------------------------------------------------------


def _figure(data: list, layout: dict) -> go.Figure:
    """A Figure from plain dicts; the page's template goes in when it is serialised."""
    return go.Figure({"data": data, "layout": {"template": {}, **layout}}, _validate=False)


def _domains(count: int, columns: int, gap: float = 0.06, vgap: float = 0.12):
    """(x domain, y domain) of `count` panels in rows of `columns`, top row first."""
    rows = math.ceil(count / columns)
    width = (1 - gap * (columns - 1)) / columns
    height = (1 - vgap * (rows - 1)) / rows
    for index in range(count):
        row, col = divmod(index, columns)
        x0 = col * (width + gap)
        y1 = 1 - row * (height + vgap)
        yield (
            [round(x0, 6), round(min(x0 + width, 1), 6)],
            [round(max(y1 - height, 0), 6), round(y1, 6)],
        )


def _pipeline_figure(p: Params, lang: str) -> go.Figure:
    run = _pipeline(p.rotation, p.scale, p.shift_x, p.shift_y, p.landmark_noise, p.seed)
    names = [name(lang) for name in LANDMARK_NAMES]
    short = [name(lang) for name in SHORT_LANDMARKS]
    t = Text
    data = [
        {"type": "image", "source": run["posed"], "xaxis": "x", "yaxis": "y", "hoverinfo": "skip"},
        {"type": "scatter", "x": run["true"][:, 0], "y": run["true"][:, 1], "mode": "markers",
         "marker": {"symbol": "circle-open", "size": 11, "color": "#FFFFFF", "line": {"width": 2}},
         "name": t("true landmarks", "真实关键点")(lang), "text": names, "xaxis": "x", "yaxis": "y"},
        {"type": "scatter", "x": run["detected"][:, 0], "y": run["detected"][:, 1], "mode": "markers",
         "marker": {"symbol": "x", "size": 9, "color": COLORWAY[4]}, "text": names,
         "name": t("detected (noisy)", "检测到的（带噪声）")(lang), "xaxis": "x", "yaxis": "y"},
        {"type": "image", "source": run["aligned"], "xaxis": "x2", "yaxis": "y2", "hoverinfo": "skip"},
        {"type": "scatter", "x": run["template"][:, 0], "y": run["template"][:, 1], "mode": "markers",
         "marker": {"symbol": "cross-thin-open", "size": 14, "color": COLORWAY[5], "line": {"width": 2}},
         "name": t("112 × 112 template", "112 × 112 模板")(lang), "text": names, "xaxis": "x2", "yaxis": "y2"},
        {"type": "scatter", "x": run["mapped"][:, 0], "y": run["mapped"][:, 1], "mode": "markers",
         "marker": {"symbol": "x", "size": 8, "color": COLORWAY[4]}, "text": names, "showlegend": False,
         "name": t("detected, aligned", "检测点（对齐后）")(lang), "xaxis": "x2", "yaxis": "y2"},
        {"type": "bar", "x": short, "y": run["residual"], "name": t("Umeyama", "Umeyama")(lang),
         "marker": {"color": COLORWAY[0]}, "xaxis": "x3", "yaxis": "y3", "offsetgroup": "a"},
        {"type": "bar", "x": short, "y": run["residual_lstsq"], "offsetgroup": "b",
         "name": t("linear least squares", "线性最小二乘")(lang), "marker": {"color": COLORWAY[2]},
         "xaxis": "x3", "yaxis": "y3"},
    ]  # fmt: skip
    gap = np.abs(run["umeyama"] - run["lstsq"]).max()
    scale = math.hypot(*run["umeyama"][:, 0])
    angle = math.degrees(math.atan2(run["umeyama"][1, 0], run["umeyama"][0, 0]))
    agree = "< 1e-9" if gap < 1e-9 else f"{gap:.1e}"
    image_axis = {"showgrid": False, "zeroline": False, "showline": False, "ticks": "",
                  "showticklabels": False}  # fmt: skip
    layout = {
        "title": {
            "text": t(
                "Detect → align: five landmarks onto the 112 × 112 template (Umeyama)",
                "检测 → 对齐：五个关键点映射到 112 × 112 模板（Umeyama）",
            )(lang)
        },
        "annotations": [
            caption(t("posed photo, landmarks", "摆放后的照片与关键点")(lang), x=0.0, y=1.0),
            caption(t("aligned crop", "对齐后的裁剪")(lang), x=0.39, y=1.0),
            caption(
                t(
                    f"residuals: scale {scale:.3f}, rotation {angle:.1f}°<br>"
                    f"max |Umeyama − lstsq| {agree}",
                    f"残差：缩放 {scale:.3f}，旋转 {angle:.1f}°<br>"
                    f"max |Umeyama − 最小二乘| {agree}",
                )(lang),
                x=0.66,
                y=1.0,
                size=11,
            ),
        ],
        "xaxis": {"domain": [0, 0.34], **image_axis, "constrain": "domain"},
        "yaxis": {**image_axis, "scaleanchor": "x", "constrain": "domain"},
        "xaxis2": {"domain": [0.39, 0.61], **image_axis, "anchor": "y2", "constrain": "domain"},
        "yaxis2": {**image_axis, "anchor": "x2", "scaleanchor": "x2", "constrain": "domain"},
        "xaxis3": {"domain": [0.72, 1.0], "anchor": "y3"},
        "yaxis3": {
            "anchor": "x3",
            "title": {"text": t("residual (px)", "残差（像素）")(lang)},
            "rangemode": "tozero",
        },
        "barmode": "group",
        "legend": {"orientation": "h", "y": -0.12, "x": 0.0},
        "height": 440,
        "margin": {"t": 80, "b": 110},
    }
    return _figure(data, layout)


def _margin_curve(kind: str, theta: np.ndarray, p: Params, annealed_lambda: float | None = None):
    """The target logit / s against θ (radians), by core's own function."""
    torch = _torch()
    from core.vision import face

    margin = {"sphereface": p.m_sphereface, "cosface": p.m_cosface, "arcface": p.m_arcface}
    cos = torch.from_numpy(np.cos(theta))
    value = face.target_logit(cos, kind, 1.0, margin.get(kind, 0.0))
    if annealed_lambda is not None:
        value = (annealed_lambda * cos + value) / (1 + annealed_lambda)
    return value.numpy()


def _margins_figure(p: Params, lang: str) -> go.Figure:
    theta = np.linspace(0, math.pi, 181)
    degrees = np.degrees(theta).astype(np.float32)
    t = Text
    curves = [("softmax", None), ("sphereface", None), ("cosface", None), ("arcface", None)]
    if p.annealing != "off":
        curves.insert(2, ("sphereface+", LAMBDAS[1]))
    data = [
        {"type": "scatter", "x": degrees, "y": np.cos(theta), "mode": "lines",
         "line": {"color": "#9CA3AF", "dash": "dot", "width": 1.5},
         "name": t("cos θ (other classes)", "cos θ（其他类别）")(lang)},
    ]  # fmt: skip
    for key, lam in curves:
        kind = "sphereface" if key == "sphereface+" else key
        f = _margin_curve(kind, theta, p, lam)
        name = _model_name(key, lang)
        if key == "sphereface+":
            name += f", λ = {LAMBDAS[1]:g}"
        color = KIND_COLOR[key]
        dash = "dash" if key == "sphereface+" else "solid"
        f = f.astype(np.float32)
        data.append(
            {"type": "scatter", "x": degrees, "y": f, "mode": "lines", "name": name,
             "legendgroup": key, "line": {"color": color, "dash": dash}}
        )  # fmt: skip
        # Two classes: class 1 wins while f(θ1) > cos θ2, i.e. θ2 > arccos f(θ1); class 2 mirrors
        # f falls monotonically from f(0) ≤ 1: the boundary exists on the prefix where f ≥ −1
        inside = int((f >= -1).sum())
        boundary = np.degrees(np.arccos(np.clip(f[:inside], -1, 1))).astype(np.float32)
        for x, y, first in (
            (degrees[:inside], boundary, True),
            (boundary, degrees[:inside], False),
        ):
            data.append(
                {"type": "scatter", "x": x, "y": y, "mode": "lines", "xaxis": "x2", "yaxis": "y2",
                 "line": {"color": color, "dash": dash}, "legendgroup": key, "showlegend": False,
                 "name": name, "hovertemplate": "θ1 %{x:.0f}°, θ2 %{y:.0f}°<extra>" + name
                 + (" (1)" if first else " (2)") + "</extra>"}
            )  # fmt: skip
    angle_axis = {"range": [0, 180], "dtick": 30}
    layout = {
        "title": {
            "text": t(
                "Margins: the target logit against θ, and the two-class decision boundaries",
                "间隔：目标 logit 随 θ 的变化，以及两类的决策边界",
            )(lang)
        },
        "annotations": [
            caption(
                t("target logit / s (m as set)", "目标 logit / s（按所设的 m）")(lang), x=0.0
            ),
            caption(
                t(
                    "class 1 wins above its line, class 2 left of its own;<br>between them: "
                    "the margin, where neither wins",
                    "类 1 在其曲线上方胜出，类 2 在其曲线左侧；<br>两线之间是间隔：谁都不算胜出",
                )(lang),
                x=0.56,
                size=11,
            ),
        ],
        "xaxis": {"domain": [0, 0.44], **angle_axis,
                  "title": {"text": t("θ to the own class weight (°)", "与本类权重的夹角 θ（°）")(lang)}},
        "yaxis": {"title": {"text": "logit / s"}},
        "xaxis2": {"domain": [0.56, 1], "anchor": "y2", **angle_axis,
                   "title": {"text": t("θ1: angle to class 1 (°)", "θ1：与类 1 的夹角（°）")(lang)}},
        "yaxis2": {"anchor": "x2", **angle_axis, "scaleanchor": "x2",
                   "title": {"text": t("θ2: angle to class 2 (°)", "θ2：与类 2 的夹角（°）")(lang)}},
        "legend": {"orientation": "h", "y": -0.22},
        "height": 500,
    }  # fmt: skip
    return _figure(data, layout)


def _embedding_panels(p: Params, run: dict, lang: str) -> go.Figure:
    models = _models(p)
    labels, weights, embeddings = run["labels"], run["weights"], run["embeddings"]
    columns = min(3, len(models))
    sphere = p.space == "sphere"
    data, layout_axes, notes = [], {}, []
    circle = np.linspace(0, 2 * math.pi, 121).astype(np.float32)
    palette = [
        [bound, COLORWAY[c % len(COLORWAY)]]
        for c in range(p.classes)
        for bound in (c / p.classes, (c + 1) / p.classes)
    ]
    for index, ((key, _, _), (xd, yd)) in enumerate(
        zip(models, _domains(len(models), columns, vgap=0.14), strict=True)
    ):
        suffix = "" if index == 0 else str(index + 1)
        raw = embeddings[index]
        plain = key == "plain"
        norms = np.linalg.norm(raw, axis=-1, keepdims=True)
        points = raw / max(norms.max(), 1e-12) if plain else raw / np.maximum(norms, 1e-12)
        w = weights[index]
        w = w / np.linalg.norm(w, axis=-1).max() if plain else w
        where = (
            {"scene": f"scene{suffix}"}
            if sphere
            else {"xaxis": f"x{suffix}", "yaxis": f"y{suffix}"}
        )
        axes_of = ("x", "y", "z") if sphere else ("x", "y")
        kind3 = "scatter3d" if sphere else "scatter"
        identity = Text("identity", "身份")(lang)
        data.append(
            {"type": kind3, **{a: points[:, i].astype(np.float32) for i, a in enumerate(axes_of)},
             "mode": "markers", "marker": {"size": 3 if sphere else 5, "color": labels.astype(np.int8),
             "colorscale": palette, "cmin": -0.5, "cmax": p.classes - 0.5, "opacity": 0.7},
             "customdata": (labels + 1).astype(np.int8), "hovertemplate": identity + " %{customdata}<extra></extra>",
             "showlegend": False, **where}
        )  # fmt: skip
        # one line per class weight from the origin, separated by None (JSON has no NaN)
        spokes = [
            [value for c in range(p.classes) for value in (0.0, round(float(w[c, i]), 5), None)]
            for i in range(len(axes_of))
        ]
        data.append(
            {"type": kind3, **dict(zip(axes_of, spokes, strict=True)),
             "mode": "lines", "line": {"color": "#6B7280", "width": 3}, "hoverinfo": "skip",
             "name": Text("class weights W", "类别权重 W")(lang), "legendgroup": "w",
             "showlegend": index == 0, **where}
        )  # fmt: skip
        data.append(
            {"type": kind3, **{a: w[:, i].round(5).tolist() for i, a in enumerate(axes_of)},
             "mode": "markers", "marker": {"size": 6 if sphere else 11, "symbol": "diamond",
             "color": list(range(p.classes)), "colorscale": palette, "cmin": -0.5,
             "cmax": p.classes - 0.5, "line": {"width": 1, "color": "#1F2937"}},
             "customdata": list(range(1, p.classes + 1)), "legendgroup": "w", "showlegend": False,
             "hovertemplate": "W %{customdata}<extra></extra>", **where}
        )  # fmt: skip
        guide = {"mode": "lines", "line": {"color": "#9CA3AF", "width": 1}, "hoverinfo": "skip",
                 "showlegend": False, **where}  # fmt: skip
        if sphere:
            data.append(
                {
                    "type": "scatter3d",
                    "x": np.cos(circle),
                    "y": np.sin(circle),
                    "z": 0 * circle,
                    **guide,
                }
            )
        elif not plain:
            data.append({"type": "scatter", "x": np.cos(circle), "y": np.sin(circle), **guide})  # fmt: skip
        smallest = math.degrees(run["curves"]["weight_angle"][-1, index])
        title = f"<b>{_model_name(key, lang)}</b><br>" + Text(
            f"min ∠W {smallest:.0f}°, spread {run['spread'][index]:.1f}°",
            f"最小 ∠W {smallest:.0f}°，类内离散 {run['spread'][index]:.1f}°",
        )(lang)
        notes.append(caption(title, x=xd[0], y=yd[1] + 0.005, size=11))
        if sphere:
            axis = {"range": [-1.1, 1.1], "showticklabels": False, "title": {"text": ""}}
            layout_axes[f"scene{suffix}"] = {
                "domain": {"x": xd, "y": [yd[0], yd[1] - 0.02]}, "aspectmode": "cube",
                "xaxis": axis, "yaxis": axis, "zaxis": axis,
                "camera": {"eye": {"x": 1.3, "y": 1.3, "z": 0.9}},
            }  # fmt: skip
        else:
            bound = 1.15
            layout_axes[f"xaxis{suffix}"] = {
                "domain": xd,
                "anchor": f"y{suffix}",
                "range": [-bound, bound],
                "showticklabels": False,
                "zeroline": False,
            }
            layout_axes[f"yaxis{suffix}"] = {"domain": yd, "anchor": f"x{suffix}", "range": [-bound, bound],
                                             "scaleanchor": f"x{suffix}", "showticklabels": False,
                                             "zeroline": False}  # fmt: skip
    rows = math.ceil(len(models) / columns)
    unit = (
        Text("on the unit circle", "单位圆上")(lang)
        if not sphere
        else Text("on the unit sphere (drag to rotate)", "单位球面上（可拖动旋转）")(lang)
    )
    layout = {
        "title": {
            "text": Text(
                f"Embeddings trained live, {unit}; lines: class weights",
                f"现场训练的嵌入，{unit}；线段：类别权重",
            )(lang)
        },
        "annotations": notes,
        **layout_axes,
        "legend": {"orientation": "h", "y": -0.06, "x": 0.0},
        "height": 120 + 330 * rows,
        "margin": {"t": 110, "b": 40, "l": 20, "r": 20},
    }
    return _figure(data, layout)


def _verification_figure(p: Params, run: dict, lang: str) -> go.Figure:
    models = _models(p)
    columns = min(3, len(models))
    centres = (run["bins"][:-1] + run["bins"][1:]) / 2
    data, axes, notes = [], {}, []
    rows = math.ceil(len(models) / columns)
    for index, ((key, _, _), (xd, yd)) in enumerate(
        zip(models, _domains(len(models), columns, gap=0.07, vgap=0.2), strict=True)
    ):
        suffix = "" if index == 0 else str(index + 1)
        v = run["verification"][index]
        far = float((v["impostor"] >= p.threshold).mean())
        frr = float((v["genuine"] < p.threshold).mean())
        where = {"xaxis": f"x{suffix}", "yaxis": f"y{suffix}"}
        for hist, color, name, group in (
            (v["genuine_hist"], COLORWAY[2], Text("genuine pairs (same identity)", "同一身份的配对"), "g"),
            (v["impostor_hist"], COLORWAY[1], Text("impostor pairs", "不同身份的配对"), "i"),
        ):  # fmt: skip
            data.append(
                {"type": "bar", "x": centres, "y": hist, "width": 2 / HIST_BINS,
                 "marker": {"color": color, "opacity": 0.6}, "name": name(lang),
                 "legendgroup": group, "showlegend": index == 0, **where}
            )  # fmt: skip
        data.append(
            {"type": "scatter", "x": [p.threshold, p.threshold], "y": [5e-4, 1], "mode": "lines",
             "line": {"color": "#9CA3AF", "dash": "dash", "width": 2}, "showlegend": index == 0,
             "legendgroup": "t", "name": Text("threshold", "阈值")(lang), **where}
        )  # fmt: skip
        notes.append(
            caption(
                f"<b>{_model_name(key, lang)}</b><br>FAR {far:.1%}, FRR {frr:.1%}",
                x=xd[0],
                y=yd[1] + 0.01,
                size=11,
            )
        )
        axes[f"xaxis{suffix}"] = {
            "domain": xd,
            "anchor": f"y{suffix}",
            "range": [-1, 1],
            "title": {
                "text": "cos"
                if index < len(models) - columns
                else Text("cosine of the pair", "配对的余弦")(lang)
            },
        }
        # log: the genuine pairs crowd into a bin or two, the impostors spread thin over many
        axes[f"yaxis{suffix}"] = {
            "domain": yd, "anchor": f"x{suffix}", "type": "log", "range": [-3.3, 0.05],
            "tickvals": [1e-3, 1e-2, 0.1, 1], "ticktext": ["0.001", "0.01", "0.1", "1"],
            "title": {"text": Text("share (log)", "占比（对数）")(lang) if xd[0] == 0 else ""},
        }  # fmt: skip
    layout = {
        "title": {
            "text": Text(
                "Compare: cosines of held-out pairs, accepted at or above the threshold"
                f"<br><span style='font-size:12px'>{HELD_OUT} held-out samples per identity; "
                "FAR: impostor pairs accepted, FRR: genuine pairs rejected</span>",
                "比较：留出样本配对的余弦，不低于阈值即判为同一人"
                f"<br><span style='font-size:12px'>每个身份 {HELD_OUT} 个留出样本；"
                "FAR：被接受的冒充配对，FRR：被拒绝的真实配对</span>",
            )(lang)
        },
        "annotations": notes,
        **axes,
        "bargap": 0,
        "legend": {"orientation": "h", "y": -0.12 if rows > 1 else -0.25},
        "height": 160 + 270 * rows,
        "margin": {"t": 115},
    }
    return _figure(data, layout)


def _curves_figure(p: Params, run: dict, lang: str) -> go.Figure:
    models = _models(p)
    curves = run["curves"]
    steps = np.arange(1, len(curves["loss"]) + 1, dtype=np.int16)
    panels = [
        ("loss", Text("loss (log scale)", "损失（对数坐标）"), 1.0),
        ("accuracy", Text("training accuracy", "训练准确率"), 1.0),
        ("target_angle", Text("mean θ to own W (°)", "与本类 W 的平均夹角（°）"), 180 / math.pi),
        ("weight_angle", Text("min angle between W (°)", "W 之间的最小夹角（°）"), 180 / math.pi),
    ]  # fmt: skip
    data, axes = [], {}
    for index, ((name, label, factor), (xd, yd)) in enumerate(
        zip(panels, _domains(4, 2, gap=0.16, vgap=0.2), strict=True)
    ):
        suffix = "" if index == 0 else str(index + 1)
        for k, (key, _, _) in enumerate(models):
            data.append(
                {"type": "scatter", "x": steps, "y": (curves[name][:, k] * factor).astype(np.float32), "mode": "lines",
                 "name": _model_name(key, lang), "legendgroup": key, "showlegend": index == 0,
                 "line": {"color": KIND_COLOR[key], "dash": "dash" if key == "sphereface+" else "solid"},
                 "xaxis": f"x{suffix}", "yaxis": f"y{suffix}"}
            )  # fmt: skip
        axes[f"xaxis{suffix}"] = {
            "domain": xd,
            "anchor": f"y{suffix}",
            "title": {"text": Text("Adam step", "Adam 步数")(lang) if index >= 2 else ""},
        }
        axes[f"yaxis{suffix}"] = {
            "domain": yd,
            "anchor": f"x{suffix}",
            "title": {"text": label(lang)},
            "type": "log" if name == "loss" else "linear",
        }
    layout = {
        "title": {"text": Text("Training curves", "训练曲线")(lang)},
        **axes,
        "legend": {"orientation": "h", "y": -0.16},
        "height": 560,
    }
    return _figure(data, layout)


def _notes(p: Params, run: dict, lang: str) -> str:
    pipeline = _pipeline(p.rotation, p.scale, p.shift_x, p.shift_y, p.landmark_noise, p.seed)
    matrix = pipeline["umeyama"]
    rms = float(np.sqrt((pipeline["residual"] ** 2).mean()))
    t = Text
    rows = [
        t(
            "| model | train acc. | held-out acc. | mean θ_y | min ∠W | spread | FAR | FRR |",
            "| 模型 | 训练准确率 | 留出准确率 | 平均 θ_y | 最小 ∠W | 类内离散 | FAR | FRR |",
        )(lang),
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    curves = run["curves"]
    for k, (key, _, _) in enumerate(_models(p)):
        v = run["verification"][k]
        rows.append(
            f"| {_model_name(key, lang)} | {curves['accuracy'][-1, k]:.1%} | "
            f"{v['test_accuracy']:.1%} | {math.degrees(curves['target_angle'][-1, k]):.1f}° | "
            f"{math.degrees(curves['weight_angle'][-1, k]):.1f}° | {run['spread'][k]:.1f}° | "
            f"{(v['impostor'] >= p.threshold).mean():.1%} | {(v['genuine'] < p.threshold).mean():.1%} |"
        )
    limit = 360 / p.classes
    head = t(
        f"**Alignment**: M = [[{matrix[0, 0]:.4f}, {matrix[0, 1]:.4f}, {matrix[0, 2]:.2f}], "
        f"[{matrix[1, 0]:.4f}, {matrix[1, 1]:.4f}, {matrix[1, 2]:.2f}]], RMS residual "
        f"{rms:.2f} px. **No face model ships with this page**: the synthetic identities below "
        f"stand in for embedded faces. On the circle {p.classes} classes can be at most "
        f"{limit:.0f}° apart; ArcFace's margin needs C·m < 2π (here {p.classes * p.m_arcface:.2f}).",
        f"**对齐**：M = [[{matrix[0, 0]:.4f}, {matrix[0, 1]:.4f}, {matrix[0, 2]:.2f}], "
        f"[{matrix[1, 0]:.4f}, {matrix[1, 1]:.4f}, {matrix[1, 2]:.2f}]]，RMS 残差 {rms:.2f} 像素。"
        f"**本页不附带人脸模型**：下面的合成身份代替人脸嵌入。在圆上 {p.classes} 个类别之间的间隔最多 "
        f"{limit:.0f}°；ArcFace 的间隔要求 C·m < 2π（此处为 {p.classes * p.m_arcface:.2f}）。",
    )(lang)
    legend = t(
        "θ_y: mean angle of a training sample to its own class weight; min ∠W: smallest angle "
        "between two class weights; spread: mean angle to the class's mean direction; FAR, FRR "
        "at the threshold on held-out pairs.",
        "θ_y：训练样本与本类权重的平均夹角；最小 ∠W：两个类别权重之间的最小夹角；类内离散：与该类平均方向的"
        "平均夹角；FAR、FRR 为留出配对在阈值处的比率。",
    )(lang)
    return head + "\n\n" + "\n".join(rows) + "\n\n" + legend


def render(p: Params, lang: str = "en") -> Rendered:
    run = _run(p)
    figures = [
        _pipeline_figure(p, lang),
        _margins_figure(p, lang),
        _embedding_panels(p, run, lang),
        _verification_figure(p, run, lang),
        _curves_figure(p, run, lang),
    ]
    return Rendered(figures, _notes(p, run, lang))


presets = {
    "arcface": Params(
        losses=["softmax", "arcface"], space="circle", classes=8, m_arcface=0.5, s=16.0,
        per_class=50, steps=200,
    ),
    "annealing": Params(losses=["sphereface"], annealing="both", m_sphereface=4, steps=200),
    "too-wide": Params(
        losses=["arcface"], space="circle", classes=10, m_arcface=0.8, steps=200, per_class=40,
    ),
    "petals": Params(losses=["plain", "arcface"], space="circle", classes=6, steps=200),
}  # fmt: skip
preset_titles = {
    "arcface": Text("ArcFace on the circle: even gaps", "圆上的 ArcFace：间隔均匀"),
    "annealing": Text("SphereFace with and without annealing", "SphereFace：有无退火的对比"),
    "too-wide": Text("Margin too wide for the circle (C·m > 2π)", "间隔对圆来说太宽（C·m > 2π）"),
    "petals": Text("Softmax separates but does not compact", "Softmax 能分开类别，但不够紧凑"),
}

EXPLANATION = Text(
    en="""
**The pipeline.** A face recogniser first **detects** the face and five landmarks (MTCNN, Zhang et
al. 2016, here the hand-marked points plus noise), then **aligns**: the similarity transform
(rotation, uniform scale, shift) that best maps the landmarks onto a fixed 112 × 112 template, in
the closed form of Umeyama (1991), an SVD of the cross-covariance that never returns a
reflection. The same transform comes out of a linear least-squares solve (the bars coincide). The
aligned crop is then **embedded** as a unit vector and two faces are **compared** by the cosine of
their embeddings against a threshold: raising it trades false accepts (FAR) for false rejects
(FRR). No face model ships with this page; the synthetic identities stand in for embedded faces.

**The margins.** The embedder is trained as a classifier over identities. With the features and
the class weights normalised, a logit is s·cos θ and only angles matter (normalised softmax).
**SphereFace** (Liu et al. 2017) asks the target to win at cos(mθ) (made monotone as ψ(θ)), and
is so hard to optimise that it is trained with annealing, (λ·s·cos θ + s·ψ(θ))/(1 + λ) with λ
decaying; **CosFace** (Wang et al. 2018) subtracts m from the cosine; **ArcFace** (Deng et al.
2019) adds m to the angle, a margin of constant width in the (θ1, θ2) plane. Plain softmax
(W·x + b, nothing normalised) separates the classes into radial "petals" whose feature norms grow,
but leaves each class wide.

**What to look at.** In the embeddings, the smallest angle between class weights and the spread
within a class: margins shrink the spread and push the weights apart, evenly on the circle. On a
circle C classes are at most 2π/C apart, so a margin with C·m > 2π cannot be met: the loss stays
high. Without annealing SphereFace's weights can collapse together.
""",
    zh="""
**流程。** 人脸识别系统先**检测**人脸和五个关键点（MTCNN，Zhang 等 2016；这里用手工标注的点加噪声代替），
再**对齐**：求把关键点最好地映射到固定 112 × 112 模板的相似变换（旋转、等比缩放、平移），
用 Umeyama（1991）的闭式解——对互协方差做 SVD，并保证不会得到镜像。线性最小二乘给出同一个变换（柱子重合）。
对齐后的裁剪被**嵌入**为单位向量，两张脸用嵌入的余弦与阈值**比较**：提高阈值会用误拒（FRR）换取更少的误识（FAR）。
本页不附带人脸模型，合成身份代替人脸嵌入。

**间隔。** 嵌入网络按身份做分类训练。特征和类别权重都归一化后，logit 为 s·cos θ，只剩角度起作用
（归一化 softmax）。**SphereFace**（Liu 等 2017）要求目标类在 cos(mθ)（改写为单调的 ψ(θ)）下胜出，
很难优化，因此用退火训练：(λ·s·cos θ + s·ψ(θ))/(1 + λ)，λ 逐渐减小；**CosFace**（Wang 等 2018）从余弦中减去 m；
**ArcFace**（Deng 等 2019）在角度上加 m，在 (θ1, θ2) 平面中是宽度恒定的间隔。普通 softmax（W·x + b，不做归一化）
把类别分成放射状的“花瓣”，特征范数不断增大，但每个类仍然很宽。

**看什么。** 在嵌入图中看类别权重之间的最小夹角和类内离散程度：间隔让类内更紧凑、让权重彼此分开，在圆上分布均匀。
圆上 C 个类别之间最多相隔 2π/C，所以 C·m > 2π 的间隔无法满足：损失降不下来。不做退火时，SphereFace 的权重可能挤到一起。
""",
)

DEMO = Demo(
    slug="face-recognition",
    section="vision",
    figures=5,
    title=Text("Face recognition: alignment and angular margins", "人脸识别：对齐与角度间隔"),
    summary=Text(
        "Detect, align by Umeyama, embed, compare; SphereFace, CosFace and ArcFace trained live.",
        "检测、Umeyama 对齐、嵌入、比较；现场训练 SphereFace、CosFace 与 ArcFace。",
    ),
    sources=(
        Source(
            "ArcFace: Additive Angular Margin Loss for Deep Face Recognition",
            "J. Deng, J. Guo, N. Xue, S. Zafeiriou",
            2019,
            "https://arxiv.org/abs/1801.07698",
        ),
        Source(
            "CosFace: Large Margin Cosine Loss for Deep Face Recognition",
            "H. Wang, Y. Wang, Z. Zhou, X. Ji, D. Gong, J. Zhou, Z. Li, W. Liu",
            2018,
            "https://arxiv.org/abs/1801.09414",
        ),
        Source(
            "SphereFace: Deep Hypersphere Embedding for Face Recognition",
            "W. Liu, Y. Wen, Z. Yu, M. Li, B. Raj, L. Song",
            2017,
            "https://arxiv.org/abs/1704.08063",
        ),
        Source(
            "Least-squares estimation of transformation parameters between two point patterns",
            "S. Umeyama",
            1991,
            "https://doi.org/10.1109/34.88573",
        ),
        Source(
            "Joint Face Detection and Alignment using Multi-task Cascaded Convolutional Networks",
            "K. Zhang, Z. Zhang, Z. Li, Y. Qiao",
            2016,
            "https://arxiv.org/abs/1604.02878",
        ),
    ),
    Params=Params,
    render_fn=render,
    presets=presets,
    preset_titles=preset_titles,
    explanation=EXPLANATION,
)
