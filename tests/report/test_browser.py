"""The rendered evaluation report in a real browser (headless Chromium).

The HTML report of a small synthetic evaluation is rendered once per session and opened in
Chromium through the DevTools protocol; the tests read the page as the browser built it:
console messages, loaded images, headings, tables, figures, links, and the contrast of every
piece of text against what is behind it. Screenshots are kept as test artefacts (copied to
$PCEVAL_ARTEFACTS when that is set).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from cdp_pipe import Chromium, Page

from pceval.project import Project
from pceval.report.theme import contrast_ratio

_STRUCTURE = """
(() => {
  const text = e => e ? e.textContent.replace(/\\s+/g, " ").trim() : null;
  return {
    images: [...document.images].map(i => ({
      alt: i.getAttribute("alt"), complete: i.complete, width: i.naturalWidth,
      height: i.naturalHeight, inFigure: !!i.closest("figure"),
    })),
    headings: [...document.querySelectorAll("h1, h2, h3, h4, h5, h6")].map(h => ({
      level: Number(h.tagName[1]), text: text(h),
    })),
    tables: [...document.querySelectorAll("table")].map(t => {
      const float = t.closest("[role=group][aria-labelledby]");
      const label = float && document.getElementById(float.getAttribute("aria-labelledby"));
      return {caption: t.caption ? text(t.caption) : text(label), rows: t.rows.length,
              id: float ? float.id : null};
    }),
    figures: [...document.querySelectorAll("figure")].map(f => ({
      id: f.id, caption: text(f.querySelector("figcaption")),
      alt: f.querySelector("img") && f.querySelector("img").getAttribute("alt"),
    })),
    links: [...document.querySelectorAll("a[href^='#']")].map(a => ({
      text: text(a), target: a.getAttribute("href").slice(1),
      found: !!document.getElementById(decodeURIComponent(a.getAttribute("href").slice(1))),
    })),
    lang: document.documentElement.lang,
    title: document.title,
  };
})()
"""

# Every visible piece of text: its colour and the colour behind it, with semi-transparent
# backgrounds composited over what is under them (the canvas is white).
_COLOURS = """
(() => {
  const rgba = c => {
    const m = c.match(/rgba?\\(([^)]+)\\)/);
    const p = m[1].split(/[\\s,\\/]+/).filter(Boolean).map(Number);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  };
  const over = (top, under) => top.slice(0, 3).map((v, i) => v * top[3] + under[i] * (1 - top[3]));
  const behind = element => {
    const layers = [];
    for (let e = element; e; e = e.parentElement) {
      const colour = rgba(getComputedStyle(e).backgroundColor);
      if (colour[3] > 0) { layers.push(colour); if (colour[3] >= 1) break; }
    }
    return layers.reverse().reduce((under, top) => over(top, under), [255, 255, 255]);
  };
  const found = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const element = node.parentElement;
    if (!node.textContent.trim() || element.closest("style, script")) continue;
    const style = getComputedStyle(element);
    const box = element.getBoundingClientRect();
    if (style.visibility !== "visible" || box.width === 0 || box.height === 0) continue;
    const background = behind(element);
    found.push({
      text: node.textContent.trim().slice(0, 40), tag: element.tagName,
      foreground: over(rgba(style.color), background), background: background,
    });
  }
  return found;
})()
"""


def _hex(rgb: list[float]) -> str:
    return "#" + "".join(f"{round(channel):02X}" for channel in rgb)


@pytest.fixture(scope="module")
def page(rendered: Callable[[str], Path], chromium: Chromium, artefacts: Path) -> Page:
    html = rendered("html")
    opened = chromium.open(html.resolve().as_uri())
    opened.screenshot(artefacts / "evaluation-desktop.png")
    return opened


@pytest.fixture(scope="module")
def structure(page: Page) -> dict[str, Any]:
    return page.evaluate(_STRUCTURE)


def test_no_console_errors_or_warnings(page: Page) -> None:
    assert page.console_problems() == []


def test_every_image_loaded_and_has_alt_text(structure: dict[str, Any]) -> None:
    images = structure["images"]
    # a figure for each analysis the plan asks one of, at least one per question
    assert len(images) >= 30
    for image in images:
        assert image["complete"] and image["width"] > 500 and image["height"] > 200, image
        assert image["inFigure"]
        assert image["alt"] and len(image["alt"]) > 40, image


def test_headings_in_order_without_skipped_levels(structure: dict[str, Any], evaluation: Project) -> None:
    headings = structure["headings"]
    top = [h["text"] for h in headings if h["level"] == 1]
    assert top[0] == "Partner contact evaluation"
    assert top[1:4] == ["About this report", "Headline results by service", "Methods"]
    assert {"Findings by evaluation question", "Standards scorecard", "Services compared",
            "Limitations", "Getting support"} <= set(top)
    # every evaluation question of the plan has its section, in plan order
    plan = json.loads((evaluation.results / "plan.json").read_text(encoding="utf-8"))
    titles = [q["title"] for q in plan["questions"] if q["id"].startswith("q") and q["number"] <= 14]
    second = iter(h["text"] for h in headings if h["level"] == 2)
    assert all(title in second for title in titles)  # each found after the one before
    levels = [h["level"] for h in headings]
    assert levels[0] == 1
    assert all(after <= before + 1 for before, after in itertools.pairwise(levels))


def test_tables_have_numbered_captions(structure: dict[str, Any], evaluation: Project) -> None:
    tables = structure["tables"]
    assert [(t["id"], t["caption"].split(":")[0]) for t in tables[:2]] == [
        ("tbl-reach", "Table 1"),
        ("tbl-safety", "Table 2"),
    ]
    assert [t["caption"].split(":")[0] for t in tables] == [f"Table {n}" for n in range(1, len(tables) + 1)]
    assert tables[0]["caption"].startswith("Table 1: Reach by service")
    assert tables[1]["caption"].startswith("Table 2: Felt safety before and after")
    results = pd.read_parquet(evaluation.results / "results.parquet")
    reach = results[(results["question"] == "q01_reach") & (results["breakdown"] == "service")]
    groups, indicators = reach["group"].nunique(), reach["indicator"].nunique()
    # header, then per indicator: its row-group row, All services and one row per group
    assert tables[0]["rows"] == 1 + indicators * (2 + groups)


def test_figures_have_captions_and_alt_text_that_differ(
    structure: dict[str, Any], evaluation: Project
) -> None:
    figures = structure["figures"]
    ids = [f["id"] for f in figures]
    assert ids[0] == "fig-q01-reach-main" and "fig-q08-safety-main" in ids
    assert [f["caption"].split(":")[0] for f in figures] == [f"Figure {n}" for n in range(1, len(figures) + 1)]
    safety = figures[ids.index("fig-q08-safety-main")]
    assert "Mean felt safety at baseline and followup" in safety["caption"]
    for figure in figures:
        # The alt text describes the data; the caption says what the figure is.
        assert figure["alt"] and figure["alt"] not in figure["caption"]
    services = len(evaluation.config.services)
    assert figures[0]["alt"].startswith(f"Share offered by service, {services} services: overall")


def test_links_within_the_page_reach_their_targets(structure: dict[str, Any]) -> None:
    links = structure["links"]
    assert {link["text"] for link in links} >= {"Figure 1", "Figure 2", "Table 1", "Table 2"}
    assert [link for link in links if not link["found"]] == []
    assert structure["lang"] == "en"
    assert structure["title"] == "Partner contact evaluation"


def test_text_contrast_meets_wcag_aa(page: Page) -> None:
    texts = page.evaluate(_COLOURS)
    assert len(texts) > 100
    ratios = [
        (round(contrast_ratio(_hex(t["foreground"]), _hex(t["background"])), 2), t["tag"], t["text"])
        for t in texts
    ]
    assert [r for r in ratios if r[0] < 4.5] == []
    # Body text is the theme's near-black on white.
    body = page.evaluate(
        "[getComputedStyle(document.body).color, getComputedStyle(document.body).backgroundColor]"
    )
    assert body == ["rgb(31, 35, 40)", "rgb(255, 255, 255)"]
    assert round(contrast_ratio("#1F2328", "#FFFFFF"), 1) == 15.8


def test_reflows_on_a_phone_without_sideways_scrolling(
    rendered: Callable[[str], Path], chromium: Chromium, artefacts: Path
) -> None:
    phone = chromium.open(rendered("html").resolve().as_uri(), width=390, height=844)
    phone.screenshot(artefacts / "evaluation-phone.png")
    widths = phone.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1]
    assert phone.console_problems() == []


def test_screenshots_are_kept(page: Page, artefacts: Path) -> None:
    shot = artefacts / "evaluation-desktop.png"
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert width == 1280 and height > 2000  # the whole page, not only the window
