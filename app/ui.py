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

import functools
import os
import shutil
import signal
import tempfile
from dataclasses import dataclass

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402

from app import chat, handlers  # noqa: E402
from app.clips import EXAMPLES_DIR, example_clips, suggested_questions  # noqa: E402
from app.config import AppConfig  # noqa: E402
from jepa_vqa.errors import UserError  # noqa: E402
from vlm.world_model import world_model_spec  # noqa: E402

BANNER = """\
**About the default model:** it is tiny, and its JEPA encoder was pretrained only on the
project's *synthetic world* (coloured shapes that move, collide and hide behind an occluder), so
its answers about real footage mean nothing. Try the example clips.
"""

OWN_MODEL = """\
For real videos, align a model on the official V-JEPA 2 encoder
(`vjepa2:facebook/vjepa2-vitl-fpc64-256`) and a larger Hub LLM on a real video-QA dataset, then
point the app at it:

```
jepa-vqa align --config configs/align/<preset>.yaml --out runs/real data.path=<your video-QA data> \\
    encoder=vjepa2:facebook/vjepa2-vitl-fpc64-256 llm=Qwen/Qwen2.5-1.5B-Instruct
jepa-vqa demo --model runs/real
```
"""

CSS = """
.banner {border-left: 4px solid #f59e0b; padding: 4px 12px; background: #fffbeb;}
#notice:empty, #status:empty {display: none;}
#notice {color: #92400e;}
"""
PRIVATE = {"api_visibility": "private"}  # UI-only events: not part of the API


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


def _suggestions_update(clip) -> gr.Dataset:
    questions = clip.suggestions if clip is not None else []
    return gr.Dataset(samples=[[q] for q in questions], visible=bool(questions))


def build_app(model, cfg: AppConfig | None = None, surprise_spec: str | None = None) -> gr.Blocks:
    """The app around an already loaded `VideoQAModel` (shared by all sessions; queue configured).

    API endpoints (gradio_client): `/answer` (video file, question -> answer, no history) and the
    page's own `/open_video`, `/ask`, `/retry`, `/clear`, `/resample`, `/world_model`."""
    cfg = cfg or AppConfig()
    spec = surprise_spec if surprise_spec is not None else world_model_spec(model)

    def load(path, fps, clip, messages, earlier, suggestions=None):
        loaded = handlers.open_video(model, path, fps, cfg, suggestions)
        if isinstance(loaded, handlers.Refused):  # one message, in the status line; nothing else changes
            return (gr.skip(),) * 10 + (loaded.status, gr.skip())
        new = loaded.clip
        earlier = chat.archive(earlier, clip, messages)
        return (
            new, new.path if new.playable else None, loaded.gallery, [], [], chat.latency_markdown([]), earlier,
            gr.update(visible=bool(earlier), open=True), chat.earlier_markdown(earlier), new.caveat,
            loaded.status, _suggestions_update(new),
        )  # fmt: skip

    def on_resample(clip, fps):
        loaded = handlers.resample(model, clip, fps, cfg)
        if isinstance(loaded, handlers.Refused):
            return gr.skip(), gr.skip(), loaded.status
        return loaded.clip, loaded.gallery, loaded.status

    def on_world(clip):
        return handlers.world_model_view(spec, clip)

    def on_ask(clip, question, messages, latencies, max_new_tokens, temperature):
        yield from chat.ask(model, clip, question, messages, latencies, max_new_tokens, temperature)

    def on_retry(clip, messages, latencies, max_new_tokens, temperature):
        yield from chat.retry(model, clip, messages, latencies, max_new_tokens, temperature)

    def answer(video: str, question: str) -> str:
        """One greedy answer about a video file (no history)."""
        try:
            return chat.answer_once(model, video, question, cfg, cfg.max_new_tokens)
        except UserError as exc:
            raise gr.Error(str(exc), print_exception=False) from None

    with gr.Blocks(
        title="jepa-vqa: ask questions about videos",
        analytics_enabled=False,
        delete_cache=(cfg.cache_cleanup_s, cfg.cache_cleanup_s),
    ) as demo:
        clip_state, latencies, earlier = gr.State(None), gr.State([]), gr.State([])
        gr.Markdown("# jepa-vqa\nAsk questions about a video: JEPA world-model encoder + LLM.")
        with gr.Column(elem_classes=["banner"], elem_id="banner"):
            gr.Markdown(BANNER)
            with gr.Accordion("Use your own model (commands)", open=False, elem_id="own-model"):
                gr.Markdown(OWN_MODEL)
        with gr.Row():
            with gr.Column(scale=2, min_width=300):
                upload = gr.UploadButton(
                    "Upload a video", file_types=["video", ".gif"], variant="primary", elem_id="upload"
                )
                clips = example_clips()
                example_buttons = []
                if clips:
                    gr.Markdown("Example clips (synthetic world):")
                    with gr.Row(elem_id="examples"):
                        for p in clips:
                            button = gr.Button(p.stem.replace("_", " "), size="sm", min_width=80)
                            example_buttons.append((button, str(p), suggested_questions(p)))
                status = gr.Markdown(handlers.NO_VIDEO, elem_id="status")
                player = gr.Video(label="Video", interactive=False, height=240, elem_id="video")
                gallery = gr.Gallery(
                    label="Frames the model sees (in order)",
                    columns=4,
                    height="auto",
                    object_fit="contain",
                    allow_preview=False,
                    elem_id="frames",
                )
                with gr.Accordion("World model: surprise over time", open=True):
                    plot = gr.Plot(label="Encoder surprise", show_label=False, elem_id="surprise")
                    caption = gr.Markdown(
                        handlers.world_model_view(spec, None)[1], elem_id="surprise-caption"
                    )
            with gr.Column(scale=3, min_width=300):
                chatbot = gr.Chatbot(label="Chat", height=420, elem_id="chat", feedback_options=None)
                notice = gr.Markdown("", elem_id="notice")
                question = gr.Textbox(
                    placeholder="Ask about the video, e.g. 'Which way does the red ball move?'",
                    show_label=False,
                    elem_id="question",
                )
                suggestions = gr.Dataset(
                    components=[question], samples=[], label="Suggested questions", visible=False,
                    elem_id="suggestions",
                )  # fmt: skip
                with gr.Row():
                    ask_btn = gr.Button("Ask", variant="primary", elem_id="ask")
                    stop_btn = gr.Button("Stop", variant="stop", visible=False, elem_id="stop")
                    retry_btn = gr.Button("Retry", elem_id="retry")
                    clear_btn = gr.Button("Clear", elem_id="clear")
                with gr.Accordion("Earlier clips (not sent to the model)", open=False, visible=False) as past:
                    earlier_md = gr.Markdown("", elem_id="earlier")
                latency_md = gr.Markdown(chat.latency_markdown([]), elem_id="latency")
                with gr.Accordion("Settings", open=False, elem_id="settings"):
                    frames = _frames_slider(model, cfg)
                    max_new_tokens = gr.Slider(
                        1,
                        512,
                        value=cfg.max_new_tokens,
                        step=1,
                        label="Max new tokens",
                        elem_id="max-new-tokens",
                    )
                    temperature = gr.Slider(
                        0.0,
                        2.0,
                        value=0.0,
                        step=0.05,
                        label="Temperature",
                        info="0 = greedy",
                        elem_id="temperature",
                    )
                with gr.Accordion("Loaded model", open=False):
                    gr.Markdown(handlers.describe_markdown(model), elem_id="describe")
        with gr.Group(visible=False):  # the /answer API endpoint's own components
            api_video, api_question, api_answer = gr.File(), gr.Textbox(), gr.Textbox()
            api_button = gr.Button()

        chat_outputs = [chatbot, question, latencies, latency_md, notice]
        chat_inputs = [clip_state, question, chatbot, latencies, max_new_tokens, temperature]
        retry_inputs = [clip_state, chatbot, latencies, max_new_tokens, temperature]
        buttons = [ask_btn, stop_btn]

        def busy():
            return gr.update(visible=False), gr.update(visible=True)

        def idle():
            return gr.update(visible=True), gr.update(visible=False)

        def suggested(sample):
            return sample[0]

        # a suggested question goes into the box, then is asked like a typed one
        picked = suggestions.click(suggested, [suggestions], [question], queue=False, **PRIVATE)
        answering = []
        for trigger, fn, inputs, api in [
            (question.submit, on_ask, chat_inputs, {"api_visibility": "private"}),
            (ask_btn.click, on_ask, chat_inputs, {"api_name": "ask"}),
            (retry_btn.click, on_retry, retry_inputs, {"api_name": "retry"}),
            (picked.then, on_ask, chat_inputs, {"api_visibility": "private"}),
        ]:
            event = trigger(busy, None, buttons, queue=False, **PRIVATE)
            # one shared generation limit for every way of asking
            run = event.then(fn, inputs, chat_outputs, concurrency_id="answer", **api)
            run.then(idle, None, buttons, queue=False, **PRIVATE)
            answering.append(run)
        stop_btn.click(idle, None, buttons, cancels=answering, queue=False, **PRIVATE)
        load_inputs = [upload, frames, clip_state, chatbot, earlier]
        load_outputs = [
            clip_state, player, gallery, chatbot, latencies, latency_md, earlier, past, earlier_md,
            notice, status, suggestions,
        ]  # fmt: skip
        world = {
            "fn": on_world,
            "inputs": [clip_state],
            "outputs": [plot, caption],
            "api_name": "world_model",
        }
        # a new clip (or Clear) ends an answer still streaming into the old conversation
        ending = {"cancels": answering}
        upload.upload(load, load_inputs, load_outputs, api_name="open_video", **ending).then(
            idle, None, buttons, queue=False, **PRIVATE
        ).then(**world)
        for button, path, questions in example_buttons:
            inputs = [frames, clip_state, chatbot, earlier]
            pick = functools.partial(lambda p, q, *args: load(p, *args, suggestions=q), path, questions)
            button.click(pick, inputs, load_outputs, **PRIVATE, **ending).then(
                idle, None, buttons, queue=False, **PRIVATE
            ).then(**world, **PRIVATE)
        frames.release(
            on_resample, [clip_state, frames], [clip_state, gallery, status], api_name="resample"
        ).then(**world, **PRIVATE)

        clear_btn.click(chat.clear, None, chat_outputs, api_name="clear", **ending).then(
            idle, None, buttons, queue=False, **PRIVATE
        )
        api_button.click(
            answer, [api_video, api_question], [api_answer], api_name="answer", concurrency_id="answer"
        )

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


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def serve(model, host: str = "127.0.0.1", port: int | None = None, cfg: AppConfig | None = None) -> None:
    """Run the app until Ctrl-C or SIGTERM, then clean up (its temp dir included)."""
    signal.signal(signal.SIGTERM, _interrupt)  # `kill` cleans up like Ctrl-C (main thread only)
    running = start(model, host, port, cfg)  # interrupted here: start removes its temp dir
    try:  # from here on, Ctrl-C or `kill` at any moment ends in the cleanup below
        where = f"; uploads go to {running.temp_dir}" if running.temp_dir else ""
        print(f"jepa-vqa demo running at {running.url} (Ctrl-C to stop{where})", flush=True)
        running.demo.block_thread()
    except KeyboardInterrupt:
        pass  # Ctrl-C is how the demo is stopped
    finally:
        running.close()
        print("jepa-vqa demo stopped", flush=True)
