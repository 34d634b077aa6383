"""The parameter ensemble: sets drawn from a calibration's near-best trials, run and compared."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from popsim import cli
from popsim.analysis import batch, ensemble

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "params" / "baseline.yaml"
NO_CHECKUPS = ROOT / "params" / "scenarios" / "no_checkups.yaml"
NOTEBOOKS = ROOT / "notebooks"
SON, TRY = "policy.decision.son_preference", "policy.decision.try_rate"


def toy_calibration(folder: Path) -> Path:
    """A calibration folder with five trials, three of them near-best."""
    folder.mkdir(parents=True, exist_ok=True)
    trials = pd.DataFrame(
        {
            "trial": [0, 1, 2, 3, 4],
            SON: [0.50, 0.55, 0.60, 0.65, 0.70],
            TRY: [0.04, 0.05, 0.06, 0.07, 0.08],
            "state": ["complete", "complete", "failed", "complete", "complete"],
            "loss": [9.0, 30.0, np.nan, 10.0, 11.0],
            "near_best": [True, False, False, True, True],
        }
    )
    trials.to_parquet(folder / "trials.parquet")
    pd.DataFrame({"parameter": [SON, TRY]}).to_parquet(folder / "parameters.parquet")
    return folder


def test_the_batch_runs_exactly_the_drawn_near_best_sets(tmp_path):
    calibration = toy_calibration(tmp_path / "cal")
    every = ensemble.draw_sets(calibration, 10)
    assert list(every["trial"]) == [0, 3, 4], "all near-best trials when fewer than asked"
    sets = ensemble.draw_sets(calibration, 2)
    assert len(sets) == 2 and set(sets["trial"]) < {0, 3, 4}
    assert sets.equals(ensemble.draw_sets(calibration, 2)), "the same draw on a rerun"
    jobs, requests = batch.plan(
        [BASELINE, NO_CHECKUPS],
        tmp_path / "out",
        replicates_=1,
        first_seed=0,
        n_agents=1000,
        years=2,
        sets=sets,
    )
    trials = list(sets["trial"])
    expected = [
        name for s in ("baseline", "no_checkups") for name in (s, *(f"{s}.set{t}" for t in trials))
    ]
    assert [job.name for job in jobs] == expected
    for name, req in requests.items():
        member = ensemble.split_name(name)
        if member is None:
            continue
        row = sets[sets["trial"] == member[1]].iloc[0]
        assert req.scenario.policy.decision.son_preference == row[SON]
        assert req.scenario.policy.decision.try_rate == row[TRY]
    assert not requests[f"no_checkups.set{trials[0]}"].scenario.policy.checkups.enabled


def _summary() -> pd.DataFrame:
    """Two sets x two scenarios x four seeds of made-up indicators."""
    rows = []
    births = {
        ("baseline", 1): [100, 104, 98, 102],
        ("x", 1): [90, 95, 91, 92],
        ("baseline", 2): [100, 101, 99, 103],
        ("x", 2): [103, 104, 101, 108],
    }
    for (name, trial), values in births.items():
        for seed, b in enumerate(values):
            rows.append({"scenario": f"{name}.set{trial}", "seed": seed, "births": b})
    return pd.DataFrame(rows)


def test_effects_across_sets_equal_the_hand_computation():
    table = ensemble.effects(_summary(), "births_averted", "baseline")
    row = table.loc["x"]
    d1 = np.array([100, 104, 98, 102]) - np.array([90, 95, 91, 92])  # births averted, set 1
    d2 = np.array([100, 101, 99, 103]) - np.array([103, 104, 101, 108])
    means = [d1.mean(), d2.mean()]
    half = 1.959964 * np.sqrt(d1.var(ddof=1) / 4 + d2.var(ddof=1) / 4) / 2
    assert row["sets"] == 2
    assert row["difference"] == pytest.approx(np.mean(means))
    assert row["mc_low"] == pytest.approx(np.mean(means) - half)
    assert row["mc_high"] == pytest.approx(np.mean(means) + half)
    assert (row["sets_low"], row["sets_high"]) == (min(means), max(means))
    assert row["sign_depends"], "set 1 averts births, set 2 adds them, both clearly"
    same_sign = ensemble.effects(_summary().replace({"x.set2": "x.set1"}), "births", "baseline")
    assert not same_sign["sign_depends"].any()


def test_a_batch_name_outside_an_ensemble_is_refused():
    summary = _summary()
    summary.loc[0, "scenario"] = "baseline"
    with pytest.raises(ValueError, match="not ensemble members"):
        ensemble.effects(summary, "births", "baseline")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--ensemble", "/nonexistent"], "no trials.parquet"),
        (["--ensemble", "CAL", "--vary", "policy.fee.multiple=1,2"], "use one at a time"),
    ],
)
def test_bad_ensemble_arguments_exit_2(extra, message, tmp_path, capsys):
    calibration = toy_calibration(tmp_path / "cal")
    extra = [str(calibration) if a == "CAL" else a for a in extra]
    argv = ["batch", str(BASELINE), "--out", str(tmp_path / "out"), "--notebooks", str(NOTEBOOKS)]
    code = cli.main([*argv, *extra])
    err = capsys.readouterr().err
    assert code == 2 and message in err, err
