"""`load_encoder` specs, the VideoEncoder contract, official V-JEPA 2 offline, surprise curves."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from encoder import load_encoder
from encoder.api import encoder_from_config
from encoder.config import ModelConfig
from encoder.objective import build_objective, save_objective
from encoder.surprise import surprise_curve
from jepa_vqa.config import load_config
from jepa_vqa.errors import UserError

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _frames(T=16, H=48, W=40, seed=0) -> torch.Tensor:
    return torch.randint(
        0, 256, (T, 3, H, W), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed)
    )


def test_import_is_light():
    code = "import sys, encoder; assert 'transformers' not in sys.modules and 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_random_spec_contract_and_determinism():
    state = torch.random.get_rng_state()
    enc = load_encoder("random:test")
    assert torch.equal(state, torch.random.get_rng_state())  # global RNG untouched
    assert (enc.embed_dim, enc.num_frames, enc.image_size, enc.spec) == (32, 16, 32, "random:test")
    assert len(enc.mean) == 3 and len(enc.std) == 3
    video = enc.prepare(_frames())
    assert video.shape == (16, 3, 32, 32) and video.dtype == torch.float32
    tokens = enc(video[None])
    assert tokens.shape == (1, 128, 32) and enc.grid(16, 32, 32) == (8, 4, 4)
    assert torch.equal(load_encoder("random:test")(video[None]), tokens)


def test_prepare_resizes_crops_and_normalises():
    enc = load_encoder("random:test")
    white = torch.full((2, 3, 20, 60), 255, dtype=torch.uint8)
    out = enc.prepare(white)
    assert out.shape == (2, 3, 32, 32)
    expected = (1 - torch.tensor(enc.mean)) / torch.tensor(enc.std)
    assert torch.allclose(out[0, :, 5, 5], expected, atol=1e-4)
    with pytest.raises(UserError, match="uint8"):
        enc.prepare(white.float())


def test_save_load_round_trips(tmp_path):
    enc = load_encoder("random:test")
    video = enc.prepare(_frames())[None]
    enc.save_pretrained(tmp_path / "exported")
    again = load_encoder(str(tmp_path / "exported"))
    assert torch.equal(again(video), enc(video)) and again.spec == str((tmp_path / "exported").resolve())
    # A pretrain run dir: the final EMA encoder lives in DIR/encoder/.
    enc.save_pretrained(tmp_path / "run" / "encoder")
    assert torch.equal(load_encoder(str(tmp_path / "run"))(video), enc(video))
    # Rebuild from config_dict + state_dict (what a VideoQA model stores).
    rebuilt = encoder_from_config(enc.config_dict())
    rebuilt.load_state_dict(enc.state_dict())
    assert torch.equal(rebuilt.eval()(video), enc(video))


def test_run_dir_with_only_the_objective(tmp_path):
    cfg = load_config(ModelConfig, None, ["vit.preset=test", "predictor.depth=1"])
    torch.manual_seed(0)
    obj = build_objective("jepa", cfg)
    save_objective(obj, cfg, "jepa", tmp_path / "objective")
    enc = load_encoder(str(tmp_path))
    video = enc.prepare(_frames())[None]
    assert torch.allclose(enc(video), obj.target_encoder(video))


def test_pixel_encoder_tokens_are_the_frames_patches(tmp_path):
    from encoder.vit import patchify
    from vlm.model import VideoQAModel
    from vlm.testing import make_tiny_llm

    enc = load_encoder("pixels:test")
    video = enc.prepare(_frames())[None]  # (1, T, C, S, S)
    tokens = enc(video)
    t, h, w = enc.grid(*video.shape[1:2], *video.shape[3:])
    assert (
        tokens.shape
        == (1, t * h * w, enc.embed_dim)
        == (1, t * h * w, 3 * enc.cfg.tubelet * enc.cfg.patch_size**2)
    )
    torch.testing.assert_close(tokens, patchify(video, enc.cfg.tubelet, enc.cfg.patch_size))
    rebuilt = encoder_from_config(enc.config_dict(), enc.spec)
    torch.testing.assert_close(rebuilt(video), tokens)
    model = VideoQAModel.build("pixels:test", str(make_tiny_llm(tmp_path / "llm")))  # a model dir round trip
    loaded = VideoQAModel.from_pretrained(model.save_pretrained(tmp_path / "model"))
    assert loaded.config.encoder == "pixels:test"
    torch.testing.assert_close(loaded.encode_tokens(video), tokens)


@pytest.mark.parametrize(
    "spec", ["random:huge", "pixels:huge", "/no/such/dir", "vjepa2:", "vjepa2:/no/such/dir"]
)
def test_bad_specs_raise_user_error(spec):
    with pytest.raises(UserError):
        load_encoder(spec)


def _tiny_vjepa2(tmp_path):
    from transformers import VJEPA2Config, VJEPA2Model

    torch.manual_seed(0)
    cfg = VJEPA2Config(
        crop_size=32,
        frames_per_clip=4,
        patch_size=8,
        tubelet_size=2,
        hidden_size=48,
        num_attention_heads=2,
        num_hidden_layers=2,
        mlp_ratio=2.0,
        pred_hidden_size=24,
        pred_num_attention_heads=2,
        pred_num_hidden_layers=1,
    )
    model = VJEPA2Model(cfg).eval()
    model.save_pretrained(tmp_path / "hf")
    return model


def test_vjepa2_offline_round_trip(tmp_path):
    model = _tiny_vjepa2(tmp_path)
    enc = load_encoder(f"vjepa2:{tmp_path / 'hf'}")
    assert (enc.embed_dim, enc.num_frames, enc.image_size) == (48, 4, 32)
    assert enc.spec == f"vjepa2:{tmp_path / 'hf'}"
    video = enc.prepare(_frames(T=4))[None]  # (1, 4, 3, 32, 32)
    tokens = enc(video)
    assert tokens.shape == (1, 2 * 4 * 4, 48) and enc.grid(4, 32, 32) == (2, 4, 4)
    with torch.no_grad():
        assert torch.allclose(tokens, model.get_vision_features(video), atol=1e-5)
    enc.save_pretrained(tmp_path / "saved")
    assert torch.allclose(load_encoder(str(tmp_path / "saved"))(video), tokens, atol=1e-5)
    rebuilt = encoder_from_config(enc.config_dict())
    rebuilt.load_state_dict(enc.state_dict())
    assert torch.allclose(rebuilt.eval()(video), tokens, atol=1e-5)


@pytest.mark.parametrize("name", ["jepa", "mae"])
def test_surprise_curve_from_a_run_dir(name, tmp_path):
    cfg = load_config(ModelConfig, None, ["vit.preset=test", "predictor.depth=1"])
    torch.manual_seed(0)
    save_objective(build_objective(name, cfg), cfg, name, tmp_path / "objective")
    frames = _frames()
    curve = surprise_curve(str(tmp_path), frames)
    assert curve.shape == (7,) and curve.dtype == torch.float32 and torch.isfinite(curve).all()
    assert torch.equal(surprise_curve(str(tmp_path), frames), curve)  # deterministic
    assert not torch.equal(surprise_curve(str(tmp_path), _frames(seed=1)), curve)


def test_surprise_curve_random_and_errors(tmp_path):
    curve = surprise_curve("random:test", _frames(T=12))
    assert curve.shape == (5,) and torch.isfinite(curve).all() and (curve > 0).all()
    with pytest.raises(UserError, match="at least"):
        surprise_curve("random:test", _frames(T=3))
    load_encoder("random:test").save_pretrained(tmp_path / "enc_only")
    with pytest.raises(UserError, match="objective"):
        surprise_curve(str(tmp_path / "enc_only"), _frames())
