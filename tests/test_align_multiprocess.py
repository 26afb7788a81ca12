"""``accelerate launch`` with 2 CPU processes on a generated world, stage 1 on scene descriptions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from alignment.data import load_qa
from jepa_vqa.config import load_config
from jepa_vqa.training import read_metrics

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_accelerate_two_processes_on_generated_world(tmp_path, accelerate_two_cpus):
    from vlm.model import VideoQAModel
    from vlm.testing import make_tiny_llm
    from worlds.config import WorldConfig
    from worlds.generate import generate_dataset

    world = generate_dataset(
        load_config(WorldConfig, ROOT / "configs/world/tiny.yaml", ["num_clips=8", "voe.pairs=0"]),
        tmp_path / "world",
        progress=False,
    )
    llm = make_tiny_llm(tmp_path / "llm")
    config = json.loads((llm / "config.json").read_text())  # byte-level descriptions need > 512 tokens
    (llm / "config.json").write_text(json.dumps({**config, "max_position_embeddings": 2048}))
    out = tmp_path / "run"
    cmd = [
        sys.executable,
        *accelerate_two_cpus,
        "-m",
        "alignment.train",
        "--config",
        str(ROOT / "configs/align/test.yaml"),
        "--out",
        str(out),
        f"data.path={world}",
        f"llm={llm}",
        "stage1.batch_size=1",
        "train.batch_size=2",
    ]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-6000:]
    records = read_metrics(out / "metrics.jsonl")
    assert [r["step"] for r in records] == [1, 2, 3, 4] and [r["stage"] for r in records] == [1, 1, 2, 2]
    assert "2 processes" in (out / "README.md").read_text()
    clips = set(load_qa(world, "train")["video"])
    assert len(list((out / "cache").glob("*.safetensors"))) == len(clips) >= 2  # both ranks' shards
    model = VideoQAModel.from_pretrained(out)
    assert model.is_lora
