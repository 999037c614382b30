"""Constraints between parameters (``fast < slow``), parsed safely.

The text is parsed with :mod:`ast` and evaluated by a small interpreter that knows only
comparisons, ``and/or/not``, ``+ - * / // %``, numbers, strings and the parameters'
names: nothing is ever passed to ``eval``, so a constraint cannot call, import or reach
an attribute.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from ats.exceptions import ConfigError

_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
}
_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
    ast.Not: operator.not_,
}
_MAX_LENGTH = 500


@dataclass(frozen=True)
class Constraint:
    """A boolean expression over parameter names; :meth:`holds` evaluates it."""

    text: str
    tree: ast.expr = field(repr=False, compare=False)

    def holds(self, params: Mapping[str, Any]) -> bool:
        try:
            return bool(_evaluate(self.tree, params))
        except (ArithmeticError, TypeError) as exc:
            raise ConfigError(
                f"constraint {self.text!r} cannot be evaluated for {dict(params)}: {exc}"
            ) from None


def parse_constraint(text: str, names: Collection[str]) -> Constraint:
    """Check ``text`` against the whitelist and the known parameter ``names``."""
    where = f"constraint {text!r}"
    if len(text) > _MAX_LENGTH:
        raise ConfigError(f"{where}: longer than {_MAX_LENGTH} characters")
    try:
        expression = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ConfigError(f"{where}: not an expression ({exc.msg})") from None
    for node in ast.walk(expression.body):
        problem = _refuse(node, names)
        if problem:
            raise ConfigError(f"{where}: {problem}")
    return Constraint(text.strip(), expression.body)


def _refuse(node: ast.AST, names: Collection[str]) -> str | None:
    """Why ``node`` is not allowed in a constraint, or None."""
    if isinstance(node, ast.Name):
        if node.id not in names:
            known = ", ".join(sorted(names)) or "none"
            return f"unknown name {node.id!r} (parameters: {known})"
        return None
    if isinstance(node, ast.Constant):
        ok = isinstance(node.value, int | float | str | bool)
        return None if ok else f"{node.value!r} is not allowed"
    if isinstance(node, ast.Compare):
        bad = [op for op in node.ops if type(op) not in _COMPARE]
        return f"{type(bad[0]).__name__} is not allowed" if bad else None
    if isinstance(node, ast.BinOp):
        ok = type(node.op) in _BINARY
        return None if ok else f"the operator {type(node.op).__name__} is not allowed"
    if isinstance(node, ast.UnaryOp):
        ok = type(node.op) in _UNARY
        return None if ok else f"the operator {type(node.op).__name__} is not allowed"
    if isinstance(node, ast.BoolOp | ast.Load | ast.cmpop | ast.operator | ast.unaryop):
        return None
    if isinstance(node, ast.boolop):
        return None
    return f"{type(node).__name__} is not allowed (only comparisons and arithmetic)"


def _evaluate(node: ast.expr, params: Mapping[str, Any]) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return params[node.id]
    if isinstance(node, ast.BoolOp):
        if isinstance(node.op, ast.And):
            return all(_evaluate(value, params) for value in node.values)
        return any(_evaluate(value, params) for value in node.values)
    if isinstance(node, ast.UnaryOp):
        return _UNARY[type(node.op)](_evaluate(node.operand, params))
    if isinstance(node, ast.BinOp):
        left, right = _evaluate(node.left, params), _evaluate(node.right, params)
        return _BINARY[type(node.op)](left, right)
    if isinstance(node, ast.Compare):
        left = _evaluate(node.left, params)
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            right = _evaluate(comparator, params)
            if not _COMPARE[type(op)](left, right):
                return False
            left = right
        return True
    raise TypeError(f"{type(node).__name__} is not allowed")  # refused at parse time


def all_hold(constraints: Collection[Constraint], params: Mapping[str, Any]) -> bool:
    return all(constraint.holds(params) for constraint in constraints)
