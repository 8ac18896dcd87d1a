"""Reliability and structure of a scale's items: alpha, omega, item statistics, one-factor CFA.

Every statistic is computed on complete cases (respondents who answered every item of the
scale), so a scale's alpha, omega, floor and ceiling and its item statistics all describe
the same respondents. Where a statistic is undefined for the data (too few complete cases,
an item or total that does not vary), it is missing and the ``note`` column says why.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd

from pceval.errors import AnalysisError, DataError
from pceval.instrument.model import Instrument
from pceval.score.scales import item_bounds, reverse_key

Bound = float | Mapping[str, float] | Sequence[float]

MIN_COMPLETE = 3
"""Fewest complete cases for which alpha is estimated."""

_GRADIENT_TOLERANCE = 1e-3
_HEYWOOD_UNIQUENESS = 1e-3

RELIABILITY_COLUMNS = ["scale", "n", "k", "alpha", "alpha_ci_low", "alpha_ci_high", "omega",
                       "floor", "ceiling", "note"]
ITEM_COLUMNS = ["item", "n", "mean", "sd", "item_total_r", "alpha_if_deleted", "floor",
                "ceiling"]


def reliability(
    items: pd.DataFrame,
    *,
    scale: str | None = None,
    low: Bound | None = None,
    high: Bound | None = None,
    ci: float = 0.95,
) -> pd.DataFrame:
    """Internal consistency of one scale: Cronbach's alpha, McDonald's omega, floor, ceiling.

    Parameters
    ----------
    items : DataFrame
        One numeric column per item (reverse-keyed items already reversed), one row per
        respondent; missing answers allowed.
    scale : str, optional
        Label written in the ``scale`` column.
    low, high : float, mapping or sequence, optional
        Lowest and highest valid value of each item: one number for all items, a mapping
        from item to bound, or one bound per column. Needed for ``floor`` and ``ceiling``.
    ci : float
        Coverage of alpha's confidence interval.

    Returns
    -------
    DataFrame
        One row with columns ``scale``, ``n`` (complete cases), ``k`` (items), ``alpha``,
        ``alpha_ci_low``, ``alpha_ci_high``, ``omega``, ``floor`` and ``ceiling`` (shares of
        complete cases at the lowest and highest possible total) and ``note``: ``<NA>``, or
        why a statistic is missing or needs care, among "no complete cases", "alpha needs
        at least 2 items", "alpha needs at least 3 complete cases", "total score does not
        vary", "omega needs at least 3 items", "omega needs more complete cases than
        items", "item ... does not vary", "one-factor model did not converge", "Heywood
        case in the one-factor model ..." (omega is still given) and "floor and ceiling
        need item bounds", joined by "; ".

    Raises
    ------
    DataError
        An item is not numeric or holds a value outside its bounds, or ``ci`` is not
        between 0 and 1.
    AnalysisError
        ``items`` has no columns.

    Notes
    -----
    Alpha is :func:`pingouin.cronbach_alpha` on complete cases, with Feldt's interval
    :math:`1 - (1-\\alpha) F_{1-\\gamma/2}` to :math:`1 - (1-\\alpha) F_{\\gamma/2}` on
    :math:`(n-1, (n-1)(k-1))` degrees of freedom (Feldt, Woodruff & Salih, 1987), computed
    here because pingouin rounds it to three decimals. Alpha needs two items, at least
    ``MIN_COMPLETE`` complete cases and a total score that varies.

    Omega total is :math:`(\\sum \\lambda)^2 / ((\\sum \\lambda)^2 + \\sum \\psi)` with
    :math:`\\lambda` the standardised loadings and :math:`\\psi` the uniquenesses of a
    one-factor maximum-likelihood factor analysis of the items' correlation matrix
    (:class:`statsmodels.multivariate.factor.Factor`); McDonald (1999), *Test Theory: A
    Unified Treatment*, ch. 6. It needs three items that vary, more complete cases than items,
    and a fit that converges. The fit starts from the first principal component, so it is
    deterministic; a maximum on the boundary (an item with zero uniqueness, a Heywood case)
    is accepted and flagged in ``note``.

    Examples
    --------
    >>> answers = pd.DataFrame({"q1": [1, 2, 4, 5, 3, 1], "q2": [2, 2, 5, 5, 3, 1],
    ...                         "q3": [1, 3, 4, 4, 2, 1]})
    >>> row = reliability(answers, scale="demo", low=1, high=5)
    >>> row[["scale", "n", "k", "alpha", "omega", "floor", "ceiling"]].round(3)
      scale  n  k  alpha  omega  floor  ceiling
    0  demo  6  3  0.963  0.966  0.167      0.0
    """
    _check_ci(ci)
    values = _numeric(items)
    lows, highs = _bounds(values, low, "low"), _bounds(values, high, "high")
    _check_range(values, lows, highs)
    complete = values.dropna()
    n, k = len(complete), values.shape[1]
    notes: list[str] = []
    if n == 0:
        notes.append("no complete cases")
    alpha, alpha_low, alpha_high = _alpha(complete, ci, notes)
    omega = _omega(complete, notes)
    if n == 0:
        floor = ceiling = np.nan
    elif lows is None or highs is None:
        floor = ceiling = np.nan
        notes.append("floor and ceiling need item bounds")
    else:
        floor = float(complete.eq(lows).all(axis=1).mean())
        ceiling = float(complete.eq(highs).all(axis=1).mean())
    row = {"scale": scale, "n": n, "k": k, "alpha": alpha, "alpha_ci_low": alpha_low,
           "alpha_ci_high": alpha_high, "omega": omega, "floor": floor, "ceiling": ceiling,
           "note": "; ".join(dict.fromkeys(notes)) or None}
    out = pd.DataFrame([row], columns=RELIABILITY_COLUMNS)
    return out.astype({"scale": "string", "n": "int64", "k": "int64", "note": "string"})


def item_statistics(items: pd.DataFrame, *, low: Bound, high: Bound) -> pd.DataFrame:
    """Per-item statistics of a scale: mean, sd, corrected item-total r, alpha if deleted.

    Parameters
    ----------
    items : DataFrame
        One numeric column per item (reverse-keyed items already reversed).
    low, high : float, mapping or sequence
        Lowest and highest valid value of each item (see :func:`reliability`).

    Returns
    -------
    DataFrame
        One row per item with columns ``item``, ``n`` (complete cases of the scale),
        ``mean``, ``sd``, ``item_total_r`` (correlation of the item with the sum of the other
        items), ``alpha_if_deleted`` (alpha of the other items; missing when fewer than two
        remain), ``floor`` and ``ceiling`` (shares of complete cases at the item's bounds).
        Statistics that are undefined (an item or rest score that does not vary, fewer than
        ``MIN_COMPLETE`` complete cases for alpha) are missing.

    Raises
    ------
    DataError
        An item is not numeric or holds a value outside its bounds.

    Examples
    --------
    >>> answers = pd.DataFrame({"q1": [1, 2, 4, 5, 3, 1], "q2": [2, 2, 5, 5, 3, 1],
    ...                         "q3": [1, 3, 4, 4, 2, 1]})
    >>> item_statistics(answers, low=1, high=5).round(3)
      item  n   mean     sd  item_total_r  alpha_if_deleted  floor  ceiling
    0   q1  6  2.667  1.633         0.955             0.920  0.333    0.167
    1   q2  6  3.000  1.673         0.939             0.934  0.167    0.333
    2   q3  6  2.500  1.378         0.889             0.975  0.333    0.000
    """
    values = _numeric(items)
    lows, highs = _bounds(values, low, "low"), _bounds(values, high, "high")
    _check_range(values, lows, highs)
    complete = values.dropna()
    n = len(complete)
    total = complete.sum(axis=1)
    rows = []
    for item in complete.columns:
        own = complete[item]
        rest = total - own
        r = (float(np.corrcoef(own, rest)[0, 1])
             if n >= 2 and own.std() > 0 and rest.std() > 0 else np.nan)
        others = complete.drop(columns=item)
        alpha_without = _alpha(others, 0.95, [])[0] if others.shape[1] >= 2 else np.nan
        rows.append({
            "item": item, "n": n,
            "mean": float(own.mean()) if n else np.nan,
            "sd": float(own.std()) if n >= 2 else np.nan,
            "item_total_r": r, "alpha_if_deleted": alpha_without,
            "floor": float(own.eq(lows[item]).mean()) if n else np.nan,
            "ceiling": float(own.eq(highs[item]).mean()) if n else np.nan,
        })
    out = pd.DataFrame(rows, columns=ITEM_COLUMNS)
    return out.astype({"item": "string", "n": "int64"})


@dataclass(frozen=True)
class OneFactorCfa:
    """A one-factor confirmatory factor analysis: loadings and fit.

    Attributes
    ----------
    loadings : DataFrame
        Columns ``item``, ``loading`` (standardised), ``estimate`` (unstandardised; the
        first item is the marker fixed at 1), ``se``, ``z`` and ``p_value`` (missing for
        the marker).
    fit : DataFrame
        Columns ``statistic`` and ``value``; rows ``n``, ``chi2``, ``df``, ``p_value``,
        ``cfi``, ``tli``, ``rmsea``.
    """

    loadings: pd.DataFrame
    fit: pd.DataFrame

    def fit_index(self, name: str) -> float:
        """One fit statistic by name (``cfi``, ``rmsea``, ...)."""
        return float(self.fit.set_index("statistic").at[name, "value"])


def cfa_one_factor(items: pd.DataFrame) -> OneFactorCfa:
    """Fit a one-factor confirmatory factor analysis to a scale's items (needs semopy).

    Parameters
    ----------
    items : DataFrame
        One numeric column per item (reverse-keyed items already reversed). Complete cases
        are used.

    Returns
    -------
    OneFactorCfa
        ``.loadings`` and ``.fit`` frames (see :class:`OneFactorCfa`).

    Raises
    ------
    AnalysisError
        semopy is not installed, there are fewer than three items, no more complete cases
        than items, or an item does not vary.
    DataError
        An item is not numeric.

    Notes
    -----
    Maximum likelihood (semopy's ``MLW`` objective) with the factor scaled by its first
    item. CFI is recomputed as :math:`1 - \\max(\\chi^2 - df, 0) / \\max(\\chi^2 - df,
    \\chi^2_0 - df_0, 0)` (Bentler, 1990), since semopy does not bound it at 1; TLI is
    left unbounded, as is usual. With three items the model is saturated (df = 0): its
    loadings are defined but CFI, TLI and RMSEA are not and are missing.

    Examples
    --------
    >>> rng = np.random.default_rng(3)
    >>> factor = rng.normal(size=400)
    >>> answers = pd.DataFrame({f"q{i}": factor + rng.normal(scale=0.7, size=400)
    ...                         for i in range(1, 5)})
    >>> result = cfa_one_factor(answers)
    >>> bool((result.loadings["loading"] > 0.7).all()), result.fit_index("cfi") > 0.95
    (True, True)
    """
    from scipy import stats

    try:
        import semopy
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise AnalysisError("a confirmatory factor analysis needs the semopy package",
                            fix='pip install "pceval[cfa]"') from error
    complete = _numeric(items).dropna()
    n, k = complete.shape
    if k < 3:
        raise AnalysisError(f"a one-factor CFA needs at least 3 items; got {k}")
    if n <= k:
        raise AnalysisError(f"a one-factor CFA needs more complete cases than items; got {n}")
    flat = complete.columns[complete.std().eq(0)]
    if len(flat):
        raise AnalysisError("item does not vary, so it cannot load on a factor", field=flat[0])
    # semopy's model syntax needs plain identifiers; item ids are mapped back afterwards
    names = {f"i{position}": item for position, item in enumerate(complete.columns)}
    data = complete.set_axis(list(names), axis=1)
    model = semopy.Model("F =~ " + " + ".join(names))
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        model.fit(data)
        estimates = model.inspect(std_est=True)
        fit = semopy.calc_stats(model).T["Value"]
    paths = estimates[(estimates["op"] == "~") & (estimates["rval"] == "F")]
    loadings = pd.DataFrame({
        "item": paths["lval"].map(names).to_numpy(),
        "loading": pd.to_numeric(paths["Est. Std"], errors="coerce").to_numpy(),
        "estimate": pd.to_numeric(paths["Estimate"], errors="coerce").to_numpy(),
        "se": pd.to_numeric(paths["Std. Err"], errors="coerce").to_numpy(),
        "z": pd.to_numeric(paths["z-value"], errors="coerce").to_numpy(),
        "p_value": pd.to_numeric(paths["p-value"], errors="coerce").to_numpy(),
    }).astype({"item": "string"})
    chi2, df = float(fit["chi2"]), float(fit["DoF"])
    chi2_base, df_base = float(fit["chi2 Baseline"]), float(fit["DoF Baseline"])
    if df > 0:
        worst = max(chi2 - df, chi2_base - df_base, 0.0)
        cfi = 1.0 - max(chi2 - df, 0.0) / worst if worst > 0 else 1.0
        tli, rmsea = float(fit["TLI"]), float(fit["RMSEA"])
        p_value = float(stats.chi2.sf(chi2, df))
    else:
        cfi = tli = rmsea = p_value = np.nan
    table = pd.DataFrame({
        "statistic": ["n", "chi2", "df", "p_value", "cfi", "tli", "rmsea"],
        "value": [float(n), chi2, df, p_value, cfi, tli, rmsea],
    }).astype({"statistic": "string"})
    return OneFactorCfa(loadings=loadings.reset_index(drop=True), fit=table)


class ScaleReliability(NamedTuple):
    """Reliability of every scale of an instrument: one row per scale (and group), and per item."""

    scales: pd.DataFrame
    items: pd.DataFrame


def scale_reliability(
    frame: pd.DataFrame,
    instrument: Instrument,
    *,
    by: Sequence[str] = ("_wave",),
    ci: float = 0.95,
) -> ScaleReliability:
    """Reliability and item statistics of every scale an instrument declares, per group.

    Parameters
    ----------
    frame : DataFrame
        Clean or scored data holding the scales' item columns.
    instrument : Instrument
        Declares the scales, their reverse-keyed items and the items' bounds.
    by : sequence of str
        Columns to group by (default the wave column ``_wave`` of pceval's clean data); an
        empty sequence pools all rows.
    ci : float
        Coverage of alpha's confidence interval.

    Returns
    -------
    ScaleReliability
        ``.scales``: ``scale``, one column per ``by`` column, then the columns of
        :func:`reliability` after ``scale``. ``.items``: ``scale``, the ``by`` columns, then
        the columns of :func:`item_statistics`. A ``by`` column is named without its leading
        underscore (``_wave`` becomes ``wave``). Rows follow the instrument's scale order,
        then the groups' sort order; a group with no complete case still has its row.

    Raises
    ------
    DataError
        A ``by`` column or an item column is missing from ``frame``.
    AnalysisError
        A scale item has no numeric bounds.

    Notes
    -----
    As in :func:`pceval.score.scales.score_scale`, an answer outside its item's range counts
    as missing; reverse-keyed items are reversed with
    :func:`pceval.score.scales.reverse_key` before anything is computed.

    Examples
    --------
    >>> from pceval.instrument import load_instrument
    >>> inst = load_instrument("womens_survey")
    >>> rng = np.random.default_rng(1)
    >>> answers = {}
    >>> for scale in inst.scales:
    ...     trait = rng.integers(1, 5, size=80)
    ...     for item in scale.items:
    ...         answer = trait + rng.integers(0, 2, size=80)
    ...         answers[item] = 6 - answer if item in scale.reverse else answer
    >>> data = pd.DataFrame({"_wave": ["baseline", "exit"] * 40, **answers})
    >>> tables = scale_reliability(data, inst)
    >>> tables.scales[["scale", "wave", "n", "k"]]
                  scale      wave   n  k
    0       felt_safety  baseline  40  4
    1       felt_safety      exit  40  4
    2  space_for_action  baseline  40  4
    3  space_for_action      exit  40  4
    4        experience  baseline  40  5
    5        experience      exit  40  5
    >>> bool((tables.scales["alpha"] > 0.8).all())
    True
    >>> tables.items.columns.tolist()[:4]
    ['scale', 'wave', 'item', 'n']
    """
    by = list(by)
    for column in by:
        if column not in frame.columns:
            raise DataError("grouping column is not in the data", field=column)
    renamed = {column: column.lstrip("_") or column for column in by}
    scale_parts, item_parts = [], []
    for scale in instrument.scales:
        columns = {}
        lows, highs = {}, {}
        for item_id in scale.items:
            if item_id not in frame.columns:
                raise DataError("item column is not in the data", field=item_id,
                                fix=f"give the data the items of scale {scale.id}")
            low, high = item_bounds(instrument, instrument.item(item_id))
            values = pd.to_numeric(frame[item_id], errors="coerce").astype("Float64")
            values = values.where((values >= low) & (values <= high))
            if item_id in scale.reverse:
                values = reverse_key(values, low, high)
            columns[item_id] = values.astype(float)
            lows[item_id], highs[item_id] = low, high
        items = pd.DataFrame(columns, index=frame.index)
        groups = (items.groupby([frame[c] for c in by], dropna=False, sort=True) if by
                  else [((), items)])
        for key, part in groups:
            key = key if isinstance(key, tuple) else (key,)
            labels = dict(zip([renamed[c] for c in by], key, strict=True))
            row = reliability(part, scale=scale.id, low=lows, high=highs, ci=ci)
            scale_parts.append(row.assign(**labels))
            stats_ = item_statistics(part, low=lows, high=highs)
            item_parts.append(stats_.assign(scale=scale.id, **labels))
    group_columns = [renamed[c] for c in by]
    scales_out = _stack(scale_parts, ["scale", *group_columns, *RELIABILITY_COLUMNS[1:]])
    items_out = _stack(item_parts, ["scale", *group_columns, *ITEM_COLUMNS])
    return ScaleReliability(scales=scales_out, items=items_out)


def _stack(parts: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    if not parts:
        return pd.DataFrame(columns=columns)
    out = pd.concat(parts, ignore_index=True)[columns]
    return out.astype({"scale": "string"})


def _check_ci(ci: float) -> None:
    if not 0 < ci < 1:
        raise DataError(f"confidence level must lie between 0 and 1; got {ci!r}", field="ci")


def _numeric(items: pd.DataFrame) -> pd.DataFrame:
    if items.shape[1] == 0:
        raise AnalysisError("a scale needs at least one item column")
    out = {}
    for column in items.columns:
        values = pd.to_numeric(items[column], errors="coerce")
        stray = items[column].notna() & values.isna()
        if stray.any():
            bad = items.loc[stray, column].iloc[0]
            raise DataError(f"item values must be numeric; got {bad!r}", field=str(column))
        out[column] = values.astype(float)
    return pd.DataFrame(out, index=items.index)


def _bounds(items: pd.DataFrame, bound: Bound | None, name: str) -> pd.Series | None:
    if bound is None:
        return None
    if isinstance(bound, Mapping):
        missing = [c for c in items.columns if c not in bound]
        if missing:
            raise DataError(f"no {name} bound given for the item", field=str(missing[0]))
        return pd.Series({c: float(bound[c]) for c in items.columns})
    if isinstance(bound, Sequence) and not isinstance(bound, str):
        if len(bound) != items.shape[1]:
            raise DataError(f"{len(bound)} {name} bounds given for {items.shape[1]} items",
                            field=name)
        return pd.Series([float(b) for b in bound], index=items.columns)
    return pd.Series(float(bound), index=items.columns)


def _check_range(items: pd.DataFrame, lows: pd.Series | None, highs: pd.Series | None) -> None:
    outside = pd.DataFrame(False, index=items.index, columns=items.columns)
    if lows is not None:
        outside |= items.lt(lows)
    if highs is not None:
        outside |= items.gt(highs)
    flagged = outside.any()
    if flagged.any():
        item = flagged.idxmax()
        value = items.loc[outside[item], item].iloc[0]
        raise DataError(f"value {value:g} lies outside the item's bounds", field=str(item),
                        fix="remove missing-value codes and check the bounds given")


def _alpha(complete: pd.DataFrame, ci: float, notes: list[str]) -> tuple[float, float, float]:
    # loaded on first use: with matplotlib, which pingouin brings, they take a second or more
    # to import, which a build pays only where it computes reliability
    import pingouin
    from scipy import stats

    n, k = complete.shape
    missing = (np.nan, np.nan, np.nan)
    if k < 2:
        notes.append("alpha needs at least 2 items")
        return missing
    if n < MIN_COMPLETE:
        if n:
            notes.append(f"alpha needs at least {MIN_COMPLETE} complete cases")
        return missing
    if complete.sum(axis=1).var() == 0:
        notes.append("total score does not vary")
        return missing
    with warnings.catch_warnings():
        # pingouin still calls pandas APIs that newer pandas deprecates; nothing to act on here
        warnings.filterwarnings("ignore", category=DeprecationWarning, module="pingouin")
        warnings.filterwarnings("ignore", category=FutureWarning, module="pingouin")
        alpha = float(pingouin.cronbach_alpha(complete, nan_policy="listwise")[0])
    df1, df2 = n - 1, (n - 1) * (k - 1)
    tail = (1 - ci) / 2
    low = 1 - (1 - alpha) * stats.f.isf(tail, df1, df2)
    high = 1 - (1 - alpha) * stats.f.isf(1 - tail, df1, df2)
    return alpha, float(low), float(high)


def _omega(complete: pd.DataFrame, notes: list[str]) -> float:
    from statsmodels.multivariate.factor import Factor
    from statsmodels.tools.sm_exceptions import ConvergenceWarning, EstimationWarning

    n, k = complete.shape
    if k < 3:
        notes.append("omega needs at least 3 items")
        return np.nan
    if n <= k:
        if n:
            notes.append("omega needs more complete cases than items")
        return np.nan
    flat = complete.columns[complete.std().eq(0)]
    if len(flat):
        notes.append(f"item {flat[0]} does not vary")
        return np.nan
    corr = complete.corr().to_numpy()
    # start from the first principal component: statsmodels would otherwise draw random
    # starting loadings, and the same data must always give the same omega
    eigenvalues, eigenvectors = np.linalg.eigh(corr)
    start = eigenvectors[:, -1] * np.sqrt(eigenvalues[-1])
    start = start * (1 if start.sum() >= 0 else -1)
    uniqueness = np.clip(1 - start**2, 0.05, 1)
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        # convergence and Heywood cases are judged below, not from statsmodels' warnings
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", EstimationWarning)
        try:
            result = Factor(corr=corr, n_factor=1, method="ml", nobs=n).fit(
                start=(start[:, None], uniqueness))
        except (np.linalg.LinAlgError, ValueError):
            result = None
    if result is None:
        notes.append("one-factor model did not converge")
        return np.nan
    # BFGS reports "precision loss" at a Heywood case (an item's uniqueness driven to zero,
    # where the likelihood has no stationary point); the fit has converged when the gradient
    # vanishes for the other items' parameters (packed as sqrt uniquenesses, then loadings)
    heywood = result.uniqueness < _HEYWOOD_UNIQUENESS
    gradient = np.abs(np.asarray(result.mle_retvals.jac)).reshape(2, k)
    if not result.mle_retvals.success and (gradient[:, ~heywood].max(initial=0.0)
                                           > _GRADIENT_TOLERANCE):
        notes.append("one-factor model did not converge")
        return np.nan
    if heywood.any():
        notes.append("Heywood case in the one-factor model (an item's uniqueness is zero)")
    loadings = result.loadings.ravel()
    common = loadings.sum() ** 2
    return float(common / (common + result.uniqueness.sum()))


__all__ = ["MIN_COMPLETE", "OneFactorCfa", "ScaleReliability", "cfa_one_factor",
           "item_statistics", "reliability", "scale_reliability"]
