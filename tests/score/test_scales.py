"""Scale scoring from the instrument: reverse keys, minimum valid items, codes never scored."""

from __future__ import annotations

import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from pceval.instrument import load_instrument
from pceval.score import reverse_key, score_scale, score_scales

WOMEN = load_instrument("womens_survey")
FELT = WOMEN.scale("felt_safety")
answers = st.one_of(st.none(), st.integers(1, 5))


def test_felt_safety_by_hand():
    data = pd.DataFrame({"fs_home": [5, 1, 4], "fs_out": [4, 1, None], "fs_afraid": [1, 5, None],
                         "fs_plan": [5, 2, 4]})
    scores = score_scale(data, WOMEN, FELT)
    # (5 + 4 + (6-1) + 5) / 4 = 4.75; (1 + 1 + 1 + 2) / 4 = 1.25; two items < min_valid 3
    assert scores.tolist()[:2] == [4.75, 1.25]
    assert pd.isna(scores.iloc[2])


@given(st.lists(st.integers(1, 5), min_size=1, max_size=20))
def test_reverse_keying_twice_is_identity(values):
    series = pd.Series(values, dtype="Float64")
    assert reverse_key(reverse_key(series, 1, 5), 1, 5).tolist() == series.tolist()


@given(st.lists(st.tuples(answers, answers, answers, answers), min_size=1, max_size=20))
def test_mean_stays_within_item_bounds(rows):
    data = pd.DataFrame(rows, columns=list(FELT.items))
    scores = score_scale(data, WOMEN, FELT).dropna()
    assert ((scores >= 1) & (scores <= 5)).all()


@given(st.tuples(answers, answers, answers, answers), st.integers(0, 3), st.sampled_from([-99, -98, 0, 6, 99]))
def test_a_code_never_changes_a_score(row, position, code):
    clean = pd.DataFrame([row], columns=list(FELT.items)).astype("Float64")
    coded = clean.copy()
    column = FELT.items[position]
    if pd.isna(coded.loc[0, column]):
        coded.loc[0, column] = code
        assert score_scale(coded, WOMEN, FELT).equals(score_scale(clean, WOMEN, FELT))


def test_score_scales_adds_every_declared_scale():
    data = pd.DataFrame({item.id: [3] for item in WOMEN.items if item.is_choice or item.is_numeric})
    scored = score_scales(data, WOMEN)
    assert [s.id for s in WOMEN.scales] == [c for c in scored.columns if c in {s.id for s in WOMEN.scales}]
    assert scored["felt_safety"].iloc[0] == 3
