"""benchmarks/count_use.py: which word a count question asks about, and the true counts."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("count_use", ROOT / "benchmarks/count_use.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


WORDS = ["blue", "red", "circle", "square", "triangle"]


def test_a_count_question_names_its_colour_or_shape(bench):
    assert bench.asked_word("How many squares appear in the video?\nOptions: 1, 2.", WORDS) == "square"
    assert bench.asked_word("How many blue objects are there?", WORDS) == "blue"
    assert bench.asked_word("How many objects can you see in total?", WORDS) is None
    # only the question counts: the options and instructions after it name no word
    assert bench.asked_word("How many objects are there?\nOptions: red, 2.", WORDS) is None


def test_true_counts_count_the_objects_with_each_word(bench):
    clip = {"objects": [{"colour": "red", "shape": "square"}, {"colour": "red", "shape": "circle"}]}
    assert bench.true_counts(clip, WORDS) == {"blue": 0, "red": 2, "circle": 1, "square": 1, "triangle": 0}
