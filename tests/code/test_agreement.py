"""Agreement and intraclass correlation against published examples and hand computations."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from pceval.code.agreement import agreement, icc
from pceval.errors import AnalysisError, DataError

# Shrout & Fleiss (1979), "Intraclass correlations: uses in assessing rater reliability",
# Psychological Bulletin 86(2), Table 2: six targets (rows) rated by four judges (columns).
SHROUT_FLEISS = np.array([
    [9, 2, 5, 8],
    [6, 1, 3, 2],
    [8, 4, 6, 8],
    [7, 1, 2, 6],
    [10, 5, 6, 9],
    [6, 2, 4, 7],
], dtype=float)

# Krippendorff (2011), "Computing Krippendorff's alpha-reliability", section C: four coders,
# twelve units, values 1-5, None where a coder did not code the unit.
KRIPPENDORFF = {
    "A": [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
    "B": [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
    "C": [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
    "D": [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
}


def long_ratings(matrix: dict[str, list]) -> pd.DataFrame:
    """Long ratings (one row per unit and coder) with absent rows for missing ratings."""
    rows = [(unit + 1, coder, value) for coder, values in matrix.items()
            for unit, value in enumerate(values) if value is not None]
    return pd.DataFrame(rows, columns=["unit", "coder", "value"])


def row(table: pd.DataFrame, statistic: str) -> pd.Series:
    return table.set_index("statistic").loc[statistic]


# --- intraclass correlation ---------------------------------------------------------------

def shrout_fleiss_long() -> pd.DataFrame:
    return pd.DataFrame([(t + 1, f"J{j + 1}", SHROUT_FLEISS[t, j])
                         for t in range(6) for j in range(4)],
                        columns=["target", "judge", "rating"])


def mean_squares(x: np.ndarray) -> dict[str, float]:
    """BMS, WMS, JMS and EMS of Shrout & Fleiss's Table 1, by hand."""
    n, k = x.shape
    grand = x.mean()
    between = k * ((x.mean(axis=1) - grand) ** 2).sum()
    judges = n * ((x.mean(axis=0) - grand) ** 2).sum()
    within = ((x - x.mean(axis=1, keepdims=True)) ** 2).sum()
    residual = within - judges
    return {"BMS": between / (n - 1), "WMS": within / (n * (k - 1)),
            "JMS": judges / (k - 1), "EMS": residual / ((n - 1) * (k - 1))}


def test_mean_squares_match_shrout_fleiss_table_2():
    ms = mean_squares(SHROUT_FLEISS)
    assert {key: round(value, 2) for key, value in ms.items()} == {
        "BMS": 11.24, "WMS": 6.26, "JMS": 32.49, "EMS": 1.02}


def test_icc_reproduces_shrout_fleiss_table_4():
    table = icc(shrout_fleiss_long(), target="target", rater="judge", value="rating")
    assert table["statistic"].tolist() == ["ICC1", "ICC2", "ICC3", "ICC1k", "ICC2k", "ICC3k"]
    estimate = table.set_index("statistic")["estimate"]
    # published values (Shrout & Fleiss 1979, Table 4)
    assert estimate.round(2).to_dict() == {"ICC1": 0.17, "ICC2": 0.29, "ICC3": 0.71,
                                           "ICC1k": 0.44, "ICC2k": 0.62, "ICC3k": 0.91}
    # exact values from the mean squares, by the paper's formulas
    n, k = SHROUT_FLEISS.shape
    ms = mean_squares(SHROUT_FLEISS)
    bms, wms, jms, ems = ms["BMS"], ms["WMS"], ms["JMS"], ms["EMS"]
    exact = {
        "ICC1": (bms - wms) / (bms + (k - 1) * wms),
        "ICC2": (bms - ems) / (bms + (k - 1) * ems + k * (jms - ems) / n),
        "ICC3": (bms - ems) / (bms + (k - 1) * ems),
        "ICC1k": (bms - wms) / bms,
        "ICC2k": (bms - ems) / (bms + (jms - ems) / n),
        "ICC3k": (bms - ems) / bms,
    }
    assert exact["ICC1"] == pytest.approx(0.1657, abs=5e-5)
    for name, value in exact.items():
        assert round(estimate[name], 3) == round(value, 3)
        assert estimate[name] == pytest.approx(value, abs=1e-12)


def test_icc_f_tests_and_intervals():
    table = icc(shrout_fleiss_long(), target="target", rater="judge", value="rating")
    by = table.set_index("statistic")
    ms = mean_squares(SHROUT_FLEISS)
    f_one, f_two = ms["BMS"] / ms["WMS"], ms["BMS"] / ms["EMS"]
    assert by.loc["ICC1", "f"] == pytest.approx(f_one)
    assert by.loc["ICC3", "f"] == pytest.approx(f_two)
    assert by["df1"].tolist() == [5] * 6
    assert by["df2"].tolist() == [18, 15, 15, 18, 15, 15]
    assert by.loc["ICC3", "p_value"] == pytest.approx(stats.f.sf(f_two, 5, 15))
    assert by["n_targets"].eq(6).all() and by["n_raters"].eq(4).all()
    # ICC(3,1) interval of Shrout & Fleiss (1979), eq. 12, at full precision
    f_low = f_two / stats.f.ppf(0.975, 5, 15)
    f_high = f_two * stats.f.ppf(0.975, 15, 5)
    assert by.loc["ICC3", "ci_low"] == pytest.approx((f_low - 1) / (f_low + 3))
    assert by.loc["ICC3", "ci_high"] == pytest.approx((f_high - 1) / (f_high + 3))
    # R psych::ICC on the same data, as recorded in pingouin's tests/test_reliability.py
    assert by["ci_low"].round(2).tolist() == [-0.13, 0.02, 0.34, -0.88, 0.07, 0.68]
    assert by["ci_high"].round(2).tolist() == [0.72, 0.76, 0.95, 0.91, 0.93, 0.99]


def test_icc_leaves_out_targets_missing_a_rating():
    data = shrout_fleiss_long()
    data.loc[(data["target"] == 2) & (data["judge"] == "J3"), "rating"] = np.nan
    table = icc(data, target="target", rater="judge", value="rating")
    kept = np.delete(SHROUT_FLEISS, 1, axis=0)
    ms = mean_squares(kept)
    assert table["n_targets"].iloc[0] == 5
    assert table.set_index("statistic").at["ICC3k", "estimate"] == pytest.approx(
        (ms["BMS"] - ms["EMS"]) / ms["BMS"])


def test_icc_rejects_duplicates_and_constant_ratings():
    data = shrout_fleiss_long()
    with pytest.raises(DataError, match="unit 1 has more than one rating from coder 'J1'"):
        icc(pd.concat([data, data.head(1)]), target="target", rater="judge", value="rating")
    flat = data.assign(rating=3.0)
    with pytest.raises(AnalysisError, match="do not vary"):
        icc(flat, target="target", rater="judge", value="rating")
    with pytest.raises(DataError, match="field score"):
        icc(data, target="target", rater="judge", value="score")


# --- agreement ------------------------------------------------------------------------------

@pytest.mark.parametrize(("level", "published"), [
    ("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849), ("ratio", 0.797),
])
def test_krippendorff_alpha_reproduces_krippendorff_2011(level, published):
    table = agreement(long_ratings(KRIPPENDORFF), unit="unit", coder="coder", value="value",
                      level=level, n_boot=200)
    alpha = row(table, "krippendorff_alpha")
    assert round(alpha["estimate"], 3) == published
    assert alpha["level"] == level
    # unit 12 has a single rating, so it is not pairable
    assert (alpha["n_units"], alpha["n_coders"]) == (11, 4)
    assert alpha["ci_low"] <= alpha["estimate"] <= alpha["ci_high"]


def test_percent_agreement_and_fleiss_kappa_by_hand_on_krippendorff_data():
    table = agreement(long_ratings(KRIPPENDORFF), unit="unit", coder="coder", value="value",
                      n_boot=0)
    units = list(zip(*KRIPPENDORFF.values(), strict=True))
    shares = []
    for ratings in units:
        present = [v for v in ratings if v is not None]
        pairs = list(itertools.combinations(present, 2))
        if pairs:
            shares.append(sum(a == b for a, b in pairs) / len(pairs))
    assert len(shares) == 11
    assert row(table, "percent_agreement")["estimate"] == pytest.approx(np.mean(shares))
    assert row(table, "percent_agreement")["estimate"] == pytest.approx(9 / 11)

    # Fleiss (1971) on the eight units every coder coded (units 2 to 9)
    complete = [u for u in units if None not in u]
    assert len(complete) == 8
    categories = sorted({v for u in complete for v in u})
    counts = np.array([[u.count(c) for c in categories] for u in complete])
    p_bar = ((counts * (counts - 1)).sum(axis=1) / (4 * 3)).mean()
    p_e = ((counts.sum(axis=0) / counts.sum()) ** 2).sum()
    fleiss = row(table, "fleiss_kappa")
    assert fleiss["estimate"] == pytest.approx((p_bar - p_e) / (1 - p_e))
    assert (fleiss["n_units"], fleiss["n_coders"]) == (8, 4)
    # more than two coders: Cohen's kappa is not defined, so its row is absent
    assert "cohen_kappa" not in table["statistic"].tolist()
    assert np.isnan(fleiss["ci_low"])


def test_fleiss_kappa_reproduces_wikipedia_worked_example():
    # Wikipedia, "Fleiss' kappa", worked example: ten subjects, fourteen raters, five
    # categories; published P-bar = 0.378, P-bar_e = 0.213, kappa = 0.210.
    counts = np.array([[0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0],
                       [2, 2, 8, 1, 1], [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2],
                       [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]])
    # rater identity does not enter Fleiss' kappa, so hand the codes out to raters in order
    rows = []
    for subject, subject_counts in enumerate(counts):
        codes = np.repeat(np.arange(1, 6), subject_counts)
        rows += [(subject, rater, code) for rater, code in enumerate(codes)]
    data = pd.DataFrame(rows, columns=["subject", "rater", "category"])
    table = agreement(data, unit="subject", coder="rater", value="category", n_boot=300)
    assert round(row(table, "fleiss_kappa")["estimate"], 3) == 0.210
    assert round(row(table, "percent_agreement")["estimate"], 3) == 0.378
    assert row(table, "fleiss_kappa")["n_units"] == 10
    assert row(table, "fleiss_kappa")["n_coders"] == 14


def cohen_example() -> pd.DataFrame:
    # Wikipedia, "Cohen's kappa", first worked example: 50 grant proposals read by A and B;
    # both yes 20, A yes B no 5, A no B yes 10, both no 15; published kappa = 0.4.
    pairs = [("yes", "yes")] * 20 + [("yes", "no")] * 5 + [("no", "yes")] * 10 \
        + [("no", "no")] * 15
    return pd.DataFrame(
        [(i, coder, answer) for i, pair in enumerate(pairs)
         for coder, answer in zip("AB", pair, strict=True)],
        columns=["proposal", "reader", "answer"])


def test_cohen_kappa_and_its_asymptotic_interval():
    table = agreement(cohen_example(), unit="proposal", coder="reader", value="answer",
                      ci=0.90, n_boot=0)
    cohen = row(table, "cohen_kappa")
    assert cohen["estimate"] == pytest.approx(0.4)
    assert (cohen["n_units"], cohen["n_coders"]) == (50, 2)
    # large-sample standard error of Fleiss, Cohen & Everitt (1969), "Large sample standard
    # errors of kappa and weighted kappa", Psychological Bulletin 72(5), by hand
    p = np.array([[15, 10], [5, 20]]) / 50  # rows: A said no, yes; columns: B said no, yes
    rows_, cols = p.sum(axis=1), p.sum(axis=0)
    p_o, p_e = np.trace(p), (rows_ * cols).sum()
    kappa = (p_o - p_e) / (1 - p_e)
    a = sum(p[i, i] * (1 - (rows_[i] + cols[i]) * (1 - kappa)) ** 2 for i in range(2))
    b = (1 - kappa) ** 2 * sum(p[i, j] * (cols[i] + rows_[j]) ** 2
                               for i in range(2) for j in range(2) if i != j)
    c = (kappa - p_e * (1 - kappa)) ** 2
    se = np.sqrt(a + b - c) / ((1 - p_e) * np.sqrt(50))
    z = stats.norm.ppf(0.95)
    assert cohen["ci_low"] == pytest.approx(0.4 - z * se)
    assert cohen["ci_high"] == pytest.approx(0.4 + z * se)
    # with two coders on complete data percent agreement is the observed agreement
    assert row(table, "percent_agreement")["estimate"] == pytest.approx(0.7)


def test_bootstrap_is_deterministic_and_brackets_the_estimate():
    data = long_ratings(KRIPPENDORFF)
    first = agreement(data, unit="unit", coder="coder", value="value", level="interval",
                      n_boot=300)
    again = agreement(data, unit="unit", coder="coder", value="value", level="interval",
                      n_boot=300)
    pd.testing.assert_frame_equal(first, again)
    other_seed = agreement(data, unit="unit", coder="coder", value="value", level="interval",
                           n_boot=300, seed=1)
    assert not np.allclose(first["ci_low"], other_seed["ci_low"])
    assert (first["ci_low"] <= first["estimate"]).all()
    assert (first["estimate"] <= first["ci_high"]).all()


def test_missing_values_as_nan_or_absent_rows_agree():
    absent = long_ratings(KRIPPENDORFF)
    with_nan = pd.DataFrame([(u + 1, c, np.nan if v is None else v)
                             for c, values in KRIPPENDORFF.items()
                             for u, v in enumerate(values)], columns=["unit", "coder", "value"])
    pd.testing.assert_frame_equal(
        agreement(absent, unit="unit", coder="coder", value="value", n_boot=50),
        agreement(with_nan, unit="unit", coder="coder", value="value", n_boot=50))


def test_undefined_statistics_are_left_out():
    same = pd.DataFrame({"unit": [1, 1, 2, 2], "coder": ["a", "b"] * 2, "value": ["x"] * 4})
    table = agreement(same, unit="unit", coder="coder", value="value", n_boot=0)
    assert table["statistic"].tolist() == ["percent_agreement"]
    assert table["estimate"].tolist() == [1.0]
    single = pd.DataFrame({"unit": [1, 2], "coder": ["a", "b"], "value": [1, 2]})
    assert agreement(single, unit="unit", coder="coder", value="value").empty


def test_agreement_rejects_bad_input():
    data = long_ratings(KRIPPENDORFF)
    with pytest.raises(DataError, match="field level: unknown level"):
        agreement(data, unit="unit", coder="coder", value="value", level="metric")
    doubled = pd.concat([data, data.iloc[[3]]])
    with pytest.raises(DataError, match="unit 4 has more than one rating from coder 'A'"):
        agreement(doubled, unit="unit", coder="coder", value="value")
    words = data.assign(value=data["value"].map({1: "low"}).fillna("high"))
    with pytest.raises(DataError, match="field value: interval agreement needs numeric"):
        agreement(words, unit="unit", coder="coder", value="value", level="interval")
    with pytest.raises(DataError, match="field ci"):
        agreement(data, unit="unit", coder="coder", value="value", ci=95)
    with pytest.raises(DataError, match="field rater"):
        agreement(data, unit="unit", coder="rater", value="value")


def test_cohen_interval_stays_within_kappas_range():
    data = pd.DataFrame({"unit": [1, 1, 2, 2, 3, 3, 4, 4], "coder": ["a", "b"] * 4,
                         "value": [1, 2, 2, 2, 3, None, 1, 1]})
    cohen = row(agreement(data, unit="unit", coder="coder", value="value", n_boot=0),
                "cohen_kappa")
    # units 1, 2 and 4: observed agreement 2/3, chance agreement 4/9
    assert cohen["estimate"] == pytest.approx((2 / 3 - 4 / 9) / (1 - 4 / 9))
    assert cohen["n_units"] == 3
    assert cohen["ci_high"] == 1.0 and cohen["ci_low"] > -1.0
