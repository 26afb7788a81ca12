"""Adapters for public video-QA benchmark formats, from the Hub or a local dir.

    jepa-vqa eval --task mvbench --data /data/MVBench --out runs/mvbench
    jepa-vqa eval --task nextqa-mc --data /data/nextqa --out runs/nextqa     # DIR/test.csv + videos/
    jepa-vqa eval --task msrvtt-qa --data /data/msrvtt-qa --out runs/msrvtt  # DIR/test.jsonl + videos/

Schemas (the fields each adapter reads; extra fields are ignored):
- MVBench: ``DIR/json/<task>.json`` (or ``DIR/*.json``), each a list of
  ``{"video", "question", "candidates", "answer" (candidate text)}``; the file stem is the type.
  On the Hub every config is one task (``datasets.load_dataset(id, task, split="train")``).
- Multiple choice (NExT-QA, PerceptionTest): rows with ``question``; options from ``options`` /
  ``candidates`` or ``a0..a4``; the answer as an index (``answer`` / ``answer_id``) or option text;
  the type from ``type`` / ``area`` / ``question_type``; the video from ``video`` / ``video_name``
  / ``video_id`` (a path or an id looked up as ``<id>.mp4`` etc. under DIR, DIR/videos, DIR/video).
- Open-ended (MSVD-QA, MSRVTT-QA): rows ``{"question", "answer", "video_id" | "video"}``; the type is
  the question word (what/who/how/when/where/...), scored by normalised exact match.
"""

from __future__ import annotations

from pathlib import Path

from eval.example import Example
from eval.loaders import _read_json_table, load_records, resolve_video
from jepa_vqa.errors import UserError

_VIDEO_KEYS = ("video", "video_path", "video_name", "video_id", "vid")
_TYPE_KEYS = ("type", "question_type", "area", "task", "category")
_QWORDS = ("what", "who", "how", "when", "where", "why", "which", "whose", "whom")


def _first(row: dict, keys: tuple[str, ...]):
    for k in keys:
        if row.get(k) not in (None, ""):
            return row[k]
    return None


def _video(row: dict, roots: list[Path], where: str, patterns: tuple[str, ...] = ("{}",)) -> str:
    value = _first(row, _VIDEO_KEYS)
    if value is None:
        raise UserError(f"{where}: no video field (one of {', '.join(_VIDEO_KEYS)})")
    path = resolve_video(value, roots, patterns)
    if path is None:
        raise UserError(f"{where}: video '{value}' not found under {', '.join(str(r) for r in roots)}")
    return path


def _id(row: dict, keys: tuple[str, ...], where: str) -> str:
    value = _first(row, keys)
    return where if value is None else str(value)


def _make(where: str, **kw) -> Example:
    try:
        return Example(**kw)
    except ValueError as exc:
        raise UserError(f"{where}: {exc}") from None


def mc_example(row: dict, roots: list[Path], where: str) -> Example:
    """One multiple-choice row (NExT-QA / PerceptionTest / MVBench style) as an Example."""
    options = _first(row, ("options", "candidates", "choices"))
    if options is None:
        options = [row[f"a{i}"] for i in range(10) if row.get(f"a{i}") not in (None, "")]
    if not options:
        raise UserError(f"{where}: no options (options / candidates / a0..a4)")
    options = [str(o) for o in options]
    answer = _first(row, ("answer_id", "answer", "label"))
    if answer is None:
        raise UserError(f"{where}: no answer field")
    if isinstance(answer, int) or (
        isinstance(answer, str) and answer.strip().isdigit() and answer.strip() not in options
    ):
        idx = int(answer)
        if not 0 <= idx < len(options):
            raise UserError(f"{where}: answer index {idx} out of range for {len(options)} options")
        answer = options[idx]
    return _make(
        where,
        id=_id(row, ("qid", "id", "question_id"), where),
        video=_video(row, roots, where),
        question=str(row["question"]),
        answer=str(answer),
        options=options,
        type=str(_first(row, _TYPE_KEYS) or "all"),
    )


def open_example(row: dict, roots: list[Path], where: str) -> Example:
    """One open-ended row (MSVD-QA / MSRVTT-QA style), typed by its question word."""
    if "question" not in row or "answer" not in row:
        raise UserError(f"{where}: needs 'question' and 'answer'")
    question = str(row["question"])
    first = question.strip().split(" ", 1)[0].lower().strip("?,.") if question.strip() else ""
    qtype = _first(row, ("type", "question_type")) or (first if first in _QWORDS else "other")
    return _make(
        where,
        id=_id(row, ("id", "qid", "question_id"), where),
        video=_video(row, roots, where, ("{}", "video{}", "vid{}")),
        question=question,
        answer=str(row["answer"]),
        options=[],
        type=str(qtype),
        kind="open",
    )


def load_multiple_choice(data: str, split: str | None = "test", config: str | None = None) -> list[Example]:
    """NExT-QA / PerceptionTest style multiple choice from a local table or a Hub dataset."""
    rows, root = load_records(data, split, config)
    roots = [r for r in (root,) if r is not None]
    return [mc_example(r, roots, f"{data}[{i}]") for i, r in enumerate(rows)]


def load_open_ended(data: str, split: str | None = "test", config: str | None = None) -> list[Example]:
    """MSVD-QA / MSRVTT-QA style open-ended QA from a local table or a Hub dataset."""
    rows, root = load_records(data, split, config)
    roots = [r for r in (root,) if r is not None]
    return [open_example(r, roots, f"{data}[{i}]") for i, r in enumerate(rows)]


def load_mvbench(data: str, split: str | None = None, config: str | None = None) -> list[Example]:
    """MVBench: one JSON list per task (the type); locally ``DIR/json/*.json``, or every Hub config."""
    path = Path(data)
    if path.is_dir():
        files = sorted((path / "json").glob("*.json")) or sorted(path.glob("*.json"))
        if not files:
            raise UserError(f"{data}: no MVBench task files (expected json/<task>.json)")
        out = []
        for f in files:
            roots = [path / "video" / f.stem, path / "video", path]
            for i, row in enumerate(_read_json_table(f)):
                row = dict(row)
                row.setdefault("type", f.stem)
                out.append(mc_example(row, roots, f"{f.name}[{i}]"))
        return out
    if not path.exists() and "/" in data:
        import datasets

        try:
            configs = [config] if config else datasets.get_dataset_config_names(data)
        except Exception as exc:  # noqa: BLE001
            raise UserError(f"could not load dataset '{data}' ({type(exc).__name__})") from None
        out = []
        for name in configs:
            rows, root = load_records(data, split or "train", name)
            roots = [r for r in (root / "video" / name if root else None, root) if r is not None]
            out += [
                mc_example(dict(r, type=r.get("type", name)), roots, f"{name}[{i}]")
                for i, r in enumerate(rows)
            ]
        return out
    raise UserError(f"data not found: {data} (an MVBench dir or Hub dataset id)")
