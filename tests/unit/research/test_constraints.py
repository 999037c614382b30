"""Constraints are parsed with ast and a whitelist: arithmetic and comparisons, no code."""

from __future__ import annotations

import pytest

from ats.exceptions import ConfigError
from ats.research.constraints import parse_constraint

NAMES = ("fast", "slow", "kind")


@pytest.mark.parametrize(
    ("text", "params", "holds"),
    [
        ("fast < slow", {"fast": 10, "slow": 20}, True),
        ("fast < slow", {"fast": 20, "slow": 20}, False),
        ("slow >= 2 * fast and not fast == 7", {"fast": 10, "slow": 20}, True),
        ("slow >= 2 * fast and not fast == 7", {"fast": 7, "slow": 20}, False),
        ("5 <= fast < slow <= 100", {"fast": 5, "slow": 100}, True),
        ("5 <= fast < slow <= 100", {"fast": 5, "slow": 101}, False),
        ("(slow - fast) % 10 == 0 or kind != 'sma'", {"fast": 5, "slow": 20, "kind": "ema"}, True),
        ("-fast + slow // 3 > 0", {"fast": 5, "slow": 20}, True),
    ],
)
def test_constraints_evaluate(text: str, params: dict[str, object], holds: bool) -> None:
    assert parse_constraint(text, NAMES).holds(params) is holds


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("__import__('os').system('true')", "Call is not allowed"),
        ("fast.__class__", "Attribute is not allowed"),
        ("fast ** 999999", "Pow is not allowed"),
        ("(lambda: 1)()", "not allowed"),
        ("[x for x in 'ab']", "not allowed"),
        ("fast < slwo", "unknown name 'slwo'"),
        ("fast in (1, 2)", "not allowed"),
        ("fast <", "not an expression"),
        ("fast if slow else 1", "IfExp is not allowed"),
    ],
)
def test_anything_but_arithmetic_is_refused(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as error:
        parse_constraint(text, NAMES)
    assert "\n" not in str(error.value)


def test_an_evaluation_error_names_the_constraint_and_the_params() -> None:
    constraint = parse_constraint("slow / fast > 2", NAMES)
    with pytest.raises(ConfigError, match=r"'slow / fast > 2'.*'fast': 0"):
        constraint.holds({"fast": 0, "slow": 10})
