"""The built-in tasks (see :mod:`eval.registry`); ``jepa-vqa eval --list`` prints them."""

from __future__ import annotations

from eval.adapters import load_multiple_choice, load_mvbench, load_open_ended
from eval.loaders import load_qa_jsonl
from eval.registry import Task, register_task

_WORLD = "a worlds dataset dir with qa.jsonl; make one with `jepa-vqa world`"
_WORLD_VOE = "a worlds dataset dir with voe.jsonl; make one with `jepa-vqa world`"

register_task(
    Task(
        "world-qa",
        "qa",
        "synthetic world QA, test split: accuracy per question type",
        loader=load_qa_jsonl,
        split="test",
        needs_data=_WORLD,
    )
)
register_task(
    Task(
        "world-qa-compositional",
        "qa",
        "held-out colour-shape combinations (test-compositional)",
        loader=load_qa_jsonl,
        split="test-compositional",
        needs_data=_WORLD,
    )
)
register_task(
    Task(
        "world-voe",
        "voe",
        "violation of expectation: surprise(impossible) > surprise(possible)",
        needs_data=_WORLD_VOE,
    )
)
for _name, _label in (
    ("probe-motion", "direction"),
    ("probe-count", "count"),
    ("probe-collision", "collision"),
):
    register_task(
        Task(
            _name,
            "probe",
            f"attentive probe on frozen encoder tokens: {_label}",
            label=_label,
            needs_data=_WORLD,
        )
    )
register_task(
    Task(
        "mvbench",
        "qa",
        "MVBench-style multiple choice (json/<task>.json + videos)",
        loader=load_mvbench,
        split=None,
        needs_data="an MVBench dir or Hub dataset id",
    )
)
register_task(
    Task(
        "nextqa-mc",
        "qa",
        "NExT-QA multiple choice (a0..a4, answer index)",
        loader=load_multiple_choice,
        split="test",
        needs_data="a dir with test.csv/.jsonl + videos, or a Hub dataset id",
    )
)
register_task(
    Task(
        "perceptiontest-mc",
        "qa",
        "PerceptionTest multiple choice (options, answer_id)",
        loader=load_multiple_choice,
        split="test",
        needs_data="a dir with test.jsonl/.json + videos, or a Hub dataset id",
    )
)
register_task(
    Task(
        "msvd-qa",
        "qa",
        "MSVD-QA open-ended, normalised exact match",
        loader=load_open_ended,
        split="test",
        needs_data="a dir with test.jsonl/.json + videos, or a Hub dataset id",
    )
)
register_task(
    Task(
        "msrvtt-qa",
        "qa",
        "MSRVTT-QA open-ended, normalised exact match",
        loader=load_open_ended,
        split="test",
        needs_data="a dir with test.jsonl/.json + videos, or a Hub dataset id",
    )
)
