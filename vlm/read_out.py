"""What a model with a word read-out (``projector.object_words``) hands its LLM for one clip.

Per time step, the cells it picked (most likely to show an object), each with that chance and the
likeliest word of each group with its weight; then what the count tokens are nearest to. The LLM
reads the softmax-weighted mix of those words, so this is what it is told the clip shows::

    python -m vlm.read_out --model checkpoints/default app/examples/world_1.mp4
"""

from __future__ import annotations

import argparse
import sys

import torch
import torch.nn.functional as F

from jepa_vqa.errors import UserError
from vlm.projector import NUMBERS, word_embeddings


def object_list(model, video) -> list[list[dict]]:
    """Per time step, per picked cell: {"row", "col", "object" (chance), group: (word, weight)}."""
    proj, grid = model.projector, model.grid
    if not getattr(proj.cfg, "object_words", 0):
        raise UserError("this model hands its LLM cell tokens, not words (projector.object_words = 0)")
    frames = model.load_frames(video) if isinstance(video, str) else video
    with torch.no_grad():
        tokens = model.encode_tokens(frames[None]).float()  # (1, N, D)
        cells = proj.cell_tokens(tokens, grid)  # (1, C, W)
        probs, full = proj.read_weights(cells, grid)
        picked = proj.picked_cells(full, grid)[0]  # (t, M)
    t, h, w = proj.cells(grid)
    steps = []
    for step, cols in enumerate(picked.tolist()):
        rows = []
        for k in cols:
            c = step * h * w + k
            row = {"row": k // w, "col": k % w, "object": float(full[0, c, 0])}
            for (group, words), p in zip(proj.cfg.words.items(), probs):
                best = int(p[0, c].argmax())
                row[group] = (words[best], float(p[0, c, best]))
            rows.append(row)
        steps.append(rows)
    return steps


def counts(model, video) -> dict[str, str]:
    """The number word nearest to the learned count token (``"all"``) and to each learned per-word
    count token; with ``projector.cell_counts``, the numbers read off the cells (``"red (cells)"``)."""
    proj, out = model.projector, {}
    frames = model.load_frames(video) if isinstance(video, str) else video
    with torch.no_grad():
        tokens = model.encode_tokens(frames[None]).float()  # (1, N, D)
        if proj.cfg.count_token:
            table = word_embeddings(model.tokenizer, model.llm.get_input_embeddings().weight, NUMBERS).float()
            parts = proj(tokens, model.grid, parts=True)
            learned = torch.cat([parts["count"], parts.get("word counts", parts["count"][:, :0])], 1)[0]
            nearest = (F.normalize(learned.float(), dim=-1) @ F.normalize(table, dim=-1).T).argmax(-1)
            names = ["all"] + proj.counted_words()[: proj.cfg.count_words]
            out.update({name: NUMBERS[i] for name, i in zip(names, nearest.tolist())})
        if proj.cfg.cell_counts:
            weights = proj.read_weights(proj.cell_tokens(tokens, model.grid), model.grid)
            numbers = proj.counts_from_cells(weights, model.grid)[0]
            out.update({f"{w} (cells)": str(int(n)) for w, n in zip(proj.counted_words(), numbers)})
    return out


def render(steps: list[list[dict]], numbers: dict[str, str]) -> str:
    lines = []
    for s, rows in enumerate(steps):
        lines.append(f"time step {s + 1}:")
        for r in rows:
            words = "  ".join(
                f"{g}={r[g][0]} ({r[g][1]:.2f})" for g in r if g not in ("row", "col", "object")
            )
            lines.append(f"  cell ({r['row']}, {r['col']}) object {r['object']:.2f}  {words}")
    if numbers:
        lines.append("counts: " + ", ".join(f"{k} {v}" for k, v in numbers.items()))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from vlm.model import VideoQAModel

    parser = argparse.ArgumentParser(prog="python -m vlm.read_out", description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="checkpoints/default", help="a model dir")
    parser.add_argument("video")
    args = parser.parse_args(argv)
    try:
        model = VideoQAModel.from_pretrained(args.model)
        print(render(object_list(model, args.video), counts(model, args.video)))
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
