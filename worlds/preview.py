"""Contact sheet of a generated dataset: a few clips (frames decoded from the written mp4s) next to
their questions and answers, saved as `DIR/preview.png`.

    contact_sheet("data/world-tiny")  # or `jepa-vqa world ... --preview`
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import av
import numpy as np

from worlds.formats import read_qa


def decode(path: str | Path) -> np.ndarray:
    """(T, H, W, 3) uint8 RGB frames of a video, through PyAV."""
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def contact_sheet(out_dir: str | Path, clips: int = 4, frames: int = 5, questions: int = 4) -> Path:
    """Write `out_dir/preview.png`: `clips` rows of `frames` frames plus `questions` Q/A each."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    records = read_qa(out)
    by_clip: dict[str, list[dict]] = {}
    for r in records:
        by_clip.setdefault(r["clip_id"], []).append(r)
    chosen = list(by_clip)[:clips]
    fig, axes = plt.subplots(
        max(1, len(chosen)),
        frames + 1,
        figsize=(2.2 * frames + 6.5, 2.4 * max(1, len(chosen))),
        gridspec_kw={"width_ratios": [1] * frames + [3.2]},
        squeeze=False,
    )
    for row, clip_id in enumerate(chosen):
        qs = by_clip[clip_id]
        video = decode(out / qs[0]["video"])  # (T, H, W, 3)
        picks = np.linspace(0, len(video) - 1, frames).round().astype(int)
        for col, t in enumerate(picks):
            ax = axes[row, col]
            ax.imshow(video[t], interpolation="nearest")
            ax.set_title(f"{clip_id} t={t}" if col == 0 else f"t={t}", fontsize=8)
            ax.axis("off")
        lines = []
        step = max(1, len(qs) // questions)
        for q in qs[::step][:questions]:
            lines.append(textwrap.fill(f"[{q['type']}] {q['question']}", 70) + f"\n    -> {q['answer']}")
        axes[row, -1].text(0, 1, "\n".join(lines), va="top", ha="left", fontsize=7.5, family="monospace")
        axes[row, -1].axis("off")
    fig.tight_layout()
    path = out / "preview.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
