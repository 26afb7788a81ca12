"""Grounded stage 1: train the projector to put, in each video token, the LLM's own words for what
is in its cell (``stage1.data=grounding``; needs a world with ground truth).

Each video token ``v_k`` (the projector's output for cell k, at word-embedding scale) is scored
against the LLM's input embeddings ``E_w`` of every word of each group (shape incl. "nothing",
colour, size, direction; :func:`worlds.grounding.vocabulary`): ``logit = scale * cos(v_k, E_w)``,
and a cross-entropy per group pulls the token towards the embedding of the word its cell's object
has. No LLM forward is run, so a step costs milliseconds and the projector can see every clip
many times; the LLM then meets video tokens that already point at words it knows. Why: through
the frozen LLM's answer loss a projector learns to read the clip only after tens of epochs
(README, alignment levers), far beyond a CPU budget::

    batches = GroundingBatches(model, videos, "data/world-tiny", "train", cache)  # cache: FeatureCache
    loss = grounding_loss(model, batches(idx), batches.word_tables)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from jepa_vqa.errors import UserError
from vlm.projector import PoolMLPProjector
from worlds.formats import read_clips
from worlds.grounding import cell_words, vocabulary

SCALE = 10.0  # cosine -> logit: a margin of 0.3 in cosine is 3 nats


def word_tokens(tokenizer, words: list[str]) -> list[list[int]]:
    """The token ids of each word as it follows a space."""
    return [tokenizer(" " + w, add_special_tokens=False)["input_ids"] for w in words]


def word_table(model, tokens: list[list[int]]) -> torch.Tensor:
    """(V, W): each word's input embedding (the mean of its tokens' when it splits), frozen and
    unit-length (the logits are cosines)."""
    table = model.llm.get_input_embeddings().weight.detach()
    return F.normalize(torch.stack([table[ids].float().mean(0) for ids in tokens]), dim=-1)


def cell_targets(clips: list[dict], groups: dict[str, list[str]], grid) -> torch.Tensor:
    """(C, K, G) index of each cell's word within each group, -100 where the group has none."""
    out = torch.full((len(clips), grid[0] * grid[1] * grid[2], len(groups)), -100, dtype=torch.long)
    for c, clip in enumerate(clips):
        for k, words in enumerate(cell_words(clip, grid)):
            for g, (name, vocab) in enumerate(groups.items()):
                if name in words:
                    out[c, k, g] = vocab.index(words[name])
    return out


def projector_grid(model) -> tuple[int, int, int]:
    """The (t, h, w) grid of cells that the model's pooling projector makes its video tokens from."""
    if not isinstance(model.projector, PoolMLPProjector):
        raise UserError("stage1.data=grounding needs a pooling projector (pool-mlp or mlp-pool)")
    return model.projector.cells(model.grid)


class GroundingBatches:
    """Cached encoder tokens and per-cell word targets of the clips of ``videos``."""

    def __init__(self, model, videos: list[str], data: str, split: str, cache) -> None:
        if cache is None:
            raise UserError("stage1.data=grounding needs the feature cache (a frozen encoder)")
        every_clip = read_clips(data)  # the vocabulary from the whole world: one for every split
        by_video = {c["video"]: c for c in every_clip if c["split"] == split}
        missing = [v for v in videos if v not in by_video]
        if missing:
            raise UserError(f"stage1.data=grounding: no ground truth in world.json for {missing[0]}")
        self.videos, self.cache = list(dict.fromkeys(videos)), cache
        colours = sorted({o["colour"] for c in every_clip for o in c["objects"]})
        shapes = sorted({o["shape"] for c in every_clip for o in c["objects"]})
        self.groups = vocabulary(colours, shapes)
        grid = projector_grid(model)
        self.targets = cell_targets([by_video[v] for v in self.videos], self.groups, grid)  # (C, K, G)
        # one (V, W) table of unit word embeddings per group: the LLM is frozen, so computed once
        self.word_tables = [
            word_table(model, word_tokens(model.tokenizer, words)) for words in self.groups.values()
        ]

    def __len__(self) -> int:
        return len(self.videos)

    def __call__(self, indices: list[int]) -> dict[str, torch.Tensor]:
        return {
            "encoder_tokens": self.cache.batch([self.videos[i] for i in indices]),  # (B, N, D)
            "cell_targets": self.targets[indices],  # (B, K, G)
        }


def group_logits(video_embeds: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    """``video_embeds`` (B, K, W) -> scaled cosines with a group's unit word embeddings ``table``
    (V, W): (B, K, V)."""
    return SCALE * F.normalize(video_embeds.float(), dim=-1) @ table.to(video_embeds.device).T


def grounding_loss(model, batch: dict, tables: list[torch.Tensor]) -> torch.Tensor:
    """Mean over word groups of the cross-entropy of each cell's word (cells without one skipped)."""
    embeds = model.project(batch["encoder_tokens"])  # (B, K, W)
    targets = batch["cell_targets"].to(embeds.device)  # (B, K, G)
    losses = []
    for g, table in enumerate(tables):
        if (targets[..., g] >= 0).any():
            logits = group_logits(embeds, table)  # (B, K, V)
            losses.append(F.cross_entropy(logits.flatten(0, 1), targets[..., g].flatten(), ignore_index=-100))
    return torch.stack(losses).mean()


@torch.no_grad()
def grounding_accuracy(model, batches: GroundingBatches, batch_size: int = 64) -> dict[str, float]:
    """Per group: how often the nearest word (of the group) to a labelled cell's token is its word."""
    right = torch.zeros(len(batches.groups))
    total = torch.zeros(len(batches.groups))
    for start in range(0, len(batches), batch_size):
        batch = batches(list(range(start, min(start + batch_size, len(batches)))))
        embeds = model.project(batch["encoder_tokens"])  # (B, K, W)
        for g, table in enumerate(batches.word_tables):
            target = batch["cell_targets"][..., g]  # (B, K)
            pred = group_logits(embeds, table).argmax(-1).cpu()  # (B, K)
            labelled = target >= 0
            right[g] += (pred == target)[labelled].sum()
            total[g] += labelled.sum()
    return {name: float(right[g] / total[g].clamp_min(1)) for g, name in enumerate(batches.groups)}


def main(argv: list[str] | None = None) -> int:
    """``python -m alignment.grounding --model DIR --data WORLD --split test``: grounding accuracy."""
    import argparse
    import json

    from alignment.cache import FeatureCache
    from vlm.model import VideoQAModel

    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("--model", required=True)
    ap.add_argument("--data", required=True, help="a world dir (world.json)")
    ap.add_argument("--split", default="test")
    ap.add_argument("--clips", type=int, default=0, help="the first N clips of the split (0: all)")
    ap.add_argument("--cache-dir", default="", help="a feature cache to share (default: none on disk)")
    args = ap.parse_args(argv)
    model = VideoQAModel.from_pretrained(args.model).eval()
    videos = [c["video"] for c in read_clips(args.data, args.split)]
    videos = videos[: args.clips] if args.clips else videos
    cache = FeatureCache(model, args.cache_dir or None)
    cache.build(videos)
    batches = GroundingBatches(model, videos, args.data, args.split, cache)
    print(
        json.dumps(
            {
                "model": args.model,
                "data": args.data,
                "split": args.split,
                "clips": len(videos),
                "accuracy": grounding_accuracy(model, batches),
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
