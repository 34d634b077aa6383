"""Birth rules: the ``out_of_plan`` kernel case by case, and the rule as the model applies it.

Kernel cases are written relative to the rule's own parameters (legal age, spacing, minimum
age for a second child), so they say what the rule means rather than what a default is.
Model-level tests read the events of short runs and check each birth's flag against the
regime in force in its year.
"""

import numpy as np
import pandas as pd
import pytest

import popsim
from conftest import PARAMS
from popsim.mechanisms.kernels import REGIMES, out_of_plan_rows
from popsim.mechanisms.rules import out_of_plan
from popsim.state.population import MARRIED

LEGAL, SPACING, MIN_AGE = 20, 48, 24
ADULT = 30  # an age at which every age condition is met


def flag(regime, *, parity, first_is_son=False, months=10 * SPACING, age=ADULT, married=True):
    """The kernel for one woman."""
    return bool(
        out_of_plan(
            regime,
            parity=np.array([parity]),
            first_is_son=np.array([first_is_son]),
            months_since_first=np.array([months]),
            mother_age=np.array([age]),
            married=np.array([married]),
            legal_age=LEGAL,
            spacing_months=SPACING,
            second_child_min_age=MIN_AGE,
        )[0]
    )


# (regime, woman, expected out of plan, why)
CASES = [
    # one_and_half: the rural 1.5-child rule
    ("one_and_half", dict(parity=0), False, "first birth of a married adult is in plan"),
    ("one_and_half", dict(parity=0, married=False), True, "births outside marriage are out"),
    ("one_and_half", dict(parity=0, age=LEGAL - 1), True, "below the legal age of marriage"),
    ("one_and_half", dict(parity=0, age=LEGAL), False, "at the legal age it is in plan"),
    ("one_and_half", dict(parity=1, months=SPACING, age=MIN_AGE), False, "2nd after a girl"),
    ("one_and_half", dict(parity=1, months=SPACING - 1), True, "2nd after a girl, too soon"),
    ("one_and_half", dict(parity=1, age=MIN_AGE - 1), True, "2nd after a girl, mother too young"),
    ("one_and_half", dict(parity=1, first_is_son=True), True, "2nd after a boy is never in plan"),
    ("one_and_half", dict(parity=1, married=False), True, "2nd after a girl, unmarried"),
    ("one_and_half", dict(parity=2), True, "3rd births are never in plan"),
    ("one_and_half", dict(parity=4), True, "5th births are never in plan"),
    # one_child
    ("one_child", dict(parity=0), False, "the one child is in plan"),
    ("one_child", dict(parity=0, age=LEGAL - 1), True, "one child, but below the legal age"),
    ("one_child", dict(parity=1), True, "no 2nd child, even after a girl"),
    ("one_child", dict(parity=1, first_is_son=True), True, "no 2nd child after a boy"),
    # two_child: no sex, spacing or second-child age condition
    ("two_child", dict(parity=0), False, "first child in plan"),
    ("two_child", dict(parity=1, first_is_son=True, months=0, age=LEGAL), False, "any 2nd child"),
    ("two_child", dict(parity=1, age=LEGAL - 1), True, "2nd child below the legal age"),
    ("two_child", dict(parity=1, married=False), True, "2nd child outside marriage"),
    ("two_child", dict(parity=2), True, "no 3rd child"),
    # none: no rule at all
    ("none", dict(parity=0, married=False, age=15), False, "no rule: unmarried teen in plan"),
    ("none", dict(parity=1, first_is_son=True, months=0, age=16), False, "no rule: any 2nd"),
    ("none", dict(parity=5), False, "no rule: a 6th child is in plan"),
]


@pytest.mark.parametrize(("regime", "woman", "expected", "why"), CASES, ids=[c[3] for c in CASES])
def test_out_of_plan_cases(regime, woman, expected, why):
    assert flag(regime, **woman) is expected, f"{regime}: {why}"


def test_out_of_plan_is_elementwise():
    """The vectorised kernel gives each row the answer of its own one-row call."""
    regimes = ("none", "one_child", "one_and_half", "two_child")
    rng = np.random.default_rng(0)
    n = 500
    cols = dict(
        parity=rng.integers(0, 4, n),
        first_is_son=rng.random(n) < 0.5,
        months=rng.integers(0, 2 * SPACING, n),
        age=rng.integers(15, 50, n),
        married=rng.random(n) < 0.8,
    )
    for regime in regimes:
        whole = out_of_plan(
            regime,
            parity=cols["parity"],
            first_is_son=cols["first_is_son"],
            months_since_first=cols["months"],
            mother_age=cols["age"],
            married=cols["married"],
            legal_age=LEGAL,
            spacing_months=SPACING,
            second_child_min_age=MIN_AGE,
        )
        single = [flag(regime, **{k: v[i] for k, v in cols.items()}) for i in range(n)]
        np.testing.assert_array_equal(whole, single, err_msg=regime)


@pytest.mark.parametrize("regime", REGIMES)
@pytest.mark.parametrize("ahead", ["one", "each"])
def test_compiled_rows_agree_with_the_rule(regime, ahead):
    """The compiled pass over rows gives the flags of ``out_of_plan`` on the gathered columns.

    A table of persons with every combination the rule looks at: unmarried, under the legal
    or second-child age, inside the spacing interval, a son first, parities 0-4, a husband
    outside the township (spouse -1), only children on either side.
    """
    rng = np.random.default_rng(1)
    n, t = 4000, 300
    sons = rng.integers(0, 2, n).astype(np.int8)
    first_birth = (t - rng.integers(0, 3 * SPACING, n)).astype(np.int32)
    age_months = rng.integers(15 * 12, 50 * 12, n).astype(np.int32)
    marital = np.where(rng.random(n) < 0.85, MARRIED, 0).astype(np.int8)
    only_child = rng.random(n) < 0.4
    spouse = np.where(rng.random(n) < 0.8, rng.integers(0, n, n), -1).astype(np.int32)
    rows = rng.choice(n, 1500, replace=False).astype(np.intp)
    parity = rng.integers(0, 5, rows.size).astype(np.int8)
    months = rng.integers(0, 30, rows.size) if ahead == "each" else np.array([9])
    husband_only = np.zeros(rows.size, dtype=bool)
    linked = spouse[rows] >= 0
    husband_only[linked] = only_child[spouse[rows][linked]]
    expected = out_of_plan(
        regime,
        parity=parity,
        first_is_son=(parity == 1) & (sons[rows] == 1),
        months_since_first=t + months - first_birth[rows],
        mother_age=(age_months[rows] + months) // 12,
        married=marital[rows] == MARRIED,
        legal_age=LEGAL,
        spacing_months=SPACING,
        second_child_min_age=MIN_AGE,
        only_child_couple=only_child[rows] | husband_only,
    )
    compiled = out_of_plan_rows(
        REGIMES.index(regime),
        rows,
        parity,
        sons,
        first_birth,
        age_months,
        marital,
        only_child,
        spouse,
        t,
        months.astype(np.int64),
        LEGAL,
        SPACING,
        MIN_AGE,
    )
    assert 0.05 < expected.mean() < 0.95 or regime == "none"
    np.testing.assert_array_equal(compiled, expected)


# ---- the rule in the model --------------------------------------------------------------


def births(overrides, seed=5, n=6000, years=15):
    scenario = popsim.load_scenario(PARAMS / "baseline.yaml", overrides)
    ev = popsim.simulate(scenario, seed=seed, n_agents=n, years=years).events
    return scenario, ev[ev["event"] == "birth"]


@pytest.fixture(scope="module")
def baseline():
    return births({})


def test_baseline_flags_follow_one_and_half(baseline):
    scenario, b = baseline
    rules = scenario.policy.rules
    assert rules.regime == "one_and_half" and not scenario.timeline
    assert set(b["out_of_plan"].unique()) <= {0, 1}, "every birth is classified under a regime"
    third = b[b["order"] >= 3]
    assert (third["out_of_plan"] == 1).all(), "3rd and later births are never in plan (1.5-child)"
    legal = scenario.demography.marriage.min_age_female
    first_in = b[(b["order"] == 1) & (b["out_of_plan"] == 0)]
    assert (first_in["age_months"] // 12 >= legal).all(), "an in-plan birth needs the legal age"
    assert len(first_in) > 0 and (b["order"] == 2).any()


def test_baseline_second_births_match_the_kernel(baseline):
    """Recompute each 2nd birth's flag from the mother's 1st birth (when it is in the run).

    The events carry no marital status: the kernel is run as if every mother were married, so
    an in-plan flag in the events must be in plan for the kernel too; the other way round a
    mother widowed during her pregnancy is out of plan, which is rare.
    """
    scenario, b = baseline
    rules = scenario.policy.rules
    first = b[b["order"] == 1].set_index("other")
    second = b[(b["order"] == 2) & b["other"].isin(first.index)]
    mother_first = first.loc[second["other"]]
    kernel = out_of_plan(
        "one_and_half",
        parity=np.ones(len(second), dtype=int),
        first_is_son=mother_first["sex"].to_numpy() == 1,
        months_since_first=second["month"].to_numpy() - mother_first["month"].to_numpy(),
        mother_age=second["age_months"].to_numpy() // 12,
        married=np.ones(len(second), dtype=bool),
        legal_age=scenario.demography.marriage.min_age_female,
        spacing_months=rules.spacing_months,
        second_child_min_age=rules.second_child_min_age,
    )
    event = second["out_of_plan"].to_numpy() == 1
    assert len(second) >= 50, f"only {len(second)} second births with a known first: too few"
    assert kernel.any() and (~kernel).any(), "both in- and out-of-plan 2nd births occur"
    wrongly_in = int((~event & kernel).sum())
    assert wrongly_in == 0, f"{wrongly_in} 2nd births flagged in plan that the rule puts out"
    wrongly_out = int((event & ~kernel).sum())
    assert wrongly_out <= max(2, 0.02 * len(second)), (
        f"{wrongly_out} of {len(second)} in-plan 2nd births flagged out of plan; only a mother "
        "widowed while pregnant should be"
    )


def test_one_child_regime_has_no_in_plan_second_birth():
    _, b = births({"policy.rules.regime": "one_child"}, years=8)
    second = b[b["order"] >= 2]
    assert len(second) > 0, "some couples still have a 2nd child (out of plan)"
    assert (second["out_of_plan"] == 1).all(), "one-child rule: no 2nd birth is in plan"
    assert (b[b["order"] == 1]["out_of_plan"] == 0).any()


def test_a_dated_rule_opens_second_births_from_its_month():
    start = popsim.load_scenario(PARAMS / "baseline.yaml").township.start_year
    change = start + 2
    _, b = births(
        {
            "policy.rules.regime": "one_child",
            "timeline": [
                {
                    "date": f"{change}-01",
                    "set": {"policy.rules.regime": "two_child"},
                    "source": "test",
                }
            ],
        },
        years=6,
    )
    second = b[b["order"] == 2]
    before, after = second[second["year"] < change], second[second["year"] >= change]
    assert len(before) > 0 and len(after) > 0
    assert (before["out_of_plan"] == 1).all(), "before the change the one-child rule holds"
    assert (after["out_of_plan"] == 0).any(), "from the change a 2nd child can be in plan"
    in_plan = second[second["out_of_plan"] == 0]
    assert int(in_plan["month"].min()) >= 12 * (change - start), (
        "no 2nd birth is in plan before the change's month"
    )
    assert (b[b["order"] >= 3]["out_of_plan"] == 1).all(), "two-child rule: no 3rd in plan"
    share = pd.Series(
        {"before": before["out_of_plan"].mean(), "after": after["out_of_plan"].mean()}
    )
    assert share["after"] < share["before"], share
