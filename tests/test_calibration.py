"""Calibration: targets, the loss, an analytic fit, the executors, resumption, bad files."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from pandas.testing import assert_frame_equal

import popsim
from conftest import PARAMS, ROOT
from popsim.calibration.fit import calibrate, read_fit
from popsim.calibration.report import Fit, fitted_yaml
from popsim.calibration.spec import load_calibration
from popsim.calibration.targets import (
    CalibrationError,
    Target,
    load_targets,
    loss,
    pooled_variance,
    zscores,
)
from popsim.cli import main as cli_main
from popsim.outputs.statistics import STATISTICS, statistics
from popsim.scenario.timeline import OWN_PAST

TARGETS = PARAMS / "calibration" / "targets.yaml"
TRUTH = {"a": 0.3, "b": 0.6}


def plane(scenario, seed, overrides, n_agents, years, outputs):
    """A run function whose figures are known: a + b and a - b (the seed is ignored)."""
    a, b = overrides["a"], overrides["b"]
    return {"total": a + b, "difference": a - b}


NOISE = {"total": 0.01, "difference": 0.1}  # sd of one run's figure: the second is 4 target sd


def noisy_plane(scenario, seed, overrides, n_agents, years, outputs):
    """:func:`plane` plus noise of known sd: half of its variance shared by every parameter set
    on a seed (what common random numbers share), half the set's own."""
    a, b = overrides["a"], overrides["b"]
    shared = np.random.default_rng([seed, 1]).standard_normal(2)
    own = np.random.default_rng([seed, 2, int(a * 1e12), int(b * 1e12)]).standard_normal(2)
    e = np.sqrt(0.5) * (shared + own)
    return {
        "total": a + b + NOISE["total"] * e[0],
        "difference": a - b + NOISE["difference"] * e[1],
    }


def true_loss(a: float, b: float) -> float:
    """The plane's loss at the model's expected figures (the noise has mean 0)."""
    return 3200 * ((a - 0.3) ** 2 + (b - 0.6) ** 2)


def slow_plane(scenario, seed, overrides, n_agents, years, outputs):
    """:func:`plane`, taking a tenth of a second, so that a kill lands mid-calibration."""
    time.sleep(0.1)
    return plane(scenario, seed, overrides, n_agents, years, outputs)


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


# Targets centred on TRUTH, each 0.1 wide (sd 0.025): the loss of (a, b) is
# ((a + b - 0.9)^2 + (a - b + 0.3)^2) / 0.025^2 = 3200 * ((a - 0.3)^2 + (b - 0.6)^2).
PLANE_TARGETS = """targets:
  total: {low: 0.85, high: 0.95, source: a + b at the truth}
  difference: {low: -0.35, high: -0.25, source: a - b at the truth}
"""


def plane_calibration(folder: Path, model: str = "test_calibration:plane", **fields) -> Path:
    write(folder, "plane_targets.yaml", PLANE_TARGETS)
    spec = {
        "model": model,
        "targets": "plane_targets.yaml",
        "parameters": {"a": {"low": 0, "high": 1}, "b": {"low": 0, "high": 1}},
        "trials": 60,
        "batch": 4,
        "startup_trials": 12,
        "replicates": 2,
        "check_replicates": 2,
        "seed": 11,
    } | fields
    return write(folder, "plane.yaml", yaml.safe_dump(spec))


# --- targets and the loss ------------------------------------------------------------------


def test_target_file_names_only_statistics_and_every_one_is_computed():
    targets = load_targets(TARGETS)
    assert [t.name for t in targets] == list(STATISTICS), "every figure has a target, in order"
    result = popsim.simulate(popsim.load_scenario(PARAMS / "baseline.yaml"), seed=0, n_agents=3000)
    figures = statistics(result)
    assert list(figures) == list(STATISTICS)
    assert all(np.isfinite(v) for v in figures.values())
    core = statistics(popsim.simulate(popsim.load_scenario(PARAMS / "core.yaml"), n_agents=500))
    regime = {"tfr_reported", "unreported_share", "fee_collection_rate", "compliance_true"}
    assert not regime & set(core), "without the regime there is no registration, fee or plan"
    assert {"cbr", "tfr_true", "srb"} <= set(core)


def test_birth_order_targets_contain_the_rural_anhui_census_figures():
    """The order mix and the SRB of 3rd+ births, derived from the packaged census table."""
    from importlib.resources import files

    table = (
        files("popsim.scenario")
        / "data"
        / "china_provinces_2010_census_births_by_residence_sex_order.csv"
    )
    census = pd.read_csv(table)
    row = census[(census["residence"] == "rural") & (census["province"] == "Anhui")].iloc[0]
    later = [f"order{k}" for k in ("3", "4", "5plus")]
    boys = sum(row[f"{o}_male"] for o in later)
    girls = sum(row[f"{o}_female"] for o in later)
    assert boys + girls == sum(row[f"{o}_total"] for o in later) == 1724
    figures = {
        "share_order_2": row["order2_total"] / row["births_total"],
        "share_order_3plus": (boys + girls) / row["births_total"],
        "srb_order_3plus": 100 * boys / girls,
        "srb_order_2": row["order2_srb"],
        "srb": row["srb_total"],
    }
    targets = {t.name: t for t in load_targets(TARGETS)}
    for name, value in figures.items():
        assert targets[name].low <= value <= targets[name].high, (name, value)
    assert "rural Anhui 2010" in targets["share_order_3plus"].source


def test_dated_figures_equal_the_annual_tables_of_their_year():
    from popsim.outputs.statistics import dated

    result = popsim.simulate(
        popsim.load_scenario(PARAMS / "baseline.yaml"), seed=3, n_agents=3000, years=8
    )
    annual = result.annual.set_index("year")
    names = [f"{f}@{y}" for f in ("births_index", "srb", "tfr_true", "cbr") for y in (2012, 2016)]
    figures = dated(result, [*names, "srb@2030"])
    base = annual.loc[2010:2014, "births"]
    assert len(base) == 5
    for year in (2012, 2016):
        row = annual.loc[year]
        index = 100 * row["births"] / base.mean()
        assert figures[f"births_index@{year}"] == pytest.approx(index)
        assert figures[f"srb@{year}"] == pytest.approx(
            100 * row["births_male"] / row["births_female"]
        )
        assert figures[f"tfr_true@{year}"] == pytest.approx(row["tfr"])
        assert figures[f"cbr@{year}"] == pytest.approx(row["cbr"])
    assert np.isnan(figures["srb@2030"]), "a year the run does not reach"
    births = result.events[(result.events["event"] == "birth") & (result.events["year"] == 2016)]
    shares = dated(result, ["share_order_2@2016", "share_order_3plus@2016"])
    assert shares["share_order_2@2016"] == (births["order"] == 2).mean()
    assert shares["share_order_3plus@2016"] == (births["order"] >= 3).mean()
    history = load_targets(PARAMS / "calibration" / "history_targets.yaml")
    assert {t.name.split("@")[1] for t in history if t.name.startswith("births_index")} == {
        str(y) for y in range(2010, 2023)
    }
    short = popsim.simulate(
        popsim.load_scenario(PARAMS / "baseline.yaml"), seed=3, n_agents=1000, years=4
    )
    assert np.isnan(dated(short, ["births_index@2011"])["births_index@2011"]), (
        "a run without every base year has no index"
    )


def test_loss_is_the_sum_of_squared_z_scores_of_the_range_read_as_two_sd():
    targets = (Target("x", "", 10.0, 14.0, ""), Target("y", "", 0.0, 1.0, ""))
    assert zscores({"x": 12.0, "y": 0.5}, targets) == {"x": 0.0, "y": 0.0}
    assert zscores({"x": 14.0, "y": 0.0}, targets) == {"x": 2.0, "y": -2.0}  # the range's ends
    assert loss({"x": 13.0, "y": 1.25}, targets) == pytest.approx(1.0**2 + 3.0**2)
    assert np.isnan(loss({"x": 13.0}, targets)), "a missing figure has no loss"


def test_analytic_fit_recovers_the_truth_and_scores_every_trial_exactly(tmp_path):
    fit = calibrate(
        plane_calibration(tmp_path), tmp_path / "out", workers=1, progress=False, echo=None
    )
    trials = fit.trials
    assert len(trials) == 60 and (trials["state"] == "complete").all()
    exact = 3200 * ((trials["a"] - 0.3) ** 2 + (trials["b"] - 0.6) ** 2)
    np.testing.assert_allclose(trials["loss"], exact, rtol=1e-9, atol=1e-9)
    for name, truth in TRUTH.items():
        assert fit.fitted[name] == pytest.approx(truth, abs=0.03), name
    assert fit.fit["within"].all(), fit.fit
    (tmp_path / "r").mkdir()
    path = plane_calibration(tmp_path / "r", sampler="random")
    random = calibrate(path, tmp_path / "random", workers=1, progress=False, echo=None)
    assert trials["loss"].min() < random.trials["loss"].min() / 3, "TPE beats random search"
    near = fit.parameters.set_index("parameter")
    inside = trials[trials["loss"] <= trials["loss"].min() + 5.991]  # chi-square 0.95, 2 d.f.
    assert (near["near_trials"] == len(inside)).all()
    assert near["near_low"].to_dict() == inside[["a", "b"]].min().to_dict()
    assert near["near_high"].to_dict() == inside[["a", "b"]].max().to_dict()


def test_variance_aware_loss_recovers_a_noisy_truth_where_the_plain_loss_overfits(tmp_path):
    """Known truth plus noise of known variance, fitted with racing and adoption."""
    path = plane_calibration(
        tmp_path,
        model="test_calibration:noisy_plane",
        trials=120,
        batch=8,
        startup_trials=16,
        rungs=[{"keep": 12, "replicates": 6}, {"keep": 4, "replicates": 16}],
        candidates=3,
        check_replicates=8,
    )
    fit = calibrate(path, tmp_path / "out", workers=1, progress=False, echo=None)
    assert fit.ran == 120 * 2 + 12 * 4 + 4 * 10 + 3 * 8
    # The adopted values are the truth within 3 standard errors of the estimate: it sets the
    # model's means over its n seeds to the targets, so a = (total + difference) / 2 carries
    # sd sqrt(sum of noise variances / n) / 2, and so does b.
    won = fit.adopted
    se = np.sqrt(sum(sd**2 for sd in NOISE.values()) / won["search_seeds"]) / 2
    assert won["search_seeds"] == 16
    for name, truth in TRUTH.items():
        assert abs(fit.fitted[name] - truth) < 3 * se, (name, fit.fitted[name], se)
    # The same trials ranked by the plain loss of two seeds: the best looks far better than
    # its values can do on two other seeds (expected: true loss + noise variance / (2 sd^2)).
    runs = pd.concat(pd.read_parquet(p) for p in (fit.out / "runs").glob("*.parquet"))
    two = runs[runs["replicate"] < 2].groupby("point")[["a", "b", "total", "difference"]].mean()
    targets = load_targets(tmp_path / "plane_targets.yaml", known=None)
    plain = two.apply(lambda row: loss(row.to_dict(), targets), axis=1)
    a, b = two.loc[plain.idxmin(), ["a", "b"]]
    expected = true_loss(a, b) + sum(sd**2 / (2 * 0.025**2) for sd in NOISE.values())
    assert plain.min() < expected - 6, (plain.min(), expected)


def test_started_at_the_truth_a_calibration_adopts_nothing_worse_out_of_sample(tmp_path):
    path = plane_calibration(
        tmp_path,
        model="test_calibration:noisy_plane",
        trials=48,
        batch=8,
        startup_trials=16,
        rungs=[{"keep": 8, "replicates": 6}],
        candidates=3,
        check_replicates=8,
        start=TRUTH,
    )
    fit = calibrate(path, tmp_path / "out", workers=1, progress=False, echo=None)
    table = fit.candidates
    assert table["candidate"].iloc[0] == "start" and (table["trial"].iloc[0] == 0)
    assert fit.trials.loc[0, ["a", "b"]].to_dict() == TRUTH, "the start is trial 0"
    assert fit.adopted["fresh_loss"] == table["fresh_loss"].min() <= table["fresh_loss"].iloc[0]

    # On 32 other seeds, the adopted values do no worse than the start beyond the paired
    # difference's standard error.
    def figures(values: dict, seeds) -> list[dict]:
        return [noisy_plane(None, s, values, None, None, None) for s in seeds]

    targets = load_targets(tmp_path / "plane_targets.yaml", known=None)
    seeds = range(10_000, 10_032)
    adopted, start = figures(fit.fitted, seeds), figures(TRUTH, seeds)

    def gap(keep: list[int]) -> float:
        def plain(runs: list[dict]) -> float:
            kept = [runs[i] for i in keep]
            return loss({k: np.mean([r[k] for r in kept]) for k in kept[0]}, targets)

        return plain(adopted) - plain(start)

    n = len(seeds)
    whole = gap(list(range(n)))
    leave_out = np.array([gap([i for i in range(n) if i != j]) for j in range(n)])
    se = np.sqrt((n - 1) / n * ((leave_out - leave_out.mean()) ** 2).sum())
    assert whole <= 2 * se + 1e-12, (whole, se, fit.fitted)


def test_pooled_variance_is_the_variance_within_parameter_sets():
    """Sets with different means and seeds: the pooled variance is the noise's, within its
    chi-square sampling error; one seed per set leaves no degree of freedom."""
    from scipy import stats

    targets = (Target("x", "", 0.0, 1.0, ""),)
    rng = np.random.default_rng(5)
    groups = [
        [{"x": m + 0.3 * z} for z in rng.standard_normal(n)]
        for m, n in zip(rng.uniform(0, 10, 60), rng.integers(1, 8, 60), strict=True)
    ]
    variance, freedom = pooled_variance(groups, targets)
    assert freedom == sum(len(g) - 1 for g in groups)
    low, high = stats.chi2.ppf([0.0005, 0.9995], freedom) / freedom
    assert low < variance["x"] / 0.09 < high
    assert pooled_variance([[{"x": 1.0}]] * 5, targets) == ({"x": 0.0}, 0)
    assert zscores({"x": 1.0}, targets, {"x": 0.0625 * 3}) == {"x": pytest.approx(1.0)}


def test_more_trials_continue_a_finished_calibration(tmp_path):
    path = plane_calibration(tmp_path, trials=10)
    first = calibrate(path, tmp_path / "out", workers=1, progress=False, echo=None)
    path.write_text(path.read_text().replace("trials: 10", "trials: 20"))
    more = calibrate(path, tmp_path / "out", workers=1, progress=False, echo=None)
    assert 20 <= more.ran <= 26, "the 10 new trials' 20 runs, and fresh runs of new candidates"
    near = ["near_best"]  # relative to the best trial so far
    assert_frame_equal(
        more.trials.head(10).drop(columns=near), first.trials.drop(columns=near), check_exact=True
    )
    fresh = calibrate(path, tmp_path / "fresh", workers=1, progress=False, echo=None)
    assert_frame_equal(more.trials, fresh.trials, check_exact=True)
    assert more.fitted == fresh.fitted


def test_local_processes_and_dask_give_the_same_calibration(tmp_path, dask_client):
    path = plane_calibration(tmp_path, trials=16)
    serial = calibrate(path, tmp_path / "serial", workers=1, progress=False, echo=None)
    local = calibrate(path, tmp_path / "local", workers=2, progress=False, echo=None)
    dask = calibrate(path, tmp_path / "dask", scheduler=dask_client, progress=False, echo=None)
    assert "Dask" in dask.executor and local.executor == "2 local processes"
    for other in (local, dask):
        assert_frame_equal(other.trials, serial.trials, check_exact=True)
        assert_frame_equal(other.fit, serial.fit, check_exact=True)
        assert other.fitted == serial.fitted


def _cli(args: list[str]) -> list[str]:
    code = f"import sys; from popsim.cli import main; sys.exit(main({args!r}))"
    return [sys.executable, "-c", code]


def test_killed_calibration_resumes_without_rerunning_finished_runs(tmp_path):
    path = plane_calibration(tmp_path, model="test_calibration:slow_plane", trials=12, batch=4)
    out = tmp_path / "killed"
    runs, checks = out / "runs", out / "checks"
    env = os.environ | {"PYTHONPATH": str(ROOT / "tests")}
    with open(tmp_path / "first.log", "w") as log:
        proc = subprocess.Popen(
            _cli(["calibrate", str(path), "--out", str(out), "--workers", "2"]),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=ROOT,
            env=env,
        )
        deadline = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline:
            if checks.is_dir() and len(list(checks.glob("run=*.json"))) >= 10:
                break
            time.sleep(0.02)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    # a run is done once its check is written: one killed between its file and its check is
    # run again (the rerun says so), so only checked runs count as done
    first = {
        p.name: p.stat().st_mtime_ns
        for p in runs.glob("run=*.parquet")
        if (checks / f"{p.stem}.json").is_file()
    }
    assert 10 <= len(first) < 24, f"the kill came when {len(first)} of 24 runs were done"

    again = subprocess.run(
        _cli(["calibrate", str(path), "--out", str(out), "--workers", "2", "--quiet"]),
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=300,
    )
    assert again.returncode == 0, again.stderr
    assert f"{len(first)} runs already done" in again.stdout
    assert f"{24 - len(first) + 6} runs now" in again.stdout  # the rest, 3 candidates x 2 seeds
    for name, mtime in first.items():
        assert (runs / name).stat().st_mtime_ns == mtime, f"{name} was run again"
    whole = calibrate(path, tmp_path / "whole", workers=1, progress=False, echo=None)
    resumed = read_fit(out)
    assert_frame_equal(resumed.trials, whole.trials, check_exact=True)
    assert resumed.fitted == whole.fitted


# --- the real model ------------------------------------------------------------------------


def test_real_model_recovers_a_known_failure_scale(tmp_path):
    """Targets made by the model itself at failure_scale 2.0 are fitted back to it from a
    start far from it (4.5), so that adopting the start cannot pass.

    Methods' failures make the unintended pregnancies and their abortions, which pin the
    scale sharply. (Son preference, which this test once recovered, is pinned too weakly by
    a small township's SRB over 3 years since the initial wishes agree with the histories:
    the baseline's own fit leaves it at 0.60-0.80 near-best.)
    """
    start = 4.5
    baseline = write(
        tmp_path,
        "far.yaml",
        yaml.safe_dump(
            {
                "extends": str(PARAMS / "baseline.yaml"),
                "policy": {"contraception": {"failure_scale": start}},
            }
        ),
    )
    size = {"n_agents": 4000, "years": 3}
    names = ["unintended_share", "abortion_ratio", "unintended_aborted", "tfr_true"]
    from popsim.sweeps.design import run_seed

    truth = [
        popsim.sweeps.executors.run_one(
            baseline,
            run_seed(5, r),
            {"policy.contraception.failure_scale": 2.0, **OWN_PAST},  # as calibrate runs it
            outputs=names,
            **size,
        )
        for r in range(2)
    ]
    centre = {n: float(np.mean([t[n] for t in truth])) for n in names}
    half = {
        "unintended_share": 0.03,
        "abortion_ratio": 0.06,
        "unintended_aborted": 0.06,
        "tfr_true": 0.04,
    }
    write(
        tmp_path,
        "t.yaml",
        yaml.safe_dump(
            {
                "targets": {
                    n: {"low": centre[n] - half[n], "high": centre[n] + half[n]} for n in names
                }
            }
        ),
    )
    path = write(
        tmp_path,
        "c.yaml",
        yaml.safe_dump(
            {
                "scenario": str(baseline),
                "targets": "t.yaml",
                "parameters": {"policy.contraception.failure_scale": {"low": 1.0, "high": 5.0}},
                "trials": 16,
                "batch": 4,
                "startup_trials": 6,
                "replicates": 2,
                "candidates": 1,
                "check_replicates": 2,
                "seed": 5,
            }
            | size
        ),
    )
    fit = calibrate(path, tmp_path / "out", workers=2, progress=False, echo=None)
    assert fit.fitted["policy.contraception.failure_scale"] == pytest.approx(2.0, abs=0.25)
    assert fit.trials.loc[0, "policy.contraception.failure_scale"] == start, "trial 0: the base"
    scenario = popsim.load_scenario(tmp_path / "out" / "fitted.yaml")
    assert (
        scenario.policy.contraception.failure_scale
        == fit.fitted["policy.contraception.failure_scale"]
    )
    assert scenario.policy.rules.regime == "one_and_half", "the fitted file extends the baseline"
    report = (tmp_path / "out" / "report.md").read_text()
    assert "policy.contraception.failure_scale" in report and "| unintended_share |" in report


def test_a_value_a_dated_change_sets_is_fitted_and_written_into_that_change(tmp_path):
    """The history fits the pandemic's period factor, a value its third change sets: the
    search starts from it, and ``fitted.yaml`` replaces it in that change alone."""
    calibration = load_calibration(PARAMS / "calibration" / "history.yaml")
    name, field = "timeline.2.set.policy.decision.period_factor", "policy.decision.period_factor"
    changes = calibration.scenario.timeline
    assert calibration.base_values()[name] == changes[2].set[field]
    adopted = pd.DataFrame(
        {"candidate": ["raced"], "trial": [1], "fresh_loss": [1.0], "adopted": [True]}
    )
    fitted_values = {**calibration.base_values(), name: 0.4}
    fit = Fit(
        tmp_path,
        pd.DataFrame(),
        pd.DataFrame(),
        pd.DataFrame({"within": [True]}),
        fitted_values,
        1,
        adopted,
    )
    written = write(tmp_path, "fitted.yaml", fitted_yaml(fit, calibration))
    fitted = popsim.load_scenario(written)
    assert fitted.timeline[2].set == {**changes[2].set, field: 0.4}
    assert fitted.timeline[:2] == changes[:2] and fitted.timeline[3:] == changes[3:]


def test_an_entry_of_a_table_is_fitted_and_written_as_the_whole_table(tmp_path):
    """A calibration may fit entry N of a table (``prob_no_son.2``): trial 0 starts from the
    scenario's entry, and ``fitted.yaml`` writes the whole table with that entry replaced."""
    name = "policy.sex_selection.prob_no_son.2"
    path = write(
        tmp_path,
        "c.yaml",
        yaml.safe_dump(
            {
                "scenario": str(PARAMS / "baseline.yaml"),
                "targets": str(TARGETS),
                "parameters": {name: {"low": 0.1, "high": 0.95}},
                "trials": 8,
                "seed": 1,
            }
        ),
    )
    calibration = load_calibration(path)
    table = calibration.scenario.policy.sex_selection.prob_no_son
    assert calibration.base_values() == {name: table[2]}
    adopted = pd.DataFrame(
        {"candidate": ["raced"], "trial": [1], "fresh_loss": [1.0], "adopted": [True]}
    )
    fit = Fit(
        tmp_path,
        pd.DataFrame(),
        pd.DataFrame(),
        pd.DataFrame({"within": [True]}),
        {name: 0.66},
        1,
        adopted,
    )
    written = write(tmp_path, "fitted.yaml", fitted_yaml(fit, calibration))
    assert yaml.safe_load(written.read_text())["policy"]["sex_selection"]["prob_no_son"] == [
        *table[:2],
        0.66,
        *table[3:],
    ]
    fitted = popsim.load_scenario(written)
    assert fitted.policy.sex_selection.prob_no_son == (*table[:2], 0.66, *table[3:])
    with pytest.raises(CalibrationError, match="prob_no_son.9"):
        load_calibration(
            write(tmp_path, "c9.yaml", path.read_text().replace("prob_no_son.2", "prob_no_son.9"))
        )


# --- failures and bad input ----------------------------------------------------------------


def fragile(scenario, seed, overrides, n_agents, years, outputs):
    """Fails for a > 0.5, as a model can for some parameter values."""
    if overrides["a"] > 0.5:
        raise RuntimeError(f"diverged at a={overrides['a']:.3f}")
    return plane(scenario, seed, overrides, n_agents, years, outputs)


def test_failed_runs_fail_their_trial_only(tmp_path, capsys):
    path = plane_calibration(tmp_path, model="test_calibration:fragile", trials=20, replicates=1)
    fit = calibrate(path, tmp_path / "out", workers=1, progress=False)
    failed = fit.trials[fit.trials["state"] == "failed"]
    assert len(failed) > 0 and (failed["a"] > 0.5).all()
    assert (fit.trials.loc[fit.trials["state"] == "complete", "a"] <= 0.5).all()
    assert fit.exit_code == 1 and fit.failed == len(failed)
    assert len(list((tmp_path / "out" / "failures").glob("run=*.json"))) == len(failed)
    assert "runs failed" in capsys.readouterr().out


def test_every_trial_failing_is_an_error(tmp_path):
    path = plane_calibration(tmp_path, model="test_calibration:fragile", trials=4, replicates=1)
    text = path.read_text().replace("low: 0\n", "low: 0.6\n", 1)
    path.write_text(text)
    with pytest.raises(CalibrationError, match="every trial failed, most often: a run raised"):
        calibrate(path, tmp_path / "out", workers=1, progress=False, echo=None)


def test_targets_the_runs_cannot_make_fail_with_the_reason(tmp_path):
    """Compliance targets on the core (no regime): no trial has a loss, and the error says so."""
    write(
        tmp_path,
        "t.yaml",
        "targets:\n  cbr: {low: 11, high: 14}\n  compliance_true: {low: 0.8, high: 1}\n",
    )
    spec = {
        "scenario": str(PARAMS / "core.yaml"),
        "targets": "t.yaml",
        "parameters": {"demography.migration.separated_contact": {"low": 0.1, "high": 0.4}},
        "trials": 2,
        "replicates": 1,
        "n_agents": 500,
        "years": 3,
    }
    path = write(tmp_path, "c.yaml", yaml.safe_dump(spec))
    with pytest.raises(CalibrationError, match=r"no figure: \['compliance_true'\]"):
        calibrate(path, tmp_path / "out", workers=1, progress=False, echo=None)


GOOD = f"""scenario: {(PARAMS / "baseline.yaml").as_posix()}
targets: {TARGETS.as_posix()}
parameters:
  policy.decision.son_preference: {{low: 0.4, high: 0.8}}
trials: 4
"""


@pytest.mark.parametrize(
    ("body", "fragments"),
    [
        (GOOD + "trails: 5\n", ["c.yaml", "unknown field 'trails'", "Did you mean 'trials'"]),
        (GOOD.replace("trials: 4", "trials: 0"), ["c.yaml", "'trials'", "greater than or equal"]),
        (GOOD.replace("son_preference", "son_pref"), ["son_pref", "Did you mean"]),
        (
            GOOD.replace("high: 0.8", "high: 1.5"),
            ["parameters.policy.decision.son_preference", "high = 1.5", "not a valid value"],
        ),
        (GOOD.replace("{low: 0.4, high: 0.8}", "[0.4, 0.8]"), ["give a range"]),
        (GOOD + "years: 2\n", ["years = 2", "first 3 years"]),
        (GOOD + "sampler: cma\n", ["'sampler'", "tpe"]),
        (GOOD.replace(TARGETS.as_posix(), "nowhere.yaml"), ["field 'targets'", "does not exist"]),
        (
            GOOD.replace("policy.decision.son_preference", "policy.checkups.interval_months"),
            ["integer field", "whole-number"],
        ),
        ("targets: [1\n", ["c.yaml", "line", "YAML syntax error"]),
        (
            GOOD.replace("policy.decision.son_preference", "policy.checkups.agreement"),
            ["policy.checkups.agreement' is not a number"],
        ),
        (GOOD + "seed: 18446744073709551616\n", ["c.yaml", "'seed'", "9223372036854775807"]),
        (GOOD + "seed: yes\n", ["c.yaml", "'seed'", "True", "integer"]),
        (
            GOOD + "rungs:\n  - {keep: 2, replicates: 2}\n",
            ["c.yaml", "rungs.0", "fewer trials", "more seeds (above 2)"],
        ),
        (
            GOOD + "rungs:\n  - {keep: 2, replicates: 4, seeds: 3}\n",
            ["c.yaml", "'rungs.0.seeds'", "Allowed here: keep, replicates."],
        ),
        (
            GOOD + "start: {policy.decision.son_preference: 0.9}\n",
            ["c.yaml", "start.policy.decision.son_preference = 0.9", "outside its range"],
        ),
        (GOOD + "start: {policy.decision.try_rate: 0.05}\n", ["c.yaml", "give a value for each"]),
    ],
)
def test_bad_calibration_files_say_which_field_and_why(tmp_path, body, fragments):
    path = write(tmp_path, "c.yaml", body)
    with pytest.raises(popsim.ScenarioError) as info:
        load_calibration(path)
    for fragment in fragments:
        assert fragment in str(info.value), (fragment, str(info.value))


@pytest.mark.parametrize(
    ("body", "fragments"),
    [
        ("targets:\n  cbrr: {low: 1, high: 2}\n", ["t.yaml", "targets.cbrr", "Did you mean 'cbr'"]),
        ("targets:\n  cbr: {low: 2, high: 1}\n", ["targets.cbr", "low < high"]),
        ("targets:\n  cbr: {low: 1, high: 'x'}\n", ["targets.cbr", "finite numbers"]),
        ("targets:\n  cbr: {low: 1, hi: 2}\n", ["targets.cbr", "give {low"]),
        ("targets:\n  cbr: {low: 1, high: 2, weight: 3}\n", ["unknown key 'weight'"]),
        ("target:\n  cbr: {low: 1, high: 2}\n", ["unknown field 'target'"]),
        ("targets: {}\n", ["must map figure names"]),
        ("targets:\n  srb@20x0: {low: 1, high: 2}\n", ["srb@20x0", "FIGURE@YEAR"]),
        ("targets:\n  births@2016: {low: 1, high: 2}\n", ["births@2016", "births_index"]),
    ],
)
def test_bad_target_files_say_which_target_and_why(tmp_path, body, fragments):
    with pytest.raises(CalibrationError) as info:
        load_targets(write(tmp_path, "t.yaml", body))
    for fragment in fragments:
        assert fragment in str(info.value), (fragment, str(info.value))


def test_cli_reports_bad_input_with_exit_code_2_and_keeps_the_folder(tmp_path, capsys):
    assert (
        cli_main(["calibrate", str(tmp_path / "missing.yaml"), "--out", str(tmp_path / "o")]) == 2
    )
    err = capsys.readouterr().err
    assert "popsim calibrate: error:" in err and "missing.yaml: calibration file not found" in err
    assert "Traceback" not in err and not (tmp_path / "o").exists()
    path = plane_calibration(tmp_path, trials=4)
    calibrate(path, tmp_path / "o", workers=1, progress=False, echo=None)
    files = [p for p in (tmp_path / "o").rglob("[!.]*") if p.is_file()]  # not the lock file
    before = {p: p.stat().st_mtime_ns for p in files}
    path.write_text(path.read_text().replace("seed: 11", "seed: 12"))
    assert cli_main(["calibrate", str(path), "--out", str(tmp_path / "o")]) == 2
    assert "holds the runs of another calibration" in capsys.readouterr().err
    after = {p: p.stat().st_mtime_ns for p in files}
    assert after == before, "a refused calibration touches nothing already computed"


@pytest.mark.parametrize(
    "path", sorted((PARAMS / "calibration").glob("*.yaml")), ids=lambda p: p.name
)
def test_calibration_files_in_params_are_valid(path):
    if path.name == "targets.yaml":
        assert len(load_targets(path)) == len(STATISTICS)
        return
    if path.name.endswith("_targets.yaml"):  # dated targets, FIGURE@YEAR
        assert all("@" in t.name for t in load_targets(path))
        return
    calibration = load_calibration(path)
    assert calibration.base_values() is not None, "the base values lie in the ranges: trial 0"
