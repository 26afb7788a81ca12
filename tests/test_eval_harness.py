"""The eval harness end to end: registry, adapters on fixtures, controls in the loop, outputs, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from eval.config import EvalConfig
from eval.registry import get_task, list_tasks
from eval.run import evaluate_task
from eval.testing import make_msrvtt_qa, make_mvbench, make_nextqa, make_perceptiontest, make_world_dataset
from jepa_vqa.errors import UserError

ROOT = Path(__file__).resolve().parent.parent
FAST = EvalConfig(batch_size=4, max_new_tokens=4, n_boot=100)


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return make_world_dataset(tmp_path_factory.mktemp("world"), clips=6, voe_pairs=2)


class PixelSpy:
    """A stand-in VLM that answers from the pixels it is given and records every call.

    Frames in time order (brightening) -> "A"; any other order -> "B"; all frames equal -> "C";
    no video -> an unparseable reply. So each condition's accuracy is known from the gold letters.
    """

    def __init__(self):
        self.calls = []

    def load_frames(self, path):
        from encoder.video import read_frames

        return read_frames(path, num_frames=8)

    def format_question(self, question, options):
        return question + "".join(f"\n{chr(65 + i)}. {o}" for i, o in enumerate(options or []))

    def answer_batch(self, videos, questions, options=None, **generation):
        self.calls.append(
            {"videos": videos, "questions": questions, "options": options, "generation": generation}
        )
        out = []
        for video in videos:
            if video is None:
                out.append("I cannot see anything.")
                continue
            mean = video.float().mean(dim=(1, 2, 3))  # (T,)
            if torch.all(mean == mean[0]):
                out.append("C")
            elif torch.all(mean[1:] > mean[:-1]):
                out.append("(A)")
            else:
                out.append("The answer is B.")
        return out


def test_registry_lists_builtins_and_rejects_unknown():
    names = {t.name for t in list_tasks()}
    assert {
        "world-qa",
        "world-qa-compositional",
        "world-voe",
        "probe-motion",
        "probe-count",
        "probe-collision",
        "mvbench",
        "nextqa-mc",
        "perceptiontest-mc",
        "msvd-qa",
        "msrvtt-qa",
    } <= names
    with pytest.raises(UserError, match="unknown task 'nope'.*world-qa"):
        get_task("nope")
    with pytest.raises(UserError, match="needs --data"):
        get_task("world-qa").load(None)


def test_world_loaders_pick_their_split(world):
    test = get_task("world-qa").load(str(world))
    comp = get_task("world-qa-compositional").load(str(world))
    assert len(test) == 9 and len(comp) == 3
    assert {e.type for e in test} == {"motion", "count", "collision"}
    assert {e.kind for e in test} == {"choice", "number", "yes_no"}
    assert all(e.video and e.video.endswith(".mp4") for e in test)
    assert not {e.id for e in test} & {e.id for e in comp}


def test_public_benchmark_adapters_on_fixtures(tmp_path):
    mv = get_task("mvbench").load(str(make_mvbench(tmp_path / "mv", per_task=2)))
    assert len(mv) == 4 and {e.type for e in mv} == {"action_sequence", "object_shuffle"}
    assert mv[0].options == ["up", "down", "left", "right"] and mv[0].answer in mv[0].options
    nx = get_task("nextqa-mc").load(str(make_nextqa(tmp_path / "nx", n=3)))
    assert [e.answer for e in nx] == ["right", "left", "down"] and len(nx[0].options) == 5
    assert {e.type for e in nx} == {"CW", "TN"} and nx[0].video.endswith("1000.mp4")
    pt = get_task("perceptiontest-mc").load(str(make_perceptiontest(tmp_path / "pt", n=2)))
    assert [e.answer for e in pt] == ["right", "left"] and {e.type for e in pt} == {"memory", "physics"}
    ms = get_task("msrvtt-qa").load(str(make_msrvtt_qa(tmp_path / "ms", n=2)))
    assert [e.kind for e in ms] == ["open", "open"] and [e.type for e in ms] == ["how", "what"]
    assert ms[1].video.endswith("video7001.mp4")


def test_adapter_from_saved_hf_dataset_and_missing_video(tmp_path):
    import datasets

    make_perceptiontest(tmp_path / "pt", n=2)
    rows = [json.loads(line) for line in (tmp_path / "pt" / "test.jsonl").read_text().splitlines()]
    datasets.DatasetDict({"test": datasets.Dataset.from_list(rows)}).save_to_disk(str(tmp_path / "hf"))
    (tmp_path / "hf" / "videos").symlink_to(tmp_path / "pt" / "videos")
    ex = get_task("perceptiontest-mc").load(str(tmp_path / "hf"))
    assert [e.answer for e in ex] == ["right", "left"]
    (tmp_path / "pt" / "videos" / "video_1.mp4").unlink()
    with pytest.raises(UserError, match="video 'video_1' not found"):
        get_task("perceptiontest-mc").load(str(tmp_path / "pt"))
    with pytest.raises(UserError, match="data not found"):
        get_task("msvd-qa").load(str(tmp_path / "nowhere"))


def test_controls_reach_the_model_and_scores_follow(world, tmp_path):
    spy = PixelSpy()
    res = evaluate_task(
        spy, "world-qa", data=str(world), out_dir=tmp_path / "out", config=FAST, progress=False
    )
    conditions = ["model", "blind", "shuffled", "single_frame"]
    assert len(spy.calls) == 3 * len(conditions)  # 9 examples, batches of 4
    first = spy.calls[:4]
    frames, blind, shuffled, single = (c["videos"][0] for c in first)
    assert blind is None and all(v is None for v in first[1]["videos"])
    order = frames.float().mean(dim=(1, 2, 3)).argsort()
    assert torch.equal(order, torch.arange(8))  # the model condition sees frames in time order
    assert sorted(shuffled.flatten().tolist()) == sorted(frames.flatten().tolist())  # a permutation
    assert not torch.equal(shuffled, frames)
    assert all(torch.equal(single[i], frames[4]) for i in range(8))  # the middle frame repeated
    assert (
        first[0]["options"][0] == ["right", "left", "down", "up"]
        and first[0]["generation"]["max_new_tokens"] == 4
    )
    # Scores: the spy says A (in order), B (shuffled), C (single frame); gold letters are known.
    examples = get_task("world-qa").load(str(world))
    mc = [e for e in examples if e.kind == "choice"]
    gold = [e.options.index(e.answer) for e in mc]
    motion = {
        c: (res["metrics"] if c == "model" else res["controls"][c])["by_type"]["motion"] for c in conditions
    }
    assert motion["model"]["accuracy"] == pytest.approx(sum(g == 0 for g in gold) / len(mc))
    assert motion["shuffled"]["accuracy"] == pytest.approx(sum(g == 1 for g in gold) / len(mc))
    assert motion["single_frame"]["accuracy"] == pytest.approx(sum(g == 2 for g in gold) / len(mc))
    assert motion["blind"]["accuracy"] == 0.0
    # Unparseable replies are counted and quoted; number/yes-no questions get letters -> unparsed.
    assert res["controls"]["blind"]["unparsed"]["count"] == 9
    assert res["metrics"]["unparsed"]["count"] == 6 and res["metrics"]["unparsed"]["examples"]
    # Data baselines: chance 1/4 on 4 options; majority from the train split.
    assert res["controls"]["chance"]["by_type"]["motion"]["accuracy"] == 0.25
    assert res["controls"]["majority"]["source"] == "train split"
    assert res["controls"]["majority"]["by_type"]["count"]["accuracy"] == 1.0


def test_outputs_written(world, tmp_path):
    out = tmp_path / "out"
    evaluate_task(PixelSpy(), "world-qa", data=str(world), limit=5, out_dir=out, config=FAST, progress=False)
    assert {p.name for p in out.iterdir()} == {"results.json", "samples.jsonl", "report.md", "accuracy.png"}
    res = json.loads((out / "results.json").read_text())
    assert res["task"] == "world-qa" and res["model"] == "PixelSpy" and res["num_examples"] == 5
    assert res["limit"] == 5 and res["config"]["batch_size"] == 4 and "git_commit" in res
    assert res["timings"]["total_s"] > 0 and set(res["timings"]["per_condition_s"]) == {
        "model",
        "blind",
        "shuffled",
        "single_frame",
    }
    lo, hi = res["metrics"]["overall"]["ci"]
    assert lo <= res["metrics"]["overall"]["accuracy"] <= hi
    samples = [json.loads(s) for s in (out / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 5 * 4
    assert {"prompt", "response", "parsed", "correct", "condition", "answer", "subtype"} <= set(samples[0])
    assert samples[0]["prompt"].endswith("D. up")
    subtypes = {f"{s['type']}/{s['subtype']}" if s["subtype"] else s["type"] for s in samples}
    assert set(res["metrics"]["by_subtype"]) == subtypes and "count/all" in subtypes
    assert sum(m["n"] for m in res["metrics"]["by_subtype"].values()) == 5
    report = (out / "report.md").read_text()
    for needle in (
        "## Overall",
        "## Per question type",
        "## Per question subtype",
        "| motion |",
        "single_frame",
        "majority",
        "Unparseable",
    ):
        assert needle in report
    assert (out / "accuracy.png").read_bytes()[:4] == b"\x89PNG"


def test_no_controls_runs_only_the_model(world, tmp_path):
    spy = PixelSpy()
    res = evaluate_task(
        spy,
        "world-qa",
        data=str(world),
        limit=4,
        out_dir=tmp_path / "o",
        controls=False,
        config=EvalConfig(batch_size=4, n_boot=50),
        progress=False,
    )
    assert len(spy.calls) == 1 and res["controls"] == {}
    assert "blind" not in (tmp_path / "o" / "report.md").read_text()


def test_voe_pure_parts():
    from eval.voe import frame_ends, pair_score, post_event, score_pairs

    # 16 frames, tubelet 2 -> 8 time steps; the curve covers steps 1..7 (7 values).
    ends = frame_ends(7, 16, 8)
    assert ends == [4.0, 6.0, 8.0, 10.0, 12.0, 14.0, 16.0]
    assert post_event([1, 2, 3, 4, 5, 6, 7], ends, event_frame=9) == [4, 5, 6, 7]
    assert post_event([1, 2], [4.0, 8.0], event_frame=99) == [1, 2]
    assert (pair_score(1.0, 2.0), pair_score(2.0, 1.0), pair_score(1.0, 1.0)) == (1.0, 0.0, 0.5)
    curves = {"p": [1.0, 1.0, 1.0, 1.0], "i": [5.0, 1.0, 2.0, 1.5]}
    # Four values = steps 4..7, ending at frames 10, 12, 14, 16: only the last three are after frame 11.
    pairs = [{"id": "x", "kind": "vanish", "possible": "p", "impossible": "i", "event_frame": 11}]
    row = score_pairs(pairs, curves.__getitem__, num_frames=16, time_steps=8)[0]
    assert row["impossible_max"] == 2.0 and row["impossible_mean"] == 1.5  # the pre-event 5.0 is ignored
    assert row["correct_max"] == 1.0 and row["event_step"] == 1


def test_world_voe_runs_random_encoder(world, tmp_path):
    res = evaluate_task(
        "random:test", "world-voe", data=str(world), out_dir=tmp_path / "voe", config=FAST, progress=False
    )
    m = res["metrics"]
    assert res["model"] == "random:test" and res["num_examples"] == 2 and m["reduce"] == "max"
    assert 0.0 <= m["pairwise"]["overall"]["accuracy"] <= 1.0 and m["pairwise"]["overall"]["n"] == 2
    assert set(m["pairwise"]["by_type"]) == {"vanish", "teleport"}
    rows = [json.loads(s) for s in (tmp_path / "voe" / "samples.jsonl").read_text().splitlines()]
    assert len(rows[0]["possible_curve"]) == m["time_steps"] - 1
    assert (tmp_path / "voe" / "surprise_curves.png").is_file()
    assert "post-event max" in (tmp_path / "voe" / "report.md").read_text()


def test_probe_label_baselines(world):
    from eval.probes import label_baselines, load_labels

    labels = load_labels(world, "direction")
    assert sorted(labels) == ["test", "test-compositional", "train"]
    base = label_baselines(labels)
    assert base["chance"]["accuracy"] == 0.25 and base["chance"]["classes"] == 4
    # Train clips go right, left (a tie: the first wins); test clips go down, up, right.
    assert base["majority"]["label"] == "right" and base["majority"]["accuracy"] == pytest.approx(1 / 3)
    with pytest.raises(UserError, match="no label 'speed'"):
        load_labels(world, "speed")


def test_default_model_missing_is_a_user_error(world, tmp_path, monkeypatch):
    import vlm.model

    monkeypatch.setattr(vlm.model, "default_model_path", lambda: tmp_path / "no-default")
    with pytest.raises(UserError, match="default model"):
        evaluate_task(None, "world-qa", data=str(world), out_dir=tmp_path / "o", config=FAST)


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["--task", "nope", "--out", "OUT"], "unknown task 'nope'"),
        (["--task", "world-qa", "--data", "MISSING", "--model", "x", "--out", "OUT"], "no qa.jsonl found"),
        (["--task", "world-qa", "--model", "x", "--out", "OUT"], "needs --data"),
        (["--task", "world-qa", "--data", "MISSING"], "--out is required"),
        (["--task", "world-qa", "--data", "MISSING", "--out", "OUT", "batch_size=0"], "batch_size"),
        (
            ["--task", "world-voe", "--data", "MISSING", "--model", "random:test", "--out", "OUT"],
            "no voe.jsonl",
        ),
        (["--compare", "MISSING"], "no results.json"),
    ],
)
def test_cli_errors_exit_2(argv, needle, tmp_path, capsys):
    from eval.run import main

    argv = [
        a.replace("MISSING", str(tmp_path / "missing")).replace("OUT", str(tmp_path / "out")) for a in argv
    ]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and needle in err and len(err.splitlines()) == 1


def test_jepa_vqa_eval_command(world, tmp_path, capsys):
    from cli.main import main

    assert main(["eval", "--task", "bogus", "--out", str(tmp_path / "o")]) == 2
    assert "unknown task" in capsys.readouterr().err
    assert main(["eval", "--list"]) == 0
    assert "world-voe" in capsys.readouterr().out


def test_probe_task_wraps_train_probe(world, tmp_path):
    res = evaluate_task(
        "random:test",
        "probe-count",
        data=str(world),
        out_dir=tmp_path / "p",
        config=EvalConfig(n_boot=50, probe={"epochs": 2}),
        progress=False,
    )
    m = res["metrics"]
    assert res["runner"] == "probe" and m["label"] == "count" and m["num_test"] == 3
    assert 0.0 <= m["accuracy"] <= 1.0 and m["overall"]["ci"][0] <= m["accuracy"] <= m["overall"]["ci"][1]
    assert m["probe"]["classes"] == ["1"] and m["baselines"]["chance"]["accuracy"] == 1.0
    assert "trained on the train clips" in (tmp_path / "p" / "report.md").read_text()


def test_real_worlds_dataset_schema(tmp_path):
    from jepa_vqa.config import load_config
    from worlds.config import WorldConfig
    from worlds.generate import generate_dataset

    cfg = load_config(WorldConfig, ROOT / "configs/world/tiny.yaml", ["num_clips=8", "voe.pairs=2"])
    data = generate_dataset(cfg, tmp_path / "w", progress=False)
    examples = get_task("world-qa").load(str(data))
    assert examples and all(e.kind == "choice" and e.answer in e.options for e in examples)
    res = evaluate_task(
        PixelSpy(),
        "world-qa",
        data=str(data),
        limit=6,
        out_dir=tmp_path / "o",
        config=EvalConfig(batch_size=6, n_boot=50),
        progress=False,
    )
    assert res["num_examples"] == 6 and set(res["metrics"]["by_type"]) <= set(cfg.qa.types)
    from eval.voe import load_pairs

    pairs = load_pairs(data)
    assert len(pairs) == 2 and all(Path(p["possible"]).is_file() for p in pairs)


def test_shipped_eval_configs_validate_and_voe_accepts_a_model_dir(tmp_path):
    from eval.run import encoder_spec
    from jepa_vqa.config import load_config

    presets = sorted((ROOT / "configs" / "eval").glob("*.yaml"))
    assert presets
    for path in presets:
        assert isinstance(load_config(EvalConfig, path), EvalConfig)
    (tmp_path / "config.json").write_text(json.dumps({"format": "jepa-vqa", "encoder": "random:test"}))
    assert encoder_spec(str(tmp_path)) == "random:test"
    assert encoder_spec("random:tiny") == "random:tiny"


def test_question_types_select_the_examples(world, tmp_path):
    config = EvalConfig(batch_size=4, n_boot=50, question_types=["count", "motion"])
    res = evaluate_task(
        PixelSpy(), "world-qa", data=str(world), out_dir=tmp_path / "o", controls=False, config=config,
        progress=False,
    )  # fmt: skip
    assert set(res["metrics"]["by_type"]) == {"count", "motion"}
    with pytest.raises(UserError, match="not in the data"):
        evaluate_task(
            PixelSpy(), "world-qa", data=str(world), out_dir=tmp_path / "p", controls=False,
            config=EvalConfig(n_boot=50, question_types=["astrology"]), progress=False,
        )  # fmt: skip


def test_choice_agreement_counts_shared_questions_of_the_model_condition(tmp_path):
    from eval.report import choice_agreement

    def run(name: str, choices: dict) -> Path:
        d = tmp_path / name
        d.mkdir()
        rows = [{"id": k, "condition": "model", "choice": v} for k, v in choices.items()]
        rows.append({"id": "a", "condition": "blind", "choice": "never compared"})
        (d / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        return d

    fp32 = run("fp32", {"a": "red", "b": "2", "c": "up", "d": "left"})
    bf16 = run("bf16", {"a": "red", "b": "3", "c": "up", "e": "down"})  # d and e not shared
    assert choice_agreement(fp32, bf16) == pytest.approx(2 / 3)
    assert choice_agreement(fp32, fp32) == 1.0
    assert choice_agreement(fp32, tmp_path) is None  # no samples.jsonl
