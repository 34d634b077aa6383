"""What a run costs inside a Dask worker against inside a local worker process, paired.

    ./dev shell python benchmarks/worker_cost.py [--agents 2000] [--years 2] [--runs 30]

One Dask worker (the local cluster popsim starts: one single-threaded process under a nanny,
without the profiler) and one ``ProcessPoolExecutor`` worker, as the local processes run
them, do the same runs one at a time, alternating, so both see the same machine load. Each
seed's burn-in is run first in both workers, so every timed run does the same work: its
recorded years. Inside the worker each run reports

- **thread**: the CPU time of the thread that ran it (``time.thread_time``);
- **process**: the CPU time of the worker's whole process over the run
  (``time.process_time``), its other threads included (Dask's event loop, heartbeats, the
  nanny's pipe);

and the driver reads each worker process's CPU before and after all runs (``psutil``), so
that **between** runs, the CPU spent outside the runs (receiving a task, sending its result,
and whatever the worker does while the other worker runs) is the total minus the sum of the
runs'. The driver's threads are told apart too: the pool's (started before the cluster), the
cluster's (its event loop, which runs the scheduler, the nanny and the client, and the
nanny's pipe to its worker) and the main thread. Prints medians a run and the paired ratios.
Never asserts a time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

import psutil

from popsim.sweeps.executors import run_one


def timed_run(seed: int, size: dict) -> tuple[int, float, float]:
    """One run in this worker: (pid, thread CPU, process CPU)."""
    thread, process = time.thread_time(), time.process_time()
    run_one(None, seed, outputs=("tfr",), **size)
    return os.getpid(), time.thread_time() - thread, time.process_time() - process


def cpu_of(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def thread_cpu() -> dict[int, float]:
    """CPU seconds of each of this process's threads, by native thread id."""
    return {t.id: t.user_time + t.system_time for t in psutil.Process().threads()}


def main() -> None:
    from popsim.sweeps.cluster import open_dask

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--agents", type=int, default=2000)
    parser.add_argument("--years", type=int, default=2)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    size = {"n_agents": args.agents, "years": args.years}
    seeds = range(args.runs)
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        pids = {"local": pool.submit(os.getpid).result()}
        pool_threads = set(thread_cpu()) - {threading.get_native_id()}
        with open_dask(1, "local-dask") as dask:
            client = dask.client
            pids["dask"] = client.submit(os.getpid, pure=False).result()
            for seed in seeds:  # every seed's burn-in, cached in each worker
                pool.submit(timed_run, seed, size).result()
                client.submit(timed_run, seed, size, pure=False).result()
            start, threads = {k: cpu_of(pid) for k, pid in pids.items()}, thread_cpu()
            runs = alternate(pool, client, pids, seeds, size)
            total = {k: cpu_of(pid) - start[k] for k, pid in pids.items()}
            after = thread_cpu()
    spent = {"pool": 0.0, "cluster": 0.0, "main": 0.0}
    for tid, cpu in after.items():
        part = (
            "main"
            if tid == threading.get_native_id()
            else "pool"
            if tid in pool_threads
            else "cluster"
        )
        spent[part] += cpu - threads.get(tid, 0.0)
    report(args, runs, total, spent)


def alternate(pool, client, pids, seeds, size) -> dict[str, list]:
    """Each seed in both workers, alternating which goes first."""
    runs: dict[str, list] = {"local": [], "dask": []}
    for seed in seeds:
        order = ("local", "dask") if seed % 2 == 0 else ("dask", "local")
        for name in order:
            if name == "local":
                result = pool.submit(timed_run, seed, size).result()
            else:
                result = client.submit(timed_run, seed, size, pure=False).result()
            assert result[0] == pids[name]
            runs[name].append(result[1:])
    return runs


def report(args, runs: dict[str, list], total: dict[str, float], spent: dict[str, float]) -> None:
    """The medians a run, the CPU between runs, the driver's threads and the paired ratios."""
    print(
        f"{args.runs} runs of {args.agents} persons x {args.years} years each (burn-in "
        "cached), alternating; CPU seconds a run (medians)"
    )
    print(f"{'worker':<7} {'thread':>8} {'process':>8} {'others':>8} {'between':>8}")
    for name, values in runs.items():
        thread = statistics.median(v[0] for v in values)
        process = statistics.median(v[1] for v in values)
        between = (total[name] - sum(v[1] for v in values)) / len(values)
        print(f"{name:<7} {thread:8.4f} {process:8.4f} {process - thread:8.4f} {between:8.4f}")
    print(
        "the driver's threads, CPU seconds a run: "
        + ", ".join(f"{k} {v / args.runs:.4f}" for k, v in spent.items())
    )
    for i, what in enumerate(("thread", "process")):
        ratio = statistics.median(
            d[i] / loc[i] for d, loc in zip(runs["dask"], runs["local"], strict=True)
        )
        print(f"Dask / local, {what} CPU a run, paired median: {ratio:.3f}")


if __name__ == "__main__":
    main()
