"""Scenario files: YAML with ``extends:`` inheritance and dotted overrides.

Every failure becomes a :class:`ScenarioError` whose one-paragraph message
names the file, the dotted field path, the offending value and what is allowed,
so the CLI can print it and exit 2 without a traceback.
"""

from __future__ import annotations

import difflib
import reprlib
from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from pydantic import BaseModel, ValidationError

from popsim.scenario.demography import Scenario

DEFAULTS = "built-in defaults"
OVERRIDE = "overrides"
MAX_DEPTH = 64  #: nesting a YAML file may have; scenario files need about 5
SEED_MAX = 2**63 - 1  #: the largest seed: the random streams use seeds modulo 2**64
SEED_RULE = f"must be an integer from 0 to 2**63-1 ({SEED_MAX})"

#: fields that no longer exist, and what replaced them
REPLACED = {
    ("policy", "rules", "change_year"): "a dated change in 'timeline' (docs/model.md, 'Timeline')",
    ("policy", "rules", "regime_after"): "a dated change in 'timeline' (docs/model.md, 'Timeline')",
}

_SHORT = reprlib.Repr(maxlevel=2, maxtuple=8, maxlist=8, maxdict=8, maxstring=80, maxother=80)
SHOWN_MAX = 200  #: characters of a value shown in an error message


class ScenarioError(ValueError):
    """A scenario file or override that cannot be used; the message says why."""


def shown(value: Any) -> str:
    """A value for an error message: short and cheap even for a huge aliased YAML tree."""
    if isinstance(value, (list, tuple, dict)) and len(value) >= 8:
        return f"a {type(value).__name__} of {len(value)} items"
    text = _SHORT.repr(value)
    return text if len(text) <= SHOWN_MAX else text[: SHOWN_MAX - 3] + "..."


def valid_seed(seed: Any) -> bool:
    """Whether ``seed`` is a usable seed: an integer (not a bool) in [0, 2**63-1].

    Larger seeds would wrap around: 2**64 + 1 gave the same draws as 1.
    """
    return (
        isinstance(seed, (int, np.integer))
        and not isinstance(seed, bool)
        and 0 <= int(seed) <= SEED_MAX
    )


class _TooDeep(yaml.YAMLError):
    def __init__(self, mark: Any) -> None:
        super().__init__(f"nested more than {MAX_DEPTH} levels deep")
        self.problem_mark = mark


class _StrictLoader(yaml.SafeLoader):
    """Safe YAML that also refuses duplicate keys (a silent last-one-wins hides typos).

    Nesting is limited to :data:`MAX_DEPTH` levels: the composer recurses, and a file
    nested hundreds deep would otherwise end in a RecursionError.
    """

    _depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        """One node, counting how deep it is."""
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _TooDeep(self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _mapping_without_duplicates(loader: _StrictLoader, node: yaml.MappingNode) -> dict:
    seen: set = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if not isinstance(key, Hashable):
            continue  # construct_mapping below reports it as "found unhashable key"
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {shown(key)}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node)


_StrictLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_duplicates
)


def read_yaml(path: Path, kind: str = "scenario", error: type[Exception] = ScenarioError) -> dict:
    """A YAML file of ``kind`` (scenario, sweep, ...) as a mapping; ``error`` names the problem.

    Plain YAML only (no tags), no duplicate keys; an empty file is an empty mapping.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{path}: {kind} file not found.") from None
    except IsADirectoryError:
        raise error(f"{path}: is a folder; a {kind} file (YAML) is needed.") from None
    except UnicodeDecodeError as exc:
        raise error(
            f"{path}: not UTF-8 text (byte {exc.start}: {exc.reason}); {kind} files must be UTF-8."
        ) from None
    except OSError as exc:
        raise error(f"{path}: cannot read the {kind} file ({exc.strerror}).") from None
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.constructor.ConstructorError as exc:
        where = _mark(exc.problem_mark)
        if "constructor for the tag" in str(exc.problem):
            raise error(
                f"{path}{where}: {exc.problem}. {kind.capitalize()} files are plain YAML; tags "
                "such as !!python/object are not allowed."
            ) from None
        raise error(f"{path}{where}: {exc.problem}.") from None
    except _TooDeep as exc:
        raise error(
            f"{path}{_mark(exc.problem_mark)}: values nested more than {MAX_DEPTH} levels deep; "
            f"{kind} files need only a few levels."
        ) from None
    except RecursionError:
        raise error(f"{path}: too deeply nested to read.") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = " ".join(str(getattr(exc, "problem", None) or exc).split())  # one line
        raise error(f"{path}{_mark(mark)}: YAML syntax error: {problem}.") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise error(
            f"{path}: a {kind} file must be a mapping of keys to values, "
            f"found {type(data).__name__}."
        )
    return data


def _mark(mark: Any) -> str:
    return f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""


def merge(base: dict, top: Mapping, origins: dict, source: str, prefix: tuple = ()) -> dict:
    """Deep-merge ``top`` into ``base``; record which source set each leaf.

    A mapping of indices set on a table (``prob_no_son: {2: 0.6}``, or the override
    ``policy.sex_selection.prob_no_son.2``) replaces those entries of the table below it, or of
    the schema's default, so that a calibration or a sweep can vary one entry of a table; an
    entry that is itself a mapping (a change of a ``timeline``) is merged field by field.
    """
    out = dict(base)
    for key, value in top.items():
        path = (*prefix, key)
        if _indices(value) and isinstance(table := out.get(key, _default(path)), list | tuple):
            out[key] = _with_entries(table, value, source, path, origins)
            origins[path] = source
        elif isinstance(value, Mapping) and isinstance(out.get(key, {}), Mapping):
            if key not in out:
                origins[path] = source
            out[key] = merge(out.get(key, {}), value, origins, source, path)
        else:
            out[key] = value
            origins[path] = source
    return out


def _indices(value: Any) -> bool:
    """Whether ``value`` is a mapping of entry indices (0, 1, ... or '0', '1', ...)."""
    return (
        isinstance(value, Mapping)
        and bool(value)
        and all(
            (isinstance(k, int) and not isinstance(k, bool)) or (isinstance(k, str) and k.isdigit())
            for k in value
        )
    )


def _default(path: tuple) -> Any:
    """The schema's default at ``path``, or None where the path leaves the schema."""
    model: Any = Scenario
    for part in path:
        field = model.model_fields.get(part) if isinstance(part, str) else None
        if field is None:
            return None
        model = field.annotation
    return field.get_default(call_default_factory=True)


def _with_entries(
    table: list | tuple, entries: Mapping, source: str, path: tuple, origins: dict
) -> tuple:
    """``table`` with the indexed ``entries`` replaced; a mapping is merged into its entry.

    So ``timeline.1.announced`` changes one field of a timeline's second change.
    """
    values = list(table)
    for key, value in entries.items():
        index = int(key)
        if index >= len(values):
            raise ScenarioError(
                f"{source}: field '{'.'.join(map(str, (*path, key)))}': the table has "
                f"{len(values)} entries, numbered 0 to {len(values) - 1}."
            )
        if isinstance(value, Mapping) and isinstance(values[index], Mapping):
            value = merge(values[index], value, origins, source, (*path, index))
        values[index] = value
    return tuple(values)


def _read_tree(path: Path, chain: tuple[Path, ...], origins: dict) -> dict:
    """A file's values with its ``extends`` ancestors merged underneath."""
    path = path.resolve()
    if path in chain:
        cycle = " -> ".join(str(p) for p in (*chain, path))
        raise ScenarioError(f"{chain[-1]}: field 'extends' makes a cycle: {cycle}.")
    data = read_yaml(path)
    parent = data.pop("extends", None)
    base: dict = {}
    if parent is not None:
        if not isinstance(parent, str) or not parent:
            raise ScenarioError(
                f"{path}: field 'extends' must be a relative or absolute file path, "
                f"got {shown(parent)}."
            )
        parent_path = path.parent / parent
        if parent_path.is_dir():
            raise ScenarioError(
                f"{path}: field 'extends' names {parent!r}, but {parent_path} is a folder; "
                "'extends' needs a scenario file (YAML)."
            )
        if not parent_path.is_file():
            raise ScenarioError(
                f"{path}: field 'extends' names {parent!r}, but {parent_path} does not exist."
            )
        base = _read_tree(parent_path, (*chain, path), origins)
    return merge(base, data, origins, str(path))


def override_keys(dotted: str) -> list[str]:
    """The keys a dotted override follows into a scenario's values.

    A timeline change sets dotted fields, so in ``timeline.3.set.policy.decision.try_rate``
    everything after ``set`` is one key: the field the fourth change sets.
    """
    parts = str(dotted).split(".")
    if len(parts) > 4 and parts[0] == "timeline" and parts[2] == "set":
        return [*parts[:3], ".".join(parts[3:])]
    return parts


def nest(overrides: Mapping[str, Any]) -> dict:
    """Dotted overrides (``{"demography.srb": 1.07}``) as the nested mapping :func:`merge` takes."""
    nested: dict = {}
    for dotted, value in overrides.items():
        parts = override_keys(dotted)
        if not all(parts):
            raise ScenarioError(
                f"{OVERRIDE}: {dotted!r} is not a dotted field path such as 'demography.srb'."
            )
        node = nested
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ScenarioError(
                    f"{OVERRIDE}: {dotted!r} sets a field inside "
                    f"{part!r}, which is itself set to a value."
                )
        node[parts[-1]] = value
    return nested


def _model_at(loc: tuple) -> type[BaseModel] | None:
    """The schema section that holds the field at ``loc[-1]``."""
    model: type[BaseModel] = Scenario
    for key in loc[:-1]:
        field = model.model_fields.get(key) if isinstance(key, str) else None
        annotation = field.annotation if field else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return None
        model = annotation
    return model


def _describe(error: dict, origins: dict) -> str:
    loc = tuple(error["loc"])
    value = error.get("input")
    if error["type"] == "cross_field":  # found at a section, about one of its fields
        ctx = error["ctx"]
        loc = (*loc, *(int(p) if p.isdigit() else p for p in ctx["field"].split(".")))
        value = ctx["value"]
    dotted = ".".join(str(p) for p in loc) or "(top level)"
    source = next(
        (origins[loc[:i]] for i in range(len(loc), 0, -1) if loc[:i] in origins), DEFAULTS
    )
    if error["type"] == "extra_forbidden":
        model = _model_at(loc)
        known = sorted(model.model_fields) if model else []
        close = difflib.get_close_matches(str(loc[-1]), known, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        if loc in REPLACED:
            hint = f" It was replaced by {REPLACED[loc]}."
        return f"{source}: unknown field '{dotted}'.{hint} Allowed here: {', '.join(known)}."
    return f"{source}: field '{dotted}' = {shown(value)}: {error['msg']}."


def validate(data: Mapping, origins: dict | None = None) -> Scenario:
    """Validate a merged scenario mapping, turning pydantic's errors into one paragraph."""
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        lines = [_describe(e, origins or {}) for e in exc.errors(include_url=False)]
        head = (
            "invalid scenario: "
            if len(lines) == 1
            else f"invalid scenario ({len(lines)} problems): "
        )
        raise ScenarioError(head + " ".join(lines)) from None


def load_scenario(
    path: str | Path | None = None, overrides: Mapping[str, Any] | None = None
) -> Scenario:
    """Read, merge and validate a scenario.

    Args:
        path: a YAML scenario file; ``None`` gives the built-in defaults (the
            baseline township).
        overrides: dotted field paths and values applied last, e.g.
            ``{"demography.srb": 1.07}``.

    Raises:
        ScenarioError: naming the file, field, value and what is allowed.
    """
    origins: dict = {}
    data = _read_tree(Path(path), (), origins) if path is not None else {}
    if overrides:
        data = merge(data, nest(overrides), origins, OVERRIDE)
    return validate(data, origins)


def parse_override(text: str) -> tuple[str, Any]:
    """``'demography.srb=1.07'`` -> ``('demography.srb', 1.07)``, the value read as YAML."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ScenarioError(f"{OVERRIDE}: {text!r} is not of the form dotted.field=value.")
    try:
        value = yaml.load(raw, Loader=_StrictLoader) if raw.strip() else ""  # noqa: S506
    except _TooDeep:
        raise ScenarioError(
            f"{OVERRIDE}: {key.strip()!r}: the value is nested more than {MAX_DEPTH} levels deep."
        ) from None
    except yaml.YAMLError:
        value = raw
    return key.strip(), value
