"""Which trials to believe, and which values to adopt (docs/calibration.md).

A trial's loss is :func:`~popsim.calibration.targets.loss` of its figures' means over the
seeds it ran, each z-score's denominator widened by the Monte Carlo variance of that mean:
the between-seed variance within a trial, pooled over every trial's runs
(:func:`~popsim.calibration.targets.pooled_variance`), divided by the trial's seeds. A trial
that looks good on two lucky seeds is then worth little more than it deserves.

Racing (:func:`race`) then gives the best trials more of the common seeds, a rung at a time
(successive halving), and :func:`adopt` re-runs the best raced trials and the start on fresh
seeds. There every candidate has the same seeds, so their losses without the variance term
rank them as the distance of the model's expected figures from the targets does (the noise
adds the same amount to each); the lowest is adopted. The start is a candidate, so a
calibration never adopts values that do worse than its start on those seeds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from popsim.calibration.report import NEAR_LEVEL
from popsim.calibration.spec import Calibration
from popsim.calibration.targets import CalibrationError, loss, pooled_variance, table
from popsim.sweeps import store as sweepstore
from popsim.sweeps.design import run_seed
from popsim.sweeps.executors import Task

CHECK_KEY = 1 << 32  #: fresh seed r is the calibration seed's child CHECK_KEY + r


def read_row(path: Path) -> dict[str, Any] | None:
    """A run's row as Python values, or None if the run has no file."""
    import pyarrow.parquet as pq

    return pq.read_table(path).to_pylist()[0] if path.is_file() else None


class Runs:
    """Each trial's figures seed by seed, read from the calibration's store once."""

    def __init__(self, store: sweepstore.Store, calibration: Calibration) -> None:
        self.store, self.targets = store, calibration.targets
        self.stride = calibration.spec.max_replicates
        self.figures: dict[int, list[dict[str, float] | None]] = {}

    def read(self, trial: int, seeds: int) -> None:
        """Read the trial's runs on its first ``seeds`` seeds (None: the run raised)."""
        have = self.figures.setdefault(trial, [])
        for r in range(len(have), seeds):
            row = read_row(self.store.runs / f"run={trial * self.stride + r}.parquet")
            have.append(None if row is None else {t.name: row[t.name] for t in self.targets})

    def seeds(self, trial: int) -> int:
        """The seeds of the trial's unbroken run of usable runs from seed 0."""
        n = 0
        for run in self.figures.get(trial, []):
            if run is None or not all(np.isfinite(float(v)) for v in run.values()):
                break
            n += 1
        return n

    def means(self, trial: int, seeds: int) -> dict[str, float]:
        """The figures' means over the trial's first ``seeds`` seeds."""
        runs = self.figures[trial][:seeds]
        return {
            t.name: float(np.mean([r[t.name] if r else np.nan for r in runs])) for t in self.targets
        }

    def variance(self) -> tuple[dict[str, float], int]:
        """Each figure's between-seed variance pooled over the trials, and its freedom."""
        groups = [self.figures[t][: self.seeds(t)] for t in self.figures]
        return pooled_variance(groups, self.targets)

    def loss(self, trial: int, seeds: int, variance: Mapping[str, float] | None) -> float:
        """The trial's loss on its first ``seeds`` seeds (variance None: the plain loss)."""
        if seeds == 0 or self.seeds(trial) < seeds:
            return np.nan
        mean_variance = {k: v / seeds for k, v in variance.items()} if variance else None
        return loss(self.means(trial, seeds), self.targets, mean_variance)


def race(
    calibration: Calibration, study: Any, store: sweepstore.Store, runner: Any, runs: Runs
) -> list[int]:
    """Run the rungs: the best trials so far get more common seeds. The final ranking.

    At each rung the trials still in the race are ranked by their loss with the pooled
    variance so far, and the best ``keep`` are run on the rung's seeds in all.
    """
    spec = calibration.spec
    racing = [t for t in runs.figures if runs.seeds(t) >= spec.replicates]
    for rung in spec.rungs:
        racing = _ranked(racing, runs)[: rung.keep]
        tasks = [
            Task(t * runs.stride + r, t, r, run_seed(spec.seed, r), study.trials[t].params)
            for t in racing
            for r in range(runs.seeds(t), rung.replicates)
        ]
        runner.run_missing(tasks, store)
        for t in racing:
            runs.read(t, rung.replicates)
        racing = [t for t in racing if runs.seeds(t) >= rung.replicates]
    return _ranked(racing, runs)


def _ranked(trials: Sequence[int], runs: Runs) -> list[int]:
    """The trials by their loss on all their seeds (ties: the earlier trial first)."""
    variance = runs.variance()[0]
    losses = {t: runs.loss(t, runs.seeds(t), variance) for t in trials}
    return sorted((t for t in trials if np.isfinite(losses[t])), key=lambda t: (losses[t], t))


def trial_table(calibration: Calibration, study: Any, runs: Runs) -> pd.DataFrame:
    """One row per trial: values, state, seeds, losses, mean figures, near-best.

    ``loss`` is the variance-aware loss on all the trial's seeds, ``plain_loss`` the sum of
    squared z-scores of the same means. Near-best trials are those whose loss is within the
    chi-square quantile (one degree of freedom per parameter) of the lowest.
    """
    from scipy import stats

    spec = calibration.spec
    variance = runs.variance()[0]
    rows = []
    for trial in study.trials:
        number = trial.number
        row: dict[str, Any] = {"trial": number, **trial.params}
        seeds = runs.seeds(number)
        if seeds < spec.replicates:
            got = runs.figures.get(number, [])[: spec.replicates]
            if not got or any(r is None for r in got):
                note = "a run raised (failures/)"
            else:
                means = runs.means(number, len(got))
                row |= means
                note = f"no figure: {[k for k, v in means.items() if not np.isfinite(v)]}"
            rows.append(row | {"state": "failed", "seeds": 0, "loss": np.nan, "note": note})
            continue
        raced_failure = len(runs.figures[number]) > seeds
        row |= runs.means(number, seeds)
        rows.append(
            row
            | {
                "state": "complete",
                "seeds": seeds,
                "loss": runs.loss(number, seeds, variance),
                "plain_loss": runs.loss(number, seeds, None),
                "note": "a raced run raised (failures/)" if raced_failure else "",
            }
        )
    frame = pd.DataFrame(rows)
    if "plain_loss" not in frame:
        frame["plain_loss"] = np.nan
    threshold = frame["loss"].min() + stats.chi2.ppf(NEAR_LEVEL, len(spec.parameters))
    frame["near_best"] = frame["loss"] <= threshold
    return frame


@dataclass(frozen=True)
class Adoption:
    """The adopted values, the candidates' comparison and the fit of the adopted values."""

    trial: int
    fitted: dict[str, Any]
    candidates: pd.DataFrame
    fit: pd.DataFrame


def adopt(
    calibration: Calibration,
    study: Any,
    ranked: Sequence[int],
    check: sweepstore.Store,
    runner: Any,
    runs: Runs,
) -> Adoption:
    """Run the start and the best raced trials on fresh seeds; adopt the closest.

    Raises:
        CalibrationError: no trial completed, or no candidate's fresh runs all succeeded.
    """
    spec = calibration.spec
    if not ranked:
        why = _common_note(calibration, study, runs)
        raise CalibrationError(
            f"{runs.store.out}: every trial failed, most often: {why} "
            f"(runs that raised are in {runs.store.out / 'failures'}; a missing figure needs a "
            "run that makes it, e.g. compliance needs the regime)."
        )
    candidates: list[tuple[str, int, dict[str, Any]]] = []
    start = calibration.base_values()
    if start is not None:
        candidates.append(("start", 0, start))
    for t in ranked:
        if sum(label == "raced" for label, _, _ in candidates) == spec.candidates:
            break
        values = rounded(study.trials[t].params)
        if all(values != known for _, _, known in candidates):
            candidates.append(("raced", t, values))
    n = spec.check_replicates
    seeds = [run_seed(spec.seed, CHECK_KEY + r) for r in range(n)]
    tasks = [
        Task(j * n + r, trial, r, seed, values)
        for j, (_, trial, values) in enumerate(candidates)
        for r, seed in enumerate(seeds)
    ]
    reuse = _reusable(check, tasks, list(spec.parameters))
    runner.progress.update(len(reuse))
    runner.run([t for t in tasks if t.index not in reuse], check)
    fresh = [
        [read_row(check.runs / f"run={j * n + r}.parquet") for r in range(n)]
        for j in range(len(candidates))
    ]
    names = [t.name for t in calibration.targets]
    fresh = [[{k: row[k] for k in names} for row in rows] if all(rows) else None for rows in fresh]
    frame = _candidate_table(calibration, candidates, fresh, runs)
    usable = frame[np.isfinite(frame["fresh_loss"])]
    if usable.empty:
        raise CalibrationError(
            f"{check.out}: no candidate ran on every fresh seed (see {check.out / 'failures'})."
        )
    j = int(usable["fresh_loss"].idxmin())  # ties: the earlier candidate, the start first
    frame["adopted"] = frame.index == j
    fit = table(fresh[j], calibration.targets)
    variance = runs.variance()[0]
    fit.insert(fit.columns.get_loc("sd") + 1, "pooled_sd", [np.sqrt(v) for v in variance.values()])
    if start is not None and fresh[0] is not None:
        base = table(fresh[0], calibration.targets)
        at = fit.columns.get_loc("within") + 1
        fit.insert(at, "base_mean", base["model_mean"])
        fit.insert(at + 1, "base_z", base["z"])
    return Adoption(candidates[j][1], dict(candidates[j][2]), frame, fit)


def _candidate_table(
    calibration: Calibration,
    candidates: list[tuple[str, int, dict[str, Any]]],
    fresh: list[list[dict[str, float]] | None],
    runs: Runs,
) -> pd.DataFrame:
    """Each candidate: values, search seeds and loss, fresh-seed loss and its gap to the start.

    ``fresh_loss`` is the sum of squared z-scores of the fresh seeds' means; ``vs_start`` the
    candidate's minus the start's, paired on the same seeds, with its jackknife standard
    error over seeds (``vs_start_se``).
    """
    targets = calibration.targets
    variance = runs.variance()[0]
    start = fresh[0] if candidates and candidates[0][0] == "start" else None
    rows = []
    for (label, trial, values), figures in zip(candidates, fresh, strict=True):
        seeds = runs.seeds(trial) if label == "raced" else 0
        row = {"candidate": label, "trial": trial, **values, "search_seeds": seeds}
        row["search_loss"] = runs.loss(trial, seeds, variance) if seeds else np.nan
        row["fresh_loss"] = _plain(figures, targets) if figures else np.nan
        gap, se = (np.nan, np.nan)
        if figures and start:
            gap, se = _paired_gap(figures, start, targets)
        rows.append(row | {"vs_start": gap, "vs_start_se": se})
    return pd.DataFrame(rows)


def _plain(figures: list[dict[str, float]], targets: Sequence[Any]) -> float:
    means = {t.name: float(np.mean([f[t.name] for f in figures])) for t in targets}
    return loss(means, targets)


def _paired_gap(
    figures: list[dict[str, float]], start: list[dict[str, float]], targets: Sequence[Any]
) -> tuple[float, float]:
    """Fresh loss minus the start's on the same seeds, and its jackknife standard error."""
    gap = _plain(figures, targets) - _plain(start, targets)
    n = len(figures)
    leave_out = np.array(
        [
            _plain(figures[:i] + figures[i + 1 :], targets)
            - _plain(start[:i] + start[i + 1 :], targets)
            for i in range(n)
        ]
    )
    se = float(np.sqrt((n - 1) / n * ((leave_out - leave_out.mean()) ** 2).sum()))
    return gap, se


def _common_note(calibration: Calibration, study: Any, runs: Runs) -> str:
    notes = trial_table(calibration, study, runs)["note"]
    return str(notes[notes != ""].value_counts().index[0]) if (notes != "").any() else "?"


def rounded(params: dict[str, Any]) -> dict[str, Any]:
    """The values rounded to 4 significant digits (integers stay whole)."""
    return {k: v if isinstance(v, int) else float(f"{v:.4g}") for k, v in params.items()}


def _reusable(check: sweepstore.Store, tasks: list[Task], names: Sequence[str]) -> set[int]:
    """The fresh-seed runs on disk made with these values and seeds."""
    reuse, done = set(), check.done()  # intact runs only
    for task in tasks:
        row = read_row(check.runs / f"run={task.index}.parquet") if task.index in done else None
        if row is not None and row["seed"] == task.seed:
            if all(row[n] == task.overrides[n] for n in names):
                reuse.add(task.index)
    return reuse


def check_replay(store: sweepstore.Store, tasks: list[Task], names: Sequence[str]) -> None:
    """A run on disk must have been made with the values the sampler proposes now."""
    for task in tasks:
        row = read_row(store.runs / f"run={task.index}.parquet")
        if row is not None and any(row[n] != task.overrides[n] for n in names):
            raise CalibrationError(
                f"--out {store.out}: run {task.index} on disk was made with other values than "
                "the sampler proposes now; choose another folder, or delete that one."
            )
