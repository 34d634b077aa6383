"""Executing one notebook through papermill, all or nothing, and as HTML without code.

The kernel must run this interpreter (:func:`kernel_command`); a kernel that fails to start
is retried; the executed notebook is renamed into place only when every cell ran, and a
failed one is kept apart for reading. :func:`logging_to` sends papermill's log and the
kernel's own output to a file.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from popsim.outputs.results import atomic_write
from popsim.scenario.loading import ScenarioError

KERNEL = "python3"  # the notebooks' kernel; must run this interpreter (see kernel_command)
START_ATTEMPTS = 3  # parallel kernel starts race for ports now and then: retry those only
_UMASK = os.umask(0)
os.umask(_UMASK)


class KernelError(ScenarioError):
    """The notebooks' kernel is missing or runs another environment; the message says why."""


def kernel_command() -> list[str]:
    """The command that the ``python3`` kernel spec runs; it must be this interpreter.

    jupyter_client replaces a bare ``python`` with ``sys.executable``; the spec that
    ipykernel installs into every environment is of that kind. A spec registered with
    ``ipykernel install --name python3`` that names another interpreter would run the
    notebooks in the wrong environment, so it is refused.
    """
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        spec = KernelSpecManager().get_kernel_spec(KERNEL)
    except NoSuchKernel:
        raise KernelError(
            f"no Jupyter kernel {KERNEL!r}: install ipykernel into this environment "
            f"({sys.executable} -m pip install ipykernel)."
        ) from None
    argv = list(spec.argv)
    bare = {"python", f"python{sys.version_info[0]}", "python{}.{}".format(*sys.version_info[:2])}
    if argv and argv[0] in bare:
        argv[0] = sys.executable
    if not argv or os.path.abspath(argv[0]) != os.path.abspath(sys.executable):
        raise KernelError(
            f"the Jupyter kernel {KERNEL!r} ({spec.resource_dir}) runs {argv[:1]}, not this "
            f"environment's {sys.executable}; remove that kernel spec "
            f"(jupyter kernelspec remove {KERNEL}) so that ipykernel's own is used."
        )
    return argv


def _started(nb_path: Path) -> bool:
    """Whether papermill began any cell of the notebook it was writing to ``nb_path``."""
    try:
        cells = json.loads(nb_path.read_text())["cells"]
    except (OSError, ValueError, KeyError):
        return False
    return any(c.get("metadata", {}).get("papermill", {}).get("start_time") for c in cells)


def execute(
    source: Path, target: Path, params: dict[str, Any], cwd: Path, log=None, *, failed: Path
) -> int:
    """Run ``source`` through papermill into ``target`` (all or nothing); return the attempts.

    A failure before any cell started is a kernel-start failure and is retried; a cell's
    error raises papermill's PapermillExecutionError, and the executed notebook is kept
    at ``failed`` for reading.
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    failed.unlink(missing_ok=True)
    for attempt in range(1, START_ATTEMPTS + 1):
        fd, tmp_name = tempfile.mkstemp(
            dir=target.parent, prefix=f".{target.stem}.", suffix=".ipynb"
        )
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            papermill.execute_notebook(
                str(source),
                str(tmp),
                parameters=params,
                kernel_name=KERNEL,
                cwd=str(cwd),
                progress_bar=False,
                log_output=log is not None,
            )
            _publish(tmp, target)
            return attempt
        except PapermillExecutionError:
            _publish(tmp, failed)
            raise
        except Exception as exc:
            started = _started(tmp)
            if started:
                _publish(tmp, failed)
            if started or attempt == START_ATTEMPTS:
                raise
            if log is not None:
                log.warning("kernel start failed (attempt %d): %r; retrying", attempt, exc)
        finally:
            tmp.unlink(missing_ok=True)
    raise AssertionError("unreachable")


def _publish(tmp: Path, path: Path) -> None:
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes it private; results are for sharing
    os.replace(tmp, path)


def describe(exc: BaseException) -> str:
    """One line for a failure: the notebook cell and its error, or the exception."""
    if hasattr(exc, "exec_count") and hasattr(exc, "ename"):
        evalue = " ".join(str(exc.evalue).split())
        return f"cell In [{exc.exec_count}]: {exc.ename}: {evalue}"
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}"


@contextmanager
def logging_to(path: Path):
    """Append papermill's log, with the notebook's output, to ``path``; yield (file, logger)."""
    with open(path, "a", encoding="utf-8") as fh:
        handler = logging.StreamHandler(fh)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        log = logging.getLogger("papermill")
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False  # nothing on the terminal under the progress bar
        # The kernel inherits file descriptors 1 and 2: its own messages go to the log too.
        sys.stdout.flush()
        sys.stderr.flush()
        saved = [os.dup(1), os.dup(2)]
        os.dup2(fh.fileno(), 1)
        os.dup2(fh.fileno(), 2)
        try:
            yield fh, log
        finally:
            fh.flush()
            sys.stdout.flush()
            sys.stderr.flush()
            for fd, old in zip((1, 2), saved, strict=True):
                os.dup2(old, fd)
                os.close(old)
            log.removeHandler(handler)


def now() -> str:
    """The local time, to the second, for log lines."""
    return datetime.now().astimezone().isoformat(timespec="seconds")


# JupyterLab's page without what it fetches from a CDN (require.js, MathJax, Mermaid, the
# widgets' renderer): offline those fail and log errors, and the reports need none of them.
_OFFLINE_TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
"""


def export_html(notebook: Path, html: Path, *, title: str = "popsim report") -> None:
    """Standalone HTML of an executed notebook: outputs and text only, images embedded.

    The page loads nothing from the network, so it reads the same offline.
    """
    import nbformat
    from jinja2 import DictLoader  # nbconvert's template engine
    from nbconvert import HTMLExporter

    nb = nbformat.read(notebook, as_version=4)
    exporter = HTMLExporter(
        extra_loaders=[DictLoader({"offline.html.j2": _OFFLINE_TEMPLATE})],
        template_file="offline.html.j2",
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        embed_images=True,
    )
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": title}})
    atomic_write(html, lambda tmp: Path(tmp).write_text(body, encoding="utf-8"))
