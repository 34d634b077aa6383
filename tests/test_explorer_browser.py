"""The explorer in a real browser: a lever, a year, the views respond, compare, save.

The test serves ``popsim explore`` on a free port of 127.0.0.1 and drives the page in the
system's Chromium (tests/browser.py); it is skipped, saying why, without Chromium,
playwright or the viz extra. Screenshots go to the test's tmp folder.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from browser import chromium, launch
from conftest import PARAMS

SERVER_START_S = 120
PERSONS, YEARS = 1500, 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.fixture
def explorer(tmp_path):
    """The address of ``popsim explore params/baseline.yaml`` run small, in ``tmp_path``."""
    pytest.importorskip("solara", reason="no solara: install popsim's viz extra")
    pytest.importorskip("playwright.sync_api", reason="no playwright: install popsim's test extra")
    chromium()  # skips, saying why, before a server is started for nothing
    import popsim

    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    # the server runs the popsim under test, wherever it is imported from
    src = str(Path(popsim.__file__).resolve().parents[1])
    env = os.environ | {
        "PYTHONPATH": os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")]))
    }
    command = [
        sys.executable,
        "-m",
        "popsim.cli",
        "explore",
        str(PARAMS / "baseline.yaml"),
        "--agents",
        str(PERSONS),
        "--years",
        str(YEARS),
        "--port",
        str(port),
    ]
    log_path = tmp_path / "server.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(
            command,
            cwd=tmp_path,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + SERVER_START_S
            while not _answers(url):
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"popsim explore did not serve {url}:\n{log_path.read_text()}")
                time.sleep(0.5)
            yield url
        finally:
            if server.poll() is None:
                os.killpg(server.pid, signal.SIGTERM)
                try:
                    server.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(server.pid, signal.SIGKILL)
                    server.wait()


def test_explorer_lever_step_compare_save(explorer, tmp_path):
    from popsim.scenario.loading import load_scenario

    started = time.monotonic()
    with launch(viewport=(1500, 1000)) as (page, errors):
        page.set_default_timeout(60_000)
        page.goto(explorer, wait_until="load")
        kpis = page.locator(".kpis")
        kpis.wait_for()
        assert "months run: 0" in kpis.inner_text()
        births_before = page.locator(".fig-births img").get_attribute("src")

        # a lever: the check-up interval from 3 to 6 months, then Reset runs the new settings
        slider = page.locator(".lever-policy-checkups-interval_months [role=slider]")
        slider.focus()
        for _ in range(3):
            slider.press("ArrowRight")
        page.get_by_text("Settings changed").wait_for()
        page.get_by_role("button", name="Reset", exact=True).click()
        page.get_by_text("Settings changed").wait_for(state="detached")

        # a year: the births figure and the headline numbers change
        page.get_by_role("button", name="Step", exact=True).click()
        page.get_by_text("months run: 12").wait_for()
        text = kpis.inner_text()
        assert "TFR 2009" in text and "compliance 2009" in text, text
        assert page.locator(".fig-births img").get_attribute("src") != births_before
        page.screenshot(path=tmp_path / "explorer_live.png", full_page=True)

        # save: a scenario file that extends the baseline with the new interval
        page.get_by_role("button", name="Save as scenario").click()
        page.locator(".save-message").get_by_text("Saved").wait_for()
        page.screenshot(path=tmp_path / "explorer_saved.png", full_page=False)
        saved = load_scenario(tmp_path / "explored.yaml")
        assert saved.policy.checkups.interval_months == 6
        assert (saved.township.n_persons, saved.township.years) == (PERSONS, YEARS)

        # compare: two seeds of each, the paired difference table appears
        page.get_by_role("tab", name="Compare").click()
        seeds = page.locator(".lever-seeds [role=slider]")
        seeds.focus()
        seeds.press("ArrowLeft")
        page.get_by_text("Runs 2 seeds").wait_for()
        page.get_by_role("button", name="Compare with baseline").click()
        table = page.locator(".difference-table table").first
        table.wait_for(timeout=120_000)
        assert "Births" in table.inner_text() and "difference" in table.inner_text()
        page.screenshot(path=tmp_path / "explorer_compare.png", full_page=True)
        assert errors == [], errors
    print(f"explorer browser test: {time.monotonic() - started:.1f} s in the browser")
