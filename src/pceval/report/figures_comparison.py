"""Figures of the service comparison, the triangulation and the standards scorecard.

Drawn only from (suppressed) result tables, as :mod:`pceval.report.figures`: suppressed rows
give at most their group's name ("n.p."), never a value. Each figure has a text alternative
(``alt_text_*``) computed from the same rows.

- :func:`plot_funnel`: each service's proportion (or mean) against its number of women, with
  the pooled line and the 95% and 99.8% control limits (Spiegelhalter 2005);
- :func:`plot_caterpillar`: empirical-Bayes shrunken estimates with their intervals, ordered by
  estimate (an order that is only ever shown with its uncertainty), the service's own
  estimate beside it;
- :func:`plot_scorecard`: the headline indicator per National Outcome Standard and RBA
  quadrant, overall and per service, as a table figure;
- :func:`plot_agreement`: a forest of agreement statistics (kappa, alpha) with intervals.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from mizani.labels import label_percent
from plotnine import (
    aes,
    coord_flip,
    element_blank,
    element_text,
    facet_wrap,
    geom_errorbar,
    geom_hline,
    geom_line,
    geom_point,
    geom_text,
    geom_tile,
    ggplot,
    labs,
    position_dodge,
    position_nudge,
    scale_fill_manual,
    scale_linetype_manual,
    scale_shape_manual,
    scale_x_discrete,
    scale_y_continuous,
    scale_y_discrete,
    theme,
)

from pceval.errors import AnalysisError
from pceval.report.theme import (
    GRID_COLOUR,
    MUTED_TEXT_COLOUR,
    PALETTE,
    REFERENCE_COLOUR,
    theme_pceval,
)
from pceval.results import result_frame

__all__ = [
    "alt_text_agreement",
    "alt_text_caterpillar",
    "alt_text_funnel",
    "alt_text_scorecard",
    "plot_agreement",
    "plot_caterpillar",
    "plot_funnel",
    "plot_scorecard",
]

NOT_PUBLISHED = "n.p."
OVERALL_LABEL = "All"
#: The label pceval.analyse.run gives services pooled for having too few women.
POOLED_LABEL = "Other services (pooled)"
_LIMIT_STATISTICS = ("limit95_low", "limit95_high", "limit998_low", "limit998_high")
_OWN_STATISTICS = ("proportion", "mean")
_AGREEMENT_STATISTICS = ("cohen_kappa", "krippendorff_alpha", "fleiss_kappa", "percent_agreement")
_NOS = ("NOS1", "NOS2", "NOS3", "NOS4", "NOS5", "NOS6")
_RBA = {"hm": "How much", "hw": "How well", "bo": "Better off"}
_LABEL_SIZE = 8


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def _table(results: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(results, pd.DataFrame):
        raise AnalysisError(f"expected a result table (DataFrame), got {type(results).__name__}")
    try:
        return result_frame(results)
    except (ValueError, TypeError) as error:
        raise AnalysisError(f"not a result table: {error}", fix="see pceval.results") from error


def _one_indicator(rows: pd.DataFrame, indicator: str | None, what: str) -> str:
    found = list(dict.fromkeys(rows["indicator"].dropna()))
    if indicator is not None:
        if indicator not in found:
            raise AnalysisError(f"indicator {indicator!r} has no {what} rows", field="indicator",
                                fix=f"use one of {found}")
        return indicator
    if len(found) != 1:
        raise AnalysisError(f"the results hold {what} rows for {len(found)} indicators {found}; a figure draws one",
                            field="indicator", fix="pass indicator=")
    return found[0]


def _shown(rows: pd.DataFrame) -> pd.DataFrame:
    return rows.loc[~rows["suppressed"].astype(bool) & rows["estimate"].notna()]


def _hidden_groups(rows: pd.DataFrame) -> list[str]:
    return _natural(rows.loc[rows["suppressed"].astype(bool), "group"].astype(str).unique())


def _natural(labels) -> list[str]:
    def key(label: str) -> list:
        return [(0, int(t), "") if t.isdigit() else (1, 0, t.casefold()) for t in re.split(r"(\d+)", label) if t]
    return sorted(dict.fromkeys(str(g) for g in labels), key=key)


def _wrap(label: str) -> str:
    return label.replace(" (", "\n(")


def _humanise(name: str) -> str:
    return str(name).replace("_", " ").strip()


def _is_share(statistic: str) -> bool:
    return statistic in {"proportion", "percent_agreement"}


def _fmt(value: float, statistic: str) -> str:
    if pd.isna(value):
        return NOT_PUBLISHED
    if _is_share(statistic):
        return f"{100 * value:.0f}%"
    if statistic in {"mean_change", "difference", "coefficient"}:
        return f"{value:+.2f}"
    return f"{value:.2f}"


def _interval(low: float, high: float, statistic: str) -> str:
    if pd.isna(low) or pd.isna(high):
        return ""
    if _is_share(statistic):
        return f" (95% interval {100 * low:.0f}–{100 * high:.0f}%)"
    return f" (95% interval {low:.2f} to {high:.2f})"


def _plural(k: int, word: str) -> str:
    return f"{k} {word}{'' if k == 1 else 's'}"


# --------------------------------------------------------------------------------------------
# funnel
# --------------------------------------------------------------------------------------------


def _funnel_rows(results: pd.DataFrame, indicator: str | None) -> tuple[str, str, pd.DataFrame]:
    table = _table(results)
    own = table.loc[table["statistic"].isin(_OWN_STATISTICS) & table["breakdown"].eq("service")
                     & table["indicator"].isin(table.loc[table["statistic"].eq("pooled"), "indicator"])]
    if own.empty:
        raise AnalysisError("the results hold no service rows of service_comparison (proportion or mean)",
                            field="statistic", fix="pass the rows of a service_comparison analysis")
    chosen = _one_indicator(own, indicator, "service comparison")
    rows = table.loc[table["indicator"].eq(chosen)]
    statistic = rows.loc[rows["statistic"].isin(_OWN_STATISTICS), "statistic"].iloc[0]
    return chosen, statistic, rows


def plot_funnel(results: pd.DataFrame, *, indicator: str | None = None, title: str | None = None) -> ggplot:
    """Funnel plot: each service's estimate against its number of women, with control limits.

    Parameters
    ----------
    results : DataFrame
        Rows of a ``service_comparison`` analysis after disclosure control (statistics
        ``proportion`` or ``mean``, ``pooled``, ``limit95_*``, ``limit998_*``).
    indicator : str, optional
        The indicator to draw; needed when the table holds several.
    title : str, optional

    Returns
    -------
    plotnine.ggplot
        Women (n) across, the estimate up; a solid line at the pooled value, dashed lines at the
        95% limits and dotted ones at the 99.8% limits (joined between the services' own
        ``n``), each published service as a labelled point. Suppressed services are named in
        the caption, not drawn.

    Examples
    --------
    >>> from pceval.results import result_frame
    >>> rows = [{"indicator": "reached", "statistic": "proportion", "n": 300, "numerator": 180,
    ...          "estimate": 0.6, "method": "funnel"}]
    >>> for g, n, x in [("S1", 100, 70), ("S2", 200, 110)]:
    ...     rows.append({"indicator": "reached", "breakdown": "service", "group": g, "statistic": "proportion",
    ...                  "n": n, "numerator": x, "estimate": x / n, "method": "funnel"})
    ...     rows.append({"indicator": "reached", "breakdown": "service", "group": g, "statistic": "pooled",
    ...                  "n": n, "estimate": 0.6, "method": "funnel"})
    ...     for s, v in [("limit95_low", -0.1), ("limit95_high", 0.1), ("limit998_low", -0.15),
    ...                  ("limit998_high", 0.15)]:
    ...         rows.append({"indicator": "reached", "breakdown": "service", "group": g, "statistic": s,
    ...                      "n": n, "estimate": 0.6 + v * 100 / n, "method": "funnel"})
    >>> plot = plot_funnel(result_frame(rows))
    >>> sorted(plot.layers[-1].geom.data["group"])
    ['S1', 'S2']
    """
    chosen, statistic, rows = _funnel_rows(results, indicator)
    services = rows.loc[rows["breakdown"].eq("service")]
    own = _shown(services.loc[services["statistic"].eq(statistic)])
    limits = _shown(services.loc[services["statistic"].isin(_LIMIT_STATISTICS)])
    pooled = _shown(services.loc[services["statistic"].eq("pooled")])
    hidden = _hidden_groups(services.loc[services["statistic"].eq(statistic)])

    plot = ggplot()
    if not pooled.empty:
        plot += geom_hline(yintercept=float(pooled["estimate"].iloc[0]), color=REFERENCE_COLOUR, size=0.6)
    if not limits.empty:
        curves = limits.assign(
            n=limits["n"].astype(float),
            curve=limits["statistic"],
            level=np.where(limits["statistic"].str.startswith("limit95"), "95% limits", "99.8% limits"),
        ).sort_values(["curve", "n"])
        plot += geom_line(data=curves[["n", "estimate", "curve", "level"]],
                          mapping=aes(x="n", y="estimate", group="curve", linetype="level"),
                          color=MUTED_TEXT_COLOUR, size=0.5)
        plot += scale_linetype_manual(values={"95% limits": "dashed", "99.8% limits": "dotted"})
    if not own.empty:
        points = own.assign(n=own["n"].astype(float))[["group", "n", "estimate"]]
        plot += geom_point(data=points, mapping=aes(x="n", y="estimate"), color=PALETTE[0], size=2.5)
        plot += geom_text(data=points, mapping=aes(x="n", y="estimate", label="group"), ha="left",
                          va="bottom", size=_LABEL_SIZE, color=MUTED_TEXT_COLOUR,
                          position=position_nudge(x=0, y=0))
    notes = ["Solid line: pooled estimate. Dashed: 95% limits; dotted: 99.8% limits (Spiegelhalter 2005).",
             "A point outside the limits differs from the pooled value by more than chance would explain."]
    if hidden:
        notes.append(f"{NOT_PUBLISHED}: {', '.join(hidden)} (too few women).")
    what = _humanise(chosen)
    y_scale = _value_scale(statistic)
    return (plot + y_scale
            + labs(x="Women (n)", y="Percent" if statistic == "proportion" else "Mean",
                   title=title or f"{what.capitalize()}: services against the pooled {statistic}",
                   caption="\n".join(notes))
            + theme_pceval())


def _value_scale(statistic: str):
    """The value axis: percent for proportions (as the other figures label them), else plain."""
    return scale_y_continuous(labels=label_percent()) if statistic == "proportion" else scale_y_continuous()


def alt_text_funnel(results: pd.DataFrame, *, indicator: str | None = None) -> str:
    """Text alternative of :func:`plot_funnel`: the pooled value and how many services lie where.

    Examples
    --------
    >>> from pceval.results import result_frame
    >>> rows = result_frame([
    ...     {"indicator": "reached", "breakdown": "service", "group": "S1", "statistic": "proportion",
    ...      "n": 100, "numerator": 70, "estimate": 0.7, "note": "funnel: within 95% limits"},
    ...     {"indicator": "reached", "breakdown": "service", "group": "S1", "statistic": "pooled",
    ...      "n": 100, "estimate": 0.6},
    ...     {"indicator": "reached", "breakdown": "service", "group": "S2", "statistic": "proportion",
    ...      "n": 40, "suppressed": True}])
    >>> print(alt_text_funnel(rows))
    Funnel plot of reached by service: pooled 60%; 1 service within 95% limits; 1 service not published (n.p.).
    """
    chosen, statistic, rows = _funnel_rows(results, indicator)
    services = rows.loc[rows["breakdown"].eq("service")]
    own = _shown(services.loc[services["statistic"].eq(statistic)])
    pooled = _shown(services.loc[services["statistic"].eq("pooled")])
    hidden = _hidden_groups(services.loc[services["statistic"].eq(statistic)])
    parts = [f"Funnel plot of {_humanise(chosen)} by service: pooled "
             + (_fmt(pooled["estimate"].iloc[0], statistic) if not pooled.empty else NOT_PUBLISHED)]
    flags = own["note"].fillna("").str.extract(r"funnel: ([^;]+)")[0].dropna()
    order = ["within 95% limits", "between 95% and 99.8% limits (above)", "between 95% and 99.8% limits (below)",
             "outside 99.8% limits (above)", "outside 99.8% limits (below)"]
    for flag in order:
        k = int((flags == flag).sum())
        if k:
            outside = flag.startswith("outside")
            names = f" ({', '.join(own.loc[flags[flags == flag].index, 'group'])})" if outside else ""
            parts.append(f"{_plural(k, 'service')} {flag}{names}")
    if hidden:
        parts.append(f"{_plural(len(hidden), 'service')} not published ({NOT_PUBLISHED})")
    return "; ".join(parts) + "."


# --------------------------------------------------------------------------------------------
# caterpillar
# --------------------------------------------------------------------------------------------


def _caterpillar_rows(results: pd.DataFrame, indicator: str | None) -> tuple[str, pd.DataFrame, pd.DataFrame]:
    table = _table(results)
    eb = table.loc[table["statistic"].eq("eb_estimate")]
    if eb.empty:
        raise AnalysisError("the results hold no eb_estimate rows", field="statistic",
                            fix="pass the rows of a service_comparison analysis")
    chosen = _one_indicator(eb, indicator, "eb_estimate")
    return chosen, table.loc[table["indicator"].eq(chosen)], eb.loc[eb["indicator"].eq(chosen)]


def plot_caterpillar(results: pd.DataFrame, *, indicator: str | None = None, title: str | None = None) -> ggplot:
    """Caterpillar plot: shrunken estimates with 95% intervals, services ordered by estimate.

    Parameters
    ----------
    results : DataFrame
        Rows of a ``service_comparison`` analysis after disclosure control.
    indicator : str, optional
        The indicator to draw; needed when the table holds several.
    title : str, optional

    Returns
    -------
    plotnine.ggplot
        One row per published service, ordered by its shrunken estimate, each with its
        interval (an order never shown without its uncertainty): filled points the shrunken
        estimates, open points the services' own estimates, a dashed line at the prior mean.
        Suppressed services are named in the caption.

    Examples
    --------
    >>> from pceval.results import result_frame
    >>> rows = result_frame([
    ...     {"indicator": "reached", "statistic": "eb_estimate", "n": 300, "estimate": 0.6},
    ...     {"indicator": "reached", "breakdown": "service", "group": "S1", "statistic": "eb_estimate",
    ...      "n": 100, "estimate": 0.65, "ci_low": 0.55, "ci_high": 0.74},
    ...     {"indicator": "reached", "breakdown": "service", "group": "S2", "statistic": "eb_estimate",
    ...      "n": 200, "estimate": 0.57, "ci_low": 0.5, "ci_high": 0.64}])
    >>> plot_caterpillar(rows).layers[1].geom.data["group"].tolist()
    ['S2', 'S1']
    """
    chosen, rows, eb = _caterpillar_rows(results, indicator)
    services = eb.loc[eb["breakdown"].eq("service")]
    shown = _shown(services).sort_values(["estimate", "group"])
    order = shown["group"].astype(str).tolist()
    prior = _shown(eb.loc[eb["breakdown"].eq("overall")])
    own_stat = rows.loc[rows["statistic"].isin(_OWN_STATISTICS), "statistic"]
    statistic = own_stat.iloc[0] if len(own_stat) else "mean"
    own = _shown(rows.loc[rows["statistic"].isin(_OWN_STATISTICS) & rows["breakdown"].eq("service")
                          & rows["group"].isin(order)])
    layers = pd.concat([
        shown[["group", "estimate"]].assign(kind="Shrunken estimate (95% interval)"),
        own[["group", "estimate"]].assign(kind="Service's own estimate"),
    ], ignore_index=True)
    plot = ggplot()
    if not prior.empty:
        plot += geom_hline(yintercept=float(prior["estimate"].iloc[0]), linetype="dashed",
                           color=REFERENCE_COLOUR, size=0.6)
    plot += geom_errorbar(data=shown[["group", "ci_low", "ci_high"]],
                          mapping=aes(x="group", ymin="ci_low", ymax="ci_high"),
                          width=0.3, color=PALETTE[0], size=0.7)
    plot += geom_point(data=layers, mapping=aes(x="group", y="estimate", shape="kind"),
                       color=PALETTE[0], size=2.5, fill="white")
    hidden = _hidden_groups(services)
    notes = ["Services ordered by shrunken estimate: overlapping intervals mean the order is not certain.",
             "Dashed line: the estimated mean of all services."]
    if hidden:
        notes.append(f"{NOT_PUBLISHED}: {', '.join(hidden)} (too few women).")
    y_scale = _value_scale(statistic)
    return (plot + scale_x_discrete(limits=order)
            + scale_shape_manual(values={"Shrunken estimate (95% interval)": "o", "Service's own estimate": "D"})
            + y_scale + coord_flip()
            + labs(x="Service", y="Percent" if statistic == "proportion" else "Estimate",
                   title=title or f"{_humanise(chosen).capitalize()}: shrunken estimates by service",
                   caption="\n".join(notes))
            + theme_pceval())


def alt_text_caterpillar(results: pd.DataFrame, *, indicator: str | None = None) -> str:
    """Text alternative of :func:`plot_caterpillar`.

    Examples
    --------
    >>> from pceval.results import result_frame
    >>> rows = result_frame([
    ...     {"indicator": "reached", "statistic": "proportion", "n": 300, "numerator": 180, "estimate": 0.6},
    ...     {"indicator": "reached", "breakdown": "service", "group": "S1", "statistic": "eb_estimate",
    ...      "n": 100, "estimate": 0.65, "ci_low": 0.55, "ci_high": 0.74},
    ...     {"indicator": "reached", "breakdown": "service", "group": "S2", "statistic": "eb_estimate",
    ...      "n": 200, "estimate": 0.57, "ci_low": 0.5, "ci_high": 0.64}])
    >>> print(alt_text_caterpillar(rows))
    Shrunken estimates of reached for 2 services range from 57% (S2, 95% interval 50–64%) to 65% (S1, 95% interval 55–74%); the intervals overlap, so the order is uncertain.
    """
    chosen, rows, eb = _caterpillar_rows(results, indicator)
    own_stat = rows.loc[rows["statistic"].isin(_OWN_STATISTICS), "statistic"]
    statistic = own_stat.iloc[0] if len(own_stat) else "mean"
    services = eb.loc[eb["breakdown"].eq("service")]
    shown = _shown(services).sort_values(["estimate", "group"])
    hidden = _hidden_groups(services)
    if shown.empty:
        text = f"No shrunken estimates of {_humanise(chosen)} are published"
    else:
        low, high = shown.iloc[0], shown.iloc[-1]

        def one(r: pd.Series) -> str:
            return f"{_fmt(r['estimate'], statistic)} ({r['group']}, {_interval(r['ci_low'], r['ci_high'], statistic)[2:-1]})"
        overlap = (shown["ci_low"].max() <= shown["ci_high"].min())
        text = (f"Shrunken estimates of {_humanise(chosen)} for {_plural(len(shown), 'service')} range from "
                f"{one(low)} to {one(high)}; "
                + ("the intervals overlap, so the order is uncertain" if overlap
                   else "some intervals do not overlap"))
    if hidden:
        text += f"; {_plural(len(hidden), 'service')} not published ({NOT_PUBLISHED})"
    return text + "."


# --------------------------------------------------------------------------------------------
# scorecard
# --------------------------------------------------------------------------------------------


def _scorecard_cells(results: pd.DataFrame) -> pd.DataFrame:
    table = _table(results)
    cells = table.loc[table["indicator"].fillna("").str.fullmatch(r"nos[1-6]_(hm|hw|bo)")].copy()
    if cells.empty:
        raise AnalysisError("the results hold no scorecard rows (indicators nos1_hw ...)", field="indicator",
                            fix="pass the rows of a scorecard analysis")
    labels = {}
    for indicator, part in cells.groupby("indicator", sort=False):
        found = part["note"].fillna("").str.extract(r"headline: (.*) \(([^()]*)\)$")[0].dropna()
        labels[indicator] = found.iloc[0] if len(found) else indicator
    nos, rba = cells["indicator"].str.split("_", expand=True)[0], cells["indicator"].str.split("_", expand=True)[1]
    cells["nos"] = nos.str.upper()
    cells["rba"] = rba
    cells["row"] = [f"{n} {_RBA[r]}: {labels[i]}" for n, r, i in zip(cells["nos"], rba, cells["indicator"], strict=True)]
    cells["column"] = np.where(cells["breakdown"].eq("overall"), OVERALL_LABEL, cells["group"].astype(str))
    cells["text"] = [NOT_PUBLISHED if (s or pd.isna(e)) else _fmt(e, st)
                     for s, e, st in zip(cells["suppressed"].astype(bool), cells["estimate"], cells["statistic"],
                                         strict=True)]
    cells["published"] = np.where(cells["text"].eq(NOT_PUBLISHED), "n.p.", "shown")
    order = {(n, r): k for k, (n, r) in enumerate((n, r) for n in _NOS for r in _RBA)}
    cells["_order"] = [order[(n, r)] for n, r in zip(cells["nos"], cells["rba"], strict=True)]
    return cells.sort_values("_order", kind="stable")


def plot_scorecard(results: pd.DataFrame, *, title: str | None = None) -> ggplot:
    """The standards scorecard as a table figure: headline per NOS and quadrant, by service.

    Parameters
    ----------
    results : DataFrame
        Rows of a ``scorecard`` analysis after disclosure control.
    title : str, optional

    Returns
    -------
    plotnine.ggplot
        One row per headline (NOS, RBA quadrant and label, NOS1 first), one column for all
        services and one per service in name order; each cell the published estimate
        (percent, or a signed change), "n.p." on grey where it is not published. No colour
        encodes the values: cells are read, not ranked.

    Examples
    --------
    >>> from pceval.results import result_frame
    >>> rows = result_frame([
    ...     {"indicator": "nos1_hw", "statistic": "proportion", "n": 300, "numerator": 180, "estimate": 0.6,
    ...      "note": "headline: Reached (q01_reach.reached)"},
    ...     {"indicator": "nos1_hw", "breakdown": "service", "group": "S1", "statistic": "proportion",
    ...      "n": 40, "suppressed": True}])
    >>> sorted(plot_scorecard(rows).data["text"])
    ['60%', 'n.p.']
    """
    cells = _scorecard_cells(results)
    rows = list(dict.fromkeys(cells["row"]))
    # the pooled small services come last, after the named ones
    named = _natural(c for c in cells["column"] if c not in (OVERALL_LABEL, POOLED_LABEL))
    columns = [OVERALL_LABEL, *named, *([POOLED_LABEL] if (cells["column"] == POOLED_LABEL).any() else [])]
    data = cells[["row", "column", "text", "published"]].assign(
        column=lambda f: pd.Categorical(f["column"].map(_wrap), categories=[_wrap(c) for c in columns]))
    return (ggplot(data, aes(x="column", y="row"))
            + geom_tile(aes(fill="published"), color=GRID_COLOUR, size=0.5)
            + geom_text(aes(label="text"), size=_LABEL_SIZE + 1, color="#222222")
            + scale_fill_manual(values={"shown": "white", "n.p.": "#EEEEEE"}, guide=None)
            + scale_x_discrete(limits=[_wrap(c) for c in columns])
            + scale_y_discrete(limits=list(reversed(rows)))
            + labs(x="", y="", title=title or "Standards scorecard: headline indicators",
                   caption="NOS: National Outcome Standards. Percent or change, as the headline measures; "
                           f"{NOT_PUBLISHED}: not published (too few women).")
            + theme_pceval() + theme(panel_grid_major=element_blank(), axis_text_x=element_text(size=8)))


def alt_text_scorecard(results: pd.DataFrame) -> str:
    """Text alternative of :func:`plot_scorecard`: each headline's overall value.

    Examples
    --------
    >>> from pceval.results import result_frame
    >>> rows = result_frame([
    ...     {"indicator": "nos1_hw", "statistic": "proportion", "n": 300, "numerator": 180, "estimate": 0.6,
    ...      "ci_low": 0.54, "ci_high": 0.65, "note": "headline: Reached (q01_reach.reached)"},
    ...     {"indicator": "nos1_hw", "breakdown": "service", "group": "S1", "statistic": "proportion",
    ...      "n": 40, "suppressed": True}])
    >>> print(alt_text_scorecard(rows))
    Standards scorecard, 1 headline indicator across 1 service. NOS1 How well: Reached 60% (95% interval 54–65%); 0 of 1 service published.
    """
    cells = _scorecard_cells(results)
    services = sorted(set(cells.loc[cells["column"] != OVERALL_LABEL, "column"]))
    parts = []
    for row, part in cells.groupby("row", sort=False):
        overall = part.loc[part["column"].eq(OVERALL_LABEL)]
        value = "n.p."
        if len(overall):
            r = overall.iloc[0]
            value = r["text"] + ("" if r["text"] == NOT_PUBLISHED else _interval(r["ci_low"], r["ci_high"], r["statistic"]))
        by = part.loc[part["column"].ne(OVERALL_LABEL)]
        parts.append(f"{row} {value}; {int(by['published'].eq('shown').sum())} of {_plural(len(by), 'service')} "
                     "published")
    return (f"Standards scorecard, {_plural(len(parts), 'headline indicator')} across "
            f"{_plural(len(services), 'service')}. " + ". ".join(parts) + ".")


# --------------------------------------------------------------------------------------------
# agreement
# --------------------------------------------------------------------------------------------


def _agreement_rows(results: pd.DataFrame, breakdown: str | None, statistics) -> pd.DataFrame:
    table = _table(results)
    rows = table.loc[table["statistic"].isin(statistics)]
    if rows.empty:
        raise AnalysisError(f"the results hold no agreement rows ({', '.join(statistics)})", field="statistic",
                            fix="pass the rows of an agreement_kappa analysis")
    keep = ["overall"] if breakdown is None else ["overall", breakdown]
    return rows.loc[rows["breakdown"].isin(keep)]


def plot_agreement(results: pd.DataFrame, *, breakdown: str | None = None,
                   statistics: tuple[str, ...] = ("cohen_kappa", "krippendorff_alpha"),
                   title: str | None = None) -> ggplot:
    """Forest plot of agreement between sources: kappa and alpha with 95% intervals.

    Parameters
    ----------
    results : DataFrame
        Rows of ``agreement_kappa`` analyses after disclosure control.
    breakdown : str, optional
        Also draw the groups of this breakdown (e.g. ``"service"``), in facets per pair.
    statistics : tuple of str
        Which statistics to draw (shape marks the statistic).
    title : str, optional

    Returns
    -------
    plotnine.ggplot
        One row per pair of sources (or per group, faceted by pair), agreement across from -1
        to 1 with a line at 0 (chance agreement); suppressed groups are named in the caption.

    Examples
    --------
    >>> from pceval.results import result_frame
    >>> rows = result_frame([{"indicator": "his_change", "statistic": "cohen_kappa", "n": 80, "numerator": 50,
    ...                       "estimate": 0.4, "ci_low": 0.25, "ci_high": 0.55}])
    >>> plot_agreement(rows).data["estimate"].tolist()
    [0.4]
    """
    rows = _agreement_rows(results, breakdown, statistics)
    shown = _shown(rows).copy()
    faceted = breakdown is not None
    shown["label"] = (np.where(shown["breakdown"].eq("overall"), OVERALL_LABEL, shown["group"].astype(str))
                      if faceted else shown["indicator"].map(_humanise))
    shown["panel"] = shown["indicator"].map(_humanise)
    shown["what"] = shown["statistic"].map(_humanise).str.capitalize()
    order = ([OVERALL_LABEL, *_natural(set(shown["label"]) - {OVERALL_LABEL})] if faceted
             else list(dict.fromkeys(shown["label"])))
    hidden = _hidden_groups(rows)
    notes = ["Points: estimates with 95% intervals; 0 is the agreement expected by chance, 1 perfect agreement."]
    if hidden:
        notes.append(f"{NOT_PUBLISHED}: {', '.join(hidden)} (too few women).")
    dodge = position_dodge(width=0.5)
    plot = (ggplot(shown, aes(x="label", y="estimate", shape="what"))
            + geom_hline(yintercept=0, color=REFERENCE_COLOUR, linetype="dashed", size=0.5)
            + geom_errorbar(aes(ymin="ci_low", ymax="ci_high", group="what"), width=0.25, color=PALETTE[0],
                            size=0.6, position=dodge)
            + geom_point(aes(group="what"), color=PALETTE[0], size=2.5, fill="white", position=dodge))
    if faceted:
        plot += facet_wrap("panel")
    return (plot + scale_x_discrete(limits=list(reversed(order)))
            + scale_shape_manual(values={"Cohen kappa": "o", "Krippendorff alpha": "D", "Fleiss kappa": "s",
                                         "Percent agreement": "^"})
            + scale_y_continuous(limits=(-1.0, 1.0)) + coord_flip()
            + labs(x="", y="Agreement", title=title or "Agreement between sources",
                   caption="\n".join(notes))
            + theme_pceval())


def alt_text_agreement(results: pd.DataFrame, *, breakdown: str | None = None,
                       statistics: tuple[str, ...] = ("cohen_kappa", "krippendorff_alpha")) -> str:
    """Text alternative of :func:`plot_agreement`: the overall estimates per pair.

    Examples
    --------
    >>> from pceval.results import result_frame
    >>> rows = result_frame([{"indicator": "his_change", "statistic": "cohen_kappa", "n": 80, "numerator": 50,
    ...                       "estimate": 0.4, "ci_low": 0.25, "ci_high": 0.55}])
    >>> print(alt_text_agreement(rows))
    Agreement between sources. his change: Cohen kappa 0.40 (95% interval 0.25 to 0.55, 80 women).
    """
    rows = _agreement_rows(results, breakdown, statistics)
    parts = []
    for indicator, part in rows.groupby("indicator", sort=False):
        overall = _shown(part.loc[part["breakdown"].eq("overall")])
        values = [f"{_humanise(r['statistic']).capitalize()} {_fmt(r['estimate'], r['statistic'])}"
                  f"{_interval(r['ci_low'], r['ci_high'], r['statistic'])[:-1]}, {int(r['n'])} women)"
                  for _, r in overall.iterrows()]
        text = f"{_humanise(indicator)}: " + ("; ".join(values) if values else NOT_PUBLISHED)
        if breakdown is not None:
            groups = part.loc[part["breakdown"].eq(breakdown)]
            est = _shown(groups)
            if len(est):
                text += (f"; by {breakdown}, from {_fmt(est['estimate'].min(), 'x')} to "
                         f"{_fmt(est['estimate'].max(), 'x')}")
            hidden = groups.loc[groups["suppressed"].astype(bool), "group"].nunique()
            if hidden:
                text += f", {hidden} not published ({NOT_PUBLISHED})"
        parts.append(text)
    return "Agreement between sources. " + ". ".join(parts) + "."
