"""benchmarks/colour_errors.py and benchmarks/summarise_eval.py on a hand-made eval dir."""

from __future__ import annotations

import json

from conftest import benchmark_script


def _sample(qid: str, options: list[str], choice: str, correct: bool, condition: str = "model") -> str:
    row = {"id": qid, "condition": condition, "type": "attribute", "subtype": "colour", "options": options}
    return json.dumps({**row, "choice": choice, "correct": correct})


def test_colour_errors_tell_another_objects_colour_from_no_objects(tmp_path):
    clips = {"test-000001": {"objects": [{"colour": "red"}, {"colour": "blue"}]}}
    lines = [
        _sample("test-000001-q00", ["red", "green", "blue"], "A", True),  # right
        _sample("test-000001-q01", ["red", "green", "blue"], "C", False),  # the other object's colour
        _sample("test-000001-q02", ["red", "green", "blue"], "B", False),  # no object is green
        _sample(
            "test-000001-q03", ["red", "green", "blue"], "B", False, condition="blind"
        ),  # not the model's
    ]
    (tmp_path / "samples.jsonl").write_text("\n".join(lines))
    counts = benchmark_script("colour_errors").tally(tmp_path / "samples.jsonl", clips)
    assert counts == {"colour": {"right": 1, "another object's": 1, "no object's": 1}}


def test_summarise_eval_puts_model_and_controls_on_one_line(tmp_path):
    results = {
        "metrics": {
            "by_type": {"count": {"accuracy": 0.6111}},
            "by_subtype": {"count/all": {"accuracy": 0.78}},
        },
        "controls": {"blind": {"by_type": {"count": {"accuracy": 0.3433}}}},
    }
    (tmp_path / "results.json").write_text(json.dumps(results))
    line = benchmark_script("summarise_eval").summarise(tmp_path)
    assert (
        "model {'count': 0.611}" in line and "blind {'count': 0.343}" in line and "'count/all': 0.78" in line
    )
