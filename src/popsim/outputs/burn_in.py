"""Shared burn-ins: the state at month 0 computed once and every run with its key started from it.

Runs whose burn-in inputs are the same (:func:`popsim.model.start.key`: township, demography,
initial population, the burn-in's policy, seed, code) reach the same state at month 0: the
scenarios of a batch under the baseline burn-in policy, replicates run again, a sweep's
points that differ only after the start. The first such run computes it; the others start
from a copy, with the same tables (:func:`popsim.outputs.runner.model_at_start`,
``tests/test_burn_in.py``).

States are kept in memory within a process (the last few) and, where a folder is set, on
disk as ``KEY.burn-in`` for other processes: a batch sets ``DIR/.burn-in/`` for its scenario
notebooks through the :data:`FOLDER_VARIABLE` environment variable, a sweep sets
``OUT/burn_in/`` in its workers. A file starts with a header line giving its key, the
payload's size and SHA-256; one whose header, size or hash does not match is never
unpickled: the state is computed again and the file replaced (written atomically).
The files can be deleted at any time.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections import OrderedDict
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from pathlib import Path

from popsim.model.start import Start, key
from popsim.outputs.results import atomic_write
from popsim.scenario.demography import Scenario

FOLDER_VARIABLE = "POPSIM_BURN_IN_DIR"  #: a folder for the states of every process started
SUFFIX = ".burn-in"
_MAGIC = b"popsim burn-in\n"


class BurnIns:
    """States at month 0 by key: the last few in memory, and each one in ``folder`` if set.

    Args:
        folder: where states are kept for other processes, or None (memory only).
        keys: the keys worth keeping, those of more than one run to come; None: every key.
        entries: at most this many states in memory; the least recently used goes first.
        max_bytes: at most this many bytes of states in memory (a larger state is not kept
            there).
    """

    def __init__(
        self,
        folder: str | Path | None = None,
        keys: Collection[str] | None = None,
        *,
        entries: int = 4,
        max_bytes: int = 512 << 20,
    ) -> None:
        self.folder = None if folder is None else Path(folder)
        self.keys = None if keys is None else frozenset(keys)
        self.entries, self.max_bytes = entries, max_bytes
        self._memory: OrderedDict[str, Start] = OrderedDict()
        self._lock = threading.Lock()  # a Dask worker may run several runs in threads
        #: why a file was not used (broken, another key), for tests and logs
        self.notes: list[str] = []

    def wanted(self, scenario: Scenario, seed: int) -> str | None:
        """The key of the run's burn-in if its state is kept here, else None."""
        if self.keys is not None and not self.keys:
            return None
        k = key(scenario, seed)
        return k if self.keys is None or k in self.keys else None

    def find(self, k: str) -> Start | None:
        """The state of key ``k``, from memory or from an intact file; None if neither."""
        with self._lock:
            start = self._memory.get(k)
            if start is not None:
                self._memory.move_to_end(k)
                return start
        if self.folder is None:
            return None
        start = self._read(self.folder / f"{k}{SUFFIX}", k)
        if start is not None:
            self._remember(start)
        return start

    def keep(self, start: Start) -> None:
        """Keep ``start`` in memory and, with a folder, on disk."""
        self._remember(start)
        if self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)
            atomic_write(self.folder / f"{start.key}{SUFFIX}", lambda tmp: _write(tmp, start))

    def _remember(self, start: Start) -> None:
        with self._lock:
            self._memory[start.key] = start
            self._memory.move_to_end(start.key)
            while self._memory and (
                len(self._memory) > self.entries
                or sum(len(s.payload) for s in self._memory.values()) > self.max_bytes
            ):
                self._memory.popitem(last=False)

    def _read(self, path: Path, k: str) -> Start | None:
        try:
            with open(path, "rb") as fh:
                magic, header, payload = fh.readline(), fh.readline(), fh.read()
        except FileNotFoundError:
            return None
        try:
            fields = json.loads(header)
            intact = (
                magic == _MAGIC
                and fields["key"] == k
                and fields["bytes"] == len(payload)
                and fields["sha256"] == hashlib.sha256(payload).hexdigest()
            )
        except (ValueError, KeyError, TypeError):
            intact = False
        if not intact:
            self.notes.append(f"{path.name} is broken or for another burn-in: computed again")
            return None
        return Start(k, payload)


def _write(path: str, start: Start) -> None:
    header = {
        "key": start.key,
        "bytes": len(start.payload),
        "sha256": hashlib.sha256(start.payload).hexdigest(),
    }
    with open(path, "wb") as fh:
        fh.write(_MAGIC + json.dumps(header).encode() + b"\n")
        fh.write(start.payload)


_process: BurnIns | None = None
_last: BurnIns | None = None  #: the last :func:`sharing`'s, kept with its memory for the next


def shared() -> BurnIns:
    """This process's shared burn-ins (in the folder :data:`FOLDER_VARIABLE` names, if any)."""
    global _process
    if _process is None:
        _process = BurnIns(os.environ.get(FOLDER_VARIABLE) or None)
    return _process


@contextmanager
def sharing(folder: str | Path | None, keys: Collection[str] | None) -> Iterator[BurnIns]:
    """Within the block this process keeps only ``keys`` (None: all), in ``folder`` if set.

    A sweep's worker enters it for each run; the states in memory stay from one block to
    the next with the same folder and keys. Which states are kept never changes a table.
    """
    global _process, _last
    wanted = BurnIns(folder, keys)
    if _last is None or (_last.folder, _last.keys) != (wanted.folder, wanted.keys):
        _last = wanted
    previous, _process = shared(), _last
    try:
        yield _last
    finally:
        _process = previous
