"""Models of outcomes: change across waves, binary outcomes, dose-response.

- ``mixed_change``: a linear mixed model of a score across waves (waves within women within
  services), with covariates and an optional column interacted with wave (Q8, Q9, Q10: does
  her benefit hold when he drops out?).
- ``logistic``: a binomial GLM for a 0/1 outcome, odds ratios per term and the average marginal
  difference of a focal term (no violence at follow-up; reached).
- ``regression``: OLS with cluster-robust standard errors by service (Q11 dose-response,
  exploratory, adjusted for baseline).

The equity, workforce, attrition and imputation methods live in ``models_equity`` and
``models_attrition``; importing this module registers them too.

Why the ``mixedlm`` package: statsmodels' ``MixedLM`` fits nested random intercepts (woman
within service) through a dense variance-component design; measured here it took 66 s for
1,500 women in 8 services. ``mixedlm`` (an lme4 port with a sparse Cholesky core) fitted the
same model in 0.3 s with the same estimates (to 4 decimals), and 100,000 women x 3 waves x 100
services in about 6 s. statsmodels remains available as ``engine: statsmodels`` and the tests
cross-check the two.
"""

from __future__ import annotations

import warnings
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field

from pceval.analyse.families.models_common import (
    Design,
    complete_rows,
    design_matrix,
    empty_row,
    evaluate,
    no_breakdowns,
    person_counts,
    require_columns,
    term_row,
    wald,
)
from pceval.analyse.registry import Context, Params, register
from pceval.errors import AnalysisError
from pceval.privacy.deidentify import PERSON_KEY
from pceval.results import result_frame

__all__ = ["covariate_patterns", "fit_logistic", "fit_mixed", "fit_ols", "fit_ols_absorbed"]

WAVE = "_wave"


# --------------------------------------------------------------------------------------------
# Linear mixed model of change across waves
# --------------------------------------------------------------------------------------------


class MixedChangeParams(Params):
    """Settings of ``mixed_change``.

    ``outcome`` a numeric column; ``waves`` the waves to model, the first the reference;
    ``covariates`` further terms; ``interaction`` a column whose levels each get their own wave
    contrasts (e.g. his program status); ``references`` reference levels of categorical terms;
    ``engine`` which implementation fits the model.
    """

    outcome: str
    waves: tuple[str, ...] = Field(min_length=2)
    covariates: tuple[str, ...] = ()
    interaction: str | None = None
    references: dict[str, str] = Field(default_factory=dict)
    engine: Literal["mixedlm", "statsmodels"] = "mixedlm"


def _mixed_units(units: pd.DataFrame, context: Context) -> pd.DataFrame:
    """Responses at the modelled waves with the outcome and every term present."""
    p: MixedChangeParams = context.params
    where = f"{context.question_id}.{context.analysis.id}.params"
    require_columns(units, [p.outcome, WAVE, PERSON_KEY], field=f"{where}.outcome")
    terms = [*p.covariates, *([p.interaction] if p.interaction else [])]
    require_columns(units, terms, field=f"{where}.covariates")
    keep = units[WAVE].isin(p.waves).fillna(False).to_numpy(dtype=bool)
    return complete_rows(units.loc[keep], [p.outcome, *terms])


def fit_mixed(y: np.ndarray, x: pd.DataFrame, service: np.ndarray, woman: np.ndarray, *,
              engine: str = "mixedlm") -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
    """Fit ``y ~ 1 + x`` with random intercepts for service and woman within service (REML).

    Parameters
    ----------
    y : array
        The outcome.
    x : DataFrame
        Fixed-effect columns (no intercept).
    service, woman : array
        Group labels. With one service only the woman's intercept is random.
    engine : {"mixedlm", "statsmodels"}

    Returns
    -------
    beta : array
        Intercept then one coefficient per column of ``x``.
    cov : array
        Their covariance matrix.
    variances : dict
        ``service``, ``woman`` and ``residual`` variance components.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> woman = np.repeat(np.arange(60), 2); service = woman % 3
    >>> x = pd.DataFrame({"later": np.tile([0.0, 1.0], 60)})
    >>> y = 3 + 0.5 * x["later"].to_numpy() + rng.normal(0, .7, 60)[woman] + rng.normal(0, .4, 120)
    >>> beta, cov, _ = fit_mixed(y, x, service, woman)
    >>> bool(abs(beta[1] - 0.5) < 3 * np.sqrt(cov[1, 1]))
    True
    """
    names = [f"c{i}" for i in range(x.shape[1])]
    data = pd.DataFrame(x.to_numpy(dtype="float64"), columns=names)
    data["y"] = np.asarray(y, dtype="float64")
    data["service"] = pd.Series(service).astype(str).to_numpy()
    data["woman"] = pd.Series(woman).astype(str).to_numpy()
    nested = data["service"].nunique() > 1
    fixed = " + ".join(names) if names else "1"
    if engine == "mixedlm":
        import mixedlm

        random = "(1|service) + (1|service:woman)" if nested else "(1|woman)"
        with warnings.catch_warnings(record=True) as caught:
            # mixedlm warns (UserWarning) of few services and of a boundary (zero service
            # variance) fit; both are legitimate here and become the row's note instead
            warnings.simplefilter("always", UserWarning)
            fit = mixedlm.lmer(f"y ~ {fixed} + {random}", data, REML=True)
        order = ["(Intercept)", *names]
        fixef = fit.fixef()
        beta = np.array([fixef[k] for k in order])
        cov = np.asarray(fit.vcov(), dtype="float64")
        variances = {"residual": float(fit.sigma) ** 2}
        for name, group in fit.VarCorr().groups.items():
            key = "service" if name == "service" else "woman"
            variances[key] = float(group.variance["(Intercept)"])
        if any("singular" in str(w.message) for w in caught):
            variances["_singular"] = 1.0
        return beta, cov, variances
    import statsmodels.formula.api as smf
    from statsmodels.tools.sm_exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        # the boundary (a zero service variance) is a legitimate REML solution
        warnings.simplefilter("ignore", ConvergenceWarning)
        if nested:
            model = smf.mixedlm(f"y ~ {fixed}", data, groups="service", re_formula="1",
                                vc_formula={"woman": "0 + C(woman)"})
        else:
            model = smf.mixedlm(f"y ~ {fixed}", data, groups="woman")
        fit = model.fit(reml=True)
    k = len(names) + 1
    beta = fit.fe_params.to_numpy()
    cov = np.asarray(fit.cov_params())[:k, :k]
    variances = {"residual": float(fit.scale)}
    if nested:
        variances["service"] = float(fit.cov_re.iloc[0, 0])
        variances["woman"] = float(fit.vcomp[0])
    else:
        variances["woman"] = float(fit.cov_re.iloc[0, 0])
    return beta, cov, variances


@register("mixed_change", params=MixedChangeParams, prepare=_mixed_units, cost=4)
def run_mixed_change(units: pd.DataFrame, context: Context) -> pd.DataFrame:
    """Wave contrasts of a score from a linear mixed model (waves within women within services).

    Model: ``outcome ~ wave [+ covariates] [+ interaction + wave:interaction]`` with random
    intercepts for the service and for the woman within the service, fitted by REML. Rows
    (``breakdown="term"``): each later wave against the first (``coefficient``); with an
    interaction, the wave contrast within each of its levels (``coefficient``, the linear
    combination with its own standard error) and the difference of that contrast from the
    reference level (``difference``); and each covariate's coefficient. Intervals are Wald
    (normal) intervals, as lme4's ``confint(method = "Wald")``.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> rng = np.random.default_rng(1)
    >>> pid = np.repeat([f"w{i}" for i in range(80)], 2)
    >>> units = pd.DataFrame({"pid": pid, "service_id": np.repeat(["A", "B"], 80),
    ...                       "_wave": np.tile(["baseline", "followup"], 80)})
    >>> units["score"] = 3 + 0.4 * (units["_wave"] == "followup") + rng.normal(0, .5, 160)
    >>> ctx = SimpleNamespace(params=MixedChangeParams(outcome="score", waves=["baseline", "followup"]),
    ...                       breakdowns={}, service="service_id", question_id="q", analysis=SimpleNamespace(id="a"))
    >>> out = run_mixed_change(units, ctx)
    >>> out.loc[0, "group"], int(out.loc[0, "n"]), round(float(out.loc[0, "estimate"]), 1)
    ('followup vs baseline', 80, 0.4)
    """
    no_breakdowns(context, "mixed_change")
    p: MixedChangeParams = context.params
    method = "mixedlm" if p.engine == "mixedlm" else "mixedlm_statsmodels"
    ref_wave, later = p.waves[0], p.waves[1:]
    labels = {w: f"{w} vs {ref_wave}" for w in later}
    frame = units.reset_index(drop=True)
    waves = frame[WAVE].astype("string")
    present = [w for w in later if waves.eq(w).any()]
    rows: list[dict[str, Any]] = []
    if not waves.eq(ref_wave).any() or not present or frame[PERSON_KEY].nunique() < 3:
        return result_frame([empty_row(p.outcome, labels[w], "coefficient", method,
                                       person_counts(frame, waves.eq(w).to_numpy()),
                                       "too few responses at these waves: no model")
                             for w in later])
    covariates = design_matrix(frame, p.covariates, references=p.references,
                               field=f"{context.question_id}.{context.analysis.id}.params.covariates")
    columns: dict[str, np.ndarray] = {f"wave={w}": waves.eq(w).to_numpy(dtype="float64") for w in present}
    columns.update({t.label: covariates.matrix[t.label].to_numpy() for t in covariates.terms})
    inter: Design | None = None
    if p.interaction:
        inter = design_matrix(frame, [p.interaction], references=p.references,
                              field=f"{context.question_id}.{context.analysis.id}.params.interaction")
        for t in inter.terms:
            columns[t.label] = inter.matrix[t.label].to_numpy()
        for w in present:
            for t in inter.terms:
                columns[f"wave={w}:{t.label}"] = columns[f"wave={w}"] * columns[t.label]
    x = pd.DataFrame(columns)
    # a level never seen at a wave gives an all-zero product column: it cannot be estimated
    x = x.loc[:, x.abs().sum(axis=0) > 0]
    index = {name: i + 1 for i, name in enumerate(x.columns)}
    beta, cov, variances = fit_mixed(frame[p.outcome].astype("float64").to_numpy(), x,
                                     frame[context.service].to_numpy(), frame[PERSON_KEY].to_numpy(),
                                     engine=p.engine)

    def combo(names: list[str]) -> dict[str, float]:
        vector = np.zeros(len(beta))
        for name in names:
            vector[index[name]] = 1.0
        return wald(float(vector @ beta), float(np.sqrt(vector @ cov @ vector)))

    n_services = frame[context.service].nunique()
    note = (f"random intercepts: service ({n_services}) and woman within service "
            f"({frame[PERSON_KEY].nunique()}); REML; Wald 95% CI")
    for w in later:
        at_wave = waves.eq(w).to_numpy()
        if w not in present:
            rows.append(empty_row(p.outcome, labels[w], "coefficient", method, 0, f"no responses at {w}"))
            continue
        if inter is None or inter.terms[0].level is None:
            label = labels[w] if inter is None else f"{labels[w]} | {p.interaction} at 0"
            rows.append(term_row(p.outcome, label, "coefficient", method,
                                 person_counts(frame, at_wave), combo([f"wave={w}"]), note=note))
            if inter is not None:
                name = f"wave={w}:{inter.terms[0].label}"
                if name in index:
                    rows.append(term_row(p.outcome, f"{labels[w]} x {p.interaction}", "difference", method,
                                         person_counts(frame, at_wave), combo([name])))
            continue
        level_of = frame[p.interaction].astype("string")
        ref = inter.references[p.interaction]
        in_ref = at_wave & level_of.eq(ref).to_numpy()
        rows.append(term_row(p.outcome, f"{labels[w]} | {p.interaction}={ref}", "coefficient", method,
                             person_counts(frame, in_ref), combo([f"wave={w}"]), note=note))
        for t in inter.terms:
            in_level = at_wave & level_of.eq(t.level).to_numpy()
            name = f"wave={w}:{t.label}"
            label = f"{labels[w]} | {t.label}"
            if name not in index:
                rows.append(empty_row(p.outcome, label, "coefficient", method, 0, f"no responses at {w}"))
                continue
            rows.append(term_row(p.outcome, label, "coefficient", method, person_counts(frame, in_level),
                                 combo([f"wave={w}", name])))
            rows.append(term_row(p.outcome, f"{labels[w]} | {t.label} vs {ref}", "difference", method,
                                 person_counts(frame, in_level), combo([name])))
    for t in covariates.terms:
        rows.append(term_row(p.outcome, t.label, "coefficient", method, covariates.n_of(frame, t),
                             combo([t.label])))
    parts = [variances.get(k, 0.0) for k in ("service", "woman", "residual")]
    icc_note = "share of the outcome's variance between services"
    if variances.get("_singular"):
        icc_note += "; boundary fit (a variance component estimated as zero)"
    rows.append({"indicator": p.outcome, "breakdown": "overall", "group": "all",
                 "statistic": "icc_service", "n": person_counts(frame),
                 "estimate": parts[0] / sum(parts) if sum(parts) > 0 else np.nan,
                 "method": method, "note": icc_note})
    return result_frame(rows)


# --------------------------------------------------------------------------------------------
# Logistic regression
# --------------------------------------------------------------------------------------------


class LogisticParams(Params):
    """Settings of ``logistic``: a 0/1 ``outcome`` (column or expression), ``terms``, the
    ``focal`` term whose average marginal difference is reported (default the first), and
    whether the model has a fixed effect per service."""

    outcome: str
    terms: tuple[str, ...] = Field(min_length=1)
    focal: str | None = None
    service_effects: bool = False
    references: dict[str, str] = Field(default_factory=dict)


def binary_outcome(units: pd.DataFrame, source: str, field: str) -> pd.Series:
    """The 0/1 outcome (missing where an answer it rests on is missing), or an AnalysisError."""
    y = evaluate(units, source, field=field, propagate_missing=True).astype("float64")
    bad = y.dropna()[~y.dropna().isin([0.0, 1.0])]
    if not bad.empty:
        raise AnalysisError(f"outcome {source!r} takes the value {bad.iloc[0]!r}; it must be 0 or 1",
                            field=field, fix="write the outcome as a condition, e.g. `violence_3m == 0`")
    return y


def covariate_patterns(exog: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct rows of a design matrix: the rows, each unit's row number, and the counts.

    Examples
    --------
    >>> rows, inverse, counts = covariate_patterns(np.array([[1., 0.], [1., 1.], [1., 0.]]))
    >>> rows.tolist(), inverse.tolist(), counts.tolist()
    ([[1.0, 0.0], [1.0, 1.0]], [0, 1, 0], [2, 1])
    """
    # column by column, each row's pattern so far is renumbered in order of first appearance:
    # exact, linear in the rows, and far quicker than sorting rows of a hundred columns
    inverse = np.zeros(len(exog), dtype="int64")
    for column in np.asarray(exog, dtype="float64").T:
        codes, levels = pd.factorize(column)
        inverse = pd.factorize(inverse * len(levels) + codes)[0]
    _, first = np.unique(inverse, return_index=True)
    return np.asarray(exog, dtype="float64")[first], inverse, np.bincount(inverse)


def fit_logistic(y: np.ndarray, x: pd.DataFrame, trials: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Binomial GLM (logit link) of ``y`` on an intercept and ``x``: coefficients and covariance.

    Women who share a covariate pattern (the same cohort and service, say) are fitted as one
    binomial row of successes out of trials: the likelihood differs only by a constant, so the
    estimates and their covariance are those of the row-per-woman fit, and a model with a fixed
    effect for each of 100 services fits in milliseconds rather than a minute. Rows already grouped by the caller give ``y`` as
    successes out of ``trials``.

    Examples
    --------
    >>> import statsmodels.api as sm
    >>> spector = sm.datasets.spector.load_pandas().data
    >>> beta, cov = fit_logistic(spector["GRADE"].to_numpy(), spector[["GPA", "TUCE", "PSI"]])
    >>> np.round(beta, 4).tolist()
    [-13.0213, 2.8261, 0.0952, 2.3787]
    """
    import statsmodels.api as sm
    from statsmodels.tools.sm_exceptions import PerfectSeparationWarning

    exog = np.column_stack([np.ones(len(x)), x.to_numpy(dtype="float64")])
    if trials is None:
        rows, inverse, trials = covariate_patterns(exog)
        successes = np.bincount(inverse, weights=np.asarray(y, dtype="float64"), minlength=len(rows))
    else:  # already one row per pattern: ``y`` successes out of ``trials``
        rows, successes, trials = exog, np.asarray(y, dtype="float64"), np.asarray(trials, dtype="float64")
    endog = np.column_stack([successes, trials - successes])
    # with as many patterns as parameters (a saturated model) the working regression inside
    # IRLS has no residual degrees of freedom; its scale is unused (the binomial's is 1), so
    # its 0/0 is harmless. Statsmodels also takes a saturated grouped fit, whose predictions
    # equal the observed shares, for perfect prediction; the check is made here as it is for
    # a row per woman: every woman predicted exactly.
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", PerfectSeparationWarning)
        fit = sm.GLM(endog, rows, family=sm.families.Binomial()).fit()
    observed = successes / trials
    if np.isin(observed, (0.0, 1.0)).all() and np.allclose(fit.fittedvalues, observed):
        warnings.warn("Perfect separation or prediction detected, parameter may not be identified",
                      PerfectSeparationWarning, stacklevel=2)
    return np.asarray(fit.params), np.asarray(fit.cov_params())


def _expit(v: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-v))


def marginal_difference(beta: np.ndarray, cov: np.ndarray, exog: np.ndarray, on: list[int],
                        set_to: np.ndarray | None, weights: np.ndarray | None = None) -> dict[str, float]:
    """Average marginal difference (categorical) or effect (numeric) of a logit term, delta-method SE.

    ``exog`` includes the intercept column; ``on`` the columns of the focal term. For a level
    of a categorical term, ``set_to`` holds the values of those columns at the level (the
    reference is all zeros): the estimate is the mean over all units of p(level) - p(reference).
    For a numeric term (``set_to`` None, one column) it is the mean of beta * p * (1 - p).
    Units sharing a covariate pattern are computed once and weighted by their number; pass
    the patterns of :func:`covariate_patterns` as ``exog`` and their counts as ``weights`` to
    collapse them once for several differences.

    Examples
    --------
    >>> exog = np.array([[1., 0.], [1., 1.], [1., 1.]])
    >>> out = marginal_difference(np.array([0., 1.]), np.eye(2) * .01, exog, [1], np.array([1.]))
    >>> round(out["estimate"], 4)
    0.2311
    """
    if weights is None:
        exog, _inverse, weights = covariate_patterns(exog)
    weights = np.asarray(weights, dtype="float64") / np.sum(weights)
    if set_to is None:
        j = on[0]
        p = _expit(exog @ beta)
        w = p * (1 - p)
        estimate = float(weights @ (beta[j] * w))
        grad = weights @ ((beta[j] * (w * (1 - 2 * p)))[:, None] * exog)
        grad[j] += float(weights @ w)
    else:
        x1, x0 = exog.copy(), exog.copy()
        x1[:, on] = set_to
        x0[:, on] = 0.0
        p1, p0 = _expit(x1 @ beta), _expit(x0 @ beta)
        estimate = float(weights @ (p1 - p0))
        grad = weights @ ((p1 * (1 - p1))[:, None] * x1 - (p0 * (1 - p0))[:, None] * x0)
    return wald(estimate, float(np.sqrt(grad @ cov @ grad)))


def service_dummies(frame: pd.DataFrame, service: str, y: np.ndarray | None = None) -> pd.DataFrame:
    """One 0/1 column per service but the first (a fixed effect per service)."""
    levels = sorted(frame[service].astype("string").dropna().unique())
    values = frame[service].astype("string")
    return pd.DataFrame({f"{service}={s}": values.eq(s).to_numpy(dtype="float64") for s in levels[1:]},
                        index=frame.index)


def varying_services(frame: pd.DataFrame, service: str, y: pd.Series) -> pd.Series:
    """Rows of services whose outcome varies: a service where every woman has the same outcome
    carries no information on the other terms once it has its own effect, and its effect is
    infinite (perfect separation)."""
    spread = y.groupby(frame[service]).transform("nunique")
    return spread.gt(1)


@register("logistic", params=LogisticParams)
def run_logistic(units: pd.DataFrame, context: Context) -> pd.DataFrame:
    """Odds ratios of a binary outcome per term, and the focal term's average marginal difference.

    Binomial GLM (statsmodels), optionally with a fixed effect per service. Rows: the share with
    the outcome (``proportion``); an ``odds_ratio`` per term (Wald interval, exponentiated); and
    for the focal term a ``marginal_difference`` per level against its reference (or a
    ``marginal_effect`` per unit of a numeric term): the average over the women of the change in
    predicted probability, with a delta-method interval.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> rng = np.random.default_rng(2)
    >>> units = pd.DataFrame({"pid": [f"w{i}" for i in range(400)], "service_id": "A",
    ...                       "group": rng.choice(["x", "y"], 400)})
    >>> units["safe"] = (rng.random(400) < np.where(units["group"] == "y", .7, .5)).astype(int)
    >>> ctx = SimpleNamespace(params=LogisticParams(outcome="safe", terms=["group"]), breakdowns={},
    ...                       service="service_id", question_id="q", analysis=SimpleNamespace(id="a"))
    >>> out = run_logistic(units, ctx)
    >>> out["statistic"].tolist()
    ['proportion', 'odds_ratio', 'marginal_difference']
    """
    no_breakdowns(context, "logistic")
    p: LogisticParams = context.params
    where = f"{context.question_id}.{context.analysis.id}.params"
    focal = p.focal or p.terms[0]
    if focal not in p.terms:
        raise AnalysisError(f"focal term {focal!r} is not one of the terms {p.terms}", field=f"{where}.focal")
    y_all = binary_outcome(units, p.outcome, f"{where}.outcome")
    require_columns(units, p.terms, field=f"{where}.terms")
    frame = units.assign(_y=y_all)
    frame = complete_rows(frame, ["_y", *p.terms]).reset_index(drop=True)
    method = "logit_service_fe" if p.service_effects else "logit"
    notes: list[str] = []
    if p.service_effects:
        keep = varying_services(frame, context.service, frame["_y"])
        if not keep.all():
            notes.append(f"{int((~keep).sum())} women in services where everyone had the same outcome "
                         "left out of the model")
        frame = frame.loc[keep].reset_index(drop=True)
    n_all = person_counts(frame)
    events = int(frame["_y"].sum()) if len(frame) else 0
    rows: list[dict[str, Any]] = [{
        "indicator": p.outcome, "breakdown": "overall", "group": "all", "statistic": "proportion",
        "n": n_all, "numerator": events, "estimate": events / n_all if n_all else np.nan,
        "method": method, "note": "; ".join(notes) or None}]
    design = design_matrix(frame, p.terms, references=p.references, field=f"{where}.terms") if len(frame) else None
    if design is None or events in (0, len(frame)) or len(frame) <= len(design.terms) + 2:
        for term in (design.terms if design else [_placeholder(t) for t in p.terms]):
            rows.append(empty_row(p.outcome, term.label, "odds_ratio", method,
                                  design.n_of(frame, term) if design else 0,
                                  "too few women, or no variation in the outcome: no model"))
        return result_frame(rows)
    x = design.matrix
    if p.service_effects:
        x = pd.concat([x, service_dummies(frame, context.service)], axis=1)
    x = x.loc[:, x.abs().sum(axis=0) > 0]
    beta, cov = fit_logistic(frame["_y"].to_numpy(), x)
    index = {name: i + 1 for i, name in enumerate(x.columns)}
    for term in design.terms:
        if term.label not in index:
            continue
        j = index[term.label]
        rows.append(term_row(p.outcome, term.label, "odds_ratio", method, design.n_of(frame, term),
                             wald(float(beta[j]), float(np.sqrt(cov[j, j]))), exponentiate=True))
    exog, _, counts = covariate_patterns(np.column_stack([np.ones(len(x)), x.to_numpy(dtype="float64")]))
    focal_terms = [t for t in design.terms if t.column == focal and t.label in index]
    on = [index[t.label] for t in focal_terms]
    for t in focal_terms:
        if t.level is None:
            values = marginal_difference(beta, cov, exog, on, None, weights=counts)
            statistic = "marginal_effect"
        else:
            set_to = np.array([1.0 if u.label == t.label else 0.0 for u in focal_terms])
            values = marginal_difference(beta, cov, exog, on, set_to, weights=counts)
            statistic = "marginal_difference"
        ref = design.references.get(focal)
        rows.append(term_row(p.outcome, t.label, statistic, f"{method}_ame", design.n_of(frame, t), values,
                             note=f"against {focal}={ref}" if ref is not None else None))
    return result_frame(rows)


def _placeholder(column: str):
    from pceval.analyse.families.models_common import Term

    return Term(column, column)


# --------------------------------------------------------------------------------------------
# OLS with cluster-robust standard errors
# --------------------------------------------------------------------------------------------


class RegressionParams(Params):
    """Settings of ``regression``: a numeric ``outcome`` (column or expression), ``terms``, and
    the ``cluster`` column for robust standard errors (``service``, the default, means the
    service column; null for heteroskedasticity-robust HC1 without clusters)."""

    outcome: str
    terms: tuple[str, ...] = Field(min_length=1)
    cluster: str | None = "service"
    references: dict[str, str] = Field(default_factory=dict)


def fit_ols_absorbed(y: np.ndarray, x: pd.DataFrame, groups: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """OLS of ``y`` on ``x`` with a fixed effect per group, absorbed: coefficients of ``x``, HC1.

    By the Frisch-Waugh-Lovell theorem, regressing the within-group deviations of ``y`` on
    those of ``x`` gives the coefficients and residuals of the regression with an intercept
    and a dummy per group, and the same heteroskedasticity-robust sandwich; HC1's small-sample
    factor counts the absorbed parameters, so the result equals :func:`fit_ols` with
    :func:`service_dummies` without building a column per group.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> frame = pd.DataFrame({"g": rng.choice(list("abc"), 200), "x": rng.normal(size=200)})
    >>> y = frame["x"] * 2 + frame["g"].map({"a": 0, "b": 1, "c": 3}) + rng.normal(size=200)
    >>> beta, cov = fit_ols_absorbed(y.to_numpy(), frame[["x"]], frame["g"])
    >>> full, full_cov, _ = fit_ols(y.to_numpy(), pd.concat([frame[["x"]], service_dummies(frame, "g")], axis=1), None)
    >>> bool(np.isclose(beta[0], full[1])), bool(np.isclose(cov[0, 0], full_cov[1, 1]))
    (True, True)
    """
    import statsmodels.api as sm

    codes = pd.factorize(pd.Series(groups).astype("string"))[0]
    values = np.column_stack([np.asarray(y, dtype="float64"), x.to_numpy(dtype="float64")])
    sums = np.zeros((codes.max() + 1, values.shape[1]))
    np.add.at(sums, codes, values)
    within = values - (sums / np.bincount(codes)[:, None])[codes]
    fit = sm.OLS(within[:, 0], within[:, 1:]).fit(cov_type="HC0")
    n, k = len(within), within.shape[1] - 1 + int(codes.max()) + 1
    return np.asarray(fit.params), np.asarray(fit.cov_params()) * n / (n - k)


def fit_ols(y: np.ndarray, x: pd.DataFrame, clusters: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, float | None]:
    """OLS of ``y`` on an intercept and ``x`` with cluster-robust (CR1) or HC1 covariance.

    Returns coefficients, covariance and the degrees of freedom of t intervals (clusters - 1,
    as Stata and statsmodels with ``use_t``; None for HC1, which uses the normal).
    """
    import statsmodels.api as sm

    exog = np.column_stack([np.ones(len(x)), x.to_numpy(dtype="float64")])
    model = sm.OLS(np.asarray(y, dtype="float64"), exog)
    if clusters is None:
        fit = model.fit(cov_type="HC1")
        return np.asarray(fit.params), np.asarray(fit.cov_params()), None
    codes = pd.factorize(pd.Series(clusters))[0]
    fit = model.fit(cov_type="cluster", cov_kwds={"groups": codes}, use_t=True)
    return np.asarray(fit.params), np.asarray(fit.cov_params()), float(len(np.unique(codes)) - 1)


@register("regression", params=RegressionParams)
def run_regression(units: pd.DataFrame, context: Context) -> pd.DataFrame:
    """Coefficients of a linear regression with cluster-robust standard errors (by service).

    For dose-response (exploratory): the follow-up score on dose, adjusted for the baseline
    score and risk tier. Rows: a ``coefficient`` per term (``breakdown="term"``) with a CR1
    interval on clusters - 1 degrees of freedom. With fewer than 2 clusters the covariance is
    HC1 and the row says so.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> rng = np.random.default_rng(3)
    >>> units = pd.DataFrame({"pid": range(300), "service_id": rng.choice(list("ABCDEF"), 300),
    ...                       "contacts": rng.poisson(4, 300)})
    >>> units["score"] = 3 + 0.1 * units["contacts"] + rng.normal(0, .5, 300)
    >>> ctx = SimpleNamespace(params=RegressionParams(outcome="score", terms=["contacts"]), breakdowns={},
    ...                       service="service_id", question_id="q", analysis=SimpleNamespace(id="a"))
    >>> out = run_regression(units, ctx)
    >>> out.loc[0, "group"], round(float(out.loc[0, "estimate"]), 1)
    ('contacts', 0.1)
    """
    no_breakdowns(context, "regression")
    p: RegressionParams = context.params
    where = f"{context.question_id}.{context.analysis.id}.params"
    cluster = context.service if p.cluster == "service" else p.cluster
    if cluster is not None:
        require_columns(units, [cluster], field=f"{where}.cluster")
    y_all = evaluate(units, p.outcome, field=f"{where}.outcome", propagate_missing=True)
    frame = complete_rows(units.assign(_y=pd.to_numeric(y_all, errors="coerce")),
                          ["_y", *p.terms, cluster]).reset_index(drop=True)
    design = design_matrix(frame, p.terms, references=p.references, field=f"{where}.terms") if len(frame) else None
    method = "ols_cluster" if cluster is not None else "ols_hc1"
    if design is None or len(frame) <= len(design.terms) + 2:
        return result_frame([empty_row(p.outcome, t, "coefficient", method, person_counts(frame),
                                       "too few women: no model") for t in p.terms])
    x = design.matrix.loc[:, design.matrix.abs().sum(axis=0) > 0]
    groups = frame[cluster].to_numpy() if cluster is not None else None
    note = None
    if groups is not None and pd.Series(groups).nunique() < 2:
        groups, method, note = None, "ols_hc1", "one cluster only: HC1 standard errors"
    beta, cov, df = fit_ols(frame["_y"].to_numpy(), x, groups)
    if groups is not None:
        note = f"cluster-robust (CR1) by {p.cluster} ({int(df) + 1} clusters), t on {int(df)} df"
    index = {name: i + 1 for i, name in enumerate(x.columns)}
    rows = []
    for term in design.terms:
        if term.label not in index:
            continue
        j = index[term.label]
        rows.append(term_row(p.outcome, term.label, "coefficient", method, design.n_of(frame, term),
                             wald(float(beta[j]), float(np.sqrt(cov[j, j])), df=df), note=note))
    return result_frame(rows)
