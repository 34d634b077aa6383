"""Calibration targets (docs/regime.md §19): the target files, and the fit to them.

The model's figures are :func:`popsim.outputs.statistics.statistics`. A target file
(``params/calibration/targets.yaml``) gives each figure's range and source;
:func:`load_targets` reads it. :func:`table` sets a model's mean over replicates against the
ranges, and :func:`loss` scores it: a range is read as mean +- 2 sd, so the loss is the sum
of squared z-scores, -2 log of a Gaussian pseudo-likelihood.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from popsim.outputs.statistics import DATED, STATISTICS, dated_name
from popsim.scenario.loading import ScenarioError, read_yaml


class CalibrationError(ScenarioError):
    """A target or calibration file, or a calibration folder, that cannot be used."""


@dataclass(frozen=True)
class Target:
    """A calibration target: the range to hit and where it comes from."""

    name: str
    meaning: str
    low: float
    high: float
    source: str

    @property
    def centre(self) -> float:
        """The middle of the range."""
        return (self.low + self.high) / 2

    @property
    def sd(self) -> float:
        """The range read as centre +- 2 sd."""
        return (self.high - self.low) / 4


def load_targets(path: str | Path, known: Sequence[str] | None = tuple(STATISTICS)) -> tuple:
    """The targets of a target file, in its order.

    Args:
        path: a YAML file ``targets: {name: {low: .., high: .., source: ..}, ...}``.
        known: the allowed names (default: the model's figures, ``STATISTICS``); None allows
            any (a run function of one's own).

    Raises:
        CalibrationError: naming the file, the target and the problem.
    """
    from popsim.sweeps.spec import suggest

    path = Path(path)
    data = read_yaml(path, "target", CalibrationError)
    extra = sorted(set(data) - {"targets"})
    if extra:
        raise CalibrationError(f"{path}: unknown field {extra[0]!r}; a target file has 'targets'.")
    entries = data.get("targets")
    if not isinstance(entries, dict) or not entries:
        raise CalibrationError(f"{path}: field 'targets' must map figure names to ranges.")
    targets = []
    for name, entry in entries.items():
        where = f"{path}: field 'targets.{name}'"
        if known is not None and name not in known and dated_name(str(name)) is None:
            close = suggest(str(name), known)
            hint = f" Did you mean {close!r}?" if close else ""
            raise CalibrationError(
                f"{where}: no such figure.{hint} Figures: {', '.join(known)}; or one year's "
                f"FIGURE@YEAR, FIGURE one of {', '.join(DATED)}."
            )
        if not isinstance(entry, dict) or not {"low", "high"} <= set(entry):
            raise CalibrationError(f"{where}: give {{low: .., high: .., source: ..}}.")
        unknown = sorted(set(entry) - {"low", "high", "source"})
        if unknown:
            raise CalibrationError(f"{where}: unknown key {unknown[0]!r} (low, high, source).")
        low, high = entry["low"], entry["high"]
        numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (low, high))
        if not numbers or not np.isfinite([low, high]).all() or not low < high:
            raise CalibrationError(
                f"{where}: low = {low!r}, high = {high!r}: need two finite numbers, low < high."
            )
        figure = dated_name(str(name))
        meaning = f"{figure[1]}: {DATED[figure[0]]}" if figure else STATISTICS.get(name, str(name))
        targets.append(
            Target(str(name), meaning, float(low), float(high), str(entry.get("source", "")))
        )
    return tuple(targets)


def zscores(
    values: Mapping[str, float],
    targets: Sequence[Target],
    mean_variance: Mapping[str, float] | None = None,
) -> dict[str, float]:
    """Each target's (model - centre) / sqrt(sd^2 + var); NaN where the model has no figure.

    ``mean_variance``: each figure's Monte Carlo variance of the model mean (none: 0).
    """
    extra = mean_variance or {}
    return {
        t.name: (float(values.get(t.name, np.nan)) - t.centre)
        / np.sqrt(t.sd**2 + extra.get(t.name, 0.0))
        for t in targets
    }


def loss(
    values: Mapping[str, float],
    targets: Sequence[Target],
    mean_variance: Mapping[str, float] | None = None,
) -> float:
    """Sum of squared z-scores over the targets (NaN if a figure is missing)."""
    return float(sum(z * z for z in zscores(values, targets, mean_variance).values()))


def pooled_variance(
    groups: Sequence[Sequence[Mapping[str, float]]], targets: Sequence[Target]
) -> tuple[dict[str, float], int]:
    """Each figure's variance between seeds within a parameter set, pooled over the sets.

    ``groups``: the runs of each parameter set (a run maps figure names to values). Returns
    the variances and their degrees of freedom (sum of seeds - 1 over the sets); with no
    degree of freedom every variance is 0.
    """
    squares = dict.fromkeys((t.name for t in targets), 0.0)
    freedom = 0
    for runs in groups:
        if len(runs) < 2:
            continue
        freedom += len(runs) - 1
        for name in squares:
            values = np.array([float(r[name]) for r in runs])
            squares[name] += float(((values - values.mean()) ** 2).sum())
    if freedom == 0:
        return dict.fromkeys(squares, 0.0), 0
    return {name: s / freedom for name, s in squares.items()}, freedom


def table(per_run: list[dict[str, float]], targets: Sequence[Target]) -> pd.DataFrame:
    """The fit of a model's replicates to the targets, one row per target.

    Columns: the range, the model mean over replicates, the 95 % interval of that mean
    (Student t), the replicates' sd, the z-score and whether the mean is within range.
    """
    from popsim.analysis.intervals import t975

    runs = pd.DataFrame(per_run)
    rows = []
    for target in targets:
        values = runs.get(target.name, pd.Series(dtype=float)).dropna()
        n = len(values)
        mean = values.mean() if n else np.nan
        sd = values.std(ddof=1) if n > 1 else np.nan
        half = t975(n - 1) * sd / np.sqrt(n) if n > 1 else np.nan
        rows.append(
            {
                "target": target.name,
                "meaning": target.meaning,
                "range": f"{target.low:g}-{target.high:g}",
                "model_mean": mean,
                "ci95_low": mean - half,
                "ci95_high": mean + half,
                "sd": sd,
                "z": (mean - target.centre) / target.sd,
                "within": bool(target.low <= mean <= target.high),
                "source": target.source,
            }
        )
    return pd.DataFrame(rows)
