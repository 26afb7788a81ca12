"""VideoQA: a JEPA video encoder's tokens, projected into a Hugging Face chat LLM (+ LoRA).

- ``llm.py``: ``load_llm(spec)`` (Hub id, local dir, or the embedded GGUF SmolLM2, cached)
- ``projector.py``: ``ProjectorConfig``, ``pool-mlp`` and ``attentive`` projectors
- ``processor.py``: chat-template prompts with one video slot, label masks, padding, MC format
- ``config.py``: ``VideoQAConfig`` (the model dir's config.json), ``LoraSettings``
- ``model.py``: ``VideoQAModel`` (build, train loss, answer / stream / batch), ``default_model_path``
- ``generate.py``: greedy generation on spliced embeddings, streaming
- ``persistence.py`` + ``card.py``: the model dir (save, load, export, push to the Hub), model card
- ``world_model.py``: the world model behind a model (``world_model_spec``) and a clip's surprise
- ``bench.py``: ``jepa-vqa bench answer``; ``testing.py``: tiny local models for tests
- ``cli.py``: ``jepa-vqa ask``, ``jepa-vqa export``, ``jepa-vqa bench answer``

Imports nothing heavy, so the CLI starts fast: ``from vlm import VideoQAModel`` loads ``vlm.model`` on use.
``VideoFile``, ``VideoInfo`` and ``VideoDecodeError`` (from ``encoder.video``) are exported for the
app, which talks to ``vlm`` only.
"""

from __future__ import annotations

from jepa_vqa.lazy import lazy_exports

_EXPORTS = {
    "VideoQAModel": "vlm.model",
    "VideoQAConfig": "vlm.config",
    "LoraSettings": "vlm.config",
    "default_model_path": "vlm.model",
    "ProjectorConfig": "vlm.projector",
    "PromptConfig": "vlm.processor",
    "VideoQAProcessor": "vlm.processor",
    "format_question": "vlm.processor",
    "load_llm": "vlm.llm",
    "VideoFile": "encoder.video",  # the video side of the model, for the app:
    "VideoInfo": "encoder.video",  # a file probed once, its facts, its errors
    "VideoDecodeError": "encoder.video",
}

__getattr__, __all__ = lazy_exports("vlm", _EXPORTS)
