"""Per-event records (births, deaths, moves, marriages) gathered step by step."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pandas as pd

EVENT_KINDS = ("birth", "death", "in_migration", "out_migration", "marriage", "abortion")
EVENT_COLUMNS = {
    "month": np.int32,  # month index of the event
    "pid": np.int64,  # the person the event happened to (the child, for births)
    "sex": np.int8,  # 0 female, 1 male (abortions: the fetus's sex; pid is the mother's)
    "age_months": np.int32,  # age at the event (the mother's, for births)
    "village": np.int16,
    "order": np.int8,  # birth order (births only), else 0
    "other": np.int64,  # mother's pid (births), spouse's pid (marriages), else -1
    "reason": np.int8,  # see REASONS
    "out_of_plan": np.int8,  # births and abortions under a birth rule: 1 out of plan, 0 in plan
    "reported": np.int8,  # births: 1 registered, 0 not; -1 where it does not apply
    "sons_before": np.int8,  # births and abortions: the mother's sons before it; else -1
    "intended": np.int8,  # abortions: 1 conceived while trying, 0 not; else -1
}
REASONS = (
    "",
    "labour",
    "household",
    "marriage",
    "external_bride",
    "immigration",
    "remedial",
    "sex_selective",
    "unintended",
)
_FILL = {"other": -1, "out_of_plan": -1, "reported": -1, "sons_before": -1, "intended": -1}


def _column(chunks: list[tuple[int, dict]], name: str, dtype: type) -> np.ndarray:
    """One column of a kind's chunks, scalars repeated and missing values filled.

    Scalars (most chunks' month, sex and reason) are repeated in one call rather than
    broadcast chunk by chunk: a run of three years logs hundreds of chunks per kind.
    """
    sizes = [n for n, _ in chunks]
    values = [cols.get(name, _FILL.get(name, 0)) for _, cols in chunks]
    if not any(np.ndim(v) for v in values):
        return np.repeat(np.array(values, dtype=dtype), sizes)
    out = np.empty(sum(sizes), dtype=dtype)
    start = 0
    for n, value in zip(sizes, values, strict=True):
        out[start : start + n] = value
        start += n
    return out


class EventLog:
    """Chunks of event arrays, concatenated once at the end of a run."""

    def __init__(self) -> None:
        self._chunks: dict[str, list[tuple[int, dict]]] = defaultdict(list)
        self.totals: dict[str, int] = dict.fromkeys(EVENT_KINDS, 0)

    def add(self, kind: str, **cols: np.ndarray | int) -> None:
        """Record events of one kind: arrays of the length of ``pid``, or scalars.

        Columns are kept as given (fancy-indexed copies) and filled in by :meth:`frame`,
        so recording costs next to nothing inside the monthly step.
        """
        n = len(cols["pid"])
        self.totals[kind] += n
        if n:
            self._chunks[kind].append((n, cols))

    def frame(self) -> pd.DataFrame:
        """All events, ordered by month and kind, as one tidy table."""
        parts = []
        for kind in EVENT_KINDS:
            chunks = self._chunks.get(kind)
            if not chunks:
                continue
            part = pd.DataFrame({k: _column(chunks, k, dt) for k, dt in EVENT_COLUMNS.items()})
            part.insert(1, "event", kind)
            parts.append(part)
        if not parts:
            empty = pd.DataFrame({k: pd.Series(dtype=dt) for k, dt in EVENT_COLUMNS.items()})
            empty.insert(1, "event", pd.Series(dtype=str))
            parts = [empty]
        frame = pd.concat(parts, ignore_index=True)
        frame["event"] = pd.Categorical(frame["event"], categories=EVENT_KINDS)
        frame["reason"] = pd.Categorical.from_codes(frame["reason"], categories=REASONS)
        return frame.sort_values(["month", "event"], kind="stable", ignore_index=True)
