"""Writing and comparing results: ``results.json``, ``samples.jsonl``, ``report.md``.

jepa-vqa eval --compare runs/eval-a runs/eval-b    # one markdown table across result dirs
"""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path

from jepa_vqa.atomic import atomic_write_text
from jepa_vqa.config import read_json
from jepa_vqa.errors import UserError

CONTROL_ORDER = ("blind", "shuffled", "single_frame", "chance", "majority")


def git_commit() -> str | None:
    """The repo's HEAD commit (``+dirty`` when the tree has changes), or None outside git."""
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "--no-optional-locks", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("+dirty" if dirty else "")


def _json_default(obj):
    if hasattr(obj, "item"):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def write_results(out: Path, results: dict) -> Path:
    path = out / "results.json"
    atomic_write_text(path, json.dumps(results, indent=2, default=_json_default) + "\n")
    return path


def write_samples(out: Path, samples: list[dict]) -> Path:
    path = out / "samples.jsonl"
    atomic_write_text(path, "".join(json.dumps(s, default=_json_default) + "\n" for s in samples))
    return path


def fmt(entry: dict | None) -> str:
    """``0.625 [0.500, 0.750]`` (or ``-`` when missing)."""
    if (
        not entry
        or entry.get("accuracy") is None
        or (isinstance(entry["accuracy"], float) and math.isnan(entry["accuracy"]))
    ):
        return "-"
    ci = entry.get("ci")
    if ci and not any(math.isnan(c) for c in ci):
        return f"{entry['accuracy']:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]"
    return f"{entry['accuracy']:.3f}"


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def qa_series(results: dict) -> dict[str, dict]:
    """Condition name -> metrics (model first, then controls present), for tables and plots."""
    series = {"model": results["metrics"]}
    for name in CONTROL_ORDER:
        if name in results.get("controls", {}):
            series[name] = results["controls"][name]
    return series


def qa_markdown(results: dict) -> str:
    series = qa_series(results)
    names = list(series)
    out = [_header(results), "## Overall", ""]
    rows = []
    for name in names:
        m = series[name]["overall"]
        unparsed = series[name].get("unparsed", {}).get("count", "-")
        rows.append([name, fmt(m), m.get("n", "-"), unparsed])
    out += [_table(["condition", "accuracy [95% CI]", "n", "unparsed"], rows), ""]
    types = sorted({t for s in series.values() for t in s.get("by_type", {})})
    out += ["## Per question type", ""]
    rows = [
        [t, series["model"]["by_type"].get(t, {}).get("n", "-")]
        + [fmt(series[n]["by_type"].get(t)) for n in names]
        for t in types
    ]
    out += [_table(["type", "n"] + names, rows), ""]
    subtypes = sorted(series["model"].get("by_subtype", {}))
    if subtypes:
        out += ["## Per question subtype", ""]
        rows = [
            [t, series["model"]["by_subtype"][t]["n"]]
            + [fmt(series[n].get("by_subtype", {}).get(t)) for n in names]
            for t in subtypes
        ]
        out += [_table(["subtype", "n"] + names, rows), ""]
    out += _generation_markdown(results)
    unparsed = results["metrics"].get("unparsed", {})
    out += [
        "## Unparseable answers (model)",
        "",
        f"{unparsed.get('count', 0)} responses could not be parsed and count as wrong.",
    ]
    for ex in unparsed.get("examples", []):
        out.append(f"- `{ex['id']}`: {ex['question']!r} -> {ex['response']!r}")
    out += ["", "![per-type accuracy](accuracy.png)", ""]
    return "\n".join(out)


def _generation_markdown(results: dict) -> list[str]:
    """The second metric: greedy generated answers, parsed (what a chat user reads)."""
    generation = results.get("generation") or {}
    if not generation:
        return []
    names = list(generation)
    types = sorted({t for g in generation.values() for t in g.get("by_type", {})})
    rows = [[t] + [fmt(generation[n]["by_type"].get(t)) for n in names] for t in types]
    rows.append(["**overall**"] + [fmt(generation[n]["overall"]) for n in names])
    rows.append(["unparsed"] + [str(generation[n].get("unparsed", {}).get("count", "-")) for n in names])
    return [
        "## Free generation (parsed)",
        "",
        "The headline above scores a multiple-choice question by the likelihood of each option; here "
        "the same questions are answered by greedy generation and the text is parsed.",
        "",
        _table(["type"] + names, rows),
        "",
    ]


def voe_markdown(results: dict) -> str:
    m = results["metrics"]
    kinds = sorted(m["pairwise"]["by_type"])
    out = [
        _header(results),
        f"Pairwise accuracy: surprise(impossible) > surprise(possible), "
        f"post-event **{m['reduce']}** (ties count 1/2; {m['ties']} ties). Chance is 0.5.",
        "",
    ]
    rows = [
        [k, m["pairwise"]["by_type"][k]["n"]]
        + [fmt(m["by_reduce"][h]["by_type"][k]) for h in ("max", "mean")]
        for k in kinds
    ]
    rows.append(
        ["overall", m["pairwise"]["overall"]["n"]]
        + [fmt(m["by_reduce"][h]["overall"]) for h in ("max", "mean")]
    )
    out += [
        _table(["kind", "pairs", "post-event max", "post-event mean"], rows),
        "",
        "![surprise curves](surprise_curves.png)",
        "",
    ]
    return "\n".join(out)


def probe_markdown(results: dict) -> str:
    m = results["metrics"]
    b = m["baselines"]
    rows = [["probe", fmt(m["overall"])], ["chance", fmt(b["chance"])], ["majority", fmt(b["majority"])]]
    extra = {k: v for k, v in m["probe"].items() if k != "accuracy" and isinstance(v, (int, float))}
    out = [
        _header(results),
        f"Label: `{m['label']}`; trained on the train clips, scored on {m['num_test']} test clips.",
        "",
        _table(["", "accuracy [95% CI]"], rows),
        "",
    ]
    if extra:
        out += [_table(["probe metric", "value"], [[k, f"{v:.4g}"] for k, v in extra.items()]), ""]
    return "\n".join(out)


def _header(results: dict) -> str:
    t = results.get("timings", {})
    return "\n".join(
        [
            f"# {results['task']}: {results['model']}",
            "",
            f"- data: `{results.get('data')}`",
            f"- examples: {results.get('num_examples')}"
            + (f" (limit {results['limit']})" if results.get("limit") else ""),
            f"- git commit: `{results.get('git_commit')}`",
            f"- wall time: {t.get('total_s', float('nan')):.1f} s on {t.get('num_processes', 1)} process(es)",
            "",
        ]
    )


def write_report(out: Path, results: dict) -> Path:
    runner = results["runner"]
    text = {"qa": qa_markdown, "voe": voe_markdown, "probe": probe_markdown}[runner](results)
    path = out / "report.md"
    atomic_write_text(path, text)
    return path


def headline(results: dict) -> tuple[dict, dict]:
    """The main score and the control scores of one results.json (any runner)."""
    runner = results.get("runner")
    m = results["metrics"]
    if runner == "qa":
        return m["overall"], {k: v["overall"] for k, v in results.get("controls", {}).items()}
    if runner == "voe":
        return m["pairwise"]["overall"], {"chance": m["baselines"]["chance"]}
    return m["overall"], m.get("baselines", {})


def _model_choices(run_dir: Path) -> dict:
    """``{id: choice}`` of the model condition in a run's samples.jsonl (empty when absent)."""
    path = run_dir / "samples.jsonl"
    if not path.is_file():
        return {}
    rows = (json.loads(line) for line in path.read_text().splitlines() if line.strip())
    return {r["id"]: r.get("choice") for r in rows if r.get("condition", "model") == "model"}


def _agreement(ref: dict, oth: dict) -> float | None:
    shared = ref.keys() & oth.keys()
    return sum(ref[k] == oth[k] for k in shared) / len(shared) if shared else None


def choice_agreement(reference: Path, other: Path) -> float | None:
    """Fraction of the questions both runs answered on which ``other`` chose what ``reference``
    chose (e.g. bf16 against fp32); None when they share no question."""
    return _agreement(_model_choices(reference), _model_choices(other))


def compare_table(dirs: list[str]) -> str:
    """One markdown table across result dirs: task, model, score, controls, and how often each
    run's choices agree with the first run's."""
    rows, reference = [], _model_choices(Path(dirs[0]))  # the first run's choices, read once
    for d in dirs:
        path = Path(d) / "results.json"
        if not path.is_file():
            raise UserError(f"no results.json in {d}")
        res = read_json(path)
        main, ctrl = headline(res)
        agree = _agreement(reference, _model_choices(Path(d)))
        rows.append(
            [d, res.get("task"), res.get("model"), res.get("num_examples"), fmt(main)]
            + [fmt(ctrl.get(c)) for c in CONTROL_ORDER]
            + ["—" if agree is None else f"{agree:.3f}"]
        )
    headers = ["run", "task", "model", "n", "accuracy [95% CI]", *CONTROL_ORDER, "same choice as first"]
    return _table(headers, rows)


def variants_table(runs: list[tuple[str, dict]], conditions=("model", "blind", "shuffled")) -> str:
    """The main results table: one row per (model variant, condition), one column per question type
    plus overall, accuracy with its 95% CI. ``runs``: (name, results.json dict) of QA evaluations."""
    types = sorted({t for _, res in runs for t in res["metrics"]["by_type"]})
    rows = []
    for name, res in runs:
        series = qa_series(res)
        for cond in conditions:
            if cond in series:
                m = series[cond]
                rows.append([name, cond] + [fmt(m["by_type"].get(t)) for t in types] + [fmt(m["overall"])])
    return _table(["model", "condition", *types, "overall"], rows)
