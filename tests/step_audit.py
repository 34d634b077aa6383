"""Run a model step by step and record which person and household columns each step touches.

A column is *read* when a step asks the table for it (``persons.parity``) and *written*
when its values (on the rows that existed before the step) differ afterwards.
"""

from __future__ import annotations

from collections import defaultdict
from contextlib import contextmanager

import numpy as np

from popsim.model import PopsimModel
from popsim.state.population import Table
from popsim.state.world import Month


@contextmanager
def recording_reads():
    """Yield a set that collects (table class name, column) of every column access."""
    seen: set[tuple[str, str]] = set()
    original = Table.__getattr__

    def spy(self, name):
        value = original(self, name)
        seen.add((type(self).__name__, name))
        return value

    Table.__getattr__ = spy
    try:
        yield seen
    finally:
        Table.__getattr__ = original


def _label(table: str, column: str) -> str:
    return column if table == "Persons" else f"households.{column}"


def _state(model: PopsimModel) -> dict[str, np.ndarray]:
    w = model.world
    cols = {c: w.persons._cols[c][: w.persons.n].copy() for c in w.persons.columns}
    cols |= {
        f"households.{c}": w.households._cols[c][: w.households.n].copy()
        for c in w.households.columns
    }
    return cols


def audit(model: PopsimModel, months: int) -> tuple[dict, dict, dict]:
    """(reads, writes, added rows) by step name over ``months`` recorded months."""
    reads, writes, added = defaultdict(set), defaultdict(set), defaultdict(set)
    model.recording = True
    w = model.world
    for _ in range(months):
        w.month = Month()
        for step in model.month_steps:
            call = step.bind(model)
            if not step.when.due(model):
                continue
            before = _state(model)
            n_persons, n_households = w.persons.n, w.households.n
            w.persons.forget_views()  # a column an earlier step read is read afresh
            w.households.forget_views()
            with recording_reads() as seen:
                call()
            reads[step.name] |= {_label(t, c) for t, c in seen}
            if w.persons.n > n_persons:
                added[step.name].add("new persons")
            if w.households.n > n_households:
                added[step.name].add("new households")
            if step.name == "compaction":
                continue  # renumbers every row by design
            after = _state(model)
            for name, old in before.items():
                new = after[name][: old.size]
                if not np.array_equal(old, new, equal_nan=old.dtype.kind == "f"):
                    writes[step.name].add(name)
        w.t += 1
    return reads, writes, added
