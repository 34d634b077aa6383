"""Shared burn-ins: a run started from another run's state at month 0 is the run itself.

* Runs started from a shared burn-in equal runs that compute their own, table for table, for
  scenarios that differ in policy (the baseline, no check-ups, a dated change) and seeds, with
  and without the regime, from memory and from a file.
* The initial age structure is taken back from its date to the burn-in's start.
* The key changes with everything the state at month 0 depends on, and not with what acts
  only after the start.
* A state file that is broken, or is another burn-in's, is computed again and never used.
"""

from __future__ import annotations

import pandas as pd
import pytest

import popsim
from conftest import PARAMS
from popsim.model.initial import populate
from popsim.model.start import Start, key
from popsim.model.township import PopsimModel
from popsim.outputs.burn_in import SUFFIX, BurnIns
from popsim.outputs.results import TABLES, flat
from popsim.outputs.runner import collect, model_at_start, resize
from popsim.scenario.timeline import OWN_PAST
from popsim.state.world import World
from popsim.sweeps.executors import Job, Task, shared_burn_ins

SMALL = {"township.burn_in_years": 3}
N, YEARS = 1200, 6  # two_child_year5's change (2014-01) falls in year 6
BASELINE = PARAMS / "baseline.yaml"
NO_CHECKUPS = PARAMS / "scenarios" / "no_checkups.yaml"
TWO_CHILD = PARAMS / "scenarios" / "two_child_year5.yaml"


def _scenario(path=BASELINE, **overrides):
    return resize(popsim.load_scenario(path, {**SMALL, **overrides}), N, YEARS)


def _tables(model: PopsimModel) -> dict[str, pd.DataFrame]:
    result = collect(model.run())
    return {name: flat(getattr(result, name)) for name in TABLES}


def _assert_same(ours: dict, theirs: dict, what: str) -> None:
    for name in TABLES:
        pd.testing.assert_frame_equal(
            ours[name], theirs[name], check_exact=True, obj=f"{what}.{name}"
        )


@pytest.mark.parametrize("seed", [1, 2])
def test_scenarios_started_from_the_baseline_burn_in_are_the_runs_with_their_own(seed):
    shared = BurnIns()
    first = model_at_start(_scenario(), seed, shared)  # computes the burn-in and keeps its state
    _assert_same(_tables(first), _tables(PopsimModel(_scenario(), seed)), "baseline")
    for path in (NO_CHECKUPS, TWO_CHILD):
        scenario = _scenario(path)
        assert shared.find(key(scenario, seed)) is not None, f"{path.stem} shares the state"
        own = _tables(PopsimModel(scenario, seed))
        _assert_same(_tables(model_at_start(scenario, seed, shared)), own, path.stem)


@pytest.mark.parametrize(
    ("path", "overrides"),
    [(PARAMS / "core.yaml", {}), (NO_CHECKUPS, OWN_PAST)],
    ids=["no regime", "own burn-in policy"],
)
def test_a_state_read_from_a_file_gives_the_run_with_its_own(tmp_path, path, overrides):
    scenario = _scenario(path, **overrides)
    model_at_start(scenario, 3, BurnIns(tmp_path))  # another process: only the file is left of it
    elsewhere = BurnIns(tmp_path)
    started = model_at_start(scenario, 3, elsewhere)
    assert elsewhere.notes == [] and elsewhere.find(key(scenario, 3)) is not None
    _assert_same(_tables(started), _tables(PopsimModel(scenario, 3)), path.stem)


@pytest.mark.parametrize(
    ("as_of_year", "burn_in", "youngest"),
    [(2011, 0, 28), (2011, 3, 25), (2009, 0, 30), (1990, 3, 30)],
)
def test_the_age_structure_is_taken_back_from_its_date(as_of_year, burn_in, youngest):
    """Persons aged a + k in a structure dated k years after the burn-in's start are drawn at
    age a (a structure dated before that start holds as of it): with weights at ages 30-39
    only, the ages drawn are 30-39 less k."""
    weights = [1.0 if 30 <= a < 40 else 0.0 for a in range(101)]
    scenario = popsim.load_scenario(
        BASELINE,
        {
            "township.start_year": 2009,
            "township.burn_in_years": burn_in,
            "township.n_persons": 2000,
            "initial.as_of_year": as_of_year,
            "initial.female_by_age": weights,
            "initial.male_by_age": weights,
            "policy.enabled": False,
        },
    )
    world = World(scenario, 1)
    world.t = -12 * burn_in
    populate(world)
    ages = (world.t - world.persons.birth_month[: world.persons.n]) // 12
    assert ages.min() == youngest and ages.max() == youngest + 9


def test_a_start_of_another_burn_in_is_refused():
    start = PopsimModel(_scenario(), 1).start_state()
    with pytest.raises(ValueError, match="another burn-in"):
        PopsimModel(_scenario(), 2, start=start)
    with pytest.raises(ValueError, match="another burn-in"):
        PopsimModel(_scenario(NO_CHECKUPS, **OWN_PAST), 1, start=start)


def test_the_key_follows_what_the_state_at_month_0_depends_on():
    base = key(_scenario(), 1)
    changed = {
        "n_persons": resize(_scenario(), N + 1, YEARS),
        "villages": _scenario(**{"township.n_villages": 13}),
        "demography": _scenario(**{"demography.srb": 1.07}),
        "initial": _scenario(**{"initial.male_by_age": [1.0] * 101}),
        "the structure's date": _scenario(**{"initial.as_of_year": 2010}),
        "burn_in_years": _scenario(**{"township.burn_in_years": 4}),
        "start_year": _scenario(**{"township.start_year": 2010}),
        "own policy": _scenario(NO_CHECKUPS, **OWN_PAST),
    }
    for what, scenario in changed.items():
        assert key(scenario, 1) != base, f"{what} changes the burn-in, so its key"
    assert key(_scenario(), 2) != base, "the seed changes every draw"
    own_baseline = key(_scenario(**OWN_PAST), 1)
    assert key(_scenario(NO_CHECKUPS, **OWN_PAST), 1) != own_baseline, "own: the policy counts"
    same = {
        "a policy from the start": _scenario(NO_CHECKUPS),
        "a dated change": _scenario(TWO_CHILD),
        "the years recorded": resize(_scenario(), N, YEARS + 3),
        "the name": _scenario(**{"name": "other", "description": "other"}),
    }
    for what, scenario in same.items():
        assert key(scenario, 1) == base, f"{what} acts after the start only"


def _corrupt_payload(path):
    data = bytearray(path.read_bytes())
    data[-100] ^= 0xFF
    path.write_bytes(bytes(data))


def _truncate(path):
    path.write_bytes(path.read_bytes()[:-1000])


def _garbage_header(path):
    magic, _, rest = path.read_bytes().split(b"\n", 2)
    path.write_bytes(magic + b"\n{not json\n" + rest)


@pytest.mark.parametrize("damage", [_corrupt_payload, _truncate, _garbage_header])
def test_a_broken_state_file_is_computed_again(tmp_path, damage):
    scenario = _scenario()
    model_at_start(scenario, 1, BurnIns(tmp_path))
    [path] = tmp_path.glob(f"*{SUFFIX}")
    damage(path)
    fresh = BurnIns(tmp_path)
    model = model_at_start(scenario, 1, fresh)
    assert len(fresh.notes) == 1 and path.name in fresh.notes[0]
    assert fresh.find(key(scenario, 1)) is not None
    _assert_same(_tables(model), _tables(PopsimModel(scenario, 1)), "recomputed")
    assert BurnIns(tmp_path).find(key(scenario, 1)) is not None, "the file was written again"


def test_a_file_of_another_burn_in_is_not_used(tmp_path):
    one, two = _scenario(), _scenario(**{"demography.srb": 1.07})
    model_at_start(one, 1, BurnIns(tmp_path))
    [path] = tmp_path.glob(f"*{SUFFIX}")
    path.rename(tmp_path / f"{key(two, 1)}{SUFFIX}")  # a file named for the other key
    fresh = BurnIns(tmp_path)
    assert fresh.find(key(two, 1)) is None and len(fresh.notes) == 1
    _assert_same(_tables(model_at_start(two, 1, fresh)), _tables(PopsimModel(two, 1)), "other key")


def test_memory_keeps_the_last_few_states():
    shared = BurnIns(entries=2)
    starts = [Start(str(i), bytes(10)) for i in range(3)]
    for start in starts:
        shared.keep(start)
    assert shared.find("0") is None and shared.find("1") and shared.find("2")
    small = BurnIns(max_bytes=15)
    small.keep(starts[0])
    small.keep(starts[1])
    assert small.find("0") is None and small.find("1")


def test_a_sweep_keeps_only_the_burn_ins_its_runs_share():
    def tasks(points, seeds):
        return [
            Task(i, i, 0, s, p) for i, (p, s) in enumerate((p, s) for p in points for s in seeds)
        ]

    points = [{"policy.checkups.enabled": v} for v in (True, False)]
    shared = popsim.load_scenario(BASELINE, SMALL)  # baseline burn-in: the points share it
    job = Job("popsim", shared, N, YEARS, ("cbr",))
    assert shared_burn_ins(job, tasks(points, [1, 2])) == {key(_scenario(), s) for s in (1, 2)}
    assert shared_burn_ins(job, tasks(points[:1], [1, 2])) == frozenset(), "one run per key"
    own = popsim.load_scenario(BASELINE, {**SMALL, **OWN_PAST})  # as sweeps load it
    job = Job("popsim", own, N, YEARS, ("cbr",))
    assert shared_burn_ins(job, tasks(points, [1, 2])) == frozenset(), "own pasts differ"


def test_a_state_not_wanted_is_not_kept():
    scenario = _scenario()
    assert BurnIns(keys={key(scenario, 1)}).wanted(scenario, 1) == key(scenario, 1)
    assert BurnIns(keys={key(scenario, 1)}).wanted(scenario, 2) is None
    none = BurnIns(keys=frozenset())  # a calibration's workers: no trial shares a burn-in
    model_at_start(scenario, 1, none)
    assert none.wanted(scenario, 1) is None and none.find(key(scenario, 1)) is None
