"""Numeric precision that follows the hardware: ``auto | fp32 | bf16``.

``auto`` picks bf16 where the matmuls have bf16 units (CUDA with bf16 support, or a CPU with AMX or
AVX512-BF16) and fp32 elsewhere: on a CPU without them (e.g. AVX2 only) bf16 is emulated and slower
than fp32. Weights and optimiser state stay fp32; bf16 means autocast around the forward pass::

    precision = resolve_precision("auto", device)        # -> "bf16" or "fp32"
    with autocast(precision, device):
        loss = model(batch)
    hardware_info()   # {"cpu": "...", "cpu_flags": ["avx2", "avx512f", ...], "bf16_units": True}
"""

from __future__ import annotations

import contextlib
import platform
from functools import lru_cache

import torch

from jepa_vqa.errors import UserError

PRECISIONS = ("auto", "fp32", "bf16")
# CPU flags that decide matmul speed (Linux /proc/cpuinfo names).
MATMUL_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")
BF16_FLAGS = ("avx512_bf16", "amx_bf16")


@lru_cache(maxsize=1)
def _cpuinfo() -> tuple[str, frozenset[str]]:
    """(model name, flags) of the first CPU; ('', {}) where /proc/cpuinfo does not exist."""
    name, flags = "", frozenset()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name" and not name:
                    name = value.strip()
                elif key == "flags" and not flags:
                    flags = frozenset(value.split())
                if name and flags:
                    break
    except OSError:
        pass
    return name or platform.processor() or platform.machine(), flags


def cpu_has_bf16_units() -> bool:
    """Whether this CPU multiplies bf16 in hardware (AMX or AVX512-BF16)."""
    return any(flag in _cpuinfo()[1] for flag in BF16_FLAGS)


def cpu_has_amx() -> bool:
    """Whether this CPU has AMX tiles (where torch's fused bf16 attention is the fastest forward)."""
    return "amx_bf16" in _cpuinfo()[1]


def hardware_info() -> dict:
    """What a speed figure depends on: CPU model, its matmul flags, bf16 units, threads, GPU."""
    name, flags = _cpuinfo()
    info = {
        "cpu": name,
        "cpu_flags": [flag for flag in MATMUL_FLAGS if flag in flags],
        "bf16_units": cpu_has_bf16_units(),
        "threads": torch.get_num_threads(),
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def resolve_precision(precision: str, device: torch.device | str) -> str:
    """``auto`` -> ``bf16`` or ``fp32`` for ``device``; an explicit choice is checked and kept."""
    if precision not in PRECISIONS:
        raise UserError(f"unknown precision '{precision}' (choose from {', '.join(PRECISIONS)})")
    if precision != "auto":
        return precision
    if torch.device(device).type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if cpu_has_bf16_units() else "fp32"


def autocast(precision: str, device: torch.device | str):
    """A bf16 autocast context for ``precision == "bf16"`` (already resolved); a no-op for fp32."""
    if precision == "bf16":
        return torch.autocast(torch.device(device).type, dtype=torch.bfloat16)
    return contextlib.nullcontext()
