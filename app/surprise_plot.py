"""The world-model view: how surprised the encoder is, over time, by the uploaded clip.

The curve comes from `encoder.surprise.surprise_curve` (the same code the `world-voe` eval task
uses): the JEPA predictor's error at predicting each time step from the earlier ones. Raw errors
differ from clip to clip and drift with the step, so the plot shows each step in % of the clip's
own baseline (its median error). The grey band is the noise level: how far the error of a still
copy of the clip (its first frame repeated: nothing happens) wanders around its own median. The
y-axis never spans less than ±MIN_SPAN_PCT, so a 0.5 % wobble is drawn flat, not as a peak.

    rel = relative_surprise(curve, still)          # % vs the clip's median, per step, and the band
    fig = surprise_figure(curve, still, frames_per_step=2, title="clip.mp4")   # 2 = tubelet
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from matplotlib.figure import Figure

MIN_SPAN_PCT = 10.0  # the y-axis shows at least ±10 % around the baseline
MIN_BAND_PCT = 1.0  # the noise band is never narrower than ±1 %

EXPLANATION = (
    "Each point is how badly the world model predicted those frames from the earlier ones, in % "
    "above or below this clip's typical (median) error; the grey band is how far that error "
    "wanders for a still copy of the clip (its first frame repeated, so nothing happens), so only "
    "points above the band mean the model was surprised (below it: more predictable than usual)."
)


@dataclass
class RelativeSurprise:
    """A surprise curve relative to the clip's median, with its noise band, in percent."""

    values: torch.Tensor  # (S,) % above the clip's median, per predicted step
    band: float  # ± noise level in %
    standout: list[int]  # 0-based steps above the band (surprises), highest first


def relative_surprise(curve: torch.Tensor, still: torch.Tensor) -> RelativeSurprise:
    """`curve` (S,) relative to its median, with the band from `still` (S,), the curve of the
    clip's first frame repeated."""
    curve = curve.detach().float().flatten().cpu()  # (S,)
    still = still.detach().float().flatten().cpu()  # (S,)
    if curve.numel() == 0:
        raise ValueError("the surprise curve is empty")
    if still.shape != curve.shape:
        raise ValueError(f"baseline shape {tuple(still.shape)} != curve shape {tuple(curve.shape)}")
    values = (curve / curve.median().clamp_min(1e-8) - 1.0) * 100.0  # (S,)
    wander = (still / still.median().clamp_min(1e-8) - 1.0).abs().max() * 100.0
    band = max(MIN_BAND_PCT, float(wander))
    order = torch.argsort(values, descending=True)  # a surprise is a worse prediction, not a better one
    outside = [int(i) for i in order if float(values[i]) > band + 1e-6]
    return RelativeSurprise(values=values, band=band, standout=outside)


def frame_range(step: int, frames_per_step: int) -> str:
    """1-based frames of predicted step `step` (1..S): step 1 is the second group of frames."""
    first = step * frames_per_step + 1
    return str(first) if frames_per_step == 1 else f"{first}-{first + frames_per_step - 1}"


def surprise_figure(
    curve: torch.Tensor, still: torch.Tensor, frames_per_step: int = 1, title: str = ""
) -> Figure:
    """The relative surprise per step, its noise band and any step outside it (no pyplot: thread-safe)."""
    rel = relative_surprise(curve, still)
    values = rel.values.tolist()
    steps = list(range(1, len(values) + 1))
    fig = Figure(figsize=(6, 2.8), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    ax.axhspan(-rel.band, rel.band, color="0.85", label=f"noise (±{rel.band:.1f} %)")
    ax.axhline(0.0, color="0.5", linewidth=0.8)
    ax.plot(steps, values, marker="o", color="tab:purple", label="this clip")
    for i in rel.standout[:3]:
        ax.annotate(
            f"{values[i]:+.0f} %",
            (steps[i], values[i]),
            textcoords="offset points",
            xytext=(0, 6),
            ha="center",
            fontsize=8,
        )
    span = max(MIN_SPAN_PCT, 1.3 * max(abs(v) for v in values), 1.3 * rel.band)
    ax.set_ylim(-span, span)
    ax.set_xticks(steps, [frame_range(s, frames_per_step) for s in steps], fontsize=8)
    ax.set_xlabel("frames of the strip above, each predicted from all earlier ones")
    ax.set_ylabel("surprise vs clip median (%)")
    top = rel.standout[0] + 1 if rel.standout else None
    verdict = f"most surprising: frames {frame_range(top, frames_per_step)}" if top else "nothing stands out"
    ax.set_title(f"World-model surprise{': ' + title if title else ''} ({verdict})", fontsize=10)
    ax.legend(loc="upper left", fontsize=7, frameon=False)
    ax.grid(alpha=0.3)
    return fig
