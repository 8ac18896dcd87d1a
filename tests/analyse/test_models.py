"""Model methods: values against published references and a second implementation, and the
generator's known effects recovered from a synthetic evaluation."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import yaml

from pceval.analyse.families.models import (
    LogisticParams,
    MixedChangeParams,
    RegressionParams,
    fit_mixed,
    run_logistic,
    run_mixed_change,
    run_regression,
)
from pceval.analyse.families.models_attrition import MiceParams, mice_ols, run_mice_sensitivity
from pceval.analyse.families.models_equity import EquityParams, fisher_interval, run_equity_gap
from pceval.analyse.plan import Plan
from pceval.analyse.registry import DisclosureRules, get_method
from pceval.analyse.run import run_question
from pceval.errors import AnalysisError
from pceval.report.figures_models import FIGURES, alt_text_models
from pceval.results import RESULT_COLUMNS

PLAN = Path(__file__).resolve().parents[2] / "analysis" / "plan.yml"
#: the plan's questions answered by the model methods
MODEL_QUESTIONS = ("q06_equity", "q07_experience", "q08_safety", "q09_space_wellbeing", "q10_his_status",
                   "q11_dose_response", "q14_workforce", "attrition")


def _context(params, *, breakdowns=None, indicators=()):
    return SimpleNamespace(params=params, breakdowns=breakdowns or {}, service="service_id", question_id="q",
                           analysis=SimpleNamespace(id="a", indicators=indicators))


def _term(result: pd.DataFrame, group: str, statistic: str | None = None, method: str | None = None) -> pd.Series:
    rows = result[result["group"] == group]
    if statistic:
        rows = rows[rows["statistic"] == statistic]
    if method:
        rows = rows[rows["method"] == method]
    assert len(rows) == 1, rows
    return rows.iloc[0]


# --------------------------------------------------------------------------------------------
# Logistic regression: Spector & Mazzeo (1980) as published in Greene, Econometric Analysis
# (5th ed., Table 21.1), the reference results in statsmodels' own tests
# (statsmodels/discrete/tests/results/results_discrete.py, Spector.logit)
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def spector() -> pd.DataFrame:
    import statsmodels.api as sm

    data = sm.datasets.spector.load_pandas().data
    return data.assign(pid=[f"s{i}" for i in range(len(data))], service_id="A")


def test_logistic_reproduces_the_published_spector_coefficients(spector):
    out = run_logistic(spector, _context(LogisticParams(outcome="GRADE", terms=["GPA", "TUCE", "PSI"])))
    published = {"GPA": (2.82611297, 1.26294), "TUCE": (0.09515766, 0.14158), "PSI": (2.37868772, 1.06456)}
    for term, (coef, se) in published.items():
        row = _term(out, term, "odds_ratio")
        assert np.log(row["estimate"]) == pytest.approx(coef, abs=1e-4)
        # the Wald interval's half-width on the log scale is 1.96 standard errors
        assert (np.log(row["ci_high"]) - np.log(row["ci_low"])) / (2 * 1.959964) == pytest.approx(se, abs=1e-4)
    assert _term(out, "all", "proportion")["numerator"] == 11


def test_average_marginal_difference_matches_statsmodels_margeff(spector):
    import statsmodels.api as sm

    data = spector.assign(psi=spector["PSI"].map({0.0: "no", 1.0: "yes"}))
    out = run_logistic(data, _context(LogisticParams(outcome="GRADE", terms=["psi", "GPA", "TUCE"],
                                                     references={"psi": "no"})))
    fit = sm.Logit(spector["GRADE"], sm.add_constant(spector[["PSI", "GPA", "TUCE"]])).fit(disp=0)
    margeff = fit.get_margeff(at="overall", dummy=True)
    row = _term(out, "psi=yes", "marginal_difference")
    assert row["estimate"] == pytest.approx(margeff.margeff[0], abs=1e-6)
    assert (row["ci_high"] - row["ci_low"]) / (2 * 1.959964) == pytest.approx(margeff.margeff_se[0], abs=1e-5)
    # a numeric focal term: the average derivative
    out = run_logistic(spector, _context(LogisticParams(outcome="GRADE", terms=["GPA", "TUCE", "PSI"])))
    fit = sm.Logit(spector["GRADE"], sm.add_constant(spector[["GPA", "TUCE", "PSI"]])).fit(disp=0)
    margeff = fit.get_margeff(at="overall")
    row = _term(out, "GPA", "marginal_effect")
    assert row["estimate"] == pytest.approx(margeff.margeff[0], abs=1e-6)
    assert (row["ci_high"] - row["ci_low"]) / (2 * 1.959964) == pytest.approx(margeff.margeff_se[0], abs=1e-5)


def test_logistic_outcome_expression_keeps_missing_answers_missing():
    units = pd.DataFrame({"pid": range(8), "service_id": "A", "v": pd.array([0, 1, None, 0, 1, 0, 1, 0], "Int64"),
                          "x": [1.0, 2, 3, 4, 5, 6, 7, 8]})
    out = run_logistic(units, _context(LogisticParams(outcome="v == 0", terms=["x"])))
    # the woman who did not answer is not counted as "violence"
    assert _term(out, "all", "proportion")["n"] == 7
    with pytest.raises(AnalysisError, match="must be 0 or 1"):
        run_logistic(units, _context(LogisticParams(outcome="x", terms=["v"])))


# --------------------------------------------------------------------------------------------
# OLS with cluster-robust standard errors: against the sandwich computed by hand
# --------------------------------------------------------------------------------------------


def test_cluster_robust_ols_matches_a_hand_sandwich():
    rng = np.random.default_rng(11)
    n, services = 240, list("ABCDEFGHIJ")
    units = pd.DataFrame({"pid": range(n), "service_id": rng.choice(services, n),
                          "contacts": rng.poisson(5, n).astype(float), "tier": rng.choice(["low", "high"], n)})
    shock = dict(zip(services, rng.normal(0, 0.4, len(services)), strict=True))
    units["score"] = (2 + 0.08 * units["contacts"] + 0.3 * (units["tier"] == "high")
                      + units["service_id"].map(shock) + rng.normal(0, 0.5, n))
    out = run_regression(units, _context(RegressionParams(outcome="score", terms=["contacts", "tier"],
                                                          references={"tier": "low"})))
    x = np.column_stack([np.ones(n), units["contacts"], (units["tier"] == "high").astype(float)])
    y = units["score"].to_numpy()
    bread = np.linalg.inv(x.T @ x)
    beta = bread @ x.T @ y
    resid = y - x @ beta
    meat = sum(np.outer(x[g].T @ resid[g], x[g].T @ resid[g])
               for g in [units["service_id"].eq(s).to_numpy() for s in services])
    groups, k = len(services), x.shape[1]
    cov = groups / (groups - 1) * (n - 1) / (n - k) * bread @ meat @ bread
    from scipy import stats

    crit = stats.t.ppf(0.975, groups - 1)
    for j, label in ((1, "contacts"), (2, "tier=high")):
        row = _term(out, label)
        assert row["estimate"] == pytest.approx(beta[j], rel=1e-9)
        assert row["ci_high"] - row["estimate"] == pytest.approx(crit * np.sqrt(cov[j, j]), rel=1e-8)
    assert _term(out, "tier=high")["n"] == int((units["tier"] == "high").sum())


# --------------------------------------------------------------------------------------------
# Mixed models: lme4's published sleepstudy fit, and mixedlm against statsmodels MixedLM
# --------------------------------------------------------------------------------------------


def test_mixedlm_reproduces_lme4_on_sleepstudy():
    import mixedlm

    # lme4 (Bates, Maechler, Bolker & Walker 2015), lmer(Reaction ~ Days + (1 | Subject), sleepstudy):
    # (Intercept) 251.4051 (SE 9.7467), Days 10.4673 (SE 0.8042)
    with warnings.catch_warnings():
        # mixedlm's loader passes pandas a deprecated read_csv argument
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        data = mixedlm.load_sleepstudy()
    beta, cov, variances = fit_mixed(data["Reaction"].to_numpy(), data[["Days"]], np.zeros(len(data)),
                                     data["Subject"].to_numpy())
    assert beta == pytest.approx([251.4051, 10.4673], abs=1e-4)
    assert np.sqrt(np.diag(cov)) == pytest.approx([9.7467, 0.8042], abs=1e-4)
    assert variances["woman"] == pytest.approx(1378.18, abs=0.01)


def _panel(seed: int, women: int, services: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    service = rng.integers(0, services, women)
    left = rng.random(women) < 0.4
    rows = pd.DataFrame({"pid": np.repeat([f"w{i}" for i in range(women)], 3),
                         "service_id": np.repeat([f"S{s}" for s in service], 3),
                         "_wave": np.tile(["baseline", "exit", "followup"], women),
                         "he_left": np.repeat(np.where(left, "yes", "no"), 3)})
    effect = np.tile([0.0, 0.27, 0.45], women) - np.tile([0.0, 0.12, 0.2], women) * np.repeat(left, 3)
    level = rng.normal(0, 0.3, services)[service] + rng.normal(0, 0.6, women)
    rows["score"] = 2.8 + np.repeat(level, 3) + effect + rng.normal(0, 0.5, 3 * women)
    return rows.loc[rng.random(3 * women) < np.tile([1.0, 0.6, 0.5], women)].reset_index(drop=True)


def test_mixedlm_and_statsmodels_agree_on_the_nested_model():
    units = _panel(3, 90, 5)
    params = {"outcome": "score", "waves": ["baseline", "exit", "followup"], "interaction": "he_left",
              "references": {"he_left": "no"}}
    fast = run_mixed_change(units, _context(MixedChangeParams(**params)))
    slow = run_mixed_change(units, _context(MixedChangeParams(**params, engine="statsmodels")))
    terms = fast[fast["breakdown"] == "term"]
    assert len(terms) == 6
    for a, b in zip(terms.itertuples(), slow[slow["breakdown"] == "term"].itertuples(), strict=True):
        assert a.group == b.group and a.n == b.n
        assert a.estimate == pytest.approx(b.estimate, abs=1e-3)
        assert a.ci_low == pytest.approx(b.ci_low, abs=2e-3)


def test_mixed_change_rows_and_small_groups():
    units = _panel(5, 300, 6)
    out = run_mixed_change(units, _context(MixedChangeParams(outcome="score", waves=["baseline", "exit", "followup"],
                                                             interaction="he_left", references={"he_left": "no"})))
    stayed = _term(out, "followup vs baseline | he_left=no")
    left = _term(out, "followup vs baseline | he_left=yes", "coefficient")
    diff = _term(out, "followup vs baseline | he_left=yes vs no", "difference")
    assert stayed["ci_low"] < 0.45 < stayed["ci_high"] and left["ci_low"] < 0.25 < left["ci_high"]
    assert diff["estimate"] == pytest.approx(left["estimate"] - stayed["estimate"], abs=1e-9)
    followers = units.loc[(units["_wave"] == "followup") & (units["he_left"] == "yes"), "pid"].nunique()
    assert left["n"] == followers
    # one woman cannot be modelled: a row with a note, not a crash
    tiny = run_mixed_change(units[units["pid"] == "w0"], _context(MixedChangeParams(outcome="score",
                                                                                   waves=["baseline", "followup"])))
    assert tiny["estimate"].isna().all() and tiny["note"].notna().all()
    with pytest.raises(AnalysisError, match="takes no breakdowns"):
        run_mixed_change(units, _context(MixedChangeParams(outcome="score", waves=["baseline", "exit"]),
                                         breakdowns={"service_id": "service"}))


# --------------------------------------------------------------------------------------------
# Equity gaps, correlations, multiple imputation
# --------------------------------------------------------------------------------------------


def test_equity_gap_newcombe_interval_matches_newcombe_1998():
    # Newcombe (1998) Statistics in Medicine 17:873-890, Table II example (a): 56/70 against
    # 48/80, difference 0.2, method 10 (hybrid score) interval 0.0524 to 0.3339
    cohort = np.r_[np.ones(56), np.zeros(14), np.ones(48), np.zeros(32)]
    units = pd.DataFrame({"pid": range(150), "service_id": "A", "reached": cohort,
                          "cald": ["yes"] * 70 + ["no"] * 80})
    params = EquityParams(cohorts=[{"column": "cald", "codes": ["yes"]}], indicators=["reached"])
    out = run_equity_gap(units, _context(params))
    row = _term(out, "yes", "difference")
    assert row["estimate"] == pytest.approx(0.2, abs=1e-12)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((0.0524, 0.3339), abs=1e-4)
    assert row["n"] == 70 and row["numerator"] == 56


def test_fisher_interval_and_caseload_method_registered():
    # Pearson r = 0.5 on 28 pairs: tanh(atanh(0.5) -/+ 1.96 / 5)
    assert fisher_interval(0.5, 28, spearman=False) == pytest.approx((0.1560, 0.7358), abs=1e-4)
    assert fisher_interval(0.3, 3) == (pytest.approx(np.nan, nan_ok=True), pytest.approx(np.nan, nan_ok=True))
    assert get_method("caseload").pool is False


def test_mice_under_mcar_is_close_to_the_full_data_estimate():
    rng = np.random.default_rng(8)
    n = 600
    frame = pd.DataFrame({"y_pre": rng.normal(3, 0.6, n), "x0": rng.integers(0, 2, n).astype(float)})
    frame["y_post"] = 0.6 + 0.8 * frame["y_pre"] - 0.25 * frame["x0"] + rng.normal(0, 0.4, n)
    full = np.linalg.lstsq(np.column_stack([np.ones(n), frame[["y_pre", "x0"]]]), frame["y_post"], rcond=None)[0]
    missing = frame.copy()
    missing.loc[rng.random(n) < 0.4, "y_post"] = np.nan
    beta, se = mice_ols(missing, "y_post", ["y_pre", "x0"], n_imputations=8, burn_in=5, seed=1)
    assert np.all(np.abs(beta - full) < 2 * se)
    again, _ = mice_ols(missing, "y_post", ["y_pre", "x0"], n_imputations=8, burn_in=5, seed=1)
    assert np.array_equal(beta, again)


def test_mice_sensitivity_rows():
    units = _panel(9, 250, 4)
    out = run_mice_sensitivity(units, _context(MiceParams(outcome="score", pre="baseline", post="followup",
                                                          predictors=["he_left"], focal=["he_left"],
                                                          n_imputations=5, references={"he_left": "no"})))
    assert out["method"].tolist() == ["ols_complete_case", "mice_ols"]
    complete, imputed = out["estimate"].tolist()
    assert abs(complete - imputed) < 0.1 and -0.45 < imputed < 0.05
    assert out.loc[1, "n"] == units.loc[units["he_left"].eq("yes") & units["_wave"].eq("baseline"), "pid"].nunique()


# --------------------------------------------------------------------------------------------
# Truth recovery and the plan fragment on a synthetic evaluation
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def evaluation(tmp_path_factory):
    """A synthetic evaluation of 1,500 women in 8 services, built once; its plan results."""
    from pceval import pipeline
    from pceval.project import load_project
    from pceval.synth import generate_evaluation

    root = tmp_path_factory.mktemp("models") / "evaluation"
    generate_evaluation(root, seed=20260101, services=8, women=1500)
    project = load_project(root)
    pipeline.build(project)
    instruments = pipeline.load_instruments_for(project)
    data = {i: pd.read_parquet(root / "build" / "scored" / f"{i}.parquet") for i in instruments}
    truth = json.loads((root / "truth" / "ground_truth.json").read_text(encoding="utf-8"))
    entries = [q for q in yaml.safe_load(PLAN.read_text(encoding="utf-8"))["questions"]
               if q["id"] in MODEL_QUESTIONS]
    for entry in entries:  # fewer imputations keep the test quick; the method is the same
        for analysis in entry.get("analyses", []):
            if analysis["method"] == "mice_sensitivity":
                analysis["params"]["n_imputations"] = 5
    plan = Plan.model_validate({"kind": "evaluation_plan", "schema_version": 1, "version": "0",
                                "title": "models", "questions": entries})
    results = {q.id: run_question(q, data, instruments, DisclosureRules()) for q in plan.questions}
    return SimpleNamespace(truth=truth, results=results, plan=plan)


def test_every_plan_entry_runs_with_the_standard_result_shape(evaluation):
    assert set(evaluation.results) == set(MODEL_QUESTIONS)
    for qid, result in evaluation.results.items():
        assert list(result.columns) == list(RESULT_COLUMNS), qid
        assert result["estimate"].notna().any(), qid
        shown = result[~result["suppressed"]]
        assert not ((shown["n"] < 5) & shown["estimate"].notna()).any(), qid


def test_felt_safety_effects_by_his_status_are_recovered(evaluation):
    """The wave x he_left contrasts cover this population's effects and, allowing for the
    sampling of 8 services, the generator's parameters.

    The generator draws each service's effect around 0.45 (SD 0.15 between services); the
    realised effect of this evaluation is the services' effects averaged over the women with
    both waves. The model's intervals (random intercepts, no random wave slope) are about that
    realised effect; the parameters are checked on an interval that adds the variance of a mean
    of 8 service effects.
    """
    truth = evaluation.truth
    nominal = truth["parameters"]["felt_safety_true_effect"]
    services, realised = truth["parameters"]["services"], truth["realised"]["by_service"]
    weights = {s: realised[s]["felt_safety_change_n"] for s in services}
    service_mean = sum(weights[s] * services[s]["felt_safety_effect"] for s in services) / sum(weights.values())
    reduction = nominal["when_he_dropped_out_or_was_exited"] - nominal["for_women_whose_partner_stayed"]
    result = evaluation.results["q10_his_status"]
    result = result[result["indicator"] == "felt_safety"]
    stayed = _term(result, "followup vs baseline | he_left=False", "coefficient", "mixedlm")
    left = _term(result, "followup vs baseline | he_left=True", "coefficient", "mixedlm")
    between = truth["parameters"]["felt_safety"]["service_sd"] ** 2 / len(services)
    for row, realised_effect, parameter in ((stayed, service_mean, nominal["for_women_whose_partner_stayed"]),
                                            (left, service_mean + reduction,
                                             nominal["when_he_dropped_out_or_was_exited"])):
        assert row["ci_low"] < realised_effect < row["ci_high"]
        se = (row["ci_high"] - row["ci_low"]) / (2 * 1.959964)
        assert abs(row["estimate"] - parameter) < 1.959964 * np.sqrt(se**2 + between)
    gap = _term(result, "followup vs baseline | he_left=True vs False", "difference", "mixedlm")
    assert gap["ci_low"] < reduction < gap["ci_high"] and gap["ci_high"] < 0
    # the complete-case and imputed estimates of his leaving agree with the same truth
    mice = evaluation.results["attrition"]
    for method in ("ols_complete_case", "mice_ols"):
        row = _term(mice, "he_left=True", "coefficient", method)
        assert row["ci_low"] < reduction < row["ci_high"]


def test_cohorts_with_lower_reach_show_lower_reach(evaluation):
    truth = evaluation.truth
    result = evaluation.results["q06_equity"]
    for cohort, spec in truth["parameters"]["cohorts"].items():
        assert spec["reach_multiplier"] < 1
        groups = truth["realised"]["by_cohort"][cohort]
        expected = (groups["recorded_yes"]["expected_reached_probability"]
                    - groups["recorded_no"]["expected_reached_probability"])
        rows = result[(result["indicator"] == "reached") & (result["breakdown"] == cohort)]
        adjusted = _term(rows, "yes", "adjusted_difference")
        assert adjusted["estimate"] < 0, cohort
        assert adjusted["ci_low"] < expected < adjusted["ci_high"], cohort


def test_figures_build_from_the_plan_results(evaluation):
    for question in evaluation.plan.questions:
        result = evaluation.results[question.id]
        for analysis in question.analyses:
            if analysis.figure not in FIGURES:
                continue
            rows = result
            if analysis.figure == "mi_sensitivity":
                rows = result[result["method"].isin(["ols_complete_case", "mice_ols"])]
            elif analysis.figure == "model_terms":
                rows = result[result["breakdown"] == "term"]
            plot = FIGURES[analysis.figure](rows)
            drawn = pd.concat([layer.geom.data for layer in plot.layers
                               if isinstance(layer.geom.data, pd.DataFrame)], ignore_index=True)
            # only published values reach the figure
            published = set(rows.loc[~rows["suppressed"] & rows["estimate"].notna(), "estimate"].astype(float))
            assert set(drawn["estimate"].dropna()) <= published, (question.id, analysis.id)
            text = alt_text_models(rows, analysis.figure)
            assert text.endswith(".") and "nan" not in text, (question.id, analysis.id)
    # one figure is rendered in full
    plot = FIGURES["equity_gaps"](evaluation.results["q06_equity"])
    plot.draw()
    import matplotlib.pyplot as plt

    plt.close("all")
