"""What Dask's statistical profiler costs a run, measured in one process without a cluster.

    ./dev shell python benchmarks/profiler_cost.py [--agents 2000] [--years 5] [--pairs 20]

A Dask worker runs a task in a thread of its own while its event loop samples that thread
every 10 ms (``distributed.worker.profile.interval``): it takes the thread's frame with
``sys._current_frames()`` and folds the stack into two profiles (the worker's recent one and
the task's), both through ``distributed.profile.process``. Here a thread does the same to a
run made in a pool thread, as a Dask worker makes it, and the run is timed with and without
it. Three samplers, to say where the cost lies:

- ``wake``: wakes every 10 ms and takes the GIL, nothing else;
- ``frames``: also takes the run thread's frame;
- ``full``: also folds it into two profiles, as the worker does.

Each seed is run once first so that its burn-in is cached in this process: both runs of a
pair then do the same work, the recorded years only. Pairs alternate their order. Prints the
medians and the paired ratio of CPU time (the whole process's: run and sampler). Never
asserts a time.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from distributed import profile

from popsim.sweeps.executors import run_one

INTERVAL = 0.01  # seconds: Dask's default profile interval
SAMPLERS = ("wake", "frames", "full")


def sample(kind: str, thread: int, stop: threading.Event) -> None:
    """Until ``stop``: every INTERVAL, what a worker's profiler does (or part of it)."""
    recent, keyed = profile.create(), profile.create()
    while not stop.wait(INTERVAL):
        if kind == "wake":
            continue
        frame = sys._current_frames().get(thread)
        if frame is not None and kind == "full":
            profile.process(frame, True, recent, stop="distributed/worker.py")
            profile.process(frame, True, keyed, stop="distributed/worker.py")


def timed(pool: ThreadPoolExecutor, seed: int, kind: str | None, size: dict) -> float:
    """CPU seconds of the process for one run in ``pool``, sampled by ``kind`` (or not)."""
    thread = pool.submit(threading.get_ident).result()
    stop = threading.Event()
    sampler = threading.Thread(target=sample, args=(kind, thread, stop))
    if kind:
        sampler.start()
    start = time.process_time()
    pool.submit(run_one, None, seed, outputs=("tfr",), **size).result()
    cpu = time.process_time() - start
    stop.set()
    if kind:
        sampler.join()
    return cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--agents", type=int, default=2000)
    parser.add_argument("--years", type=int, default=5)
    parser.add_argument("--pairs", type=int, default=20)
    parser.add_argument("--samplers", nargs="+", choices=SAMPLERS, default=list(SAMPLERS))
    args = parser.parse_args()
    size = {"n_agents": args.agents, "years": args.years}
    pool = ThreadPoolExecutor(1)
    print(
        f"{args.pairs} pairs of runs of {args.agents} persons x {args.years} years (burn-in "
        f"cached), sampled every {INTERVAL * 1000:.0f} ms or not; CPU seconds a run"
    )
    print(f"{'sampler':<8} {'without':>8} {'with':>8} {'paired ratio':>13}")
    for kind in args.samplers:
        without, with_ = [], []
        for i in range(args.pairs):
            seed = 1000 * SAMPLERS.index(kind) + i
            timed(pool, seed, None, size)  # caches the seed's burn-in
            for sampled in (False, True) if i % 2 == 0 else (True, False):
                cpu = timed(pool, seed, kind if sampled else None, size)
                (with_ if sampled else without).append(cpu)
        ratio = statistics.median(a / b for a, b in zip(with_, without, strict=True))
        print(
            f"{kind:<8} {statistics.median(without):8.3f} {statistics.median(with_):8.3f} "
            f"{ratio:13.3f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
