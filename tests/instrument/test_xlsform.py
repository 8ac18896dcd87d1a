"""XLSForm export and import: pyxform accepts every export without a warning, a round trip is the
identity, and someone else's form comes in with its identifiers flagged."""

from __future__ import annotations

import ast
from pathlib import Path

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyxform.xls2xform import convert

from pceval.errors import InstrumentError
from pceval.instrument import Instrument, ItemType, Sensitivity, load_instrument, load_instruments
from pceval.instrument.expressions import ExpressionError
from pceval.instrument.xlsform import (
    ImportResult,
    export_xlsform,
    from_xpath,
    import_xlsform,
    to_xpath,
)

SHIPPED = sorted(load_instruments())


def pyxform_warnings(path: Path) -> list[str]:
    """Convert with pyxform (no ODK Validate: it needs Java) and return its warnings."""
    warnings: list[str] = []
    convert(xlsform=str(path), warnings=warnings, validate=False)
    return warnings


def write_workbook(path: Path, sheets: dict[str, list[list]]) -> Path:
    """Write sheets given as readable tables: a header row, then data rows."""
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append(row)
    wb.save(path)
    return path


def survey_rows(path: Path) -> list[dict]:
    ws = openpyxl.load_workbook(path)["survey"]
    rows = list(ws.iter_rows(values_only=True))
    return [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]


# --- shipped instruments ------------------------------------------------------------------------


@pytest.mark.parametrize("instrument_id", SHIPPED)
def test_shipped_instrument_exports_without_pyxform_warnings(instrument_id, tmp_path):
    path = export_xlsform(load_instrument(instrument_id), tmp_path / f"{instrument_id}.xlsx")
    assert pyxform_warnings(path) == []


@pytest.mark.parametrize("instrument_id", SHIPPED)
def test_shipped_instrument_round_trips(instrument_id, tmp_path):
    instrument = load_instrument(instrument_id)
    result = import_xlsform(export_xlsform(instrument, tmp_path / "form.xlsx"))
    assert isinstance(result, ImportResult)
    assert result.instrument == instrument
    assert result.proposals == () and result.notes == ()


def test_export_is_byte_identical_for_the_same_instrument(tmp_path):
    women = load_instrument("womens_survey")
    a = export_xlsform(women, tmp_path / "a.xlsx").read_bytes()
    b = export_xlsform(women, tmp_path / "b.xlsx").read_bytes()
    assert a == b


@pytest.mark.parametrize("wave", ["baseline", "exit", "followup"])
def test_one_wave_form_holds_that_waves_items_and_converts(wave, tmp_path):
    women = load_instrument("womens_survey")
    path = export_xlsform(women, tmp_path / f"{wave}.xlsx", wave=wave)
    assert pyxform_warnings(path) == []
    names = {r["name"] for r in survey_rows(path) if r["type"] not in ("begin_group", "end_group")}
    expected = {i.id for i in women.items if not i.waves or wave in i.waves}
    assert names == expected
    back = import_xlsform(path).instrument
    assert [i.id for i in back.items] == [i.id for i in women.items if i.id in expected]
    assert all(set(s.items) <= expected for s in back.scales)
    assert (wave == "baseline") == ("experience" not in {s.id for s in back.scales})


def test_unknown_wave_is_refused(tmp_path):
    with pytest.raises(InstrumentError, match="no wave 'midway'"):
        export_xlsform(load_instrument("womens_survey"), tmp_path / "x.xlsx", wave="midway")


def test_missing_codes_are_offered_to_the_respondent(tmp_path):
    women = load_instrument("womens_survey")
    path = export_xlsform(women, tmp_path / "w.xlsx")
    rows = {r["name"]: r for r in survey_rows(path)}
    # a choice item gets its list with "Prefer not to say" appended
    assert rows["fs_home"]["type"] == "select_one agree5__m99"
    choices = list(openpyxl.load_workbook(path)["choices"].iter_rows(values_only=True))
    appended = [c for c in choices if c[0] == "agree5__m99"]
    assert appended[-1][1:3] == (-99, "Prefer not to say")
    # an integer item's constraint admits the code, and its hint says so
    assert rows["children_n"]["constraint"] == "(. >= 0 and . <= 15) or . = -99"
    assert rows["children_n"]["hint::English (en)"] == "-99 = Prefer not to say"
    # Likert blocks are one screen
    group_rows = [r for r in survey_rows(path) if r["type"] == "begin_group"]
    assert {r["name"]: r["appearance"] for r in group_rows}["felt_safety"] == "field-list"


def test_native_edits_win_over_metadata(tmp_path):
    women = load_instrument("womens_survey")
    path = export_xlsform(women, tmp_path / "w.xlsx")
    wb = openpyxl.load_workbook(path)
    ws = wb["survey"]
    header = [c.value for c in ws[1]]
    for row in ws.iter_rows(min_row=2):
        if row[header.index("name")].value == "misuse":
            row[header.index("label::English (en)")].value = "Has he used the program against you?"
            row[header.index("relevant")].value = "${consent} = '1' and ${violence_3m} = '1'"
    wb.save(path)
    item = import_xlsform(path).instrument.item("misuse")
    assert item.label == {"en": "Has he used the program against you?"}
    assert item.relevance == "consent == 1 and violence_3m == 1"
    assert item.missing_codes == (-99, -98) and item.nos == ("NOS1", "NOS4")  # metadata kept


WAVE_ROLE = """\
kind: instrument
schema_version: 1
id: waved
version: "2"
title: {en: Waved, fr: Vagues}
respondent: woman
languages: [en, fr]
waves: [baseline, exit]
missing_codes:
  - {code: -99, label: {en: Prefer not to say, fr: Je préfère ne pas répondre}, kind: prefer_not_to_say}
choice_lists:
  wave: [{code: baseline, label: Baseline}, {code: exit, label: Exit}]
  yn: [{code: 1, label: {en: "Yes", fr: Oui}}, {code: 0, label: {en: "No", fr: Non}}]
items:
  - {id: wave, type: single_choice, choices: wave, role: wave, label: {en: Wave, fr: Vague}}
  - {id: safe, type: single_choice, choices: yn, label: {en: "Safe?", fr: "Sûre ?"}, required: true,
     hint: {en: Only in English so far}}
  - {id: note_en, type: note, label: {en: Not translated yet}}
  - {id: empty, type: integer, label: {en: No missing codes, fr: Pas de codes}, missing_codes: []}
  - id: better
    type: single_choice
    choices: yn
    label: {en: "Better?", fr: "Mieux ?"}
    relevance: "safe==1"
    missing_codes: [-99]
    waves: [exit]
  - id: hours
    type: decimal
    label: {en: Hours, fr: Heures}
    hint: Hours in a week
    constraint: {min: 0.5, max: 40, message: {en: "From 0.5 to 40", fr: "De 0,5 à 40"}}
    missing_codes: [-99]
    waves: [baseline]
"""


def test_wave_condition_added_for_an_all_wave_form_and_removed_on_import(write_yaml, tmp_path):
    inst = load_instrument(write_yaml(WAVE_ROLE))
    path = export_xlsform(inst, tmp_path / "w.xlsx")
    assert pyxform_warnings(path) == []
    rows = {r["name"]: r for r in survey_rows(path)}
    assert rows["better"]["relevant"] == "(${safe} = '1') and (${wave} = 'exit')"
    assert rows["better"]["pceval_relevance"] == "safe==1"  # the source as written
    assert rows["hours"]["relevant"] == "${wave} = 'baseline'"
    assert (
        rows["hours"]["hint::Français (fr)"] == "Hours in a week (-99 = Je préfère ne pas répondre)"
    )
    assert import_xlsform(path).instrument == inst


# --- expressions --------------------------------------------------------------------------------


def test_to_xpath_writes_what_odk_expects():
    women = load_instrument("womens_survey")
    record = load_instrument("contact_record")
    assert to_xpath("safe_now == 1", women) == "${safe_now} = '1'"
    assert (
        to_xpath("children_n >= 2 and life_satisfaction < 5", women)
        == "${children_n} >= 2 and ${life_satisfaction} < 5"
    )
    assert to_xpath("selected(content, 'referral')", record) == "selected(${content}, 'referral')"
    assert to_xpath("answered(minutes)", record) == "string-length(${minutes}) > 0"
    assert (
        to_xpath("not (a == 1 or b == 2)", {"a": _info("integer"), "b": _info("integer")})
        == "not(${a} = 1 or ${b} = 2)"
    )
    assert to_xpath("event_date > '2024-01-01'", record) == "${event_date} > date('2024-01-01')"
    assert to_xpath("(minutes + 5) / 60", record, condition=False) == "(${minutes} + 5) div 60"
    assert (
        to_xpath("mode != 'phone'", record) == "string-length(${mode}) > 0 and ${mode} != 'phone'"
    )
    with pytest.raises(ExpressionError, match="not an item"):
        to_xpath("nobody == 1", women)


def test_from_xpath_reads_the_common_subset():
    record = load_instrument("contact_record")
    assert (
        from_xpath("${outcome} = 'reached' and count-selected(${content}) > 0", record)
        == "outcome == 'reached' and answered(content)"
    )
    assert from_xpath("${mode} != ''", record) == "answered(mode)"
    assert from_xpath("string-length(${mode}) = 0", record) == "not answered(mode)"
    # unguarded != is true on a blank in ODK, so it reads as not ==
    assert from_xpath("${mode} != 'sms'", record) == "not mode == 'sms'"
    assert from_xpath("${minutes} >= '10'", record) == "minutes >= 10"
    for bad in (
        "if(${minutes} > 1, 1, 0)",
        "../minutes > 1",
        "${minutes} mod 2 = 0",
        "${nobody} = 1",
    ):
        with pytest.raises(ExpressionError, match="cannot translate"):
            from_xpath(bad, record)


def _info(kind: str, codes=()):
    from pceval.instrument.xlsform import _Info

    return _Info(ItemType(kind), tuple(codes))


CTX = {
    "s": _info("single_choice", (1, 2, 3, -99)),
    "t": _info("single_choice", ("a", "b", "-98")),
    "m": _info("multiple_choice", (1, 2, "x")),
    "n": _info("integer"),
    "d": _info("decimal"),
    "w": _info("short_text"),
    "day": _info("date"),
}


@st.composite
def expressions(draw, ctx=CTX, depth=2):
    """Source text of a condition over the items of ``ctx``, in canonical (ast.unparse) form."""
    names = sorted(ctx)

    def atom():
        name = draw(st.sampled_from(names))
        info = ctx[name]
        kind = info.type
        if kind == ItemType.MULTIPLE_CHOICE:
            return f"selected({name}, {draw(st.sampled_from(info.codes))!r})"
        if draw(st.integers(0, 5)) == 0:
            return f"answered({name})"
        if kind in (ItemType.SINGLE_CHOICE, ItemType.LIKERT):
            op = draw(st.sampled_from(["==", "!="]))
            return f"{name} {op} {draw(st.sampled_from(info.codes))!r}"
        if kind in (ItemType.INTEGER, ItemType.DECIMAL, ItemType.CALCULATED):
            op = draw(st.sampled_from(["==", "!=", "<", "<=", ">", ">="]))
            left = draw(
                st.sampled_from(
                    [name, f"{name} + 1", f"{name} * 2", f"({name} - 1) / 2", f"-{name}"]
                )
            )
            right = draw(st.one_of(st.integers(-5, 30), st.sampled_from([0.5, 2.25])))
            return f"{left} {op} {right!r}"
        if kind == ItemType.DATE:
            return (
                f"{name} {draw(st.sampled_from(['<', '>=']))} '2024-0{draw(st.integers(1, 9))}-01'"
            )
        return f"{name} {draw(st.sampled_from(['==', '!=']))} {draw(st.sampled_from(['abc', 'x y', 'O']))!r}"

    def expr(level):
        if level == 0 or draw(st.booleans()):
            return atom()
        shape = draw(st.sampled_from(["and", "or", "not", "paren"]))
        if shape == "not":
            return f"not ({expr(level - 1)})"
        if shape == "paren":
            return f"({expr(level - 1)})"
        parts = [expr(level - 1) for _ in range(draw(st.integers(2, 3)))]
        return f" {shape} ".join(f"({p})" for p in parts)

    return ast.unparse(ast.parse(expr(depth), mode="eval"))


@settings(max_examples=200, deadline=None)
@given(expressions())
def test_xpath_translation_round_trips(source):
    xpath = to_xpath(source, CTX)
    assert from_xpath(xpath, CTX) == source


# --- generated instruments round trip ------------------------------------------------------------

WORDS = [
    "safe",
    "home",
    "Yes",
    "no",
    "often",
    "children",
    "l'aide",
    "Café",
    "why?",
    "support",
    "week",
    "9",
]
LANGS = [("en",), ("en", "fr")]
GROUPS = [None, None, "g1", "g2", "q1"]


@st.composite
def texts(draw, langs, optional=False):
    if optional and draw(st.booleans()):
        return None
    words = st.lists(st.sampled_from(WORDS), min_size=1, max_size=4).map(" ".join)
    if len(langs) == 1 and draw(st.booleans()) or draw(st.integers(0, 3)) == 0:
        return draw(words)
    return {lang: draw(words) for lang in langs}


@st.composite
def instruments(draw):
    langs = draw(st.sampled_from(LANGS))
    waves = draw(st.sampled_from([(), ("baseline", "exit")]))
    missing_pool = draw(st.sampled_from([[-99, -98], ["-99", "dk"]]))
    kinds = ["prefer_not_to_say", "dont_know"]
    missing = [
        {"code": c, "label": draw(texts(langs)), "kind": k}
        for c, k in zip(missing_pool, kinds, strict=True)
    ]
    lists = {}
    for n in range(draw(st.integers(1, 3))):
        if draw(st.booleans()):
            codes = draw(st.lists(st.integers(0, 9), min_size=2, max_size=4, unique=True))
        else:
            codes = draw(
                st.lists(
                    st.sampled_from(["a", "b", "c_1", "x9"]), min_size=2, max_size=4, unique=True
                )
            )
        lists[f"list{n}"] = [{"code": c, "label": draw(texts(langs))} for c in codes]
    items: list[dict] = []
    roles_left = (
        ["case_key", "service", "consent", "wave"] if waves else ["case_key", "service", "consent"]
    )
    for index in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(list(ItemType)))
        item: dict = {"id": f"q{index}", "type": kind.value, "label": draw(texts(langs))}
        if kind in (ItemType.SINGLE_CHOICE, ItemType.MULTIPLE_CHOICE, ItemType.LIKERT):
            item["choices"] = draw(st.sampled_from(sorted(lists)))
        if draw(st.booleans()):
            item["hint"] = draw(texts(langs))
        item["group"] = draw(st.sampled_from(GROUPS))
        item["required"] = draw(st.booleans())
        earlier = {i["id"]: i for i in items if i["type"] != "note"}
        if earlier and draw(st.booleans()):
            ctx = {
                k: _info(v["type"], [c["code"] for c in lists.get(v.get("choices"), [])])
                for k, v in earlier.items()
            }
            source = draw(expressions(ctx, depth=1))
            if draw(st.integers(0, 3)) == 0:  # written by hand, not canonically
                source = f"({source})".replace(" == ", "==")
            item["relevance"] = source
        if kind == ItemType.CALCULATED:
            numeric = [
                k for k, v in earlier.items() if v["type"] in ("integer", "decimal", "calculated")
            ]
            item["calculation"] = f"{numeric[-1]} * 2 + 1" if numeric else "1 + 1"
            if draw(st.booleans()):
                item["label"] = ""
        if kind in (ItemType.INTEGER, ItemType.DECIMAL) and draw(st.booleans()):
            low = draw(st.integers(-5, 5)) + (0.5 if kind == ItemType.DECIMAL else 0)
            item["constraint"] = {
                "min": low,
                "max": low + draw(st.integers(1, 50)),
                "message": draw(texts(langs, optional=True)),
            }
        if kind in (ItemType.SHORT_TEXT, ItemType.LONG_TEXT) and draw(st.booleans()):
            item["constraint"] = {
                "pattern": draw(st.sampled_from(["^[A-Z]{2}[0-9]{4}$", "^S[0-9]+$", r"^\w+$"]))
            }
        if kind not in (ItemType.NOTE, ItemType.CALCULATED) and draw(st.booleans()):
            item["missing_codes"] = draw(
                st.lists(st.sampled_from(missing_pool), min_size=1, max_size=2, unique=True)
            )
        if kind != ItemType.NOTE:
            item["sensitivity"] = draw(st.sampled_from(list(Sensitivity))).value
            item["domains"] = draw(
                st.lists(st.sampled_from(["D01", "D12", "D14"]), max_size=2, unique=True)
            )
            item["nos"] = draw(st.lists(st.sampled_from(["NOS1", "NOS4"]), max_size=2, unique=True))
            if roles_left and draw(st.integers(0, 3)) == 0:
                item["role"] = roles_left.pop(draw(st.integers(0, len(roles_left) - 1)))
        if waves and draw(st.booleans()):
            item["waves"] = draw(
                st.lists(st.sampled_from(waves), min_size=1, max_size=2, unique=True)
            )
        items.append(item)
    likert = [i["id"] for i in items if i["type"] == "likert"]
    scales = []
    if len(likert) >= 2:
        scales.append(
            {
                "id": "scale1",
                "label": draw(texts(langs)),
                "items": likert,
                "reverse": likert[:1],
                "method": draw(st.sampled_from(["mean", "sum"])),
                "domains": ["D12"],
            }
        )
    return Instrument.model_validate(
        {
            "kind": "instrument",
            "schema_version": 1,
            "id": "generated",
            "version": "0.1",
            "title": draw(texts(langs)),
            "respondent": draw(st.sampled_from(["woman", "worker", "record"])),
            "description": draw(texts(langs)),
            "languages": langs,
            "waves": waves,
            "unit": draw(st.sampled_from(["response", "event"])),
            "choice_lists": lists,
            "missing_codes": missing,
            "items": items,
            "scales": scales,
            "support_services": ["Lifeline 13 11 14"],
        }
    )


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(instruments())
def test_generated_instrument_round_trips_and_converts(tmp_path, instrument):
    path = export_xlsform(instrument, tmp_path / "generated.xlsx")
    assert pyxform_warnings(path) == []
    result = import_xlsform(path)
    assert result.instrument == instrument
    assert result.proposals == () and result.notes == ()


# --- someone else's form ------------------------------------------------------------------------

L_EN, L_ES = "label::English (en)", "label::Español (es)"

# fmt: off
FOREIGN_SURVEY = [
    ["type", "name", L_EN, L_ES, "hint::English (en)", "hint::Español (es)", "relevant", "required",
     "constraint", "constraint_message::English (en)", "constraint_message::Español (es)", "calculation",
     "appearance"],
    ["start", "start", None, None, None, None, None, None, None, None, None, None, None],
    ["text", "first_name", "Your first name", "Su nombre", None, None, None, "yes", None, None, None, None, None],
    ["integer", "phone", "A safe phone number", "Un teléfono seguro", None, None, None, None, None, None, None, None, None],
    ["date", "dob", "Date of birth", "Fecha de nacimiento", None, None, None, None, None, None, None, None, None],
    ["begin group", "about_you", "About you", "Sobre usted", None, None, "${consent} = 'yes'", None, None, None, None, None, "field-list"],
    ["select_one yesno", "consent_note", "Any note?", "¿Nota?", None, None, None, None, None, None, None, None, None],
    ["begin_group", "Household", "Household", "Hogar", None, None, None, None, None, None, None, None, None],
    ["integer", "adults", "Adults at home", "Adultos en casa", "Include yourself", "Inclúyase", None, "TRUE",
     ". >= 1 and . <= 20", "1 to 20", "1 a 20", None, None],
    ["integer", "kids", "Children at home", "Niños en casa", None, None, "${adults} > 0", None,
     "(. >= 0 and . <= 15) or . = -99", None, None, None, None],
    ["calculate", "people", None, None, None, None, None, None, None, None, None, "${adults} + ${kids}", None],
    ["end_group", None, None, None, None, None, None, None, None, None, None, None, None],
    ["select_multiple help", "help", "Help you received", "Ayuda recibida", None, None,
     "${people} > 1 or (${kids} >= 1 and ${consent_note} != 'no')", None, None, None, None, None, None],
    ["text", "help_detail", "Tell us more", "Cuéntenos más", None, None,
     "selected(${help}, 'police') and not(selected(${help}, 'none'))", None, None, None, None, None, "multiline"],
    ["select_one agree", "felt_safe", "I feel safe", "Me siento segura", None, None, None, None, None, None, None, None, "likert"],
    ["text", "postcode", "Postcode", "Código postal", None, None, None, None, "regex(., '^[0-9]{4}$')", None, None, None, None],
    ["end group", None, None, None, None, None, None, None, None, None, None, None, None],
    ["select_one yesno", "consent", "Do you agree to take part?", "¿Acepta participar?", None, None, None, "yes", None, None, None, None, None],
    ["geopoint", "where", "Location", "Ubicación", None, None, None, None, None, None, None, None, None],
    ["date", "visit_date", "Date of visit", "Fecha de la visita", None, None, None, None, ". <= today()", None, None, None, None],
]
FOREIGN_CHOICES = [
    ["list_name", "name", L_EN, L_ES],
    ["yesno", "yes", "Yes", "Sí"],
    ["yesno", "no", "No", "No"],
    ["help", "police", "Police", "Policía"],
    ["help", "counselling", "Counselling", "Asesoramiento"],
    ["help", "none", "None of these", "Ninguno"],
    ["agree", 1, "Disagree", "En desacuerdo"],
    ["agree", 2, "Agree", "De acuerdo"],
    ["agree", 99, "Prefer not to say", "Prefiero no decirlo"],
]
FOREIGN_SETTINGS = [["form_title", "form_id", "version", "default_language"],
                    ["Household survey", "hh_survey_2024", 2024051501, "English (en)"]]
# fmt: on


def test_someone_elses_form_is_imported_with_identifier_proposals(tmp_path):
    path = write_workbook(
        tmp_path / "kobo.xlsx",
        {"survey": FOREIGN_SURVEY, "choices": FOREIGN_CHOICES, "settings": FOREIGN_SETTINGS},
    )
    assert pyxform_warnings(path) == []  # a valid XLSForm to begin with
    result = import_xlsform(path, respondent="woman")
    inst = result.instrument
    assert (
        inst.id == "hh_survey_2024"
        and inst.version == "2024051501"
        and inst.languages == ("en", "es")
    )
    assert [i.id for i in inst.items] == [
        "first_name",
        "phone",
        "dob",
        "consent_note",
        "adults",
        "kids",
        "people",
        "help",
        "help_detail",
        "felt_safe",
        "postcode",
        "consent",
        "visit_date",
    ]
    # identifiers proposed by name and type, and applied
    proposed = {p.item: p.sensitivity for p in result.proposals}
    assert proposed["first_name"] == Sensitivity.DIRECT_IDENTIFIER
    assert proposed["phone"] == Sensitivity.CONTACT_SAFETY
    assert proposed["dob"] == Sensitivity.DIRECT_IDENTIFIER
    assert proposed["postcode"] == Sensitivity.CONTACT_SAFETY
    assert proposed["help_detail"] == Sensitivity.FREE_TEXT
    assert "visit_date" not in proposed and "adults" not in proposed
    assert inst.item("phone").sensitivity == Sensitivity.CONTACT_SAFETY
    assert all(isinstance(m, str) and "\n" not in m for m in result.messages)
    # labels per language, groups (innermost), relevance joined with the group's
    adults = inst.item("adults")
    assert adults.label == {"en": "Adults at home", "es": "Adultos en casa"}
    assert adults.hint == {"en": "Include yourself", "es": "Inclúyase"}
    assert adults.group == "household" and inst.item("consent_note").group == "about_you"
    assert adults.required and adults.relevance == "consent == 'yes'"
    assert adults.constraint.min == 1 and adults.constraint.max == 20
    assert adults.constraint.message == {"en": "1 to 20", "es": "1 a 20"}
    assert inst.item("kids").relevance == "consent == 'yes' and adults > 0"
    assert inst.item("kids").missing_codes == (-99,)
    assert (
        inst.item("people").type == ItemType.CALCULATED
        and inst.item("people").calculation == "adults + kids"
    )
    # an unguarded != is true on a blank answer in ODK: read as "not =="
    assert (
        inst.item("help").relevance
        == "consent == 'yes' and (people > 1 or (kids >= 1 and (not consent_note == 'no')))"
    )
    assert (
        inst.item("help_detail").relevance
        == "consent == 'yes' and selected(help, 'police') and (not selected(help, 'none'))"
    )
    assert inst.item("help_detail").type == ItemType.LONG_TEXT
    assert inst.item("felt_safe").type == ItemType.LIKERT
    assert inst.item("postcode").constraint.pattern == "^[0-9]{4}$"
    # "Prefer not to say" became a missing code
    assert [c.code for c in inst.choice_lists["agree"]] == [1, 2]
    assert inst.item("felt_safe").missing_codes == (99,)
    assert inst.missing_of("felt_safe")[0].kind == "prefer_not_to_say"
    # what was left out is said
    notes = " | ".join(result.notes)
    assert "'start'" in notes and "'where'" in notes and "today()" in notes
    # and the instrument goes back out as a form pyxform accepts, and comes back the same
    again = export_xlsform(inst, tmp_path / "again.xlsx")
    assert pyxform_warnings(again) == []
    assert import_xlsform(again).instrument == inst


def test_or_other_becomes_an_other_choice_and_a_text_item(tmp_path):
    path = write_workbook(
        tmp_path / "f.xlsx",
        {
            "survey": [
                ["type", "name", "label"],
                ["select_one who or_other", "who", "Who helped?"],
            ],
            "choices": [
                ["list_name", "name", "label"],
                ["who", "friend", "A friend"],
                ["who", "family", "Family"],
            ],
        },
    )
    result = import_xlsform(path)
    inst = result.instrument
    assert inst.languages == ("en",)
    assert [c.code for c in inst.choices_of("who")] == ["friend", "family", "other"]
    other = inst.item("who_other")
    assert (
        other.relevance == "selected(who, 'other')" and other.sensitivity == Sensitivity.FREE_TEXT
    )
    assert any("or_other" in n for n in result.notes)
    assert pyxform_warnings(export_xlsform(inst, tmp_path / "back.xlsx")) == []


# --- malformed input ----------------------------------------------------------------------------


def _form(tmp_path, survey, choices=None, name="bad.xlsx"):
    sheets = {"survey": survey}
    if choices:
        sheets["choices"] = choices
    return write_workbook(tmp_path / name, sheets)


@pytest.mark.parametrize(
    ("survey", "choices", "pattern"),
    [
        (
            [["type", "name", "label"], ["select_one nolist", "q", "Q"]],
            [["list_name", "name", "label"], ["yn", 1, "Y"]],
            r"row 2, field survey\.type: choice list 'nolist' is not in the choices sheet",
        ),
        (
            [
                ["type", "name", "label", "relevant"],
                ["integer", "a", "A", None],
                ["integer", "b", "B", "if(${a} > 1, 1, 0)"],
            ],
            None,
            r"row 3, field survey\.relevant: cannot translate relevance 'if\(\$\{a\} > 1, 1, 0\)'",
        ),
        (
            [["type", "name", "label"], ["integer", "a", "A"], ["text", "a", "Again"]],
            None,
            r"row 3, field survey\.name: name 'a' is used twice \(first at row 2\)",
        ),
        (
            [
                ["type", "name", "label"],
                ["begin_repeat", "kids", "Kids"],
                ["integer", "age", "Age"],
                ["end_repeat", None, None],
            ],
            None,
            r"row 2, field survey\.type: repeat 'kids' cannot be imported: pceval needs one row per record",
        ),
        (
            [["type", "name", "label"], ["integer", "Age-1", "Age"]],
            None,
            r"row 2, field survey\.name: name 'Age-1' cannot be a pceval item id.*fix: rename it, e\.g\. 'age_1'",
        ),
        (
            [["type", "name", "label", "relevant"], ["integer", "a", "A", "${b} > 1"]],
            None,
            r"row 2, field survey\.relevant: .*\$\{b\} is not a question of this form",
        ),
    ],
)
def test_malformed_forms_give_one_line_errors_with_sheet_and_row(
    tmp_path, survey, choices, pattern
):
    with pytest.raises(InstrumentError, match=pattern) as caught:
        import_xlsform(_form(tmp_path, survey, choices))
    assert "\n" not in str(caught.value) and "(fix: " in str(caught.value)


def test_missing_survey_sheet_and_non_workbook(tmp_path):
    path = write_workbook(tmp_path / "x.xlsx", {"choices": [["list_name", "name", "label"]]})
    with pytest.raises(
        InstrumentError, match=r"x\.xlsx: no 'survey' sheet \(sheets found: \['choices'\]\)"
    ):
        import_xlsform(path)
    text = tmp_path / "form.xlsx"
    text.write_text("type,name\n")
    with pytest.raises(InstrumentError, match="not an .xlsx workbook"):
        import_xlsform(text)
    old_excel = tmp_path / "form.xls"
    old_excel.write_bytes(b"\xd0\xcf\x11\xe0")
    with pytest.raises(
        InstrumentError, match=r"form\.xls: not an \.xlsx workbook.*fix: save the XLSForm as"
    ):
        import_xlsform(old_excel)


def test_export_refuses_an_item_without_a_label(write_yaml, tmp_path):
    inst = load_instrument(
        write_yaml("""\
        kind: instrument
        schema_version: 1
        id: tiny
        version: "1"
        title: Tiny
        respondent: worker
        items:
          - {id: a, type: integer}
        """)
    )
    with pytest.raises(InstrumentError, match="item 'a' has no label"):
        export_xlsform(inst, tmp_path / "t.xlsx")
