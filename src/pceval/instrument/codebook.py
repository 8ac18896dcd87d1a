"""The codebook: one self-contained, accessible HTML document describing every instrument.

For each instrument: its title, version, respondent and waves; a table of its items (question
text, type, choices with their codes, missing codes with labels and kinds, when it is asked in
plain words, sensitivity, outcome domains with their names, National Outcome Standards tags);
its scales (items, reverse keys, method, minimum valid items, bands, and reliability when
given); and, when de-identified data are given, each item's distribution and its missingness by
reason.

Privacy. Values of identifiers, contact-safety details and free text are never shown, even when
the data frame given wrongly still holds them: only how many rows answered. Text items of any
sensitivity show only counts, never values; quasi-identifiers that are numbers show no minimum
or maximum (a single extreme value can identify someone). Counts from 1 to ``min_cell - 1``
(1 to 4 by default) are shown as "n.p." (not published, AIHW practice), and when exactly one
count of an item's table would be hidden the next smallest is hidden too (consequential
suppression), so no hidden count can be worked out from the total.

The document is one file: inline CSS, no scripts, no external resources or links, ``lang`` set,
headings in order (h1 document, h2 instrument, h3 section, h4 item), every table with a caption
and ``<th scope>`` headers. It contains no timestamp, so the same inputs give the same bytes.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from pceval.errors import ReportError
from pceval.partition import factorize_text, partition
from pceval.instrument.load import load_catalogue
from pceval.instrument.model import (
    Code,
    DomainCatalogue,
    Instrument,
    Item,
    ItemType,
    Scale,
    Sensitivity,
    multi_column,
    text_in,
)
from pceval.instrument.script import describe_expression
from pceval.io import write_text

__all__ = ["NOT_PUBLISHED", "codebook_html", "write_codebook"]

NOT_PUBLISHED = "n.p."
MISSING_FRAME_COLUMNS = ("instrument", "row", "field", "reason")
#: Items whose values are never shown.
HIDDEN_SENSITIVITIES = frozenset({Sensitivity.DIRECT_IDENTIFIER, Sensitivity.CONTACT_SAFETY,
                                  Sensitivity.FREE_TEXT})

_REASON_WORDS = {
    "skipped_by_logic": "skipped by the survey's routing",
    "prefer_not_to_say": "prefer not to say",
    "dont_know": "don't know",
    "not_applicable": "does not apply",
    "platform_missing_code": "platform's missing-data code",
    "invalid_value_removed": "invalid value removed in cleaning",
    "not_reached": "not reached (response not completed)",
    "missing": "left blank",
}

_CSS = """\
body { font-family: system-ui, -apple-system, "Segoe UI", Arial, sans-serif; margin: 0;
       line-height: 1.45; color: #1a1a1a; background: #fff; }
header, nav, main { max-width: 80em; margin: 0 auto; padding: 0 1em; }
h1 { font-size: 1.8em; margin: 1em 0 0.2em; }
h2 { border-bottom: 2px solid #36454f; padding-bottom: 0.2em; margin-top: 2.2em; }
h3 { margin-top: 1.8em; }
h4 { margin: 1.4em 0 0.4em; font-size: 1em; }
table { border-collapse: collapse; margin: 0.5em 0 1em; font-size: 0.92em; }
caption { text-align: left; font-weight: 600; padding: 0.3em 0; }
th, td { border: 1px solid #b8b8b8; padding: 0.3em 0.5em; vertical-align: top; text-align: left; }
thead th { background: #e8edf1; }
tbody th { background: #f6f8fa; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
ul.codes { list-style: none; margin: 0; padding: 0; }
code { font-family: ui-monospace, "Cascadia Mono", Consolas, monospace; font-size: 0.95em; }
.kind, .note { color: #4a4a4a; font-size: 0.9em; }
.scroll { overflow-x: auto; }
table.items td:nth-of-type(1) { min-width: 18em; }
table.items td:nth-of-type(2), table.items td:nth-of-type(4) { min-width: 9em; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 0.2em 1em; }
dl.meta dt { font-weight: 600; } dl.meta dd { margin: 0; }
a { color: #0b4f8a; }
@media print { .scroll { overflow: visible; } h2 { break-before: page; } }
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _code_text(code: object) -> str:
    if isinstance(code, float) and code.is_integer():
        return str(int(code))
    return str(code)


def _anchor(*parts: str) -> str:
    return "-".join(parts)


# --------------------------------------------------------------------------------------------
# Suppression
# --------------------------------------------------------------------------------------------


def _suppress(counts: Sequence[int], *, min_cell: int, additive: bool) -> list[str]:
    """Counts as text: 1 to ``min_cell - 1`` as n.p.; when ``additive`` and exactly one is
    hidden, the next smallest non-zero count is hidden too (consequential suppression)."""
    hidden = [1 <= c < min_cell for c in counts]
    if additive and sum(hidden) == 1:
        others = [(c, n) for n, c in enumerate(counts) if c > 0 and not hidden[n]]
        if others:
            hidden[min(others)[1]] = True
    return [NOT_PUBLISHED if h else str(c) for c, h in zip(counts, hidden, strict=True)]


def _count(value: int, min_cell: int) -> str:
    return NOT_PUBLISHED if 1 <= value < min_cell else str(value)


# --------------------------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------------------------


def codebook_html(
    instruments: Instrument | Iterable[Instrument] | Mapping[str, Instrument],
    *,
    catalogue: DomainCatalogue | str | Path | None = None,
    data: Mapping[str, pd.DataFrame] | None = None,
    missing: pd.DataFrame | None = None,
    reliability: pd.DataFrame | None = None,
    min_cell: int = 5,
    title: str = "Codebook",
    lang: str = "en",
) -> str:
    """The codebook of one or more instruments as one self-contained HTML document.

    Parameters
    ----------
    instruments : Instrument, iterable or mapping of Instrument
        The instruments to document, in the order given.
    catalogue : DomainCatalogue, str or Path, optional
        Names the outcome domains; the shipped catalogue by default.
    data : mapping of str to DataFrame, optional
        De-identified record-level data per instrument id (the clean zone: one column per
        item, one per choice of a multiple-choice item). Adds each item's distribution.
    missing : DataFrame, optional
        Missing reasons, columns ``instrument, row, field, reason`` (what cleaning writes).
        Adds missingness by reason; rows are counted once per item.
    reliability : DataFrame, optional
        One row per scale and statistic: ``scale`` and ``estimate``, optionally ``instrument``
        (when scale ids repeat across instruments), ``statistic`` (e.g. ``cronbach_alpha``),
        ``ci_low``, ``ci_high`` and ``n``. Shown in the scales table.
    min_cell : int
        Counts from 1 to ``min_cell - 1`` are shown as "n.p." (default 5).
    title : str
        The document title.
    lang : str
        Language of item texts (and the document's ``lang``).

    Returns
    -------
    str
        The HTML document.

    Raises
    ------
    ReportError
        If ``missing`` or ``reliability`` lacks a required column.

    Examples
    --------
    >>> from pceval.instrument import load_instrument
    >>> page = codebook_html(load_instrument("womens_survey"))
    >>> page.startswith("<!DOCTYPE html>") and 'lang="en"' in page and "fs_home" in page
    True
    """
    if isinstance(instruments, Instrument):
        chosen = [instruments]
    elif isinstance(instruments, Mapping):
        chosen = list(instruments.values())
    else:
        chosen = list(instruments)
    resolved = catalogue if isinstance(catalogue, DomainCatalogue) else load_catalogue(catalogue)
    if missing is not None:
        _require(missing, ("instrument", "field", "reason"), "missing")
    if reliability is not None:
        _require(reliability, ("scale", "estimate"), "reliability")
    data = data or {}
    out = [
        "<!DOCTYPE html>",
        f'<html lang="{_e(lang)}">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title>",
        f"<style>\n{_CSS}</style>",
        "</head>",
        "<body>",
        "<header>",
        f"<h1>{_e(title)}</h1>",
        f"<p>{len(chosen)} instrument{'s' if len(chosen) != 1 else ''}. Counts from 1 to "
        f"{min_cell - 1} are shown as {NOT_PUBLISHED} (not published); values of identifiers "
        "and free text are never shown.</p>",
        "</header>",
        '<nav aria-label="Contents">',
        "<h2>Contents</h2>",
        "<ul>",
    ]
    for inst in chosen:
        out.append(f'<li><a href="#{_e(inst.id)}">{_e(text_in(inst.title, lang))}</a> '
                   f"(<code>{_e(inst.id)}</code>)</li>")
    out += ["</ul>", "</nav>", "<main>"]
    parts = partition(missing, "instrument") if missing is not None else {}
    for inst in chosen:
        frame = data.get(inst.id)
        reasons = None
        if missing is not None:
            reasons = parts.get(inst.id, missing.iloc[:0])
        scale_reliability = None
        if reliability is not None:
            scale_reliability = reliability
            if "instrument" in reliability.columns:
                scale_reliability = reliability[
                    reliability["instrument"].astype("string").fillna(inst.id) == inst.id]
        out += _instrument_section(inst, resolved, frame, reasons, scale_reliability,
                                   min_cell=min_cell, lang=lang)
    out += ["</main>", "</body>", "</html>", ""]
    return "\n".join(out)


def write_codebook(path: str | Path, instruments: Instrument | Iterable[Instrument]
                   | Mapping[str, Instrument], **options: object) -> Path:
    """Write :func:`codebook_html` to ``path`` atomically; options as for it.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from pceval.instrument import load_instruments
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "codebook.html"
    >>> write_codebook(target, load_instruments()).name
    'codebook.html'
    """
    return write_text(path, codebook_html(instruments, **options))  # type: ignore[arg-type]


def _require(frame: pd.DataFrame, columns: Iterable[str], name: str) -> None:
    absent = [c for c in columns if c not in frame.columns]
    if absent:
        raise ReportError(f"the {name} frame has no column {', '.join(absent)}; it has "
                          f"{', '.join(map(str, frame.columns)) or 'none'}",
                          fix=f"pass a {name} frame with columns {', '.join(columns)}")


# --------------------------------------------------------------------------------------------
# One instrument
# --------------------------------------------------------------------------------------------


def _instrument_section(inst: Instrument, catalogue: DomainCatalogue,
                        frame: pd.DataFrame | None, reasons: pd.DataFrame | None,
                        reliability: pd.DataFrame | None, *, min_cell: int,
                        lang: str) -> list[str]:
    sid = _e(inst.id)
    out = [f'<section id="{sid}" aria-labelledby="{sid}-title">',
           f'<h2 id="{sid}-title">{_e(text_in(inst.title, lang))} '
           f"(<code>{sid}</code>)</h2>",
           '<dl class="meta">',
           f"<dt>Version</dt><dd>{_e(inst.version)}</dd>",
           f"<dt>Respondent</dt><dd>{_e(inst.respondent)}</dd>",
           f"<dt>Waves</dt><dd>{_e(', '.join(inst.waves) or 'none (asked once)')}</dd>",
           f"<dt>Unit</dt><dd>one row per {_e(inst.unit)}</dd>",
           f"<dt>Languages</dt><dd>{_e(', '.join(inst.languages))}</dd>"]
    description = text_in(inst.description, lang)
    if description:
        out.append(f"<dt>Description</dt><dd>{_e(description)}</dd>")
    if inst.support_services:
        out.append("<dt>Support services</dt><dd>"
                   + "; ".join(_e(s) for s in inst.support_services) + "</dd>")
    if frame is not None:
        out.append(f"<dt>Rows in the data</dt><dd>{_count(len(frame), min_cell)}</dd>")
    out.append("</dl>")
    out += _items_table(inst, catalogue, lang)
    if inst.scales:
        out += _scales_table(inst, catalogue, reliability, lang, min_cell)
    if frame is not None:
        out += _distributions(inst, frame, reasons, min_cell=min_cell, lang=lang)
    out.append("</section>")
    return out


def _items_table(inst: Instrument, catalogue: DomainCatalogue, lang: str) -> list[str]:
    sid = _e(inst.id)
    headers = ["Item", "Question", "Type", "Choices (code: label)", "Missing codes",
               "Asked when", "Sensitivity", "Domains", "NOS"]
    out = [f'<h3 id="{sid}-items">Items</h3>', '<div class="scroll">', '<table class="items">',
           f"<caption>Items of {_e(text_in(inst.title, lang))} ({sid}), in the order asked"
           "</caption>", "<thead><tr>"]
    out += [f'<th scope="col">{_e(h)}</th>' for h in headers]
    out += ["</tr></thead>", "<tbody>"]
    numbers = {item.id: item.id for item in inst.items}
    for item in inst.items:
        question = _e(text_in(item.label, lang))
        hint = text_in(item.hint, lang)
        if hint:
            question += f'<br><span class="note">{_e(hint)}</span>'
        if item.type == ItemType.CALCULATED and item.calculation:
            question += (f'<br><span class="note">calculated: '
                         f"<code>{_e(item.calculation)}</code></span>")
        cells = [
            question,
            _type_cell(item),
            _code_list([(c.code, text_in(c.label, lang), None) for c in inst.choices_of(item)]),
            _code_list([(m.code, text_in(m.label, lang), m.kind.value)
                        for m in inst.missing_of(item)]),
            _asked_when(inst, item, numbers, lang),
            _e(item.sensitivity.value.replace("_", " ")),
            _domains(item.domains, catalogue),
            _e(", ".join(item.nos)),
        ]
        out.append(f'<tr id="{sid}-{_e(item.id)}"><th scope="row"><code>{_e(item.id)}</code></th>'
                   + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    out += ["</tbody>", "</table>", "</div>"]
    return out


def _type_cell(item: Item) -> str:
    parts = [_e(item.type.value.replace("_", " "))]
    c = item.constraint
    if c is not None:
        if c.min is not None and c.max is not None:
            parts.append(f"{c.min:g} to {c.max:g}")
        elif c.min is not None:
            parts.append(f"at least {c.min:g}")
        elif c.max is not None:
            parts.append(f"at most {c.max:g}")
        if c.pattern:
            parts.append(f"pattern <code>{_e(c.pattern)}</code>")
    if item.required:
        parts.append("required")
    if item.role is not None:
        parts.append(f"role: {_e(item.role.value.replace('_', ' '))}")
    if item.group:
        parts.append(f"group: {_e(item.group)}")
    return "<br>".join(parts)


def _code_list(entries: Sequence[tuple[Code, str, str | None]]) -> str:
    if not entries:
        return ""
    items = []
    for code, label, kind in entries:
        text = f"<code>{_e(_code_text(code))}</code>: {_e(label)}"
        if kind:
            text += f' <span class="kind">({_e(kind.replace("_", " "))})</span>'
        items.append(f"<li>{text}</li>")
    return '<ul class="codes">' + "".join(items) + "</ul>"


def _asked_when(inst: Instrument, item: Item, numbers: Mapping[str, str], lang: str) -> str:
    parts = []
    if item.relevance:
        parts.append("if " + _e(describe_expression(item.relevance, inst, numbers=numbers,
                                                    lang=lang)))
    if item.waves:
        parts.append(f"at waves {_e(', '.join(item.waves))}")
    if item.type == ItemType.CALCULATED:
        parts.append("computed, not asked")
    return "; ".join(parts) or "always"


def _domains(ids: Iterable[str], catalogue: DomainCatalogue) -> str:
    names = {d.id: d.name for d in catalogue.domains}
    return "<br>".join(f"{_e(d)} {_e(names[d])}" if d in names else _e(d) for d in ids)


def _scales_table(inst: Instrument, catalogue: DomainCatalogue,
                  reliability: pd.DataFrame | None, lang: str, min_cell: int) -> list[str]:
    sid = _e(inst.id)
    headers = ["Scale", "Label", "Items", "Reverse-keyed", "Method", "Minimum valid items",
               "Bands", "Domains"]
    if reliability is not None:
        headers.append("Reliability")
    out = [f'<h3 id="{sid}-scales">Scales</h3>', '<div class="scroll">', "<table>",
           f"<caption>Scales of {sid}</caption>", "<thead><tr>"]
    out += [f'<th scope="col">{_e(h)}</th>' for h in headers]
    out += ["</tr></thead>", "<tbody>"]
    for scale in inst.scales:
        method = scale.method.replace("_", " ")
        if scale.multiplier != 1:
            method += f", × {scale.multiplier:g}"
        method += "; higher is better" if scale.higher_is_better else "; higher is worse"
        if scale.screen_uniform:
            method += "; uniform response sets screened out"
        if scale.rule:
            method += f"; built-in scoring rule {scale.rule}"
        cells = [
            _e(text_in(scale.label, lang)),
            ", ".join(f"<code>{_e(i)}</code>" for i in scale.items),
            ", ".join(f"<code>{_e(i)}</code>" for i in scale.reverse) or "none",
            _e(method),
            _e(scale.min_valid if scale.min_valid is not None else "all"),
            "<br>".join(f"{_e(b.label)}: {b.min:g} to {b.max:g}" for b in scale.bands)
            or "none",
            _domains(scale.domains, catalogue),
        ]
        if reliability is not None:
            cells.append(_reliability_cell(scale, reliability, min_cell))
        out.append(f'<tr><th scope="row"><code>{_e(scale.id)}</code></th>'
                   + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    out += ["</tbody>", "</table>", "</div>"]
    return out


def _number(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or pd.isna(value):
        return ""
    if isinstance(value, int | float):
        return f"{value:.2f}" if not float(value).is_integer() else f"{value:g}"
    return _e(value)


def _reliability_cell(scale: Scale, reliability: pd.DataFrame, min_cell: int) -> str:
    rows = reliability[reliability["scale"].astype("string") == scale.id]
    if rows.empty:
        return "not given"
    parts = []
    for row in rows.to_dict("records"):
        name = str(row.get("statistic") or "estimate").replace("_", " ")
        n = row.get("n")
        if n is not None and not pd.isna(n) and 1 <= int(n) < min_cell:
            parts.append(f"{_e(name)} {NOT_PUBLISHED}")
            continue
        text = f"{_e(name)} {_number(row['estimate'])}"
        low, high = row.get("ci_low"), row.get("ci_high")
        if low is not None and high is not None and not pd.isna(low) and not pd.isna(high):
            text += f" (95% CI {_number(low)} to {_number(high)})"
        if n is not None and not pd.isna(n):
            text += f", n = {int(n)}"
        parts.append(text)
    return "<br>".join(parts)


# --------------------------------------------------------------------------------------------
# Distributions
# --------------------------------------------------------------------------------------------


def _key(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _keys(values: pd.Series) -> pd.Series:
    """:func:`_key` of every value, computed once per distinct value (a column has few)."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    keys = np.array([_key(u) for u in uniques] + [""], dtype=object)
    return pd.Series(keys[codes], index=values.index, dtype=object)


def _item_columns(inst: Instrument, item: Item) -> list[str]:
    if item.is_multiple:
        return [multi_column(item.id, c.code) for c in inst.choices_of(item)]
    return [item.id]


def _distributions(inst: Instrument, frame: pd.DataFrame, reasons: pd.DataFrame | None, *,
                   min_cell: int, lang: str) -> list[str]:
    sid = _e(inst.id)
    out = [f'<h3 id="{sid}-answers">Answers in the data</h3>',
           f"<p>{_count(len(frame), min_cell)} rows. Counts from 1 to {min_cell - 1} are shown "
           f"as {NOT_PUBLISHED}, with one more count hidden where needed so none can be worked "
           "out from the total.</p>"]
    counted = _reason_counts(inst, frame, reasons) if reasons is not None else None
    for item in inst.data_items():
        columns = [c for c in _item_columns(inst, item) if c in frame.columns]
        out.append(f'<h4 id="{sid}-{_e(item.id)}-answers"><code>{_e(item.id)}</code> '
                   f"{_e(_short(text_in(item.label, lang)))}</h4>")
        if not columns:
            out.append('<p class="note">Not in the data.</p>')
            continue
        rows = _item_rows(inst, item, frame, columns, lang)
        mine = None if counted is None else counted.get(item.id, {})
        missing_rows = _reason_rows(item, mine, frame, columns)
        out += _distribution_table(inst, item, rows, missing_rows, min_cell=min_cell)
    return out


def _short(text: str, width: int = 90) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _item_rows(inst: Instrument, item: Item, frame: pd.DataFrame, columns: list[str],
               lang: str) -> list[tuple[str, str, object]]:
    """Rows ``(value, label, count or statistic)`` describing the answers given."""
    missing_codes = {_key(m.code): m for m in inst.missing_of(item)}
    if item.sensitivity in HIDDEN_SENSITIVITIES:
        answered = int(np.logical_or.reduce([frame[c].notna().to_numpy() for c in columns]).sum())
        return [("", f"answered (values not shown: {item.sensitivity.value.replace('_', ' ')})",
                 answered)]
    if item.is_multiple:
        out = []
        for choice, column in zip(inst.choices_of(item), _item_columns(inst, item), strict=True):
            if column in columns:
                ticked = int(pd.to_numeric(frame[column], errors="coerce").eq(1).sum())
                out.append((_code_text(choice.code), text_in(choice.label, lang), ticked))
        return out
    present = frame[item.id].dropna()
    if item.is_choice:
        keys = _keys(present)
        counts = keys.value_counts()
        out = [(_code_text(c.code), text_in(c.label, lang), int(counts.get(_key(c.code), 0)))
               for c in inst.choices_of(item)]
        known = {_key(c.code) for c in inst.choices_of(item)}
        for key, m in missing_codes.items():
            if counts.get(key, 0):
                out.append((key, f"{text_in(m.label, lang)} ({m.kind.value.replace('_', ' ')})",
                            int(counts[key])))
        stray = int(sum(v for k, v in counts.items() if k not in known | set(missing_codes)))
        if stray:
            out.append(("", "other values (not in the choice list)", stray))
        return out
    keys = _keys(present) if missing_codes else None
    coded = keys.isin(list(missing_codes)) if keys is not None else \
        pd.Series(False, index=present.index)
    out: list[tuple[str, str, object]] = []
    for key, m in missing_codes.items():
        n = int(keys[coded].eq(key).sum())  # type: ignore[index]
        if n:
            out.append((key, f"{text_in(m.label, lang)} ({m.kind.value.replace('_', ' ')})", n))
    answers = present[~coded]
    quasi = item.sensitivity == Sensitivity.QUASI_IDENTIFIER
    if item.type in {ItemType.INTEGER, ItemType.DECIMAL, ItemType.CALCULATED}:
        numbers = pd.to_numeric(answers, errors="coerce").dropna().astype(float)
        stats: list[tuple[str, str, object]] = [("", "answered", int(len(numbers)))]
        stats.append(("", "median", ("stat", numbers.median() if len(numbers) else None,
                                     len(numbers))))
        if not quasi:
            stats.insert(1, ("", "minimum", ("stat", numbers.min() if len(numbers) else None,
                                             len(numbers))))
            stats.append(("", "maximum", ("stat", numbers.max() if len(numbers) else None,
                                          len(numbers))))
        return stats + out
    if item.type == ItemType.DATE:
        dates = pd.to_datetime(answers, errors="coerce").dropna()
        stats = [("", "answered", int(len(dates)))]
        if not quasi:
            stats.append(("", "earliest", ("stat", dates.min().date().isoformat()
                                           if len(dates) else None, len(dates))))
            stats.append(("", "latest", ("stat", dates.max().date().isoformat()
                                         if len(dates) else None, len(dates))))
        return stats + out
    # text of any other sensitivity: counts only, never values
    return [("", "answered (text values not shown)", int(len(answers))),
            ("", "distinct answers", ("stat", int(answers.nunique()), len(answers))), *out]


def _reason_counts(inst: Instrument, frame: pd.DataFrame,
                   reasons: pd.DataFrame) -> dict[str, dict[str, int]]:
    """Blank rows of each item by reason: item → {reason: rows}, reasons sorted.

    One pass over the reasons log (a row per blank cell: tens of millions at national scale)
    instead of a filter per item. A row with several blank indicator columns of one
    multiple-choice item counts once per reason; without a ``row`` column, log rows are counted.
    """
    item_of = {column: item.id for item in inst.data_items()
               for column in _item_columns(inst, item) if column in frame.columns}
    items = sorted(set(item_of.values()))
    # fields and reasons as codes: the log's rows are counted as integers, not strings
    field_codes, fields = factorize_text(reasons["field"])
    item_code = np.array([items.index(item_of[f]) if f in item_of else -1 for f in fields] + [-1],
                         dtype=np.int64)[field_codes]  # a missing field (code -1) maps to -1
    reason_codes, reason_names = factorize_text(reasons["reason"])
    keep = (item_code >= 0) & (reason_codes >= 0)
    n_reasons = max(len(reason_names), 1)
    pair = item_code * n_reasons + reason_codes
    if "row" in reasons.columns:
        # a row counts once per item and reason, however many of its columns are blank
        rows = pd.to_numeric(reasons["row"], errors="coerce").astype("Float64")
        keep &= rows.notna().to_numpy()
        row_codes, row_values = pd.factorize(rows.to_numpy(dtype="float64", na_value=np.nan)[keep])
        span = max(len(row_values), 1)
        pair = _distinct(pair[keep] * span + row_codes)[0] // span
    else:
        pair = pair[keep]
    pairs, sizes = _distinct(pair)
    out: dict[str, dict[str, int]] = {}
    for key, n in zip(pairs.tolist(), sizes.tolist(), strict=True):
        out.setdefault(items[key // n_reasons], {})[str(reason_names[key % n_reasons])] = int(n)
    return {item: dict(sorted(counts.items())) for item, counts in sorted(out.items())}


def _distinct(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct integers and how often each occurs.

    ``np.unique`` does this too, but in NumPy 2.4 it took 3.8 s on 3.7 million integers that
    sorting handles in 0.2 s.

    Examples
    --------
    >>> [a.tolist() for a in _distinct(np.array([5, 1, 5, 3, 1, 5]))]
    [[1, 3, 5], [2, 1, 3]]
    """
    ordered = np.sort(values, kind="stable")
    if not len(ordered):
        return ordered, np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    return ordered[starts], np.diff(np.r_[starts, len(ordered)])


def _reason_rows(item: Item, reasons: dict[str, int] | None, frame: pd.DataFrame,
                 columns: list[str]) -> list[tuple[str, str, object]]:
    """Rows ``(reason, label, count)`` of blanks by reason (rows counted once per item)."""
    if item.is_multiple:
        blank = int(np.logical_and.reduce([frame[c].isna().to_numpy() for c in columns]).sum())
    else:
        blank = int(frame[item.id].isna().sum())
    out: list[tuple[str, str, object]] = []
    explained = 0
    if reasons is not None:
        for reason, n in sorted(reasons.items()):
            explained += n
            words = _REASON_WORDS.get(reason, reason.replace("_", " "))
            out.append((reason, f"missing: {words}", n))
    if blank > explained:
        label = "blank, no reason recorded" if reasons is not None else "blank"
        out.append(("", label, blank - explained))
    return out


def _distribution_table(inst: Instrument, item: Item, rows: list[tuple[str, str, object]],
                        missing_rows: list[tuple[str, str, object]], *,
                        min_cell: int) -> list[str]:
    every = rows + missing_rows
    positions = [n for n, r in enumerate(every) if isinstance(r[2], int)]
    # counts of a single-answer item partition its rows, so a hidden one could be recovered
    additive = not item.is_multiple and (item.is_choice or bool(missing_rows))
    texts = _suppress([every[n][2] for n in positions], min_cell=min_cell, additive=additive)
    count_text = dict(zip(positions, texts, strict=True))
    out = ["<table>", f"<caption>Answers to {_e(item.id)}</caption>",
           '<thead><tr><th scope="col">Answer</th><th scope="col">Code</th>'
           '<th scope="col">Count</th></tr></thead>', "<tbody>"]
    for n, (value, label, count) in enumerate(every):
        if n in count_text:
            text = count_text[n]
        else:
            _, stat, contributors = count
            text = NOT_PUBLISHED if contributors < min_cell or stat is None else _number(stat)
        code_cell = f"<code>{_e(value)}</code>" if value else ""
        out.append(f'<tr><th scope="row">{_e(label)}</th><td>{code_cell}</td>'
                   f'<td class="num">{_e(text)}</td></tr>')
    out += ["</tbody>", "</table>"]
    return out
