"""A person's path in a real browser (Debian's chromium, driven by Playwright):
sign in, book a room, see the booking, try the same time again, read the conflict."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.serving import make_server

from tests.roombook.conftest import PASSWORD, future_day

pytestmark = pytest.mark.tools
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture
def served(app: Flask) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


def test_book_and_meet_a_conflict(served: str, tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is missing: run `make install`")
    from playwright.sync_api import sync_playwright

    day = future_day(5)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page()
        page.goto(f"{served}/login")
        page.fill("input[name=email]", "alice@example.com")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        assert page.locator("h1").inner_text().startswith("Rooms")

        page.goto(f"{served}/rooms/2?date={day}")
        page.select_option("select[name=start]", "14:00")
        page.select_option("select[name=end]", "15:00")
        page.fill("input[name=title]", "Design review")
        page.click("#book button[type=submit]")
        assert "Booked: 14:00-15:00" in page.locator(".flash.ok").inner_text()
        assert page.locator("td", has_text="Design review").count() == 1

        page.goto(f"{served}/rooms/2?date={day}")
        assert page.locator("td.mine").count() == 2
        page.select_option("select[name=start]", "14:30")
        page.select_option("select[name=end]", "16:00")
        page.click("#book button[type=submit]")
        error = page.locator(".flash.error").inner_text()
        assert "already booked" in error
        page.screenshot(path=str(tmp_path / "conflict.png"), full_page=True)
        browser.close()
    assert (tmp_path / "conflict.png").stat().st_size > 0
    shutil.copy(tmp_path / "conflict.png", "/tmp/roombook-conflict.png")
