"""Stocks and flows add up, and the tables stay internally consistent."""

import inspect

import numpy as np
import pandas as pd
import pytest

import popsim
from conftest import PARAMS
from popsim.mechanisms.costs import COST_LINES
from popsim.mechanisms.incentives import LINES
from popsim.model.township import PopsimModel
from popsim.outputs.kpis import SPENDING
from popsim.outputs.runner import collect, resize
from popsim.outputs.statistics import single_women
from popsim.scenario.regime import Costs
from popsim.state.population import FEMALE, MALE, MARRIED, SINGLE, Persons


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
    assert (a["population"] == a["population_male"] + a["population_female"]).all()


def test_villages_add_up_to_the_township(baseline_run):
    v = baseline_run.villages.groupby("step")["population"].sum().to_numpy()
    assert (v == baseline_run.monthly["population"].to_numpy()).all()


def test_couples_stay_linked_through_compaction():
    scenario = popsim.load_scenario(PARAMS / "baseline.yaml")
    model = PopsimModel(popsim.outputs.runner.resize(scenario, 6_000, 6), seed=4).run()
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


SHARE = inspect.signature(Persons.compact).parameters["min_retired_share"].default


def test_retired_rows_are_dropped_over_a_long_run():
    # The rule (Persons.compact, after every December step): with n rows of which `alive` are
    # living, the table is compacted to its living rows when n - alive >= SHARE * n. So right
    # after a year end either n == alive, or n < alive / (1 - SHARE). Between year ends rows
    # are only appended (births, immigrants, external brides: the births and in-migrants of
    # the flows), so within a year n <= n at the last year end + the year's additions so far.
    # Together, at a year end n <= alive / (1 - SHARE) + the year's additions + 1. Dead and
    # emigrated rows never pile up, so the monthly kernels, which scan all n rows, do not slow
    # down as the run goes on.
    scenario = popsim.load_scenario(PARAMS / "baseline.yaml")
    model = PopsimModel(popsim.outputs.runner.resize(scenario, 5_000, 40), seed=1)
    p = model.world.persons
    rows_at_year_end = [p.n]
    added = 0
    while model.running:
        model.step()
        added += model.flows["births"] + model.flows["in_migrants"]
        assert p.n <= rows_at_year_end[-1] + added, f"month {model.world.t - 1}: only appends"
        if model.world.t % 12 == 0:
            alive = int(np.count_nonzero(p.alive))
            year = model.world.t // 12
            assert p.n - alive < SHARE * p.n or p.n == alive, f"year {year}: {p.n}, {alive}"
            assert p.n <= alive / (1 - SHARE) + added + 1, f"year {year}"
            rows_at_year_end.append(p.n)
            added = 0
    assert model.world.t == 12 * 40
    assert len(rows_at_year_end) == 41
    assert np.any(np.diff(rows_at_year_end) < 0), f"never compacted: {rows_at_year_end}"
    # and the table ends close to the living population, not to everyone who ever lived
    assert p.n < p.next_pid * 0.75


# ---- the regime's costs ----------------------------------------------------------------------


def expected_unit_costs(policy) -> dict[str, float]:
    """Yuan per unit of each count, written out from the schema's fields (docs/regime.md §9)."""
    c = policy.costs
    return {
        "cadre_months": c.cadre_monthly_pay,
        "checkup_attended": c.checkup_visit,
        "checkup_targets": c.checkup_chain,
        "iud_inserted": c.iud_insertion,
        "iud_refitted": c.iud_insertion,
        "iud_removed": c.iud_removal,
        "sterilised_female": c.tubal_ligation,
        "sterilised_male": c.vasectomy,
        "remedial_early": c.abortion_early,
        "remedial_late": c.abortion_late,
        "unintended_abortions": c.abortion_early,
        "person_months": c.village_funds / 12,
        "regime_months": c.centre_upkeep * policy.budget.service_centre / 12,
    }


def test_each_cost_line_is_its_counts_times_their_unit_costs(baseline_run):
    scenario = popsim.load_scenario(PARAMS / "baseline.yaml")
    units = expected_unit_costs(scenario.policy)
    m = baseline_run.policy_monthly.fillna(0)
    assert set(COST_LINES) <= set(m.columns), "every cost line is booked every month"
    for line, counts in COST_LINES.items():
        want = sum(m[name] * units[name] for name in counts)
        np.testing.assert_allclose(m[line], want, rtol=1e-12, err_msg=line)
        assert m[line].sum() > 0, f"{line}: the baseline pays for it"
    ch = scenario.policy.checkups
    cadres = scenario.township.n_villages * ch.cadres_per_village
    assert (m["cadre_months"] == cadres).all(), "every cadre is paid every month"
    assert (m["regime_months"] == 1).all()
    population = baseline_run.monthly.set_index("month")["population"]
    assert (m.set_index("month")["person_months"] == population).all(), (
        "the village funds are paid on the registered population at the month's end"
    )
    abortions = baseline_run.events.query("event == 'abortion' and reason == 'remedial'")
    per_month = abortions.groupby("month").size().reindex(m["month"], fill_value=0)
    remedial = (m["remedial_early"] + m["remedial_late"]).to_numpy()
    assert (remedial == per_month.to_numpy()).all(), "every remedial abortion is paid, once"
    assert (m["remedial_measures"] == remedial).all()
    own = baseline_run.events.query("event == 'abortion' and reason == 'unintended'")
    own = own.groupby("month").size().reindex(m["month"], fill_value=0)
    assert (m["unintended_abortions"].to_numpy() == own.to_numpy()).all(), (
        "every couple's own abortion is paid by the free services, once"
    )


def test_totals_add_up_and_the_kpi_table_equals_the_ledger(baseline_run):
    k, m = baseline_run.kpis, baseline_run.policy_monthly.fillna(0)
    lines = [f"yuan_{line}" for line in SPENDING]
    np.testing.assert_allclose(k["spend_total"], k[lines].sum(axis=1), rtol=1e-12)
    np.testing.assert_allclose(
        k["spend_net_of_fees"], k["spend_total"] - k["yuan_fee_collected"], rtol=1e-12
    )
    assert "yuan_hiring_income" not in lines, "an income gain of households is no outlay"
    for line in (*SPENDING, "fee_collected", "fee_levied"):
        assert k[f"yuan_{line}"].sum() == pytest.approx(m[line].sum(), rel=1e-12), line
    assert k["spend_total"].sum() == pytest.approx(m[list(SPENDING)].sum().sum(), rel=1e-12)
    assert (k["yuan_fee_collected"] > 0).any(), "fees are collected, and kept apart"


def small(path, overrides=None, seed=5):
    scenario = popsim.load_scenario(PARAMS / path, overrides or {})
    return popsim.simulate(scenario, seed=seed, n_agents=3_000, years=3)


def test_without_checkups_no_visit_chain_remedial_or_refit_is_paid():
    on, off = small("baseline.yaml"), small("scenarios/no_checkups.yaml")
    gone = [
        "yuan_checkup_visits",
        "yuan_checkup_cadres",
        "yuan_surgery_remedial",
        "checkup_attended",
        "iud_refitted",
    ]
    assert (on.kpis[gone].sum() > 0).all(), "with check-ups every one of these is paid"
    assert (off.kpis[gone] == 0).all().all(), "no round: no visit, no chain, no remedial measure"
    # the cadres are still paid: they still run the LARC campaign (their effort drives it)
    np.testing.assert_array_equal(off.kpis["yuan_cadre_pay"], on.kpis["yuan_cadre_pay"])
    assert (off.kpis["yuan_surgery_iud_insertion"] > 0).all(), "the campaign still inserts IUDs"


def test_unit_costs_are_bookkeeping_only():
    costs = popsim.load_scenario(PARAMS / "baseline.yaml").policy.costs
    base = small("baseline.yaml")
    doubled = small(
        "baseline.yaml",
        {f"policy.costs.{f}": 2 * getattr(costs, f) for f in Costs.model_fields},
    )
    for name in ("events", "annual", "monthly"):
        pd.testing.assert_frame_equal(getattr(base, name), getattr(doubled, name))
    for line in COST_LINES:
        np.testing.assert_array_equal(doubled.kpis[f"yuan_{line}"], 2 * base.kpis[f"yuan_{line}"])
    for line in LINES:  # the incentives and investments do not move
        np.testing.assert_array_equal(doubled.kpis[f"yuan_{line}"], base.kpis[f"yuan_{line}"])


def test_remedial_abortions_are_priced_late_when_rounds_are_rare():
    # With every woman at every round, none hiding, every pregnancy seen and every found one
    # ended, a pregnancy is found at the first round it meets: with a round every 3 months
    # that is in its months 1-3 (early), with a round a year in any month 1-9, mostly later.
    def late_share(interval):
        scenario = popsim.load_scenario(
            PARAMS / "baseline.yaml",
            {
                "policy.checkups.interval_months": interval,
                "policy.checkups.participation": 1.0,
                "policy.checkups.detection": 1.0,
                "policy.checkups.evasion": 0.0,
                "policy.checkups.remedial": 1.0,
            },
        )
        k = popsim.simulate(scenario, seed=2, n_agents=10_000, years=4).kpis
        early, late = k["remedial_early"].sum(), k["remedial_late"].sum()
        assert early + late == k["abortions_remedial"].sum() > 40
        return late / (early + late)

    frequent, rare = late_share(3), late_share(12)
    assert frequent < 0.2, f"rounds every 3 months find pregnancies early: {frequent:.2f} late"
    assert rare > 0.4, f"yearly rounds find most pregnancies after month 3: {rare:.2f} late"


def test_pyramid_counts_residents_and_never_married_of_the_final_state():
    """The last year-end pyramid's residents and never married are the final state's."""
    scenario = popsim.load_scenario(PARAMS / "baseline.yaml")
    model = PopsimModel(resize(scenario, 3_000, 2), seed=4)
    model.run()
    pyramid = collect(model).pyramid
    last = pyramid[pyramid["year"] == pyramid["year"].max()].groupby("sex")
    p = model.world.persons
    present = p.alive & ~p.away
    for sex, counts in last:
        mine = present & (p.sex == sex)
        assert counts["persons"].sum() == np.count_nonzero(p.alive & (p.sex == sex))
        assert counts["residents"].sum() == np.count_nonzero(mine)
        assert counts["never_married"].sum() == np.count_nonzero(mine & (p.marital == SINGLE))
    children = pyramid[pyramid["age_group"].isin(["0-4", "5-9"])]
    assert (children["never_married"] == children["residents"]).all()
    assert (pyramid["residents"] < pyramid["persons"]).any(), "some are away"


def test_single_women_shares_pool_the_year_ends():
    """Each share is never married over residents, women only, pooled over the window."""
    rows = []
    for year, (res, single) in {2009: (100, 60), 2010: (300, 120), 2011: (200, 40)}.items():
        for sex, factor in ((FEMALE, 1), (MALE, 2)):
            rows.append((year, "25-29", sex, res * factor, res * factor, single))
    pyramid = pd.DataFrame(
        rows, columns=["year", "age_group", "sex", "persons", "residents", "never_married"]
    )
    assert single_women(pyramid) == {"single_women_25_29": pytest.approx(220 / 600)}
    assert single_women(pyramid.drop(columns="never_married")) == {}
