"""Proof that an output is complete, and one writer per output folder.

A manifest records every file it vouches for with its size and SHA-256 (:func:`record`);
an output is complete only when every listed file still matches (:func:`mismatch`), so a
truncated or corrupted file is recomputed instead of trusted. Hidden temporaries of a
killed write are removed (:func:`clean`). :func:`folder_lock` keeps a second process out
of a folder being written, and names the holder.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from popsim.scenario.loading import ScenarioError

LOCK = ".lock"
# atomic_write's ".NAME.*.tmp" and papermill's ".scenario.*.ipynb" / ".compare.*.ipynb"
TEMPORARIES = (".*.tmp", ".scenario.*.ipynb", ".compare.*.ipynb")


class LockError(ScenarioError):
    """Another live process is writing into the output folder; the message names it."""


def digest(path: Path) -> dict[str, int | str]:
    """Size and SHA-256 of a file's bytes."""
    sha = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            sha.update(chunk)
    return {"bytes": path.stat().st_size, "sha256": sha.hexdigest()}


def record(folder: Path, names: Iterable[str]) -> dict[str, dict]:
    """``{relative name: digest}`` of files under ``folder``, for a manifest."""
    return {name: digest(Path(folder) / name) for name in sorted(names)}


def mismatch(folder: Path, files: object) -> str | None:
    """Why the files listed in a manifest are not all intact, or None if they are."""
    if not isinstance(files, dict) or not files:
        return "the manifest lists no file sizes and hashes"
    for name, expected in files.items():
        path = Path(folder) / name
        if not path.is_file():
            return f"{name} is missing"
        if not isinstance(expected, dict) or path.stat().st_size != expected.get("bytes"):
            return f"{name} did not match its manifest"
        if digest(path)["sha256"] != expected.get("sha256"):
            return f"{name} did not match its manifest"
    return None


def clean(*folders: Path) -> None:
    """Remove the hidden temporaries that a killed write left in ``folders``."""
    for folder in folders:
        if Path(folder).is_dir():
            for pattern in TEMPORARIES:
                for stale in Path(folder).glob(pattern):
                    stale.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def folder_lock(out: Path, what: str, error: type[Exception] = LockError) -> Iterator[str]:
    """Hold ``out/.lock`` while writing ``out``; yield a note if a dead holder's lock was taken.

    The lock is an ``flock`` on the file, which the kernel releases when its holder dies;
    the file also names its holder (pid, start time), for the message a second process
    gets and to tell that a lock left behind was taken over.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise error(f"--out {out}: exists and is not a folder.")
    out.mkdir(parents=True, exist_ok=True)
    fd = os.open(out / LOCK, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            import fcntl
        except ImportError:  # no fcntl (Windows): no lock
            fcntl = None
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = os.pread(fd, 4096, 0).decode(errors="replace").split()
                pid, started = (holder + ["unknown", ""])[:2]
                raise error(
                    f"--out {out}: another popsim {what} is writing into this folder "
                    f"(pid {pid}, started {started or 'at an unknown time'}); wait for it to "
                    "finish, or choose another folder. Two writers in one folder would "
                    "overwrite each other's files."
                ) from None
        previous = os.pread(fd, 4096, 0).decode(errors="replace").split()
        note = ""
        if previous and previous[0].isdigit() and int(previous[0]) != os.getpid():
            if not _alive(int(previous[0])):
                note = f"took over the lock of pid {previous[0]}, which is no longer running"
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {stamp} {what}\n".encode(), 0)
        try:
            yield note
        finally:
            os.ftruncate(fd, 0)  # a holder named in the file is one that did not finish
    finally:
        os.close(fd)
