"""One evaluation example and how its answers are made comparable.

An :class:`Example` is what every dataset loader returns, whatever the source format. Its ``kind``
picks the parser: ``choice`` (options), ``number``, ``yes_no`` or ``open`` (normalised exact match).
Answers are compared as canonical strings: the option letter, the digits, ``yes``/``no``, or the
normalised text.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from eval.parsing import LETTERS, normalize_text, parse_choice, parse_number, parse_open, parse_yes_no

KINDS = ("choice", "number", "yes_no", "open")


@dataclass
class Example:
    id: str
    video: str | None  # absolute path to the video file
    question: str
    answer: str  # gold answer; for multiple choice, the text of the correct option
    options: list[str] = field(default_factory=list)
    type: str = "all"
    subtype: str = ""  # a finer family within the type (world-qa: "colour", "all", "start", ...)
    kind: str = ""  # derived from answer/options when empty
    scene: str | None = None  # ground-truth scene description (synthetic worlds), for the text bound

    def __post_init__(self) -> None:
        self.options = [str(o) for o in self.options]
        self.answer = str(self.answer)
        if not self.kind:
            self.kind = infer_kind(self.answer, self.options)
        if self.kind not in KINDS:
            raise ValueError(f"example {self.id}: unknown answer kind {self.kind!r}")
        if self.kind == "choice" and gold_index(self) is None:
            raise ValueError(f"example {self.id}: answer {self.answer!r} is not one of its options")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def infer_kind(answer: str, options: list[str]) -> str:
    """``choice`` when there are options, else ``yes_no`` / ``number`` / ``open`` from the answer."""
    if options:
        return "choice"
    if parse_yes_no(answer) is not None and normalize_text(answer) in ("yes", "no"):
        return "yes_no"
    if normalize_text(answer).isdigit():
        return "number"
    return "open"


def gold_index(ex: Example) -> int | None:
    """Index of the gold option: the answer is an option's text (or, failing that, its letter)."""
    norm = normalize_text(ex.answer)
    for i, opt in enumerate(ex.options):
        if normalize_text(opt) == norm:
            return i
    letter = ex.answer.strip().upper()
    if len(letter) == 1 and letter in LETTERS[: len(ex.options)]:
        return LETTERS.index(letter)
    return None


def canonical_gold(ex: Example) -> str:
    """The gold answer as a canonical string."""
    if ex.kind == "choice":
        return LETTERS[gold_index(ex)]
    if ex.kind == "number":
        return str(parse_number(ex.answer))
    if ex.kind == "yes_no":
        return parse_yes_no(ex.answer) or ""
    return normalize_text(ex.answer)


def parse_response(ex: Example, text: str) -> str | None:
    """The model's response as a canonical string, or ``None`` when it cannot be parsed."""
    if ex.kind == "choice":
        idx = parse_choice(text, ex.options)
        return None if idx is None else LETTERS[idx]
    if ex.kind == "number":
        num = parse_number(text)
        return None if num is None else str(num)
    if ex.kind == "yes_no":
        return parse_yes_no(text)
    return parse_open(text)
