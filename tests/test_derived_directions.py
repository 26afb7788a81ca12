"""benchmarks/derived_directions.py: the motion questions of a world and the directions read for them."""

from __future__ import annotations

import json

import pytest
from conftest import benchmark_script, direction_projector_config

WORDS = {
    "shape": ["circle", "square", "nothing"],
    "colour": ["red", "blue"],
    "size": ["small", "large"],
    "direction": ["left", "right", "up", "down"],
}


@pytest.fixture(scope="module")
def bench():
    return benchmark_script("derived_directions")


def test_motion_questions_are_the_splits_motion_rows_by_video(bench, tmp_path):
    rows = [
        {"video": "videos/a.mp4", "split": "test", "type": "motion", "question": "Which way?"},
        {"video": "videos/a.mp4", "split": "test", "type": "count", "question": "How many?"},
        {"video": "videos/b.mp4", "split": "train", "type": "motion", "question": "Which way?"},
    ]
    (tmp_path / "qa.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    got = bench.motion_questions(str(tmp_path), "test")
    assert (
        list(got) == [str(tmp_path / "videos" / "a.mp4")]
        and got[str(tmp_path / "videos" / "a.mp4")] == rows[:1]
    )


def test_every_key_reads_a_direction_word_or_none(bench, tmp_path, tiny_mp4):
    import torch

    from vlm.testing import make_tiny_model

    cfg = direction_projector_config(WORDS)
    model = make_tiny_model(tmp_path / "llm", projector=cfg).eval()
    table = model.projector.word_table  # (rows, W): orthogonal word embeddings
    model.projector.set_word_table(torch.eye(*table.shape) * 3)
    with torch.no_grad():
        keys, words = bench.direction_words(model, str(tiny_mp4))
    assert keys == model.projector.direction_keys() and len(words) == len(keys) == 3 * 3 * 3 * 3
    assert set(words) <= {*WORDS["direction"], "none"}
