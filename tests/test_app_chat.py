"""The app's chat handlers (app.chat) with a real tiny VideoQAModel: streaming, history, notes
outside the answer bubbles, one conversation per clip, the /answer API function.

Run:

    .venv/bin/python -m pytest tests/test_app_chat.py -x -q
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from test_app import mute_llm, write_clip  # noqa: E402

from app import chat, handlers  # noqa: E402
from app.config import AppConfig  # noqa: E402
from jepa_vqa.errors import UserError  # noqa: E402

GREEDY = {"max_new_tokens": 6, "temperature": 0.0}


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    from vlm.testing import make_tiny_model

    return make_tiny_model(tmp_path_factory.mktemp("tiny-llm")).eval()


@pytest.fixture(scope="module")
def clip_path(tmp_path_factory) -> Path:
    return write_clip(tmp_path_factory.mktemp("clips") / "square.mp4")


@pytest.fixture()
def clip(model, clip_path) -> handlers.Clip:
    return handlers.open_video(model, str(clip_path), 0.0, AppConfig()).clip


def run(gen):
    """Drain a streaming handler -> (number of yields, last outputs)."""
    outs = list(gen)
    return len(outs), outs[-1]


def expected_answer(model, clip, question, history=()):
    return model.answer(clip.frames, question, history=list(history), max_new_tokens=6, do_sample=False)


def test_conversation_reads_gradio_content_and_skips_unanswered_questions():
    messages = [
        {"role": "user", "content": [{"type": "text", "text": "What moves?"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "A square."}], "metadata": None},
        {"role": "user", "content": "Unanswered"},
        {"role": "assistant", "content": "old note", "metadata": {"title": "Video: a.mp4"}},
        {"role": "user", "content": "Where?"},
        {"role": "assistant", "content": "Left."},
    ]
    assert chat.conversation(messages) == [("What moves?", "A square."), ("Where?", "Left.")]


def test_conversation_cleans_what_the_model_would_reject():
    messages = [
        {"role": "user", "content": "What moves?"},
        {"role": "assistant", "content": "A\x00 sq\x1buare.\n"},
        {"role": "user", "content": "And then?"},
        {"role": "assistant", "content": "\x07"},
    ]
    assert chat.conversation(messages) == [("What moves?", "A square.")]


def test_generation_kwargs_greedy_at_zero_temperature():
    assert chat.generation_kwargs(8, 0.0) == {"max_new_tokens": 8, "do_sample": False}
    assert chat.generation_kwargs(8, 0.7) == {"max_new_tokens": 8, "do_sample": True, "temperature": 0.7}


def test_ask_streams_the_models_answer(model, clip):
    n, (out, box, latencies, latency_md, notice) = run(chat.ask(model, clip, "What moves?", [], [], **GREEDY))
    answer = expected_answer(model, clip, "What moves?")
    assert answer.strip(), "the tiny test model should say something"
    assert out == [{"role": "user", "content": "What moves?"}, {"role": "assistant", "content": answer}]
    assert n >= 2  # streamed: one update per piece, then the final one
    assert box == "" and len(latencies) == 1 and "first token" in latency_md and notice == ""


def test_ask_sends_the_conversation_as_history(model, clip):
    _, (first, _, lat, _, _) = run(chat.ask(model, clip, "What moves?", [], [], **GREEDY))
    _, (second, _, lat, _, _) = run(chat.ask(model, clip, "Where does it go?", first, lat, **GREEDY))
    history = [("What moves?", first[-1]["content"])]
    assert second[-1]["content"] == expected_answer(model, clip, "Where does it go?", history)
    assert len(lat) == 2 and lat[1].startswith("answer 2: ")


def test_a_new_clip_answers_as_if_the_old_chat_never_happened(model, clip, tmp_path):
    """Issue: an earlier clip's '10 objects' leaked into the next clip's answer."""
    _, (about_a, _, lat, _, _) = run(chat.ask(model, clip, "How many objects?", [], [], **GREEDY))
    earlier = chat.archive([], clip, about_a)
    other = handlers.open_video(model, str(write_clip(tmp_path / "b.mp4", frames=12)), 0.0, AppConfig()).clip
    _, (about_b, _, _, _, _) = run(chat.ask(model, other, "What moves?", [], [], **GREEDY))
    assert about_b[-1]["content"] == expected_answer(model, other, "What moves?")  # no history at all
    assert earlier == [{"clip": "square.mp4", "messages": about_a}]
    md = chat.earlier_markdown(earlier)
    assert md.startswith("**About square.mp4** (an earlier clip; not sent to the model)")
    assert "*You:* How many objects?" in md
    assert chat.archive(earlier, other, []) == earlier and chat.archive([], None, about_a) == []


def test_notes_never_go_into_the_chat(model, clip):
    _, (out, box, lat, _, notice) = run(chat.ask(model, None, "What moves?", [], [], **GREEDY))
    assert out == [] and box == "What moves?" and notice == handlers.NO_VIDEO and lat == []
    _, (out, _, _, _, notice) = run(chat.ask(model, None, "   ", [], [], **GREEDY))
    assert out == [] and notice == ""
    broken = handlers.Clip(clip.path, clip.name, clip.frames[:, :1, :5, :5], "")
    _, (out, _, lat, _, notice) = run(chat.ask(model, broken, "What moves?", [], [], **GREEDY))
    assert out == [{"role": "user", "content": "What moves?"}]  # the question stays, no answer bubble
    assert notice.startswith("**Could not answer:**") and "Traceback" not in notice and lat == []


def test_the_synthetic_world_caveat_sits_next_to_answers(model, clip):
    caveated = handlers.Clip(clip.path, clip.name, clip.frames, "", caveat=handlers.SYNTHETIC_NOTE)
    _, (out, _, _, _, notice) = run(chat.ask(model, caveated, "What moves?", [], [], **GREEDY))
    assert notice == handlers.SYNTHETIC_NOTE and handlers.SYNTHETIC_NOTE not in out[-1]["content"]


def test_an_empty_answer_is_said_outside_the_chat(tmp_path, clip):
    from vlm.testing import make_tiny_model

    mute = make_tiny_model(mute_llm(tmp_path / "mute-llm")).eval()
    _, (out, _, lat, _, notice) = run(chat.ask(mute, clip, "What moves?", [], [], **GREEDY))
    assert out == [{"role": "user", "content": "What moves?"}] and notice == chat.EMPTY_ANSWER
    assert len(lat) == 1


def test_retry_regenerates_the_last_answer(model, clip):
    _, (first, _, lat, _, _) = run(chat.ask(model, clip, "What moves?", [], [], **GREEDY))
    _, (again, _, lat2, _, _) = run(chat.retry(model, clip, first, lat, **GREEDY))
    assert again == first and len(lat2) == 1  # greedy: the same answer, one latency line
    _, (empty, *_) = run(chat.retry(model, clip, [], [], **GREEDY))
    assert empty == []


def test_stopping_a_stream_keeps_the_partial_answer(model, clip):
    stream = chat.ask(model, clip, "What moves?", [], [], max_new_tokens=40, temperature=0.0)
    messages = next(stream)[0]
    stream.close()  # what Gradio does when Stop cancels the event: the generation thread ends too
    assert messages[-1]["role"] == "assistant" and messages[-1]["content"]


def test_clear_empties_chat_latencies_and_notice():
    assert chat.clear() == ([], "", [], chat.latency_markdown([]), "")


def test_answer_once_is_the_models_greedy_answer(model, clip_path, tmp_path):
    got = chat.answer_once(model, str(clip_path), "What moves?", AppConfig(), 6)
    frames = model.load_frames(str(clip_path))
    assert got == model.answer(frames, "What moves?", max_new_tokens=6, do_sample=False).strip()
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"nope")
    with pytest.raises(UserError, match=r"^Could not use this video\. bad\.mp4:"):
        chat.answer_once(model, str(bad), "What moves?", AppConfig(), 6)
    with pytest.raises(UserError, match="no question"):
        chat.answer_once(model, str(clip_path), " ", AppConfig(), 6)
