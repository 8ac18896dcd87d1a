"""Figures of the timing family: time to event, distributions, attempt curves and rates.

Each function takes a (suppressed) result table from one method of
:mod:`pceval.analyse.families.timing` and returns a plotnine plot; it never recomputes a
statistic and draws only rows that disclosure control left published. A group with nothing
published shows "n.p."; groups are in name order, never ranked by estimate; every estimate is
drawn with its interval. :func:`alt_text` describes each figure from the same rows.
"""

from __future__ import annotations

import re
from typing import Literal

import pandas as pd
from mizani.labels import label_percent
from plotnine import (
    aes,
    coord_flip,
    facet_wrap,
    geom_errorbar,
    geom_hline,
    geom_line,
    geom_linerange,
    geom_point,
    geom_text,
    ggplot,
    labs,
    scale_color_manual,
    scale_shape_manual,
    scale_x_continuous,
    scale_x_discrete,
    scale_y_continuous,
)

from pceval.errors import AnalysisError
from pceval.report.theme import (
    GRID_COLOUR,
    MUTED_TEXT_COLOUR,
    PALETTE,
    REFERENCE_COLOUR,
    theme_pceval,
)
from pceval.results import RESULT_COLUMNS

__all__ = ["alt_text", "plot_attempt_curve", "plot_rate", "plot_summary", "plot_time_to_event"]

NOT_PUBLISHED = "n.p."
OVERALL_LABEL = "All"
_HORIZON = re.compile(r"^(?P<name>.+)_within_(?P<days>\d+)_days$")
_ATTEMPT = re.compile(r"^(?P<prefix>.*?)(?P<kind>success_at|reached_by)_attempt_(?P<k>\d+)$")


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def _checked(results: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(results, pd.DataFrame) or set(RESULT_COLUMNS) - set(results.columns):
        raise AnalysisError("expected a result table (pceval.results.result_frame)", field="results")
    return results


def _published(rows: pd.DataFrame) -> pd.DataFrame:
    return rows.loc[~rows["suppressed"].astype(bool) & rows["estimate"].notna()]


def _natural(label: str) -> list:
    return [(0, int(t), "") if t.isdigit() else (1, 0, t.casefold()) for t in re.split(r"(\d+)", label) if t]


def _select_breakdown(rows: pd.DataFrame, breakdown: str | None) -> tuple[pd.DataFrame, str | None]:
    """Overall rows plus one breakdown's rows (logrank rows left out)."""
    rows = rows.loc[rows["group"] != "between groups"]
    found = sorted(set(rows["breakdown"]) - {"overall"})
    if breakdown is None:
        if len(found) > 1:
            raise AnalysisError(f"the results hold several breakdowns {found}; a figure draws one",
                                field="breakdown", fix="pass breakdown=")
        breakdown = found[0] if found else None
    elif breakdown not in found:
        raise AnalysisError(f"breakdown {breakdown!r} is not in the results", field="breakdown",
                            fix=f"use one of {found}")
    keep = rows["breakdown"].eq("overall") | (rows["breakdown"].eq(breakdown) if breakdown else False)
    out = rows.loc[keep].copy()
    out["group"] = out["group"].where(out["breakdown"] != "overall", OVERALL_LABEL).astype(str)
    return out, breakdown


def _order(groups: pd.Series) -> list[str]:
    names = sorted({str(g) for g in groups if str(g) != OVERALL_LABEL}, key=_natural)
    return ([OVERALL_LABEL] if (groups == OVERALL_LABEL).any() else []) + names


def _marks(rows: pd.DataFrame, drawn: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """One 'n.p.' label per key with rows but nothing drawn; names only, never values."""
    shown = set(map(tuple, drawn[keys].astype(str).to_numpy()))
    out = [dict(zip(keys, key, strict=True)) for key in map(tuple, rows[keys].astype(str).drop_duplicates().to_numpy())
           if key not in shown]
    return pd.DataFrame(out, columns=keys).assign(label=NOT_PUBLISHED)


def _humanise(name: str) -> str:
    return str(name).replace("_", " ").strip()


def _filter(results: pd.DataFrame, *, statistic: set[str] | None = None, indicator=None) -> pd.DataFrame:
    rows = _checked(results)
    if statistic is not None:
        rows = rows.loc[rows["statistic"].isin(statistic)]
    if indicator is not None:
        wanted = [indicator] if isinstance(indicator, str) else list(indicator)
        rows = rows.loc[rows["indicator"].isin(wanted)]
    if rows.empty:
        raise AnalysisError("the results hold no rows this figure can draw", field="indicator")
    return rows


# --------------------------------------------------------------------------------------------
# time to event
# --------------------------------------------------------------------------------------------


def _km_rows(results: pd.DataFrame, name: str | None) -> tuple[pd.DataFrame, str]:
    rows = _checked(results)
    rows = rows.loc[rows["method"] == "km"]
    medians = rows.loc[rows["statistic"] == "median", "indicator"].unique()
    if name is None:
        if len(medians) != 1:
            raise AnalysisError(f"the results hold {len(medians)} time-to-event indicators {list(medians)}",
                                field="name", fix="pass name=")
        name = str(medians[0])
    horizon = rows["indicator"].str.extract(_HORIZON)
    mine = rows["indicator"].eq(name) | horizon["name"].eq(name)
    if not mine.any():
        raise AnalysisError(f"no time-to-event rows for {name!r}", field="name")
    rows = rows.loc[mine].copy()
    rows["day"] = pd.to_numeric(horizon.loc[mine, "days"], errors="coerce")
    return rows, name


def plot_time_to_event(results: pd.DataFrame, *, name: str | None = None, breakdown: str | None = None,
                       title: str | None = None) -> ggplot:
    """Share with the event by each horizon day, with pointwise intervals, per group.

    Parameters
    ----------
    results : DataFrame
        Suppressed result rows of ``time_to_event`` (method ``km``).
    name : str, optional
        The time-to-event indicator (the median rows' indicator); needed when several.
    breakdown : str, optional
        The breakdown to draw beside the overall rows; needed when several.
    title : str, optional

    Returns
    -------
    plotnine.ggplot
        Days on the horizontal axis, percent with the event on the vertical one; one facet per
        group (overall first, then groups in name order), points with error bars joined by a
        line. Without horizon rows the medians and their intervals are drawn instead, groups
        on the vertical axis. Suppressed groups show "n.p.".

    Examples
    --------
    >>> from pceval.results import result_frame
    >>> res = result_frame([
    ...     {"indicator": "days", "statistic": "median", "n": 50, "estimate": 12, "ci_low": 10,
    ...      "ci_high": 15, "method": "km"},
    ...     {"indicator": "days_within_14_days", "statistic": "proportion", "n": 50, "numerator": 30,
    ...      "estimate": 0.6, "ci_low": 0.46, "ci_high": 0.72, "method": "km"},
    ...     {"indicator": "days_within_30_days", "statistic": "proportion", "n": 50, "numerator": 45,
    ...      "estimate": 0.9, "ci_low": 0.8, "ci_high": 0.95, "method": "km"}])
    >>> sorted(plot_time_to_event(res).data["day"].tolist())
    [14, 30]
    """
    rows, name = _km_rows(results, name)
    rows, chosen = _select_breakdown(rows, breakdown)
    order = _order(rows["group"])
    by = f" by {_humanise(chosen)}" if chosen else ""
    horizons = rows.loc[rows["statistic"] == "proportion"]
    if horizons.empty:
        medians = rows.loc[rows["statistic"] == "median"]
        drawn = _published(medians)
        marks = _marks(medians, drawn, ["group"]).assign(position=0.0)
        plot = (ggplot()
                + geom_errorbar(drawn, aes(x="group", ymin="ci_low", ymax="ci_high"), width=0.3,
                                color=PALETTE[0], size=0.7)
                + geom_point(drawn, aes(x="group", y="estimate"), color=PALETTE[0], size=2.5))
        if not marks.empty:
            plot += geom_text(marks, aes(x="group", y="position", label="label"), ha="left", size=8.5,
                              color=MUTED_TEXT_COLOUR)
        return (plot + scale_x_discrete(limits=list(reversed(order))) + coord_flip()
                + labs(x="", y="Median days (95% interval)", title=title or f"Median {_humanise(name)}{by}",
                       caption="Kaplan–Meier medians with 95% intervals; groups in name order."
                       + (f"\n{NOT_PUBLISHED}: not published (too few women)." if not marks.empty else ""))
                + theme_pceval())
    drawn = _published(horizons).assign(group=lambda f: pd.Categorical(f["group"], categories=order))
    marks = _marks(horizons, _published(horizons), ["group"])
    plot = (ggplot(drawn, aes(x="day", y="estimate"))
            + geom_line(color=PALETTE[0], size=0.6)
            + geom_errorbar(aes(ymin="ci_low", ymax="ci_high"), width=1.5, color=PALETTE[0], size=0.6)
            + geom_point(color=PALETTE[0], size=2.2))
    if not marks.empty:
        marks = marks.assign(group=pd.Categorical(marks["group"], categories=order),
                             day=float(horizons["day"].min()), estimate=0.5)
        plot += geom_text(marks, aes(x="day", y="estimate", label="label"), ha="left", size=8.5,
                          color=MUTED_TEXT_COLOUR)
    if len(order) > 1:
        plot += facet_wrap("group")
    notes = ["Kaplan–Meier share with the event by each day, 95% pointwise intervals."]
    if not marks.empty:
        notes.append(f"{NOT_PUBLISHED}: not published (too few women).")
    return (plot + scale_x_continuous(breaks=sorted(horizons["day"].dropna().unique().tolist()))
            + scale_y_continuous(labels=label_percent(), limits=(0.0, 1.0))
            + labs(x="Days", y="Percent", title=title or f"{_humanise(name).capitalize()}{by}",
                   caption="\n".join(notes))
            + theme_pceval())


# --------------------------------------------------------------------------------------------
# summary
# --------------------------------------------------------------------------------------------


def plot_summary(results: pd.DataFrame, *, indicator: str | list[str] | None = None, breakdown: str | None = None,
                 title: str | None = None) -> ggplot:
    """Median with its interval and the interquartile range, per group and indicator.

    Parameters
    ----------
    results : DataFrame
        Suppressed result rows of ``summary`` (statistics mean, median, q1, q3).
    indicator : str or list of str, optional
        Indicator(s) to draw (one facet each, own scale); all by default.
    breakdown : str, optional
        Breakdown beside the overall rows; needed when several.
    title : str, optional

    Returns
    -------
    plotnine.ggplot
        Groups on the vertical axis (overall first, then name order): a thick light bar from
        q1 to q3, a point at the median with its 95% interval, and the mean as a hollow
        triangle. Minimum and maximum are never drawn (they are never published). A group with
        its median suppressed shows "n.p." and nothing else.

    Examples
    --------
    >>> from pceval.results import result_frame
    >>> res = result_frame([{"indicator": "attempts", "statistic": s, "n": 40, "estimate": v,
    ...                      "ci_low": lo, "ci_high": hi}
    ...                     for s, v, lo, hi in [("mean", 2.3, 2.0, 2.6), ("median", 2, 1, 3),
    ...                                          ("q1", 1, None, None), ("q3", 3, None, None)]])
    >>> plot_summary(res).layers[0].geom.data[["q1", "q3"]].values.tolist()
    [[1.0, 3.0]]
    """
    rows = _filter(results, statistic={"mean", "median", "q1", "q3"}, indicator=indicator)
    rows, chosen = _select_breakdown(rows, breakdown)
    order = _order(rows["group"])
    keys = ["indicator", "group"]
    median = rows.loc[rows["statistic"] == "median"]
    shown = _published(median)[keys + ["estimate", "ci_low", "ci_high"]]
    wide = rows.loc[~rows["suppressed"].astype(bool)].pivot_table(index=keys, columns="statistic", values="estimate",
                                                                    aggfunc="first")
    wide = wide.reindex(columns=["mean", "q1", "q3"]).reset_index()
    wide = shown[keys].merge(wide, on=keys, how="left")
    iqr = wide.dropna(subset=["q1", "q3"])
    means = wide.dropna(subset=["mean"])
    marks = _marks(median, shown, keys).assign(position=float(shown["ci_low"].min()) if not shown.empty else 0.0)
    facets = rows["indicator"].nunique() > 1
    plot = (ggplot()
            + geom_linerange(iqr, aes(x="group", ymin="q1", ymax="q3"), size=5, color=GRID_COLOUR)
            + geom_errorbar(shown, aes(x="group", ymin="ci_low", ymax="ci_high"), width=0.25,
                            color=PALETTE[0], size=0.7)
            + geom_point(shown, aes(x="group", y="estimate"), color=PALETTE[0], size=2.5)
            + geom_point(means, aes(x="group", y="mean"), shape="^", fill="none", color=PALETTE[1], size=2.5))
    if not marks.empty:
        plot += geom_text(marks, aes(x="group", y="position", label="label"), ha="left", size=8.5,
                          color=MUTED_TEXT_COLOUR)
    if facets:
        plot += facet_wrap("indicator", scales="free_x")
    what = _humanise(rows["indicator"].iloc[0]) if not facets else "each measure"
    notes = ["Points: medians with 95% distribution-free intervals; grey bars: quartiles;",
             "triangles: means. Extremes are not published."]
    if not marks.empty:
        notes.append(f"{NOT_PUBLISHED}: not published (too few women).")
    return (plot + scale_x_discrete(limits=list(reversed(order))) + coord_flip()
            + labs(x=_humanise(chosen).capitalize() if chosen else "", y="Value",
                   title=title or f"Distribution of {what}" + (f" by {_humanise(chosen)}" if chosen else ""),
                   caption="\n".join(notes))
            + theme_pceval())


# --------------------------------------------------------------------------------------------
# attempt curve
# --------------------------------------------------------------------------------------------


def _attempt_rows(results: pd.DataFrame) -> pd.DataFrame:
    rows = _checked(results)
    parts = rows["indicator"].astype(str).str.extract(_ATTEMPT)
    rows = rows.loc[parts["k"].notna()].copy()
    if rows.empty:
        raise AnalysisError("the results hold no attempt_curve rows", field="indicator")
    parts = parts.loc[rows.index]
    rows["attempt"] = parts["k"].astype(int)
    rows["curve"] = parts["kind"].map({"success_at": "Success at attempt k (not reached before)",
                                       "reached_by": "Reached by attempt k (cumulative)"})
    return rows


def plot_attempt_curve(results: pd.DataFrame, *, breakdown: str | None = None, title: str | None = None) -> ggplot:
    """Conditional success at each attempt and the cumulative share reached, with Wilson intervals.

    Parameters
    ----------
    results : DataFrame
        Suppressed result rows of ``attempt_curve``.
    breakdown : str, optional
        Draw each group of this breakdown in its own facet (overall first); overall only by
        default.
    title : str, optional

    Returns
    -------
    plotnine.ggplot
        Attempt number on the horizontal axis, percent on the vertical; colour and shape mark
        the two curves. Suppressed points are left out (their attempt shows "n.p." at 0%).

    Examples
    --------
    >>> from pceval.results import result_frame
    >>> res = result_frame([{"indicator": f"{kind}_attempt_{k}", "statistic": "proportion", "n": 40,
    ...                      "numerator": 10, "estimate": 0.25, "ci_low": 0.14, "ci_high": 0.4}
    ...                     for k in (1, 2) for kind in ("success_at", "reached_by")])
    >>> sorted(set(plot_attempt_curve(res).data["attempt"]))
    [1, 2]
    """
    rows = _attempt_rows(results)
    if breakdown is None:
        rows = rows.loc[rows["breakdown"] == "overall"].assign(group=OVERALL_LABEL)
    else:
        rows, _ = _select_breakdown(rows, breakdown)
    order = _order(rows["group"])
    drawn = _published(rows).assign(group=lambda f: pd.Categorical(f["group"], categories=order))
    marks = _marks(rows, _published(rows), ["group", "attempt"])
    curves = list(dict.fromkeys(["Success at attempt k (not reached before)", "Reached by attempt k (cumulative)"]))
    plot = (ggplot(drawn, aes(x="attempt", y="estimate", color="curve", shape="curve"))
            + geom_line(size=0.6)
            + geom_errorbar(aes(ymin="ci_low", ymax="ci_high"), width=0.2, size=0.6)
            + geom_point(size=2.3)
            + scale_color_manual(values={curves[0]: PALETTE[1], curves[1]: PALETTE[0]}, limits=curves)
            + scale_shape_manual(values={curves[0]: "o", curves[1]: "s"}, limits=curves))
    if not marks.empty:
        marks = marks.assign(group=pd.Categorical(marks["group"], categories=order),
                             attempt=marks["attempt"].astype(int), estimate=0.0)
        plot += geom_text(marks, aes(x="attempt", y="estimate", label="label"), inherit_aes=False,
                          size=8, color=MUTED_TEXT_COLOUR)
    if len(order) > 1:
        plot += facet_wrap("group")
    notes = ["Percent with 95% Wilson intervals."]
    if not marks.empty:
        notes.append(f"{NOT_PUBLISHED}: not published (too few women).")
    return (plot + scale_x_continuous(breaks=sorted(rows["attempt"].unique().tolist()))
            + scale_y_continuous(labels=label_percent(), limits=(0.0, 1.0))
            + labs(x="Attempt", y="Percent", title=title or "Reaching her, attempt by attempt",
                   caption="\n".join(notes))
            + theme_pceval())


# --------------------------------------------------------------------------------------------
# rate
# --------------------------------------------------------------------------------------------


def plot_rate(results: pd.DataFrame, *, indicator: str | None = None, breakdown: str | None = None,
              title: str | None = None) -> ggplot:
    """Rates per 100 with exact Poisson intervals by group, the overall rate as a dashed line.

    Parameters
    ----------
    results : DataFrame
        Suppressed result rows of ``rate`` (statistic ``rate_per_...``).
    indicator, breakdown : str, optional
        Needed when the table holds several.
    title : str, optional

    Returns
    -------
    plotnine.ggplot

    Examples
    --------
    >>> from pceval.results import result_frame
    >>> res = result_frame([
    ...     {"indicator": "unsafe", "statistic": "rate_per_100", "n": 90, "numerator": 30,
    ...      "estimate": 3.0, "ci_low": 2.0, "ci_high": 4.3, "method": "poisson_exact"},
    ...     {"indicator": "unsafe", "breakdown": "service", "group": "S1", "statistic": "rate_per_100",
    ...      "n": 3, "suppressed": True, "method": "poisson_exact"}])
    >>> plot_rate(res).layers[-1].geom.data["label"].tolist()
    ['n.p.']
    """
    rows = _checked(results)
    rows = rows.loc[rows["statistic"].astype(str).str.startswith("rate_per_")]
    if indicator is not None:
        rows = rows.loc[rows["indicator"] == indicator]
    if rows.empty or rows["indicator"].nunique() != 1:
        raise AnalysisError("the results need exactly one rate indicator to draw", field="indicator",
                            fix="pass indicator=")
    statistic = str(rows["statistic"].iloc[0])
    rows, chosen = _select_breakdown(rows, breakdown)
    overall = _published(rows.loc[rows["breakdown"] == "overall"])
    groups = rows.loc[rows["breakdown"] != "overall"] if chosen else rows
    order = _order(groups["group"])
    drawn = _published(groups)
    marks = _marks(groups, drawn, ["group"]).assign(position=0.0)
    plot = ggplot()
    if chosen and not overall.empty:
        plot += geom_hline(overall, aes(yintercept="estimate"), linetype="dashed", color=REFERENCE_COLOUR, size=0.6)
    plot += geom_errorbar(drawn, aes(x="group", ymin="ci_low", ymax="ci_high"), width=0.3, color=PALETTE[0], size=0.7)
    plot += geom_point(drawn, aes(x="group", y="estimate"), color=PALETTE[0], size=2.5)
    if not marks.empty:
        plot += geom_text(marks, aes(x="group", y="position", label="label"), ha="left", size=8.5,
                          color=MUTED_TEXT_COLOUR)
    per = statistic.removeprefix("rate_per_").replace("_", ".")
    notes = ["Exact Poisson (Garwood) 95% intervals; groups in name order."]
    if chosen and not overall.empty:
        notes.append("Dashed line: overall.")
    if not marks.empty:
        notes.append(f"{NOT_PUBLISHED}: not published (too few women or events).")
    return (plot + scale_x_discrete(limits=list(reversed(order))) + coord_flip()
            + labs(x=_humanise(chosen).capitalize() if chosen else "", y=f"Per {per}",
                   title=title or f"{_humanise(rows['indicator'].iloc[0]).capitalize()}",
                   caption="\n".join(notes))
            + theme_pceval())


# --------------------------------------------------------------------------------------------
# text alternatives
# --------------------------------------------------------------------------------------------


def _pct(v: float) -> str:
    return f"{100 * float(v):.0f}%"


def _num(v: float) -> str:
    v = float(v)
    return f"{v:.0f}" if v.is_integer() else f"{v:.1f}"


def _range(values: pd.Series, fmt) -> str:
    return f"{fmt(values.min())} to {fmt(values.max())}"


def alt_text(results: pd.DataFrame, kind: Literal["time_to_event", "summary", "attempt_curve", "rate"], *,
             breakdown: str | None = None, name: str | None = None) -> str:
    """A short text description of a timing figure, from the same (suppressed) rows.

    Parameters
    ----------
    results : DataFrame
        The table given to the figure function.
    kind : {"time_to_event", "summary", "attempt_curve", "rate"}
        Which figure.
    breakdown, name : str, optional
        As for the figure function.

    Returns
    -------
    str
        The overall estimate with its interval, the range of published group estimates and the
        number of groups not published.

    Examples
    --------
    >>> from pceval.results import result_frame
    >>> res = result_frame([
    ...     {"indicator": "unsafe", "statistic": "rate_per_100", "n": 90, "numerator": 30,
    ...      "estimate": 3.0, "ci_low": 2.0, "ci_high": 4.3, "method": "poisson_exact"}])
    >>> alt_text(res, "rate")
    'Unsafe: 3.0 per 100 overall (95% CI 2.0 to 4.3).'
    """
    def groups_sentence(rows: pd.DataFrame, fmt, what: str) -> str:
        if not chosen:
            return ""
        part = rows.loc[rows["breakdown"] != "overall"]
        shown = _published(part)
        hidden = part["group"].nunique() - shown["group"].nunique()
        text = f" Across {part['group'].nunique()} {_humanise(chosen)} groups, {what} ranged from {_range(shown['estimate'], fmt)}" \
            if not shown.empty else f" No {_humanise(chosen)} group is published"
        return text + (f"; {hidden} not published." if hidden else ".")

    if kind == "time_to_event":
        rows, label = _km_rows(results, name)
        rows, chosen = _select_breakdown(rows, breakdown)
        med = _published(rows.loc[(rows["statistic"] == "median") & (rows["breakdown"] == "overall")])
        text = f"{_humanise(label).capitalize()}: "
        if med.empty:
            text += "overall median not published or not reached."
        else:
            r = med.iloc[0]
            hi = "not reached" if pd.isna(r["ci_high"]) else _num(r["ci_high"])
            text += f"overall median {_num(r['estimate'])} days (95% CI {_num(r['ci_low'])} to {hi})."
        horizons = _published(rows.loc[(rows["statistic"] == "proportion") & (rows["breakdown"] == "overall")])
        for _, r in horizons.sort_values("day").iterrows():
            text += f" By day {int(r['day'])}, {_pct(r['estimate'])}."
        return text + groups_sentence(rows.loc[rows["statistic"] == "median"], _num, "medians")
    if kind == "summary":
        rows = _filter(results, statistic={"median"})
        rows, chosen = _select_breakdown(rows, breakdown)
        out = []
        for ind, part in rows.groupby("indicator", sort=False):
            overall = _published(part.loc[part["breakdown"] == "overall"])
            text = f"{_humanise(ind).capitalize()}: "
            text += (f"median {_num(overall['estimate'].iloc[0])} (95% CI {_num(overall['ci_low'].iloc[0])} to "
                     f"{_num(overall['ci_high'].iloc[0])}) overall." if not overall.empty
                     and not pd.isna(overall['ci_low'].iloc[0]) else "overall median not published.")
            out.append(text + groups_sentence(part, _num, "medians"))
        return " ".join(out)
    if kind == "attempt_curve":
        rows = _attempt_rows(results)
        rows = _published(rows.loc[rows["breakdown"] == "overall"])
        succ = rows.loc[rows["indicator"].str.contains("success_at")].sort_values("attempt")
        cum = rows.loc[rows["indicator"].str.contains("reached_by")].sort_values("attempt")
        if succ.empty:
            return "Attempt curve: overall values not published."
        text = (f"Attempt curve: {_pct(succ['estimate'].iloc[0])} of first attempts reached her; "
                f"at attempt {succ['attempt'].iloc[-1]}, {_pct(succ['estimate'].iloc[-1])} of attempts reached a woman "
                "not reached before.")
        if not cum.empty:
            text += f" By attempt {cum['attempt'].iloc[-1]}, {_pct(cum['estimate'].iloc[-1])} had been reached."
        return text
    if kind == "rate":
        rows = _checked(results)
        rows = rows.loc[rows["statistic"].astype(str).str.startswith("rate_per_")]
        rows, chosen = _select_breakdown(rows, breakdown)
        per = str(rows["statistic"].iloc[0]).removeprefix("rate_per_").replace("_", ".")
        overall = _published(rows.loc[rows["breakdown"] == "overall"])
        text = f"{_humanise(rows['indicator'].iloc[0]).capitalize()}: "
        if overall.empty:
            text += "overall rate not published."
        else:
            r = overall.iloc[0]
            text += f"{r['estimate']:.1f} per {per} overall (95% CI {r['ci_low']:.1f} to {r['ci_high']:.1f})."
        return text + groups_sentence(rows, lambda v: f"{float(v):.1f}", "rates")
    raise AnalysisError(f"unknown figure kind {kind!r}", field="kind")
