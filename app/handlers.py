"""The app's event handlers: plain functions over plain values, testable without a browser.

`app.ui` wires them to Gradio components. The chat is a list of message dicts
(`{"role", "content"}`, Gradio's messages format); app notes (a video was loaded, a file was
refused) carry `metadata.title` and are never sent to the model as conversation.

    clip, gallery, messages, status = open_video(model, "clip.mp4", 0.0, [], AppConfig())
    for messages, _, latencies, latency_md in ask(model, clip, "What moves?", messages, [], 32, 0.0):
        print(messages[-1]["content"])
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure

from app.config import AppConfig
from app.media import check_video, gallery_images
from app.surprise_plot import surprise_figure
from jepa_vqa.errors import UserError

log = logging.getLogger(__name__)

NO_VIDEO = "Upload a video or pick an example clip first."
EMPTY_ANSWER = "(the model stopped without answering)"


@dataclass
class Clip:
    """A checked, decoded video: the frames the model sees, kept for the whole conversation."""

    path: str
    name: str
    frames: torch.Tensor  # (T, C, H, W) uint8
    summary: str  # one line: frames, duration, size


Message = dict
ChatOutputs = tuple[list[Message], str, list[str], str]  # messages, question box, latencies, latency md


# ----------------------------------------------------------------------------- messages


def note(title: str, text: str) -> Message:
    """An app note in the chat (not part of the conversation the model sees)."""
    return {"role": "assistant", "content": text, "metadata": {"title": title}}


def text_of(content) -> str:
    """Message content as text: a string, or Gradio's normalised list of `{"type": "text"}` parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return str(content.get("text", ""))
    if isinstance(content, (list, tuple)):
        return "".join(text_of(part) for part in content if isinstance(part, (str, dict)))
    return ""


def is_note(message: Message) -> bool:
    return bool((message.get("metadata") or {}).get("title"))


def plain_text(text: str) -> str:
    """`text` without control characters (a model may emit them; prompts must not contain them)."""
    return "".join(ch for ch in text if ch.isprintable() or ch in "\n\t").strip()


def conversation(messages: list[Message]) -> list[tuple[str, str]]:
    """The (user, assistant) pairs the model should see, as plain text.

    Notes, unanswered questions and blank answers (shown as EMPTY_ANSWER) are skipped."""
    pairs, pending = [], None
    for message in messages:
        if is_note(message):
            continue
        if message["role"] == "user":
            pending = plain_text(text_of(message["content"]))
        elif message["role"] == "assistant" and pending is not None:
            answer = plain_text(text_of(message["content"]))
            if pending and answer and answer != EMPTY_ANSWER:
                pairs.append((pending, answer))
            pending = None
    return pairs


# ----------------------------------------------------------------------------- video


def decode_frames(model, path: str | Path, fps: float = 0.0) -> torch.Tensor:
    """The frames the model sees: uint8 (T, C, H, W), T = the model's frame count.

    `fps` 0 spreads them over the whole clip (`model.load_frames`); otherwise they are `1/fps`
    seconds apart around the middle of the clip (a close look at a short moment).
    """
    if not fps:
        return model.load_frames(path)
    from encoder.video import read_frames

    return read_frames(
        path, num_frames=model.config.num_frames, size=model.encoder.image_size, fps=float(fps)
    )


def _summary(info, frames: torch.Tensor, fps: float) -> str:
    t, _, h, w = frames.shape
    spacing = f"{1 / fps:.2g} s apart" if fps else "spread over the clip"
    parts = [f"{t} frames at {w}x{h} shown to the model ({spacing})"]
    if info.duration_s is not None:
        parts.append(f"clip {info.duration_s:.1f} s")
    if info.width and info.height:
        parts.append(f"{info.width}x{info.height}")
    if info.fps:
        parts.append(f"{info.fps:.0f} fps")
    return ", ".join(parts)


def open_video(
    model, path: str | None, fps: float, messages: list[Message], cfg: AppConfig
) -> tuple[Clip | None, list[np.ndarray], list[Message], str]:
    """Check and decode an upload (`fps` as in `decode_frames`) -> (clip, gallery, messages, status).

    A refused or unreadable file yields `clip=None` and a readable note in the chat.
    """
    messages = list(messages or [])
    if path is None or str(path) == "":
        return None, [], messages, NO_VIDEO
    name = Path(path).name
    from encoder.video import VideoDecodeError

    try:
        info = check_video(path, cfg)
        frames = decode_frames(model, path, fps)  # (T, C, H, W)
    except UserError as exc:
        text = f"{name}: {exc.problem}" if isinstance(exc, VideoDecodeError) else str(exc)
        messages.append(note("Could not use this video", text))
        return None, [], messages, f"Refused: {text}"
    except Exception as exc:  # noqa: BLE001 - any decoder failure becomes a readable note
        log.exception("decoding %s failed", path)
        text = f"{name}: could not decode the video ({type(exc).__name__})"
        messages.append(note("Could not use this video", text))
        return None, [], messages, f"Refused: {text}"
    clip = Clip(path=str(path), name=name, frames=frames, summary=_summary(info, frames, fps))
    messages.append(note(f"Video: {name}", clip.summary))
    return clip, gallery_images(frames), messages, f"{name}: {clip.summary}"


def world_model_view(surprise_spec: str | None, clip: Clip | None) -> tuple[Figure | None, str]:
    """The encoder's surprise over time for `clip` -> (figure, caption)."""
    if clip is None:
        return None, "Upload a clip to see how surprised the world model is, frame by frame."
    if not surprise_spec:
        return None, "This model's encoder has no world-model predictor, so there is no surprise curve."
    from encoder.surprise import surprise_curve

    try:
        curve = surprise_curve(surprise_spec, clip.frames)  # (S,)
        fig = surprise_figure(curve, title=clip.name)
    except UserError as exc:
        return None, f"No surprise curve: {exc}"
    except Exception as exc:  # noqa: BLE001 - the plot is optional; the chat must keep working
        log.exception("surprise curve for %s failed", clip.path)
        return None, f"No surprise curve ({type(exc).__name__}: {exc})"
    peak = int(curve.argmax()) + 1
    return fig, (
        f"Encoder `{surprise_spec}`: prediction error per time step; the peak (step {peak}) "
        "is where the world model was most surprised."
    )


# ----------------------------------------------------------------------------- chat


def generation_kwargs(max_new_tokens: int, temperature: float) -> dict:
    """Slider values -> `stream_answer` keyword arguments (temperature 0 = greedy)."""
    gen = {"max_new_tokens": int(max_new_tokens)}
    if temperature and temperature > 0:
        gen.update(do_sample=True, temperature=float(temperature))
    else:
        gen["do_sample"] = False
    return gen


def _latency_line(index: int, first_s: float | None, total_s: float, pieces: int) -> str:
    first = f"first token {first_s:.2f} s, " if first_s is not None else ""
    rate = f", {pieces / total_s:.1f}/s" if total_s > 0 else ""
    return f"answer {index}: {total_s:.2f} s ({first}{pieces} pieces{rate})"


def latency_markdown(latencies: list[str]) -> str:
    if not latencies:
        return "Latency of each answer appears here."
    return "**Latency per answer**\n\n" + "\n".join(f"- {line}" for line in latencies)


def ask(
    model,
    clip: Clip | None,
    question: str,
    messages: list[Message],
    latencies: list[str],
    max_new_tokens: int,
    temperature: float,
) -> Iterator[ChatOutputs]:
    """Stream an answer to `question` about `clip`, token by token, into the chat.

    Yields (messages, question box text, latencies, latency markdown) after every piece.
    """
    messages, latencies = list(messages or []), list(latencies or [])
    question = (question or "").strip()
    if not question:
        yield messages, "", latencies, latency_markdown(latencies)
        return
    history = conversation(messages)
    messages.append({"role": "user", "content": question})
    if clip is None:
        messages.append(note("No video", NO_VIDEO))
        yield messages, "", latencies, latency_markdown(latencies)
        return
    answer = {"role": "assistant", "content": ""}
    messages.append(answer)
    gen = generation_kwargs(max_new_tokens, temperature)
    start, first, pieces = time.perf_counter(), None, 0
    try:
        for piece in model.stream_answer(clip.frames, question, history=history, **gen):
            if first is None:
                first = time.perf_counter() - start
            pieces += 1
            answer["content"] += piece
            yield messages, "", latencies, latency_markdown(latencies)
    except UserError as exc:
        messages[-1] = note("Could not answer", str(exc))
        yield messages, "", latencies, latency_markdown(latencies)
        return
    except Exception as exc:  # noqa: BLE001 - never a stack trace in the chat
        log.exception("answering %r failed", question)
        messages[-1] = note("Could not answer", f"internal error ({type(exc).__name__}: {exc})")
        yield messages, "", latencies, latency_markdown(latencies)
        return
    total = time.perf_counter() - start
    if not answer["content"].strip():
        answer["content"] = EMPTY_ANSWER
    latencies.append(_latency_line(len(latencies) + 1, first, total, pieces))
    yield messages, "", latencies, latency_markdown(latencies)


def retry(
    model,
    clip: Clip | None,
    messages: list[Message],
    latencies: list[str],
    max_new_tokens: int,
    temperature: float,
) -> Iterator[ChatOutputs]:
    """Drop the last question and everything after it, then ask it again."""
    messages = list(messages or [])
    last_user = next((i for i in range(len(messages) - 1, -1, -1) if messages[i]["role"] == "user"), None)
    if last_user is None:
        yield messages, "", list(latencies or []), latency_markdown(list(latencies or []))
        return
    question = text_of(messages[last_user]["content"])
    kept = messages[:last_user]
    answered = sum(1 for m in kept if m["role"] == "assistant" and not is_note(m))  # one latency each
    kept_latencies = list(latencies or [])[:answered]
    yield from ask(model, clip, question, kept, kept_latencies, max_new_tokens, temperature)


def clear() -> tuple[list[Message], str, list[str], str]:
    """An empty chat (the loaded video stays)."""
    return [], "", [], latency_markdown([])


# ----------------------------------------------------------------------------- model card


def describe_markdown(model) -> str:
    """Which model, encoder and LLM are loaded, as a small Markdown table."""
    rows = "\n".join(f"| {key} | `{value}` |" for key, value in model.describe().items())
    return "| loaded | |\n| --- | --- |\n" + rows
