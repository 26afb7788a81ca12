"""benchmarks/matmul_shapes.py at a test size: both precisions timed, rates and ratio consistent."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "matmul_shapes.py"


def test_matmul_shapes_reports_both_precisions_and_their_ratio(monkeypatch):
    spec = importlib.util.spec_from_file_location("matmul_shapes", SCRIPT)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    monkeypatch.setattr(bench, "SHAPES", (("small", 512, 64, 96), ("square", 128, 128, 128)))
    rows = bench.measure(rounds=2)
    assert [r["layer"] for r in rows] == ["small", "square"]
    for r in rows:
        assert r["fp32 GFLOP/s"] > 0 and r["bf16 GFLOP/s"] > 0
        assert abs(r["bf16 / fp32"] - r["bf16 GFLOP/s"] / r["fp32 GFLOP/s"]) < 1e-9 * r["bf16 / fp32"]
