"""Question wording: several phrasings per question template, and how an object is named.

Templates are `str.format` strings over `{a}`/`{b}` (object phrases), `{x}` (a colour or shape),
`{e}`/`{f}` (events) and `{w}` (a time span); `worlds.questions` picks one at random::

    T_ATTR["colour"][0].format(a=phrase({"colour": "red", "shape": "circle"}))
"""

from __future__ import annotations

T_ATTR = {
    "colour": [
        "What colour is {a}?",
        "What is the colour of {a}?",
        "Which colour does {a} have?",
        "What color is {a}?",
    ],
    "shape": ["What shape is {a}?", "What is the shape of {a}?", "Which shape does {a} have?"],
    "size": ["What size is {a}?", "Is {a} small or large?", "How big is {a}, small or large?"],
}
T_COUNT = {
    "all": [
        "How many objects are there in the video?",
        "How many objects appear in the video?",
        "Count the objects in the video.",
        "How many objects can you see in total?",
    ],
    "colour": [
        "How many {x} objects are there?",
        "How many {x} objects appear in the video?",
        "Count the {x} objects.",
    ],
    "shape": ["How many {x}s are there?", "How many {x}s appear in the video?", "Count the {x}s."],
}
T_MOTION = {
    "whole": [
        "In which direction is {a} moving?",
        "Which way does {a} move?",
        "Where is {a} heading: left, right, up or down?",
        "What is the direction of travel of {a}?",
    ],
    "start": [
        "In which direction is {a} moving at the start of the video?",
        "Which way does {a} move at the beginning?",
        "At first, where is {a} heading?",
    ],
    "end": [
        "In which direction is {a} moving at the end of the video?",
        "Which way does {a} move at the end?",
        "By the end of the video, where is {a} heading?",
    ],
}
T_COLLIDE = [
    "Did {a} collide with {b}?",
    "Does {a} hit {b}?",
    "Do {a} and {b} bump into each other?",
    "Is there a collision between {a} and {b}?",
]
T_COLLISIONS = [
    "How many collisions between objects are there?",
    "How many times do objects collide with each other?",
    "Count the collisions between objects.",
]
T_ORDER = [
    "Did {e} happen before or after {f}?",
    "Was {e} before or after {f}?",
    "Did {e} come before or after {f}?",
]
T_WILL_HIT = [
    "Will {a} hit {b} after the video ends?",
    "If the video went on, would {a} collide with {b}?",
    "After the end of the video, will {a} and {b} collide?",
]
T_WHERE = [
    "Where will {a} be {w} after the video ends?",
    "Predict where {a} will be {w} after the video ends.",
    "If the video went on for {w}, where would {a} be?",
]
T_HIDDEN_COUNT = [
    "How many objects are behind the bar at the end of the video?",
    "At the end of the video, how many objects are hidden behind the bar?",
    "When the video ends, how many objects are behind the occluder?",
]
T_IS_HIDDEN = [
    "Is {a} behind the bar at the end of the video?",
    "At the end, is {a} hidden behind the bar?",
    "When the video ends, is {a} behind the occluder?",
]


def phrase(attrs: dict) -> str:
    """{"colour": "red", "shape": "circle"} -> "the red circle"; without a shape, "... object"."""
    words = [attrs[a] for a in ("size", "colour") if a in attrs] + [attrs.get("shape", "object")]
    return "the " + " ".join(words)
