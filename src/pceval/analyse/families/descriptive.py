"""Shares and paired change: the descriptive core of the stream.

``proportions`` (reach, content, safety at follow-up ...) and ``paired_change`` (felt safety,
space for action ...), overall and by each breakdown, on the units the plan describes.
"""

from __future__ import annotations

import pandas as pd

from pceval.analyse.methods import paired_change, proportions
from pceval.analyse.registry import Context, register
from pceval.errors import AnalysisError
from pceval.instrument.expressions import parse_expression
from pceval.privacy.deidentify import PERSON_KEY


def indicator_columns(units: pd.DataFrame, context: Context) -> pd.DataFrame:
    """The units with one 0/1 column per indicator of the analysis (its ``where`` evaluated)."""
    out = units.copy()
    for indicator in context.analysis.indicators:
        where = parse_expression(indicator.where, analysis=True)
        out[indicator.id] = where.evaluate(units).fillna(False).astype("int64")
    return out


@register("proportions")
def run_proportions(units: pd.DataFrame, context: Context) -> pd.DataFrame:
    """Shares of units with each indicator, with Wilson intervals, overall and by breakdown."""
    units = indicator_columns(units, context)
    indicators = {i.id: i.id for i in context.analysis.indicators}
    parts = [proportions(units, indicators=indicators, question=context.question_id)]
    for column in context.breakdowns:
        parts.append(proportions(units, indicators=indicators, by=column, question=context.question_id,
                                 overall=False))
    return pd.concat(parts, ignore_index=True)


def complete_pairs(units: pd.DataFrame, context: Context) -> pd.DataFrame:
    """Rows of the women who have the outcome at both the pre and the post wave."""
    analysis = context.analysis
    if analysis.outcome not in units.columns:
        raise AnalysisError(f"{context.question_id}: outcome {analysis.outcome!r} is not a column of the units",
                            field=f"{context.question_id}.{analysis.id}.outcome")
    waves = [analysis.waves["pre"], analysis.waves["post"]]
    present = units[units["_wave"].isin(waves) & units[analysis.outcome].notna()]
    counts = present.groupby(PERSON_KEY)["_wave"].nunique()
    complete = counts.index[counts == 2]
    return present[present[PERSON_KEY].isin(complete)]


@register("paired_change", prepare=complete_pairs, cost=2)
def run_paired_change(units: pd.DataFrame, context: Context) -> pd.DataFrame:
    """Change between two waves in the same women: means, mean change, paired t, Cohen's d_z."""
    analysis = context.analysis
    pre, post = analysis.waves["pre"], analysis.waves["post"]
    long = units[[PERSON_KEY, "_wave", analysis.outcome, *context.breakdowns]]
    common = dict(unit=PERSON_KEY, wave="_wave", value=analysis.outcome, pre=pre, post=post,
                  question=context.question_id, indicator=analysis.outcome)
    parts = [paired_change(long, **common)]
    for column in context.breakdowns:
        part = paired_change(long, by=column, **common)
        parts.append(part[part["breakdown"] != "overall"])
    return pd.concat(parts, ignore_index=True)
