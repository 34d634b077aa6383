"""popsim: agent-based simulation of a township under a family-planning regime.

Bad input ends with a one-paragraph message and exit code 2, no traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from popsim.scenario.loading import (
    SEED_MAX,
    SEED_RULE,
    ScenarioError,
    load_scenario,
    parse_override,
    valid_seed,
)

EXAMPLES = """examples:
  popsim run params/baseline.yaml --years 10 --out results/run
  popsim batch --replicates 4 --set policy.fee.collection=0.6 --out results/batch
  popsim batch params/baseline.yaml --vary policy.incentives.scale=0.5,1,2,3 --out results/dose
  popsim explore params/baseline.yaml

Run "popsim COMMAND --help" for a command's options."""


def _scenario(path: str | None, sets: list[str]):
    return load_scenario(path, dict(parse_override(s) for s in sets))


def _check_seeds(option: str, first: int, count: int = 1) -> None:
    """Refuse seeds above 2**63-1 before any work: larger ones repeat smaller ones' draws."""
    last = first + count - 1
    if not valid_seed(first):
        raise ScenarioError(f"{option} {first}: {SEED_RULE}.")
    if last > SEED_MAX:
        raise ScenarioError(
            f"{option} {first} with --replicates {count}: the last seed would be {last}, "
            f"above 2**63-1 ({SEED_MAX}); lower {option} or --replicates."
        )


def _run(args: argparse.Namespace) -> int:
    from popsim.outputs import guards, results, runner

    _check_seeds("--seed", args.seed)
    scenario = _scenario(args.scenario, args.set)
    out = guards.check_writable(args.out, "--out")  # before simulating, not after
    result = runner.simulate(scenario, seed=args.seed, n_agents=args.agents, years=args.years)
    results.write(result, out)
    m = result.manifest
    print(
        f"popsim run: scenario {m['scenario']!r}, seed {m['seed']}, {m['n_persons']} persons, "
        f"{m['years']} years, {m['cpu_seconds']:.2f} CPU-s -> {out}"
    )
    print(runner.summary(result).to_string())
    return 0


def _validate(args: argparse.Namespace) -> int:
    for path in args.files:
        scenario = load_scenario(path)
        print(f"{path}: valid (scenario {scenario.name!r}, hash {scenario.digest()[:12]})")
    return 0


def _batch(args: argparse.Namespace) -> int:
    from popsim.analysis import batch
    from popsim.outputs import guards

    _check_seeds("--first-seed", args.first_seed, args.replicates)
    guards.check_writable(args.out, "--out")
    vary = None
    if args.vary:
        field, _, raw = args.vary.partition("=")
        values = [parse_override(f"{field}={v}")[1] for v in raw.split(",") if v.strip()]
        if not field.strip() or len(values) < 2:
            raise ScenarioError(
                f"--vary {args.vary!r}: give a field and two or more values, e.g. "
                "--vary policy.incentives.scale=0.5,1,2."
            )
        vary = (field.strip(), values)
    return batch.main(
        args.scenarios,
        args.out,
        replicates_=args.replicates,
        first_seed=args.first_seed,
        n_agents=args.agents,
        years=args.years,
        workers=args.jobs,
        reference=args.reference,
        notebooks=args.notebooks,
        overrides=dict(parse_override(text) for text in args.set),
        vary=vary,
        ensemble=args.ensemble,
        sets=args.sets,
        csv=args.csv,
    )


def _count(minimum: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{text!r}: must be an integer >= {minimum}")
        return value

    return parse


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _calibrate(args: argparse.Namespace) -> int:
    from popsim.calibration import fit as calibrate
    from popsim.calibration.spec import load_calibration
    from popsim.sweeps import design, sweep

    def run(file: str, out: str, *, allow_large: bool = False, **options) -> calibrate.Fit:
        calibration = load_calibration(file)
        runs = calibrate.planned_runs(calibration)
        design.confirm_runs(runs, allow_large, f"calibration {file}")
        return calibrate.calibrate(calibration, out, **options)

    return sweep.from_args(args, "calibration", run)


def _explore(args: argparse.Namespace) -> int:
    try:
        from popsim.explorer.serve import serve
    except ImportError as exc:
        raise ScenarioError(
            f"the explorer needs popsim's viz extra (pip install -e '.[viz]'): {exc}."
        ) from None
    _check_seeds("--seed", args.seed)
    serve(args.scenario, port=args.port, seed=args.seed, n_persons=args.agents, years=args.years)
    return 0


def _schema(args: argparse.Namespace) -> int:
    from popsim.scenario.demography import Scenario

    print(json.dumps(Scenario.model_json_schema(), indent=2))
    return 0


def parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    top = argparse.ArgumentParser(
        prog="popsim",
        description=__doc__.splitlines()[0],
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = top.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run one scenario and write its tables")
    run.add_argument("scenario", nargs="?", help="scenario YAML (default: the built-in baseline)")
    run.add_argument("--seed", type=int, default=0, help="the run's seed (default: %(default)s)")
    run.add_argument("--agents", type=int, help="initial persons (default: the scenario's)")
    run.add_argument("--years", type=int, help="simulated years (default: the scenario's)")
    run.add_argument("--out", default="results/run", help="output folder (default: %(default)s)")
    run.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="override a field, e.g. --set demography.srb=1.07 (repeatable)",
    )
    run.set_defaults(func=_run)
    val = sub.add_parser("validate", help="check scenario files")
    val.add_argument("files", nargs="+")
    val.set_defaults(func=_validate)
    bat = sub.add_parser(
        "batch",
        help="run scenarios through notebooks/scenario.ipynb in parallel, then write "
        "OUT/report.html from notebooks/compare.ipynb",
    )
    bat.add_argument(
        "scenarios",
        nargs="*",
        metavar="SCENARIO.yaml",
        help="scenario files (default: params/baseline.yaml and params/scenarios/*.yaml)",
    )
    bat.add_argument(
        "--replicates",
        type=_count(1),
        default=4,
        help="seeds per scenario, the same for every scenario (default: %(default)s)",
    )
    bat.add_argument(
        "--first-seed",
        type=_count(0),
        default=0,
        help="the seeds are FIRST_SEED, FIRST_SEED + 1, ... (default: %(default)s)",
    )
    bat.add_argument("--agents", type=_count(1), help="initial persons (default: the scenario's)")
    bat.add_argument("--years", type=_count(1), help="simulated years (default: the scenario's)")
    bat.add_argument(
        "--jobs", type=_count(1), default=_cores(), help="scenarios at once (default: %(default)s)"
    )
    bat.add_argument("--out", default="results/batch", help="batch folder (default: %(default)s)")
    bat.add_argument(
        "--reference", default="baseline", help="scenario compared against (default: %(default)s)"
    )
    bat.add_argument(
        "--notebooks",
        help="folder of scenario.ipynb and compare.ipynb (default: the repository's notebooks/)",
    )
    bat.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="override a field in every scenario, e.g. --set policy.fee.collection=0.6 "
        "(repeatable)",
    )
    bat.add_argument(
        "--vary",
        metavar="FIELD=V1,V2,...",
        help="run each scenario once per value, named NAME_FIELD_VALUE, e.g. "
        "--vary policy.incentives.scale=0.5,1,2,3 (a dose-response)",
    )
    bat.add_argument(
        "--ensemble",
        metavar="CALIBRATION_DIR",
        help="also run every scenario under parameter sets drawn from a finished "
        "calibration's near-best trials, named NAME.set<trial>; the report shows each "
        "effect's spread across them (docs/calibration.md)",
    )
    bat.add_argument(
        "--sets",
        type=_count(1),
        default=8,
        help="parameter sets drawn for --ensemble (default: %(default)s)",
    )
    bat.add_argument(
        "--csv",
        action="store_true",
        help="also write each scenario's tables as CSV, in OUT/NAME/csv/",
    )
    bat.set_defaults(func=_batch)
    from popsim.sweeps import sweep

    swp = sub.add_parser("sweep", help="run a parameter sweep (params/sweeps/*.yaml); resumes")
    sweep.add_arguments(swp)
    swp.set_defaults(func=sweep.from_args)  # reports its own bad input (exit 2)
    cal = sub.add_parser(
        "calibrate",
        help="fit a scenario's parameters to targets (params/calibration/*.yaml); resumes",
    )
    sweep.add_arguments(cal, "calibration")
    cal.set_defaults(func=_calibrate)
    exp = sub.add_parser(
        "explore",
        help="open the interactive explorer in the browser (served on 127.0.0.1)",
    )
    exp.add_argument(
        "scenario", nargs="?", help="starting scenario YAML (default: the built-in baseline)"
    )
    exp.add_argument("--seed", type=int, default=0, help="the run's seed (default: %(default)s)")
    exp.add_argument(
        "--agents", type=_count(1), help="initial persons (default: 5000, a quick start)"
    )
    exp.add_argument("--years", type=_count(1), help="simulated years (default: the scenario's)")
    exp.add_argument(
        "--port", type=_count(1), default=8765, help="port on 127.0.0.1 (default: %(default)s)"
    )
    exp.set_defaults(func=_explore)
    sch = sub.add_parser("schema", help="print the scenario JSON Schema")
    sch.set_defaults(func=_schema)
    return top


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``popsim`` console script."""
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except ScenarioError as exc:  # popsim.analysis.batch.BatchError too
        print(f"popsim: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
