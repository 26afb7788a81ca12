"""Strict typed config: YAML + dotted overrides, unknown keys and wrong types named."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pytest

from jepa_vqa.config import from_dict, load_config, save_config, to_dict
from jepa_vqa.errors import ConfigError, UserError


@dataclass
class Train:
    steps: int = 10
    lr: float = 1e-3
    names: list[str] = field(default_factory=list)

    def __post_init__(self):
        if self.steps < 1:
            raise ValueError("steps must be >= 1")


@dataclass
class Top:
    seed: int = 0
    objective: Literal["jepa", "mae"] = "jepa"
    path: str | None = None
    flag: bool = False
    train: Train = field(default_factory=Train)


def test_yaml_and_overrides(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("seed: 3\ntrain:\n  steps: 5\n")
    cfg = load_config(Top, f, ["train.lr=0.5", "objective=mae", "train.names=[a, b]", "path=x"])
    assert (cfg.seed, cfg.train.steps, cfg.train.lr, cfg.objective) == (3, 5, 0.5, "mae")
    assert cfg.train.names == ["a", "b"] and cfg.path == "x"


def test_int_promotes_to_float_but_not_reverse():
    assert from_dict(Top, {"train": {"lr": 1}}).train.lr == 1.0
    assert load_config(Top, None, ["train.lr=1e-3"]).train.lr == 1e-3  # YAML 1.1 reads this as a string
    with pytest.raises(ConfigError, match="train.lr"):
        load_config(Top, None, ["train.lr=fast"])
    with pytest.raises(ConfigError, match="train.steps"):
        from_dict(Top, {"train": {"steps": 1.5}})


@pytest.mark.parametrize(
    "overrides, key",
    [
        (["train.stepz=3"], "train.stepz"),
        (["seed=abc"], "seed"),
        (["flag=3"], "flag"),
        (["objective=pixels"], "objective"),
        (["train=3"], "train"),
        (["train.steps=0"], "train"),
        (["nokey"], "nokey"),
    ],
)
def test_bad_keys_are_named(overrides, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_config(Top, None, overrides)


def test_errors_are_user_errors(tmp_path):
    assert issubclass(ConfigError, UserError)
    with pytest.raises(ConfigError, match="not found"):
        load_config(Top, tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("seed: [1,\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(Top, bad)
    listy = tmp_path / "list.yaml"
    listy.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(Top, listy)


def test_save_and_reload_round_trip(tmp_path):
    cfg = load_config(Top, None, ["seed=7", "train.names=[x]"])
    save_config(cfg, tmp_path / "config.yaml")
    save_config(cfg, tmp_path / "config.json")
    assert load_config(Top, tmp_path / "config.yaml") == cfg
    assert to_dict(cfg)["train"]["names"] == ["x"]
    assert not list(tmp_path.glob("*.tmp"))
