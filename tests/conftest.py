"""Shared fixtures: the repository's folders and small, fast runs."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PARAMS = ROOT / "params"
#: every scenario file: params/**/*.yaml but the sweep and calibration files
SCENARIO_FILES = sorted(
    p for p in PARAMS.rglob("*.yaml") if p.parent.name not in ("sweeps", "calibration")
)


@pytest.fixture(scope="session")
def params_dir() -> Path:
    """The repository's ``params/`` folder."""
    return PARAMS


@pytest.fixture
def dask_client():
    """A client of a real two-worker ``dask.distributed.LocalCluster`` (single-threaded workers)."""
    from dask.distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client
