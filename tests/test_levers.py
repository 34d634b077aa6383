"""Contraception, cadres, fees and incentives: kernels and directions (the decision: test_decision).

Kernel tests check a functional form against its definition; model tests change one lever
with the same seeds (common random numbers) and name the mechanism in the message.
"""

from types import SimpleNamespace

import numpy as np
import pytest

import popsim
from conftest import PARAMS
from popsim.mechanisms.checkups import attendance_probability, birth_known_probability
from popsim.mechanisms.contraception import refusal_probability, relative_failure
from popsim.mechanisms.decision import annuity_value
from popsim.mechanisms.fees import collectable, lognormal_wealth
from popsim.mechanisms.fertility import conception_factor
from popsim.model.cadres import replace_weakest, village_effort
from popsim.model.township import PopsimModel
from popsim.outputs.runner import resize
from popsim.scenario.couples import METHODS, is_larc
from popsim.state.population import FEMALE


def run(overrides, seed=3, n=6000, years=6):
    """A run with the lever in force since the burn-in's start (its own policy there), so
    that stocks such as the method mix have settled under it."""
    overrides = {"township.burn_in_policy": "own", **overrides}
    scenario = popsim.load_scenario(PARAMS / "baseline.yaml", overrides)
    return popsim.simulate(scenario, seed=seed, n_agents=n, years=years)


# ---- kernels ----------------------------------------------------------------------------------


def test_method_failure_scales_fecundability():
    failure = (1.0, 0.012, 0.006, 0.0007, 0.0001, 0.0001)
    rel = relative_failure(failure, peak_fecundability=0.2)
    assert rel[0] == 1.0, "no method: the couple's own fecundability"
    assert rel[METHODS.index("condom")] == pytest.approx(0.06)
    trying = np.array([True, False, False, False])
    method = np.array([3, 3, 0, 1])
    factor = conception_factor(trying, method, rel)
    assert factor.tolist() == pytest.approx([1.0, rel[3], 1.0, rel[1]]), (
        "trying or no method: full fecundability; else the method's failure"
    )


def test_failure_scale_multiplies_the_methods_not_no_method():
    failure = (1.0, 0.012, 0.006, 0.0007, 0.0001, 0.0001)
    base = relative_failure(failure, peak_fecundability=0.2)
    scaled = relative_failure(failure, peak_fecundability=0.2, scale=3.0)
    assert scaled[0] == 1.0, "no method stays at the couple's fecundability"
    assert scaled[1:] == pytest.approx(3.0 * base[1:])
    capped = relative_failure(failure, peak_fecundability=0.2, scale=100.0)
    assert capped[METHODS.index("condom")] == 1.0, "a method never fails more than no method"


def test_annuity_value_discounts_the_wait():
    r = 0.05
    at_60 = annuity_value(np.array([60]), start_age=60, years=15, rate=r)[0]
    assert at_60 == pytest.approx(sum((1 + r) ** -k for k in range(1, 16)))
    at_40 = annuity_value(np.array([40]), start_age=60, years=15, rate=r)[0]
    assert at_40 == pytest.approx(at_60 * (1 + r) ** -20)


def test_cadre_coverage_and_turnover():
    class Cadre:
        def __init__(self, village, effectiveness):
            self.village, self.effectiveness = village, effectiveness

    cadres = [Cadre(0, 0.5), Cadre(0, 1.5), Cadre(1, 1.0), Cadre(1, 0.8)]
    effort = village_effort(cadres, targets=np.array([200, 1000]), capacity=250)
    assert effort == pytest.approx([1.0 * 1.0, 0.9 * 0.5]), (
        "effort = mean effectiveness x min(1, cadres x capacity / targets)"
    )
    replace_weakest(cadres, 2, np.random.default_rng(0), mean=2.0, sd=0.0)
    assert sorted(c.effectiveness for c in cadres) == [1.0, 1.5, 2.0, 2.0], (
        "the two weakest cadres (0.5 and 0.8) are replaced by capable ones"
    )


def test_attendance_uses_the_migrant_rate_for_away_women():
    p = attendance_probability(
        np.array([False, True]), np.array([1.0, 1.0]), resident=0.9, migrant=0.5, room_gain=1.05
    )
    assert p == pytest.approx([0.945, 0.5])
    capped = attendance_probability(
        np.array([False]), np.array([2.0]), resident=0.9, migrant=0.5, room_gain=1.0
    )
    assert capped[0] == 1.0


def test_couples_who_hide_expect_only_the_other_channels_to_reveal_a_birth():
    def known(evasion):
        scenario = popsim.load_scenario(
            PARAMS / "baseline.yaml",
            {"policy.checkups.evasion": evasion, "policy.fee.detection": 0.2},
        )
        world = SimpleNamespace(
            scenario=scenario, persons=SimpleNamespace(away=np.array([False, True]))
        )
        return birth_known_probability(world, np.arange(2)), scenario.policy.checkups

    hidden, _ = known(1.0)
    assert hidden == pytest.approx([0.2, 0.2]), "never at a round: only the fee's own detection"
    half, ch = known(0.5)
    rounds = int(np.ceil(9 / ch.interval_months))
    for reach, got in zip((ch.participation, ch.migrant_participation), half, strict=True):
        found = 1 - (1 - 0.5 * reach * ch.detection) ** rounds
        assert got == pytest.approx(1 - 0.8 * (1 - found))


def test_fee_collection_is_limited_by_wealth():
    levied = np.full(4, 18000.0)
    wealth = np.array([0.0, 10000.0, 50000.0, -5.0])
    got = collectable(levied, wealth, wealth_share=0.8, collection=0.95)
    assert got == pytest.approx([0.0, 0.95 * 8000.0, 0.95 * 18000.0, 0.0])


def test_lognormal_wealth_has_the_stated_mean():
    rng = np.random.default_rng(1)
    n = 400_000
    w = lognormal_wealth(rng.random(n), rng.random(n), mean=100.0)
    # log-normal with sigma 1: sd of the mean = 100 * sqrt(e - 1) / sqrt(n)
    assert abs(w.mean() - 100.0) < 4 * 100 * np.sqrt(np.e - 1) / np.sqrt(n)
    assert np.median(w) == pytest.approx(100 * np.exp(-0.5), rel=0.01)


# ---- model directions -------------------------------------------------------------------------


def test_fake_certificates_inflate_reported_larc_only():
    honest = run({"policy.contraception.fake_certificate_prob": 0.0})
    faked = run({"policy.contraception.fake_certificate_prob": 0.8})
    k0, k1 = honest.kpis, faked.kpis
    gap0 = (k0["larc_in_place_reported"] - k0["larc_in_place_true"]).mean()
    gap1 = (k1["larc_in_place_reported"] - k1["larc_in_place_true"]).mean()
    assert gap1 > gap0 + 0.01, (
        f"fake out-of-area certificates count on record only: gap {gap0:.3f} -> {gap1:.3f}"
    )
    assert k1["larc_in_place_true"].mean() < k0["larc_in_place_true"].mean(), (
        "a fake certificate leaves the woman without the method"
    )


def test_worse_methods_more_births():
    base = run({})
    leaky = run({"policy.contraception.failure": [1.0, 0.05, 0.05, 0.01, 0.0001, 0.0001]})
    b0 = (base.events["event"] == "birth").sum()
    b1 = (leaky.events["event"] == "birth").sum()
    assert b1 > b0, f"higher method failure rates mean more unintended births: {b0} -> {b1}"


def test_larc_campaign_raises_iud_and_sterilisation():
    off = run({"policy.contraception.larc": False})
    on = run({})
    larc = ["share_iud", "share_female_sterilisation", "share_male_sterilisation"]
    assert on.kpis[larc].sum(axis=1).mean() > off.kpis[larc].sum(axis=1).mean() + 0.2, (
        "the campaign's targets are completed: long-acting methods replace short-acting ones"
    )


def test_refusal_odds_apply_to_son_seekers_only():
    seeking = np.array([True, False])
    assert refusal_probability(0.1, 1.0, seeking).tolist() == pytest.approx([0.1, 0.1])
    # odds 0.1 / 0.9 times 9 = 1: a probability of one half
    assert refusal_probability(0.1, 9.0, seeking).tolist() == pytest.approx([0.5, 0.1])
    assert refusal_probability(1.0, 5.0, seeking).tolist() == [1.0, 1.0]
    assert refusal_probability(0.0, 5.0, seeking).tolist() == [0.0, 0.0]


def _larc_by_refusal_draw(son_odds: float) -> tuple[np.ndarray, ...]:
    """Mothers' refusal draws, whether they prefer a son and seek one, and whether they have
    LARC, after a burn-in and two years under ``son_odds``."""
    scenario = popsim.load_scenario(
        PARAMS / "baseline.yaml",
        {
            "township.burn_in_policy": "own",
            "policy.contraception.refusal_son_odds": son_odds,
            "policy.contraception.fake_certificate_prob": 0.0,  # every LARC is a method
        },
    )
    world = PopsimModel(resize(scenario, 6000, 2), seed=5).run().world
    p = world.persons
    rows = np.flatnonzero(p.alive & (p.sex == FEMALE) & (p.parity >= 1))
    (u,) = world.streams.keyed_many((("larc_refusal", 0),), p.key[rows])
    prefer = p.son_pref[rows]
    return u, prefer, prefer & (p.sons[rows] == 0), is_larc(p.method[rows])


def test_son_seekers_refuse_larc_at_the_raised_odds():
    """Refusal is a trait: a mother whose draw lies below her threshold never has LARC.

    With odds 25 the threshold of a son-preferring mother without a son rises from the base
    refusal (0.104) to about 0.74, so those with draws between the two lose the LARC they had
    at odds 1, and the other mothers keep theirs: those without son preference, whom the odds
    never reach.
    """
    base = popsim.load_scenario(PARAMS / "baseline.yaml").policy.contraception.refusal
    raised = float(refusal_probability(base, 25.0, np.array([True]))[0])
    u1, prefer1, seeking1, larc1 = _larc_by_refusal_draw(1.0)
    u25, prefer25, seeking25, larc25 = _larc_by_refusal_draw(25.0)
    band1 = seeking1 & (u1 >= base) & (u1 < raised)
    band25 = seeking25 & (u25 >= base) & (u25 < raised)
    print(
        f"son seekers with draws in [{base}, {raised:.3f}): LARC {larc1[band1].mean():.2f} "
        f"at odds 1 ({band1.sum()}), {larc25[band25].mean():.3f} at odds 25 ({band25.sum()})"
    )
    assert band1.sum() > 50 and larc1[band1].mean() > 0.5, "the band had LARC at odds 1"
    assert not larc25[band25].any(), "and none at odds 25"
    assert not larc25[u25 < base].any(), "below the base threshold nobody has LARC"
    others1, others25 = ~prefer1 & (u1 >= base), ~prefer25 & (u25 >= base)
    share1, share25 = larc1[others1].mean(), larc25[others25].mean()
    se = np.sqrt(share1 * (1 - share1) / others1.sum() + share25 * (1 - share25) / others25.sum())
    print(f"other mothers above it: LARC {share1:.3f} and {share25:.3f} (se {se:.3f})")
    assert abs(share25 - share1) < 4 * se, "the other mothers complete theirs as before"


def test_hidden_wanted_pregnancies_escape_the_remedial_measures():
    # every found pregnancy ended, independent of the calibrated reach
    reach = {"policy.checkups.participation": 0.9, "policy.checkups.remedial": 1.0}
    seen = run({**reach, "policy.checkups.evasion": 0.0})
    hidden = run({**reach, "policy.checkups.evasion": 1.0})

    def remedial(result, intended):
        e = result.events
        return int(
            (
                (e["event"] == "abortion")
                & (e["reason"] == "remedial")
                & (e["intended"] == intended)
            ).sum()
        )

    assert remedial(seen, 1) > 20, "the rounds find wanted out-of-plan pregnancies"
    assert remedial(hidden, 1) == 0, "a woman who always keeps away is never found"
    assert remedial(hidden, 0) > 20, "unwanted out-of-plan pregnancies are still found"


def test_health_fee_stops_at_the_age_limit():
    none = run({"policy.incentives.health_fee_age_limit": 0})
    paid = run({})
    assert none.kpis["yuan_health_fee"].sum() == 0, "no child is younger than 0 years"
    assert paid.kpis["yuan_health_fee"].sum() > 0
    assert (none.kpis["certificates"] > 0).all(), "certificates are still taken"


def test_service_rooms_raise_participation():
    bare = run({"policy.checkups.room_quality": 0.0, "policy.checkups.participation": 0.8})
    rooms = run(
        {
            "policy.checkups.room_quality": 1.0,
            "policy.checkups.room_effect": 0.2,
            "policy.checkups.participation": 0.8,
        }
    )
    p0 = bare.kpis["checkup_attended"].sum() / bare.kpis["checkup_targets"].sum()
    p1 = rooms.kpis["checkup_attended"].sum() / rooms.kpis["checkup_targets"].sum()
    assert p1 > p0 + 0.05, f"standardised service rooms raise participation: {p0:.3f} -> {p1:.3f}"
    assert rooms.kpis["yuan_service_rooms"].iloc[0] > bare.kpis["yuan_service_rooms"].iloc[0], (
        "and cost their investment in the first year"
    )
