"""Timing family: Kaplan–Meier, log-rank, distribution summaries, attempt curves, rates, figures.

References reproduced:
- Freireich et al. (1963) 6-MP remission data: Kaplan–Meier estimates and Greenwood standard
  errors of Klein & Moeschberger (2003), Survival Analysis, Table 4.1A; medians and 95%
  intervals as R's ``survfit`` prints them for the ``gehan`` data (6-MP 23 [16, NA], placebo
  8 [4, 12], log transform); log-rank chi-square 16.79 on 1 df (Kleinbaum & Klein,
  Survival Analysis, chapter 2).
- Distribution-free median interval ranks: Campbell & Gardner (1988), BMJ 296:1454.
- Exact Poisson limits: R ``poisson.test(10)`` gives 4.795389 to 18.390356; x = 0 gives 0 to
  3.688879.
"""

from __future__ import annotations

import doctest
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from pceval.analyse.families import timing
from pceval.analyse.families.timing import (
    attempt_sequences,
    curve_rows,
    garwood_interval,
    kaplan_meier,
    logrank_test,
    median_interval,
)
from pceval.analyse.plan import Question
from pceval.analyse.registry import DisclosureRules, check_params
from pceval.analyse.run import run_question
from pceval.errors import AnalysisError
from pceval.instrument import load_instrument
from pceval.report import figures_timing
from pceval.results import result_frame

MP_WEEKS = [6, 6, 6, 6, 7, 9, 10, 10, 11, 13, 16, 17, 19, 20, 22, 23, 25, 32, 32, 34, 35]
MP_RELAPSE = [bool(v) for v in [1, 1, 1, 0, 1, 0, 1, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0]]
PLACEBO_WEEKS = [1, 1, 2, 2, 3, 4, 4, 5, 5, 8, 8, 8, 8, 11, 11, 12, 12, 15, 17, 22, 23]

RECORD = load_instrument("contact_record")


# --------------------------------------------------------------------------------------------
# Kaplan–Meier against published values
# --------------------------------------------------------------------------------------------


def test_km_reproduces_klein_moeschberger_table_4_1a():
    times = [6, 7, 10, 13, 16, 22, 23]
    survival = [0.857, 0.807, 0.753, 0.690, 0.627, 0.538, 0.448]
    se = [0.076, 0.087, 0.096, 0.107, 0.114, 0.128, 0.135]
    km = kaplan_meier(MP_WEEKS, MP_RELAPSE, horizons=times, conf_type="log")
    assert km["n"] == 21 and km["events"] == 9
    got = [h["survival"] for h in km["horizons"]]
    assert np.allclose(got, survival, atol=5e-4)
    # the lower log limit is S * exp(-1.96 SE / S): recover the Greenwood SE from it (the
    # upper one is clipped at 1)
    got_se = [-math.log(h["low"] / h["survival"]) / 1.959964 * h["survival"] for h in km["horizons"]]
    assert np.allclose(got_se, se, atol=5e-4)


def test_km_median_and_interval_match_r_survfit():
    mp = kaplan_meier(MP_WEEKS, MP_RELAPSE, conf_type="log")
    assert (mp["median"], mp["median_low"]) == (23.0, 16.0) and math.isnan(mp["median_high"])
    assert mp["median_note"] == "upper limit of the interval not reached"
    placebo = kaplan_meier(PLACEBO_WEEKS, [True] * 21, conf_type="log")
    assert (placebo["median"], placebo["median_low"], placebo["median_high"]) == (8.0, 4.0, 12.0)
    # log-log (the default) matches statsmodels' cloglog quantile_ci where that one answers
    loglog = kaplan_meier(PLACEBO_WEEKS, [True] * 21)
    assert (loglog["median_low"], loglog["median_high"]) == (4.0, 11.0)


def test_logrank_reproduces_freireich_chi_square():
    chi2, p, df = logrank_test(MP_WEEKS + PLACEBO_WEEKS, MP_RELAPSE + [True] * 21,
                               ["6-MP"] * 21 + ["placebo"] * 21)
    assert round(chi2, 2) == 16.79 and df == 1
    assert p == pytest.approx(stats.chi2.sf(chi2, 1))


def _product_limit(time: np.ndarray, event: np.ndarray, t: float) -> tuple[float, float]:
    """Independent hand computation: S(t) and Greenwood's variance sum."""
    s, greenwood = 1.0, 0.0
    for u in np.unique(time[event]):
        if u > t:
            break
        at_risk = (time >= u).sum()
        d = (event & (time == u)).sum()
        s *= 1 - d / at_risk
        greenwood += d / (at_risk * (at_risk - d)) if at_risk > d else 0.0
    return s, greenwood


def test_km_matches_a_hand_computation_with_ties_and_censoring():
    rng = np.random.default_rng(7)
    time = rng.integers(0, 40, 300).astype(float)
    event = rng.random(300) < 0.7
    horizons = [0, 5, 12, 25, 39]
    km = kaplan_meier(time, event, horizons=horizons)
    for h in km["horizons"]:
        s, g = _product_limit(time, event, h["t"])
        assert h["survival"] == pytest.approx(s, abs=1e-12)
        assert h["events"] == int((event & (time <= h["t"])).sum())
        if 0 < s < 1:
            # log-log interval by hand
            se_theta = math.sqrt(g) / abs(math.log(s))
            assert h["low"] == pytest.approx(s ** math.exp(1.959964 * se_theta), abs=1e-6)
            assert h["high"] == pytest.approx(s ** math.exp(-1.959964 * se_theta), abs=1e-6)
    # the median: first event time with S <= 0.5
    grid = np.unique(time[event])
    first = next(u for u in grid if _product_limit(time, event, u)[0] <= 0.5)
    assert km["median"] == first
    assert km["median_low"] <= km["median"] <= km["median_high"]


def test_km_edge_cases():
    empty = kaplan_meier([], [], horizons=[7])
    assert empty["n"] == 0 and math.isnan(empty["median"]) and math.isnan(empty["horizons"][0]["survival"])
    none = kaplan_meier([3, 5, 8], [False] * 3, horizons=[4, 30])
    assert none["median_note"] == "no events: median not reached"
    assert none["horizons"][0]["survival"] == 1.0
    assert "beyond the last follow-up" in none["horizons"][1]["note"]
    one = kaplan_meier([0], [True], horizons=[0, 5])
    assert one["median"] == 0.0 and one["horizons"][1]["survival"] == 0.0
    with pytest.raises(AnalysisError):
        kaplan_meier([-1, 2], [True, True])


# --------------------------------------------------------------------------------------------
# Median interval, Poisson interval, attempt sequences
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "ranks"), [(6, (1, 6)), (10, (2, 9)), (20, (6, 15)), (30, (10, 21)),
                                          (50, (18, 33))])
def test_median_interval_ranks_follow_campbell_and_gardner(n, ranks):
    values = np.arange(1, n + 1, dtype=float)  # the value is its rank
    _, low, high = median_interval(values)
    assert (low, high) == ranks


def test_median_interval_has_no_limits_for_five_or_fewer():
    median, low, high = median_interval([3, 1, 2, 5, 4])
    assert median == 3 and math.isnan(low) and math.isnan(high)


def test_garwood_matches_r_poisson_test_and_statsmodels():
    assert garwood_interval(10, 1.0) == pytest.approx((4.795389, 18.390356), abs=1e-6)
    assert garwood_interval(0, 1.0) == pytest.approx((0.0, 3.688879), abs=1e-6)
    from statsmodels.stats.rates import confint_poisson

    for count, exposure in [(3, 120.0), (37, 900.0), (308, 9437.0)]:
        low, high = confint_poisson(count, exposure, method="exact-c")
        assert garwood_interval(count, exposure) == pytest.approx((low, high), rel=1e-9)


def test_attempt_sequences_and_curve_by_hand():
    events = pd.DataFrame({
        "pid": ["a"] * 4 + ["b"] * 2 + ["c"] * 3 + ["d"],
        "kind": ["identified", "attempt", "contact", "contact",
                 "identified", "attempt",
                 "identified", "attempt", "attempt",
                 "identified"],
        "outcome": [None, "no_answer", "reached", "reached", None, "reached", None, "no_answer", "declined", None],
    })
    seq = attempt_sequences(events, unit="pid", attempt=events["kind"].ne("identified"),
                            success=events["outcome"].eq("reached"))
    assert seq.loc["a"].tolist() == [3.0, 2.0] and seq.loc["b"].tolist() == [1.0, 1.0]
    assert seq.loc["c", "attempts"] == 2 and math.isnan(seq.loc["c", "first_success"])
    assert seq.loc["d", "attempts"] == 0
    rows = {r["indicator"]: r for r in curve_rows(seq, 3)}
    # attempt 1: a, b, c tried (d never); b reached
    assert (rows["success_at_attempt_1"]["n"], rows["success_at_attempt_1"]["numerator"]) == (3, 1)
    # attempt 2: a and c still unreached with a second attempt; a reached
    assert (rows["success_at_attempt_2"]["n"], rows["success_at_attempt_2"]["numerator"]) == (2, 1)
    assert (rows["reached_by_attempt_2"]["n"], rows["reached_by_attempt_2"]["numerator"]) == (3, 2)
    assert rows["success_at_attempt_3"]["n"] == 0 and math.isnan(rows["success_at_attempt_3"]["estimate"])


# --------------------------------------------------------------------------------------------
# Registered methods through run_question
# --------------------------------------------------------------------------------------------


def _record(n_per_service: int = 30, seed: int = 1) -> pd.DataFrame:
    """A small contact record: identified, attempts, a first contact for most women."""
    rng = np.random.default_rng(seed)
    rows = []
    for s, service in enumerate(["S01", "S02", "S03"]):
        for i in range(n_per_service):
            pid = f"P{s}{i:03d}"
            referral = pd.Timestamp("2025-01-01") + pd.Timedelta(days=int(rng.integers(0, 60)))
            day = referral + pd.Timedelta(days=int(rng.integers(1, 6 + 4 * s)))
            common = {"pid": pid, "service_id": service, "referral_date": referral,
                      "case_close_date": pd.NaT if i % 4 else referral + pd.Timedelta(days=60),
                      "delivery_model": "in_house" if s < 2 else "partner_agency"}
            rows.append({**common, "event_date": referral, "event_type": "identified", "outcome": None})
            for _ in range(int(rng.integers(0, 3))):
                rows.append({**common, "event_date": day, "event_type": "attempt",
                             "outcome": "unsafe" if rng.random() < 0.2 else "no_answer"})
                day += pd.Timedelta(days=int(rng.integers(1, 4)))
            if i % 5:
                rows.append({**common, "event_date": day, "event_type": "contact", "outcome": "reached"})
    return pd.DataFrame(rows)


def _question(analyses: list[dict], breakdowns=("service",)) -> Question:
    return Question.model_validate({
        "id": "q03_test", "title": "t", "question": "t",
        "data": {"source": "contact_record", "per_person": True,
                 "derive": {"first_attempt": {"agg": "min", "of": "event_date", "where": "event_type != 'identified'"},
                            "first_contact": {"agg": "min", "of": "event_date", "where": "outcome == 'reached'"},
                            "unsafe": "outcome == 'unsafe'", "tries": "event_type != 'identified'"},
                 "carry": ["referral_date", "case_close_date", "delivery_model"],
                 "compute": {"wait": "days(referral_date, first_attempt)"}},
        "breakdowns": list(breakdowns), "analyses": analyses})


def _run(question: Question, record: pd.DataFrame) -> pd.DataFrame:
    return run_question(question, {"contact_record": record}, {"contact_record": RECORD}, DisclosureRules())


def test_time_to_event_method_rows_and_logrank():
    record = _record()
    q = _question([{"id": "km", "method": "time_to_event",
                    "params": {"start": "referral_date", "event": "first_contact", "censor": ["case_close_date"],
                               "horizons": [7, 30], "name": "days_to_contact"}}],
                  breakdowns=("service", "delivery_model"))
    out = _run(q, record)
    overall = out[(out["breakdown"] == "overall")].set_index("statistic")
    assert overall.loc["median", "n"] == 90 and overall.loc["events", "numerator"] == 72
    assert set(out["indicator"]) == {"days_to_contact", "days_to_contact_within_7_days",
                                     "days_to_contact_within_30_days"}
    tests = out[out["statistic"] == "chi_square"]
    assert list(tests["breakdown"]) == ["service", "delivery_model"]
    assert tests["p_value"].between(0, 1).all() and (tests["n"] == 90).all()
    assert (out.loc[out["statistic"] == "proportion", "method"] == "km").all()


def test_time_to_event_censors_at_end_of_followup_and_reports_left_out_units():
    record = _record()
    record.loc[record["pid"] == "P0001", "referral_date"] = pd.NaT
    params = {"start": "referral_date", "event": "first_contact", "censor": [], "end_of_followup": "2025-12-31"}
    out = _run(_question([{"id": "km", "method": "time_to_event", "params": params}], breakdowns=()), record)
    median = out[out["statistic"] == "median"].iloc[0]
    assert median["n"] == 89 and "without a start date" in median["note"]


def test_summary_method_with_sequence_column():
    record = _record()
    q = _question([{"id": "s", "method": "summary",
                    "params": {"outcomes": ["wait", "tries_to_contact"], "labels": {"wait": "days_waited"},
                               "sequence": {"column": "tries_to_contact", "attempt": "event_type != 'identified'",
                                            "success": "outcome == 'reached'"}}}])
    out = _run(q, record)
    assert set(out["statistic"]) == {"mean", "median", "q1", "q3"}  # never min or max
    assert set(out["indicator"]) == {"days_waited", "tries_to_contact"}
    tries = out[(out["indicator"] == "tries_to_contact") & (out["breakdown"] == "overall")].set_index("statistic")
    # hand count: attempts before the first contact, plus the contact itself, for reached women
    by_woman = record[record["event_type"] != "identified"].groupby("pid")
    expected = by_woman.apply(lambda f: f["outcome"].eq("reached").to_numpy().argmax() + 1
                              if f["outcome"].eq("reached").any() else np.nan, include_groups=False).dropna()
    assert tries.loc["mean", "n"] == len(expected)
    assert tries.loc["mean", "estimate"] == pytest.approx(expected.mean())
    assert tries.loc["median", "estimate"] == pytest.approx(expected.median())


def test_attempt_curve_and_rate_methods():
    record = _record()
    q = _question([
        {"id": "curve", "method": "attempt_curve",
         "params": {"attempt": "event_type != 'identified'", "success": "outcome == 'reached'", "max_attempts": 3}},
        {"id": "rate", "method": "rate", "params": {"numerator": "unsafe", "exposure": "tries", "per": 100}},
    ], breakdowns=())
    out = _run(q, record)
    rate = out[out["statistic"] == "rate_per_100"].iloc[0]
    events = int((record["outcome"] == "unsafe").sum())
    tries = int((record["event_type"] != "identified").sum())
    assert rate["numerator"] == events and rate["estimate"] == pytest.approx(100 * events / tries)
    assert rate["ci_low"] == pytest.approx(100 * garwood_interval(events, tries)[0])
    curve = out[out["indicator"].str.contains("attempt_")].set_index("indicator")
    assert curve.loc["reached_by_attempt_3", "numerator"] == 72  # every reached woman within 3 attempts


def test_plan_mistakes_fail_at_load_or_name_the_field():
    with pytest.raises(ValueError, match="params"):
        check_params(_question([{"id": "c", "method": "attempt_curve",
                                 "params": {"attempt": "import os", "success": "x == 1"}}]).analyses[0])
    with pytest.raises(ValueError, match="params"):
        check_params(_question([{"id": "k", "method": "time_to_event",
                                 "params": {"start": "a", "event": "b", "horizon": [3]}}]).analyses[0])
    with pytest.raises(AnalysisError) as info:
        _run(_question([{"id": "k", "method": "time_to_event",
                         "params": {"start": "referral_date", "event": "no_such_date"}}]), _record())
    assert "event" in str(info.value)


# --------------------------------------------------------------------------------------------
# Truth recovery on the generator's own events
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def simulated():
    from pceval.synth.population import simulate

    instruments = {k: load_instrument(k) for k in
                   ("contact_record", "womens_survey", "worker_survey", "facilitator_survey")}
    sim = simulate(20260101, 8, 1500, instruments)
    ev, women = sim.events, sim.women
    date = pd.Timestamp("1970-01-01") + pd.to_timedelta(ev["day"], unit="D")
    record = pd.DataFrame({
        "pid": "W" + ev["woman"].astype(str), "service_id": women["service_id"].to_numpy()[ev["woman"]],
        "event_date": date, "event_type": ev["event"].astype(str), "outcome": ev["outcome"],
        "referral_date": pd.Timestamp("1970-01-01") + pd.to_timedelta(women["referral"].to_numpy()[ev["woman"]], unit="D"),
        "case_close_date": pd.Timestamp("1970-01-01") + pd.to_timedelta(women["case_close"].to_numpy()[ev["woman"]], unit="D"),
    })
    return sim, record


def test_recovers_the_generators_first_attempt_delay(simulated):
    sim, record = simulated
    q = Question.model_validate({
        "id": "q03_truth", "title": "t", "question": "t",
        "data": {"source": "contact_record", "per_person": True,
                 "derive": {"identified": {"agg": "min", "of": "event_date", "where": "event_type == 'identified'"},
                            "first_attempt": {"agg": "min", "of": "event_date", "where": "event_type != 'identified'"}},
                 "carry": ["case_close_date"],
                 "compute": {"delay": "days(identified, first_attempt)"}},
        "breakdowns": ["service"],
        "analyses": [{"id": "s", "method": "summary", "params": {"outcomes": ["delay"]}},
                     {"id": "km", "method": "time_to_event",
                      "params": {"start": "identified", "event": "first_attempt", "censor": ["case_close_date"],
                                 "name": "km_delay"}}]})
    out = _run(q, record)
    services = sim.services.set_index("service_id")
    checked = 0
    for service, d in services["first_attempt_delay_days"].items():
        if services.loc[service, "women"] < 100:
            continue
        rows = out[(out["breakdown"] == "service") & (out["group"] == service)].set_index(["indicator", "statistic"])
        # delay = 1 + rint(Gamma(1.5, d / 1.5)): mean d + 1, median the integer median below
        mean = rows.loc[("delay", "mean")]
        se = (mean["ci_high"] - mean["ci_low"]) / (2 * 1.97)
        assert abs(mean["estimate"] - (d + 1)) < 3 * se, service
        cdf = stats.gamma.cdf(np.arange(200) + 0.5, 1.5, scale=d / 1.5)
        true_median = 1 + int(np.argmax(cdf >= 0.5))
        km = rows.loc[("km_delay", "median")]
        assert km["ci_low"] - 1 <= true_median <= km["ci_high"] + 1, service
        checked += 1
    assert checked >= 5


def test_attempt_curve_recovers_realised_reach(simulated):
    sim, record = simulated
    q = Question.model_validate({
        "id": "q02_truth", "title": "t", "question": "t",
        "data": {"source": "contact_record", "per_person": True, "derive": {"n": "event_type != 'identified'"}},
        "analyses": [{"id": "c", "method": "attempt_curve",
                      "params": {"attempt": "event_type != 'identified'", "success": "outcome == 'reached'",
                                 "max_attempts": 8}}]})
    out = _run(q, record).set_index("indicator")
    women = sim.women
    assert out.loc["reached_by_attempt_8", "n"] == int(women["offered"].sum())
    assert out.loc["reached_by_attempt_8", "numerator"] == int(women["reached"].sum())
    # among first attempts, success is the generator's per-attempt success for women who
    # will connect, diluted by the unreachable: between the two
    first = out.loc["success_at_attempt_1", "estimate"]
    assert 0.2 < first < sim.parameters["attempt_success"]


# --------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------


def _km_results() -> pd.DataFrame:
    rows = []
    for group, n, suppressed in (("all", 60, False), ("S1", 52, False), ("S2", 8, True)):
        breakdown = "overall" if group == "all" else "service"
        base = {"question": "q03", "breakdown": breakdown, "group": group, "n": n, "method": "km",
                "suppressed": suppressed}
        rows.append({**base, "indicator": "days", "statistic": "median",
                     **({} if suppressed else {"estimate": 12.0, "ci_low": 10.0, "ci_high": 15.0})})
        for day, share in ((14, 0.55), (30, 0.9)):
            rows.append({**base, "indicator": f"days_within_{day}_days", "statistic": "proportion",
                         **({} if suppressed else {"estimate": share, "ci_low": share - 0.1,
                                                   "ci_high": min(share + 0.1, 1.0), "numerator": int(n * share)})})
    rows.append({"question": "q03", "indicator": "days", "breakdown": "service", "group": "between groups",
                 "statistic": "chi_square", "n": 60, "estimate": 1.2, "p_value": 0.27, "method": "logrank"})
    return result_frame(rows)


def test_time_to_event_figure_draws_published_rows_only():
    plot = figures_timing.plot_time_to_event(_km_results())
    assert set(plot.data["group"].astype(str)) == {"All", "S1"}
    marks = plot.layers[-1].geom.data
    assert marks["label"].tolist() == ["n.p."] and marks["group"].astype(str).tolist() == ["S2"]
    plot.draw()
    text = figures_timing.alt_text(_km_results(), "time_to_event")
    assert "overall median 12 days (95% CI 10 to 15)" in text and "1 not published" in text
    medians_only = _km_results().query("statistic != 'proportion'")
    assert not figures_timing.plot_time_to_event(medians_only).layers[0].geom.data.empty


def test_summary_attempt_and_rate_figures_build():
    summary = result_frame([{"indicator": "contacts", "breakdown": b, "group": g, "statistic": s, "n": 40,
                             "estimate": v, "ci_low": lo, "ci_high": hi}
                            for b, g in (("overall", "all"), ("service", "S1"))
                            for s, v, lo, hi in (("mean", 4.2, 3.8, 4.6), ("median", 4, 3, 5),
                                                 ("q1", 2, None, None), ("q3", 6, None, None))])
    plot = figures_timing.plot_summary(summary)
    assert plot.layers[0].geom.data[["q1", "q3"]].drop_duplicates().values.tolist() == [[2.0, 6.0]]
    plot.draw()
    assert "median 4 (95% CI 3 to 5)" in figures_timing.alt_text(summary, "summary")

    curve = result_frame([{"indicator": f"{kind}_attempt_{k}", "statistic": "proportion", "n": 50, "numerator": 10,
                           "estimate": 0.2 * k, "ci_low": 0.1, "ci_high": 0.5, "method": "wilson",
                           "suppressed": k == 3}
                          for k in (1, 2, 3) for kind in ("success_at", "reached_by")])
    plot = figures_timing.plot_attempt_curve(curve)
    assert sorted(set(plot.data["attempt"])) == [1, 2]
    plot.draw()
    assert figures_timing.alt_text(curve, "attempt_curve").startswith("Attempt curve: 20% of first attempts")

    rate = result_frame([{"indicator": "unsafe", "breakdown": b, "group": g, "statistic": "rate_per_100", "n": n,
                          "numerator": x, "estimate": e, "ci_low": e and e - 1, "ci_high": e and e + 1,
                          "method": "poisson_exact", "suppressed": s}
                         for b, g, n, x, e, s in (("overall", "all", 100, 30, 3.0, False),
                                                  ("service", "S1", 80, 27, 3.3, False),
                                                  ("service", "S2", 20, None, None, True))])
    plot = figures_timing.plot_rate(rate)
    assert plot.layers[-1].geom.data["label"].tolist() == ["n.p."]
    plot.draw()
    assert "3.0 per 100 overall" in figures_timing.alt_text(rate, "rate")


def test_docstring_examples():
    for module in (timing, figures_timing):
        result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert result.failed == 0, module.__name__
