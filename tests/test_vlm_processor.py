"""Prompt building: video slot, label masks, padding, truncation, multiple-choice format."""

from __future__ import annotations

import itertools

import pytest
import torch

from jepa_vqa.errors import UserError
from vlm.processor import (
    IGNORE_INDEX,
    MC_INSTRUCTION,
    PromptConfig,
    VideoQAProcessor,
    asked_direction,
    asked_word,
    format_answer,
    format_question,
    validate_question,
)
from vlm.testing import make_tiny_tokenizer

K = 6


@pytest.fixture(scope="module")
def tokenizer():
    return make_tiny_tokenizer()


@pytest.fixture(scope="module")
def proc(tokenizer):
    return VideoQAProcessor(tokenizer, num_video_tokens=K)


def _video_run(item):
    return item.input_ids[item.video_start : item.video_start + item.num_video_tokens]


def test_video_slot_has_k_positions_once(proc, tokenizer):
    item = proc.encode("What colour is the ball?", history=[("How many?", "two")])
    assert item.num_video_tokens == K and item.video_start is not None
    batch = proc.collate([item])
    assert int(batch["video_mask"].sum()) == K
    # the slot sits in the first user turn, before the question text
    text_before = tokenizer.decode(item.input_ids[: item.video_start])
    assert text_before.count("<|im_start|>user") == 1 and "How many?" not in text_before
    assert "How many?" in tokenizer.decode(item.input_ids[item.video_start + K :])


def test_blind_prompt_has_no_video_slot(proc, tokenizer):
    seen = proc.encode("What colour is the ball?")
    blind = proc.encode("What colour is the ball?", has_video=False)
    assert blind.video_start is None and blind.num_video_tokens == 0
    assert int(proc.collate([blind])["video_mask"].sum()) == 0
    assert len(seen) - len(blind) >= K  # same prompt plus the slot
    assert tokenizer.decode(blind.input_ids).endswith("<|im_start|>assistant\n")


def test_labels_cover_only_answer_and_end_of_turn(proc, tokenizer):
    item = proc.encode("What colour is the ball?", answer="red", history=[("How many?", "two")])
    labelled = [t for t in item.labels if t != IGNORE_INDEX]
    assert tokenizer.decode(labelled) == "red<|im_end|>"
    assert labelled[-1] == proc.end_of_turn_id == tokenizer.convert_tokens_to_ids("<|im_end|>")
    # the labelled tokens are exactly the answer tokens at their own positions
    for tok, lab in zip(item.input_ids, item.labels):
        assert lab in (IGNORE_INDEX, tok)
    # the history answer "two" is not trained on
    first = item.labels.index(labelled[0])
    assert all(lab == IGNORE_INDEX for lab in item.labels[:first])


def test_multiple_choice_target_is_the_option_text(proc, tokenizer):
    item = proc.encode("Which way?", options=["left", "right"], answer="right")
    assert tokenizer.decode([t for t in item.labels if t != IGNORE_INDEX]) == "right<|im_end|>"
    assert format_answer("right", ["left", "right"]) == "right"
    assert format_answer("B", ["left", "right"]) == "right"  # a letter answer names its option
    with pytest.raises(UserError, match="not one of the options"):
        format_answer("up", ["left", "right"])


def test_format_question_lists_options_as_words():
    text = format_question("Which way does it move?", ["left", "right", "up"])
    assert text.splitlines() == ["Which way does it move?", "Options: left, right, up.", MC_INSTRUCTION]
    assert "Options: 1, 2; a, b." in format_question("Which?", ["1, 2", "a, b"])
    assert format_question("How many?", []) == "How many?"
    with pytest.raises(UserError, match="2 to 26 options"):
        format_question("Q?", ["only"])


def test_option_rows_score_each_option_on_its_own_segment(proc, tokenizer):
    options = ["left", "right", "up left"]
    item = proc.encode_options("Which way?", options)
    singles = [proc.encode("Which way?", options=options, answer=o) for o in options]
    head = item.segments.count(0)
    assert item.input_ids[:head] == singles[0].input_ids[:head]  # the prompt (with video) once
    assert head >= item.video_start + item.num_video_tokens
    for j, (opt, single) in enumerate(zip(options, singles), start=1):
        mine = [k for k, seg in enumerate(item.segments) if seg == j]
        labelled = [item.labels[k] for k in mine if item.labels[k] != IGNORE_INDEX]
        assert tokenizer.decode(labelled) == opt  # the option's tokens, not the end-of-turn token
        first = mine[0]  # the segment starts one token before its first option token: it predicts it
        assert item.labels[first] == IGNORE_INDEX and item.labels[first + 1] != IGNORE_INDEX
        assert item.input_ids[first] == single.input_ids[head]
        assert [item.positions[k] for k in mine] == list(range(head, head + len(mine)))
    with pytest.raises(UserError, match="2 or more options"):
        proc.encode_options("Which way?", [])


def test_joined_questions_see_the_prefix_their_prompt_and_their_option(tokenizer):
    """Option rows of questions about one video in one row: the video prefix once, each question
    in its own group with its options; a token sees the prefix, its question's prompt and its own
    option, at the positions it has alone; asked slots follow their question."""
    proc = VideoQAProcessor(tokenizer, num_video_tokens=K, asked_counts=ASKED)
    rows = [
        proc.encode_options("Which way?", ["left", "right"]),
        proc.encode_options("Count the squares.", ["2", "3", "4"]),
    ]
    row = proc.join_questions(rows)
    head = row.groups.count(0)
    assert head >= row.video_start + K and row.input_ids[:head] == rows[0].input_ids[:head]
    for g, alone in enumerate(rows, start=1):
        mine = [k for k, group in enumerate(row.groups) if group == g]
        assert [row.input_ids[k] for k in mine] == alone.input_ids[head:]
        assert [row.segments[k] for k in mine] == alone.segments[head:]
        assert [row.positions[k] for k in mine] == alone.positions[head:]
    assert [i for _, i in row.asked_slots] == [4] and row.groups[row.asked_slots[0][0]] == 2
    mask = proc.collate([row, rows[0]])["attention_mask"][0, 0]  # (L, L)
    last = len(row) - 1  # the last token of question 2's last option
    seen = {(row.groups[k], row.segments[k]) for k in range(len(row)) if mask[last, k]}
    assert seen == {(0, 0), (2, 0), (2, 3)}
    with pytest.raises(ValueError, match="encode_options rows"):
        proc.join_questions([proc.encode("Which way?", answer="left")])


def test_prompts_sharing_a_video_prefix_are_padded_after_it(tokenizer):
    """collate_after_prefix: each row is the shared prefix (holding the video slot), then padding,
    then the rest of its prompt; asked slots move with their tokens. Nothing to share (no video, or
    a prefix that ends before the video) is length 0."""
    proc = VideoQAProcessor(tokenizer, num_video_tokens=K, asked_counts=ASKED)
    items = [proc.encode("Which way?"), proc.encode("How many red objects are there now?")]
    head = proc.shared_prefix_length(items)
    assert head >= items[0].video_start + K and items[0].input_ids[:head] == items[1].input_ids[:head]
    batch = proc.collate_after_prefix(items, head)
    length = batch["input_ids"].shape[1]
    assert length == head + max(len(it) - head for it in items)
    for row, it in enumerate(items):
        kept = batch["attention_mask"][row].bool()
        assert batch["input_ids"][row][kept].tolist() == it.input_ids
        assert kept[:head].all() and kept[length - (len(it) - head) :].all()
        assert batch["video_mask"][row].nonzero().squeeze(1).tolist() == list(
            range(it.video_start, it.video_start + K)
        )
    ((position, index),) = items[1].asked_slots
    assert batch["asked_slots"][1, position + length - len(items[1])] == index == 2
    assert int((batch["asked_slots"] >= 0).sum()) == 1
    assert proc.shared_prefix_length([items[0], proc.encode("Which way?", has_video=False)]) == 0


def test_padding_sides(proc):
    short, long = proc.encode("Hi?", answer="a"), proc.encode("What colour is the ball now?", answer="red")
    right = proc.collate([short, long], padding_side="right")
    left = proc.collate([short, long], padding_side="left")
    n = len(short)
    assert right["attention_mask"][0, :n].all() and not right["attention_mask"][0, n:].any()
    assert left["attention_mask"][0, -n:].all() and not left["attention_mask"][0, :-n].any()
    assert left["input_ids"][0, -n:].tolist() == short.input_ids
    for batch in (left, right):  # K video positions per row, inside the attended span
        assert batch["video_mask"].sum(1).tolist() == [K, K]
        assert not (batch["video_mask"] & ~batch["attention_mask"].bool()).any()
        assert (batch["labels"][batch["attention_mask"] == 0] == IGNORE_INDEX).all()


def test_truncation_drops_history_but_never_video(tokenizer):
    proc = VideoQAProcessor(tokenizer, num_video_tokens=K, prompt=PromptConfig(max_length=120))
    history = [(f"Question number {i} about the colour?", "blue") for i in range(6)]
    item = proc.encode("What colour is the ball?", history=history, answer="red")
    assert len(item) <= 120 and 0 < item.dropped_turns < len(history)
    assert item.num_video_tokens == K
    assert int(proc.collate([item])["video_mask"].sum()) == K
    assert "Question number 5" in tokenizer.decode(item.input_ids)  # the newest history is kept
    assert "Question number 0" not in tokenizer.decode(item.input_ids)
    tiny = VideoQAProcessor(tokenizer, num_video_tokens=K, prompt=PromptConfig(max_length=20))
    with pytest.raises(UserError, match="even without history"):
        tiny.encode("What colour is the ball?")


@pytest.mark.parametrize(
    "bad, match",
    [
        ("", "empty"),
        ("   \n", "empty"),
        ("x" * 2001, "2001 characters"),
        (b"bytes", "must be text"),
        (None, "must be text"),
        ("bad\x00nul", "control characters"),
        ("<|video|> hi", "reserved"),
        ("How many <|slot|>?", "reserved"),
    ],
)
def test_bad_questions(bad, match, proc):
    with pytest.raises(UserError, match=match):
        validate_question(bad)
    with pytest.raises(UserError, match=match):
        proc.encode(bad)


def test_grouped_questions_see_the_video_prefix_and_themselves_only(proc):
    item = proc.encode_group(["Which way?", "How many?"], ["left", "two"])
    first, second = proc.encode("Which way?", answer="left"), proc.encode("How many?", answer="two")
    head = item.segments.count(0)  # the shared prefix: system turn, video, and what follows in common
    assert head >= first.video_start + first.num_video_tokens and item.num_video_tokens == K
    assert item.input_ids[:head] == first.input_ids[:head] == second.input_ids[:head]
    assert len(item) == len(first) + len(second) - head
    assert item.labels[len(first) :] == second.labels[head:]  # both answers are supervised
    batch = proc.collate([item, first])  # a grouped row padded next to a plain one
    mask, pos = batch["attention_mask"][:, 0], batch["position_ids"]  # (B, L, L), (B, L)
    a, b = len(first) - 1, len(item) - 1  # the last token of each question
    assert mask[0, b, :head].all()
    assert not mask[0, b, head : a + 1].any()  # the second question never sees the first
    assert mask[0, a, head : a + 1].all() and not mask[0, a, a + 1 :].any()  # causal within a segment
    assert pos[0, len(first)] == head and pos[0, b] == len(second) - 1
    assert mask[1, : len(first), : len(first)].equal(torch.ones(len(first), len(first)).tril().bool())
    assert mask.any(-1).all()  # padding attends to itself: no empty attention row


def test_grouped_questions_need_one_answer_each(proc):
    with pytest.raises(ValueError, match="one answer"):
        proc.encode_group(["Which way?", "How many?"], ["left"])


def test_grouped_questions_without_video_share_the_system_turn(proc):
    item = proc.encode_group(["Which way?", "How many?"], ["left", "two"], has_video=False)
    first = proc.encode("Which way?", answer="left", has_video=False)
    assert item.video_start is None and 0 < item.segments.count(0) < len(first)
    assert sum(label != IGNORE_INDEX for label in item.labels) == 2 * sum(
        label != IGNORE_INDEX for label in first.labels
    )  # "left" and "two" are one token each in the test vocabulary


ASKED = {"red": 2, "square": 4}  # word -> the video token holding its count


def test_asked_word_is_the_one_counted_word_a_counting_question_names():
    assert asked_word("Count the squares.", ASKED) == "square"
    assert asked_word("How many RED objects are there?", ASKED) == "red"
    assert asked_word("What is the number of squares?", ASKED) == "square"
    assert asked_word("What colour is the square?", ASKED) is None  # not a counting question
    assert asked_word("How many red squares are there?", ASKED) is None  # two words: which count?
    assert asked_word("How many objects are there?", ASKED) is None
    assert asked_word("How many redder, squared things?", ASKED) is None  # whole words or plurals


def test_a_counting_question_gets_a_count_line_whose_number_is_a_video_token_slot(tokenizer):
    proc = VideoQAProcessor(tokenizer, num_video_tokens=K, asked_counts=ASKED)
    item = proc.encode("Count the squares.", options=["2", "3"], answer="3")
    ((position, index),) = item.asked_slots
    assert tokenizer.decode(item.input_ids[:position]).endswith("Count the squares.\nsquare count: ")
    assert index == 4 and item.input_ids[position] == tokenizer.pad_token_id
    assert position > item.video_start + K
    after = tokenizer.decode(item.input_ids[position + 1 :])
    assert after.startswith("\nOptions: 2, 3.") and "<|slot|>" not in tokenizer.decode(item.input_ids)
    assert proc.encode("Count the squares.", has_video=False).asked_slots == []  # blind: no video
    assert proc.encode("Which colour is the square?").asked_slots == []
    plain = VideoQAProcessor(tokenizer, num_video_tokens=K).encode("Count the squares.")
    assert plain.asked_slots == [] and len(item) > len(plain)


DIRECTIONS = {  # (size, colour, shape, span) -> the projector output holding its direction
    key: 10 + i
    for i, key in enumerate(
        itertools.product((None, "small"), (None, "red", "cyan"), (None, "square"), ("whole", "start", "end"))
    )
}


def test_asked_direction_is_the_object_and_span_a_motion_question_names():
    def ask(question):
        return asked_direction(question, DIRECTIONS)

    assert ask("At first, where is the small cyan object heading?") == ("small", "cyan", None, "start")
    assert ask("Which way does the red square move at the end?") == (None, "red", "square", "end")
    assert ask("In which direction is the square moving at the start of the video?")[3] == "start"
    assert ask("What is the direction of travel of the cyan square?") == (None, "cyan", "square", "whole")
    assert ask("By the end of the video, where is the small object heading?") == ("small", None, None, "end")
    assert ask("By the end of the video, where is the object heading?") is None  # names no object
    assert ask("What colour is the small square?") is None  # not a motion question
    assert ask("How many red objects are moving?") is None  # a counting one
    assert ask("Which way do the red and the cyan square move?") is None  # two objects: which one?
    assert ask("Which way does the large red square move?") == (None, "red", "square", "whole")  # no "large"


def test_a_motion_question_gets_a_direction_line_whose_word_is_a_slot(tokenizer):
    proc = VideoQAProcessor(tokenizer, num_video_tokens=K, asked_counts=ASKED, asked_directions=DIRECTIONS)
    item = proc.encode("Which way does the red square move at the end?", options=["left", "up"])
    ((position, index),) = item.asked_slots
    assert tokenizer.decode(item.input_ids[:position]).endswith("at the end?\ndirection: ")
    assert index == DIRECTIONS[(None, "red", "square", "end")] and position > item.video_start + K
    assert tokenizer.decode(item.input_ids[position + 1 :]).startswith("\nOptions: left, up.")
    assert proc.encode("Which way does the red square move?", has_video=False).asked_slots == []
    assert [i for _, i in proc.encode("Count the squares.").asked_slots] == [4]  # a count, no direction


def test_asked_slots_follow_their_question_through_groups_options_and_padding(tokenizer):
    proc = VideoQAProcessor(tokenizer, num_video_tokens=K, asked_counts=ASKED)
    questions = ["Which way?", "How many red objects?", "Count the squares."]
    row = proc.encode_group(questions, ["left", "1", "2"])
    alone = [proc.encode(q, answer=a) for q, a in zip(questions[1:], ["1", "2"])]
    head = row.segments.count(0)
    assert [i for _, i in row.asked_slots] == [2, 4]
    for (position, _), item in zip(row.asked_slots, alone):  # the same tokens lead up to each slot
        ((own, _),) = item.asked_slots
        assert row.input_ids[position - (own - head) : position] == item.input_ids[head:own]
    options = proc.encode_options("Count the squares.", ["2", "3"])
    assert len(options.asked_slots) == 1 and options.asked_slots[0][0] < options.segments.count(0)
    batch = proc.collate([alone[0], row], padding_side="right")
    slots = batch["asked_slots"]  # (B, L)
    assert slots[1][slots[1] >= 0].tolist() == [2, 4] and int((slots >= 0).sum()) == 3
    left = proc.collate([alone[0], proc.encode("Count the squares.")], padding_side="left")["asked_slots"]
    ((position, _),) = proc.encode("Count the squares.").asked_slots
    assert left[1, -len(proc.encode("Count the squares.")) + position] == 4
