"""``jepa-vqa bench eval``: questions per second of a QA eval, condition by condition.

The questions about one clip are scored in one row, the clip's video prefix computed once, and
generated from one KV cache of that prefix (``model.questions_per_row``); this measures that against
each question alone, the two settings interleaved in one run, and how often they answer alike::

    jepa-vqa bench eval --model checkpoints/default --data runs/world-seed7 --limit 96 [--generation]
"""

from __future__ import annotations

import statistics
import time

from eval.config import CONTROLS, EvalConfig


def time_conditions(
    model, examples: list, conditions: list[str], per_row: int, batch_size: int, generation: bool
):
    """(seconds per condition, answers keyed by (example index, condition)) of one pass over
    ``examples`` with ``per_row`` questions of a clip sharing its prefix; likelihood choices, and
    free generation under the model condition if ``generation``."""
    from eval.qa import generate

    model.questions_per_row = per_row
    cfg = EvalConfig(batch_size=batch_size, generation=generation, controls=list(conditions[1:]))
    records, seconds = generate(model, examples, conditions, cfg, progress=False)
    return seconds, {(r["index"], r["condition"]): (r["choice"], r["response"]) for r in records}


def bench_eval(
    model, examples: list, rounds: int = 2, per_row: int = 8, batch_size: int = 8, generation: bool = False
) -> dict:
    """Median seconds per condition (the model's input and each control) with ``per_row``
    questions of a clip sharing its prefix and with each alone, interleaved over ``rounds``, their
    ratio, and how often the two settings give the same answers."""
    from jepa_vqa.precision import hardware_info

    conditions = ["model", *CONTROLS]
    settings = {"one_per_row": 1, "shared_rows": per_row}
    seconds: dict[str, list[dict]] = {name: [] for name in settings}
    answers: dict[str, dict] = {}
    previous = model.questions_per_row
    time_conditions(model, examples[:batch_size], conditions, per_row, batch_size, generation)  # warm-up
    for _ in range(rounds):
        for name, setting in settings.items():
            start = time.perf_counter()
            spent, answers[name] = time_conditions(
                model, examples, conditions, setting, batch_size, generation
            )
            spent["total"] = time.perf_counter() - start
            seconds[name].append(spent)
    model.questions_per_row = previous
    result: dict = {
        "questions": len(examples),
        "questions_per_row": per_row,
        "batch_size": batch_size,
        "rounds": rounds,
    }
    for cond in [*conditions, "total"]:
        one, shared = (statistics.median(s[cond] for s in seconds[name]) for name in settings)
        result[cond] = {
            "one_per_row_q_per_s": round(len(examples) / one, 2),
            "shared_rows_q_per_s": round(len(examples) / shared, 2),
            "speedup": round(one / shared, 2),
        }
    pairs = [(answers["one_per_row"][key], answer) for key, answer in answers["shared_rows"].items()]
    result["choice_agreement"] = round(sum(a[0] == b[0] for a, b in pairs) / len(pairs), 4)
    generated = [(a[1], b[1]) for a, b in pairs if b[1] is not None]
    if generated:
        result["generation_agreement"] = round(sum(a == b for a, b in generated) / len(generated), 4)
    result["precision"] = str(model.llm.dtype).removeprefix("torch.")
    result["hardware"] = hardware_info()
    return result
