"""Figures of model results: term estimates, equity gaps, caseload associations.

Each function takes a (suppressed) result table and returns a plotnine plot; it never
recomputes a statistic. Suppressed rows contribute their position and the label "n.p.", never
their values; terms keep the order of the table (the order of the model), never an order by
estimate; every estimate is drawn with its interval. :func:`alt_text_models` writes the text
alternative of each figure from the same rows.

=================  ===============================================  ==========================
figure name        result rows                                      function
=================  ===============================================  ==========================
``model_terms``    ``breakdown == "term"``: coefficient,            :func:`plot_model_terms`
                   difference, odds_ratio, marginal_difference ...
``mi_sensitivity`` term rows of complete cases and MI (by method)   :func:`plot_model_terms`
``equity_gaps``    difference and adjusted_difference per cohort    :func:`plot_equity_gaps`
``caseload``       spearman_rho per outcome                         :func:`plot_caseload`
=================  ===============================================  ==========================
"""

from __future__ import annotations

import pandas as pd
from plotnine import (
    aes,
    coord_flip,
    facet_wrap,
    geom_hline,
    geom_pointrange,
    geom_text,
    ggplot,
    labs,
    position_dodge,
    scale_x_discrete,
    scale_y_continuous,
    scale_y_log10,
)

from pceval.errors import AnalysisError
from pceval.report.theme import (
    MUTED_TEXT_COLOUR,
    PALETTE,
    REFERENCE_COLOUR,
    scale_colour_pceval,
    theme_pceval,
)
from pceval.results import result_frame

__all__ = ["FIGURES", "alt_text_models", "plot_caseload", "plot_equity_gaps", "plot_model_terms"]

NOT_PUBLISHED = "n.p."
_RATIO_STATISTICS = frozenset({"odds_ratio", "adjusted_odds_ratio"})
_GAP_STATISTICS = ("difference", "adjusted_difference")
_STATISTIC_LABELS = {
    "coefficient": "Coefficient", "difference": "Difference", "odds_ratio": "Odds ratio",
    "adjusted_odds_ratio": "Adjusted odds ratio", "marginal_difference": "Marginal difference",
    "marginal_effect": "Marginal effect", "adjusted_difference": "Adjusted for service",
    "spearman_rho": "Spearman's rho",
}
_METHOD_LABELS = {"ols_complete_case": "Complete cases", "mice_ols": "Multiple imputation"}


def _table(results: pd.DataFrame) -> pd.DataFrame:
    try:
        return result_frame(results)
    except (ValueError, TypeError) as exc:
        raise AnalysisError(f"not a result table: {exc}") from None


def _published(rows: pd.DataFrame) -> pd.DataFrame:
    keep = ~rows["suppressed"].fillna(False).astype(bool) & rows["estimate"].notna()
    out = rows.loc[keep].copy()
    for column in ("estimate", "ci_low", "ci_high"):
        out[column] = out[column].astype("float64")
    # a missing interval draws as the point alone
    out["ci_low"] = out["ci_low"].fillna(out["estimate"])
    out["ci_high"] = out["ci_high"].fillna(out["estimate"])
    return out


def _withheld(rows: pd.DataFrame) -> pd.DataFrame:
    return rows.loc[rows["suppressed"].fillna(False).astype(bool)].copy()


def _humanise(text: str) -> str:
    return str(text).replace("_", " ")


def plot_model_terms(results: pd.DataFrame, *, indicator: str | None = None, statistic: str | None = None,
                     title: str | None = None) -> ggplot:
    """Model terms with 95% intervals (a forest plot), one panel per indicator.

    Parameters
    ----------
    results : DataFrame
        A result table with term rows (``breakdown == "term"``).
    indicator : str, optional
        The model outcome to draw; all by default.
    statistic : str, optional
        The statistic to draw (``coefficient``, ``odds_ratio`` ...); by default the first of the
        term rows. Odds ratios are drawn on a log scale with a reference line at 1, others with
        one at 0. Several methods (complete cases beside multiple imputation) are dodged and
        coloured.

    Examples
    --------
    >>> res = result_frame([
    ...     {"indicator": "felt_safety", "breakdown": "term", "group": "followup vs baseline",
    ...      "statistic": "coefficient", "n": 300, "estimate": 0.4, "ci_low": 0.3, "ci_high": 0.5,
    ...      "method": "mixedlm"},
    ...     {"indicator": "felt_safety", "breakdown": "term", "group": "his_status=exited",
    ...      "statistic": "coefficient", "n": 3, "suppressed": True, "method": "mixedlm"}])
    >>> plot = plot_model_terms(res)
    >>> plot.layers[-1].geom.data["label"].tolist()
    ['n.p.']
    """
    table = _table(results)
    rows = table.loc[table["breakdown"].eq("term")]
    if indicator is not None:
        rows = rows.loc[rows["indicator"].eq(indicator)]
    if rows.empty:
        raise AnalysisError("no term rows to draw" + (f" for {indicator!r}" if indicator else ""))
    statistic = statistic or str(rows["statistic"].iloc[0])
    rows = rows.loc[rows["statistic"].eq(statistic)]
    if rows.empty:
        raise AnalysisError(f"no term rows with statistic {statistic!r}")
    ratio = statistic in _RATIO_STATISTICS
    order = list(dict.fromkeys(rows["group"].astype(str)))
    drawn = _published(rows)
    drawn["method_label"] = drawn["method"].map(lambda m: _METHOD_LABELS.get(str(m), _humanise(m)))
    several = drawn["method"].nunique() > 1
    withheld = _withheld(rows)
    plot = ggplot() + geom_hline(yintercept=1.0 if ratio else 0.0, linetype="dashed", color=REFERENCE_COLOUR,
                                 size=0.5)
    if not drawn.empty:
        mapping = aes(x="group", y="estimate", ymin="ci_low", ymax="ci_high")
        if several:
            mapping = aes(x="group", y="estimate", ymin="ci_low", ymax="ci_high", color="method_label")
            plot += geom_pointrange(data=drawn, mapping=mapping, position=position_dodge(width=0.5), size=0.5)
            plot += scale_colour_pceval()
        else:
            plot += geom_pointrange(data=drawn, mapping=mapping, color=PALETTE[0], size=0.5)
    if not withheld.empty:
        marks = withheld.drop_duplicates("group").assign(
            label=NOT_PUBLISHED, position=1.0 if ratio else 0.0)
        plot += geom_text(data=marks, mapping=aes(x="group", y="position", label="label"), ha="left",
                          size=8.5, color=MUTED_TEXT_COLOUR)
    if rows["indicator"].nunique() > 1:
        plot += facet_wrap("indicator", scales="free_x")
    label = _STATISTIC_LABELS.get(statistic, _humanise(statistic))
    notes = ["Points: estimates with 95% intervals; terms in model order."]
    if not withheld.empty:
        notes.append(f"{NOT_PUBLISHED}: not published (too few women).")
    outcome = _humanise(rows["indicator"].iloc[0]) if rows["indicator"].nunique() == 1 else "outcomes"
    return (plot + scale_x_discrete(limits=list(reversed(order))) + coord_flip()
            + (scale_y_log10() if ratio else scale_y_continuous())
            + labs(x="", y=label + (" (log scale)" if ratio else ""), color="",
                   title=title or f"{label}s of {outcome}", caption="\n".join(notes))
            + theme_pceval())


def plot_equity_gaps(results: pd.DataFrame, *, indicator: str | None = None, title: str | None = None) -> ggplot:
    """Gaps between each cohort and other women, unadjusted and adjusted for service.

    Examples
    --------
    >>> res = result_frame([
    ...     {"indicator": "reached", "breakdown": "atsi", "group": "yes", "statistic": "difference",
    ...      "n": 99, "estimate": -0.07, "ci_low": -0.17, "ci_high": 0.03, "method": "newcombe"},
    ...     {"indicator": "reached", "breakdown": "atsi", "group": "yes", "statistic": "adjusted_difference",
    ...      "n": 99, "estimate": -0.09, "ci_low": -0.19, "ci_high": 0.0, "method": "logit"}])
    >>> sorted(plot_equity_gaps(res).layers[1].geom.data["kind"])
    ['Adjusted for service', 'Unadjusted']
    """
    table = _table(results)
    rows = table.loc[table["statistic"].isin(_GAP_STATISTICS)]
    if indicator is not None:
        rows = rows.loc[rows["indicator"].eq(indicator)]
    if rows.empty:
        raise AnalysisError("no difference rows to draw")
    rows = rows.assign(cohort=rows["breakdown"].map(_humanise),
                       kind=rows["statistic"].map({"difference": "Unadjusted",
                                                   "adjusted_difference": "Adjusted for service"}))
    order = list(dict.fromkeys(rows["cohort"]))
    drawn = _published(rows)
    withheld = _withheld(rows)
    plot = ggplot() + geom_hline(yintercept=0.0, linetype="dashed", color=REFERENCE_COLOUR, size=0.5)
    if not drawn.empty:
        plot += geom_pointrange(data=drawn, mapping=aes(x="cohort", y="estimate", ymin="ci_low", ymax="ci_high",
                                                        color="kind"),
                                position=position_dodge(width=0.5), size=0.5)
        plot += scale_colour_pceval()
    if not withheld.empty:
        plot += geom_text(data=withheld.drop_duplicates(["indicator", "cohort"]).assign(label=NOT_PUBLISHED, y=0.0),
                          mapping=aes(x="cohort", y="y", label="label"), ha="left", size=8.5,
                          color=MUTED_TEXT_COLOUR)
    if rows["indicator"].nunique() > 1:
        plot += facet_wrap("indicator", scales="free_x")
    notes = ["Cohort minus other women, with 95% intervals; adjusted: service fixed effects."]
    if not withheld.empty:
        notes.append(f"{NOT_PUBLISHED}: not published (too few women).")
    return (plot + scale_x_discrete(limits=list(reversed(order))) + coord_flip()
            + labs(x="", y="Difference from other women", color="",
                   title=title or "Equity gaps by cohort", caption="\n".join(notes))
            + theme_pceval())


def plot_caseload(results: pd.DataFrame, *, title: str | None = None) -> ggplot:
    """Spearman's rho across services between a worker measure and each service outcome.

    Examples
    --------
    >>> res = result_frame([{"indicator": "reached", "breakdown": "term", "group": "caseload_per_funded_day",
    ...                      "statistic": "spearman_rho", "n": 8, "estimate": -0.05, "ci_low": -0.7,
    ...                      "ci_high": 0.68, "method": "spearman_services"}])
    >>> plot_caseload(res).layers[1].geom.data["indicator"].tolist()
    ['reached']
    """
    table = _table(results)
    rows = table.loc[table["statistic"].eq("spearman_rho")]
    if rows.empty:
        raise AnalysisError("no spearman_rho rows to draw")
    order = list(dict.fromkeys(rows["indicator"].astype(str)))
    drawn = _published(rows)
    withheld = _withheld(rows)
    plot = ggplot() + geom_hline(yintercept=0.0, linetype="dashed", color=REFERENCE_COLOUR, size=0.5)
    if not drawn.empty:
        plot += geom_pointrange(data=drawn, mapping=aes(x="indicator", y="estimate", ymin="ci_low", ymax="ci_high"),
                                color=PALETTE[0], size=0.5)
    if not withheld.empty:
        plot += geom_text(data=withheld.assign(label=NOT_PUBLISHED, y=0.0),
                          mapping=aes(x="indicator", y="y", label="label"), ha="left", size=8.5,
                          color=MUTED_TEXT_COLOUR)
    measure = _humanise(rows["group"].iloc[0])
    n = rows["n"].dropna()
    services = f" ({int(n.max())} services)" if len(n) else ""
    return (plot + scale_x_discrete(limits=list(reversed(order))) + coord_flip()
            + scale_y_continuous(limits=(-1.0, 1.0))
            + labs(x="", y=f"Spearman's rho with {measure}", title=title or f"{measure.capitalize()} and service outcomes",
                   caption=f"Across services{services}, 95% Fisher-z intervals; descriptive with few services.")
            + theme_pceval())


FIGURES = {"model_terms": plot_model_terms, "mi_sensitivity": plot_model_terms,
           "equity_gaps": plot_equity_gaps, "caseload": plot_caseload}
"""Figure names a plan may give (``figure:``) and the functions drawing them."""


def _fmt(value: float) -> str:
    return f"{value:.2f}"


def alt_text_models(results: pd.DataFrame, figure: str = "model_terms") -> str:
    """The text alternative of a model figure, from the same published rows.

    Examples
    --------
    >>> res = result_frame([
    ...     {"indicator": "felt_safety", "breakdown": "term", "group": "followup vs baseline",
    ...      "statistic": "coefficient", "n": 300, "estimate": 0.4, "ci_low": 0.3, "ci_high": 0.5}])
    >>> alt_text_models(res)
    'Coefficients of felt safety with 95% intervals for 1 term: followup vs baseline 0.40 (0.30 to 0.50).'
    """
    if figure not in FIGURES:
        raise AnalysisError(f"unknown model figure {figure!r}; known: {sorted(FIGURES)}")
    table = _table(results)
    if figure in ("model_terms", "mi_sensitivity"):
        rows = table.loc[table["breakdown"].eq("term")]
        if rows.empty:
            return "No model terms to show."
        statistic = str(rows["statistic"].iloc[0])
        rows = rows.loc[rows["statistic"].eq(statistic)]
        label = _STATISTIC_LABELS.get(statistic, _humanise(statistic))
        outcome = _humanise(rows["indicator"].iloc[0])
        parts = []
        for row in rows.itertuples(index=False):
            method = f" ({_METHOD_LABELS.get(str(row.method), _humanise(row.method))})" \
                if rows["method"].nunique() > 1 else ""
            if bool(row.suppressed) or pd.isna(row.estimate):
                parts.append(f"{row.group}{method} not published")
            else:
                parts.append(f"{row.group}{method} {_fmt(row.estimate)} ({_fmt(row.ci_low)} to {_fmt(row.ci_high)})"
                             if not pd.isna(row.ci_low) else f"{row.group}{method} {_fmt(row.estimate)}")
        terms = rows["group"].nunique()
        return (f"{label}s of {outcome} with 95% intervals for {terms} term{'s' if terms != 1 else ''}: "
                + "; ".join(parts) + ".")
    if figure == "equity_gaps":
        rows = table.loc[table["statistic"].isin(_GAP_STATISTICS)]
        parts = []
        for row in rows.itertuples(index=False):
            kind = "adjusted" if row.statistic == "adjusted_difference" else "unadjusted"
            value = "not published" if bool(row.suppressed) or pd.isna(row.estimate) else \
                f"{_fmt(row.estimate)} ({_fmt(row.ci_low)} to {_fmt(row.ci_high)})"
            parts.append(f"{_humanise(row.indicator)}, {_humanise(row.breakdown)} {kind}: {value}")
        return "Differences between each cohort and other women, with 95% intervals: " + "; ".join(parts) + "."
    rows = table.loc[table["statistic"].eq("spearman_rho")]
    parts = [f"{_humanise(r.indicator)} " + ("not published" if bool(r.suppressed) or pd.isna(r.estimate)
                                             else f"rho {_fmt(r.estimate)} ({_fmt(r.ci_low)} to {_fmt(r.ci_high)})")
             for r in rows.itertuples(index=False)]
    return "Correlation across services with the worker measure: " + "; ".join(parts) + "."
