from __future__ import annotations

import pandas as pd
import pytest

from pceval.errors import InstrumentError
from pceval.instrument import ItemType, Role, Sensitivity, load_catalogue, load_instrument, load_instruments
from pceval.instrument.expressions import ExpressionError, parse_expression

MINIMAL = """\
kind: instrument
schema_version: 1
id: tiny
version: "0.1"
title: Tiny
respondent: woman
missing_codes:
  - {code: -99, label: Prefer not to say, kind: prefer_not_to_say}
choice_lists:
  yn:
    - {code: 1, label: "Yes"}
    - {code: 0, label: "No"}
items:
  - id: safe
    type: single_choice
    choices: yn
    role: safety_gate
  - id: q1
    type: single_choice
    choices: yn
    missing_codes: [-99]
    relevance: "safe == 1"
"""


def test_shipped_instruments_load_with_roles_and_sensitivities():
    instruments = load_instruments()
    assert set(instruments) == {"womens_survey", "contact_record", "worker_survey", "facilitator_survey"}
    women = instruments["womens_survey"]
    assert women.items[0].role == Role.SAFETY_GATE
    assert women.role_item("case_key").sensitivity == Sensitivity.DIRECT_IDENTIFIER
    assert women.waves == ("baseline", "exit", "followup")
    # every instrument has at least one identifier to protect and one free-text item
    for inst in instruments.values():
        assert inst.items_with("direct_identifier"), inst.id
        assert inst.items_with("free_text"), inst.id
    record = instruments["contact_record"]
    assert "content__safety_plan" in record.columns()
    assert any(i.type == ItemType.MULTIPLE_CHOICE for i in record.items)


def test_catalogue_has_the_22_domains_and_instruments_use_only_them():
    catalogue = load_catalogue()
    ids = [d.id for d in catalogue.domains]
    assert ids == [f"D{i:02d}" for i in range(1, 23)]
    for inst in load_instruments().values():
        for item in inst.items:
            assert set(item.domains) <= set(ids), item.id


def test_minimal_instrument_loads(write_yaml):
    inst = load_instrument(write_yaml(MINIMAL))
    assert inst.columns() == ["safe", "q1"]
    assert inst.missing_of("q1")[0].kind.value == "prefer_not_to_say"


def test_malformed_yaml_names_file_and_line(write_yaml):
    path = write_yaml(MINIMAL.replace("  - id: q1\n", "  - id: q1\n   bad: [\n"))
    with pytest.raises(InstrumentError) as info:
        load_instrument(path)
    message = str(info.value)
    assert str(path) in message and "row" in message and "malformed YAML" in message
    assert "\n" not in message


def test_unknown_choice_list_names_the_item(write_yaml):
    path = write_yaml(MINIMAL.replace("    choices: yn\n    missing_codes", "    choices: nope\n    missing_codes"))
    with pytest.raises(InstrumentError, match=r"item 'q1' names choice list 'nope'"):
        load_instrument(path)


def test_relevance_naming_a_missing_item_is_refused(write_yaml):
    path = write_yaml(MINIMAL.replace('relevance: "safe == 1"', 'relevance: "unsafe == 1"'))
    with pytest.raises(InstrumentError, match=r"item q1.relevance.*unsafe"):
        load_instrument(path)


def test_unknown_id_is_a_clear_error():
    with pytest.raises(InstrumentError, match="no instrument with id 'nope'"):
        load_instrument("nope")


def test_expression_evaluation_treats_blanks_as_false():
    frame = pd.DataFrame({"a": pd.array([1, None, 2], dtype="Int64"),
                          "m__x": pd.array([1, 0, None], dtype="Int8"),
                          "s": pd.array(["reached", None, "no"], dtype="string")})
    assert parse_expression("a == 1 or a == 2").evaluate(frame).tolist() == [True, False, True]
    assert parse_expression("not (a == 1)").evaluate(frame).tolist() == [False, True, True]
    assert parse_expression("selected(m, 'x')").evaluate(frame).tolist() == [True, False, False]
    assert parse_expression("s != 'no' and answered(s)").evaluate(frame).tolist() == [True, False, False]


@pytest.mark.parametrize("source", ["__import__('os')", "a.b == 1", "[x for x in a]", "lambda: 1", "a["])
def test_expressions_cannot_run_code(source):
    with pytest.raises(ExpressionError):
        parse_expression(source)
