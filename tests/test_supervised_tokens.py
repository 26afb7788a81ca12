"""benchmarks/supervised_tokens.py at the test preset: its per-token word targets
(``encoder.layer_probe.token_word_ids``), a loss that falls, a loadable encoder."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import benchmark_script

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench():
    return benchmark_script("supervised_tokens")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from jepa_vqa.config import load_config
    from worlds.config import WorldConfig
    from worlds.generate import generate_dataset

    cfg = load_config(
        WorldConfig, ROOT / "configs/world/tiny.yaml", ["num_clips=20", "voe.pairs=0", "workers=1"]
    )
    return generate_dataset(cfg, tmp_path_factory.mktemp("world") / "world", progress=False)


def test_token_targets_name_the_clips_own_objects(world):
    from encoder.layer_probe import NO_WORD, token_word_ids
    from encoder.probe import split_clips

    clips = split_clips(world, "train")
    targets, groups = token_word_ids(clips, (4, 4, 4))
    assert targets.shape == (len(clips), 64, len(groups))
    shapes, colours = groups[0], groups[1]  # shape or "nothing"; colour
    for clip, clip_targets in zip(clips, targets):
        empty = clip_targets[:, 0] == shapes.index("nothing")
        assert (clip_targets[empty, 1:] == NO_WORD).all()  # an empty cell has no colour or size
        assert (~empty).any()
        seen = {(shapes[int(s)], colours[int(c)]) for s, c in clip_targets[~empty, :2]}
        assert seen <= {(o["shape"], o["colour"]) for o in clip["objects"]}


def test_training_lowers_the_loss_and_exports_a_loadable_encoder(bench, world, tmp_path):
    from encoder import load_encoder

    args = bench.parse_args(
        ["--data", str(world), "--out", str(tmp_path), "--preset", "test", "--steps", "12",
         "--batch-size", "4", "--lr", "3e-3", "--warmup", "2", "--precision", "fp32"]
    )  # fmt: skip
    result = bench.train(args)
    assert result["loss_last_10"] < result["loss_first_10"]
    assert load_encoder(result["encoder"]).embed_dim > 0
