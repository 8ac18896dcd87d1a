"""Check instrument files: structure first, then the design rules of safe survey practice.

:func:`check_instrument` checks one instrument (a file or a loaded :class:`Instrument`) and
returns a list of :class:`Finding`; :func:`check_files` checks many files and returns one tidy
frame. A file that cannot be loaded gives one ``invalid_instrument`` error and never stops the
other files from being checked: data problems are a report, not an exception.

Every finding's ``message`` is one line that names the file and the item, says what is wrong and
ends with the fix; ``fix`` repeats the fix on its own for tables.

Codes
-----
==============================  ========  ==================================================
code                            severity  rule
==============================  ========  ==================================================
invalid_instrument              error     the file does not load (YAML, schema, references)
invalid_catalogue               error     the domain catalogue does not load
invalid_scale_rules             error     the built-in scoring rules file does not load
invalid_codebook                error     the thematic codebook does not load (YAML, schema,
                                          duplicate codes, unknown domains)
no_decline_option               error     a sensitive item offers no "prefer not to say"
                                          (or "don't know") missing code
no_safety_gate                  error     the women's survey has no item with role
                                          ``safety_gate``
safety_gate_not_first           error     a question is asked before the safety gate
safety_gate_does_not_end        error     answering the gate "No" leaves later questions
                                          shown
identifier_in_scale             error     an identifier, contact detail, quasi-identifier
                                          or free text item is part of a scale
domain_not_covered              error     a catalogue domain this respondent informs has no
                                          item
likert_group_mixed_choices      error     the Likert items of one group use different
                                          choice lists
scale_item_not_numeric          error     a scale item is not a number or has text codes
likely_identifier               warning   an item looks like a name, contact detail,
                                          address, date of birth or location but is marked
                                          ``analysis``
no_recall_window                warning   a women's-survey item about safety, abuse,
                                          wellbeing or children states no recall window
relevance_refers_to_later_item  warning   relevance depends on an item asked later (or on
                                          itself)
relevance_not_evaluated         warning   relevance could not be evaluated on a test row
==============================  ========  ==================================================

Notes
-----
Which items are sensitive. Survey safety practice (WHO ethical and safety recommendations for
research on violence against women; DOMAIN.md) asks for a way to decline every sensitive
question. The domain catalogue does not mark domains as sensitive, so the set is declared here,
once: :data:`SENSITIVE_DOMAINS` (D12 safety and abuse, D13 space for action, D14 wellbeing and
distress, D15 children, D16 his change, D17 misuse of the program). A women's-survey item tagged
with one of them, and any quasi-identifier of any instrument (age group, cohort), must offer a
missing code of kind ``prefer_not_to_say`` or, for facts the respondent may not know,
``dont_know``. Only answerable closed items are checked (choice, Likert and number items); text
and date items and items the service fills in (those with a role) are not.

The safety gate. The women's survey must open with the safety check (only fields the service
fills in may come before it), and answering it with any
answer but the one that lets the survey go on must hide every later question. This is verified
by evaluating the relevance expressions on a few test rows in which the gate holds a closing
answer and every other item a plausible answer (the first or the last choice, a number within
its constraint, the "go on" answer for consent); hidden items are blanked and the evaluation
repeated until nothing changes, so an item hidden only through another hidden item counts as
hidden. What may remain shown: notes, calculations and the fields the service fills in (items
with role ``case_key``, ``service``, ``event_date``, ``wave`` or ``respondent_key``).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pandas as pd
import yaml

from pceval.errors import InstrumentError
from pceval.instrument.expressions import parse_expression
from pceval.instrument.load import (
    load_catalogue,
    load_instrument,
    load_scale_rules,
    resolve_instrument_path,
)
from pceval.instrument.model import (
    Choice,
    DomainCatalogue,
    Instrument,
    Item,
    ItemType,
    MissingKind,
    Role,
    Sensitivity,
    multi_column,
    text_in,
)
from pceval.instrument.script import RECORDED_ROLES, proceed_codes

__all__ = [
    "CODES",
    "FINDING_COLUMNS",
    "SENSITIVE_DOMAINS",
    "Finding",
    "check_files",
    "check_instrument",
    "findings_frame",
    "shown_when_gate_closes",
]

Severity = Literal["error", "warning"]

FINDING_COLUMNS = ("severity", "code", "file", "item", "message", "fix")

#: Every finding code with its severity (the table in the module docstring).
CODES: dict[str, Severity] = {
    "invalid_instrument": "error",
    "invalid_catalogue": "error",
    "invalid_scale_rules": "error",
    "invalid_codebook": "error",
    "no_decline_option": "error",
    "no_safety_gate": "error",
    "safety_gate_not_first": "error",
    "safety_gate_does_not_end": "error",
    "identifier_in_scale": "error",
    "domain_not_covered": "error",
    "likert_group_mixed_choices": "error",
    "scale_item_not_numeric": "error",
    "likely_identifier": "warning",
    "no_recall_window": "warning",
    "relevance_refers_to_later_item": "warning",
    "relevance_not_evaluated": "warning",
}

#: Domains whose questions are sensitive for the woman answering them (see Notes above).
SENSITIVE_DOMAINS = frozenset({"D12", "D13", "D14", "D15", "D16", "D17"})
#: Domains whose questions ask about a period, so need a stated recall window.
RECALL_DOMAINS = frozenset({"D12", "D13", "D14", "D15"})

DECLINE_KINDS = frozenset({MissingKind.PREFER_NOT_TO_SAY, MissingKind.DONT_KNOW})
CLOSED_TYPES = frozenset({ItemType.SINGLE_CHOICE, ItemType.MULTIPLE_CHOICE, ItemType.LIKERT,
                          ItemType.INTEGER, ItemType.DECIMAL})
SCALE_FORBIDDEN = frozenset({Sensitivity.DIRECT_IDENTIFIER, Sensitivity.CONTACT_SAFETY,
                             Sensitivity.QUASI_IDENTIFIER, Sensitivity.FREE_TEXT})

# Words in an item id (split on "_") that suggest an identifier.
_ID_TOKENS = frozenset({
    "name", "names", "surname", "firstname", "lastname", "fullname", "phone", "mobile", "tel",
    "telephone", "email", "address", "street", "postcode", "zip", "dob", "birth", "birthday",
    "suburb", "ip", "lat", "latitude", "lon", "lng", "longitude", "gps", "geo",
})
# Phrases in an item label that suggest an identifier.
_LABEL_IDENTIFIER = re.compile(
    r"\b(names?|surname|phone|mobile|e-?mail|address|street|post ?code|zip code"
    r"|date of birth|birth ?date|dob|suburb|ip address|latitude|longitude|gps)\b",
    re.IGNORECASE,
)
_NUMBER_WORDS = r"\d+|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|few"
_RECALL = re.compile(
    rf"\b((in|over|during|for) the (past|last) (({_NUMBER_WORDS}) )?"
    r"(days?|weeks?|fortnights?|months?|years?)"
    r"|since|now|nowadays|today|tonight|currently|at present|at the moment|these days"
    r"|this (week|fortnight|month|year))\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Finding:
    """One problem found in an instrument.

    Attributes
    ----------
    severity : {"error", "warning"}
        Errors must be fixed before the instrument is deployed; warnings deserve a look.
    code : str
        Stable code, one of :data:`CODES`.
    file : str
        The instrument file ("" when an instrument object was checked).
    item : str
        The item (or scale, or group) at fault; "" for the whole instrument.
    message : str
        One line: location, what is wrong, the fix.
    fix : str
        The fix on its own.
    """

    severity: Severity
    code: str
    file: str
    item: str
    message: str
    fix: str

    def __str__(self) -> str:
        return self.message


def _make(code: str, *, file: str, instrument_id: str | None, item: str = "", where: str = "",
          problem: str, fix: str) -> Finding:
    """A finding whose message starts with the location and ends with the fix."""
    parts = [file or (f"instrument {instrument_id}" if instrument_id else "")]
    if where:
        parts.append(where)
    elif item:
        parts.append(f"item {item}")
    location = ", ".join(p for p in parts if p)
    problem = " ".join(problem.split())
    message = f"{location}: {problem} (fix: {fix})" if location else f"{problem} (fix: {fix})"
    return Finding(CODES[code], code, file, item, message, fix)


# --------------------------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------------------------


def check_instrument(
    path_or_instrument: str | Path | Instrument,
    *,
    catalogue: DomainCatalogue | str | Path | None = None,
) -> list[Finding]:
    """Check one instrument: structure first, then the design rules.

    Parameters
    ----------
    path_or_instrument : str, Path or Instrument
        An instrument file (or a shipped instrument's id), or a loaded instrument.
    catalogue : DomainCatalogue, str or Path, optional
        The outcome-domain catalogue for ``domain_not_covered``; the shipped one by default.
        A catalogue that does not load is one ``invalid_catalogue`` error, and domain coverage
        is then not checked.

    Returns
    -------
    list of Finding
        Empty when the instrument passes. A file that does not load gives exactly one
        ``invalid_instrument`` error (the loader reports the first problem it meets).

    Examples
    --------
    >>> [f.code for f in check_instrument("womens_survey") if f.severity == "error"]
    []
    """
    if isinstance(catalogue, DomainCatalogue):
        return _check_one(path_or_instrument, catalogue)
    try:
        resolved = load_catalogue(catalogue)
    except InstrumentError as exc:
        # without a catalogue the other checks still run; domain coverage is skipped
        return [_from_error("invalid_catalogue", exc, str(catalogue or "")),
                *_check_one(path_or_instrument, None)]
    return _check_one(path_or_instrument, resolved)


def _check_one(path_or_instrument: str | Path | Instrument,
               catalogue: DomainCatalogue | None) -> list[Finding]:
    if isinstance(path_or_instrument, Instrument):
        instrument, file = path_or_instrument, ""
    else:
        file = str(path_or_instrument)
        try:
            path = resolve_instrument_path(path_or_instrument)
            file = str(path)
            instrument = load_instrument(path)
        except InstrumentError as exc:
            return [_from_error("invalid_instrument", exc, file)]
    context = _Context(instrument, file, catalogue)
    return [finding for check in _CHECKS for finding in check(context)]


def check_files(
    paths: str | Path | Iterable[str | Path],
    *,
    catalogue: DomainCatalogue | str | Path | None = None,
) -> pd.DataFrame:
    """Check instrument files and return every finding as one tidy frame.

    Parameters
    ----------
    paths : path or iterable of paths
        Instrument files, or a folder: every ``*.yml``/``*.yaml`` in it whose ``kind`` is
        ``instrument``, ``domain_catalogue``, ``scale_rules`` or ``thematic_codebook`` (and
        every file that cannot be read, so a broken file is reported rather than skipped).
        Catalogue and scoring-rules files are checked for structure only; the thematic
        codebook for structure, unique codes and domains known to the catalogue.
    catalogue : DomainCatalogue, str or Path, optional
        The domain catalogue for ``domain_not_covered``. By default a ``domain_catalogue`` file
        among ``paths`` if it loads, else the shipped catalogue.

    Returns
    -------
    DataFrame
        One row per finding, columns ``severity`` (``error``/``warning``), ``code``, ``file``,
        ``item``, ``message``, ``fix``; files in the order given (sorted within a folder), each
        file's findings in the order of the checks.

    Examples
    --------
    >>> from pceval.resources import default_path
    >>> frame = check_files(default_path("instruments"))
    >>> list(frame.columns)
    ['severity', 'code', 'file', 'item', 'message', 'fix']
    """
    files = _expand(paths)
    kinds = {path: _kind(path) for path in files}
    findings: list[Finding] = []
    side: dict[Path, list[Finding]] = {}
    found_catalogue: DomainCatalogue | None = None
    for path in files:
        if kinds[path] == "scale_rules":
            try:
                load_scale_rules(path)
            except InstrumentError as exc:
                side[path] = [_from_error("invalid_scale_rules", exc, str(path))]
        elif kinds[path] == "domain_catalogue":
            try:
                loaded = load_catalogue(path)
            except InstrumentError as exc:
                side[path] = [_from_error("invalid_catalogue", exc, str(path))]
            else:
                found_catalogue = found_catalogue or loaded
    chosen: DomainCatalogue | None
    if isinstance(catalogue, DomainCatalogue):
        chosen = catalogue
    elif catalogue is None and found_catalogue is not None:
        chosen = found_catalogue
    else:
        try:
            chosen = load_catalogue(catalogue)
        except InstrumentError as exc:
            findings.append(_from_error("invalid_catalogue", exc, str(catalogue)))
            chosen = None
    for path in files:
        if kinds[path] == "thematic_codebook":
            # checked against the catalogue chosen for the instruments
            findings.extend(_check_codebook(path, chosen))
        elif kinds[path] in {"scale_rules", "domain_catalogue"}:
            findings.extend(side.get(path, []))
        else:
            findings.extend(_check_one(path, chosen))
    return findings_frame(findings)


def findings_frame(findings: Iterable[Finding]) -> pd.DataFrame:
    """Findings as a tidy frame with :data:`FINDING_COLUMNS` (string columns)."""
    rows = [{column: getattr(f, column) for column in FINDING_COLUMNS} for f in findings]
    return pd.DataFrame(rows, columns=list(FINDING_COLUMNS)).astype("string")


def _expand(paths: str | Path | Iterable[str | Path]) -> list[Path]:
    if isinstance(paths, str | Path):
        path = Path(paths)
        if path.is_dir():
            files = sorted([*path.glob("*.yml"), *path.glob("*.yaml")])
            return [f for f in files if _kind(f) in {*_KINDS, None}]
        return [path]
    return [Path(p) for p in paths]


_KINDS = frozenset({"instrument", "domain_catalogue", "scale_rules", "thematic_codebook"})


def _check_codebook(path: Path, catalogue: DomainCatalogue | None) -> list[Finding]:
    from pceval.instrument.themes import load_thematic_codebook

    try:
        load_thematic_codebook(path, catalogue=catalogue)
    except InstrumentError as exc:
        return [_from_error("invalid_codebook", exc, str(path))]
    return []


def _kind(path: Path) -> str | None:
    """The ``kind`` of a YAML file; None when it cannot be read (so it is reported)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError, ValueError, RecursionError):
        # ValueError: a value PyYAML refuses (an integer of 5,000 digits); RecursionError:
        # collections nested too deeply for PyYAML's recursive reader
        return None
    kind = data.get("kind") if isinstance(data, dict) else None
    return kind if isinstance(kind, str) else None  # a list or mapping names no kind


def _from_error(code: str, exc: InstrumentError, file: str) -> Finding:
    fix = exc.fix or ("correct the file as the message says; the other files were still checked"
                      if code in {"invalid_instrument", "invalid_codebook"}
                      else "correct the catalogue file")
    message = str(exc) if exc.fix else f"{exc} (fix: {fix})"
    if not exc.file and file:
        message = f"{file}: {message}"
    item = ""
    if exc.field and exc.field.startswith(("item ", "code ")):
        item = exc.field.split(" ", 1)[1].split(".")[0]
    else:
        named = re.search(r"\bitem '?([a-z][a-z0-9_]*)'?", exc.message)
        if named:
            item = named.group(1)
    return Finding(CODES[code], code, exc.file or file, item, message, fix)


# --------------------------------------------------------------------------------------------
# Design checks
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Context:
    instrument: Instrument
    file: str
    catalogue: DomainCatalogue | None

    def finding(self, code: str, *, problem: str, fix: str, item: str = "",
                where: str = "") -> Finding:
        return _make(code, file=self.file, instrument_id=self.instrument.id, item=item,
                     where=where, problem=problem, fix=fix)


def _asked(item: Item) -> bool:
    """Items put to the respondent: not notes, calculations or service-filled fields."""
    return (item.carries_data and item.type != ItemType.CALCULATED
            and item.role not in RECORDED_ROLES)


def _check_decline_option(ctx: _Context) -> Iterator[Finding]:
    inst = ctx.instrument
    for item in inst.items:
        if item.type not in CLOSED_TYPES or item.role is not None:
            continue
        sensitive_domains = sorted(set(item.domains) & SENSITIVE_DOMAINS)
        by_domain = (inst.respondent == "woman" and bool(sensitive_domains)
                     and item.sensitivity in {Sensitivity.ANALYSIS, Sensitivity.QUASI_IDENTIFIER})
        by_identity = item.sensitivity == Sensitivity.QUASI_IDENTIFIER
        if not (by_domain or by_identity):
            continue
        kinds = {m.kind for m in inst.missing_of(item)}
        if kinds & DECLINE_KINDS:
            continue
        why = (f"asks about {', '.join(sensitive_domains)}" if by_domain
               else "is a quasi-identifier")
        decline = [m for m in inst.missing_codes if m.kind == MissingKind.PREFER_NOT_TO_SAY]
        hint = (f"add missing_codes: [{decline[0].code}] ({text_in(decline[0].label)!r})"
                if decline else
                "declare a missing code of kind prefer_not_to_say (for example "
                "{code: -99, label: Prefer not to say, kind: prefer_not_to_say}) and list it in "
                "the item's missing_codes")
        yield ctx.finding(
            "no_decline_option", item=item.id,
            problem=f"the item {why} but offers no way to decline: none of its missing codes is "
                    "of kind prefer_not_to_say or dont_know",
            fix=hint)


def _check_safety_gate(ctx: _Context) -> Iterator[Finding]:
    inst = ctx.instrument
    if inst.respondent != "woman":
        return
    gate = inst.role_item(Role.SAFETY_GATE)
    if gate is None:
        yield ctx.finding(
            "no_safety_gate",
            problem="the women's survey has no safety check (an item with role safety_gate)",
            fix="add as the first item a yes/no question such as 'Is it safe for you to answer "
                "these questions right now?' with role: safety_gate, and make every later "
                "question relevant only when it is answered 'Yes'")
        return
    first = next((i for i in inst.items if _asked(i) or i.id == gate.id), None)
    if first is not None and first.id != gate.id:
        yield ctx.finding(
            "safety_gate_not_first", item=gate.id,
            problem=f"the safety gate {gate.id} is not the first question ({first.id} is asked "
                    "before it)",
            fix=f"move item {gate.id} to the top of the items list (only fields the service "
                "fills in may come before it)")
    try:
        shown, failed = shown_when_gate_closes(inst)
    except _NoClosingAnswer:
        yield ctx.finding(
            "safety_gate_does_not_end", item=gate.id,
            problem=f"the safety gate {gate.id} has no answer that ends the survey",
            fix=f"give {gate.id} a 'Yes' and a 'No' choice and make later items relevant only "
                f"when it is 'Yes' (relevance: \"{gate.id} == 1\")")
        return
    for item_id in failed:
        yield ctx.finding(
            "relevance_not_evaluated", item=item_id,
            problem=f"its relevance {inst.item(item_id).relevance!r} could not be evaluated on a "
                    "test row, so it is treated as shown",
            fix="compare the item with values of its own type (numbers with numbers, text "
                "codes in quotes)")
    after_gate = {i.id for i in inst.items[[i.id for i in inst.items].index(gate.id) + 1:]}
    leaked = [item_id for item_id in shown
              if item_id in after_gate and _must_hide(inst.item(item_id), gate)]
    if leaked:
        go_on = ", ".join(repr(text_in(c.label)) for c in inst.choices_of(gate)
                          if c.code in proceed_codes(inst, gate)) or "the answer to go on"
        yield ctx.finding(
            "safety_gate_does_not_end", item=gate.id,
            problem=f"when the safety gate {gate.id} is not answered {go_on}, these items are "
                    f"still shown: {', '.join(leaked)}",
            fix=f"make each of them relevant only when {gate.id} lets the survey go on, "
                f"directly ('{gate.id} == ...') or through an item that does (consent)")


def _must_hide(item: Item, gate: Item) -> bool:
    if item.id == gate.id or item.type in {ItemType.NOTE, ItemType.CALCULATED}:
        return False
    return item.role not in RECORDED_ROLES


class _NoClosingAnswer(Exception):
    pass


def shown_when_gate_closes(instrument: Instrument) -> tuple[list[str], list[str]]:
    """Items still shown when the safety gate gets an answer that should end the survey.

    Evaluates relevance on test rows (one per closing answer of the gate and per plausible
    answer set; see the module Notes), blanking hidden items until nothing changes.

    Returns
    -------
    (shown, failed)
        Ids of the items shown in at least one test row (in instrument order, the gate
        excluded), and ids of items whose relevance could not be evaluated (treated as shown).

    Examples
    --------
    >>> from pceval.instrument import load_instrument
    >>> shown_when_gate_closes(load_instrument("womens_survey"))[0]
    ['survey_date', 'case_id', 'service_id', 'end_note']
    """
    gate = instrument.role_item(Role.SAFETY_GATE)
    if gate is None:
        raise ValueError(f"instrument {instrument.id!r} has no safety gate")
    closing = _closing_codes(instrument, gate)
    if not closing:
        raise _NoClosingAnswer(gate.id)
    variants = (0, -1)
    rows = [(code, variant) for code in closing for variant in variants]
    plausible = {variant: _plausible_row(instrument, gate, variant) for variant in variants}
    columns = _item_columns(instrument)
    base = pd.DataFrame({
        column: pd.array([plausible[v][column] for _, v in rows], dtype=_dtype(instrument, item))
        for item in instrument.items if item.carries_data for column in columns[item.id]
    })
    base[gate.id] = pd.array([code for code, _ in rows], dtype=_dtype(instrument, gate))
    frame = base.copy()
    candidates = [i for i in instrument.items if i.relevance and i.id != gate.id]
    failed: set[str] = set()
    visible: dict[str, pd.Series] = {}
    for _ in range(len(candidates) + 2):
        new_visible: dict[str, pd.Series] = {}
        for item in candidates:
            try:
                value = parse_expression(item.relevance).evaluate(frame)
                new_visible[item.id] = value.astype("boolean").fillna(False).astype(bool)
            except Exception:  # noqa: BLE001 - any failure to evaluate means "cannot tell"
                failed.add(item.id)
                new_visible[item.id] = pd.Series(True, index=frame.index)
        stable = visible.keys() == new_visible.keys() and all(
            visible[k].equals(new_visible[k]) for k in new_visible)
        visible = new_visible
        if stable:
            break
        frame = base.copy()
        for item in candidates:
            if item.carries_data:
                for column in columns[item.id]:
                    frame[column] = frame[column].mask(~visible[item.id])
    shown = [item.id for item in instrument.items if item.id != gate.id
             and (item.id not in visible or bool(visible[item.id].any()))]
    return shown, sorted(failed)


def _closing_codes(instrument: Instrument, gate: Item) -> list:
    go_on = proceed_codes(instrument, gate)
    choices = instrument.choices_of(gate)
    if go_on:
        closing = [c.code for c in choices if c.code not in go_on]
    else:
        closing = [c.code for c in choices if text_in(c.label).strip().lower() == "no"]
    return closing + [m.code for m in instrument.missing_of(gate)]


def _item_columns(instrument: Instrument) -> dict[str, list[str]]:
    return {item.id: ([multi_column(item.id, c.code) for c in instrument.choices_of(item)]
                      if item.is_multiple else [item.id])
            for item in instrument.items if item.carries_data}


def _numeric_codes(choices: Iterable[Choice]) -> bool:
    return all(isinstance(c.code, int | float) and not isinstance(c.code, bool) for c in choices)


def _dtype(instrument: Instrument, item: Item) -> str:
    if item.is_multiple:
        return "Float64"
    if item.is_choice:
        return "Float64" if _numeric_codes(instrument.choices_of(item)) else "string"
    if item.type in {ItemType.INTEGER, ItemType.DECIMAL, ItemType.CALCULATED}:
        return "Float64"
    return "string"


def _plausible_row(instrument: Instrument, gate: Item, variant: int) -> dict[str, object]:
    """A plausible answer to every item: the first (variant 0) or last (-1) option."""
    row: dict[str, object] = {}
    for item in instrument.items:
        if not item.carries_data:
            continue
        choices = instrument.choices_of(item)
        if item.is_multiple:
            for choice in choices:
                row[multi_column(item.id, choice.code)] = 1.0 if choice == choices[variant] else 0.0
        elif item.is_choice:
            codes = [c.code for c in choices]
            if item.role == Role.CONSENT:
                codes = list(proceed_codes(instrument, item)) or codes
            row[item.id] = codes[variant]
        elif item.type in {ItemType.INTEGER, ItemType.DECIMAL, ItemType.CALCULATED}:
            bounds = item.constraint
            low = bounds.min if bounds is not None and bounds.min is not None else 0
            high = bounds.max if bounds is not None and bounds.max is not None else 10
            row[item.id] = float(max(low, min(1, high))) if variant == 0 else float(high)
        elif item.type == ItemType.DATE:
            row[item.id] = "2025-01-01"
        else:
            row[item.id] = "text"
    return row


def _check_identifier_in_scale(ctx: _Context) -> Iterator[Finding]:
    inst = ctx.instrument
    for scale in inst.scales:
        for item_id in scale.items:
            item = inst.item(item_id)
            if item.sensitivity in SCALE_FORBIDDEN:
                yield ctx.finding(
                    "identifier_in_scale", item=item.id,
                    where=f"scale {scale.id}, item {item.id}",
                    problem=f"item {item.id} is {item.sensitivity.value} but is part of scale "
                            f"{scale.id}; identifiers and free text never enter a score",
                    fix=f"remove {item.id} from the items of scale {scale.id}, or correct its "
                        "sensitivity if it is an ordinary rating")


def _check_domains_covered(ctx: _Context) -> Iterator[Finding]:
    inst, catalogue = ctx.instrument, ctx.catalogue
    if catalogue is None:
        return
    sources = {code for code, respondent in catalogue.respondents.items()
               if respondent == inst.respondent}
    expected = [d for d in catalogue.domains if sources & set(d.sources)]
    tagged = {d for item in inst.items for d in item.domains}
    tagged |= {d for scale in inst.scales for d in scale.domains}
    missing = [d for d in expected if d.id not in tagged]
    if missing:
        names = ", ".join(f"{d.id} ({d.name})" for d in missing)
        source = "/".join(sorted(sources)) or inst.respondent
        yield ctx.finding(
            "domain_not_covered",
            problem=f"the catalogue lists {source} ({inst.respondent}) as a source of domains "
                    f"that no item or scale of this instrument is tagged with: {names}",
            fix="tag the items that inform each domain with it (domains: [...]), add an item "
                "for it, or remove this respondent from the domain's sources in domains.yml")


def _looks_like_identifier(item: Item) -> str | None:
    tokens = set(item.id.split("_")) & _ID_TOKENS
    if tokens:
        return f"its id contains {sorted(tokens)[0]!r}"
    for lang_text in ([item.label] if isinstance(item.label, str) else item.label.values()):
        match = _LABEL_IDENTIFIER.search(lang_text)
        if match:
            return f"its label mentions {match.group(0)!r}"
    return None


def _check_likely_identifier(ctx: _Context) -> Iterator[Finding]:
    for item in ctx.instrument.items:
        if (not item.carries_data or item.type == ItemType.CALCULATED
                or item.sensitivity != Sensitivity.ANALYSIS):
            continue
        why = _looks_like_identifier(item)
        if why is None and item.is_text and item.role is None:
            why = f"it is a {item.type.value} item, so anything may be written in it"
        if why is not None:
            yield ctx.finding(
                "likely_identifier", item=item.id,
                problem=f"{why}, but its sensitivity is 'analysis', so its values would pass "
                        "de-identification unchanged",
                fix="set sensitivity to direct_identifier or contact_safety (dropped), "
                    "quasi_identifier (checked for small groups) or free_text (scrubbed)")


def _check_recall_window(ctx: _Context) -> Iterator[Finding]:
    inst = ctx.instrument
    if inst.respondent != "woman":
        return
    for item in inst.items:
        recall = sorted(set(item.domains) & RECALL_DOMAINS)
        if not recall or not _asked(item):
            continue
        texts = [item.label] if isinstance(item.label, str) else list(item.label.values())
        if not any(_RECALL.search(text) for text in texts):
            yield ctx.finding(
                "no_recall_window", item=item.id,
                problem=f"the item asks about {', '.join(recall)} but its label states no recall "
                        "window, so answers at different waves cover different periods",
                fix="start the question with the period it covers, e.g. 'In the past 3 months, "
                    "...', or say it is about now ('at the moment', 'now')")


def _check_relevance_order(ctx: _Context) -> Iterator[Finding]:
    inst = ctx.instrument
    position = {item.id: n for n, item in enumerate(inst.items)}
    calculated = {i.id for i in inst.items if i.type == ItemType.CALCULATED}
    for item in inst.items:
        if not item.relevance:
            continue
        later = sorted((name for name in parse_expression(item.relevance).names
                        if name in position and name not in calculated
                        and position[name] >= position[item.id]), key=position.__getitem__)
        if later:
            yield ctx.finding(
                "relevance_refers_to_later_item", item=item.id,
                problem=f"its relevance {item.relevance!r} depends on "
                        f"{', '.join(later)}, which {'is' if len(later) == 1 else 'are'} asked "
                        "at or after this item, so the condition cannot be known yet",
                fix=f"move {item.id} after {later[-1]}, or base its relevance on earlier items")


def _check_likert_groups(ctx: _Context) -> Iterator[Finding]:
    inst = ctx.instrument
    groups: dict[str, list[Item]] = {}
    for item in inst.items:
        if item.type == ItemType.LIKERT and item.group:
            groups.setdefault(item.group, []).append(item)
    for group, items in groups.items():
        contents = {item.id: inst.choices_of(item) for item in items}
        counts = Counter(contents.values())
        if len(counts) < 2:
            continue
        # the list most items use is the group's; ties go to the first item's
        majority = max(counts, key=lambda c: (counts[c], c == contents[items[0].id]))
        reference = next(i for i in items if contents[i.id] == majority)
        for item in items:
            if contents[item.id] != majority:
                yield ctx.finding(
                    "likert_group_mixed_choices", item=item.id,
                    where=f"group {group}, item {item.id}",
                    problem=f"item {item.id} uses choice list {item.choices!r} but the other "
                            f"Likert items of group {group} use {reference.choices!r}; a "
                            "grid needs one response scale",
                    fix=f"give {item.id} choices: {reference.choices}, or move it out of "
                        f"group {group}")


def _check_scale_items_numeric(ctx: _Context) -> Iterator[Finding]:
    inst = ctx.instrument
    for scale in inst.scales:
        for item_id in scale.items:
            item = inst.item(item_id)
            if not item.is_numeric:
                problem = (f"item {item.id} is of type {item.type.value}, which cannot be "
                           f"scored, but is part of scale {scale.id}")
            elif item.is_choice and not _numeric_codes(inst.choices_of(item)):
                text_codes = [str(c.code) for c in inst.choices_of(item)
                              if not isinstance(c.code, int | float)]
                problem = (f"item {item.id} of scale {scale.id} uses choice list "
                           f"{item.choices!r}, whose codes {', '.join(text_codes)} are not "
                           "numbers")
            else:
                continue
            yield ctx.finding(
                "scale_item_not_numeric", item=item.id, where=f"scale {scale.id}, item {item.id}",
                problem=problem,
                fix="give scale items a choice list with number codes (1 to 5) or a number "
                    f"type, or remove {item.id} from the scale")


_CHECKS: tuple[Callable[[_Context], Iterable[Finding]], ...] = (
    _check_safety_gate,
    _check_decline_option,
    _check_identifier_in_scale,
    _check_scale_items_numeric,
    _check_likert_groups,
    _check_domains_covered,
    _check_relevance_order,
    _check_likely_identifier,
    _check_recall_window,
)
