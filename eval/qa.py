"""The QA runner: batched generation under the model condition and each control, then scoring.

    from eval.qa import run_qa
    result = run_qa(model, examples, EvalConfig(), answer_pool=train_examples)

``model`` is anything with ``answer_batch(videos, questions, options=None, **generation)`` and
``load_frames(path) -> uint8 (T, C, H, W)`` (a ``vlm.model.VideoQAModel``). Frames are decoded
once per example and reused by every condition. Under ``accelerate launch`` (or torchrun) each process answers
its share of the batches and rank 0 scores the gathered answers.
"""

from __future__ import annotations

import time

from tqdm.auto import tqdm

from eval.config import EvalConfig
from eval.controls import apply_control, chance_scores, majority_predictions
from eval.distributed import Dist, gather, my_batches
from eval.example import Example, canonical_gold, parse_response
from eval.scoring import per_type_accuracy, per_type_mean


def prompt_of(model, ex: Example) -> str:
    """The question as the model sees it (the contract's one multiple-choice format)."""
    if ex.options and hasattr(model, "format_question"):
        return model.format_question(ex.question, ex.options)
    return ex.question


def generate(
    model,
    examples: list[Example],
    conditions: list[str],
    cfg: EvalConfig,
    dist: Dist = Dist(),
    progress: bool = True,
) -> tuple[list[dict], dict[str, float]]:
    """Responses for this rank's batches: ``[{"index", "condition", "response"}]`` and seconds per condition."""
    mine = my_batches(len(examples), cfg.batch_size, dist)
    records: list[dict] = []
    seconds = dict.fromkeys(conditions, 0.0)
    bar = tqdm(
        total=len(mine) * len(conditions), desc="eval", unit="batch", disable=not (progress and dist.is_main)
    )
    for idx in mine:
        batch = [examples[i] for i in idx]
        needs_frames = any(c != "blind" for c in conditions)
        frames = [model.load_frames(ex.video) if needs_frames and ex.video else None for ex in batch]
        questions = [ex.question for ex in batch]
        options = [ex.options or None for ex in batch]
        for cond in conditions:
            videos = [
                None if f is None else apply_control(cond, f, cfg.seed, ex.id) for f, ex in zip(frames, batch)
            ]
            if cond == "blind":
                videos = [None] * len(batch)
            start = time.perf_counter()
            answers = model.answer_batch(
                videos, questions, options=options, max_new_tokens=cfg.max_new_tokens
            )
            seconds[cond] += time.perf_counter() - start
            if len(answers) != len(batch):
                raise RuntimeError(f"answer_batch returned {len(answers)} answers for {len(batch)} questions")
            records += [{"index": i, "condition": cond, "response": a} for i, a in zip(idx, answers)]
            bar.update(1)
    bar.close()
    return records, seconds


def score(
    model,
    examples: list[Example],
    records: list[dict],
    conditions: list[str],
    cfg: EvalConfig,
    answer_pool: list[Example] | None = None,
) -> tuple[dict, list[dict]]:
    """Metrics (per condition, per type, with CIs), baselines and the per-sample rows."""
    by_key = {(r["index"], r["condition"]): r["response"] for r in records}
    golds = [canonical_gold(ex) for ex in examples]
    types = [ex.type for ex in examples]
    prompts = [prompt_of(model, ex) for ex in examples]
    conds: dict[str, dict] = {}
    samples: list[dict] = []
    for cond in conditions:
        preds = []
        unparsed = []
        for i, ex in enumerate(examples):
            response = by_key[(i, cond)]
            parsed = parse_response(ex, response)
            preds.append(parsed)
            if parsed is None:
                unparsed.append({"id": ex.id, "question": ex.question, "response": response})
            samples.append(
                {
                    "id": ex.id,
                    "condition": cond,
                    "type": ex.type,
                    "prompt": prompts[i],
                    "options": ex.options,
                    "response": response,
                    "parsed": parsed,
                    "answer": golds[i],
                    "answer_text": ex.answer,
                    "correct": parsed is not None and parsed == golds[i],
                }
            )
        metrics = per_type_accuracy(preds, golds, types, n_boot=cfg.n_boot, seed=cfg.seed)
        metrics["unparsed"] = {"count": len(unparsed), "examples": unparsed[: cfg.report_examples]}
        conds[cond] = metrics
    baselines = {}
    if cfg.baselines:
        baselines["chance"] = per_type_mean(
            chance_scores(examples, answer_pool), types, n_boot=cfg.n_boot, seed=cfg.seed
        )
        baselines["majority"] = per_type_accuracy(
            majority_predictions(examples, answer_pool), golds, types, n_boot=cfg.n_boot, seed=cfg.seed
        )
        baselines["majority"]["source"] = "train split" if answer_pool else "evaluated data"
    return {"conditions": conds, "baselines": baselines}, samples


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
