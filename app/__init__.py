"""The Gradio app: chat about a video with a `VideoQAModel`, and see its world model's surprise.

    jepa-vqa demo [--model DIR_OR_HUB_ID] [--port 7860] [--host 127.0.0.1]

Files: `ui.py` (layout, wiring, launch), `handlers.py` (video handlers and the model panel, plain
functions), `chat.py` (one conversation per clip, streamed answers, the `/answer` API),
`media.py` (upload checks, gallery images), `surprise_plot.py` (the world-model view),
`clips.py` + `examples/` (the shipped example clips and their suggested questions),
`config.py` (limits), `cli.py` (`demo`).
"""
