"""The evaluation plan as data: load and check ``analysis/plan.yml``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from pceval.errors import AnalysisError
from pceval.instrument.expressions import ExpressionError, parse_expression


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Aggregate(_Frozen):
    """A per-woman summary of event rows: ``agg`` of column ``of`` over the rows where ``where``.

    ``count`` and ``any`` need no column; ``min``, ``max``, ``first`` and ``last`` work on dates
    and numbers (``first``/``last`` in event-date order).
    """

    agg: Literal["count", "any", "sum", "mean", "min", "max", "first", "last", "nunique"]
    of: str | None = None
    where: str | None = None

    @model_validator(mode="after")
    def _needs_column(self) -> Aggregate:
        if self.agg not in {"count", "any"} and not self.of:
            raise ValueError(f"aggregate {self.agg!r} needs a column (of)")
        return self


class JoinSpec(_Frozen):
    """Another instrument's data joined to each unit by the person key.

    From an event source (``per_person``), ``derive`` and ``carry`` as in :class:`DataSpec`;
    from a survey, ``wave`` picks the one response per woman at that wave and ``carry`` names its
    columns, renamed with ``prefix``.
    """

    source: str
    per_person: bool = False
    derive: dict[str, str | Aggregate] = {}
    carry: tuple[str, ...] = ()
    wave: str | None = None
    prefix: str = ""


class DataSpec(_Frozen):
    """Which clean instrument a question reads, and how its rows become analysis units.

    ``per_person`` aggregates event rows to one row per woman (``pid``); ``derive`` makes
    per-woman columns from the event rows (a string counts the rows where it holds; an
    :class:`Aggregate` does more); ``carry`` keeps a case-level column; ``join`` adds other
    instruments' columns by the person key; ``compute`` adds row-wise expressions (in order,
    with ``days()``, ``quarter()`` and ``year()``); ``where`` keeps the units it holds for.
    """

    source: str
    per_person: bool = False
    derive: dict[str, str | Aggregate] = {}
    carry: tuple[str, ...] = ()
    join: tuple[JoinSpec, ...] = ()
    compute: dict[str, str] = {}
    where: str | None = None


class Indicator(_Frozen):
    id: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    label: str
    where: str


class Analysis(_Frozen):
    """One analysis of a plan entry: a method applied to units, with its own indicators.

    ``data`` and ``breakdowns`` default to the question's. ``params`` are the method's own
    settings, checked by the method (:mod:`pceval.analyse.registry`).
    """

    id: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    method: str
    label: str | None = None
    data: DataSpec | None = None
    breakdowns: tuple[str, ...] | None = None
    indicators: tuple[Indicator, ...] = ()
    outcome: str | None = None
    waves: dict[Literal["pre", "post"], str] = {}
    params: dict[str, Any] = {}
    figure: str | None = None

    @model_validator(mode="after")
    def _method_needs(self) -> Analysis:
        if self.method == "proportions" and not self.indicators:
            raise ValueError(f"{self.id}: the proportions method needs indicators")
        if self.method == "paired_change" and (not self.outcome or set(self.waves) != {"pre", "post"}):
            raise ValueError(f"{self.id}: the paired_change method needs an outcome and waves pre and post")
        return self


class Question(_Frozen):
    """One evaluation question: what it asks, which standards it serves, and its analyses.

    A question with one analysis may give ``method`` (with ``indicators``, ``outcome``,
    ``waves``, ``params``, ``figure``) at its own level instead of an ``analyses`` list.
    """

    id: Annotated[str, Field(pattern=r"^q[0-9]{2}_[a-z0-9_]+$|^[a-z][a-z0-9_]*$")]
    number: int | None = None
    title: str
    question: str
    domains: tuple[str, ...] = ()
    nos: tuple[str, ...] = ()
    rba: tuple[Literal["HM", "HW", "BO"], ...] = ()
    data: DataSpec
    breakdowns: tuple[str, ...] = ()
    analyses: tuple[Analysis, ...]

    @model_validator(mode="before")
    @classmethod
    def _single_analysis(cls, values: Any) -> Any:
        if isinstance(values, dict) and "method" in values:
            values = dict(values)
            single = {k: values.pop(k) for k in ("method", "indicators", "outcome", "waves", "params", "figure")
                      if k in values}
            if "analyses" in values:
                raise ValueError("give either method or analyses, not both")
            values["analyses"] = [{"id": "main", **single}]
        return values

    @model_validator(mode="after")
    def _unique_analyses(self) -> Question:
        ids = [a.id for a in self.analyses]
        if len(ids) != len(set(ids)):
            raise ValueError(f"{self.id}: analysis ids must be unique")
        if not ids:
            raise ValueError(f"{self.id}: a question needs at least one analysis")
        return self

    def data_of(self, analysis: Analysis) -> DataSpec:
        return analysis.data or self.data

    def breakdowns_of(self, analysis: Analysis) -> tuple[str, ...]:
        return self.breakdowns if analysis.breakdowns is None else analysis.breakdowns


class Plan(_Frozen):
    kind: Literal["evaluation_plan"]
    schema_version: Literal[1]
    version: str
    title: str
    questions: tuple[Question, ...]

    @model_validator(mode="after")
    def _unique(self) -> Plan:
        ids = [q.id for q in self.questions]
        if len(ids) != len(set(ids)):
            raise ValueError("question ids must be unique")
        return self


def load_plan(path: str | Path) -> Plan:
    """Load and check an evaluation plan.

    Examples
    --------
    >>> from pceval.resources import default_path
    >>> plan = load_plan(default_path("analysis") / "plan.yml")
    >>> [q.id for q in plan.questions][:2]
    ['q01_reach', 'q02_effort']
    """
    path = Path(path)
    if not path.exists():
        raise AnalysisError("evaluation plan not found", file=path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise AnalysisError(f"malformed YAML: {getattr(exc, 'problem', exc)}", file=path,
                            row=mark.line + 1 if mark else None) from None
    try:
        plan = Plan.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise AnalysisError(first["msg"].removeprefix("Value error, "), file=path,
                            field=".".join(str(p) for p in first["loc"])) from None
    from pceval.analyse.registry import check_params

    for question in plan.questions:
        for analysis in question.analyses:
            try:
                check_params(analysis)
            except ValueError as exc:
                raise AnalysisError(str(exc), file=path, field=f"{question.id}.{analysis.id}") from None
        for source in plan_expressions(question):
            try:
                parse_expression(source, analysis=True)
            except ExpressionError as exc:
                raise AnalysisError(str(exc), file=path, field=question.id) from None
    return plan


def plan_expressions(question: Question) -> list[str]:
    """Every expression a plan entry holds (derived columns, filters, indicators)."""
    def derived(derive: dict) -> list[str]:
        out = []
        for value in derive.values():
            if isinstance(value, str):
                out.append(value)
            elif value.where:
                out.append(value.where)
        return out

    out: list[str] = []
    specs = [question.data, *(a.data for a in question.analyses if a.data is not None)]
    for data in specs:
        out += derived(data.derive) + list(data.compute.values())
        for join in data.join:
            out += derived(join.derive)
        if data.where:
            out.append(data.where)
    for analysis in question.analyses:
        out += [i.where for i in analysis.indicators]
    return out
