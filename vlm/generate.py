"""Text generation from spliced prompt embeddings: greedy by default, KV cache, streaming.

Both paths call :func:`generate_ids` with the same settings, so the streamed pieces join to exactly
the non-streamed answer. One greedy answer on an inference model is decoded by
:class:`vlm.fastdecode.FastDecoder`, anything else by ``llm.generate``::

    ids = generate_ids(model, model.prepare_prompts([video], [question]))   # (B, new)
    for piece in stream_text(model, model.prepare_prompts([video], [question])):
        print(piece, end="")
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Iterator

import torch

DEFAULT_MAX_NEW_TOKENS = 32
SAMPLING_KEYS = ("temperature", "top_p", "top_k", "min_p", "typical_p")
FAST_KEYS = {"max_new_tokens", "min_new_tokens", "do_sample"}  # settings the fast decoder honours
LOOP_MIN_TOKENS, LOOP_MIN_REPEATS, LOOP_MAX_PERIOD = 24, 2, 32  # see is_looping


def generation_config(model, **overrides):
    """Greedy decoding that stops at the template's end-of-turn token, unless ``overrides`` say so."""
    from transformers import GenerationConfig

    tokenizer = model.tokenizer
    stop = [model.processor.end_of_turn_id]
    if tokenizer.eos_token_id is not None and tokenizer.eos_token_id not in stop:
        stop.append(tokenizer.eos_token_id)
    settings = {
        "max_new_tokens": DEFAULT_MAX_NEW_TOKENS,
        "do_sample": any(k in overrides for k in SAMPLING_KEYS),
        "eos_token_id": stop,
        "pad_token_id": tokenizer.pad_token_id,
        "use_cache": True,
    }
    settings.update(overrides)
    return GenerationConfig(**settings)


def kv_cache(llm) -> tuple[str, object]:
    """The keyword the LLM takes a KV cache by (``cache`` in recent transformers, else
    ``past_key_values``) and an empty cache."""
    from transformers import DynamicCache

    params = inspect.signature(type(llm.get_decoder()).forward).parameters
    return ("cache" if "cache" in params else "past_key_values"), DynamicCache()


def is_looping(ids: list[int]) -> bool:
    """Whether ``ids`` ends in one span of 1..LOOP_MAX_PERIOD tokens repeated back to back at least
    LOOP_MIN_REPEATS times and over at least LOOP_MIN_TOKENS tokens (a stuck greedy answer)."""
    for period in range(1, LOOP_MAX_PERIOD + 1):
        repeats = max(LOOP_MIN_REPEATS, -(-LOOP_MIN_TOKENS // period))  # ceil division
        if len(ids) < period * repeats:
            continue
        tail = ids[-period * repeats :]
        if tail == tail[-period:] * repeats:
            return True
    return False


class RepetitionStop:
    """A stopping criterion (``llm.generate`` and the fast decoder alike): a row stops once its
    new tokens loop (:func:`is_looping`), so a long clip's answer does not repeat up to the cap."""

    def __call__(self, input_ids, scores=None, **kwargs) -> torch.Tensor:
        done = [is_looping(row) for row in input_ids.tolist()]  # input_ids: (B, new) new tokens only
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)


def _single_greedy(inputs: dict, overrides: dict) -> bool:
    """One unpadded prompt decoded greedily with only length settings: the fast decoder's case."""
    return (
        inputs["inputs_embeds"].shape[0] == 1
        and bool(inputs["attention_mask"].all())
        and set(overrides) <= FAST_KEYS
        and not overrides.get("do_sample", False)
    )


def generate_ids(
    model, inputs: dict, streamer=None, stopping_criteria=None, fast: bool = True, **overrides
) -> torch.Tensor:
    """New token ids (B, new) for left-padded ``inputs`` (``inputs_embeds``, ``attention_mask``).

    One greedy answer on an inference model runs :class:`vlm.fastdecode.FastDecoder` (the same
    tokens, with less overhead per step) unless ``fast`` is False; everything else runs
    ``llm.generate``. Both stop a row whose answer loops (:class:`RepetitionStop`)."""
    from transformers import StoppingCriteriaList

    from vlm.inference import fast_decoder

    criteria = StoppingCriteriaList([RepetitionStop(), *(stopping_criteria or [])])
    decoder = fast_decoder(model) if fast and _single_greedy(inputs, overrides) else None
    if decoder is not None:
        config = generation_config(model, **overrides)
        return decoder.generate(
            inputs["inputs_embeds"],
            max_new_tokens=config.max_new_tokens,
            eos_token_ids=config.eos_token_id,
            min_new_tokens=config.min_new_tokens or 0,
            streamer=streamer,
            should_stop=lambda ids: any(bool(c(ids, None).all()) for c in criteria),
        )
    out = model.llm.generate(
        **inputs,
        generation_config=generation_config(model, **overrides),
        streamer=streamer,
        stopping_criteria=criteria,
    )
    return out  # with inputs_embeds only, generate returns just the new tokens


class _StopFlag:
    """A stopping criterion that ends generation once the consumer has gone away."""

    def __init__(self) -> None:
        self.event = threading.Event()

    def __call__(self, input_ids, scores, **kwargs) -> torch.Tensor:
        return torch.full(
            (input_ids.shape[0],), self.event.is_set(), dtype=torch.bool, device=input_ids.device
        )


def stream_text(model, inputs: dict, **overrides) -> Iterator[str]:
    """Run generation in a thread and yield decoded text pieces as they are ready."""
    from transformers import StoppingCriteriaList, TextIteratorStreamer

    streamer = TextIteratorStreamer(model.tokenizer, skip_prompt=True, skip_special_tokens=True)
    stop = _StopFlag()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with torch.no_grad():
                generate_ids(
                    model,
                    inputs,
                    streamer=streamer,
                    stopping_criteria=StoppingCriteriaList([stop]),
                    **overrides,
                )
        except BaseException as exc:  # noqa: BLE001 - re-raised in the consumer below
            errors.append(exc)
            streamer.end()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        for piece in streamer:
            if piece:
                yield piece
    finally:
        stop.event.set()  # a consumer that stops early ends the generation too
        thread.join()
    if errors:
        raise errors[0]
