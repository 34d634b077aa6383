"""The browser helper sees what a reader would: a clean page passes, a broken one is named."""

from __future__ import annotations

import pytest

import browser
from browser import open_page

# a 1x1 red PNG
PNG = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGP4z8DwHwAFAAH/"
    "iZk9HQAAAABJRU5ErkJggg=="
)


def _page(folder, name: str, body: str):
    path = folder / name
    path.write_text(f"<!DOCTYPE html><html><body>{body}</body></html>", encoding="utf-8")
    return path


def test_clean_page_has_no_errors_and_its_image_loads(tmp_path):
    path = _page(tmp_path, "clean.html", f'<h1>Births by year</h1><img alt="dot" src="{PNG}">')
    page = open_page(path, tmp_path / "shots")
    assert page.errors == []
    assert page.images_loaded, page.broken_images
    assert "Births by year" in page.text
    assert page.screenshot == tmp_path / "shots" / "clean.png"
    assert page.screenshot.stat().st_size > 0


def test_broken_image_and_console_error_are_reported(tmp_path):
    body = '<img alt="missing figure" src="missing.png"><script>console.error("boom")</script>'
    page = open_page(_page(tmp_path, "broken.html", body).as_uri(), tmp_path)
    assert not page.images_loaded and page.broken_images == ["missing figure"]
    assert any(e.startswith("console: boom") for e in page.errors), page.errors
    assert any("missing.png" in e for e in page.errors), page.errors
    assert page.screenshot.stat().st_size > 0


def test_without_chromium_the_test_is_skipped_saying_why(tmp_path, monkeypatch):
    monkeypatch.setattr(browser, "SYSTEM_CHROMIUM", tmp_path / "chromium")
    monkeypatch.setattr(browser.shutil, "which", lambda name: None)
    with pytest.raises(pytest.skip.Exception, match="no Chromium: neither .* on PATH"):
        open_page(tmp_path / "any.html", tmp_path)
