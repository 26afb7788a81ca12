"""The app's video handlers: plain functions over plain values, testable without a browser.

`app.ui` wires them to Gradio components; the chat handlers live in `app.chat`. A new clip starts
a new conversation: the old one is archived (`app.chat.archive`) and never reaches the model. A
refused file changes nothing but the status line, which holds its one readable message.

    loaded = open_video(model, "clip.mp4", 0.0, AppConfig())        # a Loaded, or a Refused
    fig, caption = world_model_view("checkpoints/default", loaded.clip)
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure

from app.config import AppConfig
from app.media import browser_playable, check_video, gallery_images
from app.surprise_plot import EXPLANATION, relative_surprise, surprise_figure
from jepa_vqa.errors import UserError

log = logging.getLogger(__name__)

NO_VIDEO = "Upload a video or pick an example clip first."
SYNTHETIC_NOTE = (
    "This model was trained only on the synthetic world (coloured shapes), so its answers "
    "about your own footage mean little."
)


@dataclass
class Clip:
    """A checked, decoded video: the frames the model sees, kept for the whole conversation."""

    path: str
    name: str
    frames: torch.Tensor  # (T, C, H, W) uint8
    summary: str  # one line: frames, duration, size
    suggestions: list[str] = field(default_factory=list)  # questions to offer (example clips)
    caveat: str = ""  # shown next to every answer about this clip ("" for none)
    playable: bool = True  # a browser can play the file (else no video preview, only the frames)


@dataclass
class Loaded:
    """A clip that was accepted, with what the page shows for it."""

    clip: Clip
    gallery: list[np.ndarray]
    status: str


@dataclass
class Refused:
    """A file that was not accepted: `status` is the one message the user sees about it."""

    status: str


# ----------------------------------------------------------------------------- video


def decode_frames(model, video, fps: float = 0.0) -> torch.Tensor:
    """The frames the model sees: uint8 (T, C, H, W), T = the model's frame count.

    `video` is a path or the `VideoFile` that `check_video` probed (then the header is not read
    again). `fps` 0 spreads the frames over the whole clip; otherwise they are `1/fps` seconds
    apart around the middle of the clip (a close look at a short moment).
    """
    return model.load_frames(video, fps=float(fps) or None)


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
    model, path: str | None, fps: float, cfg: AppConfig, suggestions: list[str] | None = None
) -> Loaded | Refused:
    """Check and decode a file (`fps` as in `decode_frames`) -> `Loaded`, or `Refused` with one
    readable line. `suggestions` marks a shipped example clip (no synthetic-world caveat)."""
    if path is None or str(path) == "":
        return Refused(NO_VIDEO)
    name = Path(path).name
    from vlm import VideoDecodeError

    try:
        video = check_video(path, cfg)  # the file is probed once, here
        frames = decode_frames(model, video, fps)  # (T, C, H, W)
    except UserError as exc:
        text = f"{name}: {exc.problem}" if isinstance(exc, VideoDecodeError) else str(exc)
        return Refused(f"**Could not use this video.** {text}")
    except Exception as exc:  # noqa: BLE001 - any decoder failure becomes a readable line
        log.exception("decoding %s failed", path)
        return Refused(f"**Could not use this video.** {name}: could not decode it ({type(exc).__name__})")
    example = suggestions is not None
    caveat = SYNTHETIC_NOTE if not example and trained_on_synthetic_world_only(model) else ""
    summary = _summary(video.info, frames, fps)
    playable = browser_playable(path, video.info)
    clip = Clip(str(path), name, frames, summary, list(suggestions or []), caveat, playable)
    status = f"**{name}**: {summary}" + (
        "" if playable else " (your browser cannot play this format: no preview)"
    )
    return Loaded(clip, gallery_images(frames), status)


def resample(model, clip: Clip | None, fps: float, cfg: AppConfig) -> Loaded | Refused:
    """The same clip at another frame rate: new frames, the same conversation."""
    if clip is None:
        return Refused(NO_VIDEO)
    loaded = open_video(model, clip.path, fps, cfg, clip.suggestions)
    if isinstance(loaded, Loaded):
        loaded.clip = replace(loaded.clip, caveat=clip.caveat)
    return loaded


def world_model_view(surprise_spec: str | None, clip: Clip | None) -> tuple[Figure | None, str]:
    """The encoder's surprise over time for `clip`, relative to a still copy of it -> (figure, caption)."""
    if clip is None:
        return None, "Upload a clip to see how surprised the world model is, moment by moment."
    if not surprise_spec:
        return None, "This model's encoder has no world-model predictor, so there is no surprise curve."
    from vlm.world_model import clip_surprise

    try:
        surprise = clip_surprise(surprise_spec, clip.frames)  # curves (S,) of the clip and its still copy
        curve, still = surprise.curve, surprise.still
        fig = surprise_figure(curve, still, frames_per_step=surprise.frames_per_step, title=clip.name)
    except UserError as exc:
        return None, f"No surprise curve: {scrub_paths(str(exc))}"
    except Exception as exc:  # noqa: BLE001 - the plot is optional; the chat must keep working
        log.exception("surprise curve for %s failed", clip.path)
        return None, f"No surprise curve ({type(exc).__name__})."
    rel = relative_surprise(curve, still)
    verdict = (
        "Nothing stands out from the noise."
        if not rel.standout
        else f"{len(rel.standout)} moment(s) above the noise band."
    )
    return fig, f"{EXPLANATION} {verdict}"


# ----------------------------------------------------------------------------- model panel


def trained_on_synthetic_world_only(model) -> bool:
    """Whether the model card says the model saw only the synthetic world.

    The card's ``training_data.synthetic_world_only`` decides; a card without it counts as
    synthetic only for the shipped default model (which is built on the synthetic world)."""
    from vlm.model import default_model_path

    data = (getattr(model.config, "card", None) or {}).get("training_data")
    if isinstance(data, dict) and "synthetic_world_only" in data:
        return bool(data["synthetic_world_only"])
    try:  # model.name: the dir it was loaded from
        return Path(str(getattr(model, "name", ""))).resolve() == default_model_path().resolve()
    except OSError:
        return False


def public_name(value) -> str:
    """`value` without this machine's directories: an absolute path becomes its last two parts
    (relative to the repo when inside it); Hub ids and relative paths stay as they are."""
    from vlm.model import REPO_ROOT

    text = str(value)
    pieces = []
    for part in text.split(" + "):  # a model's name joins "encoder + llm"
        path = Path(part)
        if path.is_absolute() or part.startswith("~"):
            expanded = path.expanduser()
            try:
                part = str(expanded.relative_to(REPO_ROOT))
            except ValueError:
                part = "/".join(["…", *expanded.parts[-2:]])
        pieces.append(part)
    return " + ".join(pieces)


def scrub_paths(text: str) -> str:
    """`text` with every absolute path in it shortened by `public_name`."""
    return re.sub(r"(?<![\w.])/[^\s'\"`]+", lambda m: public_name(m.group()), text)


def describe_markdown(model) -> str:
    """Which model, encoder and LLM are loaded, as a small Markdown table (no machine paths)."""
    rows = "\n".join(f"| {key} | `{public_name(value)}` |" for key, value in model.describe().items())
    return "| loaded | |\n| --- | --- |\n" + rows
