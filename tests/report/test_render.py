"""Tests for pceval.report.render: parsing .qmd files and the embedded renderer.

Starting a Jupyter kernel is the expensive part, so the full report is rendered once per module
and the assertions share it.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import textwrap
from html.parser import HTMLParser
from pathlib import Path

import pytest

import pceval.report
from pceval.errors import ReportError
from pceval.report import (
    CodeCell,
    MarkdownBlock,
    parse_qmd,
    quarto_available,
    render_many,
    render_report,
)

FIXTURES = Path(__file__).parent / "fixtures"


class _Elements(HTMLParser):
    """Collect (tag, attributes) of every start tag."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))

    handle_startendtag = handle_starttag


def elements(html: str, tag: str | None = None) -> list[dict[str, str | None]]:
    parser = _Elements()
    parser.feed(html)
    return [attrs for name, attrs in parser.elements if tag is None or name == tag]


def write_qmd(folder: Path, text: str, name: str = "doc.qmd") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def report_html(tmp_path_factory: pytest.TempPathFactory) -> str:
    output_dir = tmp_path_factory.mktemp("rendered")
    out = render_report(
        FIXTURES / "report.qmd",
        output_dir=output_dir,
        params={"service": "North"},
        engine="embedded",
    )
    assert out == output_dir / "report.html"
    assert sorted(p.name for p in output_dir.iterdir()) == ["report.html"]
    return out.read_text(encoding="utf-8")


# --------------------------------------------------------------------------------------------
# The rendered fixture report
# --------------------------------------------------------------------------------------------


def test_document_head_and_title_block(report_html: str) -> None:
    (html,) = elements(report_html, "html")
    assert html["lang"] == "en"
    assert "<title>Partner contact: reach</title>" in report_html
    assert '<p class="subtitle">Test report</p>' in report_html
    assert '<p class="author">Evaluation team</p>' in report_html


def test_parameters_and_inline_expressions(report_html: str) -> None:
    # service: injected by the caller; wave: front matter default; the sum: computed in the
    # kernel from reach.csv (12 + 20), read relative to the .qmd's folder.
    assert "This report covers <strong>North</strong>, wave 1." in report_html
    assert "All services" not in report_html
    assert "32 women in total" in report_html
    # An inline expression inside a callout, from the parameters cell's default.
    assert "Counts below 5 are suppressed" in report_html


def test_figure_is_embedded_png_with_alt_text_and_numbered_caption(report_html: str) -> None:
    plot, printed = elements(report_html, "img")
    assert plot["alt"] == "Bar chart of women reached: North 12, South 20."
    assert plot["src"] is not None and plot["src"].startswith("data:image/png;base64,")
    assert len(plot["src"]) > 10_000  # a real plot, not an empty image
    assert '<figure id="fig-reach">' in report_html
    assert "<figcaption>Figure 1: Women reached by service</figcaption>" in report_html
    # A figure that a cell prints as Quarto markdown ({#fig-... fig-alt="..."}).
    assert printed["alt"] == "A falling line."
    assert '<figure id="fig-printed">' in report_html
    assert "<figcaption>Figure 2: A printed figure</figcaption>" in report_html


def test_table_is_captioned_and_numbered(report_html: str) -> None:
    (table_float,) = [e for e in elements(report_html, "div") if e.get("id") == "tbl-reach"]
    assert table_float["class"] == "table-float"
    assert table_float["aria-labelledby"] == "caption-tbl-reach"
    assert "<p>Table 1: Women reached, by service</p>" in report_html
    assert "<th>North</th>\n      <td>12</td>" in report_html
    # A markdown pipe table with a caption and id is numbered after it.
    assert '<table id="tbl-pipe">' in report_html
    assert "<caption>Table 2: Women by service, as a pipe table</caption>" in report_html


def test_cross_references_become_numbered_links(report_html: str) -> None:
    links = {(a.get("href"), a.get("class")) for a in elements(report_html, "a")}
    assert ("#fig-reach", "xref") in links
    assert ("#tbl-reach", "xref") in links
    assert '<a href="#fig-reach" class="xref">Figure 1</a>' in report_html
    assert 'class="xref">Table 1</a>' in report_html
    # [-@tbl-reach] is the bare number; a reference inside a code span is left as written.
    assert '<a href="#tbl-reach" class="xref">1</a> shows' in report_html
    assert "<code>@fig-reach</code>" in report_html
    assert '<a href="#fig-printed" class="xref">Figure\n2</a>' in report_html
    assert '<a href="#tbl-pipe" class="xref">Table\n2</a>' in report_html
    # @sec-... links to the section, with its title as the text.
    assert '<a href="#sec-reach" class="xref">Reach</a> links back' in report_html


def test_callouts(report_html: str) -> None:
    callouts = [e for e in elements(report_html, "div") if "callout " in (e.get("class") or "")]
    assert [(c["class"], c["role"], c["aria-label"]) for c in callouts] == [
        ("callout callout-note", "note", "Note: About these numbers"),
        ("callout callout-warning", "note", "Warning: Provisional"),
    ]
    assert "Figures are provisional until wave 2." in report_html
    # The callout's heading is its title, not a section in the table of contents.
    assert 'href="#about-these-numbers"' not in report_html


def test_table_of_contents(report_html: str) -> None:
    (nav,) = elements(report_html, "nav")
    assert nav["id"] == "TOC"
    assert "On this page" in report_html
    assert '<a href="#sec-reach" id="toc-sec-reach">Reach</a>' in report_html
    assert '<a href="#tables" id="toc-tables">Tables</a>' in report_html


def test_cell_options(report_html: str) -> None:
    # include: false runs the cell (reach exists) but shows neither code nor output.
    assert "HIDDEN-CELL-OUTPUT" not in report_html
    assert "read_csv" not in report_html
    # echo defaults to false: the parameters cell's code is not shown.
    assert "min_cell" not in report_html
    # echo: true shows the code and its output.
    assert 'class="sourceCode python cell-code"' in report_html
    assert "largest share: 0.625" in report_html
    # output: asis prints markdown that pandoc then renders.
    assert "<li>asis item from <em>markdown</em></li>" in report_html
    # warning: false drops the warning's stderr output.
    assert "SUPPRESSED-WARNING" not in report_html
    # warning: true shows it as preformatted stderr output.
    stderr_blocks = [
        e for e in elements(report_html, "pre") if "cell-output-stderr" in (e.get("class") or "")
    ]
    assert len(stderr_blocks) == 1
    assert "UserWarning: SHOWN-WARNING" in report_html


def test_nothing_is_fetched_from_the_web(report_html: str) -> None:
    for attrs in elements(report_html):
        for name in ("src", "href", "data", "poster", "srcset", "action"):
            value = (attrs.get(name) or "").strip().lower()
            assert not value.startswith(("http:", "https:", "//")), (name, value[:80])
    assert "<script" not in report_html
    assert "url(http" not in report_html.lower()
    assert "@import" not in report_html
    assert "<style>" in report_html  # pceval's stylesheet is embedded


# --------------------------------------------------------------------------------------------
# Failures
# --------------------------------------------------------------------------------------------


def test_cell_error_names_file_cell_and_exception_and_writes_nothing(tmp_path: Path) -> None:
    previous = tmp_path / "failing.html"
    previous.write_text("previous report", encoding="utf-8")
    with pytest.raises(ReportError) as caught:
        render_report(FIXTURES / "failing.qmd", output_dir=tmp_path, engine="embedded")
    message = str(caught.value)
    assert "failing.qmd" in message
    assert "cell 'broken-cell'" in message
    assert "ZeroDivisionError: division by zero" in message
    assert caught.value.row == 7
    # The earlier output is intact and no temporary file is left behind.
    assert previous.read_text(encoding="utf-8") == "previous report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["failing.html"]


def test_unknown_format_raises(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="unknown report format 'rtf'"):
        render_report(FIXTURES / "report.qmd", output_dir=tmp_path, fmt="rtf", engine="embedded")  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def test_unknown_engine_raises(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="unknown engine 'knitr'"):
        render_report(FIXTURES / "report.qmd", output_dir=tmp_path, engine="knitr")  # type: ignore[arg-type]


def test_unknown_parameter_raises_before_running(tmp_path: Path) -> None:
    with pytest.raises(
        ReportError,
        match=r"no parameter 'servce' \(its parameters: "
        r"min_cell, service, wave\)",
    ):
        render_report(
            FIXTURES / "report.qmd",
            output_dir=tmp_path,
            params={"servce": "North"},
            engine="embedded",
        )


def test_parameter_value_must_be_a_literal(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="cannot be written as a Python literal"):
        render_report(
            FIXTURES / "report.qmd",
            output_dir=tmp_path,
            params={"service": object()},
            engine="embedded",
        )


def test_front_matter_parameter_default_must_be_a_literal(tmp_path: Path) -> None:
    qmd = write_qmd(tmp_path, "---\nparams:\n  since: 2024-07-01\n---\n\nText.\n")
    with pytest.raises(ReportError, match="quote it in the YAML"):
        render_report(qmd, output_dir=tmp_path / "out", engine="embedded")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("See @fig-missing.\n", "cross-reference @fig-missing points to no figure or table"),
        ("See @sec-missing.\n", "cross-reference @sec-missing points to no section"),
        (
            "![A](a.png){#fig-a}\n\n![B](b.png){#fig-a}\n",
            "label 'fig-a' is used by more than one figure or table",
        ),
    ],
)
def test_cross_reference_problems_raise(tmp_path: Path, text: str, message: str) -> None:
    # A document without code cells renders without starting a kernel.
    qmd = write_qmd(tmp_path, text)
    with pytest.raises(ReportError, match=message) as caught:
        render_report(qmd, output_dir=tmp_path / "out", engine="embedded")
    assert caught.value.file == str(qmd)
    assert list((tmp_path / "out").iterdir()) == []


def test_document_without_code(tmp_path: Path) -> None:
    qmd = write_qmd(
        tmp_path,
        """
        ![The caption](data:image/png;base64,iVBORw0KGgo=){#fig-only}

        As @Fig-only shows.
        """,
    )
    html = render_report(qmd, output_dir=tmp_path, engine="embedded").read_text()
    assert "<title>doc</title>" in html
    assert "<figcaption>Figure 1: The caption</figcaption>" in html
    assert '<a href="#fig-only" class="xref">Figure 1</a>' in html


def test_bad_cell_option_raises_before_running(tmp_path: Path) -> None:
    qmd = write_qmd(tmp_path, "```{python}\n#| echo: maybe\n1\n```\n")
    with pytest.raises(ReportError, match="option 'echo' must be true or false, not 'maybe'"):
        render_report(qmd, output_dir=tmp_path / "out", engine="embedded")


# --------------------------------------------------------------------------------------------
# render_many: one kernel, several parameterised copies
# --------------------------------------------------------------------------------------------


def test_render_many_reuses_one_kernel_with_a_fresh_namespace(tmp_path: Path) -> None:
    outputs = render_many(
        FIXTURES / "services.qmd",
        output_dir=tmp_path,
        param_sets=[{"service": "North", "women": 3}, {"service": "South"}, {"service": "South"}],
        names=["north", "south", "south-again"],
        engine="embedded",
    )
    assert outputs == [
        tmp_path / "north.html",
        tmp_path / "south.html",
        tmp_path / "south-again.html",
    ]
    north, south, south_again = (p.read_text(encoding="utf-8") for p in outputs)
    assert "<p>Service: North; women: 6.</p>" in north
    # women falls back to the parameters cell's default: nothing leaked from the first copy
    # (services.qmd also raises if a variable from an earlier copy survives).
    assert "<p>Service: South; women: 0.</p>" in south
    assert "North" not in south
    # The same parameters give byte-identical output.
    assert south == south_again


def test_render_many_checks_names(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="2 parameter sets but 1 names"):
        render_many(
            FIXTURES / "services.qmd",
            output_dir=tmp_path,
            param_sets=[{}, {}],
            names=["a"],
            engine="embedded",
        )
    with pytest.raises(ReportError, match="given twice"):
        render_many(
            FIXTURES / "services.qmd",
            output_dir=tmp_path,
            param_sets=[{}, {}],
            names=["a", "a"],
            engine="embedded",
        )
    with pytest.raises(ReportError, match="not a plain file name"):
        render_many(
            FIXTURES / "services.qmd",
            output_dir=tmp_path,
            param_sets=[{}],
            names=["../a"],
            engine="embedded",
        )


# --------------------------------------------------------------------------------------------
# parse_qmd
# --------------------------------------------------------------------------------------------


def test_parse_qmd_blocks_options_and_lines() -> None:
    doc = parse_qmd(FIXTURES / "report.qmd")
    assert doc.title == "Partner contact: reach"
    assert dict(doc.params) == {"wave": 1}
    assert doc.html_option("toc") is True
    assert doc.html_option("toc-title") == "On this page"
    assert doc.execute_options["echo"] is False
    kinds = [type(block).__name__[0] for block in doc.blocks]  # C(ode) or M(arkdown)
    assert "".join(kinds) == "CCMCMCMCMCCCC"
    figure = doc.cells[2]
    assert isinstance(figure, CodeCell)
    assert (figure.label, figure.line, figure.number) == ("fig-reach", 47, 3)
    assert figure.options["fig-alt"] == "Bar chart of women reached: North 12, South 20."
    assert not figure.source.startswith("#|")
    assert doc.parameters_cell is doc.cells[0]
    first_text = doc.blocks[2]
    assert isinstance(first_text, MarkdownBlock) and first_text.line == 33
    with pytest.raises(AttributeError):
        doc.blocks = ()  # type: ignore[misc]


def test_parse_qmd_keeps_other_fences_as_markdown(tmp_path: Path) -> None:
    qmd = write_qmd(
        tmp_path,
        """
        ````markdown
        ```{python}
        not a cell
        ```
        ````

        ```{=html}
        <b>raw</b>
        ```
        """,
    )
    doc = parse_qmd(qmd)
    assert doc.cells == ()
    assert doc.front_matter == {}
    (block,) = doc.blocks
    assert isinstance(block, MarkdownBlock) and "not a cell" in block.text


@pytest.mark.parametrize(
    ("text", "message", "row"),
    [
        ("```{r}\n1\n```\n", r"\{r\} code cell cannot be run", 1),
        ("text\n\n```{python}\n1\n", "never closed", 3),
        ("```{python}\n#| label: [unclosed\n1\n```\n", "cell options are not valid YAML", 2),
        ("---\ntitle: [x\n---\n", "front matter is not valid YAML", None),
        ("```{python echo=false}\n1\n```\n", "options in the cell header", 1),
    ],
)
def test_parse_qmd_errors_name_the_line(
    tmp_path: Path, text: str, message: str, row: int | None
) -> None:
    qmd = write_qmd(tmp_path, text)
    with pytest.raises(ReportError, match=message) as caught:
        parse_qmd(qmd)
    assert caught.value.file == str(qmd)
    if row is not None:
        assert caught.value.row == row


def test_parse_qmd_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="report file not found"):
        parse_qmd(tmp_path / "nope.qmd")


# --------------------------------------------------------------------------------------------
# Quarto, through a stand-in quarto command that records its arguments
# --------------------------------------------------------------------------------------------

_FAKE_QUARTO = """\
#!{python}
import json, pathlib, sys
args = sys.argv[1:]
pathlib.Path({log!r}).write_text(json.dumps(args))
out = pathlib.Path(args[args.index("--output-dir") + 1]) / args[args.index("--output") + 1]
out.write_text("rendered by quarto")
"""


def test_quarto_is_used_when_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "args.json"
    quarto = bin_dir / "quarto"
    quarto.write_text(_FAKE_QUARTO.format(python=sys.executable, log=str(log)))
    quarto.chmod(quarto.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    assert quarto_available()

    out = render_report(
        FIXTURES / "report.qmd",
        output_dir=tmp_path / "out",
        params={"service": "North", "wave": 2, "code": "007"},
    )
    assert out == (tmp_path / "out" / "report.html").resolve()
    assert out.read_text() == "rendered by quarto"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["report.html"]
    args = json.loads(log.read_text())
    assert args[:4] == ["render", str((FIXTURES / "report.qmd").resolve()), "--to", "html"]
    params = [args[i + 1] for i, arg in enumerate(args) if arg == "-P"]
    # Values are YAML (JSON) so that "007" stays a string.
    assert params == ['service:"North"', "wave:2", 'code:"007"']


def test_quarto_engine_requires_quarto(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert not quarto_available()
    with pytest.raises(ReportError, match="quarto command is not on PATH"):
        render_report(FIXTURES / "report.qmd", output_dir=tmp_path, engine="quarto")


def test_public_api() -> None:
    assert sorted(pceval.report.__all__) == [
        "CodeCell",
        "MarkdownBlock",
        "QmdDocument",
        "ReportFormat",
        "parse_qmd",
        "quarto_available",
        "render_many",
        "render_report",
    ]
