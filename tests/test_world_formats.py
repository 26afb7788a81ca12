"""worlds.formats: the one reader of qa.jsonl, world.json and voe.jsonl; jepa_vqa.hf_dataset."""

from __future__ import annotations

import json

import pytest

from jepa_vqa.hf_dataset import is_saved_dataset
from worlds.formats import FormatError, has_world, read_clips, read_qa, read_voe

ROW = {"id": "q1", "video": "videos/a.mp4", "question": "Q?", "options": ["x", "y"], "answer": "x"}


def _jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_read_qa_resolves_videos_and_filters_splits(tmp_path):
    _jsonl(
        tmp_path / "qa.jsonl",
        [dict(ROW, type="count", split="train"), dict(ROW, id="q2", type="count", split="test")],
    )
    rows = read_qa(tmp_path, "test")
    assert [r["id"] for r in rows] == ["q2"]
    assert rows[0]["video"] == str((tmp_path / "videos/a.mp4").resolve())
    assert len(read_qa(tmp_path / "qa.jsonl")) == 2
    with pytest.raises(FormatError, match="no examples in split 'val'"):
        read_qa(tmp_path, "val")


@pytest.mark.parametrize(
    ("row", "match"),
    [
        (dict(ROW, split="train"), "qa.jsonl:1: missing field 'type'"),
        (dict(ROW, type="count", split="train", options="x"), "field 'options' must be list"),
        (dict(ROW, type="count", split="train", answer="z"), "'z' is not one of 'options'"),
    ],
)
def test_read_qa_names_the_line_and_the_field(tmp_path, row, match):
    _jsonl(tmp_path / "qa.jsonl", [row])
    with pytest.raises(FormatError, match=match):
        read_qa(tmp_path)


def test_read_qa_missing_file_and_bad_json(tmp_path):
    with pytest.raises(FormatError, match="no qa.jsonl found"):
        read_qa(tmp_path)
    (tmp_path / "qa.jsonl").write_text("{not json\n")
    with pytest.raises(FormatError, match="qa.jsonl:1: not valid JSON"):
        read_qa(tmp_path)


def test_read_clips_and_has_world(tmp_path):
    clips = [
        {"id": "a", "video": "videos/a.mp4", "split": "train"},
        {"id": "b", "video": "v/b.mp4", "split": "test"},
    ]
    assert not has_world(tmp_path)
    (tmp_path / "world.json").write_text(json.dumps({"config": {}, "clips": clips}))
    assert has_world(tmp_path) and has_world(tmp_path / "qa.jsonl")
    assert [c["id"] for c in read_clips(tmp_path, "train")] == ["a"]
    assert [c["id"] for c in read_clips(tmp_path, "all")] == ["a", "b"]
    assert read_clips(tmp_path)[1]["video"] == str((tmp_path / "v/b.mp4").resolve())
    with pytest.raises(FormatError, match="no clips with split 'val'"):
        read_clips(tmp_path, "val")
    (tmp_path / "world.json").write_text(json.dumps({"clips": [{"id": "a", "split": "train"}]}))
    with pytest.raises(FormatError, match=r"clips\[0\] missing field 'video'"):
        read_clips(tmp_path)


def test_read_voe_checks_fields_and_videos(tmp_path):
    (tmp_path / "p.mp4").write_bytes(b"")
    (tmp_path / "i.mp4").write_bytes(b"")
    pair = {"kind": "vanish", "possible": "p.mp4", "impossible": "i.mp4", "event_frame": 3, "split": "test"}
    _jsonl(tmp_path / "voe.jsonl", [pair])
    (got,) = read_voe(tmp_path)
    assert got["id"] == "0" and got["possible"] == str((tmp_path / "p.mp4").resolve())
    with pytest.raises(FormatError, match="no VoE pairs in split 'train'"):
        read_voe(tmp_path, "train")
    _jsonl(tmp_path / "voe.jsonl", [dict(pair, impossible="gone.mp4")])
    with pytest.raises(FormatError, match="video not found"):
        read_voe(tmp_path)
    _jsonl(tmp_path / "voe.jsonl", [{"kind": "vanish"}])
    with pytest.raises(FormatError, match="voe.jsonl:1: missing field"):
        read_voe(tmp_path)


def test_is_saved_dataset(tmp_path):
    assert not is_saved_dataset(tmp_path) and not is_saved_dataset(tmp_path / "missing")
    (tmp_path / "dataset_dict.json").write_text("{}")
    assert is_saved_dataset(tmp_path)
