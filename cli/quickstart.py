"""Rebuild the shipped default model from scratch: world -> pretrain -> align -> eval.

Run it::

    jepa-vqa quickstart                      # or: make default-model
    jepa-vqa quickstart --config configs/quickstart.yaml --out checkpoints/default pretrain.train.steps=100
    jepa-vqa quickstart encoder=checkpoints/default   # no pretraining: the shipped model's encoder

Each stage is the same library call its own command makes (``world``, ``pretrain``, ``align``,
``eval``), with the stage's YAML preset plus the overrides listed in the quickstart config. Work
files go to ``work_dir``; the final model dir (model card with the eval table) goes to ``--out``.
A stage whose output is already complete is skipped, so an interrupted quickstart resumes.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from jepa_vqa.cli import add_run_arguments
from jepa_vqa.config import load_config, save_config


@dataclass
class StageConfig:
    """One stage: a YAML preset and dotted overrides on top of it."""

    config: str = ""
    overrides: list[str] = field(default_factory=list)


@dataclass
class QuickstartConfig:
    work_dir: str = "runs/quickstart"
    world: StageConfig = field(default_factory=lambda: StageConfig("configs/world/tiny.yaml"))
    pretrain: StageConfig = field(default_factory=lambda: StageConfig("configs/pretrain/tiny.yaml"))
    align: StageConfig = field(default_factory=lambda: StageConfig("configs/align/tiny.yaml"))
    # an encoder to reuse instead of pretraining one: a pretraining run's dir or a VideoQA model dir
    # (``encoder=checkpoints/default``: align the current recipe on the shipped encoder)
    encoder: str = ""
    eval_task: str = "world-qa"
    eval_limit: int = 0  # 0 = the whole test split
    workers: int = 2  # processes writing the world

    def __post_init__(self) -> None:
        if self.eval_limit < 0 or self.workers < 1:
            raise ValueError("eval_limit must be >= 0 and workers >= 1")


def _banner(text: str) -> None:
    print(f"\n== {text} ==", flush=True)


def build_world(cfg: QuickstartConfig, work: Path) -> Path:
    from worlds.config import WorldConfig
    from worlds.generate import generate_dataset

    out = work / "world"
    if (out / "qa.jsonl").is_file():
        print(f"world: reusing {out}")
        return out
    world_cfg = load_config(WorldConfig, cfg.world.config, cfg.world.overrides)
    return generate_dataset(world_cfg, out, workers=cfg.workers)


def pretrain_encoder(cfg: QuickstartConfig, work: Path, world: Path) -> Path:
    from encoder.pretrain import PretrainConfig, pretrain

    if cfg.encoder:
        print(f"pretrain: reusing the encoder of {cfg.encoder}")
        return Path(cfg.encoder)
    out = work / "encoder"
    overrides = [f"data.path={world}", *cfg.pretrain.overrides]
    return pretrain(load_config(PretrainConfig, cfg.pretrain.config, overrides), out)


def align_model(cfg: QuickstartConfig, work: Path, world: Path, encoder_dir: Path) -> Path:
    from alignment.config import AlignConfig
    from alignment.train import train

    out = work / "align"
    overrides = [f"data.path={world}", f"encoder={encoder_dir}", *cfg.align.overrides]
    return train(load_config(AlignConfig, cfg.align.config, overrides), out)


def evaluate(cfg: QuickstartConfig, model_dir: Path, world: Path, work: Path) -> dict:
    from eval.run import evaluate_task

    return evaluate_task(
        str(model_dir), cfg.eval_task, data=str(world), limit=cfg.eval_limit or None, out_dir=work / "eval"
    )


def ship(
    model_dir: Path,
    encoder_dir: Path,
    out: Path,
    results: dict,
    seconds: float,
    report: Path,
    command: str = "jepa-vqa quickstart",
) -> None:
    """Copy the model files (not the run's cache and checkpoints) to ``out``, results in the card,
    plus the encoder's predictor so that the app can draw surprise curves."""
    from encoder.surprise import WORLD_MODEL_DIR, save_bundled_world_model
    from vlm.model import VideoQAModel

    model = VideoQAModel.from_pretrained(model_dir)
    card = dict(model.config.card)
    card["results"] = report.read_text() if report.is_file() else json.dumps(results.get("metrics", {}))
    card["quickstart"] = {"total time": f"{seconds / 60:.1f} min", "command": command}
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp, card=card)
    if (encoder_dir / "objective").is_dir():  # a pretraining run
        save_bundled_world_model(encoder_dir / "objective", tmp)
    elif (encoder_dir / WORLD_MODEL_DIR).is_dir():  # a model dir: its bundled world model
        shutil.copytree(encoder_dir / WORLD_MODEL_DIR, tmp / WORLD_MODEL_DIR)
    if out.exists():
        shutil.rmtree(out)
    tmp.replace(out)


def quickstart(cfg: QuickstartConfig, out: str | Path, command: str = "jepa-vqa quickstart") -> Path:
    """Run every stage (skipping finished ones) and write the final model dir to ``out``; the card
    names ``command`` as what made it."""
    work, out = Path(cfg.work_dir), Path(out)
    work.mkdir(parents=True, exist_ok=True)
    save_config(cfg, work / "quickstart.yaml")
    start = time.time()
    _banner("1/4 world")
    world = build_world(cfg, work)
    _banner("2/4 pretrain the JEPA encoder")
    encoder_dir = pretrain_encoder(cfg, work, world)
    _banner("3/4 align projector + LoRA")
    model_dir = align_model(cfg, work, world, encoder_dir)
    _banner("4/4 evaluate")
    results = evaluate(cfg, model_dir, world, work)
    seconds = time.time() - start
    ship(model_dir, encoder_dir, out, results, seconds, work / "eval" / "report.md", command)
    report = work / "eval" / "report.md"
    if report.is_file():
        print(report.read_text())
    print(f"quickstart: {seconds / 60:.1f} min; model written to {out}")
    return out


def _run(args: argparse.Namespace) -> int:
    cfg = load_config(QuickstartConfig, args.config, args.overrides)
    quickstart(cfg, args.out, " ".join(["jepa-vqa quickstart", *args.overrides]))
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("quickstart", help="rebuild the default model: world -> pretrain -> align -> eval")
    add_run_arguments(
        p,
        "quickstart preset (default: %(default)s)",
        "model dir to write (default: %(default)s)",
        config_default="configs/quickstart.yaml",
        out_default="checkpoints/default",
    )
    p.set_defaults(func=_run)
