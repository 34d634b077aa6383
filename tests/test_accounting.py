"""Stocks and flows add up, and the tables stay internally consistent."""

import numpy as np
import pytest

import popsim
from conftest import PARAMS
from popsim.model import PopsimModel
from popsim.population import FEMALE, MALE, MARRIED
from popsim.runner import collect


@pytest.fixture(scope="module")
def baseline_run():
    scenario = popsim.load_scenario(PARAMS / "baseline.yaml")
    return popsim.simulate(scenario, seed=2, n_agents=8_000, years=12)


def test_population_balances_every_month(baseline_run):
    m = baseline_run.monthly
    change = m["births"] - m["deaths"] + m["in_migrants"] - m["out_migrants"]
    assert (m["population"] == m["population_start"] + change).all(), (
        "population(t+1) = population(t) + births - deaths + in - out must hold every month"
    )
    assert (m["population_start"].iloc[1:].to_numpy() == m["population"].iloc[:-1].to_numpy()).all()
    assert m["in_migrants"].sum() > 0 and m["out_migrants"].sum() > 0, "migration ran"


def test_annual_flows_equal_the_event_log(baseline_run):
    counts = baseline_run.events.groupby(["year", "event"], observed=False).size().unstack()
    a = baseline_run.annual.set_index("year")
    for column, event in [
        ("births", "birth"),
        ("deaths", "death"),
        ("in_migrants", "in_migration"),
        ("out_migrants", "out_migration"),
    ]:
        assert (a[column] == counts[event].reindex(a.index, fill_value=0)).all(), column
    assert (a["births"] == a["births_male"] + a["births_female"]).all()


def test_villages_add_up_to_the_township(baseline_run):
    v = baseline_run.villages.groupby("step")["population"].sum().to_numpy()
    assert (v == baseline_run.monthly["population"].to_numpy()).all()


def test_couples_stay_linked_through_compaction():
    scenario = popsim.load_scenario(PARAMS / "baseline.yaml")
    model = PopsimModel(popsim.runner.resize(scenario, 6_000, 6), seed=4).run()
    p = model.world.persons
    assert model.world.persons.compact(min_retired_share=0.0), "retired rows were dropped"
    assert p.alive.all()
    rows = np.flatnonzero((p.marital == MARRIED) & (p.spouse >= 0))
    spouse = p.spouse[rows]
    assert rows.size > 1000
    assert (p.spouse[spouse] == rows).all(), "spouse of spouse is self"
    assert (p.sex[rows] != p.sex[spouse]).all()
    assert (p.household[rows] == p.household[spouse]).all()
    wives = rows[p.sex[rows] == FEMALE]
    assert (p.sex[p.spouse[wives]] == MALE).all()
    # the tables still produce a consistent result after an explicit compaction
    assert collect(model).annual["population"].iloc[-1] == p.n


def test_parity_equals_sons_plus_daughters_and_the_birth_log(baseline_run):
    births = baseline_run.events[baseline_run.events["event"] == "birth"]
    assert (births["order"] >= 1).all()
    per_mother = births.groupby("other")["order"].agg(["min", "max", "size"])
    # a mother's births in the run have consecutive orders
    assert (per_mother["max"] - per_mother["min"] + 1 == per_mother["size"]).all()
