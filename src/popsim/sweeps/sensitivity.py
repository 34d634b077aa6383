"""Global sensitivity analysis through SALib: designs, Sobol and Morris indices, a check function.

Designs are drawn on the unit hypercube, one column per swept parameter; a sweep maps each
column to its parameter's values (a range, a list of values, or a distribution's
quantiles, see :mod:`popsim.sweeps.design`). So the indices describe the parameters as the sweep
file distributes them, and Morris' elementary effects are in output units per *whole
range* of a parameter, comparable across parameters.

- ``sobol``: Saltelli's scheme (``SALib.sample.sobol``), N x (D + 2) points, analysed by
  ``SALib.analyze.sobol``: first-order (S1) and total (ST) indices with bootstrap
  confidence intervals.
- ``morris``: N trajectories of D + 1 points (``SALib.sample.morris``), analysed by
  ``SALib.analyze.morris``: mu* (mean absolute elementary effect, with a bootstrap
  interval), mu and sigma.
- ``latin_hypercube``: ``SALib.sample.latin``, for exploring, not for indices.

A design point's output is the mean over its replicates. SALib is imported on use: it
pulls in scipy.stats, which takes over a second.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

#: the headline figures analysed by default: CBR, TFR, SRB and true compliance
HEADLINE = ("cbr", "tfr_true", "srb", "compliance_true")
CONF_LEVEL = 0.95
RESAMPLES = 1000


def problem(names: Sequence[str]) -> dict[str, Any]:
    """SALib's problem for parameters drawn on [0, 1]."""
    return {"num_vars": len(names), "names": list(names), "bounds": [[0.0, 1.0]] * len(names)}


def unit_sample(
    design: str,
    names: Sequence[str],
    samples: int,
    *,
    levels: int = 4,
    second_order: bool = False,
    seed: int = 0,
) -> np.ndarray:
    """A design on [0, 1]^D, one row per point (``design``: latin_hypercube, sobol, morris)."""
    spec = problem(names)
    if design == "latin_hypercube":
        from SALib.sample import latin

        return latin.sample(spec, samples, seed=seed)
    if design == "sobol":
        from SALib.sample import sobol

        return sobol.sample(spec, samples, calc_second_order=second_order, scramble=True, seed=seed)
    if design == "morris":
        from SALib.sample import morris

        return morris.sample(spec, samples, num_levels=levels, seed=seed)
    raise ValueError(f"no SALib sampler for design {design!r}")


def n_points(design: str, n_params: int, samples: int, second_order: bool = False) -> int:
    """The number of design points SALib draws for ``samples`` (N)."""
    per = {"sobol": 2 * n_params + 2 if second_order else n_params + 2, "morris": n_params + 1}
    return samples * per.get(design, 1)


def indices(
    design: str,
    names: Sequence[str],
    x: np.ndarray,
    y: Mapping[str, np.ndarray],
    *,
    levels: int = 4,
    second_order: bool = False,
    seed: int = 0,
    conf_level: float = CONF_LEVEL,
    resamples: int = RESAMPLES,
) -> pd.DataFrame:
    """Sobol or Morris indices of every output, as one tidy table.

    Args:
        design: ``"sobol"`` or ``"morris"``.
        names: the parameters, in the design's column order.
        x: the unit-cube design (points x parameters) the outputs were computed at.
        y: each output's value at every design point, in design order.
        levels: Morris levels of the design.
        second_order: whether the Sobol design allows second-order indices.
        seed: seed of the bootstrap resampling behind the confidence intervals.
        conf_level: confidence level of the intervals.
        resamples: bootstrap resamples.

    Returns:
        Columns ``output, parameter, measure, estimate, conf, ci_low, ci_high``, where
        ``conf`` is the half-width of the bootstrap interval (NaN for Morris' mu and
        sigma, which have none). Sobol measures: S1, ST (and S2 for pairs ``"a x b"``);
        Morris: mu_star, mu, sigma.
    """
    rows = []
    for output, values in y.items():
        values = np.asarray(values, dtype=float)
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            raise ValueError(
                f"output {output!r} is missing or not finite at {bad.size} design points "
                f"(first: {bad[:5].tolist()}); every point needs a value for {design} indices."
            )
        if design == "sobol":
            from SALib.analyze import sobol

            si = sobol.analyze(
                problem(names),
                values,
                calc_second_order=second_order,
                num_resamples=resamples,
                conf_level=conf_level,
                seed=seed,
            )
            for measure in ("S1", "ST"):
                for name, est, conf in zip(names, si[measure], si[f"{measure}_conf"], strict=True):
                    rows.append((output, name, measure, est, conf))
            if second_order:
                for i, j in zip(*np.triu_indices(len(names), 1), strict=True):
                    pair = f"{names[i]} x {names[j]}"
                    rows.append((output, pair, "S2", si["S2"][i, j], si["S2_conf"][i, j]))
        elif design == "morris":
            from SALib.analyze import morris

            si = morris.analyze(
                problem(names),
                np.asarray(x, dtype=float),
                values,
                num_resamples=resamples,
                conf_level=conf_level,
                num_levels=levels,
                seed=seed,
            )
            for k, name in enumerate(names):
                rows.append((output, name, "mu_star", si["mu_star"][k], si["mu_star_conf"][k]))
                rows.append((output, name, "mu", si["mu"][k], np.nan))
                rows.append((output, name, "sigma", si["sigma"][k], np.nan))
        else:
            raise ValueError(f"indices need a sobol or morris design, not {design!r}")
    table = pd.DataFrame(rows, columns=["output", "parameter", "measure", "estimate", "conf"])
    table["estimate"] = table["estimate"].astype(float)
    table["conf"] = table["conf"].astype(float)
    table["ci_low"] = table["estimate"] - table["conf"]
    table["ci_high"] = table["estimate"] + table["conf"]
    return table


def analyze(
    out_dir: str | Path, outputs: Sequence[str] | None = None, *, conf_level: float = CONF_LEVEL
) -> pd.DataFrame:
    """The tidy table of :func:`indices` for the sweep written to ``out_dir``.

    Args:
        out_dir: a sweep's output folder (its design must be sobol or morris, and complete).
        outputs: the outputs to analyse (default: those of :data:`HEADLINE` the sweep
            recorded, else all its scalar outputs).
        conf_level: confidence level of the intervals.
    """
    from popsim.sweeps import store as sweepstore

    manifest = sweepstore.read_manifest(out_dir)
    design = pd.read_parquet(Path(out_dir) / sweepstore.DESIGN)
    names = manifest["parameter_names"]
    recorded = manifest["scalar_outputs"]
    if outputs is None:
        outputs = [o for o in HEADLINE if o in recorded] or recorded
    unknown = [o for o in outputs if o not in recorded]
    if unknown:
        raise ValueError(f"outputs {unknown} were not recorded by the sweep; it has {recorded}.")
    runs = sweepstore.read_runs(out_dir, columns=["point", *outputs])
    means = runs.groupby("point")[list(outputs)].mean().reindex(design["point"])
    return indices(
        manifest["design"],
        names,
        design[names].to_numpy(),
        {o: means[o].to_numpy() for o in outputs},
        levels=manifest["levels"],
        second_order=manifest["second_order"],
        seed=manifest["seed"],
        conf_level=conf_level,
    )


def citable(table: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """A wide table to cite: one row per parameter, ``estimate [low, high]`` per output.

    Rows are ordered by the parameter's largest total index (Sobol ST) or mu* (Morris) over
    the outputs, each output scaled by its largest value so that outputs in different units
    count alike.
    """
    main = "ST" if "ST" in set(table["measure"]) else "mu_star"
    part = table[table["measure"].isin(["S1", "ST", "mu_star", "sigma"])].copy()
    fmt = f"{{:.{digits}g}}"
    part["cell"] = [
        fmt.format(e) if np.isnan(c) else f"{fmt.format(e)} [{fmt.format(lo)}, {fmt.format(hi)}]"
        for e, c, lo, hi in zip(
            part["estimate"], part["conf"], part["ci_low"], part["ci_high"], strict=True
        )
    ]
    wide = part.pivot(index="parameter", columns=["output", "measure"], values="cell")
    ranked = table[table["measure"] == main].pivot(
        index="parameter", columns="output", values="estimate"
    )
    score = (ranked.abs() / ranked.abs().max().replace(0, 1)).max(axis=1)
    order = score.sort_values(ascending=False, kind="stable").index
    outputs = list(dict.fromkeys(part["output"]))
    measures = [m for m in ("S1", "ST", "mu_star", "sigma") if m in set(part["measure"])]
    columns = [(o, m) for o in outputs for m in measures]
    return wide.loc[order, columns]


# --- a function with known indices, to check the machinery ----------------------------------


def ishigami(
    scenario: Any,
    seed: int,
    overrides: Mapping[str, float],
    n_agents: int | None = None,
    years: int | None = None,
    outputs: Sequence[str] = ("y",),
    *,
    a: float = 7.0,
    b: float = 0.1,
) -> dict[str, float]:
    """The Ishigami function of ``x1, x2, x3`` (overrides), as a sweep's run function.

    ``y = sin x1 + a sin^2 x2 + b x3^4 sin x1``, with every x uniform on [-pi, pi].
    The other arguments are those of :func:`popsim.sweeps.executors.run_one` and are ignored.
    """
    x1, x2, x3 = (float(overrides[k]) for k in ("x1", "x2", "x3"))
    return {"y": np.sin(x1) + a * np.sin(x2) ** 2 + b * x3**4 * np.sin(x1)}


def ishigami_indices(a: float = 7.0, b: float = 0.1) -> pd.DataFrame:
    """The analytic first-order and total Sobol indices of :func:`ishigami`."""
    pi4, pi8 = np.pi**4, np.pi**8
    v1 = 0.5 * (1 + b * pi4 / 5) ** 2
    v2 = a**2 / 8
    v13 = 8 * b**2 * pi8 / 225
    total = a**2 / 8 + b * pi4 / 5 + b**2 * pi8 / 18 + 0.5
    return pd.DataFrame(
        {"S1": [v1 / total, v2 / total, 0.0], "ST": [(v1 + v13) / total, v2 / total, v13 / total]},
        index=pd.Index(["x1", "x2", "x3"], name="parameter"),
    )
