"""Tiny local models for tests (no downloads, seconds to build), shared by every package's tests.

::

    from vlm.testing import make_tiny_llm, make_tiny_model
    llm_dir = make_tiny_llm(tmp_path / "llm")             # random Llama + ChatML byte-BPE tokenizer
    model = make_tiny_model(tmp_path / "llm", lora=True)  # VideoQAModel on random:test
"""

from __future__ import annotations

from pathlib import Path

import torch

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
_CORPUS = [
    "What colour is the ball? red blue green yellow purple orange",
    "Which way does the square move? left right up down. Answer with the option's letter.",
    "How many objects are there? one two three four five zero",
    "Did the objects collide? yes no. A. B. C. D.",
    "You are a helpful assistant that answers questions about a video.",
    "system user assistant",
]


def make_tiny_tokenizer(vocab_size: int = 320):
    """A byte-level BPE tokenizer trained in memory, with ChatML specials and chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_CORPUS * 4, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>", bos_token="<|im_start|>"
    )
    fast.chat_template = CHATML_TEMPLATE
    return fast


def make_tiny_llm(out_dir: str | Path, seed: int = 0, hidden_size: int = 32, layers: int = 2) -> Path:
    """Write a random tiny Llama (tied embeddings) and its tokenizer to ``out_dir``."""
    from transformers import LlamaConfig, LlamaForCausalLM

    out_dir = Path(out_dir)
    tokenizer = make_tiny_tokenizer()
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=2 * hidden_size,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        tie_word_embeddings=True,
        initializer_range=0.5,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir


def make_tiny_model(llm_dir: str | Path, encoder: str = "random:test", lora: bool = False, **kwargs):
    """A ``VideoQAModel`` from the tiny LLM in ``llm_dir`` (written there if missing)."""
    from vlm.model import VideoQAModel

    llm_dir = Path(llm_dir)
    if not (llm_dir / "config.json").is_file():
        make_tiny_llm(llm_dir)
    torch.manual_seed(0)
    lora_cfg = {"rank": 4, "alpha": 8} if lora else None
    return VideoQAModel.build(encoder, str(llm_dir), lora=lora_cfg, **kwargs)
