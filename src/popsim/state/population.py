"""The person and household tables: numpy columns, no Python object per person.

Rows are appended with amortised growth (capacity grows by a quarter), so a birth costs
no reallocation most months. Persons who die or leave are *retired* (``alive``
false) and dropped by :meth:`Persons.compact` once they are a sizeable share of
the rows, so the monthly kernels never slow down with the dead. Compaction
renumbers rows; columns that point at rows (``spouse``) are renumbered with it,
while ``pid`` is a person's permanent id.
"""

from __future__ import annotations

import numpy as np

from popsim.state.rng import derive

FEMALE, MALE = 0, 1
#: tags that derive keys (popsim.state.rng.derive) for each way a person or household comes to be
TAG_INITIAL, TAG_HOUSEHOLD, TAG_BRIDE, TAG_IMMIGRANT, TAG_CHILD = 1, 2, 3, 4, 1 << 32
SINGLE, MARRIED, WIDOWED = 0, 1, 2
NEVER = np.iinfo(np.int32).min // 2  #: "no such month" for month columns

# ids and rows are int32: a run creates far fewer than 2**31 persons (the event log's
# columns stay int64)
PERSON_COLUMNS: dict[str, tuple[type, object]] = {
    "pid": (np.int32, -1),  # permanent person id
    "key": (np.uint64, 0),  # random-number key (see popsim.state.rng)
    "alive": (np.bool_, False),  # in the registered population (not dead, not emigrated)
    "sex": (np.int8, FEMALE),  # FEMALE or MALE
    "birth_month": (np.int32, 0),  # month index of birth; month 0 is January of start_year
    "village": (np.int16, 0),
    "household": (np.int32, -1),
    "marital": (np.int8, SINGLE),  # SINGLE, MARRIED or WIDOWED
    "spouse": (np.int32, -1),  # row of the spouse; -1 none or living outside the township
    "mother": (np.int32, -1),  # pid of the mother; -1 unknown (initial population)
    "only_child": (np.bool_, False),  # no sibling by the mother (drawn for those without one)
    "parity": (np.int8, 0),  # live births
    "sons": (np.int8, 0),
    "daughters": (np.int8, 0),
    "last_birth_month": (np.int32, NEVER),
    "first_birth_month": (np.int32, NEVER),
    "preg_month": (np.int8, 0),  # 0 not pregnant, else month of pregnancy 1..9
    "fetus_male": (np.bool_, False),
    "preg_intended": (np.bool_, False),  # the current pregnancy was conceived while trying
    "susceptible_from": (np.int32, NEVER),  # first month a conception is possible again
    "wants_more": (np.bool_, False),  # trying for another child
    "away": (np.bool_, False),  # labour migrant: away but still registered
    # family-planning state (used only when the policy is on)
    "desired": (np.int8, -1),  # desired family size; -1 not yet drawn
    "son_pref": (np.bool_, False),  # the couple wants at least one son
    "method": (np.int8, 0),  # contraceptive method, index into behaviour.METHODS
    "iud_missing": (np.bool_, False),  # IUD removed outside the system: on record, not in place
    "larc_fake": (np.bool_, False),  # LARC on a fake out-of-area certificate
    "out_of_plan": (np.bool_, False),  # the current pregnancy is out of plan
    "preg_known": (np.bool_, False),  # the current pregnancy was found at a check-up
    "certificate": (np.bool_, False),  # one-child certificate holder
    "rewarded": (np.bool_, False),  # one-off reward (two daughters / quota waiver) paid
}


class Table:
    """Struct-of-arrays with amortised growth; ``table.col`` is a view of the used rows.

    The views are kept in the instance's ``__dict__`` until the rows change (an append or
    a compaction), so that reading a column, a few hundred times a month, is a plain
    attribute lookup.
    """

    renumbered = 0  #: how many times :meth:`keep` has renumbered the rows

    def __init__(self, columns: dict[str, tuple[type, object]], capacity: int = 1024) -> None:
        self._spec = dict(columns)
        self._cols = {k: np.full(capacity, fill, dtype=dt) for k, (dt, fill) in columns.items()}
        self.n = 0

    def __getattr__(self, name: str) -> np.ndarray:
        cols = self.__dict__.get("_cols")
        if cols is None or name not in cols:
            raise AttributeError(name)
        view = self.__dict__[name] = cols[name][: self.n]
        return view

    def __getstate__(self) -> dict:
        """The table without its views (a pickled view would be a copy, not a view)."""
        return {k: v for k, v in self.__dict__.items() if k not in self._cols}

    def forget_views(self) -> None:
        """Drop the kept views: the rows changed (or a test wants to see every read)."""
        for name in self._cols:
            self.__dict__.pop(name, None)

    def __setattr__(self, name: str, value: object) -> None:
        cols = self.__dict__.get("_cols")
        if cols is not None and name in cols:
            # ``table.col &= mask`` rebinds the attribute: write in place instead of
            # leaving a stale view that would outlive the next append
            cols[name][: self.n] = value
        else:
            super().__setattr__(name, value)

    @property
    def columns(self) -> list[str]:
        """Column names in declaration order."""
        return list(self._cols)

    def append(self, n: int, **values: np.ndarray | object) -> np.ndarray:
        """Append ``n`` rows; unnamed columns take their fill value. Returns the new rows."""
        unknown = set(values) - set(self._cols)
        if unknown:
            raise KeyError(f"unknown columns {sorted(unknown)}")
        capacity = len(next(iter(self._cols.values())))
        if self.n + n > capacity:
            new_capacity = max(capacity + capacity // 4, self.n + n)  # 1.25x: memory over copies
            for name, (dtype, fill) in self._spec.items():
                grown = np.full(new_capacity, fill, dtype=dtype)
                grown[: self.n] = self._cols[name][: self.n]
                self._cols[name] = grown
        # rows past ``n`` hold their column's fill value (from np.full, or refilled by
        # keep), so only the named columns are written
        for name, value in values.items():
            self._cols[name][self.n : self.n + n] = value
        rows = np.arange(self.n, self.n + n)
        self.n += n
        self.forget_views()
        return rows

    def keep(self, mask: np.ndarray) -> np.ndarray:
        """Keep only rows where ``mask``; returns old row -> new row (-1 if dropped)."""
        new_row = np.full(self.n, -1, dtype=np.int32)
        kept = np.flatnonzero(mask)
        new_row[kept] = np.arange(kept.size)
        for name in self._cols:
            col = self._cols[name]
            col[: kept.size] = col[kept]
            col[kept.size : self.n] = self._spec[name][1]
        self.n = kept.size
        self.renumbered += 1
        self.forget_views()
        return new_row


class Persons(Table):
    """The person table; ``pid`` is permanent, rows are not."""

    def __init__(self, capacity: int = 1024) -> None:
        super().__init__(PERSON_COLUMNS, capacity)
        self.next_pid = 0

    def add(self, n: int, **values: np.ndarray | object) -> np.ndarray:
        """Append ``n`` living persons with fresh pids; returns their rows."""
        pids = np.arange(self.next_pid, self.next_pid + n, dtype=np.int32)
        self.next_pid += n
        return self.append(n, pid=pids, alive=True, **values)

    def compact(self, min_retired_share: float = 0.1) -> bool:
        """Drop retired rows once they are ``min_retired_share`` of the table."""
        retired = self.n - int(np.count_nonzero(self.alive))
        if self.n == 0 or retired < min_retired_share * self.n:
            return False
        new_row = self.keep(self.alive.copy())
        spouse = self.spouse
        linked = spouse >= 0
        spouse[linked] = new_row[spouse[linked]]
        return True


class Households(Table):
    """One row per household: village, random-number key, wealth (yuan; NaN until drawn)."""

    def __init__(self, capacity: int = 1024) -> None:
        columns = {"village": (np.int16, 0), "key": (np.uint64, 0), "wealth": (np.float64, np.nan)}
        super().__init__(columns, capacity)

    def add(self, villages: np.ndarray, founder_keys: np.ndarray) -> np.ndarray:
        """New households founded by persons with ``founder_keys``; returns their ids."""
        keys = derive(founder_keys, TAG_HOUSEHOLD)
        return self.append(len(villages), village=villages, key=keys).astype(np.int32)


def retire(persons: Persons, rows: np.ndarray, *, widow_spouses: bool) -> None:
    """Take ``rows`` out of the population; unlink their spouses.

    A spouse left behind by a death becomes a widow(er); one left behind by a
    departure keeps the marital status with a spouse living outside.
    """
    persons.alive[rows] = False
    spouses = persons.spouse[rows]
    spouses = spouses[spouses >= 0]
    spouses = spouses[persons.alive[spouses]]
    persons.spouse[spouses] = -1
    if widow_spouses:
        persons.marital[spouses] = WIDOWED
    persons.spouse[rows] = -1
    persons.preg_month[rows] = 0


def count_by(column: np.ndarray, mask: np.ndarray, n: int) -> np.ndarray:
    """How many rows where ``mask`` have each value 0..n-1 of ``column`` (int64).

    The mask serves as weights, cheaper than gathering the masked rows' values; the sums of
    ones are exact.
    """
    return np.bincount(column, weights=mask, minlength=n).astype(np.int64)
