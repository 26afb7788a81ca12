"""VQA accuracy as an `evaluate` metric module, shipped in the repo so it loads offline.

    import evaluate
    metric = evaluate.load("eval/metrics/vqa_accuracy")
    metric.compute(predictions=["b", ""], references=["b", "a"])  # {"accuracy": 0.5, ...}

Predictions and references are canonical answer strings (an option index, a number, "yes"/"no",
or normalised open-ended text) made by `eval.parsing`; an empty prediction is an unparseable
answer and is always wrong.
"""

import datasets
import evaluate

_DESCRIPTION = "Exact-match accuracy between canonical answers; empty predictions count as wrong."
_INPUTS = """
Args:
    predictions (list[str]): canonical parsed answers ("" when the response could not be parsed).
    references (list[str]): canonical gold answers.
Returns:
    accuracy (float), correct (int), total (int), unparsed (int)
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _INPUTS)
class VqaAccuracy(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_INPUTS,
            features=datasets.Features(
                {"predictions": datasets.Value("string"), "references": datasets.Value("string")}
            ),
        )

    def _compute(self, predictions, references):
        total = len(references)
        correct = sum(1 for p, r in zip(predictions, references) if p != "" and p == r)
        unparsed = sum(1 for p in predictions if p == "")
        return {
            "accuracy": correct / total if total else float("nan"),
            "correct": correct,
            "total": total,
            "unparsed": unparsed,
        }
