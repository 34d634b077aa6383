"""The family-planning regime wired into a run: state, monthly order, budget and KPI records.

Each month, before the fertility step: household wealth for new households,
village effort, the couples' decisions, contraception and the LARC campaign,
a check-up round when due, sex-selective abortion, incentives. The fertility
step asks :meth:`PolicyState.conception_factor` who can conceive at what
rate, classifies each new pregnancy, and calls :meth:`PolicyState.on_births`
(classification, registration, fee, certificates) for each month's births.
Money goes to a ledger by budget line; each month's counts (and, in December,
the stocks: methods, LARC, certificates) to a record from which
:mod:`popsim.outputs.kpis` builds the annual KPI table, true and reported.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from popsim.mechanisms.checkups import hire_cadres, replace_weakest, step_checkups, village_effort
from popsim.mechanisms.contraception import (
    IS_LARC,
    conception_factor,
    relative_failure,
    step_contraception,
    wives_of_reproductive_age,
)
from popsim.mechanisms.decision import step_decision
from popsim.mechanisms.fees import levy, lognormal_wealth
from popsim.mechanisms.incentives import forfeit_certificates, step_incentives
from popsim.mechanisms.registration import report_probability
from popsim.mechanisms.rules import next_birth_out_of_plan
from popsim.mechanisms.sex_selection import step_sex_selection
from popsim.scenario.couples import METHODS


class PolicyState:
    """The regime's state within one run (cadres, ledger, monthly records)."""

    def __init__(self, model) -> None:
        self.world = world = model.world
        self.pol = pol = model.params.policy
        rng = world.streams["cadres"]
        self.cadres = hire_cadres(model, rng)
        self._rng = rng
        self.rel_failure = relative_failure(
            pol.contraception.failure, float(world.rates.fecundability.max())
        )
        self.village_effort = np.ones(model.params.township.n_villages)
        self.records: list[dict] = []
        self._month: dict[str, float] = defaultdict(float)

    @property
    def decides(self) -> bool:
        """Whether couples decide by desire and price (else parity progression ratios)."""
        return self.pol.decision.enabled

    def pay(self, line: str, yuan: float) -> None:
        """Book ``yuan`` on a budget (or revenue) line this month."""
        self._month[line] += float(yuan)

    # ---- the monthly order -------------------------------------------------------------
    def before_fertility(self) -> None:
        """Every mechanism that acts before conception and birth this month."""
        w, pol = self.world, self.pol
        if w.t == 0:  # the bulletin's investments, booked in the first simulated month
            self.pay("service_rooms", pol.budget.service_rooms * pol.checkups.room_quality)
            self.pay("service_centre", pol.budget.service_centre)
        timed = w.timings
        with timed("checkups"):
            wives = wives_of_reproductive_age(w)  # nothing below marries, dies or ages
            self._draw_wealth()
            self._update_effort(wives)
        if pol.decision.enabled:
            with timed("decision"):
                step_decision(w, wives)
        if pol.contraception.enabled:
            with timed("contraception"):
                step_contraception(w, wives)
        if pol.checkups.enabled and w.t % pol.checkups.interval_months == 0:
            with timed("checkups"):
                for name, count in step_checkups(w, wives).items():
                    self._month[name] += count
        if pol.sex_selection.enabled:
            with timed("sex_selection"):
                step_sex_selection(w)
        if pol.incentives.enabled:
            with timed("incentives"):
                step_incentives(w, self.pay, wives)

    def conception_factor(self, rows: np.ndarray) -> np.ndarray:
        """Fecundability multiplier of ``rows``: 1 trying, the method's failure otherwise."""
        p = self.world.persons
        trying = p.wants_more[rows]
        if not self.pol.contraception.enabled:
            return trying.astype(float)  # couples not trying: perfect contraception, as the core
        return conception_factor(trying, p.method[rows], self.rel_failure)

    def on_conceptions(self, rows: np.ndarray) -> None:
        """Classify new pregnancies under the rule expected at birth."""
        p = self.world.persons
        p.out_of_plan[rows] = next_birth_out_of_plan(self.world, rows, months_ahead=9)
        p.preg_known[rows] = False

    def on_births(self, mothers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Classify and register this month's births, levy fees; before parity changes."""
        w, pol, p = self.world, self.pol, self.world.persons
        out = next_birth_out_of_plan(w, mothers)
        prob = report_probability(
            out,
            in_plan=pol.reporting.in_plan,
            out_plan=pol.reporting.out_of_plan,
            penalty=pol.reporting.penalty,
        )
        reported = w.uniform("registration", mothers) < prob
        if pol.fee.enabled:
            known = p.preg_known[mothers] | (
                w.uniform("fee_detection", mothers) < pol.fee.detection
            )
            levy(w, mothers[out], known[out], self.pay)
        forfeit_certificates(w, mothers)
        p.out_of_plan[mothers] = False
        p.preg_known[mothers] = False
        return out.astype(np.int8), reported.astype(np.int8)

    def end_pregnancies(self, rows: np.ndarray, reason: int, *, stop_trying: bool) -> None:
        """Induced abortions (remedial or sex-selective): logged, the woman may conceive again."""
        w, p = self.world, self.world.persons
        w.log.add(
            "abortion",
            month=w.t,
            pid=p.pid[rows],
            sex=p.fetus_male[rows].astype(np.int8),
            age_months=w.age_months[rows],
            village=p.village[rows],
            order=p.parity[rows] + 1,
            reason=reason,
            out_of_plan=p.out_of_plan[rows].astype(np.int8),
            sons_before=p.sons[rows],
        )
        p.preg_month[rows] = 0
        p.preg_known[rows] = False
        p.out_of_plan[rows] = False
        p.susceptible_from[rows] = w.t + 1
        if stop_trying:
            p.wants_more[rows] = False
            p.desired[rows] = p.parity[rows]
            p.son_pref[rows] = False

    def birth_known_probability(self, rows: np.ndarray) -> np.ndarray:
        """Chance the township learns of an out-of-plan birth of ``rows`` (found or detected)."""
        pol, p = self.pol, self.world.persons
        p_report = pol.fee.detection
        if not pol.checkups.enabled:
            return np.full(rows.size, p_report)
        ch = pol.checkups
        migrant = ch.agreement_participation if ch.agreement else ch.migrant_participation
        reach = np.where(p.away[rows], migrant, min(1.0, ch.participation))
        rounds = int(np.ceil(9 / ch.interval_months))
        found = 1 - (1 - reach * ch.detection) ** rounds
        return 1 - (1 - p_report) * (1 - found)

    def end_of_month(self) -> None:
        """Record this month's flows and money, and in December the stocks."""
        w, p = self.world, self.world.persons
        record = dict(self._month)
        record["month"] = w.t
        self.records.append(record)
        self._month = defaultdict(float)
        if w.t % 12 != 11:
            return
        wives = wives_of_reproductive_age(w)
        record["wives"] = int(wives.sum())
        method_counts = np.bincount(p.method[wives], minlength=len(METHODS))
        for name, count in zip(METHODS, method_counts, strict=True):
            record[f"method_{name}"] = int(count)
        targets = wives & (p.parity >= 1)
        larc = IS_LARC[p.method]
        record["larc_targets"] = int(targets.sum())
        record["larc_true"] = int((targets & larc).sum())
        record["larc_reported"] = int((targets & (larc | p.larc_fake | p.iud_missing)).sum())
        record["certificates"] = int((p.alive & p.certificate).sum())

    def end_of_year(self) -> None:
        """Cadre turnover."""
        ch = self.pol.checkups
        replace_weakest(self.cadres, ch.turnover, self._rng, mean=ch.recruit_mean, sd=ch.cadre_sd)

    # ---- helpers -----------------------------------------------------------------------
    def _draw_wealth(self) -> None:
        h = self.world.households
        new = np.flatnonzero(np.isnan(h.wealth))
        if new.size:
            keys = h.key[new]
            s = self.world.streams
            h.wealth[new] = lognormal_wealth(
                s.keyed("wealth_a", keys, 0),
                s.keyed("wealth_b", keys, 0),
                mean=self.pol.budget.wealth_years * self.pol.budget.income,
            )

    def _update_effort(self, wives: np.ndarray) -> None:
        p = self.world.persons
        targets = np.bincount(p.village[wives], minlength=self.village_effort.size)
        self.village_effort = village_effort(self.cadres, targets, self.pol.checkups.cadre_capacity)
