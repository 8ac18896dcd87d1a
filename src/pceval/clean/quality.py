"""Data quality of a build: tidy tables, a validation report and a data-quality report.

:func:`quality_tables` turns what a build writes (row accounting, validation issues, quarantine,
missing reasons, the clean frames) into tidy frames: rows accounted for per file, quarantine
reasons, issues by code, missingness by reason, item completeness (domain D22, "% record fields
complete"), survey waves and retention (D22, "% women with baseline and follow-up") and linkage
of survey women to the partner contact record. The tables hold full counts: they stay in the
evaluation's build folder.

:func:`write_validation_report` lists every validation issue for whoever fixes the raw exports;
:func:`write_quality_report` summarises the tables for the evaluation team and may be shared
with a co-investigator, so a count of women from 1 to ``min_cell - 1`` (1 to 4 by default)
reads "n.p." (AIHW practice), and so does any figure that would reveal one (a complement, or a
share resting on it). Counts of rows, cells and issues describe the files, not people, and are
shown as they are.

Both documents are one self-contained HTML file each, in the codebook's style (inline CSS, no
scripts, no external resources, ``lang`` set, headings in order, a caption and ``<th scope>``
on every table, no timestamp, so the same inputs give the same bytes).

Privacy. The validation issues' ``value`` column is redacted upstream for identifiers and free
text; the report does not rely on it: a value is shown only for a field that an instrument
declares with a sensitivity other than identifier, contact-safety or free text, and never
without the instruments. Where a value is hidden, any copy of it in the message is masked too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from pceval.clean.log import ISSUE_COLUMNS, MISSING_COLUMNS, QUARANTINE_COLUMNS, REDACTED
from pceval.errors import ReportError
from pceval.instrument.codebook import _CSS, _REASON_WORDS, HIDDEN_SENSITIVITIES, NOT_PUBLISHED, _e
from pceval.instrument.model import Instrument, Item, ItemType, Role, multi_column, text_in
from pceval.io import write_text
from pceval.partition import factorize_text
from pceval.privacy.deidentify import PERSON_KEY

__all__ = [
    "QUALITY_TABLES",
    "quality_report_html",
    "quality_tables",
    "validation_report_html",
    "write_quality_report",
    "write_validation_report",
]

#: Names of the frames :func:`quality_tables` returns, in report order.
QUALITY_TABLES = ("instruments", "rows", "quarantine_reasons", "issues_by_code", "missingness",
                  "completeness", "waves", "linkage")
#: Missing reasons that are the respondent's answer (counted as ``declined`` in completeness).
DECLINED_REASONS = ("prefer_not_to_say", "dont_know", "not_applicable")

ISSUE_WORDS = {
    "out_of_range": "value outside the allowed range (removed)",
    "unknown_code": "code not in the item's choice list (removed)",
    "not_a_number": "not a number where a number was expected (removed)",
    "invalid_date": "not a valid date (removed)",
    "pattern_mismatch": "does not match the required pattern (removed)",
    "not_an_indicator": "choice column holding something other than 0 or 1 (removed)",
    "answered_though_hidden": "answered although the form's routing hid the question "
                              "(answer removed)",
    "required_blank": "required question shown but left blank",
    "unknown_woman": "survey response whose case number is not in the partner contact record",
    "wave_out_of_order": "survey wave dated before the woman's earlier wave",
}
#: Quarantine reasons in words: (one row, several rows).
QUARANTINE_WORDS = {
    "survey_preview": ("survey preview or test submission", "survey previews or test submissions"),
    "no_case_key": ("with no case number", "with no case number"),
    "unknown_service": ("naming a service not in the evaluation",
                        "naming a service not in the evaluation"),
    "unknown_wave": ("naming a wave not in the evaluation", "naming a wave not in the evaluation"),
    "duplicate_submission": ("duplicate submission", "duplicate submissions"),
    "shared_record_id": ("sharing its record id with another submission",
                         "sharing their record id with another submission"),
}

_EXTRA_CSS = """\
.summary { max-width: 60em; }
.warn { color: #8a1c1c; font-weight: 600; }
td.np { color: #4a4a4a; }
"""

_EMPTY_TYPES = {"row": "Int64"}
#: Instrument id → (title, plain name used in sentences).
Titles = Mapping[str, tuple[str, str]]
#: Instruments are named in sentences by who answers them (a women's survey carries a neutral
#: title for her safety, which would not tell a reader which data are meant).
_RESPONDENT_NAMES = {"woman": "women's survey", "record": "partner contact record",
                     "worker": "partner contact worker survey",
                     "facilitator": "facilitator survey"}


# --------------------------------------------------------------------------------------------
# Tidy tables
# --------------------------------------------------------------------------------------------


def quality_tables(
    *,
    manifest_rows: Mapping[str, Mapping[str, int]],
    issues: pd.DataFrame,
    quarantine: pd.DataFrame,
    missing: pd.DataFrame,
    clean: Mapping[str, pd.DataFrame],
    instruments: Mapping[str, Instrument],
) -> dict[str, pd.DataFrame]:
    """The data-quality tables of one build.

    Parameters
    ----------
    manifest_rows : mapping
        Per raw file, ``rows_in``, ``rows_kept`` and ``rows_quarantined`` (the manifest's
        ``rows``).
    issues : DataFrame
        Validation issues, columns ``code, severity, file, row, field, value, message``.
    quarantine : DataFrame
        Quarantined rows, columns ``instrument, file, row, reason, detail``.
    missing : DataFrame
        Missing reasons, columns ``instrument, row, field, reason`` (``row`` is ``_row``).
    clean : mapping of str to DataFrame
        De-identified data per instrument id (with ``_row``, ``_file``, ``_wave`` and the
        pseudonym ``pid`` where the instrument has them).
    instruments : mapping of str to Instrument
        The instruments, by id.

    Returns
    -------
    dict of str to DataFrame
        Keys :data:`QUALITY_TABLES`:

        ``instruments``
            ``instrument, title, name, respondent, unit, file, rows``: one row per instrument
            with data; ``name`` says who answers it (``women's survey``), ``rows`` are kept.
        ``rows``
            ``file, instrument, rows_in, rows_kept, rows_quarantined, quarantine_listed,
            balanced``: ``balanced`` is true when ``rows_in == rows_kept + rows_quarantined``
            and the quarantine lists exactly ``rows_quarantined`` rows of the file.
        ``quarantine_reasons``
            ``instrument, reason, rows``.
        ``issues_by_code``
            ``instrument, file, code, severity, field, rows, issues``: ``rows`` distinct rows
            with the issue, ``issues`` issue rows (a missing ``field`` is a row-level issue).
        ``missingness``
            ``instrument, field, reason, cells, rows, share_of_rows``: ``rows`` kept rows of
            the instrument.
        ``completeness``
            ``instrument, field, label, required, rows, shown, answered, declined,
            share_answered``: per item (for an instrument answered by a record, per required
            field), the rows where the item was shown (not skipped by the routing or its
            waves), the rows among those with an answer kept, those declined (prefer not to
            say, don't know, does not apply) and ``answered / shown``. The case number counts
            through its pseudonym; other identifiers are not in de-identified data and are left
            out.
        ``waves``
            ``instrument, measure, wave, women, denominator, share``: for each instrument
            answered by women in waves, ``measure`` is ``women`` (women with any response),
            ``at_wave`` (women with a response at ``wave``, out of all women) or ``retained``
            (women with a response at the first wave and at ``wave``, out of those at the first
            wave: the retention).
        ``linkage``
            ``instrument, record, women, linked, share_linked``: women of each women's
            instrument found (by pseudonym) in each record instrument.

    Raises
    ------
    ReportError
        An input frame lacks a column it needs.

    Examples
    --------
    >>> from pceval.instrument import load_instrument
    >>> inst = load_instrument("worker_survey")
    >>> clean = pd.DataFrame({"_row": [2, 3], "_file": "w.csv", "consent": [1, 1],
    ...                       "service_id": ["S01", "S01"], "caseload": [12, None]})
    >>> tables = quality_tables(
    ...     manifest_rows={"w.csv": {"rows_in": 3, "rows_kept": 2, "rows_quarantined": 1}},
    ...     issues=pd.DataFrame(), missing=pd.DataFrame(), clean={"worker_survey": clean},
    ...     quarantine=pd.DataFrame({"instrument": ["worker_survey"], "file": ["w.csv"],
    ...                              "row": [4], "reason": ["survey_preview"], "detail": [""]}),
    ...     instruments={"worker_survey": inst})
    >>> tables["rows"][["rows_in", "rows_kept", "rows_quarantined", "balanced"]].to_dict("records")
    [{'rows_in': 3, 'rows_kept': 2, 'rows_quarantined': 1, 'balanced': True}]
    >>> c = tables["completeness"]
    >>> c[c["field"] == "caseload"][["shown", "answered", "share_answered"]].to_dict("records")
    [{'shown': 2, 'answered': 1, 'share_answered': 0.5}]
    """
    issues = _frame(issues, ISSUE_COLUMNS, "issues")
    quarantine = _frame(quarantine, QUARANTINE_COLUMNS, "quarantine")
    missing = _frame(missing, MISSING_COLUMNS, "missing")
    files = _file_instruments(clean, quarantine)
    return {
        "instruments": _instruments_table(clean, instruments, files),
        "rows": _rows_table(manifest_rows, quarantine, files),
        "quarantine_reasons": _quarantine_table(quarantine),
        "issues_by_code": _issues_table(issues, files),
        "missingness": _missingness_table(missing, clean),
        "completeness": _completeness_table(missing, clean, instruments),
        "waves": _waves_table(clean, instruments),
        "linkage": _linkage_table(clean, instruments),
    }


def _frame(frame: pd.DataFrame | None, columns: Iterable[str], name: str) -> pd.DataFrame:
    """``frame`` with ``columns``; an empty frame without columns (no log rows) is accepted."""
    columns = tuple(columns)
    if frame is None or (frame.empty and not set(columns) <= set(frame.columns)):
        return pd.DataFrame({c: pd.Series(dtype=_EMPTY_TYPES.get(c, "string")) for c in columns})
    absent = [c for c in columns if c not in frame.columns]
    if absent:
        raise ReportError(f"the {name} frame has no column {', '.join(absent)}; it has "
                          f"{', '.join(map(str, frame.columns)) or 'none'}",
                          fix=f"pass the {name} frame the build writes "
                              f"(columns {', '.join(columns)})")
    # shallow: the missing-reasons log runs to tens of millions of rows, and no table changes it
    out = frame.copy(deep=False)
    if "row" in out.columns and out["row"].dtype != "Int64":
        out["row"] = pd.to_numeric(out["row"], errors="coerce").astype("Int64")
    return out


def _file_instruments(clean: Mapping[str, pd.DataFrame],
                      quarantine: pd.DataFrame) -> dict[str, str]:
    """Raw file → instrument id, from the clean frames' ``_file`` and the quarantine."""
    out: dict[str, str] = {}
    for inst_id, frame in clean.items():
        if "_file" in frame.columns:
            for file in pd.unique(frame["_file"].dropna().astype(str)):
                out.setdefault(file, inst_id)
    pairs = quarantine[["file", "instrument"]].dropna().drop_duplicates()
    for file, inst_id in pairs.itertuples(index=False):
        out.setdefault(str(file), str(inst_id))
    return out


def _instruments_table(clean: Mapping[str, pd.DataFrame], instruments: Mapping[str, Instrument],
                       files: Mapping[str, str]) -> pd.DataFrame:
    rows = []
    for inst_id, inst in instruments.items():
        if inst_id not in clean:
            continue
        file = next((f for f, i in sorted(files.items()) if i == inst_id), None)
        rows.append({"instrument": inst_id, "title": text_in(inst.title),
                     "name": _RESPONDENT_NAMES[inst.respondent], "respondent": inst.respondent,
                     "unit": inst.unit, "file": file, "rows": len(clean[inst_id])})
    out = pd.DataFrame(rows, columns=["instrument", "title", "name", "respondent", "unit", "file",
                                      "rows"])
    # two instruments answered by the same people are told apart by their id
    repeated = out["name"].duplicated(keep=False)
    out.loc[repeated, "name"] = out.loc[repeated, "name"] + " (" + out.loc[repeated,
                                                                          "instrument"] + ")"
    return out.astype({"instrument": "string", "title": "string", "name": "string",
                       "respondent": "string", "unit": "string", "file": "string",
                       "rows": "Int64"})


def _rows_table(manifest_rows: Mapping[str, Mapping[str, int]], quarantine: pd.DataFrame,
                files: Mapping[str, str]) -> pd.DataFrame:
    listed = quarantine.groupby(quarantine["file"].astype("string"), dropna=True).size()
    rows = []
    for file, counts in manifest_rows.items():
        rows_in = int(counts["rows_in"])
        kept = int(counts["rows_kept"])
        quarantined = int(counts["rows_quarantined"])
        in_list = int(listed.get(file, 0))
        rows.append({"file": file, "instrument": files.get(file), "rows_in": rows_in,
                     "rows_kept": kept, "rows_quarantined": quarantined,
                     "quarantine_listed": in_list,
                     "balanced": rows_in == kept + quarantined and in_list == quarantined})
    out = pd.DataFrame(rows, columns=["file", "instrument", "rows_in", "rows_kept",
                                      "rows_quarantined", "quarantine_listed", "balanced"])
    return out.astype({"file": "string", "instrument": "string", "rows_in": "Int64",
                       "rows_kept": "Int64", "rows_quarantined": "Int64",
                       "quarantine_listed": "Int64", "balanced": "boolean"})


def _quarantine_table(quarantine: pd.DataFrame) -> pd.DataFrame:
    keys = quarantine[["instrument", "reason"]].astype("string").fillna("unknown")
    out = keys.groupby(["instrument", "reason"], sort=True).size().rename("rows").reset_index()
    return out.astype({"instrument": "string", "reason": "string", "rows": "Int64"})


def _issues_table(issues: pd.DataFrame, files: Mapping[str, str]) -> pd.DataFrame:
    frame = pd.DataFrame({
        "instrument": issues["file"].astype("string").map(lambda f: files.get(f, pd.NA)),
        "file": issues["file"].astype("string"),
        "code": issues["code"].astype("string"),
        "severity": issues["severity"].astype("string"),
        "field": issues["field"].astype("string"),
        "row": issues["row"],
    })
    keys = ["instrument", "file", "code", "severity", "field"]
    grouped = frame.groupby(keys, dropna=False, sort=True)
    out = pd.concat([grouped["row"].nunique().rename("rows"), grouped.size().rename("issues")],
                    axis=1).reset_index()
    out = out.loc[:, [*keys, "rows", "issues"]]
    return out.astype({"instrument": "string", "file": "string", "code": "string",
                       "severity": "string", "field": "string", "rows": "Int64",
                       "issues": "Int64"}).reset_index(drop=True)


def _missingness_table(missing: pd.DataFrame, clean: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    keys = ["instrument", "field", "reason"]
    # grouped as they are (the log's text or categories) and only the counts made text: a copy
    # of the log's three columns as text was gigabytes at national scale
    counts = missing.groupby(keys, sort=False, observed=True).size()
    out = counts.rename("cells").reset_index().astype({k: "string" for k in keys})
    out = out.sort_values(keys, kind="stable").reset_index(drop=True)
    rows = out["instrument"].map(lambda i: len(clean[i]) if i in clean else pd.NA)
    out["rows"] = pd.array(rows, dtype="Int64")
    out["share_of_rows"] = (out["cells"].astype("Float64") / out["rows"].astype("Float64"))
    out = out.astype({"instrument": "string", "field": "string", "reason": "string",
                      "cells": "Int64", "share_of_rows": "Float64"})
    return out.loc[:, ["instrument", "field", "reason", "cells", "rows", "share_of_rows"]]


def _item_columns(inst: Instrument, item: Item, frame: pd.DataFrame) -> list[str]:
    if item.role == Role.CASE_KEY:
        return [PERSON_KEY] if PERSON_KEY in frame.columns else []
    if item.is_multiple:
        columns = [multi_column(item.id, c.code) for c in inst.choices_of(item)]
    else:
        columns = [item.id]
    return [c for c in columns if c in frame.columns]


def _rows_by_field(fields: tuple[np.ndarray, pd.Index], chosen: np.ndarray,
                   log_rows: np.ndarray) -> dict[str, np.ndarray]:
    """The row ids of the log's chosen rows, by field (rows without an id left out)."""
    codes, names = fields
    keep = chosen & ~np.isnan(log_rows) & (codes >= 0)
    codes, kept = codes[keep], log_rows[keep]
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(names) + 1))
    return {str(name): kept[order[bounds[i]:bounds[i + 1]]] for i, name in enumerate(names)
            if bounds[i + 1] > bounds[i]}


def _rows_in(row_ids: pd.Index, ids: np.ndarray | None) -> np.ndarray:
    """Which rows of the frame (by their ids) are among ``ids``."""
    if ids is None or not len(ids):
        return np.zeros(len(row_ids), dtype=bool)
    if row_ids.is_unique:
        out = np.zeros(len(row_ids), dtype=bool)
        positions = row_ids.get_indexer(ids)
        out[positions[positions >= 0]] = True
        return out
    return np.isin(row_ids.to_numpy(), ids)


def _completeness_table(missing: pd.DataFrame, clean: Mapping[str, pd.DataFrame],
                        instruments: Mapping[str, Instrument]) -> pd.DataFrame:
    records = []
    # the log's columns coded once, each instrument's part a mask of them: sets of Python
    # integers per field took half a gigabyte for a few million missing cells
    instrument_codes, instrument_names = factorize_text(missing["instrument"])
    fields = factorize_text(missing["field"])
    # the reasons compared as they are (text or categories), not copied as text first
    reason = missing["reason"]
    skipped_log = (reason == "skipped_by_logic").fillna(False).to_numpy(dtype=bool)
    declined_log = reason.isin(DECLINED_REASONS).fillna(False).to_numpy(dtype=bool)
    log_rows = pd.to_numeric(missing["row"], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    for inst_id, inst in instruments.items():
        frame = clean.get(inst_id)
        if frame is None:
            continue
        row_ids = (frame["_row"] if "_row" in frame.columns
                   else pd.Series(frame.index, index=frame.index))
        row_ids = pd.Index(pd.to_numeric(row_ids, errors="coerce").to_numpy(dtype="float64", na_value=np.nan))
        mine = instrument_codes == (instrument_names.get_loc(inst_id) if inst_id in instrument_names else -2)
        skipped_by = _rows_by_field(fields, mine & skipped_log, log_rows)
        declined_by = _rows_by_field(fields, mine & declined_log, log_rows)
        n = len(frame)
        for item in inst.data_items():
            if item.type == ItemType.CALCULATED:
                continue
            if inst.respondent == "record" and not item.required:
                continue
            columns = _item_columns(inst, item, frame)
            if not columns:
                continue
            # the routing hides all of a multiple-choice item's columns together
            names = [item.id] if item.role == Role.CASE_KEY else columns
            skipped = np.logical_and.reduce([_rows_in(row_ids, skipped_by.get(c)) for c in names])
            declined = np.logical_or.reduce([_rows_in(row_ids, declined_by.get(c)) for c in names])
            shown = ~skipped
            answered = np.logical_or.reduce([frame[c].notna().to_numpy() for c in columns]) & shown
            refused = declined & shown & ~answered
            n_shown = int(shown.sum())
            records.append({
                "instrument": inst_id, "field": item.id if item.role != Role.CASE_KEY else
                columns[0], "label": _short(text_in(item.label)), "required": item.required,
                "rows": n, "shown": n_shown, "answered": int(answered.sum()),
                "declined": int(refused.sum()),
                "share_answered": answered.sum() / n_shown if n_shown else np.nan,
            })
    out = pd.DataFrame(records, columns=["instrument", "field", "label", "required", "rows",
                                         "shown", "answered", "declined", "share_answered"])
    return out.astype({"instrument": "string", "field": "string", "label": "string",
                       "required": "boolean", "rows": "Int64", "shown": "Int64",
                       "answered": "Int64", "declined": "Int64", "share_answered": "Float64"})


def _short(text: str, width: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _women_instruments(clean: Mapping[str, pd.DataFrame],
                       instruments: Mapping[str, Instrument]) -> list[str]:
    return [i for i, inst in instruments.items()
            if inst.respondent == "woman" and i in clean and PERSON_KEY in clean[i].columns]


def _waves_table(clean: Mapping[str, pd.DataFrame],
                 instruments: Mapping[str, Instrument]) -> pd.DataFrame:
    records = []
    for inst_id in _women_instruments(clean, instruments):
        inst = instruments[inst_id]
        frame = clean[inst_id]
        if not inst.waves or "_wave" not in frame.columns:
            continue
        people = frame[[PERSON_KEY, "_wave"]].astype("string")
        people = people[people[PERSON_KEY].notna()]
        women = int(people[PERSON_KEY].nunique())
        at = {w: set(people.loc[people["_wave"] == w, PERSON_KEY]) for w in inst.waves}
        first = inst.waves[0]
        records.append({"instrument": inst_id, "measure": "women", "wave": None, "women": women,
                        "denominator": None, "share": None})
        for wave in inst.waves:
            n = len(at[wave])
            records.append({"instrument": inst_id, "measure": "at_wave", "wave": wave,
                            "women": n, "denominator": women,
                            "share": n / women if women else None})
        for wave in inst.waves[1:]:
            n = len(at[first] & at[wave])
            base = len(at[first])
            records.append({"instrument": inst_id, "measure": "retained", "wave": wave,
                            "women": n, "denominator": base, "share": n / base if base else None})
    out = pd.DataFrame(records, columns=["instrument", "measure", "wave", "women", "denominator",
                                         "share"])
    return out.astype({"instrument": "string", "measure": "string", "wave": "string",
                       "women": "Int64", "denominator": "Int64", "share": "Float64"})


def _linkage_table(clean: Mapping[str, pd.DataFrame],
                   instruments: Mapping[str, Instrument]) -> pd.DataFrame:
    records_ = [i for i, inst in instruments.items()
                if inst.respondent == "record" and i in clean and PERSON_KEY in clean[i].columns]
    rows = []
    for inst_id in _women_instruments(clean, instruments):
        women = pd.Series(clean[inst_id][PERSON_KEY].dropna().astype("string").unique())
        for record in records_:
            known = clean[record][PERSON_KEY].dropna().astype("string").unique()
            linked = int(women.isin(known).sum())
            rows.append({"instrument": inst_id, "record": record, "women": len(women),
                         "linked": linked,
                         "share_linked": linked / len(women) if len(women) else None})
    out = pd.DataFrame(rows, columns=["instrument", "record", "women", "linked", "share_linked"])
    return out.astype({"instrument": "string", "record": "string", "women": "Int64",
                       "linked": "Int64", "share_linked": "Float64"})


# --------------------------------------------------------------------------------------------
# HTML helpers
# --------------------------------------------------------------------------------------------


def _page(title: str, intro: list[str], contents: list[tuple[str, str]], body: list[str],
          lang: str = "en") -> str:
    out = [
        "<!DOCTYPE html>",
        f'<html lang="{_e(lang)}">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title>",
        f"<style>\n{_CSS}{_EXTRA_CSS}</style>",
        "</head>",
        "<body>",
        "<header>",
        f"<h1>{_e(title)}</h1>",
        *intro,
        "</header>",
    ]
    if contents:
        out += ['<nav aria-label="Contents">', "<h2>Contents</h2>", "<ul>"]
        out += [f'<li><a href="#{_e(anchor)}">{_e(text)}</a></li>' for anchor, text in contents]
        out += ["</ul>", "</nav>"]
    out += ["<main>", *body, "</main>", "</body>", "</html>", ""]
    return "\n".join(out)


def _table(caption: str, headers: list[str], rows: Iterable[list[str]], *,
           numeric: Iterable[int] = ()) -> list[str]:
    """A table whose first column heads each row; cells are HTML already escaped."""
    numeric = set(numeric)
    out = ['<div class="scroll">', "<table>", f"<caption>{_e(caption)}</caption>", "<thead><tr>"]
    out += [f'<th scope="col">{_e(h)}</th>' for h in headers]
    out += ["</tr></thead>", "<tbody>"]
    for cells in rows:
        parts = [f'<th scope="row">{cells[0]}</th>']
        for n, cell in enumerate(cells[1:], start=1):
            css = []
            if n in numeric:
                css.append("num")
            if cell == NOT_PUBLISHED:
                css.append("np")
            attr = f' class="{" ".join(css)}"' if css else ""
            parts.append(f"<td{attr}>{cell}</td>")
        out.append("<tr>" + "".join(parts) + "</tr>")
    out += ["</tbody>", "</table>", "</div>"]
    return out


def _int(value: object) -> str:
    if value is None or pd.isna(value):
        return ""
    return f"{int(value):,}"


def _pct(value: object) -> str:
    """A share as a percentage to one decimal (HTML); never rounded to 0% or 100% when it is
    not."""
    if value is None or pd.isna(value):
        return ""
    value = float(value)
    if 0 < value < 0.0005:
        return "&lt;0.1%"
    if 0.9995 <= value < 1:
        return "&gt;99.9%"
    return f"{100 * value:.1f}%"


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


def _words(codes: Mapping[str, str], code: object) -> str:
    text = str(code)
    return codes.get(text, text.replace("_", " "))


def _reason_words(reason: object, n: int) -> str:
    one, many = QUARANTINE_WORDS.get(str(reason), (str(reason).replace("_", " "),) * 2)
    return one if n == 1 else many


def _list_words(parts: list[str]) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def _slug(text: object) -> str:
    kept = "".join(ch if ch.isalnum() else "-" for ch in str(text).lower())
    return "-".join(p for p in kept.split("-") if p) or "x"


# --------------------------------------------------------------------------------------------
# Validation report
# --------------------------------------------------------------------------------------------


def _visible_fields(instruments: Mapping[str, Instrument] | Iterable[Instrument] | None
                    ) -> tuple[set[str], set[str]]:
    """Fields whose values may be shown, and fields whose values never are (any instrument)."""
    if instruments is None:
        return set(), set()
    chosen = instruments.values() if isinstance(instruments, Mapping) else instruments
    shown: set[str] = set()
    hidden: set[str] = set()
    for inst in chosen:
        for item in inst.data_items():
            names = {item.id}
            if item.is_multiple:
                names |= {multi_column(item.id, c.code) for c in inst.choices_of(item)}
            if item.sensitivity in HIDDEN_SENSITIVITIES or item.role == Role.CASE_KEY:
                hidden |= names
            else:
                shown |= names
    # a field hidden in any instrument is hidden everywhere
    return shown - hidden, hidden


def _shown_values(issues: pd.DataFrame, visible: set[str], max_chars: int = 60) -> list[str]:
    """Each issue's value as HTML, or a note when it is not shown."""
    out = []
    for field, value in zip(issues["field"].tolist(), issues["value"].tolist(), strict=True):
        if value is None or pd.isna(value):
            out.append("")
        elif field is None or pd.isna(field) or str(field) not in visible \
                or str(value) == REDACTED:
            out.append('<span class="note">not shown</span>')
        else:
            text = str(value)
            if len(text) > max_chars:
                text = text[: max_chars - 1] + "…"
            out.append(f"<code>{_e(text)}</code>")
    return out


def _safe_messages(issues: pd.DataFrame, visible: set[str]) -> list[str]:
    """Messages, with any copy of a hidden value masked."""
    out = []
    for field, value, message in zip(issues["field"].tolist(), issues["value"].tolist(),
                                     issues["message"].tolist(), strict=True):
        text = "" if message is None or pd.isna(message) else str(message)
        hidden = field is None or pd.isna(field) or str(field) not in visible
        if hidden and value is not None and not pd.isna(value):
            secret = str(value).strip()
            if secret and secret != REDACTED and len(secret) >= 2:
                text = text.replace(secret, REDACTED)
        out.append(text)
    return out


def validation_report_html(
    issues: pd.DataFrame,
    *,
    title: str = "Validation report",
    instruments: Mapping[str, Instrument] | Iterable[Instrument] | None = None,
    max_rows: int = 5000,
    csv_name: str = "audit/validation_issues.csv",
    lang: str = "en",
) -> str:
    """Every validation issue of a build as one self-contained, accessible HTML document.

    Parameters
    ----------
    issues : DataFrame
        Validation issues, columns ``code, severity, file, row, field, value, message`` (what
        the build writes to ``audit/validation_issues.csv``).
    title : str
        The document title.
    instruments : mapping or iterable of Instrument, optional
        Declare which fields' values may be shown: only values of fields that an instrument
        declares with a sensitivity other than identifier, contact-safety or free text (and
        that are not the case number). Without instruments no value is shown.
    max_rows : int
        At most this many issues are listed one by one (default 5,000); the summary counts
        all of them, and a note points to ``csv_name`` for the rest.
    csv_name : str
        Where the full list is, as the reader should look for it.
    lang : str
        The document's language.

    Returns
    -------
    str
        The HTML document: a summary by file and code (with counts of issues and rows), then
        the issues, by file, in row order.

    Examples
    --------
    >>> issues = pd.DataFrame({"code": ["out_of_range"], "severity": ["warning"],
    ...                        "file": ["raw/w.csv"], "row": [4], "field": ["caseload"],
    ...                        "value": ["900"], "message": ["outside the allowed range"]})
    >>> page = validation_report_html(issues)
    >>> "1 issue in 1 file" in page and "900" not in page
    True
    """
    if not isinstance(max_rows, int) or max_rows < 0:
        raise ValueError(f"max_rows must be a non-negative integer, got {max_rows!r}")
    issues = _frame(issues, ISSUE_COLUMNS, "issues")
    visible, _ = _visible_fields(instruments)
    frame = issues.loc[:, list(ISSUE_COLUMNS)].copy()
    for column in ("code", "severity", "file", "field", "message"):
        frame[column] = frame[column].astype("string")
    frame["value"] = frame["value"].astype("string")
    frame = frame.sort_values(["file", "row", "field", "code"], kind="stable",
                              na_position="first").reset_index(drop=True)
    total = len(frame)
    file_list = [str(f) for f in pd.unique(frame["file"].fillna("(no file)"))]
    severities = frame["severity"].fillna("unknown").value_counts().sort_index()
    intro = ['<p class="summary">']
    if total:
        intro[0] += (f"{_plural(total, 'issue')} in {_plural(len(file_list), 'file')} ("
                     + ", ".join(_plural(int(n), str(s)) for s, n in severities.items()) + "). ")
    else:
        intro[0] += "No validation issues: every value passed the instruments' checks. "
    intro[0] += ("Each issue names the raw file, the row as a spreadsheet numbers it (header "
                 "rows included), the field and what is wrong. Values of identifiers, contact "
                 "details and free text are never shown.</p>")
    contents: list[tuple[str, str]] = []
    body: list[str] = []
    if total:
        contents = [("summary", "Summary by file and code"), ("issues", "All issues")]
        body += ['<section id="summary" aria-labelledby="summary-title">',
                 '<h2 id="summary-title">Summary by file and code</h2>']
        summary = _issues_table(frame, {})
        for file in file_list:
            mine = frame[frame["file"].fillna("(no file)") == file]
            by_code = (mine.groupby(mine["code"].fillna("unknown"), sort=True)
                       .agg(issues=("code", "size"), rows=("row", "nunique")))
            parts = [f"{_plural(int(r.issues), 'issue')} “{_e(_words(ISSUE_WORDS, c))}”"
                     for c, r in by_code.iterrows()]
            body.append(f"<p><code>{_e(file)}</code>: {_plural(len(mine), 'issue')} on "
                        f"{_plural(int(mine['row'].nunique()), 'row')}: "
                        f"{_list_words(parts)}.</p>")
        rows = []
        for r in summary.itertuples(index=False):
            rows.append([f"<code>{_e(r.file if not pd.isna(r.file) else '(no file)')}</code>",
                         f"<code>{_e(r.code)}</code>", _e(_words(ISSUE_WORDS, r.code)),
                         _e(r.severity if not pd.isna(r.severity) else ""),
                         f"<code>{_e(r.field)}</code>" if not pd.isna(r.field) else "whole row",
                         _int(r.issues), _int(r.rows)])
        body += _table("Validation issues by file, code and field",
                       ["File", "Code", "What it means", "Severity", "Field", "Issues", "Rows"],
                       rows, numeric=(5, 6))
        body.append("</section>")
        body += ['<section id="issues" aria-labelledby="issues-title">',
                 '<h2 id="issues-title">All issues</h2>']
        listed = frame.iloc[:max_rows]
        if total > max_rows:
            body.append(f'<p class="warn">The first {max_rows:,} of {total:,} issues are listed '
                        f"here; every issue is in <code>{_e(csv_name)}</code>.</p>")
        else:
            body.append(f"<p>All {total:,} issues are listed; the same list is in "
                        f"<code>{_e(csv_name)}</code>.</p>")
        values = _shown_values(listed, visible)
        messages = _safe_messages(listed, visible)
        listed = listed.assign(shown_value=values, safe_message=messages)
        for file in file_list:
            mine = listed[listed["file"].fillna("(no file)") == file]
            if mine.empty:
                continue
            anchor = "file-" + _slug(file)
            body.append(f'<h3 id="{_e(anchor)}"><code>{_e(file)}</code></h3>')
            rows = []
            for r in mine.itertuples(index=False):
                rows.append([str(int(r.row)) if not pd.isna(r.row) else "–",
                             f"<code>{_e(r.field)}</code>" if not pd.isna(r.field) else
                             "whole row",
                             f"<code>{_e(r.code)}</code>",
                             _e(r.severity if not pd.isna(r.severity) else ""),
                             r.shown_value, _e(r.safe_message)])
            body += _table(f"Issues in {file}, by row",
                           ["Row", "Field", "Code", "Severity", "Value", "Message"], rows)
        body.append("</section>")
    return _page(title, intro, contents, body, lang=lang)


def write_validation_report(path: str | Path, issues: pd.DataFrame, *,
                            title: str = "Validation report", **options: object) -> Path:
    """Write :func:`validation_report_html` to ``path`` atomically; options as for it.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "validation.html"
    >>> write_validation_report(target, pd.DataFrame()).name
    'validation.html'
    """
    page = validation_report_html(issues, title=title, **options)  # type: ignore[arg-type]
    return write_text(path, page)


# --------------------------------------------------------------------------------------------
# Quality report
# --------------------------------------------------------------------------------------------


def _small(n: object, min_cell: int) -> bool:
    return n is not None and not pd.isna(n) and 1 <= int(n) < min_cell


def _women_cell(count: object, total: object, min_cell: int) -> bool:
    """Whether a count of women is hidden: small itself, or its complement in ``total`` small
    (96 of 100 reveals the 4), or ``total`` small."""
    if _small(count, min_cell) or _small(total, min_cell):
        return True
    if count is None or pd.isna(count) or total is None or pd.isna(total):
        return False
    return _small(int(total) - int(count), min_cell)


def quality_report_html(tables: Mapping[str, pd.DataFrame], *, title: str = "Data quality report",
                        min_cell: int = 5, lang: str = "en") -> str:
    """The data-quality report of a build as one self-contained, accessible HTML document.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        What :func:`quality_tables` returns (tables it lacks are left out of the report).
    title : str
        The document title.
    min_cell : int
        Counts of women from 1 to ``min_cell - 1`` read "n.p." (default 5), and so does a
        count whose complement in its total is that small, and a share resting on either.
    lang : str
        The document's language.

    Returns
    -------
    str
        The HTML document: rows accounted for, quarantine, validation issues, completeness,
        missingness, waves and retention, and linkage, each with a summary in words.

    Examples
    --------
    >>> waves = pd.DataFrame({"instrument": ["womens_survey"] * 3,
    ...                       "measure": ["women", "at_wave", "retained"],
    ...                       "wave": [None, "baseline", "followup"], "women": [40, 38, 3],
    ...                       "denominator": [None, 40, 38], "share": [None, 0.95, 3 / 38]})
    >>> page = quality_report_html({"waves": waves})
    >>> "n.p." in page and ">3<" not in page
    True
    """
    if not isinstance(min_cell, int) or isinstance(min_cell, bool) or min_cell < 1:
        raise ValueError(f"min_cell must be a positive integer, got {min_cell!r}")
    titles = _titles(tables.get("instruments"))
    sections = [
        ("rows", "Rows accounted for", _rows_section),
        ("quarantine_reasons", "Rows set aside (quarantine)", _quarantine_section),
        ("issues_by_code", "Validation issues", _issues_section),
        ("completeness", "Completeness of items (D22)", _completeness_section),
        ("missingness", "Missing values by reason", _missingness_section),
        ("waves", "Survey waves and retention (D22)", _waves_section),
        ("linkage", "Linkage to the partner contact record", _linkage_section),
    ]
    intro = [f'<p class="summary">The quality of the build\'s data: whether every row read is '
             "accounted for, what was set aside and why, what the checks found, how complete the "
             "items are, and how many women answered at each wave. Counts of women from 1 to "
             f"{min_cell - 1} are shown as {NOT_PUBLISHED} (not published), as is any figure "
             "from which one could be worked out; counts of rows, cells and issues describe the "
             "files and are shown in full. No value of any answer is shown.</p>"]
    contents = []
    body: list[str] = []
    for key, heading, render in sections:
        table = tables.get(key)
        if table is None:
            continue
        contents.append((key.replace("_", "-"), heading))
        anchor = _e(key.replace("_", "-"))
        body += [f'<section id="{anchor}" aria-labelledby="{anchor}-title">',
                 f'<h2 id="{anchor}-title">{_e(heading)}</h2>']
        body += render(table, titles, min_cell)
        body.append("</section>")
    return _page(title, intro, contents, body, lang=lang)


def write_quality_report(path: str | Path, tables: Mapping[str, pd.DataFrame], *,
                         title: str = "Data quality report", min_cell: int = 5,
                         lang: str = "en") -> Path:
    """Write :func:`quality_report_html` to ``path`` atomically.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "quality.html"
    >>> write_quality_report(target, {}).name
    'quality.html'
    """
    return write_text(path, quality_report_html(tables, title=title, min_cell=min_cell,
                                                lang=lang))


def _titles(table: pd.DataFrame | None) -> dict[str, tuple[str, str]]:
    """Instrument id → (title, plain name for sentences)."""
    if table is None or table.empty:
        return {}
    out = {}
    for r in table.itertuples(index=False):
        title = "" if pd.isna(r.title) else str(r.title)
        name = "" if pd.isna(getattr(r, "name", pd.NA)) else str(r.name)
        out[str(r.instrument)] = (title, name or title)
    return out


def _name(inst_id: object, titles: Titles) -> str:
    if inst_id is None or pd.isna(inst_id):
        return "an unknown instrument"
    if str(inst_id) in titles and titles[str(inst_id)][1]:
        return "the " + _e(titles[str(inst_id)][1])
    return f"<code>{_e(inst_id)}</code>"


def _inst_cell(inst_id: object, titles: Titles) -> str:
    if inst_id is None or pd.isna(inst_id):
        return ""
    title = titles.get(str(inst_id), ("", ""))[0]
    return (f"{_e(title)} (<code>{_e(inst_id)}</code>)" if title
            else f"<code>{_e(inst_id)}</code>")


def _rows_section(table: pd.DataFrame, titles: Titles, min_cell: int) -> list[str]:
    out = []
    if table.empty:
        return ["<p>No raw files were read.</p>"]
    unbalanced = table[~table["balanced"].fillna(False).astype(bool)]
    if unbalanced.empty:
        out.append(f"<p>Every row of the {_plural(len(table), 'raw file')} is accounted for: "
                   "rows read = rows kept + rows set aside in quarantine, and each row set aside "
                   "is listed with its reason.</p>")
    else:
        files = ", ".join(f"<code>{_e(f)}</code>" for f in unbalanced["file"])
        out.append(f'<p class="warn">Rows are not accounted for in {files}: rows read differ '
                   "from rows kept plus rows set aside, or the quarantine list does not match. "
                   "Rebuild and report the problem.</p>")
    rows = []
    for r in table.itertuples(index=False):
        rows.append([f"<code>{_e(r.file)}</code>", _inst_cell(r.instrument, titles),
                     _int(r.rows_in), _int(r.rows_kept), _int(r.rows_quarantined),
                     _int(r.quarantine_listed), "yes" if (not pd.isna(r.balanced) and bool(r.balanced)) else
                     '<span class="warn">no</span>'])
    out += _table("Rows read, kept and set aside, per raw file",
                  ["Raw file", "Instrument", "Rows read", "Kept", "Set aside",
                   "Listed in quarantine", "Accounted for"], rows, numeric=(2, 3, 4, 5))
    return out


def _quarantine_section(table: pd.DataFrame, titles: Titles,
                        min_cell: int) -> list[str]:
    if table.empty:
        return ["<p>No rows were set aside.</p>"]
    out = []
    for inst_id, group in table.groupby("instrument", sort=False):
        total = int(group["rows"].sum())
        parts = [f"{int(r.rows):,} {_e(_reason_words(r.reason, int(r.rows)))}"
                 for r in group.sort_values("rows", ascending=False, kind="stable")
                 .itertuples(index=False)]
        out.append(f"<p>{_plural(total, 'row')} of {_name(inst_id, titles)} could not be used "
                   f"and {'was' if total == 1 else 'were'} set aside: {_list_words(parts)}.</p>")
    rows = [[_inst_cell(r.instrument, titles), f"<code>{_e(r.reason)}</code>",
             _e(_reason_words(r.reason, 2)), _int(r.rows)]
            for r in table.itertuples(index=False)]
    out += _table("Rows set aside, by instrument and reason",
                  ["Instrument", "Reason", "What it means", "Rows"], rows, numeric=(3,))
    return out


def _issues_section(table: pd.DataFrame, titles: Titles, min_cell: int) -> list[str]:
    if table.empty:
        return ["<p>The checks found no issues.</p>"]
    out = []
    keys = table["instrument"].fillna(table["file"]).astype("string").fillna("(no file)")
    for key, group in table.groupby(keys, sort=False):
        by_code = group.groupby("code", sort=True)["issues"].sum()
        parts = [f"{int(n):,} “{_e(_words(ISSUE_WORDS, c))}”" for c, n in by_code.items()]
        name = (_name(key, titles) if str(key) in titles else f"<code>{_e(key)}</code>")
        out.append(f"<p>{_plural(int(group['issues'].sum()), 'issue')} in {name}: "
                   f"{_list_words(parts)}.</p>")
    rows = [[_inst_cell(r.instrument, titles) or f"<code>{_e(r.file)}</code>",
             f"<code>{_e(r.code)}</code>", _e(r.severity if not pd.isna(r.severity) else ""),
             f"<code>{_e(r.field)}</code>" if not pd.isna(r.field) else "whole row",
             _int(r.issues), _int(r.rows)] for r in table.itertuples(index=False)]
    out += _table("Validation issues by instrument, code and field",
                  ["Instrument", "Code", "Severity", "Field", "Issues", "Rows"], rows,
                  numeric=(4, 5))
    out.append('<p class="note">Every issue, with its row, is in the validation report.</p>')
    return out


def _completeness_section(table: pd.DataFrame, titles: Titles,
                          min_cell: int) -> list[str]:
    if table.empty:
        return ["<p>No items to assess.</p>"]
    out = ['<p>An item counts as complete in a row when it was shown (the survey\'s routing and '
           "waves asked it) and a usable answer was kept; “prefer not to say”, “don't know” and "
           "values removed in cleaning are not answers. For a record, only its required fields "
           "are assessed.</p>"]
    for inst_id, group in table.groupby("instrument", sort=False):
        shown = int(group["shown"].sum())
        answered = int(group["answered"].sum())
        anchor = _e(f"completeness-{_slug(inst_id)}")
        out.append(f'<h3 id="{anchor}">{_inst_cell(inst_id, titles)}</h3>')
        fields = "required fields" if group["required"].fillna(False).all() else "items"
        sentence = (f"<p>Across its {_plural(len(group), fields[:-1], fields)}, "
                    f"{_pct(answered / shown) if shown else 'none'} of the cells shown were "
                    "answered")
        incomplete = group[(group["shown"] > 0) & (group["share_answered"] < 1)]
        worst = incomplete.sort_values(["share_answered", "field"], kind="stable").head(3)
        if len(worst) and shown:
            sentence += "; least complete: " + _list_words(
                [f"<code>{_e(r.field)}</code> ({_pct(r.share_answered)})"
                 for r in worst.itertuples(index=False)])
        out.append(sentence + ".</p>")
        rows = [[f"<code>{_e(r.field)}</code>", _e(r.label), "yes" if r.required is True else "",
                 _int(r.shown), _int(r.answered), _int(r.declined),
                 _pct(r.share_answered) if r.shown else "not shown"]
                for r in group.itertuples(index=False)]
        out += _table(f"Completeness of {inst_id}",
                      ["Field", "Question", "Required", "Rows shown", "Answered", "Declined",
                       "Share answered"], rows, numeric=(3, 4, 5, 6))
    return out


def _missingness_section(table: pd.DataFrame, titles: Titles,
                         min_cell: int) -> list[str]:
    if table.empty:
        return ["<p>No missing values were recorded.</p>"]
    out = ['<p>Every blank cell in the clean data has a reason. Cells skipped by the survey\'s '
           "routing are expected; blanks left where a question was shown, and values removed "
           "in cleaning, are what to follow up.</p>"]
    for inst_id, group in table.groupby("instrument", sort=False):
        anchor = _e(f"missingness-{_slug(inst_id)}")
        out.append(f'<h3 id="{anchor}">{_inst_cell(inst_id, titles)}</h3>')
        by_reason = (group.groupby("reason", sort=True)["cells"].sum()
                     .sort_values(ascending=False, kind="stable"))
        parts = [f"{int(n):,} {_e(_words(_REASON_WORDS, r))}" for r, n in by_reason.items()]
        out.append(f"<p>{_plural(int(group['cells'].sum()), 'blank cell')}: "
                   f"{_list_words(parts)}.</p>")
        rows = [[f"<code>{_e(r.field)}</code>", _e(_words(_REASON_WORDS, r.reason)),
                 _int(r.cells), _pct(r.share_of_rows)] for r in group.itertuples(index=False)]
        out += _table(f"Missing values of {inst_id} by field and reason",
                      ["Field", "Reason", "Cells", "Share of rows"], rows, numeric=(2, 3))
    return out


def _waves_section(table: pd.DataFrame, titles: Titles, min_cell: int) -> list[str]:
    if table.empty:
        return ["<p>No instrument answered by women has waves.</p>"]
    out = []
    for inst_id, group in table.groupby("instrument", sort=False):
        total_row = group[group["measure"] == "women"]
        total = int(total_row["women"].iloc[0]) if len(total_row) else None
        at = group[group["measure"] == "at_wave"]
        first_wave = at["wave"].iloc[0] if len(at) else None
        hidden_first = False
        cells: list[list[str]] = []
        total_text = NOT_PUBLISHED if _small(total, min_cell) else _int(total)
        cells.append(["any wave", total_text, "", ""])
        retained = group[group["measure"] == "retained"]
        kept = dict(zip(retained["wave"].astype(str), retained["women"], strict=True))
        for r in at.itertuples(index=False):
            # at a later wave, those without a first-wave response are its count minus the
            # retained: hide the wave's count when that difference is small
            later = kept.get(str(r.wave))
            without_first = (None if later is None or pd.isna(later) or pd.isna(r.women)
                             else int(r.women) - int(later))
            hide = (_women_cell(r.women, r.denominator, min_cell)
                    or _small(without_first, min_cell))
            if r.wave == first_wave:
                hidden_first = hide
            cells.append([f"at {_e(r.wave)}", NOT_PUBLISHED if hide else _int(r.women),
                          NOT_PUBLISHED if _small(r.denominator, min_cell) else _int(r.denominator),
                          NOT_PUBLISHED if hide else _pct(r.share)])
        sentences = []
        for r in retained.itertuples(index=False):
            hide = _women_cell(r.women, r.denominator, min_cell) or hidden_first
            women = NOT_PUBLISHED if hide else _int(r.women)
            base = NOT_PUBLISHED if hidden_first else _int(r.denominator)
            share = NOT_PUBLISHED if hide else _pct(r.share)
            cells.append([f"at {_e(first_wave)} and {_e(r.wave)}", women, base, share])
            if not hide:
                sentences.append(f"{women} ({share}) also answered at {_e(r.wave)}")
            else:
                sentences.append(f"the number who also answered at {_e(r.wave)} is not "
                                 f"published ({NOT_PUBLISHED})")
        out.append(f'<h3 id="waves-{_e(_slug(inst_id))}">{_inst_cell(inst_id, titles)}</h3>')
        if hidden_first or not len(at):
            out.append(f"<p>{total_text} women answered {_name(inst_id, titles)}.</p>")
        else:
            first_n = _int(at["women"].iloc[0])
            text = (f"<p>{total_text} women answered {_name(inst_id, titles)}. Of the "
                    f"{first_n} with a {_e(first_wave)} response, ")
            out.append(text + (_list_words(sentences) or "none had a later wave") + ".</p>")
        out += _table(f"Women answering {inst_id}, by wave",
                      ["Women with a response", "Women", "Out of", "Share"], cells,
                      numeric=(1, 2, 3))
    out.append('<p class="note">Retention is the share of women with a first-wave response who '
               "also responded at the later wave.</p>")
    return out


def _linkage_section(table: pd.DataFrame, titles: Titles, min_cell: int) -> list[str]:
    if table.empty:
        return ["<p>No survey of women and partner contact record to link.</p>"]
    out = []
    rows = []
    for r in table.itertuples(index=False):
        hide = _women_cell(r.linked, r.women, min_cell)
        women = NOT_PUBLISHED if _small(r.women, min_cell) else _int(r.women)
        linked = NOT_PUBLISHED if hide else _int(r.linked)
        share = NOT_PUBLISHED if hide else _pct(r.share_linked)
        if hide:
            out.append(f"<p>Of {women} women who answered {_name(r.instrument, titles)}, the "
                       f"number found in {_name(r.record, titles)} is not published "
                       f"({NOT_PUBLISHED}).</p>")
        else:
            out.append(f"<p>Of {women} women who answered {_name(r.instrument, titles)}, "
                       f"{linked} ({share}) were found in {_name(r.record, titles)} by their "
                       "case number.</p>")
        rows.append([_inst_cell(r.instrument, titles), _inst_cell(r.record, titles), women,
                     linked, share])
    out += _table("Survey women found in the partner contact record",
                  ["Survey", "Record", "Women", "Found", "Share found"], rows,
                  numeric=(2, 3, 4))
    return out
