"""`jepa-vqa results`: one recipe, several inputs, one table with controls (tiny LLM, tiny world)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli.main import main as cli_main
from cli.results import ResultsConfig, Variant
from jepa_vqa.config import load_config

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from worlds.config import WorldConfig
    from worlds.generate import generate_dataset

    cfg = load_config(
        WorldConfig, ROOT / "configs/world/tiny.yaml", ["num_clips=10", "voe.pairs=0", "workers=1"]
    )
    return generate_dataset(cfg, tmp_path_factory.mktemp("world"), progress=False)


def test_results_table_has_a_row_per_variant_and_condition(world, tmp_path, capsys):
    from vlm.testing import make_tiny_llm

    llm = make_tiny_llm(tmp_path / "llm")
    args = [
        "results",
        "--config",
        str(ROOT / "configs/results.yaml"),
        f"work_dir={tmp_path / 'runs'}",
        f"world={world}",
        f"align_config={ROOT / 'configs/align/test.yaml'}",
        f"align_overrides=[llm={llm},train.steps=3,stage1.steps=1]",
        "variants=[{name: Video (random), overrides: [encoder=random:test]}, {name: blind-trained, overrides: [perception=none]}]",
        "eval_limit=3",
    ]
    assert cli_main(args) == 0
    table = [line for line in capsys.readouterr().out.splitlines() if line.startswith("|")]
    assert table[0].startswith("| model | condition |") and table[0].endswith("| overall |")
    rows = [[c.strip() for c in line.split("|")[1:3]] for line in table[2:]]
    assert rows == [["Video (random)", "model"], ["Video (random)", "blind"], ["Video (random)", "shuffled"],
                    ["blind-trained", "model"]]  # fmt: skip
    assert (tmp_path / "runs" / "video-random" / "eval" / "results.json").is_file()
    assert (tmp_path / "runs" / "results.md").read_text().strip().splitlines() == table
    assert cli_main(args) == 0  # finished variants are reused
    assert "reusing" in capsys.readouterr().out


def test_variants_need_unique_names():
    with pytest.raises(ValueError, match="unique"):
        ResultsConfig(variants=[Variant("a b"), Variant("A-B")])


def test_a_variant_reuses_an_aligned_model_of_its_recipe_only(world, tmp_path, capsys):
    from vlm.testing import make_tiny_llm

    llm = make_tiny_llm(tmp_path / "llm")

    def results(work: str, variant: str) -> int:
        return cli_main([
            "results", "--config", str(ROOT / "configs/results.yaml"), f"work_dir={tmp_path / work}",
            f"world={world}", f"align_config={ROOT / 'configs/align/test.yaml'}",
            f"align_overrides=[llm={llm},train.steps=3,stage1.steps=1]", f"variants=[{variant}]", "eval_limit=2",
        ])  # fmt: skip

    assert results("first", "{name: a, overrides: [encoder=random:test]}") == 0
    aligned = tmp_path / "first" / "a" / "model"
    assert results("again", f"{{name: b, overrides: [encoder=random:test], model: {aligned}}}") == 0
    assert "reusing the aligned model" in capsys.readouterr().out
    assert not (tmp_path / "again" / "b" / "model").exists()  # evaluated, not aligned again
    assert (tmp_path / "again" / "b" / "eval" / "results.json").is_file()
    other = f"{{name: c, overrides: [encoder=random:test, seed=3], model: {aligned}}}"
    assert results("other", other) == 2
    assert "another recipe (seed: 0 there, 3 here)" in capsys.readouterr().err
