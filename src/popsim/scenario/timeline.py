"""Dated changes of a scenario: its timeline, and the scenario in force in each month.

A scenario's ``timeline`` is a list of changes, each dated to a month (``2016-01``) and
setting dotted fields (``policy.rules.regime: two_child``). From the start of its month a
change's scenario is the one before it with these fields replaced, validated like any
scenario; before its month nothing of it applies. Each change carries its ``source``.

A change may be ``announced`` before its date. From the announcement's month couples and the
classification of pregnancies expect its birth rule for births from its date on
(:func:`announcements`); every other field waits for the date.

Only fields of ``policy`` and ``demography`` can change during a run, except the few that
are fixed when the run starts (:data:`FIXED`). The burn-in before the start runs under
the built-in baseline policy (``township.burn_in_policy: baseline``) or the scenario's own
(``own``); :func:`schedule` gives the scenario in force from each month on.
"""

from __future__ import annotations

import datetime
import difflib
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError, field_validator

from popsim.scenario.regime import BirthRules, Policy
from popsim.scenario.schema import Section, cross_field, lever

if TYPE_CHECKING:
    from popsim.scenario.demography import Scenario

_MONTH = re.compile(r"(\d{4})-(\d{2})")
SETTABLE = ("policy", "demography")  #: the sections whose fields a change can set
#: fields a change cannot set, and why
FIXED: dict[str, str] = {
    "policy.enabled": "the regime as a whole is on or off for the whole run (its cadres and "
    "burn-in depend on it); switch its levers' own 'enabled' fields instead",
    "policy.checkups.cadres_per_village": "the cadres are hired when the run starts",
    "policy.budget.service_rooms": "the investments are booked in the run's first month",
    "policy.budget.service_centre": "the investments are booked in the run's first month",
    "demography.fertility.mode": "it decides the initial histories and which steps exist",
}


#: what sweeps and calibrations apply to their scenario: the parameters they vary describe
#: the township's past as well, so the burn-in runs under them
OWN_PAST = {"township.burn_in_policy": "own"}


def month_of(date: str, start_year: int) -> int:
    """The model month of ``date`` (``YYYY-MM``): 0 is January of ``start_year``."""
    year, month = (int(x) for x in date.split("-"))
    return (year - start_year) * 12 + month - 1


class Change(Section):
    """One dated change: from the start of ``date``'s month the fields in ``set`` hold."""

    date: str = lever(
        ...,
        unit="year-month",
        meaning="the month from whose start the change holds, as YYYY-MM (e.g. 2016-01)",
    )
    set: dict[str, Any] = lever(
        ...,
        unit="fields",
        meaning="dotted fields of policy or demography and their values from this month on "
        "(e.g. policy.rules.regime: two_child)",
    )
    source: str = lever(
        ..., unit="text", meaning="where the date and the values come from", min_length=1
    )
    announced: str | None = lever(
        None,
        unit="year-month",
        meaning="the month the change became known, if before its date (YYYY-MM): from then "
        "couples decide, and pregnancies are classified, under its birth rule for births "
        "from its date on; its other fields wait for the date",
    )

    @field_validator("date", "announced", mode="before")
    @classmethod
    def _a_month(cls, value: Any) -> Any:
        if value is None:
            return value
        if isinstance(value, datetime.date):
            raise ValueError(
                f"dates are months: write {value:%Y-%m}, without the day (a change holds "
                "from the start of its month)"
            )
        if not isinstance(value, str) or not _MONTH.fullmatch(value):
            raise ValueError("a month is written YYYY-MM, e.g. 2016-01")
        if not 1 <= int(value[5:]) <= 12:
            raise ValueError("the month must be 01..12")
        return value

    @field_validator("set")
    @classmethod
    def _not_empty(cls, value: dict[str, Any]) -> dict[str, Any]:
        if not value:
            raise ValueError("a change must set at least one field")
        return value


def _check_path(key: str, root: type[BaseModel]) -> str | None:
    """Why the dotted ``key`` cannot be set by a change, or None if it can."""
    parts = key.split(".")
    if not all(parts):
        return "is not a dotted field path such as 'policy.fee.multiple'"
    if parts[0] not in SETTABLE:
        return (
            f"only fields of {' and '.join(SETTABLE)} can change during a run; "
            f"'{parts[0]}' is fixed when the run starts"
        )
    model: type[BaseModel] = root
    for i, part in enumerate(parts):
        fields = model.model_fields
        if part not in fields:
            where = ".".join(parts[:i]) or "the top level"
            close = difflib.get_close_matches(part, sorted(fields), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            allowed = ", ".join(sorted(fields))
            return f"unknown field '{part}' in {where}.{hint} Allowed there: {allowed}"
        annotation = fields[part].annotation
        is_section = isinstance(annotation, type) and issubclass(annotation, BaseModel)
        if i == len(parts) - 1:
            if is_section:
                return "is a section; set its fields one by one (e.g. f'{key}.enabled')"
        elif not is_section:
            return f"'{'.'.join(parts[: i + 1])}' is a value, not a section"
        else:
            model = annotation
    if key in FIXED:
        return f"is fixed for the run: {FIXED[key]}"
    return None


def _nested(overrides: Mapping[str, Any]) -> dict:
    out: dict = {}
    for dotted, value in overrides.items():
        node = out
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return out


def _merged(base: dict, top: Mapping) -> dict:
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merged(out[key], value)
        else:
            out[key] = value
    return out


def dated(scenario: Scenario) -> list[tuple[int, Scenario]]:
    """(month, scenario in force from that month) for each change, each validated.

    Raises a located error (``timeline.<i>.date`` or ``timeline.<i>.set.<field>``) for a
    date before the start, dates out of order or repeated, a field that cannot be set,
    and a value the schema refuses.
    """
    kind = type(scenario)
    start = scenario.township.start_year
    current = scenario.model_copy(update={"timeline": ()})
    out: list[tuple[int, Scenario]] = []
    previous: tuple[int, str] | None = None
    for i, change in enumerate(scenario.timeline):
        month = month_of(change.date, start)
        if month < 0:
            raise cross_field(
                f"timeline.{i}.date",
                change.date,
                f"is before the run's start ({start}-01, township.start_year); a change must "
                "fall within the run",
            )
        if previous is not None and month <= previous[0]:
            raise cross_field(
                f"timeline.{i}.date",
                change.date,
                f"must come after timeline.{i - 1}'s date ({previous[1]}): dates are in "
                "increasing order, each month once (put a month's changes in one entry)",
            )
        if change.announced is not None:
            told = month_of(change.announced, start)
            if not 0 <= told <= month:
                where = "before the run's start" if told < 0 else f"after its date ({change.date})"
                raise cross_field(
                    f"timeline.{i}.announced",
                    change.announced,
                    f"is {where}: a change is announced within the run, by its date",
                )
            if previous is not None and told < previous[0]:
                raise cross_field(
                    f"timeline.{i}.announced",
                    change.announced,
                    f"is before timeline.{i - 1}'s date ({previous[1]}): one change is awaited "
                    "at a time, so a change is announced once the one before it holds",
                )
        previous = (month, change.date)
        for key, value in change.set.items():
            reason = _check_path(key, kind)
            if reason is not None:
                raise cross_field(f"timeline.{i}.set.{key}", value, reason)
        data = _merged(current.model_dump(), _nested(change.set))
        try:
            current = kind.model_validate(data)
        except ValidationError as exc:
            error = exc.errors(include_url=False)[0]
            loc = ".".join(str(p) for p in error["loc"])
            if error["type"] == "cross_field":
                loc = ".".join(filter(None, (loc, error["ctx"]["field"])))
            key = next(
                (k for k in change.set if loc.startswith(k) or k.startswith(loc) and loc),
                next(iter(change.set)),
            )
            raise cross_field(f"timeline.{i}.set.{key}", change.set[key], error["msg"]) from None
        out.append((month, current))
    return out


def schedule(scenario: Scenario) -> list[tuple[int, Scenario]]:
    """(first month, scenario in force) from the burn-in's first month on, in order.

    The burn-in runs under the built-in baseline policy when ``township.burn_in_policy`` is
    ``baseline`` and the scenario has the regime (a scenario without the regime has no
    policy to share, so its burn-in is its own); the scenario's own values hold from month
    0, and each dated change from its month.
    """
    own = scenario.model_copy(update={"timeline": ()})
    first = -12 * scenario.township.burn_in_years
    out: list[tuple[int, Scenario]] = []
    if (
        first < 0
        and scenario.township.burn_in_policy == "baseline"
        and scenario.policy.enabled
        and scenario.policy != Policy()
    ):
        out.append((first, own.model_copy(update={"policy": Policy()})))
    out.append((min(first, 0) if not out else 0, own))
    for month, later in dated(scenario):
        if out[-1][0] == month:
            out[-1] = (month, later)
        else:
            out.append((month, later))
    return out


def announcements(scenario: Scenario) -> dict[int, tuple[int, BirthRules]]:
    """{month announced: (month in force, birth rules)} of the changes announced early.

    Only changes announced before their month whose birth rules differ from those in force
    before them: an announcement is what couples expect of the birth rule, not of other
    levers.
    """
    out: dict[int, tuple[int, BirthRules]] = {}
    before = scenario.policy.rules
    start = scenario.township.start_year
    for change, (month, later) in zip(scenario.timeline, dated(scenario), strict=True):
        told = None if change.announced is None else month_of(change.announced, start)
        if told is not None and told < month and later.policy.rules != before:
            out[told] = (month, later.policy.rules)
        before = later.policy.rules
    return out
