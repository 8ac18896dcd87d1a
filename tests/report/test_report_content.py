"""What the reports say: a section per plan question, alt text on every figure, numbers that
are the result tables' numbers, and service reports that name their service and withhold what
disclosure control withheld.

Uses the session's synthetic evaluation and its rendered HTML report (conftest.py).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from pceval.project import Project
from pceval.report import narrative, sections
from pceval.report.data import load_results
from pceval.report.services import render_services
from pceval.report.tables import NOT_PUBLISHED, fmt_int, fmt_pct, interval, pick
from pceval.results import result_frame


class _Page(HTMLParser):
    """Headings (level, id, text), images (alt) and the visible text of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.headings: list[tuple[int, str | None, str]] = []
        self.images: list[dict[str, str | None]] = []
        self.figures = 0
        self.text: list[str] = []
        self._heading: tuple[int, str | None] | None = None
        self._buffer: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag in ("style", "script"):
            self._skip += 1
        if re.fullmatch(r"h[1-6]", tag):
            self._heading, self._buffer = (int(tag[1]), values.get("id")), []
        if tag == "img":
            self.images.append(values)
        if tag == "figure":
            self.figures += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script"):
            self._skip -= 1
        if self._heading and re.fullmatch(r"h[1-6]", tag):
            level, ident = self._heading
            self.headings.append((level, ident, " ".join("".join(self._buffer).split())))
            self._heading = None

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        self.text.append(data)
        if self._heading:
            self._buffer.append(data)


def _page(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def _flat(text: str) -> str:
    # pandoc sets typographic apostrophes and quotes
    text = html.unescape(text).replace("\u2019", "'").replace("\u2018", "'")
    return " ".join(text.replace("\u201c", '"').replace("\u201d", '"').split())


@pytest.fixture(scope="module")
def page(rendered: Callable[[str], Path]) -> _Page:
    return _page(rendered("html"))


@pytest.fixture(scope="module")
def text(page: _Page) -> str:
    return _flat(" ".join(page.text))


# --------------------------------------------------------------------------------------------
# The evaluation report
# --------------------------------------------------------------------------------------------


def test_a_section_per_plan_question_in_plan_order(page: _Page, evaluation: Project) -> None:
    results = load_results(evaluation.results)
    numbered = [q for q in results.plan["questions"] if q.get("number")]
    assert len(numbered) >= 15
    found = []
    for question in numbered:
        ident = f"sec-{sections.slug(question['id'])}"
        matches = [h for h in page.headings if h[1] == ident]
        assert matches, f"no section for {question['id']}"
        _, _, heading = matches[0]
        if question["id"] != "q15_scorecard":
            assert heading == question["title"], question["id"]
        found.append(page.headings.index(matches[0]))
    assert found == sorted(found), "questions are not in plan order"
    titles = [h[2] for h in page.headings if h[0] == 1]
    for section in ("Methods", "Standards scorecard", "Services compared", "Limitations",
                    "Appendix A: Data quality", "Appendix C: Reliability", "Getting support"):
        assert section in titles


def test_each_question_shows_its_question_text(text: str, evaluation: Project) -> None:
    for question in load_results(evaluation.results).plan["questions"][:14]:
        assert _flat(question["question"]) in text, question["id"]


def test_every_figure_has_a_caption_and_alt_text(page: _Page, rendered: Callable[[str], Path]) -> None:
    assert len(page.images) >= 30
    assert page.figures == len(page.images)
    for image in page.images:
        assert image.get("alt") and len(image["alt"]) > 20, image.get("alt")
    source = rendered("html").read_text(encoding="utf-8")
    captions = re.findall(r"<figcaption[^>]*>(.*?)</figcaption>", source, re.DOTALL)
    assert len(captions) == len(page.images)
    assert all(re.match(r"\s*Figure \d+:", re.sub("<[^>]+>", "", c)) for c in captions)


def test_headline_numbers_are_the_result_tables_numbers(text: str, evaluation: Project) -> None:
    frame = load_results(evaluation.results).frame
    reached = pick(frame, question="q01_reach", indicator="reached", statistic="proportion")
    headline = narrative.reach_headline(frame)
    assert _flat(headline.text) in text and "Headline(" not in text
    assert f"of the {fmt_int(reached['n'])} women identified" in headline.text
    assert interval(reached) in headline.text and fmt_pct(reached["estimate"]) in headline.text
    change = pick(frame, question="q08_safety", indicator="felt_safety", statistic="mean_change")
    safety = narrative.safety_headline(frame)
    assert _flat(safety.text) in text
    expected = f"{float(change['estimate']):+.2f}" if not change["suppressed"] else NOT_PUBLISHED
    assert expected in safety.text
    for make in (narrative.timeliness_headline, narrative.his_status_headline,
                 narrative.equity_headline):
        assert _flat(make(frame).text) in text


def test_disclosure_rules_are_read_from_the_plan(text: str, evaluation: Project) -> None:
    rules = load_results(evaluation.results).plan["disclosure"]
    assert f"a count under {rules['min_cell']} is suppressed" in text
    assert f"a denominator under {rules['min_denominator']}" in text


def test_every_result_row_belongs_to_one_analysis(evaluation: Project) -> None:
    results = load_results(evaluation.results)
    for qid, question in results.questions.items():
        rows = sections.question_rows(results.frame, qid)
        parts = [sections.analysis_rows(results.frame, question, a) for a in question["analyses"]]
        indices = [i for part in parts for i in part.index]
        assert sorted(indices) == sorted(rows.index), qid


# --------------------------------------------------------------------------------------------
# Service reports
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def service_pages(evaluation: Project) -> dict[str, str]:
    services = [s.id for s in evaluation.config.services]
    paths = render_services(evaluation, services, fmt="html")
    return {s: _flat(" ".join(_page(p).text)) for s, p in zip(services, paths, strict=True)}


def test_service_report_names_its_service_and_no_other(service_pages: dict[str, str]) -> None:
    for service, page_text in service_pages.items():
        assert f"Service {service}" in page_text
        assert "1800RESPECT" in page_text


def test_service_report_withholds_what_results_withhold(
    service_pages: dict[str, str], evaluation: Project
) -> None:
    frame = load_results(evaluation.results).frame
    reach = frame[(frame["question"] == "q01_reach") & (frame["breakdown"] == "service")]
    withheld = reach[reach["suppressed"].astype(bool)]
    checked = 0
    for row in withheld.itertuples():
        if row.group not in service_pages:
            continue
        page_text = service_pages[row.group]
        assert f"{row.group} {fmt_int(row.n)} {NOT_PUBLISHED} {NOT_PUBLISHED}" in page_text
        checked += 1
    pooled = [s for s in service_pages if s not in set(reach["group"])]
    for service in pooled:
        assert "reported with other small services" in service_pages[service]
        assert "own indicators are not published" in service_pages[service]
        checked += 1
    assert checked > 0, "the small evaluation should withhold something in a service report"


def test_service_indicators_match_results(service_pages: dict[str, str], evaluation: Project) -> None:
    frame = load_results(evaluation.results).frame
    for service, page_text in service_pages.items():
        reached = pick(frame, question="q01_reach", indicator="reached", statistic="proportion",
                       breakdown="service", group=service)
        if reached is None:
            continue
        assert f"this service {interval(reached)}" in page_text
        row = pick(frame, question="service_comparison", indicator="reached",
                   statistic="proportion", breakdown="service", group=service)
        if row is not None and narrative.published(row):
            assert narrative.funnel_words(row["note"]) in page_text


# --------------------------------------------------------------------------------------------
# Sentences and formatting (no rendering)
# --------------------------------------------------------------------------------------------


def test_withheld_values_are_never_in_a_sentence() -> None:
    rows = result_frame([
        {"question": "q08_safety", "indicator": "felt_safety", "statistic": "mean_change",
         "n": 40, "suppressed": True, "note": "n.p."},
        {"question": "q06_equity", "indicator": "reached", "breakdown": "atsi", "group": "yes",
         "statistic": "adjusted_difference", "n": 3, "suppressed": True},
        {"question": "q06_equity", "indicator": "reached", "breakdown": "cald", "group": "yes",
         "statistic": "adjusted_difference", "n": 80, "estimate": -0.12, "ci_low": -0.2, "ci_high": -0.04},
    ])
    assert "not published" in narrative.safety_headline(rows).text
    equity = narrative.equity_headline(rows).text
    assert "lower for culturally and linguistically diverse women (-12 points" in equity
    assert "Aboriginal and Torres Strait Islander women is not published" in equity


@pytest.mark.parametrize(("note", "words"), [
    ("funnel: within 95% limits", "within the range expected by chance"),
    ("funnel: outside 99.8% limits (above)", "above the 99.8% limit"),
    ("funnel: between 95% and 99.8% limits (below)", "below the 95% limit"),
    (None, "not published"),
])
def test_funnel_flags_in_words(note: str | None, words: str) -> None:
    assert narrative.funnel_words(note).startswith(words)


def test_tables_show_np_for_withheld_rows() -> None:
    rows = result_frame([
        {"question": "q", "indicator": "x", "statistic": "proportion", "n": 100, "estimate": 0.5,
         "ci_low": 0.4, "ci_high": 0.6},
        {"question": "q", "indicator": "x", "statistic": "proportion", "breakdown": "service",
         "group": "S1", "n": 12, "suppressed": True},
        {"question": "q", "indicator": "x", "statistic": "proportion", "breakdown": "service",
         "group": "S2", "n": 88, "estimate": 0.52, "ci_low": 0.4, "ci_high": 0.6},
    ])
    table = sections.breakdown_table(rows, {"x": "Reached"}, "service", table_id="t")
    markup = table.as_raw_html()
    assert markup.count(NOT_PUBLISHED) == 2 and "52%" in markup
    block = sections.table_block(table, label="tbl-x", caption="Reach.")
    assert block.startswith('::: {#tbl-x .table-float role="group" aria-labelledby="caption-tbl-x"}')


def test_women_counts_hide_small_numbers_and_their_complements() -> None:
    assert [sections.women_count(n, t) for n, t in [(4, 100), (97, 100), (50, 100), (0, 100)]] == [
        NOT_PUBLISHED, NOT_PUBLISHED, "50", "0"]
    assert pd.isna(pd.NA) and sections.women_count(pd.NA) == NOT_PUBLISHED
