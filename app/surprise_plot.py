"""The world-model view: how surprised the encoder is, over time, by the uploaded clip.

The curve comes from `encoder.surprise.surprise_curve` (the same code the `world-voe` eval task
uses): the JEPA predictor's error at predicting later latents from earlier ones. A peak marks a
moment the world model did not expect (a vanishing object, a teleport).

    fig = surprise_figure(surprise_curve(spec, frames), title="clip.mp4")
"""

from __future__ import annotations

import torch
from matplotlib.figure import Figure


def surprise_figure(curve: torch.Tensor, title: str = "") -> Figure:
    """A line plot of a 1D surprise curve with its peak marked (no pyplot: thread-safe)."""
    values = curve.detach().float().flatten().cpu()  # (S,)
    if values.numel() == 0:
        raise ValueError("the surprise curve is empty")
    fig = Figure(figsize=(6, 2.6), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    steps = list(range(1, values.numel() + 1))
    ax.plot(steps, values.tolist(), marker="o", color="tab:purple")
    peak = int(values.argmax())
    ax.annotate(
        f"peak {values[peak]:.3g}",
        (steps[peak], float(values[peak])),
        textcoords="offset points",
        xytext=(0, 6),
        ha="center",
        fontsize=8,
    )
    ax.margins(y=0.25)  # room for the peak label
    ax.set_xlabel("predicted time step")
    ax.set_ylabel("prediction error")
    ax.set_title(f"World-model surprise{': ' + title if title else ''}", fontsize=10)
    ax.grid(alpha=0.3)
    return fig
