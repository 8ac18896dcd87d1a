"""Fuzzing the instrument loaders: a hostile instrument file loads, or is refused in one line.

Every loader of a file that declares or imports an instrument is given mutations of a valid
file: the instrument YAML (:func:`pceval.instrument.load_instrument`), the thematic codebook
(:func:`~pceval.instrument.themes.load_thematic_codebook`), an XLSForm
(:func:`~pceval.instrument.xlsform.import_xlsform`), a REDCap data dictionary
(:func:`~pceval.instrument.redcap.import_redcap_dictionary`) and a Qualtrics Advanced Format
survey (:func:`~pceval.instrument.qualtrics.check_qualtrics_txt`; pceval reads no other
Qualtrics survey file).

* YAML, as data: a value of the wrong type anywhere, keys removed or unknown, ids duplicated,
  relevance and calculations that do not parse, name no item, call functions, nest thousands
  deep or refer to each other in a cycle, regular expressions that do not compile, scales and
  cleaning rules that name nothing;
* YAML, as text: invalid UTF-8, UTF-16, NUL bytes, cut short, nested thousands deep, alias
  bombs (billion laughs) and recursive aliases, Python tags, several documents, integers too
  long to convert;
* XLSForm: sheets and columns removed or renamed, cells replaced (unknown types and lists,
  groups never closed, repeats, names that are no ids, XPath that does not parse, metadata
  that is not JSON, formulas, numbers and dates where text belongs), zip members damaged;
* REDCap: cells replaced (unknown field types, malformed choices, branching logic naming
  events, smart variables or missing fields), rows and columns dropped or repeated, header
  spellings mixed, enormous cells, NUL bytes, invalid UTF-8, the pceval annotation damaged.

The property: the loader returns its result, or raises a :class:`PcevalError` whose message
is one line naming the file; nothing else escapes. ``pceval instruments check``
(:func:`~pceval.instrument.checks.check_files`) reports every hostile instrument file as
one-line findings and never raises.
"""

from __future__ import annotations

import base64
import copy
import csv
import io
import json
from pathlib import Path

import openpyxl
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pceval.errors import PcevalError
from pceval.instrument import Instrument, load_catalogue, load_instrument
from pceval.instrument.checks import FINDING_COLUMNS, check_files
from pceval.instrument.qualtrics import check_qualtrics_txt, export_qualtrics_txt
from pceval.instrument.redcap import export_redcap_dictionary, import_redcap_dictionary
from pceval.instrument.themes import ThematicCodebook, load_thematic_codebook
from pceval.instrument.xlsform import export_xlsform, import_xlsform
from pceval.resources import default_path


def _examples(factor: float) -> int:
    """Examples for one test: ``factor`` times the loaded profile's (tests/conftest.py)."""
    return max(5, int(settings.default.max_examples * factor))


def _fuzz(factor: float):
    return settings(max_examples=_examples(factor),
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.large_base_example])


class Corpus:
    """A valid file's content as a fixture value: hypothesis prints a failing test's arguments,
    and these would fill the report (see ``Seeds`` in tests/fuzz/conftest.py)."""

    def __init__(self, name: str, value) -> None:
        self.name = name
        self.value = value

    def __repr__(self) -> str:
        return f"<{self.name}>"


def check_loader(load, path: Path):
    """``load(path)``: its result, or None after a one-line PcevalError naming the file."""
    try:
        return load(path)
    except Exception as exc:  # noqa: BLE001 - the property under test: only PcevalError escapes
        assert isinstance(exc, PcevalError), f"{type(exc).__name__}: {exc}"
        message = str(exc)
        assert "\n" not in message and "\r" not in message, message
        assert str(path) in message, message
        return None


def check_checker(path: Path) -> None:
    """``pceval instruments check`` reports a file that does not load as a finding, in one line,
    and goes on: it never raises."""
    findings = check_files([path])
    assert list(findings.columns) == list(FINDING_COLUMNS)
    assert not findings["message"].str.contains("\n|\r", regex=True).any()


# Hostile values -------------------------------------------------------------------------------

EXPRESSIONS = (
    "", " ", "consent ==", "consent = 1", "consent == 1 and", "((consent == 1)", "consent === 1",
    "nosuchitem == 1", "selected()", "selected(1)", "selected(help)", "selected(help, 1, 2)",
    "answered(kids) and answered()", "len(kids) > 1", "__import__('os').system('true')",
    "kids.real > 1", "kids[0] == 1", "lambda: 1", "(kids := 1)", "f'{kids}'", "[k for k in kids]",
    "kids if consent else 1", "kids ** 2 > 1", "kids // 2", "kids % 2", "kids << 1", "b'x' == kids",
    "1 < kids < 20 < 30", "not not not kids", "kids\x00 > 1", "kids > 1\n and consent == 1",
    "kids > " + "9" * 5000, "comments == 'é\u202e'", "ｋｉｄｓ > 1", "consent == 1 # comment",
    "not " * 3000 + "kids", "(" * 150 + "kids" + ")" * 150, "(" * 2000 + "kids" + ")" * 2000,
    " + ".join(["kids"] * 4000) + " > 1", " and ".join(["consent == 1"] * 3000), "-" * 5000 + "kids",
)
PATTERNS = ("(", "[", "a{99999999999}", "(?P<x>", "\\", "(a+)+$", "*", "(?<=a+)b", "\\p{L}", "")
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True),
    st.sampled_from(["", " ", "yes", "no", "~", "null", "NaN", ".inf", "0x1F", "1e400", "x" * 10_000,
                     "é\u202e", "\x00", "\ud7ff", "2025-13-45", "D99", "NOS9", "woman", "instrument",
                     "likert", "multiple_choice", "-99", "case_key", "safety_gate"]),
    st.text(max_size=10),
)
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) |
                      st.dictionaries(st.text(max_size=5) | st.sampled_from(["id", "code", "label"]),
                                      inner, max_size=3), max_leaves=8)


def _paths(node, prefix=()):
    """Every (path, value) of a parsed YAML document, the document itself first."""
    yield prefix, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _paths(value, (*prefix, index))


def _parent(document, path):
    node = document
    for key in path[:-1]:
        node = node[key]
    return node


def _item(document, index: int) -> dict | None:
    """The item at ``index`` when earlier edits left one there, else None."""
    items = document.get("items") if isinstance(document, dict) else None
    if isinstance(items, list) and index < len(items) and isinstance(items[index], dict):
        return items[index]
    return None


@st.composite
def document_edits(draw, document: dict, *, expressions: tuple[str, ...] = (), id_lists=()):
    """A parsed YAML document with up to four hostile edits."""
    document = copy.deepcopy(document)
    for _ in range(draw(st.integers(1, 4), label="edits")):
        paths = [p for p, _ in _paths(document)]
        path = draw(st.sampled_from(paths), label="at")
        kind = draw(st.sampled_from(["value", "value", "delete", "unknown", "duplicate", "expression",
                                     "pattern", "nest", "reference"]))
        if kind == "value" and path:
            _parent(document, path)[path[-1]] = draw(VALUES, label="value")
        elif kind == "delete" and path:
            del _parent(document, path)[path[-1]]
        elif kind == "unknown":
            node = _parent(document, path) if path else document
            if isinstance(node, dict):
                key = draw(st.sampled_from(["extra", "Items", "id ", "kind2", "x" * 300]))
                node[key] = draw(VALUES)
        elif kind == "duplicate" and path and isinstance(_parent(document, path), list):
            parent = _parent(document, path)
            parent.insert(draw(st.integers(0, len(parent))), copy.deepcopy(parent[path[-1]]))
        elif kind == "expression" and expressions:
            item = _item(document, draw(st.sampled_from(id_lists), label="item"))
            field = draw(st.sampled_from(expressions))
            value = draw(st.sampled_from(EXPRESSIONS) | st.text(max_size=20))
            if item is not None:
                item[field] = value
        elif kind == "pattern" and id_lists:
            item = _item(document, draw(st.sampled_from(id_lists)))
            pattern = draw(st.sampled_from(PATTERNS))
            if item is not None:
                item["constraint"] = {"pattern": pattern}
        elif kind == "nest" and path:
            value = draw(st.integers(0, 3))
            for _ in range(draw(st.sampled_from([2, 50, 400]))):
                value = [value] if draw(st.booleans()) else {"a": value}
            _parent(document, path)[path[-1]] = value
        elif kind == "reference" and expressions and len(id_lists) > 1:
            # relevance in a cycle, or on the item itself
            a = _item(document, draw(st.sampled_from(id_lists)))
            b = _item(document, draw(st.sampled_from(id_lists)))
            if a is not None and b is not None:
                a["relevance"] = f"answered({b.get('id', 'x')})"
                b["relevance"] = f"answered({a.get('id', 'x')})"
    return document


def _dump(document) -> str:
    try:
        return yaml.safe_dump(document, allow_unicode=True, sort_keys=False)
    except (yaml.YAMLError, RecursionError):
        return json.dumps(document, default=str)  # JSON is YAML too


def _bomb(depth: int) -> str:
    """A billion-laughs alias bomb: 9**depth strings from a few lines."""
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, depth + 1):
        lines.append(f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


TEXT_EDITS = ("utf16", "latin1", "invalid", "nul", "bom", "cut", "tabs", "deep", "deepmap", "bomb",
              "recursive", "python", "documents", "bigint", "dupkeys", "merge", "binary", "anchor")


@st.composite
def text_edits(draw, text: str, bomb_keys: tuple[str, ...]):
    """A YAML file's bytes with one textual hostility."""
    kind = draw(st.sampled_from(TEXT_EDITS), label="text edit")
    at = int(draw(st.integers(0, 10_000), label="position per 10,000") * len(text) / 10_000)
    key = draw(st.sampled_from(bomb_keys))
    if kind == "utf16":
        return text.encode(draw(st.sampled_from(["utf-16", "utf-16-le", "utf-32"])))
    if kind == "latin1":
        return text.replace("e", "é").encode("latin-1")
    if kind == "invalid":
        junk = draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x80\x80"]))
        return text.encode()[:at] + junk + text.encode()[at:]
    if kind == "nul":
        return (text[:at] + "\x00" + text[at:]).encode()
    if kind == "bom":
        return "\ufeff\ufeff".encode() + text.encode()
    if kind == "cut":
        return text.encode()[:at]
    if kind == "tabs":
        return text.replace("  ", "\t").encode()
    if kind == "deep":
        # past PyYAML's recursion limit (about 500 levels) a deeper file only reads slower
        depth = draw(st.sampled_from([400, 600]))
        return (text + f"\n{key}: " + "[" * depth + "]" * depth + "\n").encode()
    if kind == "deepmap":
        depth = draw(st.sampled_from([400, 600, 3000]))
        return (text + f"\n{key}: " + "{a: " * depth + "1" + "}" * depth + "\n").encode()
    if kind == "bomb":
        depth = draw(st.integers(3, 9))
        return (_bomb(depth) + text + f"\n{key}: *a{depth}\n").encode()
    if kind == "recursive":
        return (text + f"\n{key}: &r [*r, &s {{a: *s}}]\n").encode()
    if kind == "python":
        tag = draw(st.sampled_from(["!!python/object/apply:os.system ['true']",
                                    "!!python/name:os.system", "!!binary aGVsbG8=", "!!set {a, b}",
                                    "!!timestamp 2025-01-01", "!!omap [a: 1]", "!custom x"]))
        return (text + f"\n{key}: {tag}\n").encode()
    if kind == "documents":
        return (text + "\n---\n" + text).encode()
    if kind == "bigint":
        digits = draw(st.sampled_from([4300, 5000, 100_000]))
        return (text + f"\n{key}: " + "9" * digits + "\n").encode()
    if kind == "dupkeys":
        return (text + f"\n{key}: []\n{key}: {{}}\n").encode()
    if kind == "merge":
        return (text + f"\nbase: &b {{id: x}}\n{key}: {{<<: *b, <<: [*b, *b]}}\n").encode()
    if kind == "binary":
        return draw(st.binary(max_size=200))
    return (text + f"\n{key}: &x\n  - *x\n").encode()


# Instrument YAML ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def scaled_document(instrument_file) -> Corpus:
    """The instrument with a scale, a cleaning rule and a calculation, so edits reach them."""
    document = yaml.safe_load(instrument_file.read_text(encoding="utf-8"))
    document["items"].append({"id": "kids_twice", "type": "calculated", "label": "Twice",
                              "calculation": "kids * 2"})
    document["scales"] = [{"id": "wellbeing", "label": "Wellbeing", "items": ["kids", "consent"],
                           "reverse": ["kids"], "method": "mean", "min_valid": 1,
                           "dex": {"type": "circumstances", "domain": "x", "cuts": [1, 2, 3, 4]}}]
    document["cleaning"] = [{"field": "kids", "recode": {"none": 0}}, {"rename": {"children": "kids"}}]
    return Corpus("instrument document", document)


@_fuzz(1.0)
@given(data=st.data())
def test_hostile_instrument_documents(scaled_document, new_folder, hostile, data):
    items = tuple(range(len(scaled_document.value["items"])))
    document = data.draw(document_edits(scaled_document.value, expressions=("relevance", "calculation"),
                                        id_lists=items), label="document")
    path = new_folder() / "instrument.yml"
    path.write_text(_dump(document), encoding="utf-8")
    hostile.add("instrument yaml")
    loaded = check_loader(load_instrument, path)
    if loaded is not None:
        assert isinstance(loaded, Instrument)
        loaded.columns()
    check_checker(path)


@_fuzz(0.5)
@given(data=st.data())
def test_hostile_instrument_texts(instrument_file, new_folder, hostile, data):
    text = instrument_file.read_text(encoding="utf-8")
    raw = data.draw(text_edits(text, ("items", "title", "choice_lists", "description", "waves")),
                    label="bytes")
    path = new_folder() / "instrument.yml"
    path.write_bytes(raw)
    hostile.add("instrument yaml")
    check_loader(load_instrument, path)
    check_checker(path)


# The thematic codebook ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def themes_file() -> Path:
    return default_path("instruments") / "themes.yml"


@pytest.fixture(scope="module")
def catalogue() -> Corpus:
    return Corpus("domain catalogue", load_catalogue())


@_fuzz(0.6)
@given(data=st.data())
def test_hostile_thematic_codebooks(themes_file, catalogue, new_folder, hostile, data):
    text = themes_file.read_text(encoding="utf-8")
    path = new_folder() / "themes.yml"
    if data.draw(st.booleans(), label="as data"):
        document = data.draw(document_edits(yaml.safe_load(text)), label="document")
        path.write_text(_dump(document), encoding="utf-8")
    else:
        path.write_bytes(data.draw(text_edits(text, ("codes", "title", "id")), label="bytes"))
    hostile.add("thematic codebook")
    book = check_loader(lambda p: load_thematic_codebook(p, catalogue=catalogue.value), path)
    assert book is None or isinstance(book, ThematicCodebook)


# XLSForm --------------------------------------------------------------------------------------

XLSFORM_TYPES = ("select_one", "select_one nolist", "select_multiple yn extra", "select one from yn",
                 "begin_group", "end_group", "begin_repeat", "end_repeat", "geopoint", "calculate",
                 "integer", "decimal", "range", "text", "note", "date", "datetime", "start",
                 "phonenumber", "select_one_from_file list.csv", "rank yn", "acknowledge",
                 "xml-external", "SELECT_ONE YN", "", " ", 7, "select_one yn or_other",
                 "begin group", "end loop")
XLSFORM_NAMES = ("", "1abc", "a b", "kids", "consent", "Kids", "x" * 200, "é", "_x", "record_id",
                 "help__1", "selected", "and", "${kids}", "intro", "case")
XPATHS = ("${kids} >", "${nosuch} = '1'", "(((", "selected(${help}, 1", ". > 5 and . <",
          "regex(., '(')", "${kids} > 1 or", "${consent} = '1' and ${kids} != ''",
          "count-selected(${help}) > 1",
          "if(${kids} > 1, 1, 0)", "${consent} = 1", "not(${consent})", "${kids} div 0", "'a' = \"b\"",
          "${kids} + ${kids} + ${kids}" * 200, "string-length(.) < 5", ". >= 0 and . <= 20 or . = -99",
          "${kids} = -99", "jr:choice-name(${consent}, '${consent}')", "position(..)", "now()",
          "${help} = 'x'", "${case}", "..")
CELLS = st.one_of(st.sampled_from(XLSFORM_TYPES + XLSFORM_NAMES + XPATHS),
                  st.sampled_from(["=1+1", "=A1", '=HYPERLINK("x")', "[-99", "{", "[1, 2]", "null",
                                   '"x"', '{"code": 1}', "pceval-xlsform", "English (en)", "yes",
                                   "TRUE"]),
                  st.integers(-10**20, 10**20), st.floats(allow_nan=False, allow_infinity=False),
                  st.booleans(), st.none(), st.dates(), st.text(max_size=10))


@pytest.fixture(scope="module")
def xlsform_bytes(fuzzform, tmp_path_factory) -> Corpus:
    path = export_xlsform(fuzzform, tmp_path_factory.mktemp("xlsform") / "form.xlsx")
    return Corpus("xlsform", path.read_bytes())


def _printable(value):
    """openpyxl refuses control characters in cells; everything else goes in."""
    if isinstance(value, str):
        return "".join(c for c in value if c in "\t\n\r" or ord(c) >= 0x20)
    return value


@st.composite
def workbook_edits(draw, raw: bytes) -> bytes:
    workbook = openpyxl.load_workbook(io.BytesIO(raw))
    for _ in range(draw(st.integers(1, 4), label="edits")):
        sheet = workbook[draw(st.sampled_from(workbook.sheetnames), label="sheet")]
        kind = draw(st.sampled_from(["cell", "cell", "cell", "header", "delete_column", "delete_row",
                                     "insert_row", "rename_sheet", "remove_sheet", "blank_sheet"]))
        row = draw(st.integers(1, max(sheet.max_row, 1) + 1))
        column = draw(st.integers(1, max(sheet.max_column, 1) + 1))
        if kind == "cell":
            sheet.cell(row=row, column=column).value = _printable(draw(CELLS, label="value"))
        elif kind == "header":
            sheet.cell(row=1, column=column).value = _printable(draw(
                st.sampled_from(["type", "name", "label", "label::", "label::Klingon (tlh)", "relevant",
                                 "list_name", "list name", "constraint", "calculation", "choice_filter",
                                 "pceval_role", "pceval_missing_codes", "key", "value", "", None,
                                 "Type", "bind::relevant", "default_language", "form_id"]),
                label="header"))
        elif kind == "delete_column":
            sheet.delete_cols(column)
        elif kind == "delete_row":
            sheet.delete_rows(row)
        elif kind == "insert_row":
            sheet.insert_rows(row)
            for c in range(1, sheet.max_column + 1):
                sheet.cell(row=row, column=c).value = _printable(draw(CELLS))
        elif kind == "rename_sheet":
            sheet.title = draw(st.sampled_from(["Survey", " survey ", "choices", "settings", "pceval",
                                                "x"]))
        elif kind == "remove_sheet" and len(workbook.sheetnames) > 1:
            workbook.remove(sheet)
        elif kind == "blank_sheet":
            workbook.create_sheet(draw(st.sampled_from(["survey", "choices", "external_choices",
                                                        "extra"])))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


@_fuzz(0.6)
@given(data=st.data())
def test_hostile_xlsforms(xlsform_bytes, damage, new_folder, hostile, data):
    how = data.draw(st.sampled_from(["cells", "cells", "zip", "bytes"]), label="damage")
    if how == "cells":
        raw = data.draw(workbook_edits(xlsform_bytes.value), label="workbook")
    elif how == "zip":
        raw = data.draw(damage.zip(xlsform_bytes.value), label="workbook")
    else:
        raw = data.draw(damage.bytes(xlsform_bytes.value), label="bytes")
    path = new_folder() / "form.xlsx"
    path.write_bytes(raw)
    hostile.add("xlsform")
    result = check_loader(import_xlsform, path)
    assert result is None or isinstance(result.instrument, Instrument)


# REDCap data dictionaries ---------------------------------------------------------------------

REDCAP_CELLS = (
    "", " ", "radio", "dropdown", "checkbox", "yesno", "truefalse", "calc", "file", "sql", "slider",
    "descriptive", "notes", "text", "foo", "RADIO", "1, Yes | 0, No", "1, Yes | | 0, No",
    "1 Yes | 0 No", ", Yes", "1, Yes | 1, Again", "-99, Prefer not to say | 1, A", "a b, c", "1,",
    "|", "integer",
    "number", "date_ymd", "datetime_seconds_dmy", "email", "phone", "abc", "-1e400", "y", "n", "maybe",
    "[kids] = '1'", "[nosuch] > 1", "[event_1_arm_1][kids] = 1", "[kids(1)] = '1'", "[help(9)] = '1'",
    "[[[", "[kids] = '1", "datediff([visit_date], 'today', 'd') > 1", "[record-name] = 1",
    "sum([kids], [kids])", "if([kids] > 1, 1, 0)", "[kids] <> ''", "([kids] = 1 or", "[kids] ** 2",
    "record_id", "1abc", "Kids", "kids", "consent", "a" * 100, "@HIDDEN", "@PCEVAL=e30",
    "@PCEVAL=" + base64.b64encode(b'{"item": {"id": 5}}').decode(), "@PCEVAL=!!!",
    "@PCEVAL=" + base64.b64encode(b'{"instrument": []}').decode(), "LH", "y\x00", "é\u202e",
)


@pytest.fixture(scope="module")
def redcap_records(fuzzform, tmp_path_factory) -> Corpus:
    path = export_redcap_dictionary(fuzzform, tmp_path_factory.mktemp("redcap") / "dictionary.csv")
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return Corpus("redcap dictionary", tuple(tuple(r) for r in csv.reader(handle)))


@st.composite
def dictionary_edits(draw, records, damage) -> bytes:
    records = [list(r) for r in records]
    for _ in range(draw(st.integers(1, 4), label="edits")):
        row = draw(st.integers(0, len(records) - 1))
        column = draw(st.integers(0, 17))
        kind = draw(st.sampled_from(["cell", "cell", "cell", "drop_row", "repeat_row", "drop_column",
                                     "add_column", "api_header", "enormous", "blank_row"]))
        if kind == "cell" and column < len(records[row]):
            records[row][column] = draw(st.sampled_from(REDCAP_CELLS) | st.text(max_size=12),
                                        label="value")
        elif kind == "drop_row" and len(records) > 1:
            del records[row]
        elif kind == "repeat_row":
            records.insert(row, list(records[row]))
        elif kind == "drop_column":
            for r in records:
                del r[column:column + 1]
        elif kind == "add_column":
            for r in records:
                r.insert(column, draw(st.sampled_from(REDCAP_CELLS)))
        elif kind == "api_header":
            records[0] = [h.lower().replace(" ", "_") for h in records[0]]
        elif kind == "enormous" and column < len(records[row]):
            records[row][column] = "x" * draw(st.sampled_from([200_000, 2_000_000]))
        elif kind == "blank_row":
            records.insert(row, [""] * 18)
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator=draw(st.sampled_from(["\r\n", "\n"]))).writerows(records)
    raw = buffer.getvalue().encode(draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "cp1252"])),
                                   errors="replace")
    if draw(st.booleans(), label="byte damage"):
        raw = draw(damage.bytes(raw))
    return raw


@_fuzz(0.8)
@given(data=st.data())
def test_hostile_redcap_dictionaries(redcap_records, damage, new_folder, hostile, data):
    raw = data.draw(dictionary_edits(redcap_records.value, damage), label="dictionary")
    path = new_folder() / "dictionary.csv"
    path.write_bytes(raw)
    hostile.add("redcap dictionary")
    form = data.draw(st.sampled_from([None, None, "fuzzform", "nosuchform"]), label="form")
    result = check_loader(lambda p: import_redcap_dictionary(p, form=form), path)
    assert result is None or isinstance(result.instrument, Instrument)


# Qualtrics Advanced Format surveys ------------------------------------------------------------

QUALTRICS_LINES = ("[[AdvancedFormat]]", "[[Question:MC]]", "[[Question:Nope]]", "[[ID:1bad]]",
                   "[[ID:kids]]", "[[Choices]]", "[[Answers]]", "[[Block:x]]", "[[PageBreak:3]]",
                   "[[ ID:x]]", "[[", "]]", "[[ED:x]]", "[[Choice]]", "[[Question:Matrix]]", "", "\x00",
                   "é\u202e" * 100)


@pytest.fixture(scope="module")
def qualtrics_text(fuzzform, tmp_path_factory) -> Corpus:
    path = export_qualtrics_txt(fuzzform, tmp_path_factory.mktemp("qualtrics") / "survey.txt")
    return Corpus("qualtrics survey", path.read_text(encoding="utf-8"))


@_fuzz(0.35)
@given(data=st.data())
def test_hostile_qualtrics_surveys(qualtrics_text, damage, new_folder, hostile, data):
    lines = qualtrics_text.value.splitlines()
    for _ in range(data.draw(st.integers(0, 4), label="line edits")):
        at = data.draw(st.integers(0, len(lines)))
        lines.insert(at, data.draw(st.sampled_from(QUALTRICS_LINES) | st.text(max_size=10)))
    raw = "\n".join(lines).encode("utf-8", errors="surrogatepass")
    if data.draw(st.booleans(), label="byte damage"):
        raw = data.draw(damage.bytes(raw), label="bytes")
    path = new_folder() / "survey.txt"
    path.write_bytes(raw)
    hostile.add("qualtrics survey")
    problems = check_loader(check_qualtrics_txt, path)
    assert problems is None or all(isinstance(p, str) and "\n" not in p for p in problems)
