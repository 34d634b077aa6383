"""Speed of the demographic core: CPU time, throughput and peak memory by population size.

    ./dev shell python benchmarks/core_speed.py [--repeats N] [--sizes 10000,50000] [--years 30]
    ./dev shell python benchmarks/core_speed.py --profile --sizes 50000 --years 10

Runs the built-in baseline (``popsim.load_scenario(None)``) resized to each size. Every size
runs in a fresh subprocess (this script with ``--one SIZE``), so peak RSS is that size's alone.
Times are CPU seconds (``time.process_time``: user + system, all threads), medians over the
repeats (seeds 0..repeats-1). Throughput counts the persons at the start of every month,
divided by the CPU seconds of the monthly steps alone.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHONPATH = [str(ROOT / "src"), *filter(None, [os.environ.get("PYTHONPATH")])]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(PYTHONPATH)}
RSS_TO_MB = 1 / 2**20 if sys.platform == "darwin" else 1 / 2**10  # ru_maxrss: bytes or KiB


def _scenario(size: int, years: int):
    import popsim
    from popsim.runner import resize

    return resize(popsim.load_scenario(None), size, years)


def measure_one(size: int, years: int, repeats: int) -> dict:
    """Run one size ``repeats`` times in this process; medians, peak RSS and versions."""
    import gc

    import popsim
    from popsim.model import PopsimModel
    from popsim.runner import _version, collect

    rss_import = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * RSS_TO_MB
    scenario = _scenario(size, years)
    rows = []
    for seed in range(repeats):
        t0 = time.process_time()
        popsim.simulate(popsim.load_scenario(None), seed=seed, n_agents=size, years=years)
        t1 = time.process_time()
        gc.collect()
        t2 = time.process_time()
        model = PopsimModel(scenario, seed=seed)
        t3 = time.process_time()
        model.run()
        t4 = time.process_time()
        result = collect(model)
        t5 = time.process_time()
        person_months = int(result.monthly["population_start"].sum())
        rows.append(
            {
                "simulate": t1 - t0,
                "construct": t3 - t2,
                "steps": t4 - t3,
                "collect": t5 - t4,
                "person_months": person_months,
                "pm_per_s": person_months / (t4 - t3),
                "py_per_s": person_months / 12 / (t4 - t3),
                "final_population": int(result.annual["population"].iloc[-1]),
            }
        )
        del model, result
        gc.collect()
    out = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
    out |= {
        "size": size,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * RSS_TO_MB,
        "rss_after_import_mb": rss_import,
        "versions": {p: _version(p) for p in ("popsim", "mesa", "numpy", "pandas")},
    }
    return out


def run_child(args: list[str]) -> tuple[subprocess.CompletedProcess, float, float]:
    """Run this interpreter with ``args``; its CPU seconds (children's rusage) and wall time."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, *args], env=ENV, capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - wall
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        sys.exit(f"core_speed: child {args} failed:\n{proc.stderr}")
    return proc, cpu, wall


def cold_import(n: int = 5) -> tuple[float, float]:
    """Median CPU and wall seconds of ``import popsim`` in fresh interpreters."""
    runs = [run_child(["-c", "import popsim"])[1:] for _ in range(n)]
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)


def profile(size: int, years: int) -> None:
    """One simulate() call under cProfile; top 25 functions by cumulative time."""
    import cProfile
    import pstats

    import popsim

    scenario = popsim.load_scenario(None)
    profiler = cProfile.Profile()
    profiler.runcall(popsim.simulate, scenario, seed=0, n_agents=size, years=years)
    print(f"cProfile of simulate(baseline, n_agents={size}, years={years}):")
    pstats.Stats(profiler, stream=sys.stdout).sort_stats("cumulative").print_stats(25)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3, help="runs per size (seeds 0..N-1)")
    ap.add_argument("--sizes", default="10000,50000,200000", help="initial persons, comma-sep.")
    ap.add_argument("--years", type=int, default=30, help="simulated years")
    ap.add_argument("--profile", action="store_true", help="profile the first size instead")
    ap.add_argument("--one", type=int, metavar="SIZE", help=argparse.SUPPRESS)  # child mode
    args = ap.parse_args()
    if args.repeats < 1 or args.years < 1:
        ap.error("--repeats and --years must be at least 1")
    if args.one is not None:
        print(json.dumps(measure_one(args.one, args.years, args.repeats)))
        return 0
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    if args.profile:
        profile(sizes[0], args.years)
        return 0

    print("popsim core speed: built-in baseline, CPU seconds (time.process_time), medians")
    print(f"machine : {platform.platform()} | {platform.machine()} | {os.cpu_count()} CPUs")
    print(f"python  : {platform.python_version()} ({platform.python_implementation()})")
    print(f"repeats : {args.repeats} (seeds 0..{args.repeats - 1}), years: {args.years}")
    cpu, wall = cold_import()
    print(f"cold `import popsim`: {cpu:.3f} CPU-s, {wall:.3f} wall-s (median of 5 subprocesses)")

    rows = []
    for size in sizes:
        one = ["--one", str(size), "--years", str(args.years), "--repeats", str(args.repeats)]
        proc, _, wall = run_child([__file__, *one])
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        print(f"  size {size:>8,}: done in {wall:.1f} wall-s", flush=True)
    v = rows[0]["versions"]
    print("versions: " + ", ".join(f"{k} {val}" for k, val in v.items()))
    print()
    header = (
        f"{'persons':>9} {'final':>8} {'simulate':>9} {'construct':>9} {'steps':>8} "
        f"{'collect':>8} {'person-mo/s':>12} {'person-yr/s':>12} {'peak RSS':>9}"
    )
    print(header)
    print(
        f"{'':>9} {'pop':>8} {'CPU-s':>9} {'CPU-s':>9} {'CPU-s':>8} {'CPU-s':>8} "
        f"{'(steps)':>12} {'(steps)':>12} {'MB':>9}"
    )
    print("-" * len(header))
    for r in rows:
        print(
            f"{r['size']:>9,} {r['final_population']:>8,.0f} {r['simulate']:>9.2f} "
            f"{r['construct']:>9.2f} {r['steps']:>8.2f} {r['collect']:>8.2f} "
            f"{r['pm_per_s']:>12,.0f} {r['py_per_s']:>12,.0f} {r['peak_rss_mb']:>9.0f}"
        )
    print()
    print("simulate = whole popsim.simulate() call; construct = PopsimModel() (initial")
    print("population); steps = model.run(); collect = popsim.runner.collect() (tables).")
    print("Person-months = sum of monthly population_start. Peak RSS is per size, in a fresh")
    print(
        f"process (~{rows[0]['rss_after_import_mb']:.0f} MB of it is the interpreter and imports)."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
