"""Run the evaluation plan on the scored data and return suppressed result tables.

Disclosure control is applied here, once, on every result table before anything is written:
services with too few women are pooled before estimation, and small cells are suppressed
after it (:mod:`pceval.privacy.disclosure`).
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Mapping

import pandas as pd

from pceval.analyse.plan import Analysis, Plan, Question
from pceval.analyse.registry import Context, DisclosureRules, check_params, get_method
from pceval.analyse.units import UnitsCache, service_column
from pceval.errors import AnalysisError
from pceval.instrument.model import Instrument
from pceval.privacy.deidentify import PERSON_KEY
from pceval.privacy.disclosure import pool_small_groups, suppress_results
from pceval.results import result_frame

__all__ = ["POOLED_LABEL", "DisclosureRules", "UnitsCache", "run_analysis", "run_plan", "run_question"]

POOLED_LABEL = "Other services (pooled)"


def _breakdown_columns(names: tuple[str, ...], service: str) -> dict[str, str]:
    return {(service if name == "service" else name): name for name in names}


def run_analysis(question: Question, analysis: Analysis, data: Mapping[str, pd.DataFrame],
                 instruments: Mapping[str, Instrument], rules: DisclosureRules,
                 results: Mapping[str, pd.DataFrame] | None = None,
                 cache: UnitsCache | None = None) -> pd.DataFrame:
    """One analysis of a plan entry, before disclosure control (services already pooled).

    ``cache`` shares units between analyses with the same ``data``; without one they are built
    here.
    """
    spec = question.data_of(analysis)
    where = f"{question.id}.{analysis.id}"
    if spec.source not in instruments:
        raise AnalysisError(f"{question.id}: no scored data for instrument {spec.source!r}",
                            fix="run `pceval build` first, or correct data.source in the plan")
    method = get_method(analysis.method)
    instrument = instruments[spec.source]
    service = service_column(instrument)
    cache = cache if cache is not None else UnitsCache(data, instruments)
    units = cache.units(spec, where=f"{where}.data")
    breakdowns = _breakdown_columns(question.breakdowns_of(analysis), service)
    context = Context(question=question, analysis=analysis, instrument=instrument, instruments=instruments,
                      data=data, service=service, breakdowns=breakdowns, rules=rules,
                      params=check_params(analysis), results=results or {}, cache=cache)
    if method.prepare is not None:
        units = method.prepare(units, context)
    if method.pool and service in units.columns:
        # services with fewer women than the rule are pooled before anything is estimated, so
        # no estimate, interval or figure rests on them alone
        units, _pooled = pool_small_groups(units, group_col=service, min_n=rules.min_service_n,
                                           unit_col=PERSON_KEY if PERSON_KEY in units.columns else None,
                                           label=POOLED_LABEL)
    for column in breakdowns:
        if column not in units.columns:
            raise AnalysisError(f"{question.id}: breakdown {column!r} is not a column of the units",
                                field=f"{where}.breakdowns")
    result = result_frame(method.run(units, context))
    result["question"] = question.id
    result["breakdown"] = result["breakdown"].replace(breakdowns)
    return result


def run_question(question: Question, data: Mapping[str, pd.DataFrame],
                 instruments: Mapping[str, Instrument], rules: DisclosureRules,
                 results: Mapping[str, pd.DataFrame] | None = None,
                 cache: UnitsCache | None = None) -> pd.DataFrame:
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
    results : mapping of str to DataFrame, optional
        Result tables of the questions answered before this one.
    cache : UnitsCache, optional
        Units already built by other entries with the same ``data``.

    Returns
    -------
    DataFrame
        The standard result table (:mod:`pceval.results`), disclosure control applied.
    """
    cache = cache if cache is not None else UnitsCache(data, instruments)
    parts = [run_analysis(question, analysis, data, instruments, rules, results, cache)
             for analysis in question.analyses]
    result = result_frame(pd.concat(parts, ignore_index=True))
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
             rules: DisclosureRules | None = None, *, workers: int = 1) -> dict[str, pd.DataFrame]:
    """Answer every question of the plan; results keyed by question id, in plan order.

    Parameters
    ----------
    plan : Plan
        The evaluation plan (:func:`pceval.analyse.plan.load_plan`).
    data : mapping of str to DataFrame
        Scored data per instrument id (``build/scored``).
    instruments : mapping of str to Instrument
    rules : DisclosureRules, optional
        Minimum cell, denominator and service sizes (defaults 5, 10, 10).
    workers : int
        Processes answering entries at the same time (where the system can fork). Entries
        are independent of one another except those whose method reads earlier results (the
        scorecard), which run afterwards in plan order; every table is the same whatever
        the number of workers.

    Returns
    -------
    dict of str to DataFrame
        One suppressed result table (:data:`pceval.results.RESULT_COLUMNS`) per question; each
        question sees the tables of the questions before it.

    Examples
    --------
    >>> import pandas as pd
    >>> from pceval.analyse.plan import Plan
    >>> from pceval.instrument import load_instrument
    >>> plan = Plan.model_validate({"kind": "evaluation_plan", "schema_version": 1, "version": "1",
    ...     "title": "t", "questions": [{"id": "q01_reach", "title": "Reach", "question": "?",
    ...     "data": {"source": "contact_record", "per_person": True,
    ...              "derive": {"contacts": "outcome == 'reached'"}},
    ...     "method": "proportions", "indicators": [{"id": "reached", "label": "Reached",
    ...                                               "where": "contacts >= 1"}]}]})
    >>> events = pd.DataFrame({"pid": [f"p{i}" for i in range(40)], "service_id": "S01",
    ...                        "outcome": ["reached"] * 30 + ["no_answer"] * 10})
    >>> out = run_plan(plan, {"contact_record": events}, {"contact_record": load_instrument("contact_record")})
    >>> row = out["q01_reach"].iloc[0]
    >>> row["indicator"], int(row["n"]), int(row["numerator"]), float(row["estimate"])
    ('reached', 40, 30, 0.75)
    """
    from threadpoolctl import threadpool_limits

    rules = rules or DisclosureRules()
    answered: dict[str, pd.DataFrame] = {}
    cache = UnitsCache(data, instruments)
    independent = [q for q in plan.questions if not _reads_results(q)]
    if workers > 1 and len(independent) > 1 and "fork" in multiprocessing.get_all_start_methods():
        # what every worker would otherwise do for itself: order the event sources
        for question in plan.questions:
            for analysis in question.analyses:
                cache.prepare(question.data_of(analysis))
        answered = _answer_in_workers(independent, cache, rules, workers)
    results: dict[str, pd.DataFrame] = {}
    # the models solve many small systems (covariate patterns, one woman's waves); threads of
    # the linear-algebra library cost more to synchronise than they save there, and on a busy
    # machine they stall for whole seconds, so the plan runs them on one thread
    with threadpool_limits(limits=1, user_api="blas"):
        for question in plan.questions:
            results[question.id] = (answered[question.id] if question.id in answered else
                                    run_question(question, data, instruments, rules, results, cache))
    return results


def _reads_results(question: Question) -> bool:
    return any(get_method(a.method).reads_results for a in question.analyses)


# what forked workers inherit: the plan's inputs, set just before the pool starts
_SHARED: dict[str, object] = {}


def _answer_in_worker(index: int) -> tuple[int, pd.DataFrame | None]:
    from threadpoolctl import threadpool_limits

    questions, cache, rules = (_SHARED[k] for k in ("questions", "cache", "rules"))
    try:
        with threadpool_limits(limits=1, user_api="blas"):
            return index, run_question(questions[index], cache.data, cache.instruments, rules, {}, cache)
    except Exception:  # noqa: BLE001 - answered again in the parent, which raises it whole
        return index, None


def _answer_in_workers(questions: list[Question], cache: UnitsCache, rules: DisclosureRules,
                       workers: int) -> dict[str, pd.DataFrame]:
    """Independent entries answered by forked processes; an entry that failed is left out."""
    from concurrent.futures import ProcessPoolExecutor

    # workers are forked, so they share the scored data with this process rather than copy
    # it; the costliest entries start first so that no worker is left with a long one at the end
    _SHARED.update(questions=questions, cache=cache, rules=rules)
    order = sorted(range(len(questions)), key=lambda i: -_weight(questions[i]))
    try:
        with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork")) as pool:
            done = dict(pool.map(_answer_in_worker, order))
    finally:
        _SHARED.clear()
    return {questions[i].id: table for i, table in done.items() if table is not None}


def _weight(question: Question) -> int:
    return sum(get_method(a.method).cost for a in question.analyses)
