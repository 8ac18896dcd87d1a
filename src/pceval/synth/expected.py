"""What the generator's parameters imply the main estimates should be, for a simulated sample.

A confidence interval computed from a sample is a statement about a *superpopulation*
quantity: the value its estimate is aiming at, not the value the sample happened to realise.
The ground truth file (:func:`pceval.synth.generate.ground_truth`) records realised values and
latent means; this module gives the expectations that the stream's main intervals should cover
about 95% of the time, computed from the generating parameters of
:mod:`pceval.synth.population` for the services and women of one simulated sample.

What is held fixed
    The evaluation covers its services: their number, caseloads (women per service), reach
    probabilities and felt-safety effects are the setting of the evaluation, not a sample from a
    wider set of services. The women are the random sample. So each expectation is conditional
    on the simulated services and on the covariates that define *who the estimate is about*
    (her service, his program status, her risk tier, whether her exit survey fell due), and
    averages over everything else the generator draws (cohort codes, the reach and response
    draws, latent scores, item noise): the mean over the superpopulation of women these
    services serve. :func:`reach_over_services` gives, for contrast, the mean over
    the generator's distribution of services, which the stream's intervals do not estimate.

Reach (the share of identified women reached, q01_reach)
    Woman *i* in service *s* is reached with probability
    ``(1 - no_s) * min(r_s * M_i / (1 - no_s), 0.98)``, where ``r_s`` is the service's reach
    probability, ``no_s`` its probability of never offering contact, and ``M_i`` the product
    of the reach multipliers of the cohorts recorded "yes" for her. A recorded "yes" has
    probability ``prevalence * (1 - prefer_not_to_say - not_known)`` independently per cohort.
    Contact events after the export date are cut, so a woman whose first contact would come
    later is not counted as reached. Referrals end four months before the export and 99.9% of
    first contacts come within 70 days of identification, so this cut is neglected (it
    removed none of 42,000 reached women in 100 simulated evaluations of 600 women).
    :func:`expected_reach` averages the per-woman probability over the cohort codes
    (``given="services"``, the default) or over the sample's own women and their recorded
    codes (``given="women"``, the ``expected_reached_probability`` of the ground truth).

Felt safety change (baseline to follow-up among women with both, q08_safety)
    Her felt-safety latent is ``theta0 ~ N(2.8 + shift(risk), 0.65)`` at baseline and
    ``theta0 + delta`` at follow-up, with ``delta ~ N(effect_s - 0.2 * left, 0.45)`` (``left``:
    he dropped out or was exited). Each of the four items is ``clip(rint(theta + e), 1, 5)``
    with ``e ~ N(0, 0.55)`` (the reverse-keyed item is reversed back by scoring), so the
    expected score at latent ``theta`` is

    ``G(theta, sd) = 1 + sum_{k=1..4} Phi((theta - k - 0.5) / sd)``,

    and, integrating ``delta``, her expected change given ``theta0`` is
    ``G(theta0 + mu, sqrt(0.55^2 + 0.45^2)) - G(theta0, 0.55)``. Rounding and the 1-5 limits
    make this smaller than the latent change ``mu`` for women near the top of the scale.

    Who has both waves depends on ``theta0``: women who felt less safe answer later waves
    less often (response at exit ``expit(logit(0.70) + 0.5 (theta0 - 2.8))``, at follow-up
    ``expit(logit(0.66) + 0.5 (theta0 - 2.8) +/- 0.6)`` as she did or did not answer at exit).
    Given her covariates and that she has both waves, ``theta0`` therefore follows the normal
    density tilted by the probability of answering at follow-up (:func:`_follow_up_weight`);
    the expectation integrates over it numerically. Nothing else in the response process
    depends on her scores (the rest is timing, her cohort and chance) and ``delta`` does not
    enter it, so given her service, his status, her risk tier, whether her exit survey fell
    due and ``theta0``, her expected change does not depend on her having answered.
    ``given="baseline_latent"`` conditions on her realised ``theta0`` instead (a finer,
    latent conditioning, no tilt needed).

Equity gap in reach (a cohort against the women recorded "no")
    Cohort membership is drawn independently of service and of the other cohorts, so the
    service-standardised difference in reach between women recorded "yes" and "no" for one
    cohort is the mean, over the women compared, of their service's
    ``pi_s(yes) - pi_s(no)`` (:func:`expected_cohort_reach_difference`), where
    ``pi_s(x)`` averages over the other cohorts' codes. The 0.98 cap never binds with the
    generator's ranges (``0.90 / 0.92 < 0.98``), so this is ``r_s * E[M_other] * (m_c - 1)``.

Constants of :mod:`pceval.synth.population` that are not in its ``parameters`` (the risk
tier shifts of baseline felt safety, the follow-up response shift by exit response, the 0.98
cap on reach) are restated in this module as :data:`RISK_SHIFT`, :data:`FOLLOW_SHIFT` and
:data:`REACH_CAP`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from itertools import product
from typing import Literal

import numpy as np
import pandas as pd
from scipy import special

from pceval.instrument.model import Instrument
from pceval.synth import population as pop
from pceval.synth.common import likert_from_latent

__all__ = ["FOLLOW_SHIFT", "REACH_CAP", "RISK_SHIFT", "Sample", "expected_cohort_reach_difference",
           "expected_felt_safety_change", "expected_reach", "expected_score", "generator_parameters",
           "reach_over_services", "simulate_sample"]

RISK_SHIFT = (0.15, 0.0, -0.25)
"""Shift of baseline felt safety by risk tier (lower, elevated, serious), as in
:func:`pceval.synth.population.simulate_responses`."""
FOLLOW_SHIFT = 0.6
"""Log-odds shift of answering at follow-up for women who did (+) or did not (-) answer at exit."""
REACH_CAP = 0.98
"""Cap on the probability of reaching an offered woman, as in
:func:`pceval.synth.population.simulate_women`."""

_GRID = 401          # points of the baseline-latent grid
_GRID_HALF_WIDTH = 8.0  # in baseline standard deviations


def generator_parameters() -> dict:
    """The generating parameters this module uses, in the layout of ``Simulation.parameters``.

    Examples
    --------
    >>> p = generator_parameters()
    >>> p["felt_safety"]["effect"], p["cohorts"]["atsi"]["reach_multiplier"]
    (0.45, 0.85)
    """
    return {
        "felt_safety": dict(pop.FELT_SAFETY),
        "survey": dict(pop.SURVEY),
        "cohorts": {k: {"prevalence": v[0], "reach_multiplier": v[1], "attempt_success_multiplier": v[2]}
                    for k, v in pop.COHORT.items()},
        "cohort_prefer_not_to_say": pop.COHORT_PREFER_NOT,
        "cohort_not_known": pop.COHORT_NOT_KNOWN,
        "reach_probability_range": list(pop.REACH_RANGE),
    }


# --------------------------------------------------------------------------------------------
# A simulated sample without the answer frames
# --------------------------------------------------------------------------------------------


@dataclass
class Sample:
    """The truth tables of one simulated evaluation, and its felt-safety answers.

    ``services``, ``women`` (with the reach flags and survey-due flags), ``events`` and
    ``responses`` are exactly those of :func:`pceval.synth.population.simulate` with the same
    seed, sizes and instruments (less the women's identifiers). ``felt_safety`` has one row per
    survey response: ``woman``, ``wave`` and the felt-safety scale's item answers as numbers
    (missing where the survey ended at the safety check or she declined consent).
    """

    services: pd.DataFrame
    women: pd.DataFrame
    events: pd.DataFrame
    responses: pd.DataFrame
    felt_safety: pd.DataFrame


def simulate_sample(seed: int, n_services: int, n_women: int, womens_survey: Instrument) -> Sample:
    """One simulated evaluation's truth tables, about five times faster than ``simulate``.

    Runs the generator's own stages on the same random streams as
    :func:`pceval.synth.population.simulate`, so services, women, events and responses are
    identical to it; it skips identities, free text and the answer frames. The felt-safety
    items are drawn with the generator's item model (:func:`pceval.synth.common.likert_from_latent`,
    the same noise and reverse keying) from the answers' stream, so they follow the same
    distribution as ``simulate``'s but are not the same draws.

    Examples
    --------
    >>> from pceval.instrument import load_instrument
    >>> s = simulate_sample(3, 4, 200, load_instrument("womens_survey"))
    >>> len(s.women), sorted(s.felt_safety["wave"].unique())
    (200, ['baseline', 'exit', 'followup'])
    """
    streams = np.random.SeedSequence(seed).spawn(6)
    rng_services, rng_women, rng_events, rng_survey, _rng_people, rng_answers = (
        np.random.default_rng(s) for s in streams)
    services = pop.simulate_services(rng_services, n_services, n_women)
    women = pop.simulate_women(rng_women, services)
    events, case = pop.simulate_events(rng_events, services, women)
    women["case_close"] = case["case_close"].to_numpy()
    flags = pop.reach_flags(events, len(women))
    for column in flags.columns:
        women[column] = flags[column].to_numpy()
    responses = pop.simulate_responses(rng_survey, services, women, flags, events)

    scale = womens_survey.scale(pop.CONSTRUCTS["womens_survey"]["scales"]["felt_safety"])
    theta = responses["felt_safety_latent"].to_numpy()
    # the items follow consent, which follows the safety check (the instrument's relevance)
    hidden = responses["gate_no"].to_numpy(dtype=bool) | responses["consent_no"].to_numpy(dtype=bool)
    items = {"woman": responses["woman"].to_numpy(), "wave": responses["wave"].to_numpy(dtype=object)}
    for item_id in scale.items:
        value = likert_from_latent(rng_answers, theta, womens_survey, womens_survey.item(item_id),
                                   noise=pop.FELT_SAFETY["item_noise_sd"],
                                   reverse=item_id in scale.reverse).astype("float64")
        items[item_id] = np.where(hidden, np.nan, value)
    return Sample(services=services, women=women, events=events, responses=responses,
                  felt_safety=pd.DataFrame(items))


# --------------------------------------------------------------------------------------------
# Reach
# --------------------------------------------------------------------------------------------


def _code_yes_probability(parameters: Mapping, cohort: str) -> float:
    """Probability that a woman's cohort is recorded "yes" (members, less the missing codes)."""
    missing = parameters["cohort_prefer_not_to_say"] + parameters["cohort_not_known"]
    return parameters["cohorts"][cohort]["prevalence"] * (1.0 - missing)


def _reach_by_service(services: pd.DataFrame, parameters: Mapping, *, fixed: Mapping[str, bool] | None = None
                      ) -> np.ndarray:
    """Each service's reach probability, averaged over the cohort codes not in ``fixed``."""
    fixed = dict(fixed or {})
    cohorts = parameters["cohorts"]
    free = [c for c in cohorts if c not in fixed]
    base_mult = float(np.prod([cohorts[c]["reach_multiplier"] if yes else 1.0 for c, yes in fixed.items()]))
    r = services["reach_probability"].to_numpy(dtype="float64")
    offered = 1.0 - services["not_offered_probability"].to_numpy(dtype="float64")
    out = np.zeros(len(services))
    for codes in product((False, True), repeat=len(free)):
        weight, mult = 1.0, base_mult
        for cohort, yes in zip(free, codes, strict=True):
            q = _code_yes_probability(parameters, cohort)
            weight *= q if yes else 1.0 - q
            mult *= cohorts[cohort]["reach_multiplier"] if yes else 1.0
        out += weight * offered * np.clip(r * mult / offered, 0.0, REACH_CAP)
    return out


def expected_reach(services: pd.DataFrame, women: pd.DataFrame, *,
                   given: Literal["services", "women"] = "services",
                   parameters: Mapping | None = None) -> float:
    """Expected share of identified women reached, for this sample's services and caseloads.

    Parameters
    ----------
    services, women : DataFrame
        The sample's truth tables (:class:`Sample` or ``Simulation``).
    given : {"services", "women"}
        ``"services"``: the mean over the sample's women of their service's reach probability,
        averaged over the cohort codes a woman may have (the superpopulation of women these
        services serve). ``"women"``: the mean of each sampled woman's own reach probability,
        given her recorded cohort codes (``p_reached``).
    parameters : mapping, optional
        Generating parameters (``Simulation.parameters`` or the ground truth's
        ``parameters``); default :func:`generator_parameters`.

    Returns
    -------
    float

    Examples
    --------
    >>> from pceval.instrument import load_instrument
    >>> s = simulate_sample(1, 6, 400, load_instrument("womens_survey"))
    >>> a, b = expected_reach(s.services, s.women), expected_reach(s.services, s.women, given="women")
    >>> bool(abs(a - b) < 0.01)
    True
    """
    parameters = parameters or generator_parameters()
    if given == "women":
        return float(women["p_reached"].mean())
    pi = _reach_by_service(services, parameters)
    return float(np.mean(pi[women["service"].to_numpy()]))


def reach_over_services(n_services: int, *, parameters: Mapping | None = None) -> float:
    """Expected reach over the generator's distribution of services (not what the stream estimates).

    Reach probabilities are spread evenly over the range and shuffled, independently of the
    caseload shares, so the caseload-weighted mean reach has expectation equal to the plain
    mean over the grid of reach probabilities (each service's not-offered probability, uniform
    on its range, only matters through the 0.98 cap).

    Examples
    --------
    >>> round(reach_over_services(6), 4)
    0.6975
    """
    parameters = parameters or generator_parameters()
    lo, hi = parameters["reach_probability_range"]
    r = np.linspace(lo, hi, n_services) if n_services > 1 else np.array([(lo + hi) / 2])
    nodes, weights = np.polynomial.legendre.leggauss(16)
    no = pop.NOT_OFFERED_RANGE[0] + (nodes + 1) / 2 * (pop.NOT_OFFERED_RANGE[1] - pop.NOT_OFFERED_RANGE[0])
    grid = pd.DataFrame({"reach_probability": np.repeat(r, len(no)), "not_offered_probability": np.tile(no, len(r))})
    pi = _reach_by_service(grid, parameters).reshape(len(r), len(no))
    return float(np.mean(pi @ (weights / 2)))


def expected_cohort_reach_difference(services: pd.DataFrame, women: pd.DataFrame, cohort: str, *,
                                     parameters: Mapping | None = None) -> float:
    """Service-standardised difference in reach, cohort recorded "yes" minus recorded "no".

    The mean, over the women of ``women`` recorded "yes" or "no" for ``cohort``, of their
    service's reach probability with the cohort "yes" minus with it "no", each averaged over
    the other cohorts' codes: the estimand of a service-adjusted (marginally standardised)
    difference.

    Examples
    --------
    >>> from pceval.instrument import load_instrument
    >>> s = simulate_sample(1, 6, 400, load_instrument("womens_survey"))
    >>> round(expected_cohort_reach_difference(s.services, s.women, "atsi"), 3)
    -0.097
    """
    parameters = parameters or generator_parameters()
    gap = (_reach_by_service(services, parameters, fixed={cohort: True})
           - _reach_by_service(services, parameters, fixed={cohort: False}))
    compared = women[cohort].isin([0, 1]).to_numpy()
    return float(np.mean(gap[women["service"].to_numpy()[compared]]))


# --------------------------------------------------------------------------------------------
# Felt safety
# --------------------------------------------------------------------------------------------


def expected_score(theta: np.ndarray, sd: float, levels: int = 5) -> np.ndarray:
    """Expected mean of items ``clip(rint(theta + N(0, sd)), 1, levels)`` at latent ``theta``.

    ``1 + sum_{k=1..levels-1} Phi((theta - k - 0.5) / sd)``: an item is at least ``k + 1``
    when ``theta + e`` reaches ``k + 0.5``.

    Examples
    --------
    >>> expected_score(np.array([3.0, 5.0]), 0.55).round(3).tolist()
    [3.0, 4.815]
    """
    cuts = np.arange(1, levels) + 0.5
    return 1.0 + special.ndtr((np.asarray(theta)[..., None] - cuts) / sd).sum(axis=-1)


def _follow_up_weight(theta0: np.ndarray, exit_due: bool, parameters: Mapping) -> np.ndarray:
    """Probability of answering at follow-up given baseline latent, once it has fallen due."""
    survey, fs = parameters["survey"], parameters["felt_safety"]
    slope = survey["attrition_slope"] * (theta0 - fs["baseline_mean"])
    follow = special.logit(survey["followup"]) + slope

    def answers(shift: float) -> np.ndarray:
        return special.expit(follow + shift)

    if not exit_due:
        return answers(-FOLLOW_SHIFT)
    at_exit = special.expit(special.logit(survey["exit"]) + slope)
    return at_exit * answers(FOLLOW_SHIFT) + (1 - at_exit) * answers(-FOLLOW_SHIFT)


def expected_felt_safety_change(services: pd.DataFrame, women: pd.DataFrame, pairs: np.ndarray, *,
                                given: Literal["covariates", "baseline_latent"] = "covariates",
                                parameters: Mapping | None = None) -> float:
    """Expected mean change in the felt-safety score, baseline to follow-up, for the women with both.

    Parameters
    ----------
    services, women : DataFrame
        The sample's truth tables (:class:`Sample` or ``Simulation``).
    pairs : array of int
        The women (row positions of ``women``) with a felt-safety score at both waves.
    given : {"covariates", "baseline_latent"}
        ``"covariates"``: each woman's expected change given her service, his program status,
        her risk tier and whether her exit survey fell due, and given that she has both waves
        (the baseline latent integrated over its selection-tilted distribution).
        ``"baseline_latent"``: given her realised baseline latent score as well.
    parameters : mapping, optional
        Generating parameters; default :func:`generator_parameters`.

    Returns
    -------
    float
        The mean over ``pairs`` of each woman's expected change (score scale, 1 to 5); NaN
        when there are no pairs.

    Examples
    --------
    >>> from pceval.instrument import load_instrument
    >>> s = simulate_sample(1, 6, 400, load_instrument("womens_survey"))
    >>> waves = s.felt_safety.dropna().groupby("woman")["wave"].agg(set)
    >>> both = waves.index[waves.map({"baseline", "followup"}.issubset)].to_numpy()
    >>> round(expected_felt_safety_change(s.services, s.women, both), 3)
    0.242
    """
    parameters = parameters or generator_parameters()
    fs = parameters["felt_safety"]
    pairs = np.asarray(pairs, dtype=np.int64)
    if pairs.size == 0:
        return float("nan")
    rows = women.iloc[pairs]
    left = rows["his_status"].isin(["dropped_out", "exited"]).to_numpy()
    mu = services["felt_safety_effect"].to_numpy()[rows["service"].to_numpy()] - fs["dropout_reduction"] * left
    noise = fs["item_noise_sd"]
    noise_change = float(np.hypot(noise, fs["individual_sd"]))
    if given == "baseline_latent":
        theta0 = rows["felt_safety_baseline_latent"].to_numpy()
        change = expected_score(theta0 + mu, noise_change) - expected_score(theta0, noise)
        return float(np.mean(change))

    risk = rows["risk"].to_numpy()
    exit_due = rows["exit_survey_due"].to_numpy(dtype=bool)
    total = 0.0
    for r in np.unique(risk):
        centre = fs["baseline_mean"] + RISK_SHIFT[int(r)]
        z = np.linspace(-_GRID_HALF_WIDTH, _GRID_HALF_WIDTH, _GRID)
        theta0 = centre + fs["baseline_sd"] * z
        base = expected_score(theta0, noise)
        for due in (False, True):
            mine = (risk == r) & (exit_due == due)
            if not mine.any():
                continue
            density = np.exp(-0.5 * z * z) * _follow_up_weight(theta0, due, parameters)
            density /= density.sum()
            values, counts = np.unique(mu[mine], return_counts=True)
            follow = expected_score(theta0[None, :] + values[:, None], noise_change)
            total += float(counts @ ((follow - base[None, :]) @ density))
    return total / pairs.size
