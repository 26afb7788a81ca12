"""Typed evaluation settings; ``configs/eval/*.yaml`` fill them, ``k=v`` overrides go on top.

jepa-vqa eval --task world-qa --data D --out runs/e --config configs/eval/default.yaml batch_size=4
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

CONTROLS = ("blind", "shuffled", "single_frame")


@dataclass
class EvalConfig:
    batch_size: int = 8  # questions per answer_batch call
    max_new_tokens: int = 16  # generation length (greedy)
    generation: bool = True  # also generate free text and score it parsed (the second metric)
    # ...under the controls too (off: they are scored by likelihood alone, as the headline is; open
    # questions are generated under every condition, having no options to score)
    generation_controls: bool = False
    seed: int = 0  # shuffled-frames control, bootstrap and probes
    n_boot: int = 1000  # bootstrap resamples for the 95% intervals
    controls: list[str] = field(default_factory=lambda: list(CONTROLS))  # input controls, same model
    baselines: bool = True  # chance and majority-answer baselines from the data
    report_examples: int = 5  # unparseable responses quoted in report.md
    voe_reduce: Literal["max", "mean"] = "max"  # surprise after the event: its max or its mean
    voe_split: str | None = None  # only VoE pairs of this split (None: all; no labels are trained on)
    probe: dict[str, Any] = field(default_factory=dict)  # extra keyword arguments for train_probe
    # the LLM's weights. fp32 by default so that a score does not depend on the machine: bf16 chose
    # differently on 10.5% of 400 world-qa questions of the near-tie default model (eval --compare)
    precision: Literal["auto", "fp32", "bf16"] = "fp32"
    question_types: list[str] = field(default_factory=list)  # QA tasks: only these types ([] = all)

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        if self.max_new_tokens < 1:
            raise ValueError("max_new_tokens must be >= 1")
        if self.n_boot < 10:
            raise ValueError("n_boot must be >= 10")
        unknown = [c for c in self.controls if c not in CONTROLS]
        if unknown:
            raise ValueError(f"unknown control(s) {unknown} (known: {list(CONTROLS)})")
