"""End to end in a real browser: start the app, upload a clip, ask, see the streamed answer.

Drives Debian's Chromium headless through Playwright (`apt-get install chromium`). Set
`JEPA_VQA_SCREENSHOT=1` to save a screenshot of the finished page to `docs/app.png`, and
`JEPA_VQA_APP_MODEL=DIR` to drive a real model instead of the tiny random one:

    JEPA_VQA_SCREENSHOT=1 JEPA_VQA_APP_MODEL=checkpoints/default \
        .venv/bin/python -m pytest tests/test_app_browser.py -m slow -q
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import socket  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from test_app import write_clip  # noqa: E402

from app.clips import example_clips  # noqa: E402
from app.config import AppConfig  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
playwright_api = pytest.importorskip("playwright.sync_api")
expect, sync_playwright = playwright_api.expect, playwright_api.sync_playwright
SCREENSHOT = Path(__file__).resolve().parents[1] / "docs" / "app.png"
TIMEOUT_MS = 60_000

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Chromium at /usr/bin/chromium (apt-get install chromium)"
    ),
]


def ask(page, question: str) -> None:
    page.locator("#question textarea").fill(question)
    page.locator("#ask").click()
    expect(page.locator("#chat")).to_contain_text(question, timeout=TIMEOUT_MS)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def server(tmp_path):
    from app.ui import start
    from vlm.model import VideoQAModel
    from vlm.testing import make_tiny_model

    real = os.environ.get("JEPA_VQA_APP_MODEL")
    model = VideoQAModel.from_pretrained(real) if real else make_tiny_model(tmp_path / "tiny-llm")
    model.eval()
    running = start(model, host="127.0.0.1", port=free_port())
    assert running.demo.max_file_size == int(AppConfig().max_upload_mb * 1e6)  # Gradio refuses bigger uploads
    yield running
    running.close()
    assert running.temp_dir is None or not Path(running.temp_dir).exists()  # uploads cleaned up


def test_upload_ask_and_see_the_answer_stream_in(server, tmp_path):
    clip = write_clip(tmp_path / "square.mp4")
    bad = tmp_path / "notes.mp4"
    bad.write_text("this is not a video")

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(server.url)
            expect(page.locator("#banner")).to_contain_text("synthetic", timeout=TIMEOUT_MS)

            # a real clip: the gallery shows the frames the model sees, then ask
            page.locator("#video input[type=file]").set_input_files(str(clip))
            expect(page.locator("#status")).to_contain_text("square.mp4", timeout=TIMEOUT_MS)
            expect(page.locator("#frames img").first).to_be_visible(timeout=TIMEOUT_MS)
            expect(page.locator("#surprise img").first).to_be_visible(timeout=TIMEOUT_MS)
            ask(page, "Which way does the square move?")
            expect(page.locator("#latency li")).to_have_count(1, timeout=TIMEOUT_MS)
            answer = page.locator("#chat .bot").last.inner_text().strip()
            assert answer and "Could not answer" not in answer

            # a shipped example clip, and a second turn
            if example_clips():
                page.get_by_text("world 1", exact=True).click()
                expect(page.locator("#status")).to_contain_text("world_1.mp4", timeout=TIMEOUT_MS)
                ask(page, "How many objects are there?")
                expect(page.locator("#latency li")).to_have_count(2, timeout=TIMEOUT_MS)
            if os.environ.get("JEPA_VQA_SCREENSHOT"):
                SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(SCREENSHOT), full_page=True)

            # a bad file: a readable note in the chat, no stack trace; then clear the chat
            page.locator("#video button[aria-label='Clear']").first.click()
            page.locator("#video input[type=file]").set_input_files(str(bad))
            chat = page.locator("#chat")
            expect(chat).to_contain_text("Could not use this video", timeout=TIMEOUT_MS)
            assert "Traceback" not in chat.inner_text()
            page.locator("#clear").click()
            expect(chat).not_to_contain_text("Could not use this video", timeout=TIMEOUT_MS)
            expect(page.locator("#latency li")).to_have_count(0, timeout=TIMEOUT_MS)
        finally:
            browser.close()
