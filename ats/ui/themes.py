"""Colour themes from ``themes/*.toml``, registered in Textual's theme registry.

A theme file holds the fields of :class:`textual.theme.Theme` (``name``, ``primary``,
``background``, ``dark``, ...) plus an optional ``[variables]`` table. A broken file is
reported and skipped; it never stops the console from starting.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from textual.color import Color, ColorParseError
from textual.theme import Theme

from ats import workspace
from ats.exceptions import ConfigError
from ats.utils.config_files import read_config_text

DEFAULT_THEME = "ats-dark"
FALLBACK_THEME = "textual-dark"
BUNDLED_THEMES = workspace.bundled(workspace.THEMES)
"""The stock themes shipped with the package (a clone's own ``themes/``)."""

_COLOR_FIELDS = (
    "primary",
    "secondary",
    "warning",
    "error",
    "success",
    "accent",
    "foreground",
    "background",
    "surface",
    "panel",
    "boost",
)
_OTHER_FIELDS = {"name", "dark", "luminosity_spread", "text_alpha", "variables", "ansi"}
_ALLOWED = set(_COLOR_FIELDS) | _OTHER_FIELDS


class ThemeFileError(ValueError):
    """A theme file that cannot be used; the message names the file and the field."""


@dataclass(slots=True)
class ThemeSet:
    themes: list[Theme] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        return [theme.name for theme in self.themes]


def parse_theme(data: dict[str, Any], *, source: str = "theme") -> Theme:
    """Validate the decoded TOML of one theme and build the Theme."""
    unknown = sorted(set(data) - _ALLOWED)
    if unknown:
        raise ThemeFileError(f"{source}: unknown field {unknown[0]!r}")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ThemeFileError(f"{source}: 'name' must be a non-empty string")
    if "primary" not in data:
        raise ThemeFileError(f"{source}: 'primary' colour is required")
    for key in _COLOR_FIELDS:
        if key in data:
            _check_color(data[key], f"{source}: {key}")
    variables = data.get("variables", {})
    if not isinstance(variables, dict):
        raise ThemeFileError(f"{source}: [variables] must be a table")
    for key, value in variables.items():
        if not isinstance(value, str):
            raise ThemeFileError(f"{source}: variables.{key} must be a string")
    if not isinstance(data.get("dark", True), bool):
        raise ThemeFileError(f"{source}: 'dark' must be true or false")
    kwargs: dict[str, Any] = {key: data[key] for key in _COLOR_FIELDS if key in data}
    for key in ("dark", "luminosity_spread", "text_alpha", "ansi"):
        if key in data:
            kwargs[key] = data[key]
    return Theme(name=name.strip(), variables=dict(variables), **kwargs)


def _check_color(value: Any, where: str) -> None:
    if not isinstance(value, str):
        raise ThemeFileError(f"{where} must be a colour string like '#1e90ff'")
    try:
        Color.parse(value)
    except ColorParseError:
        raise ThemeFileError(f"{where}: {value!r} is not a colour") from None


def load_theme_file(path: Path) -> Theme:
    try:
        data = tomllib.loads(read_config_text(path))  # bounded size, UTF-8
    except ConfigError as exc:
        raise ThemeFileError(str(exc)) from None
    except RecursionError:
        raise ThemeFileError(f"{path}: invalid TOML: nested too deeply") from None
    except tomllib.TOMLDecodeError as exc:
        raise ThemeFileError(f"{path}: invalid TOML: {exc}") from None
    return parse_theme(data, source=str(path))


def load_themes(directories: Iterable[Path]) -> ThemeSet:
    """All ``*.toml`` themes of ``directories`` (later names override earlier ones)."""
    result = ThemeSet()
    by_name: dict[str, Theme] = {}
    seen: set[Path] = set()
    for directory in directories:
        directory = Path(directory)
        if not directory.is_dir() or directory.resolve() in seen:
            continue
        seen.add(directory.resolve())
        for path in sorted(directory.glob("*.toml")):
            try:
                theme = load_theme_file(path)
            except ThemeFileError as exc:
                result.errors.append(str(exc))
                continue
            by_name[theme.name] = theme
    result.themes = list(by_name.values())
    return result


def default_theme_dirs() -> list[Path]:
    """The bundled themes, then the workspace's ``themes/`` (``ATS_THEMES_DIR``), whose
    files win by name."""
    from ats.utils.settings import Settings

    return [BUNDLED_THEMES, Settings().themes_dir]
