"""Figures and tables of popsim.analysis.report on small synthetic tables (Agg backend)."""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from matplotlib.container import BarContainer, ErrorbarContainer
from matplotlib.figure import Figure

from popsim.analysis import comparison, notebook, report

SEEDS, YEARS = (0, 1, 2), (2009, 2010, 2011, 2012)


def synthetic(shift: float = 0.0) -> dict[str, pd.DataFrame]:
    """Stacked tables of one scenario: 3 seeds x 4 years, values varying with seed and year."""
    grid = pd.DataFrame([(s, y) for s in SEEDS for y in YEARS], columns=["seed", "year"])
    k = grid["seed"] + (grid["year"] - 2009) / 10
    annual = grid.assign(
        cbr=12 + k + shift, tfr=1.5 + k / 10, srb=110 + k, population=3000 + 10 * k
    )
    births = (40 + 2 * grid["seed"]).astype(int)
    kpis = grid.assign(
        compliance_true=0.9 - k / 100,
        compliance_reported=0.98 - k / 200,
        births=births,
        births_reported=births - 2,
        births_out_of_plan=4,
        births_out_of_plan_reported=1,
        checkup_targets=1000,
        checkup_attended=800,
        checkup_participation_reported=0.95,
        larc_in_place_true=0.8,
        larc_in_place_reported=0.9,
    )
    # One birth event per kpis birth: first half boys, the unreported ones girls.
    rows = []
    for (seed, year), n in zip(grid.itertuples(index=False), births, strict=True):
        for i in range(n):
            rows.append((seed, year, "birth", int(i < n // 2), int(i < n - 2)))
    events = pd.DataFrame(rows, columns=["seed", "year", "event", "sex", "reported"])
    groups = [f"{a}-{a + 4}" for a in range(0, 100, 5)] + ["100+"]
    pyramid = pd.DataFrame(
        [
            (s, y, g, sex, 100 - i)
            for s in SEEDS
            for y in YEARS
            for i, g in enumerate(groups)
            for sex in (0, 1)
        ],
        columns=["seed", "year", "age_group", "sex", "persons"],
    )
    return {"annual": annual, "kpis": kpis, "events": events, "pyramid": pyramid}


@pytest.fixture(autouse=True)
def no_open_figures():
    yield
    import matplotlib.pyplot as plt

    assert plt.get_fignums() == [], "report figures must be closed in pyplot when returned"


def lines(ax) -> int:
    return len(ax.get_lines())


def test_indicator_figure_has_five_panels_with_compliance_true_and_reported():
    fig = report.indicator_figure(synthetic(), title="synthetic")
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 5
    assert [lines(ax) for ax in fig.axes] == [1, 1, 1, 1, 2]
    assert [len(ax.collections) for ax in fig.axes] == [1, 1, 1, 1, 2]  # one band per line
    x, y = fig.axes[0].get_lines()[0].get_data()
    assert list(x) == list(YEARS)
    assert y[0] == pytest.approx(12 + np.mean(SEEDS))  # mean over replicates


def test_pyramid_figure_shows_first_and_last_year():
    fig = report.pyramid_figure(synthetic())
    assert len(fig.axes) == 2
    assert [ax.get_title() for ax in fig.axes] == ["2009 (year end)", "2012 (year end)"]
    for ax in fig.axes:
        bars = [c for c in ax.containers if isinstance(c, BarContainer)]
        assert [len(b) for b in bars] == [21, 21]  # males left, females right
        assert bars[0][0].get_width() == -100 and bars[1][0].get_width() == 100


def test_trajectory_figure_has_one_line_per_scenario_in_each_panel():
    batch = {"ref": synthetic(), "a": synthetic(1.0), "b": synthetic(2.0)}
    fig = report.trajectory_figure(batch)
    assert len(fig.axes) == len(comparison.TRAJECTORIES) == 6
    assert all(lines(ax) == 3 for ax in fig.axes)


def test_interval_figure_draws_paired_and_welch_interval_per_scenario():
    table = pd.DataFrame(
        {
            "difference": [1.0, -2.0],
            "paired_low": [0.5, -2.5],
            "paired_high": [1.5, -1.5],
            "welch_low": [-1.0, -5.0],
            "welch_high": [3.0, 1.0],
        },
        index=pd.Index(["a", "b"], name="scenario"),
    )
    tables = {"cbr": table, "tfr": table, "births_averted": table}
    fig = report.interval_figure(tables)
    assert len(fig.axes) == 3
    for ax in fig.axes:
        bars = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
        assert len(bars) == 2  # paired and Welch
        assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b"]


def test_kpi_table_pools_over_replicates_and_years():
    tables = synthetic()
    table = report.kpi_table(tables)
    births = tables["kpis"]["births"].sum()
    n = len(tables["kpis"])
    assert table.loc["compliance (share of births in plan)", "true"] == pytest.approx(
        1 - 4 * n / births
    )
    assert table.loc["compliance (share of births in plan)", "reported"] == pytest.approx(
        1 - n / (births - 2 * n)
    )
    assert table.loc["births per year", "true"] == pytest.approx(births / n)
    assert table.loc["check-up participation"].tolist() == pytest.approx([0.8, 0.95, 0.15])
    assert table.loc["SRB (males per 100 females)", "true"] == pytest.approx(100)
    by_year = report.kpi_table(tables, by_year=True)
    assert list(by_year.index) == list(YEARS)
    assert by_year[("births per year", "true")].tolist() == pytest.approx([42] * 4)


def test_indicator_table_is_the_mean_over_replicates():
    table = report.indicator_table(synthetic())
    assert list(table.index) == list(YEARS)
    assert table.loc[2009, "cbr"] == pytest.approx(13)


def test_paths_are_shown_relative_to_the_repository(tmp_path, params_dir):
    root = notebook.repo_root(params_dir / "scenarios")
    assert root == params_dir.parent
    (tmp_path / "other" / "params").mkdir(parents=True)
    (tmp_path / "other" / "params" / "baseline.yaml").touch()
    assert notebook.repo_root(tmp_path / "other" / "notebooks") == (tmp_path / "other").resolve()
    assert notebook.repo_root(tmp_path) == root, "outside a repository: popsim's own checkout"
    assert notebook.resolve("params/baseline.yaml", root) == params_dir / "baseline.yaml"
    assert notebook.resolve(tmp_path, root) == tmp_path
    text = notebook.output_paths(root / "results" / "x", root)
    assert "manifest: results/x/manifest.json" in text
    assert str(root) not in text


def test_overrides_and_description(params_dir):
    assert notebook.parse_overrides(None) == {}
    assert notebook.parse_overrides('{"policy.fee.collection": 0.6}') == {
        "policy.fee.collection": 0.6
    }
    with pytest.raises(ValueError, match="mapping"):
        notebook.parse_overrides("[1, 2]")
    from popsim.outputs import replicates

    req = replicates.request(params_dir / "baseline.yaml", n_agents=500, years=2)
    text = notebook.describe(req, {"policy.fee.collection": 0.6})
    assert text.startswith(
        "baseline, policy.fee.collection = 0.6: 1 replicate (seed 0), 500 persons"
    )


def test_calibration_figures_show_every_target_parameter_and_figure():
    fit = pd.DataFrame(
        {"target": ["cbr", "srb"], "z": [0.5, -3.0], "sd": [0.2, 4.0], "base_z": [1.0, -1.0]}
    )
    (ax,) = report.calibration_fit_figure(fit, {"cbr": 0.5, "srb": 4.0}, "demo").axes
    assert [t.get_text() for t in ax.get_yticklabels()] == ["srb", "cbr"], "first on top"
    (bars,) = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    assert bars.lines[2][0].get_segments()[1][:, 0].tolist() == pytest.approx([0.5 - 0.784, 1.284])
    trials = pd.DataFrame(
        {
            "trial": range(4),
            "loss": [5.0, 3.0, 4.0, 1.0],
            "a.x": [0.1, 0.2, 0.3, 0.4],
            "b.y": [1.0, 2.0, 3.0, 4.0],
            "cbr": [11.0, 12.0, 13.0, 14.0],
            "srb": [110.0, 115.0, 120.0, 125.0],
        }
    )
    fig = report.calibration_search_figure(trials, {"a.x": 0.4, "b.y": 4.0}, near=2)
    assert [ax.get_title() for ax in fig.axes] == ["search", "a", "b"]
    assert [len(c.get_offsets()) for c in fig.axes[1].collections] == [4, 2]  # all, near-best
    fig = report.calibration_tradeoff_figure(
        trials, "a.x", 0.4, {"cbr": (11.5, 13.5), "srb": (110.0, 120.0)}
    )
    assert [ax.get_title() for ax in fig.axes] == ["cbr", "srb", ""]  # and the colour bar


def test_sensitivity_figure_puts_the_most_influential_parameter_on_top():
    table = pd.DataFrame(
        [
            (o, p, "mu_star", e, 0.1, e - 0.1, e + 0.1)
            for o, values in (("cbr", (0.2, 1.0)), ("srb", (3.0, 5.0)))
            for p, e in zip(("p1", "p2"), values, strict=True)
        ],
        columns=["output", "parameter", "measure", "estimate", "conf", "ci_low", "ci_high"],
    )
    fig = report.sensitivity_figure(table, "sweep")
    assert [ax.get_title() for ax in fig.axes] == ["cbr", "srb"]
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["p1", "p2"]  # p2 on top
    assert fig.get_suptitle() == "sweep: mu_star with bootstrap 95 % intervals"


def test_importing_popsim_does_not_import_matplotlib():
    code = (
        "import sys, popsim, popsim.analysis.report, popsim.analysis.comparison; "
        "print('matplotlib' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
