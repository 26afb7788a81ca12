"""benchmarks/count_use.py: which word a count question asks about, and the true counts."""

from __future__ import annotations

import pytest
from conftest import benchmark_script


@pytest.fixture(scope="module")
def bench():
    return benchmark_script("count_use")


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


@pytest.fixture(scope="module")
def swap():
    return benchmark_script("count_swap")


def test_count_swap_replaces_exactly_the_count_tokens_and_restores_them(swap, tmp_path, tiny_mp4):
    import torch

    from vlm.projector import ProjectorConfig
    from vlm.testing import make_tiny_model

    cfg = ProjectorConfig(kind="mlp-pool", count_token=True, count_words=2)
    model = make_tiny_model(tmp_path / "llm", projector=cfg).eval()
    with torch.no_grad():
        own = model.encode_video(str(tiny_mp4))  # (K, W): the cells, then the 3 count tokens
        assert torch.allclose(own[-3:], swap.count_tokens(model, str(tiny_mp4))[0], atol=1e-5)
        other = torch.randn(1, 3, own.shape[-1])
        model.projector.count = lambda cells, grid: other  # what ask() does for one call
        swapped = model.encode_video(str(tiny_mp4))
        del model.projector.count
    assert torch.equal(swapped[:-3], own[:-3]) and torch.equal(swapped[-3:], other[0].to(swapped.dtype))
    answer = swap.ask(model, str(tiny_mp4), "How many objects?\nOptions: 1, 2.", ["1", "2"], "count", other)
    assert answer in ("1", "2") and "count" not in model.projector.__dict__  # the model's own again
