"""Same seed, same tables (across processes); named streams give common random numbers."""

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import popsim
from conftest import PARAMS, ROOT
from popsim.outputs.results import TABLES


def run_cli(out, seed):
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    subprocess.run(
        [
            sys.executable,
            "-m",
            "popsim.cli",
            "run",
            str(PARAMS / "core.yaml"),
            "--seed",
            str(seed),
            "--agents",
            "3000",
            "--years",
            "4",
            "--out",
            str(out),
        ],
        check=True,
        env=env,
        capture_output=True,
    )


def test_same_seed_gives_identical_tables_in_separate_processes(tmp_path):
    run_cli(tmp_path / "a", 7)
    run_cli(tmp_path / "b", 7)
    run_cli(tmp_path / "c", 8)
    for name in TABLES:
        a = pd.read_parquet(tmp_path / "a" / f"{name}.parquet")
        b = pd.read_parquet(tmp_path / "b" / f"{name}.parquet")
        pd.testing.assert_frame_equal(a, b, check_exact=True, obj=name)
    a = pd.read_parquet(tmp_path / "a" / "events.parquet")
    c = pd.read_parquet(tmp_path / "c" / "events.parquet")
    assert not a.equals(c), "a different seed gives a different history"


NO_BURN_IN = {"township.burn_in_years": 0}


@pytest.fixture(scope="module")
def scenario():
    # no burn-in: children born in the first years cannot marry within the run, so a lever
    # acting on newborns leaves everything else untouched for its whole length
    return popsim.load_scenario(PARAMS / "core.yaml", NO_BURN_IN)


def paired(scenario, overrides, seed=21, n=6_000, years=8):
    base = popsim.simulate(scenario, seed=seed, n_agents=n, years=years)
    changed = popsim.load_scenario(PARAMS / "core.yaml", NO_BURN_IN | overrides)
    return base, popsim.simulate(changed, seed=seed, n_agents=n, years=years)


def deaths_of_initial(result, n):
    e = result.events
    return e[(e["event"] == "death") & (e["pid"] < n)][["month", "pid"]].reset_index(drop=True)


def test_changing_the_srb_leaves_other_processes_draws_alone(scenario):
    base, changed = paired(scenario, {"demography.srb": 1.30})
    pd.testing.assert_frame_equal(
        deaths_of_initial(base, 6_000),
        deaths_of_initial(changed, 6_000),
        obj="deaths of the initial population",
    )
    cols = ["month", "other", "order"]
    b = base.events[base.events["event"] == "birth"]
    c = changed.events[changed.events["event"] == "birth"]
    pd.testing.assert_frame_equal(
        b[cols].reset_index(drop=True),
        c[cols].reset_index(drop=True),
        obj="who gives birth when (conception has its own stream)",
    )
    assert (c["sex"] == 1).mean() > (b["sex"] == 1).mean(), "the SRB lever itself acted"


def test_changing_migration_leaves_mortality_draws_alone(scenario):
    base, changed = paired(scenario, {"demography.migration.labour_return_rate": 0.8})
    pd.testing.assert_frame_equal(
        deaths_of_initial(base, 6_000),
        deaths_of_initial(changed, 6_000),
        obj="deaths of the initial population",
    )
    assert not base.annual["births"].equals(changed.annual["births"]), (
        "couples apart conceive less: the lever changed births"
    )


def test_shared_streams_would_break_the_pairing(scenario):
    """The control: a different seed moves the deaths, so the tests above can fail."""
    a = popsim.simulate(scenario, seed=21, n_agents=6_000, years=8)
    b = popsim.simulate(scenario, seed=22, n_agents=6_000, years=8)
    da, db = deaths_of_initial(a, 6_000), deaths_of_initial(b, 6_000)
    assert not (len(da) == len(db) and np.array_equal(da.to_numpy(), db.to_numpy()))
