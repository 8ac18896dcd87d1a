"""The text and structure of rendered reports, as tests read them.

HTML with the standard library's parser, DOCX by reading ``word/document.xml`` from the zip,
PDF with pypdf. In every format a table row comes out as one line, its cells separated by
spaces, so a test can look for ``S05 65 n.p. n.p.`` in any of them.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from xml.etree import ElementTree

_BLOCKS = {
    "p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "li", "tr", "figcaption", "caption",
    "br", "table", "section", "nav", "header", "figure", "pre", "ul", "ol", "title",
}
_SKIPPED = {"style", "script"}


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            self._skip += 1
        elif tag in _BLOCKS:
            self.parts.append("\n")
        elif tag in ("td", "th"):
            self.parts.append(" ")
        if tag == "img":
            self.parts.append(f" {dict(attrs).get('alt') or ''} ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            self._skip -= 1
        elif tag in _BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def _lines(text: str) -> str:
    lines = (" ".join(line.split()) for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def html_text(path: Path) -> str:
    """Visible text and image alt text of an HTML report, one block or table row a line."""
    parser = _Text()
    parser.feed(path.read_text(encoding="utf-8"))
    return _lines("".join(parser.parts))


_NS = {
    "w": "http://schemas.openxmlformats.org/wordprocessingml/2006/main",
    "wp": "http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing",
}
_W = "{" + _NS["w"] + "}"


@dataclass
class Docx:
    """What a test needs of a Word document."""

    paragraphs: list[tuple[str, str]] = field(default_factory=list)  # (style id, text)
    tables: list[list[list[str]]] = field(default_factory=list)  # rows of cell texts
    table_captions: list[str] = field(default_factory=list)  # w:tblCaption
    images: list[str] = field(default_factory=list)  # alt text (wp:docPr descr)
    bookmarks: list[str] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)  # (anchor, text)
    styles: str = ""  # word/styles.xml
    lines: list[str] = field(default_factory=list)  # paragraphs and table rows, in order

    def text(self) -> str:
        """Paragraphs and table rows (cells joined by spaces) in order, then alt texts."""
        return _lines("\n".join([*self.lines, *self.images]))


def _text_of(element: ElementTree.Element) -> str:
    return "".join(node.text or "" for node in element.iter(f"{_W}t"))


def read_docx(path: Path) -> Docx:
    """Paragraphs (outside tables), tables, alt texts, bookmarks and links of a DOCX."""
    with zipfile.ZipFile(path) as archive:
        root = ElementTree.fromstring(archive.read("word/document.xml"))
        styles = archive.read("word/styles.xml").decode("utf-8")
    docx = Docx(styles=styles)
    body = root.find("w:body", _NS)
    assert body is not None

    def walk(element: ElementTree.Element) -> None:
        for child in element:
            if child.tag == f"{_W}tbl":
                rows = [
                    [" ".join(_text_of(cell).split()) for cell in row.findall("w:tc", _NS)]
                    for row in child.findall("w:tr", _NS)
                ]
                docx.tables.append(rows)
                docx.lines += [" ".join(row) for row in rows]
                caption = child.find("w:tblPr/w:tblCaption", _NS)
                docx.table_captions.append(caption.get(f"{_W}val", "") if caption is not None else "")
            elif child.tag == f"{_W}p":
                style = child.find("w:pPr/w:pStyle", _NS)
                docx.paragraphs.append(
                    (style.get(f"{_W}val", "") if style is not None else "", _text_of(child))
                )
                docx.lines.append(_text_of(child))
            else:
                walk(child)

    walk(body)
    docx.images = [element.get("descr", "") for element in root.iter(f"{{{_NS['wp']}}}docPr")]
    docx.bookmarks = [element.get(f"{_W}name", "") for element in root.iter(f"{_W}bookmarkStart")]
    docx.links = [
        (element.get(f"{_W}anchor", ""), _text_of(element)) for element in root.iter(f"{_W}hyperlink")
    ]
    return docx


def docx_text(path: Path) -> str:
    """The text of a DOCX, as :meth:`Docx.text`."""
    return read_docx(path).text()


def pdf_text(path: Path) -> str:
    """The text of a PDF (pypdf's reading order), one line a line."""
    from pypdf import PdfReader

    reader = PdfReader(path)
    return _lines("\n".join(page.extract_text() or "" for page in reader.pages))


def flat(text: str) -> str:
    """Text with every run of whitespace (line breaks too) as one space.

    A long table cell wraps onto several lines in a PDF; flat text reads the row whole.
    """
    return " ".join(text.split())


def contains_word(text: str, value: str) -> bool:
    """Whether ``value`` occurs in ``text`` not as part of a longer word."""
    return re.search(rf"(?<!\w){re.escape(value)}(?!\w)", text) is not None
