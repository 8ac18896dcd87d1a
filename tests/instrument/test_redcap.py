"""REDCap Data Dictionary: export, check, import (our own files losslessly, other people's faithfully)."""

from __future__ import annotations

import csv
import io
import re
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pceval.errors import InstrumentError
from pceval.instrument import ItemType, Sensitivity, load_instruments, parse_expression
from pceval.instrument.expressions import ExpressionError
from pceval.instrument.model import Instrument, multi_column
from pceval.instrument.redcap import (
    API_HEADERS,
    HEADERS,
    check_redcap_dictionary,
    export_redcap_dictionary,
    import_redcap_dictionary,
    redcap_checkbox_column,
    redcap_missing_data_codes,
    to_redcap_calculation,
    to_redcap_logic,
)

SHIPPED = load_instruments()


def _write(tmp_path: Path, text: str, name: str = "dd.csv") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def _header_row(path: Path) -> list[str]:
    with open(path, encoding="utf-8", newline="") as handle:
        return next(csv.reader(handle))


def _strip_payloads(path: Path, out: Path, *, api: bool = False) -> Path:
    """The same dictionary as REDCap would hold it if someone removed our annotations."""
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"), newline="")))
    if api:
        rows[0] = list(API_HEADERS)
    for row in rows[1:]:
        row[17] = re.sub(r"@PCEVAL=\S+", "", row[17]).strip()
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    out.write_text(buffer.getvalue(), encoding="utf-8")
    return out


# (a) every shipped instrument ----------------------------------------------------------------


@pytest.mark.parametrize("instrument_id", sorted(SHIPPED))
def test_shipped_instrument_exports_checks_clean_and_round_trips(tmp_path, instrument_id):
    inst = SHIPPED[instrument_id]
    path = export_redcap_dictionary(inst, tmp_path / f"{instrument_id}.csv")
    assert _header_row(path) == list(HEADERS)
    assert len(HEADERS) == 18
    assert check_redcap_dictionary(path) == []
    result = import_redcap_dictionary(path)
    assert result.instrument == inst
    assert result.record_id_field == "record_id"
    # the API header spelling reads the same
    api = tmp_path / "api.csv"
    text = path.read_text(encoding="utf-8").split("\n", 1)[1]
    api.write_text(",".join(API_HEADERS) + "\n" + text, encoding="utf-8")
    assert import_redcap_dictionary(api).instrument == inst
    # exporting twice gives the same bytes
    again = export_redcap_dictionary(inst, tmp_path / "again.csv")
    assert again.read_bytes() == path.read_bytes()


def test_womens_survey_dictionary_follows_redcap_conventions(tmp_path):
    inst = SHIPPED["womens_survey"]
    path = export_redcap_dictionary(inst, tmp_path / "w.csv")
    with open(path, encoding="utf-8", newline="") as handle:
        rows = {row["Variable / Field Name"]: row for row in csv.DictReader(handle)}
    first = next(iter(rows.values()))
    assert first["Variable / Field Name"] == "record_id" and first["Field Type"] == "text"
    assert all(row["Form Name"] == "womens_survey" for row in rows.values())
    # a woman can always decline: missing codes appended as choices
    assert rows["his_change"]["Choices, Calculations, OR Slider Labels"].endswith(
        "| -99, Prefer not to say | -98, Don't know | -97, Does not apply to me")
    # likert block → matrix group with one section header and identical choices
    felt = [r for r in rows.values() if r["Matrix Group Name"] == "felt_safety"]
    assert [r["Variable / Field Name"] for r in felt] == ["fs_home", "fs_out", "fs_afraid", "fs_plan"]
    assert {r["Choices, Calculations, OR Slider Labels"] for r in felt} == {
        felt[0]["Choices, Calculations, OR Slider Labels"]}
    assert felt[0]["Section Header"] == "Felt safety" and felt[1]["Section Header"] == ""
    assert rows["children_safe"]["Matrix Group Name"] == ""  # likert outside a block
    # identifiers and contact-safety details flagged, required fields marked
    for name in ("case_id", "first_name", "phone", "email", "street_address"):
        assert rows[name]["Identifier?"] == "y", name
    assert rows["age_group"]["Identifier?"] == ""
    assert rows["safe_now"]["Required Field?"] == "y"
    # types and validation
    assert rows["help_received"]["Field Type"] == "checkbox"
    assert rows["comments"]["Field Type"] == "notes"
    assert rows["end_note"]["Field Type"] == "descriptive"
    assert rows["survey_date"]["Text Validation Type OR Show Slider Number"] == "date_ymd"
    life = rows["life_satisfaction"]
    assert (life["Text Validation Type OR Show Slider Number"], life["Text Validation Min"],
            life["Text Validation Max"]) == ("integer", "0", "10")
    assert rows["children_safe"]["Branching Logic (Show field only if...)"] == (
        "[consent] = '1' and [children_n] > 0 and [children_n] <> ''")
    # metadata REDCap has no column for travels in the annotation, readable and in the payload
    note = rows["phone"]["Field Annotation"]
    assert "pceval: sensitivity contact_safety" in note and "@PCEVAL=" in note
    assert "waves baseline exit followup" in first["Field Annotation"]
    assert "-99 prefer_not_to_say" in first["Field Annotation"]
    assert re.search(r"@PCEVAL=[A-Za-z0-9_-]+$", note)
    assert "@NOMISSING" in rows["his_change"]["Field Annotation"]  # codes already choices
    assert "@NOMISSING" not in rows["life_satisfaction"]["Field Annotation"]  # needs REDCap's codes


def test_missing_data_codes_and_checkbox_columns():
    assert redcap_missing_data_codes(SHIPPED["womens_survey"]).splitlines() == [
        "-99, Prefer not to say", "-98, Don't know", "-97, Does not apply to me"]
    assert redcap_checkbox_column("help_received", -99) == "help_received____99"
    assert redcap_checkbox_column("content", "safety_plan") == "content___safety_plan"


# expressions → REDCap ----------------------------------------------------------------------

WOMEN = SHIPPED["womens_survey"]
RECORD = SHIPPED["contact_record"]


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("consent == 1", "[consent] = '1'"),
        ("age_group == -99", "[age_group] = '-99'"),
        ("selected(help_received, -99)", "[help_received(-99)] = '1'"),
        ("not selected(help_received, 2)", "[help_received(2)] = '0'"),
        ("answered(relationship)", "[relationship] <> ''"),
        ("not answered(relationship)", "[relationship] = ''"),
        ("consent != 1", "[consent] <> '1' and [consent] <> ''"),
        ("not consent == 1", "[consent] <> '1'"),
        ("not (consent == 1 and children_n >= 2)",
         "[consent] <> '1' or [children_n] < 2 or [children_n] = ''"),
        ("consent == 1 and (violence_3m == 1 or misuse == 1)",
         "[consent] = '1' and ([violence_3m] = '1' or [misuse] = '1')"),
        ("children_n + life_satisfaction > 3",
         "[children_n] + [life_satisfaction] > 3 and [children_n] <> '' and [life_satisfaction] <> ''"),
        ("selected(relationship, 2)", "[relationship] = '2'"),
        ("answered(help_received)",
         "[help_received(1)] = '1' or [help_received(2)] = '1' or [help_received(3)] = '1' or "
         "[help_received(4)] = '1' or [help_received(5)] = '1' or [help_received(6)] = '1'"),
    ],
)
def test_to_redcap_logic(expression, expected):
    assert to_redcap_logic(expression, WOMEN) == expected


def test_to_redcap_logic_string_codes_and_refusals():
    assert to_redcap_logic("his_status == 'completed' or selected(content, 'risk_review')", RECORD) == (
        "[his_status] = 'completed' or [content(risk_review)] = '1'")
    with pytest.raises(ExpressionError, match="not an item"):
        to_redcap_logic("nobody == 1", WOMEN)
    with pytest.raises(ExpressionError, match="multiple-choice"):
        to_redcap_logic("help_received == 1", WOMEN)
    assert to_redcap_calculation("children_n * 2 - (life_satisfaction - 1)", WOMEN) == (
        "[children_n] * 2 - ([life_satisfaction] - 1)")
    assert to_redcap_calculation("consent == 1", WOMEN) == "if([consent] = '1', 1, 0)"


# (b) generated instruments ---------------------------------------------------------------

MISSING_POOL = [
    {"code": -99, "label": "Prefer not to say", "kind": "prefer_not_to_say"},
    {"code": -98, "label": "Don't know", "kind": "dont_know"},
    {"code": -97, "label": "Does not apply to me", "kind": "not_applicable"},
]
ITEM_TYPES = [t.value for t in ItemType]
labels = st.sampled_from(["How safe do you feel?", "Any comment, please", "Rate it (1, 2 or 3)",
                          "Yes/no: \"quoted\" and 'single'", "Il y a | une barre"])


@st.composite
def instruments(draw) -> Instrument:
    missing = draw(st.lists(st.sampled_from(MISSING_POOL), unique_by=lambda m: m["code"], max_size=3))
    missing_codes = [m["code"] for m in missing]
    n_lists = draw(st.integers(1, 3))
    choice_lists: dict[str, list[dict]] = {}
    for index in range(n_lists):
        if draw(st.booleans()):
            pool = st.integers(-5, 9)
        else:
            pool = st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True)
        codes = draw(st.lists(pool, min_size=2, max_size=4, unique_by=str))
        codes = [c for c in codes if c not in missing_codes] or ["alpha", "beta"]
        choice_lists[f"list{index}"] = [
            {"code": c, "label": draw(labels) if i == 0 else f"Option {c}"} for i, c in enumerate(codes)]
    items: list[dict] = []
    conditions: list[str] = []
    numeric: list[str] = []
    roles = ["case_key", "service", "wave", "safety_gate", "event_date", "consent"]
    for index in range(draw(st.integers(1, 9))):
        kind = draw(st.sampled_from(ITEM_TYPES))
        item: dict = {"id": f"q{index}", "type": kind}
        label = draw(labels)
        item["label"] = {"en": label, "fr": label + " (fr)"} if draw(st.booleans()) else label
        if draw(st.booleans()):
            item["hint"] = "A hint"
        if kind in {"single_choice", "multiple_choice", "likert"}:
            list_name = draw(st.sampled_from(sorted(choice_lists)))
            item["choices"] = list_name
            codes = [c["code"] for c in choice_lists[list_name]]
            if kind == "likert" and draw(st.booleans()):
                item["group"] = draw(st.sampled_from(["block_a", "block_b"]))
            if missing_codes and draw(st.booleans()):
                item["missing_codes"] = draw(st.lists(st.sampled_from(missing_codes), unique=True,
                                                      min_size=1))
            code = draw(st.sampled_from(codes))
            if kind == "multiple_choice":
                conditions += [f"selected(q{index}, {code!r})", f"not selected(q{index}, {code!r})",
                               ]
            else:
                conditions += [f"q{index} == {code!r}", f"q{index} != {code!r}",
                               f"not q{index} == {code!r}"]
        elif kind in {"integer", "decimal"}:
            if draw(st.booleans()):
                item["constraint"] = {"min": 0, "max": draw(st.integers(1, 100))}
            if missing_codes and draw(st.booleans()):
                item["missing_codes"] = [missing_codes[0]]
            numeric.append(f"q{index}")
            bound = draw(st.integers(-3, 20))
            conditions += [f"q{index} > {bound}", f"q{index} <= {bound}", f"not q{index} < {bound}"]
        elif kind == "calculated":
            if numeric:
                item["calculation"] = " + ".join(numeric[:2]) + " * 2"
            else:
                item["calculation"] = "1 + 1"
        elif kind == "short_text":
            if draw(st.booleans()):
                item["constraint"] = {"pattern": "^[A-Z]{2}[0-9]{4}$"}
            conditions.append(f"answered(q{index})")
        elif kind in {"date", "long_text"}:
            conditions.append(f"not answered(q{index})")
        if kind != "note":
            item["sensitivity"] = draw(st.sampled_from([s.value for s in Sensitivity]))
            item["required"] = draw(st.booleans())
            if roles and draw(st.integers(0, 4)) == 0:
                item["role"] = roles.pop(draw(st.integers(0, len(roles) - 1)))
        if index and draw(st.booleans()) and conditions[:-1]:
            earlier = conditions[:-3] if len(conditions) > 3 else conditions[:1]
            parts = draw(st.lists(st.sampled_from(earlier), min_size=1, max_size=3))
            joiner = draw(st.sampled_from([" and ", " or "]))
            relevance = joiner.join(parts)
            if len(parts) > 1 and draw(st.booleans()):
                relevance = f"not ({relevance})"
            item["relevance"] = relevance
        if draw(st.booleans()):
            item["domains"] = ["D12"]
            item["nos"] = ["NOS1"]
        items.append(item)
    waves = draw(st.sampled_from([[], ["baseline", "followup"]]))
    if waves:
        for item in items:
            if draw(st.integers(0, 3)) == 0:
                item["waves"] = ["followup"]
    likert = [i["id"] for i in items if i["type"] == "likert"]
    scales = [{"id": "score", "label": "Score", "items": likert[:3]}] if likert else []
    # a relevance may only refer to items that exist (conditions name earlier ones only)
    return Instrument.model_validate({
        "kind": "instrument", "schema_version": 1, "id": "generated", "version": "0.1",
        "title": {"en": "Generated", "fr": "Généré"}, "respondent": "woman",
        "languages": ["en", "fr"], "waves": waves, "missing_codes": missing,
        "choice_lists": choice_lists, "items": items, "scales": scales,
        "support_services": ["Lifeline 13 11 14"],
    })


def _random_frame(inst: Instrument, seed: int, rows: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    data: dict[str, list] = {}
    for item in inst.data_items():
        codes = [c.code for c in inst.choices_of(item)] + list(item.missing_codes)
        if item.is_multiple:
            for code in codes:
                data[multi_column(item.id, code)] = list(rng.choice([0.0, 1.0, np.nan], rows))
        elif codes:
            values = [codes[i] for i in rng.integers(0, len(codes), rows)]
            data[item.id] = [v if rng.random() > 0.2 else None for v in values]
        elif item.is_numeric:
            data[item.id] = list(rng.choice([np.nan, -5.0, 0.0, 3.0, 7.0, 20.0, 25.0], rows))
        else:
            data[item.id] = [("AB1234" if rng.random() > 0.3 else None) for _ in range(rows)]
    frame = pd.DataFrame(data)
    for column in frame.columns:
        if frame[column].dtype == object and frame[column].map(lambda v: isinstance(v, str)).any():
            frame[column] = frame[column].astype("string")
        elif frame[column].dtype == object:
            frame[column] = pd.to_numeric(frame[column])
    return frame


@given(inst=instruments())
def test_generated_instruments_round_trip_and_pass_the_checker(tmp_path_factory, inst):
    folder = tmp_path_factory.mktemp("gen")
    path = export_redcap_dictionary(inst, folder / "dd.csv")
    assert check_redcap_dictionary(path) == []
    assert import_redcap_dictionary(path).instrument == inst


@given(inst=instruments(), seed=st.integers(0, 2**16))
def test_logic_translated_back_without_annotations_means_the_same(tmp_path_factory, inst, seed):
    """REDCap → pceval inverts pceval → REDCap: relevance evaluates identically on any data."""
    folder = tmp_path_factory.mktemp("bare")
    path = export_redcap_dictionary(inst, folder / "dd.csv")
    bare = import_redcap_dictionary(_strip_payloads(path, folder / "bare.csv"),
                                    respondent="woman").instrument
    assert [i.id for i in bare.items] == [i.id for i in inst.items]
    frame = _random_frame(inst, seed)
    for item in inst.items:
        if not item.relevance:
            continue
        again = bare.item(item.id).relevance
        original = parse_expression(item.relevance).evaluate(frame)
        translated = parse_expression(again).evaluate(frame)
        assert original.tolist() == translated.tolist(), (item.relevance, again)


# (c) someone else's dictionaries ------------------------------------------------------------

CSV_DOWNLOAD = '''\
"Variable / Field Name","Form Name","Section Header","Field Type","Field Label","Choices, Calculations, OR Slider Labels","Field Note","Text Validation Type OR Show Slider Number","Text Validation Min","Text Validation Max","Identifier?","Branching Logic (Show field only if...)","Required Field?","Custom Alignment","Question Number (surveys only)","Matrix Group Name","Matrix Ranking?","Field Annotation"
study_id,follow_up,,text,"Study ID",,,,,,,,,,,,,
intro,follow_up,,descriptive,"Thank you for talking with us. You can stop at any time.",,,,,,,,,,,,,
safe,follow_up,,yesno,"Is it safe to talk now?",,,,,,,,y,,,,,
full_name,follow_up,"About you",text,"Your name",,,,,,y,"[safe] = '1'",,,,,,
mobile,follow_up,,text,"A safe mobile number",,,phone_australia,,,y,"[safe] = '1'",,,,,,
age,follow_up,,text,"Age in years",,,integer,16,99,,"[safe] = '1'",,,,,,
supports,follow_up,,checkbox,"Which supports have you used?","1, Counselling | 2, Legal help | 3, Housing | -99, Prefer not to say","Choose all that apply",,,,,"[safe] = '1'",,,,,,@NONEOFTHEABOVE='-99'
safe_home,follow_up,"How safe you feel",radio,"I feel safe at home","1, Never | 2, Sometimes | 3, Often | 4, Always | -99, Prefer not to say",,,,,,"[safe] = '1'",y,,,feel,,
safe_out,follow_up,,radio,"I feel safe going out","1, Never | 2, Sometimes | 3, Often | 4, Always | -99, Prefer not to say",,,,,,"[safe] = '1'",y,,,feel,,
safety_total,follow_up,,calc,"Safety total","[safe_home] + [safe_out]",,,,,,,,,,,,@HIDDEN
legal_detail,follow_up,,notes,"Tell us about the legal help","",,,,,,"[supports(2)] = '1' and ([safe_home] = '1' or [safe_out] <> '4')",,,,,,
other_help,follow_up,,text,"Anything else that helped?",,,,,,,"[supports(-99)] = '0' or [age] >= 18",,,,,,
'''

API_SPELLING = '''\
field_name,form_name,section_header,field_type,field_label,select_choices_or_calculations,field_note,text_validation_type_or_show_slider_number,text_validation_min,text_validation_max,identifier,branching_logic,required_field,custom_alignment,question_number,matrix_group_name,matrix_ranking,field_annotation
record_id,intake,,text,Record ID,,,,,,,,,,,,,
worker,intake,,dropdown,Worker,"a1, Ana | b2, Bo",,,,,,,,,,,,
contact_date,intake,,text,Date of contact,,,date_dmy,,,,,y,,,,,
reached,intake,,truefalse,Was she reached?,,,,,,,,,,,,,
channels,intake,,checkbox,How,"phone, Phone | sms, Text | -98, Not known",,,,,,[reached] = '1',,,,,,
minutes,intake,,text,Minutes,,,number,0,240,,"[reached] = '1' and ([channels(phone)] = '1' or [channels(sms)] = '1')",,,,,,
consent_form,intake,,file,Signed consent,,,signature,,,,,,,,,,
helped,outcomes,,slider,How much did it help?,Not at all | Somewhat | A lot,,number,,,,[reached] = '1',,,,,,
bmi,outcomes,,calc,Rounded,"round([minutes] / 60, 1)",,,,,,,,,,,,
exp_listened,outcomes,Experience,radio,I was listened to,"1, No | 2, Partly | 3, Yes | -97, Not applicable",,,,,,,,,,exp,,
exp_believed,outcomes,,radio,I was believed,"1, No | 2, Partly | 3, Yes | -97, Not applicable",,,,,,,,,,exp,,
'''


def test_import_csv_download_spelling(tmp_path):
    path = _write(tmp_path, CSV_DOWNLOAD)
    assert check_redcap_dictionary(path) == []
    result = import_redcap_dictionary(path)
    inst = result.instrument
    assert result.record_id_field == "study_id"
    assert "study_id" not in [i.id for i in inst.items]
    assert inst.id == "follow_up"
    types = {i.id: i.type for i in inst.items}
    assert types == {
        "intro": ItemType.NOTE, "safe": ItemType.SINGLE_CHOICE, "full_name": ItemType.SHORT_TEXT,
        "mobile": ItemType.SHORT_TEXT, "age": ItemType.INTEGER, "supports": ItemType.MULTIPLE_CHOICE,
        "safe_home": ItemType.LIKERT, "safe_out": ItemType.LIKERT,
        "safety_total": ItemType.CALCULATED, "legal_detail": ItemType.LONG_TEXT,
        "other_help": ItemType.SHORT_TEXT,
    }
    assert [c.code for c in inst.choices_of("safe")] == [1, 0]
    # -99 Prefer not to say becomes a missing code of its kind, not an answer
    assert [c.code for c in inst.choices_of("supports")] == [1, 2, 3]
    assert inst.item("supports").missing_codes == (-99,)
    assert inst.missing_codes[0].kind == "prefer_not_to_say"
    assert inst.item("supports").hint == "Choose all that apply"
    # the matrix group: likert items sharing group and choice list
    assert inst.item("safe_home").group == inst.item("safe_out").group == "feel"
    assert inst.item("safe_home").choices == inst.item("safe_out").choices
    assert inst.item("safe_home").required
    assert inst.item("age").constraint.min == 16 and inst.item("age").constraint.max == 99
    assert inst.item("safety_total").calculation == "safe_home + safe_out"
    # branching logic in the expression language
    assert inst.item("full_name").relevance == "safe == 1"
    assert inst.item("legal_detail").relevance == (
        "selected(supports, 2) and (safe_home == 1 or not safe_out == 4)")
    assert inst.item("other_help").relevance == "not selected(supports, -99) or age >= 18"
    # sensitivity from the identifier flag and the field kind
    sens = {i.id: i.sensitivity for i in inst.items}
    assert sens["full_name"] == Sensitivity.DIRECT_IDENTIFIER
    assert sens["mobile"] == Sensitivity.DIRECT_IDENTIFIER
    assert sens["legal_detail"] == Sensitivity.FREE_TEXT
    assert sens["other_help"] == Sensitivity.FREE_TEXT
    assert sens["age"] == Sensitivity.ANALYSIS
    assert inst.item("full_name").group == "about_you"
    assert any("@NONEOFTHEABOVE" in n for n in result.notes)
    assert any("respondent" in n for n in result.notes)
    # and back out to REDCap, clean, and in again unchanged
    out = export_redcap_dictionary(inst, tmp_path / "again.csv")
    assert check_redcap_dictionary(out) == []
    assert import_redcap_dictionary(out).instrument == inst


def test_import_api_spelling_with_two_forms(tmp_path):
    path = _write(tmp_path, API_SPELLING)
    assert check_redcap_dictionary(path) == []
    result = import_redcap_dictionary(path, instrument_id="contact_log", respondent="record")
    inst = result.instrument
    assert (inst.id, inst.respondent) == ("contact_log", "record")
    ids = [i.id for i in inst.items]
    assert "consent_form" not in ids  # file upload skipped, with a note
    assert any("consent_form" in n and "skipped" in n for n in result.notes)
    assert inst.item("worker").type == ItemType.SINGLE_CHOICE
    assert [c.code for c in inst.choices_of("worker")] == ["a1", "b2"]
    assert inst.item("worker").group == "intake"  # one group per form
    assert inst.item("contact_date").type == ItemType.DATE
    assert [c.code for c in inst.choices_of("reached")] == [1, 0]
    assert [c.code for c in inst.choices_of("channels")] == ["phone", "sms"]
    assert inst.item("channels").missing_codes == (-98,)
    assert inst.item("minutes").type == ItemType.DECIMAL
    assert inst.item("minutes").relevance == (
        "reached == 1 and (selected(channels, 'phone') or selected(channels, 'sms'))")
    helped = inst.item("helped")
    assert helped.type == ItemType.INTEGER and (helped.constraint.min, helped.constraint.max) == (0, 100)
    assert inst.item("bmi").type == ItemType.DECIMAL  # round() has no equivalent: REDCap computes it
    assert any("round" in n for n in result.notes)
    assert inst.item("exp_listened").type == ItemType.LIKERT
    assert inst.item("exp_listened").group == "exp"
    assert inst.item("exp_listened").missing_codes == (-97,)
    assert {m.kind for m in inst.missing_codes} == {"dont_know", "not_applicable"}
    out = export_redcap_dictionary(inst, tmp_path / "again.csv")
    assert check_redcap_dictionary(out) == []
    assert import_redcap_dictionary(out).instrument == inst
    only = import_redcap_dictionary(path, form="intake").instrument
    assert [i.id for i in only.items] == ["worker", "contact_date", "reached", "channels", "minutes"]
    assert only.item("worker").group is None  # one form: no form group
    with pytest.raises(InstrumentError, match="a field of form 'intake', which is not imported"):
        import_redcap_dictionary(path, form="outcomes")


def test_rows_edited_in_redcap_are_read_from_their_columns(tmp_path):
    inst = SHIPPED["womens_survey"]
    path = export_redcap_dictionary(inst, tmp_path / "w.csv")
    text = path.read_text(encoding="utf-8").replace(
        "At the moment, how many children under 18 live with you?", "How many children live with you?")
    text = text.replace("[consent] = '1',,,,,,\"@NOMISSING\npceval: sensitivity free_text",
                        "[consent] = '1' and [children_n] > 0,,,,,,\"@NOMISSING\npceval: "
                        "sensitivity free_text")
    edited = tmp_path / "edited.csv"
    edited.write_text(text, encoding="utf-8")
    result = import_redcap_dictionary(edited)
    item = result.instrument.item("children_n")
    assert item.label == "How many children live with you?"
    assert item.domains == ("D15",) and item.sensitivity == Sensitivity.QUASI_IDENTIFIER
    assert item.missing_codes == (-99,) and item.constraint.max == 15
    assert result.instrument.item("comments").relevance == "consent == 1 and children_n > 0"
    assert any("children_n" in n and "edited in REDCap" in n for n in result.notes)
    unchanged = [i for i in inst.items if i.id not in {"children_n", "comments"}]
    assert all(result.instrument.item(i.id) == i for i in unchanged)


# (d) malformed dictionaries ----------------------------------------------------------------

HEAD = ("field_name,form_name,section_header,field_type,field_label,select_choices_or_calculations,"
        "field_note,text_validation_type_or_show_slider_number,text_validation_min,"
        "text_validation_max,identifier,branching_logic,required_field,custom_alignment,"
        "question_number,matrix_group_name,matrix_ranking,field_annotation\n"
        "record_id,f,,text,ID,,,,,,,,,,,,,\n"
        "q1,f,,radio,Q1,\"1, Yes | 0, No\",,,,,,,,,,,,\n")


@pytest.mark.parametrize(
    ("line", "field", "message"),
    [
        ("q2,f,,likert,Q2,,,,,,,,,,,,,", "q2", "unknown field type 'likert'"),
        ("q2,f,,radio,Q2,\"1 Yes | 0, No\",,,,,,,,,,,,", "q2", "no comma between code and label"),
        ("q2,f,,radio,Q2,\"1, Yes | 1, No\",,,,,,,,,,,,", "q2", "choice codes ['1'] repeat"),
        ("q2,f,,text,Q2,,,,,,,[q9] = '1',,,,,,", "q2", "refers to [q9], which is not a field"),
        ("q1,f,,text,Again,,,,,,,,,,,,,", "q1", "repeats row 3"),
        ("q2,f,,text,Q2,,,,,,,[visit_1_arm_1][q1] = '1',,,,,,", "q2", "another event"),
        ("q2,f,,text,Q2,,,,,,,[record-name] <> '',,,,,,", "q2", "smart variable"),
        ("q2,f,,text,Q2,,,,,,,\"datediff([q1], 'today', 'y') > 1\",,,,,,", "q2", "datediff()"),
        ("q2,f,,text,Q2,,,,,,,[q1(1)] = '1',,,,,,", "q2", "not a checkbox field"),
        ("a_name_longer_than_twenty_six,f,,text,Q2,,,,,,,,,,,,,", "a_name_longer_than_twenty_six",
         "at most 26 characters"),
    ],
)
def test_malformed_dictionaries_raise_one_line_errors(tmp_path, line, field, message):
    path = _write(tmp_path, HEAD + line + "\n")
    with pytest.raises(InstrumentError) as info:
        import_redcap_dictionary(path)
    text = str(info.value)
    assert "\n" not in text
    assert text.startswith(f"{path}, row 4, field {field}:") or text.startswith(
        f"{path}, row {info.value.row}, field {field}:")
    assert info.value.row == 4 and info.value.field == field and info.value.file == str(path)
    assert message in text


def test_wrong_header_and_missing_file(tmp_path):
    path = _write(tmp_path, "name,form,type\nrecord_id,f,text\n")
    with pytest.raises(InstrumentError, match="row 1: the header row is not REDCap's"):
        import_redcap_dictionary(path)
    assert "header row" in check_redcap_dictionary(path)[0]
    with pytest.raises(InstrumentError, match="file not found"):
        import_redcap_dictionary(tmp_path / "nope.csv")


def test_checker_reports_each_broken_rule(tmp_path):
    path = _write(tmp_path, HEAD + "\n".join([
        "q2,f,,radio,Q2,\"1, Yes | 2 x, No\",,,,,yes,,Y,XX,,,,",
        "q3,f,,notes,Q3,,,integer,0,,,,,,,,,",
        "q4,f,,text,Q4,,,,5,,,,,,,,,",
        "q5,f,,checkbox,Q5,\"-99, Refused | _99, Other\",,,,,,,,,,,,",
        "q6,f,,radio,Q6,\"1, A | 2, B\",,,,,,,,,,m1,,",
        "q7,f,,checkbox,Q7,\"1, A | 2, B\",,,,,,,,,,m1,,",
        "q8,f,,calc,Q8,,,,,,,,,,,,,",
        "q9,f,,text,Q9,,,integer,10,2,,\"[q5(3)] = '1' and ([q1] = '1'\",,,,,,",
        "q10,f,,text,Q10,,,colour,,,,,,,,,,",
        "redcap_event_name,f,,text,Reserved,,,,,,,,,,,,,",
        "f_complete,f,,text,Reserved too,,,,,,,,,,,,,",
        "q11,g,,text,Other form,,,,,,,,,,,,,",
        "q12,f,,text,,,,,,,,,,,,,,",
        "a_name_longer_than_twenty_six,f,,text,Long,,,,,,,,,,,,,",
    ]) + "\n")
    problems = "\n".join(check_redcap_dictionary(path))
    for expected in [
        "row 4, field q2: choice codes ['2 x'] may only contain",
        "row 4, field q2: Identifier? must be 'y' or blank, not 'yes'",
        "row 4, field q2: Required Field? must be 'y' or blank, not 'Y'",
        "row 4, field q2: custom alignment must be one of",
        "row 5, field q3: a notes field cannot have a text validation",
        "row 6, field q4: text_validation_min needs a text validation type",
        "row 7, field q5: choice codes give the same export columns",
        "row 9, field q7: matrix group 'm1' mixes field types 'radio' and 'checkbox'",
        "row 10, field q8: a calc field needs a calculation",
        "row 11, field q9: text validation min 10 is above max 2",
        "row 11, field q9: branching logic has unbalanced parentheses",
        "row 11, field q9: branching logic uses [q5(3)] but '3' is not a choice of q5",
        "row 12, field q10: unknown validation type 'colour'",
        "row 13, field redcap_event_name: variable name is reserved by REDCap",
        "row 14, field f_complete: variable name is reserved by REDCap",
        "row 16, field q12: field label is empty",
        "row 17, field a_name_longer_than_twenty_six: warning: variable name is 29 characters",
    ]:
        assert expected in problems, expected
    assert "form 'f' resumes after another form" in problems


def test_checker_requires_a_text_record_id_first(tmp_path):
    path = _write(tmp_path, HEAD.replace("record_id,f,,text,ID", "record_id,f,,radio,ID")
                  .replace("record_id,f,,radio,ID,,", "record_id,f,,radio,ID,\"1, A\","))
    assert any("record id" in p for p in check_redcap_dictionary(path))
