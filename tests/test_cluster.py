"""Dask executor: ready workers, one copy of the job each, chunks of runs written by the workers.

The tables of a Dask sweep equal the other executors' (tests/test_sweep.py,
tests/test_calibration.py); here, how the runs get there: what the workers import when they
start, how often the job travels, how runs are grouped, who writes them, and what a failed,
lost or stopped run leaves in the folder.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import dask
import numpy as np
import pandas as pd
from distributed import get_task_stream
from pandas.testing import assert_frame_equal

from popsim.sweeps.cluster import (
    MODULES,
    MOST,
    PER_WORKER,
    PROFILER,
    QUIET,
    STOPPED,
    Chunk,
    DaskExecutor,
    Done,
    Target,
    chunked,
    marked,
    run_chunk,
    settle,
)
from popsim.sweeps.executors import Job, Task, open_executor
from popsim.sweeps.store import Store
from popsim.sweeps.sweep import read_failures, read_runs, read_table, run_sweep

ROWS = 100_000  #: rows of each run's table in :func:`tabled`: 1.6 MB, far above a chunk's reply


def tabled(scenario, seed, overrides, n_agents, years, outputs):
    """A run function with a large table output; fails for x > 0.75."""
    x = overrides["x"]
    if x > 0.75:
        raise RuntimeError(f"diverged at x={x:.3f}")
    frame = pd.DataFrame({"i": np.arange(ROWS), "v": np.full(ROWS, 3 * x)})
    return {"y": 2 * x, "annual": frame}


def grid_sweep(folder: Path, levels: int) -> Path:
    path = folder / "s.yaml"
    path.write_text(
        f"model: test_cluster:tabled\nparameters:\n  x: {{low: 0, high: 1}}\n"
        f"design: grid\nlevels: {levels}\noutputs: [y, annual]\n"
    )
    return path


def job_and_tasks(n: int) -> tuple[Job, list[Task]]:
    job = Job(tabled, None, None, None, ("y", "annual"))
    return job, [Task(i, i, 0, i, {"x": i / (n - 1)}) for i in range(n)]


def on_workers(client, fn) -> set:
    return set(client.run(fn).values())


# --- workers that start ready ------------------------------------------------------------


def test_workers_import_popsim_when_they_start(dask_client):
    def loaded():
        return all(m in sys.modules for m in MODULES)

    assert on_workers(dask_client, loaded) == {False}, "a fresh worker has not imported popsim"
    with open_executor(scheduler=dask_client):
        assert on_workers(dask_client, loaded) == {True}, "imported before any task ran"
        dask_client.cluster.scale(3)
        dask_client.wait_for_workers(3, timeout=120)
        assert len(dask_client.nthreads()) == 3
        assert on_workers(dask_client, loaded) == {True}, "a worker that joins imports too"


def test_the_local_cluster_leaves_glibc_its_malloc_thresholds(dask_client, monkeypatch):
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)

    def trim():
        return os.environ.get("MALLOC_TRIM_THRESHOLD_")

    assert on_workers(dask_client, trim) == {"65536"}, "Dask's default, for a plain LocalCluster"
    with open_executor(2, "local-dask") as executor:
        assert on_workers(executor.client, trim) == {None}


def test_the_local_cluster_runs_no_profiler(dask_client):
    def profiling():
        return dask.config.get(PROFILER)

    assert on_workers(dask_client, profiling) == {True}, "Dask's default, for a plain LocalCluster"
    with open_executor(2, "local-dask") as executor:
        assert on_workers(executor.client, profiling) == {False}


def test_the_local_cluster_keeps_house_every_few_seconds(dask_client):
    """Its servers tick, and its monitors read, at QUIET's intervals rather than Dask's."""

    def intervals(dask_worker=None, dask_scheduler=None):
        server = dask_worker or dask_scheduler
        callbacks = server.periodic_callbacks
        return {
            name: callbacks[name].callback_time
            for name in ("tick", "monitor", "memory_monitor")
            if name in callbacks
        }

    default = dask_client.run(intervals)
    assert {v["tick"] for v in default.values()} == {20}, "Dask's default, a plain LocalCluster"
    with open_executor(2, "local-dask") as executor:
        workers = executor.client.run(intervals)
        scheduler = executor.client.run_on_scheduler(intervals)
    ms = {k: 1000 * dask.utils.parse_timedelta(v) for k, v in QUIET.items()}
    assert scheduler["tick"] == ms["distributed.admin.tick.interval"]
    assert scheduler["monitor"] == ms["distributed.admin.system-monitor.interval"]
    for values in workers.values():
        assert values == {
            "tick": ms["distributed.admin.tick.interval"],
            "monitor": ms["distributed.admin.system-monitor.interval"],
            "memory_monitor": ms["distributed.worker.memory.monitor-interval"],
        }


# --- the job travels once ----------------------------------------------------------------

UNPICKLED = 0  # in each worker process


def _unpickled() -> Counted:
    global UNPICKLED
    UNPICKLED += 1
    return Counted()


class Counted:
    """A stand-in for the Job that counts how often a process unpickles it."""

    def __reduce__(self):
        return _unpickled, ()


def _echo(shared, item):
    return item


def test_the_shared_job_reaches_each_worker_once(dask_client):
    """Five batches of 10 tasks: once per batch would unpickle the job 5 times a worker, once
    per task 25. Dask may copy a broadcast item to a worker a second time when it rebalances
    under load (seen once in a full run on a busy machine), so a worker may count 2."""
    executor = DaskExecutor(dask_client)
    shared = Counted()
    for start in range(0, 50, 10):  # a calibration maps batch after batch
        batch = range(start, start + 10)
        got = sorted(value for _, ok, value in executor.map(_echo, shared, batch) if ok)
        assert got == list(batch)
    counts = on_workers(dask_client, lambda: sys.modules["test_cluster"].UNPICKLED)
    assert counts and counts <= {1, 2}, (
        f"each worker unpickled the job {sorted(counts)} times: once, not once per batch or task"
    )
    executor.close()


# --- chunks -------------------------------------------------------------------------------


def test_chunks_shrink_from_a_share_of_the_runs_left_to_single_runs():
    tasks = list(range(60))
    parts = chunked(tasks, 2)
    sizes = [len(p) for p in parts]
    assert sizes == [8, 7, 6, 5, 5, 4, 4, 3, 3, 2, 2, 2, 2] + [1] * 7
    left = [60 - sum(sizes[:i]) for i in range(len(sizes))]
    assert all(s == -(-n // (PER_WORKER * 2)) for s, n in zip(sizes, left, strict=True))
    assert [t for p in parts for t in p] == tasks, "every run once, in order"
    assert len(chunked(tasks, 16)) == 60, "more slots than chunks of one: one run a chunk"
    many = [len(p) for p in chunked(list(range(10_000)), 2)]
    assert many[:150] == [MOST] * 150 and many[-1] == 1 and sum(many) == 10_000
    assert len(many) < 250, "a long sweep still goes in few tasks"
    assert chunked([], 2) == []
    assert PER_WORKER == 4


def test_a_dask_sweep_runs_in_chunks_that_send_no_table_back(tmp_path, dask_client):
    path = grid_sweep(tmp_path, levels=33)  # x = 0, 1/32, ..., 1: runs 25-32 fail
    serial = run_sweep(path, tmp_path / "serial", workers=1, progress=False, echo=None)
    with get_task_stream(dask_client) as stream:
        dask = run_sweep(path, tmp_path / "dask", scheduler=dask_client, progress=False, echo=None)
    chunks = [t for t in stream.data if t["key"].startswith("run_chunk")]
    assert len(chunks) == len(chunked(list(range(33)), 2)) == 16, "33 runs in 16 tasks, 5 to 1"
    assert (24, 25) in chunked(list(range(33)), 2), "a chunk with a success and a failure"
    table = ROWS * 16  # bytes of one run's table
    assert max(t["nbytes"] for t in chunks) < table / 100, "the workers kept the tables"
    assert dask.failed == serial.failed == list(range(25, 33)), "run 24 of 24-25 is done"
    for read in (read_runs, lambda out: read_table(out, "annual")):
        assert_frame_equal(read(tmp_path / "dask"), read(tmp_path / "serial"), check_exact=True)
    failures = read_failures(tmp_path / "dask")
    assert failures["error"].tolist() == read_failures(tmp_path / "serial")["error"].tolist()
    assert not list((tmp_path / "dask").glob(".*.tmp")), "the marker file is gone"


# --- who writes the runs ------------------------------------------------------------------


def _store(folder: Path) -> Store:
    store = Store(folder)
    store.make_folders(["annual"])
    return store


def test_a_worker_that_sees_the_folder_writes_the_runs_itself(tmp_path):
    job, tasks = job_and_tasks(5)  # x = 0, 0.25, 0.5, 0.75, 1: the last run fails
    store = _store(tmp_path / "out")
    with marked(store, ["x"]) as target:
        done = run_chunk(job, Chunk(target, tuple(tasks)))
    assert done.written and [ok for ok, _ in done.results] == [True] * 4 + [False]
    assert [v for _, v in done.results[:4]] == [None] * 4, "no outputs sent back"
    assert "RuntimeError: diverged at x=1.000" in done.results[4][1]
    assert store.done() == {0, 1, 2, 3}, "each run's files and check file are written"
    assert read_failures(store.out)["run"].tolist() == [4], "the failure is that run's only"
    assert len(read_table(store.out, "annual")) == 4 * ROWS


def test_a_worker_that_does_not_see_the_folder_sends_the_outputs_back(tmp_path):
    job, tasks = job_and_tasks(5)
    store = _store(tmp_path / "out")
    elsewhere = Chunk(Target(str(store.out), "sweep", ("x",), ".not-here.tmp"), tuple(tasks))
    done = run_chunk(job, elsewhere)  # a remote worker: the marker is not on its disk
    assert not done.written and store.done() == set(), "nothing written by the worker"
    assert isinstance(done.results[0][1]["annual"], pd.DataFrame)
    settled = list(settle(store, elsewhere, True, done))  # the sweep's process writes them
    assert [ok for _, ok in settled] == [True] * 4 + [False]
    written = _store(tmp_path / "written")
    with marked(written, ["x"]) as target:
        chunk = Chunk(target, tuple(tasks))
        list(settle(written, chunk, True, run_chunk(job, chunk)))
    for read in (read_runs, lambda out: read_table(out, "annual")):
        assert_frame_equal(read(store.out), read(written.out), check_exact=True)


STOP_IN: Path | None = None  # a folder whose marker files :func:`stopping` removes


def stopping(scenario, seed, overrides, n_agents, years, outputs):
    """A run during which the sweep gives up on the chunk (removes its marker)."""
    for marker in STOP_IN.glob(".workers.*.tmp"):
        marker.unlink()
    return {"y": 1.0}


def test_a_chunk_given_up_writes_nothing_more_and_its_runs_fail(tmp_path, monkeypatch):
    store = _store(tmp_path / "out")
    monkeypatch.setattr(sys.modules[__name__], "STOP_IN", store.out)
    job = Job(stopping, None, None, None, ("y",))
    tasks = tuple(Task(i, i, 0, i, {"x": 0.0}) for i in range(3))
    with marked(store, ["x"]) as target:
        chunk = Chunk(target, tasks)
        done = run_chunk(job, chunk)
        assert done == Done(True, []), "the run that saw the marker go is not written"
        assert [ok for _, ok in settle(store, chunk, True, done)] == [False] * 3
    assert store.done() == set()
    assert set(read_failures(store.out)["error"]) == {STOPPED}


def test_a_lost_chunk_fails_only_the_runs_its_worker_had_not_written(tmp_path):
    job, tasks = job_and_tasks(5)
    store = _store(tmp_path / "out")
    with marked(store, ["x"]) as target:
        run_chunk(job, Chunk(target, tuple(tasks[:2])))  # the worker wrote two, then died
        chunk = Chunk(target, tuple(tasks[:4]))
        lost = list(settle(store, chunk, False, RuntimeError("KilledWorker: worker died")))
    assert [ok for _, ok in lost] == [True, True, False, False]
    failures = read_failures(store.out)
    assert failures["run"].tolist() == [2, 3]
    assert failures["error"].iloc[0] == "RuntimeError: KilledWorker: worker died"
