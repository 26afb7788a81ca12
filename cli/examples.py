"""Render the app's example clips (`app/examples/`) from the synthetic world, with their questions.

The world's tiny preset (the world the default model knows): `num_clips` held-out test clips, and
one violation-of-expectation pair (the same scene, possible and impossible) whose surprise curves
differ. `questions.json` gets one suggested question per trained question type for each world clip,
taken from the world's own question generator. The app reads the result through `app.clips`.

    .venv/bin/python -m cli.examples
    .venv/bin/python -m cli.examples --answers   # print each suggested question's answer, write nothing
    .venv/bin/python -m cli.examples --answers --model checkpoints/default   # and what a model answers
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from app.clips import EXAMPLES_DIR, QUESTIONS, example_clips
from jepa_vqa.config import load_config
from worlds.config import WorldConfig
from worlds.formats import read_clips, read_qa, read_voe
from worlds.generate import generate_dataset

PRESET = Path(__file__).resolve().parents[1] / "configs" / "world" / "tiny.yaml"
SUGGESTED_TYPES = ("count", "attribute", "motion")  # the question types the default model trained on
VOE_QUESTIONS = ["How many objects appear in the video?"]


def _suggestions(qa_rows: list[dict], video: str) -> list[str]:
    """One question of each SUGGESTED_TYPES about `video`, in that order."""
    rows = [r for r in qa_rows if r["video"] == video]
    return [
        next(r["question"] for r in rows if r["type"] == t)
        for t in SUGGESTED_TYPES
        if any(r["type"] == t for r in rows)
    ]


def _render(tmp: str, seed: int) -> Path:
    cfg = load_config(WorldConfig, PRESET, [f"seed={seed}", "num_clips=40", "voe.pairs=4", "workers=1"])
    return generate_dataset(cfg, Path(tmp) / "world", workers=1, progress=False)


def make_examples(out: Path = EXAMPLES_DIR, num_clips: int = 3, seed: int = 7) -> list[Path]:
    """Render `num_clips` test-split world clips and one VoE pair into `out` (old clips replaced)."""
    out.mkdir(parents=True, exist_ok=True)
    for old in example_clips(out):
        old.unlink()
    with tempfile.TemporaryDirectory() as tmp:
        data = _render(tmp, seed)
        test = read_clips(data, "test")[:num_clips]
        qa_rows = read_qa(data)
        written, questions = [], {}
        for i, c in enumerate(test):
            written.append(Path(shutil.copy(c["video"], out / f"world_{i + 1}.mp4")))
            questions[written[-1].name] = _suggestions(qa_rows, c["video"])
        pair = read_voe(data)[0]
        for which in ("possible", "impossible"):
            written.append(Path(shutil.copy(pair[which], out / f"voe_{pair['kind']}_{which}.mp4")))
            questions[written[-1].name] = list(VOE_QUESTIONS)
    (out / QUESTIONS).write_text(json.dumps(questions, indent=1) + "\n")
    return written


def example_answers(num_clips: int = 3, seed: int = 7) -> list[tuple[str, str, str]]:
    """(clip name, suggested question, its answer) for the world clips of :func:`make_examples`,
    from the same world rendered again (nothing is written)."""
    with tempfile.TemporaryDirectory() as tmp:
        data = _render(tmp, seed)
        qa_rows = read_qa(data)
        out = []
        for i, c in enumerate(read_clips(data, "test")[:num_clips]):
            answers = {r["question"]: r["answer"] for r in qa_rows if r["video"] == c["video"]}
            out += [(f"world_{i + 1}.mp4", q, answers[q]) for q in _suggestions(qa_rows, c["video"])]
    return out


def model_answers(model_dir: str, rows: list[tuple[str, str, str]]) -> list[str]:
    """What the model in ``model_dir`` answers each (clip, question, _) of ``rows`` about the shipped
    clip, as the app asks it (greedy, the app's token budget, no history)."""
    from app.config import AppConfig
    from vlm.model import VideoQAModel

    model = VideoQAModel.from_pretrained(model_dir).eval()
    gen = {"max_new_tokens": AppConfig().max_new_tokens, "do_sample": False}
    return [
        model.answer(model.load_frames(str(EXAMPLES_DIR / clip)), q, **gen).strip() for clip, q, _ in rows
    ]


def main(argv: list[str] | None = None) -> int:
    """Render the examples, or with ``--answers`` print each suggested question's answer."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m cli.examples", description=__doc__.splitlines()[0])
    parser.add_argument("--answers", action="store_true", help="print the answers, write nothing")
    parser.add_argument("--model", help="with --answers: also what this model answers, as the app asks")
    args = parser.parse_args(argv)
    if args.answers:
        rows = example_answers()
        replies = model_answers(args.model, rows) if args.model else [""] * len(rows)
        for (clip, question, answer), reply in zip(rows, replies):
            right = reply.lower().strip(" .") == answer.lower()
            verdict = [reply, "right" if right else "WRONG"] if args.model else []
            print("\t".join([clip, question, answer, *verdict]))
    else:
        for path in make_examples():
            print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
