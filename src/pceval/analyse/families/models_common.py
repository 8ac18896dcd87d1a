"""What the model-based methods share: values from the plan, design matrices and term rows.

A model's terms come from the plan (column names); nothing here names an item. A categorical
term becomes one 0/1 column per level other than its reference (the level named in the plan's
``references``, else the most frequent level, ties broken by name), labelled
``column=level``; a numeric term enters as it is, labelled by its column. Term rows follow the
registry's convention: ``breakdown="term"``, ``group`` the label, ``n`` the women in that
category (all women in the model for a numeric term), so central suppression sees small
categories.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype, is_numeric_dtype
from scipy import stats

from pceval.analyse.registry import Context
from pceval.errors import AnalysisError
from pceval.instrument.expressions import ExpressionError, parse_expression
from pceval.privacy.deidentify import PERSON_KEY

__all__ = ["Design", "Term", "design_matrix", "evaluate", "no_breakdowns", "person_counts",
           "require_columns", "term_row", "wald"]

Z95 = float(stats.norm.ppf(0.975))


def evaluate(units: pd.DataFrame, source: str, *, field: str, propagate_missing: bool = False) -> pd.Series:
    """A column, or an expression of columns, evaluated on every unit.

    Parameters
    ----------
    units : DataFrame
    source : str
        A column name or a plan expression (``violence_3m == 0``, ``minutes / 60``).
    field : str
        Where the source sits in the plan, for the error message.
    propagate_missing : bool
        Make the result missing where any column the expression names is missing. The
        expression language treats a comparison with a blank as false, which is right for
        record-derived counts (no contact is "not reached") but wrong for a survey answer she
        did not give (a blank is not "no violence").

    Examples
    --------
    >>> frame = pd.DataFrame({"violence": [0, 1, None]}, dtype="Int64")
    >>> evaluate(frame, "violence == 0", field="outcome", propagate_missing=True).tolist()
    [1.0, 0.0, nan]
    """
    if source in units.columns:
        return units[source]
    try:
        expression = parse_expression(source, analysis=True)
        values = expression.evaluate(units)
    except ExpressionError as exc:
        raise AnalysisError(str(exc), field=field) from None
    if is_bool_dtype(values.dtype):
        values = values.astype("float64")
    if propagate_missing:
        blank = units[sorted(expression.names & set(units.columns))].isna().any(axis=1)
        values = values.astype("float64").mask(blank)
    return values


def require_columns(units: pd.DataFrame, columns: Sequence[str], *, field: str) -> None:
    """An AnalysisError naming the first of ``columns`` the units lack."""
    for column in columns:
        if column not in units.columns:
            raise AnalysisError(f"{column!r} is not a column of the units", field=field,
                                fix="carry, join or compute it in the plan's data")


def no_breakdowns(context: Context, method: str) -> None:
    """Model methods report terms, not breakdown groups: a breakdown must be a term instead."""
    if context.breakdowns:
        raise AnalysisError(
            f"method {method} reports model terms and takes no breakdowns (got "
            f"{sorted(context.breakdowns.values())})",
            field=f"{context.question_id}.{context.analysis.id}.breakdowns",
            fix="set `breakdowns: []` on this analysis and name the column in its terms")


def person_counts(units: pd.DataFrame, mask: pd.Series | np.ndarray | None = None) -> int:
    """Distinct women among the units (rows when there is no person key)."""
    rows = units if mask is None else units.loc[np.asarray(mask, dtype=bool)]
    if PERSON_KEY in rows.columns:
        return int(rows[PERSON_KEY].nunique())
    return len(rows)


@dataclass(frozen=True)
class Term:
    """One column of a design matrix: its label, the plan column and (if categorical) level."""

    label: str
    column: str
    level: str | None = None


@dataclass(frozen=True)
class Design:
    """A model matrix without intercept, its terms, and each categorical's reference level."""

    matrix: pd.DataFrame
    terms: tuple[Term, ...]
    references: dict[str, str]

    def n_of(self, units: pd.DataFrame, term: Term) -> int:
        """Women the term rests on: in its category, or all women for a numeric term."""
        if term.level is None:
            return person_counts(units)
        return person_counts(units, _as_label(units[term.column]).eq(term.level).to_numpy())


def _as_label(series: pd.Series) -> pd.Series:
    return series.astype("string")


def is_categorical(series: pd.Series) -> bool:
    """Strings, categories and booleans are categorical; numbers enter as they are."""
    return is_bool_dtype(series.dtype) or not is_numeric_dtype(series.dtype)


def reference_level(series: pd.Series, given: str | None, *, field: str) -> str:
    """The plan's reference level, else the most frequent level (ties: first by name)."""
    labels = _as_label(series.dropna())
    counts = labels.value_counts()
    if given is not None:
        if str(given) not in counts.index:
            raise AnalysisError(f"reference level {given!r} does not occur (levels: "
                                f"{sorted(counts.index)})", field=field)
        return str(given)
    if counts.empty:
        raise AnalysisError("the term has no values", field=field)
    top = counts[counts == counts.max()]
    return min(top.index)


def design_matrix(units: pd.DataFrame, columns: Sequence[str], *, references: Mapping[str, Any] | None = None,
                  field: str = "params.terms") -> Design:
    """The design matrix of ``columns`` on complete rows (no intercept column).

    Examples
    --------
    >>> units = pd.DataFrame({"tier": ["low", "high", "low"], "age": [30, 40, 50]})
    >>> d = design_matrix(units, ["tier", "age"])
    >>> [t.label for t in d.terms], d.references
    (['tier=high', 'age'], {'tier': 'low'})
    >>> d.matrix.to_numpy().tolist()
    [[0.0, 30.0], [1.0, 40.0], [0.0, 50.0]]
    """
    references = dict(references or {})
    require_columns(units, columns, field=field)
    parts: dict[str, np.ndarray] = {}
    terms: list[Term] = []
    chosen: dict[str, str] = {}
    for column in columns:
        series = units[column]
        if is_categorical(series):
            labels = _as_label(series)
            ref = reference_level(series, references.get(column), field=f"{field}.{column}")
            chosen[column] = ref
            for level in sorted(set(labels.dropna().unique()) - {ref}):
                label = f"{column}={level}"
                parts[label] = labels.eq(level).fillna(False).to_numpy(dtype="float64")
                terms.append(Term(label, column, level))
        else:
            parts[column] = series.astype("float64").to_numpy()
            terms.append(Term(column, column))
    matrix = pd.DataFrame(parts, index=units.index, dtype="float64")
    return Design(matrix=matrix, terms=tuple(terms), references=chosen)


def complete_rows(units: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """The units with every named column present."""
    columns = [c for c in dict.fromkeys(columns) if c is not None]
    return units.loc[units[columns].notna().all(axis=1)]


def wald(estimate: float, se: float, *, df: float | None = None) -> dict[str, float]:
    """Estimate, 95% interval and two-sided p from a standard error (normal, or t with ``df``)."""
    if not np.isfinite(se) or se <= 0:
        return {"estimate": estimate, "ci_low": np.nan, "ci_high": np.nan, "p_value": np.nan}
    crit = Z95 if df is None else float(stats.t.ppf(0.975, df))
    stat = estimate / se
    p = 2 * (stats.norm.sf(abs(stat)) if df is None else stats.t.sf(abs(stat), df))
    return {"estimate": estimate, "ci_low": estimate - crit * se, "ci_high": estimate + crit * se,
            "p_value": float(p)}


def term_row(indicator: str, label: str, statistic: str, method: str, n: int, values: Mapping[str, float],
             *, exponentiate: bool = False, note: str | None = None) -> dict[str, Any]:
    """One result row for a model term (``breakdown="term"``)."""
    row: dict[str, Any] = {"indicator": indicator, "breakdown": "term", "group": label,
                           "statistic": statistic, "n": int(n), "method": method, "note": note}
    for key in ("estimate", "ci_low", "ci_high"):
        value = values.get(key, np.nan)
        row[key] = float(np.exp(value)) if exponentiate and np.isfinite(value) else value
    row["p_value"] = values.get("p_value", np.nan)
    return row


def empty_row(indicator: str, label: str, statistic: str, method: str, n: int, note: str) -> dict[str, Any]:
    """A row with no estimate and the reason, for groups too small to model."""
    return {"indicator": indicator, "breakdown": "term", "group": label, "statistic": statistic,
            "n": int(n), "method": method, "note": note}
