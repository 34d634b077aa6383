"""Unintended pregnancies: who conceives them, how many couples end, and what the footprint counts.

A pregnancy conceived while the couple was not trying (a method's failure) is unintended; the
couple ends it in month 2 with ``demography.fertility.unintended_abortion`` (at
``unintended_abortion_son_odds`` times the odds once it has a son). The statistics
the calibration fits (``abortion_ratio``, ``unintended_share``, ``unintended_aborted``,
``abortions_intended_share``) are read from the events and the ledger's conception counts.
"""

import numpy as np
import pytest

import popsim
from conftest import PARAMS
from popsim.mechanisms.fertility import (
    ABORTION_MONTH,
    own_abortion_probability,
    pregnancy_outcomes,
)
from popsim.outputs.statistics import statistics


def test_only_the_given_pregnancies_are_aborted_in_month_2():
    n = 200_000
    rng = np.random.default_rng(5)
    intended = rng.random(n) < 0.5
    preg_month = rng.integers(1, 10, n)
    loss = 0.04
    lost, aborted, born = pregnancy_outcomes(
        rng.random(n),
        preg_month=preg_month,
        loss_month=loss,
        abortion_prob=np.where(intended, 0.0, 0.6),
    )
    assert not (aborted & intended).any(), "an intended pregnancy is never ended this way"
    assert not (aborted & (preg_month != ABORTION_MONTH)).any()
    assert not (aborted & lost).any() and not (aborted & born).any()
    at = ~intended & (preg_month == ABORTION_MONTH)
    expected = (1 - loss) * 0.6  # not lost this month, then aborted
    se = np.sqrt(expected * (1 - expected) / at.sum())
    assert aborted[at].mean() == pytest.approx(expected, abs=4 * se)


@pytest.fixture(scope="module")
def footprint():
    """The baseline with every unintended pregnancy ended by the couple, and with none.

    The check-ups end no pregnancy (``remedial`` 0), so that only the couples end
    unintended pregnancies (sex selection, which acts on wanted ones, may end a rare one).
    """

    def run(q):
        scenario = popsim.load_scenario(
            PARAMS / "baseline.yaml",
            {"demography.fertility.unintended_abortion": q, "policy.checkups.remedial": 0.0},
        )
        return popsim.simulate(scenario, seed=4, n_agents=8000, years=3)

    return {q: run(q) for q in (0.0, 1.0)}


def test_the_couples_own_abortions_end_unintended_pregnancies_only(footprint):
    events = footprint[1.0].events
    own = events[(events["event"] == "abortion") & (events["reason"] == "unintended")]
    assert len(own) > 0
    assert (own["intended"] == 0).all()
    regime = events[(events["event"] == "abortion") & (events["reason"] != "unintended")]
    assert set(regime["intended"].unique()) <= {0, 1}, "every abortion knows its intention"
    none = footprint[0.0].events
    assert not ((none["event"] == "abortion") & (none["reason"] == "unintended")).any()


def test_footprint_statistics_count_what_they_say(footprint):
    everything, nothing = statistics(footprint[1.0]), statistics(footprint[0.0])
    # ended in month 2 unless lost before: of those that reach month 2, every one
    assert everything["unintended_aborted"] > 0.8
    assert nothing["unintended_aborted"] < 0.05, "without them almost none is ended"
    for stats in (everything, nothing):
        assert 0 < stats["unintended_share"] < 1
        assert 0 <= stats["abortions_intended_share"] <= 1
    assert everything["abortion_ratio"] > nothing["abortion_ratio"]
    assert everything["abortions_intended_share"] < nothing["abortions_intended_share"]


def test_a_son_scales_the_odds_of_ending_an_unintended_pregnancy():
    has_son = np.array([True, False])
    base = 0.4
    for odds in (0.0, 0.5, 1.0, 3.0, 20.0):
        with_son, without = own_abortion_probability(base, odds, has_son)
        assert without == base, "a woman without a son keeps the base chance"
        assert with_son / (1 - with_son) == pytest.approx(odds * base / (1 - base))
    assert own_abortion_probability(0.724, 1.0, has_son).tolist() == [0.724, 0.724]


def test_only_women_without_a_son_end_unintended_pregnancies_at_odds_zero():
    """At odds 0 a woman who has a son never ends an unintended pregnancy herself; at odds 1
    (the same chance as without a son) many such abortions are hers."""

    def own_abortions(odds):
        scenario = popsim.load_scenario(
            PARAMS / "baseline.yaml",
            {
                "demography.fertility.unintended_abortion": 0.7,
                "demography.fertility.unintended_abortion_son_odds": odds,
            },
        )
        events = popsim.simulate(scenario, seed=4, n_agents=8000, years=3).events
        return events[(events["event"] == "abortion") & (events["reason"] == "unintended")]

    none_with_son = own_abortions(0.0)
    assert len(none_with_son) >= 5
    assert (none_with_son["sons_before"] == 0).all()
    assert (own_abortions(1.0)["sons_before"] > 0).sum() > 20
