"""cli/quickstart.py: reusing an encoder skips pretraining, and the shipped dir keeps its world model."""

from __future__ import annotations

from cli.quickstart import QuickstartConfig, pretrain_encoder, ship
from encoder.surprise import WORLD_MODEL_DIR
from vlm.testing import make_tiny_llm, make_tiny_model


def test_a_reused_encoder_skips_pretraining(tmp_path):
    cfg = QuickstartConfig(work_dir=str(tmp_path / "work"), encoder="checkpoints/default")
    assert str(pretrain_encoder(cfg, tmp_path / "work", tmp_path / "no-world")) == "checkpoints/default"
    assert not (tmp_path / "work").exists()  # nothing pretrained, nothing written


def test_shipping_on_a_model_dirs_encoder_copies_its_world_model(tmp_path):
    make_tiny_llm(tmp_path / "llm")
    model_dir = make_tiny_model(tmp_path / "llm").save_pretrained(tmp_path / "aligned")
    source = tmp_path / "shipped"  # the model dir whose encoder was reused, with its world model
    (source / WORLD_MODEL_DIR).mkdir(parents=True)
    (source / WORLD_MODEL_DIR / "config.json").write_text('{"kind": "test"}')
    report = tmp_path / "report.md"
    report.write_text("# world-qa\n")
    ship(model_dir, source, tmp_path / "out", {}, 60.0, report, "jepa-vqa quickstart encoder=shipped")
    assert (tmp_path / "out" / WORLD_MODEL_DIR / "config.json").read_text() == '{"kind": "test"}'
    card = (tmp_path / "out" / "README.md").read_text()
    assert "jepa-vqa quickstart encoder=shipped" in card and "# world-qa" in card
    assert not (tmp_path / "out.tmp").exists()
