"""REDCap: export an instrument as a Data Dictionary, check a dictionary, import one.

REDCap builds its forms from a *Data Dictionary*, a CSV file with 18 columns (one row per field).
This module writes an instrument as such a file, checks a dictionary against REDCap's documented
rules, and reads a dictionary back into an :class:`~pceval.instrument.model.Instrument`: our own
exports losslessly, and a user's own REDCap project as far as REDCap's design can be expressed.

How an instrument becomes a dictionary
--------------------------------------
=================  ==========================================================================
pceval             REDCap
=================  ==========================================================================
single_choice      ``radio``; the item's missing codes are appended as choices (``-99, Prefer
                   not to say``) so a woman can always decline
likert             ``radio``; consecutive likert items sharing ``group``, choice list and
                   missing codes form a *matrix group* named after the group
multiple_choice    ``checkbox``; missing codes appended as choices (``[help(-99)]`` in logic;
                   REDCap exports that box as ``help____99``, see :func:`redcap_checkbox_column`)
integer, decimal   ``text`` validated ``integer`` / ``number``, min and max from the constraint
date               ``text`` validated ``date_ymd``
short_text         ``text`` (a pattern constraint has no dictionary column: kept in the payload)
long_text          ``notes``
calculated         ``calc``, the calculation in REDCap syntax (:func:`to_redcap_calculation`)
note               ``descriptive``
=================  ==========================================================================

The first row is REDCap's record id (``record_id``; REDCap requires the first field to be the
record identifier). It is REDCap's key, not an item: importing never makes it an item, and
:class:`ImportResult` names it so an ingest step can read it as the record key.

Missing codes on text, number and date fields cannot be choices. REDCap's route for them is the
project-level *Missing Data Codes* setting (Project Setup, Additional customizations), which a
dictionary cannot carry; :func:`redcap_missing_data_codes` gives the text to paste there. Fields
whose missing codes are already choices (radio, checkbox) and fields with no missing codes get the
``@NOMISSING`` action tag so REDCap's missing-data button does not offer codes twice or where they
are not allowed.

Metadata REDCap has no column for
---------------------------------
Each row's *Field Annotation* holds, after any action tags, a readable line (``pceval:
sensitivity contact_safety; domains D12 D07; missing -99 prefer_not_to_say ...``) and a payload
``@PCEVAL=<base64url of compact JSON>``: the item's full model (every field, multi-language
labels, missing-code references, constraint pattern, the exact relevance text) and, on the record
id row, the instrument's own fields (title, version, waves, choice lists, missing codes with their
kinds, scales, support services). REDCap treats an unknown ``@WORD`` as text and does not validate
annotations on upload; base64url keeps the payload free of brackets, quotes, pipes, commas and
``@`` that piping, Excel or action-tag parsing could touch. Importing a dictionary with payloads
restores the instrument exactly; a row whose REDCap columns were edited after export (label,
choices, branching logic, ...) is rebuilt from its columns, keeping the payload's metadata, and
the import notes say so.

Branching logic
---------------
:func:`to_redcap_logic` writes the expression language in REDCap syntax (``[field] = '1'``,
``<>``, ``and``/``or``, parentheses, ``[field(code)] = '1'`` for a checkbox choice, ``[field] <>
''`` for *answered*). pceval's comparisons are false when an operand is blank; REDCap's ``<>`` is
true for a blank field and its other comparisons are not guaranteed false, so comparisons other
than ``[x] = 'value'`` carry explicit blank guards (``x > 0`` becomes ``[x] > 0 and [x] <> ''``)
and ``not`` is pushed inwards (REDCap logic has no ``not``). Importing reverses this, dropping
guards that pceval's semantics make redundant.

References: REDCap's Data Dictionary template and "Branching logic" help (Vanderbilt University);
the column list, field types and validation types match those used by the REDCap API clients
redcapAPI (``REDCAP_METADATA_*``) and REDCapR.
"""

from __future__ import annotations

import ast
import base64
import csv
import io
import json
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from pceval.errors import InstrumentError
from pceval.instrument.expressions import Expression, ExpressionError, parse_expression
from pceval.instrument.model import (
    ID_PATTERN,
    Choice,
    Code,
    Instrument,
    Item,
    ItemType,
    MissingCode,
    MissingKind,
    Sensitivity,
    text_in,
)
from pceval.io import write_text

# The 18 columns of REDCap's Data Dictionary, in order: the CSV download's spelling and the API's.
HEADERS: tuple[str, ...] = (
    "Variable / Field Name",
    "Form Name",
    "Section Header",
    "Field Type",
    "Field Label",
    "Choices, Calculations, OR Slider Labels",
    "Field Note",
    "Text Validation Type OR Show Slider Number",
    "Text Validation Min",
    "Text Validation Max",
    "Identifier?",
    "Branching Logic (Show field only if...)",
    "Required Field?",
    "Custom Alignment",
    "Question Number (surveys only)",
    "Matrix Group Name",
    "Matrix Ranking?",
    "Field Annotation",
)
API_HEADERS: tuple[str, ...] = (
    "field_name",
    "form_name",
    "section_header",
    "field_type",
    "field_label",
    "select_choices_or_calculations",
    "field_note",
    "text_validation_type_or_show_slider_number",
    "text_validation_min",
    "text_validation_max",
    "identifier",
    "branching_logic",
    "required_field",
    "custom_alignment",
    "question_number",
    "matrix_group_name",
    "matrix_ranking",
    "field_annotation",
)

FIELD_TYPES = frozenset({
    "text", "notes", "dropdown", "radio", "checkbox", "yesno", "truefalse", "calc", "file",
    "slider", "descriptive", "sql",
})
# REDCap's built-in validation types (a REDCap administrator may enable more).
VALIDATION_TYPES = frozenset({
    "date_dmy", "date_mdy", "date_ymd",
    "datetime_dmy", "datetime_mdy", "datetime_ymd",
    "datetime_seconds_dmy", "datetime_seconds_mdy", "datetime_seconds_ymd",
    "time", "time_mm_ss", "time_hh_mm_ss",
    "integer", "number", "number_1dp", "number_2dp", "number_3dp", "number_4dp",
    "number_comma_decimal", "number_1dp_comma_decimal", "number_2dp_comma_decimal",
    "number_3dp_comma_decimal", "number_4dp_comma_decimal",
    "alpha_only", "email", "phone", "phone_australia", "postalcode_australia",
    "postalcode_canada", "postalcode_french", "postalcode_germany", "zipcode", "ssn",
    "mrn_10d", "mrn_generic", "vmrn", "signature", "autocomplete",
})
CHOICE_TYPES = frozenset({"radio", "dropdown", "checkbox"})
ALIGNMENTS = frozenset({"", "LV", "LH", "RV", "RH"})
RECOMMENDED_NAME_LENGTH = 26
MAX_NAME_LENGTH = 100

_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_MATRIX_RE = re.compile(r"^[a-z0-9_]+$")
_RADIO_CODE_RE = re.compile(r"^-?[A-Za-z0-9_.]+$")
_CHECKBOX_CODE_RE = re.compile(r"^-?[A-Za-z0-9_]+$")
_PAYLOAD_RE = re.compile(r"@PCEVAL=([A-Za-z0-9_-]+)")
_INT_RE = re.compile(r"^-?(0|[1-9][0-9]*)$")
_NUM_RE = re.compile(r"^-?(\d+(\.\d*)?|\.\d+)$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_PAYLOAD_VERSION = 1

_TYPE_TO_REDCAP = {
    ItemType.SINGLE_CHOICE: "radio",
    ItemType.LIKERT: "radio",
    ItemType.MULTIPLE_CHOICE: "checkbox",
    ItemType.INTEGER: "text",
    ItemType.DECIMAL: "text",
    ItemType.DATE: "text",
    ItemType.SHORT_TEXT: "text",
    ItemType.LONG_TEXT: "notes",
    ItemType.CALCULATED: "calc",
    ItemType.NOTE: "descriptive",
}
_VALIDATION = {ItemType.INTEGER: "integer", ItemType.DECIMAL: "number", ItemType.DATE: "date_ymd"}


# ---------------------------------------------------------------------------------------------
# Expressions → REDCap
# ---------------------------------------------------------------------------------------------

_OPS = {ast.Eq: "=", ast.NotEq: "<>", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}
_NEGATED = {ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.Lt: ast.GtE, ast.LtE: ast.Gt,
            ast.Gt: ast.LtE, ast.GtE: ast.Lt}
_ARITH_TEXT = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}
_ARITH_RANK = {ast.Add: 1, ast.Sub: 1, ast.Mult: 2, ast.Div: 2}
_NO_CONSTANT = object()

# A logic tree: ("atom", text) | ("and", [trees]) | ("or", [trees]).
_Tree = tuple


def _atom(text: str) -> _Tree:
    return ("atom", text)


def _join(kind: str, parts: Iterable[_Tree]) -> _Tree:
    flat: list[_Tree] = []
    for part in parts:
        flat.extend(part[1] if part[0] == kind else [part])
    return flat[0] if len(flat) == 1 else (kind, flat)


def _render(tree: _Tree) -> str:
    kind = tree[0]
    if kind == "atom":
        return tree[1]
    texts = []
    for child in tree[1]:
        text = _render(child)
        # Parenthesise every nested group: explicit beats relying on and-before-or precedence.
        texts.append(f"({text})" if child[0] != "atom" else text)
    return f" {kind} ".join(texts)


def _constant(node: ast.AST) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if (isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub)
            and isinstance(node.operand, ast.Constant)
            and isinstance(node.operand.value, int | float)
            and not isinstance(node.operand.value, bool)):
        return -node.operand.value
    return _NO_CONSTANT


def _value_text(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _quote(text: str) -> str:
    if "'" not in text:
        return f"'{text}'"
    if '"' not in text:
        return f'"{text}"'
    raise ExpressionError(f"the value {text!r} holds both quote marks; REDCap cannot quote it")


class _ToRedcap:
    """Translate a parsed expression into REDCap branching logic or calculation syntax."""

    def __init__(self, instrument: Instrument, source: str) -> None:
        self.items = {item.id: item for item in instrument.items}
        self.instrument = instrument
        self.source = source

    def fail(self, what: str) -> ExpressionError:
        return ExpressionError(f"expression {self.source!r}: {what}")

    def item(self, name: str) -> Item:
        if name not in self.items:
            raise self.fail(f"{name!r} is not an item of instrument {self.instrument.id!r}")
        return self.items[name]

    # conditions ---------------------------------------------------------------------------

    def cond(self, node: ast.AST, neg: bool = False) -> _Tree:
        if isinstance(node, ast.BoolOp):
            is_and = isinstance(node.op, ast.And) != neg  # De Morgan when negated
            return _join("and" if is_and else "or", [self.cond(v, neg) for v in node.values])
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return self.cond(node.operand, not neg)
        if isinstance(node, ast.Compare):
            lefts = [node.left, *node.comparators[:-1]]
            parts = [self.compare(left, type(op), right, neg)
                     for left, op, right in zip(lefts, node.ops, node.comparators, strict=True)]
            return _join("or" if neg else "and", parts)
        if isinstance(node, ast.Call):
            return self.call(node, neg)
        if isinstance(node, ast.Name):
            # Truthiness, as the expression language evaluates it: answered and not zero.
            ref = f"[{self.scalar(node.id)}]"
            if neg:
                return _join("or", [_atom(f"{ref} = ''"), _atom(f"{ref} = '0'")])
            return _join("and", [_atom(f"{ref} <> ''"), _atom(f"{ref} <> '0'")])
        value = _constant(node)
        if value is not _NO_CONSTANT:
            truth = bool(value) != neg
            return _atom("'1' = '1'" if truth else "'1' = '0'")
        raise self.fail(f"{ast.unparse(node)!r} is not a condition")

    def scalar(self, name: str) -> str:
        item = self.item(name)
        if item.is_multiple:
            raise self.fail(f"{name!r} is a multiple-choice item; test its choices with "
                            f"selected({name}, code)")
        return name

    def call(self, node: ast.Call, neg: bool) -> _Tree:
        name = node.args[0].id
        item = self.item(name)
        if node.func.id == "answered":
            if item.is_multiple:
                codes = [c.code for c in self.instrument.choices_of(item)]
                codes += list(item.missing_codes)
                if neg:
                    return _join("and", [_atom(f"[{name}({_value_text(c)})] = '0'") for c in codes])
                return _join("or", [_atom(f"[{name}({_value_text(c)})] = '1'") for c in codes])
            return _atom(f"[{name}] = ''" if neg else f"[{name}] <> ''")
        if len(node.args) != 2:
            raise self.fail("selected() takes an item and a code")
        code = _constant(node.args[1])
        if code is _NO_CONSTANT:
            raise self.fail("the code in selected() must be a constant")
        code_text = _value_text(code)
        if item.is_multiple:
            return _atom(f"[{name}({code_text})] = {_quote('0' if neg else '1')}")
        return _atom(f"[{name}] {'<>' if neg else '='} {_quote(code_text)}")

    def compare(self, left: ast.AST, op: type, right: ast.AST, neg: bool) -> _Tree:
        lconst, rconst = _constant(left), _constant(right)
        names: list[str] = []
        if neg:
            op = _NEGATED[op]
        ordered = op not in (ast.Eq, ast.NotEq)

        def side(node: ast.AST, const: Any) -> str:
            if const is not _NO_CONSTANT:
                text = _value_text(const)
                numeric = isinstance(const, int | float) and not isinstance(const, bool)
                return text if ordered and numeric else _quote(text)
            return self.value(node, names)

        text = f"{side(left, lconst)} {_OPS[op]} {side(right, rconst)}"
        simple = (isinstance(left, ast.Name) and rconst is not _NO_CONSTANT
                  or isinstance(right, ast.Name) and lconst is not _NO_CONSTANT)
        const = rconst if isinstance(left, ast.Name) else lconst
        guards = list(dict.fromkeys(names))
        if not neg:
            if op is ast.Eq and simple and _value_text(const) != "":
                return _atom(text)  # REDCap: a blank field never equals a value
            return _join("and", [_atom(text)] + [_atom(f"[{n}] <> ''") for n in guards])
        if op is ast.NotEq and simple:
            return _atom(text)  # REDCap's <> is already true for a blank field
        return _join("or", [_atom(text)] + [_atom(f"[{n}] = ''") for n in guards])

    # values -------------------------------------------------------------------------------

    def value(self, node: ast.AST, names: list[str] | None = None) -> str:
        names = names if names is not None else []
        const = _constant(node)
        if const is not _NO_CONSTANT:
            if isinstance(const, str):
                return _quote(const)
            return _value_text(const)
        if isinstance(node, ast.Name):
            names.append(self.scalar(node.id))
            return f"[{node.id}]"
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            inner = self.value(node.operand, names)
            return f"-({inner})" if isinstance(node.operand, ast.BinOp) else f"-{inner}"
        if isinstance(node, ast.BinOp):
            rank = _ARITH_RANK[type(node.op)]

            def child(sub: ast.AST, right: bool) -> str:
                text = self.value(sub, names)
                if isinstance(sub, ast.BinOp):
                    sub_rank = _ARITH_RANK[type(sub.op)]
                    if sub_rank < rank or (right and sub_rank == rank
                                           and isinstance(node.op, ast.Sub | ast.Div)):
                        return f"({text})"
                return text

            symbol = _ARITH_TEXT[type(node.op)]
            return f"{child(node.left, False)} {symbol} {child(node.right, True)}"
        # A condition used as a number: 1 when true, 0 otherwise.
        return f"if({_render(self.cond(node))}, 1, 0)"


def _expression(expression: str | Expression) -> Expression:
    return expression if isinstance(expression, Expression) else parse_expression(expression)


def to_redcap_logic(expression: str | Expression, instrument: Instrument) -> str:
    """Write an expression of the instrument language as REDCap branching logic.

    Parameters
    ----------
    expression : str or Expression
        A relevance condition in pceval's expression language.
    instrument : Instrument
        The instrument whose items the expression names (item types decide how ``selected`` and
        ``answered`` are written).

    Returns
    -------
    str
        REDCap logic: ``[field] = 'code'``, ``<>``, ``and``/``or`` with parentheses,
        ``[field(code)] = '1'`` for a checkbox choice, ``[field] <> ''`` for answered.

    Raises
    ------
    ExpressionError
        If the expression names an unknown item or cannot be written in REDCap logic.

    Notes
    -----
    pceval's comparisons are false when an operand is blank. ``[x] = 'v'`` is false for a blank
    field in REDCap too, so it is written as is; every other comparison gets blank guards
    (``[x] <> ''``), and a negated comparison becomes its opposite *or* blank. REDCap logic has
    no ``not``, so negations are pushed inwards (De Morgan).

    Examples
    --------
    >>> from pceval.instrument import load_instrument
    >>> women = load_instrument("womens_survey")
    >>> to_redcap_logic("consent == 1 and children_n > 0", women)
    "[consent] = '1' and [children_n] > 0 and [children_n] <> ''"
    >>> to_redcap_logic("selected(help_received, 2) or not answered(relationship)", women)
    "[help_received(2)] = '1' or [relationship] = ''"
    """
    parsed = _expression(expression)
    return _render(_ToRedcap(instrument, parsed.source).cond(parsed.tree.body))


def to_redcap_calculation(expression: str | Expression, instrument: Instrument) -> str:
    """Write a calculation of the instrument language in REDCap's calculation syntax.

    Arithmetic is kept (``[a] + [b] * 2``); a condition becomes ``if(condition, 1, 0)``.

    Examples
    --------
    >>> from pceval.instrument import load_instrument
    >>> women = load_instrument("womens_survey")
    >>> to_redcap_calculation("(fs_home + fs_out) / 2", women)
    '([fs_home] + [fs_out]) / 2'
    """
    parsed = _expression(expression)
    return _ToRedcap(instrument, parsed.source).value(parsed.tree.body)


# ---------------------------------------------------------------------------------------------
# REDCap → expressions
# ---------------------------------------------------------------------------------------------

_TOKEN_RE = re.compile(
    r"""(?P<space>\s+)
      | (?P<field>\[[^\[\]]*\])
      | (?P<string>'[^']*'|"[^"]*")
      | (?P<number>\d+(?:\.\d+)?|\.\d+)
      | (?P<op><>|!=|<=|>=|==|=|<|>|\+|-|\*|/|\^|\(|\)|,)
      | (?P<word>[A-Za-z_][A-Za-z0-9_]*)""",
    re.VERBOSE,
)
_FIELD_REF_RE = re.compile(r"^([a-z][a-z0-9_]*)(?:\(([^()]*)\))?$")


class LogicError(ValueError):
    """REDCap logic that pceval's expression language cannot hold (with a suggested fix)."""

    def __init__(self, message: str, fix: str | None = None) -> None:
        super().__init__(message)
        self.fix = fix


@dataclass(frozen=True)
class _Field:
    """What the logic translator needs to know of a REDCap field."""

    name: str
    kind: Literal["choice", "checkbox", "number", "text"]
    codes: dict[str, Code] = field(default_factory=dict)


def _typed_code(raw: str) -> Code:
    return int(raw) if _INT_RE.match(raw) else raw


def _number(raw: str) -> int | float:
    return int(raw) if _INT_RE.match(raw) else float(raw)


class _FromRedcap:
    """A recursive-descent parser of REDCap logic producing pceval expression ASTs.

    Grammar: or := and ("or" and)*; and := cmp ("and" cmp)*; cmp := sum (op sum)?;
    sum := term (("+"|"-") term)*; term := unary (("*"|"/") unary)*; unary := "-" unary | atom;
    atom := "(" or ")" | [field] | [field(code)] | 'string' | number.
    """

    def __init__(self, text: str, fields: dict[str, _Field],
                 elsewhere: dict[str, str] | None = None) -> None:
        self.text = text
        self.fields = fields
        self.elsewhere = elsewhere or {}
        self.tokens: list[tuple[str, str]] = []
        pos = 0
        previous_field = False
        while pos < len(text):
            match = _TOKEN_RE.match(text, pos)
            if match is None:
                raise LogicError(f"cannot read {text[pos:pos + 12]!r} in the logic")
            kind = match.lastgroup
            value = match.group()
            pos = match.end()
            if kind == "space":
                continue
            if kind == "field" and previous_field:
                raise LogicError(
                    "refers to a field of another event or instance ([event][field]); pceval "
                    "instruments describe one form, without events",
                    fix="rewrite the logic to refer to fields of this form only, e.g. [field]")
            previous_field = kind == "field"
            if kind == "word":
                lowered = value.lower()
                if lowered in {"and", "or"}:
                    kind, value = "op", lowered
            self.tokens.append((kind, value))
        self.pos = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None or (value is not None and token[1] != value):
            found = "the end" if token is None else repr(token[1])
            raise LogicError(f"expected {value or 'more'} but found {found}")
        self.pos += 1
        return token

    def parse(self, *, condition: bool) -> ast.expr:
        node = self.or_()
        if self.peek() is not None:
            raise LogicError(f"unexpected {self.peek()[1]!r}")
        if condition and not _is_condition(node):
            raise LogicError("is not a condition (compare a field with a value)")
        return node

    def or_(self) -> ast.expr:
        values = [self.and_()]
        while self.peek() == ("op", "or"):
            self.take()
            values.append(self.and_())
        return values[0] if len(values) == 1 else ast.BoolOp(op=ast.Or(), values=values)

    def and_(self) -> ast.expr:
        values = [self.cmp()]
        while self.peek() == ("op", "and"):
            self.take()
            values.append(self.cmp())
        return values[0] if len(values) == 1 else ast.BoolOp(op=ast.And(), values=values)

    def cmp(self) -> ast.expr:
        left = self.sum()
        token = self.peek()
        if token is None or token[1] not in {"=", "==", "<>", "!=", "<", "<=", ">", ">="}:
            return self.finish(left)
        op = self.take()[1]
        right = self.sum()
        return self.comparison(left, op, right)

    def sum(self):
        left = self.term()
        while self.peek() in (("op", "+"), ("op", "-")):
            op = ast.Add() if self.take()[1] == "+" else ast.Sub()
            right = self.finish(self.term())
            left = ("expr", ast.BinOp(left=self.finish(left), op=op, right=right))
        return left

    def term(self):
        left = self.unary()
        while self.peek() in (("op", "*"), ("op", "/"), ("op", "^")):
            symbol = self.take()[1]
            if symbol == "^":
                raise LogicError("uses ^ (power), which pceval's expression language lacks")
            op = ast.Mult() if symbol == "*" else ast.Div()
            right = self.finish(self.unary())
            left = ("expr", ast.BinOp(left=self.finish(left), op=op, right=right))
        return left

    def unary(self):
        if self.peek() == ("op", "-"):
            self.take()
            operand = self.unary()
            if operand[0] == "number":
                return ("number", "-" + operand[1])
            return ("expr", ast.UnaryOp(op=ast.USub(), operand=self.finish(operand)))
        return self.atom()

    def atom(self):
        token = self.take()
        kind, value = token
        if value == "(":
            inner = self.or_()
            self.take(")")
            return ("expr", inner)
        if kind == "field":
            return self.field_ref(value[1:-1])
        if kind == "string":
            return ("string", value[1:-1])
        if kind == "number":
            return ("number", value)
        if kind == "word":
            if self.peek() == ("op", "("):
                raise LogicError(f"uses the REDCap function {value}(), which pceval's expression "
                                 "language lacks", fix="rewrite it with comparisons and and/or")
            raise LogicError(f"unexpected word {value!r}")
        raise LogicError(f"unexpected {value!r}")

    def field_ref(self, inside: str):
        match = _FIELD_REF_RE.match(inside)
        if match is None:
            raise LogicError(
                f"uses [{inside}], a smart variable or piping modifier with no pceval equivalent",
                fix="replace it with a condition on fields of this form")
        name, code = match.group(1), match.group(2)
        if name not in self.fields:
            if name in self.elsewhere:
                raise LogicError(f"refers to [{name}], a field of form {self.elsewhere[name]!r}, "
                                 "which is not imported",
                                 fix="import that form too, or drop the condition")
            raise LogicError(f"refers to [{name}], which is not a field of this dictionary",
                             fix="correct the variable name or add the field")
        info = self.fields[name]
        if code is not None and info.kind != "checkbox":
            raise LogicError(f"uses [{name}({code})] but {name} is not a checkbox field")
        if code is None and info.kind == "checkbox":
            raise LogicError(f"uses [{name}] but {name} is a checkbox field",
                             fix=f"refer to one choice as [{name}(code)]")
        return ("field", name, code)

    # turning operands into AST --------------------------------------------------------------

    def finish(self, operand) -> ast.expr:
        kind = operand[0]
        if kind == "expr":
            return operand[1]
        if kind == "number":
            return ast.Constant(_number(operand[1]))
        if kind == "string":
            return ast.Constant(operand[1])
        name, code = operand[1], operand[2]
        if code is not None:
            return _call("selected", name, self.code_for(name, code))
        return ast.Name(id=name, ctx=ast.Load())

    def code_for(self, name: str, raw: str) -> Code:
        info = self.fields[name]
        return info.codes.get(raw, _typed_code(raw))

    def constant_for(self, name: str, operand) -> ast.expr:
        kind, raw = operand[0], operand[1]
        info = self.fields[name]
        if raw in info.codes:
            return ast.Constant(info.codes[raw])
        numeric = info.kind == "number" or kind == "number"
        if numeric or (info.kind == "choice" and _INT_RE.match(raw)):
            if _NUM_RE.match(raw):
                return ast.Constant(_number(raw))
        return ast.Constant(raw)

    def comparison(self, left, op: str, right) -> ast.expr:
        # Keep the field on the left for the special forms.
        flipped = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}
        if right[0] == "field" and left[0] in {"string", "number"}:
            left, right, op = right, left, flipped.get(op, op)
        equal = op in {"=", "=="}
        unequal = op in {"<>", "!="}
        if left[0] == "field" and right[0] in {"string", "number"}:
            name, code = left[1], left[2]
            raw = right[1]
            if code is not None:
                if not (equal or unequal) or raw not in {"0", "1"}:
                    raise LogicError(f"compares checkbox choice [{name}({code})] with {raw!r}; "
                                     "only = or <> with '0' or '1' are meaningful")
                node = _call("selected", name, self.code_for(name, code))
                return node if (raw == "1") == equal else _not(node)
            if raw == "" and right[0] == "string":
                if not (equal or unequal):
                    raise LogicError(f"compares [{name}] with '' using {op}")
                node = _call("answered", name)
                return node if unequal else _not(node)
            constant = self.constant_for(name, right)
            target = ast.Name(id=name, ctx=ast.Load())
        else:
            target, constant = self.finish(left), self.finish(right)
        if equal or unequal:
            node = ast.Compare(left=target, ops=[ast.Eq()], comparators=[constant])
            # REDCap's <> is true for a blank field: "not equal" keeps that meaning.
            return node if equal else _not(node)
        ops = {"<": ast.Lt(), "<=": ast.LtE(), ">": ast.Gt(), ">=": ast.GtE()}
        return ast.Compare(left=target, ops=[ops[op]], comparators=[constant])


def _call(func: str, name: str, code: Code | None = None) -> ast.Call:
    args: list[ast.expr] = [ast.Name(id=name, ctx=ast.Load())]
    if code is not None:
        args.append(ast.Constant(code))
    return ast.Call(func=ast.Name(id=func, ctx=ast.Load()), args=args, keywords=[])


def _not(node: ast.expr) -> ast.expr:
    return ast.UnaryOp(op=ast.Not(), operand=node)


def _is_condition(node: ast.AST) -> bool:
    if isinstance(node, ast.BoolOp | ast.Compare | ast.Call):
        return True
    return isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not)


def _answered_name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Call) and node.func.id == "answered":
        return node.args[0].id
    return None


def _compare_names(node: ast.AST) -> set[str]:
    """Names used as values in a comparison (not those inside selected()/answered())."""
    out: set[str] = set()

    def walk(sub: ast.AST) -> None:
        if isinstance(sub, ast.Call):
            return
        if isinstance(sub, ast.Name):
            out.add(sub.id)
        for child in ast.iter_child_nodes(sub):
            walk(child)

    walk(node)
    return out


def _simplify(node: ast.expr) -> ast.expr:
    """Drop blank guards that pceval's semantics make redundant (they came from the export)."""
    if isinstance(node, ast.UnaryOp):
        return ast.UnaryOp(op=node.op, operand=_simplify(node.operand))
    if not isinstance(node, ast.BoolOp):
        return node
    values: list[ast.expr] = []
    for value in (_simplify(v) for v in node.values):
        if isinstance(value, ast.BoolOp) and type(value.op) is type(node.op):
            values.extend(value.values)
        else:
            values.append(value)
    if isinstance(node.op, ast.And):
        answered = {n for n in map(_answered_name, values) if n}
        merged = []
        for value in values:
            if (isinstance(value, ast.UnaryOp) and isinstance(value.op, ast.Not)
                    and isinstance(value.operand, ast.Compare) and len(value.operand.ops) == 1):
                names = _compare_names(value.operand)
                if names and names <= answered:
                    comp = value.operand
                    value = ast.Compare(left=comp.left, ops=[_NEGATED[type(comp.ops[0])]()],
                                        comparators=comp.comparators)
            merged.append(value)
        compared: set[str] = set()
        for value in merged:
            if isinstance(value, ast.Compare):
                compared |= _compare_names(value)
        values = [v for v in merged if _answered_name(v) not in compared]
    return values[0] if len(values) == 1 else ast.BoolOp(op=node.op, values=values)


def _from_redcap(text: str, fields: dict[str, _Field], *, condition: bool,
                 elsewhere: dict[str, str] | None = None) -> str:
    tree = _FromRedcap(text, fields, elsewhere).parse(condition=condition)
    source = ast.unparse(ast.fix_missing_locations(_simplify(tree)))
    parse_expression(source)  # the result must be a valid pceval expression
    return source


# ---------------------------------------------------------------------------------------------
# Export
# ---------------------------------------------------------------------------------------------


def redcap_checkbox_column(field_name: str, code: Code) -> str:
    """The column REDCap's data export uses for one checkbox choice.

    REDCap writes ``field___code`` with the code lower-cased and a minus sign turned into an
    underscore, so ``-99`` gives four underscores.

    Examples
    --------
    >>> redcap_checkbox_column("help", -99), redcap_checkbox_column("content", "safety_plan")
    ('help____99', 'content___safety_plan')
    """
    return f"{field_name}___{str(code).lower().replace('-', '_').replace('.', '_')}"


def redcap_missing_data_codes(instrument: Instrument) -> str:
    """Text for REDCap's project-level *Missing Data Codes* setting (one ``code, label`` a line).

    Examples
    --------
    >>> from pceval.instrument import load_instrument
    >>> print(redcap_missing_data_codes(load_instrument("worker_survey")))
    -99, Prefer not to say
    -98, Don't know
    """
    lang = instrument.languages[0] if instrument.languages else "en"
    return "\n".join(f"{_value_text(m.code)}, {_clean_label(text_in(m.label, lang))}"
                     for m in instrument.missing_codes)


def _clean_label(text: str) -> str:
    # A pipe separates choices in REDCap and has no escape; line breaks would split a choice.
    return " ".join(text.replace("|", "/").split()) if "\n" in text or "|" in text else text


def _encode(obj: dict) -> str:
    data = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return base64.urlsafe_b64encode(data.encode("utf-8")).decode("ascii").rstrip("=")


def _decode(text: str) -> dict:
    padded = text + "=" * (-len(text) % 4)
    obj = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")).decode("utf-8"))
    if not isinstance(obj, dict):
        raise ValueError("payload is not an object")
    return obj


def _humanise(group: str) -> str:
    return group.replace("_", " ").strip().capitalize()


def _record_id_name(instrument: Instrument) -> str:
    ids = {item.id for item in instrument.items}
    for name in ("record_id", "pceval_record_id", "redcap_record"):
        if name not in ids:
            return name
    raise InstrumentError("items named record_id, pceval_record_id and redcap_record leave no "
                          "name for REDCap's record id", field="items")  # pragma: no cover


def _matrix_names(instrument: Instrument) -> dict[str, str]:
    """Matrix group name of each likert item in a block (consecutive, same group and choices)."""
    out: dict[str, str] = {}
    used: set[str] = set()
    previous: tuple | None = None
    name = ""
    for item in instrument.items:
        key = ((item.group, item.choices, item.missing_codes)
               if item.type == ItemType.LIKERT and item.group else None)
        if key is None:
            previous = None
            continue
        if key != previous:
            name = item.group
            counter = 2
            while name in used:
                name = f"{item.group}_{counter}"
                counter += 1
            used.add(name)
        out[item.id] = name
        previous = key
    return out


def _choices_text(instrument: Instrument, item: Item, lang: str) -> str:
    pairs = [(c.code, c.label) for c in instrument.choices_of(item)]
    known = {m.code: m for m in instrument.missing_codes}
    pairs += [(code, known[code].label) for code in item.missing_codes]
    codes = [_value_text(code) for code, _ in pairs]
    dupes = sorted({c for c in codes if codes.count(c) > 1})
    if dupes:
        raise InstrumentError(
            f"choice codes {dupes} appear twice once missing codes are added as choices",
            field=f"item {item.id}", fix="give missing codes values no choice uses (e.g. -99)")
    return " | ".join(f"{_value_text(code)}, {_clean_label(text_in(label, lang))}"
                      for code, label in pairs)


def _summary(parts: Iterable[tuple[str, Any]]) -> str:
    shown = []
    for key, value in parts:
        if value in (None, (), [], ""):
            continue
        if isinstance(value, list | tuple):
            value = " ".join(str(v) for v in value)
        shown.append(f"{key} {value}")
    return "pceval: " + "; ".join(shown) if shown else ""


def _annotation(tags: Sequence[str], summary: str, payload: dict) -> str:
    lines = [" ".join(tags)] if tags else []
    if summary:
        lines.append(summary)
    lines.append(f"@PCEVAL={_encode(payload)}")
    return "\n".join(lines)


def _rows(instrument: Instrument) -> list[dict[str, str]]:
    """The dictionary rows of an instrument, keyed by the API column names."""
    lang = instrument.languages[0] if instrument.languages else "en"
    form = instrument.id
    matrix = _matrix_names(instrument)
    has_missing = bool(instrument.missing_codes)
    meta = instrument.model_dump(mode="json", exclude={"items"}, exclude_defaults=True)
    # kind and schema_version have no default but keep them explicit for a reader of the payload.
    meta.update(kind=instrument.kind, schema_version=instrument.schema_version)
    record = dict.fromkeys(API_HEADERS, "")
    record.update(
        field_name=_record_id_name(instrument), form_name=form, field_type="text",
        field_label="Record ID",
        field_annotation=_annotation(
            ["@NOMISSING"] if has_missing else [],
            _summary([
                ("instrument", f"{instrument.id} version {instrument.version}"),
                ("respondent", instrument.respondent),
                ("waves", instrument.waves),
                ("missing codes", [f"{_value_text(m.code)} {m.kind.value}"
                                   for m in instrument.missing_codes]),
                ("scales", [s.id for s in instrument.scales]),
            ]),
            {"pceval_redcap": _PAYLOAD_VERSION, "instrument": meta},
        ),
    )
    rows = [record]
    previous_group = None
    for item in instrument.items:
        row = dict.fromkeys(API_HEADERS, "")
        rtype = _TYPE_TO_REDCAP[item.type]
        label = text_in(item.label, lang) or item.id
        row.update(field_name=item.id, form_name=form, field_type=rtype, field_label=label)
        if item.group and item.group != previous_group:
            row["section_header"] = _humanise(item.group)
        previous_group = item.group
        if item.hint is not None:
            row["field_note"] = text_in(item.hint, lang)
        if rtype in CHOICE_TYPES:
            row["choices"] = _choices_text(instrument, item, lang)
        if item.type == ItemType.CALCULATED:
            try:
                row["choices"] = to_redcap_calculation(item.calculation, instrument)
            except ExpressionError as exc:
                raise InstrumentError(str(exc), field=f"item {item.id}.calculation") from None
        validation = _VALIDATION.get(item.type)
        if validation:
            row["text_validation_type_or_show_slider_number"] = validation
            if item.constraint is not None and item.type != ItemType.DATE:
                for key, value in (("text_validation_min", item.constraint.min),
                                   ("text_validation_max", item.constraint.max)):
                    if value is not None:
                        row[key] = _value_text(value)
        if not item.leaves_staging:
            row["identifier"] = "y"
        if item.relevance:
            try:
                row["branching_logic"] = to_redcap_logic(item.relevance, instrument)
            except ExpressionError as exc:
                raise InstrumentError(str(exc), field=f"item {item.id}.relevance") from None
        if item.required and item.carries_data:
            row["required_field"] = "y"
        row["matrix_group_name"] = matrix.get(item.id, "")
        tags = []
        if has_missing and item.carries_data and (rtype in CHOICE_TYPES or not item.missing_codes):
            tags.append("@NOMISSING")
        missing = {m.code: m for m in instrument.missing_codes}
        multilingual = isinstance(item.label, dict) and len(item.label) > 1
        other_languages = sorted(item.label) if multilingual else ()
        summary = _summary([
            ("sensitivity",
             item.sensitivity.value if item.sensitivity != Sensitivity.ANALYSIS else None),
            ("role", item.role.value if item.role else None),
            ("domains", item.domains), ("nos", item.nos), ("waves", item.waves),
            ("missing", [f"{_value_text(c)} {missing[c].kind.value}" for c in item.missing_codes]),
            ("languages", other_languages),
        ])
        payload = {"pceval_redcap": _PAYLOAD_VERSION,
                   "item": item.model_dump(mode="json", exclude_defaults=True)}
        payload["item"].update(id=item.id, type=item.type.value)
        row["field_annotation"] = _annotation(tags, summary, payload)
        rows.append(row)
    for row in rows:
        row["select_choices_or_calculations"] = row.pop("choices", "")
    return rows


def export_redcap_dictionary(instrument: Instrument, path: str | Path) -> Path:
    """Write an instrument as a REDCap Data Dictionary CSV (written atomically).

    Parameters
    ----------
    instrument : Instrument
        The instrument; its id becomes the form name.
    path : str or Path
        Where to write the CSV (the 18 headers of REDCap's Data Dictionary download).

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    InstrumentError
        If an expression cannot be written in REDCap syntax, or missing codes clash with choice
        codes once appended as choices.

    Notes
    -----
    The module docstring lists how each item type is written and how metadata REDCap has no
    column for travels in the Field Annotation, so that :func:`import_redcap_dictionary` restores
    the instrument exactly.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from pceval.instrument import load_instrument
    >>> out = export_redcap_dictionary(load_instrument("worker_survey"),
    ...                                pathlib.Path(tempfile.mkdtemp()) / "dd.csv")
    >>> check_redcap_dictionary(out)
    []
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HEADERS)
    for row in _rows(instrument):
        writer.writerow([row[key] for key in API_HEADERS])
    return write_text(path, buffer.getvalue())


# ---------------------------------------------------------------------------------------------
# Reading and checking
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Row:
    number: int  # as a spreadsheet user counts: the header is row 1
    cells: dict[str, str]

    def __getitem__(self, key: str) -> str:
        return self.cells[key]

    @property
    def name(self) -> str:
        return self.cells["field_name"]


def _read_rows(path: Path) -> tuple[str, list[_Row]]:
    """Read a dictionary; returns the header spelling ('csv' or 'api') and its rows."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InstrumentError("file not found", file=path) from None
    except UnicodeDecodeError:
        raise InstrumentError("not UTF-8 text", file=path,
                              fix="save the data dictionary as CSV UTF-8") from None
    # a field label or the annotation holding an instrument's pceval metadata can be longer
    # than the csv module's default limit (128 KiB); the limit is process-wide, so restored
    previous = csv.field_size_limit(sys.maxsize)
    try:
        records = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise InstrumentError(f"the file cannot be read as CSV ({exc})", file=path,
                              fix="download the data dictionary from REDCap again") from None
    finally:
        csv.field_size_limit(previous)
    if not records:
        raise InstrumentError("the file is empty", file=path, row=1)
    header = [cell.strip() for cell in records[0]]
    spellings = {"csv": HEADERS, "api": API_HEADERS}
    spelling = next((k for k, v in spellings.items() if tuple(header) == v), None)
    if spelling is None:
        lowered = tuple(h.lower() for h in header)
        spelling = next((k for k, v in spellings.items()
                         if lowered == tuple(h.lower() for h in v)), None)
    if spelling is None:
        raise InstrumentError(
            f"the header row is not REDCap's Data Dictionary header ({len(header)} columns, "
            f"starting {header[:3]})", file=path, row=1,
            fix="use the 18 columns of REDCap's Data Dictionary download (\"Variable / Field "
                "Name\", \"Form Name\", ...) or of its API (field_name, form_name, ...)")
    rows = []
    for index, record in enumerate(records[1:], start=2):
        if not any(cell.strip() for cell in record):
            continue
        if len(record) > len(API_HEADERS) and any(c.strip() for c in record[len(API_HEADERS):]):
            raise InstrumentError(f"{len(record)} cells where the header has 18", file=path,
                                  row=index, field=record[0].strip() or None,
                                  fix="quote cells that contain commas")
        record = record + [""] * (len(API_HEADERS) - len(record))
        cells = {key: value for key, value in zip(API_HEADERS, record, strict=False)}
        for key in ("field_name", "form_name", "field_type", "identifier", "required_field",
                    "matrix_group_name", "matrix_ranking", "custom_alignment",
                    "text_validation_type_or_show_slider_number",
                    "text_validation_min", "text_validation_max"):
            cells[key] = cells[key].strip()
        cells["field_type"] = cells["field_type"].lower()
        rows.append(_Row(index, cells))
    return spelling, rows


def _parse_choices(text: str) -> list[tuple[str, str]]:
    """``"1, Yes | 0, No"`` → ``[("1", "Yes"), ("0", "No")]``; raises ValueError if malformed."""
    pairs = []
    for part in text.split("|"):
        part = part.strip()
        if not part:
            raise ValueError("an empty choice between two pipes")
        if "," not in part:
            raise ValueError(f"choice {part!r} has no comma between code and label")
        code, label = part.split(",", 1)
        code = code.strip()
        if not code:
            raise ValueError(f"choice {part!r} has no code")
        pairs.append((code, label.strip()))
    return pairs


def _field_refs(logic: str) -> Iterable[tuple[str, str | None, bool]]:
    """(name, checkbox code, event-prefixed) for each field reference in REDCap logic."""
    previous_end = -1
    for match in re.finditer(r"\[([^\[\]]*)\]", logic):
        inside = match.group(1)
        prefixed = match.start() == previous_end
        previous_end = match.end()
        ref = _FIELD_REF_RE.match(inside.split(":")[0])
        if ref is None:
            continue  # a smart variable such as [record-name]
        yield ref.group(1), ref.group(2), prefixed


def check_redcap_dictionary(path: str | Path) -> list[str]:
    """Check a REDCap Data Dictionary against REDCap's documented rules.

    Parameters
    ----------
    path : str or Path
        A Data Dictionary CSV (either header spelling).

    Returns
    -------
    list of str
        One message per problem (``row 5, field age: ...``), empty when the dictionary passes.
        Messages starting ``warning:`` break a recommendation rather than a rule.

    Notes
    -----
    Rules checked: the 18 headers in order; variable names of lowercase letters, digits and
    underscores starting with a letter, unique, at most 100 characters (26 recommended), not
    REDCap's own (``redcap_*``, ``<form>_complete``); the first field is the record id, a text
    field; form names valid and each form's rows contiguous; known field types; field label
    present; choices ``code, label | code, label`` with unique codes of allowed characters
    (checkbox codes letters, digits, underscores, optionally negative; REDCap exports ``-99`` as
    ``____99``) and only on choice fields; calc fields have a calculation; validation types from
    REDCap's list and only on text (or slider) fields; min/max only with a validation, of its
    kind, min not above max; Identifier?, Required Field? and Matrix Ranking? ``y`` or blank;
    custom alignment LV/LH/RV/RH; matrix groups contiguous with identical choices and one field
    type (radio or checkbox); branching logic and calculations refer to existing fields, checkbox
    choices as ``[field(code)]`` with a code of that field, with balanced brackets, parentheses
    and quotes.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "dd.csv"
    >>> _ = p.write_text("field_name,form_name,section_header,field_type,field_label,"
    ...     "select_choices_or_calculations,field_note,text_validation_type_or_show_slider_number,"
    ...     "text_validation_min,text_validation_max,identifier,branching_logic,required_field,"
    ...     "custom_alignment,question_number,matrix_group_name,matrix_ranking,field_annotation\\n"
    ...     "record_id,f,,text,ID,,,,,,,,,,,,,\\n"
    ...     "Age,f,,text,Age,,,integer,0,,,[sex] = '1',,,,,,\\n")
    >>> for message in check_redcap_dictionary(p): print(message)
    row 3, field Age: variable name must be lowercase letters, digits and underscores, starting with a letter
    row 3, field Age: branching logic refers to [sex], which is not a field
    """
    try:
        _, rows = _read_rows(Path(path))
    except InstrumentError as exc:
        return [str(exc)]
    problems: list[str] = []

    def problem(row: _Row, message: str) -> None:
        where = f"row {row.number}, field {row.name}" if row.name else f"row {row.number}"
        problems.append(f"{where}: {message}")

    if not rows:
        return ["the dictionary has no fields; REDCap needs at least the record id"]
    names = [row.name for row in rows]
    forms = list(dict.fromkeys(row["form_name"] for row in rows))
    by_name = {}
    for row in rows:
        by_name.setdefault(row.name, row)
    first = rows[0]
    if first["field_type"] != "text":
        problem(first, "the first field is REDCap's record id and must be a text field")
    if first["branching_logic"].strip():
        problem(first, "the record id field cannot have branching logic")
    seen_forms: list[str] = []
    for row in rows:
        name, ftype = row.name, row["field_type"]
        if not name:
            problem(row, "variable / field name is empty")
        elif not _NAME_RE.match(name):
            problem(row, "variable name must be lowercase letters, digits and underscores, "
                         "starting with a letter")
        if len(name) > MAX_NAME_LENGTH:
            problem(row, f"variable name is {len(name)} characters; REDCap allows "
                         f"{MAX_NAME_LENGTH}")
        elif len(name) > RECOMMENDED_NAME_LENGTH:
            problem(row, f"warning: variable name is {len(name)} characters; REDCap recommends at "
                         f"most {RECOMMENDED_NAME_LENGTH}")
        if names.count(name) > 1 and by_name[name] is not row:
            problem(row, f"variable name repeats row {by_name[name].number}")
        if name.startswith("redcap_") or any(name == f"{f}_complete" for f in forms):
            problem(row, "variable name is reserved by REDCap")
        form = row["form_name"]
        if not _NAME_RE.match(form):
            problem(row, f"form name {form!r} must be lowercase letters, digits and underscores")
        if not seen_forms or seen_forms[-1] != form:
            if form in seen_forms:
                problem(row, f"form {form!r} resumes after another form; a form's rows must be "
                             "contiguous")
            seen_forms.append(form)
        if ftype not in FIELD_TYPES:
            problem(row, f"unknown field type {ftype!r}; REDCap's are {sorted(FIELD_TYPES)}")
            continue
        if not row["field_label"].strip() and ftype != "descriptive":
            problem(row, "field label is empty")
        choices = row["select_choices_or_calculations"].strip()
        if ftype in CHOICE_TYPES:
            if not choices:
                problem(row, f"a {ftype} field needs choices 'code, label | code, label'")
            else:
                try:
                    pairs = _parse_choices(choices)
                except ValueError as exc:
                    problem(row, f"choices are malformed: {exc}")
                else:
                    codes = [code for code, _ in pairs]
                    dupes = sorted({c for c in codes if codes.count(c) > 1})
                    if dupes:
                        problem(row, f"choice codes {dupes} repeat")
                    pattern = _CHECKBOX_CODE_RE if ftype == "checkbox" else _RADIO_CODE_RE
                    bad = [c for c in codes if not pattern.match(c)]
                    if bad:
                        allowed = ("letters, digits and underscores (a leading minus allowed)"
                                   if ftype == "checkbox" else
                                   "letters, digits, underscores and points "
                                   "(a leading minus allowed)")
                        problem(row, f"choice codes {bad} may only contain {allowed}")
                    if ftype == "checkbox":
                        columns = [redcap_checkbox_column(name, c) for c in codes]
                        clash = sorted({c for c in columns if columns.count(c) > 1})
                        if clash and not dupes:
                            problem(row, f"choice codes give the same export columns {clash}")
        elif ftype == "calc":
            if not choices:
                problem(row, "a calc field needs a calculation")
        elif ftype == "slider":
            if choices and choices.count("|") not in (0, 2):
                problem(row, "slider labels are 'left | middle | right'")
        elif choices and ftype != "sql":
            problem(row, f"a {ftype} field cannot have choices or a calculation")
        validation = row["text_validation_type_or_show_slider_number"]
        if validation:
            if ftype == "slider":
                if validation != "number":
                    problem(row, "a slider's validation column may only be 'number'")
            elif ftype == "file":
                if validation != "signature":
                    problem(row, "a file field's validation column may only be 'signature'")
            elif ftype not in {"text", "dropdown"} or (
                    ftype == "dropdown" and validation != "autocomplete"):
                problem(row, f"a {ftype} field cannot have a text validation")
            elif validation not in VALIDATION_TYPES:
                problem(row, f"unknown validation type {validation!r}")
        for key in ("text_validation_min", "text_validation_max"):
            value = row[key]
            if not value:
                continue
            if not validation and ftype != "slider":
                problem(row, f"{key} needs a text validation type")
            elif validation == "integer" and not _INT_RE.match(value):
                problem(row, f"{key} {value!r} is not an integer")
            elif validation.startswith("number") and not _NUM_RE.match(value.replace(",", ".")):
                problem(row, f"{key} {value!r} is not a number")
            elif (validation == "date_ymd" and not _DATE_RE.match(value)
                  and value not in {"today", "now"}):
                problem(row, f"{key} {value!r} is not a date yyyy-mm-dd")
        low, high = row["text_validation_min"], row["text_validation_max"]
        if _NUM_RE.match(low) and _NUM_RE.match(high) and float(low) > float(high):
            problem(row, f"text validation min {low} is above max {high}")
        for key, label in (("identifier", "Identifier?"), ("required_field", "Required Field?"),
                           ("matrix_ranking", "Matrix Ranking?")):
            if row[key] not in {"", "y"}:
                problem(row, f"{label} must be 'y' or blank, not {row[key]!r}")
        if row["custom_alignment"] not in ALIGNMENTS:
            problem(row, "custom alignment must be one of LV, LH, RV, RH, not "
                         f"{row['custom_alignment']!r}")
        for key, what in (("branching_logic", "branching logic"),
                          ("select_choices_or_calculations", "calculation")):
            logic = row[key]
            if not logic.strip() or (key != "branching_logic" and ftype != "calc"):
                continue
            problems.extend(f"row {row.number}, field {name}: {what} {m}"
                            for m in _logic_problems(logic, by_name))
    # matrix groups
    groups: dict[str, list[_Row]] = {}
    for row in rows:
        if row["matrix_group_name"]:
            groups.setdefault(row["matrix_group_name"], []).append(row)
    for group, members in groups.items():
        head = members[0]
        if not _MATRIX_RE.match(group):
            problem(head, f"matrix group name {group!r} must be lowercase letters, digits and "
                          "underscores")
        positions = [rows.index(m) for m in members]
        if positions != list(range(positions[0], positions[0] + len(positions))):
            problem(head, f"matrix group {group!r} is split; its fields must be contiguous")
        for member in members[1:]:
            if member["field_type"] != head["field_type"]:
                problem(member, f"matrix group {group!r} mixes field types "
                                f"{head['field_type']!r} and {member['field_type']!r}")
            choices = member["select_choices_or_calculations"].strip()
            if choices != head["select_choices_or_calculations"].strip():
                problem(member, f"matrix group {group!r} needs identical choices on every field")
        if head["field_type"] not in {"radio", "checkbox"}:
            problem(head, f"matrix group {group!r} fields must be radio or checkbox")
    return problems


def _logic_problems(logic: str, fields: dict[str, _Row]) -> list[str]:
    out = []
    depth = 0
    quote = None
    for char in logic:
        if quote:
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                break
    if quote:
        out.append("has an unclosed quote")
    if depth != 0:
        out.append("has unbalanced parentheses")
    if logic.count("[") != logic.count("]"):
        out.append("has unbalanced square brackets")
    for name, code, prefixed in _field_refs(logic):
        target = fields.get(name)
        if target is None:
            if not prefixed or name not in fields:
                # [event_name][field]: the first bracket names an event, not a field.
                following = re.search(rf"\[{re.escape(name)}(\([^()]*\))?\]\s*\[", logic)
                if following is None:
                    out.append(f"refers to [{name}], which is not a field")
            continue
        if code is not None:
            if target["field_type"] != "checkbox":
                out.append(f"uses [{name}({code})] but {name} is not a checkbox field")
            else:
                try:
                    codes = [c for c, _ in _parse_choices(target["select_choices_or_calculations"])]
                except ValueError:
                    continue
                if code not in codes:
                    out.append(f"uses [{name}({code})] but {code!r} is not a choice of {name}")
    return out


# ---------------------------------------------------------------------------------------------
# Import
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportResult:
    """What :func:`import_redcap_dictionary` read.

    Attributes
    ----------
    instrument : Instrument
        The instrument.
    notes : tuple of str
        What the import decided or could not carry (one sentence each, location first).
    record_id_field : str or None
        REDCap's record id field (the dictionary's first field); not an item of the instrument.
    """

    instrument: Instrument
    notes: tuple[str, ...] = ()
    record_id_field: str | None = None


_MISSING_WORDS = (
    (MissingKind.PREFER_NOT_TO_SAY, ("prefer not", "rather not", "refus", "declin", "no answer")),
    (MissingKind.DONT_KNOW, ("don't know", "dont know", "do not know", "don’t know", "unknown",
                             "not sure", "not known", "unsure")),
    (MissingKind.NOT_APPLICABLE, ("not applicable", "n/a", "does not apply", "doesn't apply")),
    (MissingKind.SKIPPED_BY_LOGIC, ("skipped",)),
    (MissingKind.MISSING, ("missing",)),
)


def _missing_kind(code: str, label: str) -> MissingKind | None:
    """The kind of a choice that looks like a missing-value code (negative code, telling label)."""
    if not _INT_RE.match(code) or not code.startswith("-"):
        return None
    lowered = label.lower()
    for kind, words in _MISSING_WORDS:
        if any(word in lowered for word in words):
            return kind
    return None


def _slug(text: str) -> str | None:
    text = re.sub(r"<[^>]+>", " ", text).lower()
    slug = re.sub(r"[^a-z0-9]+", "_", text).strip("_")
    if not slug:
        return None
    if not slug[0].isalpha():
        slug = f"g_{slug}"
    return slug[:60].rstrip("_")


class _Importer:
    def __init__(self, path: Path, rows: list[_Row], meta: dict | None) -> None:
        self.path = path
        self.rows = rows
        self.notes: list[str] = []
        self.meta = meta
        self.elsewhere: dict[str, str] = {}
        self.choice_lists: dict[str, tuple[Choice, ...]] = {}
        self.missing: dict[str, MissingCode] = {}
        if meta is not None:
            for name, choices in (meta.get("choice_lists") or {}).items():
                self.choice_lists[name] = tuple(Choice.model_validate(c) for c in choices)
            for m in meta.get("missing_codes") or ():
                code = MissingCode.model_validate(m)
                self.missing[str(code.code)] = code

    def error(self, row: _Row, message: str, fix: str | None = None) -> InstrumentError:
        return InstrumentError(message, file=self.path, row=row.number, field=row.name or None,
                               fix=fix)

    def note(self, row: _Row, message: str) -> None:
        self.notes.append(f"row {row.number}, field {row.name}: {message}")

    # structure ------------------------------------------------------------------------------

    def check_structure(self) -> None:
        seen: dict[str, _Row] = {}
        for row in self.rows:
            if not row.name:
                raise self.error(row, "variable / field name is empty")
            if row.name in seen:
                raise self.error(row, f"variable name {row.name!r} repeats row "
                                      f"{seen[row.name].number}",
                                 fix="give every field its own variable name")
            seen[row.name] = row
            if row["field_type"] not in FIELD_TYPES:
                raise self.error(row, f"unknown field type {row['field_type']!r}",
                                 fix=f"use one of REDCap's field types {sorted(FIELD_TYPES)}")
            if row["field_type"] in CHOICE_TYPES:
                try:
                    pairs = _parse_choices(row["select_choices_or_calculations"])
                except ValueError as exc:
                    raise self.error(row, f"choices {row['select_choices_or_calculations']!r} are "
                                          f"malformed: {exc}",
                                     fix="write choices as 'code, label | code, label'") from None
                codes = [c for c, _ in pairs]
                dupes = sorted({c for c in codes if codes.count(c) > 1})
                if dupes:
                    raise self.error(row, f"choice codes {dupes} repeat",
                                     fix="give each choice its own code")
            if row["field_type"] == "calc" and not row["select_choices_or_calculations"].strip():
                raise self.error(row, "calc field has no calculation", fix="add the calculation")

    # choices -------------------------------------------------------------------------------

    def choice_pairs(self, row: _Row) -> list[tuple[str, str]]:
        ftype = row["field_type"]
        if ftype == "yesno":
            return [("1", "Yes"), ("0", "No")]
        if ftype == "truefalse":
            return [("1", "True"), ("0", "False")]
        return _parse_choices(row["select_choices_or_calculations"])

    def split_missing(
        self, row: _Row, pairs: list[tuple[str, str]]
    ) -> tuple[list[tuple[str, str]], list[Code]]:
        """Separate the choices that are missing-value codes (known, or negative and telling)."""
        choices, missing = [], []
        for code, label in pairs:
            known = self.missing.get(code)
            if known is not None and _clean_label(text_in(known.label)) == label:
                missing.append(known.code)
                continue
            if self.meta is None:
                kind = _missing_kind(code, label)
                if kind is not None and (known is None or text_in(known.label) == label):
                    if known is None:
                        self.missing[code] = MissingCode(code=_typed_code(code), label=label,
                                                         kind=kind)
                        self.notes.append(f"row {row.number}, field {row.name}: choice {code} "
                                          f"{label!r} read as a missing-value code ({kind.value})")
                    missing.append(self.missing[code].code)
                    continue
            choices.append((code, label))
        return choices, missing

    def choice_list(self, name_hint: str, pairs: list[tuple[str, str]]) -> str:
        choices = tuple(Choice(code=_typed_code(code), label=label) for code, label in pairs)
        for name, existing in self.choice_lists.items():
            if existing == choices:
                return name
        name, counter = name_hint, 2
        while name in self.choice_lists:
            name = f"{name_hint}_{counter}"
            counter += 1
        self.choice_lists[name] = choices
        return name

    # fields --------------------------------------------------------------------------------

    def field_info(self, row: _Row) -> _Field | None:
        ftype = row["field_type"]
        validation = row["text_validation_type_or_show_slider_number"]
        if ftype in {"file", "sql", "descriptive"}:
            return None
        if ftype in CHOICE_TYPES | {"yesno", "truefalse"}:
            codes: dict[str, Code] = {}
            pairs = self.choice_pairs(row)
            for code, _ in pairs:
                known = self.missing.get(code)
                codes[code] = known.code if known is not None else _typed_code(code)
            return _Field(row.name, "checkbox" if ftype == "checkbox" else "choice", codes)
        numeric = validation == "integer" or validation.startswith("number")
        if ftype in {"calc", "slider"} or numeric:
            return _Field(row.name, "number")
        return _Field(row.name, "text")

    def foreign_item(self, row: _Row, fields: dict[str, _Field], group: str | None) -> Item | None:
        ftype = row["field_type"]
        validation = row["text_validation_type_or_show_slider_number"]
        data: dict[str, Any] = {"id": row.name, "label": row["field_label"].strip()}
        if len(row.name) > 26 or not re.match(ID_PATTERN, row.name):
            raise self.error(row, f"variable name {row.name!r} cannot be a pceval item id "
                                  "(lowercase letters, digits, underscores, at most 26 characters)",
                             fix="rename the field in REDCap (26 characters is REDCap's "
                                 "recommended maximum)")
        if ftype in {"file", "sql"}:
            what = "file upload" if ftype == "file" else "dynamic SQL"
            self.note(row, f"{what} field skipped: pceval instruments hold no {what} fields")
            return None
        if row["field_note"].strip():
            data["hint"] = row["field_note"].strip()
        if row["required_field"].lower() == "y":
            data["required"] = True
        if row["identifier"].lower() == "y":
            data["sensitivity"] = Sensitivity.DIRECT_IDENTIFIER
        matrix = row["matrix_group_name"]
        if matrix:
            group = _slug(matrix)
        if group:
            data["group"] = group
        if ftype in CHOICE_TYPES | {"yesno", "truefalse"}:
            pairs, missing = self.split_missing(row, self.choice_pairs(row))
            if not pairs:
                raise self.error(row, "every choice is a missing-value code; no answers are left")
            if ftype == "checkbox":
                data["type"] = ItemType.MULTIPLE_CHOICE
            elif matrix:
                data["type"] = ItemType.LIKERT
            else:
                data["type"] = ItemType.SINGLE_CHOICE
            hint = _slug(matrix) if matrix else ({"yesno": "yesno", "truefalse": "truefalse"}
                                                 .get(ftype, row.name))
            data["choices"] = self.choice_list(hint or row.name, pairs)
            data["missing_codes"] = tuple(missing)
            if ftype == "dropdown" and validation == "autocomplete":
                self.note(row, "dropdown autocomplete is a display setting; read as single choice")
        elif ftype == "notes":
            data["type"] = ItemType.LONG_TEXT
            data.setdefault("sensitivity", Sensitivity.FREE_TEXT)
        elif ftype == "descriptive":
            data["type"] = ItemType.NOTE
            data.pop("required", None)
        elif ftype == "slider":
            data["type"] = ItemType.INTEGER
            low = row["text_validation_min"] or "0"
            high = row["text_validation_max"] or "100"
            data["constraint"] = {"min": float(low), "max": float(high)}
            self.note(row, f"slider read as an integer from {low} to {high}")
        elif ftype == "calc":
            calc = row["select_choices_or_calculations"].strip()
            try:
                data["calculation"] = _from_redcap(calc, fields, condition=False,
                                                   elsewhere=self.elsewhere)
                data["type"] = ItemType.CALCULATED
            except (LogicError, ExpressionError) as exc:
                data["type"] = ItemType.DECIMAL
                self.note(row, f"calculation {calc!r} {exc}; read as a decimal item holding "
                               "REDCap's computed value")
        else:  # text
            kind = self.text_type(row, validation)
            data["type"] = kind
            if kind in {ItemType.INTEGER, ItemType.DECIMAL}:
                bounds = {}
                for key, target in (("text_validation_min", "min"), ("text_validation_max", "max")):
                    value = row[key].replace(",", ".")
                    if value:
                        if not _NUM_RE.match(value):
                            raise self.error(row, f"{key} {row[key]!r} is not a number")
                        bounds[target] = float(value)
                if bounds:
                    data["constraint"] = bounds
            elif row["text_validation_min"] or row["text_validation_max"]:
                self.note(row, "validation min/max of a date or text field not carried (pceval "
                               "constraints on dates are not supported)")
            if kind == ItemType.SHORT_TEXT and "sensitivity" not in data:
                if validation in {"email", "phone", "phone_australia"}:
                    data["sensitivity"] = Sensitivity.CONTACT_SAFETY
                    self.note(row, f"{validation} field treated as a contact detail "
                                   "(contact_safety)")
                else:
                    data["sensitivity"] = Sensitivity.FREE_TEXT
        logic = row["branching_logic"].strip()
        if logic:
            try:
                data["relevance"] = _from_redcap(logic, fields, condition=True,
                                                 elsewhere=self.elsewhere)
            except (LogicError, ExpressionError) as exc:
                raise self.error(row, f"branching logic {logic!r} {exc}",
                                 fix=getattr(exc, "fix", None)
                                 or "rewrite the branching logic with [field] = 'value', "
                                    "[field(code)] = '1', and/or and parentheses") from None
        annotation = _PAYLOAD_RE.sub("", row["field_annotation"])
        tags = sorted(set(re.findall(r"@[A-Z][A-Z0-9_-]*", annotation)) - {"@NOMISSING"})
        if tags:
            self.note(row, f"action tags {' '.join(tags)} stay in REDCap; pceval does not "
                           "carry them")
        try:
            return Item.model_validate(data)
        except ValidationError as exc:
            message = exc.errors()[0]["msg"].removeprefix("Value error, ")
            raise self.error(row, message) from None

    def text_type(self, row: _Row, validation: str) -> ItemType:
        if validation == "integer":
            return ItemType.INTEGER
        if validation.startswith("number"):
            return ItemType.DECIMAL
        if validation.startswith("date_"):
            if validation != "date_ymd":
                self.note(row, f"{validation} dates read as dates (REDCap exports them as "
                               "yyyy-mm-dd)")
            return ItemType.DATE
        if validation.startswith(("datetime", "time")):
            self.note(row, f"{validation} has no pceval type; read as short text")
        elif validation and validation not in VALIDATION_TYPES:
            self.note(row, f"unknown validation {validation!r}; read as short text")
        return ItemType.SHORT_TEXT


def _core(row: dict[str, str]) -> tuple[str, ...]:
    """The columns that decide an item (annotation, section, matrix and layout left out)."""
    keys = ("field_type", "field_label", "select_choices_or_calculations", "field_note",
            "text_validation_type_or_show_slider_number", "text_validation_min",
            "text_validation_max", "identifier", "branching_logic", "required_field")
    return tuple(" ".join(row[key].split()) for key in keys)


def _payload(row: _Row) -> dict | None:
    match = _PAYLOAD_RE.search(row["field_annotation"])
    if match is None:
        return None
    try:
        obj = _decode(match.group(1))
    except (ValueError, UnicodeDecodeError):
        return None
    return obj if obj.get("pceval_redcap") == _PAYLOAD_VERSION else None


def import_redcap_dictionary(
    path: str | Path,
    *,
    form: str | None = None,
    instrument_id: str | None = None,
    respondent: Literal["woman", "worker", "facilitator", "record"] | None = None,
) -> ImportResult:
    """Read a REDCap Data Dictionary (CSV download or API header spelling) as an instrument.

    Parameters
    ----------
    path : str or Path
        The dictionary CSV.
    form : str, optional
        Import only this form (instrument). By default every form is imported into one
        instrument, each form's fields in a ``group`` named after the form unless a matrix group
        or section header names a group.
    instrument_id : str, optional
        The instrument id; by default the form name (one form) or the file name.
    respondent : {"woman", "worker", "facilitator", "record"}, optional
        Who answers; REDCap does not record it. Default ``"woman"`` (a note says so).

    Returns
    -------
    ImportResult
        The instrument, notes on every decision, and the name of REDCap's record id field.

    Raises
    ------
    InstrumentError
        One line with the file, row and field: unknown field type, malformed choices, duplicate
        variable names, branching logic naming a missing field or using event-prefixed fields,
        smart variables or functions pceval cannot express.

    Notes
    -----
    Field types: radio/dropdown → single choice (likert in a matrix group), yesno and truefalse
    → single choice with choices ``1, Yes | 0, No`` / ``1, True | 0, False``, checkbox →
    multiple choice, text with validation → integer / decimal / date / short text, notes → long
    text, calc → calculated (a decimal item, with a note, when the calculation uses REDCap
    functions), descriptive → note, slider → integer 0–100; file and sql fields are skipped with
    a note. Choices with a negative code and a label such as "Prefer not to say" become the
    instrument's missing codes with their kind. Identifier ``y`` → ``direct_identifier``;
    notes and unvalidated text → ``free_text``; email and phone → ``contact_safety``.
    The first field is REDCap's record id: reported in ``record_id_field``, not an item.
    A dictionary written by :func:`export_redcap_dictionary` is restored exactly from its
    annotations, except rows whose columns were edited in REDCap (rebuilt from the columns).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from pceval.instrument import load_instrument
    >>> inst = load_instrument("facilitator_survey")
    >>> out = export_redcap_dictionary(inst, pathlib.Path(tempfile.mkdtemp()) / "dd.csv")
    >>> import_redcap_dictionary(out).instrument == inst
    True
    """
    path = Path(path)
    _, rows = _read_rows(path)
    if not rows:
        raise InstrumentError("the dictionary has no fields", file=path, row=2)
    if form is not None:
        forms = {row["form_name"] for row in rows}
        if form not in forms:
            raise InstrumentError(f"no form {form!r} in the dictionary", file=path,
                                  fix=f"choose one of {sorted(forms)}")
    record, rows_after = rows[0], rows[1:]
    head = _payload(record)
    meta = head.get("instrument") if head else None
    importer = _Importer(path, rows, meta if isinstance(meta, dict) else None)
    importer.check_structure()
    if form is not None:
        importer.elsewhere = {row.name: row["form_name"] for row in rows_after
                              if row["form_name"] != form}
        rows_after = [row for row in rows_after if row["form_name"] == form]
    notes = importer.notes
    notes.append(f"row {record.number}, field {record.name}: REDCap's record id; read as the "
                 "record key, not as an item")

    # What the export of the payloads would look like, to tell edited rows from untouched ones.
    expected: dict[str, tuple[str, ...]] = {}
    payload_items: dict[str, Item] = {}
    if importer.meta is not None:
        for row in rows_after:
            obj = _payload(row)
            if obj and isinstance(obj.get("item"), dict):
                try:
                    payload_items[row.name] = Item.model_validate(obj["item"])
                except ValidationError:
                    importer.note(row, "annotation payload unreadable; read from the columns")
        try:
            candidate = Instrument.model_validate(
                {**importer.meta, "items": list(payload_items.values())})
            expected = {r["field_name"]: _core(r) for r in _rows(candidate)[1:]}
        except (ValidationError, InstrumentError, ExpressionError):
            notes.append("the annotation payloads do not form a valid instrument; rows are read "
                         "from their columns")
            payload_items = {}
    fields = {row.name: info for row in rows_after if (info := importer.field_info(row))}
    forms_used = list(dict.fromkeys(row["form_name"] for row in rows_after))
    items: list[Item] = []
    section: str | None = None
    current_form = None
    for row in rows_after:
        if row["form_name"] != current_form:
            current_form, section = row["form_name"], None
        if row["section_header"].strip():
            section = _slug(row["section_header"])
        payload_item = payload_items.get(row.name)
        if payload_item is not None and expected.get(row.name) == _core(row.cells):
            items.append(payload_item)
            continue
        group = section or (current_form if len(forms_used) > 1 else None)
        item = importer.foreign_item(row, fields, group)
        if item is None:
            continue
        if payload_item is not None:
            item = _merge(item, payload_item)
            importer.note(row, "edited in REDCap after export; rebuilt from its columns, keeping "
                               "pceval metadata from the annotation")
        items.append(item)
    if importer.meta is not None:
        data = {**importer.meta}
    else:
        single = forms_used[0] if len(forms_used) == 1 else None
        ident = instrument_id or single or _slug(path.stem) or "redcap_import"
        data = {"kind": "instrument", "schema_version": 1, "id": ident, "version": "0.0.0",
                "title": _humanise(single or ident), "respondent": respondent or "woman"}
        if respondent is None:
            notes.append("respondent set to 'woman' (REDCap does not record who answers); pass "
                         "respondent= to change it")
        if len(forms_used) > 1:
            notes.append(f"forms {forms_used} imported into one instrument, grouped by form")
    if instrument_id is not None:
        data["id"] = instrument_id
    if respondent is not None:
        data["respondent"] = respondent
    data["choice_lists"] = {name: list(choices) for name, choices in importer.choice_lists.items()}
    data["missing_codes"] = list(importer.missing.values()) if importer.meta is None else data.get(
        "missing_codes", [])
    data["items"] = items
    try:
        instrument = Instrument.model_validate(data)
    except ValidationError as exc:
        message = exc.errors()[0]["msg"].removeprefix("Value error, ")
        raise InstrumentError(message, file=path) from None
    return ImportResult(instrument=instrument, notes=tuple(notes), record_id_field=record.name)


def _merge(item: Item, original: Item) -> Item:
    """An item rebuilt from edited REDCap columns, keeping the metadata REDCap has no column for."""
    data = item.model_dump()
    for key in ("role", "domains", "nos", "waves"):
        data[key] = getattr(original, key)
    flagged = item.sensitivity == Sensitivity.DIRECT_IDENTIFIER
    if flagged == (not original.leaves_staging):
        data["sensitivity"] = original.sensitivity
    if data.get("group") is None:
        data["group"] = original.group
    if item.type == original.type and not (item.is_choice or item.is_multiple):
        data["missing_codes"] = original.missing_codes  # no REDCap column holds them
    if (original.constraint is not None and item.type == original.type
            and (original.constraint.pattern or original.constraint.message)):
        constraint = dict(data.get("constraint") or {})
        constraint.update(pattern=original.constraint.pattern, message=original.constraint.message)
        data["constraint"] = constraint
    if isinstance(original.label, dict) and text_in(original.label) == text_in(item.label):
        data["label"] = original.label
    return Item.model_validate(data)


__all__ = [
    "API_HEADERS", "HEADERS", "ImportResult", "LogicError", "check_redcap_dictionary",
    "export_redcap_dictionary", "import_redcap_dictionary", "redcap_checkbox_column",
    "redcap_missing_data_codes", "to_redcap_calculation", "to_redcap_logic",
]
