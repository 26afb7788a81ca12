"""Training batches for alignment: prompts tokenised once, video tokens from the feature cache
(or frames), and the projector's input statistics from the training clips.

    batches = Batches(model, qa_dataset, cache, questions_per_row=4)
    batch = batches([0, 1, 2])          # the processor's padded batch + encoder_tokens (B, N, D)
    fit_projector_inputs(model, batches.videos, cache)
"""

from __future__ import annotations

import random
import sys

import torch
from tqdm.auto import tqdm

from alignment.cache import FeatureCache


def _rows_by_video(ds, per_row: int) -> list[list[int]]:
    """Dataset indices in rows: up to ``per_row`` questions about the same video, in dataset order."""
    if per_row == 1:
        return [[i] for i in range(len(ds))]
    by_video: dict[str, list[int]] = {}
    for i, video in enumerate(ds["video"]):
        by_video.setdefault(video, []).append(i)
    return [ids[k : k + per_row] for ids in by_video.values() for k in range(0, len(ids), per_row)]


def _asked_open(index: int, fraction: float) -> bool:
    """Whether question ``index`` is asked without its options: a fixed draw per question, so that
    every rank and every resumed run asks it the same way."""
    return fraction > 0 and random.Random(index).random() < fraction


class Batches:
    """Training batches of one dataset: every prompt tokenised once up front (examples too long
    for the LLM are dropped, with a warning), video tokens from the cache. With
    ``questions_per_row`` > 1 a row holds several questions about one clip (``encode_group``). A
    share ``open_fraction`` of the multiple-choice questions is asked without its options (the same
    answer words), as a chat user asks. Rows are padded to a multiple of ``pad_multiple`` tokens."""

    def __init__(
        self,
        model,
        ds,
        cache: FeatureCache | None,
        name: str = "qa",
        progress: bool = True,
        questions_per_row: int = 1,
        scenes: dict[str, str] | None = None,
        open_fraction: float = 0.0,
        pad_multiple: int = 1,
    ) -> None:
        from jepa_vqa.errors import UserError
        from vlm.processor import with_scene

        self.model, self.cache, self.pad_multiple = model, cache, pad_multiple
        self.has_video = model.config.perception == "video"
        self.items, self.videos = [], []
        columns = ds["question"], ds["options"], ds["answer"], ds["video"]
        skipped = 0
        for row in tqdm(
            _rows_by_video(ds, questions_per_row), desc=f"tokenise {name}", disable=not progress, unit="row"
        ):
            questions, options, answers = ([col[i] for i in row] for col in columns[:3])
            if model.config.perception == "description":  # ``scenes``: alignment.data.load_scenes
                questions = [with_scene(q, scenes[columns[3][row[0]]]) for q in questions]
            options = [None if _asked_open(i, open_fraction) else o or None for i, o in zip(row, options)]
            try:
                if len(row) == 1:
                    item = model.processor.encode(questions[0], None, options[0], self.has_video, answers[0])
                else:
                    item = model.processor.encode_group(questions, answers, options, self.has_video)
            except UserError:
                skipped += len(row)
                continue
            self.items.append(item)
            self.videos.append(columns[3][row[0]])
        if skipped:
            print(
                f"warning: {skipped} of {len(ds)} {name} examples do not fit the LLM's "
                f"context ({model.processor.prompt.max_length} tokens) and are skipped",
                file=sys.stderr,
            )
        if not self.items:
            raise UserError(
                f"no {name} example fits the LLM's context of {model.processor.prompt.max_length} tokens"
            )

    def __len__(self) -> int:
        return len(self.items)

    def __call__(self, indices: list[int]) -> dict[str, torch.Tensor]:
        """The processor's right-padded batch plus ``encoder_tokens`` (B, N, D) or ``frames``."""
        items = [self.items[i] for i in indices]
        batch = self.model.processor.collate(
            items, padding_side="right", pad_to_multiple_of=self.pad_multiple
        )
        videos = [self.videos[i] for i in indices]
        if self.has_video and self.cache is not None:
            batch["encoder_tokens"] = self.cache.batch(videos)  # (B, N, D)
        elif self.has_video:
            batch["frames"] = torch.stack([self.model.load_frames(v) for v in videos])  # (B, T, C, H, W)
        return batch


@torch.no_grad()
def fit_projector_inputs(model, videos: list[str], cache: FeatureCache | None, max_clips: int = 256) -> int:
    """Set the projector's input standardisation from the encoder tokens of (up to ``max_clips``)
    training clips: cached tokens when there is a cache, else a fresh encode of 64 clips. The
    same list on every rank gives every rank the same statistics. Returns the clip count."""
    videos = list(dict.fromkeys(videos))[: max_clips if cache is not None else 64]
    dim, positions = model.encoder.embed_dim, model.projector.cfg.input_positions
    shape = (positions, dim) if positions else (dim,)  # per position and channel, or per channel
    total, squares, count = (
        torch.zeros(shape, dtype=torch.float64),
        torch.zeros(shape, dtype=torch.float64),
        0,
    )
    for i in range(0, len(videos), 16):
        chunk = videos[i : i + 16]
        if cache is not None:
            tokens = cache.batch(chunk)  # (b, N, D)
        else:
            tokens = model.encode_tokens(torch.stack([model.load_frames(v) for v in chunk]))  # (b, N, D)
        flat = (
            tokens.double().cpu() if positions else tokens.reshape(-1, dim).double().cpu()
        )  # (b, N, D) | (b*N, D)
        total += flat.sum(0)
        squares += flat.pow(2).sum(0)
        count += flat.shape[0]
    mean = total / count  # (N, D) | (D,)
    var = (squares / count - mean.pow(2)).clamp_min(0)
    if positions:  # one scale per channel: a position that never changes must not be blown up
        var = var.mean(0, keepdim=True).expand_as(var)  # (N, D): the channel's within-position variance
    std = var.sqrt()
    model.projector.set_input_statistics(mean.float(), std.float())
    return len(videos)
