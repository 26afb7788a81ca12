"""The chat handlers: one conversation per clip, answers streamed token by token, retry, clear.

The chat is a list of message dicts (`{"role", "content"}`, Gradio's messages format) that holds
only the current clip's questions and answers, so it is exactly the history the model sees. App
notes (no video, could not answer, the synthetic-world caveat) go to the notice line under the
chat, never into an answer bubble. A new clip moves the chat to `earlier` (shown, never sent).

    for messages, box, latencies, latency_md, notice in ask(model, clip, "What moves?", [], [], 32, 0.0):
        print(messages[-1]["content"])
    earlier = archive(earlier, clip, messages)        # before a new clip's conversation starts
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

from app.config import AppConfig
from app.handlers import NO_VIDEO, Clip, Refused, open_video
from jepa_vqa.errors import UserError

log = logging.getLogger(__name__)

EMPTY_ANSWER = "The model stopped without answering (is it trained for this kind of question?)."

Message = dict
ChatOutputs = tuple[list[Message], str, list[str], str, str]  # messages, box, latencies, md, notice


def text_of(content) -> str:
    """Message content as text: a string, or Gradio's normalised list of `{"type": "text"}` parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return str(content.get("text", ""))
    if isinstance(content, (list, tuple)):
        return "".join(text_of(part) for part in content if isinstance(part, (str, dict)))
    return ""


def plain_text(text: str) -> str:
    """`text` without control characters (a model may emit them; prompts must not contain them)."""
    return "".join(ch for ch in text if ch.isprintable() or ch in "\n\t").strip()


def conversation(messages: list[Message]) -> list[tuple[str, str]]:
    """The (user, assistant) pairs the model should see, as plain text; unanswered questions,
    blank answers and anything carrying a `metadata.title` (an app note) are skipped."""
    pairs, pending = [], None
    for message in messages:
        if (message.get("metadata") or {}).get("title"):
            continue
        if message["role"] == "user":
            pending = plain_text(text_of(message["content"]))
        elif message["role"] == "assistant" and pending is not None:
            answer = plain_text(text_of(message["content"]))
            if pending and answer:
                pairs.append((pending, answer))
            pending = None
    return pairs


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
    """Stream an answer to `question` about `clip` into the chat, with the chat as history.

    Yields (messages, question box text, latencies, latency markdown, notice) after every piece.
    """
    messages, latencies = list(messages or []), list(latencies or [])
    question = (question or "").strip()
    if not question:
        yield messages, "", latencies, latency_markdown(latencies), ""
        return
    if clip is None:  # keep the question in the box: it can be asked once a clip is loaded
        yield messages, question, latencies, latency_markdown(latencies), NO_VIDEO
        return
    history = conversation(messages)
    messages.append({"role": "user", "content": question})
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
            yield messages, "", latencies, latency_markdown(latencies), clip.caveat
    except UserError as exc:
        messages.pop()
        yield messages, "", latencies, latency_markdown(latencies), f"**Could not answer:** {exc}"
        return
    except Exception as exc:  # noqa: BLE001 - never a stack trace on the page
        log.exception("answering %r failed", question)
        messages.pop()
        text = f"**Could not answer:** internal error ({type(exc).__name__})"
        yield messages, "", latencies, latency_markdown(latencies), text
        return
    total = time.perf_counter() - start
    notice = clip.caveat
    if not answer["content"].strip():
        messages.pop()  # no empty bubble: the notice says what happened
        notice = EMPTY_ANSWER
    latencies.append(_latency_line(len(latencies) + 1, first, total, pieces))
    yield messages, "", latencies, latency_markdown(latencies), notice


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
        yield messages, "", list(latencies or []), latency_markdown(list(latencies or [])), ""
        return
    question = text_of(messages[last_user]["content"])
    kept = messages[:last_user]
    answered = sum(1 for m in kept if m["role"] == "assistant")  # one latency each
    kept_latencies = list(latencies or [])[:answered]
    yield from ask(model, clip, question, kept, kept_latencies, max_new_tokens, temperature)


def clear() -> ChatOutputs:
    """An empty chat (the loaded video stays)."""
    return [], "", [], latency_markdown([]), ""


# ----------------------------------------------------------------------------- earlier clips


def archive(earlier: list[dict], clip: Clip | None, messages: list[Message]) -> list[dict]:
    """`earlier` plus the conversation about `clip` (unchanged when there was none)."""
    if clip is None or not messages:
        return list(earlier or [])
    return [*(earlier or []), {"clip": clip.name, "messages": list(messages)}]


def earlier_markdown(earlier: list[dict]) -> str:
    """The archived conversations, newest first, each headed by its clip."""
    parts = []
    for item in reversed(earlier or []):
        lines = [f"**About {item['clip']}** (an earlier clip; not sent to the model)"]
        for message in item["messages"]:
            who = "You" if message["role"] == "user" else "Model"
            lines.append(f"- *{who}:* {plain_text(text_of(message['content'])).replace(chr(10), ' ')}")
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


# ----------------------------------------------------------------------------- API


def answer_once(model, path: str | None, question: str, cfg: AppConfig, max_new_tokens: int) -> str:
    """One greedy answer about a video file, with no history (the app's `/answer` API endpoint)."""
    loaded = open_video(model, path, 0.0, cfg)
    if isinstance(loaded, Refused):
        raise UserError(loaded.status.replace("**", ""))
    question = (question or "").strip()
    if not question:
        raise UserError("no question: ask something about the video")
    gen = generation_kwargs(max_new_tokens, 0.0)
    return model.answer(loaded.clip.frames, question, **gen).strip()
