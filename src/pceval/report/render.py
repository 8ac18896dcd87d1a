"""Render pceval's Quarto reports (``.qmd``) to HTML, Word (DOCX) and PDF.

Two engines render the same files:

``quarto``
    When the ``quarto`` command is on ``PATH``, :func:`render_report` runs
    ``quarto render <qmd> --to html -P key:value ...`` and moves the result into ``output_dir``.
``embedded``
    Otherwise pceval renders the document itself, in four steps that each take the previous
    step's result:

    1. :func:`parse_qmd` reads the front matter, markdown text and ``{python}`` code cells
       into a :class:`QmdDocument`;
    2. the code cells, the injected parameters and the inline `` `{python} expr` `` expressions
       run in order in one Jupyter kernel (nbclient), with the ``.qmd``'s folder as working
       directory;
    3. the outputs become pandoc markdown in Quarto's own syntax (``![cap](...){#fig-x}``,
       table divs, raw HTML), following the cell options (``echo``, ``include``, ``output``,
       ``warning``, ``label``, ``fig-cap``, ``fig-alt``, ``tbl-cap``);
    4. pandoc (the one in the ``pypandoc-binary`` wheel) converts that markdown with pceval's
       Lua filters (``assets/callouts.lua``; ``assets/crossref.lua`` numbers figures and tables
       and turns ``@fig-x`` into "Figure 1": it works on the executed document, where a cell may
       have printed a figure as markdown).

    Step 4 is the only format-specific step (:mod:`pceval.report.writers`): HTML is one
    self-contained file with pceval's stylesheet; DOCX is pandoc's Word writer with a styled
    reference document; PDF is pandoc's Typst writer and the Typst compiler. For DOCX and PDF,
    HTML output of a cell (a great_tables table, a data frame) is read into pandoc's own
    table, so every format gets real tables with the same captions and numbers.

The embedded engine supports the subset of Quarto that pceval's reports use; anything else in a
document (a cell in another language, a malformed option) is a :class:`~pceval.errors.ReportError`
naming the file and line, never a silently different report.
"""

from __future__ import annotations

import ast
import base64
import contextlib
import datetime as dt
import json
import keyword
import logging
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, Self, get_args

import nbformat
import yaml
import zmq
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
from nbformat import NotebookNode

from pceval.errors import ReportError
from pceval.io import atomic_path
from pceval.report.writers import WRITERS

__all__ = [
    "CodeCell",
    "MarkdownBlock",
    "QmdDocument",
    "ReportFormat",
    "parse_qmd",
    "quarto_available",
    "render_many",
    "render_report",
]

logger = logging.getLogger(__name__)

ReportFormat = Literal["html", "docx", "pdf"]
"""Output formats a report can be asked for."""

Engine = Literal["auto", "quarto", "embedded"]

_FORMATS: tuple[str, ...] = get_args(ReportFormat)
_ENGINES: tuple[str, ...] = get_args(Engine)
_EXTENSIONS = {"html": ".html", "docx": ".docx", "pdf": ".pdf"}
# Quarto renders PDF through LaTeX by default; pceval's PDFs are Typst documents.
_QUARTO_FORMATS = {"html": "html", "docx": "docx", "pdf": "typst"}

_KERNEL_NAME = "python3"
_DEFAULT_TIMEOUT = 600

# Cell options and their defaults. Reports hide code unless asked (Quarto's own default is
# echo: true); the document's ``execute:`` mapping overrides these, a cell's ``#|`` lines
# override the document.
_EXECUTE_DEFAULTS: Mapping[str, Any] = MappingProxyType(
    {"echo": False, "eval": True, "include": True, "output": True, "warning": False}
)

# Which representation of a rich output to use, best first. The same in every format, so
# every format shows the same thing: text/html (tables) reaches DOCX and PDF too, where
# assets/native.lua reads it into pandoc's own table.
_MIME_ORDER = (
    "text/markdown",
    "image/svg+xml",
    "image/png",
    "image/jpeg",
    "text/html",
    "text/plain",
)
_MIME_PRIORITY: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {fmt: _MIME_ORDER for fmt in ("html", "docx", "pdf")}
)
_IMAGE_MIMES = ("image/svg+xml", "image/png", "image/jpeg")

# Runs first in the kernel (and again after each reset in render_many). Figures are shown by
# the inline backend (non-interactive, set through MPLBACKEND when the kernel starts) as PNG
# at twice their nominal resolution ("retina", Quarto's HTML default); plotnine reads the
# same setting. Leaves no names behind in the user namespace.
_SETUP_SOURCE = """\
%config InlineBackend.figure_format = "retina"
import sys as _pceval_sys
if "matplotlib.pyplot" in _pceval_sys.modules:
    _pceval_sys.modules["matplotlib.pyplot"].close("all")
del _pceval_sys
"""
_RESET_SOURCE = "%reset -f"


# --------------------------------------------------------------------------------------------
# Parsed document
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MarkdownBlock:
    """Markdown text between code cells.

    Attributes
    ----------
    text : str
        The markdown, as written (inline expressions and cross-references unresolved).
    line : int
        1-based line of the ``.qmd`` where the block starts.
    """

    text: str
    line: int


@dataclass(frozen=True)
class CodeCell:
    """A ```` ```{python} ```` code cell.

    Attributes
    ----------
    source : str
        The code, without its ``#|`` option lines.
    options : Mapping[str, Any]
        The cell's ``#|`` options (YAML), e.g. ``{"label": "fig-reach", "fig-cap": "..."}``.
    line : int
        1-based line of the ``.qmd`` where the cell's opening fence is.
    number : int
        1-based position of the cell among the document's code cells.
    """

    source: str
    options: Mapping[str, Any]
    line: int
    number: int

    @property
    def label(self) -> str | None:
        """The cell's ``label`` option, if any."""
        label = self.options.get("label")
        return str(label) if label is not None else None

    @property
    def tags(self) -> tuple[str, ...]:
        """The cell's ``tags`` option as a tuple (``parameters`` marks the parameters cell)."""
        tags = self.options.get("tags", ())
        if isinstance(tags, str):
            tags = (tags,)
        return tuple(str(tag) for tag in tags)

    def describe(self) -> str:
        """How messages name this cell: its label if it has one, else its number."""
        if self.label:
            return f"cell '{self.label}'"
        return f"code cell {self.number}"


Block = MarkdownBlock | CodeCell


@dataclass(frozen=True)
class QmdDocument:
    """A parsed ``.qmd`` file: front matter and the ordered markdown and code blocks.

    Attributes
    ----------
    path : Path
        The ``.qmd`` file.
    front_matter : Mapping[str, Any]
        The YAML front matter (empty if the document has none).
    blocks : tuple of MarkdownBlock and CodeCell
        The document's content in order.
    project : Mapping[str, Any]
        The Quarto project's ``_quarto.yml`` (the nearest one in the document's folder or
        above it; empty if there is none). Its options apply unless the front matter sets them.
    """

    path: Path
    front_matter: Mapping[str, Any]
    blocks: tuple[Block, ...]
    project: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def metadata(self) -> Mapping[str, Any]:
        """The project options overlaid with the front matter (Quarto's merge)."""
        return MappingProxyType(_merge(self.project, self.front_matter))

    @property
    def cells(self) -> tuple[CodeCell, ...]:
        """The code cells, in order."""
        return tuple(block for block in self.blocks if isinstance(block, CodeCell))

    @property
    def title(self) -> str | None:
        """The document's ``title``."""
        title = self.metadata.get("title")
        return str(title) if title is not None else None

    @property
    def params(self) -> Mapping[str, Any]:
        """Parameter defaults from the front matter's ``params`` mapping."""
        params = self.metadata.get("params") or {}
        return MappingProxyType(dict(params))

    @property
    def parameters_cell(self) -> CodeCell | None:
        """The cell tagged ``parameters`` (papermill/Quarto convention), if any."""
        for cell in self.cells:
            if "parameters" in cell.tags:
                return cell
        return None

    @property
    def execute_options(self) -> Mapping[str, Any]:
        """Cell option defaults: pceval's, updated by the document's ``execute`` options."""
        options = dict(_EXECUTE_DEFAULTS)
        options.update(self.metadata.get("execute") or {})
        return MappingProxyType(options)

    def html_option(self, name: str, default: Any = None) -> Any:
        """A document option from ``format: html:`` or, failing that, the top level."""
        return self.format_option("html", name, default)

    def format_option(self, fmt: str, name: str, default: Any = None) -> Any:
        """A document option for one output format, else the top-level option.

        ``fmt`` is a :data:`ReportFormat`; PDF options are read from ``format: typst:`` (the
        Quarto format pceval's PDFs are made with) or ``format: pdf:``.

        Examples
        --------
        >>> doc = QmdDocument(path=Path("r.qmd"), blocks=(), front_matter={
        ...     "toc": True, "format": {"docx": {"toc": False}}})
        >>> doc.format_option("docx", "toc"), doc.format_option("pdf", "toc")
        (False, True)
        """
        metadata = self.metadata
        formats = metadata.get("format")
        names = ("typst", "pdf") if fmt == "pdf" else (fmt,)
        for key in names:
            options = formats.get(key) if isinstance(formats, Mapping) else None
            if isinstance(options, Mapping) and name in options:
                return options[name]
        return metadata.get(name, default)


def _merge(base: Mapping[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    """``overlay`` over ``base``, merging nested mappings key by key."""
    merged = dict(base)
    for key, value in overlay.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


# --------------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------------

_FENCE_OPEN = re.compile(r"^ {0,3}(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
_ENGINE_INFO = re.compile(r"^\s*\{(?P<engine>[A-Za-z][\w-]*)(?P<rest>[^}]*)\}\s*$")
_OPTION_LINE = re.compile(r"^#\|\s?(?P<yaml>.*)$")
_FRONT_MATTER_CLOSE = re.compile(r"^(---|\.\.\.)\s*$")


def parse_qmd(qmd: str | Path) -> QmdDocument:
    """Read a Quarto document into its front matter and ordered blocks.

    Parameters
    ----------
    qmd : str or Path
        The ``.qmd`` file.

    Returns
    -------
    QmdDocument
        Front matter (a mapping) and a tuple of :class:`MarkdownBlock` and :class:`CodeCell`
        in document order. Code cells carry their ``#|`` options parsed as YAML.

    Raises
    ------
    ReportError
        If the file cannot be read, its front matter or a cell's options are not valid YAML,
        a code cell is never closed, or a cell is in a language other than Python.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> qmd = pathlib.Path(tempfile.mkdtemp()) / "r.qmd"
    >>> _ = qmd.write_text(
    ...     "---\\ntitle: Reach\\n---\\n\\nText.\\n\\n"
    ...     "```{python}\\n#| label: fig-a\\n1 + 1\\n```\\n"
    ... )
    >>> doc = parse_qmd(qmd)
    >>> doc.title, [type(b).__name__ for b in doc.blocks], doc.cells[0].label
    ('Reach', ['MarkdownBlock', 'CodeCell'], 'fig-a')
    """
    path = Path(qmd)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ReportError(
            "report file not found", file=path, fix="check the path to the .qmd file"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ReportError(f"cannot read the report: {exc}", file=path) from None
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    front_matter, start = _parse_front_matter(lines, path)
    blocks = _parse_body(lines, start, path)
    return QmdDocument(
        path=path,
        front_matter=MappingProxyType(front_matter),
        blocks=blocks,
        project=MappingProxyType(_read_project(path)),
    )


def _read_project(qmd: Path) -> dict[str, Any]:
    for folder in qmd.resolve().parents:
        for name in ("_quarto.yml", "_quarto.yaml"):
            config = folder / name
            if not config.is_file():
                continue
            try:
                project = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
            except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
                raise ReportError(
                    f"the Quarto project file cannot be read: {exc}", file=config
                ) from None
            if not isinstance(project, dict):
                raise ReportError("the Quarto project file must be a YAML mapping", file=config)
            return project
    return {}


def _parse_front_matter(lines: list[str], path: Path) -> tuple[dict[str, Any], int]:
    if not lines or lines[0].rstrip() != "---":
        return {}, 0
    for end in range(1, len(lines)):
        if _FRONT_MATTER_CLOSE.match(lines[end]):
            break
    else:
        raise ReportError(
            "the YAML front matter opened on line 1 is never closed",
            file=path,
            row=1,
            fix="end the front matter with a line holding only '---'",
        )
    try:
        front_matter = yaml.safe_load("\n".join(lines[1:end])) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ReportError(
            f"the front matter is not valid YAML: {getattr(exc, 'problem', exc)}",
            file=path,
            row=(mark.line + 2) if mark is not None else 1,
            fix="correct the YAML between the '---' lines",
        ) from None
    if not isinstance(front_matter, dict):
        raise ReportError(
            "the front matter must be a YAML mapping (key: value lines)", file=path, row=1
        )
    params = front_matter.get("params")
    if params is not None and not isinstance(params, dict):
        raise ReportError(
            "'params' in the front matter must be a mapping of name: default value",
            file=path,
            row=1,
        )
    return front_matter, end + 1


def _find_fence_close(lines: list[str], start: int, fence: str) -> int | None:
    closing = re.compile(rf"^ {{0,3}}{re.escape(fence[0])}{{{len(fence)},}}\s*$")
    for index in range(start, len(lines)):
        if closing.match(lines[index]):
            return index
    return None


def _parse_body(lines: list[str], start: int, path: Path) -> tuple[Block, ...]:
    blocks: list[Block] = []
    markdown: list[str] = []
    markdown_start = start
    number = 0

    def flush(next_start: int) -> None:
        nonlocal markdown, markdown_start
        text = "\n".join(markdown).strip("\n")
        if text.strip():
            first = next(i for i, line in enumerate(markdown) if line.strip())
            blocks.append(MarkdownBlock(text=text, line=markdown_start + first + 1))
        markdown = []
        markdown_start = next_start

    index = start
    while index < len(lines):
        line = lines[index]
        opening = _FENCE_OPEN.match(line)
        if opening is None:
            markdown.append(line)
            index += 1
            continue
        fence, info = opening["fence"], opening["info"]
        close = _find_fence_close(lines, index + 1, fence)
        engine = _ENGINE_INFO.match(info) if fence.startswith("`") else None
        if engine is None:
            # An ordinary fenced block (```python, ```{=html}, ~~~): markdown, kept whole so
            # that nothing inside it is taken for a code cell.
            end = len(lines) - 1 if close is None else close
            markdown.extend(lines[index : end + 1])
            index = end + 1
            continue
        if engine["engine"] != "python":
            raise ReportError(
                f"a {{{engine['engine']}}} code cell cannot be run by pceval's renderer, "
                "which runs Python cells only",
                file=path,
                row=index + 1,
                fix="rewrite the cell in Python, or render the report with Quarto",
            )
        if engine["rest"].strip():
            raise ReportError(
                f"options in the cell header ('{info.strip()}') are not supported",
                file=path,
                row=index + 1,
                fix="write cell options as '#| key: value' lines at the top of the cell",
            )
        if close is None:
            raise ReportError(
                "this code cell is never closed",
                file=path,
                row=index + 1,
                fix=f"end the cell with a line holding only {fence}",
            )
        flush(close + 1)
        number += 1
        options, source = _split_options(lines[index + 1 : close], path, index + 2)
        blocks.append(CodeCell(source=source, options=options, line=index + 1, number=number))
        index = close + 1
    flush(len(lines))
    return tuple(blocks)


def _split_options(body: list[str], path: Path, first_line: int) -> tuple[Mapping[str, Any], str]:
    option_lines: list[str] = []
    for line in body:
        match = _OPTION_LINE.match(line)
        if match is None:
            break
        option_lines.append(match["yaml"])
    source = "\n".join(body[len(option_lines) :]).strip("\n")
    if not option_lines:
        return MappingProxyType({}), source
    try:
        options = yaml.safe_load("\n".join(option_lines)) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ReportError(
            f"the cell options are not valid YAML: {getattr(exc, 'problem', exc)}",
            file=path,
            row=first_line + (mark.line if mark is not None else 0),
            fix="write each option as '#| key: value'",
        ) from None
    if not isinstance(options, dict):
        raise ReportError(
            "the cell options must be 'key: value' lines",
            file=path,
            row=first_line,
            fix="write each option as '#| key: value'",
        )
    return MappingProxyType(options), source


# --------------------------------------------------------------------------------------------
# Markdown scanning: inline expressions
# --------------------------------------------------------------------------------------------

_CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)", re.DOTALL)
_INLINE_EXPR = re.compile(r"^\{python\}\s+(?P<expr>.+?)\s*$", re.DOTALL)


@dataclass(frozen=True)
class _Segment:
    kind: Literal["text", "code", "inline"]
    text: str


def _segments(markdown: str) -> list[_Segment]:
    """Split markdown into prose, protected code (fences, code spans) and inline expressions."""
    segments: list[_Segment] = []
    lines = markdown.split("\n")
    prose: list[str] = []
    index = 0

    def flush_prose() -> None:
        if not prose:
            return
        text = "\n".join(prose) + "\n"
        position = 0
        for match in _CODE_SPAN.finditer(text):
            if match.start() > position:
                segments.append(_Segment("text", text[position : match.start()]))
            inline = _INLINE_EXPR.match(match.group(2))
            if inline is not None and len(match.group(1)) == 1:
                segments.append(_Segment("inline", inline["expr"]))
            else:
                segments.append(_Segment("code", match.group(0)))
            position = match.end()
        if position < len(text):
            segments.append(_Segment("text", text[position:]))
        prose.clear()

    while index < len(lines):
        opening = _FENCE_OPEN.match(lines[index])
        if opening is None:
            prose.append(lines[index])
            index += 1
            continue
        flush_prose()
        close = _find_fence_close(lines, index + 1, opening["fence"])
        end = len(lines) - 1 if close is None else close
        segments.append(_Segment("code", "\n".join(lines[index : end + 1]) + "\n"))
        index = end + 1
    flush_prose()
    # The split added one trailing newline per segment group; restore the original text's end.
    if segments and not markdown.endswith("\n") and segments[-1].text.endswith("\n"):
        last = segments[-1]
        segments[-1] = _Segment(last.kind, last.text[:-1])
    return segments


def _inline_expressions(block: MarkdownBlock) -> list[str]:
    return [segment.text for segment in _segments(block.text) if segment.kind == "inline"]


# --------------------------------------------------------------------------------------------
# Execution
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Step:
    """One code cell sent to the kernel, and what it stands for in the document."""

    kind: Literal["setup", "reset", "params", "cell", "inline"]
    source: str
    describe: str
    cell: CodeCell | None = None
    key: tuple[int, int] | None = None  # (block index, expression index) for inline steps
    line: int | None = None  # where it is in the .qmd


@dataclass(frozen=True)
class _Executed:
    """Outputs of a document's execution."""

    outputs: Mapping[int, list[NotebookNode]]  # by cell number
    inline: Mapping[tuple[int, int], str]


class _ThisPythonKernelSpecs(KernelSpecManager):
    """Kernel specs that resolve to this interpreter's ipykernel.

    Jupyter's ``python3`` kernel may name another interpreter (a user-level kernelspec wins
    over the environment's), one without pceval and its dependencies; a report must run in the
    Python that pceval runs in.
    """

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        from ipykernel.kernelspec import RESOURCES, get_kernel_dict

        return KernelSpec(resource_dir=RESOURCES, **get_kernel_dict())


class _Kernel:
    """One Jupyter kernel, kept alive across documents (see :func:`render_many`)."""

    def __init__(self, cwd: Path, *, timeout: int, path: Path) -> None:
        self._path = path
        self._client = NotebookClient(
            nbformat.v4.new_notebook(),
            kernel_name=_KERNEL_NAME,
            timeout=timeout,
            resources={"metadata": {"path": str(cwd)}},
        )
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> Self:
        env = dict(os.environ)
        # Never a GUI backend, whatever the user's environment says.
        env["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
        try:
            manager = self._client.create_kernel_manager()
            manager.kernel_spec_manager = _ThisPythonKernelSpecs()
            # Reports read sensitive data: encrypt the local kernel traffic (CurveZMQ) where
            # jupyter_client (>= 8.10) and the kernel support it.
            if manager.has_trait("transport_encryption") and zmq.has("curve"):
                manager.transport_encryption = "auto"
            self._stack.enter_context(self._client.setup_kernel(env=env))
        except Exception as exc:  # jupyter_client raises many types here
            raise ReportError(
                f"the Python kernel could not be started: {exc}",
                file=self._path,
                fix="install ipykernel in the environment pceval runs in (pip install ipykernel)",
            ) from exc
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stack.close()

    def run(self, steps: Sequence[_Step], path: Path) -> list[NotebookNode]:
        """Execute ``steps`` in order; return the executed notebook cells."""
        cells = [nbformat.v4.new_code_cell(step.source) for step in steps]
        for cell, step in zip(cells, steps, strict=True):
            if step.cell is not None and step.cell.tags:
                cell.metadata["tags"] = list(step.cell.tags)
        self._client.nb = nbformat.v4.new_notebook(cells=cells)
        for index, (cell, step) in enumerate(zip(cells, steps, strict=True)):
            try:
                self._client.execute_cell(cell, index)
            except CellExecutionError as exc:
                logger.debug("%s: %s failed:\n%s", path, step.describe, _strip_ansi(str(exc)))
                last_line = f"{exc.ename}: {_strip_ansi(exc.evalue)}".rstrip(": ")
                raise ReportError(
                    f"{step.describe} failed: {last_line}",
                    file=path,
                    row=step.line,
                    fix="correct the code (run it in Python to see the full traceback)",
                ) from None
            except CellTimeoutError:
                raise ReportError(
                    f"{step.describe} did not finish within {self._client.timeout} seconds",
                    file=path,
                    row=step.line,
                    fix="make the cell faster or pass a larger timeout",
                ) from None
            except DeadKernelError:
                raise ReportError(
                    f"the Python kernel died while running {step.describe}",
                    file=path,
                    row=step.line,
                    fix="check the cell for code that exits or exhausts memory",
                ) from None
        return cells


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


def _check_params(document: QmdDocument, params: Mapping[str, Any]) -> None:
    for name, value in document.params.items():
        if not _is_literal(value):
            raise ReportError(
                f"the default of parameter {name!r} in the front matter cannot be written as "
                f"a Python literal: {value!r}",
                file=document.path,
                row=1,
                fix="quote it in the YAML (e.g. a date as '2024-07-01')",
            )
    declared = set(document.params) | _assigned_names(document)
    for name, value in params.items():
        if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
            raise ReportError(
                f"parameter name {name!r} is not a Python identifier",
                file=document.path,
                fix="use names made of letters, digits and underscores",
            )
        if name not in declared:
            known = ", ".join(sorted(declared)) or "none"
            raise ReportError(
                f"the report has no parameter {name!r} (its parameters: {known})",
                file=document.path,
                fix="declare it in the front matter's params or in the cell tagged "
                "parameters, or correct the name",
            )
        if not _is_literal(value):
            raise ReportError(
                f"parameter {name!r} has a value that cannot be written as a Python literal: "
                f"{value!r}",
                file=document.path,
                fix="pass strings, numbers, booleans, None, or lists and dicts of them",
            )


def _assigned_names(document: QmdDocument) -> set[str]:
    cell = document.parameters_cell
    if cell is None:
        return set()
    try:
        tree = ast.parse(cell.source)
    except SyntaxError as exc:
        raise ReportError(
            f"the parameters cell is not valid Python: {exc.msg}",
            file=document.path,
            row=cell.line,
        ) from None
    names: set[str] = set()
    for node in tree.body:
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = list(node.targets)
        elif isinstance(node, ast.AnnAssign):
            targets = [node.target]
        for target in targets:
            for sub in ast.walk(target):
                if isinstance(sub, ast.Name):
                    names.add(sub.id)
    return names


def _is_literal(value: Any) -> bool:
    try:
        return bool(ast.literal_eval(repr(value)) == value)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False


def _assignments(values: Mapping[str, Any]) -> str:
    return "".join(f"{name} = {value!r}\n" for name, value in values.items())


def _plan(document: QmdDocument, params: Mapping[str, Any]) -> list[_Step]:
    """The document as the ordered list of code the kernel runs."""
    parameters_cell = document.parameters_cell
    defaults = dict(document.params)
    if parameters_cell is None:
        # Papermill's rule: without a parameters cell, the injected values go first.
        defaults.update(params)
    steps = [_Step("setup", _SETUP_SOURCE, "the renderer's setup code")]
    if defaults:
        steps.append(_Step("params", _assignments(defaults), "the front matter's params"))
    options = document.execute_options
    for block_index, block in enumerate(document.blocks):
        if isinstance(block, MarkdownBlock):
            for expr_index, expr in enumerate(_inline_expressions(block)):
                steps.append(
                    _Step(
                        "inline",
                        expr,
                        f"inline expression `{{python}} {expr}`",
                        key=(block_index, expr_index),
                        line=block.line,
                    )
                )
            continue
        if _option(block, options, "eval", document.path):
            steps.append(_Step("cell", block.source, block.describe(), cell=block, line=block.line))
        if block is parameters_cell and params:
            steps.append(_Step("params", _assignments(params), "the injected parameters"))
    return steps


def _execute(document: QmdDocument, kernel: _Kernel, params: Mapping[str, Any]) -> _Executed:
    steps = _plan(document, params)
    cells = kernel.run(steps, document.path)
    outputs: dict[int, list[NotebookNode]] = {}
    inline: dict[tuple[int, int], str] = {}
    for step, cell in zip(steps, cells, strict=True):
        if step.kind == "cell" and step.cell is not None:
            outputs[step.cell.number] = list(cell.outputs)
        elif step.kind == "inline" and step.key is not None:
            inline[step.key] = _inline_value(cell.outputs)
    return _Executed(outputs=MappingProxyType(outputs), inline=MappingProxyType(inline))


def _inline_value(outputs: Sequence[NotebookNode]) -> str:
    for output in outputs:
        if output.get("output_type") != "execute_result":
            continue
        data = output.get("data", {})
        if "text/markdown" in data:
            return _text(data["text/markdown"])
        text = _text(data.get("text/plain", ""))
        if len(text) >= 2 and text[0] in "'\"" and text[-1] == text[0]:
            # A string's repr: show the string itself, as Quarto does.
            with contextlib.suppress(ValueError, SyntaxError):
                value = ast.literal_eval(text)
                if isinstance(value, str):
                    return value
        return text
    return ""


def _text(value: str | list[str]) -> str:
    return "".join(value) if isinstance(value, list) else value


# --------------------------------------------------------------------------------------------
# Intermediate markdown
# --------------------------------------------------------------------------------------------
#
# Cells become Quarto's own markdown for figures and tables (![caption](...){#fig-x fig-alt=..},
# a div with id tbl-x), so figures that a cell prints as markdown and figures made from cell
# outputs are alike. Numbering and @-references are resolved later, by assets/crossref.lua,
# on the whole executed document.


def _option(cell: CodeCell, defaults: Mapping[str, Any], name: str, path: Path) -> Any:
    value = cell.options.get(name, defaults.get(name))
    if name == "echo" and value == "fenced":
        return True
    if name in ("echo", "eval", "include", "warning") and not isinstance(value, bool):
        raise ReportError(
            f"{cell.describe()}: option '{name}' must be true or false, not {value!r}",
            file=path,
            row=cell.line,
        )
    if name == "output" and value not in (True, False, "asis"):
        raise ReportError(
            f"{cell.describe()}: option 'output' must be true, false or asis, not {value!r}",
            file=path,
            row=cell.line,
        )
    return value


def _caption_option(cell: CodeCell, name: str, path: Path) -> str | None:
    value = cell.options.get(name)
    if value is None:
        return None
    if not isinstance(value, str | int | float):
        raise ReportError(
            f"{cell.describe()}: option '{name}' must be a single text "
            "(sub-figure and sub-table captions are not supported)",
            file=path,
            row=cell.line,
        )
    return " ".join(str(value).split())


def _check_cells(document: QmdDocument) -> None:
    """Option and label errors, raised before any code runs."""
    labels: dict[str, CodeCell] = {}
    for cell in document.cells:
        for name in _EXECUTE_DEFAULTS:
            _option(cell, document.execute_options, name, document.path)
        for name in ("fig-cap", "fig-alt", "tbl-cap"):
            _caption_option(cell, name, document.path)
        label = cell.label
        if label is None:
            continue
        if not re.fullmatch(r"[A-Za-z][\w-]*", label):
            raise ReportError(
                f"{cell.describe()}: a label is letters, digits, '-' and '_', "
                "starting with a letter",
                file=document.path,
                row=cell.line,
            )
        if label in labels:
            raise ReportError(
                f"label '{label}' is used by the cells on lines {labels[label].line} and "
                f"{cell.line}",
                file=document.path,
                row=cell.line,
                fix="give each cell a unique label",
            )
        labels[label] = cell


def _fenced(text: str, attributes: str, fence_char: str = "`") -> str:
    """A fenced block whose fence is longer than any run of fence characters inside."""
    runs = re.findall(rf"{re.escape(fence_char)}+", text)
    fence = fence_char * max(3, max((len(run) for run in runs), default=0) + 1)
    return f"{fence}{attributes}\n{text.rstrip(chr(10))}\n{fence}"


def _div(content: str, attributes: str) -> str:
    return f"::: {{{attributes}}}\n{content}\n:::"


def _attribute(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{" ".join(escaped.split())}"'


@dataclass
class _FigureSlot:
    """Caption, id and alt text for the first image of a cell; later images get none."""

    ident: str | None
    caption: str | None
    alt: str | None
    used: bool = field(default=False)


def _image_markdown(mime: str, data: str, metadata: Mapping[str, Any], slot: _FigureSlot) -> str:
    if mime == "image/svg+xml":
        payload = base64.b64encode(_text(data).encode("utf-8")).decode("ascii")
    else:
        payload = "".join(_text(data).split())
    attributes: list[str] = []
    caption = ""
    if not slot.used:
        slot.used = True
        if slot.ident:
            attributes.append(f"#{slot.ident}")
        caption = (slot.caption or "").replace("[", "(").replace("]", ")")
        if slot.alt:
            attributes.append(f"fig-alt={_attribute(slot.alt)}")
    size = metadata.get(mime, {}) if isinstance(metadata, Mapping) else {}
    if isinstance(size, Mapping) and isinstance(size.get("width"), int | float):
        attributes.append(f"width={int(size['width'])}")
    attrs = "{" + " ".join(attributes) + "}" if attributes else ""
    # An image alone in a paragraph with a caption becomes a <figure> with <figcaption>.
    return f"![{caption}](data:{mime};base64,{payload}){attrs}"


def _output_markdown(
    output: NotebookNode, *, fmt: str, asis: bool, warning: bool, slot: _FigureSlot
) -> str | None:
    kind = output.get("output_type")
    if kind == "stream":
        text = _strip_ansi(_text(output.get("text", "")))
        if output.get("name") == "stderr":
            if not warning or not text.strip():
                return None
            return _fenced(text, "{.cell-output .cell-output-stderr}")
        if not text.strip():
            return None
        if asis:
            return text.strip("\n")
        return _fenced(text, "{.cell-output .cell-output-stdout}")
    if kind not in ("display_data", "execute_result"):
        return None
    data = output.get("data", {})
    mime = next((m for m in _MIME_PRIORITY[fmt] if m in data), None)
    if mime is None:
        return None
    if mime in _IMAGE_MIMES:
        image = _image_markdown(mime, data[mime], output.get("metadata", {}), slot)
        return _div(image, ".cell-output-display")
    if mime == "text/markdown":
        return _text(data[mime]).strip("\n")
    if mime == "text/html":
        return _div(_fenced(_text(data[mime]), "{=html}"), ".cell-output-display")
    text = _strip_ansi(_text(data[mime]))
    if asis:
        return text.strip("\n")
    return _fenced(text, "{.cell-output .cell-output-display}")


def _cell_markdown(
    cell: CodeCell, outputs: Sequence[NotebookNode], *, document: QmdDocument, fmt: str
) -> str:
    path, defaults = document.path, document.execute_options
    if not _option(cell, defaults, "include", path):
        return ""
    output_option = _option(cell, defaults, "output", path)
    parts: list[str] = []
    if _option(cell, defaults, "echo", path) and cell.source.strip():
        parts.append(_fenced(cell.source, "{.python .cell-code}"))

    label = cell.label
    kind = label.split("-", 1)[0] if label else None
    slot = _FigureSlot(
        ident=label if kind == "fig" else None,
        caption=_caption_option(cell, "fig-cap", path),
        alt=_caption_option(cell, "fig-alt", path),
    )
    rendered: list[str] = []
    if output_option is not False:
        for output in outputs:
            markdown = _output_markdown(
                output,
                fmt=fmt,
                asis=output_option == "asis",
                warning=_option(cell, defaults, "warning", path),
                slot=slot,
            )
            if markdown:
                rendered.append(markdown)
        if kind == "fig" and not slot.used:
            raise ReportError(
                f"{cell.describe()} is labelled as a figure but shows no image",
                file=path,
                row=cell.line,
                fix="end the cell with the plot (e.g. the ggplot object), or relabel it",
            )
        if kind == "tbl" and not rendered:
            raise ReportError(
                f"{cell.describe()} is labelled as a table but shows no output",
                file=path,
                row=cell.line,
                fix="end the cell with the table (e.g. the GT object or data frame)",
            )

    table_caption = _caption_option(cell, "tbl-cap", path)
    if kind == "tbl" or table_caption is not None:
        # A table float: the caption div comes first (tables are captioned above) and
        # crossref.lua prefixes it with "Table N: ".
        ident = label if kind == "tbl" else None
        caption_id = f"caption-{ident}" if ident else None
        caption_attrs = (f"#{caption_id} " if caption_id else "") + ".float-caption"
        float_attrs = (f"#{ident} " if ident else "") + ".table-float"
        if caption_id:
            float_attrs += f' role="group" aria-labelledby="{caption_id}"'
        if table_caption or caption_id:
            rendered.insert(0, _div(table_caption or "", caption_attrs))
        parts.append(_div("\n\n".join(rendered), float_attrs))
    else:
        parts.extend(rendered)

    if not parts:
        return ""
    cell_attrs = f"#{label} .cell" if label and kind not in ("fig", "tbl") else ".cell"
    return _div("\n\n".join(parts), cell_attrs)


def _markdown_text(block: MarkdownBlock, block_index: int, *, executed: _Executed) -> str:
    pieces: list[str] = []
    expr_index = 0
    for segment in _segments(block.text):
        if segment.kind == "inline":
            pieces.append(executed.inline[(block_index, expr_index)])
            expr_index += 1
        else:
            pieces.append(segment.text)
    return "".join(pieces)


def _metadata(document: QmdDocument, fmt: str) -> dict[str, Any]:
    """Document options pandoc's templates use, in the shapes pandoc expects."""
    options = document.metadata
    meta: dict[str, Any] = {}
    for key in ("title", "subtitle", "abstract", "description"):
        if options.get(key) is not None:
            meta[key] = str(options[key])
    authors = options.get("author")
    if authors is not None:
        if not isinstance(authors, list):
            authors = [authors]
        names = [
            str(author.get("name", "")) if isinstance(author, Mapping) else str(author)
            for author in authors
        ]
        meta["author"] = [name for name in names if name]
    date = options.get("date")
    if date in ("today", "now"):
        date = dt.date.today().isoformat()
    elif date == "last-modified":
        date = dt.date.fromtimestamp(document.path.stat().st_mtime).isoformat()
    if date is not None:
        meta["date"] = str(date)
    meta["lang"] = str(document.format_option(fmt, "lang", "en"))
    meta["toc-title"] = str(document.format_option(fmt, "toc-title", "Contents"))
    if "title" not in meta:
        meta["pagetitle"] = document.path.stem
    return meta


def _to_markdown(document: QmdDocument, executed: _Executed, *, fmt: str) -> str:
    """The executed document as pandoc markdown: the input of every output writer."""
    header = yaml.safe_dump(
        _metadata(document, fmt), allow_unicode=True, sort_keys=True, default_flow_style=False
    )
    parts = [f"---\n{header}---"]
    for block_index, block in enumerate(document.blocks):
        if isinstance(block, MarkdownBlock):
            parts.append(_markdown_text(block, block_index, executed=executed))
            continue
        outputs = executed.outputs.get(block.number, [])
        markdown = _cell_markdown(block, outputs, document=document, fmt=fmt)
        if markdown:
            parts.append(markdown)
    return "\n\n".join(part.strip("\n") for part in parts) + "\n"


# --------------------------------------------------------------------------------------------
# Quarto
# --------------------------------------------------------------------------------------------


def quarto_available() -> bool:
    """Whether the ``quarto`` command is on ``PATH``.

    Returns
    -------
    bool
        True if :func:`render_report` with ``engine="auto"`` will use Quarto.

    Examples
    --------
    >>> isinstance(quarto_available(), bool)
    True
    """
    return shutil.which("quarto") is not None


def _quarto_render(qmd: Path, *, target: Path, params: Mapping[str, Any], fmt: str) -> Path:
    """``quarto render`` into a private folder, then move the result to ``target``."""
    quarto = shutil.which("quarto")
    if quarto is None:
        raise ReportError(
            "Quarto was asked for but the quarto command is not on PATH",
            file=qmd,
            fix="install Quarto, or use engine='embedded'",
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".quarto-", dir=target.parent) as scratch:
        command = [
            quarto,
            "render",
            str(qmd),
            "--to",
            _QUARTO_FORMATS[fmt],
            "--output",
            target.name,  # Quarto takes a file name here; the folder is --output-dir
            "--output-dir",
            scratch,
        ]
        for name, value in params.items():
            # Quarto reads each -P value as YAML; JSON is YAML, and keeps "1" a string.
            command += ["-P", f"{name}:{json.dumps(value, ensure_ascii=False)}"]
        completed = subprocess.run(
            command, capture_output=True, text=True, cwd=qmd.parent, check=False
        )
        if completed.returncode != 0:
            raise ReportError(
                f"quarto render failed: {completed.stderr.strip()[-2000:]}",
                file=qmd,
                fix="run the quarto command above in a terminal to see the full log",
            )
        produced = Path(scratch) / target.name
        if not produced.exists():
            raise ReportError(
                f"quarto render succeeded but wrote no {target.name} in its output folder",
                file=qmd,
            )
        os.replace(produced, target)
        resources = Path(scratch) / f"{target.stem}_files"
        if resources.exists():
            destination = target.parent / resources.name
            if destination.exists():
                shutil.rmtree(destination)
            shutil.move(resources, destination)
    return target


# --------------------------------------------------------------------------------------------
# Public entry points
# --------------------------------------------------------------------------------------------


def _check_format(fmt: str, engine: str, path: Path) -> bool:
    """Validate ``fmt`` and ``engine``; return whether Quarto renders."""
    if engine not in _ENGINES:
        raise ReportError(
            f"unknown engine {engine!r}",
            file=path,
            fix=f"use one of: {', '.join(_ENGINES)}",
        )
    if fmt not in _FORMATS:
        raise ReportError(
            f"unknown report format {fmt!r}",
            file=path,
            fix=f"use one of: {', '.join(_FORMATS)}",
        )
    return engine == "quarto" or (engine == "auto" and quarto_available())


def render_report(
    qmd: str | Path,
    *,
    output_dir: str | Path,
    params: Mapping[str, Any] | None = None,
    fmt: ReportFormat = "html",
    engine: Engine = "auto",
    timeout: int = _DEFAULT_TIMEOUT,
) -> Path:
    """Render a Quarto report to ``output_dir/<name of the qmd>.<html|docx|pdf>``.

    Parameters
    ----------
    qmd : str or Path
        The ``.qmd`` file. Its code runs with the file's folder as working directory, so
        relative paths in it (``../results/q1.parquet``) are relative to the report.
    output_dir : str or Path
        Folder for the rendered file; created if missing.
    params : mapping, optional
        Parameter values, overriding the defaults in the cell tagged ``parameters`` and in the
        front matter's ``params``. Values must be Python literals (strings, numbers, booleans,
        None, lists and dicts of them).
    fmt : {"html", "docx", "pdf"}
        Output format: one self-contained HTML file, a Word document, or a PDF made with
        Typst. Each shows the same headings, figures, tables, callouts and cross-references.
    engine : {"auto", "quarto", "embedded"}
        ``"auto"`` uses Quarto when :func:`quarto_available`, else pceval's own renderer.
    timeout : int
        Seconds each code cell may run (embedded renderer).

    Returns
    -------
    Path
        The rendered file. Output of the embedded renderer is self-contained: images,
        styles and fonts are embedded and nothing is fetched from the web.

    Raises
    ------
    ReportError
        If the document cannot be parsed, a cell fails (the message names the file, the cell
        label or number and the exception), a parameter is unknown, the format is unknown,
        or pandoc or Typst cannot convert the document. No output file is written then, and
        an earlier output is left intact.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> qmd = folder / "reach.qmd"
    >>> _ = qmd.write_text(
    ...     "---\\ntitle: Reach\\n---\\n\\n"
    ...     "```{python}\\n#| tags: [parameters]\\nservice = 'all'\\n```\\n"
    ...     "\\nService: `{python} service`.\\n"
    ... )
    >>> out = render_report(qmd, output_dir=folder / "out", params={"service": "North"},
    ...                     engine="embedded")
    >>> "Service: North." in out.read_text()
    True
    """
    path = Path(qmd)
    use_quarto = _check_format(fmt, engine, path)
    values = dict(params or {})
    target = Path(output_dir) / f"{path.stem}{_EXTENSIONS[fmt]}"
    if use_quarto:
        return _quarto_render(path.resolve(), target=target.resolve(), params=values, fmt=fmt)
    return render_many(
        path,
        output_dir=output_dir,
        param_sets=[values],
        names=[path.stem],
        fmt=fmt,
        engine="embedded",
        timeout=timeout,
    )[0]


def render_many(
    qmd: str | Path,
    *,
    output_dir: str | Path,
    param_sets: Sequence[Mapping[str, Any]],
    names: Sequence[str],
    fmt: ReportFormat = "html",
    engine: Engine = "auto",
    timeout: int = _DEFAULT_TIMEOUT,
) -> list[Path]:
    """Render one report several times with different parameters, e.g. once per service.

    The embedded renderer starts one kernel and reuses it: before each copy, the kernel's
    namespace is cleared (``%reset -f``) and the whole document runs again, so no variable
    leaks from one copy into the next (imported modules stay loaded, which is what makes
    reuse fast; module-level state such as a plotnine default theme carries over).

    Parameters
    ----------
    qmd : str or Path
        The ``.qmd`` file.
    output_dir : str or Path
        Folder for the rendered files; created if missing.
    param_sets : sequence of mappings
        One mapping of parameter values per copy (see :func:`render_report`).
    names : sequence of str
        One file name (without extension) per copy, e.g. ``["service-north", ...]``.
    fmt : {"html", "docx", "pdf"}
        Output format, as in :func:`render_report`.
    engine : {"auto", "quarto", "embedded"}
        As in :func:`render_report`.
    timeout : int
        Seconds each code cell may run (embedded renderer).

    Returns
    -------
    list of Path
        The rendered files, in the order of ``names``.

    Raises
    ------
    ReportError
        As :func:`render_report`, and if ``names`` and ``param_sets`` differ in length or a
        name is repeated or not a plain file name. With the embedded renderer, a failure in
        any copy means no file is written.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> qmd = folder / "service.qmd"
    >>> _ = qmd.write_text("```{python}\\n#| tags: [parameters]\\nservice = 'all'\\n```\\n"
    ...                    "\\nService `{python} service`.\\n")
    >>> outs = render_many(qmd, output_dir=folder, param_sets=[{"service": "A"}, {"service": "B"}],
    ...                    names=["a", "b"], engine="embedded")
    >>> [p.name for p in outs], "Service B" in outs[1].read_text()
    (['a.html', 'b.html'], True)
    """
    path = Path(qmd)
    use_quarto = _check_format(fmt, engine, path)
    _check_names(names, param_sets, path)
    targets = [Path(output_dir) / f"{name}{_EXTENSIONS[fmt]}" for name in names]
    if use_quarto:
        return [
            _quarto_render(path.resolve(), target=target.resolve(), params=dict(values), fmt=fmt)
            for target, values in zip(targets, param_sets, strict=True)
        ]

    document = parse_qmd(path)
    for values in param_sets:
        _check_params(document, values)
    _check_cells(document)
    markdowns: list[str] = []
    with contextlib.ExitStack() as stack:
        kernel = None
        if any(step.kind in ("cell", "inline") for step in _plan(document, {})):
            kernel = stack.enter_context(_Kernel(path.parent.resolve(), timeout=timeout, path=path))
        for index, values in enumerate(param_sets):
            if kernel is None:  # a document without code needs no kernel
                executed = _Executed(outputs=MappingProxyType({}), inline=MappingProxyType({}))
            else:
                if index > 0:
                    kernel.run([_Step("reset", _RESET_SOURCE, "the namespace reset")], path)
                executed = _execute(document, kernel, values)
            markdowns.append(_to_markdown(document, executed, fmt=fmt))
    # Every copy has run; write them all or, if a conversion fails, none.
    with contextlib.ExitStack() as stack:
        for target, markdown in zip(targets, markdowns, strict=True):
            temporary = stack.enter_context(atomic_path(target))
            WRITERS[fmt](document, markdown, temporary)
    return targets


def _check_names(names: Sequence[str], param_sets: Sequence[Mapping[str, Any]], path: Path) -> None:
    if isinstance(names, str) or len(names) != len(param_sets):
        raise ReportError(
            f"{len(param_sets)} parameter sets but "
            f"{1 if isinstance(names, str) else len(names)} names",
            file=path,
            fix="give one output name per parameter set",
        )
    seen: set[str] = set()
    for name in names:
        if (
            not isinstance(name, str)
            or not name
            or name.startswith(".")
            or Path(name).name != name
            or "\\" in name
        ):
            raise ReportError(
                f"output name {name!r} is not a plain file name",
                file=path,
                fix="use names like 'service-north' (no folders, no leading dot)",
            )
        if name in seen:
            raise ReportError(
                f"output name {name!r} is given twice",
                file=path,
                fix="give each parameter set its own name",
            )
        seen.add(name)
