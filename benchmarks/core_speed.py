"""Speed of the full popsim model: agent-years per CPU-second, memory, import time, profile.

    ./dev shell python benchmarks/core_speed.py                      # 10k, 50k, 200k, 1M x 30 years
    ./dev shell python benchmarks/core_speed.py --sizes 10000,50000 --years 10 --repeats 3
    ./dev shell python benchmarks/core_speed.py --profile --sizes 50000 --years 30

Runs the FULL built-in baseline (``popsim.load_scenario(None)``: the family-planning regime on,
every mechanism enabled, a 10-year burn-in) resized to each initial size, for ``--years``
recorded years, monthly. Every run is a fresh subprocess (this script with ``--one``), so its
peak RSS is its own; sizes are interleaved run by run (round robin) so that a change in the
machine's load hits every size alike. Times are CPU seconds (``time.process_time``: user +
system of all threads). Every figure in the tables is the median over the runs of that size
(seeds 0, 1, ...); the header says how many runs each size had.

Throughput ("agent-years per CPU-second"):

* steps: the registered persons at the start of every recorded month, summed and divided by
  12, over the CPU seconds of ``model.run()`` (the recorded months only);
* whole: the same count over burn-in and recorded months, over the CPU seconds of the model's
  construction (initial population), its burn-in and the recorded months.

Memory: peak RSS (``VmHWM``) of the run's process up to the end of the recorded months, and
bytes per person = (peak RSS - RSS after the imports, numba and the draw kernels included) / the
largest registered population seen in any month (burn-in included). The peak including
``runner.collect()`` (building the result tables) is shown as well.

Split by mechanism: ``model.world.timings.seconds`` (wall time) over the recorded months, as a
percentage of the wall time of ``model.run()``; "other" is what no named process covers (the
month's bookkeeping, year-end compaction and policy year-end).
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
DEFAULT_SIZES = "10000,50000,200000,1000000"
PROCESSES = (
    "mortality",
    "migration",
    "marriage",
    "decision",
    "contraception",
    "checkups",
    "sex_selection",
    "incentives",
    "fertility",
    "indicators",
)

# The speed targets: medians on the 2-core development machines.
TARGET_AYPS = {50_000: 820_000, 10_000: 420_000}  # agent-years per CPU-second, recorded months
TARGET_GROWTH = 0.10  # time per agent-year, 50k -> 1M
TARGET_1M_CPU = 45.0  # CPU seconds for 1M persons x 30 years
TARGET_BYTES = 200  # bytes per person
TARGET_IMPORT = 1.2  # CPU seconds for a cold `import popsim`


# ---- measuring inside one process -------------------------------------------------------------
def proc_status_mb(field: str) -> float:
    """``VmRSS``/``VmHWM`` of this process in MB (Linux); else ``ru_maxrss``."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * RSS_TO_MB


def measure_run(size: int, years: int, seed: int, *, tables: bool = True) -> dict:
    """Build and run the full baseline once in this process; CPU seconds, counts, memory.

    Meant to be called once per fresh process (peak RSS is the process's high-water mark).
    """
    t_import = time.process_time()
    import popsim
    import popsim.model.regime  # noqa: F401  (the regime's modules, imported by the model lazily)
    from popsim.model.township import PopsimModel
    from popsim.outputs.runner import collect, package_version, resize

    t_import = time.process_time() - t_import
    # numba and the draw kernels, which the first draw would load: a fixed cost per process
    # (the cold-import lines show it), kept out of the construction's time
    t_kernels = time.process_time()
    import popsim.state.splitmix  # noqa: F401

    t_kernels = time.process_time() - t_kernels
    scenario = resize(popsim.load_scenario(None), size, years)
    rss_import = proc_status_mb("VmRSS")
    load_before = os.getloadavg()[0]

    class Counted(PopsimModel):
        """The model, counting persons each month and timing the burn-in apart."""

        def __init__(self, *args, **kwargs) -> None:
            self.bench = {"pm": [0, 0], "peak_persons": 0, "burn_in_from": None}
            super().__init__(*args, **kwargs)

        def _burn_in(self) -> None:
            self.bench["burn_in_from"] = time.process_time()
            self.bench["peak_persons"] = self.population
            super()._burn_in()

        def _advance(self, *, record: bool) -> None:
            super()._advance(record=record)
            b = self.bench
            b["pm"][record] += self.population_start
            b["peak_persons"] = max(b["peak_persons"], self.population_start, self.population)

    wall = time.perf_counter()
    t0 = time.process_time()
    model = Counted(scenario, seed=seed)
    t2 = time.process_time()
    t1 = model.bench["burn_in_from"]
    burn_in_seconds = dict(model.world.timings.seconds)
    run_wall = time.perf_counter()
    model.run()
    t3 = time.process_time()
    run_wall = time.perf_counter() - run_wall
    wall = time.perf_counter() - wall
    peak_run = proc_status_mb("VmHWM")
    seconds = {k: v - burn_in_seconds.get(k, 0.0) for k, v in model.world.timings.seconds.items()}
    pm_burn, pm_rec = model.bench["pm"]
    steps, whole = t3 - t2, t3 - t0
    out = {
        "size": size,
        "years": years,
        "seed": seed,
        "months": model.months,
        "import_in_process": t_import,
        "kernels_in_process": t_kernels,
        "construct": t1 - t0,
        "burn_in": t2 - t1,
        "steps": steps,
        "whole": whole,
        "wall": wall,
        "ms_per_month": 1000 * steps / model.months,
        "agent_years": pm_rec / 12,
        "agent_years_burn_in": pm_burn / 12,
        "ayps_steps": pm_rec / 12 / steps,
        "ayps_whole": (pm_rec + pm_burn) / 12 / whole,
        "final_population": model.population,
        "peak_persons": model.bench["peak_persons"],
        "rss_import_mb": rss_import,
        "peak_rss_mb": peak_run,
        "bytes_per_person": (peak_run - rss_import) * 2**20 / model.bench["peak_persons"],
        "process_seconds": seconds,
        "process_pct": {k: 100 * v / run_wall for k, v in seconds.items()},
        "load_1min": load_before,
        "versions": {p: package_version(p) for p in ("popsim", "mesa", "numpy", "pandas")},
    }
    out["process_pct"]["other"] = 100 - sum(out["process_pct"].values())
    if tables:
        t4 = time.process_time()
        collect(model)
        out["collect"] = time.process_time() - t4
        out["peak_rss_collect_mb"] = proc_status_mb("VmHWM")
    return out


# ---- running children ---------------------------------------------------------------------
def run_child(
    args: list[str], python: str = sys.executable, env: dict | None = None
) -> tuple[subprocess.CompletedProcess, float, float]:
    """Run ``python args``; (process, its CPU seconds from children's rusage, wall seconds)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = time.perf_counter()
    proc = subprocess.run(
        [python, *args], env=ENV if env is None else env, capture_output=True, text=True
    )
    wall = time.perf_counter() - wall
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return proc, cpu, wall


def last_json(proc: subprocess.CompletedProcess, what: str) -> dict:
    """The JSON object a child printed on its last stdout line; exit with its stderr if none."""
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        sys.exit(f"{what} failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
    return json.loads(lines[-1])


def cold_import(
    module: str, n: int = 5, python: str = sys.executable, env: dict | None = None
) -> dict:
    """CPU seconds of ``import module`` in ``n`` fresh interpreters (after one warm-up run).

    Also the bare interpreter's start-up (``-c pass``), so the import's own cost can be read.
    Returns medians and the individual runs; ``error`` if the import fails.
    """
    warm, _, _ = run_child(["-c", f"import {module}"], python, env)  # bytecode, font caches
    if warm.returncode != 0:
        return {"error": warm.stderr.strip()[-2000:]}
    runs, bare = [], []
    for _ in range(n):  # alternate, so both see the same load
        runs.append(run_child(["-c", f"import {module}"], python, env)[1])
        bare.append(run_child(["-c", "pass"], python, env)[1])
    med, base = statistics.median(runs), statistics.median(bare)
    return {"cpu": med, "bare": base, "own": med - base, "runs": runs, "n": n}


def machine() -> list[str]:
    """Lines describing the machine, interpreter and current load."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    try:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
        mem_s = f", {mem:.0f} GiB RAM"
    except (ValueError, OSError):
        mem_s = ""
    blas = {k: v for k, v in os.environ.items() if k.startswith("OPENBLAS")}
    return [
        f"code    : {code_state()}",
        f"date    : {time.strftime('%Y-%m-%d %H:%M %Z')}",
        f"machine : {platform.node()} | {cpu} | {os.cpu_count()} CPUs{mem_s} | "
        f"{platform.platform()}",
        f"python  : {platform.python_version()} ({sys.executable})"
        + (f" | {blas}" if blas else ""),
        f"load    : {load_str()} (1, 5, 15-min averages; other developers share the 2 cores)",
    ]


def code_state() -> str:
    """The commit the work tree is at, and how many files under src/ differ from it (read-only)."""
    git = ["git", "--no-optional-locks", "-C", str(ROOT)]
    try:
        head = subprocess.run(
            [*git, "log", "-1", "--format=%h %ci"], capture_output=True, text=True
        )
        dirty = subprocess.run(
            [*git, "status", "--porcelain", "--", "src"], capture_output=True, text=True
        )
    except OSError as e:
        return f"unknown ({e})"
    if head.returncode != 0:
        return "unknown (not a git work tree)"
    n = len(dirty.stdout.splitlines())
    return f"popsim work tree at {head.stdout.strip()}" + (
        f", {n} file(s) under src/ changed or new (uncommitted)" if n else ", src/ clean"
    )


def load_str() -> str:
    """The machine's 1, 5 and 15-minute load averages."""
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def median_of(rows: list[dict], key: str) -> float:
    """Median of ``key`` over ``rows``."""
    return statistics.median(r[key] for r in rows)


def verdict(ok: bool) -> str:
    """MET / NOT MET."""
    return "MET    " if ok else "NOT MET"


# ---- the report -----------------------------------------------------------------------------
def throughput_table(by_size: dict[int, list[dict]]) -> list[str]:
    """Throughput, time and memory by size (medians)."""
    out = [
        f"{'initial':>9} {'runs':>4} {'final':>9} {'construct':>9} {'burn-in':>8} "
        f"{'steps':>8} {'ms per':>7} {'agent-yr/CPU-s':>15} {'agent-yr/CPU-s':>15} "
        f"{'collect':>7} {'peak RSS':>8} {'bytes per':>9} {'peak RSS':>9}",
        f"{'persons':>9} {'':>4} {'pop':>9} {'CPU-s':>9} {'CPU-s':>8} {'CPU-s':>8} "
        f"{'month':>7} {'(steps)':>15} {'(whole run)':>15} {'CPU-s':>7} {'MB':>8} "
        f"{'person':>9} {'+collect':>9}",
    ]
    out.append("-" * len(out[0]))
    for size, rows in by_size.items():
        out.append(
            f"{size:>9,} {len(rows):>4} {median_of(rows, 'final_population'):>9,.0f} "
            f"{median_of(rows, 'construct'):>9.2f} {median_of(rows, 'burn_in'):>8.2f} "
            f"{median_of(rows, 'steps'):>8.2f} {median_of(rows, 'ms_per_month'):>7.1f} "
            f"{median_of(rows, 'ayps_steps'):>15,.0f} {median_of(rows, 'ayps_whole'):>15,.0f} "
            f"{median_of(rows, 'collect'):>7.2f} {median_of(rows, 'peak_rss_mb'):>8.0f} "
            f"{median_of(rows, 'bytes_per_person'):>9.0f} "
            f"{median_of(rows, 'peak_rss_collect_mb'):>9.0f}"
        )
    return out


def mechanism_table(by_size: dict[int, list[dict]]) -> list[str]:
    """Share of the recorded months' wall time by process (medians of the per-run shares)."""
    names = [*PROCESSES, "other"]
    short = {"sex_selection": "sex_sel", "contraception": "contracep", "indicators": "indicat"}
    head = f"{'persons':>9} {'ms/month':>8} " + " ".join(f"{short.get(n, n)[:9]:>9}" for n in names)
    out = [head, "-" * len(head)]
    for size, rows in by_size.items():
        cells = []
        for n in names:
            vals = [r["process_pct"].get(n, 0.0) for r in rows]
            cells.append(f"{statistics.median(vals):>8.1f}%")
        out.append(f"{size:>9,} {median_of(rows, 'ms_per_month'):>8.1f} " + " ".join(cells))
    return out


def targets(by_size: dict[int, list[dict]], imp: dict, years: int) -> list[str]:
    """Each speed target: measured value, target, met or not."""
    out = []
    ayps = {s: median_of(rows, "ayps_steps") for s, rows in by_size.items()}
    for size, goal in sorted(TARGET_AYPS.items()):
        if size in ayps:
            out.append(
                f"{verdict(ayps[size] >= goal)} full model at {size:,}: "
                f"{ayps[size]:,.0f} agent-years/CPU-s (recorded months) >= {goal:,}"
                f"  [whole run incl. burn-in: {median_of(by_size[size], 'ayps_whole'):,.0f}]"
            )
    big = max(by_size)
    if 50_000 in ayps and big > 50_000:
        rise = ayps[50_000] / ayps[big] - 1
        out.append(
            f"{verdict(rise < TARGET_GROWTH)} time per agent-year from 50,000 to {big:,}: "
            f"{rise:+.1%} (< +{TARGET_GROWTH:.0%})"
        )
    if 1_000_000 in by_size:
        rows = by_size[1_000_000]
        steps, whole = median_of(rows, "steps"), median_of(rows, "whole")
        k = 30 / years
        note = (
            f"  [with construction + 10-year burn-in: {whole:.1f}]"
            if years == 30
            else f" (ran {years} years, not 30: scaled x{k:.2f})"
        )
        out.append(
            f"{verdict(steps * k < TARGET_1M_CPU)} 1,000,000 persons x 30 years (recorded "
            f"months): {steps * k:.1f} CPU-s < {TARGET_1M_CPU:.0f}{note}"
        )
    bpp = median_of(by_size[big], "bytes_per_person")
    out.append(
        f"{verdict(bpp < TARGET_BYTES)} memory at {big:,}: {bpp:.0f} bytes per person "
        f"< {TARGET_BYTES}"
        + ("" if big >= 1_000_000 else "  (fixed overheads dominate at small sizes)")
    )
    if "error" not in imp:
        out.append(
            f"{verdict(imp['cpu'] < TARGET_IMPORT)} cold `import popsim`: {imp['cpu']:.2f} "
            f"CPU-s < {TARGET_IMPORT} (interpreter start-up alone: {imp['bare']:.2f})"
        )
    return out


def profile(size: int, years: int, seed: int = 0, top: int = 30) -> None:
    """cProfile of the recorded months (``model.run()``) of one run; top functions."""
    import cProfile
    import pstats

    import popsim
    from popsim.model.township import PopsimModel
    from popsim.outputs.runner import resize

    print(*machine(), sep="\n")
    scenario = resize(popsim.load_scenario(None), size, years)
    t0 = time.process_time()
    model = PopsimModel(scenario, seed=seed)
    t1 = time.process_time()
    profiler = cProfile.Profile()
    profiler.enable()
    model.run()
    profiler.disable()
    t2 = time.process_time()
    stats = pstats.Stats(profiler)
    total = stats.total_tt
    print(
        f"\ncProfile of the recorded months of the full baseline, {size:,} initial persons, "
        f"{years} years, seed {seed}"
    )
    print(
        f"(construction + burn-in {t1 - t0:.2f} CPU-s, not profiled; recorded months under "
        f"the profiler {t2 - t1:.2f} CPU-s, profiled total {total:.2f} s)\n"
    )

    def name(func: tuple) -> str:
        file, line, fn = func
        if file == "~":
            return fn  # a builtin: {method 'take' of 'numpy.ndarray' objects}
        parts = Path(file).parts
        where = "/".join(parts[parts.index("popsim") :]) if "popsim" in parts else parts[-1]
        return f"{where}:{line}({fn})"

    rows = [(func, *vals) for func, vals in stats.stats.items()]  # cc, nc, tt, ct, callers
    for title, key in (("own time (tottime)", 3), ("cumulative time (cumtime)", 4)):
        print(f"top {top} functions by {title}, % of the profiled total:")
        print(f"{'own %':>6} {'cum %':>6} {'calls':>9} {'per call us':>11}  function")
        for func, _cc, nc, tt, ct, _callers in sorted(rows, key=lambda r: -r[key])[:top]:
            print(
                f"{100 * tt / total:>6.1f} {100 * ct / total:>6.1f} {nc:>9,} "
                f"{1e6 * tt / max(nc, 1):>11.1f}  {name(func)}"
            )
        print()
    seconds = model.world.timings.seconds
    print("named processes over burn-in + recorded months (model.world.timings, wall-s):")
    print("  " + ", ".join(f"{k} {v:.2f}" for k, v in sorted(seconds.items(), key=lambda x: -x[1])))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default=DEFAULT_SIZES, help="initial persons, comma-separated")
    ap.add_argument("--years", type=int, default=30, help="recorded years (after the burn-in)")
    ap.add_argument("--repeats", type=int, default=5, help="runs per size below --big")
    ap.add_argument(
        "--big-repeats", type=int, default=3, help="runs per size of --big persons or more"
    )
    ap.add_argument("--big", type=int, default=1_000_000, help="see --big-repeats")
    ap.add_argument("--imports", type=int, default=5, help="fresh interpreters for the import")
    ap.add_argument("--profile", action="store_true", help="cProfile the first size instead")
    ap.add_argument("--json", type=Path, help="also write every run's figures to this file")
    ap.add_argument("--one", type=int, metavar="SIZE", help=argparse.SUPPRESS)  # child mode
    ap.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if min(args.repeats, args.big_repeats, args.years, args.imports) < 1:
        ap.error("--repeats, --big-repeats, --years and --imports must be at least 1")
    if args.one is not None:
        print(json.dumps(measure_run(args.one, args.years, args.seed)))
        return 0
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    if args.profile:
        profile(sizes[0], args.years)
        return 0

    reps = {s: args.big_repeats if s >= args.big else args.repeats for s in sizes}
    print("popsim speed: the FULL baseline (regime on, 10-year burn-in), CPU seconds, medians")
    print(*machine(), sep="\n")
    print(
        f"runs    : {', '.join(f'{s:,} x{n}' for s, n in reps.items())} (seeds 0.., one fresh "
        f"process per run, sizes interleaved); {args.years} recorded years, monthly",
        flush=True,
    )
    imp = cold_import("popsim", args.imports)
    if "error" in imp:
        sys.exit(f"`import popsim` failed:\n{imp['error']}")
    print(
        f"cold `import popsim`: {imp['cpu']:.3f} CPU-s (median of {imp['n']} fresh processes; "
        f"bare interpreter {imp['bare']:.3f}, so the import itself {imp['own']:.3f})",
        flush=True,
    )
    kern = cold_import("popsim.state.splitmix", args.imports)
    if "error" not in kern:
        print(
            f"first draw's one-off (numba, the kernels from the on-disk cache): "
            f"{kern['cpu'] - imp['cpu']:.3f} CPU-s more (`import popsim.state.splitmix`: "
            f"{kern['cpu']:.3f}, median of {kern['n']})",
            flush=True,
        )
    by_size: dict[int, list[dict]] = {s: [] for s in sizes}
    for rep in range(max(reps.values())):
        for size in sizes:
            if rep >= reps[size]:
                continue
            one = ["--one", str(size), "--years", str(args.years), "--seed", str(rep)]
            proc, _, wall = run_child([__file__, *one])
            row = last_json(proc, f"run of {size:,} persons, seed {rep}")
            by_size[size].append(row)
            print(
                f"  run {rep + 1}/{reps[size]} {size:>9,}: {row['ayps_steps']:>10,.0f} "
                f"agent-yr/CPU-s (steps), {row['whole']:6.1f} CPU-s whole, {wall:6.1f} wall-s, "
                f"load {row['load_1min']:.2f}",
                flush=True,
            )
    v = next(iter(by_size.values()))[0]["versions"]
    loads = [r["load_1min"] for rows in by_size.values() for r in rows]
    print("versions: " + ", ".join(f"{k} {val}" for k, val in v.items()))
    print(
        f"load    : {load_str()} at the end; 1-min load at the runs' starts "
        f"{min(loads):.2f}..{max(loads):.2f}"
    )
    print()
    print("Throughput, time and memory (medians over the runs):")
    print(*throughput_table(by_size), sep="\n")
    print()
    print("Time per recorded month by mechanism, % of the steps' wall time (medians):")
    print(*mechanism_table(by_size), sep="\n")
    print()
    print("Targets:")
    print(*targets(by_size, imp, args.years), sep="\n")
    print()
    rss0 = statistics.median(r["rss_import_mb"] for rows in by_size.values() for r in rows)
    print("construct = PopsimModel() before the burn-in (initial population, cadres); burn-in =")
    print(
        "its 10 years; steps = model.run(); collect = popsim.outputs.runner.collect() (the tables)."
    )
    print("steps throughput = persons at the start of each recorded month / 12 / steps CPU-s;")
    print("whole = (burn-in + recorded person-months) / 12 / (construct + burn-in + steps).")
    print(f"bytes per person = (peak RSS of the run - RSS after imports, ~{rss0:.0f} MB) /")
    print("largest population in any month. CPU time is less sensitive to load than wall time,")
    print("but two busy cores still share caches and memory bandwidth: see the load figures.")
    if args.json:
        args.json.write_text(json.dumps({"import": imp, "runs": by_size}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
