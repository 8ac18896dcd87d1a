"""Domain scores, SCORE ratings and per-woman change, checked by hand."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pceval.errors import AnalysisError
from pceval.instrument import load_instrument
from pceval.instrument.model import DexScore, Scale
from pceval.score import (
    dex_rating,
    dex_records,
    domain_columns,
    pomp,
    scale_range,
    score_change,
    score_dex,
    score_domains,
)

WOMEN = load_instrument("womens_survey")


def test_domains_come_from_the_scales_tags():
    expected = {f"domain_{d}": tuple(s for s in WOMEN.scales if d in s.domains)
                for s in WOMEN.scales for d in s.domains}
    assert domain_columns(WOMEN) == dict(sorted(expected.items()))


def test_pomp_turns_a_higher_is_worse_scale_round():
    worse = WOMEN.scale("felt_safety").model_copy(update={"higher_is_better": False})
    assert pomp(pd.Series([1.0, 2.0, 5.0], dtype="Float64"), WOMEN, worse).tolist() == [100.0, 75.0, 0.0]


def test_a_domain_averages_its_scales_on_the_pomp_metric():
    # two scales in one domain: felt safety (1-5 mean) and a 4-item sum (4-20) made higher-worse
    sum_scale = Scale(id="fear_sum", label="Fear", items=("fs_home", "fs_out", "fs_afraid", "fs_plan"),
                      method="sum", domains=("D12",), higher_is_better=False)
    inst = WOMEN.model_copy(update={"scales": (WOMEN.scale("felt_safety"), sum_scale)})
    assert scale_range(inst, sum_scale) == (4.0, 20.0)
    data = pd.DataFrame({"felt_safety": [4.0, None, 2.0], "fear_sum": [8.0, 20.0, None]}, dtype="Float64")
    out = score_domains(data, inst)
    # row 1: (4-1)/4*100 = 75 and 100 - (8-4)/16*100 = 75 -> 75; row 2: 0; row 3: 25
    assert out["domain_D12"].tolist() == [75.0, 0.0, 25.0]


def test_dex_ratings_step_at_the_cuts_and_turn_for_higher_worse():
    scale = WOMEN.scale("felt_safety")
    scores = pd.Series([1.0, 1.79, 1.8, 2.6, 3.39, 3.4, 4.2, 5.0], dtype="Float64")
    assert dex_rating(scores, WOMEN, scale).tolist() == [1, 1, 2, 3, 3, 4, 5, 5]
    declared = scale.model_copy(update={"higher_is_better": False,
                                        "dex": DexScore(type="circumstances", domain="x", cuts=(2, 3, 4, 4.5))})
    assert dex_rating(pd.Series([1.0, 2.0, 4.4, 5.0], dtype="Float64"), WOMEN, declared).tolist() == [5, 4, 2, 1]


@given(st.lists(st.floats(min_value=1, max_value=5, allow_nan=False), min_size=1, max_size=30))
def test_dex_ratings_are_monotone_and_in_range(values):
    scores = pd.Series(sorted(values), dtype="Float64")
    ratings = dex_rating(scores, WOMEN, WOMEN.scale("felt_safety"))
    assert ratings.between(1, 5).all() and ratings.is_monotonic_increasing


def test_cuts_must_increase():
    with pytest.raises(ValueError, match="must increase"):
        DexScore(type="goals", domain="x", cuts=(2, 2, 3, 4))


def _panel() -> pd.DataFrame:
    return pd.DataFrame({
        "pid": ["a", "a", "a", "b", "b", "c", None],
        "service_id": ["S01", "S01", "S02", "S01", "S01", "S03", "S01"],
        "_wave": ["baseline", "exit", "followup", "baseline", "followup", "followup", "baseline"],
        "felt_safety": [2.0, 3.0, 4.0, 3.0, None, 4.0, 1.0],
        "space_for_action": [3.0, 3.0, 2.0, 5.0, 4.0, None, 2.0],
        "experience": [None, 4.0, 5.0, None, 3.0, 4.0, None],
    })


def test_change_per_woman_pairs_the_first_wave_with_each_later_one():
    data = score_domains(_panel(), WOMEN)
    out = score_change(data, WOMEN).set_index(["pid", "measure", "post_wave"])
    assert out.loc[("a", "felt_safety", "exit"), "change"] == 1.0
    assert out.loc[("a", "felt_safety", "followup"), "change"] == 2.0
    # the service is the one at the later wave
    assert out.loc[("a", "felt_safety", "followup"), "service_id"] == "S02"
    # felt safety at b's follow-up is missing, so no pair; space for action falls by 1
    assert ("b", "felt_safety", "followup") not in out.index
    assert out.loc[("b", "space_for_action", "followup"), "improvement"] == -1.0
    # the domain of felt safety moves 2 points of 4 = 50 POMP points
    assert out.loc[("a", "domain_D12", "followup"), "change"] == 50.0
    # c has no baseline, the keyless row is never paired, experience is not asked at baseline
    assert "c" not in out.index.get_level_values("pid")
    assert "experience" not in out.index.get_level_values("measure")


def test_improvement_is_turned_for_a_higher_is_worse_scale():
    worse = WOMEN.scale("felt_safety").model_copy(update={"higher_is_better": False})
    inst = WOMEN.model_copy(update={"scales": (worse,)})
    out = score_change(_panel(), inst)
    row = out.loc[(out["pid"] == "a") & (out["post_wave"] == "followup") & (out["measure"] == "felt_safety")]
    assert row["change"].item() == 2.0 and row["improvement"].item() == -2.0


def test_change_names_an_unknown_wave():
    with pytest.raises(AnalysisError, match="unknown wave 'week6'"):
        score_change(_panel(), WOMEN, posts=("week6",))


def test_dex_records_pre_and_post_for_circumstances_post_only_for_satisfaction():
    data = score_dex(_panel(), WOMEN)
    assert data["felt_safety_score_rating"].tolist()[:3] == [2, 3, 4]
    records = dex_records(data, WOMEN)
    a = records.loc[records["pid"] == "a"]
    assert a[["score_type", "phase", "wave", "rating"]].values.tolist() == [
        ["circumstances", "pre", "baseline", 2], ["circumstances", "post", "followup", 4],
        ["goals", "pre", "baseline", 3], ["goals", "post", "followup", 2],
        ["satisfaction", "post", "followup", 5]]
    assert set(records["score_domain"]) == {s.dex.domain for s in WOMEN.scales if s.dex}
    assert records["pid"].notna().all()
