"""eval.parsing and eval.example: answers in many phrasings become comparable canonical strings."""

from __future__ import annotations

import pytest

from eval.example import Example, canonical_gold, infer_kind, parse_response
from eval.parsing import normalize_text, parse_choice, parse_number, parse_open, parse_yes_no

OPTIONS = ["a red cube", "a blue ball", "green cylinder", "yellow cone"]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("B", 1),
        ("(B)", 1),
        ("B.", 1),
        ("B)", 1),
        ("[C]", 2),
        ("b", 1),
        ("(b)", 1),
        ("d.", 3),
        ("The answer is B", 1),
        ("The answer is B.", 1),
        ("Answer: C", 2),
        ("answer: c", 2),
        ("The correct option is b.", 1),
        ("I think the answer is (D).", 3),
        ("Option D", 3),
        ("D) yellow cone", 3),
        ("C: green cylinder", 2),
        ("B is correct", 1),
        ("A", 0),
        ("A.", 0),
        ("a blue ball", 1),
        ("Blue ball.", 1),
        ("YELLOW CONE!", 3),
        ("It is the green cylinder.", 2),
        ("The answer is a red cube", 0),
        ("A red cube", 0),
        ("  \n(c)\n", 2),
    ],
)
def test_parse_choice_phrasings(text, expected):
    assert parse_choice(text, OPTIONS) == expected


@pytest.mark.parametrize(
    "text", ["", "I do not know", "cube", "E", "(F)", "\n\n\n", "maybe the ball or the cone"]
)
def test_parse_choice_unparseable_is_none(text):
    assert parse_choice(text, OPTIONS) is None


def test_parse_choice_prefers_longest_option_text():
    assert parse_choice("the red cube", ["cube", "red cube"]) == 1
    assert parse_choice("left", ["left", "right", "up", "down"]) == 0


@pytest.mark.parametrize(
    "text, expected",
    [
        ("3", 3),
        ("three", 3),
        ("There are three objects.", 3),
        ("3.0", 3),
        ("The answer is 2.", 2),
        ("I count 4 balls", 4),
        ("twelve", 12),
        ("zero", 0),
        ("no objects", 0),
        ("None", 0),
        ("One.", 1),
    ],
)
def test_parse_number(text, expected):
    assert parse_number(text) == expected


@pytest.mark.parametrize("text", ["", "x", "many", "2.5"])
def test_parse_number_unparseable(text):
    assert parse_number(text) is None


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Yes", "yes"),
        ("yes.", "yes"),
        ("Yes, they collide.", "yes"),
        ("no", "no"),
        ("No!", "no"),
        ("Nope", "no"),
        ("The answer is no", "no"),
        ("True", "yes"),
        ("maybe", None),
        ("", None),
    ],
)
def test_parse_yes_no(text, expected):
    assert parse_yes_no(text) == expected


def test_normalize_and_open_answers():
    assert normalize_text("  The Red, Ball! ") == "red ball"
    assert normalize_text("Three cats") == "3 cats"
    assert parse_open("The answer is: A dog.\nextra line") == "dog"
    assert parse_open("   ") is None


def test_example_kinds_and_canonical_answers():
    mc = Example("q1", None, "Which?", "green cylinder", OPTIONS)
    assert mc.kind == "choice" and canonical_gold(mc) == "C"
    assert parse_response(mc, "(c)") == "C" and parse_response(mc, "no idea") is None
    assert (
        infer_kind("yes", []) == "yes_no"
        and infer_kind("3", []) == "number"
        and infer_kind("a dog", []) == "open"
    )
    num = Example("q2", None, "How many?", "three")
    assert num.kind == "number"  # number words are numbers too
    assert parse_response(num, "Three.") == canonical_gold(num) == "3"
    num = Example("q3", None, "How many?", "2")
    assert num.kind == "number" and parse_response(num, "two objects") == "2"
    yn = Example("q4", None, "Collide?", "No")
    assert yn.kind == "yes_no" and parse_response(yn, "no, they miss") == canonical_gold(yn) == "no"
    letter = Example("q5", None, "Which?", "B", ["x", "y"])
    assert canonical_gold(letter) == "B"


def test_example_rejects_answer_outside_options():
    with pytest.raises(ValueError, match="not one of its options"):
        Example("q", None, "Which?", "purple", ["red", "blue"])
