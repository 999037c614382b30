"""Bounded reading of the YAML and JSON that users hand to ATS (job configs, ``--param``
values, the console's settings).

Hostile or broken input must cost little and fail in one line naming the file:

- files above :data:`MAX_CONFIG_BYTES` are refused before they are parsed;
- YAML aliases (``*name``) are refused: a few lines of nested aliases expand to billions
  of nodes (the "billion laughs" bomb) once anything walks or prints the result, and a
  job config never needs them;
- YAML nested deeper than :data:`MAX_DEPTH` is refused (deep nesting overflows recursive
  parsers and validators);
- JSON's ``NaN``/``Infinity`` are refused (numbers must be finite).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from ats.exceptions import ConfigError

MAX_CONFIG_BYTES = 1 << 20
"""1 MiB: a job config is a few hundred bytes; this leaves room for long parameter lists."""
MAX_DEPTH = 64
"""Nested mappings/lists allowed in one document."""


class RefusedYaml(ConfigError):
    """Well-formed YAML that is refused: an alias, too deep, too big."""


_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's loader when installed: the alias/depth scan below then costs ~0.15 µs/byte."""


def read_config_text(path: str | Path, *, limit: int = MAX_CONFIG_BYTES) -> str:
    """The UTF-8 text of ``path``; ConfigError naming the file if unreadable or too big."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise ConfigError(f"{path}: file is larger than {limit:,} bytes; not a config file?")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: not UTF-8 text (byte {data[exc.start]:#04x} at offset {exc.start})"
        ) from None


def parse_yaml(text: str, *, source: str) -> Any:
    """One YAML document, without aliases and at most :data:`MAX_DEPTH` deep.

    ConfigError reads ``"<source> line N: <problem>"``.
    """
    if len(text) > MAX_CONFIG_BYTES:
        raise RefusedYaml(f"{source}: more than {MAX_CONFIG_BYTES:,} characters of YAML")
    try:
        _check_events(text, source)
        return yaml.load(text, Loader=_Loader)  # a safe loader (libyaml's or Python's)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{source}{where}: invalid YAML: {problem}") from None


def _check_events(text: str, source: str) -> None:
    """Refuse aliases and deep nesting from the parser's event stream, before anything
    is built (libyaml parses without building nodes, so this is cheap)."""
    depth = 0
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, yaml.AliasEvent):
            line = event.start_mark.line + 1 if event.start_mark else "?"
            raise RefusedYaml(
                f"{source} line {line}: YAML aliases (*{event.anchor}) are not allowed; "
                "write the value out"
            )
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                line = event.start_mark.line + 1 if event.start_mark else "?"
                raise RefusedYaml(f"{source} line {line}: nested more than {MAX_DEPTH} levels")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def parse_yaml_value(text: str, *, source: str) -> Any:
    """A value typed on a command line or in a form (``50``, ``0.1``, ``[1, 2]``): YAML
    within the same bounds, or the text itself when it is not valid YAML."""
    try:
        return parse_yaml(text, source=source)
    except RefusedYaml:
        raise
    except ConfigError:
        return text


def load_yaml_file(path: str | Path) -> Any:
    """:func:`read_config_text` then :func:`parse_yaml`, errors naming ``path``."""
    return parse_yaml(read_config_text(path), source=str(path))


def parse_json(text: str, *, source: str) -> Any:
    """JSON with finite numbers only; ConfigError naming ``source`` otherwise."""
    if len(text) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{source}: more than {MAX_CONFIG_BYTES:,} characters of JSON")
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise ConfigError(f"{source}: JSON nested too deeply") from None
    except ValueError as exc:
        raise ConfigError(f"{source}: invalid JSON: {exc}") from None


def load_json_file(path: str | Path) -> Any:
    return parse_json(read_config_text(path), source=str(path))


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed (numbers must be finite)")
