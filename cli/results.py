"""The main results table: the same alignment recipe on several inputs, each evaluated with controls.

Each variant is ``jepa-vqa align`` with the recipe's YAML plus the variant's overrides (another
encoder, or ``perception=description``: the ground-truth scene in words, the perfect-perception
bound; ``perception=none``: no input at all, the blind-trained control), then ``jepa-vqa eval``.
Finished stages are reused, so an interrupted run resumes::

    jepa-vqa results                                   # configs/results.yaml
    jepa-vqa results --config configs/results.yaml eval_limit=200 "variants=[...]"

It prints (and writes to ``WORK_DIR/results.md``) one table: a row per variant and condition
(model, blind, shuffled), a column per question type, accuracies with 95% CIs.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass, field
from pathlib import Path

from jepa_vqa.cli import add_run_arguments
from jepa_vqa.config import load_config, read_json, save_config
from jepa_vqa.errors import UserError


@dataclass
class Variant:
    name: str = ""  # the row label (its slug names the run's dir under work_dir)
    overrides: list[str] = field(default_factory=list)  # on top of the recipe, e.g. perception=description
    # an aligned model dir of exactly this recipe and these overrides (e.g. `make default-model`'s
    # runs/quickstart/align): evaluated as it is instead of aligned again; a different recipe is an error
    model: str = ""

    @property
    def slug(self) -> str:
        """The variant's dir name: its name in lower case, runs of other characters as one '-'."""
        return re.sub(r"[^a-z0-9]+", "-", self.name.lower()).strip("-")


@dataclass
class ResultsConfig:
    work_dir: str = "runs/results"
    world: str = "runs/quickstart/world"  # a worlds dataset dir (jepa-vqa world / quickstart)
    align_config: str = "configs/align/tiny.yaml"  # the one recipe every variant shares
    align_overrides: list[str] = field(default_factory=list)
    variants: list[Variant] = field(default_factory=list)
    eval_limit: int = 0  # test questions per variant (0: all)
    question_types: list[str] = field(default_factory=list)  # [] = every type
    controls: list[str] = field(default_factory=lambda: ["blind", "shuffled"])
    # also free generation (each report.md's second metric); the table is the likelihood choice
    generation: bool = False

    def __post_init__(self) -> None:
        names = [v.slug for v in self.variants]
        if not names or any(not n for n in names) or len(set(names)) != len(names):
            raise ValueError("variants need unique, non-empty names (and at least one variant)")
        if self.eval_limit < 0:
            raise ValueError("eval_limit must be >= 0")


def same_recipe(model_dir: Path, recipe) -> Path:
    """``model_dir`` if it was aligned with exactly ``recipe`` (its saved align_config.yaml; settings
    that do not change what is trained, such as log_every, aside), else a UserError naming the keys
    that differ."""
    from alignment.config import AlignConfig
    from alignment.train import run_identity

    saved_path = model_dir / "align_config.yaml"
    if not saved_path.is_file():
        raise UserError(f"{model_dir} is not an aligned model dir (no align_config.yaml)")
    saved, wanted = run_identity(load_config(AlignConfig, saved_path)), run_identity(recipe)
    differ = sorted(k for k in saved.keys() | wanted.keys() if saved.get(k) != wanted.get(k))
    if differ:
        shown = ", ".join(f"{k}: {saved.get(k)!r} there, {wanted.get(k)!r} here" for k in differ[:4])
        raise UserError(f"{model_dir} was aligned with another recipe ({shown})")
    return model_dir


def run_variant(cfg: ResultsConfig, variant: Variant) -> dict:
    """Align (or resume) and evaluate one variant; returns its results.json dict."""
    from alignment.config import AlignConfig
    from alignment.train import train
    from eval.config import EvalConfig
    from eval.run import evaluate_task

    work = Path(cfg.work_dir) / variant.slug
    results = work / "eval" / "results.json"
    if results.is_file():
        print(f"{variant.name}: reusing {results}")
        return read_json(results)
    overrides = [f"data.path={cfg.world}", *cfg.align_overrides, *variant.overrides]
    recipe = load_config(AlignConfig, cfg.align_config, overrides)
    if variant.model:
        print(f"\n== {variant.name}: reusing the aligned model {variant.model} ==", flush=True)
        model_dir = same_recipe(Path(variant.model), recipe)
    else:
        print(
            f"\n== {variant.name}: align ({' '.join(variant.overrides) or 'the recipe as is'}) ==", flush=True
        )
        model_dir = train(recipe, work / "model")
    print(f"\n== {variant.name}: eval ==", flush=True)
    eval_cfg = EvalConfig(
        controls=list(cfg.controls), question_types=list(cfg.question_types), generation=cfg.generation
    )
    return evaluate_task(
        str(model_dir),
        "world-qa",
        data=cfg.world,
        limit=cfg.eval_limit or None,
        out_dir=work / "eval",
        config=eval_cfg,
    )


def main_table(cfg: ResultsConfig) -> str:
    """Run every variant (reusing finished ones) and return the markdown table."""
    from eval.report import variants_table

    work = Path(cfg.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    save_config(cfg, work / "results.yaml")
    runs = [(v.name, run_variant(cfg, v)) for v in cfg.variants]
    table = variants_table(runs, ("model", *cfg.controls))
    (work / "results.md").write_text(table + "\n")
    return table


def _run(args: argparse.Namespace) -> int:
    print(main_table(load_config(ResultsConfig, args.config, args.overrides)))
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("results", help="the main results table: one recipe, several inputs, with controls")
    add_run_arguments(
        p, "a ResultsConfig YAML (default: %(default)s)", out_help=None, config_default="configs/results.yaml"
    )
    p.set_defaults(func=_run)
