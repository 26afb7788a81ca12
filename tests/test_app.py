"""The Gradio app's video handlers, checks, plot and wiring, with a real tiny VideoQAModel (no
browser). The chat handlers are in test_app_chat.py.

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
from app.clips import example_clips, suggested_questions  # noqa: E402
from app.config import AppConfig  # noqa: E402
from app.media import check_video, gallery_images  # noqa: E402
from app.surprise_plot import EXPLANATION, frame_range, relative_surprise, surprise_figure  # noqa: E402
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
def clip(model, clip_path) -> handlers.Clip:
    loaded = handlers.open_video(model, str(clip_path), 0.0, AppConfig())
    assert isinstance(loaded, handlers.Loaded)
    return loaded.clip


def mute_llm(llm_dir: Path) -> Path:
    """A tiny LLM whose final norm is zeroed: every logit ties, it never says a word (an untrained model)."""
    from transformers import AutoModelForCausalLM

    from vlm.testing import make_tiny_llm

    make_tiny_llm(llm_dir)
    llm = AutoModelForCausalLM.from_pretrained(llm_dir)
    torch.nn.init.zeros_(llm.model.norm.weight)
    llm.save_pretrained(llm_dir)
    return llm_dir


def fn_named(demo, api_name: str):
    return next(fn for fn in demo.fns.values() if fn.api_name == api_name)


# ----------------------------------------------------------------------------- config and media


def test_app_config_is_strict():
    assert from_dict(AppConfig, {"max_upload_mb": 5}).max_upload_mb == 5.0
    with pytest.raises(ConfigError, match="concurrency_limit"):
        from_dict(AppConfig, {"concurrency_limit": 0})
    with pytest.raises(ConfigError, match="max_upload"):
        from_dict(AppConfig, {"max_upload": 5})


def test_check_video_accepts_a_clip(clip_path):
    info = check_video(clip_path, AppConfig()).info
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


def test_relative_surprise_of_a_still_clip_is_flat_noise():
    still = torch.tensor([0.275, 0.2762, 0.2771, 0.2769, 0.2770])  # a frame repeated: a slow drift
    rel = relative_surprise(still, still)
    assert rel.standout == [] and rel.band >= 1.0
    fig = surprise_figure(still, still, frames_per_step=2, title="still.mp4")
    low, high = fig.axes[0].get_ylim()
    assert low <= -10 and high >= 10  # the 0.7 % wobble is drawn flat, not as a peak
    assert "nothing stands out" in fig.axes[0].get_title()


def test_relative_surprise_flags_a_jump_outside_the_band():
    still = torch.tensor([0.40, 0.41, 0.41, 0.42, 0.42])
    curve = torch.tensor([0.40, 0.41, 0.60, 0.41, 0.42])
    rel = relative_surprise(curve, still)
    assert rel.standout == [2] and rel.values[2] == pytest.approx((0.60 / 0.41 - 1) * 100)
    fig = surprise_figure(curve, still, frames_per_step=2)
    ax = fig.axes[0]
    assert list(ax.lines[-1].get_ydata()) == pytest.approx(rel.values.tolist())
    assert [t.get_text() for t in ax.get_xticklabels()] == ["3-4", "5-6", "7-8", "9-10", "11-12"]
    assert "frames 7-8" in ax.get_title() and frame_range(1, 1) == "2"
    dip = relative_surprise(torch.tensor([0.40, 0.41, 0.20, 0.41, 0.42]), still)
    assert dip.standout == []  # predicting better than usual is no surprise
    with pytest.raises(ValueError, match="empty"):
        relative_surprise(torch.tensor([]), torch.tensor([]))


def test_world_model_view_plots_relative_surprise_with_its_explanation(model, clip):
    from encoder.surprise import surprise_curve

    spec = model.config.encoder
    fig, caption = handlers.world_model_view(spec, clip)
    curve = surprise_curve(spec, clip.frames)  # (S,)
    still = surprise_curve(spec, clip.frames[:1].repeat(clip.frames.shape[0], 1, 1, 1))
    expected = relative_surprise(curve, still).values
    assert list(fig.axes[0].lines[-1].get_ydata()) == pytest.approx(expected.tolist(), rel=1e-4, abs=1e-4)
    assert caption.startswith(EXPLANATION) and spec not in caption


def test_world_model_view_of_one_frame_repeated_shows_no_surprise(model, clip):
    still = handlers.Clip("x", "still.mp4", clip.frames[:1].repeat(clip.frames.shape[0], 1, 1, 1), "")
    fig, caption = handlers.world_model_view(model.config.encoder, still)
    assert caption.endswith("Nothing stands out from the noise.")


def test_world_model_view_without_clip_or_with_a_bad_encoder(clip, tmp_path):
    assert handlers.world_model_view("random:test", None)[0] is None
    fig, caption = handlers.world_model_view(str(tmp_path / "no-such-encoder"), clip)
    assert fig is None and caption.startswith("No surprise curve") and "Traceback" not in caption
    assert str(tmp_path) not in caption


# ----------------------------------------------------------------------------- video handlers


def test_open_video_shows_the_frames_the_model_sees(model, clip_path):
    loaded = handlers.open_video(model, str(clip_path), 0.0, AppConfig())
    expected = model.load_frames(str(clip_path))  # (T, C, H, W)
    assert torch.equal(loaded.clip.frames, expected)
    assert len(loaded.gallery) == expected.shape[0]
    assert loaded.status.startswith("**square.mp4**") and f"{expected.shape[0]} frames" in loaded.status
    assert loaded.clip.caveat == "" and loaded.clip.suggestions == []  # a random test model, an upload


def test_resample_keeps_the_clip_and_takes_a_closer_look(model, clip_path):
    from encoder.video import read_frames

    t, size = model.config.num_frames, model.encoder.image_size
    first = handlers.open_video(model, str(clip_path), 0.0, AppConfig(), suggestions=["Q?"]).clip
    loaded = handlers.resample(model, first, 4.0, AppConfig())
    assert torch.equal(loaded.clip.frames, read_frames(clip_path, num_frames=t, size=size, fps=4.0))
    assert len(loaded.gallery) == t and "0.25 s apart" in loaded.clip.summary
    assert loaded.clip.suggestions == ["Q?"] and not torch.equal(loaded.clip.frames, first.frames)
    assert isinstance(handlers.resample(model, None, 4.0, AppConfig()), handlers.Refused)


@pytest.mark.parametrize("content", [b"", b"\x00\x01garbage" * 100])
def test_open_video_refuses_a_bad_file_with_one_line(model, tmp_path, content):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(content)
    refused = handlers.open_video(model, str(bad), 0.0, AppConfig())
    assert isinstance(refused, handlers.Refused)
    text = refused.status
    assert text.startswith("**Could not use this video.** broken.mp4:") and "\n" not in text
    assert "Traceback" not in text and str(tmp_path) not in text


def test_a_format_the_browser_cannot_play_gets_frames_but_no_preview(model, clip_path, tmp_path):
    avi = tmp_path / "old.avi"
    with av.open(str(avi), "w") as container:
        stream = container.add_stream("mpeg4", rate=8)
        stream.width = stream.height = 64
        stream.pix_fmt = "yuv420p"
        for i in range(16):
            img = np.full((64, 64, 3), i * 10, np.uint8)  # (H, W, 3)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    loaded = handlers.open_video(model, str(avi), 0.0, AppConfig())
    assert not loaded.clip.playable and loaded.status.endswith("no preview)")
    assert len(loaded.gallery) == model.config.num_frames  # the model still sees it
    assert handlers.open_video(model, str(clip_path), 0.0, AppConfig()).clip.playable


def test_open_video_cleared_upload(model):
    assert handlers.open_video(model, None, 0.0, AppConfig()).status == handlers.NO_VIDEO


def test_synthetic_world_caveat_comes_from_the_card(model, clip_path, monkeypatch):
    from vlm.model import default_model_path

    assert not handlers.trained_on_synthetic_world_only(model)
    monkeypatch.setattr(model.config, "card", {"training_data": {"synthetic_world_only": True}})
    assert handlers.trained_on_synthetic_world_only(model)
    upload = handlers.open_video(model, str(clip_path), 0.0, AppConfig()).clip
    example = handlers.open_video(model, str(clip_path), 0.0, AppConfig(), suggestions=[]).clip
    assert upload.caveat == handlers.SYNTHETIC_NOTE and example.caveat == ""
    assert handlers.resample(model, upload, 2.0, AppConfig()).clip.caveat == handlers.SYNTHETIC_NOTE
    monkeypatch.setattr(model.config, "card", {})
    monkeypatch.setattr(model, "name", str(default_model_path()))  # the shipped default model
    assert handlers.trained_on_synthetic_world_only(model)


# ----------------------------------------------------------------------------- model panel


def test_public_name_hides_machine_paths():
    from vlm.model import REPO_ROOT

    assert handlers.public_name(REPO_ROOT / "checkpoints" / "default") == "checkpoints/default"
    assert handlers.public_name("/home/me/runs/exp/encoder") == "…/exp/encoder"
    assert handlers.public_name("facebook/vjepa2-vitl") == "facebook/vjepa2-vitl"
    assert handlers.public_name("/srv/a/enc + /srv/b/llm") == "…/a/enc + …/b/llm"
    assert handlers.public_name(16) == "16"
    assert handlers.scrub_paths("spec '/home/me/a/b/c' is bad") == "spec '…/b/c' is bad"


def test_describe_markdown_names_the_parts_without_machine_paths(model, tmp_path_factory):
    md = handlers.describe_markdown(model)
    for key, value in model.describe().items():
        assert f"| {key} | `{handlers.public_name(value)}` |" in md
    assert str(tmp_path_factory.getbasetemp()) not in md and "random:test" in md


# ----------------------------------------------------------------------------- app wiring


def test_build_app_configures_the_queue_and_components(model):
    import gradio as gr

    from app.ui import build_app

    demo = build_app(model, AppConfig(concurrency_limit=2, max_queue=5))
    assert isinstance(demo, gr.Blocks)
    assert demo._queue.default_concurrency_limit == 2 and demo._queue.max_size == 5
    blocks = {getattr(block, "elem_id", None): block for block in demo.blocks.values()}
    wanted = {"upload", "video", "frames", "chat", "notice", "question", "ask", "stop", "retry", "clear"}
    assert wanted | {"surprise", "surprise-caption", "latency", "describe", "banner", "suggestions"} <= set(
        blocks
    )
    own = blocks["own-model"]  # the commands for a real model: folded away (a phone's first screen)
    assert isinstance(own, gr.Accordion) and not own.open
    assert "vjepa2:facebook/vjepa2-vitl-fpc64-256" in own.children[0].value
    assert blocks["frames"].columns == 4  # the whole strip fits the pane: 4 per row, no scrolling
    assert blocks["stop"].visible is False and isinstance(blocks["upload"], gr.UploadButton)
    assert blocks["upload"].file_types == ["video", ".gif"]  # every format the decoder reads


def test_endpoints_have_meaningful_names_and_stop_or_a_new_clip_cancels_every_answer(model):
    from app.ui import build_app

    demo = build_app(model, AppConfig(concurrency_limit=2))
    public = {fn.api_name for fn in demo.fns.values() if fn.api_visibility == "public"}
    assert public == {"open_video", "ask", "retry", "clear", "resample", "world_model", "answer"}
    answering = [fn for fn in demo.fns.values() if getattr(fn.fn, "__name__", "") in ("on_ask", "on_retry")]
    assert len(answering) == 4  # Enter, Ask, a suggested question, Retry
    assert {fn.concurrency_id for fn in answering} == {"answer"}  # one shared generation limit
    cancelling = [fn for fn in demo.fns.values() if fn.cancels]
    assert all(sorted(fn.cancels) == sorted(a._id for a in answering) for fn in cancelling)
    # Stop, and anything that starts a new conversation: an upload, an example clip, Clear
    triggers = {block_id for fn in cancelling for block_id, _ in fn.targets}
    ids = {getattr(b, "elem_id", None): b._id for b in demo.blocks.values()}
    assert {ids["stop"], ids["upload"], ids["clear"]} <= triggers
    assert len(triggers) == 3 + len(example_clips())


def test_a_new_video_starts_a_new_conversation(model, clip_path, tmp_path):
    """The page's upload handler: the old chat goes to 'earlier clips' and the model sees none of it."""
    from app.ui import build_app

    load = fn_named(build_app(model), "open_video").fn
    first = handlers.open_video(model, str(clip_path), 0.0, AppConfig()).clip
    chat_so_far = [{"role": "user", "content": "How many?"}, {"role": "assistant", "content": "10"}]
    other = write_clip(tmp_path / "other.mp4", frames=12)
    out = load(str(other), 0.0, first, chat_so_far, [])
    clip, _, _, messages, latencies, _, earlier, _, earlier_md, _, status, _ = out
    assert clip.name == "other.mp4" and messages == [] and latencies == []
    assert earlier == [{"clip": "square.mp4", "messages": chat_so_far}] and "About square.mp4" in earlier_md
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"nope")
    refused = load(str(bad), 0.0, first, chat_so_far, [])
    changed = [
        v for v in refused if not (isinstance(v, dict) and v.get("__type__") == "update" and len(v) == 1)
    ]
    assert len(changed) == 1 and changed[0].startswith("**Could not use this video.** bad.mp4")


def test_shipped_example_clips_are_small_readable_and_come_with_questions(model):
    clips = example_clips()
    if not clips:
        pytest.skip("no example clips in app/examples yet")
    assert sum(p.stat().st_size for p in clips) < 1_000_000
    for path in clips:
        loaded = handlers.open_video(model, str(path), 0.0, AppConfig(), suggested_questions(path))
        assert len(loaded.gallery) == model.config.num_frames
        assert loaded.clip.suggestions and all(q.endswith(("?", ".")) for q in loaded.clip.suggestions)


def test_demo_command_rejects_bad_input(capsys, tmp_path, monkeypatch):
    import vlm.model
    from cli.main import main

    monkeypatch.setattr(vlm.model, "default_model_path", lambda: tmp_path / "not-built")
    assert main(["demo"]) == 2  # no --model and no default model: say how to build one
    assert "make default-model" in capsys.readouterr().err

    assert main(["demo", "--port", "0"]) == 2
    assert "--port" in capsys.readouterr().err
    assert main(["demo", "--model", str(tmp_path / "missing-model")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "Traceback" not in err


@pytest.mark.slow
def test_example_questions_are_the_worlds_own_with_their_answers():
    """The shipped suggestions are what `cli.examples` derives from its world, and each has an answer."""
    import json

    from app.clips import EXAMPLES_DIR, QUESTIONS
    from cli.examples import example_answers

    shipped = json.loads((EXAMPLES_DIR / QUESTIONS).read_text())
    answers = example_answers()
    for clip in {c for c, _, _ in answers}:
        assert [q for c, q, _ in answers if c == clip] == shipped[clip]
    assert all(a for _, _, a in answers)


def test_example_clips_are_answered_by_a_saved_model_as_the_app_asks(model, tmp_path):
    """`python -m cli.examples --answers --model DIR` asks the shipped clips as the app does."""
    from app.clips import EXAMPLES_DIR
    from cli.examples import model_answers

    saved = model.save_pretrained(tmp_path / "model")
    rows = [
        ("world_1.mp4", "Count the squares.", "3"),
        ("world_3.mp4", "Is the circle small or large?", "small"),
    ]
    gen = {"max_new_tokens": AppConfig().max_new_tokens, "do_sample": False}
    expected = [model.answer(model.load_frames(str(EXAMPLES_DIR / c)), q, **gen).strip() for c, q, _ in rows]
    assert model_answers(str(saved), rows) == expected
