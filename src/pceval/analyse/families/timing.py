"""Time, effort and rates: how long, how many attempts, how much, how often.

The methods of the evaluation questions about effort (Q2), timeliness (Q3), continuity and dose
(Q4) and safety incidents (Q13):

- ``time_to_event``: Kaplan–Meier estimate of the time from a start date to an event date,
  censored where the event has not (yet) happened: the median with its interval, the share with
  the event by each horizon, and a log-rank test between the groups of each breakdown;
- ``summary``: the distribution of a numeric per-woman column (mean, median with a
  distribution-free interval, quartiles; never the extremes, which identify);
- ``attempt_curve``: for attempt number k, the share of k-th attempts that reached a woman not
  reached before, and the cumulative share reached by attempt k;
- ``rate``: events per 100 units of exposure with an exact Poisson interval.

The statistical building blocks (:func:`kaplan_meier`, :func:`logrank_test`,
:func:`median_interval`, :func:`garwood_interval`, :func:`attempt_sequences`) are plain
functions, tested against published examples; the registered methods apply them overall and per
breakdown. Disclosure control is not applied here (:mod:`pceval.analyse.run` does it once).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Hashable, Iterator, Sequence
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from pandas.api.types import (
    is_bool_dtype,
    is_datetime64_any_dtype,
    is_numeric_dtype,
    is_timedelta64_dtype,
)
from pydantic import Field, field_validator
from scipy import stats

from pceval.analyse.methods import wilson_interval
from pceval.analyse.registry import Context, Params, register
from pceval.analyse.units import columns_read, person_date_order
from pceval.errors import AnalysisError
from pceval.instrument.expressions import ExpressionError, parse_expression
from pceval.instrument.model import Role
from pceval.privacy.deidentify import PERSON_KEY
from pceval.results import result_frame

__all__ = [
    "attempt_sequences",
    "garwood_interval",
    "kaplan_meier",
    "logrank_test",
    "median_interval",
]

_Name = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
_CONF = 0.95
_Z = float(stats.norm.ppf(1 - (1 - _CONF) / 2))
_LOGRANK_GROUP = "between groups"


# --------------------------------------------------------------------------------------------
# Kaplan–Meier
# --------------------------------------------------------------------------------------------


def _survfunc(time: np.ndarray, event: np.ndarray):
    """statsmodels' product-limit fit, with its harmless log(0) warnings at S = 0 or 1 kept quiet."""
    from statsmodels.duration.survfunc import SurvfuncRight

    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        return SurvfuncRight(time, event)


def _survival_interval(s: float, se: float, conf_type: str) -> tuple[float, float]:
    """Pointwise interval for S(t) from its Greenwood standard error."""
    if not (0.0 < s < 1.0) or not se > 0.0:
        return math.nan, math.nan
    if conf_type == "log":
        half = _Z * se / s
        return max(s * math.exp(-half), 0.0), min(s * math.exp(half), 1.0)
    # log-log (Kalbfleisch & Prentice): the interval of log(-log S) mapped back stays in (0, 1)
    se_theta = se / (s * abs(math.log(s)))
    return s ** math.exp(_Z * se_theta), s ** math.exp(-_Z * se_theta)


def _crossing(times: np.ndarray, curve: np.ndarray) -> float:
    """The first time a (decreasing) curve is at or below 0.5; the midpoint of the flat stretch
    where it equals 0.5 exactly (R ``survival``, SAS); NaN if it never gets there."""
    below = np.flatnonzero(curve <= 0.5 + 1e-10)
    if not below.size:
        return math.nan
    i = int(below[0])
    if abs(curve[i] - 0.5) <= 1e-10 and i + 1 < times.size:
        return float((times[i] + times[i + 1]) / 2)
    return float(times[i])


def kaplan_meier(time: Sequence[float], event: Sequence[bool], *, horizons: Sequence[float] = (),
                 conf_type: Literal["log-log", "log"] = "log-log") -> dict[str, Any]:
    """Kaplan–Meier summary: median with its interval, and the survival at each horizon.

    Parameters
    ----------
    time : sequence of float
        Time to the event, or to censoring; non-negative.
    event : sequence of bool
        True where the event was observed, False where the time is censored.
    horizons : sequence of float
        Times at which to report the survival S(t) (the share without the event).
    conf_type : {"log-log", "log"}
        Transformation of the 95% intervals: ``log-log`` (Kalbfleisch & Prentice; SAS's
        default, inside [0, 1]) or ``log`` (R ``survfit``'s default).

    Returns
    -------
    dict
        ``n`` (at risk at the start), ``events``, ``median``, ``median_low``, ``median_high``
        (NaN where the curve or the interval does not cross 0.5), ``median_note`` and
        ``horizons``: a list of dicts with ``t``, ``survival``, ``low``, ``high`` (the interval
        of S(t)), ``events`` (observed by t) and ``note``.

    Notes
    -----
    The product-limit estimate and Greenwood's standard errors come from
    ``statsmodels.duration.survfunc.SurvfuncRight``. The median is the smallest time at which
    S(t) falls to 0.5 or below; where S(t) equals 0.5 exactly over an interval it is the
    midpoint of that interval (R ``survival``, SAS). Its interval runs from the time the lower
    pointwise band of S(t) reaches 0.5 to the time the upper band does (Brookmeyer & Crowley
    1982, as R's ``quantile.survfit`` computes it), so its limits are event times; an upper
    limit that is never reached is NaN. (statsmodels' ``quantile_ci`` inverts the test only at
    event times and returns no interval when, with many ties on whole days, the curve steps
    over 0.5 between two significantly different values.) The interval of
    S(t) at a horizon is pointwise. A horizon beyond the last observed time is not estimated
    (the curve is unknown there) unless the curve has already reached 0.

    References
    ----------
    Kaplan EL, Meier P (1958). Nonparametric estimation from incomplete observations. JASA
    53:457-481. Brookmeyer R, Crowley J (1982). A confidence interval for the median survival
    time. Biometrics 38:29-41. Klein JP, Moeschberger ML (2003). Survival Analysis, 2nd ed.,
    Table 4.1A (the 6-MP arm of Freireich et al. 1963, reproduced by the tests).

    Examples
    --------
    The 6-MP arm of the Freireich et al. (1963) leukaemia remission trial (weeks; False is
    censored):

    >>> weeks = [6, 6, 6, 6, 7, 9, 10, 10, 11, 13, 16, 17, 19, 20, 22, 23, 25, 32, 32, 34, 35]
    >>> relapse = [1, 1, 1, 0, 1, 0, 1, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0]
    >>> km = kaplan_meier(weeks, [bool(r) for r in relapse], horizons=[10, 22], conf_type="log")
    >>> km["n"], km["events"], km["median"], km["median_low"], km["median_high"]
    (21, 9, 23.0, 16.0, nan)
    >>> [round(h["survival"], 3) for h in km["horizons"]]
    [0.753, 0.538]
    """
    t = np.asarray(time, dtype=float)
    d = np.asarray(event, dtype=bool)
    if t.shape != d.shape:
        raise AnalysisError("time and event differ in length", field="time")
    if np.isnan(t).any() or (t < 0).any():
        raise AnalysisError("times must be present and not negative", field="time")
    out: dict[str, Any] = {"n": int(t.size), "events": int(d.sum()), "median": math.nan,
                           "median_low": math.nan, "median_high": math.nan, "median_note": None,
                           "horizons": []}
    horizon_rows = out["horizons"]
    if t.size == 0:
        out["median_note"] = "no units: no estimate"
        horizon_rows += [{"t": float(h), "survival": math.nan, "low": math.nan, "high": math.nan,
                          "events": 0, "note": "no units: no estimate"} for h in horizons]
        return out
    last_time = float(t.max())
    if d.any():
        fit = _survfunc(t, d.astype(int))
        times = np.asarray(fit.surv_times, dtype=float)
        surv = np.asarray(fit.surv_prob, dtype=float)
        se = np.asarray(fit.surv_prob_se, dtype=float)
    else:
        times = surv = se = np.array([], dtype=float)

    out["median"] = _crossing(times, surv)
    if math.isnan(out["median"]):
        out["median_note"] = ("no events: median not reached" if not d.any()
                              else "fewer than half had the event: median not reached")
    else:
        bands = [_survival_interval(v, e, conf_type) if 0.0 < v < 1.0 else (v, v) for v, e in zip(surv, se)]
        # the interval of the median: where the lower and the upper band cross 0.5 (R survival's
        # quantile.survfit; Brookmeyer & Crowley 1982)
        out["median_low"] = _crossing(times, np.array([b[0] for b in bands]))
        out["median_high"] = _crossing(times, np.array([b[1] for b in bands]))
        if math.isnan(out["median_high"]):
            out["median_note"] = "upper limit of the interval not reached"

    for h in horizons:
        h = float(h)
        row = {"t": h, "events": int((d & (t <= h)).sum()), "note": None}
        i = int(np.searchsorted(times, h, side="right")) - 1
        s, s_se = (1.0, 0.0) if i < 0 else (float(surv[i]), float(se[i]))
        if h > last_time and s > 0.0:
            row.update(survival=math.nan, low=math.nan, high=math.nan,
                       note="horizon beyond the last follow-up: not estimated")
        else:
            low, high = _survival_interval(s, s_se, conf_type)
            row.update(survival=s, low=low, high=high)
            if math.isnan(low):
                row["note"] = "no interval (no variation at this time)"
        horizon_rows.append(row)
    return out


def logrank_test(time: Sequence[float], event: Sequence[bool], group: Sequence[Hashable]) -> tuple[float, float, int]:
    """Log-rank test of equal survival across groups.

    Parameters
    ----------
    time, event : sequence
        As for :func:`kaplan_meier`.
    group : sequence
        The group of each unit (at least two distinct groups).

    Returns
    -------
    tuple of (float, float, int)
        Chi-square statistic, p-value and degrees of freedom (groups - 1); NaNs when fewer than
        two groups or no events.

    Notes
    -----
    ``statsmodels.duration.survfunc.survdiff`` (Mantel 1966; R's ``survdiff`` with rho = 0).

    Examples
    --------
    Freireich et al. (1963), 6-MP against placebo: chi-square 16.79 on 1 df (Kleinbaum &
    Klein, Survival Analysis, 3rd ed., ch. 2).

    >>> mp = [6, 6, 6, 6, 7, 9, 10, 10, 11, 13, 16, 17, 19, 20, 22, 23, 25, 32, 32, 34, 35]
    >>> mp_event = [1, 1, 1, 0, 1, 0, 1, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0]
    >>> placebo = [1, 1, 2, 2, 3, 4, 4, 5, 5, 8, 8, 8, 8, 11, 11, 12, 12, 15, 17, 22, 23]
    >>> chi2, p, df = logrank_test(mp + placebo, [bool(e) for e in mp_event] + [True] * 21,
    ...                            ["6-MP"] * 21 + ["placebo"] * 21)
    >>> round(chi2, 2), df, p < 0.0001
    (16.79, 1, True)
    """
    from statsmodels.duration.survfunc import survdiff

    t = np.asarray(time, dtype=float)
    d = np.asarray(event, dtype=bool).astype(int)
    g = pd.Series(list(group), dtype="object")
    levels = g.dropna().unique()
    if len(levels) < 2 or d.sum() == 0:
        return math.nan, math.nan, max(len(levels) - 1, 0)
    codes = pd.Categorical(g, categories=list(levels)).codes
    keep = codes >= 0
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        chi2, p = survdiff(t[keep], d[keep], codes[keep])
    return float(chi2), float(p), len(levels) - 1


# --------------------------------------------------------------------------------------------
# Distribution summaries, rates, attempt sequences
# --------------------------------------------------------------------------------------------


def median_interval(values: Sequence[float], conf_level: float = _CONF) -> tuple[float, float, float]:
    """Median with the distribution-free (order-statistic) interval.

    Parameters
    ----------
    values : sequence of float
        Observed values (missing values are dropped).
    conf_level : float
        Confidence level.

    Returns
    -------
    tuple of (float, float, float)
        Median, lower and upper limit. The limits are the order statistics x_(r) and
        x_(n-r+1), with r the largest rank such that P(B <= r - 1) <= alpha/2 for
        B ~ Binomial(n, 1/2); their coverage is at least ``conf_level``. NaN limits where
        no such pair exists (n <= 5 at 95%).

    References
    ----------
    Conover WJ (1999). Practical Nonparametric Statistics, 3rd ed., section 3.2. Campbell MJ,
    Gardner MJ (1988). Calculating confidence intervals for some non-parametric analyses.
    BMJ 296:1454-1456 (table of ranks: n = 10 gives ranks 2 and 9, n = 20 ranks 6 and 15).

    Examples
    --------
    >>> median_interval(range(1, 11))
    (5.5, 2.0, 9.0)
    """
    x = np.sort(np.asarray([v for v in values if not pd.isna(v)], dtype=float))
    n = x.size
    if n == 0:
        return math.nan, math.nan, math.nan
    median = float(np.median(x))
    r = int(stats.binom.ppf((1 - conf_level) / 2, n, 0.5))
    # ppf gives the smallest k with P(B <= k) >= alpha/2; the rank needs P(B <= r - 1) <= alpha/2
    if stats.binom.cdf(r, n, 0.5) <= (1 - conf_level) / 2:
        r += 1
    if r < 1:
        return median, math.nan, math.nan
    return median, float(x[r - 1]), float(x[n - r])


def garwood_interval(count: int, exposure: float, conf_level: float = _CONF) -> tuple[float, float]:
    """Exact (Garwood) interval for a Poisson rate: events ``count`` over ``exposure``.

    Parameters
    ----------
    count : int
        Number of events (a non-negative integer).
    exposure : float
        Total exposure (positive).
    conf_level : float
        Confidence level.

    Returns
    -------
    tuple of (float, float)
        Lower and upper limits of the rate per unit of exposure:
        chi2(alpha/2; 2x)/2 and chi2(1 - alpha/2; 2x + 2)/2, divided by the exposure
        (the lower limit is 0 when x = 0).

    References
    ----------
    Garwood F (1936). Fiducial limits for the Poisson distribution. Biometrika 28:437-442.
    Ulm K (1990). A simple method to calculate the confidence interval of a standardized
    mortality ratio. American Journal of Epidemiology 131:373-375. The limits equal R's
    ``poisson.test(x)$conf.int``.

    Examples
    --------
    >>> [round(v, 4) for v in garwood_interval(10, 1.0)]
    [4.7954, 18.3904]
    """
    if count < 0 or exposure <= 0:
        raise AnalysisError("a rate needs a non-negative count and a positive exposure", field="exposure")
    alpha = 1 - conf_level
    low = stats.chi2.ppf(alpha / 2, 2 * count) / 2 if count > 0 else 0.0
    high = stats.chi2.ppf(1 - alpha / 2, 2 * count + 2) / 2
    return float(low) / exposure, float(high) / exposure


def attempt_sequences(events: pd.DataFrame, *, unit: str, attempt: pd.Series, success: pd.Series) -> pd.DataFrame:
    """Per unit, the number of attempts and the number of the first successful one.

    Parameters
    ----------
    events : DataFrame
        Event rows in the order they happened (sort by date before calling).
    unit : str
        Column naming the unit (woman) of each row.
    attempt, success : Series of bool
        Which rows are attempts, and which attempts succeeded (aligned with ``events``). A
        success that is not an attempt does not count.

    Returns
    -------
    DataFrame
        Indexed by unit (every unit with a row): ``attempts`` (count of attempt rows) and
        ``first_success`` (the attempt number of the first success; NaN if none).

    Examples
    --------
    >>> ev = pd.DataFrame({"pid": ["a", "a", "a", "b", "b"],
    ...                    "outcome": ["no_answer", "reached", "reached", "no_answer", "no_answer"]})
    >>> attempt_sequences(ev, unit="pid", attempt=pd.Series(True, index=ev.index),
    ...                   success=ev["outcome"].eq("reached")).values.tolist()
    [[3.0, 2.0], [2.0, nan]]
    """
    keys = events[unit]
    is_attempt = attempt.fillna(False).astype(bool)
    number = is_attempt.astype("int64").groupby(keys, sort=False).cumsum()
    hit = is_attempt & success.fillna(False).astype(bool)
    out = pd.DataFrame(index=pd.Index(sorted(keys.dropna().unique()), name=unit))
    out["attempts"] = is_attempt.groupby(keys).sum().reindex(out.index).astype(float)
    out["first_success"] = number.where(hit).groupby(keys).min().reindex(out.index).astype(float)
    return out


# --------------------------------------------------------------------------------------------
# Shared plumbing of the registered methods
# --------------------------------------------------------------------------------------------


def _where(context: Context, name: str) -> str:
    return f"{context.question_id}.{context.analysis.id}.params.{name}"


def _require(units: pd.DataFrame, column: str, context: Context, param: str) -> pd.Series:
    if column not in units.columns:
        raise AnalysisError(f"{context.question_id}: {param} names {column!r}, which is not a column of the "
                            "units", field=_where(context, param))
    return units[column]


def _levels(series: pd.Series) -> list[Hashable]:
    levels = list(series.dropna().unique())
    try:
        return sorted(levels)
    except TypeError:
        return sorted(levels, key=str)


def _groups(units: pd.DataFrame, context: Context) -> Iterator[tuple[str, str, pd.Series]]:
    """(breakdown, group, mask): the overall set, then each level of each breakdown column.

    Units with a missing breakdown value are in the overall rows only.
    """
    yield "overall", "all", pd.Series(True, index=units.index)
    for column in context.breakdowns:
        for level in _levels(units[column]):
            yield column, str(level), units[column].eq(level).fillna(False).astype(bool)


def _numeric(series: pd.Series, context: Context, param: str) -> pd.Series:
    if is_timedelta64_dtype(series.dtype):
        return series.dt.total_seconds() / 86400.0
    if is_bool_dtype(series.dtype) or not is_numeric_dtype(series.dtype):
        raise AnalysisError(f"{context.question_id}: column {series.name!r} is not numeric "
                            f"(dtype {series.dtype})", field=_where(context, param))
    return series.astype("float64")


def _dates(series: pd.Series, context: Context, param: str) -> pd.Series:
    if is_datetime64_any_dtype(series.dtype):
        return series
    if is_numeric_dtype(series.dtype) or is_bool_dtype(series.dtype):
        raise AnalysisError(f"{context.question_id}: column {series.name!r} is not a date",
                            field=_where(context, param))
    return pd.to_datetime(series, errors="coerce")


def _check_expression(source: str) -> str:
    try:
        parse_expression(source, analysis=True)
    except ExpressionError as exc:
        raise ValueError(str(exc)) from None
    return source


# --------------------------------------------------------------------------------------------
# time_to_event
# --------------------------------------------------------------------------------------------


class TimeToEventParams(Params):
    """Settings of ``time_to_event``.

    ``start``, ``event`` and ``censor`` name date columns of the units; ``censor`` may list
    several (the first present one is used, e.g. case close then his exit). A unit without the
    event and without a censoring date is censored at ``end_of_followup``: ``latest`` (the
    latest date in the source's event dates: the date of the extract), an ISO date, or
    ``none`` (such units are left out).
    """

    start: str
    event: str
    censor: str | tuple[str, ...] = ()
    end_of_followup: str = "latest"
    horizons: tuple[Annotated[int, Field(gt=0)], ...] = ()
    name: _Name | None = None
    logrank: bool = True
    conf_type: Literal["log-log", "log"] = "log-log"

    @field_validator("end_of_followup")
    @classmethod
    def _date_or_keyword(cls, value: str) -> str:
        if value not in {"latest", "none"}:
            try:
                pd.Timestamp(value)
            except ValueError:
                raise ValueError(f"end_of_followup must be 'latest', 'none' or a date, not {value!r}") from None
        return value


def _end_of_followup(units: pd.DataFrame, context: Context, params: TimeToEventParams,
                     columns: list[str]) -> pd.Timestamp | None:
    if params.end_of_followup == "none":
        return None
    if params.end_of_followup != "latest":
        return pd.Timestamp(params.end_of_followup)
    candidates = [units[c].max() for c in columns]
    source = context.question.data_of(context.analysis).source
    item = context.instrument.role_item(Role.EVENT_DATE)
    frame = context.data.get(source)
    if item is not None and frame is not None and item.id in frame.columns:
        candidates.append(_dates(frame[item.id], context, "end_of_followup").max())
    found = [pd.Timestamp(c) for c in candidates if not pd.isna(c)]
    return max(found) if found else None


def durations(units: pd.DataFrame, context: Context, params: TimeToEventParams) -> tuple[pd.DataFrame, list[str]]:
    """Days to the event or to censoring for each unit with a start date; notes on who is left out."""
    censor = [params.censor] if isinstance(params.censor, str) else list(params.censor)
    start = _dates(_require(units, params.start, context, "start"), context, "start")
    event = _dates(_require(units, params.event, context, "event"), context, "event")
    ends = [_dates(_require(units, c, context, "censor"), context, "censor") for c in censor]
    censor_at = pd.Series(pd.NaT, index=units.index, dtype=start.dtype)
    for column in ends:
        censor_at = censor_at.fillna(column.astype(start.dtype))
    observed = event.notna()
    if (~observed & censor_at.isna()).any():
        end = _end_of_followup(units, context, params, [params.start, params.event, *censor])
        if end is not None:
            censor_at = censor_at.fillna(end)
    stop = event.where(observed, censor_at)
    days = (stop - start).dt.days.astype("float64")
    notes = []
    keep = start.notna()
    if (~keep).any():
        notes.append("units without a start date are left out")
    if (keep & days.isna()).any():
        notes.append("units with neither the event nor a censoring date are left out")
    if (days < 0).any():
        notes.append("units whose event or censoring date is before the start are left out")
    keep &= days.notna() & (days >= 0)
    return pd.DataFrame({"time": days[keep], "event": observed[keep]}), notes


@register("time_to_event", params=TimeToEventParams, cost=2)
def run_time_to_event(units: pd.DataFrame, context: Context) -> pd.DataFrame:
    """Kaplan–Meier time from a start date to an event, censored: median, shares by horizon, log-rank.

    Rows per group (overall, then each level of each breakdown), all with ``method="km"``
    and ``n`` the units at risk at the start:

    - ``indicator=name, statistic="median"``: median days with its 95% interval;
    - ``indicator=name, statistic="events"``: the events observed (``numerator``);
    - ``indicator=f"{name}_within_{h}_days", statistic="proportion"``: the share with the
      event by day h, 1 - S(h), with its pointwise interval; ``numerator`` counts the events
      observed by day h (the estimate differs from numerator/n where units are censored).

    With ``logrank`` one more row per breakdown: ``group="between groups",
    statistic="chi_square", method="logrank"``, the test statistic in ``estimate`` and its
    p-value in ``p_value``; ``n`` the units in the groups compared.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> units = pd.DataFrame({"referral": pd.to_datetime(["2025-01-01"] * 4),
    ...                       "contact": pd.to_datetime(["2025-01-03", "2025-01-06", None, "2025-01-11"]),
    ...                       "closed": pd.to_datetime([None, None, "2025-01-08", None])})
    >>> params = TimeToEventParams(start="referral", event="contact", censor="closed", horizons=[7])
    >>> ctx = SimpleNamespace(question_id="q03", params=params, breakdowns={},
    ...                       analysis=SimpleNamespace(id="km"))
    >>> out = run_time_to_event(units, ctx)
    >>> out[["indicator", "statistic", "n", "numerator", "estimate"]].round(3).values.tolist()
    [['contact', 'median', 4, <NA>, 7.5], ['contact', 'events', 4, 3, 3.0], ['contact_within_7_days', 'proportion', 4, 2, 0.5]]

    S(t) is 0.5 exactly from day 5 to day 10, so the median is their midpoint.
    """
    params: TimeToEventParams = context.params
    name = params.name or params.event
    data, notes = durations(units, context, params)
    note = "; ".join(notes) or None
    units = units.loc[data.index]
    rows: list[dict[str, Any]] = []
    for breakdown, group, mask in _groups(units, context):
        part = data.loc[mask.to_numpy()]
        km = kaplan_meier(part["time"], part["event"], horizons=params.horizons, conf_type=params.conf_type)
        base = {"breakdown": breakdown, "group": group, "n": km["n"], "method": "km"}
        rows.append({**base, "indicator": name, "statistic": "median", "estimate": km["median"],
                     "ci_low": km["median_low"], "ci_high": km["median_high"],
                     "note": _join(km["median_note"], note)})
        rows.append({**base, "indicator": name, "statistic": "events", "numerator": km["events"],
                     "estimate": float(km["events"]), "note": note})
        for h in km["horizons"]:
            share = 1.0 - h["survival"]
            rows.append({**base, "indicator": f"{name}_within_{int(h['t'])}_days", "statistic": "proportion",
                         "numerator": h["events"], "estimate": share, "ci_low": 1.0 - h["high"],
                         "ci_high": 1.0 - h["low"], "note": _join(h["note"], note)})
    if params.logrank:
        for column in context.breakdowns:
            labels = units[column]
            present = labels.notna().to_numpy()
            chi2, p, df = logrank_test(data["time"].to_numpy()[present], data["event"].to_numpy()[present],
                                       labels[present].astype(str).tolist())
            rows.append({"indicator": name, "breakdown": column, "group": _LOGRANK_GROUP,
                         "statistic": "chi_square", "n": int(present.sum()), "estimate": chi2,
                         "p_value": p, "method": "logrank",
                         "note": f"log-rank test on {df} df" if df >= 1 and not math.isnan(chi2)
                         else "fewer than two groups with events: no test"})
    out = result_frame(rows)
    out["question"] = context.question_id
    return out


def _join(*notes: str | None) -> str | None:
    kept = [n for n in notes if n]
    return "; ".join(kept) or None


# --------------------------------------------------------------------------------------------
# summary
# --------------------------------------------------------------------------------------------


class SequenceSpec(Params):
    """A per-unit count computed from the event rows: attempts up to the first success."""

    column: _Name = "attempts_to_success"
    attempt: str
    success: str

    @field_validator("attempt", "success")
    @classmethod
    def _expression(cls, value: str) -> str:
        return _check_expression(value)


class SummaryParams(Params):
    """Settings of ``summary``: the numeric columns, and the indicator name of each.

    ``labels`` maps a column to the indicator it is reported as (default: the column).
    ``sequence`` adds a column counting each woman's attempts up to her first success, from
    the source's event rows (missing for women never reached), so it can be summarised.
    """

    outcomes: tuple[str, ...] = Field(min_length=1)
    labels: dict[str, _Name] = Field(default_factory=dict)
    sequence: SequenceSpec | None = None


def _event_rows(units: pd.DataFrame, context: Context, param: str, expressions: tuple[str, ...]) -> pd.DataFrame:
    """The source's event rows of the units' women, in event-date order (file order on ties).

    Only the columns ``expressions`` read are kept: reordering every column of a national
    record would take most of the analysis's time.
    """
    if PERSON_KEY not in units.columns or units[PERSON_KEY].duplicated().any():
        raise AnalysisError(f"{context.question_id}: {param} needs one unit per woman (data.per_person: true)",
                            field=_where(context, param))
    source = context.question.data_of(context.analysis).source
    frame = context.data[source]
    item = context.instrument.role_item(Role.EVENT_DATE)
    needed = {PERSON_KEY} | ({item.id} if item is not None else set()) | columns_read(expressions)
    events = frame.loc[frame[PERSON_KEY].isin(units[PERSON_KEY]), [c for c in frame.columns if c in needed]]
    if item is not None and item.id in events.columns:
        codes = pd.factorize(events[PERSON_KEY], sort=True)[0]
        events = events.take(person_date_order(codes, events[item.id]))
    return events


def _evaluate(source: str, frame: pd.DataFrame, context: Context, param: str) -> pd.Series:
    try:
        return parse_expression(source, analysis=True).evaluate(frame)
    except ExpressionError as exc:
        raise AnalysisError(f"{context.question_id}: {exc}", field=_where(context, param)) from None


def _with_sequence(units: pd.DataFrame, context: Context, spec: SequenceSpec) -> pd.DataFrame:
    events = _event_rows(units, context, "sequence", (spec.attempt, spec.success))
    seq = attempt_sequences(events, unit=PERSON_KEY,
                            attempt=_evaluate(spec.attempt, events, context, "sequence.attempt"),
                            success=_evaluate(spec.success, events, context, "sequence.success"))
    if spec.column in units.columns:
        raise AnalysisError(f"{context.question_id}: sequence column {spec.column!r} is already a column",
                            field=_where(context, "sequence.column"))
    units = units.copy()
    units[spec.column] = units[PERSON_KEY].map(seq["first_success"]).astype("float64")
    return units


def _summary_rows(values: np.ndarray) -> list[dict[str, Any]]:
    n = values.size
    rows = [{"statistic": s, "n": n} for s in ("mean", "median", "q1", "q3")]
    if n == 0:
        for row in rows:
            row["note"] = "no values: no estimate"
        return rows
    mean = float(values.mean())
    rows[0].update(estimate=mean, method="t")
    if n >= 2:
        half = float(stats.t.ppf(1 - (1 - _CONF) / 2, n - 1) * values.std(ddof=1) / math.sqrt(n))
        rows[0].update(ci_low=mean - half, ci_high=mean + half)
    else:
        rows[0]["note"] = "one value: no interval"
    median, low, high = median_interval(values)
    rows[1].update(estimate=median, ci_low=low, ci_high=high, method="order_statistic")
    if math.isnan(low):
        rows[1]["note"] = "too few values for a distribution-free interval"
    q1, q3 = np.quantile(values, [0.25, 0.75])
    rows[2].update(estimate=float(q1), method="quantile")
    rows[3].update(estimate=float(q3), method="quantile")
    return rows


@register("summary", params=SummaryParams)
def run_summary(units: pd.DataFrame, context: Context) -> pd.DataFrame:
    """Distribution of numeric per-woman columns: mean (t interval), median (order-statistic interval), quartiles.

    Rows per outcome and group: ``mean`` (method ``t``), ``median`` (``order_statistic``), ``q1``
    and ``q3`` (``quantile``, R type 7); ``n`` the units with a value. The minimum and maximum
    are never reported: an extreme value is one woman. Missing values are left out.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> units = pd.DataFrame({"attempts": [1, 2, 2, 3, 4, 5, 8, None]})
    >>> ctx = SimpleNamespace(question_id="q02", params=SummaryParams(outcomes=["attempts"]),
    ...                       breakdowns={}, analysis=SimpleNamespace(id="s"))
    >>> run_summary(units, ctx)[["statistic", "n", "estimate"]].values.tolist()
    [['mean', 7, 3.5714285714285716], ['median', 7, 3.0], ['q1', 7, 2.0], ['q3', 7, 4.5]]
    """
    params: SummaryParams = context.params
    if params.sequence is not None:
        units = _with_sequence(units, context, params.sequence)
    unknown = set(params.labels) - set(params.outcomes)
    if unknown:
        raise AnalysisError(f"{context.question_id}: labels name columns not in outcomes: {sorted(unknown)}",
                            field=_where(context, "labels"))
    columns = {c: _numeric(_require(units, c, context, "outcomes"), context, "outcomes") for c in params.outcomes}
    rows: list[dict[str, Any]] = []
    for column, values in columns.items():
        indicator = params.labels.get(column, column)
        for breakdown, group, mask in _groups(units, context):
            part = values[mask].dropna().to_numpy(dtype=float)
            for row in _summary_rows(part):
                rows.append({"indicator": indicator, "breakdown": breakdown, "group": group, **row})
    out = result_frame(rows)
    out["question"] = context.question_id
    return out


# --------------------------------------------------------------------------------------------
# attempt_curve
# --------------------------------------------------------------------------------------------


class AttemptCurveParams(Params):
    """Settings of ``attempt_curve``: which event rows are attempts, which succeeded, how many to show."""

    attempt: str
    success: str
    max_attempts: Annotated[int, Field(ge=1, le=50)] = 8
    prefix: str = Field(default="", pattern=r"^([a-z][a-z0-9_]*_)?$")

    @field_validator("attempt", "success")
    @classmethod
    def _expression(cls, value: str) -> str:
        return _check_expression(value)


def curve_rows(seq: pd.DataFrame, max_attempts: int, prefix: str = "") -> list[dict[str, Any]]:
    """Conditional success and cumulative reach by attempt number, for one group of units.

    ``seq`` is :func:`attempt_sequences`' output (units with no attempt are ignored).

    Examples
    --------
    >>> seq = pd.DataFrame({"attempts": [1, 3, 2, 4], "first_success": [1, 3, None, None]})
    >>> [(r["indicator"], r["n"], r["numerator"]) for r in curve_rows(seq, 2)]
    [('success_at_attempt_1', 4, 1), ('reached_by_attempt_1', 4, 1), ('success_at_attempt_2', 3, 0), ('reached_by_attempt_2', 4, 1)]
    """
    m = seq["attempts"].fillna(0).to_numpy()
    f = seq["first_success"].fillna(np.inf).to_numpy()
    tried = int((m >= 1).sum())
    rows = []
    for k in range(1, max_attempts + 1):
        at_risk = int(((m >= k) & (f >= k)).sum())
        hits = int((f == k).sum())
        reached = int((f <= k).sum())
        for indicator, x, n in ((f"{prefix}success_at_attempt_{k}", hits, at_risk),
                                (f"{prefix}reached_by_attempt_{k}", reached, tried)):
            low, high = wilson_interval(x, n)
            rows.append({"indicator": indicator, "statistic": "proportion", "n": n, "numerator": x,
                         "estimate": x / n if n else math.nan, "ci_low": low, "ci_high": high,
                         "method": "wilson", "note": None if n else "no units at risk: no estimate"})
    return rows


@register("attempt_curve", params=AttemptCurveParams, cost=3)
def run_attempt_curve(units: pd.DataFrame, context: Context) -> pd.DataFrame:
    """After how many attempts does success level off: success at attempt k, and reach by attempt k.

    Reads the event rows of the units' women from the source (ordered by the instrument's
    event date, file order on ties). For k = 1..``max_attempts`` and per group:

    - ``success_at_attempt_k`` (``statistic="proportion"``, Wilson interval): of the women
      given a k-th attempt who were not reached by an earlier one (``n``), the share reached
      at attempt k (``numerator``): the conditional success rate;
    - ``reached_by_attempt_k``: of the women with at least one attempt (``n``), the share
      reached within k attempts. Women whose attempts stopped early (declined, wrong number,
      not yet tried again) count as not reached.
    """
    params: AttemptCurveParams = context.params
    events = _event_rows(units, context, "attempt", (params.attempt, params.success))
    seq = attempt_sequences(events, unit=PERSON_KEY,
                            attempt=_evaluate(params.attempt, events, context, "attempt"),
                            success=_evaluate(params.success, events, context, "success"))
    seq = seq.reindex(units[PERSON_KEY].to_numpy())
    seq.index = units.index
    rows: list[dict[str, Any]] = []
    for breakdown, group, mask in _groups(units, context):
        for row in curve_rows(seq.loc[mask], params.max_attempts, params.prefix):
            rows.append({"breakdown": breakdown, "group": group, **row})
    out = result_frame(rows)
    out["question"] = context.question_id
    return out


# --------------------------------------------------------------------------------------------
# rate
# --------------------------------------------------------------------------------------------


class RateParams(Params):
    """Settings of ``rate``: per-unit event counts over per-unit exposure, per ``per`` units."""

    numerator: str
    exposure: str
    per: Annotated[float, Field(gt=0)] = 100.0
    name: _Name | None = None


@register("rate", params=RateParams)
def run_rate(units: pd.DataFrame, context: Context) -> pd.DataFrame:
    """Events per 100 units of exposure with an exact Poisson (Garwood) interval, overall and by breakdown.

    One row per group: ``statistic="rate_per_100"`` (or ``rate_per_<per>``), ``method=
    "poisson_exact"``, ``numerator`` the events, ``n`` the units with exposure. Units missing
    either column are left out. The interval treats events as independent: where they cluster
    in some women it is too narrow.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> units = pd.DataFrame({"unsafe": [0, 1, 2, 0], "calls": [10, 20, 5, 0]})
    >>> ctx = SimpleNamespace(question_id="q13", params=RateParams(numerator="unsafe", exposure="calls"),
    ...                       breakdowns={}, analysis=SimpleNamespace(id="r"))
    >>> run_rate(units, ctx)[["statistic", "n", "numerator", "estimate"]].values.tolist()
    [['rate_per_100', 3, 3, 8.571428571428571]]
    """
    params: RateParams = context.params
    x = _numeric(_require(units, params.numerator, context, "numerator"), context, "numerator")
    e = _numeric(_require(units, params.exposure, context, "exposure"), context, "exposure")
    keep = x.notna() & e.notna()
    if ((x[keep] < 0) | (e[keep] < 0)).any():
        raise AnalysisError(f"{context.question_id}: rate counts and exposure must not be negative",
                            field=_where(context, "numerator"))
    if not np.allclose(x[keep], np.round(x[keep])):
        raise AnalysisError(f"{context.question_id}: numerator {params.numerator!r} must hold whole counts",
                            field=_where(context, "numerator"))
    statistic = f"rate_per_{params.per:g}".replace(".", "_")
    name = params.name or params.numerator
    rows: list[dict[str, Any]] = []
    for breakdown, group, mask in _groups(units, context):
        sel = keep & mask
        events, exposure = int(np.rint(x[sel].sum())), float(e[sel].sum())
        row = {"indicator": name, "breakdown": breakdown, "group": group, "statistic": statistic,
               "n": int((sel & (e > 0)).sum()), "numerator": events, "method": "poisson_exact"}
        if exposure > 0:
            low, high = garwood_interval(events, exposure)
            row.update(estimate=params.per * events / exposure, ci_low=params.per * low,
                       ci_high=params.per * high)
        else:
            row["note"] = "no exposure: no estimate"
        rows.append(row)
    out = result_frame(rows)
    out["question"] = context.question_id
    return out
