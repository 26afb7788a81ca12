"""Inference speed-ups for a loaded :class:`~vlm.model.VideoQAModel`.

On a CPU, decoding one token reads every LLM weight once, so tokens/s is set by memory traffic and
per-layer overhead, not by FLOPs. Two levers, both measured by ``jepa-vqa bench answer``:

- LoRA merged into the base weights (peft ``merge_adapter``): the adapter stays attached and
  saveable, but decoding no longer runs the extra low-rank matmuls. ``from_pretrained`` merges for
  inference; ``model.train()`` unmerges, so training always sees base + adapter;
- ``quantize="int8"``: dynamic int8 quantisation of the LLM's linear layers (per-channel weights,
  fbgemm kernels, a quarter of the fp32 bytes). Inference only: such a model refuses to train or
  save. Answers can differ from fp32; ``jepa-vqa eval --quantize int8`` measures by how much.

::

    model = VideoQAModel.from_pretrained("checkpoints/default", quantize="int8")
"""

from __future__ import annotations

import warnings

from jepa_vqa.errors import UserError

QUANTIZE_CHOICES = ("int8",)  # torch is imported lazily: the CLI reads this to build its flags


def add_quantize_argument(parser) -> None:
    """The ``--quantize`` flag of every command that answers questions (ask, eval, demo, bench)."""
    parser.add_argument(
        "--quantize",
        choices=QUANTIZE_CHOICES,
        default=None,
        help="int8: quantise the LLM for fast CPU decoding",
    )


def lora_merged(llm) -> bool:
    """Whether the LoRA adapters of ``llm`` are folded into its base weights."""
    return any(getattr(module, "merged", False) for module in llm.modules())


def merge_lora(model) -> None:
    """Fold the adapter into the base weights for inference (no-op without LoRA or if merged)."""
    if model.is_lora and not lora_merged(model.llm):
        model.llm.merge_adapter()


def unmerge_lora(model) -> None:
    """Take the adapter back out of the base weights, so that training updates it again."""
    if model.is_lora and lora_merged(model.llm):
        model.llm.unmerge_adapter()


def quantize_llm(model, mode: str) -> None:
    """Fold LoRA into the LLM, then int8-quantise its linear layers in place (CPU only)."""
    if mode not in QUANTIZE_CHOICES:
        raise UserError(f"unknown quantize mode {mode!r}; choose one of {', '.join(QUANTIZE_CHOICES)}")
    if model.device.type != "cpu":
        raise UserError("int8 quantisation is for CPU inference; on a GPU use dtype=bfloat16")
    import torch
    from torch import nn

    llm = model.llm.merge_and_unload() if model.is_lora else model.llm
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's notice that quantized tensors will move to torchao
        from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

        llm = quantize_dynamic(
            llm.float().eval(), {nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8, inplace=True
        )
    model.llm = llm
    model.quantized = mode


def refuse_if_quantized(model, action: str) -> None:
    """A clear error instead of saving or training int8 weights that are meant for inference only."""
    if getattr(model, "quantized", None):
        raise UserError(
            f"cannot {action} a {model.quantized}-quantised model (inference only); "
            "load it without quantize to do that"
        )
