"""Sweeps and calibrations on Dask: few tasks, workers that start ready and write their runs.

Every Dask task costs a round trip through the scheduler, and every result sent back is
unpickled and written by the sweep's process alone, one run after another. So here:

- :class:`ImportPopsim`, a worker plugin, imports what a run needs when a worker starts
  (or joins later), so that no run pays for the import;
- the :class:`~popsim.sweeps.executors.Job` goes to every worker once
  (``scatter(broadcast=True)``, kept while the executor lives, so that a calibration's
  batches share it); the tasks only refer to it;
- runs go out in chunks of consecutive runs (:func:`chunked`), large at first and
  shrinking to single runs at the end, so that no worker idles long while another
  finishes a large last chunk; each chunk's result arrives as it ends;
- a worker writes each run into the output folder as soon as it is done, through the
  folder's own :meth:`~popsim.sweeps.store.Store.record` (atomic files, then the run's
  check file of sizes and SHA-256), and sends back only whether each run succeeded.

A worker writes only where it sees the folder: while :meth:`DaskExecutor.run` lasts, the
sweep's process keeps a marker file of a random name there (:func:`marked`). A worker that
does not find it (a remote cluster without the shared filesystem) sends the outputs back
for the sweep's process to write, as the local executors do, and keeps shared burn-ins in
memory only. A chunk also stops once the marker is gone (its sweep stopped or gave the
chunk up), so a cancelled chunk never writes into a folder that another sweep may hold.
"""

from __future__ import annotations

import asyncio
import importlib
import math
import secrets
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, NamedTuple

from distributed.diagnostics.plugin import WorkerPlugin

from popsim.scenario.loading import ScenarioError
from popsim.sweeps.executors import LOCAL_DASK, Executor, Job, Task, execute, lost
from popsim.sweeps.store import Store

#: what a run imports: the model (Mesa, pandas), the figures, the run store and Parquet
MODULES = (
    "popsim.outputs.runner",
    "popsim.outputs.statistics",
    "popsim.sweeps.store",
    "pyarrow.parquet",
)
#: a chunk takes at most 1 / (PER_WORKER x worker threads) of the runs still to be done
PER_WORKER = 4
MOST = 50  #: runs per chunk at most, so the progress bar still moves in a long sweep
STOPPED = "not run: its chunk stopped when the output folder's marker file was gone"
#: Dask's nannies start workers with ``MALLOC_TRIM_THRESHOLD_=65536``, which also stops glibc
#: from raising its mmap threshold: every array above 128 KiB is then mapped and zeroed
#: afresh. A run of 38,000 persons took 1.3 to 1.5 times the CPU (benchmarks/README.md), so
#: the local cluster started here leaves it unset (a variable set by the user still wins).
TRIM = "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_"
#: a worker's statistical profiler walks the task thread's stack every 10 ms, for the
#: dashboard's profile page. The local cluster has no dashboard, and the same sampling slowed
#: a run by about a tenth (benchmarks/README.md), so it is off there
PROFILER = "distributed.worker.profile.enabled"
#: the local cluster's housekeeping, slowed: every server's event loop wakes every 20 ms to
#: check that it is not blocked, the system monitors read the machine's counters every 0.5 s
#: and the memory monitors read their worker's memory every 0.1 s. An idle one-worker cluster
#: spent 3-7 % of a core on them, and the wake-ups slowed the run's thread by 2-5 %
#: (benchmarks/README.md); a cluster that only runs popsim needs them every 1-5 s
QUIET = {
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "5s",
    "distributed.worker.memory.monitor-interval": "1s",
}


class ImportPopsim(WorkerPlugin):
    """Imports :data:`MODULES` when a worker starts, off its event loop, before any task."""

    name = "popsim-imports"
    idempotent = True  # registered again by the next sweep on the same cluster: nothing to do

    async def setup(self, worker: Any) -> None:
        """Import in a thread: the worker keeps answering the scheduler meanwhile."""
        await asyncio.to_thread(_import)


def _import() -> None:
    for module in MODULES:
        importlib.import_module(module)


# --- chunks and where they are written ----------------------------------------------------


@dataclass(frozen=True)
class Target:
    """Where a chunk's runs go: the store's folder and kind, the parameter names, the marker."""

    out: str
    kind: str
    names: tuple[str, ...]
    marker: str  #: a file in ``out`` while the sweep's process takes results

    def seen(self) -> bool:
        """Whether this process sees the sweep's folder, and the sweep still takes results."""
        return (Path(self.out) / self.marker).is_file()


@contextmanager
def marked(store: Store, names: Sequence[str]) -> Iterator[Target]:
    """A :class:`Target` for ``store``, whose marker file is there until the block ends.

    The name matches ``integrity.TEMPORARIES``: a killed sweep's marker is cleaned away.
    """
    marker = f".workers.{secrets.token_hex(8)}.tmp"
    path = store.out / marker
    path.write_bytes(b"")
    try:
        yield Target(str(store.out), store.kind, tuple(names), marker)
    finally:
        path.unlink(missing_ok=True)


@dataclass(frozen=True)
class Chunk:
    """Consecutive runs done by one Dask task, and where they go."""

    target: Target
    tasks: tuple[Task, ...]


class Done(NamedTuple):
    """A chunk's result: whether the worker wrote its runs, and each run's ``(ok, value)``.

    ``value`` is the run's outputs or error when the worker did not write it; when it did,
    None for a success and the error for a failure. Fewer results than runs: it stopped.
    """

    written: bool
    results: list[tuple[bool, Any]]


def chunked(tasks: Sequence[Task], slots: int) -> list[tuple[Task, ...]]:
    """``tasks`` in order, in chunks that shrink as fewer runs are left (guided scheduling).

    Each chunk is ``1 / (PER_WORKER x slots)`` of the runs after it, rounded up, at most
    :data:`MOST`: few tasks while many runs are left, and single runs at the end, so the
    workers finish within about a run of each other (Polychronopoulos and Kuck, *IEEE Trans.
    Computers* 36, 1987). Chunks of one size throughout left a worker idle for up to a chunk.
    """
    share = PER_WORKER * max(slots, 1)
    parts, start = [], 0
    while start < len(tasks):
        size = min(MOST, math.ceil((len(tasks) - start) / share))
        parts.append(tuple(tasks[start : start + size]))
        start += size
    return parts


def run_chunk(job: Job, chunk: Chunk) -> Done:
    """Run a chunk's runs one after another (on a worker), each written if the folder is seen."""
    target = chunk.target
    if not target.seen():  # outputs go back; shared burn-ins stay in this worker's memory
        job = replace(job, burn_in_folder=None)
        return Done(False, [execute(job, task) for task in chunk.tasks])
    store = Store(Path(target.out), target.kind)
    results: list[tuple[bool, Any]] = []
    for task in chunk.tasks:
        if not target.seen():
            break
        ok, value = execute(job, task)
        if not target.seen():  # the sweep gave up on this chunk meanwhile: leave the folder
            break
        store.record(task, target.names, ok, value)
        results.append((ok, None if ok else value))
    return Done(True, results)


def settle(store: Store, chunk: Chunk, ok: bool, value: Any) -> Iterator[tuple[Task, bool]]:
    """Each run of a chunk that ended (``ok``) or was lost: ``(task, done)``, written if not yet.

    A lost chunk (its worker died) may have written some runs already: those stay done.
    """
    if not ok:
        for task in chunk.tasks:
            done = store.problem(task.index) is None
            if not done:
                store.write_failure(task, lost(value))
            yield task, done
        return
    for i, task in enumerate(chunk.tasks):
        if i >= len(value.results):
            store.write_failure(task, STOPPED)
            yield task, False
        elif value.written:
            yield task, value.results[i][0]
        else:
            yield task, store.record(task, chunk.target.names, *value.results[i])


# --- the executor ---------------------------------------------------------------------------


class DaskExecutor(Executor):
    """Runs on a ``dask.distributed`` cluster: see the module's docstring.

    Raises:
        ScenarioError: the workers cannot import popsim.
    """

    def __init__(self, client: Any) -> None:
        self.client = client
        try:
            client.register_plugin(ImportPopsim())
        except Exception as exc:  # e.g. a remote worker without popsim
            raise ScenarioError(
                f"Dask scheduler {client.scheduler.address}: its workers cannot import popsim "
                f"({lost(exc)}); install the same popsim on them."
            ) from None
        n = len(client.nthreads())
        self.description = f"Dask scheduler {client.scheduler.address} ({n} workers)"
        self._shared: Any = None
        self._remote: Any = None

    def slots(self) -> int:
        """The runs the cluster can do at a time (threads over all its workers)."""
        return sum(self.client.nthreads().values())

    def map(self, fn: Callable, shared: Any, items: Iterable) -> Iterator[tuple[Any, bool, Any]]:
        """Submit every item, then collect them as they finish."""
        from distributed import as_completed

        items = list(items)
        if not items:
            return
        remote = self._scattered(shared)
        futures = {
            self.client.submit(fn, remote, item, pure=False): i for i, item in enumerate(items)
        }
        try:
            for future in as_completed(futures):
                item = items[futures[future]]
                try:
                    yield item, True, future.result()
                except Exception as exc:  # KilledWorker, lost connection, ...
                    yield item, False, exc
                future.release()
        finally:
            self.client.cancel(list(futures))

    def _scattered(self, shared: Any) -> Any:
        """``shared`` on every worker: sent once to each, while it is the same object."""
        if self._shared is not shared:
            self.close()
            [self._remote] = self.client.scatter([shared], broadcast=True, hash=False)
            self._shared = shared
        return self._remote

    def run(
        self, job: Job, tasks: Iterable[Task], store: Store, names: Sequence[str]
    ) -> Iterator[tuple[Task, bool]]:
        """Run ``tasks`` in chunks written by the workers; yield ``(task, done)`` per run."""
        tasks = list(tasks)
        if not tasks:
            return
        with marked(store, names) as target:
            chunks = [Chunk(target, part) for part in chunked(tasks, self.slots())]
            for chunk, ok, value in self.map(run_chunk, job, chunks):
                yield from settle(store, chunk, ok, value)

    def close(self) -> None:
        """Drop the shared object from the workers (the cluster stays)."""
        if self._remote is not None:
            self._remote.release()
        self._remote = self._shared = None


@contextmanager
def open_dask(workers: int, scheduler: Any) -> Iterator[DaskExecutor]:
    """The executor on ``scheduler`` (see :func:`popsim.sweeps.executors.open_executor`).

    A ``"local-dask"`` cluster of ``workers`` single-threaded processes is started and
    stopped here; a given Client is left open.
    """
    import dask
    from distributed import Client, LocalCluster

    if isinstance(scheduler, Client):
        with closing(DaskExecutor(scheduler)) as executor:
            yield executor
        return
    if scheduler == LOCAL_DASK:
        with (
            dask.config.set({TRIM: None, PROFILER: False, **QUIET}),  # see each of them
            LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                # no dashboard; its HTTP server on a free port, not another cluster's 8787
                dashboard_address="127.0.0.1:0",
                scheduler_kwargs={"dashboard": False},
            ) as cluster,
            Client(cluster) as client,
            closing(DaskExecutor(client)) as executor,
        ):
            yield executor
        return
    try:
        client = Client(str(scheduler), timeout="20s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise ScenarioError(
            f"--scheduler {scheduler}: cannot connect ({' '.join(str(exc).split())}); give a "
            f"running scheduler's address such as tcp://host:8786, or {LOCAL_DASK!r}."
        ) from None
    with client, closing(DaskExecutor(client)) as executor:
        yield executor
