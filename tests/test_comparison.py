"""Scenario comparison: paired intervals, births averted, cost per birth averted, pooling."""

import math
import re

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from popsim.analysis import comparison, intervals
from popsim.outputs import replicates
from popsim.outputs.kpis import SPENDING

# Student t quantiles (two-sided 95 %), from standard tables.
T975 = {1: 12.706204736, 2: 4.302652730, 4: 2.776445105, 10: 2.228138852, 30: 2.042272456}


@pytest.mark.parametrize("df", sorted(T975))
def test_t975_matches_tables_and_paired_interval_uses_it(df):
    assert intervals.t975(df) == pytest.approx(T975[df], rel=1e-7)
    reference = pd.Series(np.zeros(df + 1))
    scenario = pd.Series(np.arange(df + 1, dtype=float))  # differences 0..df, sd known
    mean, low, high = intervals.paired_interval(scenario, reference)
    half = T975[df] * scenario.std() / math.sqrt(df + 1)
    assert (mean, low, high) == pytest.approx((df / 2, df / 2 - half, df / 2 + half), rel=1e-7)


def test_t975_floors_degrees_of_freedom_at_one_and_passes_nan():
    assert intervals.t975(0.4) == pytest.approx(T975[1], rel=1e-7)
    assert math.isnan(intervals.t975(math.nan))


def summary_of(reference, scenario, name="scenario", **columns):
    """A summarise()-shaped frame from per-seed arrays of one indicator ``x``."""
    n = len(reference)
    rows = pd.DataFrame(
        {
            "scenario": ["ref"] * n + [name] * len(scenario),
            "seed": list(range(n)) + list(range(len(scenario))),
            "x": np.concatenate([reference, scenario]),
        }
    )
    for key, (ref_values, scen_values) in columns.items():
        rows[key] = np.concatenate([ref_values, scen_values])
    return rows


def test_paired_interval_has_the_known_answer_and_beats_welch():
    # Scenario = reference + 5 + noise of exactly +-0.1: the per-seed differences are
    # 5 +- 0.1, so their mean is 5 and their sd is 0.1 * sqrt(n / (n - 1)).
    n = 20
    reference = np.random.default_rng(1).normal(100, 10, n)
    scenario = reference + 5 + np.tile([0.1, -0.1], n // 2)
    table = comparison.difference_table(summary_of(reference, scenario), "x", "ref")
    row = table.loc["scenario"]
    half = T975_19 * 0.1 * math.sqrt(n / (n - 1)) / math.sqrt(n)
    assert row["difference"] == pytest.approx(5)
    assert row["paired_low"] == pytest.approx(5 - half, rel=1e-6)
    assert row["paired_high"] == pytest.approx(5 + half, rel=1e-6)
    assert row["welch_low"] < 5 < row["welch_high"]
    # Welch sees two samples of sd ~10: its half-width is ~ t * 10 * sqrt(2 / n) ~ 6.5,
    # against the paired ~0.05; common random numbers are what make the pairs this tight.
    assert row["width_ratio"] > 50, "pairing by seed should remove the between-seed variance"
    assert row["seeds"] == n


T975_19 = 2.093024054


def test_welch_interval_matches_the_textbook_formula():
    a = pd.Series([1.0, 2.0, 4.0, 7.0])
    b = pd.Series([0.0, 1.0, 1.5])
    va, vb = a.var() / 4, b.var() / 3
    df = (va + vb) ** 2 / (va**2 / 3 + vb**2 / 2)
    half = stats.t.ppf(0.975, df) * math.sqrt(va + vb)
    mean, low, high = comparison.welch_interval(a, b)
    assert mean == pytest.approx(a.mean() - b.mean())
    assert (low, high) == pytest.approx((mean - half, mean + half))


def test_pairs_use_only_the_seeds_both_scenarios_have():
    rows = pd.DataFrame(
        {"scenario": ["ref"] * 3 + ["s"] * 3, "seed": [0, 1, 2, 1, 2, 3], "x": [1, 2, 3, 4, 5, 6]}
    )
    table = comparison.difference_table(rows, "x", "ref")
    assert table.loc["s", "seeds"] == 2
    assert table.loc["s", "difference"] == pytest.approx(2)  # (4 - 2 + 5 - 3) / 2
    rows["seed"] = [0, 1, 2, 3, 4, 5]
    with pytest.raises(ValueError, match="shares no seed"):
        comparison.difference_table(rows, "x", "ref")
    with pytest.raises(ValueError, match="'nope' is not in"):
        comparison.difference_table(rows, "x", "nope")


def test_one_replicate_gives_no_interval():
    table = comparison.difference_table(summary_of([1.0], [2.0]), "x", "ref")
    assert table.loc["scenario", "difference"] == 1
    assert np.isnan(table.loc["scenario", ["paired_low", "welch_high"]].astype(float)).all()


def cost_summary(ref_births, scen_births, ref_spend, scen_spend, **columns):
    """Births and the gross cost (``spend_total``) per seed, and any other columns."""
    return summary_of(
        np.zeros(len(ref_births)),
        np.zeros(len(scen_births)),
        births=(np.asarray(ref_births, float), np.asarray(scen_births, float)),
        spend_total=(np.asarray(ref_spend, float), np.asarray(scen_spend, float)),
        **{k: (np.asarray(r, float), np.asarray(v, float)) for k, (r, v) in columns.items()},
    )


def test_births_averted_and_cost_on_a_hand_built_table():
    # Births averted per seed: 10, 9, 11 (mean 10); extra spend 500, 450, 550 (mean 500):
    # 50 yuan per birth averted. Extra spend is exactly 50 x births averted seed by seed,
    # so the paired (Fieller) interval shrinks to the point 50.
    rows = cost_summary([100, 110, 120], [90, 101, 109], [1000] * 3, [1500, 1450, 1550])
    averted = comparison.difference_table(rows, "births_averted", "ref").loc["scenario"]
    assert averted["reference"] == 0
    assert averted["difference"] == pytest.approx(10)
    half = T975[2] * 1 / math.sqrt(3)  # sd of (10, 9, 11) is 1
    assert (averted["paired_low"], averted["paired_high"]) == pytest.approx((10 - half, 10 + half))

    cost = comparison.cost_table(rows, "ref").loc["scenario"]
    assert cost["extra_spend"] == pytest.approx(500)
    assert cost["births_averted"] == pytest.approx(10)
    assert cost["cost_per_birth_averted"] == pytest.approx(50)
    assert (cost["paired_low"], cost["paired_high"]) == pytest.approx((50, 50), abs=1e-6)
    # Unpaired, the between-seed spread of births (100..120) swamps the 10 averted.
    assert np.isnan(cost["welch_low"]) or cost["welch_high"] - cost["welch_low"] > 10
    assert cost["note"] == "" or "Welch" in cost["note"]


def test_cost_per_birth_averted_uses_the_gross_cost_and_shows_the_net_apart():
    # A scenario averts 10 births a seed for 500 more gross cost; the reference collects
    # 800 a seed of fines on its extra births, so the net difference is 1300.
    # Gross: 500 / 10 = 50 yuan a birth averted; net: 1300 / 10 = 130.
    rows = cost_summary(
        [100, 110, 120],
        [90, 100, 110],
        [1000, 1000, 1000],
        [1500, 1500, 1500],
        spend_net_of_fees=([200, 200, 200], [1500, 1500, 1500]),
    )
    cost = comparison.cost_table(rows, "ref").loc["scenario"]
    assert cost["extra_spend"] == pytest.approx(500), "the extra cost is the gross cost's"
    assert cost["cost_per_birth_averted"] == pytest.approx(50)
    assert cost["extra_spend_net"] == pytest.approx(1300), "the net is shown apart"
    assert cost["cost_per_birth_averted_net"] == pytest.approx(130)
    # Fee revenue can turn the net difference negative while the gross one is positive: the
    # gross ratio must not change sign because the reference collected more fines.
    rows = cost_summary(
        [100, 110, 120],
        [90, 100, 110],
        [1000] * 3,
        [1500] * 3,
        spend_net_of_fees=([3000] * 3, [1500] * 3),
    )
    cost = comparison.cost_table(rows, "ref").loc["scenario"]
    assert cost["cost_per_birth_averted"] == pytest.approx(50)
    assert cost["cost_per_birth_averted_net"] == pytest.approx(-150)
    assert "saves money" not in cost["note"], "the gross cost rises: nothing is saved"


@pytest.mark.parametrize("scen_births", [[100, 110, 120], [101, 112, 121]])
def test_no_births_averted_means_no_cost_per_birth(scen_births):
    rows = cost_summary([100, 110, 120], scen_births, [1000] * 3, [1500] * 3)
    cost = comparison.cost_table(rows, "ref").loc["scenario"]
    assert cost["births_averted"] <= 0
    assert np.isnan(cost["cost_per_birth_averted"])
    assert np.isnan(
        cost[["paired_low", "paired_high", "welch_low", "welch_high"]].astype(float)
    ).all()
    assert cost["note"] == "no births averted: not defined"


def test_cost_interval_is_unbounded_when_births_averted_may_be_zero():
    # Births averted 5, -3, 4: positive on average, but its interval covers 0.
    rows = cost_summary([100, 100, 100], [95, 103, 96], [0] * 3, [60, 40, 50])
    cost = comparison.cost_table(rows, "ref").loc["scenario"]
    assert cost["cost_per_birth_averted"] == pytest.approx(50 / 2)
    assert np.isnan(cost["paired_low"]) and "unbounded" in cost["note"]


def test_ratio_interval():
    assert comparison.ratio_interval(6.0, 3.0, 0.0, 0.0, 0.0, 2.0) == pytest.approx((2, 2))
    low, high = comparison.ratio_interval(6.0, 3.0, 0.5, 0.1, 0.0, 2.0)
    assert low < 2 < high
    assert all(map(math.isnan, comparison.ratio_interval(6.0, 3.0, 0.5, 4.0, 0.0, 2.0)))


def tables_of(seed_births):
    """Stacked tables of one scenario, two years, with hand-checkable sums."""
    rows = []
    for seed, births in seed_births.items():
        for year, b in zip((2009, 2010), births, strict=True):
            rows.append((seed, year, b, b // 2, b - b // 2, 1000.0, 3000))
    annual = pd.DataFrame(
        rows,
        columns=[
            "seed",
            "year",
            "births",
            "births_male",
            "births_female",
            "person_years",
            "population",
        ],
    ).assign(cbr=0.0, tfr=0.0, srb=0.0)
    # Women aged 20 and 21 only: 100 and 50 woman-years each year, rates chosen per year.
    exposure = pd.DataFrame(
        [
            (seed, year, sex, age, py if sex == 0 else 7.0)
            for seed in seed_births
            for year in (2009, 2010)
            for sex in (0, 1)
            for age, py in ((20, 100.0), (21, 50.0))
        ],
        columns=["seed", "year", "sex", "age", "person_years"],
    )
    asfr = pd.DataFrame(
        [(seed, 2009, 0.1, 0.2) for seed in seed_births]
        + [(seed, 2010, 0.3, 0.0) for seed in seed_births],
        columns=["seed", "year", "20", "21"],
    )
    kpis = annual[["seed", "year", "births"]].assign(
        births_out_of_plan=1,
        births_reported=annual["births"] - 1,
        births_out_of_plan_reported=0,
        spend_total=100.0,
        yuan_fee_collected=20.0,
        spend_net_of_fees=80.0,
        abortions_remedial=3,
        abortions_sex_selective=1,
        abortions_unintended=4,
    )
    return {"annual": annual, "asfr": asfr, "exposure": exposure, "kpis": kpis}


def test_per_seed_pools_over_years():
    row = comparison.per_seed(tables_of({0: (10, 30)})).loc[0]
    assert row["cbr"] == pytest.approx(1000 * 40 / 2000)
    # Age 20: (0.1 * 100 + 0.3 * 100) / 200 = 0.2; age 21: (0.2 * 50 + 0) / 100 = 0.1.
    assert row["tfr"] == pytest.approx(0.3)
    assert row["srb"] == pytest.approx(100 * (5 + 15) / (5 + 15))
    assert row["births_out_of_plan"] == 2
    assert row["compliance_true"] == pytest.approx(1 - 2 / 40)
    assert row["compliance_reported"] == pytest.approx(1.0)
    assert row["spend_total"] == 200
    assert row["fee_revenue"] == 40
    assert row["spend_net_of_fees"] == 160
    assert row["abortions_remedial"] == 6
    assert row["abortions_sex_selective"] == 2
    assert row["abortions_unintended"] == 8


def test_per_seed_leaves_a_kpi_column_written_before_it_existed_empty():
    tables = tables_of({0: (10, 30)})
    tables["kpis"] = tables["kpis"].drop(columns="abortions_unintended")
    row = comparison.per_seed(tables).loc[0]
    assert np.isnan(row["abortions_unintended"])
    assert row["abortions_remedial"] == 6, "the other indicators are still read"


def test_summarise_and_tables_cover_every_scenario():
    batch = {
        "ref": tables_of({0: (10, 30), 1: (12, 28)}),
        "s": tables_of({0: (9, 29), 1: (11, 27)}),
    }
    summary = comparison.summarise(batch)
    assert list(summary.columns) == ["scenario", "seed", *comparison.INDICATORS]
    tables = comparison.comparison_tables(summary, "ref")
    assert list(tables) == list(comparison.TABLES)
    assert tables["births_averted"].loc["s", "difference"] == pytest.approx(2)
    cost = tables["cost_per_birth_averted"].loc["s"]
    assert cost["cost_per_birth_averted"] == 0  # same spending, 2 births averted per seed
    assert cost[["paired_low", "welch_high"]].tolist() == [0, 0]  # no spread at all
    text = comparison.headline(tables).loc["s", "births"]
    assert text.startswith("-2 [")
    assert not re.search(r"-0(\.0*)?(?![0-9.])", comparison.headline(tables).to_string())


def test_cost_lines_show_every_line_the_totals_and_paired_changes():
    def with_lines(tables, cadres, visits):
        k = tables["kpis"].assign(yuan_cadre_pay=cadres, yuan_checkup_visits=visits)
        k["spend_total"] = k["yuan_cadre_pay"] + k["yuan_checkup_visits"]
        k["spend_net_of_fees"] = k["spend_total"] - k["yuan_fee_collected"]
        return tables | {"kpis": k}

    ref = with_lines(tables_of({0: (10, 30), 1: (12, 28)}), 60.0, 40.0)
    off = with_lines(tables_of({0: (11, 31), 1: (13, 29)}), 60.0, 0.0)  # check-ups abolished
    table = comparison.cost_lines({"off": off, "ref": ref}, "ref")
    assert list(table.columns) == ["ref", "off - ref"]
    assert list(table.index) == [*SPENDING, *comparison.COST_TOTALS]
    # two years a seed: cadres 120, visits 80, gross 200, fees 40, net 160
    assert table.loc["cadre_pay"].tolist() == [120, 0]
    assert table.loc["checkup_visits"].tolist() == [80, -80]
    assert table.loc["total (gross cost)"].tolist() == [200, -80]
    assert table.loc["fee revenue"].tolist() == [40, 0]
    assert table.loc["net of fee revenue"].tolist() == [160, -80]
    assert table.loc[list(SPENDING)].sum().tolist() == table.loc["total (gross cost)"].tolist()
    assert (table.loc["health_fee"] == 0).all(), "a line nobody paid is shown as 0"


def test_trajectory_bands():
    frame = pd.DataFrame(
        {"seed": [0, 1, 2, 0, 1, 2], "year": [1] * 3 + [2] * 3, "x": [1, 2, 6, 4, 4, 4]}
    )
    out = comparison.trajectory(frame, "x").set_index("year")
    assert out.loc[1, ["mean", "low", "high", "n"]].tolist() == [3, 1, 6, 3]
    ci = comparison.trajectory(frame, "x", band="ci").set_index("year")
    assert ci.loc[2, "low"] == ci.loc[2, "high"] == 4
    assert ci.loc[1, "high"] - 3 == pytest.approx(T975[2] * math.sqrt(7) / math.sqrt(3))


def test_read_batch_reads_scenario_folders_only(tmp_path, params_dir):
    req = replicates.request(params_dir / "baseline.yaml", n_agents=400, years=1, replicates=2)
    replicates.run(req, tmp_path / "baseline")
    (tmp_path / "logs").mkdir()
    batch = replicates.read_batch(tmp_path, comparison.NEEDED)
    assert list(batch) == ["baseline"]
    assert set(batch["baseline"]) == set(comparison.NEEDED)
    assert batch["baseline"]["annual"]["seed"].unique().tolist() == [0, 1]
    with pytest.raises(ValueError, match="'other' is not in the batch"):
        comparison.order(batch, "other")
    with pytest.raises(FileNotFoundError, match="no scenario output"):
        replicates.read_batch(tmp_path / "logs")
