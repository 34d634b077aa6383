"""Resource guards: refuse, before any work, a run that cannot fit in memory or write its output.

A run too large for the machine ends in a ``MemoryError`` traceback after minutes (or pushes a
shared machine into swap), and an output folder that cannot be written is otherwise found only
after the simulation, losing it. Both are checked first and reported as a
:class:`~popsim.scenario.loading.ScenarioError` (exit code 2 on the command line).
"""

from __future__ import annotations

import os
import resource
import tempfile
from pathlib import Path

from popsim.scenario.loading import ScenarioError

#: Setting this environment variable to 1 skips the memory check (``simulate(check_memory=False)``
#: does the same for one call).
SKIP_MEMORY_CHECK = "POPSIM_SKIP_MEMORY_CHECK"

# Peak memory of a run above the process's memory after its imports: FIXED + n * (PER_PERSON +
# PER_PERSON_YEAR * years), n the initial persons. Measured as the peak RSS (VmHWM) of
# `simulate()` plus `results.write()` of the built-in baseline (10-year burn-in), each size in a
# fresh process, minus the RSS after `import popsim` and loading the scenario (156 MB; Linux,
# Python 3.12, numpy 2): 10k x 2 years +25 MB (2,670 bytes/person with the fixed part),
# 50k x 2 +36 MB (744), 200k x 2 +64 MB (334), 1M x 2 +224 MB (235), 50k x 20 +61 MB (1,275).
# A line through them: 24 MB + n * (155 + 28 * years) bytes. The constants are those rounded up by
# about a quarter, since a refusal is cheaper than an exhausted shared machine.
FIXED_BYTES = 30 * 2**20
PER_PERSON = 200
PER_PERSON_YEAR = 35


def estimate_peak_bytes(n_persons: int, years: int) -> int:
    """Estimated extra memory (bytes) of a run: ``n_persons`` initial persons, ``years``."""
    return int(FIXED_BYTES + n_persons * (PER_PERSON + PER_PERSON_YEAR * years))


def largest_fitting(available: int, years: int) -> int:
    """The largest initial population whose estimate fits in ``available`` bytes (0 if none)."""
    return max(0, int((available - FIXED_BYTES) // (PER_PERSON + PER_PERSON_YEAR * years)))


def _read_number(path: str, key: str | None = None) -> int | None:
    """A number from a /proc or /sys file (a ``key:`` line in kB, or the whole file in bytes)."""
    try:
        with open(path) as f:
            if key is None:
                text = f.read().strip()
                return int(text) if text.isdigit() else None
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def available_memory() -> int | None:
    """Bytes this process can still allocate, or None when nothing can tell (not Linux).

    The smallest of: MemAvailable (/proc/meminfo), the cgroup's memory.max less its usage,
    and the address-space limit (RLIMIT_AS) less the process's virtual size.
    """
    bounds = [_read_number("/proc/meminfo", "MemAvailable")]
    limit = _read_number("/sys/fs/cgroup/memory.max")
    used = _read_number("/sys/fs/cgroup/memory.current")
    if limit is not None and used is not None:
        bounds.append(limit - used)
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY:
        size = _read_number("/proc/self/status", "VmSize") or 0
        bounds.append(soft - size)
    known = [b for b in bounds if b is not None]
    return max(0, min(known)) if known else None


def _mb(n: int) -> str:
    return f"{n / 2**20:,.0f} MB"


def check_memory(
    n_persons: int, years: int, available: int | None = None, *, parallel: int = 1
) -> None:
    """Refuse a run (``parallel`` runs at once) whose estimated peak memory exceeds what is free.

    Raises:
        ScenarioError: with the estimate, the memory available, the largest size that fits
            and how to override.
    """
    if os.environ.get(SKIP_MEMORY_CHECK, "").strip().lower() in ("1", "true", "yes"):
        return
    available = available_memory() if available is None else available
    need = parallel * estimate_peak_bytes(n_persons, years)
    if available is None or need <= available:
        return
    fits = largest_fitting(available // parallel, years)
    runs = f"{parallel} runs at once of " if parallel > 1 else ""
    each = " each" if parallel > 1 else ""
    raise ScenarioError(
        f"{runs}{n_persons:,} persons over {years} years need an estimated {_mb(need)} of memory, "
        f"but only {_mb(available)} is available (free memory, cgroup and address-space "
        f"limits); the largest population that fits over {years} years is about {fits:,} "
        f"persons{each}. Use fewer persons (--agents), fewer years or fewer parallel runs, free "
        f"memory, or set "
        f"{SKIP_MEMORY_CHECK}=1 to run anyway."
    )


def check_writable(folder: str | Path, option: str = "--out") -> Path:
    """Make sure ``folder`` can hold output: create it if needed and write a temporary file.

    Folders it had to create are removed again, so a command refused later writes nothing.

    Raises:
        ScenarioError: naming the option, the path and why it cannot be written.
    """
    folder = Path(folder)
    created: list[Path] = []
    try:
        if folder.exists() and not folder.is_dir():
            raise ScenarioError(f"{option} {folder}: exists and is not a folder.")
        missing = [p for p in (folder, *folder.parents) if not p.exists()]
        folder.mkdir(parents=True, exist_ok=True)
        created = missing
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".popsim-write-test-"):
            pass
    except OSError as exc:
        why = exc.strerror or type(exc).__name__
        raise ScenarioError(
            f"{option} {folder}: cannot write there ({why}: {exc.filename or folder}); "
            "choose a folder you can write to."
        ) from None
    finally:
        for path in created:
            try:
                path.rmdir()
            except OSError:
                break
    return folder
