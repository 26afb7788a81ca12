"""eval with the real VideoQAModel (tiny random LLM): end to end, CLI, and sharded == single process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from eval.config import EvalConfig
from eval.run import evaluate_task
from eval.testing import make_world_dataset

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return make_world_dataset(tmp_path_factory.mktemp("world"), clips=6, voe_pairs=0)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    from vlm.testing import make_tiny_llm, make_tiny_model

    llm = make_tiny_llm(tmp_path_factory.mktemp("llm"), seed=2, hidden_size=64)  # answers vary with the input
    return make_tiny_model(llm)


def test_tiny_videoqa_model_end_to_end(model, world, tmp_path):
    res = evaluate_task(
        model,
        "world-qa",
        data=str(world),
        limit=4,
        out_dir=tmp_path / "out",
        config=EvalConfig(batch_size=4, max_new_tokens=4, n_boot=50, generation_controls=True),
        progress=False,
    )
    assert res["model"] == model.describe()["model"] and res["num_examples"] == 4
    samples = [json.loads(s) for s in (tmp_path / "out" / "samples.jsonl").read_text().splitlines()]
    by_cond = {
        c: [s for s in samples if s["condition"] == c] for c in ("model", "blind", "shuffled", "single_frame")
    }
    assert all(len(v) == 4 for v in by_cond.values())
    assert by_cond["model"][0]["prompt"] == model.format_question(
        by_cond["model"][0]["prompt"].split("\n")[0], by_cond["model"][0]["options"]
    )
    assert "Options: " in by_cond["model"][0]["prompt"]
    # The model sees the video: answers with and without it differ for some question.
    assert [s["response"] for s in by_cond["model"]] != [s["response"] for s in by_cond["blind"]]
    for s in samples:  # headline: the likelihood choice (multiple choice); second: the parsed generation
        headline = s["choice"] if s["options"] else s["parsed"]
        assert s["correct"] == (headline is not None and headline == s["answer"])
        assert s["generation_correct"] == (s["parsed"] is not None and s["parsed"] == s["answer"])
    mc = [r for r in _rows(world, 4) if r["options"]]
    assert mc, "the tiny world has multiple-choice questions"
    expected = model.choose(
        [model.load_frames(Path(world) / r["video"]) for r in mc],
        [r["question"] for r in mc],
        [r["options"] for r in mc],
    )
    assert [s["choice"] for s in by_cond["model"] if s["options"]] == ["ABCD"[k] for k in expected]
    assert set(res["generation"]) == {"model", "blind", "shuffled", "single_frame"}
    assert "Free generation" in (tmp_path / "out" / "report.md").read_text()


def test_controls_are_scored_by_likelihood_only_by_default(model, world, tmp_path):
    """Free generation (the second metric) runs on the model condition; a control generates only
    the questions it cannot score by likelihood (open ones)."""
    evaluate_task(
        model,
        "world-qa",
        data=str(world),
        limit=6,
        out_dir=tmp_path / "out",
        config=EvalConfig(batch_size=6, max_new_tokens=2, n_boot=50, controls=["blind"]),
        progress=False,
    )
    samples = [json.loads(s) for s in (tmp_path / "out" / "samples.jsonl").read_text().splitlines()]
    model_rows = [s for s in samples if s["condition"] == "model"]
    blind_rows = [s for s in samples if s["condition"] == "blind"]
    assert all(s["response"] is not None for s in model_rows)
    assert all((s["response"] is None) == bool(s["options"]) for s in blind_rows)
    assert any(s["options"] for s in blind_rows)


def _rows(world, n: int) -> list[dict]:
    rows = [json.loads(line) for line in (Path(world) / "qa.jsonl").read_text().splitlines()]
    return [r for r in rows if r["split"] == "test"][:n]


def test_a_description_model_reads_the_scene_and_blind_drops_it(model, tmp_path):
    from jepa_vqa.config import load_config
    from worlds.config import WorldConfig
    from worlds.generate import generate_dataset

    cfg = load_config(
        WorldConfig, ROOT / "configs/world/tiny.yaml", ["num_clips=8", "voe.pairs=0", "workers=1"]
    )
    data = generate_dataset(cfg, tmp_path / "w", progress=False)
    model.config.perception = "description"
    try:
        res = evaluate_task(
            model,
            "world-qa",
            data=str(data),
            limit=3,
            out_dir=tmp_path / "out",
            config=EvalConfig(batch_size=3, max_new_tokens=2, n_boot=50),
            progress=False,
        )
    finally:
        model.config.perception = "video"
    assert set(res["controls"]) == {"blind", "chance", "majority"}  # frame controls mean nothing here
    samples = [json.loads(s) for s in (tmp_path / "out" / "samples.jsonl").read_text().splitlines()]
    assert {s["condition"] for s in samples} == {"model", "blind"}
    model_prompt = next(s for s in samples if s["condition"] == "model")
    assert model_prompt["prompt"].startswith("Scene: A ")  # the ground truth, in words
    assert not next(s for s in samples if s["condition"] == "blind")["prompt"].startswith("Scene:")


def _run(args: list[str], launcher: list[str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, *launcher, "-m", "eval.run", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=400,
    )


@pytest.mark.slow
def test_two_process_run_equals_single_process(model, world, tmp_path, accelerate_two_cpus):
    model_dir = model.save_pretrained(tmp_path / "model")
    common = [
        "--model",
        str(model_dir),
        "--task",
        "world-qa",
        "--data",
        str(world),
        "--limit",
        "7",
        "--quiet",
        "batch_size=2",
        "max_new_tokens=4",
        "n_boot=100",
    ]
    single = _run([*common, "--out", str(tmp_path / "single")], [])
    assert single.returncode == 0, single.stderr[-2000:]
    launch = accelerate_two_cpus
    multi = _run([*common, "--out", str(tmp_path / "multi")], launch)
    assert multi.returncode == 0, multi.stderr[-2000:]
    a = json.loads((tmp_path / "single" / "results.json").read_text())
    b = json.loads((tmp_path / "multi" / "results.json").read_text())
    assert a["timings"]["num_processes"] == 1 and b["timings"]["num_processes"] == 2
    assert a["metrics"] == b["metrics"] and a["controls"] == b["controls"]
    assert (tmp_path / "single" / "samples.jsonl").read_text() == (
        tmp_path / "multi" / "samples.jsonl"
    ).read_text()
    assert len((tmp_path / "multi" / "samples.jsonl").read_text().splitlines()) == 7 * 4
    # --compare puts both runs in one table.
    table = subprocess.run(
        [sys.executable, "-m", "eval.run", "--compare", str(tmp_path / "single"), str(tmp_path / "multi")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert table.returncode == 0, table.stderr
    lines = table.stdout.strip().splitlines()
    assert lines[0].startswith("| run | task | model |") and len(lines) == 4
    assert lines[2].split("|")[5] == lines[3].split("|")[5]  # the same accuracy cell
    assert lines[3].split("|")[-2].strip() == "1.000"  # the same choices


def test_bench_eval_times_shared_rows_against_one_row_per_question(model, world):
    """`jepa-vqa bench eval`: every condition timed in both settings, which choose alike."""
    from eval.bench import bench_eval
    from eval.registry import get_task

    examples = get_task("world-qa").load(str(world))[:8]
    assert len({ex.video for ex in examples}) < len(examples)  # some clips have several questions
    result = bench_eval(model, examples, rounds=1, batch_size=4, generation=True)
    for cond in ("model", "blind", "shuffled", "single_frame", "total"):
        figures = result[cond]
        assert figures["one_per_row_q_per_s"] > 0 and figures["shared_rows_q_per_s"] > 0
        assert figures["speedup"] > 0
    assert result["choice_agreement"] == result["generation_agreement"] == 1.0 and result["questions"] == 8
    assert model.questions_per_row == 8 and "cpu" in result["hardware"]


def test_bench_eval_cli_rejects_a_non_qa_task(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "cli", "bench", "eval", "--data", str(tmp_path), "--task", "world-voe"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert out.returncode == 2 and "QA tasks" in out.stderr and "Traceback" not in out.stderr
