"""Writers: an executed report's pandoc markdown to HTML, Word (DOCX) or PDF.

Every writer starts from the same intermediate markdown (see :mod:`pceval.report.render`) and
runs the same Lua filters, so every format shows the same headings, figures with captions and
alt text, tables with captions, callouts and numbered cross-references:

===========  ===========================================================================
``html``     pandoc ``--to html5 --embed-resources``: one self-contained file styled by
             ``assets/report.css``.
``docx``     pandoc ``--to docx`` with pceval's reference document
             (:func:`pceval.report.docx_style.reference_docx`) and ``assets/docx.lua``.
``pdf``      pandoc ``--to typst`` with ``assets/report.typst`` and ``assets/typst.lua``,
             then the Typst compiler (the ``typst`` package) to PDF, with the fonts built
             into Typst only, so the same report gives the same PDF on every machine.
===========  ===========================================================================

For DOCX and PDF, ``assets/native.lua`` first reads each cell's HTML output (a great_tables
table, a data frame) into pandoc's own table, which Word and Typst lay out as real tables.
"""

from __future__ import annotations

import contextlib
import importlib.resources
import logging
import os
import re
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from pceval.errors import ReportError
from pceval.report.docx_style import reference_docx

if TYPE_CHECKING:
    from pceval.report.render import QmdDocument

__all__ = ["WRITERS", "write_docx", "write_html", "write_pdf"]

logger = logging.getLogger(__name__)

# pandoc and Typst write dates into DOCX (docProps/core.xml, zip entries); a fixed date keeps
# the same report byte-identical from run to run. A SOURCE_DATE_EPOCH set by the user wins.
_FIXED_EPOCH = "315532800"  # 1980-01-01, the earliest date a zip entry can hold


@contextlib.contextmanager
def _asset(name: str) -> Iterator[Path]:
    with importlib.resources.as_file(
        importlib.resources.files("pceval.report") / "assets" / name
    ) as path:
        yield path


def _pandoc_path() -> str:
    import pypandoc

    try:
        return str(pypandoc.get_pandoc_path())
    except OSError as exc:
        raise ReportError(
            f"pandoc was not found: {exc}",
            fix="install pceval's dependencies (pip install pypandoc-binary)",
        ) from None


def _run_pandoc(
    args: list[str], markdown: str, path: Path, *, env: Mapping[str, str] | None = None
) -> None:
    completed = subprocess.run(
        [_pandoc_path(), *args],
        input=markdown.encode("utf-8"),
        capture_output=True,
        cwd=path.parent.resolve(),
        env=None if env is None else {**os.environ, **env},
        check=False,
    )
    messages = completed.stderr.decode("utf-8", errors="replace").strip()
    if completed.returncode != 0:
        # pceval's Lua filters report problems in the document as "pceval: <message>".
        ours = re.search(r"pceval: (.+)", messages)
        if ours is not None:
            raise ReportError(
                ours.group(1).strip(),
                file=path,
                fix="check the figure and table labels and the @ references to them",
            )
        raise ReportError(
            f"pandoc could not convert the report: {messages or completed.returncode}",
            file=path,
        )
    for message in messages.splitlines():
        logger.warning("%s: pandoc: %s", path, message)


def _common_args(document: QmdDocument, fmt: str, *extra_paths: Path) -> list[str]:
    paths = [document.path.parent.resolve(), *extra_paths]
    args = ["--from=markdown", f"--resource-path={os.pathsep.join(str(p) for p in paths)}"]
    if document.format_option(fmt, "toc", False):
        args += ["--toc", f"--toc-depth={int(document.format_option(fmt, 'toc-depth', 3))}"]
    if document.format_option(fmt, "number-sections", False):
        args.append("--number-sections")
    return args


@contextlib.contextmanager
def _filters(last: str) -> Iterator[list[str]]:
    """The Lua filter arguments for DOCX and PDF, in order, ending with the format's own."""
    names = ("native.lua", "media.lua", "callouts.lua", "crossref.lua", last)
    with contextlib.ExitStack() as stack:
        yield [f"--lua-filter={stack.enter_context(_asset(name))}" for name in names]


def write_html(document: QmdDocument, markdown: str, target: Path) -> None:
    """Convert the intermediate markdown to one self-contained HTML file at ``target``.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from pceval.report.render import QmdDocument
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> doc = QmdDocument(path=folder / "r.qmd", front_matter={}, blocks=())
    >>> write_html(doc, "---\\npagetitle: r\\n---\\n\\n# Reach\\n", folder / "r.html")
    >>> '<h1 id="reach">Reach</h1>' in (folder / "r.html").read_text()
    True
    """
    target = target.resolve()  # pandoc runs in the report's folder
    args = [
        *_common_args(document, "html"),
        "--to=html5",
        "--standalone",
        "--embed-resources",
        # MathML needs no script or font from the web (MathJax and KaTeX would).
        "--mathml",
    ]
    with (
        _asset("report.css") as css,
        _asset("callouts.lua") as callouts,
        _asset("crossref.lua") as crossref,
    ):
        args += [
            f"--css={css}",
            f"--lua-filter={callouts}",
            f"--lua-filter={crossref}",
            f"--output={target}",
        ]
        _run_pandoc(args, markdown, document.path)


def write_docx(document: QmdDocument, markdown: str, target: Path) -> None:
    """Convert the intermediate markdown to a Word document at ``target``.

    Tables are Word tables (style "Table"), figures are embedded PNG or SVG images with
    their alt text and a caption paragraph below, table captions stand above their table,
    headings use Word's heading styles (so the navigation pane and a table of contents work),
    and callouts are shaded paragraphs.

    Examples
    --------
    >>> import pathlib, tempfile, zipfile
    >>> from pceval.report.render import QmdDocument
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> doc = QmdDocument(path=folder / "r.qmd", front_matter={}, blocks=())
    >>> write_docx(doc, "# Reach\\n\\nText.\\n", folder / "r.docx")
    >>> 'w:val="Heading1"' in zipfile.ZipFile(folder / "r.docx").read("word/document.xml").decode()
    True
    """
    target = target.resolve()  # pandoc runs in the report's folder
    pandoc = _pandoc_path()
    with (
        tempfile.TemporaryDirectory(prefix="pceval-docx-") as scratch,
        _filters("docx.lua") as filters,
    ):
        folder = Path(scratch)
        reference = reference_docx(pandoc, folder)
        (folder / "media").mkdir()
        args = [
            *_common_args(document, "docx", folder),
            "--to=docx",
            "--standalone",
            f"--reference-doc={reference}",
            f"--metadata=pceval-media-dir:{folder / 'media'}",
            *filters,
            f"--output={target}",
        ]
        epoch = os.environ.get("SOURCE_DATE_EPOCH", _FIXED_EPOCH)
        _run_pandoc(args, markdown, document.path, env={"SOURCE_DATE_EPOCH": epoch})


def write_pdf(document: QmdDocument, markdown: str, target: Path) -> None:
    """Convert the intermediate markdown to a PDF at ``target``, through Typst.

    pandoc writes Typst markup with pceval's template (``assets/report.typst``); figures are
    written as image files beside it; the Typst compiler makes a tagged PDF (headings,
    tables and figures with their alt text are in the PDF's structure, for screen readers).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from pceval.report.render import QmdDocument
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> doc = QmdDocument(path=folder / "r.qmd", front_matter={}, blocks=())
    >>> write_pdf(doc, "---\\ntitle: Reach\\n---\\n\\nText.\\n", folder / "r.pdf")
    >>> (folder / "r.pdf").read_bytes()[:5]
    b'%PDF-'
    """
    target = target.resolve()  # pandoc runs in the report's folder
    with (
        tempfile.TemporaryDirectory(prefix="pceval-typst-") as scratch,
        _asset("report.typst") as template,
        _filters("typst.lua") as filters,
    ):
        folder = Path(scratch)
        (folder / "media").mkdir()
        source = folder / "report.typ"
        args = [
            *_common_args(document, "pdf"),
            "--to=typst",
            "--standalone",
            f"--template={template}",
            f"--metadata=pceval-media-dir:{folder / 'media'}",
            *filters,
            f"--output={source}",
        ]
        papersize = document.format_option("pdf", "papersize")
        if papersize:
            args.append(f"--variable=papersize:{papersize}")
        _run_pandoc(args, markdown, document.path)
        target.write_bytes(_compile_typst(source, document.path))


def _compile_typst(source: Path, path: Path) -> bytes:
    import typst

    try:
        pdf, warnings = typst.compile_with_warnings(
            str(source),
            root=str(source.parent),
            format="pdf",
            # Only the fonts built into Typst: the same PDF on every machine.
            ignore_system_fonts=True,
            font_paths=[],
        )
    except typst.TypstError as exc:
        message = " ".join(str(getattr(exc, "message", exc)).split())
        raise ReportError(
            f"Typst could not make the PDF: {message}",
            file=path,
            fix="check the report's markdown (raw Typst, image files) or render to html",
        ) from None
    for warning in warnings:
        logger.warning("%s: typst: %s", path, " ".join(str(warning).split()))
    if not isinstance(pdf, bytes):
        raise ReportError("Typst returned no PDF", file=path)
    return pdf


WRITERS: Mapping[str, Callable[[QmdDocument, str, Path], None]] = {
    "html": write_html,
    "docx": write_docx,
    "pdf": write_pdf,
}
