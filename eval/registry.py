"""The task registry: one harness, every benchmark a registered :class:`Task`.

    from eval.registry import get_task, list_tasks
    task = get_task("world-qa")
    examples = task.load("data/world-tiny")

A task is one of three runners (``qa``: generation + answer parsing + controls; ``voe``: surprise
pairs; ``probe``: attentive probe on frozen tokens) plus what that runner needs: a loader for
``qa`` tasks, a label for ``probe`` tasks. Built-in tasks are registered in :mod:`eval.tasks`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

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
        from eval.loaders import unique_ids

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
    import eval.tasks  # noqa: F401 - registers the built-in tasks

    if name not in _TASKS:
        raise UserError(f"unknown task '{name}' (known: {', '.join(sorted(_TASKS))})")
    return _TASKS[name]


def list_tasks() -> list[Task]:
    import eval.tasks  # noqa: F401

    return [_TASKS[k] for k in sorted(_TASKS)]
