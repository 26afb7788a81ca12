"""The command line: help, exit codes, one-line errors."""

from __future__ import annotations

import subprocess
import sys

from jepa_vqa.cli import build_parser, main

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
    out = subprocess.run([sys.executable, "-m", "jepa_vqa", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and "jepa-vqa" in out.stdout
