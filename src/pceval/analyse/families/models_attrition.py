"""Response and attrition: who is missing at follow-up, and does it bias the answer?

- ``attrition``: among women with a baseline response, the share who answered at the later
  wave, overall and by breakdown, and a logistic model of retention on baseline
  characteristics.
- ``mice_sensitivity``: the main outcome model (the later score on the baseline score and
  baseline characteristics) on complete cases beside its multiple-imputation estimate
  (statsmodels MICE, chained equations with predictive mean matching, pooled by Rubin's rules).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from pydantic import Field

from pceval.analyse.families.models import fit_logistic, fit_ols
from pceval.analyse.families.models_common import (
    complete_rows,
    design_matrix,
    empty_row,
    require_columns,
    term_row,
    wald,
)
from pceval.analyse.methods import proportions
from pceval.analyse.registry import Context, Params, register
from pceval.errors import AnalysisError
from pceval.privacy.deidentify import PERSON_KEY
from pceval.results import result_frame

__all__ = ["baseline_frame"]

WAVE = "_wave"


def baseline_frame(units: pd.DataFrame, *, pre: str, post: str, outcome: str | None,
                   field: str) -> pd.DataFrame:
    """One row per woman with a response at ``pre``: her baseline row, ``retained`` (0/1: she
    answered at ``post``, with ``outcome`` present when one is named) and ``_post`` (the
    outcome at ``post``).

    Examples
    --------
    >>> units = pd.DataFrame({"pid": ["a", "a", "b", "c"], "_wave": ["baseline", "followup", "baseline", "followup"],
    ...                       "score": [2.0, 3.0, 2.5, 4.0]})
    >>> baseline_frame(units, pre="baseline", post="followup", outcome="score", field="x")[["pid", "retained", "_post"]].values.tolist()
    [['a', 1, 3.0], ['b', 0, nan]]
    """
    require_columns(units, [PERSON_KEY, WAVE], field=field)
    if outcome is not None:
        require_columns(units, [outcome], field=f"{field}.outcome")
    waves = units[WAVE].astype("string")
    if not waves.eq(pre).any():
        raise AnalysisError(f"no responses at wave {pre!r}", field=f"{field}.pre")
    base = units.loc[waves.eq(pre).fillna(False)].drop_duplicates(PERSON_KEY, keep="last")
    later = units.loc[waves.eq(post).fillna(False)]
    if outcome is not None:
        later = later.loc[later[outcome].notna()]
    later = later.drop_duplicates(PERSON_KEY, keep="last").set_index(PERSON_KEY)
    out = base.reset_index(drop=True)
    out["retained"] = out[PERSON_KEY].isin(later.index).astype("int64")
    if outcome is not None:
        out["_post"] = out[PERSON_KEY].map(later[outcome]).astype("float64")
    return out


class AttritionParams(Params):
    """Settings of ``attrition``: the ``pre`` and ``post`` waves, baseline ``predictors`` of
    retention, and an ``outcome`` that must be present for a later response to count."""

    pre: str
    post: str
    predictors: tuple[str, ...] = ()
    outcome: str | None = None
    references: dict[str, str] = Field(default_factory=dict)


@register("attrition", params=AttritionParams)
def run_attrition(units: pd.DataFrame, context: Context) -> pd.DataFrame:
    """Share of baseline respondents retained at the later wave, and who is missing.

    Rows: ``proportion`` retained (Wilson) overall and by each breakdown (its value at the
    baseline response); an ``odds_ratio`` of retention per predictor term from a logistic model
    (``breakdown="term"``), on the women with every predictor.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> rng = np.random.default_rng(5)
    >>> base = pd.DataFrame({"pid": range(300), "_wave": "baseline", "score": rng.normal(3, .6, 300)})
    >>> later = base.loc[rng.random(300) < 0.5].assign(_wave="followup")
    >>> ctx = SimpleNamespace(params=AttritionParams(pre="baseline", post="followup", predictors=["score"]),
    ...                       breakdowns={}, service="service_id", question_id="q", analysis=SimpleNamespace(id="a"))
    >>> run_attrition(pd.concat([base, later]), ctx)["statistic"].tolist()
    ['proportion', 'odds_ratio']
    """
    p: AttritionParams = context.params
    field = f"{context.question_id}.{context.analysis.id}.params"
    frame = baseline_frame(units, pre=p.pre, post=p.post, outcome=p.outcome, field=field)
    parts = [proportions(frame, indicators={"retained": "retained"}, question=context.question_id)]
    for column in context.breakdowns:
        parts.append(proportions(frame, indicators={"retained": "retained"}, by=column,
                                 question=context.question_id, overall=False))
    rows: list[dict[str, Any]] = []
    if p.predictors:
        require_columns(frame, p.predictors, field=f"{field}.predictors")
        data = complete_rows(frame, p.predictors).reset_index(drop=True)
        retained = int(data["retained"].sum()) if len(data) else 0
        design = design_matrix(data, p.predictors, references=p.references, field=f"{field}.predictors") \
            if len(data) else None
        if design is None or retained in (0, len(data)) or len(data) <= len(design.terms) + 2:
            labels = [t.label for t in design.terms] if design else p.predictors
            rows = [empty_row("retained", label, "odds_ratio", "logit_retention", 0,
                              "too few women, or everyone (or no one) retained: no model") for label in labels]
        else:
            x = design.matrix.loc[:, design.matrix.abs().sum(axis=0) > 0]
            beta, cov = fit_logistic(data["retained"].to_numpy(), x)
            index = {name: i + 1 for i, name in enumerate(x.columns)}
            for term in design.terms:
                if term.label in index:
                    j = index[term.label]
                    rows.append(term_row("retained", term.label, "odds_ratio", "logit_retention",
                                         design.n_of(data, term), wald(float(beta[j]), float(np.sqrt(cov[j, j]))),
                                         exponentiate=True))
    out = pd.concat([*parts, result_frame(rows)], ignore_index=True)
    out["method"] = out["method"].where(out["statistic"] != "proportion", "wilson")
    return result_frame(out)


class MiceParams(Params):
    """Settings of ``mice_sensitivity``: the ``outcome`` at ``pre`` and ``post``; baseline
    ``predictors`` beside the baseline outcome; the ``focal`` terms to report (default all);
    ``n_imputations`` (20), ``burn_in`` cycles (10) and the ``seed``."""

    outcome: str
    pre: str
    post: str
    predictors: tuple[str, ...] = ()
    focal: tuple[str, ...] = ()
    n_imputations: int = Field(20, ge=2)
    burn_in: int = Field(10, ge=1)
    seed: int = 0
    references: dict[str, str] = Field(default_factory=dict)


def mice_ols(frame: pd.DataFrame, outcome: str, predictors: list[str], *, n_imputations: int,
             burn_in: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Rubin-pooled OLS coefficients (intercept first) and standard errors by statsmodels MICE.

    ``frame`` holds numeric columns only; missing values in any of them are imputed by chained
    equations with predictive mean matching, drawing from a generator seeded with ``seed``: the
    same seed gives the same result.
    """
    import statsmodels.api as sm
    from statsmodels.imputation.mice import MICE, MICEData

    with warnings.catch_warnings():
        # MICEData warns when a column has nothing missing to impute; harmless here
        warnings.simplefilter("ignore", UserWarning)
        data = MICEData(frame.reset_index(drop=True), rng=np.random.default_rng(seed))
        formula = f"{outcome} ~ " + (" + ".join(predictors) if predictors else "1")
        result = MICE(formula, sm.OLS, data).fit(n_burnin=burn_in, n_imputations=n_imputations)
    return np.asarray(result.params), np.asarray(result.bse)


@register("mice_sensitivity", params=MiceParams, cost=8)
def run_mice_sensitivity(units: pd.DataFrame, context: Context) -> pd.DataFrame:
    """The main outcome model on complete cases beside its multiple-imputation estimate.

    Model: the outcome at ``post`` on the outcome at ``pre`` and the predictors, among the women
    with a baseline score. Complete cases use the women who answered at ``post``
    (``ols_complete_case``, n = those women); multiple imputation imputes the missing later
    scores (and missing predictors) by chained equations and pools ``n_imputations`` fits by
    Rubin's rules (``mice_ols``, n = every woman with a baseline). Rows are ``coefficient`` per
    reported term, with normal 95% intervals. If the two disagree, attrition matters.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> rng = np.random.default_rng(6)
    >>> base = pd.DataFrame({"pid": range(200), "_wave": "baseline", "score": rng.normal(3, .6, 200),
    ...                      "left": rng.integers(0, 2, 200)})
    >>> post = base.assign(_wave="followup", score=base["score"] + .4 - .2 * base["left"] + rng.normal(0, .4, 200))
    >>> post = post.loc[rng.random(200) < .6]
    >>> ctx = SimpleNamespace(params=MiceParams(outcome="score", pre="baseline", post="followup", predictors=["left"],
    ...                       n_imputations=5), breakdowns={}, service="service_id", question_id="q",
    ...                       analysis=SimpleNamespace(id="a"))
    >>> run_mice_sensitivity(pd.concat([base, post]), ctx)[["group", "method"]].values.tolist()
    [['score at baseline', 'ols_complete_case'], ['score at baseline', 'mice_ols'], ['left', 'ols_complete_case'], ['left', 'mice_ols']]
    """
    p: MiceParams = context.params
    field = f"{context.question_id}.{context.analysis.id}.params"
    frame = baseline_frame(units, pre=p.pre, post=p.post, outcome=p.outcome, field=field)
    require_columns(frame, p.predictors, field=f"{field}.predictors")
    frame = frame.loc[frame[p.outcome].notna()].reset_index(drop=True)
    baseline_label = f"{p.outcome} at {p.pre}"
    rows: list[dict[str, Any]] = []
    design = design_matrix(frame, p.predictors, references=p.references, field=f"{field}.predictors") \
        if p.predictors and len(frame) else None
    columns = {"y_post": frame["_post"].to_numpy() if len(frame) else np.array([]),
               "y_pre": frame[p.outcome].astype("float64").to_numpy()}
    labels = {"y_pre": baseline_label}
    n_of = {"y_pre": len(frame)}
    if design is not None:
        for i, term in enumerate(design.terms):
            values = design.matrix[term.label].to_numpy()
            # a missing predictor stays missing (MICE imputes it), not a 0 in every dummy
            values = np.where(frame[term.column].isna().to_numpy(), np.nan, values)
            columns[f"x{i}"] = values
            labels[f"x{i}"] = term.label
            n_of[f"x{i}"] = design.n_of(frame, term)
    data = pd.DataFrame(columns)
    wanted = set(p.focal)
    report = [c for c in labels if not wanted or labels[c] in wanted
              or (c == "y_pre" and p.outcome in wanted) or _column_of(design, labels[c]) in wanted]
    complete = data.dropna()
    retained = int(data["y_post"].notna().sum())
    too_few = len(complete) <= len(labels) + 2 or data["y_post"].isna().all()
    predictors = list(labels)
    if too_few:
        for c in report:
            for method in ("ols_complete_case", "mice_ols"):
                rows.append(empty_row(p.outcome, labels[c], "coefficient", method, retained,
                                      "too few women with both waves: no model"))
        return result_frame(rows)
    beta, cov, _ = fit_ols(complete["y_post"].to_numpy(), complete[predictors], None)
    data = data.loc[:, data.notna().any(axis=0)]
    mi_beta, mi_se = mice_ols(data, "y_post", predictors, n_imputations=p.n_imputations, burn_in=p.burn_in,
                              seed=p.seed)
    for c in report:
        j = predictors.index(c) + 1
        answered = data["y_post"].notna()
        cc_n = int((answered & data[c].eq(1)).sum()) if _is_dummy(design, labels[c]) else retained
        rows.append(term_row(p.outcome, labels[c], "coefficient", "ols_complete_case",
                             cc_n,
                             wald(float(beta[j]), float(np.sqrt(cov[j, j]))),
                             note=f"women with both waves ({retained}); HC1"))
        rows.append(term_row(p.outcome, labels[c], "coefficient", "mice_ols", n_of[c],
                             wald(float(mi_beta[j]), float(mi_se[j])),
                             note=f"{p.n_imputations} imputations of {len(data)} women with a baseline; "
                                  "Rubin's rules"))
    return result_frame(rows)


def _column_of(design, label: str) -> str | None:
    if design is None:
        return None
    for term in design.terms:
        if term.label == label:
            return term.column
    return None


def _is_dummy(design, label: str) -> bool:
    return design is not None and any(t.label == label and t.level is not None for t in design.terms)
