"""A calibration's result: the :class:`Fit`, its files (``fitted.yaml``, ``report.md``, tables).

:func:`write` puts a fit into its output folder, :func:`read_fit` reads it back.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from popsim.calibration.spec import Calibration
from popsim.calibration.targets import CalibrationError
from popsim.outputs.results import atomic_write
from popsim.scenario.loading import override_keys
from popsim.sweeps import store as sweepstore

NEAR_LEVEL = 0.95  #: near-best trials: loss within the chi-square quantile of the best


@dataclass
class Fit:
    """A calibration's result (also read back by :func:`read_fit`)."""

    out: Path
    trials: pd.DataFrame
    parameters: pd.DataFrame
    fit: pd.DataFrame
    fitted: dict[str, Any]
    best_trial: int
    candidates: pd.DataFrame
    ran: int = 0
    failed: int = 0
    seconds: float = 0.0
    executor: str = ""

    @property
    def check_loss(self) -> float:
        """The loss of the adopted values on the fresh seeds (sum of squared z-scores)."""
        return float((self.fit["z"] ** 2).sum())

    @property
    def adopted(self) -> pd.Series:
        """The adopted candidate's row of :attr:`candidates`."""
        return self.candidates[self.candidates["adopted"]].iloc[0]

    def adoption_line(self) -> str:
        """Which candidate won on the fresh seeds, and by how much over the start."""
        won = self.adopted
        what = "the start" if won["candidate"] == "start" else f"trial {int(won['trial'])}"
        line = f"adopted {what}: fresh-seed loss {won['fresh_loss']:.4g}"
        start = self.candidates[self.candidates["candidate"] == "start"]
        if won["candidate"] != "start" and len(start):
            line += (
                f", {-won['vs_start']:.3g} (se {won['vs_start_se']:.2g}) below the start's "
                f"{start['fresh_loss'].iloc[0]:.4g}"
            )
        return line

    @property
    def base_check_loss(self) -> float:
        """The loss of the base values on the same fresh seeds (NaN: no base values)."""
        return float((self.fit["base_z"] ** 2).sum()) if "base_z" in self.fit else np.nan

    @property
    def exit_code(self) -> int:
        """0 if every run succeeded, else 1 (the fit is still written)."""
        return 1 if self.failed else 0

    def line(self) -> str:
        """One line for the terminal."""
        within = int(self.fit["within"].sum())
        rate = f", {60 * self.ran / self.seconds:.1f} runs/min" if self.ran and self.seconds else ""
        return (
            f"popsim calibrate: {len(self.trials)} trials; {self.adoption_line()}; "
            f"{within} of {len(self.fit)} targets within range; {self.ran} runs now, "
            f"{self.failed} failed, {self.seconds:.1f} s{rate} with {self.executor} -> {self.out}"
        )


def write(fit: Fit, calibration: Calibration) -> None:
    """Write the fit's tables, ``fitted.yaml`` and ``report.md`` into its folder."""
    out = fit.out
    for name in ("trials", "candidates", "parameters", "fit"):
        frame = getattr(fit, name)
        atomic_write(out / f"{name}.parquet", lambda tmp, f=frame: f.to_parquet(tmp, index=False))
    text = fitted_yaml(fit, calibration)
    atomic_write(out / "fitted.yaml", lambda tmp: Path(tmp).write_text(text))
    report = report_markdown(fit, calibration)
    atomic_write(out / "report.md", lambda tmp: Path(tmp).write_text(report))


def fitted_yaml(fit: Fit, calibration: Calibration) -> str:
    """A scenario file extending the base scenario with the fitted values."""
    base = calibration.scenario.model_dump() if calibration.scenario is not None else {}
    nested: dict[str, Any] = {}
    for name, value in fit.fitted.items():
        *parents, leaf = override_keys(name)
        if leaf.isdigit() and base:  # an entry of a table: write the whole table
            *parents, table = parents
            node = _section(nested, parents)
            if table not in node:
                node[table] = list(_section(base, parents)[table])
            node[table][int(leaf)] = value
        else:
            _section(nested, parents)[leaf] = value
    within = int(fit.fit["within"].sum())
    header = [
        f"# Fitted by `popsim calibrate {calibration.path.name}` ({len(fit.trials)} trials): "
        f"{fit.adoption_line()},",
        f"# on {calibration.spec.check_replicates} fresh seeds; {within} of {len(fit.fit)} "
        "targets within range there. See report.md beside this file.",
    ]
    body: dict[str, Any] = {
        "name": f"{calibration.scenario.name if calibration.scenario else 'baseline'}_fitted",
        "description": f"{calibration.name}: the base scenario with its calibrated parameters.",
    }
    if calibration.scenario_path is not None:
        body["extends"] = os.path.relpath(calibration.scenario_path, fit.out)
    body |= nested
    # fitted under its own past (popsim.scenario.timeline.OWN_PAST): run it the same way
    body["township"] = {**body.get("township", {}), "burn_in_policy": "own"}
    return "\n".join(header) + "\n" + yaml.safe_dump(body, sort_keys=False, width=88)


def _section(tree: dict, parts: list[str]) -> dict:
    """The mapping at ``parts`` in ``tree``, made where missing."""
    for part in parts:
        tree = tree.setdefault(part, {})
    return tree


def _markdown(frame: pd.DataFrame, digits: int = 3) -> str:
    def cell(v: Any) -> str:
        if isinstance(v, bool | np.bool_):
            return "yes" if v else "**no**"
        if isinstance(v, float | np.floating):
            return "" if np.isnan(v) else f"{v:.{digits}g}" if abs(v) < 1e4 else f"{v:.0f}"
        return str(v)

    lines = ["| " + " | ".join(frame.columns) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(False)]
    return "\n".join(lines)


def report_markdown(fit: Fit, calibration: Calibration) -> str:
    """The fit for a reader: the adoption, the targets, the parameters."""
    spec = calibration.spec
    trials = fit.trials
    complete = trials[trials["state"] == "complete"]
    fit_table = fit.fit.drop(columns=["meaning", "source"])
    rungs = ", then ".join(f"the best {r.keep} on {r.replicates}" for r in spec.rungs)
    names = list(spec.parameters)
    candidates = fit.candidates.drop(columns=names)
    near = int(trials["near_best"].sum())
    lines = [
        f"# Calibration `{calibration.name}`",
        "",
        spec.description.strip(),
        "",
        f"{len(trials)} trials ({spec.sampler}, {len(complete)} complete) of {spec.replicates} "
        f"common seeds each"
        + (f"; racing: {rungs} seeds" if rungs else "")
        + f"; {spec.n_agents or 'the scenario’s'} persons, "
        f"{spec.years or 'the scenario’s'} years. The loss is the sum of squared z-scores over "
        f"{len(fit.fit)} targets, each widened by the Monte Carlo variance of the model's "
        "mean (docs/calibration.md).",
        "",
        "## Adoption on fresh seeds",
        "",
        f"The start and the best raced trials, run on {spec.check_replicates} fresh seeds: "
        f"{fit.adoption_line()}. `search_loss`: the loss on the search's seeds; `fresh_loss`: "
        "the sum of squared z-scores of the fresh seeds' means; `vs_start`: minus the start's "
        "on the same seeds, with its jackknife standard error.",
        "",
        _markdown(candidates, digits=4),
        "",
        f"## Fit on {spec.check_replicates} fresh seeds",
        "",
        f"Loss {fit.check_loss:.4g}"
        + (
            f"; the start on the same seeds (`base_mean`, `base_z`): {fit.base_check_loss:.4g}"
            if "base_z" in fit.fit
            else ""
        )
        + ". `ci95`: the 95 % interval of the mean; `sd`: the spread of single runs; "
        "`pooled_sd`: that spread within a trial, pooled over the search's trials (the "
        "model's noise the loss allows for).",
        "",
        _markdown(fit_table),
        "",
        "## Parameters",
        "",
        f"`near_low`-`near_high`: the values of the {near} near-best trials, whose loss is "
        f"within the chi-square {NEAR_LEVEL:g} quantile ({len(names)} degrees of freedom) of "
        "the lowest; `importance`: PED-ANOVA importance for reaching the best 10 % of losses.",
        "",
        _markdown(fit.parameters.drop(columns=["near_trials"]), digits=4),
        "",
        "Fitted scenario: `fitted.yaml`.",
        "",
    ]
    return "\n".join(lines)


# --- reading -------------------------------------------------------------------------------


def read_fit(out: str | Path) -> Fit:
    """A finished calibration's :class:`Fit`, read from its folder."""
    out = Path(out)
    manifest = out / sweepstore.MANIFEST
    if not manifest.is_file():
        raise CalibrationError(f"{manifest}: not found; {out} is not a calibration's folder.")
    info = json.loads(manifest.read_text())
    if info.get("status") != "complete":
        raise CalibrationError(f"{out}: the calibration has not finished; run it again.")
    frames = {
        name: pd.read_parquet(out / f"{name}.parquet")
        for name in ("trials", "candidates", "parameters", "fit")
    }
    fitted = dict(
        zip(frames["parameters"]["parameter"], frames["parameters"]["fitted"], strict=True)
    )
    return Fit(
        out.resolve(),
        frames["trials"],
        frames["parameters"],
        frames["fit"],
        fitted,
        int(info["best_trial"]),
        frames["candidates"],
    )
