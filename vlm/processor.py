"""Prompts for VideoQA: the LLM's own chat template with one video slot, label masks, padding.

The first user turn of a conversation carries the placeholder ``<|video|>``; the rendered chat text
is split there and the K projected video embeddings are spliced in between the two token runs.
Only the answer tokens (and the end-of-turn token after them) are trained on::

    proc = VideoQAProcessor(tokenizer, num_video_tokens=32)
    item = proc.encode("What colour is the ball?", answer="red")           # training example
    batch = proc.collate([item], padding_side="right")  # input_ids, attention_mask, labels, video_mask
    prompt = proc.encode(format_question("Which way?", ["left", "right"]))  # generation prompt
    scored = proc.encode_options("Which way?", ["left", "right"])  # one row, each option a segment

Answers are words. Multiple choice has one format: :func:`format_question` lists the options as
plain text ("Options: left, right.") and the training target is the option's text itself
(:func:`format_answer`), never a letter: a small LLM learns facts as words quickly but binds answer
letters to options poorly. A multiple-choice question is answered by the likelihood of each
option's tokens (:meth:`VideoQAProcessor.encode_options`), as lm-evaluation-harness does.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field

import torch

from jepa_vqa.errors import UserError

VIDEO_PLACEHOLDER = "<|video|>"
SLOT_PLACEHOLDER = "<|slot|>"  # where an asked count's or direction's embedding goes (``asked_lines``)
COUNT_CUE = re.compile(r"\b(how many|count|number of)\b", re.IGNORECASE)
MOTION_CUE = re.compile(r"\b(direction|moving|moves?|heading|headed)\b", re.IGNORECASE)
START_CUE = re.compile(r"\b(start|beginning|first|initially)\b", re.IGNORECASE)
END_CUE = re.compile(r"\b(end|finally|last)\b", re.IGNORECASE)
MAX_QUESTION_CHARS = 2000
MC_INSTRUCTION = "Answer with one of the options."
IGNORE_INDEX = -100
DEFAULT_SYSTEM = "You are a helpful assistant that answers questions about a video."


@dataclass
class PromptConfig:
    """How prompts are built; saved in the model's config.json."""

    system: str | None = DEFAULT_SYSTEM  # None: the template's own default (if any)
    max_length: int = 2048  # prompt + answer tokens, video tokens included

    def __post_init__(self) -> None:
        if self.max_length < 8:
            raise ValueError(f"max_length must be >= 8, got {self.max_length}")


def validate_text(text: object, what: str = "question") -> str:
    """Reject empty, whitespace-only, over-long or non-text input with a one-line UserError."""
    if not isinstance(text, str):
        raise UserError(f"{what} must be text, got {type(text).__name__}")
    if not text.strip():
        raise UserError(f"{what} is empty")
    if len(text) > MAX_QUESTION_CHARS:
        raise UserError(f"{what} is {len(text)} characters long (the limit is {MAX_QUESTION_CHARS})")
    if any(not ch.isprintable() and ch not in "\n\t\r" for ch in text):
        raise UserError(f"{what} contains control characters (not plain text)")
    for marker in (VIDEO_PLACEHOLDER, SLOT_PLACEHOLDER):
        if marker in text:
            raise UserError(f"{what} must not contain the reserved marker {marker}")
    return text


validate_question = validate_text


def validate_options(options: object) -> list[str] | None:
    """``None``/empty -> ``None``; otherwise 2 to 26 non-empty strings."""
    if options is None:
        return None
    if isinstance(options, str) or not isinstance(options, (list, tuple)):
        raise UserError(f"options must be a list of strings, got {type(options).__name__}")
    if len(options) == 0:
        return None
    if not 2 <= len(options) <= len(string.ascii_uppercase):
        raise UserError(f"a multiple-choice question needs 2 to 26 options, got {len(options)}")
    return [validate_text(opt, "option").strip() for opt in options]


def format_options(options: list[str]) -> str:
    """``Options: left, right, up.`` (``;`` between options when one holds a comma)."""
    sep = "; " if any("," in opt for opt in options) else ", "
    return f"Options: {sep.join(options)}."


def format_question(question: str, options: list[str] | None = None) -> str:
    """The one multiple-choice format: the question, its options as plain text, the instruction."""
    question = validate_text(question).strip()
    options = validate_options(options)
    if not options:
        return question
    return "\n".join([question, format_options(options), MC_INSTRUCTION])


def format_answer(answer: str, options: list[str] | None = None) -> str:
    """The training target: the answer's words. For multiple choice, the option's text (a letter
    naming an option, as some datasets store it, is turned into that option's text)."""
    options = validate_options(options)
    answer = validate_text(answer, "answer").strip()
    if not options or answer in options:
        return answer
    if len(answer) == 1 and answer in string.ascii_uppercase[: len(options)]:
        return options[string.ascii_uppercase.index(answer)]
    raise UserError(f"answer {answer!r} is not one of the options {options}")


def asked_word(question: str, words) -> str | None:
    """The one word of ``words`` a counting question ("how many", "count", "number of") names,
    plural or not ("Count the squares." -> "square"); ``None`` for any other question, or one that
    names none or several of them."""
    if not COUNT_CUE.search(question):
        return None
    named = [w for w in words if re.search(rf"\b{re.escape(w)}(e?s)?\b", question, re.IGNORECASE)]
    return named[0] if len(named) == 1 else None


def asked_direction(question: str, keys) -> tuple | None:
    """The key (size, colour, shape, span) among ``keys`` (``projector.direction_keys``) that a
    motion question ("which way", "moving", "heading") asks about: the one word of each group it
    names (``None`` for a group it names none of) and its span ("start", "end", else "whole");
    ``None`` for any other question, a counting one, one naming no object ("What is moving?") or
    two words of a group."""
    if not MOTION_CUE.search(question) or COUNT_CUE.search(question):
        return None
    named = []
    for group in range(3):
        words = {key[group] for key in keys} - {None}
        hits = [w for w in words if re.search(rf"\b{re.escape(w)}\b", question, re.IGNORECASE)]
        if len(hits) > 1:
            return None
        named.append(hits[0] if hits else None)
    if named == [None, None, None]:
        return None
    span = "start" if START_CUE.search(question) else "end" if END_CUE.search(question) else "whole"
    key = (*named, span)
    return key if key in keys else None


def with_scene(question: str, scene: str) -> str:
    """A question preceded by a scene description in words (the perfect-perception bound's input:
    the ground-truth description stands where the video would)."""
    return f"Scene: {validate_text(scene, 'scene description').strip()}\n{question}"


@dataclass
class Encoded:
    """One tokenised conversation; ``video_start`` is where the K video positions begin."""

    input_ids: list[int]
    labels: list[int]
    video_start: int | None
    num_video_tokens: int = 0
    dropped_turns: int = 0  # history pairs cut from the left to fit max_length
    asked_slots: list[tuple[int, int]] = field(default_factory=list)  # (position, projector output index)
    segments: list[int] | None = None  # grouped questions: 0 = shared prefix, j = the j-th question
    positions: list[int] | None = None  # grouped questions: each restarts after the shared prefix
    # several option rows in one (:meth:`VideoQAProcessor.join_questions`): the question of each token
    # (0 = the shared prefix); ``segments`` then number the options within it (0 = its prompt)
    groups: list[int] | None = None

    def __len__(self) -> int:
        return len(self.input_ids)


@dataclass
class VideoQAProcessor:
    """Turns (question, history, answer) into token ids with a video slot; pads batches.

    ``asked_counts`` (word -> index of a video token): a counting question about a video that names
    one of these words gets one more line, ``"<word> count: N"``, whose N is a slot filled with that
    video token (the number the projector read off the cells, ``projector.asked_count``): the count
    the question asks for sits in the question, with nothing for the LLM to look up.
    ``asked_directions`` (:func:`asked_direction` key -> index of a projector output after the video
    tokens): a motion question gets ``"direction: D"`` the same way (``projector.asked_direction``)."""

    tokenizer: object
    num_video_tokens: int
    prompt: PromptConfig = field(default_factory=PromptConfig)
    asked_counts: dict[str, int] = field(default_factory=dict)
    asked_directions: dict[tuple, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.end_of_turn_id = self._find_end_of_turn()

    # -- chat template -----------------------------------------------------------------------------
    def messages(self, question: str, history=(), has_video: bool = True, answer: str | None = None):
        """Chat messages; the video placeholder opens the first user turn."""
        msgs = [{"role": "system", "content": self.prompt.system}] if self.prompt.system else []
        turns = [*history, (question, answer)]
        for i, (user, assistant) in enumerate(turns):
            content = f"{VIDEO_PLACEHOLDER}\n{user}" if (has_video and i == 0) else user
            msgs.append({"role": "user", "content": content})
            if assistant is not None:
                msgs.append({"role": "assistant", "content": assistant})
        return msgs

    def render(self, messages: list[dict], generation_prompt: bool) -> str:
        return self.tokenizer.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=generation_prompt
        )

    def _ids(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"] if text else []

    def _find_end_of_turn(self) -> int:
        """The token the template closes an assistant turn with (``<|im_end|>`` for ChatML)."""
        answer = "Sure."
        prompt = self.render([{"role": "user", "content": "Hi"}], True)
        full = self.render(
            [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": answer}], False
        )
        tail = full[len(prompt) :].split(answer, 1)[-1]
        special = set(self.tokenizer.all_special_ids) | set(self.tokenizer.added_tokens_decoder)
        for tok in self._ids(tail):
            if tok in special:
                return tok
        if self.tokenizer.eos_token_id is None:
            raise UserError("the tokenizer has neither an end-of-turn token nor an EOS token")
        return self.tokenizer.eos_token_id

    def _answer_ids(self, segment: str, answer: str) -> tuple[list[int], list[int]]:
        """Ids of the assistant segment and its labels: the answer plus the end-of-turn token."""
        cut = segment.find(answer.strip())
        cut = len(segment) if cut < 0 else cut + len(answer.strip())
        head, tail = self._ids(segment[:cut]), self._ids(segment[cut:])
        labels = list(head)
        if self.end_of_turn_id in tail:
            stop = tail.index(self.end_of_turn_id) + 1
            labels += tail[:stop] + [IGNORE_INDEX] * (len(tail) - stop)
        else:
            labels += [IGNORE_INDEX] * len(tail)
        return head + tail, labels

    # -- encoding ----------------------------------------------------------------------------------
    def asked_lines(self, question: str) -> list[tuple[str, int]]:
        """The lines a question about a video gets after it, each with a slot (``SLOT_PLACEHOLDER``)
        and the index of the projector output that fills it: its count, its direction."""
        lines = []
        word = asked_word(question, self.asked_counts)
        if word is not None:
            lines.append((f"{word} count: {SLOT_PLACEHOLDER}", self.asked_counts[word]))
        key = asked_direction(question, self.asked_directions)
        if key is not None:
            lines.append((f"direction: {SLOT_PLACEHOLDER}", self.asked_directions[key]))
        return lines

    def _encode_once(self, question, history, has_video, answer, slot_indices=()) -> Encoded:
        msgs = self.messages(question, history, has_video)
        prompt_text = self.render(msgs, generation_prompt=True)
        slots = []
        if has_video:
            before, after = prompt_text.split(VIDEO_PLACEHOLDER, 1)
            before_ids = self._ids(before)
            k = self.num_video_tokens
            ids = before_ids + [self.tokenizer.pad_token_id] * k
            video_start = len(before_ids)
            for index in slot_indices:  # the asked lines of the question: one slot each
                head, after = after.split(SLOT_PLACEHOLDER, 1)
                ids += self._ids(head)
                slots.append((len(ids), index))
                ids.append(self.tokenizer.pad_token_id)
            ids += self._ids(after)
        else:
            ids, video_start, k = self._ids(prompt_text), None, 0
        labels = [IGNORE_INDEX] * len(ids)
        if answer is not None:
            full_text = self.render(self.messages(question, history, has_video, answer), False)
            if not full_text.startswith(prompt_text):
                raise UserError("the chat template does not extend the prompt with the answer")
            answer_ids, answer_labels = self._answer_ids(full_text[len(prompt_text) :], answer)
            ids, labels = ids + answer_ids, labels + answer_labels
        return Encoded(ids, labels, video_start, k, asked_slots=slots)

    def encode(
        self,
        question: str,
        history=None,
        options: list[str] | None = None,
        has_video: bool = True,
        answer: str | None = None,
    ) -> Encoded:
        """Tokenise one conversation. Too long: drop history pairs from the left (the video slot
        moves to the first kept turn); still too long: ``UserError``. Video tokens are never cut."""
        asked = validate_text(question).strip()
        lines = self.asked_lines(asked) if has_video else []
        question = format_question(asked, options)  # starts with ``asked``
        if lines:  # right after the question, before its options
            question = "\n".join([asked, *(text for text, _ in lines)]) + question[len(asked) :]
        history = [
            (validate_text(u, "history question"), validate_text(a, "history answer"))
            for u, a in (history or [])
        ]
        if answer is not None:
            answer = format_answer(answer, options)
        for dropped in range(len(history) + 1):
            item = self._encode_once(question, history[dropped:], has_video, answer, [i for _, i in lines])
            if len(item) <= self.prompt.max_length:
                item.dropped_turns = dropped
                return item
        raise UserError(
            f"the prompt needs {len(item)} tokens ({item.num_video_tokens} of them video) even without "
            f"history, over the model's limit of {self.prompt.max_length}: shorten the question"
        )

    def encode_group(
        self, questions: list[str], answers: list[str], options=None, has_video: bool = True
    ) -> Encoded:
        """Several questions about one video in one row, each seeing only the shared prefix (system
        turn, video) and itself: the same losses as separate :meth:`encode` rows, but the prefix and
        its video tokens are computed once. ``collate`` turns ``segments`` into the attention mask.
        """
        options = options or [None] * len(questions)
        if not questions or len(options) != len(questions) or len(answers) != len(questions):
            raise ValueError("encode_group needs one answer (and options entry) per question, at least one")
        items = [self.encode(q, None, o, has_video, a) for q, o, a in zip(questions, options, answers)]
        row = _join_segments(items)
        if len(row) > self.prompt.max_length:
            raise UserError(
                f"{len(questions)} grouped questions need {len(row)} tokens, over the model's limit of "
                f"{self.prompt.max_length}: group fewer questions per row"
            )
        return row

    def encode_options(
        self, question: str, options: list[str], history=None, has_video: bool = True
    ) -> Encoded:
        """One row for scoring a multiple-choice question: the prompt once, then each option's
        answer tokens as its own segment (seeing the prompt and itself only). ``labels`` mark the
        option's tokens alone (not the end-of-turn token), so their log-probabilities, averaged per
        segment, are the options' length-normalised likelihoods. The prompt's keys and values are
        computed once for all options, in one pass."""
        options = validate_options(options)
        if not options:
            raise UserError("encode_options needs a multiple-choice question (2 or more options)")
        items = [self.encode(question, history, options, has_video, answer=opt) for opt in options]
        row = _join_segments(items)
        row.labels = [IGNORE_INDEX if t == self.end_of_turn_id else t for t in row.labels]
        return row

    def join_questions(self, rows: list[Encoded]) -> Encoded:
        """Several :meth:`encode_options` rows about one video (no history) as one row: the shared
        prefix (system turn, video) once, then each question's prompt and options, seeing the prefix
        and their own question only. The same scores as separate rows; the video prefix is computed
        once for all the questions instead of once per question."""
        if not rows or any(r.segments is None or r.groups is not None for r in rows):
            raise ValueError("join_questions needs one or more encode_options rows")
        return _join_segments(rows)

    # -- batching ----------------------------------------------------------------------------------
    def collate(
        self, items: list[Encoded], padding_side: str = "right", pad_to_multiple_of: int = 1
    ) -> dict[str, torch.Tensor]:
        """Pad to a batch: right padding for training, left padding for batched generation. With
        ``pad_to_multiple_of`` > 1 the length is rounded up to a multiple of it, so that a training
        run meets few distinct shapes."""
        if padding_side not in ("left", "right"):
            raise ValueError(f"padding_side must be 'left' or 'right', got {padding_side!r}")
        if pad_to_multiple_of < 1:
            raise ValueError(f"pad_to_multiple_of must be >= 1, got {pad_to_multiple_of}")
        length = -(-max(len(it) for it in items) // pad_to_multiple_of) * pad_to_multiple_of
        batch_size = len(items)
        input_ids = torch.full((batch_size, length), self.tokenizer.pad_token_id, dtype=torch.long)
        labels = torch.full((batch_size, length), IGNORE_INDEX, dtype=torch.long)
        attention_mask = torch.zeros(batch_size, length, dtype=torch.long)
        video_mask = torch.zeros(batch_size, length, dtype=torch.bool)
        asked_slots = torch.full((batch_size, length), -1, dtype=torch.long)
        for row, it in enumerate(items):
            offset = length - len(it) if padding_side == "left" else 0
            span = slice(offset, offset + len(it))
            input_ids[row, span] = torch.tensor(it.input_ids)
            labels[row, span] = torch.tensor(it.labels)
            attention_mask[row, span] = 1
            if it.video_start is not None:
                start = offset + it.video_start
                video_mask[row, start : start + it.num_video_tokens] = True
            for position, index in it.asked_slots:
                asked_slots[row, offset + position] = index
        batch = {
            "input_ids": input_ids,  # (B, L)
            "attention_mask": attention_mask,  # (B, L)
            "labels": labels,  # (B, L), IGNORE_INDEX outside the answers
            "video_mask": video_mask,  # (B, L), True at the K video positions of rows with a video
            "asked_slots": asked_slots,  # (B, L), the projector output filling an asked line's slot, else -1
        }
        if any(it.segments is not None for it in items):
            if padding_side != "right":
                raise ValueError("grouped rows (questions or options) are padded on the right")
            batch.update(_grouped_attention(items, length))
        return batch

    @staticmethod
    def shared_prefix_length(items: list[Encoded]) -> int:
        """How many leading token ids all ``items`` share, when that prefix holds every item's video
        slot and leaves each at least one token of its own; else 0 (nothing worth sharing)."""
        head = _common_prefix(items, min(len(it) for it in items) - 1)
        if any(it.video_start is None or it.video_start + it.num_video_tokens > head for it in items):
            return 0
        return head

    def collate_after_prefix(self, items: list[Encoded], head: int) -> dict[str, torch.Tensor]:
        """Generation inputs whose rows share their first ``head`` token ids
        (:meth:`shared_prefix_length`): each row is that prefix, then padding, then the rest of its
        prompt, so that the prefix's keys and values can be computed once per clip and the new tokens
        follow every prompt's end. Positions come from ``attention_mask``."""
        length = head + max(len(it) - head for it in items)
        shifted = [
            Encoded(
                it.input_ids[:head]
                + [self.tokenizer.pad_token_id] * (length - len(it))
                + it.input_ids[head:],
                it.labels[:head] + [IGNORE_INDEX] * (length - len(it)) + it.labels[head:],
                it.video_start,
                it.num_video_tokens,
                asked_slots=[(p if p < head else p + length - len(it), i) for p, i in it.asked_slots],
            )
            for it in items
        ]
        batch = self.collate(shifted, padding_side="right")
        for row, it in enumerate(items):
            batch["attention_mask"][row, head : head + length - len(it)] = 0  # the padding in the middle
        return batch


def _join_segments(items: list[Encoded]) -> Encoded:
    """One row: the items' shared prefix once, then each item's remainder as segment 1, 2, ...
    with positions restarting after the prefix. Items that are segmented rows themselves (option
    rows) keep their segments and positions, and their remainders become groups 1, 2, ..."""
    head = _shared_prefix(items)
    nested = items[0].segments is not None
    ids, labels = list(items[0].input_ids[:head]), list(items[0].labels[:head])
    segments, groups, positions = [0] * head, [0] * head, list(range(head))
    slots = [(p, i) for p, i in items[0].asked_slots if p < head]  # a slot the prefix shares
    for j, item in enumerate(items, start=1):
        tail = len(item) - head
        slots += [(len(ids) + p - head, i) for p, i in item.asked_slots if p >= head]
        ids += item.input_ids[head:]
        labels += item.labels[head:]
        segments += item.segments[head:] if nested else [j] * tail
        groups += [j] * tail
        positions += item.positions[head:] if nested else range(head, head + tail)
    first = items[0]
    return Encoded(
        ids,
        labels,
        first.video_start,
        first.num_video_tokens,
        0,
        slots,
        segments,
        positions,
        groups if nested else None,
    )


def _common_prefix(items: list[Encoded], limit: int) -> int:
    """How many leading token ids, at most ``limit``, all ``items`` share."""
    first = items[0].input_ids
    for it in items[1:]:
        limit = next((i for i in range(limit) if it.input_ids[i] != first[i]), limit)
    return limit


def _shared_prefix(items: list[Encoded]) -> int:
    """How many leading tokens all ``items`` share (system turn, video...), stopping before the
    token that predicts the first supervised one (each segment must hold the position whose logits
    predict its first answer token); the video slot must lie inside it."""
    head = min(min(i for i, label in enumerate(it.labels) if label != IGNORE_INDEX) for it in items) - 1
    head = _common_prefix(items, head)
    video_end = (items[0].video_start or 0) + items[0].num_video_tokens
    if head < video_end or any(it.dropped_turns for it in items):
        raise ValueError("grouped questions must share the prompt up to the end of the video")
    return head


def _grouped_attention(items: list[Encoded], length: int) -> dict[str, torch.Tensor]:
    """``position_ids`` (B, L), a boolean ``attention_mask`` (B, 1, L, L), ``segments`` and
    ``groups`` (B, L) for right-padded rows: a token sees earlier tokens of the shared prefix
    (group 0), and of its own group those of its prompt (segment 0) and of its own segment. A row
    without groups is its own segments' groups. Padding (-1) sees only itself, so that no attention
    row is empty."""
    segments = torch.full((len(items), length), -1, dtype=torch.long)  # -1: padding
    groups = torch.full((len(items), length), -1, dtype=torch.long)
    positions = torch.zeros(len(items), length, dtype=torch.long)
    for row, it in enumerate(items):
        n = len(it)
        segments[row, :n] = torch.tensor(it.segments if it.segments is not None else [0] * n)
        groups[row, :n] = torch.tensor(it.groups) if it.groups is not None else segments[row, :n]
        positions[row, :n] = torch.tensor(it.positions if it.positions is not None else range(n))
    query, key = segments[:, :, None], segments[:, None, :]  # (B, L, 1), (B, 1, L)
    same_group = groups[:, :, None] == groups[:, None, :]  # (B, L, L)
    causal = torch.ones(length, length, dtype=torch.bool).tril()  # (L, L)
    own = same_group & ((key == 0) | (key == query))
    visible = causal & (key >= 0) & ((groups[:, None, :] == 0) | own)  # (B, L, L)
    visible |= torch.eye(length, dtype=torch.bool)
    return {
        "attention_mask": visible[:, None],
        "position_ids": positions,
        "segments": segments,
        "groups": groups,
    }
