"""The model card (README.md) written into every model dir.

``VideoQAModel.save_pretrained(dir, card={"training_data": "...", "results": {"world-mc": 0.61}})``
fills the sections; any other key becomes its own section.
"""

from __future__ import annotations

import json

from jepa_vqa.config import to_dict


def _section(title: str, value) -> list[str]:
    lines = [f"## {title.replace('_', ' ').capitalize()}", ""]
    if isinstance(value, dict):
        lines += ["| key | value |", "| --- | --- |"]
        lines += [
            f"| {k} | {json.dumps(v) if isinstance(v, (dict, list)) else v} |" for k, v in value.items()
        ]
    elif isinstance(value, (list, tuple)):
        lines += [f"- {item}" for item in value]
    else:
        lines.append(str(value))
    return lines + [""]


def _encoder_name(spec: str) -> str:
    return "its weights in this dir, `encoder.safetensors`" if spec == "." else f"`{spec}`"


def _read_out(projector) -> str:
    """How the LLM reads the projector's tokens, when not as raw cell embeddings."""
    parts = []
    if projector.object_words:
        parts.append(f"the {projector.object_words} likeliest object cells per time step read out as words")
    if projector.step_words:
        parts.append("a word opening each time step")
    if projector.count_token:
        parts.append("count tokens")
    if projector.asked_count:
        parts.append("the count a question asks for placed after it")
    if projector.asked_direction:
        parts.append("the direction a motion question asks for placed after it")
    return f": {', '.join(parts)}" if parts else ""


def model_card(model, config) -> str:
    """Markdown: front matter, what the model is, how to use it, the facts in ``config.card``."""
    card = dict(config.card)
    lines = [
        "---",
        "library_name: jepa-vqa",
        "tags: [video-question-answering, jepa, lora]",
        "---",
        "",
        "# jepa-vqa VideoQA model",
        "",
        f"A JEPA video encoder ({_encoder_name(config.encoder)}) feeds {model.num_video_tokens} projected video tokens "
        f"(`{config.projector.kind}` projector{_read_out(config.projector)}, {config.num_frames} frames) "
        f"into the LLM `{config.llm}`" + (f" with LoRA (rank {config.lora.rank})." if config.lora else "."),
        "",
        "```bash",
        'jepa-vqa ask --model THIS_DIR clip.mp4 "What happens in the video?"',
        "```",
        "",
    ]
    for key in ("training_data", "results"):
        if key in card:
            lines += _section(key, card.pop(key))
    for key, value in card.items():
        lines += _section(key, value)
    lines += ["## Config", "", "```json", json.dumps(to_dict(config), indent=2), "```", ""]
    return "\n".join(lines)
