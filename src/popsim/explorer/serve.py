"""``popsim explore``: the explorer page served by solara on this machine only.

The server listens on 127.0.0.1: the page runs models and writes files as the user who
started it, so it is not offered to the network. Solara's telemetry and version check
are off, and its page assets come from the ``solara-assets`` package, so nothing is
fetched from the internet.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from popsim.explorer.settings import Settings

HOST = "127.0.0.1"
PAGE = "popsim.explorer.page"


def address(port: int) -> str:
    """The page's address."""
    return f"http://{HOST}:{port}/"


def serve(
    start: str | Path | None,
    *,
    port: int,
    seed: int = 0,
    n_persons: int | None = None,
    years: int | None = None,
) -> None:
    """Check the starting scenario, print the address, and serve until interrupted."""
    from popsim.explorer.page import DEFAULT_PERSONS, ENVIRONMENT

    n_persons = n_persons or DEFAULT_PERSONS
    settings = Settings.of(start, seed=seed, n_persons=n_persons, years=years)
    settings.scenario()  # a bad size fails here, with the scenario's message
    os.environ[ENVIRONMENT] = json.dumps(
        {
            "start": str(settings.start) if settings.start else None,
            "seed": seed,
            "n_persons": n_persons,
            "years": years,
        }
    )
    os.environ["SOLARA_TELEMETRY_MIXPANEL_ENABLE"] = "False"
    from solara.__main__ import run

    print(f"popsim explore: {settings.base.name} at {address(port)} (Ctrl-C stops it)", flush=True)
    run.main(
        [
            PAGE,
            "--host",
            HOST,
            "--port",
            str(port),
            "--production",
            "--no-open",
            "--no-check-version",
        ],
        standalone_mode=False,
    )
