"""Inference speed-ups for a loaded :class:`~vlm.model.VideoQAModel`.

On a CPU, decoding one token reads every LLM weight once, so tokens/s is set by memory traffic and
per-layer overhead, not by FLOPs. The levers, all measured by ``jepa-vqa bench answer``:

- LoRA merged into the base weights (peft ``merge_adapter``): the adapter stays attached and
  saveable, but decoding no longer runs the extra low-rank matmuls. ``from_pretrained`` merges for
  inference; ``model.train()`` unmerges, so training always sees base + adapter;
- ``precision="bf16"`` (``--precision``; ``auto`` picks it where the CPU has bf16 units or on CUDA):
  half the bytes of fp32 per token;
- a single greedy answer is decoded by ``vlm.fastdecode.FastDecoder`` (fused projections, a
  preallocated KV cache, no per-step bookkeeping); batches and sampling go through ``generate``.

::

    model = VideoQAModel.from_pretrained("checkpoints/default", precision="auto")
"""

from __future__ import annotations

PRECISION_CHOICES = ("auto", "fp32", "bf16")  # as jepa_vqa.precision.PRECISIONS (torch imported lazily)


def add_precision_argument(parser) -> None:
    """The ``--precision`` flag of every command that answers questions (ask, eval, demo, bench)."""
    parser.add_argument(
        "--precision",
        choices=PRECISION_CHOICES,
        default=None,
        help="LLM weights: bf16 or fp32 (auto: bf16 where the CPU has bf16 units or on CUDA; "
        "default: auto, or the eval config's precision)",
    )


def llm_dtype(precision: str | None, device="cpu") -> str:
    """The LLM's dtype name for a ``precision`` (``None`` = auto) on ``device``."""
    from jepa_vqa.precision import resolve_precision

    return "bfloat16" if resolve_precision(precision or "auto", device) == "bf16" else "float32"


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


def fast_decoder(model):
    """The lean single-answer decoder (``vlm.fastdecode``) of an inference model, built on first use;
    None in training mode, with LoRA not merged, or for an architecture it does not cover. It lives
    in the model's ``__dict__``, outside the module tree, so it is never saved or trained."""
    from vlm.fastdecode import FastDecoder

    if model.training:
        return None
    decoder = model.__dict__.get("_fast_decoder")
    if decoder is not None and decoder.built_for(model.llm):
        return decoder
    decoder = FastDecoder.from_llm(model.llm)
    model.__dict__["_fast_decoder"] = decoder
    return decoder


def drop_fast_decoder(model) -> None:
    """Forget the decoder (its fused weights are copies that training would make stale)."""
    model.__dict__.pop("_fast_decoder", None)
