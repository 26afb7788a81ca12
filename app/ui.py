"""The Gradio app: upload a clip (or pick an example), see the frames the model sees and the world
model's surprise curve, and chat about the clip with answers streamed token by token.

    jepa-vqa demo                                   # the shipped default model
    jepa-vqa demo --model runs/align --port 7860    # your own model dir (or a Hub id)

From Python (the model is loaded once and shared by every session):

    from app.ui import build_app, start
    demo = build_app(model)                         # a gr.Blocks, queue configured
    server = start(model, port=7860); ...; server.close()
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402

from app import handlers  # noqa: E402
from app.clips import EXAMPLES_DIR, example_clips  # noqa: E402
from app.config import AppConfig  # noqa: E402

BANNER = """\
### About the default model
The shipped default model is tiny: its JEPA encoder was pretrained on the project's *synthetic
world* (coloured shapes that move, collide and hide behind an occluder), so it only knows that
world and its answers about real footage mean nothing. Try the example clips.

For real videos, align a model on the official V-JEPA 2 encoder
(`vjepa2:facebook/vjepa2-vitl-fpc64-256`) and a larger Hub LLM on a real video-QA dataset, then
point the app at it:

```
jepa-vqa align --config configs/align/<preset>.yaml --out runs/real data.path=<your video-QA data> \\
    encoder=vjepa2:facebook/vjepa2-vitl-fpc64-256 llm=Qwen/Qwen2.5-1.5B-Instruct
jepa-vqa demo --model runs/real
```
"""

CSS = ".banner {border-left: 4px solid #f59e0b; padding: 8px 12px; background: #fffbeb;}"


def surprise_source(model) -> str | None:
    """Where the surprise curve's JEPA predictor comes from: the model dir when it bundles its world
    model (``world_model/``), else the model's own encoder spec (a pretrain run dir)."""
    from encoder.surprise import WORLD_MODEL_DIR

    model_dir = Path(getattr(model, "name", "") or "")
    if str(model_dir) and (model_dir / WORLD_MODEL_DIR / "config.json").is_file():
        return str(model_dir)
    return model.config.encoder


def _frames_slider(model, cfg: AppConfig) -> gr.Slider:
    """Which frames the model sees: it always takes T of them (its projector has a fixed grid)."""
    t = model.config.num_frames
    return gr.Slider(
        minimum=0.0,
        maximum=cfg.max_fps,
        value=0.0,
        step=0.5,
        label=f"Frames: sampling rate (the model sees {t} frames)",
        info=f"0 = {t} frames spread over the whole clip; otherwise {t} frames this many per second "
        "apart, around the middle of the clip",
    )


def build_app(model, cfg: AppConfig | None = None, surprise_spec: str | None = None) -> gr.Blocks:
    """The app around an already loaded `VideoQAModel` (shared by all sessions; queue configured)."""
    cfg = cfg or AppConfig()
    spec = surprise_spec if surprise_spec is not None else surprise_source(model)

    def on_video(path, fps, messages):
        return handlers.open_video(model, path, fps, messages, cfg)

    def on_world(clip):
        return handlers.world_model_view(spec, clip)

    def on_ask(clip, question, messages, latencies, max_new_tokens, temperature):
        yield from handlers.ask(model, clip, question, messages, latencies, max_new_tokens, temperature)

    def on_retry(clip, messages, latencies, max_new_tokens, temperature):
        yield from handlers.retry(model, clip, messages, latencies, max_new_tokens, temperature)

    with gr.Blocks(
        title="jepa-vqa: ask questions about videos",
        analytics_enabled=False,
        delete_cache=(cfg.cache_cleanup_s, cfg.cache_cleanup_s),
    ) as demo:
        clip_state = gr.State(None)
        latencies = gr.State([])
        gr.Markdown("# jepa-vqa\nAsk questions about a video: JEPA world-model encoder + LLM.")
        gr.Markdown(BANNER, elem_classes=["banner"], elem_id="banner")
        with gr.Row():
            with gr.Column(scale=2):
                video = gr.Video(label="Video", sources=["upload"], height=300, elem_id="video")
                clips = example_clips()
                if clips:
                    gr.Examples(
                        examples=[[str(p)] for p in clips],
                        inputs=[video],
                        example_labels=[p.stem.replace("_", " ") for p in clips],
                        label="Example clips (synthetic world)",
                        elem_id="examples",
                    )
                status = gr.Markdown(handlers.NO_VIDEO, elem_id="status")
                gallery = gr.Gallery(
                    label="Frames the model sees",
                    columns=8,
                    height=220,
                    object_fit="contain",
                    elem_id="frames",
                )
                with gr.Accordion("World model: surprise over time", open=True):
                    plot = gr.Plot(label="Encoder surprise", show_label=False, elem_id="surprise")
                    caption = gr.Markdown(handlers.world_model_view(spec, None)[1])
            with gr.Column(scale=3):
                chatbot = gr.Chatbot(label="Chat", height=420, elem_id="chat", feedback_options=None)
                with gr.Row():
                    question = gr.Textbox(
                        placeholder="Ask about the video, e.g. 'Which way does the red ball move?'",
                        show_label=False,
                        scale=5,
                        elem_id="question",
                    )
                    ask_btn = gr.Button("Ask", variant="primary", scale=1, elem_id="ask")
                with gr.Row():
                    retry_btn = gr.Button("Retry", elem_id="retry")
                    clear_btn = gr.Button("Clear", elem_id="clear")
                latency_md = gr.Markdown(handlers.latency_markdown([]), elem_id="latency")
                with gr.Accordion("Settings", open=False):
                    frames = _frames_slider(model, cfg)
                    max_new_tokens = gr.Slider(
                        1, 512, value=cfg.max_new_tokens, step=1, label="Max new tokens"
                    )
                    temperature = gr.Slider(
                        0.0, 2.0, value=0.0, step=0.05, label="Temperature", info="0 = greedy"
                    )
                with gr.Accordion("Loaded model", open=False):
                    gr.Markdown(handlers.describe_markdown(model), elem_id="describe")

        load_outputs = [clip_state, gallery, chatbot, status]
        video.change(on_video, [video, frames, chatbot], load_outputs).then(
            on_world, [clip_state], [plot, caption]
        )
        frames.release(on_video, [video, frames, chatbot], load_outputs).then(
            on_world, [clip_state], [plot, caption]
        )
        chat_outputs = [chatbot, question, latencies, latency_md]
        chat_inputs = [clip_state, question, chatbot, latencies, max_new_tokens, temperature]
        answering = {"concurrency_id": "answer"}  # ask, submit and retry share one generation limit
        question.submit(on_ask, chat_inputs, chat_outputs, **answering)
        ask_btn.click(on_ask, chat_inputs, chat_outputs, **answering)
        retry_inputs = [clip_state, chatbot, latencies, max_new_tokens, temperature]
        retry_btn.click(on_retry, retry_inputs, chat_outputs, **answering)
        clear_btn.click(handlers.clear, None, chat_outputs)

    demo.queue(default_concurrency_limit=cfg.concurrency_limit, max_size=cfg.max_queue)
    return demo


@dataclass
class Running:
    """A launched app: its URL, and `close()` to stop it and delete its temporary files."""

    demo: gr.Blocks
    url: str
    temp_dir: str | None
    _previous_temp: str | None

    def close(self) -> None:
        self.demo.close()
        if self.temp_dir is not None:
            shutil.rmtree(self.temp_dir, ignore_errors=True)
            if self._previous_temp is None:
                os.environ.pop("GRADIO_TEMP_DIR", None)
            else:
                os.environ["GRADIO_TEMP_DIR"] = self._previous_temp


def start(model, host: str = "127.0.0.1", port: int | None = None, cfg: AppConfig | None = None) -> Running:
    """Launch the app in background threads; uploads and rendered frames go to a private temp dir
    (unless GRADIO_TEMP_DIR is set) that `close()` removes."""
    cfg = cfg or AppConfig()
    previous = os.environ.get("GRADIO_TEMP_DIR")
    temp_dir = None
    if previous is None:
        temp_dir = tempfile.mkdtemp(prefix="jepa-vqa-demo-")
        os.environ["GRADIO_TEMP_DIR"] = temp_dir  # read when components are built
    try:
        demo = build_app(model, cfg)
        _, url, _ = demo.launch(
            server_name=host,
            server_port=port,
            share=False,
            prevent_thread_lock=True,
            max_file_size=int(cfg.max_upload_mb * 1e6),
            allowed_paths=[str(EXAMPLES_DIR)],
            ssr_mode=False,
            quiet=True,
            css=CSS,
        )
    except BaseException:
        if temp_dir is not None:
            shutil.rmtree(temp_dir, ignore_errors=True)
            os.environ.pop("GRADIO_TEMP_DIR", None)
        raise
    return Running(demo=demo, url=url, temp_dir=temp_dir, _previous_temp=previous)


def serve(model, host: str = "127.0.0.1", port: int | None = None, cfg: AppConfig | None = None) -> None:
    """Run the app until Ctrl-C, then clean up."""
    running = start(model, host, port, cfg)
    where = f"; uploads go to {running.temp_dir}" if running.temp_dir else ""
    print(f"jepa-vqa demo running at {running.url} (Ctrl-C to stop{where})", flush=True)
    try:
        running.demo.block_thread()
    except KeyboardInterrupt:
        pass  # Ctrl-C is how the demo is stopped
    finally:
        running.close()
        print("jepa-vqa demo stopped", flush=True)
