"""Tests of the statistical building blocks: Wilson intervals, proportions, paired change."""

from __future__ import annotations

import doctest
import math

import numpy as np
import pandas as pd
import pingouin
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

import pceval.analyse.methods as methods
from pceval.analyse.methods import paired_change, proportions, wilson_interval
from pceval.errors import AnalysisError
from pceval.results import RESULT_COLUMNS

Z95 = stats.norm.ppf(0.975)


def wilson_by_hand(x: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson (1927) score interval written out, independent of statsmodels."""
    p = x / n
    centre = p + z * z / (2 * n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    denominator = 1 + z * z / n
    return (centre - half) / denominator, (centre + half) / denominator


# ------------------------------------------------------------------------------------------
# Wilson interval
# ------------------------------------------------------------------------------------------

# Newcombe RG (1998). Two-sided confidence intervals for the single proportion: comparison of
# seven methods. Statistics in Medicine 17:857-872, Table I, method 3 (Wilson score interval
# without continuity correction), 95% intervals to four decimals.
NEWCOMBE_1998_TABLE_I = [
    (81, 263, 0.2553, 0.3662),
    (15, 148, 0.0624, 0.1605),
    (0, 20, 0.0000, 0.1611),
    (1, 29, 0.0061, 0.1718),
]


@pytest.mark.parametrize(("x", "n", "low", "high"), NEWCOMBE_1998_TABLE_I)
def test_published_values_agree_with_the_closed_form(x, n, low, high):
    # Check the published numbers themselves before trusting them as a reference.
    by_hand = wilson_by_hand(x, n)
    assert by_hand == pytest.approx((low, high), abs=5e-5)


@pytest.mark.parametrize(("x", "n", "low", "high"), NEWCOMBE_1998_TABLE_I)
def test_wilson_interval_reproduces_newcombe_table_i(x, n, low, high):
    got = wilson_interval(x, n)
    assert got == pytest.approx((low, high), abs=5e-5)
    assert got == pytest.approx(wilson_by_hand(x, n), abs=1e-12)


def test_wilson_interval_is_vectorised_and_undefined_for_no_units():
    low, high = wilson_interval(np.array([81, 15, 0]), np.array([263, 148, 0]))
    assert low[:2] == pytest.approx([0.2553, 0.0624], abs=5e-5)
    assert high[:2] == pytest.approx([0.3662, 0.1605], abs=5e-5)
    assert np.isnan(low[2]) and np.isnan(high[2])
    # Exact limits at the ends of the range, not values a rounding error away.
    assert wilson_interval(np.array([0, 3]), np.array([3, 3]))[0][0] == 0.0
    assert wilson_interval(np.array([0, 3]), np.array([3, 3]))[1][1] == 1.0


def test_wilson_interval_other_confidence_level():
    z90 = stats.norm.ppf(0.95)
    assert wilson_interval(15, 148, conf_level=0.90) == pytest.approx(
        wilson_by_hand(15, 148, z90), abs=1e-12
    )


@pytest.mark.parametrize(
    ("x", "n", "conf_level"), [(5, 4, 0.95), (-1, 4, 0.95), (1, 4, 1.0), (1, 4, 0)]
)
def test_wilson_interval_rejects_impossible_input(x, n, conf_level):
    with pytest.raises(AnalysisError):
        wilson_interval(x, n, conf_level=conf_level)


# ------------------------------------------------------------------------------------------
# Proportions
# ------------------------------------------------------------------------------------------


@pytest.fixture
def women() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "woman": [f"w{i}" for i in range(1, 11)],
            "service": ["B", "B", "B", "A", "A", "A", "A", "C", "C", None],
            "offered": [1, 1, 0, 1, 1, 1, 0, 1, 1, 1],
            "reached": [1, 0, 1, 1, 1, None, 0, 0, 0, 1],
            "safety_plan": [True, False, False, True, True, True, False, False, pd.NA, True],
        }
    )


def test_proportions_counts_by_group(women):
    res = proportions(
        women, indicators={"reached": "reached"}, by="service", question="q01_reach"
    )
    assert list(res.columns) == list(RESULT_COLUMNS)
    table = res.set_index("group")
    assert list(table.index) == ["all", "A", "B", "C"]
    # Service is missing for w10: it counts overall, in no group.
    assert table.loc["all", "n"] == 9 and table.loc["all", "numerator"] == 5
    assert table.loc["A", "n"] == 3 and table.loc["A", "numerator"] == 2  # w6 missing
    assert table.loc["B", "n"] == 3 and table.loc["B", "numerator"] == 2
    assert table.loc["C", "n"] == 2 and table.loc["C", "numerator"] == 0
    assert table.loc["A", "estimate"] == pytest.approx(2 / 3)
    assert (table.loc["A", "ci_low"], table.loc["A", "ci_high"]) == pytest.approx(
        wilson_by_hand(2, 3)
    )
    assert set(res["statistic"]) == {"proportion"}
    assert set(res["method"]) == {"wilson"}
    assert list(res["breakdown"]) == ["overall", "service", "service", "service"]
    assert (res["question"] == "q01_reach").all()
    assert not res["suppressed"].any()


def test_proportions_denominator_restricts_every_count(women):
    res = proportions(
        women,
        indicators=["reached"],
        by="service",
        denominator="offered",
        question="q01_reach",
    )
    table = res.set_index("group")
    # Not offered: w3 (B, reached 1) and w7 (A, reached 0) leave the denominators.
    assert table.loc["all", ["n", "numerator"]].tolist() == [7, 4]
    assert table.loc["A", ["n", "numerator"]].tolist() == [2, 2]
    assert table.loc["B", ["n", "numerator"]].tolist() == [2, 1]
    assert table.loc["C", ["n", "numerator"]].tolist() == [2, 0]
    assert table.loc["C", "estimate"] == 0.0
    assert table.loc["C", "ci_low"] == 0.0


def test_proportions_several_indicators_and_options(women):
    res = proportions(
        women,
        indicators={"reached": "reached", "has_safety_plan": "safety_plan"},
        by="service",
        question="q05_content",
        unit="woman",
        overall=False,
    )
    assert list(res["indicator"].unique()) == ["reached", "has_safety_plan"]
    assert "overall" not in set(res["breakdown"])
    plans = res.loc[res["indicator"] == "has_safety_plan"].set_index("group")
    assert plans.loc["A", ["n", "numerator"]].tolist() == [4, 3]  # boolean column
    assert plans.loc["C", ["n", "numerator"]].tolist() == [1, 0]  # pd.NA is missing


def test_proportions_group_without_contributors_has_no_estimate():
    data = pd.DataFrame({"service": ["A", "A", "B"], "reached": [1, 0, None]})
    res = proportions(data, indicators=["reached"], by="service", question="q")
    b = res.set_index("group").loc["B"]
    assert b["n"] == 0 and b["numerator"] == 0
    assert pd.isna(b["estimate"]) and pd.isna(b["ci_low"]) and pd.isna(b["ci_high"])


def test_proportions_does_not_change_its_input(women):
    before = women.copy()
    proportions(women, indicators=["reached"], by="service", denominator="offered", question="q")
    pd.testing.assert_frame_equal(women, before)


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"indicators": ["reachd"]}, "reachd"),
        ({"indicators": {"reached": "reachd"}}, "reachd"),
        ({"indicators": ["reached"], "by": "servce"}, "servce"),
        ({"indicators": ["reached"], "denominator": "ofered"}, "ofered"),
        ({"indicators": ["reached"], "unit": "womn"}, "womn"),
    ],
)
def test_proportions_names_an_unknown_column(women, options, field):
    with pytest.raises(AnalysisError) as error:
        proportions(women, question="q", **options)
    assert error.value.field == field
    assert repr(field) in str(error.value)


@pytest.mark.parametrize(
    ("column", "values", "shown"),
    [
        ("reached", [1, 0, 2, 1], "2"),
        ("reached", [1.0, 0.5, 0.0, None], "0.5"),
        ("reached", ["1", "0", "yes", None], "'1'"),
        ("offered", [1, 1, -1, 0], "-1"),
    ],
)
def test_proportions_names_a_non_binary_value(column, values, shown):
    data = pd.DataFrame({"reached": [1, 0, 1, 1], "offered": [1, 1, 1, 1]})
    data[column] = values
    with pytest.raises(AnalysisError) as error:
        proportions(data, indicators=["reached"], denominator="offered", question="q")
    assert error.value.field == column
    assert shown in str(error.value)


def test_proportions_rejects_duplicate_units_and_bad_options(women):
    twice = pd.concat([women, women.iloc[[0]]])
    with pytest.raises(AnalysisError, match="w1"):
        proportions(twice, indicators=["reached"], unit="woman", question="q")
    with pytest.raises(AnalysisError) as error:
        proportions(women, indicators=["reached"], question="q", conf_level=95)
    assert error.value.field == "conf_level"
    with pytest.raises(AnalysisError):
        proportions(women, indicators=[], question="q")
    with pytest.raises(AnalysisError):
        proportions(women.to_dict(), indicators=["reached"], question="q")


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["A", "B", "C"]), st.sampled_from([0, 1, None])),
        min_size=1,
        max_size=40,
    )
)
def test_proportions_groups_add_up_to_overall(records):
    data = pd.DataFrame(records, columns=["service", "reached"])
    res = proportions(data, indicators=["reached"], by="service", question="q")
    overall = res.loc[res["breakdown"] == "overall"].iloc[0]
    groups = res.loc[res["breakdown"] == "service"]
    assert groups["n"].sum() == overall["n"]
    assert groups["numerator"].sum() == overall["numerator"]
    shown = res.dropna(subset=["estimate"])
    assert (shown["ci_low"] <= shown["estimate"]).all()
    assert (shown["estimate"] <= shown["ci_high"]).all()
    assert ((shown["ci_low"] >= 0) & (shown["ci_high"] <= 1)).all()


# ------------------------------------------------------------------------------------------
# Paired change
# ------------------------------------------------------------------------------------------

PRE = [2, 3, 1, 4, 2, 3]
POST = [4, 4, 3, 4, 5, 3]


@pytest.fixture
def waves() -> pd.DataFrame:
    """Six complete pairs (services A and B) and four women who cannot be paired."""
    rows = []
    for i, (before, after) in enumerate(zip(PRE, POST, strict=True), start=1):
        service = "A" if i <= 3 else "B"
        rows += [
            {"woman": f"w{i}", "wave": "baseline", "service": service, "felt_safety": before},
            {"woman": f"w{i}", "wave": "follow_up", "service": service, "felt_safety": after},
            {"woman": f"w{i}", "wave": "exit", "service": service, "felt_safety": 5},
        ]
    rows += [
        {"woman": "w7", "wave": "baseline", "service": "C", "felt_safety": 1},  # no follow-up
        {"woman": "w8", "wave": "baseline", "service": "C", "felt_safety": 2},
        {"woman": "w8", "wave": "follow_up", "service": "C", "felt_safety": None},  # missing
        {"woman": "w9", "wave": "follow_up", "service": "B", "felt_safety": 4},  # no baseline
        {"woman": "w10", "wave": "baseline", "service": "D", "felt_safety": 2},
        {"woman": "w10", "wave": "follow_up", "service": "D", "felt_safety": 5},  # 1 pair
    ]
    return pd.DataFrame(rows)


def change(data, **options):
    defaults = dict(
        unit="woman",
        wave="wave",
        value="felt_safety",
        pre="baseline",
        post="follow_up",
        question="q08_safety",
    )
    return paired_change(data, **{**defaults, **options})


def test_paired_change_matches_a_hand_computation(waves):
    res = change(waves.loc[waves["woman"] != "w10"]).set_index("statistic")
    assert list(res.index) == ["mean_pre", "mean_post", "mean_change", "effect_size_dz"]
    assert (res["n"] == 6).all()  # w7, w8 and w9 have no complete pair
    assert (res["indicator"] == "felt_safety").all()
    assert (res["breakdown"] == "overall").all() and (res["group"] == "all").all()

    # Differences 2, 1, 2, 0, 3, 0: mean 4/3, variance 22/15 (sum of squares 22/3 over 5).
    mean, sd, n = 4 / 3, math.sqrt(22 / 15), 6
    t_crit = stats.t.ppf(0.975, n - 1)
    assert t_crit == pytest.approx(2.570582, abs=1e-6)  # printed t tables, 5 df
    half = t_crit * sd / math.sqrt(n)
    assert res.loc["mean_change", "estimate"] == pytest.approx(mean)
    assert res.loc["mean_change", ["ci_low", "ci_high"]].tolist() == pytest.approx(
        [mean - half, mean + half]
    )
    t_value = mean / (sd / math.sqrt(n))
    assert t_value == pytest.approx(2.696799, abs=1e-6)
    assert res.loc["mean_change", "p_value"] == pytest.approx(2 * stats.t.sf(t_value, n - 1))
    assert res.loc["mean_change", "method"] == "paired_t"

    dz = mean / sd
    se = math.sqrt(1 / n + dz**2 / (2 * n))
    assert res.loc["effect_size_dz", "estimate"] == pytest.approx(dz)
    assert res.loc["effect_size_dz", ["ci_low", "ci_high"]].tolist() == pytest.approx(
        [dz - t_crit * se, dz + t_crit * se]
    )
    assert pd.isna(res.loc["effect_size_dz", "p_value"])

    pre_mean, pre_sd = np.mean(PRE), np.std(PRE, ddof=1)
    assert res.loc["mean_pre", "estimate"] == pytest.approx(15 / 6)
    assert res.loc["mean_pre", "ci_high"] == pytest.approx(pre_mean + t_crit * pre_sd / 6**0.5)
    assert res.loc["mean_post", "estimate"] == pytest.approx(23 / 6)


def test_paired_change_agrees_with_scipy_and_pingouin():
    rng = np.random.default_rng(20)
    before = rng.normal(3, 1, 40)
    after = before + rng.normal(0.4, 0.9, 40)
    long = pd.DataFrame(
        {
            "woman": np.tile(np.arange(40), 2),
            "wave": ["baseline"] * 40 + ["follow_up"] * 40,
            "felt_safety": np.concatenate([before, after]),
        }
    )
    res = change(long).set_index("statistic")
    scipy_result = stats.ttest_rel(after, before)
    assert res.loc["mean_change", "p_value"] == pytest.approx(scipy_result.pvalue, rel=1e-12)
    pingouin_result = pingouin.ttest(after, before, paired=True)
    assert pingouin_result["p_val"].iloc[0] == pytest.approx(scipy_result.pvalue, rel=1e-12)
    # pingouin rounds its CI95 column to 2 decimals by default.
    assert res.loc["mean_change", ["ci_low", "ci_high"]].tolist() == pytest.approx(
        list(pingouin_result["CI95"].iloc[0]), abs=0.005
    )
    esci = pingouin.compute_esci(
        stat=res.loc["effect_size_dz", "estimate"], nx=40, ny=40, paired=True, decimals=12
    )
    assert res.loc["effect_size_dz", ["ci_low", "ci_high"]].tolist() == pytest.approx(
        list(esci), abs=1e-10
    )
    assert res.loc["effect_size_dz", "estimate"] == pytest.approx(
        np.mean(after - before) / np.std(after - before, ddof=1)
    )


def test_paired_change_by_group_keeps_complete_pairs_only(waves):
    res = change(waves, by="service")
    counts = res.loc[res["statistic"] == "mean_change"].set_index("group")["n"]
    assert counts.to_dict() == {"all": 7, "A": 3, "B": 3, "C": 0, "D": 1}
    assert list(res["group"].unique()) == ["all", "A", "B", "C", "D"]
    assert len(res) == 5 * 4

    b = res.loc[res["group"] == "B"].set_index("statistic")
    differences = np.array(POST[3:]) - np.array(PRE[3:])
    assert b.loc["mean_change", "estimate"] == pytest.approx(differences.mean())
    assert b.loc["mean_change", "p_value"] == pytest.approx(
        stats.ttest_rel(POST[3:], PRE[3:]).pvalue
    )

    for group in ("C", "D"):  # 0 and 1 pairs: rows present, no estimates, a note
        few = res.loc[res["group"] == group]
        assert few["estimate"].isna().all() and few["p_value"].isna().all()
        assert few["note"].str.contains("fewer than 2").all()


def test_paired_change_with_no_variation_in_the_differences():
    long = pd.DataFrame(
        {
            "woman": [1, 1, 2, 2, 3, 3],
            "wave": ["pre", "post"] * 3,
            "score": [1, 2, 3, 4, 2, 3],
        }
    )
    res = paired_change(
        long, unit="woman", wave="wave", value="score", pre="pre", post="post", question="q"
    ).set_index("statistic")
    assert res.loc["mean_change", "estimate"] == 1.0
    assert pd.isna(res.loc["mean_change", "p_value"])
    assert pd.isna(res.loc["mean_change", "ci_low"])
    assert pd.isna(res.loc["effect_size_dz", "estimate"])


def test_paired_change_indicator_name_and_input_untouched(waves):
    before = waves.copy()
    res = change(waves, indicator="safety")
    assert set(res["indicator"]) == {"safety"}
    pd.testing.assert_frame_equal(waves, before)


def test_paired_change_validates_its_input(waves):
    with pytest.raises(AnalysisError) as error:
        change(waves, value="felt_safty")
    assert error.value.field == "felt_safty"

    with pytest.raises(AnalysisError, match="'w1'.*more than one row"):
        change(pd.concat([waves, waves.iloc[[0]]]))

    moved = waves.copy()
    moved.loc[(moved["woman"] == "w2") & (moved["wave"] == "follow_up"), "service"] = "B"
    with pytest.raises(AnalysisError, match="'w2'") as error:
        change(moved, by="service")
    assert error.value.field == "service"

    text = waves.assign(felt_safety=waves["felt_safety"].astype(str))
    with pytest.raises(AnalysisError, match="not numeric"):
        change(text)

    with pytest.raises(AnalysisError, match="'six_months'"):
        change(waves, post="six_months")
    with pytest.raises(AnalysisError, match="same wave"):
        change(waves, post="baseline")


# ------------------------------------------------------------------------------------------
# Documentation
# ------------------------------------------------------------------------------------------


def test_docstring_examples_run():
    result = doctest.testmod(methods, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0
