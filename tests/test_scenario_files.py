"""Every scenario file under params/ loads and runs, and its small run adds up."""

from pathlib import Path

import pytest

import popsim
from conftest import PARAMS, SCENARIO_FILES
from popsim.outputs.runner import resize

N_AGENTS, YEARS = 1500, 2

FLOWS = ["births", "deaths", "in_migrants", "out_migrants"]


def test_scenario_files_are_found():
    assert len(SCENARIO_FILES) >= 2, f"expected at least 2 scenario files under {PARAMS}"


@pytest.mark.parametrize(
    "path", SCENARIO_FILES, ids=[p.relative_to(PARAMS).as_posix() for p in SCENARIO_FILES]
)
def test_scenario_file_runs(path: Path):
    scenario = popsim.load_scenario(path)
    result = popsim.simulate(scenario, seed=0, n_agents=N_AGENTS, years=YEARS)

    annual = result.annual
    assert len(annual) == YEARS
    start_year = scenario.township.start_year
    assert annual["year"].tolist() == list(range(start_year, start_year + YEARS))
    assert (annual["population"] > 0).all()

    monthly = result.monthly
    assert monthly["month"].tolist() == list(range(12 * YEARS))
    if scenario.township.burn_in_years == 0:  # else the burn-in has changed it
        assert monthly["population_start"].iloc[0] == N_AGENTS
    by_year = monthly.assign(year=monthly["month"] // 12).groupby("year")
    start = by_year["population_start"].first()
    end = by_year["population"].last()
    flows = by_year[FLOWS].sum()
    expected = (
        start + flows["births"] - flows["deaths"] + flows["in_migrants"] - flows["out_migrants"]
    )
    assert (end == expected).all(), "population_end = start + births - deaths + in - out per year"
    # years chain: each year starts where the previous one ended
    assert (start.iloc[1:].to_numpy() == end.iloc[:-1].to_numpy()).all()
    assert (annual["population"].to_numpy() == end.to_numpy()).all()
    for column in FLOWS:
        assert (annual[column].to_numpy() == flows[column].to_numpy()).all(), column

    # simulate() resizes the scenario: the manifest identifies the scenario actually run
    manifest = result.manifest
    assert manifest["scenario_hash"] == resize(scenario, N_AGENTS, YEARS).digest()
    assert manifest["scenario"] == scenario.name
    assert (manifest["seed"], manifest["n_persons"], manifest["years"]) == (0, N_AGENTS, YEARS)
