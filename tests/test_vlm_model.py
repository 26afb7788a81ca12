"""VideoQAModel on a tiny random Llama + the random:test encoder: training, answering, persistence."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from jepa_vqa.errors import UserError
from vlm.model import VideoQAModel, resolve_model
from vlm.testing import make_tiny_llm, make_tiny_model

QUESTIONS = ["What colour is the ball?", "How many objects are there?", "Which way does it move?"]


@pytest.fixture(scope="module")
def llm_dir(tmp_path_factory):
    return make_tiny_llm(tmp_path_factory.mktemp("vlm") / "llm")


@pytest.fixture(scope="module")
def model(llm_dir):
    m = make_tiny_model(llm_dir, lora=True)
    with torch.no_grad():  # non-zero LoRA B so the adapter changes outputs (and merging matters)
        for name, p in m.llm.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.5)
    return m.eval()


def _frames(seed: int, t: int = 16) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (t, 3, 40, 48), dtype=torch.uint8, generator=g)  # (T, C, H, W)


def _is_projector_or_lora(name: str) -> bool:
    return name.startswith("projector.") or "lora_" in name


def test_gradients_reach_only_projector_and_lora(model):
    model.zero_grad(set_to_none=True)
    frames = torch.stack([_frames(0), _frames(1)])  # (B, T, C, H, W)
    loss = model.training_loss(frames, QUESTIONS[:2], ["red", "B"], options=[None, ["one", "two"]])
    loss.backward()
    with_grad = {n for n, p in model.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}
    assert with_grad and all(_is_projector_or_lora(n) for n in with_grad)
    assert any(n.startswith("projector.mlp") for n in with_grad) and any("lora_A" in n for n in with_grad)
    assert {id(p) for p in model.trainable_parameters()} == {
        id(p) for n, p in model.named_parameters() if _is_projector_or_lora(n)
    }
    model.zero_grad(set_to_none=True)


def test_unfrozen_encoder_blocks_train(llm_dir):
    m = make_tiny_model(llm_dir, unfreeze_encoder_blocks=1)
    loss = m.training_loss(_frames(0)[None], [QUESTIONS[0]], ["red"])
    loss.backward()
    blocks = m.encoder.backbone.blocks
    assert all(p.grad is not None for p in blocks[-1].parameters())
    assert all(p.grad is None for p in blocks[0].parameters())
    assert all(p.grad is None for n, p in m.llm.named_parameters())


def test_training_reduces_loss(llm_dir):
    torch.manual_seed(0)
    m = make_tiny_model(llm_dir, lora=True)
    tokens = m.encode_tokens(_frames(3))  # (1, N, D): precomputed, as feature caching does
    opt = torch.optim.AdamW(m.trainable_parameters(), lr=1e-2)
    losses = []
    for _ in range(15):
        loss = m.training_loss(tokens, ["What colour is the ball?"], ["red"])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_video_tokens_frames_and_tokens_agree(model):
    frames = _frames(5)
    tokens = model.encode_tokens(frames)[0]  # (N, D)
    assert tokens.shape == (model.grid[0] * model.grid[1] * model.grid[2], model.encoder.embed_dim)
    a, b = model.encode_video(frames), model.encode_video(tokens)
    assert a.shape == (model.num_video_tokens, model.llm.get_input_embeddings().embedding_dim)
    torch.testing.assert_close(a, b)
    # a clip with another frame count is resampled to the model's
    assert model.encode_video(_frames(5, t=9)).shape == a.shape
    with pytest.raises(UserError, match="uint8 frames or float tokens"):
        model.encode_video(torch.zeros(2, 3, dtype=torch.int64))
    with pytest.raises(UserError, match=r"\(T, 3, H, W\)"):
        model.encode_video(torch.zeros(16, 1, 8, 8, dtype=torch.uint8))


def test_batched_equals_unbatched(model):
    videos = [_frames(0), None, _frames(2)]
    options = [None, ["one", "two", "three"], None]
    batched = model.answer_batch(videos, QUESTIONS, options=options, max_new_tokens=12)
    single = [model.answer(v, q, options=o, max_new_tokens=12) for v, q, o in zip(videos, QUESTIONS, options)]
    assert batched == single
    assert all(batched) and len(set(batched)) > 1  # non-trivial, distinct outputs


def test_prompts_about_videos_share_their_prefix_cache_and_generate_as_alone(model, monkeypatch):
    """Several prompts about videos: the shared prefix (system turn, video) runs once per distinct
    clip and is every row's KV cache, the rest of each prompt after padding; the tokens generated
    are those of one question at a time, including min_new_tokens past a row's end of turn."""
    videos = [_frames(0), _frames(1), _frames(0), _frames(0)]
    questions = [QUESTIONS[0], QUESTIONS[1], QUESTIONS[2], "Is it moving to the left of the red one?"]
    prefixes = []
    decoder = model.llm.get_decoder()
    monkeypatch.setattr(
        decoder,
        "forward",
        lambda *a, **k: prefixes.append(k["inputs_embeds"].shape) or type(decoder).forward(decoder, *a, **k),
    )
    inputs = model.prepare_prompts(videos, questions)
    assert len(prefixes) == 1 and prefixes[0][0] == 2  # two distinct clips
    monkeypatch.undo()
    assert inputs["attention_mask"][:, : prefixes[0][1]].all()  # the prefix: no padding
    for settings in ({"max_new_tokens": 10}, {"max_new_tokens": 6, "min_new_tokens": 6}):
        shared = model.generate_batch(videos, questions, **settings)
        alone = [model.generate_batch([v], [q], **settings)[0] for v, q in zip(videos, questions)]
        assert shared == alone
    assert len(set(shared)) > 1


def test_video_changes_the_answer(model):
    with_video = model.answer(_frames(0), QUESTIONS[0], max_new_tokens=8)
    blind = model.answer(None, QUESTIONS[0], max_new_tokens=8)
    assert with_video != blind


def test_streaming_equals_answer(model):
    history = [("How many objects are there?", "two")]
    pieces = list(model.stream_answer(_frames(1), QUESTIONS[0], history=history, max_new_tokens=16))
    assert len(pieces) >= 1
    assert "".join(pieces) == model.answer(_frames(1), QUESTIONS[0], history=history, max_new_tokens=16)
    stream = model.stream_answer(_frames(1), QUESTIONS[0], max_new_tokens=200)
    next(stream)
    stream.close()  # the generation thread stops and is joined


def test_bad_questions_raise_user_error(model):
    for bad in ["", "   ", "x" * 2001, 42]:
        with pytest.raises(UserError):
            model.answer(_frames(0), bad)
    with pytest.raises(UserError, match="options"):
        model.answer(_frames(0), "Which?", options="left")


def _tensors(model_dir) -> dict[str, torch.Tensor]:
    out = {}
    for path in sorted(model_dir.rglob("*.safetensors")):
        for key, value in load_file(str(path)).items():
            out[f"{path.relative_to(model_dir)}:{key}"] = value
    return out


def test_save_load_save_is_identical(model, tmp_path):
    first = model.save_pretrained(
        tmp_path / "a", card={"training_data": "tiny world", "results": {"acc": 0.5}}
    )
    names = {p.name for p in first.iterdir()}
    assert {"config.json", "encoder.safetensors", "projector.safetensors", "adapter", "README.md"} <= names
    assert not list(first.rglob("*.bin")) and not list(first.rglob("*.pt")) and not list(first.rglob("*.pkl"))
    config = json.loads((first / "config.json").read_text())
    assert config["encoder"] == "random:test" and config["projector"]["kind"] == "pool-mlp"
    assert config["num_frames"] == 16 and config["lora"]["rank"] == 4 and config["version"] == 1
    assert "tiny world" in (first / "README.md").read_text()

    loaded = VideoQAModel.from_pretrained(first)
    second = loaded.save_pretrained(tmp_path / "b")
    a, b = _tensors(first), _tensors(second)
    assert a.keys() == b.keys() and any(k.startswith("adapter") for k in a)
    for key in a:
        assert torch.equal(a[key], b[key]), key
    assert (first / "config.json").read_text() == (second / "config.json").read_text()
    assert (first / "README.md").read_text() == (second / "README.md").read_text()
    q = QUESTIONS[1]
    assert loaded.answer(_frames(4), q, max_new_tokens=10) == model.answer(_frames(4), q, max_new_tokens=10)
    # saving over an existing model dir replaces it atomically
    model.save_pretrained(tmp_path / "b")
    assert _tensors(tmp_path / "b").keys() == a.keys()


def test_export_merges_lora(model, tmp_path):
    out = model.export(tmp_path / "merged", merge=True)
    assert (out / "llm" / "config.json").is_file() and not (out / "adapter").exists()
    merged = VideoQAModel.from_pretrained(out)
    assert not merged.is_lora and merged.config.bundled_llm
    frames = torch.stack([_frames(6)])
    with torch.no_grad():
        want = model.training_loss(frames, [QUESTIONS[0]], ["red"])
        got = merged.training_loss(frames, [QUESTIONS[0]], ["red"])
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)
    kept = VideoQAModel.from_pretrained(model.export(tmp_path / "unmerged", merge=False))
    assert kept.is_lora and (tmp_path / "unmerged" / "adapter").is_dir()


def test_describe(model):
    info = model.describe()
    assert info["encoder"] == "random:test" and info["video_tokens"] == model.num_video_tokens == 32
    assert info["lora"] is True and 0 < info["trainable_parameters"] < info["parameters"]


def test_attentive_projector_model(llm_dir):
    from vlm.projector import ProjectorConfig

    m = make_tiny_model(llm_dir, projector=ProjectorConfig(kind="attentive", tokens=5))
    assert m.num_video_tokens == 5
    assert isinstance(m.answer(_frames(0), QUESTIONS[0], max_new_tokens=3), str)


def test_missing_default_model_says_how_to_build_it(monkeypatch, tmp_path):
    monkeypatch.setattr("vlm.model.default_model_path", lambda: tmp_path / "nothing")
    with pytest.raises(UserError, match="make default-model"):
        resolve_model(None)
    with pytest.raises(UserError, match="make default-model"):  # what `demo` / eval pass
        VideoQAModel.from_pretrained(tmp_path / "nothing")
    assert resolve_model("some/dir") == "some/dir"


def test_from_pretrained_rejects_non_model_dirs(tmp_path):
    with pytest.raises(UserError, match="not a model dir"):
        VideoQAModel.from_pretrained(tmp_path)
    with pytest.raises(UserError, match="neither a local dir nor a Hub id"):
        VideoQAModel.from_pretrained("no_such_dir")


def test_push_to_hub_uploads_a_loadable_model_dir(model, monkeypatch, tmp_path):
    """No network in tests: a stand-in HfApi keeps what would be uploaded, which must load back."""
    import shutil

    import huggingface_hub

    calls = []

    class RecordingApi:
        def __init__(self, token=None):
            self.token = token

        def create_repo(self, repo_id, private=False, exist_ok=False, repo_type=None):
            calls.append(("create", repo_id, private))

        def upload_folder(self, repo_id, folder_path, commit_message):
            shutil.copytree(folder_path, tmp_path / "uploaded")
            calls.append(("upload", repo_id))
            return f"https://huggingface.co/{repo_id}/commit/0"

    monkeypatch.setattr(huggingface_hub, "HfApi", RecordingApi)
    url = model.push_to_hub("me/tiny-vqa", private=True)
    assert calls == [("create", "me/tiny-vqa", True), ("upload", "me/tiny-vqa")] and "me/tiny-vqa" in url
    again = VideoQAModel.from_pretrained(tmp_path / "uploaded")
    q = QUESTIONS[0]
    assert again.answer(_frames(0), q, max_new_tokens=6) == model.answer(_frames(0), q, max_new_tokens=6)


def test_answer_only_logits_give_the_full_causal_lm_loss(model):
    """forward() computes logits only where answers are predicted; the loss must not change."""
    items = [
        model.processor.encode(q, answer=a, has_video=True)
        for q, a in zip(QUESTIONS, ["red", "three objects", "left"])
    ]
    batch = model.processor.collate(items, padding_side="right")
    tokens = model.encode_tokens(torch.stack([_frames(i) for i in range(3)]))
    batch["encoder_tokens"] = tokens
    with torch.no_grad():
        loss = model(batch)
        embeds = model.embed_inputs(batch["input_ids"], batch["video_mask"], model.project(tokens))
        full = model.llm(inputs_embeds=embeds, attention_mask=batch["attention_mask"], labels=batch["labels"])
    torch.testing.assert_close(loss, full.loss)


def test_inference_load_merges_lora_and_train_mode_unmerges_it(model, tmp_path):
    from vlm.inference import lora_merged

    loaded = VideoQAModel.from_pretrained(model.save_pretrained(tmp_path / "m"))
    assert loaded.is_lora and lora_merged(loaded.llm) and not lora_merged(model.llm)
    frames, q = torch.stack([_frames(7)]), QUESTIONS[2]
    with torch.no_grad():
        want = model.training_loss(frames, [q], ["left"])
        torch.testing.assert_close(loaded.training_loss(frames, [q], ["left"]), want, rtol=1e-4, atol=1e-4)
    assert loaded.answer(_frames(7), q, max_new_tokens=8) == model.answer(_frames(7), q, max_new_tokens=8)
    loaded.train()
    assert not lora_merged(loaded.llm)  # training sees base + adapter, so LoRA gets gradients
    loaded.training_loss(frames, [q], ["left"]).backward()
    assert any(p.grad is not None for n, p in loaded.llm.named_parameters() if "lora_A" in n)


def test_grouped_questions_give_the_losses_of_separate_rows(model):
    """One row holding three questions about a clip (each seeing only the video prefix and itself)
    trains on exactly what three separate rows would: same mean loss, same gradients."""
    answers, options = ["red", "B", "left"], [None, ["one", "two"], None]
    tokens = model.encode_tokens(_frames(3)[None])  # (1, N, D)
    separate = model.processor.collate(
        [model.processor.encode(q, options=o, answer=a) for q, o, a in zip(QUESTIONS, options, answers)]
    )
    separate["encoder_tokens"] = tokens.expand(3, -1, -1)
    grouped = model.processor.collate([model.processor.encode_group(QUESTIONS, answers, options)])
    grouped["encoder_tokens"] = tokens
    assert grouped["attention_mask"].shape[-2:] == (grouped["input_ids"].shape[1],) * 2
    assert int(grouped["video_mask"].sum()) == model.config.projector.tokens
    item = model.processor.encode_group(QUESTIONS, answers, options)
    padded = model.processor.collate([item, item], pad_to_multiple_of=64)  # training rows, few shapes
    padded["encoder_tokens"] = tokens.expand(2, -1, -1)
    assert padded["input_ids"].shape[1] % 64 == 0 and padded["input_ids"].shape[1] > len(item)
    losses, grads = [], []
    for batch in (separate, grouped, padded):
        model.zero_grad(set_to_none=True)
        loss = model(batch)
        loss.backward()
        losses.append(loss.detach())
        grads.append(
            torch.cat([p.grad.flatten() for p in model.trainable_parameters() if p.grad is not None])
        )
    model.zero_grad(set_to_none=True)
    for k in (1, 2):  # padding to a multiple changes nothing either
        torch.testing.assert_close(losses[k], losses[0], rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(grads[k], grads[0], rtol=1e-3, atol=1e-5)


def test_option_scores_equal_one_pass_per_option(model):
    """The grouped option row (prompt once, options apart) gives each option's mean token
    log-probability exactly as scoring it alone would."""
    videos, options = [_frames(0), None], [["red", "dark blue", "green"], ["left", "right"]]
    scores = model.score_options(videos, QUESTIONS[:2], options)
    for video, question, opts, row in zip(videos, QUESTIONS[:2], options, scores):
        for opt, got in zip(opts, row):
            item = model.processor.encode(question, options=opts, has_video=video is not None, answer=opt)
            batch = model.processor.collate([item])
            with torch.no_grad():
                embeds = model.embed_inputs(
                    batch["input_ids"],
                    batch["video_mask"],
                    None if video is None else model.encode_videos([video]),
                )
                logprobs = model.llm(inputs_embeds=embeds).logits[0, :-1].log_softmax(-1)  # (L-1, V)
            targets = batch["labels"][0, 1:]
            keep = (targets != -100) & (targets != model.processor.end_of_turn_id)
            expected = logprobs[keep].gather(-1, targets[keep][:, None]).mean()
            assert got == pytest.approx(float(expected), abs=1e-4)
    assert model.choose(videos, QUESTIONS[:2], options) == [
        max(range(len(r)), key=r.__getitem__) for r in scores
    ]


def test_questions_about_one_video_share_a_row_and_score_as_alone(model, monkeypatch):
    """Questions about the same clip (equal frames, not only the same tensor) are scored in one row
    whose video prefix is computed once, with the scores of one question at a time; a question
    with history, or without a video, keeps a row of its own."""
    from vlm import answering

    videos = [_frames(0), _frames(0), _frames(1), _frames(0), None]
    questions = [QUESTIONS[0], QUESTIONS[1], QUESTIONS[2], QUESTIONS[2], QUESTIONS[0]]
    options = [
        ["red", "dark blue", "green"],
        ["1", "2"],
        ["left", "right"],
        ["up", "down", "left"],
        ["a", "b"],
    ]
    histories = [None, None, None, [("Hi?", "Hello.")], None]
    assert answering.shared_video_rows(videos, histories, 8) == [[0, 1], [2], [3], [4]]
    assert answering.shared_video_rows(videos[:4] + [_frames(0)], [None] * 5, 2) == [[0, 1], [2], [3, 4]]
    assert answering.shared_video_rows(videos, histories, 1) == [[0], [1], [2], [3], [4]]
    seen = []
    encode = model.encode_tokens
    monkeypatch.setattr(model, "encode_tokens", lambda frames: seen.append(len(frames)) or encode(frames))
    scores = model.score_options(videos, questions, options, histories)
    assert seen == [2]  # three rows with a video (two of them frames 0): two clips through the encoder
    alone = [
        model.score_options([v], [q], [o], [h])[0]
        for v, q, o, h in zip(videos, questions, options, histories)
    ]
    for got, want in zip(scores, alone):
        assert got == pytest.approx(want, abs=1e-4)


def test_encode_videos_encodes_each_distinct_clip_once(model, monkeypatch):
    seen = []
    encode = model.encode_tokens
    monkeypatch.setattr(model, "encode_tokens", lambda frames: seen.append(len(frames)) or encode(frames))
    with torch.no_grad():
        both = model.encode_videos([_frames(0), _frames(1), _frames(0)])  # (3, K, W)
        one = model.encode_videos([_frames(1)])
    assert seen == [2, 1] and both.shape[0] == 3
    torch.testing.assert_close(both[0], both[2])
    torch.testing.assert_close(both[1], one[0], rtol=1e-4, atol=1e-5)


def test_option_scores_of_a_bf16_llm_take_the_lm_head_in_fp32(llm_dir):
    """bf16 logits of ~20 are rounded to steps of 0.125: the head runs in fp32 over the bf16 LLM's
    final hidden states, so close options are ranked as an fp32 model ranks them (#14)."""
    model = make_tiny_model(llm_dir).eval()
    model.llm.to(torch.bfloat16)
    with torch.no_grad():  # logits of the size a trained LLM gives, where bf16 rounding shows
        model.llm.get_output_embeddings().weight.mul_(50)
    head, seen = model._fp32_logits, []
    model._fp32_logits = lambda hidden: seen.append(hidden) or head(hidden)  # a spy: the real head runs
    scores = model.score_options([None], QUESTIONS[:1], [["red", "dark blue", "green"]])[0]
    assert len(seen) == 1 and seen[0].dtype == torch.bfloat16 and all(s < 0 for s in scores)
    weight = model.llm.get_output_embeddings().weight  # (V, W) bf16
    logits = head(seen[0])
    assert logits.dtype == torch.float32
    torch.testing.assert_close(logits, seen[0].float() @ weight.float().T)
    assert (logits - (seen[0] @ weight.T).float()).abs().max() > 1e-2  # a bf16 head rounds them


def test_multiple_choice_answers_are_option_text(model):
    options = ["red", "blue", "green"]
    answer = model.answer(_frames(0), QUESTIONS[0], options=options)
    assert answer in options
    assert answer == options[model.choose([_frames(0)], [QUESTIONS[0]], [options])[0]]
    assert list(model.stream_answer(_frames(0), QUESTIONS[0], options=options)) == [answer]


def test_a_saved_model_dir_is_relocatable(model, tmp_path):
    """No path of the machine that saved it: the dir is its own encoder spec, the adapter names the
    LLM by the model's spec; a copy elsewhere loads, embeds and answers the same."""
    import shutil

    from encoder import load_encoder
    from eval.run import encoder_spec

    model.config.encoder = str(tmp_path / "runs" / "encoder")  # as when built from a pretrain run dir
    try:
        saved = model.save_pretrained(tmp_path / "made-here")
    finally:
        model.config.encoder = "random:test"
    config = json.loads((saved / "config.json").read_text())
    assert config["encoder"] == "."
    assert not [f.name for f in saved.rglob("*.json") if str(tmp_path) in f.read_text()]
    assert not (saved / "adapter" / "README.md").exists()  # peft's template card names the base by path
    assert str(tmp_path) not in (saved / "README.md").read_text()
    adapter = json.loads((saved / "adapter" / "adapter_config.json").read_text())
    assert adapter["base_model_name_or_path"] == config["llm"]
    moved = shutil.copytree(saved, tmp_path / "elsewhere" / "model")
    shutil.rmtree(saved)
    frames = _frames(3)
    encoder = load_encoder(str(moved))  # the model dir is an encoder spec (eval world-voe, probes)
    assert encoder_spec(str(moved)) == str(moved)
    prepared = encoder.prepare(frames)[None]  # (1, T, C, S, S)
    torch.testing.assert_close(encoder(prepared), model.encoder(prepared))
    loaded = VideoQAModel.from_pretrained(moved)
    assert loaded.answer(frames, QUESTIONS[0], max_new_tokens=6) == model.answer(
        frames, QUESTIONS[0], max_new_tokens=6
    )


def test_public_names_import_from_the_package_lazily():
    import subprocess
    import sys

    code = (
        "import sys, vlm; assert 'torch' not in sys.modules; "
        "from vlm import VideoQAModel, ProjectorConfig, load_llm; print(VideoQAModel.__module__)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip() == "vlm.model"
