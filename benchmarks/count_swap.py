"""Does the LLM read its learned count tokens? Swap them with another clip's and ask again.

A model with ``projector.count_token`` (and ``count_words``) hands its LLM, after the video's cells or
object list, learned tokens that say how many objects the clip shows (of each colour and shape). For
every "how many" question of an eval's samples (the model condition), the LLM answers twice by
likelihood choice: as it is, and with all of its count tokens taken from the next clip of the eval
(everything else the clip's own). Choices that change are choices the count tokens decide::

    python benchmarks/count_swap.py --model checkpoints/default --data runs/world-seed7 \\
        --samples runs/default-eval/samples.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from count_use import ask, asked_word  # noqa: E402

from vlm.model import VideoQAModel  # noqa: E402
from worlds.formats import read_clips  # noqa: E402


def count_tokens(model, video: str) -> torch.Tensor:
    """The clip's learned count tokens (1, 1 + count_words, W)."""
    proj = model.projector
    cells = proj.cell_tokens(model.encode_tokens(model.load_frames(video)[None]).float(), model.grid)
    return proj.count(cells.detach(), model.grid)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, help="a model dir with projector.count_token")
    parser.add_argument("--data", required=True, help="the worlds dataset the samples were asked on")
    parser.add_argument("--samples", required=True, help="an eval's samples.jsonl")
    args = parser.parse_args(argv)
    torch.set_grad_enabled(False)
    model = VideoQAModel.from_pretrained(args.model).eval()
    if not model.projector.cfg.count_token:
        parser.error(f"{args.model} has no learned count tokens (projector.count_token is false)")
    clips = {c["id"]: c["video"] for c in read_clips(args.data)}
    order = list(clips)
    words = model.projector.counted_words()
    results = {"all": [], "word": []}  # per question: (truth, own choice, swapped choice)
    for line in open(args.samples):
        s = json.loads(line)
        if s["condition"] != "model" or s["type"] != "count":
            continue
        clip = s["id"].rsplit("-q", 1)[0]
        other = order[(order.index(clip) + 1) % len(order)]
        video, options = clips[clip], s["options"]
        own = ask(model, video, s["prompt"], options)
        swapped = ask(model, video, s["prompt"], options, "count", count_tokens(model, clips[other]))
        kind = "all" if asked_word(s["prompt"], words) is None else "word"
        results[kind].append((s["answer_text"], own, swapped))
    print(f"{args.model}: count questions asked with the clip's own count tokens, then another clip's")
    for kind, rows in results.items():
        n = max(len(rows), 1)
        print(
            f"{'how many objects' if kind == 'all' else 'of a colour or shape'} ({len(rows)}): "
            f"right {100 * sum(t == o for t, o, _ in rows) / n:.1f}% -> {100 * sum(t == w for t, _, w in rows) / n:.1f}%, "
            f"choices changed {100 * sum(o != w for _, o, w in rows) / n:.1f}%"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
