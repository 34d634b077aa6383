"""Model uncertainty: every scenario over parameter sets the calibration could not tell apart.

A calibration's near-best trials (``trials.parquet``, ``near_best``; docs/calibration.md) fit
the targets about as well as the adopted values. ``popsim batch --ensemble DIR --sets K``
draws K of them (:func:`draw_sets`) and runs every scenario under each, with the usual
seeds: scenario ``NAME`` under trial t is named ``NAME.set<t>`` (:func:`member_name`). Within
a set, scenario and reference share seeds, so each set gives a paired effect with its own
Monte Carlo interval. :func:`effects` sets those side by side:

* ``difference``: the mean over sets of the per-set paired mean difference;
* ``mc_low``-``mc_high``: its Monte Carlo 95 % interval, from the per-set variances of the
  paired differences (sum over sets of var / n, divided by K^2; normal quantile);
* ``sets_low``-``sets_high``: the smallest and largest per-set effect, the spread that comes
  from the parameters alone (with a handful of sets, the range rather than quantiles);
* ``sign_depends``: whether per-set effects whose own 95 % intervals (normal) exclude 0
  point in both directions, i.e. whether the effect's direction depends on the set.

The set's values override the scenario file's, so a scenario that sets a calibrated
parameter itself is run at the set's value (the ensemble is over the calibrated
parameters).
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd

from popsim.analysis.measures import label
from popsim.scenario.loading import ScenarioError

_MEMBER = re.compile(r"(?P<scenario>.+)\.set(?P<trial>\d+)")


def draw_sets(calibration_dir: str | Path, k: int, seed: int = 0) -> pd.DataFrame:
    """K of a finished calibration's near-best trials (all of them if fewer), by trial.

    Drawn without replacement with ``seed``, so a rerun draws the same sets. One row per
    set: ``trial`` and the calibrated parameters' values.

    Raises:
        ScenarioError: not a finished calibration's folder, or no near-best trial.
    """
    folder = Path(calibration_dir)
    trials_file, parameters_file = folder / "trials.parquet", folder / "parameters.parquet"
    if not trials_file.is_file() or not parameters_file.is_file():
        raise ScenarioError(
            f"--ensemble {folder}: no trials.parquet and parameters.parquet there; give the "
            "output folder of a finished `popsim calibrate`."
        )
    if k < 1:
        raise ScenarioError(f"--sets {k}: draw at least one parameter set.")
    trials = pd.read_parquet(trials_file)
    names = list(pd.read_parquet(parameters_file)["parameter"])
    if "near_best" not in trials:
        raise ScenarioError(
            f"--ensemble {folder}: trials.parquet has no near_best column; rerun the "
            "calibration with this version of popsim."
        )
    near = trials[trials["near_best"] & (trials["state"] == "complete")]
    if near.empty:
        raise ScenarioError(f"--ensemble {folder}: the calibration has no near-best trial.")
    if k < len(near):
        picked = np.random.default_rng(seed).choice(len(near), size=k, replace=False)
        near = near.iloc[np.sort(picked)]
    return near[["trial", *names]].reset_index(drop=True)


def set_overrides(row: pd.Series) -> dict[str, float | int]:
    """A drawn set's parameter values as scenario overrides (plain Python numbers)."""
    return {k: v.item() if hasattr(v, "item") else v for k, v in row.drop("trial").items()}


def member_name(scenario: str, trial: int) -> str:
    """The name of scenario ``scenario`` run under the near-best trial ``trial``."""
    return f"{scenario}.set{int(trial)}"


def split_name(name: str) -> tuple[str, int] | None:
    """``NAME.set<t>`` -> (NAME, t); None for a name outside an ensemble."""
    match = _MEMBER.fullmatch(name)
    return (match["scenario"], int(match["trial"])) if match else None


def split_batch(batch: dict) -> tuple[dict, dict]:
    """(the scenarios at the scenario files' values, the ensemble's members) of a batch."""
    plain = {name: tables for name, tables in batch.items() if split_name(name) is None}
    return plain, {name: tables for name, tables in batch.items() if name not in plain}


#: Effects shown across the parameter sets (labels and units from :mod:`~.measures`).
SHOWN = ("births_averted", "tfr", "srb", "abortions_remedial", "spend_total")


def table(members: dict, reference: str) -> pd.DataFrame:
    """:func:`effects` of every :data:`SHOWN` indicator, one row per scenario and indicator."""
    from popsim.analysis.comparison import summarise

    summary = summarise(members)
    frames = [
        effects(summary, name, reference).reset_index().assign(effect=label(name, unit=True))
        for name in SHOWN
    ]
    out = pd.concat(frames, ignore_index=True)
    return out[["effect", "scenario", *out.columns.drop(["effect", "scenario"])]]


def _paired_differences(
    summary: pd.DataFrame, indicator: str, reference: str
) -> dict[str, pd.Series]:
    """Each scenario's per-seed difference from the reference (births averted: ref - scen)."""
    from popsim.analysis.comparison import paired_rows

    pairs = paired_rows(summary, reference)
    out = {}
    for name, rows in pairs.items():
        if name == reference:
            continue
        ref = pairs[reference].loc[rows.index]
        if indicator == "births_averted":
            out[name] = ref["births"] - rows["births"]
        else:
            out[name] = rows[indicator] - ref[indicator]
    return out


def effects(summary: pd.DataFrame, indicator: str, reference: str) -> pd.DataFrame:
    """Each scenario's effect over the parameter sets (see the module docstring).

    Args:
        summary: :func:`popsim.analysis.comparison.summarise` of an ensemble batch.
        indicator: an indicator, or ``"births_averted"``.
        reference: the reference scenario's name (without ``.set<t>``).
    """
    members = summary["scenario"].map(split_name)
    if members.isna().any():
        odd = sorted(summary.loc[members.isna(), "scenario"].unique())
        raise ValueError(f"not ensemble members (NAME.set<t>): {odd}")
    plain = summary.assign(scenario=members.str[0], set=members.str[1])
    per_set: dict[str, list[pd.Series]] = {}
    for _, rows in plain.groupby("set", sort=True):
        for name, diff in _paired_differences(rows, indicator, reference).items():
            per_set.setdefault(name, []).append(diff)
    table = {}
    for name, sets in per_set.items():
        means = np.array([float(d.mean()) for d in sets])
        var_mean = np.array([float(d.var(ddof=1)) / len(d) if len(d) > 1 else np.nan for d in sets])
        half = 1.959964 * math.sqrt(var_mean.sum()) / len(sets)
        low = means - 1.959964 * np.sqrt(var_mean)
        high = means + 1.959964 * np.sqrt(var_mean)
        clear = means[(low > 0) | (high < 0)]
        centre = float(means.mean())
        table[name] = {
            "sets": len(sets),
            "difference": centre,
            "mc_low": centre - half,
            "mc_high": centre + half,
            "sets_low": float(means.min()),
            "sets_high": float(means.max()),
            "sign_depends": bool((clear > 0).any() and (clear < 0).any()),
        }
    out = pd.DataFrame.from_dict(table, orient="index")
    out.index.name = "scenario"
    return out
