"""Agreement between coders, and intraclass correlations between raters.

Both functions take long-format ratings (one row per unit and coder) and return a tidy frame
with one row per statistic, at full precision.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Literal, get_args

import numpy as np
import pandas as pd

from pceval.errors import AnalysisError, DataError

Level = Literal["nominal", "ordinal", "interval", "ratio"]
LEVELS: tuple[str, ...] = get_args(Level)

AGREEMENT_COLUMNS = ["statistic", "estimate", "ci_low", "ci_high", "n_units", "n_coders", "level"]
ICC_COLUMNS = ["statistic", "description", "estimate", "f", "df1", "df2", "p_value",
               "ci_low", "ci_high", "n_targets", "n_raters"]

# pingouin >= 0.6 labels the six forms after McGraw & Wong; older releases after Shrout & Fleiss
_ICC_NAMES = {
    "ICC(1,1)": "ICC1", "ICC(A,1)": "ICC2", "ICC(C,1)": "ICC3",
    "ICC(1,k)": "ICC1k", "ICC(A,k)": "ICC2k", "ICC(C,k)": "ICC3k",
    "ICC1": "ICC1", "ICC2": "ICC2", "ICC3": "ICC3",
    "ICC1k": "ICC1k", "ICC2k": "ICC2k", "ICC3k": "ICC3k",
}
_ICC_DESCRIPTIONS = {
    "ICC1": "single rater, one-way random",
    "ICC2": "single rater, two-way random, absolute agreement",
    "ICC3": "single rater, two-way mixed, consistency",
    "ICC1k": "mean of k raters, one-way random",
    "ICC2k": "mean of k raters, two-way random, absolute agreement",
    "ICC3k": "mean of k raters, two-way mixed, consistency",
}


def agreement(
    data: pd.DataFrame,
    *,
    unit: str,
    coder: str,
    value: str,
    level: Level = "nominal",
    ci: float = 0.95,
    n_boot: int = 1000,
    seed: int = 20110101,
) -> pd.DataFrame:
    """Agreement between coders who coded the same units.

    Parameters
    ----------
    data : DataFrame
        Long-format ratings: one row per unit and coder. A missing rating may be a row with a
        missing ``value`` or no row at all.
    unit, coder, value : str
        Columns holding the unit (the text segment, case or answer coded), the coder, and the
        code or rating given.
    level : {"nominal", "ordinal", "interval", "ratio"}
        Level of measurement of ``value``, used by Krippendorff's alpha. Levels other than
        nominal need numeric values.
    ci : float
        Coverage of the confidence intervals.
    n_boot : int
        Bootstrap resamples of units for the percentile intervals; 0 leaves those intervals
        missing.
    seed : int
        Seed of the bootstrap, so the same data always give the same intervals.

    Returns
    -------
    DataFrame
        One row per statistic that is defined for the data, with columns ``statistic``,
        ``estimate``, ``ci_low``, ``ci_high``, ``n_units`` (units the statistic rests on),
        ``n_coders`` (coders who rated any of those units) and ``level`` (the level at which
        the statistic treats the values: ``nominal`` for all but Krippendorff's alpha).
        Rows, in this order:

        ``percent_agreement``
            Share of agreeing pairs of ratings within a unit, averaged over the units with at
            least two ratings (values must match exactly, whatever ``level``).
        ``cohen_kappa``
            Unweighted, over units rated by both coders; only when there are exactly two
            coders. Interval from the asymptotic standard error, cut at -1 and 1.
        ``fleiss_kappa``
            Over the units every coder rated.
        ``krippendorff_alpha``
            At ``level``, over units with at least two ratings (missing ratings allowed).

        A statistic that is undefined for the data (no unit it could use, or a single value
        used throughout, so chance agreement is perfect) is left out rather than reported as
        missing.

    Raises
    ------
    DataError
        A column is absent, ``level`` or ``ci`` is not allowed, a unit has two ratings from
        the same coder, or values are not numeric at a level that needs numbers.

    Notes
    -----
    Percent agreement is :math:`\\bar P = \\frac1N \\sum_u \\sum_c n_{uc}(n_{uc}-1) /
    (m_u(m_u-1))`, where :math:`n_{uc}` is the number of coders giving unit :math:`u` value
    :math:`c` and :math:`m_u` its number of ratings; on complete data it is the
    :math:`\\bar P` of Fleiss' kappa.

    Cohen's kappa and its standard error come from
    :func:`statsmodels.stats.inter_rater.cohens_kappa` (Fleiss, Cohen & Everitt, 1969), Fleiss'
    kappa from :func:`statsmodels.stats.inter_rater.fleiss_kappa` (Fleiss, 1971) and
    Krippendorff's alpha from the ``krippendorff`` package, which reproduces the worked example
    of Krippendorff (2011), "Computing Krippendorff's alpha-reliability".

    Intervals for percent agreement, Fleiss' kappa and Krippendorff's alpha are percentile
    bootstrap intervals over units (Zapf et al., 2016, BMC Medical Research Methodology 16:93).

    Examples
    --------
    >>> ratings = pd.DataFrame({
    ...     "unit": [1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6],
    ...     "coder": ["a", "b"] * 5 + ["a"],
    ...     "code": ["x", "x", "y", "y", "x", "y", "z", "z", "y", "y", "x"],
    ... })
    >>> table = agreement(ratings, unit="unit", coder="coder", value="code", n_boot=0)
    >>> table[["statistic", "estimate", "n_units"]].round(3)
                statistic  estimate  n_units
    0   percent_agreement     0.800        5
    1         cohen_kappa     0.688        5
    2        fleiss_kappa     0.677        5
    3  krippendorff_alpha     0.710        5
    """
    # the statistics libraries load on first use, not when a build imports the coding workflow
    import krippendorff
    from scipy import stats
    from statsmodels.stats.inter_rater import cohens_kappa, fleiss_kappa

    _require_columns(data, [unit, coder, value])
    if level not in LEVELS:
        raise DataError(f"unknown level of measurement {level!r}; use one of {', '.join(LEVELS)}",
                        field="level")
    _check_ci(ci)
    _reject_duplicates(data, unit=unit, coder=coder)

    wide = data.pivot(index=unit, columns=coder, values=value)
    if level != "nominal":
        numbers = wide.apply(pd.to_numeric, errors="coerce")
        stray = wide.notna() & numbers.isna()
        if stray.to_numpy().any():
            bad = wide.to_numpy()[stray.to_numpy()][0]
            raise DataError(f"{level} agreement needs numeric ratings; got {_label(bad)}",
                            field=value)
        wide = numbers.astype(float)
    # coders and units without a single rating take no part in any statistic
    wide = wide.loc[wide.notna().any(axis=1), wide.notna().any(axis=0)]
    values = wide.stack().dropna()
    categories = np.sort(values.unique())
    codes = values.map({c: i for i, c in enumerate(categories)})
    # units x categories counts: every statistic below is a function of these rows, so a
    # bootstrap resamples rows of one small integer matrix
    counts = (pd.crosstab(codes.index.get_level_values(0), codes.to_numpy())
              .reindex(index=wide.index, columns=range(len(categories)), fill_value=0)
              .to_numpy())
    ratings_per_unit = counts.sum(axis=1)
    coders_of = wide.notna().to_numpy()
    rng = np.random.default_rng(seed)
    rows = []

    pairable = ratings_per_unit >= 2
    if pairable.any():
        estimate = _percent_agreement(counts[pairable])
        low, high = _bootstrap(_percent_agreement, counts[pairable], n_boot, ci, rng)
        rows.append(("percent_agreement", estimate, low, high, int(pairable.sum()),
                     int(coders_of[pairable].any(axis=0).sum()), "nominal"))

    if wide.shape[1] == 2:
        both = wide.dropna()
        if len(both) and both.stack().nunique() > 1:
            table = pd.crosstab(both.iloc[:, 0], both.iloc[:, 1])
            table = table.reindex(index=categories, columns=categories, fill_value=0)
            # cohens_kappa divides by zero when chance agreement is perfect (excluded above) and,
            # in its standard error, when one coder never uses a category: kappa stands, its
            # interval is then not given
            with np.errstate(divide="ignore", invalid="ignore"):
                result = cohens_kappa(table.to_numpy(), return_results=True)
            z = stats.norm.ppf(0.5 + ci / 2)
            std = float(result.std_kappa)
            low, high = ((max(-1.0, float(result.kappa) - z * std), min(1.0, float(result.kappa) + z * std))
                         if np.isfinite(std) else (np.nan, np.nan))
            # a Wald interval can run past kappa's range in small samples; it is cut at +-1
            rows.append(("cohen_kappa", float(result.kappa), low, high, len(both), 2, "nominal"))

    complete = coders_of.all(axis=1) & (coders_of.shape[1] >= 2)
    if complete.any() and np.count_nonzero(counts[complete].sum(axis=0)) > 1:
        def fleiss(rows_: np.ndarray) -> float:
            return float(fleiss_kappa(rows_, method="fleiss"))

        estimate = fleiss(counts[complete])
        low, high = _bootstrap(fleiss, counts[complete], n_boot, ci, rng)
        rows.append(("fleiss_kappa", estimate, low, high, int(complete.sum()),
                     int(coders_of.shape[1]), "nominal"))

    if pairable.any() and np.count_nonzero(counts[pairable].sum(axis=0)) > 1:
        domain = categories if level != "nominal" else np.arange(len(categories))

        def alpha(rows_: np.ndarray) -> float:
            return float(krippendorff.alpha(value_counts=rows_, value_domain=domain,
                                            level_of_measurement=level))

        estimate = alpha(counts[pairable])
        low, high = _bootstrap(alpha, counts[pairable], n_boot, ci, rng)
        rows.append(("krippendorff_alpha", estimate, low, high, int(pairable.sum()),
                     int(coders_of[pairable].any(axis=0).sum()), level))

    out = pd.DataFrame(rows, columns=AGREEMENT_COLUMNS)
    return out.astype({"estimate": float, "ci_low": float, "ci_high": float,
                       "n_units": "int64", "n_coders": "int64"})


def icc(data: pd.DataFrame, *, target: str, rater: str, value: str) -> pd.DataFrame:
    """Intraclass correlations of Shrout & Fleiss (1979), with 95% intervals.

    Parameters
    ----------
    data : DataFrame
        Long-format ratings: one row per target and rater, numeric ``value``.
    target, rater, value : str
        Columns holding the rated target, the rater, and the rating.

    Returns
    -------
    DataFrame
        Rows ``ICC1``, ``ICC2``, ``ICC3``, ``ICC1k``, ``ICC2k``, ``ICC3k`` with columns
        ``statistic``, ``description``, ``estimate``, ``f`` (the F statistic testing
        ICC = 0), ``df1``, ``df2``, ``p_value``, ``ci_low``, ``ci_high`` (95%), ``n_targets``
        and ``n_raters`` (those used).

    Raises
    ------
    DataError
        A column is absent, a target has two ratings from one rater, or ratings are not
        numeric.
    AnalysisError
        Fewer than two targets rated by every rater, fewer than two raters, or ratings that
        do not vary.

    Notes
    -----
    Computed by :func:`pingouin.intraclass_corr` from a two-way ANOVA, which needs every
    target rated by every rater: targets missing a rating are left out (``n_targets`` says
    how many remain). With :math:`BMS, WMS, JMS, EMS` the between-targets, within-target,
    between-raters and residual mean squares, :math:`k` raters and :math:`n` targets,
    ICC1 = (BMS - WMS) / (BMS + (k-1) WMS), ICC2 = (BMS - EMS) / (BMS + (k-1) EMS +
    k (JMS - EMS) / n), ICC3 = (BMS - EMS) / (BMS + (k-1) EMS), and the ``k`` forms are the
    reliabilities of the mean of the k raters. pingouin checks them against R's
    ``psych::ICC``; the tests reproduce Shrout & Fleiss's Table 4.

    Examples
    --------
    >>> judges = [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9],
    ...           [6, 2, 4, 7]]
    >>> long = pd.DataFrame([(t, j, judges[t][j]) for t in range(6) for j in range(4)],
    ...                     columns=["target", "judge", "rating"])
    >>> table = icc(long, target="target", rater="judge", value="rating")
    >>> table.set_index("statistic")["estimate"].round(2).to_dict()
    {'ICC1': 0.17, 'ICC2': 0.29, 'ICC3': 0.71, 'ICC1k': 0.44, 'ICC2k': 0.62, 'ICC3k': 0.91}
    """
    import pingouin

    _require_columns(data, [target, rater, value])
    _reject_duplicates(data, unit=target, coder=rater)
    ratings = pd.to_numeric(data[value], errors="coerce")
    stray = data[value].notna() & ratings.isna()
    if stray.any():
        raise DataError(f"ratings must be numeric; got {_label(data.loc[stray, value].iloc[0])}",
                        field=value)
    long = pd.DataFrame({"target": data[target], "rater": data[rater],
                         "rating": ratings.astype(float)}).dropna(subset=["rating"])
    wide = long.pivot(index="target", columns="rater", values="rating").dropna()
    if wide.shape[1] < 2:
        raise AnalysisError("intraclass correlation needs at least two raters", field=rater)
    if wide.shape[0] < 2:
        raise AnalysisError("intraclass correlation needs at least two targets rated by "
                            "every rater", field=target)
    if np.ptp(wide.to_numpy()) == 0:
        raise AnalysisError("ratings do not vary, so intraclass correlation is undefined",
                            field=value)
    complete = wide.stack().rename("rating").reset_index()
    with _pingouin_full_precision(), warnings.catch_warnings():
        # pingouin still calls pandas APIs that newer pandas deprecates; nothing to act on here
        warnings.filterwarnings("ignore", category=DeprecationWarning, module="pingouin")
        warnings.filterwarnings("ignore", category=FutureWarning, module="pingouin")
        result = pingouin.intraclass_corr(complete, targets="target", raters="rater",
                                          ratings="rating")
    names = result["Type"].map(_ICC_NAMES)
    bounds = np.vstack(result["CI95"].to_numpy()).astype(float)
    out = pd.DataFrame({
        "statistic": names.to_numpy(),
        "description": names.map(_ICC_DESCRIPTIONS).to_numpy(),
        "estimate": result["ICC"].to_numpy(dtype=float),
        "f": result["F"].to_numpy(dtype=float),
        "df1": result["df1"].to_numpy(dtype="int64"),
        "df2": result["df2"].to_numpy(dtype="int64"),
        "p_value": result["pval" if "pval" in result else "p-val"].to_numpy(dtype=float),
        "ci_low": bounds[:, 0],
        "ci_high": bounds[:, 1],
        "n_targets": wide.shape[0],
        "n_raters": wide.shape[1],
    })
    return out[ICC_COLUMNS]


def _require_columns(data: pd.DataFrame, columns: list[str]) -> None:
    for column in columns:
        if column not in data.columns:
            raise DataError(f"column {column!r} is not in the ratings", field=column)


def _check_ci(ci: float) -> None:
    if not 0 < ci < 1:
        raise DataError(f"confidence level must lie between 0 and 1; got {ci!r}", field="ci")


def _reject_duplicates(data: pd.DataFrame, *, unit: str, coder: str) -> None:
    repeated = data.duplicated(subset=[unit, coder], keep=False)
    if repeated.any():
        first = data.loc[repeated, [unit, coder]].iloc[0]
        raise DataError(f"unit {_label(first[unit])} has more than one rating from coder "
                        f"{_label(first[coder])}", field=coder,
                        fix="keep one rating per unit and coder")


def _label(value: object) -> str:
    # quote text, but show numbers as a user typed them (not numpy's np.int64(4))
    return repr(value) if isinstance(value, str) else str(value)


def _percent_agreement(counts: np.ndarray) -> float:
    m = counts.sum(axis=1)
    return float(np.mean((counts * (counts - 1)).sum(axis=1) / (m * (m - 1))))


def _bootstrap(statistic: Callable[[np.ndarray], float], counts: np.ndarray, n_boot: int,
               ci: float, rng: np.random.Generator) -> tuple[float, float]:
    if n_boot <= 0:
        return float("nan"), float("nan")
    draws = np.empty(n_boot)
    n = counts.shape[0]
    # a resample may use a single value throughout, where a kappa or alpha divides by zero;
    # such draws are undefined and left out of the percentiles
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        for b in range(n_boot):
            draws[b] = statistic(counts[rng.integers(0, n, size=n)])
    draws = draws[np.isfinite(draws)]
    if draws.size == 0:
        return float("nan"), float("nan")
    tail = (1 - ci) / 2
    low, high = np.quantile(draws, [tail, 1 - tail])
    return float(low), float(high)


@contextmanager
def _pingouin_full_precision() -> Iterator[None]:
    # pingouin rounds its CI95 column to two decimals through its global options; results
    # keep full precision, so lift the rounding for the call and restore the user's options
    import pingouin

    saved = dict(pingouin.options)
    try:
        for key in [k for k in pingouin.options if str(k).startswith("round.")]:
            del pingouin.options[key]
        pingouin.options["round"] = None
        yield
    finally:
        pingouin.options.clear()
        pingouin.options.update(saved)


__all__ = ["LEVELS", "Level", "agreement", "icc"]
