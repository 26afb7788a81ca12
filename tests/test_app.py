"""The Gradio app's handlers, checks and wiring, with a real tiny VideoQAModel (no browser).

Run:

    .venv/bin/python -m pytest tests/test_app.py -x -q
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from pathlib import Path  # noqa: E402

import av  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from app import handlers  # noqa: E402
from app.clips import example_clips  # noqa: E402
from app.config import AppConfig  # noqa: E402
from app.media import check_video, gallery_images  # noqa: E402
from app.surprise_plot import surprise_figure  # noqa: E402
from jepa_vqa.config import from_dict  # noqa: E402
from jepa_vqa.errors import ConfigError, UserError  # noqa: E402

GREEDY = {"max_new_tokens": 6, "temperature": 0.0}


def write_clip(path: Path, frames: int = 16, size: int = 64, fps: int = 8) -> Path:
    """A small h264 clip: a red square moving right on black."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        for i in range(frames):
            img = np.zeros((size, size, 3), np.uint8)  # (H, W, 3)
            x = (i * 3) % (size - 10)
            img[20:30, x : x + 10] = (255, 0, 0)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    from vlm.testing import make_tiny_model

    m = make_tiny_model(tmp_path_factory.mktemp("tiny-llm"))
    m.eval()
    return m


@pytest.fixture(scope="module")
def clip_path(tmp_path_factory) -> Path:
    return write_clip(tmp_path_factory.mktemp("clips") / "square.mp4")


@pytest.fixture()
def loaded(model, clip_path):
    clip, _, messages, _ = handlers.open_video(model, str(clip_path), 0.0, [], AppConfig())
    assert clip is not None
    return clip, messages


def shown(answer: str) -> str:
    """What the chat shows for a model answer (a blank one gets a readable placeholder)."""
    return answer if answer.strip() else handlers.EMPTY_ANSWER


def run(gen):
    """Drain a streaming handler -> (number of yields, last outputs)."""
    outs = list(gen)
    return len(outs), outs[-1]


# ----------------------------------------------------------------------------- config and media


def test_app_config_is_strict():
    assert from_dict(AppConfig, {"max_upload_mb": 5}).max_upload_mb == 5.0
    with pytest.raises(ConfigError, match="concurrency_limit"):
        from_dict(AppConfig, {"concurrency_limit": 0})
    with pytest.raises(ConfigError, match="max_upload"):
        from_dict(AppConfig, {"max_upload": 5})


def test_check_video_accepts_a_clip(clip_path):
    info = check_video(clip_path, AppConfig())
    assert info.frames == 16 and info.width == 64


@pytest.mark.parametrize(
    ("content", "cfg", "message"),
    [
        (None, AppConfig(), "file is empty"),
        (b"this is not a video at all" * 10, AppConfig(), "not a readable video"),
        ("clip", AppConfig(max_upload_mb=0.0001), "limit is 0.0001 MB"),
        ("clip", AppConfig(max_duration_s=0.5), "s long, the limit is 0.5 s"),
    ],
)
def test_check_video_refuses_with_a_readable_message(tmp_path, clip_path, content, cfg, message):
    path = tmp_path / "upload.mp4"
    if content is None:
        path.write_bytes(b"")
    elif content == "clip":
        path.write_bytes(clip_path.read_bytes())
    else:
        path.write_bytes(content)
    with pytest.raises(UserError, match=message) as err:
        check_video(path, cfg)
    assert str(err.value).startswith("upload.mp4:") and "\n" not in str(err.value)


def test_check_video_refuses_missing_and_no_path(tmp_path):
    with pytest.raises(UserError, match="file not found"):
        check_video(tmp_path / "nope.mp4", AppConfig())
    with pytest.raises(UserError, match="no video"):
        check_video(None, AppConfig())


def test_gallery_images_upscale_small_frames():
    frames = torch.randint(0, 255, (4, 3, 64, 48), dtype=torch.uint8)  # (T, C, H, W)
    images = gallery_images(frames)
    assert len(images) == 4 and images[0].shape == (256, 192, 3) and images[0].dtype == np.uint8
    assert (images[1][::4, ::4] == frames[1].permute(1, 2, 0).numpy()).all()
    big = torch.zeros(2, 3, 224, 224, dtype=torch.uint8)
    assert gallery_images(big)[0].shape == (224, 224, 3)


def test_surprise_figure_marks_the_peak():
    fig = surprise_figure(torch.tensor([0.1, 0.2, 0.9, 0.3]), title="x.mp4")
    ax = fig.axes[0]
    assert list(ax.lines[0].get_ydata()) == pytest.approx([0.1, 0.2, 0.9, 0.3])
    assert any("peak 0.9" in t.get_text() for t in ax.texts)
    with pytest.raises(ValueError, match="empty"):
        surprise_figure(torch.tensor([]))


# ----------------------------------------------------------------------------- messages


def test_conversation_skips_notes_and_reads_gradio_content():
    messages = [
        handlers.note("Video: a.mp4", "16 frames"),
        {"role": "user", "content": [{"type": "text", "text": "What moves?"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "A square."}], "metadata": None},
        {"role": "user", "content": "Unanswered"},
        handlers.note("No video", handlers.NO_VIDEO),
        {"role": "user", "content": "Where?"},
        {"role": "assistant", "content": "Left."},
    ]
    assert handlers.conversation(messages) == [("What moves?", "A square."), ("Where?", "Left.")]


def test_conversation_cleans_what_the_model_would_reject():
    messages = [
        {"role": "user", "content": "What moves?"},
        {"role": "assistant", "content": "A\x00 sq\x1buare.\n"},
        {"role": "user", "content": "And then?"},
        {"role": "assistant", "content": handlers.EMPTY_ANSWER},
    ]
    assert handlers.conversation(messages) == [("What moves?", "A square.")]


def test_ask_after_a_garbled_answer(model, loaded):
    clip, messages = loaded
    messages = messages + [
        {"role": "user", "content": "What moves?"},
        {"role": "assistant", "content": "\x07\ufffd\x00"},
    ]
    _, (out, _, lat, _) = run(handlers.ask(model, clip, "Where?", messages, ["answer 1: 1 s"], **GREEDY))
    assert not handlers.is_note(out[-1]) and lat[-1].startswith("answer 2: ")


def test_generation_kwargs_greedy_at_zero_temperature():
    assert handlers.generation_kwargs(8, 0.0) == {"max_new_tokens": 8, "do_sample": False}
    assert handlers.generation_kwargs(8, 0.7) == {"max_new_tokens": 8, "do_sample": True, "temperature": 0.7}


# ----------------------------------------------------------------------------- video handlers


def test_open_video_shows_the_frames_the_model_sees(model, clip_path):
    clip, gallery, messages, status = handlers.open_video(model, str(clip_path), 0.0, [], AppConfig())
    expected = model.load_frames(str(clip_path))  # (T, C, H, W)
    assert torch.equal(clip.frames, expected)
    assert len(gallery) == expected.shape[0]
    assert messages[-1]["metadata"]["title"] == "Video: square.mp4"
    assert f"{expected.shape[0]} frames" in status


def test_open_video_at_a_frame_rate(model, clip_path):
    from encoder.video import read_frames

    t, size = model.config.num_frames, model.encoder.image_size
    clip, gallery, _, _ = handlers.open_video(model, str(clip_path), 4.0, [], AppConfig())
    assert torch.equal(clip.frames, read_frames(clip_path, num_frames=t, size=size, fps=4.0))
    assert len(gallery) == t and "0.25 s apart" in clip.summary
    assert not torch.equal(clip.frames, model.load_frames(str(clip_path)))  # a closer look, not uniform


@pytest.mark.parametrize("content", [b"", b"\x00\x01garbage" * 100])
def test_open_video_answers_bad_files_in_the_chat(model, tmp_path, content):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(content)
    earlier = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
    clip, gallery, messages, status = handlers.open_video(model, str(bad), 0.0, earlier, AppConfig())
    assert clip is None and gallery == []
    assert messages[:2] == earlier
    text = messages[-1]["content"]
    assert messages[-1]["metadata"]["title"] == "Could not use this video"
    assert text.startswith("broken.mp4:") and "Traceback" not in text and str(tmp_path) not in text
    assert status.startswith("Refused:")


def test_open_video_cleared_upload(model):
    clip, gallery, messages, status = handlers.open_video(model, None, 0.0, [], AppConfig())
    assert clip is None and gallery == [] and messages == [] and status == handlers.NO_VIDEO


def test_world_model_view_plots_the_encoder_surprise(model, loaded):
    from encoder.surprise import surprise_curve

    clip, _ = loaded
    spec = model.config.encoder
    fig, caption = handlers.world_model_view(spec, clip)
    expected = surprise_curve(spec, clip.frames)  # (S,)
    assert list(fig.axes[0].lines[0].get_ydata()) == pytest.approx(expected.tolist(), rel=1e-5)
    assert spec in caption and "peak" in caption


def test_world_model_view_without_clip_or_with_a_bad_encoder(loaded, tmp_path):
    clip, _ = loaded
    assert handlers.world_model_view("random:test", None)[0] is None
    fig, caption = handlers.world_model_view(str(tmp_path / "no-such-encoder"), clip)
    assert fig is None and caption.startswith("No surprise curve") and "Traceback" not in caption


# ----------------------------------------------------------------------------- chat handlers


def test_ask_streams_the_models_answer(model, loaded):
    clip, messages = loaded
    n, (out, box, latencies, latency_md) = run(
        handlers.ask(model, clip, "What moves?", messages, [], **GREEDY)
    )
    expected = model.answer(clip.frames, "What moves?", history=[], max_new_tokens=6, do_sample=False)
    assert out[-1]["role"] == "assistant" and out[-1]["content"] == shown(expected)
    assert out[-2] == {"role": "user", "content": "What moves?"}
    assert n >= 2  # streamed: one update per piece, then the final one
    assert box == "" and len(latencies) == 1 and "first token" in latency_md


def test_ask_sends_the_conversation_as_history(model, loaded):
    clip, messages = loaded
    _, (first, _, lat, _) = run(handlers.ask(model, clip, "What moves?", messages, [], **GREEDY))
    _, (second, _, lat, _) = run(handlers.ask(model, clip, "Where does it go?", first, lat, **GREEDY))
    history = [("What moves?", first[-1]["content"])]
    expected = model.answer(
        clip.frames, "Where does it go?", history=history, max_new_tokens=6, do_sample=False
    )
    assert second[-1]["content"] == shown(expected)
    assert len(lat) == 2 and lat[1].startswith("answer 2: ")


def test_ask_without_video_or_question(model):
    _, (out, _, lat, _) = run(handlers.ask(model, None, "What moves?", [], [], **GREEDY))
    assert out[-1]["content"] == handlers.NO_VIDEO and lat == []
    _, (out, _, _, _) = run(handlers.ask(model, None, "   ", [], [], **GREEDY))
    assert out == []


def test_ask_reports_model_errors_in_the_chat(model, loaded):
    clip, messages = loaded
    broken = handlers.Clip(path=clip.path, name=clip.name, frames=clip.frames[:, :1, :5, :5], summary="")
    _, (out, _, lat, _) = run(handlers.ask(model, broken, "What moves?", messages, [], **GREEDY))
    assert out[-1]["metadata"]["title"] == "Could not answer"
    assert "Traceback" not in out[-1]["content"] and lat == []


def test_retry_regenerates_the_last_answer(model, loaded):
    clip, messages = loaded
    _, (first, _, lat, _) = run(handlers.ask(model, clip, "What moves?", messages, [], **GREEDY))
    _, (again, _, lat2, _) = run(handlers.retry(model, clip, first, lat, **GREEDY))
    assert again == first and len(lat2) == 1  # greedy: the same answer, one latency line
    _, (empty, _, _, _) = run(handlers.retry(model, clip, [], [], **GREEDY))
    assert empty == []


def test_clear_empties_chat_and_latencies():
    messages, box, latencies, md = handlers.clear()
    assert messages == [] and box == "" and latencies == [] and md == handlers.latency_markdown([])


def test_describe_markdown_names_model_encoder_and_llm(model):
    md = handlers.describe_markdown(model)
    for key, value in model.describe().items():
        assert f"| {key} | `{value}` |" in md


# ----------------------------------------------------------------------------- app wiring


def test_build_app_configures_the_queue_and_components(model):
    import gradio as gr

    from app.ui import build_app

    demo = build_app(model, AppConfig(concurrency_limit=2, max_queue=5))
    assert isinstance(demo, gr.Blocks)
    assert demo._queue.default_concurrency_limit == 2 and demo._queue.max_size == 5
    ids = {getattr(block, "elem_id", None) for block in demo.blocks.values()}
    assert {
        "video",
        "frames",
        "chat",
        "question",
        "ask",
        "retry",
        "clear",
        "surprise",
        "latency",
        "describe",
        "banner",
    } <= ids
    banner = next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "banner")
    assert "vjepa2:facebook/vjepa2-vitl-fpc64-256" in banner.value
    chat_fns = [
        fn for fn in demo.fns.values() if any(getattr(o, "elem_id", None) == "chat" for o in fn.outputs)
    ]
    answering = [fn for fn in chat_fns if fn.fn.__name__ in ("on_ask", "on_retry")]
    assert len(answering) == 3  # Enter, Ask, Retry
    assert {fn.concurrency_id for fn in answering} == {"answer"}  # one shared generation limit
    assert all(fn.concurrency_limit in (2, "default") for fn in answering)


def test_shipped_example_clips_are_small_and_readable(model):
    clips = example_clips()
    if not clips:
        pytest.skip("no example clips in app/examples yet")
    assert sum(p.stat().st_size for p in clips) < 1_000_000
    for path in clips:
        clip, gallery, _, _ = handlers.open_video(model, str(path), 0.0, [], AppConfig())
        assert clip is not None and len(gallery) == model.config.num_frames


def test_demo_command_rejects_bad_input(capsys, tmp_path, monkeypatch):
    import vlm.model
    from jepa_vqa.cli import main

    monkeypatch.setattr(vlm.model, "default_model_path", lambda: tmp_path / "not-built")
    assert main(["demo"]) == 2  # no --model and no default model: say how to build one
    assert "make default-model" in capsys.readouterr().err

    assert main(["demo", "--port", "0"]) == 2
    assert "--port" in capsys.readouterr().err
    assert main(["demo", "--model", str(tmp_path / "missing-model")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "Traceback" not in err
