"""The model being aligned: a ``VideoQAModel`` with a LoRA adapter, and what trains at each stage.

    model = build_model(cfg)                    # encoder + projector + LLM + LoRA
    groups = trainable_parameters(model)        # {"projector": [...], "lora": [...], "encoder": [...]}
    set_stage(model, 1)                         # projector only;  set_stage(model, 2): + LoRA

Stage 1 trains the projector (encoder and LLM frozen, LoRA frozen at its zero init); stage 2 also
trains LoRA; the encoder's last ``encoder_tuning.last_blocks`` blocks train in both stages when
asked for.
"""

from __future__ import annotations

from dataclasses import replace

import torch

from alignment.config import AlignConfig
from worlds.formats import read_clips
from worlds.grounding import world_vocabulary


def build_model(cfg: AlignConfig, precision: str = "fp32"):
    """``VideoQAModel.build`` from the config, with LoRA attached (peft). With ``precision`` bf16
    the frozen LLM weights are held in bf16 (the trained projector and LoRA stay fp32, and so does
    their optimizer state): autocast would otherwise cast every weight to bf16 at every call, and
    on a CPU those copies cost more than the bf16 matmuls save. The LLM's attention takes
    ``jepa_vqa.attention``'s bf16 training path (two matmuls around a softmax, on a CPU)."""
    from jepa_vqa.attention import use_training_attention
    from vlm.model import VideoQAModel

    model = VideoQAModel.build(
        cfg.encoder,
        cfg.llm,
        projector=projector_config(cfg),
        num_frames=cfg.num_frames or None,
        lora=cfg.stage2.lora,  # the one LoraSettings, from the YAML to peft
        unfreeze_encoder_blocks=cfg.encoder_tuning.last_blocks,
        perception=cfg.perception,
        dtype=torch.bfloat16 if precision == "bf16" else None,
    )
    use_training_attention(model.llm)
    return model


def projector_config(cfg: AlignConfig):
    """``cfg.projector``, with the world's words filled in where it reads cells out as words and
    names none (size, colour, shape with "nothing", direction: the order a description gives)."""
    if not cfg.projector.object_words or cfg.projector.words:
        return cfg.projector
    vocab = world_vocabulary(read_clips(cfg.data.path))
    return replace(cfg.projector, words={g: vocab[g] for g in ("size", "colour", "shape", "direction")})


def trainable_parameters(model) -> dict[str, list[torch.nn.Parameter]]:
    """Parameter groups the optimiser sees: projector, LoRA, and any unfrozen encoder blocks."""
    groups = {
        "projector": list(model.projector.parameters()),
        "lora": [p for n, p in model.llm.named_parameters() if "lora_" in n],
        "encoder": [p for p in model.encoder.parameters() if p.requires_grad],  # unfrozen by VideoQAModel
    }
    if not groups["lora"]:
        raise ValueError("the LLM has no LoRA parameters (check stage2.lora.target_modules)")
    return groups


def set_stage(model, stage: int) -> None:
    """Switch ``requires_grad`` to what trains in ``stage`` (1: projector; 2: projector + LoRA)."""
    for name, params in trainable_parameters(model).items():
        for p in params:
            p.requires_grad_(name != "lora" or stage == 2)
