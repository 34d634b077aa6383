"""Contraception: method use, failures, IUD expulsion, and the LARC campaign.

Married women aged 15-49 who are not trying for a child and not pregnant use a
method: a short-acting one (condom or pill) by their own uptake, a long-acting
one (IUD, female or male sterilisation) when the campaign reaches them. The
campaign lists every woman with one child and no IUD or sterilisation as an IUD
target, and every woman with two or more children as a sterilisation target
(docs/regime.md §5); a listed target is completed with a monthly hazard scaled by
the village cadres' effort, unless the woman refuses (a trait; more often while her couple
wants a son and has none). Women trying for an in-plan child are not listed
for an IUD. An away woman completes her target with an out-of-area certificate,
which is fake with some probability (the reported layer counts it, the true one
does not) until a verification catches it.

A couple not trying conceives with the method's monthly failure probability
scaled by the woman's fecundability relative to its peak; without a method, at
her full fecundability (unmet need).
"""

from __future__ import annotations

import numpy as np

from popsim.mechanisms.rules import next_birth_out_of_plan
from popsim.scenario.couples import (
    CONDOM,
    FEMALE_STERILISATION,
    IUD,
    MALE_STERILISATION,
    PILL,
    is_larc,
    is_sterilisation,
)
from popsim.state.population import FEMALE, MARRIED
from popsim.state.world import monthly_probability


def relative_failure(
    failure: tuple[float, ...], peak_fecundability: float, scale: float = 1.0
) -> np.ndarray:
    """Conception probability of a non-trying couple by method, relative to fecundability.

    ``scale`` multiplies the methods' failures (capped at no method's 1).
    """
    rel = np.minimum(1.0, scale * np.asarray(failure, dtype=float) / max(peak_fecundability, 1e-12))
    rel[0] = 1.0  # no method: the couple's own fecundability
    return rel


def refusal_probability(refusal: float, son_odds: float, seeking: np.ndarray) -> np.ndarray:
    """Each listed woman's chance of refusing LARC.

    ``refusal``, or for a son-preferring woman without a son (``seeking``) the probability
    whose odds are ``son_odds`` times its odds.
    """
    raised = son_odds * refusal / (1.0 - refusal + son_odds * refusal)  # odds x son_odds
    return np.where(seeking, raised, refusal)


def wives_of_reproductive_age(world) -> np.ndarray:
    """Mask of married women 15-49 alive now: the family-planning target population."""
    p, age = world.persons, world.age_years
    return p.alive & (p.sex == FEMALE) & (p.marital == MARRIED) & (age >= 15) & (age < 50)


def step_contraception(world) -> None:
    """Expulsions, short-acting uptake, LARC campaign, certificate verification.

    Acts on the month's wives (married women 15-49). What a woman really uses is
    ``method``; an IUD taken out privately (``iud_missing``) is only a record that the
    check-ups may correct, not a method.
    """
    p, c = world.persons, world.scenario.policy.contraception
    wives = world.month.wives
    iud_users = np.flatnonzero(wives & (p.method == IUD))
    u = world.uniform("iud_expulsion", iud_users)
    p.method[iud_users[u < monthly_probability(c.iud_expulsion_rate)]] = 0

    idle = np.flatnonzero(wives & ~p.wants_more & (p.preg_month == 0) & (p.method == 0))
    u_uptake, u_choice = world.uniforms(("method_uptake", "method_choice"), idle)
    adopt = u_uptake < c.uptake
    adopters = idle[adopt]
    pill = u_choice[adopt] < c.short_acting_pill_share
    p.method[adopters] = np.where(pill, PILL, CONDOM)

    if c.larc:
        _campaign(world, wives)
    fake = np.flatnonzero(p.larc_fake & p.alive)
    caught = world.uniform("certificate_check", fake) < monthly_probability(c.verification_prob)
    p.larc_fake[fake[caught]] = False


def _campaign(world, wives: np.ndarray) -> None:
    p, t, c = world.persons, world.t, world.scenario.policy.contraception
    ready = (
        wives
        & (p.preg_month == 0)
        & ~p.larc_fake
        & ~p.iud_missing
        & (t - p.last_birth_month >= c.larc_grace_months)
    )
    sterilise = ready & (p.parity >= 2) & ~is_sterilisation(p.method)
    iud = ready & (p.parity >= 1) & ~is_larc(p.method)
    iud_rows = np.flatnonzero(iud)
    in_plan_try = p.wants_more[iud_rows] & ~next_birth_out_of_plan(world, iud_rows, 9)
    iud[iud_rows[in_plan_try]] = False
    targets = np.flatnonzero(sterilise | iud)
    u_refusal, u_sterilise, u_iud = world.streams.keyed_many(
        (("larc_refusal", 0), ("sterilisation", t), ("larc", t)),  # refusal: a trait
        p.key[targets],
    )
    effort = world.effort[p.village[targets]]
    to_sterilise = sterilise[targets] & (u_sterilise < c.sterilisation_rate * effort)
    to_iud = iud[targets] & (u_iud < c.larc_rate * effort)
    refusal = c.refusal
    if c.refusal_son_odds != 1:  # refusal is a trait: the same draw, a threshold by status
        seeking = p.son_pref[targets] & (p.sons[targets] == 0)
        refusal = refusal_probability(c.refusal, c.refusal_son_odds, seeking)
    done_mask = (u_refusal >= refusal) & (to_sterilise | to_iud)
    done, sterilised = targets[done_mask], to_sterilise[done_mask]
    u_fake, u_side = world.uniforms(("fake_certificate", "sterilisation_side"), done)
    fake = p.away[done] & (u_fake < c.fake_certificate_prob)
    p.larc_fake[done[fake]] = True
    real, sterilised = done[~fake], sterilised[~fake]
    male = u_side[~fake] < c.male_sterilisation_share
    p.method[real] = np.where(
        sterilised, np.where(male, MALE_STERILISATION, FEMALE_STERILISATION), IUD
    )
    p.wants_more[real] = False
    # surgeries done, for the cost lines (a fake certificate is no surgery)
    world.ledger.count("iud_inserted", int((~sterilised).sum()))
    world.ledger.count("sterilised_female", int((sterilised & ~male).sum()))
    world.ledger.count("sterilised_male", int((sterilised & male).sum()))
