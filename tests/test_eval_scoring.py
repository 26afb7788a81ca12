"""eval.scoring, eval.controls, eval.distributed: metrics + CIs, controls, baselines, sharding."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from eval.controls import (
    apply_control,
    chance_scores,
    example_seed,
    majority_predictions,
    shuffle_frames,
    single_frame,
)
from eval.distributed import Dist, batches, gather, my_batches
from eval.example import Example
from eval.scoring import METRIC_DIR, accuracy_with_ci, bootstrap_ci, per_type_accuracy, per_type_mean


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def test_local_evaluate_metric_loads_offline():
    import evaluate

    metric = evaluate.load(str(METRIC_DIR))
    out = metric.compute(predictions=["A", "", "C", "D"], references=["A", "B", "C", "A"])
    assert out == {"accuracy": 0.5, "correct": 2, "total": 4, "unparsed": 1}


def test_accuracy_with_ci_counts_unparsed_as_wrong():
    res = accuracy_with_ci(["A", None, "B", "B"], ["A", "A", "B", "C"], n_boot=200)
    assert res["accuracy"] == 0.5 and res["n"] == 4 and res["unparsed"] == 1 and res["correct"] == 2
    lo, hi = res["ci"]
    assert 0.0 <= lo <= 0.5 <= hi <= 1.0


def test_bootstrap_ci_properties():
    assert bootstrap_ci([1, 1, 1, 1]) == (1.0, 1.0)
    assert bootstrap_ci([0, 0, 0]) == (0.0, 0.0)
    rng = np.random.default_rng(0)
    small = rng.integers(0, 2, 20)
    large = rng.integers(0, 2, 2000)
    lo_s, hi_s = bootstrap_ci(small, seed=1)
    lo_l, hi_l = bootstrap_ci(large, seed=1)
    assert lo_s <= small.mean() <= hi_s and lo_l <= large.mean() <= hi_l
    assert (hi_l - lo_l) < (hi_s - lo_s) / 4  # ~1/sqrt(n) shrinkage
    assert bootstrap_ci(small, seed=3) == bootstrap_ci(small, seed=3)  # seeded
    # A 95% interval of a binomial mean with p=0.5, n=2000 is about +-0.022.
    assert 0.03 < hi_l - lo_l < 0.06


def test_per_type_tables():
    res = per_type_accuracy(["A", "B", "A", None], ["A", "A", "A", "B"], ["x", "x", "y", "y"], n_boot=100)
    assert res["overall"]["accuracy"] == 0.5
    assert res["by_type"]["x"]["accuracy"] == 0.5 and res["by_type"]["y"]["accuracy"] == 0.5
    assert res["by_type"]["y"]["unparsed"] == 1
    means = per_type_mean([0.25, 0.75, 0.5], ["a", "a", "b"], n_boot=100)
    assert means["by_type"]["a"]["accuracy"] == 0.5 and means["overall"]["accuracy"] == 0.5


def _frames(t: int = 8) -> torch.Tensor:
    return torch.arange(t, dtype=torch.uint8).view(t, 1, 1, 1).expand(t, 3, 4, 4).clone()  # (T, C, H, W)


def test_shuffled_frames_are_a_seeded_permutation():
    frames = _frames(8)
    out = shuffle_frames(frames, seed=5)
    order = out[:, 0, 0, 0].tolist()
    assert sorted(order) == list(range(8)) and order != list(range(8))
    assert torch.equal(out, shuffle_frames(frames, seed=5))
    assert not torch.equal(shuffle_frames(frames, 1), shuffle_frames(frames, 2))
    # Per-clip seeds depend on the clip's name, not on the order or the shard an example lands in.
    assert example_seed(0, "c1.mp4") == example_seed(0, "c1.mp4") != example_seed(0, "c2.mp4")
    shuffled = apply_control("shuffled", frames, 0, "c1.mp4")
    assert torch.equal(shuffled, shuffle_frames(frames, example_seed(0, "c1.mp4")))
    assert sorted(shuffle_frames(_frames(2), 0)[:, 0, 0, 0].tolist()) == [0, 1]


def test_every_question_about_a_clip_sees_the_same_shuffled_frames():
    """The shuffled control is seeded by the clip's file name: one order per clip (so its questions
    share one encoding and prompt prefix), the same wherever the data lies."""
    from eval.config import EvalConfig
    from eval.qa import _condition_inputs

    batch = [
        Example(f"q{i}", video, "Which way?", "up", ["up", "down"])
        for i, video in enumerate(["/data/a/c1.mp4", "/elsewhere/c1.mp4", "/data/a/c2.mp4"])
    ]
    frames = [_frames(8)] * 3
    videos, _ = _condition_inputs("shuffled", frames, batch, EvalConfig(), model=None)
    assert torch.equal(videos[0], videos[1]) and not torch.equal(videos[0], videos[2])


def test_single_frame_repeats_the_middle_one_and_blind_is_none():
    frames = _frames(8)
    out = single_frame(frames)
    assert out.shape == frames.shape and (out[:, 0, 0, 0] == 4).all()
    assert torch.equal(apply_control("single_frame", frames, 0, "q"), out)
    assert apply_control("blind", frames, 0, "q") is None
    assert apply_control("model", frames, 0, "q") is frames
    with pytest.raises(ValueError):
        apply_control("mirror", frames, 0, "q")


def _mc(i, answer, type_="t", options=("red", "blue", "green", "pink")):
    return Example(f"q{i}", None, "Which colour?", answer, list(options), type_)


def test_chance_and_majority_baselines():
    data = [
        _mc(0, "red"),
        _mc(1, "red"),
        _mc(2, "blue"),
        Example("y0", None, "Hit?", "yes", type="hit"),
        Example("y1", None, "Hit?", "no", type="hit"),
        Example("y2", None, "Hit?", "no", type="hit"),
        Example("o0", None, "What?", "dog", type="open"),
        Example("o1", None, "What?", "cat", type="open"),
    ]
    assert chance_scores(data) == [0.25, 0.25, 0.25, 0.5, 0.5, 0.5, 0.5, 0.5]
    preds = majority_predictions(data)
    assert preds[:3] == ["A", "A", "A"]  # "red" is option A, the most frequent answer of type t
    assert preds[3:6] == ["no", "no", "no"]
    # Majority is by answer text, so it follows the option wherever it is listed.
    shuffled = _mc(9, "blue", options=("green", "red", "blue", "pink"))
    assert majority_predictions([shuffled], data)[0] == "B"
    # A train pool sets the majority answer: train says "blue".
    train = [_mc(10, "blue"), _mc(11, "blue")]
    assert majority_predictions(data[:3], train) == ["B", "B", "B"]


def test_batches_are_sharded_whole_and_cover_everything_once():
    single = batches(11, 3)
    assert single == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9, 10]]
    shards = [my_batches(11, 3, Dist(r, 2)) for r in range(2)]
    assert shards[0] == [[0, 1, 2], [6, 7, 8]] and shards[1] == [[3, 4, 5], [9, 10]]
    assert sorted(i for s in shards for b in s for i in b) == list(range(11))
    assert all(b in single for s in shards for b in s)  # the same batches as one process
    assert gather([1, 2], Dist()) == [1, 2]
