"""Interview scripts for phone administration, and plain-English routing.

An interviewer reads a survey aloud from a script: a cover with the safety protocol, the support
services and a distress protocol, then every question numbered, with the words to read in bold,
the response options to read or not read, and routing ("ASK IF Q2 is 'Yes'") derived from the
instrument's relevance expressions. The script is written once as pandoc markdown and converted
with the pandoc that ships in the ``pypandoc-binary`` wheel to self-contained HTML and to DOCX.

:func:`describe_expression` turns an expression of the instrument language into plain English
using question numbers and choice labels; the Qualtrics export reuses it for its display-logic
companion.

Notes
-----
The safety protocol follows the WHO ethical and safety recommendations for research on violence
against women (safety first; a safety check before any question; contact only on the number and
at the times she nominated; stopping at any time; support services; declining never affects her
support; he is never told). Its wording is practice, not item text, so it is written here once;
everything about items comes from the instrument.
"""

from __future__ import annotations

import ast
import html
import os
import re
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Literal

from pceval.errors import InstrumentError, ReportError
from pceval.instrument.expressions import Expression, parse_expression
from pceval.instrument.model import Code, Instrument, Item, ItemType, Role, text_in
from pceval.io import atomic_path, write_text

ScriptFormat = Literal["html", "docx", "md"]

#: Items filled in by the service or the interviewer, never asked of the respondent.
RECORDED_ROLES = frozenset({Role.CASE_KEY, Role.SERVICE, Role.EVENT_DATE, Role.WAVE,
                            Role.RESPONDENT_KEY})
#: Items whose "no" ends the interview (the safety gate and consent).
GATE_ROLES = (Role.SAFETY_GATE, Role.CONSENT)
CLOSE = "CLOSE"

_PHRASES = {
    ast.Eq: "is", ast.NotEq: "is not", ast.Gt: "is more than", ast.GtE: "is at least",
    ast.Lt: "is less than", ast.LtE: "is at most",
}
_NEGATED = {
    ast.Eq: "is not", ast.NotEq: "is", ast.Gt: "is not more than", ast.GtE: "is not at least",
    ast.Lt: "is not less than", ast.LtE: "is not at most",
}
#: ``a < x`` read as ``x > a``.
_FLIPPED = {ast.Eq: ast.Eq, ast.NotEq: ast.NotEq, ast.Gt: ast.Lt, ast.GtE: ast.LtE,
            ast.Lt: ast.Gt, ast.LtE: ast.GtE}
_ARITH = {ast.Add: "+", ast.Sub: "-", ast.Mult: "×", ast.Div: "÷"}


# --------------------------------------------------------------------------------------------
# Which items, in which order, with which numbers
# --------------------------------------------------------------------------------------------


def check_wave(instrument: Instrument, wave: str | None) -> None:
    """Raise :class:`InstrumentError` unless ``wave`` is None or one of the instrument's waves."""
    if wave is not None and wave not in instrument.waves:
        allowed = ", ".join(instrument.waves) or "none (this instrument has no waves)"
        raise InstrumentError(
            f"wave {wave!r} is not a wave of instrument {instrument.id!r}; its waves: {allowed}",
            field="waves", fix="give one of the instrument's waves, or no wave for every item")


def ordered_items(instrument: Instrument, *, wave: str | None = None) -> tuple[Item, ...]:
    """The items a respondent meets, in order: the safety gate first, then the instrument's order.

    Calculated items are left out (they are computed, never asked); with ``wave``, items that
    name other waves are left out.

    Examples
    --------
    >>> from pceval.instrument import load_instrument
    >>> [i.id for i in ordered_items(load_instrument("womens_survey"), wave="baseline")][:3]
    ['safe_now', 'consent', 'survey_date']
    """
    check_wave(instrument, wave)
    items = [
        item for item in instrument.items
        if item.type != ItemType.CALCULATED and (wave is None or not item.waves or wave in item.waves)
    ]
    gate = [item for item in items if item.role == Role.SAFETY_GATE]
    return tuple(gate + [item for item in items if item.role != Role.SAFETY_GATE])


def question_numbers(instrument: Instrument, *, wave: str | None = None) -> dict[str, str]:
    """Question numbers (``'Q1'``, ``'Q2'``, ...) of the data items, keyed by item id.

    Notes are not numbered. The interview script and the Qualtrics companions use the same numbers.

    Examples
    --------
    >>> from pceval.instrument import load_instrument
    >>> question_numbers(load_instrument("womens_survey"))["consent"]
    'Q2'
    """
    data = [item for item in ordered_items(instrument, wave=wave) if item.carries_data]
    return {item.id: f"Q{n}" for n, item in enumerate(data, start=1)}


# --------------------------------------------------------------------------------------------
# Expressions in plain English
# --------------------------------------------------------------------------------------------


def describe_expression(
    expr: str | Expression,
    instrument: Instrument,
    *,
    numbers: Mapping[str, str] | None = None,
    lang: str = "en",
) -> str:
    """An expression of the instrument language in plain English.

    Items are named by their question number and codes by their choice (or missing-code) labels.

    Parameters
    ----------
    expr : str or Expression
        A relevance, constraint or calculation expression.
    instrument : Instrument
        Supplies choice labels; and question numbers unless ``numbers`` is given.
    numbers : mapping, optional
        How to name each item (item id to text); default :func:`question_numbers`. Items not in
        the mapping are named by their id.
    lang : str
        Language of the choice labels.

    Returns
    -------
    str
        For example ``"Q2 is 'Yes' and Q21 is more than 0"``.

    Examples
    --------
    >>> from pceval.instrument import load_instrument
    >>> women = load_instrument("womens_survey")
    >>> describe_expression("consent == 1 and children_n > 0", women)
    "Q2 is 'Yes' and Q24 is more than 0"
    >>> describe_expression("not selected(help_received, 6)", women, numbers={})
    "help_received does not include 'None of these'"
    """
    parsed = expr if isinstance(expr, Expression) else parse_expression(expr)
    names = question_numbers(instrument) if numbers is None else numbers
    return _Describer(instrument, names, lang).describe(parsed.tree.body)


class _Describer:
    def __init__(self, instrument: Instrument, numbers: Mapping[str, str], lang: str) -> None:
        self.instrument = instrument
        self.numbers = numbers
        self.lang = lang
        self.ids = {item.id for item in instrument.items}

    def ref(self, name: str) -> str:
        return self.numbers.get(name, name)

    def label_of(self, item_id: str | None, value: object) -> str | None:
        if item_id is None or item_id not in self.ids:
            return None
        item = self.instrument.item(item_id)
        for choice in self.instrument.choices_of(item):
            if _same_code(choice.code, value):
                return text_in(choice.label, self.lang)
        for missing in self.instrument.missing_codes:
            if _same_code(missing.code, value):
                return text_in(missing.label, self.lang)
        return None

    def value(self, item_id: str | None, node: ast.AST) -> str:
        if isinstance(node, ast.Constant):
            label = self.label_of(item_id, node.value)
            if label is not None:
                return f"'{label}'"
            return format_constant(node.value)
        if (isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub)
                and isinstance(node.operand, ast.Constant)):
            return self.value(item_id, ast.Constant(-node.operand.value))
        return self.operand(node)

    def operand(self, node: ast.AST) -> str:
        if isinstance(node, ast.Name):
            return self.ref(node.id)
        if isinstance(node, ast.Constant):
            return format_constant(node.value)
        if isinstance(node, ast.BinOp):
            parts = []
            for side in (node.left, node.right):
                text = self.operand(side)
                parts.append(f"({text})" if isinstance(side, ast.BinOp) else text)
            return f"{parts[0]} {_ARITH[type(node.op)]} {parts[1]}"
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            if isinstance(node.operand, ast.Constant):
                return format_constant(-node.operand.value)
            return f"minus {self.operand(node.operand)}"
        return f"({self.describe(node)})"

    def comparison(self, left: ast.AST, op: type[ast.cmpop], right: ast.AST, *, negate: bool) -> str:
        if not isinstance(left, ast.Name) and isinstance(right, ast.Name):
            left, right, op = right, left, _FLIPPED[op]
        phrase = (_NEGATED if negate else _PHRASES)[op]
        item_id = left.id if isinstance(left, ast.Name) else None
        return f"{self.operand(left)} {phrase} {self.value(item_id, right)}"

    def describe(self, node: ast.AST, *, negate: bool = False) -> str:
        if isinstance(node, ast.BoolOp):
            joiner = " and " if isinstance(node.op, ast.And) else " or "
            parts = []
            for value in node.values:
                text = self.describe(value)
                grouped = isinstance(value, ast.BoolOp) or (
                    isinstance(value, ast.Compare) and len(value.ops) > 1)
                parts.append(f"({text})" if grouped else text)
            text = joiner.join(parts)
            return f"not ({text})" if negate else text
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return self.describe(node.operand, negate=not negate)
        if isinstance(node, ast.Compare):
            lefts = [node.left, *node.comparators[:-1]]
            parts = [
                self.comparison(left, type(op), right, negate=False)
                for left, op, right in zip(lefts, node.ops, node.comparators, strict=True)
            ]
            if len(parts) == 1 and negate:
                return self.comparison(node.left, type(node.ops[0]), node.comparators[0], negate=True)
            text = " and ".join(parts)
            return f"not ({text})" if negate else text
        if isinstance(node, ast.Call):
            item_id = node.args[0].id
            if node.func.id == "answered":
                return f"{self.ref(item_id)} is {'not ' if negate else ''}answered"
            if len(node.args) < 2:
                verb = "has no option selected" if negate else "has an option selected"
                return f"{self.ref(item_id)} {verb}"
            verb = "does not include" if negate else "includes"
            return f"{self.ref(item_id)} {verb} {self.value(item_id, node.args[1])}"
        if isinstance(node, ast.Name):
            # a bare item is true when its value is not 0
            return self.comparison(node, ast.NotEq, ast.Constant(0), negate=negate)
        if isinstance(node, ast.Constant):
            return "never" if bool(node.value) == negate else "always"
        text = self.operand(node)
        return f"not ({text})" if negate else f"{text} is not 0"


def _same_code(code: Code, value: object) -> bool:
    if isinstance(value, bool) or value is None:
        return False
    if isinstance(code, int) and isinstance(value, int | float):
        return float(code) == float(value)
    return str(code) == str(value)


def format_constant(value: object) -> str:
    """A constant as a reader expects it: ``'text'`` quoted, ``3.0`` as ``3``."""
    if isinstance(value, str):
        return f"'{value}'"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# --------------------------------------------------------------------------------------------
# Routing derived from relevance
# --------------------------------------------------------------------------------------------


def proceed_codes(instrument: Instrument, gate: Item) -> tuple[Code, ...]:
    """Codes of a gate item (safety check, consent) that let the interview go on.

    Read from the relevance of the other items (``safe_now == 1``); a choice labelled "Yes" when
    no relevance names the gate.
    """
    found: list[Code] = []
    for item in instrument.items:
        if item.relevance:
            for code in _required_codes(parse_expression(item.relevance).tree.body, gate.id):
                if code not in found:
                    found.append(code)
    choices = instrument.choices_of(gate)
    known = [c.code for c in choices if any(_same_code(c.code, f) for f in found)]
    if known:
        return tuple(known)
    return tuple(c.code for c in choices if text_in(c.label).strip().lower() == "yes")


def _required_codes(node: ast.AST, item_id: str) -> list[Code]:
    """Codes ``item_id == code`` that an expression requires (top level or inside ``and``)."""
    if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.And):
        return [code for value in node.values for code in _required_codes(value, item_id)]
    if (isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], ast.Eq)
            and isinstance(node.left, ast.Name) and node.left.id == item_id
            and isinstance(node.comparators[0], ast.Constant)):
        return [node.comparators[0].value]
    return []


def gate_exit_labels(instrument: Instrument, gate: Item, lang: str = "en") -> list[str]:
    """Labels of the answers to a gate item that end the interview (every non-proceed answer)."""
    go_on = proceed_codes(instrument, gate)
    if not go_on:
        return []
    options = [*instrument.choices_of(gate), *instrument.missing_of(gate)]
    return [text_in(o.label, lang) for o in options if not any(_same_code(o.code, g) for g in go_on)]


# --------------------------------------------------------------------------------------------
# The script as pandoc markdown
# --------------------------------------------------------------------------------------------

_MD_SPECIAL = set("\\`*_[]<>#|~^$@")


def md_escape(text: str) -> str:
    """Escape pandoc-markdown punctuation so text reads literally (one line, spaces collapsed)."""
    text = " ".join(str(text).split())
    return "".join(f"\\{ch}" if ch in _MD_SPECIAL else ch for ch in text)


def _bold(text: str) -> str:
    return f"**{md_escape(text)}**"


def _code_note(code: Code) -> str:
    return f"*code {md_escape(str(code))}*"


def interview_script_markdown(instrument: Instrument, *, wave: str | None = None,
                              lang: str = "en") -> str:
    """The interview script as one pandoc-markdown document (what :func:`export_interview_script`
    converts).

    Examples
    --------
    >>> from pceval.instrument import load_instrument
    >>> md = interview_script_markdown(load_instrument("womens_survey"), wave="baseline")
    >>> "IF No → go to CLOSE" in md
    True
    """
    items = ordered_items(instrument, wave=wave)
    numbers = question_numbers(instrument, wave=wave)
    woman = instrument.respondent == "woman"
    she = "she" if woman else "they"
    her = "her" if woman else "their"
    gate = next((item for item in items if item.role == Role.SAFETY_GATE), None)

    title = text_in(instrument.title, lang)
    subtitle = f"Interview script · {instrument.id} version {instrument.version}"
    subtitle += f" · wave: {wave}" if wave else (
        f" · all waves ({', '.join(instrument.waves)})" if instrument.waves else "")
    out: list[str] = [
        "---",
        f"title: {_yaml_string(title)}",
        f"subtitle: {_yaml_string(subtitle)}",
        f"pagetitle: {_yaml_string(title + ' – interview script')}",
        "lang: en",
        "---",
        "",
    ]
    out += _protocol(instrument, gate, numbers, woman=woman)
    out += _support(instrument, woman=woman, heading="Support services")
    out += _distress(instrument, she=she, her=her, woman=woman)
    out += _legend()
    out += ["## Opening", ""]
    if woman:
        out += [
            "Ask for her by the name she gave the service. Do not say who you are calling "
            "from or why until she has told you it is safe to talk.",
            "",
        ]
    intro_done = False
    if gate is None:
        out += _introduction(instrument, lang, woman=woman)
        intro_done = True
    out += ["## Questions", ""]
    for item in items:
        out += _item_block(instrument, item, numbers, lang, wave=wave)
        if item is gate and not intro_done:
            out += _introduction(instrument, lang, woman=woman)
            intro_done = True
    out += _close(instrument, gate, numbers, she=she, woman=woman)
    return "\n".join(out).rstrip() + "\n"


def _yaml_string(text: str) -> str:
    # A double-quoted YAML scalar; pandoc reads metadata values as markdown.
    escaped = md_escape(text).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _protocol(instrument: Instrument, gate: Item | None, numbers: Mapping[str, str], *,
              woman: bool) -> list[str]:
    out = ["::: {.box .protocol}", "", "## Safety protocol: read before every call", ""]
    if woman:
        gate_ref = f"The first question ({numbers[gate.id]}) is the safety check" if gate else (
            "Ask whether it is safe for her to talk now")
        steps = [
            "Call only on the number she nominated as safe, and only at the times she said are "
            "safe. Take them from the partner contact record; never write them in this script.",
            f"Check it is safe to talk before anything else. {gate_ref}: ask it before you say "
            "what the call is about. If it is not safe, go straight to CLOSE.",
            "Agree what to do if he (or anyone else) comes in: agree a code word she can say. "
            "If she says it, or you hear him, end the call at once: for example, say "
            "'Sorry, wrong number' and hang up. Do not call back unless she asked you to, and "
            "then only at a time she nominated.",
            "Never leave a voicemail or a message that mentions the survey, the program or the "
            "service. If someone else answers, do not say why you are calling.",
            "She can stop at any time and skip any question. Saying no, skipping or stopping "
            "never affects the support she gets.",
            "He is never told that she took part, or anything she said.",
            "Record only what this script asks for. Names and contact details are recorded only "
            "if she offers them, and are never read back to her.",
        ]
    else:
        steps = [
            "Taking part is voluntary: they can skip any question and stop at any time.",
            "Answers are reported only in combination with others.",
            "Record only what this script asks for; names and contact details only if offered, "
            "and never read back.",
        ]
    out += [f"{n}. {md_escape(step)}" for n, step in enumerate(steps, start=1)]
    return out + ["", ":::", ""]


def _support(instrument: Instrument, *, woman: bool, heading: str) -> list[str]:
    services = instrument.support_services
    if not services and not woman:
        return []
    out = [f"## {heading}", ""]
    if services:
        out += ["Have these ready. Offer them at the start and at the close, and whenever she "
                "is upset. Ask before reading numbers out: she may not be able to write them "
                "down safely." if woman else "Offer these at the start and at the close.", ""]
        out += [f"- {_bold(service)}" for service in services]
    else:
        out += ["No support services are listed in this instrument. Add your local services "
                "before using this script."]
    return out + [""]


def _distress(instrument: Instrument, *, she: str, her: str, woman: bool) -> list[str]:
    steps = [
        f"Pause. Acknowledge how {she} feels; do not hurry on to the next question.",
        f"Ask whether {she} would like to take a break, skip this question, stop, or continue "
        "another time. Do whatever " + she + " chooses; never press for an answer.",
        "Offer the support services listed above.",
    ]
    if woman:
        steps += [
            "If she or her children are in danger now, follow your service's risk protocol. "
            "With her agreement, help her contact emergency services (000).",
            "Afterwards, talk it through with your supervisor and record what happened as your "
            "protocol says (never in the survey answers).",
        ]
    else:
        steps.append("Afterwards, tell your supervisor what happened.")
    out = ["::: {.box .distress}", "", f"## If {she} becomes distressed", ""]
    out += [f"{n}. {md_escape(step)}" for n, step in enumerate(steps, start=1)]
    return out + ["", ":::", ""]


def _legend() -> list[str]:
    return [
        "## How to read this script", "",
        "- Words in **bold** are read aloud exactly as written.",
        "- Options marked \\[DO NOT READ: ...\\] are recorded only if she gives that answer "
        "herself.",
        "- ASK IF: ask the question only when the condition holds; otherwise skip it.",
        "- IF ... → go to ...: routing after the answer.",
        "- INTERVIEWER: instructions for you; never read them aloud.",
        "",
    ]


def _introduction(instrument: Instrument, lang: str, *, woman: bool) -> list[str]:
    description = text_in(instrument.description, lang)
    if not description:
        return []
    out = ["### Introduction", "", "READ:", "", _bold(description), ""]
    if woman and instrument.support_services:
        out += ["INTERVIEWER: offer the support services now if she would like them.", ""]
    return out


def _item_block(instrument: Instrument, item: Item, numbers: Mapping[str, str], lang: str, *,
                wave: str | None) -> list[str]:
    label = text_in(item.label, lang)
    if item.type == ItemType.NOTE:
        return ["::: note", "", "READ:", "", _bold(label), "", ":::", ""]
    number = numbers[item.id]
    out = [f"### {number} · {md_escape(item.id)}", ""]
    if item.relevance:
        routing = describe_expression(item.relevance, instrument, numbers=numbers, lang=lang)
        out += ["::: routing", f"ASK IF {md_escape(routing)}", ":::", ""]
    if wave is None and item.waves:
        out += ["::: routing", f"ASK AT WAVES: {md_escape(', '.join(item.waves))} only", ":::", ""]
    note = _interviewer_note(item)
    if note:
        out += ["::: instruction", f"INTERVIEWER: {md_escape(note)}", ":::", ""]
    if item.role in RECORDED_ROLES:
        out += [f"*{md_escape(label)}*", ""]
    else:
        out += [_bold(label), ""]
    hint = text_in(item.hint, lang)
    if hint:
        out += [f"*If needed, explain:* {md_escape(hint)}", ""]
    out += _responses(instrument, item, lang)
    if item.role in GATE_ROLES:
        exits = gate_exit_labels(instrument, item, lang)
        if exits:
            out += ["::: routing", f"IF {md_escape(' or '.join(exits))} → go to {CLOSE}", ":::", ""]
    return out


def _interviewer_note(item: Item) -> str:
    if item.role in RECORDED_ROLES:
        return "do not ask her; fill this in yourself from the case file."
    if item.sensitivity.value in {"direct_identifier", "contact_safety"}:
        return ("record only if she offers it; never read it back. It stays in the private "
                "data and is never shown to anyone outside the service.")
    if item.sensitivity.value == "free_text":
        return "write down her words; leave out names, places and contact details."
    return ""


def _responses(instrument: Instrument, item: Item, lang: str) -> list[str]:
    choices = instrument.choices_of(item)
    missing = instrument.missing_of(item)
    out: list[str] = []
    if item.is_multiple:
        out += ["READ OUT each option; CODE ALL THAT APPLY:", ""]
    elif choices and (item.type == ItemType.LIKERT or len(choices) > 2):
        out += ["READ OUT the options; CODE ONE:", ""]
    elif choices:
        out += ["CODE ONE (no need to read the options out):", ""]
    elif item.type in {ItemType.INTEGER, ItemType.DECIMAL}:
        bounds = item.constraint
        span = ""
        if bounds is not None and bounds.min is not None and bounds.max is not None:
            span = f" from {format_constant(bounds.min)} to {format_constant(bounds.max)}"
        kind = "WHOLE NUMBER" if item.type == ItemType.INTEGER else "NUMBER"
        out += [f"RECORD A {kind}{md_escape(span)}.", ""]
    elif item.type == ItemType.DATE:
        out += ["RECORD THE DATE as YYYY-MM-DD (for example 2025-03-31).", ""]
    elif item.type == ItemType.LONG_TEXT:
        out += ["RECORD HER ANSWER in her own words." if instrument.respondent == "woman"
                else "RECORD THE ANSWER in their own words.", ""]
    elif item.type == ItemType.SHORT_TEXT:
        out += ["RECORD THE ANSWER.", ""]
    bullets = [f"- {md_escape(text_in(c.label, lang))} {_code_note(c.code)}" for c in choices]
    bullets += [
        f"- \\[DO NOT READ: {md_escape(text_in(m.label, lang))}\\] {_code_note(m.code)}"
        for m in missing
    ]
    if bullets:
        out += [*bullets, ""]
    return out


def _close(instrument: Instrument, gate: Item | None, numbers: Mapping[str, str], *, she: str,
           woman: bool) -> list[str]:
    out = [f"## {CLOSE}", ""]
    if woman:
        unsafe = (f"If it was not safe to talk ({numbers[gate.id]}), or he or anyone else "
                  "came in" if gate else "If it is not safe to talk, or he or anyone else came in")
        out += [
            "::: {.box .protocol}", "",
            md_escape(f"{unsafe}: read nothing else. End the call as you agreed (for example, "
                      "say 'Sorry, wrong number' and hang up). Call back only if she asked you "
                      "to, and only at a time she nominated."),
            "", ":::", "",
            "Otherwise READ:", "",
            _bold("Thank you for talking with me."), "",
            _bold("Nobody will tell him that you took part or what you said, and your answers "
                  "do not change the support you get."), "",
        ]
    else:
        out += ["READ:", "", _bold("Thank you for your time."), ""]
    if instrument.support_services:
        out += [_bold("If you would like to talk to someone, you can call:"), ""]
        out += [f"- {_bold(service)}" for service in instrument.support_services]
        out += [""]
    out += [f"INTERVIEWER: if {she} became distressed, follow the distress protocol above.", ""]
    return out


# --------------------------------------------------------------------------------------------
# Conversion with pandoc
# --------------------------------------------------------------------------------------------

# Inline so the HTML needs nothing from the web; kept small and print-friendly.
_CSS = """\
body { font-family: system-ui, -apple-system, "Segoe UI", Arial, sans-serif; max-width: 46em;
       margin: 2em auto; padding: 0 1em; line-height: 1.5; color: #1a1a1a; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } p.subtitle { color: #555; margin-top: 0; }
h2 { border-bottom: 1px solid #ccc; padding-bottom: 0.2em; margin-top: 2em; }
h3 { margin-top: 1.6em; font-size: 1.1em; }
.box { border: 2px solid #7a1f5c; border-radius: 6px; padding: 0.2em 1em; margin: 1em 0;
       background: #fbf5f9; }
.distress { border-color: #b35c00; background: #fff7ec; }
.box h2 { border: none; margin-top: 0.6em; }
.routing { color: #0b4f8a; font-weight: 600; font-variant: small-caps; }
.instruction { color: #555; font-style: italic; }
.note { border-left: 4px solid #999; padding-left: 0.8em; }
em { color: #555; }
@media print { body { max-width: none; } h3 { break-after: avoid; } }
"""


def _pandoc() -> str:
    import pypandoc

    try:
        return str(pypandoc.get_pandoc_path())
    except OSError as exc:  # pragma: no cover - pypandoc-binary ships pandoc
        raise ReportError(f"pandoc was not found: {exc}",
                          fix="install pceval's dependencies (pip install pypandoc-binary)") from None


def _convert(markdown: str, target: Path, fmt: Literal["html", "docx"]) -> Path:
    args = [_pandoc(), "--from=markdown-smart", f"--to={'html5' if fmt == 'html' else 'docx'}"]
    # A fixed timestamp makes DOCX output byte-identical from run to run.
    env = {**os.environ, "SOURCE_DATE_EPOCH": "0"}
    with tempfile.TemporaryDirectory() as scratch, atomic_path(target) as tmp:
        if fmt == "html":
            header = Path(scratch) / "style.html"
            header.write_text(f"<style>\n{_CSS}</style>\n", encoding="utf-8")
            args += ["--standalone", "--embed-resources", f"--include-in-header={header}"]
        args.append(f"--output={tmp}")
        completed = subprocess.run(args, input=markdown.encode("utf-8"), capture_output=True,
                                   cwd=scratch, env=env, check=False)
        if completed.returncode != 0:
            message = completed.stderr.decode("utf-8", errors="replace").strip()
            raise ReportError(f"pandoc could not write the interview script: {message}",
                              file=target)
    return target


def export_interview_script(
    instrument: Instrument,
    out_dir: str | Path,
    *,
    formats: Iterable[ScriptFormat] = ("html", "docx"),
    wave: str | None = None,
    lang: str = "en",
) -> list[Path]:
    """Write the phone interview script of an instrument.

    Parameters
    ----------
    instrument : Instrument
        The instrument to script.
    out_dir : str or Path
        Folder to write into (created if needed).
    formats : sequence of {"html", "docx", "md"}
        ``html`` is one self-contained file (inline CSS, no external resources); ``docx`` opens in
        Word; ``md`` is the pandoc markdown both are made from.
    wave : str, optional
        Only the items asked at this wave; by default every item, marked with its waves.
    lang : str
        Language of the item texts.

    Returns
    -------
    list of Path
        ``<instrument id>[_<wave>]_interview_script.<ext>``, one per format, in the order given.

    Raises
    ------
    InstrumentError
        If ``wave`` is not a wave of the instrument.
    ReportError
        If pandoc fails.

    Examples
    --------
    >>> import tempfile
    >>> from pceval.instrument import load_instrument
    >>> paths = export_interview_script(load_instrument("womens_survey"), tempfile.mkdtemp(),
    ...                                 formats=["html"])
    >>> paths[0].name
    'womens_survey_interview_script.html'
    """
    formats = list(formats)
    unknown = sorted(set(formats) - {"html", "docx", "md"})
    if unknown:
        raise ValueError(f"unknown script formats {unknown}; choose from html, docx, md")
    markdown = interview_script_markdown(instrument, wave=wave, lang=lang)
    out = Path(out_dir)
    stem = f"{instrument.id}_{wave}" if wave else instrument.id
    paths: list[Path] = []
    for fmt in formats:
        target = out / f"{stem}_interview_script.{fmt}"
        if fmt == "md":
            write_text(target, markdown)
        else:
            _convert(markdown, target, fmt)
        paths.append(target)
    return paths


def html_text(document: str) -> str:
    """Visible text of an HTML document, entities decoded and spaces collapsed (for checks)."""
    body = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", document)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())


__all__ = [
    "check_wave", "describe_expression", "export_interview_script", "interview_script_markdown",
    "ordered_items", "question_numbers",
]
