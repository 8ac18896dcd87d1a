"""Disclosure control: primary and consequential suppression, the violations scanner, pooling."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pceval.errors import PrivacyError
from pceval.privacy import disclosure_violations, pool_small_groups, suppress_results
from pceval.results import RESULT_COLUMNS, result_frame


def row(group="all", *, n, numerator=None, breakdown=None, statistic="proportion",
        indicator="reached", question="q01_reach", estimate=None, **extra):
    if estimate is None and numerator is not None:
        estimate = numerator / n if statistic == "proportion" and n else numerator
    out = {"question": question, "indicator": indicator, "statistic": statistic,
           "breakdown": breakdown or ("overall" if group == "all" else "service"),
           "group": group, "n": n, "numerator": numerator, "estimate": estimate,
           "method": "wilson" if statistic == "proportion" else None, **extra}
    if statistic == "proportion" and numerator is not None:
        out.setdefault("ci_low", max(0.0, estimate - 0.1))
        out.setdefault("ci_high", min(1.0, estimate + 0.1))
    return out


def shown(frame, column="numerator"):
    return {g: (None if pd.isna(v) else int(v)) for g, v in zip(frame["group"], frame[column])}


# --- the worked example --------------------------------------------------------------------

def test_worked_example_one_small_cell_forces_a_consequential_one():
    # Reached women by service. S3's 3 is a small cell. Shown alone, it is also
    # 33 - 18 - 12 = 3 from the overall and the other services, so the next-smallest service
    # (S2, n 20) is hidden too. Then S2 + S3 = 33 - 18 = 15 of 62 - 30 = 32 women: no small
    # count, complement (17) or denominator, so nothing more is hidden and the overall stays.
    table = result_frame([
        row(n=62, numerator=33),
        row("S1", n=30, numerator=18),
        row("S2", n=20, numerator=12),
        row("S3", n=12, numerator=3),
    ])
    out = suppress_results(table)
    assert shown(out) == {"all": 33, "S1": 18, "S2": None, "S3": None}
    assert shown(out, "n") == {"all": 62, "S1": 30, "S2": 20, "S3": 12}  # n >= 5 stays
    assert out["suppressed"].tolist() == [False, False, True, True]
    assert out["note"].tolist()[2:] == ["n.p.: consequential", "n.p.: fewer than 5 contributors"]
    for column in ("estimate", "ci_low", "ci_high", "numerator"):
        assert out[column].isna().tolist() == [False, False, True, True]
    assert disclosure_violations(out).empty


def test_without_consequential_suppression_the_scanner_sees_the_subtraction():
    table = result_frame([
        row(n=62, numerator=33),
        row("S1", n=30, numerator=18),
        row("S2", n=20, numerator=12),
        row("S3", n=12, numerator=None, suppressed=True, estimate=None),
    ])
    found = disclosure_violations(table)
    assert found[["group", "rule", "value"]].to_dict("records") == [
        {"group": "S3", "rule": "derivable_cell", "value": 3},
    ]


def test_pooled_total_of_hidden_cells_must_not_be_small():
    # S1 (1) and S2 (2) are small; hidden together they still give 33 - 30 = 3, so S3 goes
    # too. With every service hidden, the overall (33 of 60) is shown: it is not small.
    table = result_frame([
        row(n=60, numerator=33),
        row("S1", n=10, numerator=1),
        row("S2", n=10, numerator=2),
        row("S3", n=40, numerator=30),
    ])
    out = suppress_results(table)
    assert shown(out) == {"all": 33, "S1": None, "S2": None, "S3": None}
    assert out["note"].tolist()[1:] == ["n.p.: fewer than 5 contributors"] * 2 + [
        "n.p.: consequential"]
    assert disclosure_violations(out).empty


def test_small_n_is_hidden_and_protected_by_subtraction_too():
    # S3 has 3 women: its n is hidden, and so S2's n (the next smallest) must go as well,
    # else 40 - 25 - 12 = 3 gives it back.
    table = result_frame([
        row(n=40, numerator=20, statistic="count"),
        row("S1", n=25, numerator=12, statistic="count"),
        row("S2", n=12, numerator=6, statistic="count"),
        row("S3", n=3, numerator=2, statistic="count"),
    ])
    out = suppress_results(table)
    assert shown(out, "n") == {"all": 40, "S1": 25, "S2": None, "S3": None}
    assert shown(out) == {"all": 20, "S1": 12, "S2": None, "S3": None}
    assert out["note"].tolist()[2:] == ["n.p.: consequential", "n.p.: fewer than 5 contributors"]
    assert disclosure_violations(out).empty


# --- primary rules -------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("n", "numerator", "note", "n_shown"),
    [
        (20, 3, "n.p.: fewer than 5 contributors", 20),
        (20, 17, "n.p.: fewer than 5 contributors without the attribute", 20),
        (4, 4, "n.p.: fewer than 5 contributors", None),
        (8, 0, "n.p.: denominator under 10", 8),
        (8, 8, "n.p.: denominator under 10", 8),
    ],
)
def test_primary_rules(n, numerator, note, n_shown):
    out = suppress_results(result_frame([row(n=n, numerator=numerator)]))
    assert bool(out.at[0, "suppressed"]) and out.at[0, "note"] == note
    assert pd.isna(out.at[0, "numerator"]) and pd.isna(out.at[0, "estimate"])
    assert shown(out, "n")["all"] == n_shown


@pytest.mark.parametrize(("n", "numerator"), [(20, 0), (20, 20), (20, 5), (20, 15), (10, 5)])
def test_zero_and_large_enough_cells_are_shown(n, numerator):
    out = suppress_results(result_frame([row(n=n, numerator=numerator)]))
    assert not out.at[0, "suppressed"] and out.at[0, "numerator"] == numerator


def test_count_rows_without_a_numerator_use_the_estimate():
    out = suppress_results(result_frame([row(n=30, statistic="count", estimate=2.0)]))
    assert bool(out.at[0, "suppressed"])


def test_means_with_few_contributors_are_hidden():
    table = result_frame([row(n=4, statistic="mean", estimate=3.2, indicator="felt_safety"),
                          row(n=6, statistic="mean", estimate=3.1, indicator="wellbeing")])
    out = suppress_results(table)
    assert out["suppressed"].tolist() == [True, False]
    assert pd.isna(out.at[0, "n"]) and out.at[1, "estimate"] == 3.1


def test_missing_n_is_hidden():
    out = suppress_results(result_frame([row(n=None, statistic="mean", estimate=3.0)]))
    assert bool(out.at[0, "suppressed"])
    assert out.at[0, "note"] == "n.p.: number of contributors not given"


def test_strict_mode_is_the_rule_of_ten():
    table = result_frame([row(n=30, numerator=7), row(n=30, numerator=12, indicator="x")])
    assert suppress_results(table)["suppressed"].tolist() == [False, False]
    strict = suppress_results(table, strict=True)
    assert strict["suppressed"].tolist() == [True, False]
    assert strict.at[0, "note"] == "n.p.: fewer than 10 contributors"
    assert disclosure_violations(strict, min_cell=10).empty


def test_rows_already_suppressed_are_kept_and_notes_joined():
    table = result_frame([
        row(n=20, numerator=None, estimate=None, suppressed=True, note="withdrawn consent",
            indicator="a"),
        row(n=20, numerator=2, note="pooled: S7, S9", indicator="b"),
    ])
    out = suppress_results(table)
    assert out["note"].tolist() == ["withdrawn consent",
                                    "n.p.: fewer than 5 contributors; pooled: S7, S9"]


def test_breakdowns_that_cannot_add_up_are_not_linked():
    # waves share women: the groups' n add up to more than the overall, so nobody can
    # subtract, and the one small wave is hidden alone
    table = result_frame([
        row(n=50, numerator=25, statistic="count"),
        row("baseline", n=50, numerator=25, breakdown="wave", statistic="count"),
        row("exit", n=40, numerator=3, breakdown="wave", statistic="count"),
        row("followup", n=30, numerator=20, breakdown="wave", statistic="count"),
    ])
    out = suppress_results(table)
    assert out["suppressed"].tolist() == [False, False, True, False]


def test_each_breakdown_is_linked_separately():
    table = result_frame([
        row(n=60, numerator=30),
        row("S1", n=30, numerator=15), row("S2", n=20, numerator=12), row("S3", n=10, numerator=3),
        row("yes", n=30, numerator=15, breakdown="aboriginal"),
        row("no", n=30, numerator=15, breakdown="aboriginal"),
    ])
    out = suppress_results(table)
    assert out["suppressed"].tolist() == [False, False, True, True, False, False]


def test_input_is_never_modified_and_rows_keep_their_order():
    table = result_frame([row(n=62, numerator=33), row("S1", n=30, numerator=18),
                          row("S2", n=20, numerator=12), row("S3", n=12, numerator=3)])
    table.index = [10, 11, 12, 13]
    before = table.copy(deep=True)
    out = suppress_results(table)
    pd.testing.assert_frame_equal(table, before)
    assert out["group"].tolist() == ["all", "S1", "S2", "S3"]
    assert list(out.columns) == list(RESULT_COLUMNS)
    assert out.dtypes.to_dict() == result_frame([]).dtypes.to_dict()


def test_bad_tables_and_limits_are_refused():
    with pytest.raises(PrivacyError, match="lacks the columns"):
        suppress_results(pd.DataFrame({"question": ["q"]}))
    with pytest.raises(PrivacyError, match="negative"):
        suppress_results(result_frame([row(n=10, numerator=-1)]))
    with pytest.raises(ValueError, match="min_cell"):
        suppress_results(result_frame([]), min_cell=0)


# --- the scanner ---------------------------------------------------------------------------

def test_scanner_finds_planted_violations():
    table = result_frame([
        row(n=20, numerator=3, indicator="small"),
        row(n=20, numerator=18, indicator="complement"),
        row(n=3, statistic="mean", estimate=2.5, indicator="few"),
        row(n=8, numerator=0, indicator="denominator"),
        row(n=20, numerator=5, suppressed=True, indicator="leaky"),
        row(n=None, statistic="mean", estimate=1.0, indicator="no_n"),
        # a derivable singleton: S2 is hidden, but 25 - 22 = 3 of its 10 women is a subtraction
        row(n=40, numerator=25, indicator="sub"),
        row("S1", n=30, numerator=22, indicator="sub"),
        row("S2", n=10, numerator=None, estimate=None, suppressed=True, indicator="sub"),
    ])
    everything = disclosure_violations(table)
    found = everything[["indicator", "group", "rule", "value"]]
    assert found.astype(object).where(found.notna(), None).to_dict("records") == [
        {"indicator": "small", "group": "all", "rule": "small_cell", "value": 3},
        {"indicator": "complement", "group": "all", "rule": "small_complement", "value": 2},
        {"indicator": "few", "group": "all", "rule": "small_n", "value": 3},
        {"indicator": "denominator", "group": "all", "rule": "small_denominator", "value": 8},
        {"indicator": "leaky", "group": "all", "rule": "not_masked", "value": None},
        {"indicator": "no_n", "group": "all", "rule": "n_missing", "value": None},
        {"indicator": "sub", "group": "S2", "rule": "derivable_cell", "value": 3},
    ]
    assert list(everything.columns) == ["question", "indicator", "breakdown", "group",
                                        "statistic", "rule", "value"]


def test_scanner_finds_a_derivable_hidden_overall():
    table = result_frame([
        row(n=40, numerator=None, estimate=None, suppressed=True, statistic="count"),
        row("S1", n=20, numerator=1, statistic="count"),
        row("S2", n=20, numerator=2, statistic="count"),
    ])
    rules = set(disclosure_violations(table)["rule"])
    assert {"small_cell", "derivable_cell"} <= rules


@st.composite
def count_tables(draw):
    """A result table of counts and proportions with one or two breakdowns per indicator."""
    rows = []
    for indicator in range(draw(st.integers(1, 3))):
        statistic = draw(st.sampled_from(["count", "proportion", "mean"]))
        women = draw(st.lists(st.integers(0, 40), min_size=1, max_size=6))
        has = [draw(st.integers(0, w)) for w in women]
        unlinked = draw(st.integers(0, 5)) if draw(st.booleans()) else 0
        total_n, total_has = sum(women) + unlinked, sum(has)

        def make(group, breakdown, n, k):
            if statistic == "mean":
                return row(group, n=n, statistic="mean", estimate=1.0 + k / max(n, 1),
                           breakdown=breakdown, indicator=f"i{indicator}")
            return row(group, n=n, numerator=k, statistic=statistic, breakdown=breakdown,
                       indicator=f"i{indicator}")

        rows.append(make("all", "overall", total_n, total_has))
        for g, (n, k) in enumerate(zip(women, has, strict=True)):
            rows.append(make(f"S{g}", "service", n, k))
        if draw(st.booleans()):  # a second breakdown of the same women, in two groups
            split = draw(st.integers(0, len(women)))
            for label, part in (("yes", slice(0, split)), ("no", slice(split, None))):
                rows.append(make(label, "cohort", sum(women[part]), sum(has[part])))
    return result_frame(rows)


@settings(deadline=None)
@given(count_tables(), st.booleans())
def test_suppressed_tables_have_no_violations(table, strict):
    out = suppress_results(table, strict=strict)
    assert disclosure_violations(out, min_cell=10 if strict else 5).empty
    # nothing shown is changed, nothing suppressed comes back, and a second pass is a no-op
    visible = ~out["suppressed"]
    pd.testing.assert_series_equal(out.loc[visible, "estimate"], table.loc[visible, "estimate"])
    assert (out["suppressed"] | ~table["suppressed"]).all()
    pd.testing.assert_frame_equal(suppress_results(out, strict=strict), out)


# --- pooling -------------------------------------------------------------------------------

def test_pool_small_groups_counts_distinct_women():
    frame = pd.DataFrame({
        "service": ["A"] * 12 + ["B"] * 12 + ["C"] * 3 + [None],
        "pid": [f"a{i}" for i in range(12)] + ["b1", "b2"] * 6 + ["c1", "c2", "c3"] + ["x"],
    })
    before = frame.copy()
    out, pooled = pool_small_groups(frame, group_col="service", unit_col="pid")
    assert pooled == ["B", "C"]  # B has 12 rows but only 2 women
    assert out["service"].value_counts(dropna=False).to_dict() == {
        "A": 12, "Other services (pooled)": 15, None: 1} or out["service"].isna().sum() == 1
    assert out["service"].iloc[:12].eq("A").all() and pd.isna(out["service"].iloc[-1])
    pd.testing.assert_frame_equal(frame, before)


def test_pool_small_groups_by_rows_and_still_small_pool():
    frame = pd.DataFrame({"service": ["A"] * 10 + ["B"] * 2 + ["C"] * 1})
    out, pooled = pool_small_groups(frame, group_col="service", label="Other")
    assert pooled == ["B", "C"]
    assert out["service"].value_counts().to_dict() == {"A": 10, "Other": 3}


def test_pool_small_groups_keeps_categories_and_numbers():
    frame = pd.DataFrame({"service": pd.Categorical([1] * 10 + [2] * 3 + [10] * 2)})
    out, pooled = pool_small_groups(frame, group_col="service")
    assert pooled == [2, 10]
    assert list(out["service"].cat.categories) == [1, "Other services (pooled)"]


def test_pool_small_groups_nothing_to_pool_and_errors():
    frame = pd.DataFrame({"service": ["A"] * 10})
    out, pooled = pool_small_groups(frame, group_col="service")
    assert pooled == [] and out.equals(frame) and out is not frame
    with pytest.raises(ValueError, match="already a group"):
        pool_small_groups(frame, group_col="service", label="A")
    with pytest.raises(ValueError, match="not a column"):
        pool_small_groups(frame, group_col="site")


def test_rows_suppressed_upstream_or_without_a_value_still_hide_a_small_n():
    table = result_frame([
        row(n=3, numerator=None, statistic="sd", estimate=None, indicator="no_value"),
        row(n=3, numerator=2, suppressed=True, note="withdrawn", indicator="upstream"),
        row(n=0, statistic="mean", estimate=None, indicator="nobody"),
    ])
    out = suppress_results(table)
    assert out["n"].isna().tolist() == [True, True, False]
    assert out["suppressed"].tolist() == [True, True, False]
    assert out["note"].tolist() == ["n.p.: fewer than 5 contributors", "withdrawn", pd.NA]
    assert out.loc[1, ["numerator", "estimate"]].isna().all()
    assert disclosure_violations(out).empty
