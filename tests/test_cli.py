"""The command line: help, exit codes, one-line errors."""

from __future__ import annotations

import subprocess
import sys

from cli.main import build_parser, main

EXPECTED_COMMANDS = {"world", "inspect", "pretrain", "embed", "align", "ask", "eval", "demo", "bench"}


def test_every_architecture_command_is_registered():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert EXPECTED_COMMANDS <= set(sub.choices)
    bench = sub.choices["bench"]
    what = next(a for a in bench._actions if a.dest == "what")
    assert {"world", "decode", "pretrain", "answer"} <= set(what.choices)


def test_no_command_and_unknown_command_exit_2(capsys):
    assert main([]) == 2
    try:
        main(["frobnicate"])
    except SystemExit as exc:
        assert exc.code == 2
    err = capsys.readouterr().err
    assert "frobnicate" in err and "Traceback" not in err


def test_console_entry_point_runs():
    out = subprocess.run([sys.executable, "-m", "cli", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and "jepa-vqa" in out.stdout


def test_help_is_plain_text_and_every_option_is_explained():
    parser = build_parser()
    text = " ".join(parser.format_help().split())
    assert "``" not in text and "jepa-vqa <command> -h" in text
    sub = next(a for a in parser._actions if a.dest == "command")
    quickstart = sub.choices["quickstart"]
    for action in quickstart._actions:
        assert action.help, f"quickstart {action.dest} has no help"


def test_pyproject_license_is_an_spdx_expression(tmp_path):
    """No setuptools deprecation (`project.license` as a TOML table) at install."""
    import shutil
    import warnings
    from pathlib import Path

    from setuptools.config.pyprojecttoml import apply_configuration
    from setuptools.dist import Distribution

    root = Path(__file__).resolve().parents[1]
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(root / name, tmp_path / name)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dist = apply_configuration(Distribution(), tmp_path / "pyproject.toml")
    assert not [w for w in caught if "license" in str(w.message).lower()]
    assert dist.metadata.license_expression == "Apache-2.0"
