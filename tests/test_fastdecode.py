"""FastDecoder: the greedy tokens of ``llm.generate``, with fused projections and a static KV cache."""

from __future__ import annotations

import pytest
import torch

from vlm.fastdecode import FastDecoder
from vlm.model import VideoQAModel
from vlm.testing import make_tiny_llm, make_tiny_model


@pytest.fixture(scope="module")
def llm_dir(tmp_path_factory):
    return make_tiny_llm(tmp_path_factory.mktemp("fastdecode") / "llm", layers=3)


@pytest.fixture(scope="module")
def llm(llm_dir):
    from vlm.llm import load_llm

    return load_llm(str(llm_dir))[0].eval()


def _prompt(seed: int, width: int = 32, length: int = 10) -> torch.Tensor:
    return torch.randn(1, length, width, generator=torch.Generator().manual_seed(seed))  # (1, L, W)


def _generate(llm, embeds, **settings) -> torch.Tensor:
    ones = torch.ones(embeds.shape[:2], dtype=torch.long)
    return llm.generate(
        inputs_embeds=embeds, attention_mask=ones, do_sample=False, pad_token_id=0, **settings
    )


@pytest.mark.parametrize("seed", range(3))
def test_same_tokens_as_generate(llm, seed):
    embeds = _prompt(seed)
    want = _generate(llm, embeds, max_new_tokens=24, eos_token_id=[])
    got = FastDecoder.from_llm(llm).generate(embeds, max_new_tokens=24, eos_token_ids=[])
    assert got.equal(want) and len(set(got[0].tolist())) > 2


def test_stops_at_end_tokens_and_honours_min_new_tokens(llm):
    embeds, decoder = _prompt(5), FastDecoder.from_llm(llm)
    free = decoder.generate(embeds, max_new_tokens=16, eos_token_ids=[])[0].tolist()
    stop = free[3]  # an end token that greedy decoding reaches at step 4
    for settings in ({}, {"min_new_tokens": 8}):
        want = _generate(llm, embeds, max_new_tokens=16, eos_token_id=[stop], **settings)
        got = decoder.generate(embeds, 16, [stop], min_new_tokens=settings.get("min_new_tokens", 0))
        assert got.equal(want)
    assert decoder.generate(embeds, 16, [stop])[0].tolist() == free[:4]


def test_streamer_and_stop_callback(llm):
    class Recorder:
        def __init__(self):
            self.puts, self.ended = [], False

        def put(self, value):
            self.puts.append(value.flatten().tolist())

        def end(self):
            self.ended = True

    recorder, embeds = Recorder(), _prompt(1)
    ids = FastDecoder.from_llm(llm).generate(
        embeds, 20, [], streamer=recorder, should_stop=lambda ids: ids.shape[1] >= 5
    )
    assert ids.shape == (1, 5) and recorder.ended
    assert recorder.puts[0] == [] and sum(recorder.puts[1:], []) == ids[0].tolist()  # prompt, then tokens


def test_qwen2_projection_biases_are_fused():
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(0)
    config = Qwen2Config(
        vocab_size=200, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=128, initializer_range=0.5,
    )  # fmt: skip
    qwen = Qwen2ForCausalLM(config).eval()
    with torch.no_grad():
        for layer in qwen.model.layers:
            layer.self_attn.k_proj.bias.normal_(0, 1.0)  # q/k/v biases are Qwen2's difference
    embeds = _prompt(2)
    want = _generate(qwen, embeds, max_new_tokens=12, eos_token_id=[])
    assert FastDecoder.from_llm(qwen).generate(embeds, 12, []).equal(want)


def test_uncovered_architectures_fall_back():
    from transformers import GPT2Config, GPT2LMHeadModel

    gpt2 = GPT2LMHeadModel(GPT2Config(vocab_size=100, n_embd=32, n_layer=1, n_head=2))
    assert FastDecoder.from_llm(gpt2) is None


def test_inference_model_answers_through_it_with_the_generate_answer(llm_dir, tmp_path):
    from vlm.inference import fast_decoder

    trained = make_tiny_model(llm_dir, lora=True)
    with torch.no_grad():  # a non-zero adapter, so that merging matters
        for name, p in trained.llm.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.5)
    model = VideoQAModel.from_pretrained(trained.save_pretrained(tmp_path / "m"))
    assert fast_decoder(model) is not None
    frames = torch.randint(
        0, 256, (16, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(0)
    )
    question = "What colour is the ball?"
    fast = model.answer(frames, question, max_new_tokens=12)
    batched = model.answer_batch([frames, frames], [question, question], max_new_tokens=12)  # llm.generate
    assert fast == batched[0] and fast == trained.eval().answer(frames, question, max_new_tokens=12)
    assert "".join(model.stream_answer(frames, question, max_new_tokens=12)) == fast
    decoder = fast_decoder(model)
    model.llm.to(torch.float64)  # a dtype (or device) move: the fused copies are rebuilt to match
    assert fast_decoder(model) is not decoder and fast_decoder(model).built_for(model.llm)
    model.llm.to(torch.float32)
    model.train()
    assert fast_decoder(model) is None and "_fast_decoder" not in model.__dict__
    assert not any("_fast_decoder" in name for name in model.state_dict())


def test_bf16_model_attends_in_fp32_on_cpu(llm):
    """On a CPU a bf16 model keeps its KV cache and attention in fp32 (bf16 attention over one new
    token is ~4x slower there); its greedy tokens stay those of bf16 ``generate``."""
    import copy

    from vlm.fastdecode import cache_dtype_for

    assert cache_dtype_for(torch.bfloat16, torch.device("cpu")) == torch.float32
    assert cache_dtype_for(torch.bfloat16, torch.device("cuda")) == torch.bfloat16
    half = copy.deepcopy(llm).to(torch.bfloat16)
    for seed in range(3):
        embeds = _prompt(seed).to(torch.bfloat16)
        want = _generate(half, embeds, max_new_tokens=16, eos_token_id=[])
        got = FastDecoder.from_llm(half).generate(embeds, max_new_tokens=16, eos_token_ids=[])
        assert got.equal(want), seed
