"""XLSForm export and import: deploy an instrument on ODK Collect, KoboToolbox or Enketo, and
read anyone's XLSForm back as an instrument.

- :func:`to_xpath` translates the instrument expression language to ODK XPath;
- :func:`export_xlsform` writes an ``.xlsx`` XLSForm (sheets ``survey``, ``choices``,
  ``settings``, and ``pceval`` for what XLSForm has no place for);
- :func:`import_xlsform` reads an XLSForm (ours or someone else's) into an :class:`ImportResult`:
  the instrument, the identifier :class:`Proposal` s made for it, and notes on anything changed
  or left out;
- :func:`from_xpath` is the inverse of :func:`to_xpath` for the common XPath subset.

How pceval metadata travels
---------------------------
XLSForm has no column for sensitivity, role, domains, NOS tags, waves, missing codes with their
kinds, or scales. pyxform ignores columns it does not know, silently (checked in the tests: a
conversion of every export gives no warning), so each item row carries them in ``pceval_<field>``
columns (``pceval_sensitivity``, ``pceval_waves``, ``pceval_missing_codes``, ...; any item field
XLSForm cannot hold, so a field added to the model later travels too). Instrument-level fields
(missing codes and kinds, scales, waves, support services, description, ...) are rows of the
``pceval`` sheet (``key``, ``value`` as JSON), which pyxform does not read. Native columns stay the
source of truth for what they hold (labels, choices, relevance, constraints), so a form edited in
Excel and brought back keeps the edits; metadata only fills what XLSForm cannot say.
(``instance::`` columns would also pass pyxform silently, but they become attributes of every
submitted record; plain unknown columns stay in the spreadsheet, which is where they belong.)

Missing codes are offered to the respondent: a choice item gets a copy of its list with the
codes appended (``agree5__m99`` = ``agree5`` plus ``-99``), so "Prefer not to say" is always a
choice; a number or text item's constraint admits the codes and its hint says which to type.

Notes
-----
Blank answers. In pceval a comparison with a blank answer is false; in XPath
``${x} != 'a'`` is true when ``x`` is blank. :func:`to_xpath` therefore guards ``!=`` (and ``=``
between two answers) with ``string-length(${x}) > 0``, and :func:`from_xpath` reads an unguarded
``${x} != 'a'`` from someone else's form as ``not x == 'a'``, which is what ODK does with it.
"""

from __future__ import annotations

import ast
import datetime as _dt
import functools
import io
import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from pceval.errors import InstrumentError
from pceval.instrument.expressions import ExpressionError, parse_expression
from pceval.instrument.model import (
    ID_PATTERN,
    Code,
    Instrument,
    Item,
    ItemType,
    MissingKind,
    Role,
    Sensitivity,
    Text,
    text_in,
)
from pceval.io import atomic_path, fixed_office_times

__all__ = ["ImportResult", "Proposal", "export_xlsform", "from_xpath", "import_xlsform", "to_xpath"]

FORMAT = "pceval-xlsform"
FORMAT_VERSION = 1
META_PREFIX = "pceval_"
META_SHEET = "pceval"

# Language names for XLSForm's ``label::Name (code)`` headers; ODK reads the code in brackets.
# fmt: off
LANGUAGE_NAMES = {
    "am": "Amharic", "ar": "العربية", "bn": "বাংলা", "de": "Deutsch", "el": "Ελληνικά",
    "en": "English", "es": "Español", "fa": "فارسی", "fr": "Français", "hi": "हिन्दी",
    "id": "Bahasa Indonesia", "it": "Italiano", "ja": "日本語", "ko": "한국어", "ms": "Bahasa Melayu",
    "ne": "नेपाली", "pa": "ਪੰਜਾਬੀ", "pl": "Polski", "pt": "Português", "ru": "Русский",
    "so": "Soomaali", "sw": "Kiswahili", "ta": "தமிழ்", "th": "ไทย", "tl": "Tagalog",
    "tr": "Türkçe", "uk": "Українська", "ur": "اردو", "vi": "Tiếng Việt", "zh": "中文",
}
_NAME_TO_CODE = {name.lower(): code for code, name in LANGUAGE_NAMES.items()} | {
    "english": "en", "spanish": "es", "french": "fr", "german": "de", "italian": "it",
    "portuguese": "pt", "arabic": "ar", "chinese": "zh", "vietnamese": "vi", "greek": "el",
    "hindi": "hi", "punjabi": "pa", "korean": "ko", "japanese": "ja", "persian": "fa",
    "farsi": "fa", "turkish": "tr", "russian": "ru", "ukrainian": "uk", "polish": "pl",
    "somali": "so", "swahili": "sw", "tamil": "ta", "thai": "th", "urdu": "ur", "nepali": "ne",
    "bengali": "bn", "amharic": "am", "indonesian": "id", "malay": "ms",
}
# fmt: on

_ITEM_TYPES_OUT = {
    ItemType.SINGLE_CHOICE: "select_one",
    ItemType.LIKERT: "select_one",
    ItemType.MULTIPLE_CHOICE: "select_multiple",
    ItemType.INTEGER: "integer",
    ItemType.DECIMAL: "decimal",
    ItemType.DATE: "date",
    ItemType.SHORT_TEXT: "text",
    ItemType.LONG_TEXT: "text",
    ItemType.CALCULATED: "calculate",
    ItemType.NOTE: "note",
}
# Item fields the native XLSForm columns hold; every other field travels in a pceval_ column.
_NATIVE_ITEM_FIELDS = frozenset(
    {
        "id",
        "type",
        "label",
        "hint",
        "choices",
        "group",
        "required",
        "relevance",
        "constraint",
        "calculation",
    }
)
_CHOICE_TYPES = frozenset({ItemType.SINGLE_CHOICE, ItemType.LIKERT, ItemType.MULTIPLE_CHOICE})
_NUMBER_TYPES = frozenset({ItemType.INTEGER, ItemType.DECIMAL, ItemType.CALCULATED})


# =============================================================================================
# Expressions: pceval -> XPath
# =============================================================================================

_OR, _AND, _EQ, _REL, _ADD, _MUL, _UNARY, _ATOM = range(1, 9)
_CMP_OPS = {ast.Eq: "=", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}
_BIN_OPS = {
    ast.Add: ("+", _ADD),
    ast.Sub: ("-", _ADD),
    ast.Mult: ("*", _MUL),
    ast.Div: ("div", _MUL),
}


@dataclass(frozen=True)
class _Info:
    """What the translators need to know about an item: its type and its codes."""

    type: ItemType
    codes: tuple[Code, ...] = ()


def _context(instrument: Instrument) -> dict[str, _Info]:
    return {
        item.id: _Info(
            item.type, tuple(c.code for c in instrument.choices_of(item)) + item.missing_codes
        )
        for item in instrument.items
    }


def to_xpath(
    expression: str, instrument: Instrument | Mapping[str, Any], *, condition: bool = True
) -> str:
    """Translate an instrument expression to ODK XPath.

    Parameters
    ----------
    expression : str
        An expression in the instrument language (see :mod:`pceval.instrument.expressions`).
    instrument : Instrument
        The instrument whose items the expression names (their types decide how literals are
        written: a single-choice answer compares as a string, ``${x} = '1'``).
    condition : bool, default True
        Whether the expression is a condition (relevance); a bare number is then true when it
        is answered and not zero, as in pceval. Pass ``False`` for a calculation.

    Returns
    -------
    str
        The XPath expression, with ``${item}`` references.

    Raises
    ------
    ExpressionError
        If the expression does not parse or names an item the instrument does not have.

    Examples
    --------
    >>> from pceval.instrument import load_instrument
    >>> women = load_instrument("womens_survey")
    >>> to_xpath("consent == 1 and children_n > 0", women)
    "${consent} = '1' and ${children_n} > 0"
    >>> to_xpath("selected(help_received, 2) or not answered(age_group)", women)
    "selected(${help_received}, '2') or not(string-length(${age_group}) > 0)"
    >>> to_xpath("relationship != 2", women)
    "string-length(${relationship}) > 0 and ${relationship} != '2'"
    """
    ctx = _context(instrument) if isinstance(instrument, Instrument) else dict(instrument)
    tree = parse_expression(expression).tree.body
    return _XPathWriter(ctx, expression).emit(tree, boolean=condition)[0]


def _literal(node: ast.AST) -> tuple[bool, Any]:
    """(True, value) when ``node`` is a constant or a negated number."""
    if isinstance(node, ast.Constant):
        return True, node.value
    if (
        isinstance(node, ast.UnaryOp)
        and isinstance(node.op, ast.USub)
        and isinstance(node.operand, ast.Constant)
        and isinstance(node.operand.value, int | float)
        and not isinstance(node.operand.value, bool)
    ):
        return True, -node.operand.value
    return False, None


def _quote(text: str, source: str) -> str:
    if "'" not in text:
        return f"'{text}'"
    if '"' not in text:
        return f'"{text}"'
    raise ExpressionError(f"expression {source!r}: XPath cannot write a text holding both ' and \"")


def _number(value: float) -> str:
    if isinstance(value, int):
        return str(value)
    if not math.isfinite(value):
        raise ExpressionError(f"XPath has no literal for {value!r}")
    text = repr(value)
    return format(value, "f") if "e" in text else text


def _names(node: ast.AST) -> list[str]:
    """Item names in ``node`` outside function calls, in order of appearance."""
    out: list[str] = []

    def walk(n: ast.AST) -> None:
        if isinstance(n, ast.Call):
            return
        if isinstance(n, ast.Name) and n.id not in out:
            out.append(n.id)
        for child in ast.iter_child_nodes(n):
            walk(child)

    walk(node)
    return out


class _XPathWriter:
    def __init__(self, ctx: Mapping[str, _Info], source: str) -> None:
        self.ctx = ctx
        self.source = source

    def ref(self, name: str) -> str:
        if name not in self.ctx:
            raise ExpressionError(
                f"expression {self.source!r} names {name!r}, which is not an item of the form"
            )
        return f"${{{name}}}"

    def wrap(self, node: ast.AST, above: int, *, boolean: bool = False, strict: bool = True) -> str:
        text, prec = self.emit(node, boolean=boolean)
        needs = prec <= above if strict else prec < above
        return f"({text})" if needs else text

    def value(self, node: ast.AST, other: ast.AST, op: type | None) -> str:
        """A literal written as the item on the other side of the comparison expects."""
        is_lit, value = _literal(node)
        if not is_lit or isinstance(value, bool) or value is None:
            return ""
        info = self.ctx.get(other.id) if isinstance(other, ast.Name) else None
        if info is None:
            return ""
        if info.type in {ItemType.SINGLE_CHOICE, ItemType.LIKERT} and op in (ast.Eq, ast.NotEq):
            return _quote(str(value), self.source)
        if info.type == ItemType.DATE and isinstance(value, str):
            return f"date({_quote(value, self.source)})"
        return ""

    def emit(self, node: ast.AST, *, boolean: bool = False) -> tuple[str, int]:
        if boolean and not self._is_boolean(node):
            text = self.wrap(node, _REL)
            return f"{text} > 0 or {text} < 0", _OR
        if isinstance(node, ast.Constant):
            value = node.value
            if isinstance(value, bool):
                return ("true()" if value else "false()"), _ATOM
            if isinstance(value, int | float):
                return _number(value), (_UNARY if value < 0 else _ATOM)
            if isinstance(value, str):
                return _quote(value, self.source), _ATOM
            raise ExpressionError(f"expression {self.source!r}: XPath has no literal for {value!r}")
        if isinstance(node, ast.Name):
            return self.ref(node.id), _ATOM
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.Not):
                return f"not({self.emit(node.operand, boolean=True)[0]})", _ATOM
            return f"-{self.wrap(node.operand, _UNARY)}", _UNARY
        if isinstance(node, ast.BoolOp):
            prec = _AND if isinstance(node.op, ast.And) else _OR
            word = " and " if prec == _AND else " or "
            return word.join(self.wrap(v, prec, boolean=True) for v in node.values), prec
        if isinstance(node, ast.BinOp):
            symbol, prec = _BIN_OPS[type(node.op)]
            left = self.wrap(node.left, prec, strict=False)
            right = self.wrap(node.right, prec)
            return f"{left} {symbol} {right}", prec
        if isinstance(node, ast.Compare):
            parts = []
            left = node.left
            for op, right in zip(node.ops, node.comparators, strict=True):
                parts.append(self.compare(left, op, right))
                left = right
            if len(parts) == 1:
                return parts[0]
            return " and ".join(f"({t})" if p <= _AND else t for t, p in parts), _AND
        if isinstance(node, ast.Call):
            item = node.args[0].id
            if node.func.id == "answered":
                return f"string-length({self.ref(item)}) > 0", _REL
            if len(node.args) != 2:
                raise ExpressionError(
                    f"expression {self.source!r}: selected() takes an item and a code"
                )
            is_lit, code = _literal(node.args[1])
            if not is_lit:
                raise ExpressionError(
                    f"expression {self.source!r}: selected() takes a code, not an expression"
                )
            return f"selected({self.ref(item)}, {_quote(str(code), self.source)})", _ATOM
        raise ExpressionError(f"expression {self.source!r}: cannot translate {type(node).__name__}")

    def compare(self, left: ast.AST, op: ast.cmpop, right: ast.AST) -> tuple[str, int]:
        symbol = _CMP_OPS[type(op)]
        prec = _EQ if symbol in ("=", "!=") else _REL
        lt = self.value(left, right, type(op)) or self.wrap(left, prec)
        rt = self.value(right, left, type(op)) or self.wrap(right, prec)
        text = f"{lt} {symbol} {rt}"
        left_names, right_names = _names(left), _names(right)
        # XPath compares a blank answer as '' (so '' != 'a' is true); pceval says a comparison
        # with a blank is false. Guard the comparisons where the two disagree.
        if (
            symbol == "!="
            and (left_names or right_names)
            or symbol == "="
            and left_names
            and right_names
        ):
            guard = [f"string-length({self.ref(n)}) > 0" for n in _names(ast.Tuple([left, right]))]
            return " and ".join([*guard, text]), _AND
        return text, prec

    def _is_boolean(self, node: ast.AST) -> bool:
        if isinstance(node, ast.Constant):
            return isinstance(node.value, bool)
        if isinstance(node, ast.UnaryOp):
            return isinstance(node.op, ast.Not)
        return isinstance(node, ast.BoolOp | ast.Compare | ast.Call)


# =============================================================================================
# Expressions: XPath -> pceval
# =============================================================================================


class _XPathError(ValueError):
    """An XPath expression outside the subset pceval can translate."""


_TOKEN = re.compile(
    r"""\s*(?:
      (?P<ref>\$\{\s*(?P<refname>[^}\s]*)\s*\})
    | (?P<str>'[^']*'|"[^"]*")
    | (?P<num>\d+(?:\.\d*)?|\.\d+)
    | (?P<op>!=|<=|>=|=|<|>|\+|-|\*|\(|\)|,|\.)
    | (?P<word>[A-Za-z_][\w-]*(?::[A-Za-z_][\w-]*)?)
    )""",
    re.VERBOSE,
)


@dataclass
class _Tok:
    kind: str
    text: str


def _tokenize(source: str) -> list[_Tok]:
    tokens, pos = [], 0
    source = source.strip()
    while pos < len(source):
        match = _TOKEN.match(source, pos)
        if not match or match.end() == pos:
            raise _XPathError(f"cannot read {source[pos : pos + 12]!r}")
        pos = match.end()
        if match.group("ref") is not None:
            tokens.append(_Tok("ref", match.group("refname")))
        elif match.group("str") is not None:
            tokens.append(_Tok("str", match.group("str")[1:-1]))
        elif match.group("num") is not None:
            tokens.append(_Tok("num", match.group("num")))
        elif match.group("op") is not None:
            tokens.append(_Tok("op", match.group("op")))
        else:
            tokens.append(_Tok("word", match.group("word")))
    return tokens


class _Dot(ast.expr):
    """The context node ``.`` of a constraint."""

    _fields = ()


class _Length(ast.expr):
    """``string-length(${x})`` or ``count-selected(${x})``: only compared with 0 or 1."""

    _fields = ("item",)


_REL_SYMBOLS = {"<": ast.Lt, "<=": ast.LtE, ">": ast.Gt, ">=": ast.GtE}


class _XPathReader:
    """Recursive descent over the XPath subset; builds a Python ``ast`` of the pceval language."""

    def __init__(self, source: str, ctx: Mapping[str, _Info], *, allow_dot: bool = False) -> None:
        self.source = source
        self.ctx = ctx
        self.tokens = _tokenize(source)
        self.pos = 0
        self.allow_dot = allow_dot

    # --- token helpers
    def peek(self, *texts: str) -> bool:
        if self.pos >= len(self.tokens):
            return False
        tok = self.tokens[self.pos]
        return tok.kind in ("op", "word") and tok.text in texts

    def take(self) -> _Tok:
        if self.pos >= len(self.tokens):
            raise _XPathError("it ends too early")
        tok = self.tokens[self.pos]
        self.pos += 1
        return tok

    def expect(self, text: str) -> None:
        tok = self.take()
        if tok.text != text or tok.kind not in ("op", "word"):
            raise _XPathError(f"expected {text!r} but found {tok.text!r}")

    # --- grammar
    def parse(self) -> ast.expr:
        node = self.or_expr()
        if self.pos != len(self.tokens):
            raise _XPathError(f"unexpected {self.tokens[self.pos].text!r}")
        return node

    def or_expr(self) -> ast.expr:
        values = [self.and_expr()]
        while self.peek("or"):
            self.take()
            values.append(self.and_expr())
        return values[0] if len(values) == 1 else ast.BoolOp(ast.Or(), values)

    def and_expr(self) -> ast.expr:
        values = [self.eq_expr()]
        while self.peek("and"):
            self.take()
            values.append(self.eq_expr())
        if len(values) == 1:
            return values[0]
        return self._unguard(values) or ast.BoolOp(ast.And(), values)

    def eq_expr(self) -> ast.expr:
        left = self.rel_expr()
        if self.peek("=", "!="):
            symbol = self.take().text
            right = self.rel_expr()
            if self.peek("=", "!="):
                raise _XPathError("a chain of = or != needs brackets")
            return self._compare(left, ast.Eq() if symbol == "=" else ast.NotEq(), right)
        return left

    def rel_expr(self) -> ast.expr:
        left = self.add_expr()
        if self.peek(*_REL_SYMBOLS):
            op = _REL_SYMBOLS[self.take().text]()
            right = self.add_expr()
            if self.peek(*_REL_SYMBOLS):
                raise _XPathError("a chain of comparisons needs brackets")
            return self._compare(left, op, right)
        return left

    def add_expr(self) -> ast.expr:
        node = self.mul_expr()
        while self.peek("+", "-"):
            op = ast.Add() if self.take().text == "+" else ast.Sub()
            node = ast.BinOp(self._plain(node), op, self._plain(self.mul_expr()))
        return node

    def mul_expr(self) -> ast.expr:
        node = self.unary()
        while self.peek("*", "div", "mod"):
            word = self.take().text
            if word == "mod":
                raise _XPathError("mod has no equivalent (the expression language has + - * /)")
            op = ast.Mult() if word == "*" else ast.Div()
            node = ast.BinOp(self._plain(node), op, self._plain(self.unary()))
        return node

    def unary(self) -> ast.expr:
        if self.peek("-"):
            self.take()
            return ast.UnaryOp(ast.USub(), self._plain(self.unary()))
        return self.primary()

    def primary(self) -> ast.expr:
        tok = self.take()
        if tok.kind == "ref":
            if tok.text not in self.ctx:
                raise _XPathError(f"${{{tok.text}}} is not a question of this form")
            return ast.Name(tok.text, ast.Load())
        if tok.kind == "str":
            return ast.Constant(tok.text)
        if tok.kind == "num":
            return ast.Constant(float(tok.text) if "." in tok.text else int(tok.text))
        if tok.kind == "op" and tok.text == "(":
            node = self.or_expr()
            self.expect(")")
            return node
        if tok.kind == "op" and tok.text == "." and self.allow_dot:
            return _Dot()
        if tok.kind == "word" and self.peek("("):
            return self.function(tok.text)
        raise _XPathError(f"{tok.text!r} is not supported (write item references as ${{name}})")

    def function(self, name: str) -> ast.expr:
        self.expect("(")
        args: list[ast.expr] = []
        if not self.peek(")"):
            args.append(self.or_expr())
            while self.peek(","):
                self.take()
                args.append(self.or_expr())
        self.expect(")")
        if name == "not" and len(args) == 1:
            return ast.UnaryOp(ast.Not(), self._plain(args[0]))
        if name in ("true", "false") and not args:
            return ast.Constant(name == "true")
        if name == "date" and len(args) == 1 and isinstance(args[0], ast.Constant):
            return ast.Constant(str(args[0].value))
        if (
            name in ("string-length", "count-selected")
            and len(args) == 1
            and isinstance(args[0], ast.Name)
        ):
            return _Length(item=args[0].id)
        if name == "selected" and len(args) == 2 and isinstance(args[0], ast.Name):
            code = args[1]
            if not isinstance(code, ast.Constant):
                raise _XPathError("selected() must name a choice as a literal")
            value = self._typed(args[0].id, code.value, quoted=isinstance(code.value, str))
            return ast.Call(ast.Name("selected", ast.Load()), [args[0], self._const(value)], [])
        if (
            name == "regex"
            and self.allow_dot
            and len(args) == 2
            and isinstance(args[0], _Dot)
            and isinstance(args[1], ast.Constant)
            and isinstance(args[1].value, str)
        ):
            return ast.Call(ast.Name("regex", ast.Load()), [args[0], args[1]], [])
        raise _XPathError(f"{name}() has no equivalent in the expression language")

    # --- helpers
    @staticmethod
    def _const(value: Any) -> ast.expr:
        return ast.Constant(value)

    def _plain(self, node: ast.expr) -> ast.expr:
        if isinstance(node, _Length):
            raise _XPathError(f"string-length(${{{node.item}}}) can only be compared with 0")
        return node

    def _typed(self, item: str, value: Any, *, quoted: bool) -> Any:
        """A literal compared with ``item``, typed as the item's codes or numbers are."""
        info = self.ctx.get(item)
        if info is None or isinstance(value, bool):
            return value
        if info.type in _CHOICE_TYPES:
            for code in info.codes:
                if str(code) == str(value):
                    return code
            return value
        if quoted and info.type in _NUMBER_TYPES and isinstance(value, str):
            try:
                return int(value)
            except ValueError:
                try:
                    return float(value)
                except ValueError:
                    return value
        return value

    def _compare(self, left: ast.expr, op: ast.cmpop, right: ast.expr) -> ast.expr:
        # string-length(${x}) > 0 and friends mean answered(x)
        for length, other, flipped in ((left, right, False), (right, left, True)):
            if isinstance(length, _Length):
                if not (
                    isinstance(other, ast.Constant)
                    and other.value in (0, 1)
                    and not isinstance(other.value, bool)
                ):
                    raise _XPathError(
                        f"string-length(${{{length.item}}}) can only be compared with 0 or 1"
                    )
                symbol = {
                    ast.Eq: "=",
                    ast.NotEq: "!=",
                    ast.Lt: "<",
                    ast.LtE: "<=",
                    ast.Gt: ">",
                    ast.GtE: ">=",
                }[type(op)]
                if flipped:
                    symbol = {"<": ">", ">": "<", "<=": ">=", ">=": "<="}.get(symbol, symbol)
                answered = {("!=", 0), (">", 0), (">=", 1)}
                unanswered = {("=", 0), ("<", 1), ("<=", 0)}
                call = ast.Call(
                    ast.Name("answered", ast.Load()), [ast.Name(length.item, ast.Load())], []
                )
                if (symbol, other.value) in answered:
                    return call
                if (symbol, other.value) in unanswered:
                    return ast.UnaryOp(ast.Not(), call)
                raise _XPathError(
                    f"string-length(${{{length.item}}}) {symbol} {other.value} "
                    "is always true or false"
                )
        # ${x} != '' means answered(x)
        for name, other in ((left, right), (right, left)):
            if isinstance(name, ast.Name) and isinstance(other, ast.Constant) and other.value == "":
                call = ast.Call(ast.Name("answered", ast.Load()), [name], [])
                if isinstance(op, ast.NotEq):
                    return call
                if isinstance(op, ast.Eq):
                    return ast.UnaryOp(ast.Not(), call)
        left, right = self._plain(left), self._plain(right)
        if isinstance(left, ast.Name) and isinstance(right, ast.Constant):
            right = self._const(
                self._typed(left.id, right.value, quoted=isinstance(right.value, str))
            )
        elif isinstance(right, ast.Name) and isinstance(left, ast.Constant):
            left = self._const(
                self._typed(right.id, left.value, quoted=isinstance(left.value, str))
            )
        node = ast.Compare(left, [op], [right])
        if isinstance(op, ast.NotEq):
            node.pceval_unguarded = True  # type: ignore[attr-defined]
        return node

    def _unguard(self, values: list[ast.expr]) -> ast.expr | None:
        """``string-length(${x}) > 0 and ${x} != 'a'`` (what to_xpath writes) is ``x != 'a'``."""
        *guards, last = values
        if not isinstance(last, ast.Compare) or getattr(last, "pceval_guarded", False):
            return None
        names = []
        for guard in guards:
            if not (isinstance(guard, ast.Call) and guard.func.id == "answered"):
                return None
            names.append(guard.args[0].id)
        if names != _names(last):
            return None
        op = type(last.ops[0])
        if op is not ast.NotEq and not (
            op is ast.Eq and _names(last.left) and _names(last.comparators[0])
        ):
            return None
        last.pceval_guarded = True  # type: ignore[attr-defined]
        last.pceval_unguarded = False  # type: ignore[attr-defined]
        return last


def _finish(node: ast.expr) -> ast.expr:
    """Write an unguarded ``a != b`` as ``not a == b``: true when blank, as ODK evaluates it."""

    class Fix(ast.NodeTransformer):
        def visit_Compare(self, n: ast.Compare) -> ast.AST:
            self.generic_visit(n)
            if getattr(n, "pceval_unguarded", False):
                return ast.UnaryOp(ast.Not(), ast.Compare(n.left, [ast.Eq()], n.comparators))
            return n

    return Fix().visit(node)


def _xpath_to_source(xpath: str, ctx: Mapping[str, _Info]) -> str:
    tree = _finish(_XPathReader(xpath, ctx).parse())
    if any(isinstance(n, _Dot | _Length) for n in ast.walk(tree)):
        raise _XPathError("'.' can only appear in a constraint")
    source = ast.unparse(ast.fix_missing_locations(ast.Expression(tree)))
    try:
        parse_expression(source)
    except ExpressionError as exc:  # pragma: no cover - the reader builds only allowed nodes
        raise _XPathError(str(exc)) from None
    return source


def from_xpath(xpath: str, instrument: Instrument | Mapping[str, Any]) -> str:
    """Translate ODK XPath (the common subset) back to the instrument expression language.

    The subset: ``${item}`` references, string and number literals, ``=``, ``!=``, ``<``,
    ``<=``, ``>``, ``>=``, ``+``, ``-``, ``*``, ``div``, ``and``, ``or``, ``not()``,
    ``selected()``, ``string-length(${x}) > 0`` and ``count-selected(${x}) > 0`` (answered),
    ``${x} != ''``, ``true()``, ``false()``, ``date('...')`` and brackets.

    Raises
    ------
    ExpressionError
        If the XPath uses anything else (other functions, paths such as ``../x``, ``mod``).

    Examples
    --------
    >>> from pceval.instrument import load_instrument
    >>> women = load_instrument("womens_survey")
    >>> from_xpath("${consent} = '1' and (${children_n} > 0 or selected(${help_received}, '3'))",
    ...            women)
    'consent == 1 and (children_n > 0 or selected(help_received, 3))'
    >>> from_xpath("${relationship} != '2'", women)   # true when blank, as in ODK
    'not relationship == 2'
    """
    ctx = _context(instrument) if isinstance(instrument, Instrument) else dict(instrument)
    try:
        return _xpath_to_source(xpath, ctx)
    except _XPathError as exc:
        raise ExpressionError(f"cannot translate XPath {xpath!r}: {exc}") from None


# =============================================================================================
# Constraints
# =============================================================================================


def _constraint_xpath(item: Item, codes: tuple[Code, ...]) -> str:
    """The XPath constraint of an item, admitting its missing codes."""
    con = item.constraint
    parts: list[str] = []
    if con is not None:
        if con.min is not None:
            parts.append(f". >= {_number(_tidy(con.min))}")
        if con.max is not None:
            parts.append(f". <= {_number(_tidy(con.max))}")
        if con.pattern is not None:
            parts.append(f"regex(., {_quote(con.pattern, con.pattern)})")
    if not parts:
        return ""
    main = " and ".join(parts)
    if not codes:
        return main
    admit = [f". = {_quote(c, str(c)) if isinstance(c, str) else _number(c)}" for c in codes]
    return " or ".join([f"({main})" if len(parts) > 1 else main, *admit])


def _tidy(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def _parse_constraint(xpath: str, item_type: ItemType) -> tuple[dict[str, Any], list[Code]]:
    """Read a constraint written as ranges and ``regex(., ...)``, optionally ``or . = code``."""
    tree = _XPathReader(xpath, {}, allow_dot=True).parse()
    or_parts = (
        tree.values if isinstance(tree, ast.BoolOp) and isinstance(tree.op, ast.Or) else [tree]
    )
    main: list[ast.expr] = []
    codes: list[Code] = []
    for part in or_parts:
        is_code = (
            isinstance(part, ast.Compare)
            and isinstance(part.ops[0], ast.Eq)
            and isinstance(part.left, _Dot)
        )
        if is_code:
            ok, value = _literal(part.comparators[0])
            if not ok:
                raise _XPathError("'. = ...' must compare with a literal")
            codes.append(value)
        else:
            main.append(part)
    if len(main) != 1:
        raise _XPathError("only one range or pattern can be read, besides '. = code' alternatives")
    fields: dict[str, Any] = {}
    body = main[0]
    conditions = (
        body.values if isinstance(body, ast.BoolOp) and isinstance(body.op, ast.And) else [body]
    )
    for cond in conditions:
        if isinstance(cond, ast.Call) and cond.func.id == "regex":
            _set_once(fields, "pattern", cond.args[1].value)
            continue
        if not isinstance(cond, ast.Compare):
            raise _XPathError("expected comparisons of '.' with numbers")
        left, op, right = cond.left, type(cond.ops[0]), cond.comparators[0]
        if isinstance(right, _Dot) and not isinstance(left, _Dot):
            left, right = right, left
            op = {ast.Lt: ast.Gt, ast.Gt: ast.Lt, ast.LtE: ast.GtE, ast.GtE: ast.LtE}.get(op, op)
        ok, value = _literal(right)
        if not (isinstance(left, _Dot) and ok and isinstance(value, int | float)):
            raise _XPathError("expected comparisons of '.' with numbers")
        whole = item_type == ItemType.INTEGER
        if op is ast.GtE:
            _set_once(fields, "min", value)
        elif op is ast.LtE:
            _set_once(fields, "max", value)
        elif op is ast.Gt and whole and float(value).is_integer():
            _set_once(fields, "min", value + 1)
        elif op is ast.Lt and whole and float(value).is_integer():
            _set_once(fields, "max", value - 1)
        else:
            raise _XPathError("a strict bound on a decimal cannot be written as min or max")
    return fields, codes


def _set_once(fields: dict[str, Any], key: str, value: Any) -> None:
    if key in fields:
        raise _XPathError(f"two conditions set the {key}")
    fields[key] = value


# =============================================================================================
# Texts, languages, metadata cells
# =============================================================================================


def _language_header(code: str) -> str:
    return f"{LANGUAGE_NAMES.get(code, code)} ({code})"


def _language_code(header: str) -> str:
    match = re.search(r"\(([^()]+)\)\s*$", header)
    if match:
        return match.group(1).strip()
    name = header.strip().lower()
    if name in _NAME_TO_CODE:
        return _NAME_TO_CODE[name]
    return re.sub(r"[^a-z0-9]+", "_", name).strip("_") or "und"


_PLAIN_META = re.compile(r"^[A-Za-z_][\w.\-]*$")


def _meta_cell(value: Any) -> str:
    """A metadata value as a cell: plain text for simple words, JSON otherwise."""
    if isinstance(getattr(value, "value", None), str):
        value = value.value
    if (
        isinstance(value, str)
        and _PLAIN_META.match(value)
        and value not in ("true", "false", "null")
    ):
        return value
    return json.dumps(value, ensure_ascii=False)


def _meta_value(cell: Any) -> Any:
    if cell is None:
        return None
    if not isinstance(cell, str):
        return cell
    if _PLAIN_META.match(cell) and cell not in ("true", "false", "null"):
        return cell
    return json.loads(cell)


def _missing_hint(labels: Mapping[Code, Text], codes: Iterable[Code], lang: str) -> str:
    """What a number or text item's hint adds so the respondent knows the codes she may type."""
    return "; ".join(f"{code} = {text_in(labels[code], lang)}" for code in codes if code in labels)


# =============================================================================================
# Export
# =============================================================================================


def export_xlsform(instrument: Instrument, path: str | Path, *, wave: str | None = None) -> Path:
    """Write an instrument as an XLSForm workbook for ODK Collect, KoboToolbox or Enketo.

    Parameters
    ----------
    instrument : Instrument
        The instrument to deploy.
    path : str or Path
        The ``.xlsx`` file to write (atomically).
    wave : str, optional
        Write the form for one wave: only items asked at that wave (``Item.waves`` empty or
        naming it). Without it, items restricted to some waves are shown only at those waves when
        the instrument has an item with the ``wave`` role.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    InstrumentError
        If the instrument cannot be written as an XLSForm (an item without a label, a relevance
        naming an item not asked at ``wave``, an unknown ``wave``).

    Notes
    -----
    Sheets: ``survey`` (types, labels and hints per language as ``label::English (en)``,
    ``required``, ``relevant``, ``constraint``, ``constraint_message``, ``calculation``,
    ``appearance``, then ``pceval_*`` metadata columns), ``choices`` (every choice list, and a copy
    with the missing codes appended for each item that offers them), ``settings`` (``form_title``,
    ``form_id``, ``version``, ``default_language``) and ``pceval`` (instrument-level metadata as
    JSON). Consecutive items sharing a ``group`` become one ``begin_group``/``end_group`` block,
    shown on one screen (``appearance: field-list``) when all its items are Likert items. The file
    is byte-identical for the same instrument.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from pceval.instrument import load_instrument
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "women_baseline.xlsx"
    >>> export_xlsform(load_instrument("womens_survey"), out, wave="baseline").name
    'women_baseline.xlsx'
    """
    writer = _FormWriter(instrument, wave)
    sheets = writer.sheets()
    return _write_workbook(Path(path), sheets)


class _FormWriter:
    def __init__(self, instrument: Instrument, wave: str | None) -> None:
        self.inst = instrument
        self.wave = wave
        if wave is not None and wave not in instrument.waves:
            raise InstrumentError(
                f"instrument {instrument.id!r} has no wave {wave!r}",
                field="wave",
                fix=f"use one of {list(instrument.waves)}" if instrument.waves else "omit wave=",
            )
        self.items = [i for i in instrument.items if wave is None or not i.waves or wave in i.waves]
        self.ids = {i.id for i in self.items}
        self.ctx = {k: v for k, v in _context(instrument).items() if k in self.ids}
        self.langs = list(instrument.languages) or ["en"]
        for text in self._texts():
            if isinstance(text, dict):
                self.langs.extend(k for k in text if k not in self.langs)
        self.derived: dict[tuple[str, tuple[Code, ...]], str] = {}
        taken = set(instrument.choice_lists)
        for item in self.items:
            if item.choices and item.missing_codes:
                codes = tuple(
                    c
                    for c in item.missing_codes
                    if c not in {ch.code for ch in instrument.choice_lists[item.choices]}
                )
                if not codes or (item.choices, codes) in self.derived:
                    continue
                base = f"{item.choices}__" + "_".join(_code_token(c) for c in codes)
                name, n = base, 2
                while name in taken:
                    name, n = f"{base}_{n}", n + 1
                taken.add(name)
                self.derived[(item.choices, codes)] = name
        self.wave_item = instrument.role_item(Role.WAVE)
        if self.wave_item is not None and self.wave_item.id not in self.ids:
            self.wave_item = None

    def _texts(self) -> Iterable[Text | None]:
        for item in self.inst.items:
            yield item.label
            yield item.hint
            if item.constraint is not None:
                yield item.constraint.message
        for choices in self.inst.choice_lists.values():
            for choice in choices:
                yield choice.label
        for missing in self.inst.missing_codes:
            yield missing.label

    def text_cells(
        self,
        column: str,
        text: Text | None,
        row: dict,
        plain: list[str],
        suffix: dict[str, str] | None = None,
    ) -> None:
        for lang in self.langs:
            value = text_in(text, lang) if isinstance(text, str) else (text or {}).get(lang, "")
            extra = (suffix or {}).get(lang, "")
            if extra:
                value = f"{value} ({extra})" if value else extra
            row[f"{column}::{_language_header(lang)}"] = value or None
        if isinstance(text, str):
            plain.append(column)

    def list_name(self, item: Item) -> str:
        """The XLSForm list of a choice item: its own, or the copy with its missing codes."""
        if item.choices is None:
            return ""
        codes = tuple(
            c
            for c in item.missing_codes
            if c not in {ch.code for ch in self.inst.choice_lists[item.choices]}
        )
        return self.derived.get((item.choices, codes), item.choices)

    def sheets(self) -> dict[str, list[dict[str, Any]]]:
        self._check_references()
        survey: list[dict[str, Any]] = []
        used_names = set(self.ids)
        block: str | None = None
        block_name = ""
        for index, item in enumerate(self.items):
            if item.group != block:
                if block is not None:
                    survey.append({"type": "end_group", "name": block_name})
                block = item.group
                if block is not None:
                    block_name = self._block_name(block, used_names)
                    members = [item]
                    for later in self.items[index + 1 :]:
                        if later.group != block:
                            break
                        members.append(later)
                    row: dict[str, Any] = {"type": "begin_group", "name": block_name}
                    if all(m.type == ItemType.LIKERT for m in members):
                        row["appearance"] = "field-list"
                    if block_name != block:
                        row[f"{META_PREFIX}group"] = block
                    survey.append(row)
            survey.append(self.item_row(item))
        if block is not None:
            survey.append({"type": "end_group", "name": block_name})
        choices = self.choice_rows()
        settings = [
            {
                "form_title": text_in(self.inst.title, self.langs[0]),
                "form_id": self.inst.id,
                "version": self.inst.version,
                "default_language": _language_header(self.langs[0]),
            }
        ]
        return {
            "survey": survey,
            "choices": choices,
            "settings": settings,
            META_SHEET: self.meta_rows(),
        }

    def _block_name(self, group: str, used: set[str]) -> str:
        name, n = group, 2
        while name in used:
            name, n = f"{group}_{n}", n + 1
        used.add(name)
        return name

    def _check_references(self) -> None:
        for item in self.items:
            for attr in ("relevance", "calculation"):
                source = getattr(item, attr)
                if not source:
                    continue
                missing = sorted(parse_expression(source).names - self.ids)
                if missing:
                    where = f" at wave {self.wave!r}" if self.wave else ""
                    raise InstrumentError(
                        f"{attr} {source!r} names {missing}, which are not asked{where}",
                        field=f"item {item.id}.{attr}",
                        fix="ask those items at this wave too, or change the expression",
                    )

    def item_row(self, item: Item) -> dict[str, Any]:
        row: dict[str, Any] = {}
        plain: list[str] = []
        generated: list[str] = []
        kind = _ITEM_TYPES_OUT[item.type]
        row["type"] = f"{kind} {self.list_name(item)}" if item.choices else kind
        row["name"] = item.id
        if not text_in(item.label) and not text_in(item.hint) and item.type != ItemType.CALCULATED:
            raise InstrumentError(
                f"item {item.id!r} has no label; ODK shows every question with one",
                field=f"item {item.id}.label",
                fix="give the item a label",
            )
        self.text_cells("label", item.label, row, plain)
        suffix = None
        if item.missing_codes and item.type in {
            ItemType.INTEGER,
            ItemType.DECIMAL,
            ItemType.SHORT_TEXT,
            ItemType.LONG_TEXT,
        }:
            labels = {m.code: m.label for m in self.inst.missing_codes}
            suffix = {lang: _missing_hint(labels, item.missing_codes, lang) for lang in self.langs}
            generated.append("hint")
        if item.hint is not None or suffix:
            self.text_cells("hint", item.hint, row, plain, suffix)
        row["required"] = "yes" if item.required else None
        relevant = self._relevant(item)
        row["relevant"] = relevant or None
        if item.relevance and _canonical_back(item.relevance, self.ctx, True) != item.relevance:
            row[f"{META_PREFIX}relevance"] = item.relevance
        row["constraint"] = _constraint_xpath(item, item.missing_codes) or None
        if item.constraint is not None and item.constraint.message is not None:
            self.text_cells("constraint_message", item.constraint.message, row, plain)
        if item.calculation:
            row["calculation"] = to_xpath(item.calculation, self.ctx, condition=False)
            if _canonical_back(item.calculation, self.ctx, False) != item.calculation:
                row[f"{META_PREFIX}calculation"] = item.calculation
        appearance = {ItemType.LIKERT: "likert", ItemType.LONG_TEXT: "multiline"}.get(item.type)
        row["appearance"] = appearance
        defaults = Item.model_fields
        for name in Item.model_fields:
            if name in _NATIVE_ITEM_FIELDS:
                continue
            value = getattr(item, name)
            if value != defaults[name].default:
                row[f"{META_PREFIX}{name}"] = _meta_cell(value)
        if plain:
            row[f"{META_PREFIX}text"] = " ".join(plain)
        if generated:
            row[f"{META_PREFIX}generated"] = " ".join(generated)
        return row

    def _relevant(self, item: Item) -> str:
        rel = to_xpath(item.relevance, self.ctx) if item.relevance else ""
        wave_x = self._wave_clause(item)
        if not wave_x:
            return rel
        return f"({rel}) and ({wave_x})" if rel else wave_x

    def _wave_clause(self, item: Item) -> str:
        if (
            self.wave is not None
            or self.wave_item is None
            or not item.waves
            or item is self.wave_item
        ):
            return ""
        w = self.wave_item.id
        return to_xpath(" or ".join(f"{w} == {code!r}" for code in item.waves), self.ctx)

    def choice_rows(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for list_name, choices in self.inst.choice_lists.items():
            for choice in choices:
                rows.append(self._choice_row(list_name, choice.code, choice.label))
        for (base, codes), name in self.derived.items():
            for choice in self.inst.choice_lists[base]:
                rows.append(self._choice_row(name, choice.code, choice.label))
            by_code = {m.code: m for m in self.inst.missing_codes}
            for code in codes:
                rows.append(self._choice_row(name, code, by_code[code].label))
        return rows

    def _choice_row(self, list_name: str, code: Code, label: Text) -> dict[str, Any]:
        row: dict[str, Any] = {"list_name": list_name, "name": code}
        plain: list[str] = []
        self.text_cells("label", label, row, plain)
        row[f"{META_PREFIX}text"] = " ".join(plain) or None
        return row

    def meta_rows(self) -> list[dict[str, Any]]:
        data = self.inst.model_dump(mode="json", exclude={"items", "choice_lists"})
        if self.wave is not None:
            data["scales"] = [s for s in data["scales"] if set(s["items"]) <= self.ids]
        rows = [
            {"key": "format", "value": FORMAT},
            {"key": "format_version", "value": str(FORMAT_VERSION)},
        ]
        if self.wave is not None:
            rows.append({"key": "wave", "value": json.dumps(self.wave)})
        rows.append(
            {
                "key": "derived_lists",
                "value": json.dumps(
                    {name: base for (base, _), name in self.derived.items()}, ensure_ascii=False
                ),
            }
        )
        for key, value in data.items():
            rows.append({"key": key, "value": json.dumps(value, ensure_ascii=False)})
        return rows


def _code_token(code: Code) -> str:
    text = str(code)
    if text.startswith("-"):
        text = "m" + text[1:]
    return re.sub(r"[^A-Za-z0-9_]", "_", text)


def _canonical_back(source: str, ctx: Mapping[str, _Info], condition: bool) -> str | None:
    """What :func:`from_xpath` makes of the XPath written for ``source`` (None if it cannot)."""
    try:
        return _xpath_to_source(to_xpath(source, ctx, condition=condition), ctx)
    except (_XPathError, ExpressionError):
        return None


# Fixed timestamps so the same instrument gives the same bytes (openpyxl stamps the save time
# into docProps/core.xml and the zip entries; nothing in openpyxl turns that off).
_EPOCH = _dt.datetime(2000, 1, 1)


def _write_workbook(path: Path, sheets: Mapping[str, list[dict[str, Any]]]) -> Path:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        columns: list[str] = []
        for row in rows:
            columns.extend(k for k in row if k not in columns)
        columns = _order_columns(columns)
        # Leave out empty columns, but keep a translated column in every language once one
        # language has it (pyxform warns when a language lacks a column another one has).
        filled = {c for c in columns if any(row.get(c) not in (None, "") for row in rows)}
        bases = {c.split("::")[0] for c in filled if "::" in c}
        columns = [c for c in columns if c in filled or c.split("::")[0] in bases and "::" in c]
        ws.append(columns)
        for row in rows:
            ws.append([row.get(c) for c in columns])
        for cell in ws[1]:
            cell.font = Font(bold=True)
        ws.freeze_panes = "A2"
        for index, column in enumerate(columns, start=1):
            letter = ws.cell(row=1, column=index).column_letter
            longest = max([len(column)] + [len(str(r.get(column) or "")) for r in rows])
            ws.column_dimensions[letter].width = min(60, max(8, longest + 2))
    wb.properties.creator = "pceval"
    wb.properties.created = _EPOCH
    buffer = io.BytesIO()
    wb.save(buffer)
    data = fixed_office_times(buffer.getvalue())
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return path


_COLUMN_ORDER = [
    "list_name",
    "type",
    "name",
    "label",
    "hint",
    "required",
    "relevant",
    "constraint",
    "constraint_message",
    "calculation",
    "appearance",
    "form_title",
    "form_id",
    "version",
    "default_language",
    "key",
    "value",
]


def _order_columns(columns: list[str]) -> list[str]:
    def key(column: str) -> tuple[int, int, str]:
        base = column.split("::")[0]
        if base in _COLUMN_ORDER:
            return (0, _COLUMN_ORDER.index(base), "")
        return (1, 0, column)

    return sorted(columns, key=key)


# =============================================================================================
# Import
# =============================================================================================


@dataclass(frozen=True)
class Proposal:
    """A sensitivity pceval proposed for an item of someone else's form (XLSForm has none).

    The proposal is already applied to the imported instrument; review it before deploying.
    """

    item: str
    sensitivity: Sensitivity
    reason: str

    def __str__(self) -> str:
        return (
            f"item {self.item!r} marked {self.sensitivity.value} ({self.reason}); "
            "check it before using the instrument"
        )


@dataclass(frozen=True)
class ImportResult:
    """What :func:`import_xlsform` read.

    Attributes
    ----------
    instrument : Instrument
        The instrument, with proposed sensitivities applied.
    proposals : tuple of Proposal
        The sensitivities pceval proposed (empty for a form pceval exported, whose metadata
        columns say exactly).
    notes : tuple of str
        Everything else the import decided for you: rows left out (metadata fields, media
        questions), an ``or_other`` expanded, choices read as missing codes, constraints dropped.
    """

    instrument: Instrument
    proposals: tuple[Proposal, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def messages(self) -> tuple[str, ...]:
        """Proposals and notes as one-line messages, proposals first."""
        return tuple(str(p) for p in self.proposals) + self.notes


# Metadata rows in ODK forms that are not questions; their columns in exports are not items.
_META_TYPES = frozenset(
    {
        "start",
        "end",
        "today",
        "deviceid",
        "imei",
        "subscriberid",
        "simserial",
        "phonenumber",
        "username",
        "email",
        "audit",
        "start-geopoint",
        "background-audio",
        "uri:deviceid",
        "uri:subscriberid",
        "uri:simserial",
        "uri:phonenumber",
        "uri:username",
        "uri:email",
    }
)
_IDENTIFYING_META = frozenset(
    {
        "deviceid",
        "imei",
        "subscriberid",
        "simserial",
        "phonenumber",
        "username",
        "email",
        "start-geopoint",
        "background-audio",
    }
)
# Question types pceval has no equivalent for: left out with a note.
_UNSUPPORTED_TYPES = frozenset(
    {
        "geopoint",
        "geotrace",
        "geoshape",
        "image",
        "photo",
        "audio",
        "video",
        "file",
        "barcode",
        "time",
        "datetime",
        "dateTime",
        "acknowledge",
        "trigger",
        "hidden",
        "rank",
        "xml-external",
        "csv-external",
        "signature",
        "select_from_file",
    }
)
_TYPE_ALIASES = {
    "select_one": "select_one",
    "select_multiple": "select_multiple",
    "begin_group": "begin_group",
    "end_group": "end_group",
    "begin_repeat": "begin_repeat",
    "end_repeat": "end_repeat",
    "select one from": "select_one",
    "select all that apply from": "select_multiple",
    "add select one prompt using": "select_one",
    "add select multiple prompt using": "select_multiple",
    "int": "integer",
    "string": "text",
    "select one": "select_one",
    "select1": "select_one",
    "select all that apply": "select_multiple",
    "select multiple": "select_multiple",
    "begin group": "begin_group",
    "end group": "end_group",
    "begin repeat": "begin_repeat",
    "end repeat": "end_repeat",
    "begin loop": "begin_repeat",
    "end loop": "end_repeat",
    "begin_loop": "begin_repeat",
    "end_loop": "end_repeat",
    "add note prompt": "note",
    "add integer prompt": "integer",
    "add decimal prompt": "decimal",
    "add date prompt": "date",
    "add text prompt": "text",
    "select_one_from_file": "select_from_file",
    "select_multiple_from_file": "select_from_file",
    "select one from file": "select_from_file",
    "select multiple from file": "select_from_file",
    "select_one_external": "select_from_file",
}
_HEADER_ALIASES = {
    "relevance": "relevant",
    "caption": "label",
    "constraining_message": "constraint_message",
    "jr:constraintmsg": "constraint_message",
    "calculate": "calculation",
    "bind::relevant": "relevant",
    "bind::calculate": "calculation",
    "bind::constraint": "constraint",
    "bind::required": "required",
    "value": "name",
    "tag": "name",
    "command": "type",
    "list name": "list_name",
}
_YES = {"yes", "true", "true()", "1", "y"}

_IDENTIFIER_WORDS = {
    Sensitivity.DIRECT_IDENTIFIER: (
        "name",
        "names",
        "firstname",
        "givenname",
        "surname",
        "lastname",
        "familyname",
        "fullname",
        "nickname",
        "dob",
        "birth",
        "birthday",
        "birthdate",
        "medicare",
        "passport",
        "licence",
        "license",
        "signature",
        "crn",
        "tfn",
    ),
    Sensitivity.CONTACT_SAFETY: (
        "phone",
        "mobile",
        "cell",
        "tel",
        "telephone",
        "landline",
        "email",
        "mail",
        "address",
        "street",
        "suburb",
        "postcode",
        "zipcode",
        "zip",
        "postal",
        "residence",
        "whatsapp",
        "contact",
    ),
}
_IDENTIFIER_PHRASES = {
    Sensitivity.DIRECT_IDENTIFIER: re.compile(
        r"\b(your|her|his|full|first|given|last|family) name\b|\bsurname\b|\bdate of birth\b|"
        r"\bbirth ?day\b",
        re.IGNORECASE,
    ),
    Sensitivity.CONTACT_SAFETY: re.compile(
        r"\bphone\b|\bmobile\b|\be-?mail\b|\baddress\b|\bpost ?code\b|\bsafe (time|times|way) to "
        r"contact\b",
        re.IGNORECASE,
    ),
}
_MISSING_LABELS = (
    (
        MissingKind.PREFER_NOT_TO_SAY,
        re.compile(
            # anchored on answering: "No answer" or "Declined" can be real outcomes (a call not
            # picked up, a woman declining partner contact), never a way to skip a question
            r"prefer not|rather not|^refused$|refused to (say|answer)|declined? to (say|answer)"
            r"|don'?t want to (say|answer)",
            re.IGNORECASE,
        ),
    ),
    (
        MissingKind.DONT_KNOW,
        re.compile(r"don'?t know|do not know|not sure|unsure|not known|^unknown$", re.IGNORECASE),
    ),
    (
        MissingKind.NOT_APPLICABLE,
        re.compile(r"not applicable|^n/?a$|does not apply|doesn'?t apply", re.IGNORECASE),
    ),
)


@dataclass
class _Cell:
    row: int
    values: dict[str, Any]


@dataclass
class _Sheet:
    name: str
    columns: list[str]
    rows: list[_Cell]


@dataclass
class _Pending:
    """An item row read from the survey sheet, before its expressions are translated."""

    row: int
    data: dict[str, Any]
    relevant: str | None = None
    group_relevant: list[tuple[int, str]] = field(default_factory=list)
    calculation: str | None = None
    constraint: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    generated: tuple[str, ...] = ()
    plain: tuple[str, ...] = ()
    or_other: bool = False
    hint: dict[str, str] = field(default_factory=dict)
    message: dict[str, str] = field(default_factory=dict)


# pceval_ columns holding text as written (not JSON): markers and expression sources.
_RAW_META = frozenset({"text", "generated", "relevance", "calculation", "group"})


def _split_type(kind: str) -> tuple[str, list[str]]:
    """``'select one from agree5'`` → ``('select_one', ['agree5'])``."""
    tokens = kind.split(" ")
    lowered = [t.lower() for t in tokens]
    for size in (4, 3, 2, 1):
        key = " ".join(lowered[:size])
        if key in _TYPE_ALIASES:
            return _TYPE_ALIASES[key], tokens[size:]
    return lowered[0], tokens[1:]


def import_xlsform(path: str | Path, *, respondent: str | None = None) -> ImportResult:
    """Read an XLSForm (exported by pceval or written by anyone for ODK or Kobo) as an instrument.

    Parameters
    ----------
    path : str or Path
        The ``.xlsx`` workbook.
    respondent : {"woman", "worker", "facilitator", "record"}, optional
        Who answers the form. Read from pceval's metadata when the form came from
        :func:`export_xlsform`; otherwise ``"woman"`` (the strictest privacy) unless given.

    Returns
    -------
    ImportResult
        ``instrument`` (the :class:`Instrument`), ``proposals`` (identifier sensitivities pceval
        proposed and applied: XLSForm has no identifier flag, so items are judged by name, label
        and type) and ``notes`` (rows left out, ``or_other`` expanded, missing codes found).

    Raises
    ------
    InstrumentError
        One line naming the sheet and row: no ``survey`` sheet, a choice list that is not in
        the ``choices`` sheet, a relevance or calculation that cannot be translated, a name used
        twice or not usable as an item id, a repeat (pceval needs one row per record).

    Notes
    -----
    Types: ``select_one`` (``likert`` appearance: Likert), ``select_multiple``, ``integer``,
    ``decimal``, ``range``, ``date``, ``text`` (``multiline`` appearance: long text),
    ``calculate``, ``note``. ``select_one list or_other`` becomes a choice with an ``other`` code
    and a free-text item ``<name>_other``, as ODK collects it. Groups: the innermost group is the
    item's ``group``, and a group's relevance is joined to each of its items' with ``and``.
    Constraints: ``. >= a and . <= b`` and ``regex(., 'p')``; any other constraint is left out
    with a note. In someone else's form, choices labelled like "Prefer not to say", "Don't know"
    or "Not applicable" become missing codes (with a note).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from pceval.instrument import load_instrument
    >>> women = load_instrument("womens_survey")
    >>> path = export_xlsform(women, pathlib.Path(tempfile.mkdtemp()) / "w.xlsx")
    >>> result = import_xlsform(path)
    >>> result.instrument == women, result.proposals
    (True, ())
    """
    return _FormReader(Path(path), respondent).read()


class _FormReader:
    def __init__(self, path: Path, respondent: str | None) -> None:
        self.path = path
        self.respondent = respondent
        self.notes: list[str] = []
        self.proposals: list[Proposal] = []

    def error(
        self,
        message: str,
        *,
        sheet: str | None = None,
        row: int | None = None,
        column: str | None = None,
        fix: str | None = None,
    ) -> InstrumentError:
        where = ".".join(p for p in (sheet, column) if p) or None
        if sheet and not column:
            where = f"{sheet} sheet"
        return InstrumentError(message, file=self.path, row=row, field=where, fix=fix)

    # --- reading the workbook
    def load(self) -> dict[str, _Sheet]:
        from openpyxl import load_workbook

        if not self.path.exists():
            raise InstrumentError("file not found", file=self.path)
        # the file is opened here, not by openpyxl: a workbook that fails half-way through
        # loading would leave openpyxl's own handle open
        with open(self.path, "rb") as handle:
            try:
                wb = load_workbook(handle, read_only=True, data_only=True)
            except Exception as exc:  # noqa: BLE001 - openpyxl, zipfile and the XML parser reading
                # untrusted bytes raise many types (NotImplementedError for a corrupted zip version)
                raise InstrumentError(
                    f"not an .xlsx workbook ({type(exc).__name__})",
                    file=self.path,
                    fix="save the XLSForm as an Excel .xlsx workbook",
                ) from None
            try:
                return self._sheets(wb)
            except Exception as exc:  # noqa: BLE001 - as above: a damaged sheet (its XML cut short,
                # its compressed bytes corrupted) is found only when its rows are read
                raise InstrumentError(
                    f"the workbook is damaged: a sheet cannot be read ({type(exc).__name__})",
                    file=self.path,
                    fix="open the XLSForm in Excel and save it again as an .xlsx workbook",
                ) from None
            finally:
                wb.close()

    def _sheets(self, wb: Any) -> dict[str, _Sheet]:
        sheets: dict[str, _Sheet] = {}
        for ws in wb.worksheets:
            rows = list(ws.iter_rows(values_only=True))
            header = [str(h).strip() if h is not None else "" for h in (rows[0] if rows else ())]
            cells = []
            for number, values in enumerate(rows[1:], start=2):
                record = {}
                for column, value in zip(header, values, strict=False):
                    if not column:
                        continue
                    if isinstance(value, str):
                        value = value.strip()
                        if value == "":
                            value = None
                    if value is not None:
                        record[column] = value
                if record:
                    cells.append(_Cell(number, record))
            sheets[ws.title.strip().lower()] = _Sheet(ws.title, header, cells)
        return sheets

    def read(self) -> ImportResult:
        sheets = self.load()
        if "survey" not in sheets:
            raise self.error(
                f"no 'survey' sheet (sheets found: {[s.name for s in sheets.values()]})",
                fix="an XLSForm needs a survey sheet with type, name and label columns",
            )
        self.meta = self.read_meta(sheets.get(META_SHEET))
        self.own = self.meta.get("format") == FORMAT
        survey = self.normalise(sheets["survey"], "survey")
        for needed in ("type", "name"):
            if needed not in {c[0] for c in survey.columns}:
                raise self.error(
                    f"the survey sheet has no {needed!r} column",
                    sheet="survey",
                    row=1,
                    fix=f"add a {needed!r} column",
                )
        choices_sheet = sheets.get("choices")
        choices = self.normalise(choices_sheet, "choices") if choices_sheet else None
        settings_sheet = sheets.get("settings")
        settings = settings_sheet.rows[0].values if settings_sheet and settings_sheet.rows else {}
        settings = {_snake(k): v for k, v in settings.items()}

        self.default_lang = (
            self.meta_langs()[0]
            if self.own
            else (
                _language_code(str(settings["default_language"]))
                if settings.get("default_language")
                else None
            )
        )
        self.langs = self.languages(survey, choices)
        self.lists = self.read_choices(choices)
        pending = self.read_survey(survey)
        items, rows, lists, missing = self.build_items(pending)
        return self.build_instrument(items, rows, lists, missing, settings)

    def normalise(self, sheet: _Sheet, name: str) -> _Sheet:
        """Headers as (column, language) pairs: ``label::Español (es)`` → ('label', 'es')."""
        columns: list[tuple[str, str | None]] = []
        rows = []
        mapping: dict[str, tuple[str, str | None]] = {}
        for header in sheet.columns:
            if not header:
                continue
            if header.startswith(META_PREFIX):
                key = (header, None)
            else:
                base, _, lang = header.partition("::")
                base = _HEADER_ALIASES.get(
                    header.lower(), _HEADER_ALIASES.get(_snake(base), _snake(base))
                )
                if base in ("label", "hint", "constraint_message") and lang:
                    key = (base, lang.strip())
                else:
                    key = (base, None)
            mapping[header] = key
            columns.append(key)
        for cell in sheet.rows:
            rows.append(
                _Cell(cell.row, {mapping[h]: v for h, v in cell.values.items() if h in mapping})
            )
        return _Sheet(name, columns, rows)  # type: ignore[arg-type]

    def read_meta(self, sheet: _Sheet | None) -> dict[str, Any]:
        if sheet is None:
            return {}
        out: dict[str, Any] = {}
        for cell in sheet.rows:
            key, value = cell.values.get("key"), cell.values.get("value")
            if key is None:
                continue
            if key in ("format",):
                out[key] = value
                continue
            try:
                out[str(key)] = json.loads(value) if isinstance(value, str) else value
            except json.JSONDecodeError:
                raise self.error(
                    f"value of {key!r} is not valid JSON",
                    sheet=META_SHEET,
                    row=cell.row,
                    column="value",
                    fix="restore the value pceval wrote",
                ) from None
            self.check_meta(Instrument, str(key), out[str(key)], sheet=META_SHEET, row=cell.row,
                            column="value")
        return out

    def check_meta(self, model: type, key: str, value: Any, *, sheet: str, row: int,
                   column: str) -> None:
        """A metadata value must have the type of the field it fills (or, for the lists the
        export derived, map list names to list names): the import relies on the shapes pceval
        writes, and a form edited by hand may hold anything."""
        if key == "derived_lists":
            adapter = _adapter(None, key)
        elif key in model.model_fields:
            adapter = _adapter(model, key)
        else:
            return
        try:
            adapter.validate_python(value)
        except ValidationError as exc:
            raise self.error(
                f"metadata {key!r} is not valid: {exc.errors()[0]['msg']}",
                sheet=sheet,
                row=row,
                column=column,
                fix="restore the value pceval wrote",
            ) from None

    def meta_langs(self) -> list[str]:
        return list(self.meta.get("languages") or ["en"])

    def languages(self, survey: _Sheet, choices: _Sheet | None) -> list[str]:
        seen: list[str] = []
        plain = False
        for sheet in (survey, choices):
            if sheet is None:
                continue
            for base, lang in sheet.columns:
                if base in ("label", "hint", "constraint_message"):
                    if lang is None:
                        plain = True
                    else:
                        code = _language_code(lang)
                        if code not in seen:
                            seen.append(code)
        if self.own:
            return self.meta_langs() + [c for c in seen if c not in self.meta_langs()]
        if self.default_lang is None:
            self.default_lang = seen[0] if seen and not plain else "en"
            if plain and not seen:
                self.notes.append("labels have no language; read as English (en)")
        out = [self.default_lang] + [c for c in seen if c != self.default_lang]
        return out

    def text(self, values: dict, column: str) -> tuple[dict[str, str], bool]:
        """Per-language text of a column; the second value says a plain column was used."""
        out: dict[str, str] = {}
        plain = values.get((column, None))
        for (base, lang), value in values.items():
            if base == column and lang is not None and value is not None:
                out[_language_code(lang)] = str(value)
        if plain is not None and self.default_lang not in out:
            out[self.default_lang] = str(plain)
        return out, plain is not None

    def shape(self, texts: dict[str, str], plain_marked: bool) -> Text | None:
        if not texts:
            return None
        if plain_marked or (not self.own and len(self.langs) == 1):
            return texts.get(self.langs[0]) or next(iter(texts.values()))
        return texts

    # --- choices
    def read_choices(self, sheet: _Sheet | None) -> dict[str, list[tuple[int, Code, Text]]]:
        lists: dict[str, list[tuple[int, Code, Text]]] = {}
        if sheet is None:
            return lists
        raw: dict[str, list[tuple[int, Any, Text]]] = {}
        for cell in sheet.rows:
            values = cell.values
            list_name = values.get(("list_name", None))
            if list_name is None:
                continue
            code = values.get(("name", None))
            if code is None:
                raise self.error(
                    f"a choice of list {list_name!r} has no name",
                    sheet="choices",
                    row=cell.row,
                    column="name",
                    fix="give every choice a name (its code)",
                )
            texts, _ = self.text(values, "label")
            plain = "label" in str(values.get((f"{META_PREFIX}text", None)) or "").split()
            label = self.shape(texts, plain)
            raw.setdefault(str(list_name).strip(), []).append(
                (cell.row, code, label if label is not None else "")
            )
        for list_name, rows in raw.items():
            lists[list_name] = []
            codes = [self.code(v) for _, v, _ in rows]
            if not self.own and all(
                isinstance(c, int) or re.fullmatch(r"-?\d+", str(c)) for c in codes
            ):
                codes = [int(c) for c in codes]
            seen: dict[Code, int] = {}
            for (row, _, label), code in zip(rows, codes, strict=True):
                if code in seen:
                    raise self.error(
                        f"choice {code!r} appears twice in list {list_name!r} "
                        f"(first at row {seen[code]})",
                        sheet="choices",
                        row=row,
                        column="name",
                        fix="give each choice its own name",
                    )
                seen[code] = row
                lists[list_name].append((row, code, label))
        return lists

    @staticmethod
    def code(value: Any) -> Code:
        if isinstance(value, bool):
            return str(value).lower()
        if isinstance(value, float):
            return int(value) if value.is_integer() else str(value)
        if isinstance(value, int):
            return value
        return str(value)

    # --- survey
    def read_survey(self, sheet: _Sheet) -> list[_Pending]:
        pending: list[_Pending] = []
        stack: list[tuple[str, int, str | None]] = []  # (group id, row, relevant)
        names: dict[str, int] = {}
        for cell in sheet.rows:
            values = cell.values
            raw_type = values.get(("type", None))
            if raw_type is None:
                continue
            kind = " ".join(str(raw_type).split())
            head, args = _split_type(kind)
            name = _str(values.get(("name", None)))
            if head in ("begin_repeat", "end_repeat"):
                raise self.error(
                    f"repeat {name or ''!r} cannot be imported: pceval needs one row per record",
                    sheet="survey",
                    row=cell.row,
                    column="type",
                    fix="make the repeat a separate form (or instrument) with one row per record",
                )
            if head == "begin_group":
                group = values.get((f"{META_PREFIX}group", None)) if self.own else None
                group = str(group) if group else self.group_id(name, cell.row)
                stack.append((group, cell.row, _str(values.get(("relevant", None)))))
                continue
            if head == "end_group":
                if not stack:
                    raise self.error(
                        "end_group without a begin_group",
                        sheet="survey",
                        row=cell.row,
                        column="type",
                        fix="delete the row or add the begin_group",
                    )
                stack.pop()
                continue
            if head in _META_TYPES:
                identifying = head.removeprefix("uri:") in _IDENTIFYING_META
                self.notes.append(
                    f"survey row {cell.row}: {kind} field {name!r} is device metadata, "
                    "not a question; "
                    + (
                        "it identifies the device or its user: drop its column from data exports"
                        if identifying
                        else "its column in data exports is not an item"
                    )
                )
                continue
            if head in _UNSUPPORTED_TYPES:
                self.notes.append(
                    f"survey row {cell.row}: {kind} question {name!r} left out "
                    "(pceval has no such item type)"
                )
                continue
            if not name:
                raise self.error(
                    "the row has a type but no name",
                    sheet="survey",
                    row=cell.row,
                    column="name",
                    fix="give the question a name",
                )
            if not re.match(ID_PATTERN, name) or len(name) > 26:
                suggestion = re.sub(r"[^a-z0-9_]+", "_", name.lower()).strip("_")[:26] or "q"
                if not suggestion[0].isalpha():
                    suggestion = f"q_{suggestion}"[:26]
                raise self.error(
                    f"name {name!r} cannot be a pceval item id (lowercase letters, digits and _, "
                    "starting with a letter, at most 26 characters)",
                    sheet="survey",
                    row=cell.row,
                    column="name",
                    fix=f"rename it, e.g. {suggestion!r}, before deploying the form",
                )
            if name in names:
                raise self.error(
                    f"name {name!r} is used twice (first at row {names[name]})",
                    sheet="survey",
                    row=cell.row,
                    column="name",
                    fix="give every question its own name",
                )
            names[name] = cell.row
            item = self.item_data(cell, kind, head, args, name)
            item.data["group"] = stack[-1][0] if stack else None
            item.group_relevant = [(row, rel) for _, row, rel in stack if rel]
            pending.append(item)
            if item.or_other:
                other = f"{name}_other"
                if other in names or len(other) > 26:
                    raise self.error(
                        f"or_other needs a text item {other!r}, which is taken or too long",
                        sheet="survey",
                        row=cell.row,
                        column="type",
                        fix="add the 'other' choice and a text question yourself",
                    )
                names[other] = cell.row
                pending.append(
                    _Pending(
                        cell.row,
                        {
                            "id": other,
                            "type": ItemType.SHORT_TEXT,
                            "label": "Specify other.",
                            "group": item.data["group"],
                            "sensitivity": Sensitivity.FREE_TEXT.value,
                            "relevance": f"selected({name}, 'other')",
                        },
                    )
                )
                self.notes.append(
                    f"survey row {cell.row}: {name!r} is 'or_other': added the choice 'other' "
                    f"and the text item {other!r}, as ODK collects them"
                )
        if stack:
            group, row, _ = stack[-1]
            raise self.error(
                f"group {group!r} is never closed",
                sheet="survey",
                row=row,
                column="type",
                fix="add an end_group row",
            )
        return pending

    def group_id(self, name: str | None, row: int) -> str:
        text = re.sub(r"[^a-z0-9_]+", "_", (name or "group").lower()).strip("_") or "group"
        if not text[0].isalpha():
            text = f"g_{text}"
        if text != name:
            self.notes.append(f"survey row {row}: group {name!r} read as {text!r}")
        return text

    def item_data(self, cell: _Cell, kind: str, head: str, args: list[str], name: str) -> _Pending:
        values = cell.values
        appearance = str(values.get(("appearance", None)) or "").lower().split()
        data: dict[str, Any] = {"id": name}
        or_other = False
        if head in ("select_one", "select_multiple"):
            or_other = [a.lower() for a in args[1:]] in (
                ["or_other"],
                ["or", "other"],
                ["or", "specify", "other"],
            )
            if not args or (len(args) > 1 and not or_other):
                raise self.error(
                    f"type {kind!r} must name one choice list",
                    sheet="survey",
                    row=cell.row,
                    column="type",
                    fix="write it as 'select_one list_name'",
                )
            list_name = args[0]
            if list_name not in self.lists:
                raise self.error(
                    f"choice list {list_name!r} is not in the choices sheet",
                    sheet="survey",
                    row=cell.row,
                    column="type",
                    fix=f"add its choices to the choices sheet (lists there: {sorted(self.lists)})",
                )
            if head == "select_multiple":
                data["type"] = ItemType.MULTIPLE_CHOICE
            else:
                data["type"] = ItemType.LIKERT if "likert" in appearance else ItemType.SINGLE_CHOICE
            data["choices"] = list_name
        elif head == "range":
            params = str(values.get(("parameters", None)) or "")
            found = {
                k: float(v) for k, v in re.findall(r"(start|end|step)\s*=\s*(-?[\d.]+)", params)
            }
            bounds = {"min": found.get("start", 1.0), "max": found.get("end", 10.0)}
            whole = all(float(v).is_integer() for v in (*bounds.values(), found.get("step", 1.0)))
            data["type"] = ItemType.INTEGER if whole else ItemType.DECIMAL
            data["constraint"] = bounds
        elif head in ("integer", "decimal", "date", "note", "calculate", "text"):
            data["type"] = {
                "integer": ItemType.INTEGER,
                "decimal": ItemType.DECIMAL,
                "date": ItemType.DATE,
                "note": ItemType.NOTE,
                "calculate": ItemType.CALCULATED,
                "text": ItemType.LONG_TEXT if "multiline" in appearance else ItemType.SHORT_TEXT,
            }[head]
        else:
            raise self.error(
                f"type {kind!r} is not an XLSForm question type pceval knows",
                sheet="survey",
                row=cell.row,
                column="type",
                fix="correct the type or delete the row",
            )
        meta: dict[str, Any] = {}
        if self.own:
            for (column, _), raw in values.items():
                if not column.startswith(META_PREFIX):
                    continue
                key = column[len(META_PREFIX) :]
                if key in _RAW_META:
                    meta[key] = str(raw)
                    continue
                try:
                    meta[key] = _meta_value(raw)
                except json.JSONDecodeError:
                    raise self.error(
                        f"metadata {raw!r} is not valid JSON",
                        sheet="survey",
                        row=cell.row,
                        column=column,
                        fix="restore the value pceval wrote",
                    ) from None
                self.check_meta(Item, key, meta[key], sheet="survey", row=cell.row, column=column)
        plain = meta.pop("text", "").split()
        generated = tuple(meta.pop("generated", "").split())
        label, _ = self.text(values, "label")
        data["label"] = self.shape(label, "label" in plain) or ""
        required = values.get(("required", None))
        if required is not None:
            flag = str(required).strip().lower()
            if flag in _YES:
                data["required"] = True
            elif flag not in {"no", "false", "false()", "0", "n"}:
                self.notes.append(
                    f"survey row {cell.row}: {name!r} is required only when {required!r}; "
                    "read as not required"
                )
        return _Pending(
            row=cell.row,
            data=data,
            relevant=_str(values.get(("relevant", None))),
            calculation=_str(values.get(("calculation", None))),
            constraint=_str(values.get(("constraint", None))),
            meta=meta,
            generated=generated,
            plain=tuple(plain),
            or_other=or_other,
            hint=self.text(values, "hint")[0],
            message=self.text(values, "constraint_message")[0],
        )

    # --- items
    def build_items(self, pending: list[_Pending]) -> tuple[list[Item], list[int], dict, list]:
        derived: dict[str, str] = dict(self.meta.get("derived_lists") or {}) if self.own else {}
        lists = {
            name: [{"code": code, "label": label} for _, code, label in rows]
            for name, rows in self.lists.items()
            if name not in derived
        }
        if self.own:
            missing_decl: list[dict] = list(self.meta.get("missing_codes") or [])
            for p in pending:
                if p.data.get("choices") in derived:
                    p.data["choices"] = derived[p.data["choices"]]
        else:
            lists, missing_decl = self.find_missing(lists, pending)
        for p in pending:
            if p.or_other:
                base = p.data["choices"]
                with_other = f"{base}_or_other"
                if with_other not in lists:
                    lists[with_other] = [*lists[base], {"code": "other", "label": "Other"}]
                p.data["choices"] = with_other
        self.roles = {p.data["id"]: p.meta.get("role") for p in pending}
        ctx = {}
        for p in pending:
            codes = tuple(c["code"] for c in lists.get(p.data.get("choices") or "", []))
            missing = p.meta.get("missing_codes") or p.data.get("missing_codes") or ()
            ctx[p.data["id"]] = _Info(p.data["type"], codes + tuple(missing))
        missing_by_code = {m["code"]: m for m in missing_decl}
        items = [self.finish_item(p, ctx, missing_by_code, missing_decl) for p in pending]
        return items, [p.row for p in pending], lists, missing_decl

    def find_missing(
        self, lists: dict[str, list[dict]], pending: list[_Pending]
    ) -> tuple[dict, list]:
        """In someone else's form, read "Prefer not to say"-like choices as missing codes."""
        found: dict[Code, dict] = {}
        per_list: dict[str, list[Code]] = {}
        out: dict[str, list[dict]] = {}
        for name, choices in lists.items():
            keep, moved = [], []
            for choice in choices:
                label = text_in(choice["label"], self.langs[0]).strip()
                kind = next((k for k, pattern in _MISSING_LABELS if pattern.search(label)), None)
                if kind is None:
                    keep.append(choice)
                else:
                    moved.append((choice, kind, label))
            if not moved or not keep:
                out[name] = choices
                continue
            out[name] = keep
            per_list[name] = [choice["code"] for choice, _, _ in moved]
            for choice, kind, label in moved:
                if choice["code"] not in found:
                    found[choice["code"]] = {
                        "code": choice["code"],
                        "label": choice["label"],
                        "kind": kind.value,
                    }
                self.notes.append(
                    f"list {name!r}: choice {choice['code']!r} ({label}) read as a missing "
                    f"code of kind {kind.value}"
                )
        for p in pending:
            if p.data.get("choices") in per_list:
                p.data["missing_codes"] = list(per_list[p.data["choices"]])
        return out, list(found.values())

    def finish_item(
        self, p: _Pending, ctx: dict[str, _Info], missing_by_code: dict, missing_decl: list
    ) -> Item:
        data = dict(p.data)
        item_id = data["id"]
        for key, value in p.meta.items():
            if key in _RAW_META:
                continue
            if key not in Item.model_fields:
                self.notes.append(
                    f"survey row {p.row}: metadata column {META_PREFIX}{key} is not an "
                    "item field; ignored"
                )
                continue
            data[key] = value
        missing_codes = tuple(data.get("missing_codes", ()))
        # the hint, less the missing-code guidance the export added
        hint_texts = dict(p.hint)
        if "hint" in p.generated:
            labels = {code: m["label"] for code, m in missing_by_code.items()}
            for lang in list(hint_texts):
                suffix = _missing_hint(labels, missing_codes, lang)
                text = hint_texts[lang]
                if suffix and text == suffix:
                    del hint_texts[lang]
                elif suffix and text.endswith(f" ({suffix})"):
                    hint_texts[lang] = text[: -len(suffix) - 3]
        data["hint"] = self.shape(hint_texts, "hint" in p.plain)
        # relevance: the group's conditions, then the item's own
        parts = [
            self.expression(p, row, "relevant", xpath, ctx, condition=True, own_row=False)
            for row, xpath in p.group_relevant
        ]
        own = self.expression(p, p.row, "relevant", p.relevant, ctx, condition=True)
        parts = [s for s in [*parts, own, data.get("relevance")] if s]
        if len(parts) == 1:
            data["relevance"] = parts[0]
        elif parts:
            values: list[ast.expr] = []
            for part in parts:
                body = ast.parse(part, mode="eval").body
                is_and = isinstance(body, ast.BoolOp) and isinstance(body.op, ast.And)
                values.extend(body.values if is_and else [body])
            data["relevance"] = ast.unparse(ast.BoolOp(ast.And(), values))
        if p.calculation is not None:
            data["calculation"] = self.expression(
                p, p.row, "calculation", p.calculation, ctx, condition=False
            )
        elif data["type"] == ItemType.CALCULATED:
            raise self.error(
                f"calculate {item_id!r} has no calculation",
                sheet="survey",
                row=p.row,
                column="calculation",
                fix="write its calculation",
            )
        # constraint: ranges and patterns, and (someone else's form) codes admitted besides them
        constraint: dict[str, Any] = dict(data.pop("constraint", None) or {})
        if p.constraint is not None:
            try:
                fields, codes = _parse_constraint(p.constraint, data["type"])
            except _XPathError as exc:
                self.notes.append(
                    f"survey row {p.row}: constraint {p.constraint!r} of {item_id!r} "
                    f"left out ({exc})"
                )
                fields, codes = {}, []
            constraint.update(fields)
            if codes and not self.own:
                for code in codes:
                    if code not in missing_by_code:
                        missing_by_code[code] = {
                            "code": code,
                            "label": str(code),
                            "kind": MissingKind.MISSING.value,
                        }
                        missing_decl.append(missing_by_code[code])
                data["missing_codes"] = list(dict.fromkeys([*missing_codes, *codes]))
                self.notes.append(
                    f"survey row {p.row}: {item_id!r} also accepts {codes}; read as missing codes"
                )
        if "pattern" in constraint:
            try:
                re.compile(constraint["pattern"])
            except re.error as exc:
                self.notes.append(
                    f"survey row {p.row}: pattern {constraint['pattern']!r} of {item_id!r} is "
                    f"not a Python regular expression ({exc}); left out"
                )
                del constraint["pattern"]
        message = self.shape(p.message, "constraint_message" in p.plain)
        if message is not None:
            constraint["message"] = message
        data["constraint"] = constraint or None
        if not self.own:
            self.propose(data)
        try:
            return Item.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            loc = ".".join(str(x) for x in first["loc"]) or None
            raise self.error(
                f"item {item_id!r}: {first['msg'].removeprefix('Value error, ')}",
                sheet="survey",
                row=p.row,
                column=loc,
            ) from None

    def expression(
        self,
        p: _Pending,
        row: int,
        column: str,
        xpath: str | None,
        ctx: dict[str, _Info],
        *,
        condition: bool,
        own_row: bool = True,
    ) -> str | None:
        if xpath is None:
            return None
        attr = "relevance" if column == "relevant" else "calculation"
        if self.own and own_row and column == "relevant":
            xpath = self.strip_wave(p, xpath, ctx)
            if not xpath:
                return None
        source = p.meta.get(attr) if own_row else None
        if source:
            try:
                if to_xpath(source, ctx, condition=condition) == xpath:
                    return source
            except ExpressionError:
                pass
        try:
            return _xpath_to_source(xpath, ctx)
        except _XPathError as exc:
            raise self.error(
                f"cannot translate {attr} {xpath!r}: {exc}",
                sheet="survey",
                row=row,
                column=column,
                fix="rewrite it with ${name} references, = != < > <= >=, and/or/not(), "
                "selected() and string-length()",
            ) from None

    def strip_wave(self, p: _Pending, xpath: str, ctx: dict[str, _Info]) -> str:
        """Take off the wave condition the export added (items asked only at some waves)."""
        waves = p.meta.get("waves")
        wave_item = next((i for i, role in self.roles.items() if role == Role.WAVE.value), None)
        if not waves or "wave" in self.meta or wave_item is None or wave_item == p.data["id"]:
            return xpath
        clause = to_xpath(" or ".join(f"{wave_item} == {c!r}" for c in waves), ctx)
        tail = f") and ({clause})"
        if xpath == clause:
            return ""
        if xpath.startswith("(") and xpath.endswith(tail):
            return xpath[1 : -len(tail)]
        return xpath

    def propose(self, data: dict) -> None:
        if data.get("sensitivity") or data["type"] in _CHOICE_TYPES | {
            ItemType.NOTE,
            ItemType.CALCULATED,
        }:
            return
        tokens = set(re.split(r"[^a-z]+", data["id"].lower())) | {
            data["id"].lower().replace("_", "")
        }
        label = text_in(data.get("label"), self.langs[0])
        for sensitivity in (Sensitivity.CONTACT_SAFETY, Sensitivity.DIRECT_IDENTIFIER):
            words = tokens & set(_IDENTIFIER_WORDS[sensitivity])
            if sensitivity == Sensitivity.DIRECT_IDENTIFIER and data["type"] == ItemType.DATE:
                words = words & {"dob", "birth", "birthday", "birthdate"}
            if words:
                reason = f"its name contains {min(words)!r}"
            elif phrase := _IDENTIFIER_PHRASES[sensitivity].search(label):
                reason = f"its label mentions {phrase.group(0)!r}"
            else:
                continue
            data["sensitivity"] = sensitivity.value
            self.proposals.append(Proposal(data["id"], sensitivity, reason))
            return
        if data["type"] in (ItemType.SHORT_TEXT, ItemType.LONG_TEXT):
            data["sensitivity"] = Sensitivity.FREE_TEXT.value
            self.proposals.append(
                Proposal(
                    data["id"],
                    Sensitivity.FREE_TEXT,
                    "free text may hold names; it is scrubbed before leaving staging",
                )
            )

    # --- instrument
    def build_instrument(
        self, items: list[Item], rows: list[int], lists: dict, missing: list, settings: dict
    ) -> ImportResult:
        if self.own:
            data = {
                k: v
                for k, v in self.meta.items()
                if k in Instrument.model_fields and k not in ("items", "choice_lists")
            }
            data["missing_codes"] = missing
        else:
            form_id = str(settings.get("form_id") or settings.get("id_string") or self.path.stem)
            inst_id = re.sub(r"[^a-z0-9_]+", "_", form_id.lower()).strip("_") or "imported_form"
            if not inst_id[0].isalpha():
                inst_id = f"form_{inst_id}"
            title = settings.get("form_title") or settings.get("title") or form_id
            data = {
                "kind": "instrument",
                "schema_version": 1,
                "id": inst_id,
                "version": str(settings.get("version") or "1"),
                "title": str(title),
                "respondent": self.respondent or "woman",
                "languages": self.langs,
                "missing_codes": missing,
            }
            if self.respondent is None:
                self.notes.append("respondent not given; read as 'woman' (pass respondent=...)")
        if self.own:
            if settings.get("form_id"):
                data["id"] = str(settings["form_id"])
            if settings.get("version") is not None:
                data["version"] = str(settings["version"])
            title = settings.get("form_title")
            if title is not None and str(title) != text_in(data.get("title"), self.langs[0]):
                data["title"] = str(title)
            if self.respondent is not None:
                data["respondent"] = self.respondent
        data["choice_lists"] = lists
        data["items"] = items
        try:
            instrument = Instrument.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            loc = first["loc"]
            message = first["msg"].removeprefix("Value error, ")
            row = None
            if len(loc) >= 2 and loc[0] == "items" and isinstance(loc[1], int):
                row = rows[loc[1]]
                return_sheet = "survey"
            else:
                return_sheet = META_SHEET if self.own else "settings"
            raise self.error(
                message, sheet=return_sheet, row=row, fix="correct the form and import it again"
            ) from None
        return ImportResult(instrument, tuple(self.proposals), tuple(self.notes))


@functools.cache
def _adapter(model: type | None, key: str) -> TypeAdapter:
    """Validator of a model field's type (of ``dict[str, str]`` for the derived lists)."""
    if model is None:
        return TypeAdapter(dict[str, str])
    return TypeAdapter(model.model_fields[key].annotation)


def _snake(text: str) -> str:
    return "_".join(str(text).split()).lower()


def _str(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None
