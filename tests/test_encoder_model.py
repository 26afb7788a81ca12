"""The video ViT, its positions, the predictor and the multi-block masks (tiny `test` preset, CPU)."""

from __future__ import annotations

import pytest
import torch

from encoder.config import MaskConfig, ModelConfig, ViTConfig
from encoder.masks import MultiBlockMasker
from encoder.predictor import Predictor
from encoder.rope import Rope3D, apply_rope, apply_rope_real, token_coords
from encoder.vit import VisionTransformer, patchify
from jepa_vqa.config import load_config
from jepa_vqa.errors import ConfigError, UserError


def _vit(**overrides) -> VisionTransformer:
    torch.manual_seed(0)
    return VisionTransformer(ViTConfig.preset("test", **overrides)).eval()


def _video(B=2, T=16, H=32, W=32) -> torch.Tensor:
    return torch.randn(B, T, 3, H, W, generator=torch.Generator().manual_seed(1))


# ----------------------------------------------------------------------------- config


def test_presets_and_overrides():
    tiny = ViTConfig.preset("tiny")
    assert (tiny.embed_dim, tiny.depth, tiny.num_heads, tiny.img_size, tiny.patch_size) == (192, 12, 3, 64, 8)
    assert ViTConfig.preset("large").embed_dim == 1024
    assert ViTConfig.preset("test", depth=3).depth == 3
    cfg = load_config(ModelConfig, None, ["vit.preset=test", "vit.depth=3"])
    assert cfg.vit.depth == 3 and cfg.vit.embed_dim == 32
    assert cfg.predictor.embed_dim == 16 and cfg.predictor.num_heads == 2  # derived from the encoder
    assert cfg.vit.grid() == (8, 4, 4)


@pytest.mark.parametrize(
    "override",
    ["vit.preset=huge", "vit.depht=3", "vit.pos_embed=alibi", "vit.img_size=30", "jepa.deep_layers=[5]"],
)
def test_bad_config_is_a_config_error(override):
    with pytest.raises(ConfigError):
        load_config(ModelConfig, None, ["vit.preset=test", override])


# ----------------------------------------------------------------------------- positions


def test_token_coords_follow_time_height_width_order():
    coords = token_coords(torch.tensor([[0, 1, 4, 16, 16 + 4 * 2 + 3]]), (8, 4, 4))
    assert coords[0].tolist() == [[0, 0, 0], [0, 0, 1], [0, 1, 0], [1, 0, 0], [1, 2, 3]]


def test_rope_pairs_share_frequencies_and_scores_are_relative():
    rope = Rope3D(head_dim=16)
    assert rope.axis_dim == 4  # 2 * ((16 // 3) // 2): equal even share per axis, 4 dims unrotated
    coords = torch.tensor([[[1.0, 2.0, 3.0]]])
    angles = rope.angles(coords)  # (1, 1, 16)
    assert torch.equal(angles[..., 0::2], angles[..., 1::2])  # repeat_interleave pairing, not repeat
    assert angles[0, 0, :12].unique().numel() == 6 and torch.equal(angles[..., 12:], torch.zeros(1, 1, 4))
    x = torch.randn(2, 1, 16)
    assert torch.allclose(apply_rope(x, rope(coords)[:, 0]), apply_rope_real(x, angles), atol=1e-6)
    q, k = torch.randn(2, 16, dtype=torch.float64).unbind(0)

    def score(pq, pk):
        rq = apply_rope(q, rope(torch.tensor([[pq]], dtype=torch.float64)).cdouble())
        rk = apply_rope(k, rope(torch.tensor([[pk]], dtype=torch.float64)).cdouble())
        return (rq * rk).sum()

    shift = [2.0, 1.0, 3.0]
    a, b = [1.0, 0.0, 2.0], [3.0, 2.0, 0.0]
    moved = lambda p: [x + s for x, s in zip(p, shift)]  # noqa: E731
    assert torch.allclose(score(a, b), score(moved(a), moved(b)))
    assert not torch.allclose(score(a, b), score(a, moved(b)))


# ----------------------------------------------------------------------------- ViT


def test_vit_shapes_and_layers():
    vit = _vit()
    x = _video()
    out = vit(x)
    assert out.shape == (2, 8 * 4 * 4, 32)
    layers = vit(x, return_layers=[0, -1])
    assert len(layers) == 2 and all(y.shape == out.shape for y in layers)
    assert torch.allclose(layers[1], out, atol=1e-6)  # last layer, normed == the output
    assert torch.allclose(layers[0].mean(-1), torch.zeros(2, 128), atol=1e-5)  # normed (unit LN init)


def test_patch_embed_matches_conv3d():
    vit = _vit()
    x = _video()
    conv = vit.patch_embed.proj(x.permute(0, 2, 1, 3, 4)).flatten(2).transpose(1, 2)  # (B, N, D)
    assert torch.allclose(vit.patch_embed(x), conv, atol=1e-5)
    assert patchify(x, 2, 8).shape == (2, 128, 3 * 2 * 8 * 8)


@pytest.mark.parametrize("pos", ["rope", "sincos"])
def test_keep_all_equals_full_and_positions_follow_indices(pos):
    vit = _vit(pos_embed=pos)
    x = _video()
    full = vit(x)
    everything = torch.arange(128).expand(2, -1)
    assert torch.allclose(vit(x, keep=everything), full, atol=1e-5)
    # A permutation of all tokens: attention is permutation-equivariant only if every token keeps
    # its own position, so the output must be the full output permuted.
    perm = torch.stack([torch.randperm(128, generator=torch.Generator().manual_seed(s)) for s in range(2)])
    permuted = vit(x, keep=perm)
    assert torch.allclose(permuted, torch.gather(full, 1, perm[..., None].expand(-1, -1, 32)), atol=1e-5)
    if pos == "sincos":  # absolute positions are added before the gather; nothing more to check
        return
    # RoPE: a subset differs from the same tokens rotated as if at other positions.
    keep = torch.tensor([[3, 20, 40, 77]] * 2)
    sub = vit(x, keep=keep)
    tokens, grid = vit.embed(x)
    tokens = torch.gather(tokens, 1, keep[..., None].expand(-1, -1, 32))
    wrong = vit.forward_tokens(tokens, torch.tensor([[0, 1, 2, 3]] * 2), grid)
    assert sub.shape == (2, 4, 32) and not torch.allclose(sub, wrong, atol=1e-4)


def test_rope_and_sincos_differ():
    x = _video()
    assert _vit(pos_embed="rope").rope is not None and _vit(pos_embed="sincos").rope is None
    assert not torch.allclose(_vit(pos_embed="rope")(x), _vit(pos_embed="sincos")(x))


def test_variable_frames_and_resolution():
    vit = _vit()
    assert vit(_video(B=1, T=8, H=48, W=40)).shape == (1, 4 * 6 * 5, 32)
    assert vit.grid(32, 64, 64) == (16, 8, 8)
    with pytest.raises(UserError, match="tubelet"):
        vit(_video(B=1, T=15))
    with pytest.raises(UserError, match="patch"):
        vit(_video(B=1, H=30))


def test_save_load_identity(tmp_path):
    vit = _vit(pos_embed="sincos", depth=3)
    vit.save_pretrained(tmp_path)
    assert {p.name for p in tmp_path.iterdir()} == {"config.json", "model.safetensors"}
    loaded = VisionTransformer.from_pretrained(tmp_path).eval()
    assert loaded.cfg == vit.cfg
    x = _video()
    assert torch.equal(loaded(x), vit(x))


# ----------------------------------------------------------------------------- predictor


def test_predictor_predicts_only_targets_at_their_positions():
    torch.manual_seed(0)
    pred = Predictor(in_dim=32, width=16, depth=2, num_heads=2, out_dim=32).eval()
    ctx = torch.randn(2, 10, 32)
    ctx_idx = torch.arange(10).expand(2, -1)
    tgt_idx = torch.tensor([[50, 60, 70]] * 2)
    out = pred(ctx, ctx_idx, tgt_idx, (8, 4, 4))
    assert out.shape == (2, 3, 32)
    out2, ctx_out = pred(ctx, ctx_idx, tgt_idx, (8, 4, 4), return_context=True)
    assert torch.allclose(out, out2) and ctx_out.shape == (2, 10, 32)
    # Mask tokens are identical; only their positions tell targets apart.
    assert not torch.allclose(out[:, 0], out[:, 1])
    moved = pred(ctx, ctx_idx, torch.tensor([[51, 60, 70]] * 2), (8, 4, 4))
    assert not torch.allclose(moved[:, 0], out[:, 0]) and torch.allclose(moved[:, 1:], out[:, 1:], atol=1e-5)


# ----------------------------------------------------------------------------- masks


def test_masks_disjoint_equal_counts_and_deterministic():
    masker = MultiBlockMasker(MaskConfig(), grid=(8, 8, 8))
    pairs = masker(16, torch.Generator().manual_seed(0))
    assert len(pairs) == 2
    for pair in pairs:
        assert pair.context.dtype == torch.long and pair.context.shape[0] == 16  # rectangular
        for ctx, tgt in zip(pair.context, pair.target):
            assert len(set(ctx.tolist()) & set(tgt.tolist())) == 0
            assert len(ctx) + len(tgt) <= 512 and ctx.max() < 512 and tgt.max() < 512
            assert torch.equal(ctx, ctx.sort().values)
    short, long = pairs
    assert long.context.shape[1] < short.context.shape[1]  # 2 big blocks hide more than 8 small ones
    again = masker(16, torch.Generator().manual_seed(0))
    other = masker(16, torch.Generator().manual_seed(1))
    assert all(
        torch.equal(a.context, b.context) and torch.equal(a.target, b.target) for a, b in zip(pairs, again)
    )
    assert not all(torch.equal(a.target, b.target) for a, b in zip(pairs, other))


def test_mask_blocks_are_tubes_through_time():
    masker = MultiBlockMasker(MaskConfig(), grid=(8, 6, 6))
    for seed in range(5):
        for pair in masker(1, torch.Generator().manual_seed(seed)):  # batch 1: nothing truncated
            target = torch.zeros(8 * 6 * 6, dtype=torch.bool)
            target[pair.target[0]] = True
            target = target.view(8, 6, 6)
            assert torch.equal(target, target[:1].expand(8, -1, -1))
            assert pair.context.shape[1] + pair.target.shape[1] == 8 * 6 * 6


def test_masks_positions_vary_per_sample():
    pairs = MultiBlockMasker(MaskConfig(), grid=(8, 8, 8))(8, torch.Generator().manual_seed(0))
    assert len({tuple(row.tolist()) for row in pairs[0].target}) > 1


@pytest.mark.slow
def test_compiled_blocks_match_eager():
    x = _video(B=1)
    with torch.no_grad():
        assert torch.allclose(_vit(compile=True)(x), _vit()(x), atol=1e-4)
