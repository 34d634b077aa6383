"""Sensitivity indices through the sweep machinery: functions whose indices are known exactly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from popsim.sweeps.sensitivity import (
    analyze,
    citable,
    indices,
    ishigami_indices,
    n_points,
    unit_sample,
)
from popsim.sweeps.sweep import read_runs, run_sweep

PI = repr(np.pi)


def write(folder: Path, body: str) -> Path:
    path = folder / "sweep.yaml"
    path.write_text(body, encoding="utf-8")
    return path


def test_ishigami_sobol_indices_through_a_sweep_match_the_analytic_values(tmp_path):
    n = 512
    path = write(
        tmp_path,
        "model: popsim.sweeps.sensitivity:ishigami\nparameters:\n"
        + "".join(f"  x{k}: {{low: -{PI}, high: {PI}}}\n" for k in (1, 2, 3))
        + f"design: sobol\nsamples: {n}\nseed: 11\noutputs: [y]\n",
    )
    summary = run_sweep(path, tmp_path / "out", workers=1, progress=False, echo=None)
    assert summary.n_runs == n * (3 + 2) and not summary.failed
    table = analyze(tmp_path / "out").set_index(["parameter", "measure"])
    exact = ishigami_indices(a=7.0, b=0.1)
    np.testing.assert_allclose(exact["S1"], [0.314, 0.442, 0.0], atol=5e-4)
    np.testing.assert_allclose(exact["ST"], [0.558, 0.442, 0.244], atol=5e-4)
    for parameter, row in exact.iterrows():
        for measure in ("S1", "ST"):
            est, conf = table.loc[(parameter, measure), ["estimate", "conf"]]
            # conf is the bootstrap 95 % half-width, about 1.96 standard errors: allow 3 of them
            tolerance = 3 * conf / 1.96
            assert 0 < conf < 10 / np.sqrt(n), f"{parameter} {measure}: interval {conf:.3f}"
            assert abs(est - row[measure]) <= tolerance, (
                f"{parameter} {measure}: estimate {est:.3f}, analytic {row[measure]:.3f}, "
                f"tolerance {tolerance:.3f} (3 bootstrap standard errors at N={n})"
            )
    st3, s13 = table.loc[("x3", "ST"), "estimate"], table.loc[("x3", "S1"), "estimate"]
    assert st3 - s13 > 0.15, "x3 acts only through its interaction with x1"


def linear(scenario, seed, overrides, n_agents, years, outputs):
    """y is linear (known elementary effects); z = x1 * x3 makes x1's and x3's effects vary."""
    x1, x2, x3 = (overrides[k] for k in ("x1", "x2", "x3"))
    return {"y": 3 * x1 - x2, "z": x1 * x3}


def test_morris_elementary_effects_of_known_functions(tmp_path):
    path = write(
        tmp_path,
        "model: test_sensitivity:linear\nparameters:\n  x1: {low: 0, high: 1}\n"
        "  x2: {low: 0, high: 2}\n  x3: {low: 0, high: 5}\n"
        "design: morris\nsamples: 20\nlevels: 4\nreplicates: 2\nseed: 3\noutputs: [y, z]\n",
    )
    run_sweep(path, tmp_path / "out", workers=1, run=linear, progress=False, echo=None)
    runs = read_runs(tmp_path / "out")
    assert len(runs) == 2 * n_points("morris", 3, 20)
    table = analyze(tmp_path / "out", ["y", "z"]).set_index(["output", "parameter", "measure"])
    # an elementary effect is the change of the output per whole range of the parameter
    for parameter, effect in {"x1": 3.0, "x2": -2.0, "x3": 0.0}.items():
        assert table.loc[("y", parameter, "mu"), "estimate"] == pytest.approx(effect, abs=1e-9)
        assert table.loc[("y", parameter, "mu_star"), "estimate"] == pytest.approx(abs(effect))
        assert table.loc[("y", parameter, "sigma"), "estimate"] == pytest.approx(0, abs=1e-9)
    assert table.loc[("z", "x2", "mu_star"), "estimate"] == 0, "z does not depend on x2"
    for parameter in ("x1", "x3"):
        assert table.loc[("z", parameter, "sigma"), "estimate"] > 0.5, (
            f"the effect of {parameter} on x1 * x3 depends on the other factor"
        )
    wide = citable(table.reset_index())
    assert wide.index.tolist()[-1] == "x2", "the least influential lever comes last"
    assert wide.columns.tolist()[:3] == [("y", "mu_star"), ("y", "sigma"), ("z", "mu_star")]
    assert wide.loc["x1", ("y", "mu_star")] == "3 [3, 3]"


def test_indices_refuse_missing_points_and_unknown_designs():
    x = unit_sample("morris", ["a", "b"], 4, seed=1)
    y = x[:, 0].copy()
    y[5] = np.nan
    with pytest.raises(ValueError, match="missing or not finite at 1 design points"):
        indices("morris", ["a", "b"], x, {"out": y})
    with pytest.raises(ValueError, match="sobol or morris"):
        indices("latin_hypercube", ["a", "b"], x, {"out": x[:, 0]})


def test_designs_are_seeded_and_sized_as_salib_says():
    names = ["a", "b", "c"]
    for design, n in (("sobol", 8), ("morris", 5), ("latin_hypercube", 7)):
        one = unit_sample(design, names, n, seed=4)
        assert one.shape == (n_points(design, 3, n), 3)
        assert ((one >= 0) & (one <= 1)).all()
        np.testing.assert_array_equal(one, unit_sample(design, names, n, seed=4))
        assert not np.array_equal(one, unit_sample(design, names, n, seed=5))
    assert n_points("sobol", 3, 8, second_order=True) == 8 * 8
