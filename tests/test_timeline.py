"""Dated changes, the common burn-in, the selective two-child and three-child rules, only children.

* A change holds from the start of its month and not before: a run with a dated change
  and the run without it agree bit for bit before that month and differ from it on.
* The burn-in runs under the baseline policy, so a scenario that differs from the baseline
  from its start has the baseline's state at its start (with ``own``, it has not).
* A bad timeline is refused at load with the file and the entry named.
* The rules: a second child is in plan under ``selective_two_child`` when either spouse is
  an only child (and only then, for a couple whose first is a son); ``three_child`` allows
  three. The only-child flag: drawn by birth cohort for the initial population, within
  sampling error of the table; derived from the mother's births for those born in the run.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import popsim
from conftest import PARAMS, ROOT
from popsim.mechanisms.rules import next_birth_out_of_plan, only_child_couple, out_of_plan
from popsim.model import PopsimModel
from popsim.outputs.runner import resize
from popsim.scenario.tables import only_child_share
from popsim.scenario.timeline import month_of, schedule
from popsim.state.population import FEMALE, MALE, MARRIED, PERSON_COLUMNS
from popsim.state.world import World

SMALL = {"township.burn_in_years": 3}
N, YEARS, SEED = 3000, 4, 11


def _scenario(path=PARAMS / "baseline.yaml", timeline=(), **overrides):
    values = {**SMALL, **overrides}
    if timeline:
        values["timeline"] = list(timeline)
    return resize(popsim.load_scenario(path, values), N, YEARS)


def _change(date: str, **fields) -> dict:
    return {
        "date": date,
        "set": {k.replace("__", "."): v for k, v in fields.items()},
        "source": "t",
    }


def _run(scenario):
    return popsim.simulate(scenario, seed=SEED)


@pytest.fixture(scope="module")
def baseline():
    return _run(_scenario())


# ---- a change holds from its month, not before ---------------------------------------------


def test_a_change_takes_effect_exactly_in_its_month(baseline):
    """Monthly check-ups from May 2010 (month 16, not a quarterly round): a round in month
    16 and none in the months before that the quarterly rounds would not have held."""
    start = baseline.manifest["start_year"]
    date = f"{start + 1}-05"
    month = month_of(date, start)
    assert month % 3 != 0, "the change's month is not a quarterly round month"
    changed = _run(_scenario(timeline=[_change(date, policy__checkups__interval_months=1)]))
    base = baseline.policy_monthly.set_index("month")["checkup_targets"]
    new = changed.policy_monthly.set_index("month")["checkup_targets"]
    pd.testing.assert_series_equal(base.loc[: month - 1], new.loc[: month - 1])
    assert np.isnan(base.loc[month]), "the baseline holds no round in that month"
    assert new.loc[month] > 0, "the change's month has its first monthly round"
    assert new.loc[month:].notna().all(), "a round every month from the change on"


def _assert_same_before(a, b, month: int) -> None:
    """Two runs' monthly tables and events agree bit for bit before ``month``."""
    for name in ("events", "policy_monthly", "monthly"):
        x, y = getattr(a, name), getattr(b, name)
        pd.testing.assert_frame_equal(
            x[x["month"] < month].reset_index(drop=True),
            y[y["month"] < month].reset_index(drop=True),
            obj=name,
        )


def test_runs_agree_bit_for_bit_before_a_change_and_differ_after(baseline):
    start = baseline.manifest["start_year"]
    year = start + 2
    changed = _run(_scenario(timeline=[_change(f"{year}-01", policy__checkups__enabled=False)]))
    month = 12 * (year - start)
    _assert_same_before(baseline, changed, month)
    pd.testing.assert_frame_equal(
        baseline.annual[baseline.annual["year"] < year].reset_index(drop=True),
        changed.annual[changed.annual["year"] < year].reset_index(drop=True),
    )
    after = changed.policy_monthly[changed.policy_monthly["month"] >= month]
    assert after["checkup_targets"].isna().all(), "no check-up round from the change on"
    a, b = baseline.events, changed.events
    assert (
        not a[a["month"] >= month]
        .reset_index(drop=True)
        .equals(b[b["month"] >= month].reset_index(drop=True))
    ), "the runs differ after the change"


def test_a_new_rule_reclassifies_the_pregnancies_under_way():
    """A switch to the one-child rule late in a run (month 150, past int8's range): every
    pregnancy of a mother who has a child is out of plan from that month on."""
    start = popsim.load_scenario(PARAMS / "baseline.yaml").township.start_year
    scenario = resize(
        popsim.load_scenario(
            PARAMS / "baseline.yaml",
            {
                "township.burn_in_years": 1,
                "timeline": [_change(f"{start + 12}-07", policy__rules__regime="one_child")],
            },
        ),
        6000,
        13,
    )
    model = PopsimModel(scenario, seed=SEED)
    p = model.world.persons
    while model.world.t < 150:
        model.step()
        if model.world.t == 150:
            under_way = p.alive & (p.preg_month > 1) & (p.parity >= 1)
            assert (p.out_of_plan[under_way] == 0).any(), "some were in plan under 1.5 children"
    model.step()  # month 150, the change's month
    under_way = p.alive & (p.preg_month > 0) & (p.parity >= 1)
    assert under_way.sum() > 5
    assert p.out_of_plan[under_way].all(), "under the one-child rule no second child is in plan"


def _announced(start: int) -> dict:
    """The two-child rule from January of the run's third year, announced in May of its second."""
    change = _change(f"{start + 2}-01", policy__rules__regime="two_child")
    return {**change, "announced": f"{start + 1}-05"}


def test_an_announced_rule_governs_births_due_once_it_holds_from_its_announcement():
    """From the announcement (month 16) a son-first couple's second birth is in plan if it
    is due from the rule's month (24) on, and still out of plan if due before; before the
    announcement it is out of plan whenever it comes. Once the rule holds, nothing is
    expected any more."""
    start = popsim.load_scenario(PARAMS / "baseline.yaml").township.start_year
    model = PopsimModel(_scenario(timeline=[_announced(start)]), seed=SEED)
    told, in_force = month_of(f"{start + 1}-05", start), month_of(f"{start + 2}-01", start)
    w, p = model.world, model.world.persons

    def son_first():
        rows = np.flatnonzero(
            p.alive & (p.sex == FEMALE) & (p.marital == MARRIED) & (p.parity == 1) & (p.sons == 1)
        )
        return rows[w.age_years[rows] >= LEGAL + 1]

    while w.t < told:
        model.step()
    rows = son_first()
    assert rows.size > 20
    assert w.expected_rules is None
    assert next_birth_out_of_plan(w, rows, in_force - w.t + 12).all(), "nothing announced yet"
    model.step()  # the announcement's month
    assert w.expected_rules == (in_force, model.changes[in_force].policy.rules)
    rows = son_first()
    due_after = in_force - w.t
    assert not next_birth_out_of_plan(w, rows, due_after).any(), "due once the rule holds"
    assert next_birth_out_of_plan(w, rows, due_after - 1).all(), "due before it holds"
    ahead = np.where(np.arange(rows.size) % 2 == 0, due_after, due_after - 1)
    np.testing.assert_array_equal(next_birth_out_of_plan(w, rows, ahead), ahead < due_after)
    while w.t <= in_force:
        model.step()
    assert w.expected_rules is None
    assert model.params.policy.rules.regime == "two_child"


def test_runs_agree_bit_for_bit_before_an_announcement_and_differ_after():
    """The same change, announced early or not: identical until the announcement, and
    couples act on it before the rule holds."""
    start = popsim.load_scenario(PARAMS / "baseline.yaml").township.start_year
    plain = _change(f"{start + 2}-01", policy__rules__regime="two_child")
    quiet, told = _run(_scenario(timeline=[plain])), _run(_scenario(timeline=[_announced(start)]))
    month, in_force = month_of(f"{start + 1}-05", start), month_of(f"{start + 2}-01", start)
    _assert_same_before(quiet, told, month)
    a, b = quiet.events, told.events
    window = (a["month"] >= month) & (a["month"] < in_force + 9)
    bw = (b["month"] >= month) & (b["month"] < in_force + 9)
    assert not a[window].reset_index(drop=True).equals(b[bw].reset_index(drop=True)), (
        "couples act on the announcement before the rule holds"
    )


# ---- the common burn-in --------------------------------------------------------------------


def _state_at_start(scenario) -> dict[str, np.ndarray]:
    model = PopsimModel(scenario, seed=SEED)  # the constructor runs the burn-in
    p = model.world.persons
    assert model.world.t == 0
    return {c: getattr(p, c).copy() for c in PERSON_COLUMNS}


def test_scenarios_share_the_baseline_burn_in():
    base = _state_at_start(_scenario())
    no_checkups = _state_at_start(_scenario(PARAMS / "scenarios" / "no_checkups.yaml"))
    assert base.keys() == no_checkups.keys()
    for column, values in base.items():
        np.testing.assert_array_equal(values, no_checkups[column], err_msg=column)
    own = _state_at_start(
        _scenario(PARAMS / "scenarios" / "no_checkups.yaml", **{"township.burn_in_policy": "own"})
    )
    assert any(
        values.shape != own[c].shape or not np.array_equal(values, own[c])
        for c, values in base.items()
    ), "with its own policy in the burn-in, no_checkups starts from another state"


def test_the_schedule_of_a_scenario():
    base = popsim.load_scenario(PARAMS / "baseline.yaml")
    assert [m for m, _ in schedule(base)] == [-120], "the baseline is one scenario throughout"
    no_checkups = popsim.load_scenario(PARAMS / "scenarios" / "no_checkups.yaml")
    (m0, burn), (m1, own) = schedule(no_checkups)
    assert (m0, m1) == (-120, 0)
    assert burn.policy == base.policy and not own.policy.checkups.enabled
    core = popsim.load_scenario(PARAMS / "core.yaml")
    assert [m for m, _ in schedule(core)] == [-120], "the core keeps its own burn-in"
    assert (
        popsim.load_scenario(PARAMS / "baseline.yaml", {"policy.enabled": False}).policy
        == (
            schedule(popsim.load_scenario(PARAMS / "baseline.yaml", {"policy.enabled": False}))[0][
                1
            ]
        ).policy
    ), "a scenario without the regime has no policy to share: its burn-in is its own"


# ---- validation ---------------------------------------------------------------------------


def _write(tmp_path, body: str):
    path = tmp_path / "history.yaml"
    path.write_text(f"extends: {PARAMS / 'baseline.yaml'}\n{body}", encoding="utf-8")
    return path


ENTRIES = """timeline:
  - date: 2012-01
    set: {policy.fee.multiple: 3}
    source: a
  - date: 2014-02
    set: {policy.rules.regime: selective_two_child}
    source: b
"""


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (
            "  - {date: 2016-01, set: {policy.fee.multiple: 50}, source: c}\n",
            ["timeline.2.set.policy.fee.multiple", "= 50", "less than or equal to 20"],
        ),
        (
            "  - {date: 2016-01, set: {policy.fee.multiplee: 5}, source: c}\n",
            ["timeline.2.set.policy.fee.multiplee", "unknown field", "Did you mean 'multiple'?"],
        ),
        (
            "  - {date: 2016-01, set: {policy.rules.regime: four_child}, source: c}\n",
            ["timeline.2.set.policy.rules.regime", "four_child", "three_child"],
        ),
        (
            "  - {date: 2013-06, set: {policy.fee.multiple: 5}, source: c}\n",
            ["timeline.2.date", "'2013-06'", "after timeline.1's date (2014-02)"],
        ),
        (
            "  - {date: 2014-02, set: {policy.fee.multiple: 5}, source: c}\n",
            ["timeline.2.date", "each month once"],
        ),
        (
            "  - {date: 2016-01-01, set: {policy.fee.multiple: 5}, source: c}\n",
            ["timeline.2.date", "write 2016-01"],
        ),
        (
            "  - {date: 2016-13, set: {policy.fee.multiple: 5}, source: c}\n",
            ["timeline.2.date", "01..12"],
        ),
        (
            "  - {date: 2016-01, set: {township.years: 5}, source: c}\n",
            ["timeline.2.set.township.years", "only fields of policy and demography"],
        ),
        (
            "  - {date: 2016-01, set: {policy.enabled: false}, source: c}\n",
            ["timeline.2.set.policy.enabled", "fixed for the run"],
        ),
        (
            "  - {date: 2016-01, set: {policy.fee: 5}, source: c}\n",
            ["timeline.2.set.policy.fee", "is a section"],
        ),
        (
            "  - {date: 2016-01, set: {policy.fee.multiple: 5}}\n",
            ["timeline.2.source", "Field required"],
        ),
        (
            "  - {date: 2016-01, set: {}, source: c}\n",
            ["timeline.2.set", "at least one field"],
        ),
        (
            "  - {date: 2016-01, announced: 2016-03, set: {policy.fee.multiple: 5}, source: c}\n",
            ["timeline.2.announced", "'2016-03'", "after its date (2016-01)"],
        ),
        (
            "  - {date: 2016-01, announced: 2008-10, set: {policy.fee.multiple: 5}, source: c}\n",
            ["timeline.2.announced", "before the run's start"],
        ),
        (
            "  - {date: 2016-01, announced: 2015-13, set: {policy.fee.multiple: 5}, source: c}\n",
            ["timeline.2.announced", "01..12"],
        ),
        (
            "  - {date: 2016-01, announced: 2013-11, set: {policy.fee.multiple: 5}, source: c}\n",
            ["timeline.2.announced", "before timeline.1's date (2014-02)", "one change"],
        ),
    ],
)
def test_a_bad_entry_is_refused_naming_file_and_entry(tmp_path, entry, expected):
    path = _write(tmp_path, ENTRIES + entry)
    with pytest.raises(popsim.ScenarioError) as caught:
        popsim.load_scenario(path)
    message = str(caught.value)
    assert str(path) in message, message
    for text in expected:
        assert text in message, f"{text!r} not in: {message}"


def test_a_date_before_the_start_is_refused(tmp_path):
    path = _write(
        tmp_path, "timeline:\n  - {date: 2008-12, set: {policy.fee.multiple: 5}, source: c}\n"
    )
    with pytest.raises(popsim.ScenarioError, match=r"timeline\.0\.date.*before the run's start"):
        popsim.load_scenario(path)


def test_the_old_change_year_points_to_the_timeline(tmp_path):
    path = _write(tmp_path, "policy:\n  rules:\n    change_year: 2014\n")
    with pytest.raises(popsim.ScenarioError, match=r"change_year'\. It was replaced by a dated"):
        popsim.load_scenario(path)


def test_a_good_timeline_loads_with_each_scenario_validated(tmp_path):
    scenario = popsim.load_scenario(_write(tmp_path, ENTRIES))
    (_, first), (m1, second), (m2, third) = schedule(scenario)
    assert (m1, m2) == (36, 61)
    assert first.policy.fee.multiple == 4.0 and second.policy.fee.multiple == 3.0
    assert third.policy.rules.regime == "selective_two_child"
    assert third.policy.fee.multiple == 3.0, "a change keeps what earlier changes set"


def test_an_override_reaches_one_field_a_change_sets(tmp_path):
    """``timeline.N.set.FIELD`` (as sweeps and calibrations name it) changes that value only."""
    from popsim.sweeps.design import is_integer_field, scenario_field

    path = _write(tmp_path, ENTRIES)
    name = "timeline.0.set.policy.fee.multiple"
    scenario = popsim.load_scenario(path, {name: 2.5})
    assert scenario.timeline[0].set == {"policy.fee.multiple": 2.5}
    assert scenario.timeline[1] == popsim.load_scenario(path).timeline[1]
    assert dict(schedule(scenario))[36].policy.fee.multiple == 2.5
    info, problem = scenario_field(name)
    assert problem is None and info.annotation is float and not is_integer_field(name)
    for bad, expected in (
        ({name: -1.0}, "timeline.0.set.policy.fee.multiple"),
        ({"timeline.0.set.policy.fee.multipel": 3.0}, "multipel"),
        ({"timeline.2.set.policy.fee.multiple": 3.0}, "2 entries"),
    ):
        with pytest.raises(popsim.ScenarioError, match=expected):
            popsim.load_scenario(path, bad)


# ---- the rules ----------------------------------------------------------------------------

LEGAL, SPACING, MIN_AGE = 20, 48, 24


def _kernel(regime, parity, *, first_is_son, only_child, months=10 * SPACING, age=30):
    k = len(parity)
    return out_of_plan(
        regime,
        parity=np.asarray(parity),
        first_is_son=np.full(k, first_is_son),
        months_since_first=np.full(k, months),
        mother_age=np.full(k, age),
        married=np.ones(k, dtype=bool),
        legal_age=LEGAL,
        spacing_months=SPACING,
        second_child_min_age=MIN_AGE,
        only_child_couple=np.full(k, only_child),
    )


def test_selective_two_child_allows_a_second_child_to_only_child_couples():
    son = dict(first_is_son=True)
    assert not _kernel("selective_two_child", [1], **son, only_child=True)[0], (
        "a spouse who is an only child: a 2nd child is in plan even after a son"
    )
    assert _kernel("selective_two_child", [1], **son, only_child=False)[0], (
        "neither spouse an only child and a son first: the 2nd child is out of plan"
    )
    assert not _kernel("selective_two_child", [1], first_is_son=False, only_child=False)[0], (
        "the 1.5-child entitlement stays: a girl first allows a 2nd"
    )
    assert not _kernel("selective_two_child", [1], **son, only_child=True, months=1)[0], (
        "the only-child entitlement has no spacing condition"
    )
    assert _kernel("selective_two_child", [2], first_is_son=False, only_child=True)[0]
    assert not _kernel("selective_two_child", [0], **son, only_child=False)[0]
    assert _kernel("one_and_half", [1], **son, only_child=True)[0], (
        "the 1.5-child rule does not look at only children"
    )


def test_three_child_allows_three():
    flags = _kernel("three_child", [0, 1, 2, 3, 4], first_is_son=True, only_child=False)
    np.testing.assert_array_equal(flags, [False, False, False, True, True])
    late = _kernel("three_child", [1], first_is_son=True, only_child=False, age=LEGAL - 1)
    assert late[0], "below the legal age a birth is out of plan under every rule"


def test_a_couple_is_only_child_when_either_spouse_is():
    world = World(popsim.load_scenario(PARAMS / "baseline.yaml"), seed=1)
    p = world.persons
    #       wife only, husband only, neither, wife whose husband lives outside (only child)
    wives = p.add(4, sex=FEMALE, marital=MARRIED, only_child=np.array([1, 0, 0, 0], bool))
    husbands = p.add(3, sex=MALE, marital=MARRIED, only_child=np.array([0, 1, 0], bool))
    p.spouse[wives[:3]] = husbands
    p.spouse[husbands] = wives[:3]
    np.testing.assert_array_equal(only_child_couple(world, wives), [True, True, False, False])


# ---- only children --------------------------------------------------------------------------


def test_initial_only_child_shares_follow_the_table():
    scenario = resize(popsim.load_scenario(PARAMS / "baseline.yaml"), 20_000, 1)
    world = World(scenario, seed=3)
    world.t = -12 * scenario.township.burn_in_years
    from popsim.model.initial import populate

    populate(world)
    p = world.persons
    year = scenario.township.start_year + np.floor_divide(p.birth_month, 12)
    starts, shares = only_child_share()
    cohort = np.clip(np.searchsorted(starts, year, side="right") - 1, 0, starts.size - 1)
    checked = 0
    for c, share in enumerate(shares):
        who = cohort == c
        n = int(who.sum())
        if n < 200:
            continue
        observed = float(p.only_child[who].mean())
        sd = np.sqrt(share * (1 - share) / n)
        assert abs(observed - share) < 4 * sd + 1e-9, (
            f"cohort from {starts[c]}: {observed:.3f} only children, table {share} (n={n})"
        )
        checked += 1
    assert checked >= 4, "most cohorts are in the initial population"


def test_a_child_born_in_the_run_is_an_only_child_until_a_sibling_is_born():
    """For every person born in the run whose mother is still in the table: an only child
    exactly when the mother has had one child (her parity counts births before the run)."""
    model = PopsimModel(_scenario(), seed=SEED).run()
    p = model.world.persons
    row_of = {int(pid): row for row, pid in enumerate(p.pid)}
    children = np.flatnonzero(p.mother >= 0)
    mothers = np.array([row_of.get(int(m), -1) for m in p.mother[children]])
    known = mothers >= 0
    children, mothers = children[known], mothers[known]
    assert children.size > 200
    np.testing.assert_array_equal(p.only_child[children], p.parity[mothers] == 1)
    assert p.only_child[children].any() and (~p.only_child[children]).any()


# ---- the history scenario ---------------------------------------------------------------------


def test_the_history_raises_second_births_after_2016_and_births_above_the_baseline():
    """The history against its world under the 1.5-child rule throughout, on the same seeds
    (paired): identical to 2013, then more births, and from 2016 a larger share of second
    births."""
    history = popsim.load_scenario(PARAMS / "scenarios" / "history.yaml")
    baseline = popsim.load_scenario(PARAMS / "scenarios" / "history.yaml", {"timeline": []})
    runs = {
        name: [popsim.simulate(s, seed=seed, n_agents=4000, years=10) for seed in (1, 2)]
        for name, s in (("history", history), ("baseline", baseline))
    }

    def births(name):
        frames = [r.events[r.events["event"] == "birth"] for r in runs[name]]
        return pd.concat(frames).astype({"order": np.int64})

    h, b = births("history"), births("baseline")
    early = range(2009, 2014)
    by_year = {n: f.groupby("year").size() for n, f in (("h", h), ("b", b))}
    assert all(by_year["h"][y] == by_year["b"][y] for y in early), "the same path to 2013"
    late = range(2016, 2019)
    assert sum(by_year["h"][y] for y in late) > 1.05 * sum(by_year["b"][y] for y in late)
    share = {n: (f[f["year"].isin(late)]["order"] == 2).mean() for n, f in (("h", h), ("b", b))}
    assert share["h"] > share["b"] + 0.05, share


def test_the_enforcement_wind_down_variant_of_the_history(monkeypatch):
    """scripts/enforcement_profile.py: from 2016-01 the enforcement levers hold the fraction
    of the baseline's values asked for, and from the end month the history's ended values."""
    monkeypatch.syspath_prepend(str(ROOT / "scripts"))
    from enforcement_profile import ENDED, wind_down

    history = popsim.load_scenario(PARAMS / "scenarios" / "history.yaml")
    timeline = [c.model_dump(exclude_none=True) for c in history.timeline]
    variant = popsim.load_scenario(
        PARAMS / "scenarios" / "history.yaml", {"timeline": wind_down(timeline, 0.25, "2018-01")}
    )
    base = popsim.load_scenario(PARAMS / "baseline.yaml").policy
    in_force = dict(schedule(variant))
    y2016, y2018 = (month_of(d, variant.township.start_year) for d in ("2016-01", "2018-01"))
    during, after = in_force[y2016].policy, in_force[y2018].policy
    assert during.contraception.larc and during.rules.regime == "two_child"
    assert during.contraception.larc_rate == pytest.approx(0.25 * base.contraception.larc_rate)
    assert during.checkups.remedial == pytest.approx(0.25 * base.checkups.remedial)
    assert during.checkups.reinsertion == pytest.approx(0.25 * base.checkups.reinsertion)
    assert not after.contraception.larc and after.checkups.remedial == 0
    assert after.checkups.reinsertion == ENDED["policy.checkups.reinsertion"]
    assert [c.date for c in variant.timeline] == [
        "2014-02",
        "2016-01",
        "2018-01",
        "2020-02",
        "2021-09",
        "2023-01",
    ]
