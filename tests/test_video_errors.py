"""encoder.video on bad input (missing, empty, not a video, truncated, corrupt, undecodable, a
directory, audio only): one-line `VideoDecodeError`s naming the file; the `inspect` and
`bench decode` commands, which report them with exit code 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import av
import numpy as np
import pytest

from cli.main import main
from encoder.video import VideoDecodeError, _decord_available, probe_video, read_frames
from jepa_vqa.errors import UserError

BACKENDS = ["decord", "pyav"] if _decord_available() else ["pyav"]


# ---------------------------------------------------------------------------------------------
# fixtures local to these tests
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def bad_files(tmp_path_factory, video_factory, tiny_mp4):
    """Name -> path for every kind of bad input."""
    root = tmp_path_factory.mktemp("bad")
    (root / "empty.mp4").write_bytes(b"")
    (root / "notes.txt").write_text("this is not a video\n" * 20)
    whole = tiny_mp4.read_bytes()  # moov is at the end: cutting it loses the index
    (root / "truncated.mp4").write_bytes(whole[: len(whole) // 2])
    corrupt = bytearray(whole)
    corrupt[: len(corrupt) // 2] = (
        np.random.default_rng(0).integers(0, 256, len(corrupt) // 2, dtype=np.uint8).tobytes()
    )
    (root / "corrupt.mp4").write_bytes(bytes(corrupt))
    faststart = video_factory("faststart.mp4", frames=120, container_options={"movflags": "faststart"})
    scrambled = bytearray(faststart.read_bytes())  # header intact, every frame's data random
    at = scrambled.find(b"mdat") + 4
    scrambled[at:] = np.random.default_rng(1).integers(0, 256, len(scrambled) - at, dtype=np.uint8).tobytes()
    (root / "scrambled.mp4").write_bytes(bytes(scrambled))
    (root / "adir.mp4").mkdir()
    with av.open(str(root / "audio.m4a"), "w") as container:
        stream = container.add_stream("aac", rate=16000)
        for i in range(5):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 16000, i * 1024
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    names = [
        "empty.mp4",
        "notes.txt",
        "truncated.mp4",
        "corrupt.mp4",
        "scrambled.mp4",
        "adir.mp4",
        "audio.m4a",
    ]
    return {name: root / name for name in names} | {"missing.mp4": root / "missing.mp4"}


# ---------------------------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------------------------
BAD = ["missing.mp4", "empty.mp4", "notes.txt", "truncated.mp4", "corrupt.mp4", "adir.mp4", "audio.m4a"]
UNDECODABLE = "scrambled.mp4"  # opens (the header is fine), but no frame decodes


@pytest.mark.parametrize("name", BAD)
@pytest.mark.parametrize("backend", ["auto", *BACKENDS])
def test_bad_files_raise_one_line_naming_the_file(bad_files, name, backend):
    with pytest.raises(VideoDecodeError) as info:
        read_frames(bad_files[name], num_frames=4, backend=backend)
    message = str(info.value)
    assert isinstance(info.value, UserError) and "\n" not in message and name in message
    with pytest.raises(VideoDecodeError):
        probe_video(bad_files[name])


@pytest.mark.parametrize("backend", ["auto", *BACKENDS])
def test_undecodable_frames_raise(bad_files, backend):
    with pytest.raises(VideoDecodeError, match="scrambled.mp4: corrupt video data"):
        probe_video(bad_files[UNDECODABLE])
    with pytest.raises(VideoDecodeError, match="scrambled.mp4"):
        read_frames(bad_files[UNDECODABLE], num_frames=4, backend=backend)


def test_bad_file_problems_are_named(bad_files):
    expected = {
        "missing.mp4": "not found",
        "empty.mp4": "empty",
        "adir.mp4": "directory",
        "audio.m4a": "no video stream",
        "truncated.mp4": "truncated",
    }
    for name, words in expected.items():
        with pytest.raises(VideoDecodeError) as info:
            probe_video(bad_files[name])
        assert words in str(info.value), str(info.value)


@pytest.mark.parametrize("kwargs", [{"num_frames": 0}, {"size": 0}, {"fps": -1.0}, {"backend": "opencv"}])
def test_bad_arguments_are_user_errors(tiny_mp4, kwargs):
    with pytest.raises(UserError):
        read_frames(tiny_mp4, **kwargs)


# ---------------------------------------------------------------------------------------------
# command line
# ---------------------------------------------------------------------------------------------
def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "cli", *map(str, args)],
        capture_output=True,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        timeout=120,
    )


def test_cli_inspect_prints_one_json_line(tiny_mp4):
    out = run_cli("inspect", tiny_mp4)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 1
    info = json.loads(lines[0])
    assert set(info) == {"frames", "fps", "duration_s", "width", "height", "codec", "backend"}
    assert (info["frames"], info["width"], info["height"], info["codec"]) == (16, 64, 48, "h264")


def test_cli_bad_file_exits_2_with_one_line(bad_files):
    out = run_cli("inspect", bad_files["truncated.mp4"])
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.startswith("error:") and len(out.stderr.strip().splitlines()) == 1
    assert "truncated.mp4" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.parametrize("name", ["missing.mp4", "notes.txt", "audio.m4a", "adir.mp4"])
def test_cli_in_process_bad_files(bad_files, capsys, name):
    assert main(["inspect", str(bad_files[name])]) == 2
    assert main(["bench", "decode", str(bad_files[name]), "--repeat", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("error:") and name in line for line in err)


def test_cli_bench_decode_reports_each_backend(tiny_mp4, capsys):
    assert main(["bench", "decode", str(tiny_mp4), "--frames", "8", "--size", "32", "--repeat", "2"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert [r["backend"] for r in rows] == BACKENDS
    for row in rows:
        assert row["frames"] == 8 and row["size"] == 32 and row["frames_per_s"] > 0 and row["median_s"] > 0
    assert main(["bench", "decode", str(tiny_mp4), "--repeat", "0"]) == 2
