"""Equity of access by cohort (Q6) and worker caseload against reach and dose (Q14).

- ``equity_gap``: for each cohort (Aboriginal and Torres Strait Islander, CALD, disability ...)
  the gap in each indicator between the women in it and the others, unadjusted and adjusted
  for service.
- ``caseload``: the association, across services, between a worker-survey measure (caseload
  per funded day) and service-level reach and dose from the record.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field
from scipy import stats

from pceval.analyse.families.models import (
    fit_logistic,
    fit_ols_absorbed,
    marginal_difference,
    service_dummies,
    varying_services,
)
from pceval.analyse.families.models_common import (
    Z95,
    evaluate,
    no_breakdowns,
    require_columns,
    wald,
)
from pceval.analyse.methods import wilson_interval
from pceval.analyse.plan import DataSpec
from pceval.analyse.registry import Context, Params, register
from pceval.errors import AnalysisError
from pceval.results import result_frame

__all__ = ["fisher_interval"]


# --------------------------------------------------------------------------------------------
# Equity gaps
# --------------------------------------------------------------------------------------------


class Cohort(Params):
    """A cohort: the ``column`` recording it, the ``codes`` that mean "in the cohort", and the
    ``others`` it is compared with (default: every other recorded value; name them to leave
    out "prefer not to say" and "not known")."""

    column: str
    codes: tuple[str, ...] = Field(min_length=1)
    others: tuple[str, ...] | None = None


class EquityParams(Params):
    """Settings of ``equity_gap``: the ``cohorts``; ``indicators`` (columns or expressions) add
    to the analysis's own indicators; ``outcome_type`` says whether indicators are 0/1 shares or
    numeric means (``auto``: 0/1 values are shares)."""

    cohorts: tuple[Cohort, ...] = Field(min_length=1)
    indicators: tuple[str, ...] = ()
    outcome_type: Literal["auto", "binary", "continuous"] = "auto"


def _indicators(units: pd.DataFrame, context: Context) -> dict[str, pd.Series]:
    p: EquityParams = context.params
    where = f"{context.question_id}.{context.analysis.id}"
    sources = {i.id: i.where for i in context.analysis.indicators}
    sources.update({s: s for s in p.indicators})
    if not sources:
        raise AnalysisError("equity_gap needs indicators", field=f"{where}.indicators")
    out = {}
    for name, source in sources.items():
        out[name] = pd.to_numeric(evaluate(units, source, field=f"{where}.indicators.{name}"),
                                  errors="coerce").astype("float64")
    return out


def _is_binary(values: pd.Series, outcome_type: str) -> bool:
    if outcome_type != "auto":
        return outcome_type == "binary"
    return bool(values.dropna().isin([0.0, 1.0]).all())


@register("equity_gap", params=EquityParams, cost=4)
def run_equity_gap(units: pd.DataFrame, context: Context) -> pd.DataFrame:
    """Each indicator in each cohort against the other women, unadjusted and adjusted for service.

    Rows per indicator and cohort (``breakdown`` the cohort column): the share (``proportion``,
    Wilson) or ``mean`` in the cohort and among the others; the unadjusted ``difference``
    (cohort minus others: Newcombe's hybrid score interval for shares, Welch for means); and,
    adjusted for service, the ``adjusted_difference`` (shares: marginal standardisation over a
    logistic model with a fixed effect per service, delta-method interval; means: the cohort
    coefficient of OLS with service fixed effects, HC1) and, for shares, the
    ``adjusted_odds_ratio``. The cohort rows carry the cohort's ``n`` (and numerator), so
    central suppression withholds the differences of a small cohort with its share.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> rng = np.random.default_rng(4)
    >>> units = pd.DataFrame({"pid": range(600), "service_id": rng.choice(["A", "B", "C"], 600),
    ...                       "atsi": rng.choice(["yes", "no", "-99"], 600, p=[.2, .75, .05])})
    >>> units["reached"] = (rng.random(600) < np.where(units["atsi"] == "yes", .55, .7)).astype(int)
    >>> ctx = SimpleNamespace(params=EquityParams(cohorts=[{"column": "atsi", "codes": ["yes"], "others": ["no"]}],
    ...                       indicators=["reached"]), breakdowns={}, service="service_id", question_id="q",
    ...                       analysis=SimpleNamespace(id="a", indicators=()))
    >>> out = run_equity_gap(units, ctx)
    >>> out["statistic"].tolist()
    ['proportion', 'proportion', 'difference', 'adjusted_difference', 'adjusted_odds_ratio']
    """
    no_breakdowns(context, "equity_gap")
    p: EquityParams = context.params
    where = f"{context.question_id}.{context.analysis.id}.params"
    require_columns(units, [c.column for c in p.cohorts], field=f"{where}.cohorts")
    indicators = _indicators(units, context)
    rows: list[dict[str, Any]] = []
    for name, values in indicators.items():
        binary = _is_binary(values, p.outcome_type)
        for cohort in p.cohorts:
            codes = units[cohort.column].astype("string")
            inside = codes.isin(cohort.codes).fillna(False)
            others = (codes.isin(cohort.others).fillna(False) if cohort.others is not None
                      else codes.notna() & ~inside)
            keep = (inside | others) & values.notna()
            frame = pd.DataFrame({"y": values[keep], "in": inside[keep].astype("float64"),
                                  "service": units.loc[keep, context.service].astype("string")})
            labels = (",".join(cohort.codes), ",".join(cohort.others) if cohort.others else "others")
            part = (_binary_gap if binary else _mean_gap)(frame, name, cohort.column, labels)
            rows += part
    return result_frame(rows)


def _base(name: str, column: str, group: str, statistic: str, method: str, n: int) -> dict[str, Any]:
    return {"indicator": name, "breakdown": column, "group": group, "statistic": statistic,
            "method": method, "n": int(n)}


def _binary_gap(frame: pd.DataFrame, name: str, column: str, labels: tuple[str, str]) -> list[dict]:
    from statsmodels.stats.proportion import confint_proportions_2indep, test_proportions_2indep

    inside = frame["in"].eq(1.0)
    x1, n1 = int(frame.loc[inside, "y"].sum()), int(inside.sum())
    x0, n0 = int(frame.loc[~inside, "y"].sum()), int((~inside).sum())
    rows = []
    for group, x, n in ((labels[0], x1, n1), (labels[1], x0, n0)):
        low, high = wilson_interval(x, n)
        rows.append({**_base(name, column, group, "proportion", "wilson", n), "numerator": x,
                     "estimate": x / n if n else np.nan, "ci_low": low, "ci_high": high})
    cohort = labels[0]
    diff = {**_base(name, column, cohort, "difference", "newcombe", n1), "numerator": x1}
    adj = {**_base(name, column, cohort, "adjusted_difference", "logit_service_fe_standardised", n1),
           "numerator": x1}
    odds = {**_base(name, column, cohort, "adjusted_odds_ratio", "logit_service_fe", n1), "numerator": x1}
    if n1 == 0 or n0 == 0:
        note = "no women in the cohort or among the others: no comparison"
        return rows + [{**r, "note": note} for r in (diff, adj, odds)]
    low, high = confint_proportions_2indep(x1, n1, x0, n0, method="newcomb", compare="diff")
    diff.update(estimate=x1 / n1 - x0 / n0, ci_low=float(low), ci_high=float(high))
    if 0 < x1 + x0 < n1 + n0:
        diff["p_value"] = float(test_proportions_2indep(x1, n1, x0, n0, method="score",
                                                        compare="diff").pvalue)
    rows.append(diff)
    keep = varying_services(frame, "service", frame["y"])
    sub = frame.loc[keep]
    if sub["in"].nunique() < 2 or sub["y"].nunique() < 2:
        note = "no service where the indicator varies in both groups: no adjusted estimate"
        return rows + [{**adj, "note": note}, {**odds, "note": note}]
    # the model has only the cohort and the service: a row per cohort-and-service cell, with
    # its women and successes, gives the row-per-woman likelihood (fit_logistic)
    cells = sub.groupby(["in", "service"], sort=True)["y"].agg(["sum", "size"]).reset_index()
    x = pd.concat([cells[["in"]], service_dummies(cells, "service")], axis=1)
    beta, cov = fit_logistic(cells["sum"].to_numpy(), x, trials=cells["size"].to_numpy())
    exog = np.column_stack([np.ones(len(x)), x.to_numpy(dtype="float64")])
    note = None if keep.all() else (f"{int((~keep).sum())} women in services where every woman had the "
                                    "same value left out of the adjusted model")
    adj.update(marginal_difference(beta, cov, exog, [1], np.array([1.0]), weights=cells["size"].to_numpy()),
               note=note)
    odds.update({k: (float(np.exp(v)) if k != "p_value" else v)
                 for k, v in wald(float(beta[1]), float(np.sqrt(cov[1, 1]))).items()}, note=note)
    return rows + [adj, odds]


def _mean_gap(frame: pd.DataFrame, name: str, column: str, labels: tuple[str, str]) -> list[dict]:
    from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

    inside = frame["in"].eq(1.0)
    a, b = frame.loc[inside, "y"].to_numpy(), frame.loc[~inside, "y"].to_numpy()
    rows = []
    for group, values in ((labels[0], a), (labels[1], b)):
        row = _base(name, column, group, "mean", "t", len(values))
        if len(values) >= 2:
            d = DescrStatsW(values)
            low, high = d.tconfint_mean()
            row.update(estimate=float(d.mean), ci_low=float(low), ci_high=float(high))
        rows.append(row)
    cohort = labels[0]
    diff = _base(name, column, cohort, "difference", "welch", len(a))
    adj = _base(name, column, cohort, "adjusted_difference", "ols_service_fe", len(a))
    if len(a) < 2 or len(b) < 2:
        note = "fewer than 2 women in the cohort or among the others: no comparison"
        return rows + [{**diff, "note": note}, {**adj, "note": note}]
    compare = CompareMeans(DescrStatsW(a), DescrStatsW(b))
    low, high = compare.tconfint_diff(usevar="unequal")
    diff.update(estimate=float(a.mean() - b.mean()), ci_low=float(low), ci_high=float(high),
                p_value=float(compare.ttest_ind(usevar="unequal")[1]))
    beta, cov = fit_ols_absorbed(frame["y"].to_numpy(), frame[["in"]], frame["service"])
    adj.update(wald(float(beta[0]), float(np.sqrt(cov[0, 0]))), note="HC1 standard errors")
    return rows + [diff, adj]


# --------------------------------------------------------------------------------------------
# Caseload against reach and dose
# --------------------------------------------------------------------------------------------


class ServiceOutcome(Params):
    """A per-woman value from the record (``value``: column or expression; a condition gives a
    share), averaged per service."""

    id: str
    value: str


class CaseloadParams(Params):
    """Settings of ``caseload``: ``worker_measure`` (column or expression of the worker survey,
    e.g. ``caseload / funded_days``) averaged over each service's workers; ``record`` how the
    record becomes one row per woman (a plan ``data`` block); ``outcomes`` the per-woman values
    averaged per service."""

    worker_measure: str
    measure_id: str = "worker_measure"
    record: DataSpec
    outcomes: tuple[ServiceOutcome, ...] = Field(min_length=1)


def fisher_interval(rho: float, n: int, *, spearman: bool = True) -> tuple[float, float]:
    """95% interval of a correlation through Fisher's z.

    For Spearman's rho the variance of z is Bonett & Wright's (2000) ``(1 + rho^2 / 2) / (n - 3)``
    (Fieller et al.'s 1.06 / (n - 3) understates it for large rho); Pearson's is ``1 / (n - 3)``.

    Examples
    --------
    >>> [round(v, 4) for v in fisher_interval(0.5, 28, spearman=False)]
    [0.156, 0.7358]
    """
    if n <= 3 or not np.isfinite(rho) or abs(rho) >= 1:
        return np.nan, np.nan
    var = (1 + rho**2 / 2) / (n - 3) if spearman else 1 / (n - 3)
    z = np.arctanh(rho)
    return float(np.tanh(z - Z95 * np.sqrt(var))), float(np.tanh(z + Z95 * np.sqrt(var)))


@register("caseload", params=CaseloadParams, pool=False)
def run_caseload(units: pd.DataFrame, context: Context) -> pd.DataFrame:
    """Across services: a worker measure (caseload per funded day) against reach and dose.

    The units are worker-survey rows; services are the unit of analysis (``n`` = services), so
    with few services this is descriptive. Rows: the worker measure's ``mean`` and ``median``
    over workers; per outcome, Spearman's ``spearman_rho`` across services (Fisher-z interval)
    and the slope (``coefficient``) of a regression of the service's outcome on the measure,
    weighted by the women per service.

    Services are not pooled: no service's own value is published, only the association.

    Examples
    --------
    >>> round(fisher_interval(0.0, 103)[1], 3)
    0.194
    """
    import statsmodels.api as sm

    from pceval.analyse.units import service_column

    no_breakdowns(context, "caseload")
    p: CaseloadParams = context.params
    where = f"{context.question_id}.{context.analysis.id}.params"
    measure = pd.to_numeric(evaluate(units, p.worker_measure, field=f"{where}.worker_measure"), errors="coerce")
    measure = measure.replace([np.inf, -np.inf], np.nan)
    workers = pd.DataFrame({"service": units[context.service].astype("string"), "m": measure}).dropna()
    rows: list[dict[str, Any]] = []
    if not workers.empty:
        rows.append({"indicator": p.measure_id, "statistic": "mean", "n": len(workers), "method": "workers",
                     "estimate": float(workers["m"].mean())})
        rows.append({"indicator": p.measure_id, "statistic": "median", "n": len(workers), "method": "workers",
                     "estimate": float(workers["m"].median())})
    by_service = workers.groupby("service")["m"].mean()
    women = context.units(p.record, where=f"{where}.record")
    record_service = service_column(context.instruments[p.record.source])
    for outcome in p.outcomes:
        values = pd.to_numeric(evaluate(women, outcome.value, field=f"{where}.outcomes.{outcome.id}"),
                               errors="coerce")
        per = pd.DataFrame({"service": women[record_service].astype("string"), "v": values}).dropna()
        summary = per.groupby("service")["v"].agg(["mean", "size"])
        joined = summary.join(by_service.rename("m"), how="inner").dropna()
        n = len(joined)
        rho_row = {"indicator": outcome.id, "breakdown": "term", "group": p.measure_id,
                   "statistic": "spearman_rho", "n": n, "method": "spearman_services",
                   "note": "services are the units; descriptive with few services"}
        slope_row = {"indicator": outcome.id, "breakdown": "term", "group": p.measure_id,
                     "statistic": "coefficient", "n": n, "method": "wls_services",
                     "note": "weighted by women per service"}
        if n < 4 or joined["m"].nunique() < 2 or joined["mean"].nunique() < 2:
            note = "fewer than 4 services with both measures, or no variation: no estimate"
            rows += [{**rho_row, "note": note}, {**slope_row, "note": note}]
            continue
        result = stats.spearmanr(joined["m"], joined["mean"])
        rho = float(result.statistic)
        low, high = fisher_interval(rho, n)
        rho_row.update(estimate=rho, ci_low=low, ci_high=high, p_value=float(result.pvalue))
        fit = sm.WLS(joined["mean"].to_numpy(dtype="float64"), sm.add_constant(joined["m"].to_numpy(dtype="float64")),
                     weights=joined["size"].to_numpy(dtype="float64")).fit()
        slope_row.update(wald(float(fit.params[1]), float(fit.bse[1]), df=float(fit.df_resid)))
        rows += [rho_row, slope_row]
    return result_frame(rows)
