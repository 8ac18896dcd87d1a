"""Figures drawn from result tables, and the text alternative of each.

A figure function takes a result table (:mod:`pceval.results`) and returns a plotnine plot; it
never recomputes a statistic. Every figure

- draws only rows that disclosure control left published (``suppressed`` False): a suppressed
  row contributes its position and an "n.p." (not published) label, never its values;
- orders groups by name, never by estimate: ranking services on small, uncertain numbers
  reads as a league table and misleads;
- shows the uncertainty (intervals) beside every estimate.

:func:`alt_text` writes the matching one-to-two-sentence description for screen readers and
captions, from the same rows.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Literal

import pandas as pd
from mizani.labels import label_percent
from plotnine import (
    aes,
    coord_flip,
    facet_wrap,
    geom_errorbar,
    geom_hline,
    geom_point,
    geom_text,
    ggplot,
    labs,
    position_dodge,
    scale_color_manual,
    scale_shape_manual,
    scale_x_discrete,
    scale_y_continuous,
    theme,
)

from pceval.errors import AnalysisError
from pceval.report.theme import (
    MUTED_TEXT_COLOUR,
    OKABE_ITO,
    PALETTE,
    REFERENCE_COLOUR,
    theme_pceval,
)
from pceval.results import result_frame

__all__ = ["alt_text", "plot_change", "plot_proportions"]

#: Label shown where a group's values were suppressed by disclosure control.
NOT_PUBLISHED = "n.p."
#: Label shown where a published group has no estimate (e.g. no women with both waves).
NO_DATA = "no data"
#: Label of the overall row in figures where it is drawn as a group.
OVERALL_LABEL = "All"

_PROPORTION_STATISTICS = frozenset({"proportion"})
# The statistics pceval.analyse.methods.paired_change writes (its PAIRED_CHANGE_STATISTICS);
# named here so drawing a figure does not import the analysis engine.
_CHANGE_STATISTICS = frozenset({"mean_pre", "mean_post", "mean_change", "effect_size_dz"})
_LABEL_SIZE = 8.5  # points; close to the theme's axis text


# --------------------------------------------------------------------------------------------
# Proportions
# --------------------------------------------------------------------------------------------


def plot_proportions(
    results: pd.DataFrame,
    *,
    indicator: str | Sequence[str] | None = None,
    breakdown: str | None = None,
    title: str | None = None,
) -> ggplot:
    """Proportions by group with Wilson intervals and the overall estimate as a reference.

    Parameters
    ----------
    results : pandas.DataFrame
        A result table whose rows have ``statistic == "proportion"``, e.g. from
        :func:`pceval.analyse.methods.proportions` after disclosure control.
    indicator : str or sequence of str, optional
        Indicator(s) to draw; all by default. Several indicators are drawn in facets.
    breakdown : str, optional
        Breakdown to draw (e.g. ``"service"``); needed only when the table holds several.
    title : str, optional
        Plot title; a default names the indicator and breakdown.

    Returns
    -------
    plotnine.ggplot
        Groups on the vertical axis in name order, percent (0-100%) on the horizontal one:
        a point and error bar per published group, a dashed line at the published overall
        estimate, and the label "n.p." at 0% for each suppressed group ("no data" for a
        published group without an estimate). Without a breakdown the overall rows are
        drawn as points.

    Raises
    ------
    AnalysisError
        If ``results`` is not a result table, holds a statistic other than ``proportion``, no
        rows match ``indicator``, or several breakdowns are present and none is chosen.

    Examples
    --------
    >>> from pceval.results import result_frame
    >>> res = result_frame([
    ...     {"indicator": "reached", "statistic": "proportion", "n": 60, "numerator": 45,
    ...      "estimate": 0.75, "ci_low": 0.63, "ci_high": 0.84},
    ...     {"indicator": "reached", "breakdown": "service", "group": "North",
    ...      "statistic": "proportion", "n": 57, "numerator": 43, "estimate": 0.754,
    ...      "ci_low": 0.63, "ci_high": 0.85},
    ...     {"indicator": "reached", "breakdown": "service", "group": "South",
    ...      "statistic": "proportion", "n": 3, "suppressed": True},
    ... ])
    >>> plot = plot_proportions(res)
    >>> sorted(plot.layers[-1].geom.data["label"])
    ['n.p.']
    """
    rows = _prepare(
        results, allowed=_PROPORTION_STATISTICS, indicator=indicator, breakdown=breakdown
    )
    panel = _panel_labeller(rows, indicator)
    chosen = _chosen_breakdown(rows)
    facets = rows["indicator"].nunique() > 1
    if chosen is None:
        # No breakdown: the overall rows themselves are the groups.
        groups = rows.assign(group=OVERALL_LABEL)
        overall = groups.iloc[0:0]
    else:
        groups = rows.loc[rows["breakdown"] == chosen]
        overall = rows.loc[rows["breakdown"] == "overall"]

    drawn = _published(groups)
    reference = _published(overall)
    marks = _marks(groups, drawn, position=0.0)
    order = _name_order(groups["group"])

    plot = ggplot()
    if not reference.empty:
        plot += geom_hline(
            data=panel(reference[["indicator", "estimate"]]),
            mapping=aes(yintercept="estimate"),
            linetype="dashed",
            color=REFERENCE_COLOUR,
            size=0.6,
        )
    if not drawn.empty:
        points = panel(drawn[["indicator", "group", "estimate", "ci_low", "ci_high"]])
        plot += geom_errorbar(
            data=points,
            mapping=aes(x="group", ymin="ci_low", ymax="ci_high"),
            width=0.3,
            color=PALETTE[0],
            size=0.7,
        )
        plot += geom_point(
            data=points, mapping=aes(x="group", y="estimate"), color=PALETTE[0], size=2.5
        )
    if not marks.empty:
        plot += geom_text(
            data=panel(marks),
            mapping=aes(x="group", y="position", label="label"),
            ha="left",
            size=_LABEL_SIZE,
            color=MUTED_TEXT_COLOUR,
        )
    if facets:
        plot += facet_wrap("panel")

    what = "Shares" if facets else f"Share {_humanise(rows['indicator'].iloc[0])}"
    by = _humanise(chosen) if chosen is not None else None
    notes = ["Points: estimates with 95% Wilson intervals, groups in name order."]
    if not reference.empty and chosen is not None:
        notes.append("Dashed line: overall.")
    if (marks["label"] == NOT_PUBLISHED).any():
        notes.append(f"{NOT_PUBLISHED}: not published (too few women).")
    return (
        plot
        + scale_x_discrete(limits=list(reversed(order)))
        + scale_y_continuous(
            labels=label_percent(),
            limits=(0.0, 1.0),
            # Side-by-side facets leave no room for five labels: 100% would touch 0%.
            breaks=[0.0, 0.5, 1.0] if facets else [0.0, 0.25, 0.5, 0.75, 1.0],
        )
        + coord_flip()
        + labs(
            x=(by or "").capitalize(),
            y="Percent",
            title=title or (what + (f" by {by}" if by else "")),
            caption="\n".join(notes),
        )
        + theme_pceval()
        + theme(panel_spacing_x=0.04)
    )


# --------------------------------------------------------------------------------------------
# Change
# --------------------------------------------------------------------------------------------


def plot_change(
    results: pd.DataFrame,
    *,
    indicator: str | Sequence[str] | None = None,
    breakdown: str | None = None,
    title: str | None = None,
    wave_labels: tuple[str, str] = ("Pre", "Post"),
) -> ggplot:
    """Mean score at the two waves, with intervals, overall and by group.

    Parameters
    ----------
    results : pandas.DataFrame
        A result table from :func:`pceval.analyse.methods.paired_change` (statistics
        ``mean_pre``, ``mean_post``, ``mean_change``, ``effect_size_dz``), after disclosure
        control. Only ``mean_pre`` and ``mean_post`` rows are drawn.
    indicator : str or sequence of str, optional
        Indicator(s) to draw; all by default. Several are drawn in facets with their own scale.
    breakdown : str, optional
        Breakdown to draw; needed only when the table holds several.
    title : str, optional
        Plot title; a default names the indicator.
    wave_labels : tuple of (str, str), default ("Pre", "Post")
        Legend labels of the two waves, e.g. ``("Baseline", "Follow-up")``.

    Returns
    -------
    plotnine.ggplot
        One row per group ("All" first, then groups in name order) with the pre and post
        means side by side, each with its interval; colour and shape both mark the wave.
        A group with either mean suppressed is drawn as "n.p." only, since one end of a
        change is not a change; a published group without estimates shows "no data".

    Raises
    ------
    AnalysisError
        If ``results`` is not a result table, holds a statistic :func:`paired_change` does not
        write, no rows match ``indicator``, or several breakdowns are present and none is
        chosen.

    Examples
    --------
    >>> from pceval.results import result_frame
    >>> res = result_frame([
    ...     {"indicator": "felt_safety", "statistic": "mean_pre", "n": 40,
    ...      "estimate": 2.1, "ci_low": 1.8, "ci_high": 2.4},
    ...     {"indicator": "felt_safety", "statistic": "mean_post", "n": 40,
    ...      "estimate": 3.0, "ci_low": 2.7, "ci_high": 3.3},
    ... ])
    >>> plot = plot_change(res, wave_labels=("Baseline", "Follow-up"))
    >>> sorted(set(plot.layers[0].geom.data["wave"]))
    ['Baseline', 'Follow-up']
    """
    if len(wave_labels) != 2 or wave_labels[0] == wave_labels[1]:
        raise AnalysisError(
            f"wave_labels must be two different labels, got {wave_labels!r}",
            field="wave_labels",
        )
    rows = _prepare(results, allowed=_CHANGE_STATISTICS, indicator=indicator, breakdown=breakdown)
    panel = _panel_labeller(rows, indicator)
    chosen = _chosen_breakdown(rows)
    means = rows.loc[rows["statistic"].isin(["mean_pre", "mean_post"])].copy()
    if means.empty:
        raise AnalysisError(
            "the results hold no mean_pre or mean_post rows to draw",
            field="statistic",
            fix="pass the output of paired_change",
        )
    means = means.loc[means["breakdown"].isin(["overall", chosen])]
    means["group"] = means["group"].where(means["breakdown"] != "overall", OVERALL_LABEL)
    # A group is drawn only if both of its means are published.
    hidden = means.groupby(["indicator", "group"])["suppressed"].transform("any")
    drawn = _published(means.loc[~hidden.astype(bool)])
    drawn = drawn.assign(
        wave=pd.Categorical(
            drawn["statistic"].map({"mean_pre": wave_labels[0], "mean_post": wave_labels[1]}),
            categories=list(wave_labels),
        )
    )[["indicator", "group", "wave", "estimate", "ci_low", "ci_high"]]
    # Dodging places the first group level lowest; after coord_flip that is the bottom, so
    # reverse the order to read the first wave above the second.
    drawn = panel(
        drawn.assign(
            dodge=pd.Categorical(drawn["wave"].astype(str), categories=list(wave_labels)[::-1])
        )
    )

    positions = (
        drawn.groupby("indicator")["ci_low"].min().to_dict() if not drawn.empty else {}
    )
    marks = _marks(means, drawn, position=positions)
    groups = [g for g in _name_order(means["group"]) if g != OVERALL_LABEL]
    order = ([OVERALL_LABEL] if (means["group"] == OVERALL_LABEL).any() else []) + groups
    facets = rows["indicator"].nunique() > 1
    colours = {wave_labels[0]: OKABE_ITO["vermillion"], wave_labels[1]: OKABE_ITO["blue"]}
    shapes = {wave_labels[0]: "o", wave_labels[1]: "^"}
    dodge = position_dodge(width=0.5)

    plot = ggplot()
    if not drawn.empty:
        plot += geom_errorbar(
            data=drawn,
            mapping=aes(x="group", ymin="ci_low", ymax="ci_high", color="wave", group="dodge"),
            width=0.3,
            size=0.7,
            position=dodge,
        )
        plot += geom_point(
            data=drawn,
            mapping=aes(x="group", y="estimate", color="wave", shape="wave", group="dodge"),
            size=2.5,
            position=dodge,
        )
        plot += scale_color_manual(values=colours, limits=list(wave_labels))
        plot += scale_shape_manual(values=shapes, limits=list(wave_labels))
    if not marks.empty:
        plot += geom_text(
            data=panel(marks),
            mapping=aes(x="group", y="position", label="label"),
            ha="left",
            size=_LABEL_SIZE,
            color=MUTED_TEXT_COLOUR,
        )
    if facets:
        plot += facet_wrap("panel", scales="free_x")

    what = _humanise(rows["indicator"].iloc[0]) if not facets else "each indicator"
    notes = ["Means of women with both waves, with 95% intervals; groups in name order."]
    if (marks["label"] == NOT_PUBLISHED).any():
        notes.append(f"{NOT_PUBLISHED}: not published (too few women).")
    return (
        plot
        + scale_x_discrete(limits=list(reversed(order)))
        + coord_flip()
        + labs(
            x=_humanise(chosen).capitalize() if chosen else "",
            y="Mean" if facets else f"Mean {what}",
            title=title or f"Change in {what}: {wave_labels[0]} and {wave_labels[1]}",
            caption="\n".join(notes),
        )
        + theme_pceval()
        + theme(panel_spacing_x=0.04)
    )


# --------------------------------------------------------------------------------------------
# Text alternatives
# --------------------------------------------------------------------------------------------


def alt_text(
    results: pd.DataFrame,
    kind: Literal["proportions", "change"],
    *,
    indicator: str | Sequence[str] | None = None,
    breakdown: str | None = None,
    wave_labels: tuple[str, str] = ("pre", "post"),
) -> str:
    """A short text description of a figure, computed from the same result rows.

    Parameters
    ----------
    results : pandas.DataFrame
        The result table given to the figure function.
    kind : {"proportions", "change"}
        Which figure: :func:`plot_proportions` or :func:`plot_change`.
    indicator, breakdown : optional
        As for the figure function.
    wave_labels : tuple of (str, str), default ("pre", "post")
        Words for the two waves (``kind="change"`` only).

    Returns
    -------
    str
        For proportions, one sentence per indicator: the number of groups, the overall
        estimate and interval, the range of published group estimates and how many groups
        are not published. For change, per indicator: the overall means, the mean change with
        its interval and p-value and d_z, then the range of group changes and how many groups
        are not published. Percentages are whole numbers; means two decimals. Suppressed
        values are never used.

    Raises
    ------
    AnalysisError
        As for the figure function, or an unknown ``kind``.

    Examples
    --------
    >>> from pceval.results import result_frame
    >>> res = result_frame([
    ...     {"indicator": "reached", "statistic": "proportion", "n": 60, "numerator": 45,
    ...      "estimate": 0.75, "ci_low": 0.63, "ci_high": 0.84},
    ...     {"indicator": "reached", "breakdown": "service", "group": "North",
    ...      "statistic": "proportion", "n": 57, "numerator": 43, "estimate": 0.754,
    ...      "ci_low": 0.63, "ci_high": 0.85},
    ...     {"indicator": "reached", "breakdown": "service", "group": "South",
    ...      "statistic": "proportion", "n": 3, "suppressed": True},
    ... ])
    >>> print(alt_text(res, "proportions"))  # doctest: +NORMALIZE_WHITESPACE
    Share reached by service, 2 services: overall 75% (95% CI 63–84%);
    the 1 published service estimate is 75%; 1 service not published (n.p.).
    """
    if kind == "proportions":
        rows = _prepare(
            results, allowed=_PROPORTION_STATISTICS, indicator=indicator, breakdown=breakdown
        )
        describe = _describe_proportions
    elif kind == "change":
        rows = _prepare(
            results, allowed=_CHANGE_STATISTICS, indicator=indicator, breakdown=breakdown
        )
        describe = _describe_change
    else:
        raise AnalysisError(
            f"unknown figure kind {kind!r}", field="kind", fix="use 'proportions' or 'change'"
        )
    chosen = _chosen_breakdown(rows)
    sentences = [
        describe(rows.loc[rows["indicator"] == name], chosen, wave_labels)
        for name in dict.fromkeys(rows["indicator"])
    ]
    return " ".join(sentences)


def _describe_proportions(rows: pd.DataFrame, chosen: str | None, _waves) -> str:
    name = _humanise(rows["indicator"].iloc[0])
    head = f"Share {name}"
    parts = []
    overall = _row(rows, "overall", "proportion")
    if overall is not None:
        if _is_published(overall):
            low, high = _pct(overall["ci_low"], sign=False), _pct(overall["ci_high"])
            parts.append(f"overall {_pct(overall['estimate'])} (95% CI {low}–{high})")
        else:
            parts.append(f"overall not published ({NOT_PUBLISHED})")
    if chosen:
        groups = rows.loc[rows["breakdown"] == chosen]
        head += f" by {_humanise(chosen)}, {_count(groups['group'].nunique(), chosen)}"
        values = _published(groups)["estimate"]
        if len(values) == 1:
            parts.append(f"the 1 published {_humanise(chosen)} estimate is {_pct(values.iloc[0])}")
        elif len(values) > 1:
            low, high = _pct(values.min(), sign=False), _pct(values.max())
            parts.append(f"{_humanise(chosen)} estimates range from {low}% to {high}")
        parts += _not_published(groups, chosen)
    return f"{head}: " + "; ".join(parts) + "."


def _describe_change(rows: pd.DataFrame, chosen: str | None, waves: tuple[str, str]) -> str:
    name = _humanise(rows["indicator"].iloc[0])
    text = f"Mean {name} from {waves[0]} to {waves[1]}"
    pre, post = _row(rows, "overall", "mean_pre"), _row(rows, "overall", "mean_post")
    change = _row(rows, "overall", "mean_change")
    dz = _row(rows, "overall", "effect_size_dz")
    facts = []
    if pre is not None and post is not None and _is_published(pre) and _is_published(post):
        text += f", overall ({int(pre['n'])} women with both waves)"
        facts.append(f"{_num(pre['estimate'])} to {_num(post['estimate'])}")
    if change is not None and _is_published(change):
        detail = _interval(change["ci_low"], change["ci_high"])
        if not pd.isna(change["p_value"]):
            detail += f", {_p(change['p_value'])}"
        facts.append(f"change {_signed(change['estimate'])} ({detail})")
    if dz is not None and _is_published(dz):
        facts.append(f"d_z {_num(dz['estimate'])}")
    if facts:
        text += ": " + ", ".join(facts)
    elif any(r is not None for r in (pre, post, change, dz)):
        text += f": overall not published ({NOT_PUBLISHED})"
    text += "."
    if chosen:
        groups = rows.loc[rows["breakdown"] == chosen]
        parts = [f"{_count(groups['group'].nunique(), chosen)}"]
        # As in the figure, a group with any suppressed row is not published at all.
        hidden = groups.groupby("group")["suppressed"].transform("any").astype(bool)
        shown = groups.loc[~hidden & (groups["statistic"] == "mean_change")]
        values = _published(shown)["estimate"]
        if len(values) == 1:
            parts.append(f"the 1 published change is {_signed(values.iloc[0])}")
        elif len(values) > 1:
            low, high = _signed(values.min()), _signed(values.max())
            parts.append(f"changes range from {low} to {high}")
        parts += _not_published(groups, chosen)
        sentence = "; ".join(parts)
        text += " " + sentence[0].upper() + sentence[1:] + "."
    return text


def _row(rows: pd.DataFrame, breakdown: str, statistic: str) -> pd.Series | None:
    """The first row of a breakdown and statistic, or None."""
    found = rows.loc[(rows["breakdown"] == breakdown) & (rows["statistic"] == statistic)]
    return None if found.empty else found.iloc[0]


def _not_published(groups: pd.DataFrame, breakdown: str) -> list[str]:
    hidden = groups.loc[groups["suppressed"].astype(bool), "group"].nunique()
    return [f"{_count(hidden, breakdown)} not published ({NOT_PUBLISHED})"] if hidden else []


# --------------------------------------------------------------------------------------------
# Shared helpers
# --------------------------------------------------------------------------------------------


def _prepare(
    results: pd.DataFrame,
    *,
    allowed: frozenset[str],
    indicator: str | Sequence[str] | None,
    breakdown: str | None,
) -> pd.DataFrame:
    """Checked, filtered copy of the result rows a figure draws from."""
    if not isinstance(results, pd.DataFrame):
        raise AnalysisError(
            f"expected a result table (DataFrame), got {type(results).__name__}",
            fix="pass the output of an analysis function",
        )
    try:
        rows = result_frame(results)
    except (ValueError, TypeError) as error:
        raise AnalysisError(f"not a result table: {error}", fix="see pceval.results") from error
    unknown = sorted(set(rows["statistic"].dropna()) - allowed)
    if unknown or rows["statistic"].isna().any():
        shown = unknown[0] if unknown else "<missing>"
        raise AnalysisError(
            f"statistic {shown!r} cannot be drawn here; expected {sorted(allowed)}",
            field="statistic",
            fix="filter the result table to the rows this figure draws",
        )
    if indicator is not None:
        wanted = [indicator] if isinstance(indicator, str) else list(indicator)
        missing = [name for name in wanted if name not in set(rows["indicator"])]
        if missing:
            raise AnalysisError(
                f"indicator {missing[0]!r} is not in the results",
                field="indicator",
                fix=f"use one of {sorted(set(rows['indicator'].dropna()))}",
            )
        rows = rows.loc[rows["indicator"].isin(wanted)]
    if rows.empty:
        raise AnalysisError("the result table has no rows to draw", field="indicator")
    if breakdown is not None:
        if breakdown not in set(rows["breakdown"]):
            raise AnalysisError(
                f"breakdown {breakdown!r} is not in the results",
                field="breakdown",
                fix=f"use one of {sorted(set(rows['breakdown']) - {'overall'})}",
            )
        rows = rows.loc[rows["breakdown"].isin(["overall", breakdown])]
    return rows.reset_index(drop=True)


def _chosen_breakdown(rows: pd.DataFrame) -> str | None:
    found = sorted(set(rows["breakdown"]) - {"overall"})
    if len(found) > 1:
        raise AnalysisError(
            f"the results hold several breakdowns {found}; a figure draws one",
            field="breakdown",
            fix="pass breakdown=",
        )
    return found[0] if found else None


def _published(rows: pd.DataFrame) -> pd.DataFrame:
    """Rows disclosure control left in, with an estimate to show."""
    keep = ~rows["suppressed"].astype(bool) & rows["estimate"].notna()
    return rows.loc[keep]


def _is_published(row: pd.Series) -> bool:
    return not bool(row["suppressed"]) and not pd.isna(row["estimate"])


def _marks(
    groups: pd.DataFrame, drawn: pd.DataFrame, *, position: float | dict[str, float]
) -> pd.DataFrame:
    """One label per (indicator, group) with nothing drawn: 'n.p.' or 'no data'.

    Only names and a label position go in: values of suppressed rows never reach the plot.
    """
    shown = set(zip(drawn["indicator"], drawn["group"], strict=True))
    labels: dict[tuple[str, str], str] = {}
    for key, part in groups.groupby(["indicator", "group"], sort=False):
        if key in shown:
            continue
        labels[key] = NOT_PUBLISHED if part["suppressed"].astype(bool).any() else NO_DATA
    marks = pd.DataFrame(
        [{"indicator": i, "group": g, "label": label} for (i, g), label in labels.items()],
        columns=["indicator", "group", "label"],
    )
    if isinstance(position, dict):
        marks["position"] = [float(position.get(i, 0.0)) for i in marks["indicator"]]
    else:
        marks["position"] = float(position)
    return marks


def _name_order(groups: pd.Series) -> list[str]:
    """Group labels in natural name order ("service 2" before "service 10")."""

    def key(label: str) -> list:
        return [(0, int(t), "") if t.isdigit() else (1, 0, t.casefold()) for t in _tokens(label)]

    return sorted(dict.fromkeys(str(g) for g in groups.dropna()), key=key)


def _tokens(label: str) -> list[str]:
    return [t for t in re.split(r"(\d+)", label) if t]


def _panel_labeller(rows: pd.DataFrame, indicator: str | Sequence[str] | None):
    """A function adding the facet label (the indicator in words) to a layer's data.

    Facets follow the order the indicators were asked for (or their order in the results),
    not the alphabet.
    """
    if indicator is None:
        order = list(dict.fromkeys(rows["indicator"]))
    else:
        order = [indicator] if isinstance(indicator, str) else list(dict.fromkeys(indicator))
    categories = list(dict.fromkeys(_humanise(name) for name in order))

    def add_panel(frame: pd.DataFrame) -> pd.DataFrame:
        labels = frame["indicator"].astype(str).map(_humanise)
        return frame.assign(panel=pd.Categorical(labels, categories=categories))

    return add_panel


def _humanise(name: str | None) -> str:
    return (name or "").replace("_", " ").strip()


def _count(k: int, breakdown: str) -> str:
    label = _humanise(breakdown)
    if k != 1 and not label.endswith("s"):
        label += "s"
    return f"{k} {label}"


def _pct(value: float, *, sign: bool = True) -> str:
    number = f"{100 * float(value):.0f}"
    return f"{number}%" if sign else number


def _num(value: float) -> str:
    return f"{float(value):.2f}"


def _signed(value: float) -> str:
    return f"{float(value):+.2f}".replace("-", "\u2212")


def _interval(low: float, high: float) -> str:
    if pd.isna(low) or pd.isna(high):
        return "no interval"
    return f"95% CI {_signed(low)} to {_signed(high)}"


def _p(value: float) -> str:
    value = float(value)
    if math.isnan(value):
        return "p not defined"
    return "p < 0.001" if value < 0.001 else f"p = {value:.3f}"
