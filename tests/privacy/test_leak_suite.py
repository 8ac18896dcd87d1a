"""Leak suite: no identifier planted in the raw exports is found anywhere it may not be.

One synthetic evaluation is generated with free text heavily seeded with identifiers (well
over a thousand canaries across all four instruments' identifier fields and free text), then
built, coded, analysed and reported once. Every file outside the identifiable zones (``raw/``,
``truth/``, ``private/`` and the private staging area ``build/staged``) is read the way a person
or a program could read it:

- Parquet through pyarrow (every column, as text), SPSS and Stata files through pyreadstat
  (values, variable labels, value labels, file label and notes), XLSX through openpyxl (every
  cell of every sheet), Office files member by member (Word paragraphs with their runs joined,
  every attribute such as image alt text), PDF through pypdf (page text, every string object:
  metadata, bookmarks, alt text), HTML as text with its attributes, CSV and JSON as text;
- and every file, and every member of an Office file, as raw bytes decoded as UTF-8 and UTF-16.

The text matplotlib draws inside each report figure is captured as the figure is drawn
(``matplotlib.text.Text.draw`` and the Agg renderer's ``draw_text`` record what they draw), and
the figures' captions and alt text are read from the figure markdown the reports embed.

A canary is matched on normalised text: case-folded words in order whatever the punctuation or
line breaks between them ("Priya Kowalski", "PRIYA\\nKOWALSKI", "Kowalski, Priya"), phone numbers
as digits whatever the spacing ("0491 572 983", "0491-572-983", "+61 491 572 983"), emails also
in their ``(at)``/``(dot)`` spellings, dates of birth also as ISO dates, addresses also by their
street line alone. The scan is checked to be live: it finds every canary in ``raw/``, and finds
canaries planted in copies of the real outputs in every format.
"""

from __future__ import annotations

import base64
import collections
import contextlib
import functools
import io
import json
import multiprocessing
import os
import re
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from xml.etree import ElementTree

import pandas as pd
import pytest

from pceval import pipeline
from pceval.code import import_sheets
from pceval.code.sheets import FIXED_COLUMNS
from pceval.instrument import Sensitivity, load_instrument
from pceval.project import Project, load_project, write_config
from pceval.report import sections
from pceval.report.data import load_results
from pceval.report.services import render_services
from pceval.synth import generate_evaluation
from pceval.synth.text import themes_of_text

pytestmark = pytest.mark.slow

# Five services and 500 women keep the whole module within about two minutes on two cores;
# half of all free-text answers carry an identifier, so even the small staff surveys' comments
# hold several.
SEED = 3
SERVICES = 5
WOMEN = 500
FREE_TEXT_IDENTIFIERS = 0.5

INSTRUMENT_OF = {
    "raw/womens_survey_redcap.csv": "womens_survey",
    "raw/contact_record_kobo.csv": "contact_record",
    "raw/worker_survey_qualtrics.csv": "worker_survey",
    "raw/facilitator_survey_qualtrics.csv": "facilitator_survey",
}
PRIVATE_ZONES = ("raw", "truth", "private", "build/staged")
"""Where identifiable data belong: never scanned (except raw/, to show the scan finds them)."""


# ============================================================================================
# Canaries
# ============================================================================================


@dataclass(frozen=True)
class Canary:
    value: str
    kind: str
    instrument: str
    field: str
    free_text: bool  # inside a free-text answer, not an identifier field


def read_canaries(root: Path) -> list[Canary]:
    """The canaries of ``truth/canaries.json``, each with its instrument and kind of field."""
    data = json.loads((root / "truth" / "canaries.json").read_text(encoding="utf-8"))
    free = {(i, item.id) for i in INSTRUMENT_OF.values()
            for item in load_instrument(i).items_with(Sensitivity.FREE_TEXT)}
    return [Canary(value=str(e["value"]), kind=e["kind"], instrument=INSTRUMENT_OF[e["file"]],
                   field=e["field"], free_text=(INSTRUMENT_OF[e["file"]], e["field"]) in free)
            for e in data["canaries"]]


# ============================================================================================
# The matcher
# ============================================================================================

_WORD = re.compile(r"[a-z0-9]+")
# words dropped on both sides before matching, so "jo (at) mail (dot) com" reads as an email
_FILLER = frozenset({"at", "dot"})
# at least nine digits with spaces, dashes, brackets or line breaks between them: a phone
# number however it is spaced (a decimal point is no separator, so no float is read as one)
_DIGIT_RUN = re.compile(r"[0-9](?:[ \t\r\n\u00a0()\-]*[0-9]){8,}")
_DIGITS = re.compile(r"[0-9]+")
_DOTTED = re.compile(r"-?[0-9]+(?:\.[0-9]+)+")
_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august",
           "september", "october", "november", "december")


def words(text: str) -> list[str]:
    """Case-folded words (ASCII letters and digits), fillers dropped."""
    return [w for w in _WORD.findall(text.casefold()) if w not in _FILLER]


def _phrase(text: str) -> tuple[str, ...]:
    return tuple(words(text))


def variants(value: str, kind: str) -> tuple[list[tuple[str, ...]], set[str], set[str]]:
    """The forms a canary is searched in: word sequences, phone digits, dotted numbers."""
    phrases: list[tuple[str, ...]] = [_phrase(value)]
    digits: set[str] = set()
    dotted: set[str] = set()
    if kind == "phone":
        number = re.sub(r"\D", "", value)
        digits.add(number)
        if number.startswith("0"):
            # +61 4xx xxx xxx, and the number read as a number, its leading zero lost
            digits |= {"61" + number[1:], number[1:]}
        phrases = []
    elif kind in ("ip", "location"):
        dotted |= {value, value.lstrip("-")}
        phrases = []
    elif kind == "name":
        parts = _phrase(value)
        if len(parts) == 2:  # "Kowalski, Priya"
            phrases.append(parts[::-1])
        if len(parts) > 1:
            # her surname alone names her too; parts under five letters ("le", "der", "roux")
            # would be found by chance in compressed bytes
            phrases += [(part,) for part in parts if len(part) >= 5]
    elif kind == "address":
        street = value.split(",")[0]
        phrases.append(_phrase(street))
        unit = re.match(r"(?i)\s*unit\s+\d+\s*/\s*(.+)", street)
        if unit:
            phrases.append(_phrase(unit.group(1)))
    elif kind == "dob":
        # 14/07/1988 also as 14-07-1988, 1988-07-14 and 14 July 1988 (unpadded numbers, as in
        # 4 7 1988, would be found in any table of counts)
        day, month, year = re.fullmatch(r"\s*(\d{2})/(\d{2})/(\d{4})\s*", value).groups()
        name = _MONTHS[int(month) - 1]
        phrases += [(year, month, day), (str(int(day)), name, year),
                    (str(int(day)), name[:3], year)]
    elif kind == "email":
        local = value.split("@")[0]
        phrases.append(_phrase(local))  # the address without its domain still names her
    phrases = [p for p in dict.fromkeys(phrases) if p]
    for p in phrases:
        # a canary that is one number would match any count in any table
        assert not (len(p) == 1 and p[0].isdigit()), (value, kind)
    return phrases, digits, dotted


class Matcher:
    """Finds canaries in text: word sequences by set lookups, phones and dotted numbers apart.

    Thousands of canaries are searched in many large texts, so nothing is searched canary by
    canary: a text's words are put in a set once, only canaries whose every word is in it are
    checked for order, and phone numbers and IP addresses are looked up whole.
    """

    def __init__(self, canaries: Iterable[tuple[str, str]]) -> None:
        self.by_first: dict[str, list[tuple[tuple[str, ...], str]]] = collections.defaultdict(list)
        self.vocabulary: set[str] = set()
        self.phones: dict[str, str] = {}
        self.dotted: dict[str, str] = {}
        for value, kind in sorted(set(canaries)):
            phrases, digits, dotted = variants(value, kind)
            for p in phrases:
                self.by_first[p[0]].append((p, value))
                self.vocabulary.update(p)
            self.phones.update(dict.fromkeys(digits, value))
            self.dotted.update(dict.fromkeys(dotted, value))
        self.phone_lengths = sorted({len(d) for d in self.phones})
        self.firsts = frozenset(self.by_first)

    def find(self, text: str) -> set[str]:
        """The canary values found in ``text``."""
        found: set[str] = set()
        if not text:
            return found
        tokens = words(text)
        present = self.vocabulary.intersection(tokens)
        joined = None
        for first in present & self.firsts:
            for phrase, value in self.by_first[first]:
                if value in found or not present.issuperset(phrase):
                    continue
                if len(phrase) == 1:
                    found.add(value)
                    continue
                if joined is None:
                    joined = " " + " ".join(tokens) + " "
                if " " + " ".join(phrase) + " " in joined:
                    found.add(value)
        if self.phones:
            for run in _DIGIT_RUN.finditer(text):
                groups = _DIGITS.findall(run.group())
                number = "".join(groups)
                starts, position = [], 0
                for g in groups:
                    starts.append(position)
                    position += len(g)
                ends = {*starts[1:], position}
                # a phone number begins and ends where the writer put a break, never inside
                # an unbroken run of digits
                for start in starts:
                    for length in self.phone_lengths:
                        if start + length in ends and number[start:start + length] in self.phones:
                            found.add(self.phones[number[start:start + length]])
        if self.dotted:
            for match in _DOTTED.finditer(text):
                if match.group() in self.dotted:
                    found.add(self.dotted[match.group()])
        return found


# ============================================================================================
# Reading every file
# ============================================================================================

_BASE64 = re.compile(r"base64,[A-Za-z0-9+/=\s]{16,}")
_TEXT_SUFFIXES = {".csv", ".tsv", ".txt", ".md", ".qmd", ".json", ".yml", ".yaml", ".xml",
                  ".html", ".htm", ".css", ".js", ".log", ".typ", ".tex", ".svg"}
_BLOCKS = {"p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "li", "tr", "td", "th", "figcaption",
           "caption", "br", "table", "section", "nav", "header", "footer", "figure", "pre", "ul",
           "ol", "title", "dt", "dd", "blockquote", "option"}


def raw_views(data: bytes) -> Iterator[tuple[str, str]]:
    """Bytes as UTF-8 and as UTF-16 from even and from odd offsets.

    Canaries are ASCII, and ASCII in big-endian UTF-16 read one byte on is little-endian
    UTF-16: the two alignments of one byte order find both. Embedded base64 payloads (images,
    fonts) are left out: they are not text, and letters drawn from them at random could read
    as a name.
    """
    yield "utf-8", _BASE64.sub("base64,", data.decode("utf-8", errors="ignore"))
    for offset in (0, 1):
        chunk = data[offset:]
        chunk = chunk[: len(chunk) - len(chunk) % 2]
        yield f"utf-16 from byte {offset}", chunk.decode("utf-16-le", errors="ignore")


class _HtmlText(HTMLParser):
    """Visible text (inline elements joined, blocks apart) and every attribute value."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.attributes: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCKS:
            self.text.append("\n")
        for _, value in attrs:
            if value and not value.startswith("data:"):
                self.attributes.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in _BLOCKS:
            self.text.append("\n")

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def html_views(text: str) -> Iterator[tuple[str, str]]:
    parser = _HtmlText()
    parser.feed(text)
    parser.close()
    yield "html text", "".join(parser.text)
    yield "html attributes", "\n".join(parser.attributes)


_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def xml_views(data: bytes) -> Iterator[tuple[str, str]]:
    """Word paragraphs with their runs joined, each element's text, every attribute value."""
    try:
        root = ElementTree.fromstring(data)
    except ElementTree.ParseError:
        return
    paragraphs = ["".join(node.text or "" for node in p.iter(f"{_W}t"))
                  for p in root.iter(f"{_W}p")]
    if paragraphs:
        yield "word paragraphs", "\n".join(paragraphs)
    yield "xml text", "\n".join(t for e in root.iter() for t in (e.text, e.tail) if t and t.strip())
    yield "xml attributes", "\n".join(v for e in root.iter() for v in e.attrib.values())


def png_views(data: bytes) -> Iterator[tuple[str, str]]:
    """Text chunks of a PNG (tEXt, zTXt, iTXt): what an image carries besides pixels."""
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return
    position, texts = 8, []
    while position + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        body = data[position + 8:position + 8 + length]
        if kind == b"tEXt":
            texts.append(body.replace(b"\0", b"\n").decode("latin-1"))
        elif kind == b"zTXt":
            key, _, rest = body.partition(b"\0")
            texts.append(key.decode("latin-1") + "\n" + zlib.decompress(rest[1:]).decode("latin-1"))
        elif kind == b"iTXt":
            key, _, rest = body.partition(b"\0")
            compressed, rest = rest[0], rest[2:]
            _, _, rest = rest.partition(b"\0")  # language tag
            _, _, rest = rest.partition(b"\0")  # translated keyword
            texts.append(key.decode("latin-1") + "\n" +
                         (zlib.decompress(rest) if compressed else rest).decode("utf-8", "ignore"))
        position += 12 + length
    yield "png text chunks", "\n".join(texts)


_DATA_URI = re.compile(r"data:(?P<mime>[\w.+/-]*)(?P<b64>;base64)?,(?P<data>[A-Za-z0-9+/=%\w.-]+)")


def data_uri_views(text: str) -> Iterator[tuple[str, str]]:
    """What a document embeds as ``data:`` URIs: an image's text chunks, any other content
    (an SVG, a page) as text. Fonts are left out."""
    import urllib.parse

    for match in _DATA_URI.finditer(text):
        mime = match["mime"] or "text/plain"
        if mime.startswith(("font/", "application/font", "application/x-font")):
            continue
        if match["b64"]:
            data = base64.b64decode(match["data"] + "=" * (-len(match["data"]) % 4))
        else:
            data = urllib.parse.unquote_to_bytes(match["data"])
        if mime.startswith("image/") and not mime.startswith("image/svg"):
            yield from ((f"embedded {mime}: {v}", t) for v, t in png_views(data))
        else:
            yield f"embedded {mime}", data.decode("utf-8", errors="ignore")


def _as_text(values: Iterable) -> str:
    return "\n".join(str(v) for v in values if v is not None)


def parquet_views(path: Path) -> Iterator[tuple[str, str]]:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    yield "parquet columns", "\n".join(table.column_names)
    metadata = table.schema.metadata or {}
    yield "parquet metadata", "\n".join(
        (k + b"\n" + v).decode("utf-8", "ignore") for k, v in metadata.items())
    for name in table.column_names:
        column = table[name]
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        try:
            text = column.cast(pa.large_string())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            text = pa.chunked_array([pa.array([str(v) for v in column.to_pylist()])])
        yield f"parquet column {name}", _as_text(pc.unique(text).to_pylist())


def statfile_views(path: Path) -> Iterator[tuple[str, str]]:
    import pyreadstat

    reader = pyreadstat.read_sav if path.suffix == ".sav" else pyreadstat.read_dta
    frame, meta = reader(path, user_missing=True)
    yield "variable names", "\n".join(meta.column_names)
    yield "variable labels", _as_text(meta.column_labels)
    yield "file label and notes", _as_text([meta.file_label, *(meta.notes or [])])
    labels = []
    for mapping in (meta.variable_value_labels or {}).values():
        labels += [f"{k}\n{v}" for k, v in mapping.items()]
    for mapping in (meta.value_labels or {}).values():
        labels += [f"{k}\n{v}" for k, v in mapping.items()]
    yield "value labels", "\n".join(labels)
    for name in frame.columns:
        yield f"values of {name}", _as_text(frame[name].dropna().astype(str).unique())


def xlsx_views(path: Path) -> Iterator[tuple[str, str]]:
    from openpyxl import load_workbook

    book = load_workbook(path)  # not read-only: comments and validations are read too
    try:
        for sheet in book.worksheets:
            cells = [sheet.title]
            for row in sheet.iter_rows():
                for cell in row:
                    if cell.value is not None:
                        cells.append(str(cell.value))
                    if cell.comment is not None:
                        cells.append(cell.comment.text)
            cells += [str(v.formula1) for v in sheet.data_validations.dataValidation]
            yield f"sheet {sheet.title}", "\n".join(cells)
        yield "defined names", "\n".join(f"{n} {d.attr_text}"
                                          for n, d in book.defined_names.items())
    finally:
        book.close()


_PDF_SKIPPED = frozenset({"/Parent", "/FontFile", "/FontFile2", "/FontFile3"})
"""Keys not followed: back references, and font programs (glyph outlines, no text)."""


def pdf_strings(root) -> list[str]:
    """Every string, name and decoded stream (images and fonts apart) reachable from a PDF
    object: metadata, bookmarks, link targets, the structure tree's alt text, page content."""
    from pypdf.errors import PyPdfError
    from pypdf.generic import (
        ArrayObject,
        ByteStringObject,
        DictionaryObject,
        IndirectObject,
        NameObject,
        StreamObject,
        TextStringObject,
    )

    out: list[str] = []
    seen: set[int] = set()
    stack = [root]
    while stack:
        obj = stack.pop()
        if isinstance(obj, IndirectObject):
            if obj.idnum in seen:
                continue
            seen.add(obj.idnum)
            try:
                obj = obj.get_object()
            except (PyPdfError, ValueError, KeyError):  # a broken reference holds no text
                obj = None
        if isinstance(obj, TextStringObject):
            out.append(str(obj))
        elif isinstance(obj, ByteStringObject):
            out.append(bytes(obj).decode("latin-1"))
        elif isinstance(obj, NameObject):
            out.append(str(obj))
        elif isinstance(obj, DictionaryObject):
            if isinstance(obj, StreamObject) and obj.get("/Subtype") != "/Image":
                with contextlib.suppress(PyPdfError, NotImplementedError, ValueError):
                    # a filter pypdf cannot decode holds nothing it could read either
                    out.append(obj.get_data().decode("utf-8", "ignore"))
            stack.extend(v for k, v in obj.items() if k not in _PDF_SKIPPED)
        elif isinstance(obj, ArrayObject):
            stack.extend(obj)
    return out


def pdf_views(path: Path) -> Iterator[tuple[str, str]]:
    from pypdf import PdfReader

    reader = PdfReader(path)
    text = "\n".join(page.extract_text() or "" for page in reader.pages)
    yield "pdf text", text
    # a word hyphenated at a line end reads whole
    yield "pdf text, hyphens joined", re.sub(r"-\s*\n\s*", "", text)
    yield "pdf metadata", _as_text((reader.metadata or {}).values())
    yield "pdf objects", "\n".join(pdf_strings(reader.trailer))


def json_strings(value) -> Iterator[str]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from json_strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from json_strings(v)
    elif value is not None:
        yield str(value)


def zip_views(data: bytes) -> Iterator[tuple[str, str]]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for info in archive.infolist():
            member = archive.read(info)
            if info.filename.endswith((".xml", ".rels", ".vml")):
                for view, text in xml_views(member):
                    yield f"{info.filename}: {view}", text
            for view, text in png_views(member):
                yield f"{info.filename}: {view}", text
            for view, text in raw_views(member):
                yield f"{info.filename}: {view}", text


def file_views(path: Path) -> Iterator[tuple[str, str]]:
    """Every way ``path`` can be read as text, as (view, text); a text read twice once."""
    seen: set[int] = set()
    for view, text in _file_views(path):
        key = hash(text)
        if key not in seen:
            seen.add(key)
            yield view, text


def _file_views(path: Path) -> Iterator[tuple[str, str]]:
    data = path.read_bytes()
    suffix = path.suffix.lower()
    yield "file name", str(path.name)
    if suffix == ".parquet":
        yield from parquet_views(path)
    elif suffix in (".sav", ".dta"):
        yield from statfile_views(path)
    elif suffix == ".pdf":
        yield from pdf_views(path)
    elif data.startswith(b"PK\x03\x04"):  # Office files (and any other zip), member by member
        if suffix in (".xlsx", ".xlsm"):
            yield from xlsx_views(path)
        yield from zip_views(data)
    elif suffix in _TEXT_SUFFIXES:
        text = data.decode("utf-8-sig", errors="replace")
        yield "text", _BASE64.sub("base64,", text)
        yield from data_uri_views(text)
        if suffix in (".html", ".htm", ".svg"):
            yield from html_views(text)
        if suffix == ".json":
            try:
                yield "json strings", "\n".join(json_strings(json.loads(text)))
            except ValueError:
                pass
    yield from png_views(data)
    yield from raw_views(data)


@dataclass(frozen=True)
class Leak:
    where: str
    view: str
    value: str


def scan_file(path: Path, matcher: Matcher, *, label: str | None = None) -> list[Leak]:
    leaks = []
    for view, text in file_views(path):
        for value in sorted(matcher.find(text)):
            leaks.append(Leak(label or str(path), view, value))
    return leaks


def public_files(root: Path) -> list[Path]:
    """Every file of the evaluation outside the zones that may hold identifiers."""
    private = [root / zone for zone in PRIVATE_ZONES]
    return sorted(p for p in root.rglob("*")
                  if p.is_file() and not any(p.is_relative_to(z) for z in private))


# ============================================================================================
# Figures: the text drawn inside them
# ============================================================================================

_CURRENT_FIGURE = ["(none)"]


def _recording(folder: Path):
    """Patches that record, per figure, every string matplotlib draws.

    Figures are drawn in forked worker processes (``sections.draw_figures``), so each process
    appends what it draws to its own file in ``folder``.
    """
    from matplotlib.backends.backend_agg import RendererAgg
    from matplotlib.text import Text

    folder.mkdir(parents=True, exist_ok=True)

    def record(text: object) -> None:
        if text:
            with open(folder / f"{os.getpid()}.jsonl", "a", encoding="utf-8") as handle:
                handle.write(json.dumps([_CURRENT_FIGURE[0], str(text)]) + "\n")

    original_text_draw = Text.draw
    original_agg_text = RendererAgg.draw_text

    @functools.wraps(original_text_draw)
    def text_draw(self, renderer, *args, **kwargs):
        if self.get_visible():
            record(self.get_text())
        return original_text_draw(self, renderer, *args, **kwargs)

    @functools.wraps(original_agg_text)
    def agg_text(self, gc, x, y, s, *args, **kwargs):
        record(s)
        return original_agg_text(self, gc, x, y, s, *args, **kwargs)

    return [(Text, "draw", text_draw), (RendererAgg, "draw_text", agg_text)]


def _labelled(label: str, build: Callable) -> Callable:
    def run():
        _CURRENT_FIGURE[0] = label
        return build()

    if hasattr(build, "cache_key"):
        run.cache_key = build.cache_key  # type: ignore[attr-defined]
    return run


def recorded_texts(folder: Path) -> dict[str, list[str]]:
    out: dict[str, list[str]] = collections.defaultdict(list)
    for path in sorted(folder.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            label, text = json.loads(line)
            out[label].append(text)
    return dict(out)


_FIGURE_MARKDOWN = re.compile(
    r'!\[(?P<caption>.*?)\]\(data:image/png;base64,(?P<png>[A-Za-z0-9+/=]+)\)'
    r'\{#(?P<label>fig-[\w-]+) fig-alt="(?P<alt>(?:[^"\\]|\\.)*)"\}', re.DOTALL)
"""A figure as the reports embed it (:func:`pceval.report.embed.figure_markdown`)."""


@dataclass
class Figures:
    drawn: dict[str, str]  # label -> figure markdown
    texts: dict[str, list[str]]  # figure job label -> strings drawn
    pngs: set[str] = field(default_factory=set)  # base64 PNGs drawn here

    def described(self) -> dict[str, tuple[str, str]]:
        """Label -> (caption, alt text) of every figure drawn."""
        out = {}
        for block in self.drawn.values():
            for m in _FIGURE_MARKDOWN.finditer(block):
                out[m["label"]] = (m["caption"], m["alt"].replace('\\"', '"').replace("\\\\", "\\"))
        return out


def draw_report_figures(project: Project, folder: Path) -> Figures:
    """Draw every report figure here, recording its text, before the reports are rendered.

    The evaluation report's figures are drawn through ``sections.draw_figures``, the function
    its code cell calls, with the same jobs: each is kept in the figure cache, so the rendered
    reports embed exactly these drawings (checked in a test). The service reports' funnel plot
    is drawn by ``sections.analysis_figure`` as ``reports/service.qmd`` draws it.
    """
    import warnings

    results = load_results(project.results)
    jobs = [(label, _labelled(label, build))
            for label, build in sections.figure_jobs(results, list(results.questions))]
    with pytest.MonkeyPatch.context() as patch:
        for owner, name, replacement in _recording(folder):
            patch.setattr(owner, name, replacement)
        drawn, _ = sections.draw_figures(jobs)
        frame = results.frame
        comparison = results.questions["service_comparison"]
        _CURRENT_FIGURE[0] = "fig-funnel-reached"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # plotnine's notes on the data, as the report does
            rows = frame[(frame["question"] == "service_comparison")
                         & (frame["indicator"] == "reached")]
            funnel = sections.analysis_figure(rows, comparison, comparison["analyses"][0],
                                              results.indicator_labels("q01_reach"))
            for k, figure in enumerate(funnel):
                label = "fig-funnel-reached" if k == 0 else f"fig-funnel-reached-{k + 1}"
                drawn[label] = sections.figure_block(figure, label=label)
    figures = Figures(drawn=drawn, texts=recorded_texts(folder))
    figures.pngs = {m["png"] for block in drawn.values() for m in _FIGURE_MARKDOWN.finditer(block)}
    return figures


# ============================================================================================
# The evaluation, run once
# ============================================================================================


@dataclass
class Evaluation:
    root: Path
    project: Project
    canaries: list[Canary]
    matcher: Matcher
    figures: Figures
    reports: list[Path]


def _code_workbooks(project: Project) -> None:
    """Simulated coders fill both workbooks (disagreeing on one code), and the codings come back.

    Importing writes the long codings, agreement, consensus workbook, theme frequencies and
    the quote bank: all of them hold or are made from the open-text answers.
    """
    from openpyxl import load_workbook

    sheets = sorted((project.root / "coding" / "sheets").glob("coding_*.xlsx"))
    for number, path in enumerate(sheets):
        book = load_workbook(path)
        sheet = book["coding"]
        header = [c.value for c in sheet[1]]
        codes = header[len(FIXED_COLUMNS):]
        for row in sheet.iter_rows(min_row=2):
            themes = themes_of_text(row[2].value) or ()
            for offset, code in enumerate(codes):
                cell = row[len(FIXED_COLUMNS) + offset]
                if cell.fill.fill_type == "solid":  # shaded: the code does not apply here
                    continue
                value = int(code in themes)
                cell.value = 1 - value if number == 1 and code == "children" else value
            row[3].value = 1
        book.save(path)
    import_sheets(project, n_boot=0)


def _render(task: tuple[str, str, str]) -> list[str] | str:
    """Render one report (or set of reports); a failure comes back as its traceback."""
    import traceback

    root, which, fmt = task
    try:
        project = load_project(root)
        if which == "evaluation":
            paths = [pipeline.report(project, fmt=fmt)]
        elif which == "build":
            paths = pipeline.report_build(project, fmt=fmt)
        else:
            paths = render_services(project, fmt=fmt)
        return [str(p) for p in paths]
    except Exception:  # noqa: BLE001 - reported by the parent, with the whole traceback
        return traceback.format_exc()


# The evaluation report in every format; the build reports (codebook, data quality) and the
# service reports in HTML: they run the same conversion, and every figure and table of theirs
# is also scanned in the HTML. Longest first, so the two workers finish together.
RENDERS = (("evaluation", "html"), ("evaluation", "pdf"), ("evaluation", "docx"),
           ("build", "html"), ("services", "html"))


def render_reports(root: Path) -> list[Path]:
    """Render the reports two at a time: each runs its own kernel, pandoc and Typst."""
    with multiprocessing.get_context("fork").Pool(2) as pool:
        done = pool.map(_render, [(str(root), which, fmt) for which, fmt in RENDERS], chunksize=1)
    failed = [d for d in done if isinstance(d, str)]
    assert not failed, "\n".join(failed)
    return [Path(p) for paths in done for p in paths]


@pytest.fixture(scope="module")
def evaluation(tmp_path_factory: pytest.TempPathFactory) -> Evaluation:
    base = tmp_path_factory.mktemp("leak-suite")
    root = base / "evaluation"
    with pytest.MonkeyPatch.context() as patch:
        # a figure cache of this run's own: figures are drawn (and their text recorded) here,
        # never taken from an earlier run, and every report then reuses these drawings
        patch.setenv("PCEVAL_FIGURE_CACHE", str(base / "figure-cache"))
        generate_evaluation(root, seed=SEED, services=SERVICES, women=WOMEN,
                            free_text_identifiers=FREE_TEXT_IDENTIFIERS)
        config = load_project(root).config
        write_config(root, config.model_copy(
            update={"coding": config.coding.model_copy(update={"quote_bank": True})}))
        project = load_project(root)
        pipeline.build(project)
        _code_workbooks(project)
        pipeline.analyse(project)
        figures = draw_report_figures(project, base / "figure-text")
        reports = render_reports(root)
    canaries = read_canaries(root)
    return Evaluation(root=root, project=project, canaries=canaries,
                      matcher=Matcher((c.value, c.kind) for c in canaries),
                      figures=figures, reports=reports)


# ============================================================================================
# The canaries are there
# ============================================================================================

KINDS = ("name", "phone", "email", "address", "dob")

# The fewest canaries each instrument must hold, by kind, in its identifier fields and in its
# free text (about half of what this seed plants, so a change to the generator that drops a
# kind from an instrument fails here, not silently). Identifier fields include contact-safety
# details (the record's safe-contact note) and the Qualtrics metadata (names, email, IP
# address, location); free text is what the instruments mark ``free_text``.
MINIMUM = {
    ("contact_record", "field"): {"name": 400, "phone": 250, "email": 20},
    ("contact_record", "free"): {"name": 70, "phone": 15, "email": 15, "address": 15, "dob": 15},
    ("womens_survey", "field"): {"name": 30, "phone": 70, "email": 60, "address": 60},
    ("womens_survey", "free"): {"name": 10, "phone": 5, "email": 4, "address": 3},
    ("worker_survey", "field"): {"name": 15, "email": 10, "ip": 10, "location": 20},
    ("worker_survey", "free"): {"name": 1, "phone": 1, "email": 1},
    ("facilitator_survey", "field"): {"name": 25, "email": 20, "ip": 15, "location": 30},
    ("facilitator_survey", "free"): {"name": 2, "phone": 1},
}


def test_thousands_of_canaries_in_every_instrument_and_kind(evaluation: Evaluation) -> None:
    canaries = evaluation.canaries
    assert len(canaries) >= 2000
    assert len({c.value for c in canaries}) >= 2000
    counts = collections.Counter((c.instrument, "free" if c.free_text else "field", c.kind)
                                 for c in canaries)
    short = {(instrument, where, kind): counts[instrument, where, kind]
             for (instrument, where), kinds in MINIMUM.items() for kind, least in kinds.items()
             if counts[instrument, where, kind] < least}
    assert short == {}, counts
    per_instrument = collections.Counter(c.instrument for c in canaries)
    assert min(per_instrument[i] for i in INSTRUMENT_OF.values()) >= 100, per_instrument
    per_kind = collections.Counter(c.kind for c in canaries)
    assert all(per_kind[kind] >= 30 for kind in KINDS), per_kind
    assert sum(c.free_text for c in canaries) >= 300


def test_the_scan_finds_every_canary_in_the_raw_exports(evaluation: Evaluation) -> None:
    # the identifiers are where the generator says, and the scan sees all of them there
    found: set[str] = set()
    for path in sorted((evaluation.root / "raw").glob("*")):
        found |= {leak.value for leak in scan_file(path, evaluation.matcher)}
    missed = sorted({c.value for c in evaluation.canaries} - found)
    assert missed == []


def test_the_scan_finds_identifiers_in_the_staging_area(evaluation: Evaluation) -> None:
    # staged data are identifiable by design: the scan must see them in Parquet
    found: set[str] = set()
    for path in sorted((evaluation.root / "build" / "staged").glob("*.parquet")):
        found |= {leak.value for leak in scan_file(path, evaluation.matcher)}
    by_kind = collections.Counter(c.kind for c in evaluation.canaries if c.value in found)
    assert all(by_kind[kind] > 0 for kind in KINDS), by_kind
    assert len(found) >= 0.9 * len({c.value for c in evaluation.canaries})


# ============================================================================================
# No canary anywhere public
# ============================================================================================


def test_every_zone_and_format_is_scanned(evaluation: Evaluation) -> None:
    root = evaluation.root
    files = public_files(root)
    suffixes = {p.suffix for p in files}
    assert suffixes >= {".parquet", ".sav", ".dta", ".xlsx", ".csv", ".json", ".html", ".docx",
                        ".pdf"}
    for zone in ("build/clean", "build/scored", "build/shareable", "build/audit", "results",
                 "reports", "coding"):
        assert any(p.is_relative_to(root / zone) for p in files), zone
    names = {p.name for p in files}
    assert {"evaluation.html", "evaluation.docx", "evaluation.pdf", "codebook.html",
            "data-quality.html", "service-S01.html"} <= names
    assert {"quote_bank.csv", "agreement.csv"} <= names  # the coding round trip ran
    assert not any(p.is_relative_to(root / "build" / "staged") for p in files)


_SCANNING: dict[str, object] = {}


def _scan_public(path: str) -> list[Leak]:
    root = _SCANNING["root"]
    return scan_file(Path(path), _SCANNING["matcher"], label=str(Path(path).relative_to(root)))


def test_no_canary_outside_the_staging_area(evaluation: Evaluation) -> None:
    # two processes share the files, largest first (the matcher reaches them by fork)
    files = sorted(public_files(evaluation.root), key=lambda p: -p.stat().st_size)
    _SCANNING.update(root=evaluation.root, matcher=evaluation.matcher)
    try:
        with multiprocessing.get_context("fork").Pool(2) as pool:
            leaks = [leak for part in pool.imap_unordered(_scan_public, map(str, files))
                     for leak in part]
    finally:
        _SCANNING.clear()
    assert _describe(leaks, evaluation.canaries) == []


def _describe(leaks: list[Leak], canaries: list[Canary]) -> list[str]:
    origin = {}
    for c in canaries:
        origin.setdefault(c.value, f"{c.kind} from {c.instrument}.{c.field}")
    return sorted({f"{leak.where} [{leak.view}]: {leak.value!r} ({origin.get(leak.value)})"
                   for leak in leaks})


# ============================================================================================
# Figures
# ============================================================================================


def test_no_canary_in_the_text_drawn_inside_figures(evaluation: Evaluation) -> None:
    figures = evaluation.figures
    # the recording is live: every figure drawn drew text, service codes and n.p. among it
    drawn_jobs = {label.rsplit("-", 1)[0] if label.rsplit("-", 1)[-1].isdigit() else label
                  for label in figures.drawn}
    assert len(figures.drawn) >= 30
    assert drawn_jobs <= set(figures.texts), sorted(drawn_jobs - set(figures.texts))
    every = [t for texts in figures.texts.values() for t in texts]
    assert "S01" in every and any("n.p." in t for t in every)
    leaks = [Leak(label, "figure text", value)
             for label, texts in figures.texts.items()
             for value in evaluation.matcher.find("\n".join(texts))]
    assert _describe(leaks, evaluation.canaries) == []


def test_no_canary_in_figure_captions_or_alt_text(evaluation: Evaluation) -> None:
    described = evaluation.figures.described()
    assert len(described) == len(evaluation.figures.drawn)
    assert all(alt.strip() for _, alt in described.values())
    leaks = [Leak(label, what, value)
             for label, (caption, alt) in described.items()
             for what, text in (("caption", caption), ("alt text", alt))
             for value in evaluation.matcher.find(text)]
    assert _describe(leaks, evaluation.canaries) == []


def test_the_reports_embed_the_figures_whose_text_was_read(evaluation: Evaluation) -> None:
    # every image in every HTML and Word report is one drawn (and read) above, so no figure
    # escapes the figure-text scan
    embedded: dict[str, set[str]] = {}
    for path in evaluation.reports:
        if path.suffix == ".html":
            embedded[path.name] = set(re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)",
                                                 path.read_text(encoding="utf-8")))
        elif path.suffix == ".docx":
            with zipfile.ZipFile(path) as archive:
                embedded[path.name] = {base64.b64encode(archive.read(n)).decode("ascii")
                                       for n in archive.namelist()
                                       if n.startswith("word/media/") and n.endswith(".png")}
    assert embedded["evaluation.html"] and embedded["evaluation.docx"]
    assert embedded["service-S01.html"]
    unread = {name: len(pngs - evaluation.figures.pngs) for name, pngs in embedded.items()}
    assert all(n == 0 for n in unread.values()), unread


# ============================================================================================
# The scan can fail
# ============================================================================================

def _planted(canaries: list[Canary]) -> dict[str, tuple[str, str]]:
    """Kind -> (canary, the variant of it planted in copies of outputs), as it might leak:
    a name in capitals, a phone number re-spaced, an email in capitals, a date of birth as an
    ISO date, a postal address as written."""
    def first(kind: str, test: Callable[[Canary], bool] = lambda c: True) -> str:
        # an identifier field's value where there is one (dates of birth are only in notes)
        chosen = [c for c in canaries if c.kind == kind and test(c)]
        return next((c for c in chosen if not c.free_text), chosen[0]).value

    name = first("name", lambda c: len(c.value.split()) == 2)
    phone = re.sub(r"\D", "", first("phone"))
    dob = first("dob")
    return {
        "name": (name, name.upper()),
        "phone": (first("phone"), f"{phone[:4]}-{phone[4:7]}-{phone[7:]}"),
        "email": (first("email"), first("email").upper()),
        "address": (first("address", lambda c: "," in c.value),) * 2,
        "dob": (dob, "-".join(reversed(dob.split("/")))),
    }


def test_a_canary_planted_in_a_copy_of_each_output_is_found(evaluation: Evaluation,
                                                            tmp_path: Path) -> None:
    root = evaluation.root
    plants = _planted(evaluation.canaries)
    line = " ; ".join(planted for _, planted in plants.values())
    name = plants["name"][0]
    # another name, planted where only a reader that joins the pieces sees it (each of its
    # words split in two)
    other = next(c.value for c in evaluation.canaries
                 if c.kind == "name" and len(c.value.split()) == 2 and c.value != name)
    given, _, family = other.partition(" ")
    extra = {"docx": {other}, "html": {other}, "pdf": {other}}

    copies: dict[str, Path] = {}

    # Parquet: a string cell of the scored women's survey
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(root / "build" / "scored" / "womens_survey.parquet")
    column = table.column_names.index("comments")
    values = table["comments"].to_pylist()
    values[0] = line
    copies["parquet"] = tmp_path / "scored.parquet"
    pq.write_table(table.set_column(column, "comments", pa.array(values, pa.string())),
                   copies["parquet"])

    # SPSS: a value label; Stata: a variable label (at most 80 characters) and a string value
    import pyreadstat

    frame, meta = pyreadstat.read_sav(root / "build" / "shareable" / "contact_record.sav")
    labels = dict(meta.variable_value_labels)
    numeric = next(k for k in labels if pd.api.types.is_numeric_dtype(frame[k]))
    labels[numeric] = {**labels[numeric], 99: line}
    copies["sav"] = tmp_path / "copy.sav"
    pyreadstat.write_sav(frame, copies["sav"], column_labels=meta.column_labels,
                         variable_value_labels=labels)
    frame, meta = pyreadstat.read_dta(root / "build" / "shareable" / "worker_survey.dta")
    frame["note"] = [line] + [""] * (len(frame) - 1)
    copies["dta"] = tmp_path / "copy.dta"
    pyreadstat.write_dta(frame, copies["dta"],
                         column_labels=[name, *meta.column_labels[1:], "Note"])

    # XLSX: a cell of a coding workbook
    from openpyxl import load_workbook

    book = load_workbook(root / "coding" / "sheets" / "coding_coder1.xlsx")
    book["coding"]["C2"] = line
    copies["xlsx"] = tmp_path / "copy.xlsx"
    book.save(copies["xlsx"])

    # Word: a name split over two runs of one paragraph, the rest in an image's alt text
    source = root / "reports" / "evaluation.docx"
    copies["docx"] = tmp_path / "copy.docx"
    with zipfile.ZipFile(source) as old, \
            zipfile.ZipFile(copies["docx"], "w", zipfile.ZIP_DEFLATED) as new:
        for info in old.infolist():
            data = old.read(info)
            if info.filename == "word/document.xml":
                xml = data.decode("utf-8")
                split = (f"<w:p><w:r><w:t>{given[:3]}</w:t></w:r><w:r><w:t>{given[3:]} {family[:3]}"
                         f"</w:t></w:r><w:r><w:t>{family[3:]}</w:t></w:r></w:p>")
                xml = xml.replace("<w:body>", "<w:body>" + split, 1)
                xml = re.sub(r'descr="[^"]*"', f'descr="{line}"', xml, count=1)
                data = xml.encode("utf-8")
            new.writestr(info, data)

    # HTML: inside inline markup, and in an attribute
    html = (root / "reports" / "service-S01.html").read_text(encoding="utf-8")
    copies["html"] = tmp_path / "copy.html"
    planted = (f'<body><p><b>{given[:3]}</b>{given[3:]} {family[:3]}<i>{family[3:]}</i></p>'
               f'<img alt="{line}">')
    copies["html"].write_text(html.replace("<body>", planted, 1), encoding="utf-8")

    # CSV and JSON: as text, and as JSON with every character escaped
    csv = (root / "results" / "results.csv").read_text(encoding="utf-8")
    copies["csv"] = tmp_path / "copy.csv"
    copies["csv"].write_text(csv + f'"{line}"\n', encoding="utf-8")
    copies["json"] = tmp_path / "copy.json"
    escaped = "".join(f"\\u{ord(c):04x}" for c in line)
    copies["json"].write_text(f'{{"note": "{escaped}"}}', encoding="utf-8")
    assert line not in copies["json"].read_text(encoding="utf-8")

    # PDF, made by Typst as the reports are: in the text, and in a figure's alt text (tagged)
    import typst

    figure = next(iter(evaluation.figures.pngs))
    (tmp_path / "figure.png").write_bytes(base64.b64decode(figure))
    (tmp_path / "copy.typ").write_text(
        f'#text({json.dumps(line)})\n\n#figure(image("figure.png", alt: {json.dumps(other)}), '
        'caption: [Reach])\n', encoding="utf-8")
    copies["pdf"] = tmp_path / "copy.pdf"
    typst.compile(str(tmp_path / "copy.typ"), output=str(copies["pdf"]), root=str(tmp_path))

    # raw bytes only: a UTF-16 string inside a binary file
    copies["binary"] = tmp_path / "copy.bin"
    copies["binary"].write_bytes(bytes(range(256)) + line.encode("utf-16-le") + bytes(range(256)))

    for fmt, path in copies.items():
        found = {leak.value for leak in scan_file(path, evaluation.matcher)}
        expected = {value for value, _ in plants.values()} | extra.get(fmt, set())
        assert expected <= found, (fmt, sorted(expected - found))


def test_a_canary_drawn_in_a_figure_is_recorded(evaluation: Evaluation, tmp_path: Path) -> None:
    import warnings

    from plotnine import aes, geom_point, ggplot, labs

    name = next(c.value for c in evaluation.canaries if c.kind == "name" and " " in c.value)
    plot = (ggplot(pd.DataFrame({"x": [1, 2], "y": [1, 2], "who": ["S01", name]}), aes("x", "y"))
            + geom_point(aes(colour="who")) + labs(title="Reach"))
    with pytest.MonkeyPatch.context() as patch, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for owner, attribute, replacement in _recording(tmp_path):
            patch.setattr(owner, attribute, replacement)
        _CURRENT_FIGURE[0] = "control"
        sections.figure_block(sections.Figure(plot, "A control.", "Two points."),
                              label="fig-control")
    texts = recorded_texts(tmp_path)["control"]
    assert "Reach" in texts
    assert name in evaluation.matcher.find("\n".join(texts))
    assert evaluation.matcher.find("\n".join(t for t in texts if name not in t)) == set()


def test_the_matcher_reads_trivial_variants() -> None:
    matcher = Matcher([("Priya Kowalski", "name"), ("0491 572 983", "phone"),
                       ("priya.kowalski84@gmail.com", "email"),
                       ("Unit 3/27 Wattle Street, Dubbo NSW 2830", "address"),
                       ("04/07/1988", "dob"), ("Simon", "name"), ("O'Sullivan", "name"),
                       ("203.45.1.7", "ip")])
    found = matcher.find
    assert found("note: PRIYA\nKOWALSKI rang") == {"Priya Kowalski"}
    assert found("Kowalski, Priya") == {"Priya Kowalski"}
    assert found("call 0491-572-983 or 0491572983") == {"0491 572 983"}
    assert found("+61 491 572 983") == {"0491 572 983"} and found("491572983") == {"0491 572 983"}
    # an email spelt out (which also gives her first name)
    assert found("Priya.Kowalski84 (at) Gmail (dot) com") == {"priya.kowalski84@gmail.com",
                                                               "Priya Kowalski"}
    assert found("27 Wattle Street") == {"Unit 3/27 Wattle Street, Dubbo NSW 2830"}
    assert found("born 1988-07-04") == {"04/07/1988"} and found("4 July 1988") == {"04/07/1988"}
    assert found("o’sullivan") == {"O'Sullivan"}
    assert found("from 203.45.1.7") == {"203.45.1.7"}
    # what is not the canary is not found: a word inside a longer one, digits inside a number,
    # a longer dotted number
    assert found("DerSimonian and Laird") == set()
    assert found("0.4915729831 1049157298311 4 7 1988") == set()
    assert found("203.45.1.77 and 1.203.45.1.7") == set()
    assert found("Wattle Street") == set() and found("14 Wattle") == set()
    # a part of a name, from five letters on
    assert found("KOWALSKI") == {"Priya Kowalski"} and found("Sullivan") == {"O'Sullivan"}
