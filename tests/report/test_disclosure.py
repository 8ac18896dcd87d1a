"""Nothing that identifies a woman, and no withheld value, in a rendered report, in any format.

The small synthetic evaluation's report is rendered to HTML, DOCX and PDF, and the text of
each (with image alt text) is read back as a reader would get it:

- no identifier the generator planted in the raw exports (``truth/canaries.json``: names,
  phone numbers, emails, addresses, dates of birth, IP addresses, locations) appears;
- every result row that disclosure control suppressed shows the marker "n.p." in its table
  row, not a number, in every format.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from report_text import contains_word, docx_text, flat, html_text, pdf_text

from pceval.project import Project
from pceval.report.data import load_results
from pceval.report.tables import NOT_PUBLISHED, fmt_int

FORMATS = ("html", "docx", "pdf")
_READERS = {"html": html_text, "docx": docx_text, "pdf": pdf_text}


@pytest.fixture(scope="module")
def texts(rendered: Callable[[str], Path]) -> dict[str, str]:
    return {fmt: _READERS[fmt](rendered(fmt)) for fmt in FORMATS}


@pytest.fixture(scope="module")
def suppressed(evaluation: Project) -> pd.DataFrame:
    results = pd.read_parquet(evaluation.results / "results.parquet")
    rows = results[results["suppressed"].astype(bool)]
    assert len(rows) > 0, "the evaluation should have withheld values to check"
    return rows


def test_every_format_has_the_report_text(texts: dict[str, str]) -> None:
    for fmt, text in texts.items():
        assert "Partner contact evaluation" in text, fmt
        assert "Table 1: Reach by service" in flat(text), fmt
        assert "Getting support" in text, fmt


@pytest.mark.parametrize("fmt", FORMATS)
def test_no_canary_identifier_appears(evaluation: Project, texts: dict[str, str], fmt: str) -> None:
    canaries = json.loads((evaluation.root / "truth" / "canaries.json").read_text(encoding="utf-8"))
    values = {c["value"] for c in canaries["canaries"]}
    assert len(values) > 500
    text = texts[fmt]
    assert [value for value in sorted(values) if contains_word(text, value)] == []


def _proportion_segment(text: str, labels: list[str], indicator: str) -> str:
    """The rows of one indicator in the reach table: from its row-group label to the next."""
    start = text.index(labels[labels.index(indicator)])
    following = [text.index(label, start) for label in labels[labels.index(indicator) + 1 :]]
    end = min(following, default=text.index("Reading the reach figures", start))
    return text[start:end]


@pytest.mark.parametrize("fmt", FORMATS)
def test_suppressed_proportions_show_the_marker(
    evaluation: Project, suppressed: pd.DataFrame, texts: dict[str, str], fmt: str
) -> None:
    text = flat(texts[fmt])
    table = text[text.index("Table 1: Reach by service") :]
    labels = load_results(evaluation.results).indicator_labels("q01_reach")
    rows = suppressed[
        (suppressed["question"] == "q01_reach") & (suppressed["breakdown"] == "service")
    ]
    assert len(rows) >= 3
    for row in rows.itertuples():
        segment = _proportion_segment(table, list(labels.values()), labels[row.indicator])
        # group, women (n), estimate, interval: the last two withheld
        expected = f"{row.group} {fmt_int(row.n)} {NOT_PUBLISHED} {NOT_PUBLISHED}"
        assert expected in segment, (fmt, row.indicator, row.group)


@pytest.mark.parametrize("fmt", FORMATS)
def test_suppressed_changes_show_the_marker(
    suppressed: pd.DataFrame, texts: dict[str, str], fmt: str
) -> None:
    text = flat(texts[fmt])
    table = text[text.index("Table 2: Felt safety before and after") :]
    rows = suppressed[(suppressed["question"] == "q08_safety") & (suppressed["breakdown"] == "service")]
    assert rows["group"].nunique() >= 1
    for group, statistics in rows.groupby("group"):
        # a group whose every statistic is withheld: Before, After, Change and Effect size
        if set(statistics["statistic"]) >= {"mean_pre", "mean_post", "mean_change", "effect_size_dz"}:
            n = statistics.loc[statistics["statistic"] == "mean_change", "n"].iloc[0]
            expected = f"{group} {fmt_int(n)} " + " ".join([NOT_PUBLISHED] * 4)
            assert expected in table, (fmt, group)


def test_withheld_values_are_missing_in_results(suppressed: pd.DataFrame) -> None:
    # What the reports show as n.p. is not in the results to begin with.
    for column in ("numerator", "estimate", "ci_low", "ci_high"):
        assert suppressed[column].isna().all(), column
