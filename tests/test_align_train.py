"""alignment.train end to end on a tiny dataset: what trains, the feature cache, exact resume, CLI."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import datasets
import pytest
import torch
from test_align_helpers import make_dataset

from alignment.cache import FeatureCache
from alignment.config import AlignConfig
from alignment.data import load_qa, load_scenes
from alignment.model import build_model, set_stage, trainable_parameters
from alignment.train import Batches, _optimizer, train
from cli.main import main as cli_main
from jepa_vqa.config import load_config
from jepa_vqa.errors import ConfigError, UserError
from jepa_vqa.training import read_metrics

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
TEST_YAML = str(ROOT / "configs/align/test.yaml")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """(dataset dir, tiny LLM dir), built once for the module."""
    from vlm.testing import make_tiny_llm

    root = tmp_path_factory.mktemp("align")
    return make_dataset(root / "data"), make_tiny_llm(root / "llm")


def _cfg(tiny, *overrides: str) -> AlignConfig:
    data, llm = tiny
    return load_config(
        AlignConfig, TEST_YAML, [f"data.path={data}", f"llm={llm}", "stage1.data=qa", *overrides]
    )


def test_gradients_only_in_projector_then_lora(tiny, tmp_path):
    cfg = _cfg(tiny)
    model = build_model(cfg)
    ds = load_qa(cfg.data.path, "train")
    too_long = ds.select([0]).map(lambda r: {"question": "Why? " * 300})
    batches = Batches(
        model, datasets.concatenate_datasets([too_long, ds]), FeatureCache(model, tmp_path / "cache")
    )
    assert len(batches) == len(ds)  # the example over the LLM's context is skipped
    batch = batches([0, 1])
    assert batch["encoder_tokens"].shape[:2] == (2, model.grid[0] * model.grid[1] * model.grid[2])
    groups = trainable_parameters(model)
    projector = {id(p) for p in groups["projector"]}
    lora = {id(p) for p in groups["lora"]}
    for stage, allowed in ((1, projector), (2, projector | lora)):
        set_stage(model, stage)
        model.zero_grad(set_to_none=True)
        model(batch).backward()
        with_grad = {id(p) for p in model.parameters() if p.grad is not None and p.grad.abs().sum() > 0}
        assert with_grad and with_grad <= allowed
        assert with_grad & projector
        assert bool(with_grad & lora) == (stage == 2)  # LoRA B starts at 0, so A's grad is 0: B moves
    assert not any(p.requires_grad for p in model.encoder.parameters())


def test_feature_cache_hits_on_second_run(tiny, tmp_path):
    cfg = _cfg(tiny)
    model = build_model(cfg)
    videos = sorted(str(p) for p in (tiny[0] / "videos").glob("*.mp4"))[:3]
    first = FeatureCache(model, tmp_path / "cache")
    assert first.build(videos, batch_size=2, progress=False) == 3
    assert len(list((tmp_path / "cache").glob("*.safetensors"))) == 3
    second = FeatureCache(model, tmp_path / "cache")  # a new process: reads the disk cache
    assert second.build(videos, batch_size=2, progress=False) == 0 and second.encoded == 0
    tokens = second.batch(videos)  # (B, N, D)
    assert tokens.shape[0] == 3 and tokens.shape[2] == model.encoder.embed_dim
    torch.testing.assert_close(tokens, first.batch(videos))
    torch.testing.assert_close(tokens[0], model.encode_tokens(model.load_frames(videos[0]))[0])
    model.config.num_frames = 8  # another frame count is another key: encoded again
    assert FeatureCache(model, tmp_path / "cache").build(videos[:1], progress=False) == 1


def test_projector_input_statistics_come_from_the_training_clips(tiny, tmp_path):
    from alignment.train import fit_projector_inputs

    cfg = _cfg(tiny)
    model = build_model(cfg)
    videos = sorted(str(p) for p in (tiny[0] / "videos").glob("*.mp4"))[:3]
    cache = FeatureCache(model, tmp_path / "cache")
    cache.build(videos, batch_size=2, progress=False)
    assert fit_projector_inputs(model, videos + videos[:1], cache) == 3  # each clip counted once
    tokens = cache.batch(videos).reshape(-1, model.encoder.embed_dim)  # (3*N, D)
    torch.testing.assert_close(model.projector.input_mean, tokens.mean(0), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(model.projector.input_std, tokens.std(0, correction=0), rtol=1e-3, atol=1e-5)
    uncached = build_model(cfg)  # no cache (a tuned encoder): the same statistics from fresh encodes
    fit_projector_inputs(uncached, videos, None)
    torch.testing.assert_close(
        uncached.projector.input_mean, model.projector.input_mean, rtol=1e-4, atol=1e-5
    )


def test_per_position_input_statistics(tiny, tmp_path):
    from alignment.train import fit_projector_inputs

    grid = build_model(_cfg(tiny)).grid  # (T', H', W') of the test encoder
    model = build_model(_cfg(tiny, f"projector.input_positions={grid[0] * grid[1] * grid[2]}"))
    videos = sorted(str(p) for p in (tiny[0] / "videos").glob("*.mp4"))[:3]
    cache = FeatureCache(model, tmp_path / "cache")
    cache.build(videos, batch_size=2, progress=False)
    fit_projector_inputs(model, videos, cache)
    tokens = cache.batch(videos)  # (3, N, D)
    torch.testing.assert_close(model.projector.input_mean, tokens.mean(0), rtol=1e-4, atol=1e-5)
    within = tokens.var(0, correction=0).mean(0).sqrt()  # (D,): one scale per channel
    torch.testing.assert_close(model.projector.input_std, within.expand_as(tokens[0]), rtol=1e-3, atol=1e-5)


def test_video_reliance_compares_own_other_and_no_video(tiny):
    from alignment.video_reliance import main, video_reliance

    model = build_model(_cfg(tiny))
    result = video_reliance(model, str(tiny[0]), rows=4, per_row=2)
    assert result["rows"] == 4 and set(result) >= {"own", "other", "zeros", "gap"}
    assert result["own"] != result["zeros"]  # the video tokens reach the loss
    assert result["gap"] == pytest.approx(result["other"] - result["own"])
    assert main(["--model", str(tiny[0] / "missing"), "--data", str(tiny[0])]) == 2


def test_video_reliance_cli_with_the_adapter_switched_off(tiny, tmp_path, capsys):
    from alignment.video_reliance import main

    build_model(_cfg(tiny)).save_pretrained(tmp_path / "model")
    argv = ["--model", str(tmp_path / "model"), "--data", str(tiny[0]), "--rows", "2"]
    assert main(argv) == 0 and main([*argv, "--no-adapter"]) == 0
    with_adapter, without = (json.loads(line) for line in capsys.readouterr().out.splitlines()[-2:])
    assert with_adapter["adapter"] is True and without["adapter"] is False
    assert without["own"] == pytest.approx(with_adapter["own"])  # a fresh LoRA adds zero


def test_video_reliance_on_descriptions_of_a_generated_world(tiny, tmp_path):
    from alignment.video_reliance import video_reliance
    from worlds.config import WorldConfig
    from worlds.generate import generate_dataset

    world_cfg = load_config(WorldConfig, ROOT / "configs/world/tiny.yaml", ["num_clips=6", "voe.pairs=0"])
    world = generate_dataset(world_cfg, tmp_path / "world", progress=False)
    llm = Path(tiny[1])
    config = json.loads((llm / "config.json").read_text())  # byte-level descriptions need > 512 tokens
    long_llm = tmp_path / "llm"
    shutil.copytree(llm, long_llm)
    (long_llm / "config.json").write_text(json.dumps({**config, "max_position_embeddings": 2048}))
    model = build_model(_cfg(tiny, f"data.path={world}", f"llm={long_llm}"))
    qa = video_reliance(model, str(world), rows=2)
    captions = video_reliance(model, str(world), rows=2, kind="descriptions")
    assert captions["kind"] == "descriptions" and captions["rows"] == 2
    assert captions["own"] != qa["own"]  # the loss of another text: the clips' descriptions
    assert captions["own"] != captions["zeros"]


def test_questions_about_a_clip_share_a_row(tiny, tmp_path):
    cfg = _cfg(tiny, "stage2.questions_per_row=4", "train.steps=4", "stage1.steps=1")
    model = build_model(cfg)
    ds = load_qa(cfg.data.path, "train")  # 8 clips, 2 questions each
    batches = Batches(model, ds, FeatureCache(model, tmp_path / "cache"), questions_per_row=4)
    assert len(batches) == len(set(ds["video"])) == 8
    batch = batches([0, 1])
    assert batch["attention_mask"].ndim == 4 and batch["encoder_tokens"].shape[0] == 2
    separate = Batches(model, ds.select(range(4)), None, progress=False)  # clips 0 and 1, one per row
    assert (batch["labels"] != -100).sum() == (separate([0, 1, 2, 3])["labels"] != -100).sum()
    out = train(cfg, tmp_path / "run")
    losses = [r["loss"] for r in read_metrics(out / "metrics.jsonl")]
    assert len(losses) == 4 and all(torch.isfinite(torch.tensor(losses)))


def test_exact_resume(tiny, tmp_path):
    over = ["train.steps=6", "stage1.steps=2", "train.checkpoint_every=100", "stage2.lora.dropout=0.1"]
    straight = read_metrics(train(_cfg(tiny, *over), tmp_path / "a") / "metrics.jsonl")
    train(_cfg(tiny, *over, "train.stop_at=3"), tmp_path / "b")
    assert not (tmp_path / "b" / "config.json").exists()  # no model dir before the end
    resumed = read_metrics(train(_cfg(tiny, *over), tmp_path / "b") / "metrics.jsonl")
    assert [r["step"] for r in resumed] == [1, 2, 3, 4, 5, 6]
    for a, b in zip(straight, resumed):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-5, abs=1e-6), (a, b)
        assert a["lr"] == b["lr"] and a["stage"] == b["stage"]
    with pytest.raises(UserError, match="'stage2.lr' was 0.001, now 0.5"):
        train(_cfg(tiny, *over, "stage2.lr=0.5"), tmp_path / "b")


def test_cli_end_to_end_loss_falls_and_model_loads(tiny, tmp_path, capsys):
    from vlm.model import VideoQAModel

    data, llm = tiny
    out = tmp_path / "run"
    code = cli_main(
        [
            "align",
            "--config",
            TEST_YAML,
            "--out",
            str(out),
            f"data.path={data}",
            f"llm={llm}",
            "stage1.data=qa",
            "train.steps=24",
            "stage1.steps=4",
            "train.batch_size=4",
            "stage1.lr=0.01",
            "stage2.lr=0.01",
            "train.precision=fp32",  # the same arithmetic on every CPU, bf16 units or not
        ]
    )
    assert code == 0
    for name in (
        "config.json",
        "projector.safetensors",
        "adapter",
        "README.md",
        "metrics.jsonl",
        "loss.png",
        "align_config.yaml",
        "checkpoint",
    ):
        assert (out / name).exists(), name
    losses = [r["loss"] for r in read_metrics(out / "metrics.jsonl")]
    assert len(losses) == 24 and sum(losses[-3:]) / 3 < 0.6 * sum(losses[:3]) / 3
    card = (out / "README.md").read_text()
    assert "Training data" in card and "hardware" in card and str(data) in card
    model = VideoQAModel.from_pretrained(out)
    assert model.is_lora and json.loads((out / "config.json").read_text())["lora"]["rank"] == 4
    assert not torch.equal(model.projector.input_std, torch.ones_like(model.projector.input_std))  # saved
    video = str(data / "videos" / "test-0.mp4")
    assert isinstance(
        model.answer(video, "What colour is the square?", options=["red", "blue"], max_new_tokens=2), str
    )

    capsys.readouterr()
    assert cli_main(["align", "--config", TEST_YAML, "--out", str(tmp_path / "x"), "train.stepz=3"]) == 2
    assert "train.stepz" in capsys.readouterr().err
    assert (
        cli_main(["align", "--config", TEST_YAML, "--out", str(tmp_path / "x"), f"data.path={tmp_path}/no"])
        == 2
    )
    assert "not found" in capsys.readouterr().err


def test_tuning_last_encoder_block_trains_it_without_a_cache(tiny, tmp_path):
    cfg = _cfg(tiny, "encoder_tuning.last_blocks=1", "train.steps=2", "stage1.steps=1")
    assert not cfg.use_cache
    model = build_model(cfg)
    groups = trainable_parameters(model)
    batch = Batches(model, load_qa(cfg.data.path, "train"), cache=None)([0, 1])
    assert batch["frames"].dtype == torch.uint8 and "encoder_tokens" not in batch
    model(batch).backward()
    tuned = {id(p) for p in groups["encoder"]}
    assert tuned and all(p.grad is not None for p in groups["encoder"])
    assert all(p.grad is None for p in model.encoder.parameters() if id(p) not in tuned)
    out = train(cfg, tmp_path / "run")
    assert not (out / "cache").exists() and (out / "encoder.safetensors").is_file()


@pytest.mark.parametrize("perception", ["description", "none"])
def test_text_bound_and_blind_recipes_train_without_video(tiny, tmp_path, perception):
    """The perfect-perception bound reads the ground-truth scene in words; the blind-trained control
    reads nothing. Both skip stage 1 (no projector to train) and run the same stage-2 steps."""
    from jepa_vqa.config import load_config as load
    from vlm.model import VideoQAModel
    from worlds.config import WorldConfig
    from worlds.generate import generate_dataset

    world = generate_dataset(
        load(WorldConfig, ROOT / "configs/world/tiny.yaml", ["num_clips=6", "voe.pairs=0", "workers=1"]),
        tmp_path / "world",
        progress=False,
    )
    _, llm = tiny
    cfg = load_config(
        AlignConfig,
        TEST_YAML,
        [f"data.path={world}", f"llm={llm}", f"perception={perception}", "train.steps=4"],
    )
    assert not cfg.use_cache and cfg.first_step == cfg.stage1.steps
    out = train(cfg, tmp_path / "run")
    steps = [r["step"] for r in read_metrics(out / "metrics.jsonl")]
    assert steps == list(range(cfg.stage1.steps + 1, cfg.train.steps + 1))  # stage 2 only
    assert not (out / "cache").exists()
    model = VideoQAModel.from_pretrained(out)
    assert model.config.perception == perception
    scenes = load_scenes(world) if perception == "description" else None
    batch = Batches(model, load_qa(world, "train"), None, progress=False, scenes=scenes)(
        [0]
    )  # char-level tiny vocab: 1 per row
    assert not batch["video_mask"].any() and "frames" not in batch
    prompt = model.tokenizer.decode(batch["input_ids"][0])
    assert ("Scene: A " in prompt) == (perception == "description")


def test_bench_align_times_real_steps_phase_by_phase(tiny, capsys):
    from alignment.bench import PHASES, answers_in

    labels = torch.tensor([[-100, 5, 6, -100, 7, -100], [8, -100, -100, -100, -100, 9]])
    assert answers_in(labels) == 4  # spans [5 6], [7], [8], [9]
    data, llm = tiny
    args = [f"data.path={data}", f"llm={llm}", "stage1.data=qa", "stage2.questions_per_row=2"]
    assert (
        cli_main(["bench", "align", "--config", TEST_YAML, "--steps", "2", "--threads", "1", "--json", *args])
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert report["stage"] == 2 and report["answers_per_step"] == 4  # 2 rows x 2 questions
    assert set(report["phases_ms"]) == set(PHASES) and report["phases_ms"]["llm forward"] > 0
    assert report["answers_per_s"] > 0 and report["precision"] in ("fp32", "bf16")
    assert "cpu_flags" in report["hardware"]


def test_bf16_keeps_the_frozen_llm_in_bf16_and_what_trains_in_fp32(tiny, tmp_path):
    from jepa_vqa.precision import autocast

    model = build_model(_cfg(tiny), precision="bf16")
    groups = trainable_parameters(model)
    trained = {id(p) for ps in groups.values() for p in ps}
    frozen_llm = [p for p in model.llm.parameters() if id(p) not in trained]
    assert frozen_llm and all(p.dtype == torch.bfloat16 for p in frozen_llm)
    assert all(p.dtype == torch.float32 for ps in groups.values() for p in ps)  # fp32 master weights
    set_stage(model, 2)
    batch = Batches(model, load_qa(tiny[0], "train"), FeatureCache(model, tmp_path / "cache"))([0, 1])
    with autocast("bf16", "cpu"):
        loss = model(batch)
    loss.backward()
    assert torch.isfinite(loss) and all(p.grad.dtype == torch.float32 for p in groups["lora"])


def test_projector_has_its_own_stage2_lr(tiny):
    from alignment.train import _set_lr

    cfg = _cfg(tiny, "train.steps=10", "stage1.steps=4", "stage1.lr=0.002", "stage2.lr=0.001",
               "stage2.projector_lr=0.01", "train.warmup=0")  # fmt: skip
    groups = {name: [torch.nn.Parameter(torch.zeros(1))] for name in ("projector", "lora")}
    opt = _optimizer(cfg, groups)
    lrs = lambda: {g["name"]: g["lr"] for g in opt.param_groups}  # noqa: E731
    assert _set_lr(cfg, opt, 0) == 0.002 and lrs() == {"projector": 0.002, "lora": 0.002}  # stage 1: one lr
    assert _set_lr(cfg, opt, 4) == 0.001 and lrs() == {"projector": pytest.approx(0.01), "lora": 0.001}
    with pytest.raises(ConfigError, match="projector_lr"):
        _cfg(tiny, "stage2.projector_lr=-1")


def test_stage1_on_qa_groups_a_clips_questions_like_stage2(tiny):
    qa = _cfg(tiny, "stage2.questions_per_row=4")  # _cfg trains stage 1 on QA
    assert qa.questions_per_row(1) == qa.questions_per_row(2) == 4
    described = _cfg(tiny, "stage2.questions_per_row=4", "stage1.data=descriptions")
    assert described.questions_per_row(1) == 1 and described.questions_per_row(2) == 4


def test_a_share_of_questions_is_asked_without_options(tiny):
    model = build_model(_cfg(tiny))
    ds = load_qa(_cfg(tiny).data.path, "train").select(range(8))
    assert all(len(o) >= 2 for o in ds["options"])

    def prompts(fraction: float) -> list[str]:
        batches = Batches(model, ds, None, progress=False, open_fraction=fraction)
        return [model.tokenizer.decode(item.input_ids) for item in batches.items]

    assert all("Options:" in p for p in prompts(0.0))
    assert not any("Options:" in p for p in prompts(1.0))
    half = prompts(0.5)
    assert half == prompts(0.5)  # a fixed draw per question: every rank and resume asks alike
    assert 0 < sum("Options:" in p for p in half) < len(half)
    with pytest.raises(ConfigError, match="open_fraction"):
        _cfg(tiny, "stage2.open_fraction=1.5")
