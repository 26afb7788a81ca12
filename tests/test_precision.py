"""jepa_vqa.precision: `auto` follows the hardware, explicit choices are kept, bad names are refused."""

import pytest
import torch

from jepa_vqa import precision as P
from jepa_vqa.errors import UserError


def test_auto_follows_the_cpu_flags(monkeypatch):
    monkeypatch.setattr(P, "_cpuinfo", lambda: ("Zen 3", frozenset({"avx2"})))
    assert P.resolve_precision("auto", "cpu") == "fp32"
    monkeypatch.setattr(P, "_cpuinfo", lambda: ("Sapphire Rapids", frozenset({"avx512f", "amx_bf16"})))
    assert P.resolve_precision("auto", "cpu") == "bf16"
    assert P.hardware_info()["cpu_flags"] == ["avx512f", "amx_bf16"]
    assert P.hardware_info()["bf16_units"] is True


def test_explicit_choices_are_kept_and_bad_names_refused():
    assert P.resolve_precision("fp32", "cpu") == "fp32"
    assert P.resolve_precision("bf16", "cpu") == "bf16"
    with pytest.raises(UserError, match="unknown precision 'fp16'"):
        P.resolve_precision("fp16", "cpu")


def test_autocast_runs_matmuls_in_bf16_and_fp32_untouched():
    a, b = torch.randn(4, 8), torch.randn(8, 4)
    with P.autocast("bf16", "cpu"):
        assert (a @ b).dtype == torch.bfloat16
    with P.autocast("fp32", "cpu"):
        assert (a @ b).dtype == torch.float32


def test_this_machine_is_described():
    info = P.hardware_info()
    assert info["cpu"] and isinstance(info["cpu_flags"], list) and info["threads"] >= 1
