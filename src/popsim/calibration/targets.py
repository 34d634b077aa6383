"""The model's figures for calibration (docs/regime.md §19), the target files, and the fit.

:func:`statistics` computes every figure of :data:`STATISTICS` from one run, on its first
:data:`WINDOW_YEARS` years, pooled over them (SRB, shares of births) or averaged (rates). A
target file (``params/calibration/targets.yaml``) gives each figure's range and source;
:func:`load_targets` reads it. :func:`table` sets a model's mean over replicates against the
ranges, and :func:`loss` scores it: a range is read as mean +- 2 sd, so the loss is the sum
of squared z-scores, -2 log of a Gaussian pseudo-likelihood.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from popsim.outputs.results import Result
from popsim.scenario.loading import ScenarioError, read_yaml

#: every figure :func:`statistics` computes: its name and meaning
STATISTICS = {
    "cbr": "crude birth rate, per 1000",
    "tfr_true": "total fertility rate, all births",
    "tfr_reported": "total fertility rate, registered births",
    "srb": "sex ratio at birth, males per 100 females",
    "srb_order_2": "SRB of second births",
    "male_share_2nd_after_girl": "male share of 2nd births after a girl",
    "contraceptive_prevalence": "married women 15-49 using a method",
    "share_iud": "IUD, share of married women 15-49",
    "share_sterilisation": "female or male sterilisation, share",
    "share_condom": "condom, share",
    "share_pill": "pill, share",
    "mean_age_first_marriage": "women's mean age at first marriage",
    "mean_age_first_birth": "women's mean age at first birth",
    "fee_collection_rate": "social maintenance fee collected / levied",
    "compliance_reported": "in-plan share of registered births",
    "compliance_true": "in-plan share of all births",
    "unreported_share": "share of births not registered",
}


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
        known: the allowed names (default: :data:`STATISTICS`); None allows any (a run
            function of one's own).

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
        if known is not None and name not in known:
            close = suggest(str(name), known)
            hint = f" Did you mean {close!r}?" if close else ""
            raise CalibrationError(f"{where}: no such figure.{hint} Figures: {', '.join(known)}.")
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
        meaning = STATISTICS.get(name, str(name))
        targets.append(
            Target(str(name), meaning, float(low), float(high), str(entry.get("source", "")))
        )
    return tuple(targets)


def zscores(values: Mapping[str, float], targets: Sequence[Target]) -> dict[str, float]:
    """Each target's (model - centre) / sd; NaN where the model has no figure."""
    return {t.name: (float(values.get(t.name, np.nan)) - t.centre) / t.sd for t in targets}


def loss(values: Mapping[str, float], targets: Sequence[Target]) -> float:
    """Sum of squared z-scores over the targets (NaN if a figure is missing)."""
    return float(sum(z * z for z in zscores(values, targets).values()))


def _ratio(part: pd.Series, whole: pd.Series) -> float:
    """``sum(part) / sum(whole)`` over the years; NaN when the whole is 0 (a tiny run)."""
    total = float(whole.sum())
    return float(part.sum()) / total if total else float("nan")


def _srb(sex: pd.Series) -> float:
    male = float(sex.sum())
    return 100 * male / max(len(sex) - male, 1.0)


def _tfr(births: pd.DataFrame, exposure: pd.DataFrame) -> float:
    """Mean over years of the TFR of the given births (mothers 15-49)."""
    age = births["age_months"] // 12
    counts = births[age.between(15, 49)].assign(age=age).groupby(["year", "age"]).size()
    women = exposure[(exposure["sex"] == 0) & exposure["age"].between(15, 49)]
    women = women.set_index(["year", "age"])["person_years"]
    return float((counts.reindex(women.index, fill_value=0) / women).groupby("year").sum().mean())


WINDOW_YEARS = 3  #: the targets describe 2009-2011: the first years of the baseline


def _window(frame: pd.DataFrame, first_year: int) -> pd.DataFrame:
    return frame[frame["year"] < first_year + WINDOW_YEARS] if "year" in frame else frame


def statistics(result: Result) -> dict[str, float]:
    """Every figure of :data:`STATISTICS` from the first years of one run (NaN: none).

    Registration, compliance, fees and contraception need the regime (``policy.enabled``):
    without it they are left out.
    """
    first = int(result.annual["year"].min())
    result = replace(
        result,
        **{
            name: _window(getattr(result, name), first)
            for name in ("annual", "events", "kpis", "exposure")
        },
    )
    e, k = result.events, result.kpis
    births = e[e["event"] == "birth"]
    second = births[births["order"] == 2]
    after_girl = second[second["sons_before"] == 0]
    brides = e[(e["event"] == "marriage") & (e["sex"] == 0)]
    stats = {
        "cbr": result.annual["cbr"].mean(),
        "tfr_true": _tfr(births, result.exposure),
        "srb": _srb(births["sex"]),
        "srb_order_2": _srb(second["sex"]),
        "male_share_2nd_after_girl": after_girl["sex"].mean(),
        "mean_age_first_marriage": (brides["age_months"] / 12).mean(),
        "mean_age_first_birth": (births[births["order"] == 1]["age_months"] / 12).mean(),
    }
    if not k.empty:  # the regime's figures: the core has no registration, fees or methods
        stats |= {
            "tfr_reported": _tfr(births[births["reported"] == 1], result.exposure),
            "unreported_share": 1 - (births["reported"] == 1).mean(),
            "contraceptive_prevalence": k["contraceptive_prevalence"].mean(),
            "share_iud": k["share_iud"].mean(),
            "share_sterilisation": (
                k["share_female_sterilisation"] + k["share_male_sterilisation"]
            ).mean(),
            "share_condom": k["share_condom"].mean(),
            "share_pill": k["share_pill"].mean(),
            "fee_collection_rate": _ratio(k["yuan_fee_collected"], k["yuan_fee_levied"]),
            "compliance_reported": 1
            - _ratio(k["births_out_of_plan_reported"], k["births_reported"]),
            "compliance_true": 1 - _ratio(k["births_out_of_plan"], k["births"]),
        }
    return {name: float(stats[name]) for name in STATISTICS if name in stats}


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
