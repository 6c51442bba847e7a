"""Medusa: how many characters can a small language model accept per forward pass?

A character-level transformer trained on the US Constitution continues an opening from the
held-out tenth of the text. Medusa heads guess the next few characters at once; the base model
checks a whole tree of guesses in one call with a tree attention mask, and keeps the longest
path it agrees with. With greedy acceptance the text is exactly greedy decoding, in fewer calls.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import plotly.graph_objects as go
from pydantic import BaseModel

from demos.base import PARAMS_CONFIG, Demo, Rendered, Source, Text, param
from demos.theme import COLORWAY, caption

if TYPE_CHECKING:
    import torch

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "assets" / "models" / "medusa_char_lm.npz"
TEXT = ROOT / "assets" / "text" / "us_constitution.txt"
RANKS = 8  # guesses per head scored on the held-out text (the sparse trees' candidates)
COLUMNS = 48  # characters per row of the text figure
PROMPTS = {  # openings of paragraphs in the held-out tenth (tests check they are there)
    "vacancy": "Whenever there is a vacancy in the office of the ",
    "district": "The District constituting the seat of Government of the ",
    "removal": "In case of the removal of the President from office or of ",
    "vote": "The right of citizens of the United States to vote in any ",
    "enforce": "The Congress shall have power to enforce this article by ",
}
TREES = {
    "chain": Text("chain (top-1 of each head)", "链（每个头的 top-1）"),
    "sparse-8": Text("sparse, 8 nodes", "稀疏树，8 个节点"),
    "sparse-16": Text("sparse, 16 nodes", "稀疏树，16 个节点"),
    "sparse-32": Text("sparse, 32 nodes", "稀疏树，32 个节点"),
    "full-top2": Text("full top-2 (≤ 31 nodes)", "完全 top-2 树（≤ 31 个节点）"),
}
ROOT_COLOR, GUESS_COLOR = COLORWAY[0], COLORWAY[1]
PASS_COLOR, FAIL_COLOR, IDLE_COLOR = "#2CA02C", "#D62728", "#9A9A9A"


class Params(BaseModel):
    model_config = PARAMS_CONFIG

    prompt: Literal["vacancy", "district", "removal", "vote", "enforce"] = param(
        "vacancy",
        en="Held-out opening",
        zh="留出文本的开头",
        help_en="Paragraph openings from the last 10 % of the text, which the model never saw "
        "(the last one is a sentence the training part repeats).",
        help_zh="取自文本最后 10% 的段落开头，模型训练时没见过（最后一个是训练部分反复出现的句子）。",
        choices={
            key: Text(f"“{text.strip()} …”", f"“{text.strip()} …”") for key, text in PROMPTS.items()
        },
    )
    length: int = param(96, en="New characters", zh="生成字符数", ge=8, le=160)
    heads: int = param(4, en="Medusa heads K", zh="Medusa 头数 K", ge=1, le=4)
    tree: Literal["chain", "sparse-8", "sparse-16", "sparse-32", "full-top2"] = param(
        "sparse-16",
        en="Candidate tree",
        zh="候选树",
        help_en="Sparse trees keep the nodes most often right on held-out text (Medusa §2.3.3); "
        "node counts include the root and are capped by what K heads can fill.",
        help_zh="稀疏树保留在留出文本上最常猜对的节点（Medusa §2.3.3）；节点数含根节点，K 个头填不满时会更少。",
        choices=TREES,
    )
    acceptance: Literal["greedy", "typical"] = param(
        "greedy",
        en="Acceptance",
        zh="接受规则",
        choices={
            "greedy": Text("greedy (= greedy decoding)", "贪心（= 贪心解码）"),
            "typical": Text("typical (ε, δ, T)", "典型接受（ε, δ, T）"),
        },
    )
    epsilon: float = param(
        0.09,
        en="Typical: ε",
        zh="典型接受：ε",
        help_en="A guess passes if p > min(ε, δ·e^(−H)).",
        help_zh="猜测通过的条件：p > min(ε, δ·e^(−H))。",
        ge=0.0,
        le=0.5,
        step=0.01,
    )
    delta: float = param(0.3, en="Typical: δ", zh="典型接受：δ", ge=0.0, le=1.0, step=0.01)
    temperature: float = param(
        1.0, en="Typical: temperature", zh="典型接受：温度", ge=0.1, le=2.0, step=0.05
    )
    step: int = param(
        1,
        en="Decoding step shown",
        zh="展示的解码步",
        help_en="Capped at the number of steps.",
        help_zh="不超过总步数。",
        ge=1,
        le=160,
    )


def _torch() -> torch:
    import torch

    torch.set_num_threads(1)  # one character at a time: threads cost more than they save
    return torch


@functools.lru_cache(maxsize=1)
def _model() -> dict:
    """The committed model (float64 for decoding), its vocabulary and held-out figures."""
    torch = _torch()
    from core.llm import char_lm

    with np.load(MODEL, allow_pickle=False) as stored:
        arrays = {key: stored[key] for key in stored.files}
    vocab = "".join(chr(int(c)) for c in arrays["vocab"])
    params = {k: v.double() for k, v in char_lm.from_arrays(arrays, "lm.").items()}
    heads = {k: v.double() for k, v in char_lm.from_arrays(arrays, "medusa.").items()}
    held_out = TEXT.read_text(encoding="utf-8")[int(arrays["held_out_start"]) :]
    index = {c: i for i, c in enumerate(vocab)}
    ids = torch.tensor([index[c] for c in held_out])
    return {
        "vocab": vocab,
        "index": index,
        "params": params,
        "heads": heads,
        "held_out": held_out,
        "rank_accuracy": char_lm.head_rank_accuracy(params, heads, ids, RANKS).numpy(),
        "held_out_loss": float(arrays["held_out_loss"]),
        "head_accuracy": arrays["head_accuracy"].astype(float),
        "steps": arrays["steps"].tolist(),
    }


def tree_choices(tree: str, heads: int) -> list[tuple[int, ...]]:
    """Medusa's choices for a tree name and K heads."""
    from core.llm import medusa

    if tree == "chain":
        return medusa.chain(heads)
    if tree == "full-top2":
        return medusa.full_tree(heads, 2)
    n_nodes = int(tree.split("-")[1])
    return medusa.sparse_tree(_model()["rank_accuracy"][:heads], n_nodes, heads)


def _prompt_ids(prompt: str) -> torch.Tensor:
    index = _model()["index"]
    return _torch().tensor([index[c] for c in PROMPTS[prompt]], dtype=_torch().int64)


@functools.lru_cache(maxsize=32)
def _greedy(prompt: str, length: int) -> np.ndarray:
    """Plain greedy decoding, one base-model call per character (the reference)."""
    from core.llm import char_lm, medusa

    model = _model()
    next_logits, _ = char_lm.cached_model(model["params"])
    with _torch().inference_mode():
        return medusa.greedy_decode(next_logits, _prompt_ids(prompt), length).numpy()


@functools.lru_cache(maxsize=32)
def _decode(
    prompt: str,
    length: int,
    heads: int,
    tree: str,
    acceptance: str,
    epsilon: float,
    delta: float,
    temperature: float,
) -> dict:
    """One Medusa decoding, traced: per step the tree, pass/fail, path, heads' guesses."""
    torch = _torch()
    from core.llm import char_lm, medusa
    from core.trace import Trace

    model = _model()
    subset = {key: value[:heads] for key, value in model["heads"].items()}
    next_logits, head_logits = char_lm.cached_model(model["params"], subset)
    head_probs, verify = [], []

    def recorded_heads(s: torch.Tensor) -> torch.Tensor:
        logits = head_logits(s)
        head_probs.append(torch.softmax(logits, dim=-1).numpy())
        return logits

    def recorded_model(tokens, mask=None, positions=None):
        logits = next_logits(tokens, mask, positions)
        if mask is not None:  # a verification call: its last rows are the tree's
            verify.append(logits)
        return logits

    trace = Trace()
    choices = tree_choices(tree, heads)
    with torch.inference_mode():
        tokens, accepted = medusa.speculative_decode(
            recorded_model,
            recorded_heads,
            _prompt_ids(prompt),
            length,
            choices,
            acceptance,
            epsilon,
            delta,
            temperature,
            trace=trace,
        )
    steps = trace["step"]
    for step, probs in zip(steps, head_probs, strict=True):
        step["head_probs"] = probs
    for step, logits in zip(steps, verify, strict=True):
        size = len(step["tree_tokens"])
        rows = logits[-size:]
        scaled = rows / (temperature if acceptance == "typical" else 1.0)
        p = torch.softmax(scaled.double(), dim=-1)
        nodes = torch.tensor(step["tree_tokens"][1:])
        parents = torch.tensor(step["parents"][1:], dtype=torch.int64)
        entropy = -(p * torch.log(p.clamp_min(1e-300))).sum(dim=-1)  # nats
        threshold = torch.clamp(delta * torch.exp(-entropy[parents]), max=epsilon)
        step["p_at_parent"] = [None, *p[parents, nodes].tolist()]
        step["threshold"] = [None, *threshold.tolist()]
    buffers = medusa.tree_buffers(choices)
    return {
        "tokens": tokens.numpy(),
        "accepted": np.array(accepted),
        "steps": steps,
        "choices": buffers.choices,
        "parents": buffers.parents,
        "depths": buffers.depths,
        "ranks": buffers.ranks,
        "mask": medusa.tree_attention_mask(buffers.parents).numpy(),
    }


def _run(p: Params) -> dict:
    typical = p.acceptance == "typical"
    return _decode(
        p.prompt,
        p.length,
        p.heads,
        p.tree,
        p.acceptance,
        p.epsilon if typical else 0.09,  # the typical settings do not change greedy runs
        p.delta if typical else 0.3,
        p.temperature if typical else 1.0,
    )


def _char(c: str) -> str:
    return {"\n": "↵", " ": "␣"}.get(c, c)


# --- figures ---------------------------------------------------------------------------------


def _text_figure(p: Params, run: dict, lang: str) -> go.Figure:
    vocab = _model()["vocab"]
    cells = [(c, 0, 0, -1) for c in PROMPTS[p.prompt]]  # (char, kind, step, depth)
    for s, step in enumerate(run["steps"], start=1):
        for d, token in enumerate(step["emitted"]):
            cells.append((vocab[token], 1 if d == 0 else 2, s, d))
    rows: list[list[tuple]] = [[]]
    for cell in cells:
        if len(rows[-1]) == COLUMNS:
            rows.append([])
        rows[-1].append(cell)
        if cell[0] == "\n":
            rows.append([])
    n_rows = len(rows)
    z = np.full((n_rows, COLUMNS), np.nan)
    text = np.full((n_rows, COLUMNS), "", dtype=object)
    hover = np.full((n_rows, COLUMNS), "", dtype=object)
    for r, row in enumerate(rows):
        for c, (char, kind, s, d) in enumerate(row):
            # 0 prompt; 1/2 base token, odd/even step; 3/4 accepted guess, odd/even step
            z[r, c] = 0 if kind == 0 else (1 if kind == 1 else 3) + (s % 2 == 0)
            text[r, c] = "↵" if char == "\n" else char
            if kind == 0:
                hover[r, c] = Text("prompt", "提示")(lang)
            elif kind == 1:
                hover[r, c] = Text(f"step {s}: base model's token", f"第 {s} 步：基座模型的 token")(
                    lang
                )
            else:
                hover[r, c] = Text(
                    f"step {s}: head {d}'s guess, accepted", f"第 {s} 步：头 {d} 的猜测，被接受"
                )(lang)
    colors = ["#E3E3E3", "#A9CBEA", "#6FA8DC", "#FBC98E", "#F6A24A"]
    scale = []
    for i, color in enumerate(colors):
        scale += [[i / len(colors), color], [(i + 1) / len(colors), color]]
    data = [
        {
            "type": "heatmap",
            "z": z,
            "text": text,
            "customdata": hover,
            "texttemplate": "%{text}",
            "textfont": {"color": "#111111", "family": "monospace", "size": 13},
            "colorscale": scale,
            "zmin": -0.5,
            "zmax": 4.5,
            "showscale": False,
            "xgap": 1,
            "ygap": 3,
            "hovertemplate": "%{customdata}<extra></extra>",
        }
    ]
    for label, color in (
        (Text("prompt", "提示"), colors[0]),
        (Text("base model's token (the root)", "基座模型的 token（根）"), colors[2]),
        (Text("accepted guess of a head", "被接受的头的猜测"), colors[4]),
    ):
        data.append(
            {
                "type": "scatter",
                "x": [None],
                "y": [None],
                "mode": "markers",
                "marker": {"symbol": "square", "size": 12, "color": color},
                "name": label(lang),
            }
        )
    steps = len(run["steps"])
    layout = {
        "title": {
            "text": Text(
                f"{p.length} new characters in {steps} steps ({p.length / steps:.2f} per base-model call); shades alternate by step",
                f"{p.length} 个新字符用了 {steps} 步（每次基座模型调用 {p.length / steps:.2f} 个）；颜色深浅按步交替",
            )(lang)
        },
        "xaxis": {"visible": False, "range": [-0.5, COLUMNS - 0.5]},
        "yaxis": {"visible": False, "autorange": "reversed"},
        "legend": {"orientation": "h", "x": 0, "y": -0.02, "yanchor": "top"},
        "height": 150 + 30 * n_rows,
        "plot_bgcolor": "rgba(0,0,0,0)",
    }
    return go.Figure({"data": data, "layout": layout}, _validate=False)


def _tree_layout(run: dict) -> np.ndarray:
    """y of each node: leaves one apart in depth-first order, parents centred on children."""
    parents, n = run["parents"], len(run["parents"])
    children: list[list[int]] = [[] for _ in range(n)]
    for i in range(1, n):
        children[parents[i]].append(i)
    y = np.zeros(n)
    next_leaf = [0.0]

    def place(i: int) -> None:
        if not children[i]:
            y[i] = next_leaf[0]
            next_leaf[0] += 1
            return
        for child in children[i]:
            place(child)
        y[i] = np.mean([y[c] for c in children[i]])

    place(0)
    return y


def _shown_step(p: Params, run: dict) -> int:
    return min(p.step, len(run["steps"])) - 1


def _tree_figure(p: Params, run: dict, lang: str) -> go.Figure:
    vocab = _model()["vocab"]
    s = _shown_step(p, run)
    step = run["steps"][s]
    depths, parents = run["depths"], run["parents"]
    y = _tree_layout(run)
    x = np.array(depths, dtype=float)
    tokens = step["tree_tokens"]
    passed = step["passed"]
    path = set(step["path"])
    reached = [True] * len(tokens)
    for i in range(1, len(tokens)):
        reached[i] = reached[parents[i]] and passed[parents[i]]
    data = []
    for i in range(1, len(tokens)):
        on_path = i in path
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "x": [x[parents[i]], x[i]],
                "y": [y[parents[i]], y[i]],
                "line": {
                    "color": PASS_COLOR if on_path else IDLE_COLOR,
                    "width": 4 if on_path else 1,
                },
                "hoverinfo": "skip",
                "showlegend": False,
            }
        )
    groups = (
        ("path", Text("accepted path", "被接受的路径"), PASS_COLOR, "circle"),
        (
            "pass",
            Text("passes, not on the longest path", "通过，但不在最长路径上"),
            "#98DF8A",
            "circle",
        ),
        ("fail", Text("fails the check", "未通过检验"), FAIL_COLOR, "x"),
        (
            "idle",
            Text("parent failed: not reached", "父节点未通过：不计"),
            IDLE_COLOR,
            "circle-open",
        ),
    )
    status = []
    for i in range(len(tokens)):
        if i in path:
            status.append("path")
        elif not reached[i]:
            status.append("idle")
        else:
            status.append("pass" if passed[i] else "fail")
    for key, label, color, symbol in groups:
        nodes = [i for i in range(len(tokens)) if status[i] == key]
        if not nodes:
            continue
        hover = []
        for i in nodes:
            rank = (
                Text("root: the base model's argmax", "根：基座模型的 argmax")(lang)
                if i == 0
                else Text(
                    f"head {depths[i]}, guess #{run['ranks'][i] + 1}",
                    f"头 {depths[i]}，第 {run['ranks'][i] + 1} 个猜测",
                )(lang)
            )
            pp = step["p_at_parent"][i]
            extra = "" if pp is None else f"<br>p(·|parent) = {pp:.3f}"
            if pp is not None and p.acceptance == "typical":
                extra += f" vs min(ε, δ·e^(−H)) = {step['threshold'][i]:.3f}"
            hover.append(f"{_char(vocab[tokens[i]])} · {rank}{extra}")
        data.append(
            {
                "type": "scatter",
                "mode": "markers+text",
                "x": x[nodes],
                "y": y[nodes],
                "text": [_char(vocab[tokens[i]]) for i in nodes],
                "textposition": "middle right",
                "textfont": {"size": 15, "family": "monospace"},
                "customdata": hover,
                "hovertemplate": "%{customdata}<extra></extra>",
                "marker": {
                    "size": 13,
                    "color": color,
                    "symbol": symbol,
                    "line": {"width": 2, "color": color},
                },
                "name": label(lang),
            }
        )
    # each head's top guesses at this step, as the depth axis' labels
    probs = step["head_probs"]
    n_show = min(4, RANKS)
    ticks = [Text("root", "根")(lang)]
    for d in range(1, max(depths) + 1):
        order = np.argsort(-probs[d - 1])[:n_show]
        guesses = "<br>".join(f"{_char(vocab[t])} {probs[d - 1][t]:.2f}" for t in order)
        ticks.append(f"<b>{Text(f'head {d}', f'头 {d}')(lang)}</b><br>{guesses}")
    prefix = PROMPTS[p.prompt] + "".join(
        vocab[t] for t in run["tokens"][: step["prefix_len"] - len(PROMPTS[p.prompt])]
    )
    tail = prefix[-24:].replace("\n", "↵")
    layout = {
        "title": {
            "text": Text(
                f"Step {s + 1} of {len(run['steps'])}: after “…{tail}”, {len(step['emitted'])} characters accepted",
                f"第 {s + 1}/{len(run['steps'])} 步：在 “…{tail}” 之后，接受 {len(step['emitted'])} 个字符",
            )(lang)
        },
        "xaxis": {
            "tickvals": list(range(max(depths) + 1)),
            "ticktext": ticks,
            "range": [-0.4, max(depths) + 0.6],
            "title": {
                "text": Text(
                    "depth (head's top guesses with probabilities below)",
                    "深度（下方为各头的最高猜测及概率）",
                )(lang)
            },
            "side": "bottom",
        },
        "yaxis": {"visible": False, "autorange": "reversed"},
        "legend": {"orientation": "h", "x": 0, "y": 1.0, "yanchor": "bottom"},
        "margin": {"b": 150},
        "height": 260 + 16 * max(8, int(y.max()) + 1),
    }
    return go.Figure({"data": data, "layout": layout}, _validate=False)


def _mask_figure(p: Params, run: dict, lang: str) -> go.Figure:
    vocab = _model()["vocab"]
    step = run["steps"][_shown_step(p, run)]
    labels = [
        f"{i}: "
        + ("root" if i == 0 else "(" + ",".join(str(a) for a in run["choices"][i - 1]) + ")")
        + f" {_char(vocab[t])}"
        for i, t in enumerate(step["tree_tokens"])
    ]
    n = len(labels)
    layout = {
        "title": {
            "text": Text(
                f"Tree attention mask ({n} nodes): row i may attend to column j (j is i or an ancestor)",
                f"树注意力掩码（{n} 个节点）：第 i 行可以关注第 j 列（j 是 i 自身或其祖先）",
            )(lang)
        },
        "xaxis": {
            "tickvals": list(range(n)),
            "ticktext": labels,
            "tickangle": -60,
            "side": "top",
            "tickfont": {"size": 9},
        },
        "yaxis": {
            "tickvals": list(range(n)),
            "ticktext": labels,
            "autorange": "reversed",
            "tickfont": {"size": 9},
        },
        "height": 340 + 14 * n,
        "margin": {"t": 150, "b": 80},
        "annotations": [
            caption(
                Text(
                    "Labels: node, its choice (rank per head, 0 = top guess), its character at the "
                    "shown step.<br>Every node also sees the whole prefix.",
                    "标签：节点编号、它的 choice（各头的名次，0 为最高猜测）、所示步骤中的字符。<br>每个节点还能看到整个前缀。",
                )(lang),
                y=-0.02,
            )
            | {"yanchor": "top"}
        ],
    }
    data = [
        {
            "type": "heatmap",
            "z": run["mask"].astype(np.int8),
            "colorscale": [[0, "rgba(150,150,150,0.12)"], [1, COLORWAY[0]]],
            "zmin": 0,
            "zmax": 1,
            "showscale": False,
            "xgap": 1,
            "ygap": 1,
            "hovertemplate": "row %{y}, column %{x}: %{z}<extra></extra>",
        }
    ]
    return go.Figure({"data": data, "layout": layout}, _validate=False)


def _steps_figure(p: Params, run: dict, greedy_calls: int, lang: str) -> go.Figure:
    accepted = run["accepted"]
    steps = np.arange(1, len(accepted) + 1)
    emitted = np.cumsum(accepted)
    calls = np.array([step["calls"] for step in run["steps"]])
    data = [
        {
            "type": "bar",
            "x": steps,
            "y": accepted,
            "name": Text("characters accepted per step", "每步接受的字符数")(lang),
            "marker": {"color": GUESS_COLOR},
        },
        {
            "type": "scatter",
            "mode": "lines",
            "x": np.concatenate([[0], emitted]),
            "y": np.concatenate([[1], calls]),
            "name": Text("Medusa: base-model calls", "Medusa：基座模型调用次数")(lang),
            "line": {"color": ROOT_COLOR, "width": 3},
            "xaxis": "x2",
            "yaxis": "y2",
        },
        {
            "type": "scatter",
            "mode": "lines",
            "x": [0, p.length],
            "y": [0, greedy_calls],
            "name": Text("greedy decoding: one call per character", "贪心解码：每个字符一次调用")(
                lang
            ),
            "line": {"color": IDLE_COLOR, "dash": "dash", "width": 2},
            "xaxis": "x2",
            "yaxis": "y2",
        },
    ]
    layout = {
        "title": {
            "text": Text(
                f"Accepted per step (mean {accepted.mean():.2f}) and base-model calls: {calls[-1]} vs {greedy_calls}",
                f"每步接受的字符（平均 {accepted.mean():.2f}）与基座模型调用次数：{calls[-1]} 对 {greedy_calls}",
            )(lang)
        },
        "xaxis": {"domain": [0, 0.45], "title": {"text": Text("step", "步")(lang)}},
        "yaxis": {
            "title": {"text": Text("characters (root + guesses)", "字符数（根 + 猜测）")(lang)},
            "dtick": 1,
        },
        "xaxis2": {
            "domain": [0.57, 1],
            "anchor": "y2",
            "title": {"text": Text("characters generated", "已生成字符数")(lang)},
        },
        "yaxis2": {
            "anchor": "x2",
            "title": {"text": Text("base-model calls", "基座模型调用次数")(lang)},
        },
        "legend": {"orientation": "h", "x": 0, "y": -0.22},
        "height": 400,
    }
    return go.Figure({"data": data, "layout": layout}, _validate=False)


def _accuracy_figure(p: Params, lang: str) -> go.Figure:
    accuracy = np.cumsum(_model()["rank_accuracy"], axis=1)  # top-r accuracy
    ranks = np.arange(1, RANKS + 1)
    data = [
        {
            "type": "scatter",
            "mode": "lines+markers",
            "x": ranks,
            "y": accuracy[k],
            "name": Text(f"head {k + 1} (character +{k + 2})", f"头 {k + 1}（第 +{k + 2} 个字符）")(
                lang
            ),
            "line": {
                "color": COLORWAY[k],
                "width": 3 if k < p.heads else 1,
                "dash": "solid" if k < p.heads else "dot",
            },
        }
        for k in range(accuracy.shape[0])
    ]
    layout = {
        "title": {
            "text": Text(
                "Heads' held-out accuracy: the right character among each head's top r",
                "各头在留出文本上的准确率：正确字符落在该头前 r 个猜测之内",
            )(lang)
        },
        "xaxis": {"title": {"text": Text("top r guesses", "前 r 个猜测")(lang)}, "dtick": 1},
        "yaxis": {
            "title": {"text": Text("share of held-out positions", "留出文本位置的占比")(lang)},
            "range": [0, 1],
        },
        "legend": {"orientation": "h", "x": 0, "y": -0.2},
        "height": 380,
    }
    return go.Figure({"data": data, "layout": layout}, _validate=False)


def measured_acceptance(run: dict) -> float:
    """Share of top-1 guesses that pass when every node above them passed (a chain's α)."""
    parents = run["parents"]
    chain_nodes = [i for i, choice in enumerate(run["choices"], start=1) if not any(choice)]
    tried = passed = 0
    for step in run["steps"]:
        ok = step["passed"]
        for i in chain_nodes:
            node, reached = parents[i], True
            while node > 0:
                reached = reached and ok[node]
                node = parents[node]
            if reached:
                tried += 1
                passed += ok[i]
    return passed / tried if tried else float("nan")


def _speedup_figure(p: Params, run: dict, lang: str) -> go.Figure:
    alpha = np.linspace(0, 0.99, 100)
    data = []
    for k in range(1, 5):
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "x": alpha,
                "y": (1 - alpha ** (k + 1)) / (1 - alpha),
                "name": Text(f"chain of K = {k} heads", f"K = {k} 个头的链")(lang),
                "line": {"color": COLORWAY[k - 1], "width": 3 if k == p.heads else 1.5},
            }
        )
    a = measured_acceptance(run)
    per_step = float(run["accepted"].mean())
    data.append(
        {
            "type": "scatter",
            "mode": "markers",
            "x": [a],
            "y": [per_step],
            "marker": {"size": 14, "color": "#D62728", "symbol": "star"},
            "name": Text(f"this run ({TREES[p.tree].en})", f"本次运行（{TREES[p.tree].zh}）")(lang),
            "hovertemplate": "α = %{x:.3f}, %{y:.2f} per step<extra></extra>",
        }
    )
    layout = {
        "title": {
            "text": Text(
                "A chain's characters per step, (1 − α^(K+1)) / (1 − α), against acceptance α",
                "链每步期望字符数 (1 − α^(K+1)) / (1 − α) 与每个头的接受率 α",
            )(lang)
        },
        "xaxis": {
            "title": {
                "text": Text(
                    "α: share of top-1 guesses accepted (given the parent was)",
                    "α：top-1 猜测被接受的比例（父节点已接受时）",
                )(lang)
            },
            "range": [0, 1],
        },
        "yaxis": {
            "title": {
                "text": Text("characters per base-model call", "每次基座模型调用的字符数")(lang)
            },
            "range": [1, 5.2],
        },
        "legend": {"orientation": "h", "x": 0, "y": -0.22},
        "height": 400,
    }
    return go.Figure({"data": data, "layout": layout}, _validate=False)


# --- notes and render ------------------------------------------------------------------------


def _agreeing_prefix(a: np.ndarray, b: np.ndarray) -> int:
    differ = np.flatnonzero(a != b)
    return int(differ[0]) if differ.size else len(a)


def _notes(p: Params, run: dict, greedy: np.ndarray, lang: str) -> str:
    model = _model()
    same = _agreeing_prefix(run["tokens"], greedy)
    calls = run["steps"][-1]["calls"]
    if p.acceptance == "greedy":
        verdict = (
            Text("✓ identical", "✓ 完全相同") if same == p.length else Text("✗ different", "✗ 不同")
        )
        check = Text(
            f"**Greedy Medusa = greedy decoding:** {verdict.en} (the first {same} of {p.length} "
            f"characters agree), with {calls} base-model calls instead of {p.length}.",
            f"**贪心 Medusa = 贪心解码：** {verdict.zh}（{p.length} 个字符中前 {same} 个一致），"
            f"基座模型调用 {calls} 次，而不是 {p.length} 次。",
        )
    else:
        check = Text(
            f"**Typical acceptance** keeps guesses the base model finds plausible, not only its "
            f"argmax: the text agrees with greedy decoding for its first {same} of {p.length} "
            f"characters; {calls} base-model calls instead of {p.length}.",
            f"**典型接受**保留基座模型认为合理的猜测，而不只是它的 argmax：文本与贪心解码在前 {same} 个字符（共 {p.length} 个）一致；"
            f"基座模型调用 {calls} 次，而不是 {p.length} 次。",
        )
    acc = ", ".join(f"{a:.2f}" for a in model["head_accuracy"])
    lines = [
        check(lang),
        Text(
            f"**Per step:** {run['accepted'].mean():.2f} characters (root + accepted guesses) over "
            f"{len(run['accepted'])} steps; tree of {len(run['parents'])} nodes; top-1 acceptance "
            f"α = {measured_acceptance(run):.2f}.",
            f"**每步：** 平均 {run['accepted'].mean():.2f} 个字符（根 + 被接受的猜测），共 {len(run['accepted'])} 步；"
            f"树有 {len(run['parents'])} 个节点；top-1 接受率 α = {measured_acceptance(run):.2f}。",
        )(lang),
        Text(
            f"**The model:** 2 layers, width 64, context 128, trained "
            f"{model['steps'][0]} + {model['steps'][1]} steps on 90 % of the US Constitution; "
            f"held-out {model['held_out_loss']:.2f} nats/character; heads' held-out top-1 accuracy "
            f"{acc} (heads 1–4).",
            f"**模型：** 2 层、宽 64、上下文 128，在美国宪法的 90% 上训练 {model['steps'][0]} + "
            f"{model['steps'][1]} 步；留出文本 {model['held_out_loss']:.2f} nats/字符；各头留出 top-1 准确率 {acc}（头 1–4）。",
        )(lang),
    ]
    return "\n\n".join(lines)


def render(p: Params, lang: str = "en") -> Rendered:
    run = _run(p)
    greedy = _greedy(p.prompt, p.length)
    figures = [
        _text_figure(p, run, lang),
        _tree_figure(p, run, lang),
        _mask_figure(p, run, lang),
        _steps_figure(p, run, p.length, lang),
        _accuracy_figure(p, lang),
        _speedup_figure(p, run, lang),
    ]
    return Rendered(figures, _notes(p, run, greedy, lang))


presets = {
    "greedy-fewer-passes": Params(tree="sparse-16", acceptance="greedy", step=3),
    "wider-tree": Params(tree="sparse-32", acceptance="greedy", step=3),
    "typical": Params(tree="sparse-16", acceptance="typical", epsilon=0.09, delta=0.3, step=3),
    "one-head": Params(heads=1, tree="chain", step=3),
}
preset_titles = {
    "greedy-fewer-passes": Text("greedy: same text, fewer passes", "贪心：同样的文本，更少的前向"),
    "wider-tree": Text("a wider tree accepts more", "更宽的树接受得更多"),
    "typical": Text("typical acceptance (ε 0.09, δ 0.3)", "典型接受（ε 0.09，δ 0.3）"),
    "one-head": Text("one head only", "只有一个头"),
}

EXPLANATION = Text(
    en="""
**Why guess ahead.** A language model writes one token per forward pass, and for a small batch
that pass is bound by reading the weights, not by arithmetic: checking several tokens costs about
as much as producing one. Blockwise parallel decoding (Stern et al. 2018) and speculative decoding
(Leviathan et al. 2023; Chen et al. 2023) use this: something cheap proposes a few tokens, the
model verifies them all in one pass and keeps the prefix it agrees with.

**Medusa heads.** Medusa (Cai et al. 2024) needs no second model: K small heads on the last hidden
state guess the tokens 2, 3, …, K + 1 places ahead (head k: a residual SiLU block and a copy of
the LM head; in Medusa-1 the base model stays frozen and only the heads train, with loss weights
0.8^k). Here the model reads characters; the heads were trained the same way.

**Trees and their mask.** Each head offers its top few guesses; their combinations form a tree
(Medusa's "choices"). All nodes go through the model in one call: a tree attention mask lets each
node see the prefix and its own ancestors only, and its position is the prefix length plus its
depth (SpecInfer, Miao et al. 2024). The row of a node then scores exactly what the path to it
would score alone. Sparse trees keep the nodes that were most often right on held-out text.

**Acceptance.** Greedy: a guess passes if it is the model's argmax after its parent, so the text
is exactly greedy decoding; only the number of passes changes. Typical acceptance passes any
guess with p > min(ε, δ·e^(−H)) (H: the entropy of the model's distribution): looser when the
model is unsure. If each head is right with probability α, a chain of K heads yields
(1 − α^(K+1)) / (1 − α) tokens per pass; a tree does better by trying second guesses.
""",
    zh="""
**为什么要提前猜。** 语言模型每次前向只写出一个 token；小批量时这次前向的瓶颈是读取权重而不是计算：检验几个 token
和生成一个 token 的代价差不多。分块并行解码（Stern 等，2018）和推测解码（Leviathan 等，2023；Chen 等，2023）正是利用这一点：
先由便宜的方法提出几个 token，模型在一次前向中全部检验，保留它认同的前缀。

**Medusa 头。** Medusa（Cai 等，2024）不需要第二个模型：在最后一层隐状态上接 K 个小头，分别猜往后第 2、3、…、K + 1
个 token（第 k 个头：一个残差 SiLU 块加一份 LM 头的拷贝；Medusa-1 中基座模型冻结，只训练这些头，损失权重为 0.8^k）。
这里的模型以字符为单位，头也按同样方式训练。

**候选树与掩码。** 每个头给出几个最可能的猜测，它们的组合构成一棵树（Medusa 的 “choices”）。所有节点在一次调用中送入模型：
树注意力掩码让每个节点只看到前缀和它自己的祖先，位置取前缀长度加上节点深度（SpecInfer，Miao 等，2024）。于是每个节点那一行的输出，
与把通向它的路径单独送入模型完全相同。稀疏树保留在留出文本上最常猜对的节点。

**接受规则。** 贪心：猜测必须是模型在其父节点之后的 argmax，因此文本与贪心解码完全相同，变的只是前向次数。典型接受：只要
p > min(ε, δ·e^(−H))（H 为模型分布的熵）就通过，模型越不确定越宽松。若每个头猜对的概率为 α，K 个头的链每次前向平均得到
(1 − α^(K+1)) / (1 − α) 个 token；树通过尝试第二、第三个猜测做得更好。
""",
)

DEMO = Demo(
    slug="medusa",
    section="attention",
    title=Text(
        "Medusa: guess ahead, verify a tree in one pass", "Medusa：提前猜测，一次前向检验整棵树"
    ),
    summary=Text(
        "A small character LM on the US Constitution with 4 Medusa heads: candidate trees, the tree "
        "attention mask, greedy and typical acceptance, characters per base-model call.",
        "在美国宪法上训练的小型字符级语言模型与 4 个 Medusa 头：候选树、树注意力掩码、贪心与典型接受、"
        "每次基座模型调用得到的字符数。",
    ),
    sources=(
        Source(
            "Blockwise Parallel Decoding for Deep Autoregressive Models",
            "M. Stern, N. Shazeer, J. Uszkoreit",
            2018,
            "https://arxiv.org/abs/1811.03115",
        ),
        Source(
            "Fast Inference from Transformers via Speculative Decoding",
            "Y. Leviathan, M. Kalman, Y. Matias",
            2023,
            "https://arxiv.org/abs/2211.17192",
        ),
        Source(
            "Accelerating Large Language Model Decoding with Speculative Sampling",
            "C. Chen et al.",
            2023,
            "https://arxiv.org/abs/2302.01318",
        ),
        Source(
            "SpecInfer: Accelerating Generative Large Language Model Serving with Tree-based "
            "Speculative Inference and Verification",
            "X. Miao et al.",
            2024,
            "https://arxiv.org/abs/2305.09781",
        ),
        Source(
            "Medusa: Simple LLM Inference Acceleration Framework with Multiple Decoding Heads",
            "T. Cai et al.",
            2024,
            "https://arxiv.org/abs/2401.10774",
        ),
    ),
    Params=Params,
    render_fn=render,
    presets=presets,
    preset_titles=preset_titles,
    explanation=EXPLANATION,
    figures=6,
)
