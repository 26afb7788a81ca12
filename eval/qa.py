"""The QA runner: answers under the model condition and each control, then scoring.

    from eval.qa import run_qa
    result = run_qa(model, examples, EvalConfig(), answer_pool=train_examples)

Two metrics, as lm-evaluation-harness and chat users see a model:
- **choice** (the headline): a multiple-choice question is answered by the option with the
  highest length-normalised likelihood (``model.choose``: one pass per batch, the prompt shared by
  its options); other questions by their parsed generated answer;
- **generation**: the greedy generated text, parsed (``EvalConfig.generation``).

``model`` is anything with ``load_frames(path) -> uint8 (T, C, H, W)`` and
``generate_batch(videos, questions, options=None, **generation)`` (or ``answer_batch``), and
optionally ``choose(videos, questions, options) -> [index]`` (a ``vlm.model.VideoQAModel``).
A batch decodes each clip once; every condition reuses the frames, and the questions about one
clip share its encoding and, when scored, its prompt prefix (``model.score_options``). Under
``accelerate launch`` (or torchrun) each process answers its share of the batches and rank 0 scores
the gathered answers.
"""

from __future__ import annotations

import time
from pathlib import Path

from tqdm.auto import tqdm

from eval.config import EvalConfig
from eval.controls import apply_control, chance_scores, majority_predictions
from eval.distributed import Dist, gather, my_batches
from eval.example import Example, canonical_gold, parse_response
from eval.parsing import LETTERS
from eval.scoring import per_type_accuracy, per_type_mean
from jepa_vqa.errors import UserError


def prompt_of(model, question: str, options: list[str]) -> str:
    """The question as the model sees it (the contract's one multiple-choice format)."""
    if options and hasattr(model, "format_question"):
        return model.format_question(question, options)
    return question


def _condition_inputs(cond: str, frames: list, batch: list[Example], cfg: EvalConfig, model) -> tuple:
    """(videos, questions) as the model sees them under ``cond``: frames (or None: no video slot),
    and questions with the scene description in front for a model trained on descriptions."""
    questions = [ex.question for ex in batch]
    perception = getattr(getattr(model, "config", None), "perception", "video")
    if perception == "description":
        from vlm.processor import with_scene

        if cond == "blind":
            return [None] * len(batch), questions
        missing = [ex.id for ex in batch if not ex.scene]
        if missing:
            raise UserError(f"the model reads scene descriptions, but example {missing[0]} has none")
        return [None] * len(batch), [with_scene(q, ex.scene) for q, ex in zip(questions, batch)]
    if cond == "blind" or perception == "none":
        return [None] * len(batch), questions
    videos = [
        None if f is None else apply_control(cond, f, cfg.seed, Path(ex.video).name)
        for f, ex in zip(frames, batch)
    ]
    return videos, questions


def _choices(model, videos, questions, batch: list[Example]) -> list[int | None]:
    """The likelihood choice of each multiple-choice example (None for others, or when the model
    cannot score options)."""
    rows = [i for i, ex in enumerate(batch) if ex.kind == "choice"]
    choices: list[int | None] = [None] * len(batch)
    if rows and hasattr(model, "choose"):
        picks = model.choose(
            [videos[i] for i in rows], [questions[i] for i in rows], [batch[i].options for i in rows]
        )
        for i, k in zip(rows, picks):
            choices[i] = int(k)
    return choices


def generate(
    model,
    examples: list[Example],
    conditions: list[str],
    cfg: EvalConfig,
    dist: Dist = Dist(),
    progress: bool = True,
) -> tuple[list[dict], dict[str, float]]:
    """This rank's answers, ``[{"index", "condition", "question", "choice", "response"}]``, and seconds per condition."""
    generate_batch = getattr(model, "generate_batch", None) or model.answer_batch
    mine = my_batches(len(examples), cfg.batch_size, dist)
    records: list[dict] = []
    seconds = dict.fromkeys(conditions, 0.0)
    bar = tqdm(
        total=len(mine) * len(conditions), desc="eval", unit="batch", disable=not (progress and dist.is_main)
    )
    needs_frames = any(c != "blind" for c in conditions)
    for idx in mine:
        batch = [examples[i] for i in idx]
        clips = {ex.video: model.load_frames(ex.video) for ex in batch if needs_frames and ex.video}
        frames = [clips.get(ex.video) for ex in batch]  # a clip's questions share its decoded frames
        options = [ex.options or None for ex in batch]
        for cond in conditions:
            videos, questions = _condition_inputs(cond, frames, batch, cfg, model)
            start = time.perf_counter()
            choices = _choices(model, videos, questions, batch)
            texts: list[str | None] = [None] * len(batch)
            wants_text = cfg.generation and (cond == "model" or cfg.generation_controls)
            rows = [i for i, c in enumerate(choices) if wants_text or c is None]
            if rows:
                answers = generate_batch(
                    [videos[i] for i in rows],
                    [questions[i] for i in rows],
                    options=[options[i] for i in rows],
                    max_new_tokens=cfg.max_new_tokens,
                )
                if len(answers) != len(rows):
                    raise RuntimeError(f"the model returned {len(answers)} answers for {len(rows)} questions")
                for i, text in zip(rows, answers):
                    texts[i] = text
            seconds[cond] += time.perf_counter() - start
            records += [
                {"index": i, "condition": cond, "question": q, "choice": c, "response": t}
                for i, q, c, t in zip(idx, questions, choices, texts)
            ]
            bar.update(1)
    bar.close()
    return records, seconds


def _prediction(ex: Example, record: dict) -> str | None:
    """The headline answer: the likelihood choice when there is one, else the parsed response."""
    if record.get("choice") is not None:
        return LETTERS[record["choice"]]
    return parse_response(ex, record["response"])


def _metrics(preds, golds, types, responses, examples, cfg: EvalConfig) -> dict:
    metrics = per_type_accuracy(preds, golds, types, n_boot=cfg.n_boot, seed=cfg.seed)
    if any(ex.subtype for ex in examples):  # e.g. count of "all" objects, of a colour, of a shape
        subtypes = [f"{ex.type}/{ex.subtype}" if ex.subtype else ex.type for ex in examples]
        metrics["by_subtype"] = per_type_accuracy(preds, golds, subtypes, n_boot=cfg.n_boot, seed=cfg.seed)[
            "by_type"
        ]
    unparsed = [
        {"id": ex.id, "question": ex.question, "response": r}
        for ex, p, r in zip(examples, preds, responses)
        if p is None
    ]
    metrics["unparsed"] = {"count": len(unparsed), "examples": unparsed[: cfg.report_examples]}
    return metrics


def score(
    model,
    examples: list[Example],
    records: list[dict],
    conditions: list[str],
    cfg: EvalConfig,
    answer_pool: list[Example] | None = None,
) -> tuple[dict, list[dict]]:
    """Metrics (per condition, per type, with CIs; headline and generation), baselines, and the
    per-sample rows."""
    by_key = {(r["index"], r["condition"]): r for r in records}
    golds = [canonical_gold(ex) for ex in examples]
    types = [ex.type for ex in examples]
    conds: dict[str, dict] = {}
    generation: dict[str, dict] = {}
    samples: list[dict] = []
    for cond in conditions:
        rows = [by_key[(i, cond)] for i in range(len(examples))]
        responses = [r["response"] for r in rows]
        preds = [_prediction(ex, r) for ex, r in zip(examples, rows)]
        parsed = [None if r is None else parse_response(ex, r) for ex, r in zip(examples, responses)]
        for i, ex in enumerate(examples):
            samples.append(
                {
                    "id": ex.id,
                    "condition": cond,
                    "type": ex.type,
                    "subtype": ex.subtype,
                    "prompt": prompt_of(model, rows[i]["question"], ex.options),
                    "options": ex.options,
                    "choice": preds[i],
                    "response": responses[i],
                    "parsed": parsed[i],
                    "answer": golds[i],
                    "answer_text": ex.answer,
                    "correct": preds[i] is not None and preds[i] == golds[i],
                    "generation_correct": parsed[i] is not None and parsed[i] == golds[i],
                }
            )
        conds[cond] = _metrics(preds, golds, types, responses, examples, cfg)
        if all(r is not None for r in responses):
            generation[cond] = _metrics(parsed, golds, types, responses, examples, cfg)
    baselines = {}
    if cfg.baselines:
        baselines["chance"] = per_type_mean(
            chance_scores(examples, answer_pool), types, n_boot=cfg.n_boot, seed=cfg.seed
        )
        baselines["majority"] = per_type_accuracy(
            majority_predictions(examples, answer_pool), golds, types, n_boot=cfg.n_boot, seed=cfg.seed
        )
        baselines["majority"]["source"] = "train split" if answer_pool else "evaluated data"
    return {"conditions": conds, "generation": generation, "baselines": baselines}, samples


def run_qa(
    model,
    examples: list[Example],
    cfg: EvalConfig,
    dist: Dist = Dist(),
    answer_pool: list[Example] | None = None,
    progress: bool = True,
) -> tuple[dict | None, list[dict] | None, dict]:
    """Generate (sharded), gather, score on rank 0. Returns ``(metrics, samples, timings)``; None off rank 0."""
    conditions = ["model"] + [c for c in cfg.controls if c != "model"]
    perception = getattr(getattr(model, "config", None), "perception", "video")
    if perception != "video":  # frame controls mean nothing without a video; blind is the no-description one
        conditions = [c for c in conditions if c == "model" or (c == "blind" and perception == "description")]
    start = time.perf_counter()
    records, seconds = generate(model, examples, conditions, cfg, dist, progress)
    records = gather(records, dist)
    all_seconds = gather([seconds], dist)
    timings = {
        "generation_s": time.perf_counter() - start,
        "per_condition_s": {c: max(s[c] for s in all_seconds) for c in conditions},
        "num_processes": dist.world_size,
    }
    timings["examples_per_s"] = len(examples) * len(conditions) / max(timings["generation_s"], 1e-9)
    if not dist.is_main:
        return None, None, timings
    metrics, samples = score(model, examples, records, conditions, cfg, answer_pool)
    return metrics, samples, timings
