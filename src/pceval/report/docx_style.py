"""The Word styles of pceval's DOCX reports: pandoc's reference document, restyled.

pandoc takes its paragraph, table and caption styles from a *reference document*. pceval
builds its own from the one the installed pandoc ships (``--print-default-data-file
reference.docx``), replacing a few styles in ``word/styles.xml``, rather than keeping a binary
``.docx`` in the package: it then always matches the pandoc that writes the report.

The colours are those of the HTML stylesheet (``assets/report.css``), so a report looks alike
in every format: near-black body text, blue headings, grey captions, tables ruled above and
below with a heavier rule under the header row and light stripes, and callouts as tinted
paragraphs with a coloured rule on the left (styles "Callout Note", "Callout Note Title" and
likewise for Tip, Warning, Caution and Important, used by ``assets/docx.lua``).
"""

from __future__ import annotations

import re
import subprocess
import zipfile
from pathlib import Path

from pceval.errors import ReportError

__all__ = ["CALLOUT_COLOURS", "COLOURS", "reference_docx", "restyle"]

#: Colours (``RRGGBB``) shared with report.css.
COLOURS = {
    "text": "1F2328",
    "muted": "57606A",
    "rule": "D0D7DE",
    "stripe": "F6F8FA",
    "link": "0A58CA",
    "heading": "0B5CAD",
}

#: Callout kind: (rule and title colour, background), as in report.css.
CALLOUT_COLOURS = {
    "Note": ("0B5CAD", "EEF5FC"),
    "Tip": ("1A7F37", "EEF8F0"),
    "Warning": ("9A6700", "FFF8E5"),
    "Caution": ("BC4C00", "FFF3EB"),
    "Important": ("CF222E", "FFF0F0"),
}

_W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'


def _heading(level: int, size: int, before: int) -> str:
    return f"""<w:style w:type="paragraph" w:styleId="Heading{level}">
    <w:name w:val="heading {level}"/><w:basedOn w:val="Normal"/><w:next w:val="BodyText"/>
    <w:link w:val="Heading{level}Char"/><w:uiPriority w:val="9"/><w:qFormat/>
    <w:pPr><w:keepNext/><w:keepLines/><w:spacing w:before="{before}" w:after="120"/>
      <w:outlineLvl w:val="{level - 1}"/></w:pPr>
    <w:rPr><w:rFonts w:asciiTheme="majorHAnsi" w:hAnsiTheme="majorHAnsi" w:eastAsiaTheme="majorEastAsia"
      w:cstheme="majorBidi"/><w:b/><w:bCs/><w:color w:val="{COLOURS['heading']}"/>
      <w:sz w:val="{size}"/><w:szCs w:val="{size}"/></w:rPr>
  </w:style>"""


def _callouts() -> list[str]:
    styles = []
    for name, (colour, background) in CALLOUT_COLOURS.items():
        # Neighbouring paragraphs with the same border and shading form one box in Word.
        # (Children of w:pPr and w:rPr are in the schema's order: Word rejects other orders.)
        styles.append(
            f"""<w:style w:type="paragraph" w:customStyle="1" w:styleId="Callout{name}">
    <w:name w:val="Callout {name}"/><w:basedOn w:val="BodyText"/><w:qFormat/>
    <w:pPr>
      <w:pBdr><w:left w:val="single" w:sz="24" w:space="8" w:color="{colour}"/></w:pBdr>
      <w:shd w:val="clear" w:color="auto" w:fill="{background}"/>
      <w:spacing w:before="0" w:after="0"/><w:ind w:left="240" w:right="120"/>
    </w:pPr>
  </w:style>"""
        )
        styles.append(
            f"""<w:style w:type="paragraph" w:customStyle="1" w:styleId="Callout{name}Title">
    <w:name w:val="Callout {name} Title"/><w:basedOn w:val="Callout{name}"/>
    <w:next w:val="Callout{name}"/><w:qFormat/>
    <w:pPr><w:keepNext/><w:spacing w:before="240" w:after="60"/></w:pPr>
    <w:rPr><w:b/><w:bCs/><w:color w:val="{colour}"/></w:rPr>
  </w:style>"""
        )
    return styles


def _styles() -> dict[str, str]:
    """pceval's styles by style id."""
    caption_run = (
        f'<w:rPr><w:i w:val="0"/><w:color w:val="{COLOURS["muted"]}"/>'
        '<w:sz w:val="20"/><w:szCs w:val="20"/></w:rPr>'
    )
    rule = f'w:val="single" w:sz="4" w:space="0" w:color="{COLOURS["rule"]}"'
    strong = f'w:val="single" w:sz="8" w:space="0" w:color="{COLOURS["text"]}"'
    styles = [
        f"""<w:style w:type="paragraph" w:default="1" w:styleId="Normal">
    <w:name w:val="Normal"/><w:qFormat/>
    <w:rPr><w:color w:val="{COLOURS['text']}"/></w:rPr>
  </w:style>""",
        f"""<w:style w:type="paragraph" w:styleId="Title">
    <w:name w:val="Title"/><w:basedOn w:val="Normal"/><w:next w:val="BodyText"/>
    <w:link w:val="TitleChar"/><w:uiPriority w:val="10"/><w:qFormat/>
    <w:pPr>
      <w:pBdr><w:bottom w:val="single" w:sz="8" w:space="6" w:color="{COLOURS['heading']}"/></w:pBdr>
      <w:spacing w:before="0" w:after="80"/>
    </w:pPr>
    <w:rPr><w:rFonts w:asciiTheme="majorHAnsi" w:hAnsiTheme="majorHAnsi" w:eastAsiaTheme="majorEastAsia"
      w:cstheme="majorBidi"/><w:b/><w:bCs/><w:sz w:val="44"/><w:szCs w:val="44"/></w:rPr>
  </w:style>""",
        f"""<w:style w:type="paragraph" w:styleId="Subtitle">
    <w:name w:val="Subtitle"/><w:basedOn w:val="Title"/><w:next w:val="BodyText"/>
    <w:link w:val="SubtitleChar"/><w:uiPriority w:val="11"/><w:qFormat/>
    <w:pPr><w:pBdr/><w:spacing w:before="120" w:after="240"/></w:pPr>
    <w:rPr><w:b w:val="0"/><w:bCs w:val="0"/><w:color w:val="{COLOURS['muted']}"/>
      <w:sz w:val="28"/><w:szCs w:val="28"/></w:rPr>
  </w:style>""",
        _heading(1, 32, 480),
        _heading(2, 26, 360),
        _heading(3, 23, 240),
        f"""<w:style w:type="paragraph" w:styleId="Caption">
    <w:name w:val="Caption"/><w:basedOn w:val="Normal"/>
    <w:pPr><w:spacing w:before="60" w:after="200"/></w:pPr>{caption_run}
  </w:style>""",
        """<w:style w:type="paragraph" w:customStyle="1" w:styleId="TableCaption">
    <w:name w:val="Table Caption"/><w:basedOn w:val="Caption"/>
    <w:pPr><w:keepNext/><w:spacing w:before="240" w:after="80"/></w:pPr>
  </w:style>""",
        f"""<w:style w:type="character" w:styleId="Hyperlink">
    <w:name w:val="Hyperlink"/><w:basedOn w:val="BodyTextChar"/>
    <w:rPr><w:color w:val="{COLOURS['link']}"/><w:u w:val="single"/></w:rPr>
  </w:style>""",
        f"""<w:style w:type="table" w:default="1" w:styleId="Table">
    <w:name w:val="Table"/><w:basedOn w:val="TableNormal"/><w:qFormat/>
    <w:pPr><w:spacing w:before="0" w:after="0"/></w:pPr>
    <w:rPr><w:sz w:val="20"/><w:szCs w:val="20"/></w:rPr>
    <w:tblPr>
      <w:tblInd w:w="0" w:type="dxa"/>
      <w:tblBorders><w:top {strong}/><w:bottom {strong}/><w:insideH {rule}/></w:tblBorders>
      <w:tblCellMar><w:top w:w="50" w:type="dxa"/><w:left w:w="108" w:type="dxa"/>
        <w:bottom w:w="50" w:type="dxa"/><w:right w:w="108" w:type="dxa"/></w:tblCellMar>
    </w:tblPr>
    <w:tblStylePr w:type="firstRow">
      <w:rPr><w:b/><w:bCs/></w:rPr>
      <w:tcPr><w:tcBorders><w:bottom {strong}/></w:tcBorders><w:vAlign w:val="bottom"/></w:tcPr>
    </w:tblStylePr>
    <w:tblStylePr w:type="band2Horz">
      <w:tcPr><w:shd w:val="clear" w:color="auto" w:fill="{COLOURS['stripe']}"/></w:tcPr>
    </w:tblStylePr>
  </w:style>""",
        *_callouts(),
    ]
    return {re.search(r'w:styleId="([^"]+)"', style).group(1): style for style in styles}


_STYLE = re.compile(r'<w:style\b[^>]*\bw:styleId="(?P<id>[^"]+)"[^>]*>.*?</w:style>', re.DOTALL)


def restyle(styles_xml: str) -> str:
    """Replace (or add) pceval's styles in a ``word/styles.xml``.

    Parameters
    ----------
    styles_xml : str
        The styles part of a reference document.

    Returns
    -------
    str
        The same part with pceval's Normal, Title, Subtitle, Heading 1-3, Caption, Table
        Caption, Hyperlink, Table and callout styles; every other style is kept.

    Examples
    --------
    >>> xml = ('<w:styles ' + _W + '><w:style w:type="paragraph" w:styleId="Heading1">'
    ...        '<w:name w:val="heading 1"/></w:style></w:styles>')
    >>> out = restyle(xml)
    >>> out.count('w:styleId="Heading1"'), 'w:color w:val="0B5CAD"' in out, "CalloutNoteTitle" in out
    (1, True, True)
    """
    ours = _styles()
    kept = _STYLE.sub(lambda match: "" if match["id"] in ours else match.group(0), styles_xml)
    if "</w:styles>" not in kept:
        raise ReportError("pandoc's reference document has no styles part that pceval can restyle")
    # Body text at 11 pt (pandoc's default is 12 pt).
    kept = re.sub(
        r"(<w:rPrDefault>.*?)<w:sz w:val=\"\d+\"\s*/>\s*<w:szCs w:val=\"\d+\"\s*/>",
        r'\1<w:sz w:val="22"/><w:szCs w:val="22"/>',
        kept,
        count=1,
        flags=re.DOTALL,
    )
    return kept.replace("</w:styles>", "\n  ".join(["", *ours.values()]) + "\n</w:styles>")


def reference_docx(pandoc: str, folder: Path) -> Path:
    """Write pceval's reference document into ``folder`` and return its path.

    Parameters
    ----------
    pandoc : str
        The pandoc executable (its default reference document is the starting point).
    folder : Path
        An existing folder, e.g. a temporary one.

    Returns
    -------
    Path
        ``folder / "reference.docx"``, for pandoc's ``--reference-doc``.

    Raises
    ------
    ReportError
        If pandoc cannot print its reference document.

    Examples
    --------
    >>> import pathlib, tempfile, zipfile, pypandoc
    >>> path = reference_docx(pypandoc.get_pandoc_path(), pathlib.Path(tempfile.mkdtemp()))
    >>> "Callout Warning" in zipfile.ZipFile(path).read("word/styles.xml").decode()
    True
    """
    completed = subprocess.run(
        [pandoc, "--print-default-data-file", "reference.docx"],
        capture_output=True,
        check=False,
    )
    if completed.returncode != 0:
        message = completed.stderr.decode("utf-8", errors="replace").strip()
        raise ReportError(f"pandoc could not print its reference document: {message}")
    source = folder / "pandoc-reference.docx"
    source.write_bytes(completed.stdout)
    target = folder / "reference.docx"
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(target, "w") as styled:
        for item in original.infolist():
            data = original.read(item)
            if item.filename == "word/styles.xml":
                data = restyle(data.decode("utf-8")).encode("utf-8")
            # pandoc stamps its reference document with the current time and copies the
            # stamps into every report: a fixed one keeps reports byte-identical.
            entry = zipfile.ZipInfo(item.filename, date_time=(1980, 1, 1, 0, 0, 0))
            entry.external_attr = item.external_attr
            styled.writestr(entry, data, compress_type=zipfile.ZIP_DEFLATED)
    return target
