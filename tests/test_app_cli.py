"""`jepa-vqa demo` as a user runs it: a real server process, loaded once, stopped with Ctrl-C or
`kill` (SIGTERM), quiet at start, its temporary upload folder removed either way.

Run:

    .venv/bin/python -m pytest tests/test_app_cli.py -m slow -q
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]


def readme_client_example() -> str:
    """The README's `gradio_client` example, as written."""
    readme = (ROOT / "README.md").read_text()
    return next(b for b in re.findall(r"```python\n(.*?)```", readme, re.S) if "gradio_client" in b)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_running(proc: subprocess.Popen) -> str:
    """Read the demo's stdout up to its "running at" line (printed once the app is up)."""
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if "running at" in line:
            return "".join(lines)
    raise AssertionError(f"demo exited ({proc.wait()}): {''.join(lines)} {proc.stderr.read()}")


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_demo_serves_the_app_and_stops_cleanly(tmp_path, stop):
    """Also runs the README's gradio_client example against it (on 127.0.0.1 only)."""
    from vlm.testing import make_tiny_model

    model_dir = make_tiny_model(tmp_path / "tiny-llm").save_pretrained(tmp_path / "model")
    port = free_port()
    env = dict(os.environ, HF_HUB_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False")
    env.pop("GRADIO_TEMP_DIR", None)  # the demo makes (and removes) its own
    cmd = [sys.executable, "-m", "cli", "demo", "--model", str(model_dir), "--port", str(port)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        head = wait_until_running(proc)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=30) as response:
            page = response.read().decode()
        assert "jepa-vqa" in page and "vjepa2:facebook/vjepa2-vitl-fpc64-256" in page
        if stop == signal.SIGTERM:  # once is enough: the README's example works as written
            code = readme_client_example().replace("127.0.0.1:7860", f"127.0.0.1:{port}")
            example = subprocess.run(
                [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
            )
            assert example.returncode == 0 and example.stdout.strip(), example.stderr
            from gradio_client import Client, handle_file
            from gradio_client.exceptions import AppError

            bad = tmp_path / "notes.mp4"
            bad.write_text("not a video")
            client = Client(f"http://127.0.0.1:{port}/", verbose=False)
            with pytest.raises(
                AppError, match=r"Could not use this video\. notes\.mp4: not a readable video"
            ):
                client.predict(handle_file(str(bad)), "What moves?", api_name="/answer")
        proc.send_signal(stop)
        rest, err = proc.communicate(timeout=60)
        out = head + rest
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert f"running at http://127.0.0.1:{port}" in out and "demo stopped" in out
    assert "Traceback" not in err
    assert "Loading weights" not in err and "FutureWarning" not in err, err  # a quiet start
    temp_dir = Path(re.search(r"uploads go to (\S+?)\)", out).group(1))
    assert temp_dir.name.startswith("jepa-vqa-demo-") and not temp_dir.exists()  # cleaned up
