"""The regime's books: money by budget line and counts, one record per month.

Mechanisms book into the current month (:meth:`Ledger.pay`, :meth:`Ledger.count`);
the month's record is closed at its end, with the year-end stocks in December. Money the
regime pays for its own work (cadres, check-ups, surgeries, running costs) is priced from
the month's counts just before the record closes (:mod:`popsim.mechanisms.costs`).
:mod:`popsim.outputs.kpis` builds the annual KPI table from the records.
"""

from __future__ import annotations

from collections import defaultdict


class Ledger:
    """Monthly records of yuan by line and counts of the regime's actions."""

    def __init__(self) -> None:
        self.records: list[dict] = []
        self._month: dict[str, float] = defaultdict(float)

    def pay(self, line: str, yuan: float) -> None:
        """Book ``yuan`` on a budget (or revenue) line this month."""
        self._month[line] += float(yuan)

    def count(self, name: str, n: int) -> None:
        """Add ``n`` to this month's count ``name``."""
        self._month[name] += n

    def booked(self, name: str) -> float:
        """What this month has on ``name`` so far (yuan or count; 0 if nothing)."""
        return self._month.get(name, 0.0)

    def close_month(self, month: int) -> dict:
        """Append this month's record and start the next; returns the record (stocks go in)."""
        record = dict(self._month)
        record["month"] = month
        self.records.append(record)
        self._month = defaultdict(float)
        return record

    def clear(self) -> None:
        """Forget every record and what is booked so far (the end of the burn-in).

        The burn-in's months are not closed (nobody reads their records): what they booked
        is dropped here.
        """
        self.records.clear()
        self._month = defaultdict(float)
