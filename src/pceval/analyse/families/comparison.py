"""Services side by side, agreement between sources, and the standards scorecard.

- ``service_comparison``: each service's indicator beside the pooled estimate, with funnel-plot
  control limits (95% and 99.8%) and an empirical-Bayes shrunken estimate with its interval
  (beta-binomial for 0/1 indicators, normal-normal for numeric outcomes). No ranks are written:
  a service's place among its peers is only ever shown with its uncertainty.
- ``agreement_kappa``: agreement between two sources' ratings of the same woman (her account,
  the facilitator's, the record), by :func:`pceval.code.agreement.agreement`.
- ``scorecard``: a headline indicator per National Outcome Standard and RBA quadrant, copied
  from the results of earlier questions with their disclosure control intact.
- ``dex_summary``: DSS Data Exchange SCORE ratings before and after, aggregated; the
  record-level SCORE file is written by :func:`pceval.score.dex.write_dex_export` into ``build/shareable/``
  (pseudonymous data never go to ``results/``).

Disclosure control stays central (:mod:`pceval.analyse.run`). Two things here exist only so
that it works: every row from which a service's count could be worked back (the proportion,
the shrunken estimate, percent agreement and the kappas) carries that count as ``numerator``
beside an ``overall`` row with the same total, so all of them are suppressed together; and the
funnel flag (a note) is left off rows the central rules will hide, since "above the 99.8%
limit" says something about a value that is not published.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field
from scipy import optimize, special, stats
from statsmodels.stats.inter_rater import cohens_kappa

from pceval.analyse.families.descriptive import indicator_columns
from pceval.analyse.methods import wilson_interval
from pceval.analyse.registry import Context, DisclosureRules, Params, register
from pceval.code.agreement import agreement
from pceval.errors import AnalysisError
from pceval.privacy.deidentify import PERSON_KEY
from pceval.results import result_frame

__all__ = [
    "beta_binomial_prior",
    "dersimonian_laird",
    "eb_beta_binomial",
    "eb_normal",
    "funnel_flag",
    "funnel_limits",
    "funnel_limits_normal",
]

#: The two funnel coverages (Spiegelhalter 2005: "2 and 3 standard deviations").
LIMITS = {"95": 0.95, "998": 0.998}
#: The statistics ``service_comparison`` writes, per service.
COMPARISON_STATISTICS = ("proportion", "mean", "pooled", "limit95_low", "limit95_high",
                         "limit998_low", "limit998_high", "eb_estimate")
#: Upper bound of the beta prior's precision a + b: beyond it services do not differ by more
#: than chance and every shrunken estimate is the pooled one.
MAX_PRECISION = 1e7
FLAG_PREFIX = "funnel: "


# --------------------------------------------------------------------------------------------
# Funnel limits
# --------------------------------------------------------------------------------------------


def funnel_limits(p0: float, n: Any, coverage: float) -> tuple[np.ndarray, np.ndarray]:
    """Exact binomial funnel-plot control limits around a target proportion.

    Parameters
    ----------
    p0 : float
        The target (pooled) proportion, strictly between 0 and 1.
    n : int or array_like of int
        Denominators (women in the service).
    coverage : float
        Central coverage of the limits, e.g. 0.95 or 0.998.

    Returns
    -------
    tuple of numpy.ndarray
        Lower and upper limits on the proportion scale, one per ``n`` (NaN where ``n`` is 0).

    Notes
    -----
    Spiegelhalter (2005), "Funnel plots for comparing institutional performance", Statistics
    in Medicine 24:1185-1202, appendix A.1.1: with :math:`r_q` the :math:`q`-quantile of
    Binomial(:math:`n, p_0`) (the smallest :math:`r` with :math:`F(r) \\ge q`) and
    :math:`\\alpha = (F(r_q) - q) / (F(r_q) - F(r_q - 1))`, the limit is
    :math:`(r_q - \\alpha)/n`. Interpolating between the integers keeps the limits smooth in
    :math:`n` and gives the stated coverage on average; for large :math:`n` they approach
    :math:`p_0 \\pm z \\sqrt{p_0(1-p_0)/n}` (:func:`funnel_limits_normal`). The interpolation
    spreads each count over the unit below it, so the limits sit about half a count
    (:math:`0.5/n`) below the normal ones, as in the paper.

    Examples
    --------
    >>> low, high = funnel_limits(0.5, [20, 100], 0.95)
    >>> low.round(3).tolist(), high.round(3).tolist()
    ([0.256, 0.397], [0.694, 0.593])
    """
    if not 0 < p0 < 1:
        raise AnalysisError(f"funnel limits need a pooled proportion strictly between 0 and 1, got {p0!r}",
                            field="p0")
    n = np.atleast_1d(np.asarray(n, dtype=float))
    out = []
    for q in ((1 - coverage) / 2, (1 + coverage) / 2):
        r = stats.binom.ppf(q, n, p0)
        f_r = stats.binom.cdf(r, n, p0)
        f_below = stats.binom.cdf(r - 1, n, p0)
        with np.errstate(invalid="ignore", divide="ignore"):
            alpha = np.where(f_r > f_below, (f_r - q) / (f_r - f_below), 0.0)
            limit = np.where(n > 0, (r - alpha) / n, np.nan)
        out.append(np.clip(limit, 0.0, 1.0))
    return out[0], out[1]


def funnel_limits_normal(target: float, sd: float, n: Any, coverage: float) -> tuple[np.ndarray, np.ndarray]:
    """Normal funnel limits ``target +- z sd / sqrt(n)`` (Spiegelhalter 2005, section 4).

    For proportions ``sd = sqrt(p0 (1 - p0))`` (the normal approximation); for a mean, the
    pooled within-service standard deviation.

    Examples
    --------
    >>> low, high = funnel_limits_normal(0.5, 0.5, [100], 0.95)
    >>> round(float(low[0]), 4), round(float(high[0]), 4)
    (0.402, 0.598)
    """
    n = np.atleast_1d(np.asarray(n, dtype=float))
    z = stats.norm.ppf((1 + coverage) / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        half = np.where(n > 0, z * sd / np.sqrt(n), np.nan)
    return target - half, target + half


def funnel_flag(estimate: float, low95: float, high95: float, low998: float, high998: float) -> str:
    """Where an estimate lies against its funnel limits, in words (a value on a limit is inside).

    Examples
    --------
    >>> funnel_flag(0.5, 0.4, 0.6, 0.35, 0.65)
    'within 95% limits'
    >>> funnel_flag(0.62, 0.4, 0.6, 0.35, 0.65)
    'between 95% and 99.8% limits (above)'
    >>> funnel_flag(0.3, 0.4, 0.6, 0.35, 0.65)
    'outside 99.8% limits (below)'
    """
    if any(pd.isna(v) for v in (estimate, low95, high95, low998, high998)):
        return ""
    side = "above" if estimate > high95 else "below"
    if low95 <= estimate <= high95:
        return "within 95% limits"
    if low998 <= estimate <= high998:
        return f"between 95% and 99.8% limits ({side})"
    return f"outside 99.8% limits ({side})"


# --------------------------------------------------------------------------------------------
# Empirical Bayes
# --------------------------------------------------------------------------------------------


def _betabinom_loglik(x: np.ndarray, n: np.ndarray, a: float, b: float) -> float:
    # the binomial coefficients do not depend on (a, b) and are left out
    return float(np.sum(special.betaln(x + a, n - x + b) - special.betaln(a, b)))


def beta_binomial_prior(x: Any, n: Any, *, method: Literal["mml", "moments"] = "mml") -> tuple[float, float]:
    """The beta prior of services' true proportions, from their counts: ``(mean, precision)``.

    Parameters
    ----------
    x, n : array_like of int
        Each service's count with the attribute and its number of women (services with
        ``n == 0`` are left out).
    method : {"mml", "moments"}
        Maximum marginal (beta-binomial) likelihood, or the method of moments.

    Returns
    -------
    tuple of float
        The prior mean :math:`\\mu = a/(a+b)` and precision :math:`M = a + b`;
        ``M == MAX_PRECISION`` when the services vary no more than chance allows.

    Notes
    -----
    Moments (Kleinman 1973, JASA 68:46-54, with weights :math:`n_i`): with
    :math:`\\hat\\mu = \\sum x_i/\\sum n_i` and :math:`S = \\sum n_i(\\hat p_i - \\hat\\mu)^2`,
    :math:`E[S] = \\mu(1-\\mu)\\{(k-1) + (N - \\sum n_i^2/N)\\rho\\}` with intra-service
    correlation :math:`\\rho = 1/(M+1)`, solved for :math:`\\rho`. The marginal likelihood
    :math:`\\prod_i B(x_i + a, n_i - x_i + b)/B(a, b)` is maximised over
    :math:`(\\operatorname{logit}\\mu, \\log M)` by L-BFGS-B from the moment estimate.

    Examples
    --------
    >>> mu, m = beta_binomial_prior([10, 30, 50, 70, 90], [100] * 5, method="moments")
    >>> round(mu, 3), round(m, 2)
    (0.5, 1.56)
    """
    x = np.asarray(x, dtype=float)
    n = np.asarray(n, dtype=float)
    keep = n > 0
    x, n = x[keep], n[keep]
    k, total = len(n), n.sum()
    if k < 3:
        raise AnalysisError("an empirical-Bayes prior needs at least 3 services with women", field="n")
    mu = x.sum() / total
    if mu <= 0 or mu >= 1:
        raise AnalysisError("every or no woman has the attribute: no prior to estimate", field="x")
    spread = np.sum(n * (x / n - mu) ** 2)
    rho = (spread / (mu * (1 - mu)) - (k - 1)) / (total - np.sum(n ** 2) / total)
    m_moments = MAX_PRECISION if rho <= 1 / (MAX_PRECISION + 1) else min(1 / rho - 1, MAX_PRECISION)
    if method == "moments":
        return float(mu), float(max(m_moments, 1e-3))

    def negative(theta: np.ndarray) -> float:
        m, p = np.exp(theta[1]), special.expit(theta[0])
        return -_betabinom_loglik(x, n, p * m, (1 - p) * m)

    bounds = [(-30.0, 30.0), (np.log(1e-3), np.log(MAX_PRECISION))]
    starts = [np.array([special.logit(mu), np.log(np.clip(m_moments, 1e-3, MAX_PRECISION))]),
              np.array([special.logit(mu), np.log(MAX_PRECISION)])]
    best = min((optimize.minimize(negative, s, method="L-BFGS-B", bounds=bounds) for s in starts),
               key=lambda r: r.fun)
    return float(special.expit(best.x[0])), float(min(np.exp(best.x[1]), MAX_PRECISION))


def eb_beta_binomial(x: Any, n: Any, *, prior: tuple[float, float] | None = None,
                     method: Literal["mml", "moments"] = "mml", conf_level: float = 0.95) -> pd.DataFrame:
    """Empirical-Bayes shrunken proportions: Beta posterior means with equal-tailed intervals.

    Parameters
    ----------
    x, n : array_like of int
        Each service's count and number of women.
    prior : tuple of (mean, precision), optional
        A known prior; estimated from the services by :func:`beta_binomial_prior` otherwise.
    method : {"mml", "moments"}
        How the prior is estimated.
    conf_level : float
        Coverage of the posterior intervals.

    Returns
    -------
    DataFrame
        ``estimate, ci_low, ci_high, weight`` per service (``weight`` is the share of the
        service's own data in its estimate, :math:`n/(n + M)`); the prior in ``attrs``
        (``prior_mean``, ``prior_precision``, ``a``, ``b``).

    Notes
    -----
    With prior Beta(:math:`a, b`) the posterior of a service with :math:`x` of :math:`n` is
    Beta(:math:`a + x, b + n - x`), mean :math:`(a + x)/(a + b + n)`. The intervals treat the
    estimated prior as known, so they are somewhat narrow when there are few services
    (Morris 1983, JASA 78:47-55).

    Examples
    --------
    >>> out = eb_beta_binomial([3, 7], [10, 10], prior=(0.5, 10.0))
    >>> out["estimate"].round(3).tolist()
    [0.4, 0.6]
    """
    x = np.asarray(x, dtype=float)
    n = np.asarray(n, dtype=float)
    mu, m = prior if prior is not None else beta_binomial_prior(x, n, method=method)
    a, b = mu * m, (1 - mu) * m
    tail = (1 - conf_level) / 2
    post_a, post_b = a + x, b + n - x
    out = pd.DataFrame({
        "estimate": post_a / (post_a + post_b),
        "ci_low": stats.beta.ppf(tail, post_a, post_b),
        "ci_high": stats.beta.ppf(1 - tail, post_a, post_b),
        "weight": n / (n + m),
    })
    out.attrs.update(prior_mean=mu, prior_precision=m, a=a, b=b)
    return out


def dersimonian_laird(y: Any, v: Any) -> tuple[float, float, float]:
    """DerSimonian-Laird between-service variance: ``(tau2, mu, se_mu)``.

    Parameters
    ----------
    y, v : array_like of float
        Service estimates and their sampling variances.

    Notes
    -----
    DerSimonian & Laird (1986), Controlled Clinical Trials 7:177-188: with :math:`w_i = 1/v_i`,
    :math:`Q = \\sum w_i (y_i - \\bar y_w)^2` and :math:`\\tau^2 = \\max\\{0, (Q - (k-1)) /
    (\\sum w_i - \\sum w_i^2/\\sum w_i)\\}`; :math:`\\mu` is the mean weighted by
    :math:`1/(v_i + \\tau^2)`, with standard error :math:`(\\sum 1/(v_i+\\tau^2))^{-1/2}`.

    Examples
    --------
    >>> tau2, mu, se = dersimonian_laird([0.0, 1.0, 2.0], [0.1, 0.1, 0.1])
    >>> round(tau2, 3), round(mu, 3)
    (0.9, 1.0)
    """
    y = np.asarray(y, dtype=float)
    v = np.asarray(v, dtype=float)
    w = 1 / v
    mean_w = np.sum(w * y) / np.sum(w)
    q = np.sum(w * (y - mean_w) ** 2)
    tau2 = max(0.0, (q - (len(y) - 1)) / (np.sum(w) - np.sum(w ** 2) / np.sum(w)))
    w_star = 1 / (v + tau2)
    return float(tau2), float(np.sum(w_star * y) / np.sum(w_star)), float(np.sqrt(1 / np.sum(w_star)))


def eb_normal(y: Any, v: Any, *, tau2: float | None = None, conf_level: float = 0.95) -> pd.DataFrame:
    """Empirical-Bayes shrunken means under a normal-normal model (DerSimonian-Laird prior).

    Parameters
    ----------
    y, v : array_like of float
        Service means and their sampling variances (:math:`s_i^2/n_i`).
    tau2 : float, optional
        A known between-service variance; estimated by :func:`dersimonian_laird` otherwise.
    conf_level : float
        Coverage of the intervals.

    Returns
    -------
    DataFrame
        ``estimate, ci_low, ci_high, shrinkage`` per service; ``attrs`` holds ``tau2``,
        ``mu`` and ``se_mu``.

    Notes
    -----
    With :math:`B_i = v_i/(v_i + \\tau^2)` the estimate is :math:`\\mu + (1 - B_i)(y_i - \\mu)`
    and its variance :math:`v_i(1 - B_i) + B_i^2 \\operatorname{se}(\\mu)^2`, which adds the
    uncertainty of the estimated mean (Morris 1983). With equal :math:`v_i` the shrinkage
    factor is the James-Stein one with :math:`k - 1` in place of :math:`k - 3`, which the tests
    use to reproduce Efron & Morris's (1977) baseball estimates. With :math:`\\tau^2 = 0` every
    estimate is :math:`\\mu`.

    Examples
    --------
    >>> out = eb_normal([0.0, 1.0, 2.0], [0.1, 0.1, 0.1])
    >>> out["estimate"].round(3).tolist()
    [0.1, 1.0, 1.9]
    """
    y = np.asarray(y, dtype=float)
    v = np.asarray(v, dtype=float)
    estimated, mu, se_mu = dersimonian_laird(y, v)
    tau2 = estimated if tau2 is None else float(tau2)
    if tau2 != estimated:
        w_star = 1 / (v + tau2)
        mu, se_mu = float(np.sum(w_star * y) / np.sum(w_star)), float(np.sqrt(1 / np.sum(w_star)))
    shrink = v / (v + tau2)
    estimate = mu + (1 - shrink) * (y - mu)
    se = np.sqrt(v * (1 - shrink) + shrink ** 2 * se_mu ** 2)
    z = stats.norm.ppf((1 + conf_level) / 2)
    out = pd.DataFrame({"estimate": estimate, "ci_low": estimate - z * se, "ci_high": estimate + z * se,
                        "shrinkage": shrink})
    out.attrs.update(tau2=tau2, mu=mu, se_mu=se_mu)
    return out


# --------------------------------------------------------------------------------------------
# service_comparison
# --------------------------------------------------------------------------------------------


class ServiceComparisonParams(Params):
    """Settings of ``service_comparison``.

    ``limits``: exact binomial funnel limits (Spiegelhalter 2005, the default) or the normal
    approximation, for proportions (means always use normal limits). ``prior``: how the
    beta-binomial prior is estimated (maximum marginal likelihood or moments).
    """

    limits: Literal["exact", "normal"] = "exact"
    prior: Literal["mml", "moments"] = "mml"


def _effective_min_cell(rules: DisclosureRules) -> int:
    return max(rules.min_cell, 10) if rules.strict else rules.min_cell


def _small(count: int, rules: DisclosureRules) -> bool:
    return 1 <= count < _effective_min_cell(rules)


def _natural(labels: Sequence[str]) -> list[str]:
    def key(label: str) -> list:
        return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", str(label))]
    return sorted(labels, key=key)


def _compare_proportion(groups: pd.Series, values: pd.Series, name: str, params: ServiceComparisonParams,
                        rules: DisclosureRules) -> list[dict]:
    known = groups.notna() & values.notna()
    g, v = groups[known].astype(str), values[known].astype(float)
    counts = v.groupby(g).agg(["size", "sum"])
    services = _natural(list(counts.index))
    n = counts.loc[services, "size"].to_numpy(dtype=int) if services else np.array([], dtype=int)
    x = counts.loc[services, "sum"].to_numpy(dtype=int) if services else np.array([], dtype=int)
    # the overall row counts every woman, with or without a service, as the proportions method
    # does: the same cells then get the same suppression in both tables
    total, hits = int(values.notna().sum()), int(values.fillna(0).sum())
    low, high = wilson_interval(x, n) if len(n) else (np.array([]), np.array([]))
    common = {"indicator": name, "method": "funnel"}
    overall = {**common, "statistic": "proportion", "n": total, "numerator": hits}
    if total == 0:
        return [{**overall, "note": "no women with this indicator: no estimate"}]
    o_low, o_high = wilson_interval(hits, total)
    p0 = hits / total
    rows = [{**overall, "estimate": p0, "ci_low": o_low, "ci_high": o_high}]
    service_rows = [{**common, "breakdown": "service", "group": s, "statistic": "proportion", "n": int(n_i),
                     "numerator": int(x_i), "estimate": x_i / n_i, "ci_low": lo, "ci_high": hi}
                    for s, n_i, x_i, lo, hi in zip(services, n, x, low, high, strict=True)]
    # the pooled value, the limits and the prior all reveal the overall count: they are left
    # out when the central rules will hide it
    why_not = None
    if _small(hits, rules) or _small(total - hits, rules):
        why_not = "pooled count too small to publish: no funnel limits or shrunken estimates"
    elif total < rules.min_denominator:
        why_not = "too few women for funnel limits"
    elif hits in (0, total):
        why_not = "every or no woman has the indicator: no funnel limits or shrunken estimates"
    if why_not:
        for row in service_rows:
            row["note"] = why_not
        return rows + service_rows

    limits = {}
    for label, coverage in LIMITS.items():
        if params.limits == "exact":
            limits[label] = funnel_limits(p0, n, coverage)
        else:
            limits[label] = funnel_limits_normal(p0, np.sqrt(p0 * (1 - p0)), n, coverage)
    for i, row in enumerate(service_rows):
        row["note"] = FLAG_PREFIX + funnel_flag(row["estimate"], limits["95"][0][i], limits["95"][1][i],
                                                limits["998"][0][i], limits["998"][1][i])
        rows.append(row)
        rows.append({**common, "breakdown": "service", "group": row["group"], "statistic": "pooled",
                     "n": row["n"], "estimate": p0, "ci_low": o_low, "ci_high": o_high})
        for label in LIMITS:
            for side, bound in (("low", 0), ("high", 1)):
                rows.append({**common, "breakdown": "service", "group": row["group"],
                             "statistic": f"limit{label}_{side}", "n": row["n"],
                             "estimate": float(limits[label][bound][i])})

    eb_common = {"indicator": name, "method": f"eb_beta_binomial_{params.prior}", "statistic": "eb_estimate"}
    try:
        eb = eb_beta_binomial(x, n, method=params.prior)
    except AnalysisError as exc:
        return rows + [{**eb_common, "n": total, "numerator": hits, "note": f"no shrunken estimates: {exc.message}"}]
    mu, m = eb.attrs["prior_mean"], eb.attrs["prior_precision"]
    if m >= MAX_PRECISION:
        prior_note = ("services vary no more than chance allows: every shrunken estimate is the "
                      "pooled one")
        prior_low = prior_high = mu
    else:
        prior_note = (f"prior Beta({eb.attrs['a']:.3g}, {eb.attrs['b']:.3g}): the middle 95% of "
                      "services' true proportions")
        prior_low, prior_high = stats.beta.ppf([0.025, 0.975], eb.attrs["a"], eb.attrs["b"])
    # the overall row mirrors the overall proportion (same n and numerator), so the central
    # rules hide the same services' shrunken estimates as their proportions
    rows.append({**eb_common, "n": total, "numerator": hits, "estimate": mu, "ci_low": prior_low,
                 "ci_high": prior_high, "note": prior_note})
    for i, s in enumerate(services):
        rows.append({**eb_common, "breakdown": "service", "group": s, "n": int(n[i]), "numerator": int(x[i]),
                     "estimate": eb["estimate"].iloc[i], "ci_low": eb["ci_low"].iloc[i],
                     "ci_high": eb["ci_high"].iloc[i]})
    return rows


def _compare_mean(groups: pd.Series, values: pd.Series, name: str) -> list[dict]:
    known = groups.notna() & values.notna()
    g, v = groups[known].astype(str), values[known].astype(float)
    summary = v.groupby(g).agg(["size", "mean", "var"])
    services = _natural(list(summary.index))
    summary = summary.loc[services]
    common = {"indicator": name, "method": "funnel"}
    everyone = values.dropna().astype(float)
    total = len(everyone)
    if total < 2:
        return [{**common, "statistic": "mean", "n": total, "note": "fewer than 2 values: no estimate"}]
    mean0, sd0 = float(everyone.mean()), float(everyone.std(ddof=1))
    half = stats.t.ppf(0.975, total - 1) * sd0 / np.sqrt(total)
    rows = [{**common, "statistic": "mean", "n": total, "estimate": mean0, "ci_low": mean0 - half,
             "ci_high": mean0 + half}]
    n = summary["size"].to_numpy(dtype=int)
    usable = n >= 2
    # the funnel's spread is the pooled within-service standard deviation (Spiegelhalter 2005)
    within = (np.sum((n[usable] - 1) * summary["var"].to_numpy()[usable]) / (n[usable].sum() - usable.sum())
              if usable.sum() and n[usable].sum() > usable.sum() else np.nan)
    sd_within = float(np.sqrt(within)) if np.isfinite(within) else np.nan
    limits = {label: funnel_limits_normal(mean0, sd_within, n, c) for label, c in LIMITS.items()}
    service_rows = []
    for i, s in enumerate(services):
        n_i, mean_i, var_i = int(n[i]), float(summary["mean"].iloc[i]), float(summary["var"].iloc[i])
        row = {**common, "breakdown": "service", "group": s, "statistic": "mean", "n": n_i, "estimate": mean_i}
        if n_i >= 2:
            h = stats.t.ppf(0.975, n_i - 1) * np.sqrt(var_i / n_i)
            row.update(ci_low=mean_i - h, ci_high=mean_i + h)
        if np.isfinite(sd_within):
            row["note"] = FLAG_PREFIX + funnel_flag(mean_i, limits["95"][0][i], limits["95"][1][i],
                                                    limits["998"][0][i], limits["998"][1][i])
        service_rows.append(row)
        rows.append(row)
        rows.append({**common, "breakdown": "service", "group": s, "statistic": "pooled", "n": n_i,
                     "estimate": mean0, "ci_low": mean0 - half, "ci_high": mean0 + half})
        if np.isfinite(sd_within):
            for label in LIMITS:
                for side, bound in (("low", 0), ("high", 1)):
                    rows.append({**common, "breakdown": "service", "group": s, "statistic": f"limit{label}_{side}",
                                 "n": n_i, "estimate": float(limits[label][bound][i])})

    eb_common = {"indicator": name, "method": "eb_normal_dl", "statistic": "eb_estimate"}
    # a service with one value or no spread has no sampling variance of its own: it borrows
    # the pooled within-service variance
    v_i = np.where(usable & (summary["var"].fillna(0).to_numpy() > 0), summary["var"].to_numpy(), within) / n
    ok = np.isfinite(v_i) & (v_i > 0)
    if ok.sum() < 3:
        return rows + [{**eb_common, "n": total, "note": "no shrunken estimates: fewer than 3 services with a variance"}]
    eb = eb_normal(summary["mean"].to_numpy()[ok], v_i[ok])
    tau = np.sqrt(eb.attrs["tau2"])
    note = ("services vary no more than chance allows: every shrunken estimate is the pooled one"
            if eb.attrs["tau2"] == 0 else
            f"tau = {tau:.3g} (DerSimonian-Laird): the middle 95% of services' true means")
    rows.append({**eb_common, "n": total, "estimate": eb.attrs["mu"], "ci_low": eb.attrs["mu"] - 1.959964 * tau,
                 "ci_high": eb.attrs["mu"] + 1.959964 * tau, "note": note})
    for j, i in enumerate(np.flatnonzero(ok)):
        rows.append({**eb_common, "breakdown": "service", "group": services[i], "n": int(n[i]),
                     "estimate": eb["estimate"].iloc[j], "ci_low": eb["ci_low"].iloc[j],
                     "ci_high": eb["ci_high"].iloc[j]})
    return rows


def _will_be_hidden(frame: pd.DataFrame, rules: DisclosureRules) -> pd.Series:
    """Which rows the central disclosure control will suppress (a dry run of it).

    Rows linked for consequential suppression share question, indicator, statistic and method,
    so this table's own rows decide its suppression, whatever else the question holds.
    """
    from pceval.analyse.run import POOLED_LABEL, _protect_small_pool
    from pceval.privacy.disclosure import suppress_results

    trial = result_frame(frame.assign(question="trial"))
    small_pool = trial["group"].eq(POOLED_LABEL) & trial["n"].fillna(0).lt(rules.min_service_n)
    trial.loc[small_pool, "suppressed"] = True
    trial = _protect_small_pool(trial, rules.min_service_n)
    trial = suppress_results(trial, min_cell=rules.min_cell, min_denominator=rules.min_denominator,
                             strict=rules.strict)
    return trial["suppressed"].fillna(False).astype(bool)


@register("service_comparison", params=ServiceComparisonParams)
def run_service_comparison(units: pd.DataFrame, context: Context) -> pd.DataFrame:
    """Each service beside the pooled estimate: funnel limits and empirical-Bayes estimates.

    For every indicator of the analysis (a 0/1 ``where``) and for its ``outcome`` (a numeric
    column, compared as a mean), rows with ``breakdown="service"``, one per service and
    statistic:

    - ``proportion`` (or ``mean``): the service's own estimate, Wilson (or t) interval,
      ``numerator`` for proportions; ``note`` says where it lies against the funnel limits
      ("funnel: within 95% limits", "... between 95% and 99.8% limits (above)", "... outside
      99.8% limits (below)");
    - ``pooled``: the pooled estimate over all services (with its interval), the funnel's
      centre line;
    - ``limit95_low``, ``limit95_high``, ``limit998_low``, ``limit998_high``: the funnel's
      control limits at the service's ``n``;
    - ``eb_estimate``: the empirical-Bayes shrunken estimate and its 95% interval.

    Plus ``overall`` rows: the pooled ``proportion``/``mean`` and an ``eb_estimate`` row whose
    estimate is the prior mean and whose interval is the middle 95% of the prior (where the
    services' true values lie). Methods: ``funnel``, ``eb_beta_binomial_<prior>``,
    ``eb_normal_dl``. Services are in name order; nothing is ranked.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> from pceval.analyse.plan import Analysis
    >>> units = pd.DataFrame({"service_id": ["A"] * 40 + ["B"] * 40 + ["C"] * 40,
    ...                       "reached": [1] * 20 + [0] * 20 + [1] * 30 + [0] * 10 + [1] * 25 + [0] * 15})
    >>> analysis = Analysis(id="cmp", method="service_comparison",
    ...                     indicators=[{"id": "reached", "label": "Reached", "where": "reached == 1"}])
    >>> ctx = SimpleNamespace(question_id="q", analysis=analysis, service="service_id",
    ...                       params=ServiceComparisonParams(), rules=DisclosureRules())
    >>> out = run_service_comparison(units, ctx)
    >>> out.query("statistic == 'proportion'")[["group", "estimate", "note"]].values.tolist()[:2]
    [['all', 0.625, <NA>], ['A', 0.5, 'funnel: within 95% limits']]
    """
    analysis = context.analysis
    where = f"{context.question_id}.{analysis.id}"
    service = context.service
    if service not in units.columns:
        raise AnalysisError(f"{context.question_id}: the units have no service column {service!r}", field=where)
    if not analysis.indicators and not analysis.outcome:
        raise AnalysisError(f"{where}: service_comparison needs indicators or an outcome", field=f"{where}.indicators")
    params = context.params or ServiceComparisonParams()
    rows: list[dict] = []
    if analysis.indicators:
        flagged = indicator_columns(units, context)
        for indicator in analysis.indicators:
            rows += _compare_proportion(flagged[service], flagged[indicator.id], indicator.id, params, context.rules)
    if analysis.outcome:
        if analysis.outcome not in units.columns:
            raise AnalysisError(f"{where}: outcome {analysis.outcome!r} is not a column of the units",
                                field=f"{where}.outcome")
        values = pd.to_numeric(units[analysis.outcome], errors="coerce")
        if values.notna().sum() < units[analysis.outcome].notna().sum():
            raise AnalysisError(f"{where}: outcome {analysis.outcome!r} is not numeric", field=f"{where}.outcome")
        rows += _compare_mean(units[service], values, analysis.outcome)
    out = result_frame(rows)
    out["question"] = context.question_id
    # a funnel flag on a row the central rules will hide would say something about its value
    flagged_rows = out["note"].fillna("").str.startswith(FLAG_PREFIX)
    hidden = _will_be_hidden(out, context.rules)
    out.loc[flagged_rows & hidden, "note"] = pd.NA
    return out


# --------------------------------------------------------------------------------------------
# agreement_kappa
# --------------------------------------------------------------------------------------------

Code = int | str | bool


class AgreementParams(Params):
    """Settings of ``agreement_kappa``.

    ``a`` and ``b``: the two columns of the units rating the same woman (e.g. her rating and
    the facilitator's); ``level``: their level of measurement (Krippendorff's alpha uses it);
    ``recode_a``/``recode_b``: maps from each source's codes to a common scale (unmapped
    values become missing); ``indicator``: the name written to the results (default
    ``<a>_vs_<b>``); ``n_boot``: bootstrap resamples for the overall alpha's interval;
    ``groups``: statistics per breakdown group, ``kappa`` (percent agreement and Cohen's
    kappa, fast) or ``all`` (Krippendorff's alpha too, bootstrapped per group).
    """

    a: str
    b: str
    level: Literal["nominal", "ordinal", "interval", "ratio"] = "nominal"
    recode_a: dict[Code, Code] | None = None
    recode_b: dict[Code, Code] | None = None
    indicator: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9_]*$")
    n_boot: int = Field(default=1000, ge=0)
    groups: Literal["kappa", "all"] = "kappa"


def _code(value: Any) -> Any:
    # booleans and whole numbers are one scale: True and 1 must meet as the same code
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, bool | np.bool_):
        return int(value)
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return int(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


def _recoded(column: pd.Series, mapping: Mapping | None) -> pd.Series:
    values = [_code(v) for v in column.astype("object")]
    if mapping is not None:
        lookup = {_code(k): v for k, v in mapping.items()}
        values = [lookup.get(v) if v is not None else None for v in values]
    # object dtype keeps 3 as 3 beside a missing value (a float column would make it 3.0)
    return pd.Series(values, index=column.index, dtype="object")


def _agreement_rows(pairs: pd.DataFrame, *, level: str, n_boot: int, with_alpha: bool) -> list[dict]:
    both = pairs  # women rated by both sources, with integer codes ca, cb on one scale
    if len(both) < 2:
        return [{"statistic": "percent_agreement", "n": len(both), "note": "fewer than 2 women rated by both sources"}]
    agree = int((both["ca"].to_numpy() == both["cb"].to_numpy()).sum())
    n = len(both)
    low, high = wilson_interval(agree, n)
    rows = [{"statistic": "percent_agreement", "n": n, "numerator": agree, "estimate": agree / n,
             "ci_low": low, "ci_high": high, "method": "agreement_wilson"}]
    if not with_alpha:
        return rows + [_cohen_row(both, agree)]
    long = pd.concat([both[[PERSON_KEY, "a"]].rename(columns={"a": "value"}).assign(coder="a"),
                      both[[PERSON_KEY, "b"]].rename(columns={"b": "value"}).assign(coder="b")], ignore_index=True)
    table = agreement(long, unit=PERSON_KEY, coder="coder", value="value", level=level, n_boot=n_boot)
    table = table.set_index("statistic")
    for statistic in ("cohen_kappa", "krippendorff_alpha"):
        if statistic not in table.index:
            rows.append({"statistic": statistic, "n": n, "numerator": agree, "method": statistic,
                         "note": "undefined: one rating used throughout"})
            continue
        r = table.loc[statistic]
        # the count of agreeing women goes with every row, so the central rules hide a kappa
        # exactly where they hide the percent agreement it could be worked back towards
        rows.append({"statistic": statistic, "n": int(r["n_units"]), "numerator": agree,
                     "estimate": float(r["estimate"]), "ci_low": float(r["ci_low"]),
                     "ci_high": float(r["ci_high"]), "method": statistic if statistic == "cohen_kappa"
                     else f"{statistic}_{r['level']}"})
    return rows


def _cohen_row(both: pd.DataFrame, agree: int) -> dict:
    """Cohen's kappa of two columns, as :func:`pceval.code.agreement.agreement` computes it.

    The same statsmodels function and interval (asymptotic, cut at -1 and 1), without the
    table building that agreement's other statistics need: a breakdown by 100 services calls
    it 100 times per pair of sources.
    """
    n = len(both)
    used, codes = np.unique(np.concatenate([both["ca"].to_numpy(), both["cb"].to_numpy()]), return_inverse=True)
    k = len(used)
    row = {"statistic": "cohen_kappa", "n": n, "numerator": agree, "method": "cohen_kappa"}
    if k < 2:
        return {**row, "note": "undefined: one rating used throughout"}
    table = np.zeros((k, k))
    np.add.at(table, (codes[:n], codes[n:]), 1)
    result = cohens_kappa(table, return_results=True)
    z = stats.norm.ppf(0.975)
    return {**row, "estimate": float(result.kappa), "ci_low": max(-1.0, float(result.kappa - z * result.std_kappa)),
            "ci_high": min(1.0, float(result.kappa + z * result.std_kappa))}


@register("agreement_kappa", params=AgreementParams, cost=6)
def run_agreement_kappa(units: pd.DataFrame, context: Context) -> pd.DataFrame:
    """Agreement between two sources' ratings of the same woman, overall and by breakdown.

    Rows per group: ``percent_agreement`` (share of women both sources rated alike, Wilson
    interval; ``numerator`` the agreeing women), ``cohen_kappa`` (unweighted, asymptotic
    interval) and overall ``krippendorff_alpha`` at ``level`` (bootstrap interval over women);
    ``n`` the women rated by both. Kappa rows carry the agreeing count as ``numerator`` too,
    so disclosure control treats them like the percent agreement.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> units = pd.DataFrame({"pid": [f"p{i}" for i in range(20)],
    ...                       "her": [1, 2, 3, 4, 5] * 4, "his": [1, 2, 3, 4, 4] * 4})
    >>> ctx = SimpleNamespace(question_id="q12", analysis=SimpleNamespace(id="x"), breakdowns={},
    ...                       params=AgreementParams(a="her", b="his", n_boot=0))
    >>> run_agreement_kappa(units, ctx)[["statistic", "numerator", "estimate"]].round(3).values.tolist()
    [['percent_agreement', 16, 0.8], ['cohen_kappa', 16, 0.75], ['krippendorff_alpha', 16, 0.75]]
    """
    params: AgreementParams = context.params
    where = f"{context.question_id}.{context.analysis.id}.params"
    for name in ("a", "b"):
        column = getattr(params, name)
        if column not in units.columns:
            raise AnalysisError(f"{context.question_id}: params.{name} names {column!r}, which is not a column "
                                "of the units", field=f"{where}.{name}")
    if PERSON_KEY not in units.columns:
        raise AnalysisError(f"{context.question_id}: the units have no person key", field=where)
    if units[PERSON_KEY].duplicated().any():
        raise AnalysisError(f"{context.question_id}: agreement needs one row per woman (per_person data)",
                            field=where)
    pairs = pd.DataFrame({PERSON_KEY: units[PERSON_KEY].astype(str),
                          "a": _recoded(units[params.a], params.recode_a),
                          "b": _recoded(units[params.b], params.recode_b)})
    indicator = params.indicator or f"{params.a}_vs_{params.b}"
    rated = pairs.dropna(subset=["a", "b"]).copy()
    # one integer code per rating, on the two sources' common scale, computed once for all groups
    _, codes = np.unique(np.concatenate([rated["a"].astype(str).to_numpy(), rated["b"].astype(str).to_numpy()]),
                         return_inverse=True)
    rated["ca"], rated["cb"] = codes[:len(rated)], codes[len(rated):]
    rows = [{**r, "breakdown": "overall", "group": "all"}
            for r in _agreement_rows(rated, level=params.level, n_boot=params.n_boot, with_alpha=True)]
    for column in context.breakdowns:
        by = units.loc[rated.index, column]
        parts = dict(list(rated.loc[by.notna()].groupby(by[by.notna()].astype(str), sort=False)))
        for level in _natural([str(v) for v in units[column].dropna().unique()]):
            part = parts.get(level, rated.iloc[0:0])
            rows += [{**r, "breakdown": column, "group": level}
                     for r in _agreement_rows(part, level=params.level, n_boot=params.n_boot,
                                              with_alpha=params.groups == "all")]
    out = result_frame([{**r, "indicator": indicator} for r in rows])
    out["method"] = out["method"].fillna("agreement")
    return out


# --------------------------------------------------------------------------------------------
# scorecard
# --------------------------------------------------------------------------------------------


class ScorecardEntry(BaseModel):
    """One cell of the scorecard: which earlier result row is the headline of a NOS and quadrant."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    nos: Literal["NOS1", "NOS2", "NOS3", "NOS4", "NOS5", "NOS6"]
    rba: Literal["HM", "HW", "BO"]
    question: str
    indicator: str
    statistic: str
    label: str
    method: str | None = None


class ScorecardParams(Params):
    """Settings of ``scorecard``: the ``entries`` (one per NOS and RBA quadrant) and the
    ``breakdown`` of the source rows shown beside the overall one (default ``service``)."""

    entries: tuple[ScorecardEntry, ...] = Field(min_length=1)
    breakdown: str = "service"


def scorecard_indicator(nos: str, rba: str) -> str:
    """The indicator id of a scorecard cell, e.g. ``nos1_hw``.

    Examples
    --------
    >>> scorecard_indicator("NOS1", "HW")
    'nos1_hw'
    """
    return f"{nos.lower()}_{rba.lower()}"


@register("scorecard", params=ScorecardParams, pool=False, reads_results=True)
def run_scorecard(units: pd.DataFrame, context: Context) -> pd.DataFrame:
    """The standards scorecard: one headline result per NOS and RBA quadrant, per service.

    Copies, for every entry, the overall row and the breakdown rows of the named earlier result
    (``question``, ``indicator``, ``statistic``, and ``method`` when the source holds several),
    with its ``n``, values and disclosure control unchanged: a row suppressed at its source
    stays suppressed. ``indicator`` becomes the cell (``nos1_hw``); ``note`` ends with
    ``headline: <label> (<question>.<indicator>)``. The units are not used.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> from pceval.results import result_frame
    >>> source = result_frame([
    ...     {"question": "q01_reach", "indicator": "reached", "statistic": "proportion", "n": 50,
    ...      "numerator": 30, "estimate": 0.6, "method": "wilson"},
    ...     {"question": "q01_reach", "indicator": "reached", "statistic": "proportion", "n": 20,
    ...      "breakdown": "service", "group": "S1", "suppressed": True, "note": "n.p.: consequential"}])
    >>> params = ScorecardParams(entries=[{"nos": "NOS1", "rba": "HW", "question": "q01_reach",
    ...     "indicator": "reached", "statistic": "proportion", "label": "Reached"}])
    >>> ctx = SimpleNamespace(question_id="q15", params=params, results={"q01_reach": source})
    >>> run_scorecard(None, ctx)[["indicator", "group", "estimate", "suppressed"]].values.tolist()
    [['nos1_hw', 'all', 0.6, False], ['nos1_hw', 'S1', <NA>, True]]
    """
    params: ScorecardParams = context.params
    where = f"{context.question_id}.params.entries"
    seen: set[tuple[str, str]] = set()
    parts = []
    for number, entry in enumerate(params.entries, start=1):
        field = f"{where}[{number}]"
        if (entry.nos, entry.rba) in seen:
            raise AnalysisError(f"{context.question_id}: two headline entries for {entry.nos} {entry.rba}", field=field)
        seen.add((entry.nos, entry.rba))
        if entry.question not in context.results:
            raise AnalysisError(f"{context.question_id}: entry {number} names question {entry.question!r}, which "
                                "is not answered before the scorecard", field=f"{field}.question",
                                fix="place the scorecard after the questions it reads")
        source = context.results[entry.question]
        rows = source.loc[source["indicator"].eq(entry.indicator).fillna(False)
                          & source["statistic"].eq(entry.statistic).fillna(False)
                          & source["breakdown"].isin(["overall", params.breakdown]).fillna(False)]
        if entry.method is not None:
            rows = rows.loc[rows["method"].eq(entry.method).fillna(False)]
        if rows.empty:
            raise AnalysisError(f"{context.question_id}: {entry.question} has no {entry.statistic} rows for "
                                f"indicator {entry.indicator!r}", field=f"{field}.indicator")
        if rows["method"].nunique() > 1:
            raise AnalysisError(f"{context.question_id}: {entry.question}.{entry.indicator} {entry.statistic} comes "
                                f"from several methods {sorted(rows['method'].dropna().unique())}; name one",
                                field=f"{field}.method")
        rows = rows.copy()
        headline = f"headline: {entry.label} ({entry.question}.{entry.indicator})"
        rows["note"] = [headline if pd.isna(old) or not str(old).strip() else f"{old}; {headline}"
                        for old in rows["note"]]
        rows["indicator"] = scorecard_indicator(entry.nos, entry.rba)
        parts.append(rows)
    out = result_frame(pd.concat(parts, ignore_index=True))
    out["question"] = context.question_id
    return out


# --------------------------------------------------------------------------------------------
# DEX SCORE
# --------------------------------------------------------------------------------------------


@register("dex_summary")
def run_dex_summary(units: pd.DataFrame, context: Context) -> pd.DataFrame:
    """DEX SCORE ratings before and after, aggregated for publication.

    For every scale of the instrument with a SCORE mapping (:mod:`pceval.score.dex`), at each
    phase (``pre`` and ``post`` for Circumstances and Goals, ``post`` for the others):

    - indicator ``dex_<scale>_<phase>``, ``statistic="count"``: women per rating
      (``breakdown="rating"``, groups ``1`` to ``5``) with the total as the overall row;
    - for pre/post scales, indicator ``dex_<scale>_improved``, ``statistic="proportion"``: the
      share of women with both ratings whose post rating is higher, Wilson interval, overall
      and by breakdown (service).

    The analysis's ``waves`` (pre, post) say which waves are the assessments; default the
    instrument's first and last. Ratings by service are not tabulated per rating: a service by
    rating table has two margins and the central suppression protects one.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> from pceval.instrument import load_instrument
    >>> inst = load_instrument("womens_survey")
    >>> units = pd.DataFrame({"pid": ["a", "a", "b", "b"], "service_id": ["S1"] * 4,
    ...                       "_wave": ["baseline", "followup"] * 2, "felt_safety": [2.0, 4.5, 3.0, 3.0]})
    >>> ctx = SimpleNamespace(question_id="q15", instrument=inst, breakdowns={"service_id": "service"},
    ...                       analysis=SimpleNamespace(waves={}))
    >>> out = run_dex_summary(units, ctx)
    >>> out.query("indicator == 'dex_felt_safety_improved'")[["group", "n", "numerator"]].values.tolist()
    [['all', 2, 1], ['S1', 2, 1]]
    """
    from pceval.score.dex import dex_records

    instrument = context.instrument
    waves = dict(getattr(context.analysis, "waves", {}) or {})
    records = dex_records(units, instrument, pre=waves.get("pre"), post=waves.get("post"))
    rows: list[dict] = []
    if records.empty:
        return result_frame([{"indicator": "dex", "statistic": "count", "n": 0,
                              "note": "no scale with a SCORE mapping has scores"}])
    service = next((c for c in context.breakdowns if c in units.columns), None)
    for scale in dict.fromkeys(records["scale"]):
        mine = records.loc[records["scale"] == scale]
        for phase in dict.fromkeys(mine["phase"]):
            ratings = mine.loc[mine["phase"] == phase, "rating"].astype(int)
            name = f"dex_{scale}_{phase}"
            total = len(ratings)
            rows.append({"indicator": name, "statistic": "count", "n": total, "numerator": total,
                         "estimate": total, "method": "dex"})
            counts = ratings.value_counts()
            for rating in range(1, 6):
                k = int(counts.get(rating, 0))
                rows.append({"indicator": name, "breakdown": "rating", "group": str(rating), "statistic": "count",
                             "n": k, "numerator": k, "estimate": k, "method": "dex"})
        if set(mine["phase"]) >= {"pre", "post"}:
            wide = mine.pivot(index="pid", columns="phase", values="rating").dropna()
            improved = (wide["post"].astype(int) > wide["pre"].astype(int)).astype(int).rename("improved")
            frame = improved.to_frame()
            if service is not None:
                frame[service] = units.drop_duplicates(PERSON_KEY).set_index(PERSON_KEY)[service].reindex(frame.index)
            name = f"dex_{scale}_improved"
            groups = [("overall", "all", frame)]
            if service is not None:
                groups += [(service, s, frame.loc[frame[service] == s])
                           for s in _natural([str(v) for v in frame[service].dropna().unique()])]
            for breakdown, group, part in groups:
                n, x = len(part), int(part["improved"].sum())
                low, high = wilson_interval(x, n)
                rows.append({"indicator": name, "breakdown": breakdown, "group": group, "statistic": "proportion",
                             "n": n, "numerator": x, "estimate": x / n if n else np.nan,
                             "ci_low": low, "ci_high": high, "method": "wilson"})
    return result_frame(rows)


