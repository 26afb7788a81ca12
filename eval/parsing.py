"""Answer parsing: turn a model's free-text response into a comparable answer.

    >>> parse_choice("The answer is (B).", ["a red cube", "a blue ball"])
    1
    >>> parse_number("I see three objects")
    3
    >>> parse_yes_no("Yes, they collide.")
    'yes'

Every parser returns ``None`` when it cannot find an answer; the harness counts that as wrong and
reports it (count + examples).
"""

from __future__ import annotations

import re
import string
import unicodedata

LETTERS = string.ascii_uppercase

NUMBER_WORDS = {
    "zero": 0,
    "none": 0,
    "no": 0,
    "one": 1,
    "single": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "twenty": 20,
}
_ARTICLES = {"a", "an", "the"}
_YES = {"yes", "yeah", "yep", "true", "correct", "y"}
_NO = {"no", "nope", "false", "incorrect", "n"}
_ANSWER_LEAD = re.compile(
    r"^\s*(?:the\s+)?(?:correct\s+|best\s+|final\s+)?(?:answer|option|choice)\s*(?:is|:)?\s*[:\-]?\s*",
    re.IGNORECASE,
)


def normalize_text(text: str) -> str:
    """Lowercase, strip accents, punctuation and articles, collapse spaces, number words -> digits."""
    text = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode()
    text = text.lower()
    text = re.sub(rf"[{re.escape(string.punctuation)}]", " ", text)
    words = [w for w in text.split() if w not in _ARTICLES]
    words = [
        str(NUMBER_WORDS[w]) if w in NUMBER_WORDS and w not in ("no", "none", "single") else w for w in words
    ]
    return " ".join(words)


def _strip_lead(text: str) -> str:
    """Drop a leading "The answer is" / "Answer:" so the answer itself comes first."""
    return _ANSWER_LEAD.sub("", text, count=1).strip()


def _letter_match(text: str, n: int) -> int | None:
    """A bare option letter: "B", "(B)", "B.", "B)", "[b]", "Option B", "answer is B", "B: text"."""
    valid = LETTERS[:n]
    body = _strip_lead(text)
    # The response starts with a letter standing alone: "(b)", "B", "B. a red cube", "B: ...".
    m = re.match(rf"^[\(\[]\s*([{valid}])\s*[\)\]]", body, re.IGNORECASE)
    if m is None:
        m = re.match(rf"^([{valid}])(?:[\.\):,]|\s*$)", body, re.IGNORECASE)
    if m is None:
        # "B is correct": an upper-case letter and a space; not "A"/"I", which are ordinary words.
        m = re.match(rf"^([{valid.replace('A', '').replace('I', '')}])\s", body)
    if m:
        return valid.index(m.group(1).upper())
    # Anywhere in the text: "(B)", "option B", "answer is B", "answer: B".
    m = re.search(rf"[\(\[]\s*([{valid}])\s*[\)\]]", text, re.IGNORECASE)
    if m is None:
        m = re.search(
            rf"(?i:\b(?:option|choice|answer|letter)(?:\s+is|\s+would\s+be|\s+should\s+be)?)\s*[:\-]?\s*"
            rf"([{valid}]|[{valid.lower()}](?=[\.\),:]|\s*$))(?![A-Za-z])",
            text,
        )
    if m:
        return valid.index(m.group(1).upper())
    return None


def _text_match(text: str, options: list[str]) -> int | None:
    """The response contains exactly one option's text (normalised); the longest match wins ties."""
    norm = normalize_text(text)
    if not norm:
        return None
    padded = f" {norm} "
    hits = []
    for i, opt in enumerate(options):
        o = normalize_text(opt)
        if o and (norm == o or f" {o} " in padded):
            hits.append((len(o), i))
    if not hits:
        return None
    hits.sort(reverse=True)
    # Two different options matched equally well: ambiguous.
    if len(hits) > 1 and hits[0][0] == hits[1][0]:
        return None
    # A longer option containing a shorter one ("red cube" vs "cube") is an unambiguous match.
    return hits[0][1]


def parse_choice(text: str, options: list[str]) -> int | None:
    """Index of the chosen option, from its letter ("B", "(B)", "B.", "The answer is B") or its text."""
    if not text or not options:
        return None
    n = min(len(options), len(LETTERS))
    by_text = _text_match(text, options)
    if normalize_text(text) in {normalize_text(o) for o in options} and by_text is not None:
        return by_text
    by_letter = _letter_match(text.strip(), n)
    if by_letter is not None:
        return by_letter
    return by_text


def parse_number(text: str) -> int | None:
    """The first number in the response, as digits ("3", "3.0") or words ("three", "no objects" -> 0)."""
    if not text:
        return None
    body = _strip_lead(text).lower()
    for tok in re.findall(r"-?\d+(?:\.\d+)?|[a-z]+", body):
        if re.fullmatch(r"-?\d+(?:\.\d+)?", tok):
            value = float(tok)
            return int(value) if value.is_integer() else None
        if tok in NUMBER_WORDS and tok not in ("no", "single"):
            return NUMBER_WORDS[tok]
        if tok == "no" and re.search(r"\bno\s+(?:objects?|ones?|things?|shapes?|balls?|cubes?)\b", body):
            return 0
    return None


def parse_yes_no(text: str) -> str | None:
    """``"yes"`` or ``"no"`` from the first yes/no word of the response."""
    if not text:
        return None
    for tok in re.findall(r"[a-z]+", _strip_lead(text).lower()):
        if tok in _YES:
            return "yes"
        if tok in _NO:
            return "no"
    return None


def parse_open(text: str) -> str | None:
    """Open-ended answer: the normalised text with a leading "The answer is" removed."""
    if not text or not text.strip():
        return None
    return normalize_text(_strip_lead(text.strip().splitlines()[0])) or None
