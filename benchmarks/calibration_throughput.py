"""Runs per minute of calibration-style work (many trials, the same seeds), old code against new.

    ./dev shell python benchmarks/calibration_throughput.py --old-src /path/to/old/src
    ./dev shell python benchmarks/calibration_throughput.py --old-src ../old/src --trials 24 \\
        --agents 38000 --years 3 --repeats 3

Each workload is ``--trials`` trials x 2 common seeds of the baseline, at the calibration's
size (38,000 persons, 3 years after the 10-year burn-in), on 2 local processes: the
executors a calibration uses (``popsim.sweeps.executors``). Trial k draws the policy levers of
``params/calibration/baseline.yaml`` (its one demographic parameter left out) from a seeded
generator, so both codes run the same trials.

* ``shared past``: the trials burn in under the baseline policy (``township.burn_in_policy:
  baseline``), so all trials with seed s reach the same state at the start date. The new
  code computes it once per seed and the rest start from it, as a sweep does
  (``shared_burn_ins``, ``OUT/burn_in/``); the old code computes it in every run.
* ``own past``: the same trials burning in under their own values (``OWN_PAST``), as
  ``popsim calibrate`` and ``popsim sweep`` run them: no two trials share a burn-in.

Every (workload, code) pair runs in a fresh subprocess with ``PYTHONPATH`` set to that code's
``src``; the codes alternate and swap order each repeat. The time is wall time from opening
the executor (spawning its workers) to the last result. Prints each run's runs per minute,
the medians, new over old, and whether both codes' figures are identical. Never asserts a time.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CALIBRATION = ROOT / "params" / "calibration" / "baseline.yaml"
WORKLOADS = ("shared past", "own past")


def trials(n: int) -> list[dict]:
    """n trials of the calibration's policy levers, drawn uniformly in their ranges."""
    import yaml

    ranges = yaml.safe_load(CALIBRATION.read_text())["parameters"]
    rng = np.random.default_rng(2009)
    levers = {k: v for k, v in ranges.items() if k.startswith("policy.")}
    return [
        {k: float(rng.uniform(v["low"], v["high"])) for k, v in levers.items()} for _ in range(n)
    ]


def one(workload: str, n_trials: int, agents: int, years: int, out: Path) -> None:
    """Run one workload with the code on PYTHONPATH; write times and figures to ``out``."""
    import tempfile
    from dataclasses import replace

    import popsim
    from popsim.scenario.timeline import OWN_PAST
    from popsim.sweeps import executors
    from popsim.sweeps.design import run_seed

    overrides = OWN_PAST if workload == "own past" else {}
    scenario = popsim.load_scenario(ROOT / "params" / "baseline.yaml", overrides)
    seeds = [run_seed(2009, r) for r in range(2)]
    tasks = [
        executors.Task(t * 2 + r, t, r, seed, values)
        for t, values in enumerate(trials(n_trials))
        for r, seed in enumerate(seeds)
    ]
    job = executors.Job("popsim", scenario, agents, years, ("statistics",))
    with tempfile.TemporaryDirectory(prefix="popsim-calibration-bench-") as tmp:
        started = time.perf_counter()
        if hasattr(executors, "shared_burn_ins"):  # the new code: as run_sweep sets its job
            keys = executors.shared_burn_ins(job, tasks)
            job = replace(job, burn_in_folder=str(Path(tmp) / "burn_in"), burn_in_keys=keys)
        figures = {}
        with executors.open_executor(2) as pool:
            for task, ok, value in pool.map(executors.execute, job, tasks):
                if not (ok and value[0]):
                    raise RuntimeError(f"run {task.index} failed: {value}")
                figures[task.index] = {k: repr(float(v)) for k, v in value[1].items()}
        seconds = time.perf_counter() - started
    out.write_text(json.dumps({"seconds": seconds, "runs": len(tasks), "figures": figures}))


def child(src: str, workload: str, args: argparse.Namespace, out: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(Path(src).resolve())}
    cmd = [sys.executable, __file__, "--one", workload, "--out", str(out)]
    cmd += ["--trials", str(args.trials), "--agents", str(args.agents), "--years", str(args.years)]
    load = os.getloadavg()[0]
    subprocess.run(cmd, env=env, check=True, cwd=ROOT)
    return json.loads(out.read_text()) | {"load": load}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--old-src", required=False, help="the old code's src folder")
    ap.add_argument("--trials", type=int, default=24)
    ap.add_argument("--agents", type=int, default=38_000)
    ap.add_argument("--years", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--one", choices=WORKLOADS, help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        one(args.one, args.trials, args.agents, args.years, args.out)
        return 0
    if not args.old_src:
        ap.error("--old-src is required (e.g. a `git worktree add` of the old commit's src)")
    codes = {"old": args.old_src, "new": str(ROOT / "src")}
    print(f"calibration-style throughput: {args.trials} trials x 2 seeds, {args.agents:,} persons")
    print(
        f"x {args.years} years after the 10-year burn-in, 2 local processes; old = {args.old_src}"
    )
    print(f"load at start: {', '.join(f'{x:.2f}' for x in os.getloadavg())} (2 cores)")
    results: dict[tuple[str, str], list[dict]] = {}
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        for repeat in range(args.repeats):
            order = list(codes) if repeat % 2 == 0 else list(codes)[::-1]
            for workload in WORKLOADS:
                for code in order:
                    out = Path(tmp) / f"{code}-{repeat}.json"
                    r = child(codes[code], workload, args, out)
                    results.setdefault((workload, code), []).append(r)
                    rate = 60 * r["runs"] / r["seconds"]
                    print(
                        f"  repeat {repeat + 1}/{args.repeats} {workload:<11} {code}: "
                        f"{r['seconds']:6.1f} s  {rate:6.1f} runs/min  (load {r['load']:.2f})"
                    )
    print(f"load at end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print("\nruns per minute (median of the repeats; wall time, workers' start included)")
    print(f"{'workload':<12} {'old':>8} {'new':>8} {'new/old':>8}  figures")
    for workload in WORKLOADS:
        old, new = results[(workload, "old")], results[(workload, "new")]
        rate = {c: statistics.median(60 * r["runs"] / r["seconds"] for r in rs) for c, rs in
                (("old", old), ("new", new))}  # fmt: skip
        same = all(o["figures"] == n["figures"] for o, n in zip(old, new, strict=True))
        print(
            f"{workload:<12} {rate['old']:8.1f} {rate['new']:8.1f} {rate['new'] / rate['old']:8.2f}"
            f"  {'identical' if same else 'DIFFER'}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
