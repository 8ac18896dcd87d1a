"""Statistical building blocks shared by the evaluation questions.

Plain functions: a tidy frame goes in, a result table (:func:`pceval.results.result_frame`)
comes out. Disclosure control is not applied here; it runs once, centrally, on the results.

- :func:`proportions`: shares of units (women, cases) with a 0/1 attribute, with Wilson
  intervals, overall and by a breakdown (reach, content, safety at follow-up ...).
- :func:`paired_change`: change in a score between two waves for the same units, with the
  paired t-test and Cohen's d_z (felt safety, space for action, wellbeing ...).
- :func:`wilson_interval`: the Wilson score interval on its own, vectorised.
"""

from __future__ import annotations

import numbers
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype, is_numeric_dtype
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from pceval.errors import AnalysisError
from pceval.results import result_frame

__all__ = ["paired_change", "proportions", "wilson_interval"]

#: Statistic names that :func:`paired_change` writes, in the order it writes them.
PAIRED_CHANGE_STATISTICS = ("mean_pre", "mean_post", "mean_change", "effect_size_dz")

_FEWER_THAN_TWO_PAIRS = "fewer than 2 complete pairs: no estimate"


# --------------------------------------------------------------------------------------------
# Wilson interval
# --------------------------------------------------------------------------------------------


def wilson_interval(
    successes: Any, n: Any, *, conf_level: float = 0.95
) -> tuple[Any, Any]:
    """Wilson score interval for a binomial proportion, without continuity correction.

    Parameters
    ----------
    successes : int or array_like of int
        Number of units with the attribute.
    n : int or array_like of int
        Number of units (the denominator). Broadcast against ``successes``.
    conf_level : float, default 0.95
        Confidence level, strictly between 0 and 1.

    Returns
    -------
    tuple of (float, float) or tuple of (numpy.ndarray, numpy.ndarray)
        Lower and upper limits; floats when both inputs are scalars. Where ``n`` is 0 the
        limits are NaN (no interval exists).

    Raises
    ------
    AnalysisError
        If a count is negative, ``successes`` exceeds ``n``, or ``conf_level`` is outside (0, 1).

    Notes
    -----
    With :math:`\\hat p = x/n` and :math:`z` the :math:`1 - \\alpha/2` normal quantile,

    .. math::

        \\frac{\\hat p + \\frac{z^2}{2n} \\pm
        z\\sqrt{\\frac{\\hat p(1-\\hat p)}{n} + \\frac{z^2}{4n^2}}}{1 + \\frac{z^2}{n}}

    (Wilson 1927; method 3 of Newcombe 1998, whose Table I the tests reproduce). Computed by
    ``statsmodels.stats.proportion.proportion_confint(method="wilson")``, which agrees with
    R's ``binom::binom.confint(method = "wilson")`` and ``prop.test(correct = FALSE)``.
    Unlike the Wald interval it stays inside [0, 1] and keeps near-nominal coverage for
    small ``n`` and proportions near 0 or 1, which partner contact data often have.

    References
    ----------
    Wilson EB (1927). Probable inference, the law of succession, and statistical inference.
    JASA 22:209-212. Newcombe RG (1998). Two-sided confidence intervals for the single
    proportion: comparison of seven methods. Statistics in Medicine 17:857-872.

    Examples
    --------
    >>> low, high = wilson_interval(81, 263)
    >>> round(low, 4), round(high, 4)
    (0.2553, 0.3662)
    >>> low, high = wilson_interval([0, 1, 0], [20, 29, 0])
    >>> low.round(4).tolist(), high.round(4).tolist()
    ([0.0, 0.0061, nan], [0.1611, 0.1718, nan])
    """
    _check_conf_level(conf_level)
    x = np.asarray(successes, dtype=float)
    total = np.asarray(n, dtype=float)
    scalar = x.ndim == 0 and total.ndim == 0
    x, total = np.broadcast_arrays(x, total)
    if np.any(total < 0) or np.any(x < 0):
        raise AnalysisError("counts must not be negative", field="n")
    if np.any(x > total):
        raise AnalysisError("the number of successes exceeds the number of units", field="n")
    low = np.full(x.shape, np.nan)
    high = np.full(x.shape, np.nan)
    ok = total > 0
    if np.any(ok):
        low[ok], high[ok] = proportion_confint(
            x[ok], total[ok], alpha=1 - conf_level, method="wilson"
        )
        # The limits are exactly 0 when x = 0 and exactly 1 when x = n; floating-point
        # rounding in the vectorised formula can leave 5e-17 there, so set them exactly.
        low[ok & (x == 0)] = 0.0
        high[ok & (x == total)] = 1.0
        np.clip(low, 0.0, 1.0, out=low)
        np.clip(high, 0.0, 1.0, out=high)
    if scalar:
        return float(low.item()), float(high.item())
    return low, high


# --------------------------------------------------------------------------------------------
# Proportions
# --------------------------------------------------------------------------------------------


def proportions(
    data: pd.DataFrame,
    *,
    indicators: Mapping[str, str] | Sequence[str],
    by: str | None = None,
    denominator: str | None = None,
    question: str,
    unit: str | None = None,
    overall: bool = True,
    conf_level: float = 0.95,
) -> pd.DataFrame:
    """Share of units with each 0/1 indicator, overall and by a breakdown, with Wilson intervals.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per unit (e.g. one woman). Indicator columns hold 0, 1 (or False, True) or
        missing; missing means "not known" and the row leaves that indicator's denominator.
    indicators : mapping of str to str, or sequence of str
        ``{indicator name: column}``, or column names used as indicator names.
    by : str, optional
        Column to break the results down by (e.g. ``service``). Rows with a missing ``by``
        count in the overall rows only.
    denominator : str, optional
        A 0/1 column restricting every denominator to rows where it is 1 (e.g. ``offered``
        for "reached among those offered"). Rows where it is 0 or missing are left out.
    question : str
        Plan entry id written to the ``question`` column.
    unit : str, optional
        Column identifying the unit. When given, it is checked to be unique, so no woman is
        counted twice.
    overall : bool, default True
        Whether to emit the overall rows.
    conf_level : float, default 0.95
        Confidence level of the intervals.

    Returns
    -------
    pandas.DataFrame
        A result table (:data:`pceval.results.RESULT_COLUMNS`), per indicator in the order
        given: the overall row (``breakdown="overall"``, ``group="all"``) then one row per
        level of ``by`` (``breakdown=by``, ``group=str(level)``, levels sorted). Columns set:

        - ``question``, ``indicator``, ``breakdown``, ``group``
        - ``statistic``: ``"proportion"``
        - ``n``: rows with a non-missing indicator (and ``denominator == 1`` if given)
        - ``numerator``: of those, rows where the indicator is 1
        - ``estimate``: ``numerator / n``; missing when ``n`` is 0
        - ``ci_low``, ``ci_high``: Wilson score interval; missing when ``n`` is 0
        - ``method``: ``"wilson"``

        ``p_value`` and ``note`` are missing; ``suppressed`` is False (disclosure control runs
        later, on the whole result table).

    Raises
    ------
    AnalysisError
        If a named column is not in ``data`` (the error names it), an indicator or the
        denominator holds a value other than 0/1/missing (the error names the column and the
        value), ``unit`` has duplicates, or ``conf_level`` is outside (0, 1).

    Notes
    -----
    :math:`\\hat p = x / n` with the Wilson score interval (see :func:`wilson_interval`;
    Newcombe 1998, method 3). Checked against Newcombe's Table I and the closed form.

    Examples
    --------
    >>> women = pd.DataFrame({
    ...     "service": ["A", "A", "A", "B", "B"],
    ...     "offered": [1, 1, 1, 1, 0],
    ...     "reached": [1, 0, 1, None, 0],
    ... })
    >>> res = proportions(women, indicators={"reached": "reached"}, by="service",
    ...                   denominator="offered", question="q01_reach")
    >>> res[["group", "n", "numerator", "estimate"]]
      group  n  numerator  estimate
    0   all  3          2  0.666667
    1     A  3          2  0.666667
    2     B  0          0      <NA>
    """
    _check_frame(data)
    _check_conf_level(conf_level)
    indicator_columns = _indicator_map(indicators)
    _require_columns(data, [*indicator_columns.values(), by, denominator, unit])
    if unit is not None:
        _check_unique(data, [unit])

    base = pd.Series(True, index=data.index)
    if denominator is not None:
        base = _binary(data, denominator, role="denominator") == 1.0

    levels: list[Hashable] = []
    if by is not None:
        levels = _sorted_levels(data[by])

    rows: list[dict[str, Any]] = []
    for name, column in indicator_columns.items():
        values = _binary(data, column, role="indicator")
        counted = values.notna() & base
        hits = counted & (values == 1.0)
        cells: list[tuple[str, str, int, int]] = []
        if overall:
            cells.append(("overall", "all", int(counted.sum()), int(hits.sum())))
        if by is not None:
            n_by = counted.groupby(data[by], dropna=True).sum()
            x_by = hits.groupby(data[by], dropna=True).sum()
            for level in levels:
                cells.append((by, str(level), int(n_by.get(level, 0)), int(x_by.get(level, 0))))
        if not cells:
            continue
        n = np.array([c[2] for c in cells])
        x = np.array([c[3] for c in cells])
        low, high = wilson_interval(x, n, conf_level=conf_level)
        with np.errstate(invalid="ignore", divide="ignore"):
            estimate = np.where(n > 0, x / np.maximum(n, 1), np.nan)
        for i, (breakdown, group, n_i, x_i) in enumerate(cells):
            rows.append(
                {
                    "question": question,
                    "indicator": name,
                    "breakdown": breakdown,
                    "group": group,
                    "statistic": "proportion",
                    "n": n_i,
                    "numerator": x_i,
                    "estimate": estimate[i],
                    "ci_low": low[i],
                    "ci_high": high[i],
                    "method": "wilson",
                }
            )
    return result_frame(rows)


# --------------------------------------------------------------------------------------------
# Paired change
# --------------------------------------------------------------------------------------------


def paired_change(
    data: pd.DataFrame,
    *,
    unit: str,
    wave: str,
    value: str,
    pre: Any,
    post: Any,
    by: str | None = None,
    question: str,
    indicator: str | None = None,
    conf_level: float = 0.95,
) -> pd.DataFrame:
    """Change in a score between two waves for the same units: means, paired t-test and d_z.

    Parameters
    ----------
    data : pandas.DataFrame
        Long data, one row per unit and wave. Rows of other waves are ignored.
    unit : str
        Column identifying the unit (e.g. the woman's pseudonym).
    wave : str
        Column naming the wave.
    value : str
        Numeric column holding the score.
    pre, post : scalar
        The two values of ``wave`` to compare (e.g. ``"baseline"`` and ``"follow_up"``);
        change is ``post - pre``.
    by : str, optional
        Column to break the results down by. It must be constant within a unit; the groups
        are its levels, sorted. Pairs with a missing ``by`` count in the overall rows only.
    question : str
        Plan entry id written to the ``question`` column.
    indicator : str, optional
        Name written to the ``indicator`` column; defaults to ``value``.
    conf_level : float, default 0.95
        Confidence level of the intervals.

    Returns
    -------
    pandas.DataFrame
        A result table (:data:`pceval.results.RESULT_COLUMNS`): for the overall rows
        (``breakdown="overall"``, ``group="all"``) and then each level of ``by``, four rows in
        this order, all with the same ``indicator`` and with ``n`` = number of complete pairs:

        ==================  =======================================  ==============  ======
        ``statistic``       ``estimate`` (``ci_low``, ``ci_high``)    ``method``      p
        ==================  =======================================  ==============  ======
        ``mean_pre``        mean at ``pre`` of the paired units (t)  ``t``           --
        ``mean_post``       mean at ``post`` of the paired units (t) ``t``           --
        ``mean_change``     mean of ``post - pre`` (t, n - 1 df)     ``paired_t``    yes
        ``effect_size_dz``  Cohen's d_z (approximate, see Notes)     ``cohen_dz``    --
        ==================  =======================================  ==============  ======

        The waves themselves are not in the table: the statistic names say which end of the
        comparison a row is, and the plan entry (``question``) says which waves were compared.
        With fewer than 2 pairs in a group its estimates are missing and ``note`` says why;
        when every difference is the same, ``mean_change`` has no interval or p-value and
        ``effect_size_dz`` is missing.

    Raises
    ------
    AnalysisError
        If a named column is not in ``data``, ``value`` is not numeric, a unit has two rows
        for one wave, ``by`` differs between a unit's two waves, ``pre`` or ``post`` is not a
        value of ``wave``, ``pre == post``, or ``conf_level`` is outside (0, 1).

    Notes
    -----
    Only units with a non-missing value at both waves are kept (complete pairs). With
    differences :math:`d_i = post_i - pre_i`, :math:`\\bar d`, :math:`s_d` and :math:`n` pairs:

    - mean change :math:`\\bar d \\pm t_{1-\\alpha/2,\\,n-1}\\, s_d/\\sqrt n`; the p-value is the
      two-sided paired t-test from ``pingouin.ttest(post, pre, paired=True)``, which calls
      ``scipy.stats.ttest_rel`` and matches R's ``t.test(post, pre, paired = TRUE)``;
    - pre and post means: the same t interval on each wave's values of the paired units;
    - :math:`d_z = \\bar d / s_d` (Cohen 1988, section 2.3.5; Lakens 2013), the standardised
      mean change on the scale of the differences. Its interval uses the large-sample
      standard error :math:`\\sqrt{1/n + d_z^2/(2n)}` with a :math:`t_{n-1}` critical value
      (Hedges & Olkin 1985), the approximation ``pingouin.compute_esci(paired=True)`` uses
      (the tests check the two agree); an exact interval would invert the noncentral t.

    Pingouin rounds its output when ``pingouin.options["round"]`` is set; leave it at its
    default (None) so p-values keep full precision.

    References
    ----------
    Cohen J (1988). Statistical Power Analysis for the Behavioral Sciences, 2nd ed.
    Lakens D (2013). Calculating and reporting effect sizes to facilitate cumulative science.
    Frontiers in Psychology 4:863. Hedges LV, Olkin I (1985). Statistical Methods for
    Meta-Analysis, p. 86.

    Examples
    --------
    >>> long = pd.DataFrame({
    ...     "woman": ["w1", "w1", "w2", "w2", "w3", "w3", "w4"],
    ...     "wave": ["baseline", "follow_up"] * 3 + ["baseline"],
    ...     "felt_safety": [2, 4, 3, 4, 1, 4, 5],
    ... })
    >>> res = paired_change(long, unit="woman", wave="wave", value="felt_safety",
    ...                     pre="baseline", post="follow_up", question="q08_safety")
    >>> res[["statistic", "n", "estimate"]].round(3)
            statistic  n  estimate
    0        mean_pre  3       2.0
    1       mean_post  3       4.0
    2     mean_change  3       2.0
    3  effect_size_dz  3       2.0
    """
    _check_frame(data)
    _check_conf_level(conf_level)
    _require_columns(data, [unit, wave, value, by])
    if not (is_numeric_dtype(data[value]) and not is_bool_dtype(data[value])):
        raise AnalysisError(
            f"score column {value!r} is not numeric (dtype {data[value].dtype})",
            field=value,
            fix="convert the score to numbers before analysing change",
        )
    if _same(pre, post):
        raise AnalysisError(
            f"pre and post are the same wave ({pre!r})", field=wave, fix="name two different waves"
        )
    for end in (pre, post):
        if not (data[wave] == end).any():
            raise AnalysisError(
                f"wave {end!r} does not occur in column {wave!r}",
                field=wave,
                fix=f"use one of {_preview(data[wave].dropna().unique())}",
            )

    pairs = _pair_up(data, unit=unit, wave=wave, value=value, pre=pre, post=post, by=by)
    name = indicator if indicator is not None else value

    rows: list[dict[str, Any]] = []
    rows += _paired_rows(pairs, breakdown="overall", group="all", conf_level=conf_level)
    if by is not None:
        all_levels = _sorted_levels(data[by])
        for level in all_levels:
            subset = pairs[pairs["by"] == level] if len(pairs) else pairs
            rows += _paired_rows(subset, breakdown=by, group=str(level), conf_level=conf_level)
    for row in rows:
        row["question"] = question
        row["indicator"] = name
    return result_frame(rows)


def _pair_up(
    data: pd.DataFrame, *, unit: str, wave: str, value: str, pre: Any, post: Any, by: str | None
) -> pd.DataFrame:
    """One row per complete pair: columns ``pre``, ``post`` and (if ``by``) ``by``."""
    columns = [unit, wave, value] + ([by] if by is not None else [])
    long = data.loc[data[wave].isin([pre, post]), columns]
    duplicated = long.duplicated(subset=[unit, wave], keep=False)
    if duplicated.any():
        first = long.loc[duplicated].iloc[0]
        raise AnalysisError(
            f"unit {first[unit]!r} has more than one row for wave {first[wave]!r}",
            field=unit,
            fix="keep one row per unit and wave",
        )
    at_pre = long.loc[long[wave] == pre].set_index(unit)
    at_post = long.loc[long[wave] == post].set_index(unit)
    both = at_pre.index.intersection(at_post.index, sort=False)
    pairs = pd.DataFrame(
        {
            "pre": at_pre.loc[both, value].astype("float64").to_numpy(na_value=np.nan),
            "post": at_post.loc[both, value].astype("float64").to_numpy(na_value=np.nan),
        },
        index=both,
    )
    if by is not None:
        by_pre = at_pre.loc[both, by]
        by_post = at_post.loc[both, by]
        differs = ~((by_pre == by_post).fillna(False) | (by_pre.isna() & by_post.isna()))
        if differs.any():
            culprit = differs[differs].index[0]
            raise AnalysisError(
                f"unit {culprit!r} has {by} {by_pre[culprit]!r} at {pre!r} but "
                f"{by_post[culprit]!r} at {post!r}",
                field=by,
                fix=f"make {by!r} constant within a unit",
            )
        pairs["by"] = by_pre.to_numpy()
    return pairs.loc[pairs["pre"].notna() & pairs["post"].notna()]


def _paired_rows(
    pairs: pd.DataFrame, *, breakdown: str, group: str, conf_level: float
) -> list[dict[str, Any]]:
    """The four result rows of one group of complete pairs."""
    n = len(pairs)
    rows = [
        {"breakdown": breakdown, "group": group, "statistic": s, "n": n, "method": m}
        for s, m in zip(PAIRED_CHANGE_STATISTICS, ("t", "t", "paired_t", "cohen_dz"), strict=True)
    ]
    if n < 2:
        for row in rows:
            row["note"] = _FEWER_THAN_TWO_PAIRS
        return rows

    pre = pairs["pre"].to_numpy(dtype=float)
    post = pairs["post"].to_numpy(dtype=float)
    diff = post - pre
    for row, values in zip(rows[:3], (pre, post, diff), strict=True):
        row["estimate"], row["ci_low"], row["ci_high"] = _t_interval(values, conf_level)

    sd = float(np.std(diff, ddof=1))
    if sd == 0.0:
        # Every woman changed by the same amount: no sampling variation to test against.
        rows[2]["ci_low"] = rows[2]["ci_high"] = np.nan
        rows[2]["note"] = rows[3]["note"] = "no variation in the differences: no test"
        return rows

    rows[2]["p_value"] = _paired_t_p(post, pre)
    dz = float(np.mean(diff)) / sd
    se = np.sqrt(1.0 / n + dz**2 / (2.0 * n))
    crit = stats.t.ppf(1 - (1 - conf_level) / 2, n - 1)
    rows[3].update(estimate=dz, ci_low=dz - crit * se, ci_high=dz + crit * se)
    return rows


def _paired_t_p(post: np.ndarray, pre: np.ndarray) -> float:
    """Two-sided p-value of the paired t-test, from pingouin."""
    # Imported here: pingouin takes about two seconds to import and only this test needs it.
    import pingouin

    result = pingouin.ttest(post, pre, paired=True)
    return float(result["p_val"].iloc[0])


def _t_interval(values: np.ndarray, conf_level: float) -> tuple[float, float, float]:
    """Mean and its t interval (n - 1 degrees of freedom); needs at least 2 values."""
    n = values.size
    mean = float(np.mean(values))
    half = stats.t.ppf(1 - (1 - conf_level) / 2, n - 1) * np.std(values, ddof=1) / np.sqrt(n)
    return mean, mean - half, mean + half


# --------------------------------------------------------------------------------------------
# Input checks
# --------------------------------------------------------------------------------------------


def _check_frame(data: Any) -> None:
    if not isinstance(data, pd.DataFrame):
        raise AnalysisError(
            f"expected a pandas DataFrame, got {type(data).__name__}",
            fix="pass the tidy analysis dataset as a DataFrame",
        )


def _check_conf_level(conf_level: Any) -> None:
    if not isinstance(conf_level, numbers.Real) or not 0 < float(conf_level) < 1:
        raise AnalysisError(
            f"conf_level must be a number strictly between 0 and 1, got {conf_level!r}",
            field="conf_level",
            fix="use e.g. 0.95",
        )


def _require_columns(data: pd.DataFrame, columns: Sequence[str | None]) -> None:
    for column in columns:
        if column is not None and column not in data.columns:
            raise AnalysisError(
                f"column {column!r} is not in the data",
                field=str(column),
                fix=f"use one of {_preview(list(data.columns))}",
            )


def _check_unique(data: pd.DataFrame, columns: list[str]) -> None:
    duplicated = data.duplicated(subset=columns, keep=False)
    if duplicated.any():
        first = data.loc[duplicated, columns[0]].iloc[0]
        raise AnalysisError(
            f"unit {first!r} appears in more than one row",
            field=columns[0],
            fix="pass one row per unit",
        )


def _indicator_map(indicators: Mapping[str, str] | Sequence[str]) -> dict[str, str]:
    if isinstance(indicators, str):
        indicators = [indicators]
    mapping = (
        dict(indicators) if isinstance(indicators, Mapping) else {c: c for c in indicators}
    )
    if not mapping:
        raise AnalysisError("no indicators given", field="indicators", fix="name at least one")
    return mapping


def _binary(data: pd.DataFrame, column: str, *, role: str) -> pd.Series:
    """The column as float 0.0/1.0/NaN, or an AnalysisError naming a bad value."""
    series = data[column]
    if is_bool_dtype(series.dtype) or is_numeric_dtype(series.dtype):
        values = series.astype("Float64")
        bad = values[values.notna() & ~values.isin([0.0, 1.0])]
        bad_value = None if bad.empty else series.loc[bad.index[0]]
    else:
        present = series[series.notna()]
        bad_mask = ~present.map(_is_zero_one).astype(bool)
        bad_value = present[bad_mask].iloc[0] if bad_mask.any() else None
        values = present[~bad_mask].astype("Float64").reindex(series.index)
    if bad_value is not None:
        raise AnalysisError(
            f"{role} column {column!r} holds {bad_value!r}; it must be 0, 1 or missing",
            field=column,
            fix="recode it to 0/1, with missing where the answer is not known",
        )
    return values.astype("float64").fillna(np.nan)


def _is_zero_one(value: Any) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return True
    return isinstance(value, numbers.Real) and value in (0, 1)


def _sorted_levels(series: pd.Series) -> list[Hashable]:
    levels = list(series.dropna().unique())
    try:
        return sorted(levels)
    except TypeError:
        return sorted(levels, key=str)


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False


def _preview(values: Sequence[Any], limit: int = 8) -> str:
    shown = [repr(v) for v in list(values)[:limit]]
    more = ", ..." if len(values) > limit else ""
    return ", ".join(shown) + more
