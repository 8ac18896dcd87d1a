"""Reports: render pceval's Quarto documents (with Quarto when installed, else embedded)."""

from __future__ import annotations

from pceval.report.render import (
    CodeCell,
    MarkdownBlock,
    QmdDocument,
    ReportFormat,
    parse_qmd,
    quarto_available,
    render_many,
    render_report,
)

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
