"""Answering questions about videos: prompts, option scoring, generation, streaming.

The methods :class:`~vlm.model.VideoQAModel` answers with; they use its ``processor``,
``encode_videos``, ``embed_inputs``, ``llm`` and ``tokenizer``::

    model.answer("clip.mp4", "Which way does the ball move?", options=["left", "right"])
    model.score_options(videos, questions, options)     # [[log-likelihood per option], ...]
    for piece in model.stream_answer("clip.mp4", "What happens?"):
        print(piece, end="")
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import torch
from torch.nn import functional as F

from jepa_vqa.errors import UserError
from vlm.generate import generate_ids, kv_cache, stream_text
from vlm.processor import format_question as mc_prompt
from vlm.processor import validate_text


def same_video(a, b) -> bool:
    """Whether two video inputs (paths, or frame / token tensors) are the same clip."""
    if a is b:
        return True
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        return a.shape == b.shape and a.dtype == b.dtype and a.device == b.device and bool(torch.equal(a, b))
    if isinstance(a, (str, Path)) and isinstance(b, (str, Path)):
        return Path(a) == Path(b)
    return False


def distinct_videos(videos: list) -> tuple[list[int], list[int]]:
    """The index of the first of each distinct video (:func:`same_video`), and each video's place
    among those."""
    firsts: list[int] = []
    place: list[int] = []
    for video in videos:
        k = next((k for k, f in enumerate(firsts) if same_video(videos[f], video)), None)
        if k is None:
            firsts.append(len(place))
            k = len(firsts) - 1
        place.append(k)
    return firsts, place


def shared_video_rows(videos: list, histories: list, per_row: int) -> list[list[int]]:
    """Question indices grouped into rows: questions about the same video (and no history) share
    a row, up to ``per_row``; a question without a video or with history is a row alone."""
    _, clip_of = distinct_videos(videos)
    rows: list[list[int]] = []
    open_rows: dict[int, list[int]] = {}  # clip -> its row that still takes questions
    for i, (video, history) in enumerate(zip(videos, histories)):
        if video is None or history:
            rows.append([i])
            continue
        row = open_rows.get(clip_of[i])
        if row is None:
            row = open_rows[clip_of[i]] = []
            rows.append(row)
        row.append(i)
        if len(row) >= per_row:
            del open_rows[clip_of[i]]
    return rows


def _take(columns: tuple, rows: list[int]) -> list[list]:
    """The entries ``rows`` of each column."""
    return [[column[i] for i in rows] for column in columns]


class Answering:
    """Mixin of :class:`~vlm.model.VideoQAModel`: every way it answers (batched == one by one)."""

    # questions about one video scored in one row, and generated from one cache of its prefix (1:
    # each question alone, as ``jepa-vqa bench eval`` compares); a scoring row's attention mask is
    # L x L, so L (prefix + questions) stays moderate
    questions_per_row: int = 8

    def format_question(self, question: str, options: list[str] | None = None) -> str:
        """The one multiple-choice prompt format (see :func:`vlm.processor.format_question`)."""
        return mc_prompt(question, options)

    def _embed_batch(self, videos, batch: dict) -> torch.Tensor:
        """Prompt embeddings (B, L, W) of a collated ``batch`` with the ``videos`` (None: no slot) spliced in."""
        with torch.no_grad():
            seen = [v for v in videos if v is not None]
            video_embeds = self.encode_videos(seen) if seen else None  # (Bv, K, W)
            return self.embed_inputs(
                batch["input_ids"], batch["video_mask"], video_embeds, batch["asked_slots"]
            )

    def prepare_prompts(self, videos, questions, options=None, histories=None) -> dict:
        """Generation inputs: ``inputs_embeds`` (B, L, W) and ``attention_mask`` (B, L), left-padded;
        or, for prompts that share their video prefix, padded after it, with that prefix's KV cache."""
        n = len(questions)
        options = [None] * n if options is None else list(options)
        histories = [None] * n if histories is None else list(histories)
        if not (len(videos) == len(options) == len(histories) == n):
            raise UserError("videos, questions, options and histories must have the same length")
        for q in questions:
            validate_text(q)
        items = [
            self.processor.encode(q, history=h, options=o, has_video=v is not None)
            for v, q, o, h in zip(videos, questions, options, histories)
        ]
        share = len(items) > 1 and self.questions_per_row > 1
        head = self.processor.shared_prefix_length(items) if share else 0
        if head:
            return self._prefix_cached_prompts(videos, items, head)
        batch = self.processor.collate(items, padding_side="left")
        embeds = self._embed_batch(videos, batch)
        return {"inputs_embeds": embeds, "attention_mask": batch["attention_mask"].to(self.device)}

    def _prefix_cached_prompts(self, videos, items, head: int) -> dict:
        """Generation inputs for several prompts about videos that share their first ``head``
        tokens (system turn, video): that prefix runs through the LLM once per distinct clip, and
        its keys and values go to ``generate`` as the cache of every row."""
        batch = self.processor.collate_after_prefix(items, head)
        embeds = self._embed_batch(videos, batch)  # (B, L, W)
        firsts, clip_of = distinct_videos(videos)  # the first row of each clip; each row's clip
        keyword, cache = kv_cache(self.llm)
        with torch.no_grad():
            self.llm.get_decoder()(inputs_embeds=embeds[firsts, :head], use_cache=True, **{keyword: cache})
        cache.reorder_cache(torch.tensor(clip_of, device=self.device))  # (clips) -> (B) rows
        return {
            "inputs_embeds": embeds,
            "attention_mask": batch["attention_mask"].to(self.device),
            keyword: cache,
        }

    @torch.no_grad()
    def score_options(self, videos, questions, options, histories=None) -> list[list[float]]:
        """Length-normalised log-likelihood of each option as the answer (mean log-probability of
        its tokens given the prompt), for a batch of multiple-choice questions. One forward pass:
        a question's prompt is computed once and shared by all its options, and questions about the
        same video (without history) share one row, whose video prefix is computed once."""
        n = len(questions)
        histories = [None] * n if histories is None else list(histories)
        if not (len(videos) == len(options) == len(histories) == n):
            raise UserError("videos, questions, options and histories must have the same length")
        items = [
            self.processor.encode_options(q, o, h, has_video=v is not None)
            for v, q, o, h in zip(videos, questions, options, histories)
        ]
        plan = shared_video_rows(videos, histories, self.questions_per_row)  # question indices per row
        rows = [self.processor.join_questions([items[i] for i in row]) for row in plan]
        batch = self.processor.collate(rows, padding_side="right")
        embeds = self._embed_batch([videos[row[0]] for row in plan], batch)  # (R, L, W)
        targets = batch["labels"][:, 1:].to(self.device)  # (R, L-1): position p predicts token p + 1
        keep = (targets != -100).any(dim=0).nonzero().squeeze(1)  # (P,) positions that predict options
        hidden = self.llm.get_decoder()(  # the transformer without its head (LoRA layers included)
            inputs_embeds=embeds,
            attention_mask=batch["attention_mask"].to(self.device),  # (R, 1, L, L): questions, options apart
            position_ids=batch["position_ids"].to(self.device),
            use_cache=False,
        ).last_hidden_state  # (R, L, W)
        logprobs = self._fp32_logits(hidden[:, keep]).log_softmax(-1)  # (R, P, V)
        picked = targets[:, keep]  # (R, P)
        token_lp = logprobs.gather(-1, picked.clamp_min(0)[..., None])[..., 0].cpu()  # (R, P)
        segments = batch["segments"][:, 1:][:, keep.cpu()]  # (R, P): the option of each target
        segments[picked.cpu() == -100] = -1
        groups = batch["groups"][:, 1:][:, keep.cpu()]  # (R, P): the question within its row
        scores: list[list[float]] = [[] for _ in range(n)]
        for r, row in enumerate(plan):
            for g, i in enumerate(row, start=1):
                mine = groups[r] == g
                scores[i] = [
                    float(token_lp[r][mine & (segments[r] == j)].mean())
                    for j in range(1, len(options[i]) + 1)
                ]
        return scores

    def _fp32_logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """The LM head in fp32 over final hidden states (B, P, W) -> logits (B, P, V): a bf16 head
        rounds logits of ~20 to steps of 0.125, enough to flip close options (#14: agreement)."""
        head = self.llm.get_output_embeddings()
        bias = None if head.bias is None else head.bias.float()
        return F.linear(hidden.float(), head.weight.float(), bias)

    def choose(self, videos, questions, options, histories=None) -> list[int]:
        """The index of the most likely option of each multiple-choice question."""
        scores = self.score_options(videos, questions, options, histories)
        return [max(range(len(row)), key=row.__getitem__) for row in scores]

    @torch.no_grad()
    def generate_batch(self, videos, questions, options=None, histories=None, **generation) -> list[str]:
        """Free-text answers, greedy by default (a multiple-choice prompt lists its options, but
        the text is whatever the LLM writes); equal to one-by-one generation."""
        inputs = self.prepare_prompts(videos, questions, options, histories)
        ids = generate_ids(self, inputs, **generation)  # (B, new)
        return self.tokenizer.batch_decode(ids, skip_special_tokens=True)

    def answer_batch(self, videos, questions, options=None, histories=None, **generation) -> list[str]:
        """Answers for several (video, question) pairs: a multiple-choice question gets the text of
        its most likely option (:meth:`choose`), any other a generated answer."""
        n = len(questions)
        options = [None] * n if options is None else [o or None for o in options]
        histories = [None] * n if histories is None else list(histories)
        if len(options) != n or len(histories) != n:
            raise UserError("videos, questions, options and histories must have the same length")
        chosen = [i for i in range(n) if options[i] is not None]
        generated = [i for i in range(n) if options[i] is None]
        answers: list[str] = [""] * n
        if chosen:
            picks = self.choose(*_take((videos, questions, options, histories), chosen))
            for i, k in zip(chosen, picks):
                answers[i] = options[i][k]
        if generated:
            texts = self.generate_batch(
                *_take((videos, questions, options, histories), generated), **generation
            )
            for i, text in zip(generated, texts):
                answers[i] = text
        return answers

    def answer(self, video, question: str, history=None, options=None, **generation) -> str:
        """The answer to one question (the chosen option's text for multiple choice); ``video=None``
        asks blind (no video slot at all)."""
        return self.answer_batch([video], [question], [options], [history], **generation)[0]

    def stream_answer(self, video, question: str, history=None, options=None, **generation) -> Iterator[str]:
        """Yield the answer's text as it is generated; the pieces join to :meth:`answer`. A
        multiple-choice answer is chosen, not generated: it comes as one piece."""
        if options:
            yield self.answer(video, question, history, options)
            return
        inputs = self.prepare_prompts([video], [question], [options], [history])
        yield from stream_text(self, inputs, **generation)
