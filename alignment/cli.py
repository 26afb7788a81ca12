"""Command-line wrappers for `alignment` (registered by jepa_vqa.cli)."""

from __future__ import annotations

import argparse


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register this package's top-level commands."""


def add_bench_commands(sub: argparse._SubParsersAction) -> None:
    """Register this package's `jepa-vqa bench <what>` commands."""
