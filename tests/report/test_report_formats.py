"""DOCX and PDF: the same structure as HTML from the same .qmd, and service reports.

The fixture report (fixtures/report.qmd) is rendered to DOCX and PDF once per module; the
tests read the Word document's XML and the PDF's text, outline and tagged structure and check
what a reader finds there: title block, headings, numbered figure and table captions, alt
text, tables, callouts and cross-references. The evaluation report (great_tables tables) is
the session's (see conftest.py).
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
from report_text import Docx, flat, pdf_text, read_docx
from typer.testing import CliRunner

from pceval.cli import app
from pceval.errors import ReportError
from pceval.project import Project
from pceval.report import render_report
from pceval.report.data import load_results
from pceval.report.docx_style import CALLOUT_COLOURS, COLOURS, reference_docx
from pceval.report.render import parse_qmd
from pceval.report.services import render_services
from pceval.report.writers import WRITERS

FIXTURES = Path(__file__).parent / "fixtures"
ASSETS = Path(__file__).parents[2] / "src" / "pceval" / "report" / "assets"


@pytest.fixture(scope="module")
def fixture_docx(tmp_path_factory: pytest.TempPathFactory) -> Docx:
    out = render_report(
        FIXTURES / "report.qmd",
        output_dir=tmp_path_factory.mktemp("docx"),
        fmt="docx",
        params={"service": "North"},
        engine="embedded",
    )
    assert out.name == "report.docx"
    return read_docx(out)


@pytest.fixture(scope="module")
def fixture_pdf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = render_report(
        FIXTURES / "report.qmd",
        output_dir=tmp_path_factory.mktemp("pdf"),
        fmt="pdf",
        params={"service": "North"},
        engine="embedded",
    )
    assert out.name == "report.pdf"
    return out


# --------------------------------------------------------------------------------------------
# DOCX
# --------------------------------------------------------------------------------------------


def _styled(docx: Docx, style: str) -> list[str]:
    return [text for name, text in docx.paragraphs if name == style]


def test_docx_title_block_and_headings(fixture_docx: Docx) -> None:
    assert _styled(fixture_docx, "Title") == ["Partner contact: reach"]
    assert _styled(fixture_docx, "Subtitle") == ["Test report"]
    assert _styled(fixture_docx, "Author") == ["Evaluation team"]
    assert _styled(fixture_docx, "Date") == ["2024-05-01"]
    assert _styled(fixture_docx, "Heading2") == ["Reach", "Tables"]
    # A table of contents Word fills in when the document is opened.
    assert _styled(fixture_docx, "TOCHeading") == ["Contents"]


def test_docx_figures_have_alt_text_and_numbered_captions(fixture_docx: Docx) -> None:
    assert fixture_docx.images == [
        "Bar chart of women reached: North 12, South 20.",
        "A falling line.",
    ]
    assert _styled(fixture_docx, "ImageCaption") == [
        "Figure 1: Women reached by service",
        "Figure 2: A printed figure",
    ]


def test_docx_tables_are_word_tables_with_captions(fixture_docx: Docx) -> None:
    assert fixture_docx.table_captions == [
        "Table 1: Women reached, by service",
        "Table 2: Women by service, as a pipe table",
    ]
    assert _styled(fixture_docx, "TableCaption") == fixture_docx.table_captions
    data_frame, pipe = fixture_docx.tables
    # The data frame's HTML became a real table: its rows and cells, not raw HTML.
    assert ["North", "12"] in data_frame and ["South", "20"] in data_frame
    assert pipe == [["service", "women"], ["North", "12"]]


def test_docx_cross_references_link_to_bookmarks(fixture_docx: Docx) -> None:
    assert ("fig-reach", "Figure 1") in fixture_docx.links
    assert ("tbl-reach", "1") in fixture_docx.links  # [-@tbl-reach]: the number alone
    assert ("sec-reach", "Reach") in fixture_docx.links
    for anchor, _ in fixture_docx.links:
        if not anchor.startswith("_Toc"):
            assert anchor in fixture_docx.bookmarks, anchor


def test_docx_callouts_are_styled_paragraphs(fixture_docx: Docx) -> None:
    assert _styled(fixture_docx, "CalloutNoteTitle") == ["About these numbers"]
    assert _styled(fixture_docx, "CalloutNote") == [
        "Counts below 5 are suppressed before publication."
    ]
    assert _styled(fixture_docx, "CalloutWarningTitle") == ["Provisional"]
    assert _styled(fixture_docx, "CalloutWarning") == ["Figures are provisional until wave 2."]
    styles = fixture_docx.styles
    note = re.search(r'<w:style [^>]*w:styleId="CalloutNote"[^>]*>.*?</w:style>', styles, re.DOTALL)
    assert note is not None
    assert 'w:fill="EEF5FC"' in note.group(0) and 'w:color="0B5CAD"' in note.group(0)


def test_docx_cell_options_as_in_html(fixture_docx: Docx) -> None:
    text = fixture_docx.text()
    assert "This report covers North, wave 1." in text
    assert "HIDDEN-CELL-OUTPUT" not in text and "SUPPRESSED-WARNING" not in text
    assert "UserWarning: SHOWN-WARNING" in text
    assert "largest share: 0.625" in text
    assert "asis item from markdown" in text


# --------------------------------------------------------------------------------------------
# PDF
# --------------------------------------------------------------------------------------------


def _structure(pdf: Path) -> tuple[list[str], list[tuple[str, str]]]:
    """The PDF's structure tags in order, and (tag, alt text) of tagged elements with one."""
    from pypdf import PdfReader
    from pypdf.generic import ArrayObject, DictionaryObject

    tags: list[str] = []
    alts: list[tuple[str, str]] = []

    def walk(node: Any) -> None:
        node = node.get_object() if hasattr(node, "get_object") else node
        if isinstance(node, ArrayObject):
            for kid in node:
                walk(kid)
        elif isinstance(node, DictionaryObject):
            if "/S" in node:
                tags.append(str(node["/S"]))
            if "/Alt" in node:
                alts.append((str(node.get("/S")), str(node["/Alt"])))
            if "/K" in node:
                walk(node["/K"])

    reader = PdfReader(pdf)
    walk(reader.trailer["/Root"]["/StructTreeRoot"])
    return tags, alts


def test_pdf_text_has_the_same_content(fixture_pdf: Path) -> None:
    text = pdf_text(fixture_pdf)
    lines = text.splitlines()
    assert lines[:4] == ["Partner contact: reach", "Test report", "Evaluation team", "2024-05-01"]
    flat_text = flat(text)
    for expected in (
        "This report covers North, wave 1. Services reached 32 women in total (see Figure 1 and Table 1).",
        "About these numbers Counts below 5 are suppressed before publication.",
        "Provisional Figures are provisional until wave 2.",
        "Figure 1: Women reached by service",
        "Table 1: Women reached, by service",
        "North 12 South 20",
        "Table 2: Women by service, as a pipe table service women North 12",
        "Figure 2: A printed figure",
        "largest share: 0.625",
        "UserWarning: SHOWN-WARNING",
    ):
        assert expected in flat_text, expected
    assert "HIDDEN-CELL-OUTPUT" not in flat_text and "SUPPRESSED-WARNING" not in flat_text


def test_pdf_is_tagged_with_headings_tables_and_figure_alt_text(fixture_pdf: Path) -> None:
    from pypdf import PdfReader

    reader = PdfReader(fixture_pdf)
    assert [item.title for item in reader.outline] == ["Reach", "Tables"]
    assert reader.metadata is not None and reader.metadata.title == "Partner contact: reach"
    tags, alts = _structure(fixture_pdf)
    assert tags.count("/Title") == 1 and tags.count("/H2") == 2 and tags.count("/Table") == 2
    assert alts == [
        ("/Figure", "Bar chart of women reached: North 12, South 20."),
        ("/Figure", "A falling line."),
    ]


def test_pdf_and_docx_are_the_same_bytes_for_the_same_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    document = parse_qmd(FIXTURES / "report.qmd")
    markdown = (
        "---\ntitle: Same\n---\n\n# One {#sec-one}\n\n![A dot](data:image/png;base64,"
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==)"
        '{#fig-dot fig-alt="One dot."}\n\nSee @fig-dot and @sec-one.\n'
    )
    for fmt in ("docx", "pdf"):
        first, second = tmp_path / f"a.{fmt}", tmp_path / f"b.{fmt}"
        WRITERS[fmt](document, markdown, first)
        WRITERS[fmt](document, markdown, second)
        assert first.read_bytes() == second.read_bytes(), fmt
    with zipfile.ZipFile(tmp_path / "a.docx") as docx:
        document_xml = docx.read("word/document.xml").decode("utf-8")
        # No clock time anywhere (two renders within one second would hide one).
        assert {entry.date_time for entry in docx.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        assert "1980-01-01T00:00:00Z" in docx.read("docProps/core.xml").decode("utf-8")
    # Images are files in the package, never data URIs in the document's XML.
    assert "data:image" not in document_xml
    assert 'descr="One dot."' in document_xml


def test_bad_raw_typst_is_a_report_error(tmp_path: Path) -> None:
    qmd = tmp_path / "doc.qmd"
    qmd.write_text("Text.\n\n```{=typst}\n#undefined-function()\n```\n", encoding="utf-8")
    with pytest.raises(ReportError, match="Typst could not make the PDF") as caught:
        render_report(qmd, output_dir=tmp_path / "out", fmt="pdf", engine="embedded")
    assert caught.value.file == str(qmd)
    assert list((tmp_path / "out").iterdir()) == []


# --------------------------------------------------------------------------------------------
# The evaluation report's great_tables tables in Word and PDF
# --------------------------------------------------------------------------------------------


def test_great_tables_become_word_tables(rendered: Callable[[str], Path], evaluation: Project) -> None:
    docx = read_docx(rendered("docx"))
    assert docx.table_captions[0].startswith("Table 1: Reach by service")
    assert docx.table_captions[1].startswith("Table 2: Felt safety before and after")
    reach = docx.tables[0]
    assert reach[0] == ["", "Women (n)", "Estimate", "95% CI"]
    labels = list(load_results(evaluation.results).indicator_labels("q01_reach").values())
    # Row groups: a row whose one cell spans the table.
    assert [row[0] for row in reach if len(row) == 1] == labels
    everyone = reach[2]
    assert everyone[0] == "All services" and re.fullmatch(r"\d+% to \d+%", everyone[3])
    with zipfile.ZipFile(rendered("docx")) as archive:
        xml = archive.read("word/document.xml").decode("utf-8")
    assert "<w:tblHeader" in xml  # the header row repeats on every page
    assert "gt_table" not in xml and "<style" not in xml


def test_great_tables_become_typst_tables(rendered: Callable[[str], Path]) -> None:
    tags, _ = _structure(rendered("pdf"))
    # every table of the report is a tagged table of the PDF: as many as the HTML has
    html = rendered("html").read_text(encoding="utf-8")
    assert tags.count("/Table") == html.count("<table") >= 2
    text = flat(pdf_text(rendered("pdf")))
    assert "Table 1: Reach by service" in text and "Women (n) Estimate 95% CI" in text


# --------------------------------------------------------------------------------------------
# Word styles
# --------------------------------------------------------------------------------------------

# The order the Office Open XML schema gives the children of each element pceval writes in its
# styles; Word reports a document whose styles break it as damaged.
_SCHEMA_ORDER = {
    "style": "name aliases basedOn next link autoRedefine hidden uiPriority semiHidden "
    "unhideWhenUsed qFormat locked personal personalCompose personalReply rsid pPr rPr tblPr "
    "trPr tcPr tblStylePr",
    "pPr": "pStyle keepNext keepLines pageBreakBefore framePr widowControl numPr "
    "suppressLineNumbers pBdr shd tabs suppressAutoHyphens kinsoku wordWrap overflowPunct "
    "topLinePunct autoSpaceDE autoSpaceDN bidi adjustRightInd snapToGrid spacing ind "
    "contextualSpacing mirrorIndents suppressOverlap jc textDirection textAlignment "
    "textboxTightWrap outlineLvl divId cnfStyle rPr sectPr pPrChange",
    "rPr": "rStyle rFonts b bCs i iCs caps smallCaps strike dstrike outline shadow emboss "
    "imprint noProof snapToGrid vanish webHidden color spacing w kern position sz szCs highlight "
    "u effect bdr shd fitText vertAlign rtl cs em lang eastAsianLayout specVanish oMath",
    "tblPr": "tblStyle tblpPr tblOverlap bidiVisual tblStyleRowBandSize tblStyleColBandSize tblW "
    "jc tblCellSpacing tblInd tblBorders shd tblLayout tblCellMar tblLook",
    "tblBorders": "top left start bottom right end insideH insideV",
    "tcPr": "cnfStyle tcW gridSpan hMerge vMerge tcBorders shd noWrap tcMar textDirection "
    "tcFitText vAlign hideMark",
    "tblStylePr": "pPr rPr tblPr trPr tcPr",
}


def test_reference_docx_styles_follow_the_schema(tmp_path: Path) -> None:
    import pypandoc

    reference = reference_docx(pypandoc.get_pandoc_path(), tmp_path)
    with zipfile.ZipFile(reference) as archive:
        styles = ElementTree.fromstring(archive.read("word/styles.xml"))
    namespace = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
    ids = [style.get(f"{namespace}styleId") for style in styles.iter(f"{namespace}style")]
    assert len(ids) == len(set(ids))  # each style once: replaced, not added beside pandoc's
    assert {"CalloutNote", "CalloutImportantTitle", "Table", "Heading1", "Title"} <= set(ids)
    for style in styles.iter(f"{namespace}style"):
        for element in style.iter():
            tag = element.tag.removeprefix(namespace)
            if tag in _SCHEMA_ORDER:
                order = _SCHEMA_ORDER[tag].split()
                children = [child.tag.removeprefix(namespace) for child in element]
                positions = [order.index(child) for child in children]
                assert positions == sorted(positions), (style.get(f"{namespace}styleId"), tag)
    sizes = styles.find(f"{namespace}docDefaults/{namespace}rPrDefault/{namespace}rPr/{namespace}sz")
    assert sizes is not None and sizes.get(f"{namespace}val") == "22"  # 11 pt body text


# --------------------------------------------------------------------------------------------
# One palette in every format
# --------------------------------------------------------------------------------------------


def test_html_docx_and_pdf_use_the_same_colours() -> None:
    css = (ASSETS / "report.css").read_text(encoding="utf-8")
    typst = (ASSETS / "report.typst").read_text(encoding="utf-8")
    variables = {
        name: value.upper() for name, value in re.findall(r"--([\w-]+):\s*#([0-9a-fA-F]{6})", css)
    }
    assert COLOURS["text"] == variables["text"] == "1F2328"
    for name in ("muted", "rule", "stripe", "link"):
        assert COLOURS[name] == variables[name], name
    for kind, (colour, background) in CALLOUT_COLOURS.items():
        assert variables[kind.lower()] == colour and variables[f"{kind.lower()}-bg"] == background
        assert f'{kind.lower()}: (rgb("#{colour.lower()}"), rgb("#{background.lower()}"))' in typst
    for name, typst_name in (("text", "text-colour"), ("muted", "muted"), ("link", "link-colour")):
        assert f'#let {typst_name} = rgb("#{COLOURS[name].lower()}")' in typst


# --------------------------------------------------------------------------------------------
# Service reports
# --------------------------------------------------------------------------------------------


def test_service_reports_one_per_service(evaluation: Project) -> None:
    paths = render_services(evaluation, ["S02", "S03"], fmt="docx")
    assert [p.name for p in paths] == ["service-S02.docx", "service-S03.docx"]
    results = load_results(evaluation.results).frame
    for path, service in zip(paths, ["S02", "S03"], strict=True):
        docx = read_docx(path)
        assert _styled(docx, "Heading1") == [f"Service {service}"]
        reached = results[
            (results["question"] == "q01_reach") & (results["indicator"] == "reached")
            & (results["group"] == service)
        ].iloc[0]
        assert f"Of the {int(reached['n']):,} women this service identified" in docx.text()
        assert docx.table_captions == [
            "Table 1: Reach: women identified (n), share and 95% Wilson interval, "
            + "for this service and all services."
        ]
        # This service beside all services, and no other service.
        assert {row[0] for row in docx.tables[0] if len(row) > 1} == {"", "All services", service}


def test_service_reports_check_the_service(evaluation: Project) -> None:
    with pytest.raises(ReportError, match=r"no service 'S99' in this evaluation \(its services: S01"):
        render_services(evaluation, ["S99"])


def test_service_report_needs_service_qmd(
    evaluation: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(type(evaluation), "folder", lambda self, name: tmp_path)
    with pytest.raises(ReportError, match="the reports folder has no service report") as caught:
        render_services(evaluation, ["S01"])
    assert caught.value.file == str(tmp_path / "service.qmd")


def test_cli_service_and_all_services(evaluation: Project) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["report", str(evaluation.root), "--all-services"])
    assert result.exit_code == 0, result.output
    services = [service.id for service in evaluation.config.services]
    assert result.output.splitlines() == [
        f"report: {evaluation.reports_out / f'service-{service}.html'}" for service in services
    ]
    one = runner.invoke(app, ["report", str(evaluation.root), "--service", "S04", "--format", "pdf"])
    assert one.output.splitlines() == [f"report: {evaluation.reports_out / 'service-S04.pdf'}"]
    assert "Service S04" in pdf_text(evaluation.reports_out / "service-S04.pdf")
    both = runner.invoke(app, ["report", str(evaluation.root), "--service", "S01", "--all-services"])
    assert both.exit_code != 0
    assert isinstance(both.exception, ReportError)
    assert "cannot be used together" in str(both.exception)


def test_results_are_read_once_and_again_when_they_change(tmp_path: Path) -> None:
    from pceval.results import result_frame

    result_frame([{"question": "q", "indicator": "x", "statistic": "proportion", "n": 10,
                   "estimate": 0.5}]).to_parquet(tmp_path / "results.parquet")
    (tmp_path / "plan.json").write_text('{"questions": []}', encoding="utf-8")
    first, second = load_results(tmp_path), load_results(tmp_path)
    assert first.frame is not second.frame and first.frame.equals(second.frame)
    first.frame.loc[0, "estimate"] = 0.9  # a report changing its copy changes no other
    assert float(load_results(tmp_path).frame.loc[0, "estimate"]) == 0.5
    result_frame([{"question": "q", "indicator": "x", "statistic": "proportion", "n": 10,
                   "estimate": 0.25}, {"question": "q", "indicator": "y", "statistic": "proportion",
                   "n": 10, "estimate": 0.75}]).to_parquet(tmp_path / "results.parquet")
    assert len(load_results(tmp_path).frame) == 2
