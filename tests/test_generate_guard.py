"""The repetition guard of vlm.generate: a looping answer stops instead of running to the cap."""

from __future__ import annotations

import pytest
import torch
from test_app import mute_llm

from vlm.generate import LOOP_MIN_TOKENS, RepetitionStop, generate_ids, is_looping, stream_text


def test_is_looping_needs_a_span_repeated_back_to_back():
    assert is_looping([7] * LOOP_MIN_TOKENS) and not is_looping([7] * (LOOP_MIN_TOKENS - 1))
    assert is_looping([1, 2, 3, 4, 5, 6, 7, 8] * 3) and not is_looping([1, 2, 3, 4, 5, 6, 7, 8] * 2)
    assert is_looping([9, 9] + [1, 2, 3] * 8)
    sentence = list(range(100, 112))  # 12 tokens said twice in a row: a loop; a 6-token phrase twice is not
    assert is_looping([1] + sentence * 2) and not is_looping(sentence[:6] * 2)
    assert not is_looping(list(range(200))) and not is_looping([])
    done = RepetitionStop()(torch.tensor([[5] * 30, list(range(30))]), None)  # (B, new)
    assert done.tolist() == [True, False]


@pytest.mark.parametrize("fast", [True, False], ids=["fast-decoder", "generate"])
def test_a_looping_model_stops_early(tmp_path, fast):
    from vlm.testing import make_tiny_model

    model = make_tiny_model(mute_llm(tmp_path / "llm")).eval()  # says one token forever
    inputs = model.prepare_prompts([torch.zeros(16, 3, 32, 32, dtype=torch.uint8)], ["What moves?"])
    ids = generate_ids(model, inputs, fast=fast, max_new_tokens=200, do_sample=False)  # (1, new)
    assert ids.shape[1] == LOOP_MIN_TOKENS and len(set(ids[0].tolist())) == 1
    assert "".join(stream_text(model, inputs, max_new_tokens=200, do_sample=False)) == ""
