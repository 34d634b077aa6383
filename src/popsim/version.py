"""The package version, and a fingerprint of the code that produced a result."""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

__version__ = "0.1.0"


@cache
def code_version() -> str:
    """``VERSION+HASH``: the release plus a hash of every source and data file of the package.

    Results carry it, so a batch or sweep resumed after the model changed recomputes
    instead of reusing outputs of the old code.
    """
    root = Path(__file__).parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.suffix in {".py", ".csv"} and "__pycache__" not in path.parts:
            digest.update(path.relative_to(root).as_posix().encode())
            digest.update(path.read_bytes())
    return f"{__version__}+{digest.hexdigest()[:12]}"
