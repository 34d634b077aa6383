"""The state at the start date: what determines it, and a copy of it to start runs from.

Every draw is keyed by (seed, process, person, month), so the state a run reaches at month 0
depends only on what ran before it: the initial population and the burn-in under the
scenario in force then (township, demography, initial population, and the policy of
``township.burn_in_policy``: the built-in baseline's, or with ``own`` the scenario's own),
the seed and the code. :func:`key` hashes exactly that; runs with one key reach one state,
bit for bit, so a run started from a :class:`Start` computes the same tables as a run that
does its own burn-in (``tests/test_burn_in.py``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from popsim.scenario.demography import Scenario
from popsim.scenario.timeline import schedule
from popsim.version import code_version

#: the layout of a start's payload; part of the key, so a state of another layout is not read
FORMAT = 1
#: what a run does not use before month 0: its name and description, the years it records,
#: its dated changes (the timeline refuses a date before the start)
_NOT_BEFORE_START: dict[str, Any] = {
    "name": True,
    "description": True,
    "timeline": True,
    "township": {"years"},
}


def identity(scenario: Scenario, seed: int) -> dict[str, Any]:
    """Everything the state at month 0 depends on, as JSON values.

    Before month 0 one scenario is in force (:func:`popsim.scenario.timeline.schedule`'s
    first): the scenario with the burn-in's policy.
    """
    (first, in_force), *_ = schedule(scenario)
    return {
        "format": FORMAT,
        "seed": int(seed),
        "code_version": code_version(),
        "numpy": np.__version__,
        "first_month": first,
        "in_force": in_force.model_dump(mode="json", exclude=_NOT_BEFORE_START),
    }


def key(scenario: Scenario, seed: int) -> str:
    """SHA-256 of the canonical JSON of :func:`identity`: equal keys, equal states at month 0."""
    text = json.dumps(identity(scenario, seed), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Start:
    """The state at month 0 of the runs with ``key``, pickled.

    Immutable bytes rather than live objects: each run unpickles a copy of its own, so no
    run can change what the next one starts from.
    """

    key: str
    payload: bytes
