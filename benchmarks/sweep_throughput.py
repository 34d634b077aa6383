"""Throughput and per-run overhead of one sweep on each executor, old code against new.

    ./dev shell python benchmarks/sweep_throughput.py [--runs 200] [--agents 2000] [--years 5]
    ./dev shell python benchmarks/sweep_throughput.py --runs 60 --agents 2000 --years 3 \\
        --old-src /tmp/popsim-old/src --record /tmp/sweep-throughput.jsonl

The sweep is a Latin hypercube over four baseline levers, runs/2 points x 2 replicates. It
runs with 1 local worker (in the sweep's process), 2 local processes and a two-worker Dask
LocalCluster; with ``--old-src``, the last two run with the old code as well, the codes
alternating. The codes and the two parallel executors swap order from one invocation to
the next, so that a trend in the machine's load favours neither. Each sweep is a fresh
subprocess with ``PYTHONPATH`` set to its code's ``src``, writing into a fresh temporary
folder. Wall time is ``run_sweep``'s, the workers' (and cluster's) start included; CPU time
is the subprocess's and its workers', imports included.

Per run it prints two overheads, against 1 local worker in the same invocation:

- **wall**: workers x wall seconds per run, minus 1 local worker's seconds per run. These are
  the worker-seconds a run costs beyond running it in the sweep's process: start-up,
  scheduling, pickling, writing, and waiting for a core the machine's other load holds.
- **CPU**: CPU seconds per run minus 1 local worker's. This is the extra work (each
  worker's imports, the scheduler, pickling) and moves far less with other load.

At the end it prints Dask's runs per minute over 2 local processes', new code, paired within
each invocation: the figure to hold within 10 %.

``--tiny`` sweeps the Ishigami function (``popsim.sweeps.sensitivity.ishigami``) instead of
the model: a run takes microseconds, so nearly all of a run's time is the executor's and the
run store's.

Every executor's and code's tables must equal the first's (asserted). ``--record FILE``
appends each sweep's figures to FILE (JSON lines) and prints the medians over all of FILE's
sweeps of this size, so that repeats can run one invocation at a time. Never asserts a time.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SWEEP = """\
scenario: {baseline}
parameters:
  policy.decision.son_preference: {{low: 0.4, high: 0.8}}
  policy.fee.multiple: {{low: 2, high: 6}}
  policy.checkups.participation: {{low: 0.7, high: 1.0}}
  policy.sex_selection.crackdown: {{low: 0.0, high: 0.6}}
design: latin_hypercube
samples: {points}
replicates: 2
seed: 1
n_agents: {agents}
years: {years}
outputs: [statistics, annual]
"""
TINY = """\
model: popsim.sweeps.sensitivity:ishigami
parameters:
  x1: {{low: -3.14159, high: 3.14159}}
  x2: {{low: -3.14159, high: 3.14159}}
  x3: {{low: -3.14159, high: 3.14159}}
design: latin_hypercube
samples: {points}
replicates: 2
seed: 1
outputs: [y]
"""
SERIAL = "1 local worker"
EXECUTORS = {
    SERIAL: {"workers": 1},
    "2 local processes": {"workers": 2},
    "Dask LocalCluster, 2 workers": {"workers": 2, "scheduler": "local-dask"},
}


def one(label: str, args: argparse.Namespace) -> None:
    """Run the sweep once with the code on PYTHONPATH; leave figures and tables in --out."""
    from popsim.sweeps.sweep import read_runs, read_table, run_sweep

    out = args.out
    path = out / "bench.yaml"
    path.write_text(
        (TINY if args.tiny else SWEEP).format(
            baseline=ROOT / "params" / "baseline.yaml",
            points=args.runs // 2,
            agents=args.agents,
            years=args.years,
        )
    )
    start = time.perf_counter()
    summary = run_sweep(path, out / "sweep", progress=False, echo=None, **EXECUTORS[label])
    seconds = time.perf_counter() - start
    read_runs(out / "sweep").to_pickle(out / "runs.pkl")
    if not args.tiny:
        read_table(out / "sweep", "annual").to_pickle(out / "annual.pkl")
    figures = {"seconds": seconds, "ran": summary.ran, "failed": len(summary.failed)}
    (out / "figures.json").write_text(json.dumps(figures))


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def child(label: str, code: str, src: str, args: argparse.Namespace, out: Path) -> dict:
    """Run :func:`one` in a fresh process on ``src``; its figures, CPU time and load."""
    out.mkdir()
    env = {**os.environ, "PYTHONPATH": str(Path(src).resolve())}
    cmd = [sys.executable, __file__, "--one", label, "--out", str(out)]
    cmd += ["--runs", str(args.runs), "--agents", str(args.agents), "--years", str(args.years)]
    cmd += ["--tiny"] if args.tiny else []
    load, cpu = os.getloadavg()[0], _children_cpu()
    subprocess.run(cmd, env=env, check=True, cwd=ROOT)
    figures = json.loads((out / "figures.json").read_text())
    return figures | {"executor": label, "code": code, "cpu": _children_cpu() - cpu, "load": load}


def same_tables(out: Path, reference: Path) -> None:
    import pandas as pd
    from pandas.testing import assert_frame_equal

    for name in ("runs.pkl", "annual.pkl"):
        if not (reference / name).is_file():
            continue
        assert_frame_equal(
            pd.read_pickle(out / name), pd.read_pickle(reference / name), check_exact=True
        )


def overheads(records: list[dict]) -> None:
    """Add each record's overheads per run against the serial record of its invocation."""
    serial = next(r for r in records if r["executor"] == SERIAL)
    for r in records:
        workers = EXECUTORS[r["executor"]]["workers"]
        r["wall_overhead"] = (workers * r["seconds"] - serial["seconds"]) / r["ran"]
        r["cpu_overhead"] = (r["cpu"] - serial["cpu"]) / r["ran"]


def line(label: str, code: str, rs: list[dict]) -> str:
    def med(key: str) -> float:
        return statistics.median(r[key] for r in rs)

    rate = statistics.median(60 * r["ran"] / r["seconds"] for r in rs)
    extra = "" if label == SERIAL else f"{med('wall_overhead'):7.3f} {med('cpu_overhead'):7.3f}"
    return (
        f"{label:<29} {code:<4} {med('seconds'):7.1f} {rate:9.1f} "
        f"{med('seconds') / rs[0]['ran']:6.3f} {extra:>15}  {med('load'):5.2f}"
    )


HEADER = (
    f"{'executor':<29} {'code':<4} {'wall s':>7} {'runs/min':>9} {'s/run':>6} "
    f"{'overhead/run s':>15}  {'load':>5}\n{'':<59} {'wall':>7} {'CPU':>7}"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--agents", type=int, default=2000)
    parser.add_argument("--years", type=int, default=5)
    parser.add_argument("--tiny", action="store_true", help="the Ishigami function, not the model")
    parser.add_argument("--old-src", help="the old code's src folder, run side by side")
    parser.add_argument("--record", type=Path, help="JSON-lines file of every invocation")
    parser.add_argument("--one", choices=EXECUTORS, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        one(args.one, args)
        return
    size = {"runs": args.runs, "agents": args.agents, "years": args.years, "tiny": args.tiny}
    earlier = []
    if args.record and args.record.is_file():
        earlier = [json.loads(x) for x in args.record.read_text().splitlines() if x.strip()]
        earlier = [r for r in earlier if {"tiny": False} | r["size"] == size]
    codes = {"new": str(ROOT / "src")} | ({"old": args.old_src} if args.old_src else {})
    odd = len({r["invocation"] for r in earlier}) % 2 == 1
    order, parallel = list(codes), list(EXECUTORS)[1:]
    if odd:  # what ran first runs last, so that a trend in the machine's load favours neither
        order, parallel = order[::-1], parallel[::-1]
    plan = [(SERIAL, "new")] + [(label, c) for label in parallel for c in order]
    if args.tiny:
        print(f"{args.runs} runs of the Ishigami function (one figure each)")
    else:
        print(
            f"{args.runs} runs of {args.agents} persons x {args.years} years (after the "
            "baseline's 10-year burn-in), outputs: all statistics + annual table"
        )
    if args.old_src:
        print(f"old = {args.old_src}, new = {ROOT / 'src'}")
    print(f"load at start: {', '.join(f'{x:.2f}' for x in os.getloadavg())} (2 cores)")
    invocation = time.strftime("%Y-%m-%dT%H:%M:%S")
    records = []
    with tempfile.TemporaryDirectory(prefix="popsim-sweep-bench-") as tmp:
        for k, (label, code) in enumerate(plan):
            out = Path(tmp) / str(k)
            record = child(label, code, codes[code], args, out)
            if k:
                same_tables(out, Path(tmp) / "0")
            records.append(record | {"size": size, "invocation": invocation})
            rate = 60 * record["ran"] / record["seconds"]
            print(
                f"  {label:<29} {code:<4} {record['seconds']:6.1f} s  {rate:6.1f} runs/min  "
                f"CPU {record['cpu']:6.1f} s  ({record['failed']} failed"
                f"{', tables identical to the first' if k else ''})"
            )
    print(f"load at end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    overheads(records)
    if args.record:
        with open(args.record, "a") as fh:
            fh.writelines(json.dumps(r) + "\n" for r in records)
    every = earlier + records
    repeats = len({r["invocation"] for r in every})
    print(f"\nmedians of {repeats} invocation(s); overheads per run against 1 local worker")
    print(HEADER)
    for label in EXECUTORS:
        for code in codes:
            rs = [r for r in every if r["executor"] == label and r["code"] == code]
            if rs:
                print(line(label, code, rs))
    print(paired(every))


def paired(records: list[dict]) -> str:
    """Dask's runs per minute over 2 local processes', new code, paired within invocations."""
    dask, local = list(EXECUTORS)[2], list(EXECUTORS)[1]
    ratios = []
    for invocation in sorted({r["invocation"] for r in records}):
        rate = {
            r["executor"]: r["ran"] / r["seconds"]
            for r in records
            if r["invocation"] == invocation and r["code"] == "new"
        }
        if dask in rate and local in rate:
            ratios.append(rate[dask] / rate[local])
    if not ratios:
        return ""
    each = ", ".join(f"{x:.3f}" for x in ratios)
    return (
        f"\nDask over 2 local processes (runs per minute, new code, paired within each "
        f"invocation): median {statistics.median(ratios):.3f} of {len(ratios)} ({each})"
    )


if __name__ == "__main__":
    main()
