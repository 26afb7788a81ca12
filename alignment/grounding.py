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

With ``projector.count_token`` the token after the cells is scored the same way against the
numbers "0", "1", ...: the clip's number of objects; with ``projector.count_words`` the tokens after
it, one per colour and shape word, against that word and the number of objects that have it.

With a slot projector (``projector.kind=slots``) its cells are grounded as above and its slots per
object: slot token ``p`` of every slot is scored against word group ``p`` (size, colour, shape,
direction at the start, at the end; :data:`worlds.grounding.SLOT_GROUPS`), each clip's objects are
matched to the slots that already predict their words best (Hungarian matching of the summed
cross-entropies, as DETR matches boxes), the unmatched slots learn "nothing" in every group, and
slot attention is told where to look: each cell that shows an object goes to that object's slot,
each empty cell to the background slot.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from scipy.optimize import linear_sum_assignment

from jepa_vqa.errors import UserError
from vlm.projector import COSINE_SCALE, MLPPoolProjector, PoolMLPProjector, SlotProjector, word_embeddings
from worlds.formats import read_clips
from worlds.grounding import (
    SLOT_GROUPS,
    cell_objects,
    cell_words,
    object_words,
    slot_vocabulary,
    world_vocabulary,
)

SCALE = COSINE_SCALE  # cosine -> logit: a margin of 0.3 in cosine is 3 nats


def word_table(model, words: list[str]) -> torch.Tensor:
    """(V, W): each word's input embedding (the mean of its tokens' when it splits), frozen and
    unit-length (the logits are cosines)."""
    embeddings = model.llm.get_input_embeddings().weight
    return F.normalize(word_embeddings(model.tokenizer, embeddings, words), dim=-1)


def cell_targets(clips: list[dict], groups: dict[str, list[str]], grid) -> torch.Tensor:
    """(C, K, G) index of each cell's word within each group, -100 where the group has none."""
    out = torch.full((len(clips), grid[0] * grid[1] * grid[2], len(groups)), -100, dtype=torch.long)
    for c, clip in enumerate(clips):
        for k, words in enumerate(cell_words(clip, grid)):
            for g, (name, vocab) in enumerate(groups.items()):
                if name in words:
                    out[c, k, g] = vocab.index(words[name])
    return out


def object_targets(clips: list[dict], groups: dict[str, list[str]], slots: int) -> torch.Tensor:
    """(C, slots, G) index of each object's word within each group, objects first; -100 in the
    rows without an object."""
    out = torch.full((len(clips), slots, len(groups)), -100, dtype=torch.long)
    for c, clip in enumerate(clips):
        objects = object_words(clip)
        if len(objects) > slots:
            raise UserError(
                f"{clip['video']} has {len(objects)} objects but the projector only {slots} slots"
            )
        for o, words in enumerate(objects):
            out[c, o] = torch.tensor([vocab.index(words[name]) for name, vocab in groups.items()])
    return out


def cell_owners(clips: list[dict], grid) -> torch.Tensor:
    """(C, K) the object (its row in :func:`object_targets`) seen in each cell, -100 where none."""
    owners = [[-100 if o is None else o for o in cell_objects(clip, grid)] for clip in clips]
    return torch.tensor(owners, dtype=torch.long)


def projector_grid(model) -> tuple[int, int, int]:
    """The (t, h, w) grid of cells that the model's pooling projector makes its video tokens from."""
    if not isinstance(model.projector, PoolMLPProjector):
        raise UserError("stage1.data=grounding needs a pooling projector (pool-mlp or mlp-pool) or slots")
    return model.projector.cells(model.grid)


def _tables(model, groups: dict[str, list[str]]) -> list[torch.Tensor]:
    """One (V, W) table of unit word embeddings per group (the LLM is frozen: computed once)."""
    return [word_table(model, words) for words in groups.values()]


class GroundingBatches:
    """Cached encoder tokens and the word targets of the clips of ``videos``: per cell, and with a
    slot projector per object too. With ``empty_apart``, the empty cells' "nothing" is a group of
    its own ("empty", the shape words), so "shape" is the cells that show an object."""

    def __init__(
        self, model, videos: list[str], data: str, split: str, cache, empty_apart: bool = False
    ) -> None:
        if cache is None:
            raise UserError("stage1.data=grounding needs the feature cache (a frozen encoder)")
        every_clip = read_clips(data)  # the vocabulary from the whole world: one for every split
        by_video = {c["video"]: c for c in every_clip if c["split"] == split}
        missing = [v for v in videos if v not in by_video]
        if missing:
            raise UserError(f"stage1.data=grounding: no ground truth in world.json for {missing[0]}")
        self.videos, self.cache = list(dict.fromkeys(videos)), cache
        clips = [by_video[v] for v in self.videos]
        grid = projector_grid(model)
        self.groups = {"cells": world_vocabulary(every_clip)}
        colours, shapes = self.groups["cells"]["colour"], self.groups["cells"]["shape"][:-1]
        read_out = model.projector.cfg.words
        if read_out and {g: set(w) for g, w in read_out.items()} != {
            g: set(self.groups["cells"][g]) for g in read_out
        }:
            raise UserError(f"projector.words {read_out} are not the words of the world in {data}")
        self.targets = {"cells": cell_targets(clips, self.groups["cells"], grid)}  # (C, K, G)
        if empty_apart:
            self._empty_apart()
        if isinstance(model.projector, SlotProjector):
            self._add_slots(model.projector, clips, slot_vocabulary(colours, shapes), grid)
        if model.projector.cfg.count_token:
            largest = max(len(c["objects"]) for c in every_clip)
            self.groups["count"] = {"count": [str(n) for n in range(largest + 1)]}
            self.targets["count"] = torch.tensor([[[len(c["objects"])]] for c in clips])  # (C, 1, 1)
            if model.projector.cfg.count_words:
                self._add_word_counts(model.projector.cfg.count_words, clips, colours, shapes, largest)
        self.word_tables = {kind: _tables(model, groups) for kind, groups in self.groups.items()}

    def _add_word_counts(self, count_words: int, clips: list[dict], colours, shapes, largest: int) -> None:
        """Per colour and shape word (in that order), the number of objects with it and the word
        itself: (C, count_words, 2)."""
        words = [("colour", c) for c in colours] + [("shape", s) for s in shapes]
        if len(words) != count_words:
            raise UserError(
                f"projector.count_words={count_words}, but the world has {len(words)} colour and shape words"
            )
        self.groups["word counts"] = {
            "count": [str(n) for n in range(largest + 1)],
            "word": [w for _, w in words],
        }
        self.targets["word counts"] = torch.tensor(
            [
                [[sum(o[attr] == w for o in c["objects"]), i] for i, (attr, w) in enumerate(words)]
                for c in clips
            ]
        )

    def _empty_apart(self) -> None:
        """Move the "nothing" targets of the shape group into a group of their own (last)."""
        words = self.groups["cells"]
        shape = list(words).index("shape")
        target = self.targets["cells"][..., shape].clone()  # (C, K)
        empty = target == len(words["shape"]) - 1  # NOTHING is the last shape word
        self.targets["cells"][..., shape] = torch.where(empty, -100, target)
        apart = torch.where(empty, target, -100)[..., None]  # (C, K, 1)
        self.targets["cells"] = torch.cat([self.targets["cells"], apart], -1)  # (C, K, G+1)
        self.groups["cells"] = {**words, "empty": words["shape"]}

    def _add_slots(self, projector: SlotProjector, clips: list[dict], groups: dict, grid) -> None:
        """Per-object word targets (C, S, G) and each cell's object (C, K)."""
        if projector.cfg.tokens_per_slot != len(SLOT_GROUPS):
            raise UserError(f"grounded slots need tokens_per_slot={len(SLOT_GROUPS)} (one per word group)")
        self.groups["slots"] = groups
        self.targets["slots"] = object_targets(clips, groups, projector.num_slots)  # (C, S, G)
        self.targets["owners"] = cell_owners(clips, grid)  # (C, K)

    def __len__(self) -> int:
        return len(self.videos)

    def __call__(self, indices: list[int]) -> dict:
        return {
            "encoder_tokens": self.cache.batch([self.videos[i] for i in indices]),  # (B, N, D)
            "targets": {kind: t[indices] for kind, t in self.targets.items()},  # (B, K, G), (B, S, G)
        }


def group_logits(video_embeds: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    """``video_embeds`` (B, K, W) -> scaled cosines with a group's unit word embeddings ``table``
    (V, W): (B, K, V)."""
    return SCALE * F.normalize(video_embeds.float(), dim=-1) @ table.to(video_embeds.device).T


def slot_logits(video_embeds: torch.Tensor, tables: list[torch.Tensor]) -> list[torch.Tensor]:
    """``video_embeds`` (B, S*G, W), slot by slot -> per group g, its slot tokens' logits (B, S, V_g)."""
    return [group_logits(video_embeds[:, g :: len(tables)], table) for g, table in enumerate(tables)]


@torch.no_grad()
def match_slots(logits: list[torch.Tensor], targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Each clip's object targets ``targets`` (B, S, G) (objects first, -100 rows after) moved to
    the slots that predict their words best (least summed cross-entropy, Hungarian matching); the
    other slots get the last word of every group ("nothing"). Returns the moved targets (B, S, G)
    and each object's slot (B, S), -100 in the rows without an object."""
    logp = [lg.float().log_softmax(-1).cpu() for lg in logits]  # G x (B, S, V_g)
    targets = targets.cpu()
    matched = torch.tensor([lg.shape[-1] - 1 for lg in logits]).expand_as(targets).clone()
    slot_of = torch.full(targets.shape[:2], -100, dtype=torch.long)
    for b in range(targets.shape[0]):
        objects = targets[b][targets[b, :, 0] >= 0]  # (n, G)
        if len(objects):
            cost = -sum(lp[b][:, objects[:, g]] for g, lp in enumerate(logp))  # (S, n)
            slots, found = (torch.as_tensor(a) for a in linear_sum_assignment(cost.numpy()))
            matched[b, slots] = objects[found]
            slot_of[b, found] = slots
    return matched, slot_of


def project(model, encoder_tokens: torch.Tensor) -> dict[str, torch.Tensor]:
    """The video tokens to ground: {"cells": (B, K, W)}; with a count token also "count" (B, 1, W)
    and with count_words "word counts" (B, count_words, W);
    for slots also "slots" (B, S*G, W) and "share", each cell's share of every slot (B, K, S+1)."""
    if isinstance(model.projector, SlotProjector):
        slots, cells, share = model.project(encoder_tokens, with_cells=True)
        return {"cells": cells, "slots": slots, "share": share}
    if isinstance(model.projector, MLPPoolProjector):
        return model.project(encoder_tokens, parts=True)
    return {"cells": model.project(encoder_tokens)}


def _cell_loss(embeds: torch.Tensor, targets: torch.Tensor, tables: list[torch.Tensor]) -> torch.Tensor:
    losses = []
    for g, table in enumerate(tables):
        if (targets[..., g] >= 0).any():
            logits = group_logits(embeds, table)  # (B, K, V)
            losses.append(F.cross_entropy(logits.flatten(0, 1), targets[..., g].flatten(), ignore_index=-100))
    return torch.stack(losses).mean()


def _slot_loss(embeds: dict, targets: dict, tables: list[torch.Tensor]) -> torch.Tensor:
    """Words of the matched slots, plus where each slot looks: every cell that shows an object is
    given to that object's slot, every empty cell to the background slot (cross-entropy of the
    cell's shares)."""
    logits = slot_logits(embeds["slots"], tables)  # G x (B, S, V_g)
    matched, slot_of = match_slots(logits, targets["slots"])  # (B, S, G), (B, S)
    matched = matched.to(embeds["slots"].device)
    losses = [F.cross_entropy(lg.flatten(0, 1), matched[..., g].flatten()) for g, lg in enumerate(logits)]
    owners = targets["owners"].cpu()  # (B, K)
    background = slot_of.shape[1]  # the index of the background slot
    cell_slot = torch.where(owners >= 0, slot_of.gather(1, owners.clamp_min(0)), background)  # (B, K)
    share = embeds["share"].float().clamp_min(1e-8).log().flatten(0, 1)  # (B*K, S+1)
    losses.append(F.nll_loss(share, cell_slot.flatten().to(share.device)))
    return torch.stack(losses).mean()


def grounding_loss(model, batch: dict, tables: dict[str, list[torch.Tensor]]) -> torch.Tensor:
    """Mean over word groups of the cross-entropy of each cell's word (cells without one skipped);
    plus the same of the count token's number, and of each slot's word after matching the objects
    to the slots (:func:`_slot_loss`), where the projector has them."""
    embeds = project(model, batch["encoder_tokens"])
    targets = {kind: t.to(model.device) for kind, t in batch["targets"].items()}
    loss = _cell_loss(embeds["cells"], targets["cells"], tables["cells"])
    for kind in ("count", "word counts"):
        if kind in embeds:
            loss = loss + _cell_loss(embeds[kind], targets[kind], tables[kind])
    if "slots" in embeds:
        loss = loss + _slot_loss(embeds, targets, tables["slots"])
    return loss


def _cell_hits(embeds, targets, tables, names) -> tuple[dict, dict]:
    """Per group: labelled cells whose nearest word is their word, and labelled cells; "object
    shape": the same over the cells that show an object (shape-or-"nothing" is mostly "nothing");
    "which shape": over those cells, the nearest of the shape words alone (is the shape read, once
    the cell is known to hold an object?)."""
    hits, totals = {}, {}
    for g, (name, table) in enumerate(zip(names, tables)):
        target = targets[..., g]  # (B, K)
        pred = group_logits(embeds, table).argmax(-1).cpu()  # (B, K)
        labelled = target >= 0
        hits[name], totals[name] = (pred == target)[labelled].sum(), labelled.sum()
        if name == "shape":
            shown = labelled & (target != len(table) - 1)  # NOTHING is the last shape word
            hits["object shape"], totals["object shape"] = (pred == target)[shown].sum(), shown.sum()
            which = group_logits(embeds, table[:-1]).argmax(-1).cpu()  # (B, K): the shapes alone
            hits["which shape"], totals["which shape"] = (which == target)[shown].sum(), shown.sum()
    return hits, totals


def _slot_hits(embeds, targets, tables) -> tuple[dict, dict]:
    """Per group: hits and totals over the slots matched to objects; "empty": unmatched slots that
    say "nothing" as their shape; "count": clips whose slots without "nothing" as shape are as many
    as the objects."""
    logits = slot_logits(embeds, tables)
    matched, _ = match_slots(logits, targets)  # (B, S, G)
    pred = torch.stack([lg.argmax(-1).cpu() for lg in logits], -1)  # (B, S, G)
    shape = SLOT_GROUPS.index("shape")
    nothing = tables[shape].shape[0] - 1
    is_object = matched[..., shape] != nothing  # (B, S): the slot was matched to an object
    hits = {g: ((pred[..., i] == matched[..., i]) & is_object).sum() for i, g in enumerate(SLOT_GROUPS)}
    totals = {g: is_object.sum() for g in SLOT_GROUPS}
    hits["empty"], totals["empty"] = ((pred[..., shape] == nothing) & ~is_object).sum(), (~is_object).sum()
    n_objects = (targets[..., 0] >= 0).sum(-1)  # (B,)
    hits["count"], totals["count"] = ((pred[..., shape] != nothing).sum(-1) == n_objects).sum(), len(targets)
    return hits, totals


@torch.no_grad()
def grounding_accuracy(model, batches: GroundingBatches, batch_size: int = 64) -> dict[str, dict[str, float]]:
    """{"cells": per group, how often the nearest word (of the group) to a labelled cell's token is
    its word}; with slots, {"slots": the same over the slots matched to objects, with "empty" and
    "count" (:func:`_slot_hits`)}."""
    right: dict[str, dict[str, float]] = {kind: {} for kind in batches.groups}
    total: dict[str, dict[str, float]] = {kind: {} for kind in batches.groups}
    for start in range(0, len(batches), batch_size):
        batch = batches(list(range(start, min(start + batch_size, len(batches)))))
        embeds = project(model, batch["encoder_tokens"])
        for kind, tables in batches.word_tables.items():  # "cells", "count", "slots"
            targets = batch["targets"][kind]
            if kind == "slots":
                hits, totals = _slot_hits(embeds[kind], targets, tables)
            else:
                hits, totals = _cell_hits(embeds[kind], targets, tables, list(batches.groups[kind]))
            for name in hits:
                right[kind][name] = right[kind].get(name, 0) + float(hits[name])
                total[kind][name] = total[kind].get(name, 0) + float(totals[name])
    return {kind: {n: right[kind][n] / max(total[kind][n], 1) for n in right[kind]} for kind in right}


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
