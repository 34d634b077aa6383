"""Confidence intervals of a difference between scenarios: paired by seed, Welch, Fieller.

Student t quantiles come from ``scipy.stats``. :mod:`popsim.analysis.comparison` builds its tables
from these.
"""

from __future__ import annotations

import math

import pandas as pd
from scipy import stats


def t975(df: float) -> float:
    """The two-sided 95 % Student t quantile with ``df`` (at least 1) degrees of freedom."""
    return float(stats.t.ppf(0.975, max(df, 1.0))) if not math.isnan(df) else math.nan


def paired_interval(
    scenario: pd.Series, reference: pd.Series, level: float = 0.95
) -> tuple[float, float, float]:
    """(mean difference, low, high): t-interval of ``scenario_i - reference_i`` over common seeds.

    Both series are indexed by seed; seeds not in both are left out.
    """
    diff = (scenario - reference).dropna()
    n = len(diff)
    mean = float(diff.mean()) if n else math.nan
    if n < 2:
        return mean, math.nan, math.nan
    half = float(stats.t.ppf(0.5 + level / 2, n - 1)) * float(diff.std()) / math.sqrt(n)
    return mean, mean - half, mean + half


def welch_interval(
    scenario: pd.Series, reference: pd.Series, level: float = 0.95
) -> tuple[float, float, float]:
    """(difference of means, low, high): Welch's interval, as if the replicates were unpaired."""
    a, b = scenario.dropna(), reference.dropna()
    mean = float(a.mean() - b.mean()) if len(a) and len(b) else math.nan
    if len(a) < 2 or len(b) < 2:
        return mean, math.nan, math.nan
    va, vb = float(a.var()) / len(a), float(b.var()) / len(b)
    se = math.sqrt(va + vb)
    if se == 0:
        return mean, mean, mean
    half = float(stats.t.ppf(0.5 + level / 2, max(welch_df(va, vb, len(a), len(b)), 1.0))) * se
    return mean, mean - half, mean + half


def welch_df(va: float, vb: float, na: int, nb: int) -> float:
    """Welch-Satterthwaite degrees of freedom of two means' variances ``va``, ``vb``."""
    den = va**2 / (na - 1) + vb**2 / (nb - 1)
    return (va + vb) ** 2 / den if den > 0 else math.inf


def ratio_interval(
    num: float, den: float, var_num: float, var_den: float, cov: float, t: float
) -> tuple[float, float]:
    """Fieller's interval for ``num / den`` from two means, their variances and covariance.

    The set of ratios ``r`` with ``(num - r den)^2 <= t^2 var(num - r den)``. It is
    a bounded interval only when ``den`` is clearly non-zero (``den^2 > t^2
    var_den``); otherwise it is unbounded and (NaN, NaN) is returned.
    """
    a = den**2 - t**2 * var_den
    if not a > 0:
        return math.nan, math.nan
    b = num * den - t**2 * cov
    c = num**2 - t**2 * var_num
    root = math.sqrt(max(b * b - a * c, 0.0))
    return (b - root) / a, (b + root) / a
