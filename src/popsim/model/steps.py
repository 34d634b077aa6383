"""The month, read top to bottom: every step of a run in order, and what each touches.

:class:`~popsim.model.township.PopsimModel` runs :data:`STEPS` in this order every month,
skipping the steps its scenario does not have (``present``) or that are not due this
month (``when``). Each step names the person columns (and other state) it reads and
writes; ``tests/test_steps.py`` runs them and fails when a step touches a column it does
not declare, and :data:`SHARED` says why a column has more than one writing step.
``docs/model.md`` shows this table as :func:`popsim.model.step.markdown` writes it.

State other than person columns: ``households.*`` (household table), ``new persons`` and
``new households`` (rows appended), ``month.*`` (values handed to later steps of the same
month), ``effort`` (the villages' cadre effort), ``ledger`` (the regime's money and
counts), ``log`` (the event log), ``cadres``, and the model's records (``records``).
"""

from __future__ import annotations

from popsim.mechanisms import (
    checkups,
    contraception,
    decision,
    fees,
    fertility,
    incentives,
    marriage,
    migration,
    mortality,
    registration,
    rules,
    sex_selection,
)
from popsim.model import records
from popsim.model.regime import Regime
from popsim.model.step import (
    CHECKUP_MONTHS,
    CONCEPTIONS,
    DECEMBER,
    RECORDED,
    RECORDED_DECEMBER,
    REGIME,
    Step,
    demography,
    lever,
)
from popsim.state.population import Persons


def _cols(text: str) -> tuple[str, ...]:
    return tuple(text.split())


PREGNANCY = "preg_month out_of_plan preg_known susceptible_from"
#: what the birth rules look at (with age; selective_two_child also the spouses' only_child)
RULE = "parity sons first_birth_month marital spouse only_child"

STEPS: tuple[Step, ...] = (
    Step(
        "open_month",
        records.open_month,
        "model",
        _cols("alive village log"),
        _cols("records"),
        "the population and event counts at the month's start",
        timer="indicators",
    ),
    Step(
        "exposure",
        records.add_exposure,
        "model",
        _cols("alive sex"),
        _cols("records"),
        "person-years by sex and single age",
        when=RECORDED,
        timer="indicators",
    ),
    Step(
        "mortality",
        mortality.step_mortality,
        "world",
        _cols("key pid sex village"),
        _cols("alive marital spouse preg_month log"),
        "deaths; the spouses of the dead are widowed",
    ),
    Step(
        "migration",
        migration.step_migration,
        "world",
        _cols("key pid sex village household marital households.key"),
        _cols("alive away spouse preg_month log") + ("new persons", "new households"),
        "labour migrants leave and return; households emigrate; immigrants arrive",
        present=demography("migration"),
    ),
    Step(
        "marriage",
        marriage.step_marriage,
        "world",
        _cols("key pid sex parity"),
        _cols("alive marital spouse village household away wants_more preg_month log")
        + ("new persons", "new households"),
        "first marriages, local and with brides from outside; a bride's first wish for a "
        "child (parity progression)",
        present=demography("marriage"),
    ),
    Step(
        "regime_open",
        Regime.open_month,
        "regime",
        _cols("alive sex marital village households.key cadres"),
        _cols("households.wealth month.wives effort ledger"),
        "investments (first month); the month's target wives (married women 15-49); new "
        "households' wealth; the cadres' effort by village",
        present=REGIME,
        timer="checkups",
    ),
    Step(
        "decision",
        decision.step_decision,
        "world",
        _cols(
            "key month.wives away certificate rewarded daughters preg_month last_birth_month "
            + RULE
        ),
        _cols("desired son_pref wants_more method iud_missing ledger"),
        "couples' desired size and son preference (by calendar year); waiting wishes fade; "
        "start trying (by the price of the next birth, after their own spacing) or stop; "
        "IUDs removed by the service for an in-plan birth counted",
        present=lever("decision"),
    ),
    Step(
        "contraception",
        contraception.step_contraception,
        "world",
        _cols(
            "key alive month.wives effort away village preg_month iud_missing son_pref "
            "last_birth_month " + RULE
        ),
        _cols("method larc_fake wants_more ledger"),
        "IUD expulsion, short-acting uptake, LARC campaign (its surgeries counted; son seekers "
        "refuse more often), fake certificates caught",
        present=lever("contraception"),
    ),
    Step(
        "checkups",
        checkups.step_checkups,
        "world",
        _cols("key pid month.wives effort away village fetus_male preg_intended parity sons"),
        _cols(PREGNANCY + " wants_more desired son_pref method iud_missing log ledger"),
        "a check-up round: pregnancies found, remedial abortions (early or late), missing "
        "IUDs refitted",
        present=lever("checkups"),
        when=CHECKUP_MONTHS,
    ),
    Step(
        "sex_selection",
        sex_selection.step_sex_selection,
        "world",
        _cols(
            "key pid alive fetus_male preg_intended daughters son_pref certificate rewarded away "
            "village " + RULE
        ),
        _cols(PREGNANCY + " log"),
        "sex-selective abortions of female fetuses (the couple tries again)",
        present=lever("sex_selection"),
    ),
    Step(
        "incentives",
        incentives.step_incentives,
        "world",
        _cols(
            "key alive sex month.wives parity sons daughters desired son_pref wants_more "
            "first_birth_month method spouse"
        ),
        _cols("certificate rewarded ledger"),
        "certificate take-up; rewards, subsidies and old-age payments booked",
        present=lever("incentives"),
    ),
    Step(
        "pregnancies",
        fertility.step_pregnancies,
        "world",
        _cols("key pid alive sex fetus_male preg_intended village parity sons method_failure"),
        _cols(PREGNANCY + " month.mothers month.male log ledger"),
        "losses, couples' own abortions of unintended pregnancies and terms of pregnancies "
        "(asfr mode: this month's births at the age rates)",
        timer="fertility",
    ),
    Step(
        "conception",
        fertility.step_conception,
        "world",
        _cols(
            "key alive sex marital spouse away wants_more method susceptible_from method_failure"
        ),
        _cols("preg_month preg_intended fetus_male month.conceived ledger"),
        "new conceptions (couples not trying: their method's failure, unintended); the "
        "fetus's sex; conceptions counted (with the regime's methods)",
        present=CONCEPTIONS,
        timer="fertility",
    ),
    Step(
        "plan_status",
        rules.step_plan_status,
        "world",
        _cols("month.conceived " + RULE),
        _cols("out_of_plan"),
        "new pregnancies classified under the rule expected at birth",
        present=REGIME,
        timer="fertility",
    ),
    Step(
        "registration",
        registration.step_registration,
        "world",
        _cols("key month.mothers " + RULE),
        _cols("month.births_out_of_plan month.births_reported"),
        "this month's births classified under the rule in force; which are registered",
        present=REGIME,
        timer="fertility",
    ),
    Step(
        "fees",
        fees.step_fees,
        "world",
        _cols("key household preg_known month.mothers month.births_out_of_plan"),
        _cols("households.wealth ledger"),
        "the fee levied on known out-of-plan births, collected as far as wealth allows",
        present=lever("fee"),
        timer="fertility",
    ),
    Step(
        "certificates_forfeit",
        incentives.step_forfeit_certificates,
        "world",
        _cols("month.mothers"),
        _cols("certificate"),
        "a birth ends its mother's certificate",
        present=REGIME,
        timer="fertility",
    ),
    Step(
        "births",
        fertility.step_births,
        "world",
        _cols(
            "key pid village household mother month.mothers month.male "
            "month.births_out_of_plan month.births_reported"
        ),
        _cols(
            "parity sons daughters first_birth_month last_birth_month wants_more only_child log "
            + PREGNANCY
        )
        + ("new persons", "month.newborns"),
        "newborns added; the mothers' parity, children and trying; a sibling's birth ends "
        "the older child's being an only child",
        timer="fertility",
    ),
    Step(
        "newborn_exposure",
        records.add_newborn_exposure,
        "model",
        _cols("sex month.newborns"),
        _cols("records"),
        "the newborns' person-year share of their birth month, at age 0",
        when=RECORDED,
        timer="indicators",
    ),
    Step(
        "newborn_mortality",
        mortality.step_newborn_mortality,
        "world",
        _cols("key pid sex village spouse marital preg_month month.newborns"),
        _cols("alive log"),
        "deaths of the month's newborns in their birth month, at age 0",
        timer="mortality",
    ),
    Step(
        "regime_close",
        Regime.close_month,
        "regime",
        _cols("alive sex marital parity method iud_missing larc_fake certificate cadres"),
        _cols("ledger"),
        "the month's cost lines priced from its counts (cadres, check-ups, surgeries, running "
        "costs); the month's record of money and counts; in December the stocks (not in the "
        "burn-in, whose books are dropped)",
        present=REGIME,
        when=RECORDED,
        timer="indicators",
    ),
    Step(
        "tally",
        records.tally,
        "model",
        _cols("alive sex parity sons away village log"),
        _cols("records"),
        "the month's flows, village populations and mothers of two; Mesa's DataCollector",
        timer="indicators",
    ),
    Step(
        "snapshot",
        records.snapshot,
        "model",
        _cols("alive sex parity away marital"),
        _cols("records"),
        "year-end age pyramid (residents and never married too) and parity of women 45-49",
        when=RECORDED_DECEMBER,
        timer="indicators",
    ),
    Step(
        "cadre_turnover",
        Regime.close_year,
        "regime",
        _cols("cadres"),
        _cols("cadres"),
        "the weakest cadres replaced",
        present=REGIME,
        when=DECEMBER,
    ),
    Step(
        "compaction",
        Persons.compact,
        "persons",
        _cols("alive spouse"),
        ("every column: rows renumbered",),
        "retired rows dropped once they are a tenth of the table",
        when=DECEMBER,
    ),
)

#: Person columns written by more than one step, and why. Every other column has one owner
#: (the initial population, :mod:`popsim.model.initial`, sets every column once).
SHARED: dict[str, str] = {
    "alive": "a person leaves the population by death (at the month's start, or as a newborn "
    "in the birth month), emigration or marrying out",
    "spouse": "a couple is formed by marriage and unlinked by a death or a departure",
    "marital": "married by marriage, widowed by a death",
    "away": "labour migration; a bride takes her husband's place, home or away",
    "preg_month": "a pregnancy starts at conception, advances each month and ends in a birth, "
    "a loss, an induced abortion (the couple's own, check-up or sex selection) or the "
    "woman's leaving",
    "out_of_plan": "set when a pregnancy is classified; cleared when it ends, however it ends",
    "preg_known": "set when a check-up finds a pregnancy; cleared when it ends",
    "susceptible_from": "every end of a pregnancy sets when she can conceive again",
    "wants_more": "the couple's trying: drawn at marriage and birth by parity progression (no "
    "decision module) or started by the decision, and stopped by a birth, a LARC, a refitted "
    "IUD or a remedial abortion",
    "method": "stopped to try (decision), adopted (contraception), an IUD refitted (check-ups)",
    "iud_missing": "a private removal goes on record (decision) until a check-up finds it",
    "desired": "drawn by the decision, which also ends a faded wish; a remedial abortion "
    "without reconception ends the wish",
    "son_pref": "drawn by the decision, which also ends a faded wish; a remedial abortion "
    "without reconception ends the wish",
    "certificate": "taken up (incentives), ended by a birth",
    "households.wealth": "drawn once per new household; reduced by the fees collected",
}
