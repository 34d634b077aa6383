"""environment.yml (conda) must agree with pyproject.toml (pip).

Every runtime dependency and every dependency of the extras ./dev installs (``test``, ``viz``)
must be pinned in environment.yml to a version that pyproject's specifier accepts, the python
pin must satisfy ``requires-python``, and the pip section must install the package itself.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = ROOT / "pyproject.toml"
ENVIRONMENT = ROOT / "environment.yml"

# PyPI name (canonicalised) -> conda-forge name, where they differ. PyYAML needs no entry:
# canonicalize_name("PyYAML") is already conda-forge's "pyyaml". conda-forge's "matplotlib"
# also pulls in a Qt GUI toolkit; "matplotlib-base" is the same library without it.
PYPI_TO_CONDA: dict[str, str] = {"matplotlib": "matplotlib-base"}

# Conda has no pip-style extras: packages that an extra pulls in must be listed by hand.
EXTRA_PROVIDES = {
    ("mesa", "network"): ["networkx"],
    ("dask", "distributed"): ["distributed"],
    ("mesa", "viz"): ["altair", "solara", "starlette", "matplotlib-base"],
}
#: the extras ./dev installs, whose packages environment.yml must pin too
INSTALLED_EXTRAS = ("test", "viz")

# A conda match spec: optional "channel::" prefix, name, optional operator and version,
# optional build string ("numpy=2.1.3=py312h...").
CONDA_SPEC = re.compile(
    r"^(?:[\w.-]+::)?(?P<name>[A-Za-z0-9_.-]+)\s*"
    r"(?:(?P<op>==|=|>=|<=|!=|>|<|~=)\s*(?P<version>[^=\s]+)(?:=\S+)?)?\s*$"
)


def _pyproject() -> dict:
    with PYPROJECT.open("rb") as fh:
        return tomllib.load(fh)


def _environment() -> dict:
    with ENVIRONMENT.open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    assert isinstance(data, dict), "environment.yml must be a mapping"
    return data


def _conda_name(pypi_name: str) -> str:
    name = canonicalize_name(pypi_name)
    return PYPI_TO_CONDA.get(name, name)


def _conda_pins() -> dict[str, tuple[str | None, str | None]]:
    """Map canonical conda package name -> (operator, version) from environment.yml."""
    pins: dict[str, tuple[str | None, str | None]] = {}
    for entry in _environment().get("dependencies") or []:
        if not isinstance(entry, str):  # the {"pip": [...]} section
            continue
        match = CONDA_SPEC.match(entry.strip())
        assert match, f"environment.yml: cannot parse conda dependency {entry!r}"
        name = canonicalize_name(match["name"])
        assert name not in pins, f"environment.yml lists {name!r} twice"
        pins[name] = (match["op"], match["version"])
    return pins


def _pip_section() -> list[str]:
    for entry in _environment().get("dependencies") or []:
        if isinstance(entry, dict) and "pip" in entry:
            return [str(item) for item in entry["pip"] or []]
    return []


def _requirements() -> list[tuple[str, Requirement]]:
    project = _pyproject()["project"]
    reqs = [("dependencies", Requirement(r)) for r in project.get("dependencies", [])]
    extras = project.get("optional-dependencies", {})
    for name in INSTALLED_EXTRAS:
        reqs += [(f"{name} extra", Requirement(r)) for r in extras.get(name, [])]
    return reqs


def _requirement_params() -> list:
    return [
        pytest.param(section, req, id=f"{section.split()[0]}:{canonicalize_name(req.name)}")
        for section, req in _requirements()
    ]


def _pinned_version(
    name: str, pins: dict[str, tuple[str | None, str | None]], wanted: object = "any version"
) -> Version:
    op, version = pins[name]
    assert op in ("=", "==") and version and "*" not in version, (
        f"environment.yml: {name} must be pinned exactly (name=version), got "
        f"{name}{op or ''}{version or ''}; pyproject.toml wants {wanted}"
    )
    try:
        return Version(version)
    except InvalidVersion:
        pytest.fail(f"environment.yml: {name} pin {version!r} is not a valid version")


def test_files_exist() -> None:
    assert PYPROJECT.is_file()
    assert ENVIRONMENT.is_file()


def test_conda_forge_channel() -> None:
    assert "conda-forge" in (_environment().get("channels") or [])


@pytest.mark.parametrize(("section", "req"), _requirement_params())
def test_dependency_pinned_within_pyproject_range(section: str, req: Requirement) -> None:
    pins = _conda_pins()
    name = _conda_name(req.name)
    assert name in pins, (
        f"{req.name} ({section}: {req.specifier or 'any version'}) is missing from "
        f"environment.yml's conda dependencies (expected conda-forge name {name!r})"
    )
    pinned = _pinned_version(name, pins, req.specifier or "any version")
    assert req.specifier.contains(pinned, prereleases=True), (
        f"{req.name}: environment.yml pins {pinned}, which does not satisfy pyproject.toml's "
        f"{section} specifier {req.specifier!s}"
    )


def test_packages_from_extras_are_pinned() -> None:
    pins = _conda_pins()
    for section, req in _requirements():
        for extra in sorted(req.extras):
            for needed in EXTRA_PROVIDES.get((canonicalize_name(req.name), extra), []):
                assert needed in pins, (
                    f"{req.name}[{extra}] ({section}) needs {needed}, which is missing from "
                    "environment.yml's conda dependencies"
                )
                _pinned_version(needed, pins)


def test_python_pin_satisfies_requires_python() -> None:
    requires = SpecifierSet(_pyproject()["project"]["requires-python"])
    pins = _conda_pins()
    assert "python" in pins, "environment.yml does not pin python"
    pinned = _pinned_version("python", pins, f"requires-python {requires}")
    assert requires.contains(pinned), (
        f"python: environment.yml pins {pinned}, which does not satisfy pyproject.toml's "
        f"requires-python {requires!s}"
    )


def test_pip_section_installs_the_package_itself() -> None:
    entries = _pip_section()
    local = [
        e for e in entries if re.fullmatch(r"(?:-e\s+|--editable[\s=]+)?\.(?:\[[\w,\s-]+\])?", e)
    ]
    assert local, (
        "environment.yml's pip section must install the package itself "
        f"(e.g. '-e .[test]'); found {entries!r}"
    )


def test_jupyterlab_only_in_the_lab_extra() -> None:
    # With jupyterlab installed every `import nbformat` takes about a second more, which
    # papermill and nbval pay once per notebook: the runtime and test paths must not pull it in.
    installed = {canonicalize_name(req.name) for _, req in _requirements()} | set(_conda_pins())
    assert "jupyterlab" not in installed, "jupyterlab belongs in the [lab] extra only"
    lab = _pyproject()["project"].get("optional-dependencies", {}).get("lab", [])
    assert "jupyterlab" in {canonicalize_name(Requirement(r).name) for r in lab}
