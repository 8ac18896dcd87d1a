"""Qualtrics export: an Advanced Format TXT survey and the companions a survey builder needs.

Qualtrics imports a survey from a plain-text file in its *Advanced Format* (Survey ▸ Tools ▸
Import/Export ▸ Import Survey). The file gives questions, their types, choices and ids, blocks and
page breaks; it cannot carry display logic, survey-flow branches, recode values or validation.
So :func:`export_qualtrics_txt` writes four files:

``<name>.txt``
    The survey. One question per asked data item, with ``[[ID:<item id>]]`` so Qualtrics uses
    pceval's item ids as export tags; a block per group; missing-value codes offered as choices.
``<name>_display_logic.md`` and ``<name>_display_logic.csv``
    Per question, its display logic in plain language and in Qualtrics' terms
    ("Display this question if: safe_now Is Selected Yes"), and the survey-flow branches that end
    the survey when the safety check or consent is not "Yes".
``<name>_recode_map.csv`` (and ``<name>_recode_map.md``, how to apply it)
    Item id, choice text, the position Qualtrics gives the choice (its default recode value) and
    pceval's code. Qualtrics numbers choices 1, 2, 3 ... in the order they are listed.

The tags written are the ones Qualtrics documents for the Advanced Format (see Notes), nothing else:
``[[AdvancedFormat]]``, ``[[Block:name]]``, ``[[PageBreak]]``, ``[[Question:MC:SingleAnswer:Vertical]]``,
``[[Question:MC:SingleAnswer:Horizontal]]``, ``[[Question:MC:MultipleAnswer:Vertical]]``,
``[[Question:Matrix]]`` with ``[[Choices]]`` (statements) and ``[[Answers]]`` (scale points),
``[[Question:TE:SingleLine]]``, ``[[Question:TE:Essay]]``, ``[[Question:DB]]`` (descriptive text)
and ``[[ID:...]]``. :func:`check_qualtrics_txt` checks a file against the structural rules.

Notes
-----
Sources: Qualtrics support, "Import and Export Surveys ▸ Preparing an Advanced Format TXT File"
(https://www.qualtrics.com/support/survey-platform/survey-module/survey-tools/import-and-export-surveys/);
its notes that logic (display logic, skip logic, branches) must be added after import are repeated
by university guides (e.g. UT Austin's "Qualtrics AdvancedFormat TXT" page). Qualtrics support,
"Recode Values" (https://www.qualtrics.com/support/survey-platform/survey-module/question-options/recode-values/):
"By default, the first answer choice will have a recode value of 1, the second choice 2, and so
forth"; values are changed in the question's Recode Values menu.

What is left out on purpose: ``[[Choice:n]]``/``[[Answer:n]]`` numbering inside
``[[AdvancedChoices]]`` is used by some generators to set choice ids, but Qualtrics does not
document it as setting recode values, so recodes go to the companion file instead. Dropdowns,
sliders, embedded data (``[[ED:...]]``) and validation are not written.
"""

from __future__ import annotations

import ast
import csv
import html
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pceval.errors import InstrumentError
from pceval.instrument.expressions import parse_expression
from pceval.instrument.model import Code, Instrument, Item, ItemType, Role, text_in
from pceval.instrument.script import (
    GATE_ROLES,
    RECORDED_ROLES,
    describe_expression,
    format_constant,
    gate_exit_labels,
    ordered_items,
    question_numbers,
)
from pceval.io import write_text

LikertLayout = Literal["questions", "matrix"]

#: Question types a file may use (the documented Advanced Format types this checker knows).
QUESTION_TYPES = frozenset({
    "MC", "MC:SingleAnswer", "MC:SingleAnswer:Vertical", "MC:SingleAnswer:Horizontal",
    "MC:MultipleAnswer", "MC:MultipleAnswer:Vertical", "MC:MultipleAnswer:Horizontal",
    "MC:Dropdown", "MC:Select", "MC:MultiSelect",
    "Matrix", "TE", "TE:SingleLine", "TE:Essay", "TE:Form", "DB", "Text",
})
_CHOICE_TYPES = ("MC", "Matrix")
#: Integer items with at most this many values are offered as choices (a 0-10 rating: 11).
MAX_INTEGER_CHOICES = 11
_TAG = re.compile(r"\[\[(.*?)\]\]")
_EXPORT_TAG = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]*$")


# --------------------------------------------------------------------------------------------
# Building the questions
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Option:
    code: Code
    label: str
    missing_kind: str = ""


@dataclass
class _Question:
    qid: str
    qtype: str
    text: str
    items: tuple[Item, ...]
    options: tuple[_Option, ...] = ()          # MC choices, or Matrix scale points
    rows: tuple[str, ...] = ()                  # Matrix statements
    block: str = ""
    notes: list[str] = field(default_factory=list)


def _options(instrument: Instrument, item: Item, lang: str) -> tuple[_Option, ...]:
    opts = [_Option(c.code, text_in(c.label, lang)) for c in instrument.choices_of(item)]
    if item.type == ItemType.INTEGER and _small_range(item):
        lo, hi = int(item.constraint.min), int(item.constraint.max)
        opts = [_Option(n, str(n)) for n in range(lo, hi + 1)]
    opts += [_Option(m.code, text_in(m.label, lang), m.kind.value) for m in instrument.missing_of(item)]
    return tuple(opts)


def _small_range(item: Item) -> bool:
    c = item.constraint
    return (c is not None and c.min is not None and c.max is not None
            and float(c.min).is_integer() and float(c.max).is_integer()
            and 0 < c.max - c.min + 1 <= MAX_INTEGER_CHOICES)


def _as_choices(item: Item) -> bool:
    """Whether an item is shown as a multiple-choice question in Qualtrics."""
    return bool(item.choices) or (item.type == ItemType.INTEGER and _small_range(item))


def _question_for(instrument: Instrument, item: Item, lang: str) -> _Question:
    text = text_in(item.label, lang) or item.id
    notes: list[str] = []
    if item.type == ItemType.NOTE:
        return _Question(item.id, "DB", text, (item,))
    if item.is_multiple:
        qtype = "MC:MultipleAnswer:Vertical"
    elif _as_choices(item):
        horizontal = item.type == ItemType.INTEGER
        qtype = f"MC:SingleAnswer:{'Horizontal' if horizontal else 'Vertical'}"
    elif item.type == ItemType.LONG_TEXT:
        qtype = "TE:Essay"
    else:
        qtype = "TE:SingleLine"
    if item.type == ItemType.DATE:
        text += " (Please write the date as YYYY-MM-DD, for example 2025-03-31.)"
        notes.append("Date: add Validation ▸ Content validation ▸ Date (yyyy-mm-dd) in Qualtrics; "
                     "pceval reads dates written as YYYY-MM-DD.")
    if item.type in {ItemType.INTEGER, ItemType.DECIMAL} and not _as_choices(item):
        c = item.constraint
        bounds = ""
        if c is not None and (c.min is not None or c.max is not None):
            bounds = f" between {format_constant(c.min)} and {format_constant(c.max)}"
        notes.append(f"Number: add Validation ▸ Content validation ▸ Number{bounds}.")
        if item.missing_codes:
            text += " (You can leave this blank if you prefer not to answer.)"
            notes.append("A text-entry question cannot offer missing-value choices; a blank "
                         "answer is read as missing.")
    if item.constraint is not None and item.constraint.pattern:
        notes.append(f"Answers must match the pattern {item.constraint.pattern} "
                     "(pceval checks this when cleaning).")
    if item.role in RECORDED_ROLES:
        notes.append("Filled in by the service, not the respondent: consider passing it as "
                     "embedded data in the survey link instead of asking it.")
    return _Question(item.id, qtype, text, (item,), _options(instrument, item, lang), notes=notes)


def _matrix_key(instrument: Instrument, item: Item) -> tuple | None:
    if item.type != ItemType.LIKERT or item.group is None:
        return None
    return (item.group, item.choices, item.missing_codes, item.relevance, item.waves)


def _build_questions(instrument: Instrument, items: Sequence[Item], lang: str,
                     likert: LikertLayout) -> list[_Question]:
    questions: list[_Question] = []
    i = 0
    while i < len(items):
        item = items[i]
        key = _matrix_key(instrument, item) if likert == "matrix" else None
        run = [item]
        if key is not None:
            while i + len(run) < len(items) and _matrix_key(instrument, items[i + len(run)]) == key:
                run.append(items[i + len(run)])
        if len(run) > 1:
            questions.append(_Question(
                qid=item.group, qtype="Matrix",
                text="Please choose one answer for each statement.",
                items=tuple(run), options=_options(instrument, item, lang),
                rows=tuple(text_in(r.label, lang) for r in run),
                notes=[f"Matrix rows export as {item.group}_1 ... {item.group}_{len(run)}; "
                       "the recode map names the pceval item of each row."],
            ))
        else:
            questions.append(_question_for(instrument, item, lang))
        i += len(run)
    return questions


def _assign_blocks(questions: list[_Question]) -> None:
    """One block per gate item and per run of items sharing a group (Qualtrics branches between
    blocks, so the safety check and consent each get their own)."""
    names: list[str] = []
    previous: tuple | None = None
    for q in questions:
        first = q.items[0]
        if first.role in GATE_ROLES:
            key: tuple = ("gate", first.id)
            base = {Role.SAFETY_GATE: "safety_check", Role.CONSENT: "consent"}[first.role]
        elif first.group:
            key, base = ("group", first.group), first.group
        else:
            key, base = ("questions",), "questions"
        if key != previous or key[0] == "gate":
            name, n = base, 2
            while name in names:
                name, n = f"{base}_{n}", n + 1
            names.append(name)
            previous = key
        q.block = names[-1]


def _unique_id(base: str, taken: set[str]) -> str:
    qid, n = base, 2
    while qid in taken:
        qid = f"{base}_{n}"
        n += 1
    taken.add(qid)
    return qid


def _html(text: str) -> str:
    # Qualtrics shows question text as HTML; keep characters literal, and never let text open a
    # tag ("[[").
    return html.escape(" ".join(text.split()), quote=False).replace("[[", "&#91;[")


def _survey_questions(instrument: Instrument, *, wave: str | None, lang: str,
                      likert: LikertLayout) -> list[_Question]:
    items = ordered_items(instrument, wave=wave)
    questions = _build_questions(instrument, items, lang, likert)
    taken = {q.qid for q in questions}
    description = text_in(instrument.description, lang)
    if description or instrument.support_services:
        lines = [_html(description)] if description else []
        if instrument.support_services:
            lines.append("If you would like to talk to someone:")
            lines += [_html(s) for s in instrument.support_services]
        intro = _Question(_unique_id("intro", taken), "DB", "<br>".join(lines), ())
        gate_at = next((n for n, q in enumerate(questions) if q.items[0].role == Role.SAFETY_GATE),
                       None)
        where = 0 if gate_at is None else gate_at + 1
        questions.insert(where, intro)
    _assign_blocks_with_intro(questions)
    return questions


def _assign_blocks_with_intro(questions: list[_Question]) -> None:
    # The introduction belongs with the question after it (shown once it is safe to go on).
    asked = [q for q in questions if q.items]
    _assign_blocks(asked)
    for n, q in enumerate(questions):
        if not q.items:
            following = next((x for x in questions[n + 1:] if x.items), None)
            q.block = following.block if following is not None else "end"


def _txt(questions: Sequence[_Question]) -> str:
    out = ["[[AdvancedFormat]]", ""]
    block = None
    for q in questions:
        if q.block != block:
            out += [f"[[Block:{q.block}]]", ""]
            block = q.block
        out += [f"[[Question:{q.qtype}]]", f"[[ID:{q.qid}]]",
                q.text if q.qtype == "DB" and not q.items else _html(q.text)]
        if q.qtype == "Matrix":
            out += ["[[Choices]]", *(_html(r) for r in q.rows),
                    "[[Answers]]", *(_html(o.label) for o in q.options)]
        elif q.qtype.startswith("MC"):
            out += ["[[Choices]]", *(_html(o.label) for o in q.options)]
        out.append("")
    return "\n".join(out)


# --------------------------------------------------------------------------------------------
# Display logic in Qualtrics' terms
# --------------------------------------------------------------------------------------------

_TE_OPS = {
    ast.Eq: "Is Equal To", ast.NotEq: "Is Not Equal To", ast.Gt: "Is Greater Than",
    ast.GtE: "Is Greater Than or Equal To", ast.Lt: "Is Less Than",
    ast.LtE: "Is Less Than or Equal To",
}
_INVERSE = {ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.Gt: ast.LtE, ast.GtE: ast.Lt,
            ast.Lt: ast.GtE, ast.LtE: ast.Gt}
_FLIP = {ast.Eq: ast.Eq, ast.NotEq: ast.NotEq, ast.Gt: ast.Lt, ast.GtE: ast.LtE,
         ast.Lt: ast.Gt, ast.LtE: ast.GtE}
_PY_OPS = {ast.Eq: lambda a, b: a == b, ast.NotEq: lambda a, b: a != b,
           ast.Gt: lambda a, b: a > b, ast.GtE: lambda a, b: a >= b,
           ast.Lt: lambda a, b: a < b, ast.LtE: lambda a, b: a <= b}


def qualtrics_condition(expr: str, instrument: Instrument, *, lang: str = "en") -> str:
    """A relevance expression as Qualtrics display-logic conditions.

    Choice questions use "Is Selected" / "Is Not Selected" with choice texts (a comparison such
    as ``> 2`` becomes the choices it selects, joined with Or); text-entry questions use
    Qualtrics' text operators ("Is Greater Than", "Is Not Empty", ...).

    Examples
    --------
    >>> from pceval.instrument import load_instrument
    >>> women = load_instrument("womens_survey")
    >>> qualtrics_condition("safe_now == 1", women)
    'safe_now Is Selected Yes'
    >>> qualtrics_condition("consent == 1 and children_n > 0", women)
    'consent Is Selected Yes And children_n Is Greater Than 0'
    """
    return _Conditions(instrument, lang).render(parse_expression(expr).tree.body)


class _Conditions:
    def __init__(self, instrument: Instrument, lang: str) -> None:
        self.instrument = instrument
        self.lang = lang
        self.ids = {item.id for item in instrument.items}

    def options(self, item_id: str) -> tuple[_Option, ...] | None:
        if item_id not in self.ids:
            return None
        item = self.instrument.item(item_id)
        return _options(self.instrument, item, self.lang) if _as_choices(item) else None

    def render(self, node: ast.AST, *, negate: bool = False) -> str:
        if isinstance(node, ast.BoolOp):
            is_and = isinstance(node.op, ast.And) != negate   # De Morgan when negated
            parts = []
            for value in node.values:
                text = self.render(value, negate=negate)
                parts.append(f"({text})" if " And " in text or " Or " in text else text)
            return (" And " if is_and else " Or ").join(parts)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return self.render(node.operand, negate=not negate)
        if isinstance(node, ast.Compare):
            lefts = [node.left, *node.comparators[:-1]]
            parts = [self.compare(left, type(op), right, negate=negate)
                     for left, op, right in zip(lefts, node.ops, node.comparators, strict=True)]
            joiner = " Or " if negate else " And "
            return joiner.join(f"({p})" if " Or " in p or " And " in p else p for p in parts) \
                if len(parts) > 1 else parts[0]
        if isinstance(node, ast.Call):
            item_id = node.args[0].id
            opts = self.options(item_id)
            if node.func.id == "answered":
                if opts is None:
                    return f"{item_id} {'Is Empty' if negate else 'Is Not Empty'}"
                verb = "Is Not Selected" if negate else "Is Selected"
                return (" And " if negate else " Or ").join(f"{item_id} {verb} {o.label}" for o in opts)
            code = node.args[1].value if len(node.args) > 1 and isinstance(node.args[1], ast.Constant) else None
            label = self.label(item_id, code)
            return f"{item_id} {'Is Not Selected' if negate else 'Is Selected'} {label}"
        if isinstance(node, ast.Name):
            return self.compare(node, ast.NotEq, ast.Constant(0), negate=negate)
        return self.fallback(node)

    def label(self, item_id: str, code: object) -> str:
        for o in self.options(item_id) or ():
            if _same(o.code, code):
                return o.label
        if item_id in self.ids:
            for c in self.instrument.choices_of(item_id):
                if _same(c.code, code):
                    return text_in(c.label, self.lang)
        return format_constant(code)

    def compare(self, left: ast.AST, op: type[ast.cmpop], right: ast.AST, *, negate: bool) -> str:
        if not isinstance(left, ast.Name) and isinstance(right, ast.Name):
            left, right, op = right, left, _FLIP[op]
        value = _constant(right)
        if not isinstance(left, ast.Name) or value is _NOT_CONSTANT:
            return self.fallback(ast.Compare(left=left, ops=[op()], comparators=[right]))
        item_id = left.id
        opts = self.options(item_id)
        if opts is None:
            op = _INVERSE[op] if negate else op
            return f"{item_id} {_TE_OPS[op]} {format_constant(value)}"
        if negate:
            # "not (x == 1)": Yes is not selected (a blank answer also qualifies, as in pceval)
            matching = self.matching(opts, op, value)
            return " And ".join(f"{item_id} Is Not Selected {o.label}" for o in matching) or "(always)"
        matching = self.matching(opts, op, value)
        if not matching:
            return f"(never: no choice of {item_id} satisfies this)"
        return " Or ".join(f"{item_id} Is Selected {o.label}" for o in matching)

    @staticmethod
    def matching(opts: Sequence[_Option], op: type[ast.cmpop], value: object) -> list[_Option]:
        if op is ast.Eq:
            return [o for o in opts if _same(o.code, value)]
        # other comparisons never hold for a missing-value code: pceval reads them as blanks
        valid = [o for o in opts if not o.missing_kind]
        if op is ast.NotEq:
            return [o for o in valid if not _same(o.code, value)]
        if not isinstance(value, int | float):
            return []
        return [o for o in valid if isinstance(o.code, int | float) and _PY_OPS[op](o.code, value)]

    @staticmethod
    def fallback(node: ast.AST) -> str:
        return (f"[no direct Qualtrics condition for {ast.unparse(node)}: compute it as embedded "
                "data in the survey flow and test that]")


_NOT_CONSTANT = object()


def _constant(node: ast.AST) -> object:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant):
        return -node.operand.value
    return _NOT_CONSTANT


def _same(code: Code, value: object) -> bool:
    if isinstance(value, bool) or value is None:
        return False
    if isinstance(code, int) and isinstance(value, int | float):
        return float(code) == float(value)
    return str(code) == str(value)


# --------------------------------------------------------------------------------------------
# Companions
# --------------------------------------------------------------------------------------------


def _csv_text(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def _md_cell(text: object) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _display_logic(instrument: Instrument, questions: Sequence[_Question],
                   numbers: Mapping[str, str], *, wave: str | None, lang: str,
                   txt_name: str) -> tuple[str, str]:
    header = ["item", "question", "number", "block", "relevance", "display_logic", "qualtrics"]
    rows: list[list[str]] = []
    for q in questions:
        for item in q.items:
            if item.relevance:
                rows.append([
                    item.id, q.qid, numbers.get(item.id, ""), q.block, item.relevance,
                    describe_expression(item.relevance, instrument, numbers=numbers, lang=lang),
                    "Display this question if: " + qualtrics_condition(item.relevance, instrument,
                                                                      lang=lang),
                ])
    title = text_in(instrument.title, lang)
    md = [
        f"# {title}: what to add in Qualtrics after importing {txt_name}",
        "",
        f"Instrument `{instrument.id}` version {instrument.version}"
        + (f", wave `{wave}`." if wave else "."),
        "",
        "The Advanced Format TXT file cannot carry display logic, survey-flow branches, recode "
        "values or validation. Add them in the survey editor as listed here before you collect "
        "any response. Question numbers (Q1, Q2, ...) are those of the interview script; "
        "Qualtrics shows each question by its export tag (the pceval item id).",
        "",
        "## 1. Survey flow: end the survey when it is not safe or she does not consent",
        "",
    ]
    branches = []
    for q in questions:
        item = q.items[0] if q.items else None
        if item is not None and item.role in GATE_ROLES:
            exits = gate_exit_labels(instrument, item, lang)
            if exits:
                condition = " Or ".join(f"{item.id} Is Selected {label}" for label in exits)
                branches.append(
                    f"- After block `{q.block}`: add a Branch — If {condition} → End of Survey "
                    "(use a neutral end-of-survey message that does not name the survey's topic)."
                )
    md += branches or ["- No safety check or consent item: no branch needed."]
    md += ["", "## 2. Display logic, question by question", ""]
    if rows:
        md += ["| question | number | show it if (plain language) | Qualtrics display logic |",
               "| --- | --- | --- | --- |"]
        md += [f"| `{r[1]}`{'' if r[0] == r[1] else f' (row `{r[0]}`)'} | {r[2]} | "
               f"{_md_cell(r[5])} | {_md_cell(r[6])} |" for r in rows]
    else:
        md += ["No question has display logic."]
    notes = [(q, n) for q in questions for n in q.notes]
    waves = [(q, item) for q in questions for item in q.items if wave is None and item.waves]
    if waves:
        md += ["", "## 3. Questions asked only at some waves", "",
               "Export one survey per wave (`wave=...`), or add display logic on an embedded "
               "data field that holds the wave:", ""]
        md += [f"- `{item.id}`: {', '.join(item.waves)}" for _, item in waves]
    if notes:
        md += ["", "## 4. Notes per question", ""]
        md += [f"- `{q.qid}`: {_md_cell(n)}" for q, n in notes]
    required = [item.id for q in questions for item in q.items if item.required]
    if required:
        md += ["", "## 5. Required answers", "",
               "pceval marks these items required: " + ", ".join(f"`{r}`" for r in required)
               + ". In Qualtrics prefer Request Response to Force Response for anything she "
               "answers herself, so she can always skip a question or stop."]
    md += ["", "## 6. When you export the responses", "",
           "- Export as numeric values (not choice text) and apply the recode map first "
           "(see the `_recode_map.md` file), or give pceval the recode map.",
           "- Do not tick \"Recode seen but unanswered questions as -99\": pceval uses -99 for "
           "\"Prefer not to say\".", ""]
    return _csv_text(header, rows), "\n".join(md)


def _recode_map(instrument: Instrument, questions: Sequence[_Question], *, lang: str,
                txt_name: str) -> tuple[str, str]:
    header = ["item", "question", "column", "position", "qualtrics_default", "code", "label",
              "missing_kind", "set_recode_to"]
    rows: list[list[object]] = []
    for q in questions:
        if not (q.qtype == "Matrix" or q.qtype.startswith("MC")):
            continue
        # Recode a whole question or none of it, so recoded and default values never mix.
        numeric = all(isinstance(o.code, int) for o in q.options)
        for r, item in enumerate(q.items, start=1):
            for p, o in enumerate(q.options, start=1):
                if q.qtype == "Matrix":
                    column = f"{q.qid}_{r}"
                else:
                    column = f"{q.qid}_{p}" if item.is_multiple else q.qid
                rows.append([item.id, q.qid, column, p, p, o.code, o.label, o.missing_kind,
                             o.code if numeric else ""])
    md = [
        f"# Recode map for {txt_name}",
        "",
        "Qualtrics gives the choices of each question the values 1, 2, 3, ... in the order they "
        "are listed (its default *recode values*). pceval's codes are in the `code` column of "
        "the CSV beside this file. Either set the recode values in Qualtrics, or keep Qualtrics' "
        "values and let pceval translate them with the CSV; do one or the other, not a mix, "
        "for each question.",
        "",
        "## Setting recode values in Qualtrics",
        "",
        "1. In the survey editor, select the question.",
        "2. Open **Recode values** (in the question's options: the gear menu, or the editing "
        "pane in newer editors).",
        "3. Tick **Recode Values** and type, for each choice, the number in `set_recode_to`.",
        "4. Do this before the first response: Qualtrics does not renumber choices after that.",
        "",
        "Where `set_recode_to` is blank the question has text codes in pceval: leave it at "
        "Qualtrics' values; pceval maps `position` to `code`. Qualtrics' help describes recode "
        "values as whole numbers (its example recodes Yes/No to 0/1); if it refuses a negative "
        "value such as -99, leave that whole question at Qualtrics' values. For "
        "multiple-answer questions Qualtrics writes one column per choice (`column`), 1 when "
        "chosen; Matrix rows are columns `<question>_<row>` (the `item` column names each row).",
        "",
        "| item | column | position | code | label |",
        "| --- | --- | --- | --- | --- |",
    ]
    md += [f"| `{r[0]}` | `{r[2]}` | {r[3]} | {_md_cell(r[5])} | {_md_cell(r[6])} |" for r in rows]
    return _csv_text(header, rows), "\n".join(md) + "\n"


def companion_paths(path: str | Path) -> dict[str, Path]:
    """Where :func:`export_qualtrics_txt` writes its companions for a TXT at ``path``."""
    path = Path(path)
    stem = path.with_suffix("")
    return {
        "display_logic_md": Path(f"{stem}_display_logic.md"),
        "display_logic_csv": Path(f"{stem}_display_logic.csv"),
        "recode_map_csv": Path(f"{stem}_recode_map.csv"),
        "recode_map_md": Path(f"{stem}_recode_map.md"),
    }


def export_qualtrics_txt(
    instrument: Instrument,
    path: str | Path,
    *,
    wave: str | None = None,
    likert: LikertLayout = "questions",
    lang: str = "en",
) -> Path:
    """Write an instrument as a Qualtrics Advanced Format TXT file, with its companions.

    Parameters
    ----------
    instrument : Instrument
        The instrument to export.
    path : str or Path
        The ``.txt`` file to write. Companions go beside it (:func:`companion_paths`).
    wave : str, optional
        Only the items asked at this wave; by default every item (the display-logic companion
        lists which waves ask which items).
    likert : {"questions", "matrix"}
        ``"questions"`` (default) writes every item, Likert items included, as its own question
        with ``[[ID:<item id>]]``, so a Qualtrics export has one column per item named as in
        pceval. ``"matrix"`` writes each run of Likert items of one group that share a scale,
        missing codes, relevance and waves as one ``[[Question:Matrix]]`` with ``[[ID:<group>]]``;
        the TXT format cannot name matrix rows, so they export as ``<group>_1``, ``<group>_2``...
        and the recode map names the pceval item of each row.
    lang : str
        Language of the texts.

    Returns
    -------
    Path
        ``path``.

    Notes
    -----
    Order: the safety gate is the first question, then a descriptive text with the instrument's
    description and support services (shown once it is safe to go on), then the items in the
    instrument's order. Single-choice, Likert and integer items with at most
    ``MAX_INTEGER_CHOICES`` values are multiple-choice questions with the item's missing-value
    codes as extra choices; multiple-choice items allow several answers; dates and other numbers
    are text entry (validation is listed in the companion); long text is an essay box; notes are
    descriptive text. Display logic is not written into the TXT (the format has no tag for it and
    anything written as text would be shown to respondents); it is in the companions.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from pceval.instrument import load_instrument
    >>> out = export_qualtrics_txt(load_instrument("womens_survey"),
    ...                            pathlib.Path(tempfile.mkdtemp()) / "women.txt", wave="baseline")
    >>> out.read_text().splitlines()[:5]
    ['[[AdvancedFormat]]', '', '[[Block:safety_check]]', '', '[[Question:MC:SingleAnswer:Vertical]]']
    >>> check_qualtrics_txt(out)
    []
    """
    if likert not in ("questions", "matrix"):
        raise ValueError(f"likert must be 'questions' or 'matrix', not {likert!r}")
    questions = _survey_questions(instrument, wave=wave, lang=lang, likert=likert)
    numbers = question_numbers(instrument, wave=wave)
    path = Path(path)
    logic_csv, logic_md = _display_logic(instrument, questions, numbers, wave=wave, lang=lang,
                                         txt_name=path.name)
    recode_csv, recode_md = _recode_map(instrument, questions, lang=lang, txt_name=path.name)
    companions = companion_paths(path)
    write_text(companions["display_logic_csv"], logic_csv)
    write_text(companions["display_logic_md"], logic_md)
    write_text(companions["recode_map_csv"], recode_csv)
    write_text(companions["recode_map_md"], recode_md)
    # The survey last, so a TXT never sits beside stale companions.
    return write_text(path, _txt(questions))


# --------------------------------------------------------------------------------------------
# Checking a file
# --------------------------------------------------------------------------------------------


def check_qualtrics_txt(path: str | Path) -> list[str]:
    """Check an Advanced Format TXT file against the format's structural rules.

    Rules: the first non-blank line is ``[[AdvancedFormat]]``; every tag is one the format knows
    (``AdvancedFormat``, ``Block``/``Block:name``, ``PageBreak``, ``Question:<type>``, ``ID:<tag>``,
    ``Choices``, ``Answers``, ``AdvancedChoices``/``Choice``, ``AdvancedAnswers``/``Answer``,
    ``ED:...``) written tightly (no spaces inside the brackets); every question has a known
    type and text; multiple-choice questions have at least one choice, matrices choices and
    answers; text-entry and descriptive questions have none; question ids are unique, valid
    export tags and given once per question; no text stands outside a question; no question has
    two identical choices.

    Returns
    -------
    list of str
        One message per problem, location first (``"line 12: ..."``); empty if the file passes.

    Raises
    ------
    InstrumentError
        If the file is missing or not UTF-8 text.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "s.txt"
    >>> _ = p.write_text("[[AdvancedFormat]]\\n[[Question:MC]]\\n[[ID:q1]]\\nPick one\\n[[Choices]]\\n")
    >>> check_qualtrics_txt(p)
    ['line 2: question q1 (MC) has no choices']
    """
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise InstrumentError("file not found", file=path) from None
    except UnicodeDecodeError:
        raise InstrumentError("not UTF-8 text", file=path, fix="save the file as UTF-8") from None
    problems: list[str] = []
    first = next((n for n, line in enumerate(lines) if line.strip()), None)
    if first is None:
        return ["line 1: the file is empty; it must start with [[AdvancedFormat]]"]
    if lines[first].strip() != "[[AdvancedFormat]]":
        problems.append(f"line {first + 1}: the first line must be [[AdvancedFormat]], "
                        f"found {lines[first].strip()!r}")

    ids: dict[str, int] = {}
    current: dict | None = None

    def finish(q: dict | None) -> None:
        if q is None:
            return
        where = f"line {q['line']}: question {q['id'] or '(no id)'} ({q['type']})"
        if not q["text"]:
            problems.append(f"{where} has no text")
        family = q["type"].split(":")[0]
        if family in _CHOICE_TYPES and not q["choices"]:
            problems.append(f"{where} has no choices")
        if family == "Matrix" and not q["answers"]:
            problems.append(f"{where} has no answers (scale points)")
        if family not in _CHOICE_TYPES and (q["choices"] or q["answers"]):
            problems.append(f"{where} cannot have choices")
        for label in ("choices", "answers"):
            seen: set[str] = set()
            for text in q[label]:
                if text in seen:
                    problems.append(f"{where} lists {text!r} twice in its {label}")
                seen.add(text)

    section = "text"
    for n, raw in enumerate(lines, start=1):
        line = raw.strip()
        tags = _TAG.findall(line)
        if line.startswith("[[") and tags and line == f"[[{tags[0]}]]":
            tag = tags[0]
            if tag != tag.strip() or " " in tag.split(":")[0]:
                problems.append(f"line {n}: tag [[{tag}]] has spaces inside the brackets")
                continue
            name, _, value = tag.partition(":")
            if name == "AdvancedFormat":
                continue
            if name in {"Block", "PageBreak"}:
                finish(current)
                current, section = None, "text"
                if name == "PageBreak" and value:
                    problems.append(f"line {n}: [[PageBreak]] takes no value")
                continue
            if name == "Question":
                finish(current)
                if value not in QUESTION_TYPES:
                    problems.append(f"line {n}: unknown question type {value!r}; "
                                    f"known: {', '.join(sorted(QUESTION_TYPES))}")
                current = {"line": n, "type": value, "id": "", "text": [], "choices": [],
                           "answers": []}
                section = "text"
                continue
            if name == "ED":
                continue
            if current is None:
                problems.append(f"line {n}: [[{tag}]] stands outside a question")
                continue
            if name == "ID":
                if current["id"]:
                    problems.append(f"line {n}: question {current['id']} has a second id {value!r}")
                elif not _EXPORT_TAG.match(value):
                    problems.append(f"line {n}: question id {value!r} is not a valid export tag "
                                    "(letters, digits, _ . -; starting with a letter)")
                elif value in ids:
                    problems.append(f"line {n}: question id {value!r} is also used on line "
                                    f"{ids[value]}")
                else:
                    current["id"] = value
                    ids[value] = n
                if current["text"]:
                    problems.append(f"line {n}: [[ID:{value}]] must come before the question text")
                continue
            if name in {"Choices", "AdvancedChoices"}:
                section = "choices"
                continue
            if name in {"Answers", "AdvancedAnswers"}:
                section = "answers"
                continue
            if name in {"Choice", "Answer"}:
                continue
            problems.append(f"line {n}: unknown tag [[{tag}]]")
            continue
        if not line:
            continue
        if current is None:
            problems.append(f"line {n}: text outside a question: {line[:40]!r}")
            continue
        current[section].append(line)
    finish(current)
    return problems


__all__ = ["check_qualtrics_txt", "companion_paths", "export_qualtrics_txt", "qualtrics_condition"]
