"""popsim vs FPsim: agent-years per CPU-second side by side, and cold import time.

    ./dev shell python benchmarks/fpsim_compare.py               # 10k, 50k x 30 years, 3 runs
    ./dev shell python benchmarks/fpsim_compare.py --sizes 10000 --years 10 --repeats 2
    ./dev shell python benchmarks/fpsim_compare.py --reinstall   # a fresh FPsim environment

FPsim (https://fpsim.org; Starsim-based, vectorised, the nearest peer) is not a dependency of
popsim. On first use this script creates a separate virtualenv, ``benchmarks/.fpsim-venv/``,
with this interpreter (``sys.executable -m venv``), and ``pip install``s FPsim from PyPI into
it (``--fpsim-spec``, default ``fpsim``; it pulls Starsim and Sciris). Later runs reuse it.

FPsim's standard Kenya simulation runs in a child process of that environment::

    sim = fp.Sim(location="kenya", n_agents=N, start=2000, stop=2000 + YEARS, rand_seed=SEED)
    sim.init(); sim.run()

(monthly steps, Kenya's calibrated parameters, which are fitted for a start in 2000). Its
agent-years are the agents alive at every step (``sim.results.n_alive``) times the step
length (``sim.pars.dt`` years). popsim runs the FULL built-in baseline (regime on, 10-year
burn-in) with the same initial count and recorded years, via ``core_speed.py --one``, in this
environment. The two alternate run by run (and swap which goes first every repeat), so both
see the same machine load. Every figure is the median over ``--repeats`` runs per size.

Compared: popsim's recorded months (``model.run()``) against FPsim's ``sim.run()``, and the
whole runs: popsim's construction + burn-in + recorded months (burn-in agent-years counted)
against FPsim's ``fp.Sim(...)`` + ``sim.init()`` + ``sim.run()``. If FPsim cannot be installed
or run, the script says why (the error) and still prints popsim's figures.
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

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import core_speed as cs  # noqa: E402  (stdlib-only at import: fine in the FPsim venv too)

VENV = HERE / ".fpsim-venv"
VENV_PY = VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
START = 2000  # FPsim's Kenya calibration is fitted for a start in 2000
TARGET_RATIO = 10.0  # the full model at least ten times faster per agent-year


def fpsim_env() -> dict:
    """The environment of FPsim's children: its venv first, no popsim on the path."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["VIRTUAL_ENV"] = str(VENV)
    env["PATH"] = os.pathsep.join([str(VENV_PY.parent), env.get("PATH", "")])
    return env


def fpsim_version() -> tuple[str | None, str]:
    """(FPsim and Starsim versions, "") if the venv imports fpsim, else (None, the error)."""
    if not VENV_PY.exists():
        return None, f"{VENV_PY} does not exist"
    code = (
        "import fpsim, starsim; print(f'fpsim {fpsim.__version__}, starsim {starsim.__version__}')"
    )
    proc = subprocess.run(
        [str(VENV_PY), "-c", code], env=fpsim_env(), capture_output=True, text=True
    )
    if proc.returncode != 0:
        return None, proc.stderr.strip()[-3000:]
    return proc.stdout.strip().splitlines()[-1], ""


def ensure_fpsim(spec: str, reinstall: bool) -> tuple[str | None, str]:
    """Create ``.fpsim-venv`` and install FPsim if needed: (versions, "") or (None, why not)."""
    if not reinstall:
        version, _ = fpsim_version()
        if version:
            return version, ""
    print(f"setting up FPsim: {sys.executable} -m venv --clear {VENV}", flush=True)
    proc = subprocess.run(
        [sys.executable, "-m", "venv", "--clear", str(VENV)], capture_output=True, text=True
    )
    if proc.returncode != 0:
        return None, f"`python -m venv` failed (exit {proc.returncode}):\n{proc.stderr.strip()}"
    cmd = [str(VENV_PY), "-m", "pip", "install", "--disable-pip-version-check", "--no-input"]
    print(f"setting up FPsim: pip install {spec} (a few minutes, once)", flush=True)
    t = time.perf_counter()
    proc = subprocess.run([*cmd, spec], env=fpsim_env(), capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-25:])
        return None, f"`pip install {spec}` failed (exit {proc.returncode}):\n{tail}"
    print(f"setting up FPsim: installed in {time.perf_counter() - t:.0f} wall-s", flush=True)
    return fpsim_version()


# ---- the FPsim child (runs in .fpsim-venv) --------------------------------------------------
def fpsim_run(n_agents: int, years: int, seed: int) -> dict:
    """FPsim's standard Kenya simulation once in this process; CPU seconds and agent-years."""
    t = time.process_time()
    import fpsim as fp
    import numpy as np
    import starsim as ss

    t_import = time.process_time() - t
    rss_import = cs.proc_status_mb("VmRSS")
    load = os.getloadavg()[0]
    t0 = time.process_time()
    sim = fp.Sim(
        location="kenya", n_agents=n_agents, start=START, stop=START + years, rand_seed=seed
    )
    sim.init()
    t1 = time.process_time()
    sim.run()
    t2 = time.process_time()
    peak = cs.proc_status_mb("VmHWM")
    n_alive = np.asarray(sim.results.n_alive, dtype=float)
    dt = float(sim.pars.dt)  # years per step (1/12)
    agent_years = float(n_alive.sum() * dt)
    return {
        "n_agents": n_agents,
        "years": years,
        "seed": seed,
        "steps": len(n_alive),
        "dt": dt,
        "import_in_process": t_import,
        "init": t1 - t0,
        "run": t2 - t1,
        "whole": t2 - t0,
        "agent_years": agent_years,
        "ayps_run": agent_years / (t2 - t1),
        "ayps_whole": agent_years / (t2 - t0),
        "final_alive": float(n_alive[-1]),
        "peak_alive": float(n_alive.max()),
        "rss_import_mb": rss_import,
        "peak_rss_mb": peak,
        "bytes_per_agent": (peak - rss_import) * 2**20 / max(n_alive.max(), n_agents),
        "load_1min": load,
        "versions": {"fpsim": fp.__version__, "starsim": ss.__version__},
    }


# ---- the comparison -------------------------------------------------------------------------
def cold_imports(n: int, with_fpsim: bool) -> dict:
    """Median CPU seconds of ``import popsim`` / ``import fpsim`` in fresh interpreters.

    One warm-up each (bytecode, FPsim's font cache), then ``n`` rounds alternating popsim,
    FPsim and the two bare interpreters (``-c pass``) so that all see the same load.
    """
    envs = {"popsim": (sys.executable, cs.ENV)}
    if with_fpsim:
        envs["fpsim"] = (str(VENV_PY), fpsim_env())
    out: dict[str, dict] = {}
    for name, (py, env) in envs.items():
        proc, _, _ = cs.run_child(["-c", f"import {name}"], py, env)
        if proc.returncode != 0:
            out[name] = {"error": proc.stderr.strip()[-2000:]}
    runs: dict[str, list[float]] = {k: [] for k in envs}
    bare: dict[str, list[float]] = {k: [] for k in envs}
    for _ in range(n):
        for name, (py, env) in envs.items():
            if name not in out:
                runs[name].append(cs.run_child(["-c", f"import {name}"], py, env)[1])
                bare[name].append(cs.run_child(["-c", "pass"], py, env)[1])
    for name in envs:
        if name not in out:
            cpu, base = statistics.median(runs[name]), statistics.median(bare[name])
            out[name] = {"cpu": cpu, "bare": base, "own": cpu - base, "n": n}
    return out


def med(rows: list[dict], key: str) -> float:
    """Median of ``key`` over ``rows`` (nan if none)."""
    return statistics.median(r[key] for r in rows) if rows else float("nan")


def fmt(x: float, spec: str) -> str:
    """``x`` formatted, or n/a if it is nan."""
    return "n/a" if x != x else format(x, spec)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,50000", help="initial agents, comma-separated")
    ap.add_argument("--years", type=int, default=30, help="recorded years")
    ap.add_argument("--repeats", type=int, default=3, help="runs per size and model")
    ap.add_argument("--imports", type=int, default=5, help="fresh interpreters per import")
    ap.add_argument("--fpsim-spec", default="fpsim", help="pip requirement for FPsim")
    ap.add_argument("--reinstall", action="store_true", help="recreate .fpsim-venv first")
    ap.add_argument("--fpsim-one", type=int, metavar="N", help=argparse.SUPPRESS)  # child
    ap.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if min(args.repeats, args.years, args.imports) < 1:
        ap.error("--repeats, --years and --imports must be at least 1")
    if args.fpsim_one is not None:
        print(json.dumps(fpsim_run(args.fpsim_one, args.years, args.seed)))
        return 0
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]

    print("popsim (full baseline) vs FPsim (Kenya): agent-years per CPU-second, medians")
    print(*cs.machine(), sep="\n")
    fp_version, fp_error = ensure_fpsim(args.fpsim_spec, args.reinstall)
    if fp_version:
        print(f"FPsim   : {fp_version}, in {VENV}")
        print(
            f"          fp.Sim(location='kenya', n_agents=N, start={START}, "
            f"stop={START + args.years}, rand_seed=SEED); sim.init(); sim.run()"
        )
    else:
        print(f"FPsim   : NOT AVAILABLE, only popsim's figures follow. Reason:\n{fp_error}")
    print(
        f"runs    : {args.repeats} per size and model (seeds 0..{args.repeats - 1}), alternating "
        f"popsim and FPsim, one fresh process per run; {args.years} years, monthly",
        flush=True,
    )

    imports = cold_imports(args.imports, bool(fp_version))
    for name, imp in imports.items():
        if "error" in imp:
            print(f"cold `import {name}`: FAILED\n{imp['error']}")
        else:
            print(
                f"cold `import {name}`: {imp['cpu']:.3f} CPU-s (median of {imp['n']}; bare "
                f"interpreter {imp['bare']:.3f})",
                flush=True,
            )

    rows: dict[str, dict[int, list[dict]]] = {"popsim": {}, "fpsim": {}}
    for size in sizes:
        rows["popsim"][size], rows["fpsim"][size] = [], []
    for rep in range(args.repeats):
        order = ["popsim", "fpsim"] if rep % 2 == 0 else ["fpsim", "popsim"]
        for size in sizes:
            for model in order:
                if model == "fpsim" and not fp_version:
                    continue
                common = ["--years", str(args.years), "--seed", str(rep)]
                if model == "popsim":
                    child = [str(HERE / "core_speed.py"), "--one", str(size), *common]
                    proc, _, wall = cs.run_child(child)
                else:
                    child = [__file__, "--fpsim-one", str(size), *common]
                    proc, _, wall = cs.run_child(child, str(VENV_PY), fpsim_env())
                lines = proc.stdout.strip().splitlines()
                if proc.returncode != 0 or not lines:
                    why = proc.stderr.strip()[-3000:]
                    if model == "popsim":
                        sys.exit(f"popsim run of {size:,} failed:\n{why}")
                    fp_version, fp_error = None, f"the FPsim run of {size:,} agents failed:\n{why}"
                    print(f"FPsim   : FAILED, no further FPsim runs. Reason:\n{fp_error}")
                    continue
                row = json.loads(lines[-1])
                rows[model][size].append(row)
                ayps = row["ayps_steps"] if model == "popsim" else row["ayps_run"]
                print(
                    f"  run {rep + 1}/{args.repeats} {model:<6} {size:>7,}: {ayps:>10,.0f} "
                    f"agent-yr/CPU-s ({'steps' if model == 'popsim' else 'run'}), "
                    f"{row['whole']:6.1f} CPU-s whole, {wall:6.1f} wall-s, "
                    f"load {row['load_1min']:.2f}",
                    flush=True,
                )

    print(f"load    : {cs.load_str()} at the end")
    fp_rows = [r for rs in rows["fpsim"].values() for r in rs]
    if fp_rows:
        print(
            "FPsim agent-years: sum of sim.results.n_alive x dt over its "
            f"{fp_rows[0]['steps']} steps"
        )
    print()
    head = (
        f"{'agents':>7} {'runs':>4} | {'popsim':>10} {'popsim':>10} {'popsim':>7} | "
        f"{'FPsim':>10} {'FPsim':>10} {'FPsim':>7} | {'ratio':>6} {'ratio':>6}"
    )
    print("agent-years per CPU-second (medians); ratio = popsim / FPsim")
    print(head)
    print(
        f"{'':>7} {'':>4} | {'steps':>10} {'whole':>10} {'B/pers':>7} | {'run':>10} "
        f"{'whole':>10} {'B/agent':>7} | {'steps/':>6} {'whole/':>6}"
    )
    print(
        f"{'':>7} {'':>4} | {'':>10} {'':>10} {'':>7} | {'':>10} {'':>10} {'':>7} | "
        f"{'run':>6} {'whole':>6}"
    )
    print("-" * len(head))
    ratios = {}
    for size in sizes:
        p, f = rows["popsim"][size], rows["fpsim"][size]
        r_steps = med(p, "ayps_steps") / med(f, "ayps_run")
        r_whole = med(p, "ayps_whole") / med(f, "ayps_whole")
        ratios[size] = r_steps
        print(
            f"{size:>7,} {len(p):>4} | {med(p, 'ayps_steps'):>10,.0f} "
            f"{med(p, 'ayps_whole'):>10,.0f} {med(p, 'bytes_per_person'):>7,.0f} | "
            f"{fmt(med(f, 'ayps_run'), ',.0f'):>10} {fmt(med(f, 'ayps_whole'), ',.0f'):>10} "
            f"{fmt(med(f, 'bytes_per_agent'), ',.0f'):>7} | {fmt(r_steps, '.2f'):>6} "
            f"{fmt(r_whole, '.2f'):>6}"
        )
    print()
    print("CPU seconds (medians):")
    print(
        f"{'agents':>7} | {'popsim':>9} {'popsim':>8} {'popsim':>8} {'popsim':>10} | "
        f"{'FPsim':>9} {'FPsim':>8} {'FPsim':>10}"
    )
    print(
        f"{'':>7} | {'construct':>9} {'burn-in':>8} {'steps':>8} {'agent-yrs':>10} | "
        f"{'init':>9} {'run':>8} {'agent-yrs':>10}"
    )
    for size in sizes:
        p, f = rows["popsim"][size], rows["fpsim"][size]
        print(
            f"{size:>7,} | {med(p, 'construct'):>9.2f} {med(p, 'burn_in'):>8.2f} "
            f"{med(p, 'steps'):>8.2f} {med(p, 'agent_years'):>10,.0f} | "
            f"{fmt(med(f, 'init'), '.2f'):>9} {fmt(med(f, 'run'), '.2f'):>8} "
            f"{fmt(med(f, 'agent_years'), ',.0f'):>10}"
        )
    print()
    pi, fi = imports.get("popsim", {}), imports.get("fpsim", {})
    if "cpu" in pi and "cpu" in fi:
        print(
            f"cold import: popsim {pi['cpu']:.2f} CPU-s, FPsim {fi['cpu']:.2f} CPU-s: "
            f"popsim / FPsim = {pi['cpu'] / fi['cpu']:.2f}"
        )
    print()
    print(f"Target: popsim at least {TARGET_RATIO:.0f}x FPsim per agent-year")
    for size in sizes:
        r = ratios[size]
        if r == r:
            print(
                f"{cs.verdict(r >= TARGET_RATIO)} at {size:,}: popsim/FPsim = {r:.2f} "
                f"(recorded months vs sim.run())"
            )
        else:
            print(f"n/a     at {size:,}: FPsim not measured ({fp_error.splitlines()[0]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
