"""The example clips shipped with the app (`app/examples/*.mp4`, small synthetic-world videos).

They are rendered by `worlds` with the tiny preset (the world the default model knows): a few
held-out test clips, and one violation-of-expectation pair (the same scene, possible and
impossible) whose surprise curves differ. `examples/questions.json` holds suggested questions
per clip, taken from the world's own question generator. The app only reads them; they are
written by `cli.examples` (the app imports no world code). To regenerate them:

    .venv/bin/python -m cli.examples
"""

from __future__ import annotations

import json
from pathlib import Path

EXAMPLES_DIR = Path(__file__).parent / "examples"
QUESTIONS = "questions.json"  # clip file name -> suggested questions


def example_clips(directory: Path = EXAMPLES_DIR) -> list[Path]:
    """The shipped example videos: world clips first, then VoE clips, by name (empty when none)."""
    if not directory.is_dir():
        return []
    return sorted(directory.glob("*.mp4"), key=lambda p: (not p.name.startswith("world"), p.name))


def suggested_questions(clip: str | Path, directory: Path = EXAMPLES_DIR) -> list[str]:
    """The suggested questions for a shipped example clip (by file name; [] when none)."""
    table = directory / QUESTIONS
    if not table.is_file():
        return []
    return list(json.loads(table.read_text()).get(Path(clip).name, []))
