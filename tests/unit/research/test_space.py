"""Parameter spaces: ranges include both ends and are exact in decimal; lists keep order."""

from __future__ import annotations

import pytest

from ats.exceptions import ConfigError
from ats.research.space import ParamSpace, is_search_text, parse_dimension


def test_an_integer_range_includes_both_ends() -> None:
    dimension = parse_dimension("fast", "10:30:5")
    assert dimension.values == (10, 15, 20, 25, 30)
    assert all(type(value) is int for value in dimension.values)
    assert parse_dimension("fast", "3:5").values == (3, 4, 5)


def test_a_decimal_range_has_the_values_a_person_would_type() -> None:
    # 0.1 + 2 * 0.1 is 0.30000000000000004 in binary: the range must give 0.3 itself,
    # so a trial equals `ats backtest --param x=0.3`.
    assert parse_dimension("x", "0.1:0.5:0.1").values == (0.1, 0.2, 0.3, 0.4, 0.5)
    assert parse_dimension("x", "1:2:0.5").values == (1.0, 1.5, 2.0)


def test_a_list_keeps_its_values_and_types() -> None:
    assert parse_dimension("x", "10,20,50").values == (10, 20, 50)
    assert parse_dimension("x", "0.5, 1, close").values == (0.5, 1, "close")
    assert parse_dimension("x", [1, 2]).values == (1, 2)
    assert parse_dimension("x", {"low": 1, "high": 3}).values == (1, 2, 3)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("10:5", "is empty"),
        ("1:10:0", "step must be positive"),
        ("a:b", "must be numbers"),
        ("1:2:3:4", "a range is LOW:HIGH"),
        ("1,1", "repeats"),
        ("0:1e9", "too many"),
    ],
)
def test_bad_ranges_are_one_line_errors(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_dimension("p", text)


def test_the_grid_varies_the_last_parameter_fastest() -> None:
    space = ParamSpace((parse_dimension("a", "1,2"), parse_dimension("b", "x,y")))
    assert space.size == 4
    assert list(space.grid()) == [
        {"a": 1, "b": "x"},
        {"a": 1, "b": "y"},
        {"a": 2, "b": "x"},
        {"a": 2, "b": "y"},
    ]


def test_one_value_is_not_a_search() -> None:
    assert not is_search_text("20") and is_search_text("1:2") and is_search_text("1,2")
