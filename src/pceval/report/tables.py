"""Report tables and numbers, built only from (suppressed) result tables.

Compute first, display after: these functions round and label; they never recompute a
statistic and never show a suppressed value (it reads ``n.p.``, not published).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd
from great_tables import GT, loc, style

NOT_PUBLISHED = "n.p."


def _missing(value) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def fmt_pct(value, digits: int = 0) -> str:
    """A proportion as a percentage, or ``n.p.`` when missing.

    Examples
    --------
    >>> fmt_pct(0.7234), fmt_pct(None)
    ('72%', 'n.p.')
    """
    if _missing(value):
        return NOT_PUBLISHED
    return f"{100 * float(value):.{digits}f}%"


def fmt_num(value, digits: int = 2, *, signed: bool = False) -> str:
    """A number rounded for display, or ``n.p.`` when missing.

    Examples
    --------
    >>> fmt_num(0.4567, signed=True), fmt_num(float("nan"))
    ('+0.46', 'n.p.')
    """
    if _missing(value):
        return NOT_PUBLISHED
    return f"{float(value):+.{digits}f}" if signed else f"{float(value):.{digits}f}"


def fmt_int(value) -> str:
    """A count with thousands separators, or ``n.p.``."""
    if _missing(value):
        return NOT_PUBLISHED
    return f"{int(value):,}"


def pick(results: pd.DataFrame, *, question: str, indicator: str, statistic: str,
         breakdown: str = "overall", group: str = "all") -> pd.Series | None:
    """The one result row matching the arguments (``None`` if absent).

    Examples
    --------
    >>> from pceval.results import result_frame
    >>> r = result_frame([{"question": "q", "indicator": "x", "statistic": "proportion", "estimate": .5}])
    >>> float(pick(r, question="q", indicator="x", statistic="proportion")["estimate"])
    0.5
    """
    rows = results[(results["question"] == question) & (results["indicator"] == indicator)
                   & (results["statistic"] == statistic) & (results["breakdown"] == breakdown)
                   & (results["group"] == group)]
    if rows.empty:
        return None
    return rows.iloc[0]


def interval(row: pd.Series | None, fmt=fmt_pct) -> str:
    """``estimate (95% CI low to high)`` for display."""
    if row is None or bool(row["suppressed"]) or _missing(row["estimate"]):
        return NOT_PUBLISHED
    if _missing(row["ci_low"]):
        return fmt(row["estimate"])
    return f"{fmt(row['estimate'])} (95% CI {fmt(row['ci_low'])} to {fmt(row['ci_high'])})"


def _display_frame(rows: pd.DataFrame, labels: Mapping[str, str], *, percent: bool) -> pd.DataFrame:
    fmt = fmt_pct if percent else fmt_num
    shown = pd.DataFrame({
        "Group": rows["group"].astype(str).replace({"all": "All services"}),
        "Indicator": rows["indicator"].map(lambda i: labels.get(i, i)),
        "Women (n)": rows["n"].map(fmt_int),
        "Estimate": [NOT_PUBLISHED if s else fmt(e) for s, e in zip(rows["suppressed"], rows["estimate"], strict=True)],
        "95% CI": [NOT_PUBLISHED if s or _missing(lo) else f"{fmt(lo)} to {fmt(hi)}"
                   for s, lo, hi in zip(rows["suppressed"], rows["ci_low"], rows["ci_high"], strict=True)],
    })
    return shown.reset_index(drop=True)


def tbl_proportions(results: pd.DataFrame, *, question: str, breakdown: str = "service",
                    labels: Mapping[str, str] | None = None, title: str | None = None) -> GT:
    """A great_tables table of proportions: overall and by a breakdown, one row per group.

    Groups are in name order, never ranked.
    """
    labels = dict(labels or {})
    rows = results[(results["question"] == question) & (results["statistic"] == "proportion")
                   & results["breakdown"].isin(["overall", breakdown])]
    # indicators in the plan's order (the labels mapping), groups by name: never ranked
    order = {name: i for i, name in enumerate(labels)}
    rows = rows.assign(_indicator=rows["indicator"].map(lambda i: order.get(i, len(order))),
                       _overall=rows["breakdown"].ne("overall")).sort_values(
        ["_indicator", "indicator", "_overall", "group"], kind="stable")
    shown = _display_frame(rows, labels, percent=True)
    # a fixed id keeps the rendered report byte-identical from run to run
    table = GT(shown, rowname_col="Group", groupname_col="Indicator", id=f"gt-{question}")
    if title:
        table = table.tab_header(title=title)
    return _style(table, numbers=["Women (n)", "Estimate", "95% CI"])


def tbl_change(results: pd.DataFrame, *, question: str, breakdown: str = "service",
               title: str | None = None) -> GT:
    """A great_tables table of pre and post means and their change, by group."""
    rows = results[(results["question"] == question) & results["breakdown"].isin(["overall", breakdown])]
    groups = sorted(rows["group"].unique(), key=lambda g: (g != "all", g))
    records = []
    for group in groups:
        part = rows[rows["group"] == group].set_index("statistic")

        def get(stat: str, part=part) -> pd.Series | None:
            return part.loc[stat] if stat in part.index else None

        change = get("mean_change")
        records.append({
            "Group": "All services" if group == "all" else group,
            "Women with both surveys": fmt_int(change["n"]) if change is not None else NOT_PUBLISHED,
            "Before": interval(get("mean_pre"), fmt_num),
            "After": interval(get("mean_post"), fmt_num),
            "Change": interval(change, lambda v: fmt_num(v, signed=True)),
            "Effect size (dz)": interval(get("effect_size_dz"), fmt_num),
        })
    frame = pd.DataFrame(records)
    table = GT(frame, rowname_col="Group", id=f"gt-{question}")
    if title:
        table = table.tab_header(title=title)
    return _style(table, numbers=[c for c in frame.columns if c != "Group"])


def style_table(table: GT, *, numbers: list[str]) -> GT:
    """pceval's table style: numbers right-aligned, striped rows, readable text colour."""
    return _style(table, numbers=numbers)


def _style(table: GT, *, numbers: list[str]) -> GT:
    # numbers (and "n.p.") right-aligned so that digits line up down a column
    return (table
            .cols_align("right", columns=numbers)
            .opt_row_striping()
            .tab_options(table_font_size="14px", column_labels_font_weight="bold")
            .tab_style(style=style.text(color="#1a1a1a"), locations=loc.body()))
