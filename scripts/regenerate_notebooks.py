"""Re-execute the notebooks in place: their committed outputs are the nbval reference.

Usage (from the repository root)::

    ./dev shell python scripts/regenerate_notebooks.py            # all of notebooks/*.ipynb
    ./dev shell python scripts/regenerate_notebooks.py compare    # only notebooks/compare.ipynb

Each notebook runs top to bottom with its default parameters, on the current environment's
``python3`` kernel, with ``notebooks/`` as the working directory (as under nbval). The scenario
notebook's default output folder is removed first, so its outputs come from a fresh run rather
than a reused folder. A cell that fails or writes to stderr (a warning, say) stops the script
and leaves the notebook untouched: nbval compares stderr too. Execution timings are not
recorded and the Python version is dropped from the metadata, so running the script twice gives
the same files, figures aside (cells marked ``# NBVAL_IGNORE_OUTPUT``). A live widget's outputs
(the explorer's) are dropped: they show nothing without the kernel that made them.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
#: Output folders the notebooks write with their default parameters (under the repository root).
DEFAULT_OUTPUTS = {"scenario": ROOT / "results" / "notebook-scenario"}
#: output types of a live widget and its loader, dropped from the committed outputs
WIDGET = {"application/vnd.jupyter.widget-view+json", "application/javascript"}
KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}


def regenerate(path: Path) -> float:
    """Execute ``path`` in place; return the wall time in seconds."""
    nb = nbformat.read(path, as_version=4)
    shutil.rmtree(DEFAULT_OUTPUTS.get(path.stem, ROOT / "nonexistent"), ignore_errors=True)
    started = time.perf_counter()
    client = NotebookClient(
        nb,
        kernel_name="python3",
        timeout=600,
        record_timing=False,
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    client.execute()
    elapsed = time.perf_counter() - started
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                raise RuntimeError(f"{path.name}: a cell wrote to stderr:\n{out['text']}")
    for cell in nb.cells:  # a live widget (the explorer) shows nothing without its kernel
        if cell.cell_type != "code":
            continue
        cell["outputs"] = [
            out for out in cell.get("outputs", []) if not WIDGET.intersection(out.get("data", {}))
        ]
    nb.metadata.pop("widgets", None)  # and so does its saved state
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata.get("language_info", {}).pop("version", None)
    nbformat.validate(nb)
    nbformat.write(nb, path)
    return elapsed


def main(argv: list[str] | None = None) -> int:
    """Regenerate the named notebooks (default: all), printing each one's wall time."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="notebook names without .ipynb (default: all)")
    args = parser.parse_args(argv)
    paths = [NOTEBOOKS / f"{n.removesuffix('.ipynb')}.ipynb" for n in args.names] or sorted(
        NOTEBOOKS.glob("*.ipynb")
    )
    for path in paths:
        print(f"{path.relative_to(ROOT)}: {regenerate(path):.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
