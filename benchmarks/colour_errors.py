"""Are wrong attribute answers another object's value (binding) or no object's (reading)?

    .venv/bin/python benchmarks/colour_errors.py --data runs/world-seed7 runs/e2e-seed7-eval runs/lever-object-words-eval

For each attribute question of an eval's samples.jsonl (the model's own answers), the chosen option
is right, wrong but the colour (shape, size) of some object in the clip, or wrong and no object's.
Prints one line per eval dir: the counts per attribute.
"""

from __future__ import annotations

import argparse
import collections
import json
from pathlib import Path


def tally(samples: Path, clips: dict[str, dict]) -> dict[str, dict[str, int]]:
    """{attribute: {"right" | "another object's" | "no object's": questions}}."""
    counts: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for line in samples.read_text().splitlines():
        s = json.loads(line)
        if s["condition"] != "model" or s["type"] != "attribute":
            continue
        clip = clips[s["id"].rsplit("-q", 1)[0]]
        chosen = s["options"][ord(s["choice"]) - ord("A")]
        if s["correct"]:
            counts[s["subtype"]]["right"] += 1
        elif chosen in {o[s["subtype"]] for o in clip["objects"]}:
            counts[s["subtype"]]["another object's"] += 1
        else:
            counts[s["subtype"]]["no object's"] += 1
    return {k: dict(v) for k, v in sorted(counts.items())}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True, help="the world the evals ran on (world.json)")
    ap.add_argument("evals", nargs="+", help="eval output dirs (samples.jsonl)")
    args = ap.parse_args(argv)
    world = json.loads((Path(args.data) / "world.json").read_text())
    clips = {c["id"]: c for c in world["clips"]}
    for run in args.evals:
        print(json.dumps({"eval": run, "attribute answers": tally(Path(run) / "samples.jsonl", clips)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
