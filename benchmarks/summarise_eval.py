"""One line per eval dir: accuracy by type for the model and each control, and the model's subtypes::

    .venv/bin/python benchmarks/summarise_eval.py runs/lever-*-eval

Each dir is an eval's output (results.json).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def _accuracy(table: dict) -> dict[str, float]:
    return {k: round(v["accuracy"] if isinstance(v, dict) else v, 3) for k, v in table.items()}


def summarise(run: Path) -> str:
    r = json.loads((run / "results.json").read_text())
    parts = [f"{run}: model {_accuracy(r['metrics']['by_type'])}"]
    for name, control in r.get("controls", {}).items():
        parts.append(f"{name} {_accuracy(control['by_type'])}")
    by_subtype = r["metrics"].get("by_subtype", {})
    parts.append(f"subtypes {_accuracy(by_subtype)}")
    return " | ".join(parts)


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        print(summarise(Path(arg)))
