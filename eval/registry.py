"""The task registry: one harness, every benchmark a registered :class:`Task`.

    from eval.registry import get_task, list_tasks
    task = get_task("world-qa")
    examples = task.load("data/world-tiny")

A task is one of three runners (``qa``: generation + answer parsing + controls; ``voe``: surprise
pairs; ``probe``: attentive probe on frozen tokens) plus what that runner needs: a loader for
``qa`` tasks, a label for ``probe`` tasks. The built-in tasks are registered at the end of this file;
``jepa-vqa eval --list`` prints them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from eval.adapters import load_multiple_choice, load_mvbench, load_open_ended
from eval.loaders import load_qa_jsonl, unique_ids
from jepa_vqa.errors import UserError

RUNNERS = ("qa", "voe", "probe")


@dataclass(frozen=True)
class Task:
    name: str
    runner: str  # "qa" | "voe" | "probe"
    description: str
    loader: Callable | None = None  # qa: (data, split) -> list[Example]
    split: str | None = None  # the split a qa task evaluates
    label: str | None = None  # probe: the world.json label
    needs_data: str = ""  # what --data must be, for the error when it is missing

    def load(self, data: str | None):
        """The task's examples from ``data`` (qa tasks only)."""
        if self.runner != "qa" or self.loader is None:
            raise UserError(f"task '{self.name}' has no QA examples to load")
        if not data:
            raise UserError(f"task '{self.name}' needs --data ({self.needs_data})")
        examples = unique_ids(self.loader(data, self.split))
        if not examples:
            raise UserError(f"task '{self.name}': no examples in {data}")
        return examples


_TASKS: dict[str, Task] = {}


def register_task(task: Task) -> Task:
    """Add a task; names are unique."""
    if task.runner not in RUNNERS:
        raise ValueError(f"task {task.name}: runner must be one of {RUNNERS}")
    if task.name in _TASKS:
        raise ValueError(f"task {task.name} is already registered")
    _TASKS[task.name] = task
    return task


def get_task(name: str) -> Task:
    """The registered task called ``name``; a UserError listing the known ones otherwise."""
    if name not in _TASKS:
        raise UserError(f"unknown task '{name}' (known: {', '.join(sorted(_TASKS))})")
    return _TASKS[name]


def list_tasks() -> list[Task]:
    return [_TASKS[k] for k in sorted(_TASKS)]


# -- the built-in tasks ----------------------------------------------------------------------------
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
