"""DPO: can a policy learn from preferences without first fitting a reward model?

RLHF fits a Bradley–Terry reward model to preference pairs and then maximises it under a KL leash
to the reference policy. DPO notices that this objective's optimum π* ∝ π_ref·exp(r/β) ties every
reward to a policy, and trains the policy on the pairs directly. On a table of K responses to one
prompt both routes are computed exactly, so the figures can show where each lands against π*.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

import numpy as np
import plotly.graph_objects as go
from pydantic import BaseModel

from demos.base import PARAMS_CONFIG, Demo, Rendered, Source, Text, param
from demos.theme import COLORWAY, caption

RESPONSES = (
    Text("helpful", "有帮助"),
    Text("correct", "正确"),
    Text("polite", "礼貌"),
    Text("verbose", "啰嗦"),
    Text("vague", "含糊"),
    Text("off-topic", "跑题"),
    Text("rude", "粗鲁"),
    Text("harmful", "有害"),
)
SNAPSHOTS = 21  # policies shown by the bar chart's step slider
HEAT_COLUMNS = 120  # steps drawn in the gradient-weight heatmap
COLORS = {"ref": "#8C8C8C", "dpo": COLORWAY[0], "rlhf": COLORWAY[2], "star": COLORWAY[1]}

RewardProfile = Literal["graded", "one best", "two close"]
REWARD_PROFILES = {
    "graded": Text("graded (2 … −2)", "逐级递减（2 … −2）"),
    "one best": Text("one best, the rest equal", "一个最好，其余相同"),
    "two close": Text("two close at the top", "前两名很接近"),
}
RefProfile = Literal["uniform", "favours worse", "favours better"]
REF_PROFILES = {
    "uniform": Text("uniform", "均匀"),
    "favours worse": Text("favours the worse responses", "偏向较差的回答"),
    "favours better": Text("favours the better responses", "偏向较好的回答"),
}
LABELS = {
    "bradley-terry": Text("Bradley–Terry: p = σ(r_i − r_j)", "Bradley–Terry：p = σ(r_i − r_j)"),
    "better": Text("always the better one", "总选更好的那个"),
}
LOSSES = {"dpo": Text("DPO", "DPO"), "ipo": Text("IPO", "IPO")}


class Params(BaseModel):
    model_config = PARAMS_CONFIG

    k: int = param(5, en="Responses K", zh="回答数 K", ge=2, le=8)
    rewards: RewardProfile = param(
        "graded", en="True rewards", zh="真实奖励", choices=REWARD_PROFILES
    )
    reference: RefProfile = param(
        "favours worse", en="Reference policy π_ref", zh="参考策略 π_ref", choices=REF_PROFILES
    )
    log_beta: float = param(
        -0.5,
        en="log₁₀ β (KL strength)",
        zh="log₁₀ β（KL 强度）",
        help_en="Small β: close to greedy on the reward; large β: close to π_ref.",
        help_zh="β 小：接近按奖励贪心；β 大：接近 π_ref。",
        ge=-2.0,
        le=1.0,
        step=0.1,
    )
    pairs: int = param(
        0,
        en="Preference pairs (0 = exact expectation)",
        zh="偏好对数量（0 = 精确期望）",
        ge=0,
        le=5000,
        step=10,
    )
    labels: Literal["bradley-terry", "better"] = param(
        "bradley-terry", en="Labels", zh="标注方式", choices=LABELS
    )
    loss: Literal["dpo", "ipo"] = param("dpo", en="Loss", zh="损失", choices=LOSSES)
    steps: int = param(600, en="Adam steps", zh="Adam 步数", ge=10, le=2000, step=10)
    lr: float = param(0.05, en="Learning rate", zh="学习率", ge=0.005, le=0.2, step=0.005)
    seed: int = param(0, en="Seed", zh="随机种子", ge=0, le=99)


def toy(k: int, rewards: str, reference: str) -> tuple[np.ndarray, np.ndarray]:
    """(π_ref (K,), true rewards (K,)) of the named profiles; responses ordered best first."""
    if rewards == "graded":
        r = np.linspace(2.0, -2.0, k)
    elif rewards == "one best":
        r = np.where(np.arange(k) == 0, 2.0, 0.0)
    else:
        r = np.concatenate([[1.0, 0.8], np.linspace(-0.5, -2.0, k - 2)])[:k]
    order = np.arange(k, dtype=np.float64)
    if reference == "uniform":
        ref = np.ones(k)
    elif reference == "favours worse":
        ref = np.exp(0.5 * order)
    else:
        ref = np.exp(-0.5 * order)
    return ref / ref.sum(), r


@lru_cache(maxsize=16)
def _run(
    k: int,
    rewards: str,
    reference: str,
    log_beta: float,
    pairs: int,
    labels: str,
    loss: str,
    steps: int,
    lr: float,
    seed: int,
) -> dict:
    import torch

    from core.alignment.dpo import dpo_bandit, optimal_policy, rlhf_policy
    from core.trace import Trace

    ref, r = toy(k, rewards, reference)
    beta = 10.0**log_beta
    n_pairs = pairs or None
    trace = Trace()
    policies = dpo_bandit(
        ref, r, beta, steps=steps, lr=lr, n_pairs=n_pairs, seed=seed, labels=labels, loss=loss,
        trace=trace,
    )  # fmt: skip
    rlhf, r_hat = rlhf_policy(ref, r, beta, n_pairs=n_pairs, seed=seed, labels=labels)
    pair_event = trace["pairs"][0]
    columns = np.unique(np.linspace(0, steps, min(HEAT_COLUMNS, steps + 1)).round().astype(int))
    weights = torch.stack(trace.column("step", "gradient_weight")).numpy()[columns]
    return {
        "ref": ref,
        "rewards": r,
        "beta": beta,
        "policies": policies.numpy(),
        "star": optimal_policy(ref, r, beta),
        "rlhf": rlhf.numpy(),
        "r_hat": r_hat.numpy(),
        "loss": np.asarray(trace.column("step", "loss")),
        "chosen": np.asarray(trace.column("step", "chosen_reward")),
        "rejected": np.asarray(trace.column("step", "rejected_reward")),
        "accuracy": np.asarray(trace.column("step", "accuracy")),
        "kl": np.asarray(trace.column("step", "kl")),
        "weight_steps": columns,
        "weights": weights,  # (columns, pairs)
        "winners": pair_event["winners"].numpy(),
        "losers": pair_event["losers"].numpy(),
        "pair_weights": pair_event["weights"].numpy(),
    }


def _figure(data: list, layout: dict) -> go.Figure:
    """A Figure from plain dicts; the page's template goes in when it is serialised."""
    return go.Figure({"data": data, "layout": {"template": {}, **layout}}, _validate=False)


def _kl(p: np.ndarray, q: np.ndarray) -> float:
    mask = p > 0
    return float((p[mask] * np.log(p[mask] / q[mask])).sum())


def _names(k: int, lang: str) -> list[str]:
    return [RESPONSES[i](lang) for i in range(k)]


def _diagram(p: Params, run: dict, lang: str) -> go.Figure:
    beta, pairs = run["beta"], p.pairs or Text("all (exact)", "全部（精确）")(lang)
    final = run["policies"][-1]
    t = Text
    boxes = [
        (
            0.0,
            1.2,
            t("1. SFT", "1. 监督微调")(lang),
            t("π_ref (given here)", "π_ref（此处直接给定）")(lang),
        ),
        (
            1.05,
            1.2,
            t("2. reward model", "2. 奖励模型")(lang),
            t(
                f"Bradley–Terry MLE on {pairs} pairs",
                f"在 {pairs} 个偏好对上做 Bradley–Terry 极大似然",
            )(lang),
        ),
        (
            2.1,
            1.2,
            t("3. RL (PPO)", "3. 强化学习（PPO）")(lang),
            t(
                f"max E[r̂] − β·KL, β = {beta:.3g}; KL = {_kl(run['rlhf'], run['ref']):.3f}",
                f"最大化 E[r̂] − β·KL，β = {beta:.3g}；KL = {_kl(run['rlhf'], run['ref']):.3f}",
            )(lang),
        ),
        (
            0.6,
            0.0,
            t("DPO: one loss", "DPO：一个损失")(lang),
            t(
                f"−log σ(β[log π/π_ref (y_w) − log π/π_ref (y_l)]), {p.steps} Adam steps; "
                f"KL = {_kl(final, run['ref']):.3f}",
                f"−log σ(β[log π/π_ref (y_w) − log π/π_ref (y_l)])，{p.steps} 步 Adam；"
                f"KL = {_kl(final, run['ref']):.3f}",
            )(lang),
        ),
    ]
    shapes, notes = [], []
    for x, y, head, body in boxes:
        width = 0.95 if y > 0 else 2.05
        shapes.append(
            {
                "type": "rect",
                "x0": x,
                "x1": x + width,
                "y0": y,
                "y1": y + 0.9,
                "line": {"color": COLORS["dpo"] if y == 0 else "#9CA3AF", "width": 1.5},
                "fillcolor": "rgba(0,114,178,0.12)" if y == 0 else "rgba(156,163,175,0.15)",
            }
        )
        notes.append(
            {"x": x + width / 2, "y": y + 0.62, "text": f"<b>{head}</b>", "showarrow": False}
        )
        notes.append(
            {
                "x": x + width / 2,
                "y": y + 0.3,
                "text": body,
                "showarrow": False,
                "font": {"size": 11},
            }
        )
    for x0 in (0.95, 2.0):
        notes.append(
            {"x": x0 + 0.1, "y": 1.65, "ax": x0, "ay": 1.65, "xref": "x", "yref": "y", "axref": "x",
             "ayref": "y", "text": "", "showarrow": True, "arrowhead": 2, "arrowcolor": "#9CA3AF"}
        )  # fmt: skip
    notes.append(
        caption(
            Text(
                "Same pairs, same π_ref: the RLHF route (top) against DPO (bottom)",
                "同样的偏好对、同样的 π_ref：RLHF 路线（上）与 DPO（下）",
            )(lang)
        )
    )
    data = [
        {"type": "scatter", "x": [b[0] + 0.45 for b in boxes], "y": [b[1] + 0.45 for b in boxes],
         "mode": "markers", "marker": {"opacity": 0}, "hoverinfo": "skip", "showlegend": False}
    ]  # fmt: skip
    hidden = {"visible": False, "fixedrange": True}
    layout = {
        "title": {
            "text": Text(
                "RLHF's three stages and DPO's single loss", "RLHF 的三个阶段与 DPO 的单个损失"
            )(lang)
        },
        "shapes": shapes,
        "annotations": notes,
        "xaxis": {**hidden, "range": [-0.05, 3.1]},
        "yaxis": {**hidden, "range": [-0.1, 2.2]},
        "height": 330,
        "margin": {"l": 10, "r": 10, "t": 70, "b": 10},
    }
    return _figure(data, layout)


def _bars(p: Params, run: dict, lang: str) -> go.Figure:
    names = _names(p.k, lang)
    policies = run["policies"]
    snapshots = np.unique(np.linspace(0, len(policies) - 1, SNAPSHOTS).round().astype(int))
    method = LOSSES[p.loss](lang)
    data = [
        {"type": "bar", "x": names, "y": run["ref"], "name": "π_ref", "marker": {"color": COLORS["ref"]}},
        {"type": "bar", "x": names, "y": policies[-1], "name": f"π_{method}",
         "marker": {"color": COLORS["dpo"]}},
        {"type": "bar", "x": names, "y": run["rlhf"], "name": Text("π_RLHF (reward model + exact RL)", "π_RLHF（奖励模型 + 精确 RL）")(lang),
         "marker": {"color": COLORS["rlhf"]}},
        {"type": "bar", "x": names, "y": run["star"], "name": "π* ∝ π_ref·exp(r/β)",
         "marker": {"color": COLORS["star"]}},
    ]  # fmt: skip
    step_label = Text("step", "步")(lang)
    slider = {
        "active": len(snapshots) - 1,
        "currentvalue": {"prefix": f"π_{method} {step_label}: "},
        "pad": {"t": 60},
        "steps": [
            {"label": str(s), "method": "restyle", "args": [{"y": [policies[s]]}, [1]]}
            for s in snapshots
        ],
    }
    gap = np.abs(policies[-1] - run["star"]).max()
    layout = {
        "title": {"text": Text("The policies over the K responses", "K 个回答上的各个策略")(lang)},
        "annotations": [
            caption(
                Text(
                    f"max |π_{method} − π*| = {gap:.2e}, max |π_RLHF − π*| = "
                    f"{np.abs(run['rlhf'] - run['star']).max():.2e}",
                    f"max |π_{method} − π*| = {gap:.2e}，max |π_RLHF − π*| = "
                    f"{np.abs(run['rlhf'] - run['star']).max():.2e}",
                )(lang),
                y=1.12,
            )
        ],
        "barmode": "group",
        "xaxis": {"title": {"text": Text("response (best first)", "回答（从好到差）")(lang)}},
        "yaxis": {"title": {"text": Text("probability", "概率")(lang)}, "rangemode": "tozero"},
        "legend": {"orientation": "h", "y": 1.0, "yanchor": "bottom", "x": 0.0},
        "sliders": [slider],
        "height": 540,
        "margin": {"t": 130},
    }
    return _figure(data, layout)


def _implicit(p: Params, run: dict, lang: str) -> go.Figure:
    beta, final = run["beta"], run["policies"][-1]
    implicit = beta * np.log(final / run["ref"])
    implicit -= implicit.mean()
    true = run["rewards"] - run["rewards"].mean()
    r_hat = run["r_hat"] - run["r_hat"].mean()
    span = [
        float(min(true.min(), implicit.min(), r_hat.min())) - 0.2,
        float(max(true.max(), implicit.max(), r_hat.max())) + 0.2,
    ]
    names = _names(p.k, lang)
    data = [
        {"type": "scatter", "x": span, "y": span, "mode": "lines", "line": {"dash": "dot", "color": "#9CA3AF"},
         "name": "y = x"},
        {"type": "scatter", "x": true, "y": implicit, "mode": "markers+text", "text": names,
         "textposition": "top center", "marker": {"size": 10, "color": COLORS["dpo"]},
         "name": Text("DPO: β·log(π/π_ref), centred", "DPO：β·log(π/π_ref)，中心化")(lang)},
        {"type": "scatter", "x": true, "y": r_hat, "mode": "markers",
         "marker": {"size": 9, "symbol": "diamond-open", "color": COLORS["rlhf"]},
         "name": Text("RLHF reward model r̂, centred", "RLHF 奖励模型 r̂，中心化")(lang)},
    ]  # fmt: skip
    layout = {
        "title": {
            "text": Text("The implicit reward against the true one", "隐式奖励与真实奖励")(lang)
        },
        "annotations": [
            caption(
                Text(
                    "both centred: β·log Z is not identifiable", "两者都已中心化：β·log Z 不可辨识"
                )(lang)
            )
        ],
        "xaxis": {"title": {"text": Text("true reward r, centred", "真实奖励 r（中心化）")(lang)}},
        "yaxis": {"title": {"text": Text("learned reward, centred", "学到的奖励（中心化）")(lang)}},
        "legend": {"orientation": "h", "y": -0.25},
        "height": 420,
    }
    return _figure(data, layout)


def _curves(p: Params, run: dict, lang: str) -> go.Figure:
    steps = np.arange(len(run["loss"]))
    t = Text
    data = [
        {"type": "scatter", "x": steps, "y": run["loss"], "name": t("loss", "损失")(lang), "line": {"color": COLORWAY[0]}},
        {"type": "scatter", "x": steps, "y": run["kl"], "name": "KL(π‖π_ref)", "line": {"color": COLORWAY[3], "dash": "dash"}},
        {"type": "scatter", "x": steps, "y": run["chosen"], "name": t("chosen reward β·log π/π_ref", "被选回答的奖励")(lang),
         "line": {"color": COLORWAY[2]}, "xaxis": "x2", "yaxis": "y2"},
        {"type": "scatter", "x": steps, "y": run["rejected"], "name": t("rejected reward", "被拒回答的奖励")(lang),
         "line": {"color": COLORWAY[1]}, "xaxis": "x2", "yaxis": "y2"},
        {"type": "scatter", "x": steps, "y": run["accuracy"], "name": t("reward accuracy", "奖励准确率")(lang),
         "line": {"color": COLORWAY[4], "dash": "dot"}, "xaxis": "x2", "yaxis": "y2"},
    ]  # fmt: skip
    step = t("Adam step", "Adam 步数")(lang)
    layout = {
        "title": {"text": t("Training curves", "训练曲线")(lang)},
        "xaxis": {"domain": [0, 0.44], "title": {"text": step}},
        "yaxis": {
            "title": {"text": t("loss, KL (nats)", "损失、KL（nats）")(lang)},
            "rangemode": "tozero",
        },
        "xaxis2": {"domain": [0.56, 1], "anchor": "y2", "title": {"text": step}},
        "yaxis2": {"anchor": "x2", "title": {"text": t("reward, accuracy", "奖励、准确率")(lang)}},
        "legend": {"orientation": "h", "y": -0.25},
        "height": 420,
    }
    return _figure(data, layout)


def _weights(p: Params, run: dict, lang: str) -> go.Figure:
    """Each ordered (winner, loser) combination's gradient weight σ(r̂_l − r̂_w) over steps."""
    names = _names(p.k, lang)
    winners, losers, weights = run["winners"], run["losers"], run["pair_weights"]
    combos = sorted(
        {(int(w), int(v)) for w, v, q in zip(winners, losers, weights, strict=True) if q > 0}
    )
    rows, labels = [], []
    for w, v in combos:
        index = np.flatnonzero((winners == w) & (losers == v))[0]
        rows.append(run["weights"][:, index])
        labels.append(f"{names[w]} ≻ {names[v]}")
    data = [
        {
            "type": "heatmap",
            "z": np.asarray(rows),
            "x": run["weight_steps"],
            "y": labels,
            "zmin": 0,
            "zmax": 1,
            "colorscale": "Viridis",
            "colorbar": {"title": {"text": "σ(r̂_l − r̂_w)"}},
            "hovertemplate": "%{y}, step %{x}: %{z:.3f}<extra></extra>",
        }
    ]
    layout = {
        "title": {
            "text": Text(
                "Each pair's gradient weight σ(r̂_l − r̂_w)", "每个偏好对的梯度权重 σ(r̂_l − r̂_w)"
            )(lang)
        },
        "annotations": [
            caption(
                Text(
                    "large while the implicit reward still ranks the pair wrongly",
                    "隐式奖励把这对排错时权重大",
                )(lang)
            )
        ],
        "xaxis": {"title": {"text": Text("Adam step", "Adam 步数")(lang)}},
        "yaxis": {
            "title": {"text": Text("pair (winner ≻ loser)", "偏好对（胜 ≻ 负）")(lang)},
            "automargin": True,
        },
        "height": max(320, 120 + 14 * len(labels)),
    }
    return _figure(data, layout)


def _frontier(p: Params, run: dict, lang: str) -> go.Figure:
    from core.alignment.dpo import optimal_policy

    betas = np.logspace(-2.5, 1.5, 60)
    ref, r = run["ref"], run["rewards"]
    stars = optimal_policy(
        np.broadcast_to(ref, (len(betas), len(ref))),
        np.broadcast_to(r, (len(betas), len(r))),
        betas[:, None],
    )
    expected = stars @ r
    kls = [_kl(s, ref) for s in stars]
    final = run["policies"][-1]
    method = LOSSES[p.loss](lang)
    data = [
        {"type": "scatter", "x": kls, "y": expected, "mode": "lines", "name": Text("π* as β sweeps", "β 变化时的 π*")(lang),
         "line": {"color": COLORS["star"]}, "customdata": betas, "hovertemplate": "β = %{customdata:.3g}<extra></extra>"},
        {"type": "scatter", "x": [_kl(run["star"], ref)], "y": [run["star"] @ r], "mode": "markers",
         "marker": {"size": 12, "color": COLORS["star"], "symbol": "circle-open", "line": {"width": 3}},
         "name": f"π*, β = {run['beta']:.3g}"},
        {"type": "scatter", "x": [_kl(final, ref)], "y": [final @ r], "mode": "markers",
         "marker": {"size": 9, "color": COLORS["dpo"]}, "name": Text(f"trained π_{method}", f"训练得到的 π_{method}")(lang)},
        {"type": "scatter", "x": [_kl(run["rlhf"], ref)], "y": [run["rlhf"] @ r], "mode": "markers",
         "marker": {"size": 9, "color": COLORS["rlhf"], "symbol": "diamond"}, "name": "π_RLHF"},
    ]  # fmt: skip
    layout = {
        "title": {
            "text": Text("β trades reward for closeness to π_ref", "β 在奖励与贴近 π_ref 之间权衡")(
                lang
            )
        },
        "xaxis": {"title": {"text": "KL(π‖π_ref)"}, "rangemode": "tozero"},
        "yaxis": {
            "title": {"text": Text("expected true reward E_π[r]", "期望真实奖励 E_π[r]")(lang)}
        },
        "legend": {"orientation": "h", "y": -0.25},
        "height": 420,
    }
    return _figure(data, layout)


def render(p: Params, lang: str = "en") -> Rendered:
    run = _run(
        p.k, p.rewards, p.reference, p.log_beta, p.pairs, p.labels, p.loss, p.steps, p.lr, p.seed
    )
    final = run["policies"][-1]
    names = _names(p.k, lang)
    header = Text(
        "| response | r | π_ref | π_trained | π_RLHF | π* |",
        "| 回答 | r | π_ref | 训练所得 π | π_RLHF | π* |",
    )(lang)
    rows = [
        f"| {names[i]} | {run['rewards'][i]:.2f} | {run['ref'][i]:.4f} | {final[i]:.4f} | "
        f"{run['rlhf'][i]:.4f} | {run['star'][i]:.4f} |"
        for i in range(p.k)
    ]
    notes = "\n".join([header, "|---|---:|---:|---:|---:|---:|", *rows])
    figures = [
        _diagram(p, run, lang),
        _bars(p, run, lang),
        _implicit(p, run, lang),
        _curves(p, run, lang),
        _weights(p, run, lang),
        _frontier(p, run, lang),
    ]
    return Rendered(figures, notes)


presets = {
    "exact": Params(pairs=0, labels="bradley-terry", loss="dpo", log_beta=-0.5, steps=800),
    "beta": Params(log_beta=-1.7, steps=1000, rewards="two close"),
    "few": Params(pairs=30, steps=800),
    "always": Params(labels="better", loss="dpo", steps=2000, log_beta=0.0),
}
preset_titles = {
    "exact": Text("Exact preferences: DPO lands on π*", "精确偏好：DPO 落在 π* 上"),
    "beta": Text("β: greedy when small, anchored when large", "β：小则贪心，大则贴近参考"),
    "few": Text("Few pairs: noisy implicit rewards", "偏好对很少：隐式奖励带噪声"),
    "always": Text(
        "Always the better response: DPO runs past π*, IPO stops",
        "总选更好的回答：DPO 冲过 π*，IPO 会停下",
    ),
}

EXPLANATION = Text(
    en="""
**RLHF** (Christiano et al. 2017; Stiennon et al. 2020; Ouyang et al. 2022) has three stages:
supervised fine-tuning gives a reference policy π_ref; a reward model r̂ is fitted to human
preference pairs with the Bradley & Terry (1952) model P(y_w ≻ y_l) = σ(r(y_w) − r(y_l)); then
PPO (Schulman et al. 2017) maximises E_π[r̂] − β·KL(π‖π_ref). Here the policy is a table over K
responses, so that last stage is solved exactly instead of by PPO: π ∝ π_ref·exp(r̂/β).

**DPO** (Rafailov et al. 2023) starts from that closed form: every reward r has an optimal policy
π* ∝ π_ref·exp(r/β), and every policy implies a reward r = β·log(π/π_ref) + β·log Z. Putting the
implied reward into the Bradley–Terry likelihood gives one loss on the policy itself,
−log σ(β[log π/π_ref (y_w) − log π/π_ref (y_l)]); Z cancels in the difference, which is why the
implicit reward figure can only be compared after centring. With exact Bradley–Terry preferences
DPO lands on π* (the bars, the table). Each pair's gradient is scaled by σ(r̂_l − r̂_w): large while
the implicit reward still ranks the pair wrongly, small once it is right.

**What to try.** Small β lets the policy move far from π_ref to the best response (greedy); large β
keeps it near π_ref (the frontier). With few pairs the implicit rewards are noisy. With labels that
always pick the better response, the preference probability is 1, the Bradley–Terry optimum is an
infinite reward gap, and DPO keeps pushing past π*; IPO (Azar et al. 2024) replaces the loss by
(h − 1/(2β))², whose minimum is a finite gap, so it stops.
""",
    zh="""
**RLHF**（Christiano 等 2017；Stiennon 等 2020；Ouyang 等 2022）分三个阶段：监督微调得到参考策略 π_ref；
用 Bradley 与 Terry（1952）的模型 P(y_w ≻ y_l) = σ(r(y_w) − r(y_l)) 在人类偏好对上拟合奖励模型 r̂；再用
PPO（Schulman 等 2017）最大化 E_π[r̂] − β·KL(π‖π_ref)。这里的策略是 K 个回答上的一张表，所以最后一步不用 PPO，
而是精确求解：π ∝ π_ref·exp(r̂/β)。

**DPO**（Rafailov 等 2023）从这个闭式解出发：每个奖励 r 都有最优策略 π* ∝ π_ref·exp(r/β)，每个策略也都对应
一个奖励 r = β·log(π/π_ref) + β·log Z。把这个隐式奖励代入 Bradley–Terry 似然，就得到直接作用于策略的一个损失
−log σ(β[log π/π_ref (y_w) − log π/π_ref (y_l)])；Z 在差中消掉了，所以隐式奖励图只能在中心化之后比较。
在精确的 Bradley–Terry 偏好下，DPO 落在 π* 上（见柱状图和表格）。每个偏好对的梯度乘以 σ(r̂_l − r̂_w)：
隐式奖励还把这对排错时权重大，排对之后权重小。

**可以试试。** β 小时策略可以远离 π_ref，集中到最好的回答上（贪心）；β 大时策略贴近 π_ref（见前沿曲线）。
偏好对很少时隐式奖励带噪声。如果标注总选更好的回答，偏好概率为 1，Bradley–Terry 的最优解是无穷大的奖励差，
DPO 会一直冲过 π*；IPO（Azar 等 2024）把损失换成 (h − 1/(2β))²，其最小值是有限的差，所以会停下。
""",
)

DEMO = Demo(
    slug="dpo",
    section="finetuning",
    figures=6,
    title=Text("DPO: preferences without a reward model", "DPO：不需要奖励模型的偏好学习"),
    summary=Text(
        "RLHF's reward model and RL step against DPO's single loss, solved exactly on K responses.",
        "RLHF 的奖励模型与强化学习步骤对比 DPO 的单个损失，在 K 个回答上精确求解。",
    ),
    sources=(
        Source(
            "Direct Preference Optimization: Your Language Model is Secretly a Reward Model",
            "R. Rafailov, A. Sharma, E. Mitchell, S. Ermon, C. D. Manning, C. Finn",
            2023,
            "https://arxiv.org/abs/2305.18290",
        ),
        Source(
            "A General Theoretical Paradigm to Understand Learning from Human Preferences",
            "M. G. Azar, M. Rowland, B. Piot, D. Guo, D. Calandriello, M. Valko, R. Munos",
            2024,
            "https://arxiv.org/abs/2310.12036",
        ),
        Source(
            "Training language models to follow instructions with human feedback",
            "L. Ouyang et al.",
            2022,
            "https://arxiv.org/abs/2203.02155",
        ),
        Source(
            "Deep reinforcement learning from human preferences",
            "P. Christiano, J. Leike, T. Brown, M. Martic, S. Legg, D. Amodei",
            2017,
            "https://arxiv.org/abs/1706.03741",
        ),
        Source(
            "Learning to summarize from human feedback",
            "N. Stiennon et al.",
            2020,
            "https://arxiv.org/abs/2009.01325",
        ),
        Source(
            "Proximal Policy Optimization Algorithms",
            "J. Schulman, F. Wolski, P. Dhariwal, A. Radford, O. Klimov",
            2017,
            "https://arxiv.org/abs/1707.06347",
        ),
        Source(
            "Rank analysis of incomplete block designs: I. The method of paired comparisons",
            "R. A. Bradley, M. E. Terry",
            1952,
        ),
    ),
    Params=Params,
    render_fn=render,
    presets=presets,
    preset_titles=preset_titles,
    explanation=EXPLANATION,
)
