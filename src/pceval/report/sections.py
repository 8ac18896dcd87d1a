"""Report sections built from the plan and the (suppressed) result tables.

The evaluation report has one section per plan question. Each analysis of a question gets its
label, its figure (chosen by the figure name the plan gives it) and the question gets two
tables: the overall estimates and the main breakdown. This module does that work so that the
``.qmd`` stays a readable outline:

- :func:`analysis_rows` finds the rows one analysis wrote (result rows name their question
  and indicator, not their analysis);
- :func:`analysis_figure` draws an analysis's figure with its alt text, by figure name;
- :func:`overall_table` and :func:`breakdown_table` build great_tables tables of any
  statistic, with ``n.p.`` where a value was withheld;
- :func:`figure_block` and :func:`table_block` return the markdown a cell with
  ``output: asis`` prints: a numbered, captioned figure or table float that both ``quarto
  render`` and pceval's own renderer cross-reference.

Nothing here computes a statistic: values are rounded and labelled, never derived, and a
suppressed row shows only "n.p.".
"""

from __future__ import annotations

import contextlib
import json
import math
import multiprocessing
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from great_tables import GT

from pceval.errors import AnalysisError
from pceval.report.embed import figure_markdown
from pceval.report.tables import NOT_PUBLISHED, fmt_int, fmt_num, fmt_pct, style_table

__all__ = [
    "CHANGE_STATISTICS",
    "METHOD_WORDS",
    "Figure",
    "analysis_figure",
    "analysis_label",
    "analysis_rows",
    "breakdown_table",
    "draw_figures",
    "figure_block",
    "figure_jobs",
    "format_value",
    "frame_table",
    "indicator_label",
    "main_breakdown",
    "overall_table",
    "question_rows",
    "question_section",
    "question_tables",
    "shared_figure",
    "slug",
    "statistic_label",
    "table_block",
    "women_count",
]

CHANGE_STATISTICS = ("mean_pre", "mean_post", "mean_change", "effect_size_dz")
_ATTEMPT = re.compile(r"^(success_at|reached_by)_attempt_(\d+)$")
_HORIZON = re.compile(r"^(?P<name>.+)_within_(?P<days>\d+)_days$")
_SCORECARD = re.compile(r"^nos\d_(hm|hw|bo)$")

# Plain words for statistics, in the order a table lists them within an indicator.
_STATISTICS: dict[str, str] = {
    "proportion": "Share",
    "mean": "Mean",
    "median": "Median",
    "q1": "Lower quartile",
    "q3": "Upper quartile",
    "events": "Events observed",
    "mean_pre": "Before",
    "mean_post": "After",
    "mean_change": "Change",
    "effect_size_dz": "Standardised change (dz)",
    "coefficient": "Coefficient",
    "difference": "Difference",
    "adjusted_difference": "Difference adjusted for service",
    "odds_ratio": "Odds ratio",
    "adjusted_odds_ratio": "Odds ratio adjusted for service",
    "marginal_difference": "Average marginal difference",
    "marginal_effect": "Average marginal effect",
    "icc_service": "Share of variance between services",
    "percent_agreement": "Agreement",
    "cohen_kappa": "Cohen's kappa",
    "krippendorff_alpha": "Krippendorff's alpha",
    "fleiss_kappa": "Fleiss' kappa",
    "spearman_rho": "Spearman's rho across services",
    "chi_square": "Log-rank chi-square",
    "alpha": "Cronbach's alpha",
    "omega": "McDonald's omega",
    "floor": "At the floor",
    "ceiling": "At the ceiling",
    "pooled": "Pooled",
    "eb_estimate": "Shrunken estimate",
    "count": "Count",
}
# Statistics shown as percentages, and (for proportion outcomes) percentage-point differences.
_PERCENT = frozenset({"proportion", "percent_agreement", "floor", "ceiling", "icc_service"})
# For an indicator that is a share, these are shares too (service comparison rows).
_SHARE_ALIKE = frozenset({"pooled", "eb_estimate", "limit95_low", "limit95_high", "limit998_low",
                          "limit998_high"})
_POINTS_METHODS = frozenset({"newcombe", "logit_service_fe_standardised", "logit_ame"})


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


# --------------------------------------------------------------------------------------------
# Which rows an analysis wrote
# --------------------------------------------------------------------------------------------


def question_rows(results: pd.DataFrame, question: str) -> pd.DataFrame:
    """The rows of one plan question, in the order ``pceval analyse`` wrote them."""
    return results.loc[results["question"] == question]


def _ids(analysis: Mapping[str, Any]) -> set[str]:
    ids = {str(i["id"]) for i in analysis.get("indicators") or []}
    params = analysis.get("params") or {}
    ids |= {str(i) for i in params.get("indicators") or [] if isinstance(i, str)}
    return ids


def _term_column(group: str) -> str:
    return group.split("=", 1)[0].split(" at ", 1)[0]


def _matcher(analysis: Mapping[str, Any]) -> Callable[[pd.DataFrame], pd.Series]:
    """A mask of the rows an analysis can have written (rows of several may match)."""
    method = analysis.get("method")
    params = analysis.get("params") or {}
    outcome = analysis.get("outcome") or params.get("outcome")
    ids = _ids(analysis)

    def indicator(rows: pd.DataFrame) -> pd.Series:
        return rows["indicator"].astype(str)

    if method == "proportions":
        return lambda r: indicator(r).isin(ids) & r["statistic"].eq("proportion")
    if method == "paired_change":
        return lambda r: (indicator(r).eq(str(outcome)) & r["statistic"].isin(CHANGE_STATISTICS)
                          & r["breakdown"].ne("term"))
    if method == "mixed_change":
        interaction = params.get("interaction")

        def mixed(r: pd.DataFrame) -> pd.Series:
            groups = r["group"].astype(str)
            wave_term = groups.str.contains(r" vs ", regex=False) & ~groups.str.contains("=", regex=False) \
                if not interaction else groups.str.contains(f"| {interaction}=", regex=False)
            covariate = ~groups.str.contains(" vs ", regex=False) & groups.map(_term_column).isin(
                [str(c) for c in params.get("covariates") or []])
            term = r["breakdown"].eq("term") & (wave_term | covariate)
            icc = r["statistic"].eq("icc_service")
            return indicator(r).eq(str(outcome)) & r["method"].eq("mixedlm") & (term | icc)
        return mixed
    if method == "logistic":
        return lambda r: indicator(r).eq(str(outcome)) & r["method"].astype(str).str.startswith("logit")
    if method == "regression":
        terms = {str(t) for t in params.get("terms") or []}
        return lambda r: (indicator(r).eq(str(outcome)) & r["breakdown"].eq("term")
                          & r["method"].astype(str).str.startswith("ols")
                          & r["group"].astype(str).map(_term_column).isin(terms))
    if method == "equity_gap":
        columns = {str(c["column"]) for c in params.get("cohorts") or []}
        return lambda r: indicator(r).isin(ids) & r["breakdown"].isin(columns)
    if method == "time_to_event":
        name = str(params.get("name") or params.get("event"))
        return lambda r: indicator(r).eq(name) | indicator(r).str.fullmatch(
            rf"{re.escape(name)}_within_\d+_days")
    if method == "summary":
        labels = params.get("labels") or {}
        names = {str(labels.get(o, o)) for o in params.get("outcomes") or []}
        return lambda r: indicator(r).isin(names) & ~r["statistic"].eq("proportion")
    if method == "attempt_curve":
        return lambda r: indicator(r).str.fullmatch(_ATTEMPT.pattern)
    if method == "rate":
        name = params.get("name")
        return lambda r: (indicator(r).eq(str(name)) if name
                          else r["statistic"].astype(str).str.startswith("rate_per_"))
    if method == "agreement_kappa":
        return lambda r: indicator(r).eq(str(params.get("indicator")))
    if method == "caseload":
        return lambda r: r["method"].isin(["workers", "spearman_services", "wls_services"])
    if method == "scorecard":
        return lambda r: indicator(r).str.fullmatch(_SCORECARD.pattern)
    if method == "dex_summary":
        return lambda r: indicator(r).str.startswith("dex_")
    if method == "service_comparison":
        names = ids | ({str(outcome)} if outcome else set())
        return lambda r: indicator(r).isin(names)
    if method == "attrition":
        return lambda r: indicator(r).eq("retained")
    if method == "mice_sensitivity":
        return lambda r: r["method"].isin(["ols_complete_case", "mice_ols"])
    if method == "scale_reliability":
        return lambda r: r["breakdown"].eq("wave")
    return lambda r: pd.Series(False, index=r.index)


def analysis_rows(results: pd.DataFrame, question: Mapping[str, Any],
                  analysis: Mapping[str, Any]) -> pd.DataFrame:
    """The result rows one analysis of a plan question wrote.

    Result rows carry their question, not their analysis. Each method writes recognisable
    rows (its indicators, statistics, methods or terms); a row two analyses could both have
    written (a covariate shared by two models of the same outcome) goes to the analysis whose
    own rows come just before it, since ``pceval analyse`` writes analyses in plan order.

    Examples
    --------
    >>> from pceval.results import result_frame
    >>> rows = result_frame([
    ...     {"question": "q", "indicator": "y", "breakdown": "term", "group": "dose",
    ...      "statistic": "coefficient", "method": "ols_cluster"},
    ...     {"question": "q", "indicator": "y", "breakdown": "term", "group": "base",
    ...      "statistic": "coefficient", "method": "ols_cluster"},
    ...     {"question": "q", "indicator": "y", "breakdown": "term", "group": "hours",
    ...      "statistic": "coefficient", "method": "ols_cluster"},
    ...     {"question": "q", "indicator": "y", "breakdown": "term", "group": "base",
    ...      "statistic": "coefficient", "method": "ols_cluster"}])
    >>> q = {"id": "q", "analyses": [
    ...     {"id": "a", "method": "regression", "params": {"outcome": "y", "terms": ["dose", "base"]}},
    ...     {"id": "b", "method": "regression", "params": {"outcome": "y", "terms": ["hours", "base"]}}]}
    >>> analysis_rows(rows, q, q["analyses"][1])["group"].tolist()
    ['hours', 'base']
    """
    rows = question_rows(results, str(question["id"]))
    analyses = list(question.get("analyses") or [])
    if len(analyses) <= 1:
        return rows
    masks = pd.DataFrame({i: _matcher(a)(rows).fillna(False).astype(bool).to_numpy()
                          for i, a in enumerate(analyses)}, index=rows.index)
    owner = pd.Series(-1, index=rows.index)
    unique = masks.sum(axis=1).eq(1)
    owner[unique] = masks[unique].to_numpy().argmax(axis=1)
    last = -1
    for position, index in enumerate(rows.index):
        if unique.iloc[position]:
            last = int(owner.iloc[position])
            continue
        candidates = [i for i in masks.columns if masks.iloc[position, i]]
        if not candidates:
            continue
        # shared rows follow the rows of their own analysis
        owner.iloc[position] = last if last in candidates else candidates[0]
    wanted = analyses.index(analysis)
    return rows.loc[owner.eq(wanted)]


def analysis_label(question: Mapping[str, Any], analysis: Mapping[str, Any]) -> str:
    """The analysis's label from the plan, or a plain one built from its outcome."""
    label = analysis.get("label")
    if label:
        return " ".join(str(label).split())
    outcome = analysis.get("outcome") or (analysis.get("params") or {}).get("outcome")
    if analysis.get("method") == "paired_change" and outcome:
        waves = analysis.get("waves") or {}
        pre, post = waves.get("pre", "the first wave"), waves.get("post", "the last wave")
        return f"Change in {_words(outcome)} from {pre} to {post} (women who answered both)"
    if analysis.get("method") == "scale_reliability":
        return "Reliability of each scale at each wave"
    return str(question.get("title") or analysis.get("id"))


def _words(name: Any) -> str:
    return str(name).replace("followup", "follow-up").replace("_", " ").strip()


def indicator_label(indicator: str, labels: Mapping[str, str]) -> str:
    """A readable label for an indicator id: the plan's label, else built from the id.

    Examples
    --------
    >>> indicator_label("days_to_first_contact_within_30_days", {})
    'Days to first contact: within 30 days'
    >>> indicator_label("reached_by_attempt_3", {})
    'Reached by attempt 3'
    """
    if indicator in labels:
        return labels[indicator]
    horizon = _HORIZON.match(indicator)
    if horizon:
        return f"{indicator_label(horizon['name'], labels)}: within {horizon['days']} days"
    text = _words(indicator)
    return text[:1].upper() + text[1:]


def statistic_label(statistic: str) -> str:
    """Plain words for a statistic (``mean_change`` -> ``Change``)."""
    if statistic.startswith("rate_per_"):
        return f"Rate per {statistic.removeprefix('rate_per_')}"
    if statistic.startswith("limit"):
        return statistic.replace("limit95", "95% limit").replace("limit998", "99.8% limit").replace("_", " ")
    return _STATISTICS.get(statistic, _words(statistic).capitalize())


def format_value(value: Any, statistic: str, method: str | None = None, *, signed: bool = False) -> str:
    """A value rounded for display by what it is: a share, a difference in points, a ratio.

    Examples
    --------
    >>> format_value(0.4321, "proportion"), format_value(-0.05, "difference", "newcombe")
    ('43%', '-5.0 pts')
    >>> format_value(3.456, "median", "km"), format_value(1.234, "odds_ratio")
    ('3.5', '1.23')
    """
    if _missing(value):
        return NOT_PUBLISHED
    value = float(value)
    method = method or ""
    if statistic in _PERCENT:
        return fmt_pct(value)
    if statistic in ("difference", "adjusted_difference", "marginal_difference") and method in _POINTS_METHODS:
        return f"{100 * value:+.1f} pts"
    if statistic in ("events", "count"):
        return fmt_int(value)
    if statistic in ("median", "q1", "q3") or statistic.startswith("rate_per_") or statistic == "chi_square":
        return fmt_num(value, 1)
    return fmt_num(value, 2, signed=signed)


def _shown(row: pd.Series, statistic: str, method: str | None, value: Any) -> str:
    signed = statistic in ("mean_change", "difference", "adjusted_difference", "coefficient",
                           "marginal_difference", "marginal_effect")
    return format_value(value, statistic, method, signed=signed)


# --------------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------------


def _records(rows: pd.DataFrame, labels: Mapping[str, str], *, group_column: str) -> pd.DataFrame:
    records = []
    shares = set(rows.loc[rows["statistic"].eq("proportion"), "indicator"].astype(str))
    for row in rows.itertuples(index=False):
        statistic, method = str(row.statistic), (None if _missing(row.method) else str(row.method))
        withheld = bool(row.suppressed) or _missing(row.estimate)
        stat = "proportion" if statistic in _SHARE_ALIKE and str(row.indicator) in shares else statistic
        estimate = NOT_PUBLISHED if withheld else _shown(row, stat, method, row.estimate)
        interval = NOT_PUBLISHED if withheld else (
            "" if _missing(row.ci_low) else
            f"{_shown(row, stat, method, row.ci_low)} to {_shown(row, stat, method, row.ci_high)}")
        p_value = "" if withheld or _missing(row.p_value) else (
            "<0.001" if float(row.p_value) < 0.001 else f"{float(row.p_value):.3f}")
        if group_column == "term":
            what = f"{statistic_label(statistic)}: {row.group}"
        elif str(row.breakdown) == "wave":
            what = f"{statistic_label(statistic)}, {row.group}"
        else:
            what = statistic_label(statistic)
        records.append({
            "_indicator": indicator_label(str(row.indicator), labels),
            "_group": "All services" if str(row.group) == "all" else str(row.group),
            "What": what,
            "n": fmt_int(row.n),
            "Estimate": estimate,
            "95% CI": interval,
            "p": p_value,
        })
    return pd.DataFrame(records, columns=["_indicator", "_group", "What", "n", "Estimate", "95% CI", "p"])


def overall_table(rows: pd.DataFrame, labels: Mapping[str, str], *, table_id: str,
                  analyses: Sequence[tuple[str, pd.DataFrame]] | None = None) -> GT | None:
    """All overall estimates of a question (and model terms, and reliability per wave).

    Parameters
    ----------
    rows : DataFrame
        The question's result rows (used when ``analyses`` is not given).
    labels : mapping
        Indicator id to label.
    table_id : str
        A fixed id for the HTML table (keeps the report byte-identical between runs).
    analyses : sequence of (label, rows), optional
        The rows of each analysis with its label; rows are grouped under the label.

    Returns
    -------
    great_tables.GT or None
        None when the question has no overall row.
    """
    parts = []
    for label, part in (analyses if analyses is not None else [("", rows)]):
        keep = part["breakdown"].isin(["overall", "term", "wave"]) & ~part["group"].eq("between groups")
        keep &= ~part["statistic"].astype(str).str.startswith("limit")
        sub = part.loc[keep]
        if sub.empty:
            continue
        frame = _records(sub, labels, group_column="")
        terms = sub["breakdown"].eq("term").to_numpy()
        if terms.any():
            frame.loc[terms, "What"] = _records(sub.loc[sub["breakdown"].eq("term")], labels,
                                                group_column="term")["What"].to_numpy()
        frame["_section"] = label
        parts.append(frame)
    if not parts:
        return None
    frame = pd.concat(parts, ignore_index=True)
    many_sections = frame["_section"].nunique() > 1 or frame["_section"].iloc[0] != ""
    frame["Indicator"] = frame["_indicator"]
    shown = frame.assign(Row=frame["_indicator"] + " | " + frame["What"])
    if many_sections:
        shown["Row"] = frame["_indicator"].where(frame["_indicator"].ne(frame["_section"]), "") \
            .str.cat(frame["What"], sep=": ").str.lstrip(": ")
    columns = ["Row", "n", "Estimate", "95% CI", "p"]
    if not frame["p"].astype(bool).any():
        columns.remove("p")
    out = shown.loc[:, columns + ["_section"]].rename(columns={"Row": "Estimate of", "n": "Women (n)"})
    table = GT(out, rowname_col="Estimate of", groupname_col="_section" if many_sections else None,
               id=table_id)
    if not many_sections:
        table = table.cols_hide("_section")
    numbers = [c for c in ("Women (n)", "Estimate", "95% CI", "p") if c in out.columns]
    return style_table(table, numbers=numbers)


def breakdown_table(rows: pd.DataFrame, labels: Mapping[str, str], breakdown: str, *,
                    table_id: str) -> GT | None:
    """Headline estimates by the groups of one breakdown (services in name order), with all.

    One row group per indicator and statistic; a row per group, "All services" first. Only
    the headline statistics (share, mean, median, change, rate, agreement) are listed.
    """
    headline = rows["statistic"].isin(["proportion", "mean", "median", "mean_change",
                                       "percent_agreement"]) \
        | rows["statistic"].astype(str).str.startswith("rate_per_")
    # attempt curves and time-to-event horizons are in the figures; the table keeps the median
    headline &= ~rows["indicator"].astype(str).str.fullmatch(_ATTEMPT.pattern)
    headline &= ~rows["indicator"].astype(str).str.fullmatch(_HORIZON.pattern)
    keep = headline & rows["breakdown"].isin(["overall", breakdown]) & ~rows["method"].eq("funnel").fillna(False)
    sub = rows.loc[keep]
    if sub.empty or not sub["breakdown"].eq(breakdown).any():
        return None
    present = set(sub.loc[sub["breakdown"].eq(breakdown), "indicator"].astype(str)
                  + "\x00" + sub.loc[sub["breakdown"].eq(breakdown), "statistic"].astype(str))
    sub = sub.loc[(sub["indicator"].astype(str) + "\x00" + sub["statistic"].astype(str)).isin(present)]
    order = {name: i for i, name in enumerate(dict.fromkeys(sub["indicator"].astype(str)))}
    sub = sub.assign(_i=sub["indicator"].astype(str).map(order), _o=sub["breakdown"].ne("overall"),
                     _g=sub["group"].astype(str)).sort_values(["_i", "statistic", "_o", "_g"], kind="stable")
    frame = _records(sub, labels, group_column="")
    frame["Indicator"] = frame["_indicator"] + ": " + frame["What"].str.lower()
    out = frame.loc[:, ["_group", "Indicator", "n", "Estimate", "95% CI"]].rename(
        columns={"_group": "Group", "n": "Women (n)"})
    table = GT(out, rowname_col="Group", groupname_col="Indicator", id=table_id)
    return style_table(table, numbers=["Women (n)", "Estimate", "95% CI"])


def table_block(table: GT, *, label: str, caption: str) -> str:
    """Markdown for a captioned, numbered table float holding a great_tables table.

    The same float a cell with ``label: tbl-...`` and ``tbl-cap`` makes, so a loop can print
    many tables, each cross-referenceable as ``@tbl-...``.
    """
    if not label.startswith("tbl-"):
        raise ValueError(f"table labels start with 'tbl-', got {label!r}")
    caption = " ".join(caption.split())
    html = table.as_raw_html()
    fence = "`" * max(3, max((len(r) for r in re.findall(r"`+", html)), default=0) + 1)
    return (f'::: {{#{label} .table-float role="group" aria-labelledby="caption-{label}"}}\n'
            f"::: {{#caption-{label} .float-caption}}\n{caption}\n:::\n\n"
            f"{fence}{{=html}}\n{html}\n{fence}\n:::\n")


# --------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figure:
    """A figure ready to embed: the plot, what it shows, and its text alternative."""

    plot: Any
    caption: str
    alt: str


def main_breakdown(rows: pd.DataFrame, question: Mapping[str, Any],
                   analysis: Mapping[str, Any], *, max_groups: int | None = None) -> str | None:
    """The analysis's first breakdown that has rows (``service`` in most plans), or None.

    With ``max_groups``, a breakdown with more groups than that is passed over (a figure of
    100 services in facets cannot be read; the funnel plots compare many services).
    """
    names = analysis.get("breakdowns")
    if names is None:
        names = question.get("breakdowns") or []
    for name in names:
        groups = rows.loc[rows["breakdown"].eq(name), "group"]
        groups = groups[~groups.eq("between groups")]
        if groups.empty:
            continue
        if max_groups is None or groups.nunique() <= max_groups:
            return str(name)
    return None


#: Most groups a figure draws: one facet per group, or one row per group.
FACET_GROUPS = 12
ROW_GROUPS = 40


def _one_breakdown(rows: pd.DataFrame, breakdown: str | None) -> pd.DataFrame:
    return rows.loc[rows["breakdown"].isin(["overall"] + ([breakdown] if breakdown else []))]


def _in_words(breakdown: str | None) -> str:
    return f" by {_words(breakdown)}" if breakdown else ""


def analysis_figure(rows: pd.DataFrame, question: Mapping[str, Any], analysis: Mapping[str, Any],
                    labels: Mapping[str, str] | None = None) -> list[Figure]:
    """The figure(s) of one analysis, chosen by the plan's figure name, with alt text.

    Returns an empty list when the analysis has no figure (``reliability`` is a table) or
    nothing to draw. Figures draw only published rows: a withheld group shows "n.p.".
    """
    from pceval.report import figures, figures_comparison, figures_models, figures_timing

    name = analysis.get("figure")
    params = analysis.get("params") or {}
    label = analysis_label(question, analysis)
    facets = name in ("time_to_event", "attempt_curve")
    breakdown = main_breakdown(rows, question, analysis,
                               max_groups=FACET_GROUPS if facets else ROW_GROUPS)
    if rows.empty or not name:
        return []
    if name == "proportions":
        shares = _one_breakdown(rows.loc[rows["statistic"].eq("proportion")], breakdown)
        if shares.empty:
            return []
        return [Figure(figures.plot_proportions(shares, breakdown=breakdown),
                       f"{label}{_in_words(breakdown)}: share of women with 95% Wilson intervals; "
                       "the dashed line is the overall share.",
                       figures.alt_text(shares, "proportions", breakdown=breakdown))]
    if name == "change":
        outcome = analysis.get("outcome")
        waves = analysis.get("waves") or {}
        wave_labels = (str(waves.get("pre", "pre")).capitalize(), str(waves.get("post", "post")).capitalize())
        change = _one_breakdown(rows.loc[rows["statistic"].isin(CHANGE_STATISTICS)], breakdown)
        return [Figure(figures.plot_change(change, indicator=outcome, breakdown=breakdown,
                                           wave_labels=wave_labels),
                       f"Mean {_words(outcome)} at {wave_labels[0].lower()} and {wave_labels[1].lower()} "
                       f"among women who answered both{_in_words(breakdown)}, with 95% intervals.",
                       figures.alt_text(change, "change", indicator=outcome, breakdown=breakdown,
                                        wave_labels=(wave_labels[0].lower(), wave_labels[1].lower())))]
    if name in ("time_to_event", "summary", "rate", "attempt_curve"):
        chosen = None if name == "attempt_curve" else breakdown
        sub = _one_breakdown(rows, chosen).loc[lambda r: ~r["group"].eq("between groups")]
        if name == "time_to_event":
            tte = params.get("name")
            plot = figures_timing.plot_time_to_event(sub, name=tte, breakdown=chosen)
            alt = figures_timing.alt_text(sub, "time_to_event", breakdown=chosen, name=tte)
            caption = (f"{label}{_in_words(chosen)}: share with the event by each day shown "
                       "(Kaplan-Meier, censored), with 95% pointwise intervals.")
        elif name == "summary":
            plot = figures_timing.plot_summary(sub, breakdown=chosen)
            alt = figures_timing.alt_text(sub, "summary", breakdown=chosen)
            caption = (f"{label}{_in_words(chosen)}: median with its 95% interval, the "
                       "interquartile range as a bar and the mean as a triangle.")
        elif name == "rate":
            plot = figures_timing.plot_rate(sub, breakdown=chosen)
            alt = figures_timing.alt_text(sub, "rate", breakdown=chosen)
            caption = f"{label}{_in_words(chosen)}, with exact Poisson 95% intervals."
        else:
            plot = figures_timing.plot_attempt_curve(sub)
            alt = figures_timing.alt_text(sub, "attempt_curve")
            caption = (f"{label}: success at each attempt among women not yet reached, and the "
                       "share reached by each attempt, with 95% Wilson intervals.")
        return [Figure(plot, caption, alt)]
    if name in ("model_terms", "mi_sensitivity"):
        terms = rows.loc[rows["breakdown"].eq("term")]
        if terms.empty:
            return []
        what = ("complete cases beside multiple imputation" if name == "mi_sensitivity"
                else "model estimates")
        return [Figure(figures_models.plot_model_terms(terms),
                       f"{label}: {what} with 95% intervals.",
                       figures_models.alt_text_models(terms, name))]
    if name in ("equity_gaps", "caseload"):
        plot = (figures_models.plot_equity_gaps(rows) if name == "equity_gaps"
                else figures_models.plot_caseload(rows))
        caption = (f"{label}: difference between each cohort and other women, unadjusted and "
                   "adjusted for service, with 95% intervals." if name == "equity_gaps"
                   else f"{label}: Spearman's rho across services with 95% intervals.")
        return [Figure(plot, caption, figures_models.alt_text_models(rows, name))]
    if name == "funnel":
        out = []
        for indicator in dict.fromkeys(rows.loc[rows["breakdown"].eq("service"), "indicator"].astype(str)):
            sub = rows.loc[rows["indicator"].eq(indicator)]
            what = indicator_label(indicator, labels or {})
            out.append(Figure(figures_comparison.plot_funnel(sub, indicator=indicator),
                              f"{what}: each service against its number of women, with the pooled "
                              "share (solid line) and 95% (dashed) and 99.8% (dotted) control limits.",
                              figures_comparison.alt_text_funnel(sub, indicator=indicator)))
        return out
    if name == "caterpillar":
        indicator = analysis.get("outcome")
        return [Figure(figures_comparison.plot_caterpillar(rows, indicator=indicator),
                       f"{label}: shrunken (empirical-Bayes) estimates with 95% intervals, and each "
                       "service's own estimate as an open point. The order says nothing beyond "
                       "the intervals.",
                       figures_comparison.alt_text_caterpillar(rows, indicator=indicator))]
    if name == "scorecard":
        return [Figure(figures_comparison.plot_scorecard(rows),
                       f"{label}, overall and for each service (n.p.: not published).",
                       figures_comparison.alt_text_scorecard(rows))]
    if name == "agreement":
        return [Figure(figures_comparison.plot_agreement(rows),
                       f"{label}: agreement beyond chance (kappa, alpha) with 95% intervals; 0 is "
                       "chance agreement.",
                       figures_comparison.alt_text_agreement(rows))]
    return []


def figure_block(figure: Figure, *, label: str, width: float = 7.0, height: float = 4.2) -> str:
    """Markdown for one figure: embedded PNG, caption, label and alt text."""
    return figure_markdown(figure.plot, label=label, caption=figure.caption, alt=figure.alt,
                           width=width, height=height, dpi=100) + "\n"




# --------------------------------------------------------------------------------------------
# Drawing many figures
# --------------------------------------------------------------------------------------------

_PENDING: list[tuple[str, Callable[[], list[Figure]]]] = []


def _draw(index: int) -> tuple[list[tuple[str, str]], str | None]:
    import io
    import warnings

    base, build = _PENDING[index]
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
            contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        try:
            figures = build()
        except AnalysisError as exc:
            return [], f"No figure for this analysis: {exc}"
        labels = [base if k == 0 else f"{base}-{k + 1}" for k in range(len(figures))]
        return [(label, figure_block(figure, label=label))
                for label, figure in zip(labels, figures, strict=True)], None


def draw_figures(jobs: Sequence[tuple[str, Callable[[], list[Figure]]]], *,
                 workers: int | None = None) -> tuple[dict[str, str], dict[str, str]]:
    """Draw many figures, in parallel where the machine allows.

    Parameters
    ----------
    jobs : sequence of (label, build)
        ``build()`` returns the figures of one analysis; the first gets ``label``, later ones
        ``label-2``, ``label-3`` ...
    workers : int, optional
        Processes to draw in; by default one per CPU (at most 8).

    Returns
    -------
    tuple of dict
        Figure markdown by label, and a note by job label for a job whose figure could not be
        drawn (an :class:`~pceval.errors.AnalysisError`, e.g. nothing published to draw).

    Notes
    -----
    Drawing is most of a report's render time (plotnine draws each error bar on its own) and
    figures are independent, so they are drawn in forked worker processes (POSIX; one process
    elsewhere or with ``workers=1``). Each figure's bytes are the same either way.

    A job whose ``build`` carries a ``cache_key`` (as :func:`figure_jobs` gives it) is kept in
    the figure cache (:func:`_cache_folder`) and not drawn again while its result rows, plan
    entry and drawing code are unchanged: the HTML, Word and PDF renders of one evaluation
    draw each figure once.
    """
    global _PENDING
    jobs = list(jobs)
    folder = _cache_folder()
    outcomes: list[Any] = [None] * len(jobs)
    keys = [getattr(build, "cache_key", None) for _, build in jobs]
    for i, key in enumerate(keys):
        if folder is not None and key and (folder / f"{key}.json").is_file():
            with contextlib.suppress(OSError, ValueError):
                blocks, note = json.loads((folder / f"{key}.json").read_text(encoding="utf-8"))
                outcomes[i] = ([tuple(b) for b in blocks], note)
    todo = [i for i, outcome in enumerate(outcomes) if outcome is None]
    if workers is None:
        workers = min(len(todo), os.cpu_count() or 1, 8)
    _PENDING = jobs
    try:
        if workers > 1 and "fork" in multiprocessing.get_all_start_methods():
            with multiprocessing.get_context("fork").Pool(workers) as pool:
                fresh = pool.map(_draw, todo, chunksize=1)
        else:
            fresh = [_draw(i) for i in todo]
    finally:
        _PENDING = []
    for i, outcome in zip(todo, fresh, strict=True):
        outcomes[i] = outcome
        if folder is not None and keys[i]:
            with contextlib.suppress(OSError):
                folder.mkdir(parents=True, exist_ok=True)
                partial = folder / f"{keys[i]}.{os.getpid()}.tmp"
                partial.write_text(json.dumps(outcome), encoding="utf-8")
                partial.replace(folder / f"{keys[i]}.json")
    drawn: dict[str, str] = {}
    notes: dict[str, str] = {}
    for (base, _), (blocks, note) in zip(jobs, outcomes, strict=True):
        drawn.update(blocks)
        if note:
            notes[base] = note
    return drawn, notes


# --------------------------------------------------------------------------------------------
# A question's section
# --------------------------------------------------------------------------------------------

_RBA_WORDS = {"HM": "How much did we do?", "HW": "How well did we do it?", "BO": "Is anyone better off?"}


def slug(text: str) -> str:
    """A label-safe id: ``q01_reach`` -> ``q01-reach``."""
    return re.sub(r"[^A-Za-z0-9-]+", "-", text).strip("-").lower()


def figure_jobs(results: Any, questions: Sequence[str]) -> list[tuple[str, Callable[[], list[Figure]]]]:
    """The figure jobs of the given questions for :func:`draw_figures`.

    One job per analysis, labelled ``fig-<question>-<analysis>`` (``q01_reach`` and ``main``
    give ``fig-q01-reach-main``); the figures are built when the job runs.
    """
    jobs: list[tuple[str, Callable[[], list[Figure]]]] = []
    frame = results.frame
    for qid in questions:
        question = results.questions[qid]
        labels = results.indicator_labels(qid)
        for analysis in question.get("analyses") or []:
            if not analysis.get("figure"):
                continue

            rows = analysis_rows(frame, question, analysis)

            def build(question=question, analysis=analysis, labels=labels, rows=rows) -> list[Figure]:
                return analysis_figure(rows, question, analysis, labels)

            label = f"fig-{slug(qid)}-{slug(str(analysis['id']))}"
            # the figure depends only on these (and on the code that draws it)
            build.cache_key = _cache_key(label, rows, question, analysis, labels)  # type: ignore[attr-defined]
            jobs.append((label, build))
    return jobs


def _code_stamp() -> str:
    import hashlib
    from importlib.metadata import version
    from pathlib import Path

    digest = hashlib.sha256(version("plotnine").encode())
    for name in ("figures", "figures_timing", "figures_models", "figures_comparison", "theme",
                 "embed", "sections", "tables"):
        digest.update((Path(__file__).parent / f"{name}.py").read_bytes())
    return digest.hexdigest()


def _cache_key(label: str, rows: pd.DataFrame, question: Mapping[str, Any],
               analysis: Mapping[str, Any], labels: Mapping[str, str]) -> str:
    import hashlib
    import json

    digest = hashlib.sha256(_code_stamp().encode())
    digest.update(label.encode())
    digest.update(rows.to_csv(index=False).encode())
    digest.update(json.dumps([question.get("breakdowns"), question.get("title"), analysis, dict(labels)],
                             sort_keys=True, default=str).encode())
    return digest.hexdigest()


def _cache_folder() -> Any:
    """Where drawn figures are kept between renders (``PCEVAL_FIGURE_CACHE``; ``off`` disables).

    A figure is drawn from published result rows only, so what is kept here is as public as
    the report; the default is a folder in the system's temporary directory.
    """
    import os
    import tempfile
    from pathlib import Path

    setting = os.environ.get("PCEVAL_FIGURE_CACHE", "")
    if setting.lower() in ("off", "0", "false", "no"):
        return None
    return Path(setting) if setting else Path(tempfile.gettempdir()) / "pceval-figure-cache"


def question_tables(results: Any, qid: str, *, breakdown: str | None = None) -> list[str]:
    """The overall table and the main breakdown table of a question, as table floats."""
    question = results.questions[qid]
    frame = results.frame
    labels = results.indicator_labels(qid)
    rows = question_rows(frame, qid)
    title = str(question.get("title") or qid)
    per_analysis = [(analysis_label(question, a), analysis_rows(frame, question, a))
                    for a in question.get("analyses") or []]
    blocks = []
    overall = overall_table(rows, labels, table_id=f"gt-{slug(qid)}-overall", analyses=per_analysis)
    if overall is not None:
        blocks.append(table_block(overall, label=f"tbl-{slug(qid)}-overall",
                                  caption=f"{title}: overall estimates with 95% intervals, and model "
                                          "terms where a model was fitted. n.p.: not published."))
    if breakdown is None:
        names = list(question.get("breakdowns") or [])
        present = set(rows["breakdown"].astype(str))
        breakdown = next((b for b in names if b in present), None)
    if breakdown:
        table = breakdown_table(rows, labels, breakdown, table_id=f"gt-{slug(qid)}-{slug(breakdown)}")
        if table is not None:
            blocks.append(table_block(
                table, label=f"tbl-{slug(qid)}-{slug(breakdown)}",
                caption=f"{title} by {_words(breakdown)}: the headline estimates of each group "
                        "beside all services, in name order (not ranked). n.p.: not published."))
    return blocks


def question_section(results: Any, qid: str, drawn: Mapping[str, str], notes: Mapping[str, str] | None = None,
                     *, level: int = 1, heading: str | None = None, tables: bool = True,
                     intro: str = "") -> str:
    """Markdown of one plan question: heading, question, each analysis with its figure, tables.

    Parameters
    ----------
    results : pceval.report.data.Results
    qid : str
        The plan question id.
    drawn : mapping
        Figure markdown by label, from :func:`draw_figures` over :func:`figure_jobs`.
    notes : mapping, optional
        Notes for analyses without a figure, from :func:`figure_jobs`.
    level : int
        Heading level of the question (its analyses are one level below).
    heading : str, optional
        The heading text; the plan's title by default.
    tables : bool
        Add the overall and main-breakdown tables.
    intro : str
        Markdown placed after the question text.
    """
    question = results.questions[qid]
    notes = notes or {}
    title = heading or str(question.get("title") or qid)
    hashes = "#" * level
    number = question.get("number")
    lines = [f"{hashes} {title} {{#sec-{slug(qid)}}}", ""]
    lead = f"**Question {number}.** " if number else ""
    lines += [f"{lead}{' '.join(str(question.get('question', '')).split())}", ""]
    tags = []
    if question.get("nos"):
        tags.append("National Outcome Standards: " + ", ".join(question["nos"]))
    if question.get("rba"):
        tags.append("RBA: " + " ".join(_RBA_WORDS.get(q, q) for q in question["rba"]))
    if question.get("domains"):
        tags.append("outcome domains: " + ", ".join(question["domains"]))
    tags.append(f"plan entry `{qid}`")
    lines += [f"*{' · '.join(tags)}*", ""]
    if intro:
        lines += [intro.strip(), ""]
    for analysis in question.get("analyses") or []:
        label = analysis_label(question, analysis)
        base = f"fig-{slug(qid)}-{slug(str(analysis['id']))}"
        figures = [drawn[key] for key in drawn if key == base or key.startswith(base + "-")
                   and key[len(base) + 1:].isdigit()]
        note = notes.get(base)
        if label != title and (len(question.get("analyses") or []) > 1 or figures):
            lines += [f"{hashes}# {label}", ""]
        lines += figures
        if note:
            lines += [note, ""]
    if tables:
        lines += question_tables(results, qid)
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------
# Methods in words, and tables of build outputs
# --------------------------------------------------------------------------------------------

#: What each analysis method does, in words for the methods section.
METHOD_WORDS: dict[str, str] = {
    "proportions": "shares of women with Wilson score 95% intervals (Newcombe 1998)",
    "attempt_curve": "the share of attempts that reached a woman not reached before, at each "
                     "attempt number, and the cumulative share reached (Wilson intervals)",
    "summary": "medians with distribution-free intervals, quartiles and means with t intervals "
               "(never minima or maxima, which identify)",
    "time_to_event": "Kaplan-Meier estimates of the time to an event, censored at case close or "
                     "the date of the extract; medians with Brookmeyer-Crowley intervals; log-rank tests",
    "paired_change": "the mean change within the same women between two waves, paired t "
                     "interval and Cohen's dz",
    "mixed_change": "linear mixed models of a score across waves, with random intercepts for "
                    "service and for woman within service (REML, Wald intervals)",
    "logistic": "logistic regression with odds ratios and the average marginal difference",
    "regression": "linear regression with cluster-robust (CR1) standard errors by service",
    "equity_gap": "gaps between each cohort and other women, unadjusted (Newcombe or Welch) and "
                  "adjusted for service (marginal standardisation or service fixed effects)",
    "rate": "events per 100 with exact Poisson (Garwood) intervals",
    "agreement_kappa": "agreement between two sources' ratings of the same woman: percent "
                       "agreement, Cohen's kappa and Krippendorff's alpha",
    "caseload": "Spearman correlations across services between workers' caseload per funded day "
                "and the services' reach and dose (descriptive with few services)",
    "scorecard": "a headline indicator per National Outcome Standard and RBA quadrant, copied "
                 "from the results above with their disclosure control",
    "dex_summary": "DSS Data Exchange SCORE ratings before and after, aggregated",
    "service_comparison": "funnel plots with exact binomial 95% and 99.8% control limits "
                          "(Spiegelhalter 2005) and empirical-Bayes shrunken estimates",
    "attrition": "the share of baseline respondents retained at follow-up and a logistic model "
                 "of retention on baseline characteristics",
    "mice_sensitivity": "the follow-up model on complete cases beside multiple imputation by "
                        "chained equations (predictive mean matching, Rubin's rules)",
    "scale_reliability": "Cronbach's alpha with its Feldt interval and McDonald's omega per "
                         "scale and wave, with the shares at the floor and ceiling",
}


def women_count(count: Any, total: Any = None, *, min_cell: int = 5) -> str:
    """A count of women for display: "n.p." from 1 to ``min_cell - 1``, or when its
    complement in ``total`` is that small (96 of 100 would reveal the 4).

    Examples
    --------
    >>> women_count(3), women_count(96, 100), women_count(90, 100)
    ('n.p.', 'n.p.', '90')
    """
    def small(value: Any) -> bool:
        return not _missing(value) and 1 <= int(value) < min_cell

    if _missing(count):
        return NOT_PUBLISHED
    if small(count) or small(total) or (not _missing(total) and small(int(total) - int(count))):
        return NOT_PUBLISHED
    return fmt_int(count)


def frame_table(frame: pd.DataFrame, *, table_id: str, numbers: Sequence[str] = (),
                rowname: str | None = None, group: str | None = None) -> GT:
    """A great_tables table of an already formatted frame, in pceval's style."""
    table = GT(frame, rowname_col=rowname, groupname_col=group, id=table_id)
    return style_table(table, numbers=[c for c in numbers if c in frame.columns])


# Figures shared by many reports rendered in one kernel (the same funnel plot in every service
# report): drawn once per results file and kept here, since the kernel keeps imported modules
# between reports (pceval.report.render.render_many).
_SHARED: dict[tuple[str, int, int, str], str] = {}


def shared_figure(results_dir: str, label: str, build: Callable[[], list[Figure]]) -> str:
    """Markdown of a figure that every report of a batch shows alike, drawn once per results.

    The key is the results file (path, modification time and size) and the label, so a
    results folder rewritten between two renders draws again. Returns ``""`` when there is
    nothing to draw.
    """
    from pathlib import Path

    table = Path(results_dir).resolve() / "results.parquet"
    stat = table.stat()
    key = (str(table), stat.st_mtime_ns, stat.st_size, label)
    if key not in _SHARED:
        try:
            figures = build()
        except AnalysisError:
            figures = []
        _SHARED[key] = "\n".join(figure_block(figure, label=label if k == 0 else f"{label}-{k + 1}")
                                 for k, figure in enumerate(figures))
    return _SHARED[key]
