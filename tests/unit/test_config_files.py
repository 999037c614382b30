"""Bounded YAML/JSON/TOML reading (issue 14, item 5): every config file ATS reads has a
size limit, no YAML aliases, bounded nesting and finite numbers, and fails in one line
naming the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from ats.exceptions import ConfigError
from ats.ui.settings import UISettings
from ats.ui.themes import ThemeFileError, load_theme_file
from ats.utils.config_files import (
    MAX_CONFIG_BYTES,
    RefusedYaml,
    load_yaml_file,
    parse_json,
    parse_yaml,
    parse_yaml_value,
)

BOMB = 'a: &a ["lol", "lol"]\nb: &b [*a, *a]\nname: *b\n'


def test_yaml_aliases_are_refused_with_their_line() -> None:
    with pytest.raises(RefusedYaml, match=r"^job\.yaml line 2: YAML aliases \(\*a\)"):
        parse_yaml(BOMB, source="job.yaml")
    assert parse_yaml("a: &anchor 1\n", source="x") == {"a": 1}  # an anchor alone is harmless


def test_yaml_depth_and_size_are_bounded(tmp_path: Path) -> None:
    with pytest.raises(RefusedYaml, match="nested more than 64 levels"):
        parse_yaml("x: " + "[" * 65 + "]" * 65, source="x")
    assert parse_yaml("x: " + "[" * 63 + "]" * 63, source="x")  # the mapping is a level
    big = tmp_path / "big.yaml"
    big.write_text("a: 1\n" + "#" * MAX_CONFIG_BYTES)
    with pytest.raises(ConfigError, match=r"big\.yaml: file is larger than 1,048,576 bytes"):
        load_yaml_file(big)


def test_values_typed_by_hand() -> None:
    assert parse_yaml_value("50", source="--param N") == 50
    assert parse_yaml_value("a: b: c", source="--param N") == "a: b: c"  # not YAML: text
    with pytest.raises(RefusedYaml, match="--param N"):
        parse_yaml_value("*a", source="--param N")


def test_json_numbers_finite_and_depth_bounded() -> None:
    assert parse_json('{"a": [1, 2.5]}', source="x.json") == {"a": [1, 2.5]}
    with pytest.raises(ConfigError, match=r"x\.json: invalid JSON: NaN is not allowed"):
        parse_json('{"a": NaN}', source="x.json")
    with pytest.raises(ConfigError, match=r"x\.json: JSON nested too deeply"):
        parse_json("[" * 100_000 + "]" * 100_000, source="x.json")


def test_console_files_survive_hostile_content(tmp_path: Path) -> None:
    settings = tmp_path / "ui.json"
    settings.write_text('{"theme": ' + "[" * 100_000 + "]" * 100_000 + "}")
    assert UISettings.load(settings) == UISettings()
    theme = tmp_path / "deep.toml"
    theme.write_text("name = 'x'\na = " + "[" * 100_000 + "]" * 100_000 + "\n")
    with pytest.raises(ThemeFileError, match=r"deep\.toml: invalid TOML"):
        load_theme_file(theme)
