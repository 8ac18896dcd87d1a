"""The one expression language of instruments (relevance, constraints, calculations).

Expressions are written in a small, Python-like syntax, for example
``safe_now == 1 and (children > 0 or selected(help_type, 'police'))``. They are parsed with
:mod:`ast` and only a whitelist of nodes is accepted, so an instrument file can never run code.
Evaluation is vectorised over a staged frame; a comparison with a blank answer is false, which
is how REDCap, ODK and Qualtrics treat blanks in branching logic.
"""

from __future__ import annotations

import ast
import operator
from dataclasses import dataclass
from functools import cache

import pandas as pd

from pceval.instrument.model import multi_column

_COMPARE = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}
_ARITH = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}
FUNCTIONS = ("selected", "answered")
# functions of the analysis plan only: instruments never use them, so the exporters to REDCap,
# XLSForm and Qualtrics never meet them
ANALYSIS_FUNCTIONS = ("days", "quarter", "year")
# deeper expressions are refused: evaluation and the exporters walk the tree recursively, and
# no instrument needs more than a few levels
MAX_DEPTH = 100


class ExpressionError(ValueError):
    """An expression uses syntax or names the language does not allow."""


@dataclass(frozen=True)
class Expression:
    """A parsed, checked expression.

    Examples
    --------
    >>> e = parse_expression("safe_now == 1 and age >= 18")
    >>> sorted(e.names)
    ['age', 'safe_now']
    >>> frame = pd.DataFrame({"safe_now": [1, 1, 0, None], "age": [30, 17, 40, 50]})
    >>> e.evaluate(frame).tolist()
    [True, False, False, False]
    """

    source: str
    tree: ast.Expression
    names: frozenset[str]

    def evaluate(self, frame: pd.DataFrame) -> pd.Series:
        """Evaluate on every row of ``frame``; returns a boolean (or numeric) Series."""
        value = _eval(self.tree.body, frame)
        if not isinstance(value, pd.Series):
            value = pd.Series(value, index=frame.index)
        return value


@cache
def parse_expression(source: str, *, analysis: bool = False) -> Expression:
    """Parse and check an expression, raising :class:`ExpressionError` if it is not allowed.

    With ``analysis=True`` the analysis plan's functions are allowed too: ``days(a, b)`` (days
    from date ``a`` to date ``b``), ``quarter(d)`` (``"2025Q3"``) and ``year(d)``.

    Examples
    --------
    >>> e = parse_expression("days(referral_date, first_contact)", analysis=True)
    >>> frame = pd.DataFrame({"referral_date": pd.to_datetime(["2025-01-01", None]),
    ...                       "first_contact": pd.to_datetime(["2025-01-11", "2025-02-01"])})
    >>> e.evaluate(frame).tolist()
    [10.0, nan]
    """
    allowed = FUNCTIONS + ANALYSIS_FUNCTIONS if analysis else FUNCTIONS
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(f"cannot parse expression {source!r}: {exc.msg}") from None
    except (RecursionError, MemoryError):  # the parser's own limits on nesting
        raise ExpressionError(f"expression {_shown(source)}: nested too deeply") from None
    if _depth(tree) > MAX_DEPTH:  # evaluation and the exporters recurse over the tree
        raise ExpressionError(f"expression {_shown(source)}: nested more than {MAX_DEPTH} deep")
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in allowed:
                raise ExpressionError(f"expression {source!r}: only {allowed} may be called")
            if not node.args or not isinstance(node.args[0], ast.Name):
                raise ExpressionError(f"expression {source!r}: {node.func.id}() takes an item id first")
        elif isinstance(node, ast.Name):
            names.add(node.id)
        elif not isinstance(
            node,
            (ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub, ast.Compare,
             ast.Constant, ast.BinOp, ast.Load, *_COMPARE, *_ARITH),
        ):
            raise ExpressionError(f"expression {source!r}: {type(node).__name__} is not allowed")
    names -= set(allowed)
    return Expression(source=source, tree=tree, names=frozenset(names))


def _depth(tree: ast.AST) -> int:
    """How deep the tree nests (walked without recursion: the tree may be deep)."""
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return deepest


def _shown(source: str) -> str:
    """An expression for a message: long ones cut, so the message stays readable."""
    return repr(source) if len(source) <= 80 else repr(source[:77] + "...")


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    if name not in frame.columns:
        raise ExpressionError(f"expression names {name!r}, which is not a column of the data")
    return frame[name]


def _eval(node: ast.AST, frame: pd.DataFrame):
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return _column(frame, node.id)
    if isinstance(node, ast.BoolOp):
        values = [_truth(_eval(v, frame), frame) for v in node.values]
        result = values[0]
        for value in values[1:]:
            result = (result & value) if isinstance(node.op, ast.And) else (result | value)
        return result
    if isinstance(node, ast.UnaryOp):
        value = _eval(node.operand, frame)
        if isinstance(node.op, ast.Not):
            return ~_truth(value, frame)
        return -value
    if isinstance(node, ast.BinOp):
        return _ARITH[type(node.op)](_eval(node.left, frame), _eval(node.right, frame))
    if isinstance(node, ast.Compare):
        result = pd.Series(True, index=frame.index)
        left = _eval(node.left, frame)
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            right = _eval(comparator, frame)
            result = result & _compare(_COMPARE[type(op)], left, right, frame)
            left = right
        return result
    if isinstance(node, ast.Call) and node.func.id in ANALYSIS_FUNCTIONS:
        return _analysis_function(node.func.id, [_eval(a, frame) for a in node.args], frame)
    if isinstance(node, ast.Call):
        item = node.args[0].id
        if node.func.id == "answered":
            if item not in frame.columns:
                # a multiple-choice item is answered when any of its choices is ticked
                boxes = [c for c in frame.columns if str(c).startswith(f"{item}__")]
                if boxes:
                    return frame[boxes].fillna(0).astype(float).eq(1).any(axis=1)
            return _column(frame, item).notna()
        code = _eval(node.args[1], frame) if len(node.args) > 1 else None
        column = multi_column(item, code)
        if column in frame.columns:
            return frame[column].fillna(0).astype(float) == 1
        return _column(frame, item).astype("string") == str(code)
    raise ExpressionError(f"cannot evaluate {ast.dump(node)}")  # pragma: no cover - parse checks


def _analysis_function(name: str, args: list, frame: pd.DataFrame) -> pd.Series:
    dates = [pd.to_datetime(pd.Series(a, index=frame.index), errors="coerce") for a in args]
    if name == "days":
        if len(dates) != 2:
            raise ExpressionError("days() takes two dates: days(start, end)")
        return (dates[1] - dates[0]).dt.days.astype("float64")
    if len(dates) != 1:
        raise ExpressionError(f"{name}() takes one date")
    if name == "year":
        return dates[0].dt.year.astype("Float64")
    quarter = dates[0].dt.year.astype("Int64").astype("string") + "Q" + dates[0].dt.quarter.astype("Int64").astype("string")
    return quarter


def _compare(op, left, right, frame: pd.DataFrame) -> pd.Series:
    result = op(left, right)
    if not isinstance(result, pd.Series):
        result = pd.Series(result, index=frame.index)
    blank = pd.Series(False, index=frame.index)
    for side in (left, right):
        if isinstance(side, pd.Series):
            blank = blank | side.isna()
    return result.fillna(False).astype(bool) & ~blank


def _truth(value, frame: pd.DataFrame) -> pd.Series:
    if isinstance(value, pd.Series):
        if value.dtype == bool:
            return value
        return value.fillna(0).astype(float).ne(0)
    return pd.Series(bool(value), index=frame.index, dtype=bool)


def names_in(source: str) -> frozenset[str]:
    """Item ids an expression refers to."""
    return parse_expression(source).names


__all__ = ["ANALYSIS_FUNCTIONS", "Expression", "ExpressionError", "names_in", "parse_expression"]
