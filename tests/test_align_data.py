"""alignment.data and alignment.config: loading, path resolution, clear errors, strict config."""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import pytest

from alignment.config import AlignConfig
from alignment.data import DESCRIBE_PROMPTS, DatasetError, load_all, load_descriptions, load_qa
from jepa_vqa.config import load_config
from jepa_vqa.errors import ConfigError, UserError

ROOT = Path(__file__).resolve().parent.parent  # the repo: configs are found from here, not the cwd


def _rows(n: int = 6) -> list[dict]:
    splits = ["train", "train", "train", "train", "val", "test"]
    return [
        {
            "id": f"q{i}",
            "video": f"videos/c{i % 3}.mp4",
            "question": "What colour is the ball?",
            "options": ["red", "blue"],
            "answer": "blue" if i % 2 else "red",
            "type": "attribute",
            "split": splits[i % len(splits)],
            "clip_id": f"c{i % 3}",
        }
        for i in range(n)
    ]


def _write(path: Path, rows: list) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_load_qa_from_dir_and_file_resolves_video_paths(tmp_path):
    _write(tmp_path / "world" / "qa.jsonl", _rows())
    for source in (tmp_path / "world", tmp_path / "world" / "qa.jsonl"):
        train = load_qa(source, "train")
        assert isinstance(train, datasets.Dataset)
        assert len(train) == 4 and set(train["split"]) == {"train"}
        assert train[0]["video"] == str((tmp_path / "world" / "videos" / "c0.mp4").resolve())
        assert train[0]["options"] == ["red", "blue"]
    assert len(load_qa(tmp_path / "world", "test")) == 1


def test_load_qa_from_saved_hf_dataset_dict(tmp_path):
    rows = [{k: v for k, v in r.items() if k != "split"} for r in _rows()]
    dd = datasets.DatasetDict(
        {"train": datasets.Dataset.from_list(rows[:4]), "val": datasets.Dataset.from_list(rows[4:])}
    )
    dd.save_to_disk(str(tmp_path / "hf"))
    val = load_qa(tmp_path / "hf", "val")
    assert len(val) == 2 and val[0]["video"] == str((tmp_path / "hf" / "videos" / "c1.mp4").resolve())


@pytest.mark.parametrize(
    "mutate, needle",
    [
        (lambda r: r.pop("question"), "missing field 'question'"),
        (lambda r: r.update(options="red"), "field 'options'"),
        (lambda r: r.update(answer="green"), "field 'answer'"),
    ],
)
def test_bad_rows_name_file_line_and_field(tmp_path, mutate, needle):
    rows = _rows()
    mutate(rows[2])
    path = _write(tmp_path / "qa.jsonl", rows)
    with pytest.raises(DatasetError) as exc:
        load_all(path)
    assert needle in str(exc.value) and f"{path}:3" in str(exc.value)


def test_missing_and_empty_datasets_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="not found"):
        load_all(tmp_path / "nope.jsonl")
    with pytest.raises(UserError, match="no qa.jsonl"):
        load_all(tmp_path)
    (tmp_path / "bad.jsonl").write_text("{not json\n")
    with pytest.raises(UserError, match=r"bad.jsonl:1: not valid JSON"):
        load_all(tmp_path / "bad.jsonl")
    _write(tmp_path / "qa.jsonl", _rows())
    with pytest.raises(UserError, match="no split 'dev'"):
        load_qa(tmp_path, "dev")


def test_descriptions_from_generated_world(tmp_path):
    from worlds.config import WorldConfig
    from worlds.generate import generate_dataset

    cfg = load_config(
        WorldConfig, ROOT / "configs/world/tiny.yaml", ["num_clips=6", "voe.pairs=0", "workers=1"]
    )
    world = generate_dataset(cfg, tmp_path / "world", progress=False)
    clips = {c["id"]: c for c in json.loads((world / "world.json").read_text())["clips"]}
    pairs = load_descriptions(world, "train")
    train_clips = [c for c in clips.values() if c["split"] == "train"]
    assert len(pairs) == len(train_clips) >= 2 and set(pairs["type"]) == {"describe"}
    assert set(pairs["question"]) <= set(DESCRIBE_PROMPTS) and len(set(pairs["question"])) >= 2
    first = pairs[0]
    assert (
        first["video"] == str((world / train_clips[0]["video"]).resolve()) and Path(first["video"]).is_file()
    )
    from worlds.qa import describe_clip

    assert first["answer"] == describe_clip(train_clips[0]) and len(first["answer"]) > 20
    (tmp_path / "qa.jsonl").write_text((world / "qa.jsonl").read_text())
    with pytest.raises(UserError, match="world.json is missing"):
        load_descriptions(tmp_path, "train")
    (tmp_path / "world.json").write_text(json.dumps({"clips": [{"id": "a", "split": "train"}]}))
    with pytest.raises(UserError, match=r"clips\[0\] missing field 'video'"):
        load_descriptions(tmp_path, "train")


def test_config_is_strict_and_validated(tmp_path):
    cfg = load_config(AlignConfig, None, ["data.path=x", "train.steps=10", "stage1.steps=4"])
    assert cfg.train.steps == 10 and cfg.llm == "embedded:smollm2-135m-instruct" and cfg.use_cache
    assert "q_proj" in cfg.stage2.lora.target_modules and "down_proj" in cfg.stage2.lora.target_modules
    with pytest.raises(ConfigError, match="train.stepz"):
        load_config(AlignConfig, None, ["data.path=x", "train.stepz=3"])
    with pytest.raises(ConfigError, match="train.batch_size"):
        load_config(AlignConfig, None, ["data.path=x", "train.batch_size=big"])
    with pytest.raises(ConfigError, match="exceeds train.steps"):
        load_config(AlignConfig, None, ["data.path=x", "train.steps=3", "stage1.steps=5"])
    with pytest.raises(ConfigError, match="data.path"):
        load_config(AlignConfig, None, ["data.split=train"])
    tuned = load_config(AlignConfig, None, ["data.path=x", "encoder_tuning.last_blocks=2"])
    assert not tuned.use_cache


@pytest.mark.parametrize("name", sorted(p.name for p in (ROOT / "configs/align").glob("*.yaml")))
def test_shipped_configs_validate(name):
    cfg = load_config(AlignConfig, (ROOT / "configs/align") / name)
    assert cfg.train.steps >= 1
