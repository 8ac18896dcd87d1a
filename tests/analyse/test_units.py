"""Analysis units: per-woman summaries, joins, computed columns and filters from the plan."""

from __future__ import annotations

import pandas as pd
import pytest

from pceval.analyse.plan import Aggregate, DataSpec, JoinSpec
from pceval.analyse.units import build_units, per_person
from pceval.errors import AnalysisError
from pceval.instrument import load_instrument

RECORD = load_instrument("contact_record")
WOMEN = load_instrument("womens_survey")
INSTRUMENTS = {"contact_record": RECORD, "womens_survey": WOMEN}


def _record() -> pd.DataFrame:
    return pd.DataFrame({
        "pid": ["a", "a", "a", "b", "b", None],
        "service_id": ["S01", "S01", "S01", "S02", "S02", "S01"],
        "his_status": [None, "exited", None, "attending", None, None],
        "referral_date": pd.to_datetime(["2025-01-01"] * 3 + ["2025-03-01"] * 2 + [None]),
        "event_date": pd.to_datetime(["2025-01-09", "2025-01-04", "2025-01-20", "2025-03-02", "2025-03-05",
                                      "2025-01-01"]),
        "event_type": ["attempt", "attempt", "contact", "identified", "attempt", "attempt"],
        "outcome": ["reached", "no_answer", "reached", None, "declined", "reached"],
        "minutes": [20, None, 35, None, None, 10],
    })


def _survey() -> pd.DataFrame:
    return pd.DataFrame({"pid": ["a", "a", "b", "c"], "service_id": ["S01", "S01", "S02", "S01"],
                         "_wave": ["baseline", "followup", "baseline", "baseline"],
                         "felt_safety": [2.0, 3.5, 4.0, 3.0]})


def test_per_person_summaries_follow_event_date_order():
    derive = {
        "attempts": "event_type != 'identified'",
        "reached_any": Aggregate(agg="any", where="outcome == 'reached'"),
        "first_contact": Aggregate(agg="min", of="event_date", where="outcome == 'reached'"),
        "first_outcome": Aggregate(agg="first", of="outcome"),
        "minutes": Aggregate(agg="sum", of="minutes"),
    }
    out = per_person(_record(), RECORD, derive=derive, carry=("his_status",)).set_index("pid")
    assert out.loc["a", "attempts"] == 3 and out.loc["b", "attempts"] == 1
    assert out.loc["a", "reached_any"] == 1 and out.loc["b", "reached_any"] == 0
    assert out.loc["a", "first_contact"] == pd.Timestamp("2025-01-09")
    assert pd.isna(out.loc["b", "first_contact"])
    # the earliest event of a is the no-answer of 4 January, though it is her second row
    assert out.loc["a", "first_outcome"] == "no_answer"
    assert out.loc["a", "minutes"] == 55
    assert out.loc["a", "his_status"] == "exited" and out.loc["b", "service_id"] == "S02"
    # the keyless row belongs to nobody
    assert list(out.index) == ["a", "b"]


def test_units_join_compute_and_filter():
    spec = DataSpec(
        source="womens_survey",
        join=(JoinSpec(source="contact_record", per_person=True, carry=("his_status",),
                       derive={"contacts": "outcome == 'reached'",
                               "referral": Aggregate(agg="first", of="referral_date"),
                               "first_contact": Aggregate(agg="min", of="event_date",
                                                          where="outcome == 'reached'")}),),
        compute={"days_to_contact": "days(referral, first_contact)", "quarter": "quarter(referral)"},
        where="_wave == 'baseline'",
    )
    out = build_units(spec, {"womens_survey": _survey(), "contact_record": _record()}, INSTRUMENTS)
    assert out["pid"].tolist() == ["a", "b", "c"]
    assert out["contacts"].tolist()[:2] == [2, 0] and pd.isna(out["contacts"].iloc[2])
    assert out["days_to_contact"].tolist()[0] == 8.0
    assert out["quarter"].tolist()[:2] == ["2025Q1", "2025Q1"]
    assert out["his_status"].tolist()[:2] == ["exited", "attending"]


def test_a_survey_wave_joins_with_a_prefix():
    spec = DataSpec(source="contact_record", per_person=True, derive={"n": "outcome == 'reached'"},
                    join=(JoinSpec(source="womens_survey", wave="followup", carry=("felt_safety",),
                                   prefix="fu_"),))
    out = build_units(spec, {"womens_survey": _survey(), "contact_record": _record()}, INSTRUMENTS)
    joined = out.set_index("pid")["fu_felt_safety"]
    assert joined["a"] == 3.5 and pd.isna(joined["b"])


def test_clashing_join_columns_and_unknown_columns_are_named():
    clash = DataSpec(source="womens_survey", join=(JoinSpec(source="womens_survey", carry=("felt_safety",)),))
    with pytest.raises(AnalysisError, match=r"joined columns \['felt_safety'\]"):
        build_units(clash, {"womens_survey": _survey()}, INSTRUMENTS)
    unknown = DataSpec(source="contact_record", per_person=True,
                       derive={"x": Aggregate(agg="max", of="nope")})
    with pytest.raises(AnalysisError, match="summarises 'nope'"):
        build_units(unknown, {"contact_record": _record()}, INSTRUMENTS)


def test_aggregates_other_than_count_need_a_column():
    with pytest.raises(ValueError, match="needs a column"):
        Aggregate(agg="min")
