"""Coverage of the main effects' 95% intervals over many simulated evaluations.

Each replicate is one simulated evaluation (600 women, 6 services, its own seed), made by the
generator's own stages (:func:`pceval.synth.expected.simulate_sample`, no files, no build). The
intervals are pceval's own, computed as the analysis computes them:

- reach (q01_reach): the share of identified women with at least one reached contact, with
  its Wilson interval (:func:`pceval.analyse.methods.proportions`);
- felt-safety change (q08_safety): the mean change in the felt-safety score (scored by
  :func:`pceval.score.scales.score_scale`) from baseline to follow-up among women with both,
  with its paired t interval (:func:`pceval.analyse.methods.paired_change`);
- the equity gap in reach (q06_equity) for culturally and linguistically diverse women against
  the women recorded "no", adjusted for service: the ``equity_gap`` method's marginally
  standardised difference from a logistic model with a fixed effect per service, with its
  delta-method interval.

The reach and change intervals of every replicate come from one call per method over the
stacked replicates, with the replicate as the breakdown, so each is exactly the interval the
analysis would give for a service; the equity gap is one call per replicate.

The truth each interval is judged against is the generator's *expectation* for the sample's
services and caseloads (:mod:`pceval.synth.expected`), not a value realised in the sample: the
expected reach probability of a woman identified by these services, and the expected change in
the felt-safety score for women like those with both waves (same service, his program status,
risk tier and survey timing, with the baseline-dependent attrition accounted for), and the
service-standardised difference in reach probability between the cohort and the others. The
generator's reach is multiplicative (a cohort multiplier on the service's reach), so the
logistic model is only approximately right; the check includes that approximation.
``benchmarks/coverage.py`` runs more replicates and more candidate truths.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from pceval.analyse.families.models_equity import EquityParams, run_equity_gap
from pceval.analyse.methods import paired_change, proportions
from pceval.instrument import load_instrument
from pceval.score.scales import score_scale
from pceval.synth import simulate
from pceval.synth.common import META
from pceval.synth.expected import (
    expected_cohort_reach_difference,
    expected_felt_safety_change,
    expected_reach,
    expected_score,
    simulate_sample,
)

REPLICATES = 240
FIRST_SEED = 61_000
WOMEN = 600
SERVICES = 6
GAP_COHORT = "cald"
COHORT_CODES = {1: "yes", 0: "no", -99: "-99", -98: "-98"}
"""The contact record's codes for the simulation's cohort values."""
NOMINAL = 0.95
ALPHA = 0.005
"""Two-sided level of the binomial acceptance region for a coverage count: a calibrated
interval fails the check for one effect with probability about 0.005."""
CONSERVATIVE = 0.015
"""Allowance above the nominal level for intervals that are conservative by construction
(see :func:`coverage_bounds`); at 1,000 replicates ``benchmarks/coverage.py`` measured
0.966 for reach and 0.967 for the felt-safety change."""


def coverage_bounds(replicates: int, nominal: float = NOMINAL, *, conservative: float = 0.0,
                    alpha: float = ALPHA) -> tuple[float, float]:
    """Binomial acceptance region for the share of ``replicates`` intervals covering the truth.

    The lower bound is the ``alpha / 2`` quantile of Binomial(replicates, nominal), so an
    interval that covers at the nominal rate falls below it with probability at most
    ``alpha / 2``. The upper bound is the ``1 - alpha / 2`` quantile of
    Binomial(replicates, nominal + conservative): a Wilson interval over women whose reach
    probabilities differ (by service and cohort) is slightly conservative, since a sum of
    Bernoulli trials with unequal probabilities varies less than a binomial at their mean, and
    so is the paired t interval against a truth that conditions on service and his program
    status (part of the spread of the differences is then not sampling error).

    Examples
    --------
    >>> coverage_bounds(400)
    (0.9175, 0.9775)
    """
    low = stats.binom.ppf(alpha / 2, replicates, nominal)
    high = stats.binom.isf(alpha / 2, replicates, min(nominal + conservative, 1.0))
    return float(low / replicates), float(high / replicates)


@pytest.fixture(scope="module")
def womens_survey():
    return load_instrument("womens_survey")


@pytest.fixture(scope="module")
def replicates(womens_survey):
    return run_replicates(womens_survey, REPLICATES, FIRST_SEED)


def equity_context(cohort: str) -> SimpleNamespace:
    """What ``equity_gap`` reads of its context: one cohort, recorded "yes" against "no"."""
    params = EquityParams(cohorts=[{"column": cohort, "codes": ["yes"], "others": ["no"]}],
                          indicators=["reached"])
    return SimpleNamespace(params=params, breakdowns={}, service="service_id", question_id="q06_equity",
                           analysis=SimpleNamespace(id="reach", indicators=()))


def run_replicates(womens_survey, count: int, first_seed: int) -> dict[str, pd.DataFrame]:
    """Per replicate and effect: the estimate, its interval and the expected value."""
    context = equity_context(GAP_COHORT)
    units, answers, gaps, truth, samples = [], [], [], [], []
    for replicate in range(count):
        s = simulate_sample(first_seed + replicate, SERVICES, WOMEN, womens_survey)
        n = len(s.women)
        # q01_reach: contacts = events with outcome "reached"; reached = contacts >= 1
        contacts = np.bincount(s.events["woman"].to_numpy(),
                               weights=(s.events["outcome"] == "reached").to_numpy(), minlength=n)
        mine = pd.DataFrame({"replicate": replicate, "woman": np.arange(n),
                             "service_id": s.women["service_id"].to_numpy(),
                             "reached": (contacts >= 1).astype("int64"),
                             GAP_COHORT: s.women[GAP_COHORT].map(COHORT_CODES).to_numpy()})
        units.append(mine)
        gap = run_equity_gap(mine, context)
        gaps.append(gap[gap["statistic"] == "adjusted_difference"].assign(group=replicate))
        answers.append(s.felt_safety.assign(replicate=replicate))
        samples.append((s.services, s.women))
        truth.append({"replicate": replicate, "reach": expected_reach(s.services, s.women),
                      "gap": expected_cohort_reach_difference(s.services, s.women, GAP_COHORT)})
    truth = pd.DataFrame(truth).set_index("replicate")
    units = pd.concat(units, ignore_index=True)
    units["unit"] = units["replicate"] * 100_000 + units["woman"]
    long = pd.concat(answers, ignore_index=True)
    long["unit"] = long["replicate"] * 100_000 + long["woman"]
    long["felt_safety"] = score_scale(long, womens_survey, womens_survey.scale("felt_safety")).to_numpy(
        dtype="float64", na_value=np.nan)

    # the women with a score at both waves, and the expected change for them
    scored = long[long["wave"].isin(["baseline", "followup"]) & long["felt_safety"].notna()]
    waves = scored.groupby(["replicate", "woman"])["wave"].nunique()
    pairs = waves[waves == 2].reset_index().groupby("replicate")["woman"]
    pairs = {r: group.to_numpy() for r, group in pairs}
    empty = np.array([], dtype=np.int64)
    truth["felt_safety"] = [expected_felt_safety_change(services, women, pairs.get(r, empty))
                            for r, (services, women) in enumerate(samples)]
    truth["pairs"] = [len(pairs.get(r, empty)) for r in range(count)]

    reach = proportions(units, indicators={"reached": "reached"}, by="replicate", unit="unit",
                        question="q01_reach", overall=False)
    change = paired_change(long, unit="unit", wave="wave", value="felt_safety", pre="baseline",
                           post="followup", by="replicate", question="q08_safety")
    change = change[(change["breakdown"] == "replicate") & (change["statistic"] == "mean_change")]

    def table(result: pd.DataFrame, effect: str) -> pd.DataFrame:
        out = result[["group", "n", "estimate", "ci_low", "ci_high"]].astype({"group": "int64"})
        out = out.set_index("group").astype("float64")
        out["truth"] = truth[effect]
        return out

    return {"reach": table(reach, "reach"), "felt_safety": table(change, "felt_safety"),
            "gap": table(pd.concat(gaps, ignore_index=True), "gap"), "truth": truth}


EFFECTS = ("reach", "felt_safety", "gap")


def covered(table: pd.DataFrame) -> pd.Series:
    return (table["ci_low"] <= table["truth"]) & (table["truth"] <= table["ci_high"])


# ------------------------------------------------------------------------------------------
# The fast sample is the generator's
# ------------------------------------------------------------------------------------------


def test_sample_is_the_generators_simulation(womens_survey):
    """simulate_sample gives simulate()'s truth tables, the same survey rows, and items that
    follow the same law given the latent score (the law the expectations rest on)."""
    instruments = {i: load_instrument(i) for i in
                   ("womens_survey", "contact_record", "worker_survey", "facilitator_survey")}
    seed = FIRST_SEED - 1
    full = simulate(seed, SERVICES, WOMEN, instruments)
    fast = simulate_sample(seed, SERVICES, WOMEN, womens_survey)
    pd.testing.assert_frame_equal(fast.services, full.services)
    pd.testing.assert_frame_equal(fast.events, full.events)
    pd.testing.assert_frame_equal(fast.responses, full.responses)
    pd.testing.assert_frame_equal(fast.women, full.women[fast.women.columns])

    scale = womens_survey.scale("felt_safety")
    answers = full.answers["womens_survey"]
    generator_score = score_scale(answers, womens_survey, scale).to_numpy(dtype="float64", na_value=np.nan)
    fast_score = score_scale(fast.felt_safety, womens_survey, scale).to_numpy(dtype="float64", na_value=np.nan)
    assert (answers[META + "woman"].to_numpy() == fast.felt_safety["woman"].to_numpy()).all()
    assert (answers[META + "wave"].to_numpy() == fast.felt_safety["wave"].to_numpy()).all()
    np.testing.assert_array_equal(np.isnan(generator_score), np.isnan(fast_score))

    # E[score | latent] = 1 + sum_k Phi((latent - k - 0.5) / 0.55): the residuals of the
    # generator's own scores and of the fast sample's average zero
    latent = full.responses["felt_safety_latent"].to_numpy()
    ok = ~np.isnan(generator_score)
    for score in (generator_score, fast_score):
        residual = score[ok] - expected_score(latent[ok], 0.55)
        assert abs(residual.mean()) < 4 * residual.std() / np.sqrt(ok.sum())


# ------------------------------------------------------------------------------------------
# Coverage
# ------------------------------------------------------------------------------------------


def test_coverage_bounds():
    assert coverage_bounds(400) == (0.9175, 0.9775)
    low, high = coverage_bounds(REPLICATES, conservative=CONSERVATIVE)
    assert 0.9 < low < NOMINAL
    assert 0.98 < high <= 1.0


def test_every_replicate_has_every_interval(replicates):
    for effect in EFFECTS:
        table = replicates[effect]
        assert len(table) == REPLICATES
        assert table[["estimate", "ci_low", "ci_high", "truth"]].notna().all().all()
    # the pairs the truth is averaged over are the pairs the interval rests on
    np.testing.assert_array_equal(replicates["felt_safety"]["n"], replicates["truth"]["pairs"])
    assert replicates["truth"]["pairs"].min() >= 40
    assert (replicates["reach"]["n"] == WOMEN).all()


@pytest.mark.parametrize("effect", EFFECTS)
def test_95_percent_intervals_cover_the_expected_value(replicates, effect):
    table = replicates[effect]
    coverage = float(covered(table).mean())
    low, high = coverage_bounds(len(table), conservative=CONSERVATIVE)
    assert low <= coverage <= high, f"{effect}: coverage {coverage:.3f} outside [{low:.3f}, {high:.3f}]"


@pytest.mark.parametrize("effect", EFFECTS)
def test_estimates_are_unbiased_for_the_expected_value_and_intervals_are_calibrated(replicates, effect):
    """Sharper than coverage: the estimates centre on the truth, and the intervals' implied
    standard errors match the spread of the estimates about it."""
    table = replicates[effect]
    error = table["estimate"] - table["truth"]
    assert abs(error.mean()) < 4 * error.std() / np.sqrt(len(error))
    implied_se = (table["ci_high"] - table["ci_low"]) / (2 * stats.norm.ppf(0.975))
    ratio = float(np.sqrt(np.mean(implied_se**2)) / error.std())
    assert 0.85 < ratio < 1.2, f"{effect}: interval SE / spread of errors = {ratio:.3f}"
