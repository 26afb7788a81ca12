"""How much a trained model's answers lean on the video: the loss on QA rows with each clip's own
video against the same rows with another clip's video (and with no video tokens' content: zeros).

A model that reads the video has a clearly lower loss with the right clip, on the clips it was
trained on first of all; equal losses mean the LLM answers from the question alone::

    python -m alignment.video_reliance --model runs/align-tiny --data data/world-tiny --rows 64
    # {"own": 0.52, "other": 0.53, "gap": 0.01, "rows": 64, ...}
    python -m alignment.video_reliance --model M --data D --split test --kind descriptions [--no-adapter]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys

import torch


@torch.no_grad()
def video_reliance(
    model, data: str, split: str = "train", rows: int = 64, per_row: int = 16, kind: str = "qa"
) -> dict:
    """Mean loss over ``rows`` rows of ``split`` (``kind``: QA rows, or the clips' ground-truth
    ``descriptions``) with the own video vs another clip's (the batch's videos rolled by one) vs
    zero encoder tokens."""
    from alignment.batches import Batches
    from alignment.data import load_descriptions, load_qa

    ds = (load_qa if kind == "qa" else load_descriptions)(data, split)
    batches = Batches(model, ds, None, kind, progress=False, questions_per_row=per_row if kind == "qa" else 1)
    model.eval()
    losses = {"own": [], "other": [], "zeros": []}
    for start in range(0, min(rows, len(batches)) - 1, 2):
        batch = batches([start, start + 1])
        tokens = model.encode_tokens(batch.pop("frames"))  # (2, N, D)
        for name, video in (("own", tokens), ("other", tokens.roll(1, 0)), ("zeros", tokens * 0)):
            losses[name].append(float(model({**batch, "encoder_tokens": video})))
    mean = {k: sum(v) / len(v) for k, v in losses.items()}
    rows_done = 2 * len(losses["own"])
    return {**mean, "gap": mean["other"] - mean["own"], "rows": rows_done, "split": split, "kind": kind}


def main(argv: list[str] | None = None) -> int:
    from jepa_vqa.errors import UserError
    from vlm.model import VideoQAModel

    p = argparse.ArgumentParser(
        prog="python -m alignment.video_reliance", description=__doc__.splitlines()[0]
    )
    p.add_argument("--model", required=True, help="a trained model dir")
    p.add_argument("--data", required=True, help="a worlds dataset dir")
    p.add_argument("--split", default="train")
    p.add_argument("--rows", type=int, default=64, help="rows of grouped questions (one clip each)")
    p.add_argument("--kind", choices=["qa", "descriptions"], default="qa", help="what the rows hold")
    p.add_argument(
        "--no-adapter", action="store_true", help="with the LoRA adapter switched off: the projector alone"
    )
    args = p.parse_args(argv)
    try:
        model = VideoQAModel.from_pretrained(args.model)
        adapter = contextlib.nullcontext()
        if args.no_adapter and hasattr(model.llm, "disable_adapter"):
            adapter = model.llm.disable_adapter()
        with adapter:
            result = video_reliance(model, args.data, args.split, args.rows, kind=args.kind)
        print(json.dumps({**result, "adapter": not args.no_adapter}))
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
