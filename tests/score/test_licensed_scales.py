"""A user adds a licensed scale (their own item text) and pceval scores it by the built-in rule."""

from __future__ import annotations

import pandas as pd
import pytest

from pceval.errors import InstrumentError
from pceval.instrument import load_instrument
from pceval.instrument.load import load_scale_rules
from pceval.score import score_scales

# The item wording below is a placeholder: a user pastes the licensed wording there.
K10_ITEMS = "\n".join(
    f"""  - id: k10_{n:02d}
    type: likert
    group: distress
    label: "[K10 item {n}: licensed wording supplied by the user]"
    choices: k10_freq
    missing_codes: [-99]
    domains: [D14]"""
    for n in range(1, 11)
)

LICENSED = f"""\
kind: instrument
schema_version: 1
id: with_k10
version: "1"
title: Wellbeing check
respondent: woman
missing_codes:
  - {{code: -99, label: Prefer not to say, kind: prefer_not_to_say}}
choice_lists:
  k10_freq:
    - {{code: 1, label: None of the time}}
    - {{code: 2, label: A little of the time}}
    - {{code: 3, label: Some of the time}}
    - {{code: 4, label: Most of the time}}
    - {{code: 5, label: All of the time}}
items:
{K10_ITEMS}
scales:
  - id: k10
    label: Psychological distress (K10)
    rule: k10
    items: [{", ".join(f"k10_{n:02d}" for n in range(1, 11))}]
"""


@pytest.fixture
def k10_instrument(write_yaml):
    return load_instrument(write_yaml(LICENSED))


def test_rule_fills_method_missing_rule_and_bands(k10_instrument):
    scale = k10_instrument.scale("k10")
    assert scale.method == "prorated_sum" and scale.min_valid == 9 and not scale.higher_is_better
    assert [b.label for b in scale.bands] == ["low", "moderate", "high", "very high"]


def test_k10_scores_and_abs_bands(k10_instrument):
    # Bands as published by the Australian Bureau of Statistics for the K10 (National Health
    # Survey: 10-15 low, 16-21 moderate, 22-29 high, 30-50 very high); one missing item is
    # replaced by the mean of the other nine, two or more missing give no score.
    rows = [
        [1] * 10,                      # 10 -> low
        [2] * 5 + [1] * 5,             # 15 -> low
        [2] * 6 + [1] * 4,             # 16 -> moderate
        [3] * 7 + [2] * 1 + [1] * 2,   # 25 -> high
        [3] * 9 + [None],              # 27 * 10 / 9 = 30 -> very high (prorated)
        [5] * 8 + [None, None],        # two missing -> no score
        [5] * 10,                      # 50 -> very high
    ]
    data = pd.DataFrame(rows, columns=[f"k10_{n:02d}" for n in range(1, 11)], dtype="Float64")
    scored = score_scales(data, k10_instrument)
    assert scored["k10"].tolist()[:5] == [10, 15, 16, 25, 30]
    assert pd.isna(scored["k10"].iloc[5]) and scored["k10"].iloc[6] == 50
    assert scored["k10_band"].tolist() == ["low", "low", "moderate", "high", "very high", pd.NA, "very high"]


def test_wrong_item_count_is_refused(write_yaml):
    text = LICENSED.replace(", k10_10]", "]")
    with pytest.raises(InstrumentError, match="has 9 items; rule k10 scores 10"):
        load_instrument(write_yaml(text))


def test_wrong_item_range_is_refused(write_yaml):
    text = LICENSED.replace("{code: 1, label: None of the time}", "{code: 0, label: None of the time}")
    with pytest.raises(InstrumentError, match="needs 1 to 5"):
        load_instrument(write_yaml(text))


def test_unknown_rule_names_the_choices(write_yaml):
    with pytest.raises(InstrumentError, match="unknown scoring rule 'k11'"):
        load_instrument(write_yaml(LICENSED.replace("rule: k10", "rule: k11")))


def test_pwi_screens_uniform_response_sets(write_yaml):
    items = "\n".join(
        f"  - {{id: pwi_{n}, type: integer, constraint: {{min: 0, max: 10}}, domains: [D14]}}"
        for n in range(1, 8))
    text = f"""\
kind: instrument
schema_version: 1
id: with_pwi
version: "1"
title: Wellbeing
respondent: woman
items:
{items}
scales:
  - {{id: pwi, label: Personal Wellbeing Index, rule: pwi, items: [{", ".join(f"pwi_{n}" for n in range(1, 8))}]}}
"""
    inst = load_instrument(write_yaml(text))
    data = pd.DataFrame([[7] * 7, [10] * 7, [0] * 7, [5, 5, 5, 5, 5, 5, 4]],
                        columns=[f"pwi_{n}" for n in range(1, 8)], dtype="Float64")
    scored = score_scales(data, inst)
    assert scored["pwi"].iloc[0] == 70 and scored["pwi_band"].iloc[0] == "normal range"
    assert pd.isna(scored["pwi"].iloc[1]) and pd.isna(scored["pwi"].iloc[2])
    assert scored["pwi"].iloc[3] == pytest.approx(340 / 7)
    assert scored["pwi_band"].iloc[3] == "challenged"


def test_every_rule_is_documented():
    for rule in load_scale_rules().rules:
        assert rule.reference and rule.item_max > rule.item_min
