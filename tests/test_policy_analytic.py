"""Policy mechanisms against values derived analytically from their inputs (docs/regime.md §21).

Every expected value is computed here from the scenario's own parameters; tolerances are
4 binomial standard errors of the quantity compared.
"""

import numpy as np
import pytest

import popsim
from conftest import PARAMS
from popsim.mechanisms.checkups import attendance_probability, checkup_outcomes
from popsim.mechanisms.sex_selection import reward_boost, selection_probability

Z = 4  # tolerance in standard errors


def within(observed, expected, n, what):
    se = np.sqrt(expected * (1 - expected) / n)
    assert abs(observed - expected) < Z * se, (
        f"{what}: observed {observed:.4f}, expected {expected:.4f} (n={n}, {Z} s.e. = {Z * se:.4f})"
    )


def load(overrides):
    return popsim.load_scenario(PARAMS / "baseline.yaml", overrides)


def births_of(events):
    return events[events["event"] == "birth"]


# ---- (a) check-ups: the share of out-of-plan pregnancies averted ------------------------

ONE_ROUND = {
    # a pregnancy is seen by the rounds of the 9 months after its conception month, so a
    # round every 9 months meets each pregnancy exactly once
    "policy.checkups.interval_months": 9,
    "policy.checkups.reconceive": False,
    "policy.checkups.participation": 0.7,
    "policy.checkups.detection": 0.8,
    "policy.checkups.remedial": 0.75,
    # cadre effort exactly 1: no spread, no turnover, no caseload limit, no room bonus
    "policy.checkups.cadre_sd": 0.0,
    "policy.checkups.recruit_mean": 1.0,
    "policy.checkups.turnover": 0,
    "policy.checkups.cadre_capacity": 100_000,
    "policy.checkups.room_effect": 0.0,
    # nothing else ends a pregnancy (sex-independent losses or not, they would blur the count)
    "demography.fertility.miscarriage_prob": 0.0,
    "demography.fertility.unintended_abortion": 0.0,
    "policy.sex_selection.enabled": False,
    "demography.migration.enabled": False,  # everyone is a resident
    # the one-child rule makes every 2nd pregnancy out of plan: a large sample
    "policy.rules.regime": "one_child",
    "township.burn_in_years": 3,
    # the same rule and rounds in the burn-in: a pregnancy met by a burn-in round met these
    "township.burn_in_policy": "own",
}


def test_share_averted_is_participation_detection_remedial():
    scenario = load(ONE_ROUND)
    ch = scenario.policy.checkups
    years = 10
    result = popsim.simulate(scenario, seed=2, n_agents=20_000, years=years)
    ev = result.events
    interval, last_month = ch.interval_months, 12 * years - 1
    out_births = ev[(ev["event"] == "birth") & (ev["out_of_plan"] == 1)]
    remedial = ev[(ev["event"] == "abortion") & (ev["reason"] == "remedial")]
    assert (remedial["out_of_plan"] == 1).all(), "only out-of-plan pregnancies are ended"
    # Group pregnancies by the round that met them: a birth in month b met the round in
    # month b - b % interval, an abortion happened at its round. Keep rounds whose
    # pregnancies were all born within the run (round + 8 <= last month); rounds in the
    # burn-in are not logged, and none of the kept rounds is.
    birth_round = out_births["month"] - out_births["month"] % interval
    born = int((birth_round + 8 <= last_month).sum())
    averted = int((remedial["month"] + 8 <= last_month).sum())
    n = born + averted
    expected = ch.participation * ch.detection * ch.remedial
    assert n > 800, f"only {n} out-of-plan pregnancies: too few for the comparison"
    within(averted / n, expected, n, "share of out-of-plan pregnancies averted = c*d*r")
    k = result.kpis
    attended, targets = int(k["checkup_attended"].sum()), int(k["checkup_targets"].sum())
    within(attended / targets, ch.participation, targets, "attendance with cadre effort 1")


def test_share_averted_mixes_residents_and_migrants():
    """Kernel-level: the events do not say whether a woman was away at her round.

    Labour migration is not logged as an event and ``away`` is not a column of the events,
    so the away share of out-of-plan pregnancies at their round cannot be read from a run.
    The model's round is ``attendance_probability`` followed by ``checkup_outcomes``; run
    them on a synthetic population with a known away share instead.
    """
    rng = np.random.default_rng(20090701)
    n = 200_000
    resident, migrant, room_gain, detection, remedial = 0.9, 0.4, 1.05, 0.85, 0.7
    away = rng.random(n) < 0.35
    pregnant = rng.random(n) < 0.5
    out_plan = pregnant & (rng.random(n) < 0.6)
    effort = np.ones(n)
    p_attend = attendance_probability(
        away, effort, resident=resident, migrant=migrant, room_gain=room_gain
    )
    attended, found, ended = checkup_outcomes(
        rng.random(n),
        rng.random(n),
        rng.random(n),
        p_attend=p_attend,
        pregnant=pregnant,
        out_of_plan=out_plan,
        detection=detection,
        remedial=remedial,
    )
    assert not (found & ~pregnant).any() and not (ended & ~out_plan).any()
    assert not (ended & ~attended).any(), "a remedial measure needs an attended check-up"
    a = away[out_plan].mean()  # away share of the out-of-plan pregnancies
    coverage = (1 - a) * min(1.0, resident * room_gain) + a * migrant
    m = int(out_plan.sum())
    within(ended[out_plan].mean(), coverage * detection * remedial, m, "mixed share averted")
    # each group on its own
    for group, c in ((~away, min(1.0, resident * room_gain)), (away, migrant)):
        rows = out_plan & group
        within(ended[rows].mean(), c * detection * remedial, int(rows.sum()), "group share")
    # effort scales attendance, capped at 1
    half = attendance_probability(
        away, effort / 2, resident=resident, migrant=migrant, room_gain=room_gain
    )
    np.testing.assert_allclose(half, p_attend / 2)
    full = attendance_probability(away, effort, resident=1.0, migrant=1.0, room_gain=2.0)
    assert full.max() == 1.0


# ---- (b) sex-selective abortion after a first girl --------------------------------------


def test_male_share_after_a_first_girl_with_selection():
    s = 0.5
    scenario = load(
        {
            "policy.sex_selection.enabled": True,
            "policy.sex_selection.prob_no_son": [0.0, s, 0.0, 0.0],
            "policy.sex_selection.prob_with_son": 0.0,
            "policy.sex_selection.price_response": 0.0,  # s alone, not raised by the fee
            "policy.sex_selection.crackdown": 0.0,
            "policy.incentives.two_daughter_reward": 0.0,  # no reward boost at parity 1
            "policy.decision.son_preference": 1.0,
            "township.burn_in_years": 1,
        }
    )
    srb = scenario.demography.srb
    m = srb / (1 + srb)
    after_girl, after_boy = [], []
    for seed in (1, 2):
        b = births_of(popsim.simulate(scenario, seed=seed, n_agents=20_000, years=20).events)
        first_sex = b[b["order"] == 1].set_index("other")["sex"]  # keyed by the mother's pid
        second = b[(b["order"] == 2) & b["other"].isin(first_sex.index)]
        first = first_sex.loc[second["other"]].to_numpy()
        # the birth's own record of the mother's sons before it says the same
        np.testing.assert_array_equal(second["sons_before"].to_numpy(), first)
        after_girl.append(second["sex"].to_numpy()[first == 0])
        after_boy.append(second["sex"].to_numpy()[first == 1])
    girl, boy = np.concatenate(after_girl), np.concatenate(after_boy)
    expected = m / (m + (1 - m) * (1 - s))
    within(girl.mean(), expected, girl.size, "male share of 2nd births after a girl")
    # no selection after a son: the natural share (a smaller sample, but it must not be off)
    within(boy.mean(), m, boy.size, "male share of 2nd births after a boy")


# ---- (c) stopping rules alone leave the SRB unchanged ------------------------------------


def test_stopping_rules_alone_leave_the_sex_ratio_at_birth():
    scenario = load(
        {
            "policy.sex_selection.enabled": False,
            "policy.decision.son_preference": 1.0,
            "policy.decision.desired_size": [0.0, 1.0, 0.0, 0.0],
            "township.burn_in_years": 1,
        }
    )
    years = 20
    b = births_of(popsim.simulate(scenario, seed=4, n_agents=25_000, years=years).events)
    srb = scenario.demography.srb
    within(b["sex"].mean(), srb / (1 + srb), len(b), "male share of all births")

    # the stopping rule is at work: after a first son couples stop, after a girl they go on
    start = int(b["month"].min())
    first = b[(b["order"] == 1) & (b["month"] < start + 12 * (years - 6))]
    had_second = first["other"].isin(b.loc[b["order"] == 2, "other"])
    p_son = had_second[first["sex"].to_numpy() == 1].mean()
    p_girl = had_second[first["sex"].to_numpy() == 0].mean()
    assert p_son < p_girl / 2, (
        f"son-seeking couples stop after a son: P(2nd | son) = {p_son:.3f} should be far "
        f"below P(2nd | girl) = {p_girl:.3f}"
    )


# ---- (d) a crackdown scales selection -----------------------------------------------------


@pytest.mark.parametrize("crackdown", [0.0, 0.3, 1.0])
def test_crackdown_scales_selection(crackdown):
    table = (0.05, 0.3, 0.45, 0.6)
    parity = np.array([0, 1, 1, 2, 3, 7, 1, 2])
    sons = np.array([0, 0, 1, 0, 0, 0, 0, 1])
    daughters = parity - sons
    son_pref = np.array([True] * 6 + [False, True])
    kw = dict(prob_no_son=table, prob_with_son=0.1, reward_boost=0.0)
    none = selection_probability(parity, sons, daughters, son_pref, crackdown=0.0, **kw)
    got = selection_probability(parity, sons, daughters, son_pref, crackdown=crackdown, **kw)
    expected = np.array([table[0], table[1], 0.1, table[2], table[3], table[3], 0.0, 0.1])
    np.testing.assert_allclose(none, expected)
    np.testing.assert_allclose(got, (1 - crackdown) * expected)


def test_reward_boost_applies_after_one_daughter_and_is_capped_before_the_crackdown():
    parity = np.array([1, 1, 2])
    sons = np.array([0, 1, 0])
    daughters = parity - sons
    pref = np.ones(3, dtype=bool)
    kw = dict(prob_no_son=(0.0, 0.4, 0.5), prob_with_son=0.2)
    boosted = selection_probability(
        parity, sons, daughters, pref, reward_boost=0.5, crackdown=0.0, **kw
    )
    # a son born first: parity 1 but no daughter, no boost
    np.testing.assert_allclose(boosted, [0.4 * 1.5, 0.2, 0.5])
    capped = selection_probability(
        parity, sons, daughters, pref, reward_boost=4.0, crackdown=0.25, **kw
    )
    np.testing.assert_allclose(capped, [1.0 * 0.75, 0.2 * 0.75, 0.5 * 0.75])


def test_reward_boost_is_the_factor_times_the_reward_couples_count():
    """factor x two-daughter reward x scale x reward_weight per 1000 yuan; 0 without incentives."""
    pol = popsim.load_scenario(
        PARAMS / "baseline.yaml",
        {
            "policy.sex_selection.daughter_reward_factor": 0.4,
            "policy.incentives.two_daughter_reward": 2000.0,
            "policy.incentives.scale": 1.5,
            "policy.decision.reward_weight": 0.25,
        },
    ).policy
    assert reward_boost(pol) == pytest.approx(0.4 * 2000.0 * 1.5 * 0.25 / 1000.0)
    incentives_off = pol.incentives.model_copy(update={"enabled": False})
    off = pol.model_copy(update={"incentives": incentives_off})
    assert reward_boost(off) == 0.0
