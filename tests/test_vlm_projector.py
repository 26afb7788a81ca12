"""Projector: token budgets, shapes, time order, both kinds."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from conftest import direction_projector_config

from jepa_vqa.config import from_dict
from jepa_vqa.errors import ConfigError
from vlm.projector import ProjectorConfig, build_projector, component_labels, pooled_grid


@pytest.mark.parametrize(
    "grid, budget, expected",
    [
        ((8, 4, 4), 32, (8, 2, 2)),
        ((8, 8, 8), 64, (8, 2, 4)),
        ((8, 4, 4), 4, (4, 1, 1)),
        ((2, 2, 2), 100, (2, 2, 2)),
        ((8, 4, 4), 8, (8, 1, 1)),
    ],
)
def test_pooled_grid_fits_budget(grid, budget, expected):
    got = pooled_grid(grid, budget)
    assert got == expected
    assert got[0] * got[1] * got[2] <= budget


@pytest.mark.parametrize("kind", ["pool-mlp", "mlp-pool", "attentive"])
def test_shapes_and_token_count(kind):
    proj = build_projector(ProjectorConfig(kind=kind, tokens=32), encoder_dim=24, llm_dim=40)
    tokens = torch.randn(3, 8 * 4 * 4, 24)  # (B, t*h*w, D)
    out = proj(tokens, (8, 4, 4))
    assert out.shape == (3, proj.num_tokens((8, 4, 4)), 40) == (3, 32, 40)
    out.sum().backward()
    assert all(p.grad is not None for p in proj.parameters() if p.requires_grad and p is not proj.time_embed)


def test_pool_mlp_keeps_time_order():
    """Each output token comes only from its own time step: changing step 5 changes outputs 5*4..5*4+3."""
    proj = build_projector(ProjectorConfig(tokens=32, time_embedding=False), encoder_dim=8, llm_dim=8)
    grid = (8, 4, 4)
    tokens = torch.randn(1, 128, 8)
    changed = tokens.clone().view(1, 8, 16, 8)
    changed[:, 5] += torch.randn(16, 8)  # not a constant shift, which the MLP's LayerNorm would remove
    diff = (proj(changed.view(1, 128, 8), grid) - proj(tokens, grid)).abs().sum(-1)[0]  # (32,)
    assert (diff[20:24] > 0).all() and diff[:20].eq(0).all() and diff[24:].eq(0).all()


def test_mlp_pool_sees_inside_a_cell_that_pool_mlp_averages_away():
    """Two inputs with the same 2 x 2 cell means: pool-mlp cannot tell them apart, mlp-pool can
    (an object in one token of a cell vs spread over the cell)."""
    torch.manual_seed(0)
    grid = (1, 2, 2)
    v = torch.randn(8)
    spread = v.expand(1, 4, 8)  # (B, N, D): the same vector in all four tokens of the one cell
    peaked = torch.zeros(1, 4, 8)
    peaked[:, 0] = 4 * v  # all of it in one token: the same mean
    for kind, differs in (("pool-mlp", False), ("mlp-pool", True)):
        proj = build_projector(ProjectorConfig(kind=kind, tokens=1), encoder_dim=8, llm_dim=6).eval()
        assert proj.num_tokens(grid) == 1
        gap = (proj(spread, grid) - proj(peaked, grid)).abs().max()
        assert (gap > 1e-3) == differs, kind


@pytest.mark.parametrize("kind", ["pool-mlp", "mlp-pool"])
def test_max_pool_keeps_one_token_of_a_cell_at_full_strength(kind):
    """A cell's one bright token: the max passes it on unchanged in size, the mean dilutes it 4-fold."""
    grid = (1, 2, 2)
    proj = build_projector(ProjectorConfig(kind=kind, tokens=1, pool="max"), encoder_dim=8, llm_dim=6)
    x = torch.zeros(1, 4, 8)
    x[:, 2] = torch.arange(1.0, 9.0)
    pooled = proj.pool(x, grid)  # (1, 1, 1, 8)
    assert torch.equal(pooled[0, 0, 0], x[0, 2])
    proj.cfg.pool = "mean"
    assert torch.allclose(proj.pool(x, grid)[0, 0, 0], x[0, 2] / 4)
    with pytest.raises(ConfigError, match="pool"):
        from_dict(ProjectorConfig, {"pool": "median"})


def test_time_embedding_distinguishes_steps():
    proj = build_projector(ProjectorConfig(tokens=8), encoder_dim=8, llm_dim=8)
    with torch.no_grad():
        proj.time_embed.normal_()
    same = torch.ones(1, 8 * 2 * 2, 8)  # identical tokens at every time step
    out = proj(same, (8, 2, 2))[0]  # (8, W)
    assert not torch.allclose(out[0], out[1])


def test_grid_mismatch_and_config_errors():
    proj = build_projector(ProjectorConfig(), encoder_dim=8, llm_dim=8)
    with pytest.raises(ValueError, match="do not match the grid"):
        proj(torch.randn(1, 10, 8), (8, 2, 2))
    with pytest.raises(ConfigError, match="kind"):
        from_dict(ProjectorConfig, {"kind": "linear"})
    with pytest.raises(ConfigError, match="tokens must be >= 1"):
        from_dict(ProjectorConfig, {"tokens": 0})


def test_time_steps_pool_time_to_give_space_more_tokens():
    assert pooled_grid((8, 8, 8), 64, time_steps=4) == (4, 4, 4)
    proj = build_projector(ProjectorConfig(tokens=64, time_steps=4), encoder_dim=8, llm_dim=8)
    assert proj(torch.randn(2, 512, 8), grid=(8, 8, 8)).shape == (2, 64, 8)
    with pytest.raises(ConfigError, match="time_steps"):
        from_dict(ProjectorConfig, {"time_steps": 0})


@pytest.mark.parametrize("kind", ["pool-mlp", "mlp-pool", "attentive"])
def test_input_standardisation_removes_per_channel_offset_and_scale(kind):
    torch.manual_seed(0)
    proj = build_projector(ProjectorConfig(kind=kind, tokens=8), encoder_dim=6, llm_dim=10).eval()
    tokens = torch.randn(3, 2 * 4 * 4, 6)  # (B, N, D)
    offset, scale = torch.randn(6) * 50, torch.rand(6) * 20 + 1  # a big shared component per channel
    raw = tokens * scale + offset
    flat = raw.reshape(-1, 6)
    proj.set_input_statistics(flat.mean(0), flat.std(0))
    reference = build_projector(ProjectorConfig(kind=kind, tokens=8), encoder_dim=6, llm_dim=10).eval()
    reference.load_state_dict(proj.state_dict())
    ref_flat = tokens.reshape(-1, 6)
    reference.set_input_statistics(ref_flat.mean(0), ref_flat.std(0))
    torch.testing.assert_close(proj(raw, (2, 4, 4)), reference(tokens, (2, 4, 4)), rtol=1e-4, atol=1e-4)
    assert {"input_mean", "input_std"} <= set(proj.state_dict())  # saved with the weights
    plain = build_projector(ProjectorConfig(normalize_input=False), encoder_dim=6, llm_dim=10)
    assert "input_mean" not in plain.state_dict()


def test_per_position_statistics_remove_what_every_clip_shares_at_a_position():
    torch.manual_seed(0)
    cfg = ProjectorConfig(tokens=8, input_positions=32)
    proj = build_projector(cfg, encoder_dim=6, llm_dim=10).eval()
    assert proj.input_mean.shape == proj.input_std.shape == (32, 6)  # (N, D)
    scene = torch.randn(32, 6) * 50  # (N, D): the background every clip shares
    clips = torch.randn(4, 32, 6)  # (B, N, D): what differs between clips
    proj.set_input_statistics(scene, torch.ones(32, 6))
    torch.testing.assert_close(proj.standardise(clips + scene), clips)  # only the differences remain
    with pytest.raises(ValueError, match="16 encoder tokens.*32 positions"):
        proj.standardise(torch.randn(1, 16, 6))
    with pytest.raises(ConfigError, match="input_positions"):
        from_dict(ProjectorConfig, {"input_positions": -1})


def test_output_starts_at_word_embedding_scale():
    torch.manual_seed(0)
    embeddings = torch.randn(100, 12) * torch.linspace(0.01, 0.2, 12)  # (V, W): per-channel scales
    proj = build_projector(ProjectorConfig(tokens=4), encoder_dim=8, llm_dim=12).eval()
    proj.match_embedding_scale(embeddings)
    out = proj(torch.randn(4, 2 * 2 * 2, 8) * 30, grid=(2, 2, 2))  # (B, K, W)
    word_rms = embeddings.pow(2).mean(1).sqrt().mean()
    token_rms = out.pow(2).mean(-1).sqrt()  # (B, K)
    assert torch.allclose(token_rms.mean(), word_rms, rtol=0.5)
    torch.testing.assert_close(proj.out_norm.weight, embeddings.pow(2).mean(0).sqrt())  # per channel


def test_slot_projector_gives_each_slot_its_tokens_and_knows_where_things_are():
    cfg = ProjectorConfig(kind="slots", tokens=30, tokens_per_slot=5, cells=16, time_steps=4)
    proj = build_projector(cfg, encoder_dim=24, llm_dim=40)
    grid = (8, 4, 4)
    tokens = torch.randn(2, 128, 24)  # (B, t*h*w, D)
    out, cells, share = proj(tokens, grid, with_cells=True)
    assert out.shape == (2, proj.num_tokens(grid), 40) == (2, 30, 40)  # 6 slots x 5 tokens
    assert cells.shape == (2, 16, 40) and proj.cells(grid) == (4, 2, 2)
    assert share.shape == (2, 16, 7)  # every cell shared out between the 6 slots and the background
    assert torch.allclose(share.sum(-1), torch.ones(2, 16))
    (out.sum() + cells.sum()).backward()
    assert all(p.grad is not None for p in proj.parameters())
    moved = tokens.roll(16, dims=1)  # the same features, one time step later
    assert not torch.allclose(proj(moved, grid), proj(tokens, grid), atol=1e-4)
    with pytest.raises(ValueError, match="whole number of slots"):
        ProjectorConfig(kind="slots", tokens=32, tokens_per_slot=5)


def test_count_token_follows_the_cells_and_only_mlp_pool_has_it():
    cfg = ProjectorConfig(kind="mlp-pool", tokens=16, time_steps=4, count_token=True)
    proj = build_projector(cfg, encoder_dim=24, llm_dim=40)
    grid = (8, 4, 4)
    tokens = torch.randn(2, 128, 24)  # (B, t*h*w, D)
    out = proj(tokens, grid)
    assert out.shape == (2, proj.num_tokens(grid), 40) == (2, 17, 40)  # 16 cells, then the count
    assert torch.allclose(out[:, :16], proj.cell_tokens(tokens, grid))
    changed = tokens.clone()
    changed[:, 100] += torch.randn(24)  # one token of one cell: that cell and the count change
    diff = (proj(changed, grid) - out).abs().sum(-1)  # (B, 17)
    assert (diff[:, 16] > 0).all() and (diff[:, :16] > 0).sum() == 2
    with pytest.raises(ValueError, match="count_token needs kind mlp-pool"):
        ProjectorConfig(kind="pool-mlp", count_token=True)


def test_word_counts_follow_the_count_token_one_per_word():
    cfg = ProjectorConfig(kind="mlp-pool", tokens=16, time_steps=4, count_token=True, count_words=3)
    proj = build_projector(cfg, encoder_dim=24, llm_dim=40)
    grid = (8, 4, 4)
    tokens = torch.randn(2, 128, 24)  # (B, t*h*w, D)
    out = proj(tokens, grid)
    assert out.shape == (2, proj.num_tokens(grid), 40) == (2, 20, 40)  # 16 cells, the count, 3 words
    assert torch.allclose(out[:, :16], proj.cell_tokens(tokens, grid))
    assert not torch.allclose(out[:, 17], out[:, 18])  # each word's count token is its own
    changed = tokens.clone()
    changed[:, 100] += torch.randn(24)  # one cell changes: so do all the counts
    diff = (proj(changed, grid) - out).abs().sum(-1)  # (B, 20)
    assert (diff[:, 16:] > 0).all()
    with pytest.raises(ValueError, match="needs count_token"):
        ProjectorConfig(kind="mlp-pool", count_words=3)


def test_local_mix_starts_as_identity_and_lets_a_cell_see_its_neighbours():
    grid = (2, 4, 4)  # cells of 2 x 2 tokens: (2, 2, 2)
    plain = build_projector(ProjectorConfig(kind="mlp-pool", tokens=8, pool="max"), 24, 40)
    mixed = build_projector(ProjectorConfig(kind="mlp-pool", tokens=8, pool="max", local_mix=3), 24, 40)
    mixed.load_state_dict(plain.state_dict(), strict=False)  # all but the convolution
    tokens = torch.randn(2, 32, 24)  # (B, t*h*w, D)
    assert torch.allclose(mixed(tokens, grid), plain(tokens, grid))  # the residual starts at zero
    torch.nn.init.normal_(mixed.local.weight, std=0.1)
    changed = tokens.clone()
    changed[:, 1 * 4 + 1] += 3 * torch.randn(24)  # time step 0, row 1, column 1: in cell (0, 0)
    for proj, cells_changed in ((plain, 1), (mixed, 4)):  # mixed: its neighbours reach all 4 cells
        diff = (proj(changed, grid) - proj(tokens, grid)).abs().sum(-1)  # (B, 8)
        assert ((diff > 1e-5).sum(1) == cells_changed).all()
        assert (diff[:, 4:] < 1e-5).all()  # the other time step is untouched
    with pytest.raises(ValueError, match="odd kernel size"):
        ProjectorConfig(kind="mlp-pool", local_mix=2)
    with pytest.raises(ValueError, match="local_mix needs kind"):
        ProjectorConfig(kind="pool-mlp", local_mix=3)


def test_detached_count_tokens_send_no_gradient_to_the_cells():
    grid, tokens = (8, 4, 4), torch.randn(2, 128, 24)
    for detach in (False, True):
        cfg = ProjectorConfig(kind="mlp-pool", tokens=16, time_steps=4, count_token=True, count_detach=detach)
        proj = build_projector(cfg, encoder_dim=24, llm_dim=40)
        proj(tokens, grid)[:, 16:].sum().backward()  # the count token's loss alone
        assert (proj.mlp[1].weight.grad.abs().sum() == 0) == detach  # the cells' MLP
        assert proj.count_out[1].weight.grad is not None


def test_word_identity_lets_each_word_count_token_name_its_word():
    cfg = ProjectorConfig(kind="mlp-pool", tokens=16, time_steps=4, count_token=True, count_words=3)
    grid, tokens = (8, 4, 4), torch.randn(4, 128, 24) * 10  # large sums over the cells
    plain = build_projector(cfg, encoder_dim=24, llm_dim=40)
    named = build_projector(dataclasses.replace(cfg, count_word_identity=True), 24, 40)
    named.load_state_dict(plain.state_dict(), strict=False)  # all but the identity
    assert torch.allclose(named(tokens, grid), plain(tokens, grid))  # the identity starts at zero
    words = torch.nn.functional.normalize(torch.randn(3, 40), dim=-1)  # (3, W): the 3 words
    opt = torch.optim.Adam([named.word_identity], lr=0.1)  # only the identity learns
    for _ in range(30):
        logits = 10 * torch.nn.functional.normalize(named(tokens, grid)[:, 17:], dim=-1) @ words.T
        loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), torch.arange(3).repeat(4))
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert (logits.argmax(-1) == torch.arange(3)).all()  # every clip's tokens name their word
    with pytest.raises(ValueError, match="count_word_identity and count_word_gate need count_words"):
        ProjectorConfig(kind="mlp-pool", count_token=True, count_word_identity=True)


def test_word_gate_starts_as_the_plain_readout_and_lets_each_word_read_its_own_channels():
    cfg = ProjectorConfig(kind="mlp-pool", tokens=16, time_steps=4, count_token=True, count_words=2)
    grid, tokens = (8, 4, 4), torch.randn(3, 128, 24)
    plain = build_projector(cfg, encoder_dim=24, llm_dim=40)
    gated = build_projector(dataclasses.replace(cfg, count_word_gate=True), 24, 40)
    gated.load_state_dict(plain.state_dict(), strict=False)  # all but the gate
    assert torch.allclose(gated(tokens, grid), plain(tokens, grid))  # the gate starts at one
    with torch.no_grad():
        gated.word_gate[0] = -1  # word 0 reads nothing of the sum
    changed = tokens.clone()
    changed[:, 100] += torch.randn(24)  # one cell changes
    diff = (gated(changed, grid) - gated(tokens, grid)).abs().sum(-1)  # (B, 19)
    assert (diff[:, 17] < 1e-5).all() and (diff[:, 18] > 0).all()  # word 0 is blind to it, word 1 not


WORDS = {"size": ["small", "large"], "colour": ["red", "blue"], "shape": ["circle", "square", "nothing"]}


def _word_projector(object_words: int = 2, **kwargs):
    cfg = ProjectorConfig(
        kind="mlp-pool", tokens=8, time_steps=2, object_words=object_words, words=WORDS, **kwargs
    )
    proj = build_projector(cfg, encoder_dim=24, llm_dim=40)
    rows = len(proj.table_words())  # the 7 words, then the step words
    table = torch.linalg.qr(torch.randn(40, rows))[0].T * 3  # (rows, W): orthogonal word embeddings
    proj.set_word_table(table)
    return proj, table


def test_object_words_read_the_occupied_cells_out_as_their_words_in_order():
    proj, table = _word_projector()
    grid = (4, 4, 4)  # pooled to (2, 2, 2): 2 time steps of 4 cells
    index = {w: i for i, w in enumerate(w for group in WORDS.values() for w in group)}
    scenes = [  # per time step: cell -> (size, colour, shape); the other cells are empty
        [{1: ("small", "red", "circle"), 3: ("large", "blue", "square")}, {0: ("large", "red", "square")}],
    ]
    cells = table[index["nothing"]].repeat(1, 8, 1)  # (1, C, W): every cell empty at first
    for step, objects in enumerate(scenes[0]):
        for cell, words in objects.items():
            cells[0, step * 4 + cell] = sum(table[index[w]] for w in words)
    out = proj.read_words(cells, grid)  # (1, t*M*G, W) = (1, 2*2*3, W)
    assert out.shape == (1, 12, 40)
    expected = " ".join(  # reading order within each step; the second step's spare pick is empty
        ["small red circle", "large blue square", "large red square", "nothing nothing nothing"]
    ).split()
    unit = torch.nn.functional.normalize
    nearest = (unit(out[0], dim=-1) @ unit(table, dim=-1).T).argmax(-1)  # (12,)
    assert [list(index)[i] for i in nearest] == expected
    assert torch.allclose(out[0, :6], table[[index[w] for w in expected[:6]]], atol=0.2)  # the words


def test_cell_counts_name_each_colour_and_shape_with_its_number_of_objects():
    proj, table = _word_projector(step_words=["first", "last"], cell_counts=True)
    grid = (4, 4, 4)  # pooled to (2, 2, 2): 2 time steps of 4 cells
    words = proj.table_words()
    assert words[-10:] == [str(n) for n in range(10)] and proj.counted_words() == [
        "red",
        "blue",
        "circle",
        "square",
    ]
    index = {w: i for i, w in enumerate(words)}
    cells = table[index["nothing"]].repeat(1, 8, 1)  # (1, C, W): every cell empty at first
    # two red squares and a blue circle, seen in both time steps; step 2 also shows a red circle
    for step, objects in enumerate([[("red", "square"), ("red", "square"), ("blue", "circle")]] * 2):
        for cell, object_words in enumerate(objects):
            cells[0, step * 4 + cell] = sum(table[index[w]] for w in ("small", *object_words))
    cells[0, 7] = sum(table[index[w]] for w in ("small", "red", "circle"))
    out = proj.read_counts(proj.word_weights(cells), grid)  # (1, 2K, W)
    unit = torch.nn.functional.normalize
    nearest = [words[i] for i in (unit(out[0], dim=-1) @ unit(table, dim=-1).T).argmax(-1)]
    # the lower median of the time steps: the red circle of one time step only is not counted
    assert nearest == ["red", "2", "blue", "1", "circle", "1", "square", "2"]
    full = proj(torch.randn(2, 64, 24), grid)
    assert full.shape == (2, proj.num_tokens(grid), 40) == (2, 2 * (1 + 2 * 3) + 8, 40)
    with pytest.raises(ValueError, match="cell_counts needs object_words"):
        ProjectorConfig(kind="mlp-pool", cell_counts=True)


def test_asked_counts_point_at_each_counted_words_number_among_the_video_tokens():
    proj, table = _word_projector(step_words=["first", "last"], cell_counts=True, asked_count=True)
    grid = (4, 4, 4)
    positions = proj.asked_counts(grid)
    assert list(positions) == proj.counted_words() and len(set(positions.values())) == 4
    tokens = torch.randn(2, 64, 24)
    video, weights = proj(tokens, grid), proj.read_weights(proj.cell_tokens(tokens, grid), grid)  # (2, K, W)
    numbers = proj.counts_from_cells(weights, grid)  # (2, K)
    first_number = len(proj.table_words()) - 10
    for k, index in enumerate(positions.values()):  # the number token of the k-th counted word
        assert torch.equal(video[:, index], table[first_number + numbers[:, k]])
    with pytest.raises(ValueError, match="asked_count needs cell_counts"):
        ProjectorConfig(kind="mlp-pool", object_words=2, asked_count=True)


def test_component_labels_join_cells_through_shared_sides_with_equal_keys():
    on = torch.tensor(
        [
            [1, 1, 0, 1],
            [0, 1, 0, 1],
            [1, 1, 0, 1],
            [1, 0, 1, 1],
        ],
        dtype=torch.bool,
    )[None]  # (1, 4, 4)
    key = torch.zeros(1, 4, 4, dtype=torch.long)
    key[0, 3, 3] = 1  # the right column's last cell has another key
    label = component_labels(on, key)[0]
    expected = torch.tensor(
        [
            [0, 0, 2, 3],  # a snake from cell 0 down to cell 12: its smallest index spreads along it
            [4, 0, 6, 3],  # off cells keep their own index
            [0, 0, 10, 3],
            [0, 13, 14, 15],  # 14 touches 15 (another key) and 10 (off): a component of its own
        ]
    )
    assert torch.equal(label, expected)
    diagonal = torch.tensor([[1, 0], [0, 1]], dtype=torch.bool)[None]  # corners do not join
    assert component_labels(diagonal, torch.zeros(1, 2, 2, dtype=torch.long)).flatten().tolist() == [
        0,
        1,
        2,
        3,
    ]


def test_merged_cells_read_an_object_across_a_cell_border_once():
    proj, table = _word_projector(object_words=3, cell_counts=True, merge_cells=True)
    grid = (4, 4, 4)  # pooled to (2, 2, 2): 2 time steps of 2 x 2 cells
    words = proj.table_words()
    index = {w: i for i, w in enumerate(words)}
    cells = table[index["nothing"]].repeat(1, 8, 1)  # (1, C, W): every cell empty at first
    scenes = [  # per time step: cell -> (colour, shape); cells 0 and 1 share a side, as do 0 and 2
        {0: ("red", "square"), 1: ("red", "square"), 3: ("blue", "circle")},  # one square on a border
        {0: ("red", "square"), 2: ("blue", "circle"), 3: ("red", "circle")},  # 3 only touches 0's corner
    ]
    for step, objects in enumerate(scenes):
        for cell, object_words in objects.items():
            cells[0, step * 4 + cell] = sum(table[index[w]] for w in ("small", *object_words))
    out = proj.read_words(cells, grid)  # (1, t*M*G, W) = (1, 2*3*3, W)
    unit = torch.nn.functional.normalize
    nearest = [words[i] for i in (unit(out[0], dim=-1) @ unit(table, dim=-1).T).argmax(-1)]
    assert " ".join(nearest) == " ".join(
        ["small red square", "nothing nothing nothing", "small blue circle"]  # the border's 2nd cell: empty
        + ["small red square", "small blue circle", "small red circle"]
    )
    counts = proj.read_counts(proj.read_weights(cells, grid), grid)  # (1, 2K, W)
    nearest = [words[i] for i in (unit(counts[0], dim=-1) @ unit(table, dim=-1).T).argmax(-1)]
    assert nearest == ["red", "2", "blue", "1", "circle", "2", "square", "1"]  # the most in a time step
    proj.cfg = dataclasses.replace(proj.cfg, merge_cells=False)
    out = proj.read_words(cells, grid)
    nearest = [words[i] for i in (unit(out[0], dim=-1) @ unit(table, dim=-1).T).argmax(-1)]
    assert " ".join(nearest[:9]) == "small red square small red square small blue circle"  # read twice
    with pytest.raises(ValueError, match="merge_cells needs object_words"):
        ProjectorConfig(kind="mlp-pool", merge_cells=True)


def test_merged_counts_count_each_object_as_its_likeliest_shape():
    proj, _ = _word_projector(cell_counts=True, merge_cells=True)
    grid = (4, 4, 4)  # pooled to (2, 2, 2): 2 time steps of 2 x 2 cells
    shape = torch.tensor([0.3, 0.6, 0.1])  # circle, square, nothing: an object, likeliest a square
    empty = torch.tensor([0.0, 0.0, 1.0])
    shapes = torch.stack([shape, shape, shape, empty] * 2)[None]  # (1, C, 3)
    colours = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 0.0]] * 2)[None]  # red, blue, red
    sizes = torch.tensor([[1.0, 0.0]]).expand(1, 8, 2)
    weights = ([sizes, colours, shapes], 1 - shapes[..., -1:])
    merged = proj.merged_weights(weights, grid)  # cells 0 and 2 share a side and red: one object
    assert proj.step_counts(*merged, grid)[0, 0, -1] == pytest.approx(1.2)  # the soft sum: 1.2 squares
    assert proj.counts_from_cells(merged, grid)[0].tolist() == [1, 1, 0, 2]  # red, blue, circle, square
    hard, on = proj.hard_weights(merged)
    assert on[0, :, 0].tolist() == [1, 1, 0, 0] * 2 and hard[2][0, 0].tolist() == [0, 1, 0]


def test_object_words_replace_the_cells_and_keep_the_count_tokens():
    proj, _ = _word_projector(count_token=True, count_words=2)
    grid, tokens = (4, 4, 4), torch.randn(3, 64, 24)
    out = proj(tokens, grid)
    assert out.shape == (3, proj.num_tokens(grid), 40) == (3, 2 * 2 * 3 + 3, 40)
    out.sum().backward()
    assert proj.mlp[1].weight.grad.abs().sum() > 0  # the words pass the gradient back to the cells
    parts = proj(tokens, grid, parts=True)  # what grounding trains: the cells themselves
    assert parts["cells"].shape == (3, 8, 40) and parts["word counts"].shape == (3, 2, 40)


def test_object_words_need_the_word_groups_and_a_cell_projector():
    with pytest.raises(ValueError, match="object_words=2 needs kind mlp-pool"):
        ProjectorConfig(kind="pool-mlp", object_words=2, words=WORDS)
    with pytest.raises(ValueError, match="needs a 'shape' group"):
        ProjectorConfig(kind="mlp-pool", object_words=2, words={"colour": ["red"]})
    with pytest.raises(ValueError, match="object_words needs the word groups"):
        build_projector(ProjectorConfig(kind="mlp-pool", object_words=2), encoder_dim=24, llm_dim=40)


def test_step_words_open_each_time_step():
    proj, table = _word_projector(step_words=["first", "last"])
    grid, tokens = (4, 4, 4), torch.randn(2, 64, 24)
    out = proj(tokens, grid)  # (B, t*(1+M*G), W) = (2, 2*(1+2*3), W)
    assert out.shape == (2, proj.num_tokens(grid), 40) == (2, 14, 40)
    assert torch.equal(out[:, 0], proj.word_table[7].expand(2, -1))  # "first" opens step 1
    assert torch.equal(out[:, 7], proj.word_table[8].expand(2, -1))  # "last" opens step 2
    with pytest.raises(ValueError, match="step_words has 3 words for 2 time steps"):
        _word_projector(step_words=["a", "b", "c"])[0].num_tokens(grid)


def test_asked_direction_reads_the_named_objects_direction_at_the_time_asked():
    words = {**WORDS, "direction": ["left", "right", "up", "down"]}
    cfg = direction_projector_config(words)
    proj = build_projector(cfg, encoder_dim=24, llm_dim=40)
    table = torch.linalg.qr(torch.randn(40, len(proj.table_words())))[0].T * 3  # (rows, W)
    proj.set_word_table(table)
    grid = (4, 4, 4)  # pooled to (4, 2, 2): 4 time steps of 4 cells
    scene = {  # (step, cell) -> size, colour, shape, direction: a small red circle turns back after
        (0, 0): ("small", "red", "circle", "up"),  # two steps up and is gone at the end, a large
        (1, 0): ("small", "red", "circle", "up"),  # blue square goes left from the second step on
        (2, 0): ("small", "red", "circle", "down"),
        **{(step, 3): ("large", "blue", "square", "left") for step in (1, 2, 3)},
    }
    groups = list(words)
    probs = [torch.zeros(1, 16, len(words[g])) for g in groups]  # G x (1, C, V_g)
    probs[groups.index("shape")][..., -1] = 1  # every cell empty, but for the scene's
    for (step, cell), said in scene.items():
        c = step * 4 + cell
        probs[groups.index("shape")][0, c] = 0
        for group, word in zip(("size", "colour", "shape", "direction"), said):
            probs[groups.index(group)][0, c, words[group].index(word)] = 1
    full = 1 - probs[groups.index("shape")][..., -1:]  # (1, C, 1)
    read = proj.read_directions((probs, full), grid)[0]  # (Q, W)
    keys = proj.direction_keys()
    assert read.shape == (len(keys), 40) and len(keys) == 3 * 3 * 3 * 3  # none or a word per group, 3 spans
    offset = len(WORDS["size"]) + len(WORDS["colour"]) + len(WORDS["shape"])  # the direction rows

    def said(key):
        (row,) = [i for i in range(len(table)) if torch.equal(read[keys.index(key)], table[i])]
        return "nothing" if row == offset - 1 else words["direction"][row - offset]

    assert said(("small", None, None, "start")) == "up"  # its first step
    assert said(("small", "red", "circle", "end")) == "down"  # its last step seen
    assert said((None, "red", None, "whole")) == "up"  # two steps up against one down
    assert said((None, None, "square", "start")) == "left"  # the square's first step is the second
    assert said((None, None, None, "start")) == "up"  # "the object": whatever shows first
    assert said(("large", "red", None, "whole")) == "nothing"  # no such object
    tokens = torch.randn(2, 64, 24)
    out = proj(tokens, grid)  # the K video tokens, then the table
    k = proj.num_tokens(grid)
    assert out.shape == (2, k + len(keys), 40)
    assert list(proj.asked_directions(grid).values()) == list(range(k, k + len(keys)))
    weights = proj.read_weights(proj.cell_tokens(tokens, grid), grid)
    assert torch.equal(out[:, k:], proj.read_directions(weights, grid))
    with pytest.raises(ValueError, match="asked_direction needs merge_cells"):
        ProjectorConfig(kind="mlp-pool", object_words=2, asked_direction=True)
    with pytest.raises(ValueError, match="needs a 'direction' word group"):
        build_projector(dataclasses.replace(cfg, words=WORDS), encoder_dim=24, llm_dim=40)
