"""Run the evaluation plan on the scored data and return suppressed result tables.

Disclosure control is applied here, once, on every result table before anything is written:
services with too few women are pooled before estimation, and small cells are suppressed
after it (:mod:`pceval.privacy.disclosure`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from pceval.analyse.methods import paired_change, proportions
from pceval.analyse.plan import Plan, Question
from pceval.analyse.units import build_units, service_column
from pceval.errors import AnalysisError
from pceval.instrument.expressions import parse_expression
from pceval.instrument.model import Instrument
from pceval.privacy.deidentify import PERSON_KEY
from pceval.privacy.disclosure import pool_small_groups, suppress_results
from pceval.results import result_frame

POOLED_LABEL = "Other services (pooled)"


@dataclass(frozen=True)
class DisclosureRules:
    min_cell: int = 5
    min_denominator: int = 10
    min_service_n: int = 10
    strict: bool = False


def _resolve_breakdown(name: str, instrument: Instrument) -> str:
    return service_column(instrument) if name == "service" else name


def complete_pairs(frame: pd.DataFrame, question: Question) -> pd.DataFrame:
    """Rows of the women who have the outcome at both the pre and the post wave."""
    if question.outcome not in frame.columns:
        raise AnalysisError(f"{question.id}: outcome {question.outcome!r} is not a scored column of "
                            f"{question.data.source}")
    waves = [question.waves["pre"], question.waves["post"]]
    present = frame[frame["_wave"].isin(waves) & frame[question.outcome].notna()]
    counts = present.groupby(PERSON_KEY)["_wave"].nunique()
    complete = counts.index[counts == 2]
    return present[present[PERSON_KEY].isin(complete)]


def _indicator_columns(units: pd.DataFrame, question: Question) -> pd.DataFrame:
    out = units.copy()
    for indicator in question.indicators:
        where = parse_expression(indicator.where, analysis=True)
        out[indicator.id] = where.evaluate(units).fillna(False).astype("int64")
    return out


def run_question(question: Question, data: Mapping[str, pd.DataFrame],
                 instruments: Mapping[str, Instrument], rules: DisclosureRules) -> pd.DataFrame:
    """Answer one plan entry; returns its suppressed result table.

    Parameters
    ----------
    question : Question
        The plan entry.
    data : mapping of str to DataFrame
        Scored data per instrument id.
    instruments : mapping of str to Instrument
        The evaluation's instruments.
    rules : DisclosureRules
        Minimum cell, denominator and service sizes.

    Returns
    -------
    DataFrame
        The standard result table (:mod:`pceval.results`), disclosure control applied.
    """
    source = question.data.source
    if source not in data or source not in instruments:
        raise AnalysisError(f"{question.id}: no scored data for instrument {source!r}",
                            fix="run `pceval build` first, or correct data.source in the plan")
    instrument = instruments[source]
    frame = build_units(question.data, data, instruments, where=f"{question.id}.data")
    service = service_column(instrument)
    if question.method == "paired_change":
        # only women with both waves contribute, so services are pooled by that count
        frame = complete_pairs(frame, question)
    # services with fewer women than the rule are pooled before anything is estimated, so
    # no estimate, interval or figure rests on them alone
    frame, _pooled = pool_small_groups(frame, group_col=service, min_n=rules.min_service_n,
                                       unit_col=PERSON_KEY if PERSON_KEY in frame.columns else None,
                                       label=POOLED_LABEL)
    breakdowns = [_resolve_breakdown(b, instrument) for b in question.breakdowns]
    for column in breakdowns:
        if column not in frame.columns:
            raise AnalysisError(f"{question.id}: breakdown {column!r} is not a column of {source}")
    parts = []
    if question.method == "proportions":
        units = _indicator_columns(frame, question)
        indicators = {i.id: i.id for i in question.indicators}
        parts.append(proportions(units, indicators=indicators, question=question.id))
        for column in breakdowns:
            part = proportions(units, indicators=indicators, by=column, question=question.id,
                               overall=False)
            parts.append(part)
    else:
        pre, post = question.waves["pre"], question.waves["post"]
        long = frame[[PERSON_KEY, "_wave", question.outcome, *breakdowns]]
        parts.append(paired_change(long, unit=PERSON_KEY, wave="_wave", value=question.outcome,
                                   pre=pre, post=post, question=question.id,
                                   indicator=question.outcome))
        for column in breakdowns:
            part = paired_change(long, unit=PERSON_KEY, wave="_wave", value=question.outcome,
                                 pre=pre, post=post, by=column, question=question.id,
                                 indicator=question.outcome)
            parts.append(part[part["breakdown"] != "overall"])
    result = result_frame(pd.concat(parts, ignore_index=True))
    if breakdowns:
        names = {column: name for name, column in zip(question.breakdowns, breakdowns, strict=True)}
        result["breakdown"] = result["breakdown"].replace(names)
    # a pool that is still smaller than the service rule would show those services all but
    # alone; it is withheld, and suppress_results protects it from derivation by subtraction
    small_pool = result["group"].eq(POOLED_LABEL) & result["n"].fillna(0).lt(rules.min_service_n)
    result.loc[small_pool, "suppressed"] = True
    result.loc[small_pool, "note"] = f"n.p.: pooled services have fewer than {rules.min_service_n} women"
    result = _protect_small_pool(result, rules.min_service_n)
    return suppress_results(result, min_cell=rules.min_cell, min_denominator=rules.min_denominator,
                            strict=rules.strict)


def _protect_small_pool(result: pd.DataFrame, min_n: int) -> pd.DataFrame:
    """Withhold further groups until the withheld groups together reach ``min_n`` women.

    Overall minus the shown groups gives the withheld groups' total, so a withheld pool of 8
    women beside a published overall would be recovered by subtraction; hiding the next
    smallest group makes the recoverable total rest on at least ``min_n`` women.
    """
    out = result.copy()
    keys = ["question", "indicator", "statistic", "method", "breakdown"]
    pooled_sets = out.loc[out["group"].eq(POOLED_LABEL) & out["suppressed"], keys].drop_duplicates()
    for values in pooled_sets.itertuples(index=False):
        members = out.index[(out[keys] == pd.Series(values, index=keys)).all(axis=1)]
        while True:
            hidden = out.loc[members][out.loc[members, "suppressed"]]
            shown = out.loc[members][~out.loc[members, "suppressed"]]
            if hidden["n"].fillna(0).sum() >= min_n or shown.empty:
                break
            smallest = shown.sort_values(["n", "group"], kind="stable").index[0]
            out.loc[smallest, "suppressed"] = True
            out.loc[smallest, "note"] = "n.p.: consequential"
    return out


def run_plan(plan: Plan, data: Mapping[str, pd.DataFrame], instruments: Mapping[str, Instrument],
             rules: DisclosureRules | None = None) -> dict[str, pd.DataFrame]:
    """Answer every question of the plan; results keyed by question id, in plan order."""
    rules = rules or DisclosureRules()
    return {q.id: run_question(q, data, instruments, rules) for q in plan.questions}
