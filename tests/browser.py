"""Opening a page in the system's Chromium: its errors, images, text and a screenshot.

Playwright's own browser download is not available everywhere (CI has no network for it),
so the page opens in Debian's ``chromium``, which ``.ci/run`` installs. Without it, or
without playwright, the calling test is skipped and says why.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import pytest

SYSTEM_CHROMIUM = Path("/usr/bin/chromium")  # Debian's package
# Headless and quiet: no sandbox (CI runs as root), and none of Chromium's own traffic
# (updates, sync, QUIC probes) to fail on a closed network and blur the page's errors.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# the alt (or src) of every <img> that did not load; open_page cuts a data URI short
BROKEN_IMAGES = """() => Array.from(document.images)
    .filter(img => !(img.complete && img.naturalWidth > 0))
    .map(img => img.alt || img.getAttribute("src") || "(no src)")"""


@dataclass(frozen=True)
class Page:
    """What a browser showed: every error, the images that did not load, text, screenshot."""

    errors: list[str]
    broken_images: list[str]
    text: str
    screenshot: Path

    @property
    def images_loaded(self) -> bool:
        """Whether every ``<img>`` loaded (has a natural width)."""
        return not self.broken_images


def chromium() -> str:
    """The system Chromium's path; skips the calling test when there is none."""
    if SYSTEM_CHROMIUM.is_file():
        return str(SYSTEM_CHROMIUM)
    found = shutil.which("chromium")
    if found is None:
        pytest.skip(f"no Chromium: neither {SYSTEM_CHROMIUM} nor chromium on PATH")
    return found


@contextmanager
def launch(viewport: tuple[int, int] | None = None) -> Iterator[tuple[object, list[str]]]:
    """A live page of the system's Chromium to drive, and the list its errors go to.

    Every console error, uncaught page error and failed request is appended to the list
    as it happens, so a test can check it after each action. ``viewport`` is (width,
    height) in pixels; playwright's default 1280 x 720 without it.
    """
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="no playwright: install popsim's test extra"
    )
    executable = chromium()
    errors: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        try:
            size = {"width": viewport[0], "height": viewport[1]} if viewport else None
            page = browser.new_page(viewport=size)

            def console(message) -> None:
                if message.type == "error":
                    errors.append(f"console: {message.text} ({message.location.get('url')})")

            page.on("console", console)
            page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
            page.on(
                "requestfailed",
                lambda r: errors.append(f"request failed: {r.url[:100]}: {r.failure}"),
            )
            yield page, errors
        finally:
            browser.close()


def open_page(url: str | Path, folder: Path, *, timeout_ms: float = 30_000) -> Page:
    """Load ``url`` (a path, file:// or http://) headless and save ``folder/NAME.png``."""
    if isinstance(url, Path):
        url = url.resolve().as_uri()
    with launch() as (page, errors):
        page.goto(url, wait_until="load", timeout=timeout_ms)
        broken = [name[:100] for name in page.evaluate(BROKEN_IMAGES)]
        text = page.inner_text("body")
        folder.mkdir(parents=True, exist_ok=True)
        shot = folder / f"{Path(urlparse(url).path).stem or 'page'}.png"
        page.screenshot(path=shot, full_page=True)
    return Page(errors, broken, text, shot)
