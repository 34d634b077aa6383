"""The explorer without a browser: controls from the schema, saved settings, live views.

A saved settings file must be a valid scenario that extends the starting one and gives
the explorer's run exactly; the views must work at any month of a run, before its first
year end too.
"""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import pytest

from conftest import PARAMS
from popsim.analysis.measures import write
from popsim.cli import main
from popsim.explorer import views
from popsim.explorer.compare import SHOWN, compare
from popsim.explorer.levers import LEVERS, field_at
from popsim.explorer.model import ExplorerModel
from popsim.explorer.settings import HEADER, Settings
from popsim.outputs.results import TABLES
from popsim.outputs.runner import collect, simulate
from popsim.scenario.loading import ScenarioError, load_scenario

BASELINE = PARAMS / "baseline.yaml"
PERSONS, YEARS = 1500, 2


@pytest.fixture(scope="module")
def explored() -> Settings:
    """A lever, a dated birth rule and a seed changed from the baseline, run small."""
    s = Settings.of(BASELINE, seed=3, n_persons=PERSONS, years=YEARS)
    s = s.with_value("policy.checkups.interval_months", 6)
    s = s.with_value("policy.rules.regime", "two_child")
    return replace(s, rule_from=2010)


def test_every_control_has_the_schema_range_unit_and_meaning():
    for lever in LEVERS:
        field = field_at(lever.path)
        assert field.json_schema_extra["unit"] == lever.unit
        assert lever.meaning and lever.meaning in field.description
        if lever.kind in ("int", "float"):
            assert lever.low is not None and lever.high is not None and lever.low < lever.high
            assert load_scenario(None, {lever.path: lever.high})  # the top of the slider is valid
        if lever.kind == "choice":
            assert load_scenario(BASELINE).policy.rules.regime in lever.choices


def test_saved_settings_validate_extend_the_start_and_repeat_the_run(explored, tmp_path, capsys):
    path = explored.save(tmp_path / "sub" / "explored.yaml")
    text = path.read_text()
    assert text.startswith(HEADER)
    assert "extends: ../../" in text and "--seed 3" in text
    assert main(["validate", str(path)]) == 0, "popsim validate accepts the saved file"
    assert "valid" in capsys.readouterr().out
    scenario = load_scenario(path)
    assert scenario.policy.checkups.interval_months == 6
    assert scenario.policy.rules.regime == "one_and_half", "the rule changes in 2010, not before"
    assert [(c.date, c.set) for c in scenario.timeline] == [
        ("2010-01", {"policy.rules.regime": "two_child"})
    ]

    model = ExplorerModel(explored)
    model.run()
    mine, batch = collect(model), simulate(path, seed=explored.seed)
    for name in TABLES:
        pd.testing.assert_frame_equal(getattr(mine, name), getattr(batch, name), obj=name)


def test_save_refuses_to_replace_a_file_it_did_not_write(explored, tmp_path):
    other = tmp_path / "mine.yaml"
    other.write_text("name: mine\n")
    with pytest.raises(ScenarioError, match="not saved by the explorer"):
        explored.save(other)
    explored.save(tmp_path / "again.yaml")
    explored.save(tmp_path / "again.yaml")  # its own file it may replace


def test_unchanged_settings_give_the_starting_scenario():
    s = Settings.of(BASELINE, n_persons=PERSONS, years=YEARS)
    assert s.changed() == {}
    assert set(s.overrides()) == {"township.n_persons", "township.years"}
    assert s.differences(s.with_value("policy.fee.multiple", 2.0)) == ["policy.fee.multiple"]


def test_views_work_in_every_month_of_the_first_year(explored):
    model = ExplorerModel(replace(explored, years=1))
    counts = []
    while model.running:
        result = model.result()
        villages = views.villages(model, result)
        assert len(villages) == model.params.township.n_villages
        assert villages["population"].sum() == model.population
        counts.append(int(views.births_by_month(result)["true"].sum()))
        model.step()
    years = views.complete_years(model, model.result())
    assert years["year"].tolist() == [2009] and years["compliance_true"].notna().all()
    assert counts == sorted(counts) and counts[-1] > 0, "births accumulate month by month"
    assert views.pyramid_now(model).to_numpy().sum() == int(model.world.persons.alive.sum())


def test_villages_and_cadres_are_in_a_mesa_network(explored):
    model = ExplorerModel(replace(explored, years=1))
    n = model.params.township.n_villages
    assert len(model.space.all_cells) == n + 1
    cadres = sum(len(model.space[v + 1].agents) - 1 for v in range(n))
    assert cadres == n * model.params.policy.checkups.cadres_per_village


def test_compare_pairs_the_settings_with_their_start_seed_by_seed():
    s = Settings.of(BASELINE, seed=5, n_persons=1000, years=1)
    s = s.with_value("policy.checkups.participation", 0.2)
    calls = []
    c = compare(s, 2, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert c.seeds == (5, 6) and c.reference == "baseline"
    assert len(c.table) == len(SHOWN)
    births = c.table.set_index("indicator").loc["Births"]
    assert births["difference"].lstrip("+") == write(
        "births", c.births_by_seed["difference"].mean()
    )
    assert births["baseline"] == write("births", c.births_by_seed["baseline"].mean())
