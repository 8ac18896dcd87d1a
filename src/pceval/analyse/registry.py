"""The analysis methods a plan can name, and what each is given to work with.

A method is a function of the analysis units (one tidy frame) and a :class:`Context`; it returns
a result table (:func:`pceval.results.result_frame`). Methods register themselves with
:func:`register`, naming a pydantic model for their ``params`` so a plan with a wrong setting
fails when it is loaded, not halfway through a run. Disclosure control is not a method's
business: :mod:`pceval.analyse.run` pools small services before a method sees the units and
suppresses small cells after.

Result conventions for model-based methods: one row per reported term, ``breakdown="term"``,
``group`` the term's label, ``statistic`` what is estimated (``odds_ratio``, ``coefficient``,
``difference`` ...), and ``n`` the units the term rests on (for a category, the units in it), so
that the central suppression sees small categories.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, ValidationError

from pceval.instrument.model import Instrument

#: Modules whose import registers the methods (one per family of evaluation questions).
FAMILIES = (
    "pceval.analyse.families.descriptive",
    "pceval.analyse.families.timing",
    "pceval.analyse.families.models",
    "pceval.analyse.families.models_equity",
    "pceval.analyse.families.models_attrition",
    "pceval.analyse.families.comparison",
    "pceval.analyse.families.reliability",
)


@dataclass(frozen=True)
class DisclosureRules:
    """The minimum sizes disclosure control enforces (see :mod:`pceval.privacy.disclosure`)."""

    min_cell: int = 5
    min_denominator: int = 10
    min_service_n: int = 10
    strict: bool = False


@dataclass(frozen=True)
class Context:
    """What a method may use beyond its units.

    ``breakdowns`` maps each breakdown column of the units to the name the plan gives it
    (``service_id`` to ``service``); ``results`` holds the result tables of the questions
    answered before this one, in plan order (the scorecard reads them).
    """

    question: Any
    analysis: Any
    instrument: Instrument
    instruments: Mapping[str, Instrument]
    data: Mapping[str, pd.DataFrame]
    service: str
    breakdowns: dict[str, str]
    rules: DisclosureRules
    params: Any = None
    results: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    cache: Any = None

    @property
    def question_id(self) -> str:
        return self.question.id

    def units(self, spec: Any, *, where: str) -> pd.DataFrame:
        """Other units a method needs (a :class:`~pceval.analyse.plan.DataSpec`), built once per run."""
        from pceval.analyse.units import UnitsCache

        cache = self.cache if self.cache is not None else UnitsCache(self.data, self.instruments)
        return cache.units(spec, where=where)


class Params(BaseModel):
    """Base of every method's settings: unknown keys are errors."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class NoParams(Params):
    pass


@dataclass(frozen=True)
class Method:
    name: str
    run: Callable[[pd.DataFrame, Context], pd.DataFrame]
    params: type[Params] = NoParams
    prepare: Callable[[pd.DataFrame, Context], pd.DataFrame] | None = None
    pool: bool = True
    reads_results: bool = False
    cost: int = 1
    doc: str = ""


METHODS: dict[str, Method] = {}


def register(name: str, *, params: type[Params] = NoParams,
             prepare: Callable[[pd.DataFrame, Context], pd.DataFrame] | None = None,
             pool: bool = True, reads_results: bool = False, cost: int = 1) -> Callable:
    """Register a method under ``name`` (a decorator).

    Parameters
    ----------
    name : str
        What a plan's ``method`` says.
    params : type of Params
        The model of the method's ``params``.
    prepare : callable, optional
        Restricts the units before services are pooled (a paired analysis keeps the women with
        both waves, so pooling counts the women who contribute).
    pool : bool
        Whether services with fewer women than the rule are pooled before the method runs.
    reads_results : bool
        Whether the method reads the results of earlier plan entries (``Context.results``):
        such an entry runs after the others.
    cost : int
        Rough time of one analysis relative to a table of counts (a model fit costs more), so
        that parallel workers start the long entries first.

    Examples
    --------
    >>> @register("example_count")
    ... def _count(units, context):
    ...     from pceval.results import result_frame
    ...     return result_frame([{"indicator": "units", "statistic": "count", "n": len(units)}])
    >>> "example_count" in METHODS
    True
    >>> del METHODS["example_count"]
    """
    def decorate(function: Callable[[pd.DataFrame, Context], pd.DataFrame]):
        METHODS[name] = Method(name=name, run=function, params=params, prepare=prepare, pool=pool,
                               reads_results=reads_results, cost=cost,
                               doc=(function.__doc__ or "").strip().splitlines()[0] if function.__doc__ else "")
        return function
    return decorate


def _load_families() -> None:
    for module in FAMILIES:
        importlib.import_module(module)


def get_method(name: str) -> Method:
    """The registered method called ``name`` (a ``ValueError`` lists the known ones)."""
    _load_families()
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; known methods: {sorted(METHODS)}")
    return METHODS[name]


def check_params(analysis: Any) -> Params:
    """The analysis's ``params``, checked against its method's model.

    Examples
    --------
    >>> from pceval.analyse.plan import Analysis
    >>> check_params(Analysis(id="x", method="proportions", indicators=[{"id": "a", "label": "A", "where": "a == 1"}]))
    NoParams()
    """
    method = get_method(analysis.method)
    try:
        return method.params.model_validate(analysis.params)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ValueError(f"{analysis.id}: params.{where}: {first['msg']}") from None


__all__ = ["Context", "DisclosureRules", "METHODS", "Method", "NoParams", "Params", "check_params",
           "get_method", "register"]
