"""The pieces of the coding workflow on small inline frames."""

from __future__ import annotations

import pandas as pd
import pytest

from pceval.code import assign_segments, consensus, quote_bank, text_segments, theme_frequencies
from pceval.code.sheets import binary_value
from pceval.instrument import load_instrument
from pceval.instrument.themes import load_thematic_codebook
from pceval.synth.text import THEMED_TEMPLATES, THEMES, template_key, themes_of_text

BOOK = load_thematic_codebook()


def test_assignment_is_deterministic_balanced_and_independent_of_input_order():
    ids = [f"seg{i:03d}" for i in range(101)]
    first = assign_segments(ids, ["A", "B", "C"], double_share=0.3, seed=2)
    again = assign_segments(list(reversed(ids)), ["A", "B", "C"], double_share=0.3, seed=2)
    pd.testing.assert_frame_equal(first, again)
    assert first.loc[first["double"], "segment_id"].nunique() == 30
    assert first["segment_id"].nunique() == 101 and len(first) == 131
    loads = first.groupby("coder").size()
    assert loads.max() - loads.min() <= 1
    other = assign_segments(ids, ["A", "B", "C"], double_share=0.3, seed=3)
    assert not first.equals(other)
    solo = assign_segments(ids, ["A"], double_share=0.5, seed=2)
    assert not solo["double"].any() and len(solo) == 101


def test_assignment_rejects_bad_input():
    with pytest.raises(ValueError, match="unique"):
        assign_segments(["a", "a"], ["A"])
    with pytest.raises(ValueError, match="between 0 and 1"):
        assign_segments(["a"], ["A", "B"], double_share=1.5)


def test_segments_keep_waves_apart_and_drop_blank_answers():
    inst = load_instrument("womens_survey")
    frame = pd.DataFrame({"pid": ["Pw1", "Pw1", "Pw2"], "response_id": ["Pr1", "Pr1", "Pr2"],
                          "service_id": ["S01", "S01", "S02"], "_wave": ["baseline", "exit", "exit"],
                          "comments": ["Felt believed.", " Calls too short. ", None]})
    out = text_segments({"womens_survey": frame}, {"womens_survey": inst})
    assert out["segment_id"].tolist() == ["womens_survey:Pr1:baseline:comments",
                                          "womens_survey:Pr1:exit:comments"]
    assert out["text"].tolist() == ["Felt believed.", "Calls too short."]
    assert set(out["respondent"]) == {"woman"} and set(out["service"]) == {"S01"}


def test_binary_values():
    assert [binary_value(v) for v in (0, 1, "1", " 0 ", None, "", 1.0)] == [0, 1, 1, 0, None, None, 1]
    for bad in (2, "x", 0.5, "=1"):
        with pytest.raises(ValueError):
            binary_value(bad)


def test_consensus_rule():
    codings = pd.DataFrame({"segment_id": ["s1", "s1", "s2", "s2", "s3"],
                            "coder": ["B", "A", "A", "B", "A"], "code": ["x"] * 5,
                            "value": [0, 0, 1, 0, 1]})
    out = consensus(codings)
    assert out["rule"].tolist() == ["coders_agree", "awaiting_adjudication", "single_coder"]
    assert out["coder_values"].tolist() == ["A=0; B=0", "A=1; B=0", "A=1"]
    assert out["decision"].tolist() == ["not_applied", "pending", "applied"]
    decided = consensus(codings, decisions=pd.DataFrame(
        {"segment_id": ["s2", "s1"], "code": ["x", "x"], "decision": [0, 1]}))
    # a decision where coders agree changes nothing; the disputed one is taken
    assert decided["value"].tolist() == [0, 0, 1]
    assert decided["rule"].tolist() == ["coders_agree", "adjudicated", "single_coder"]


def _staff(n_services: dict[str, int], hits: dict[str, int]):
    rows, values = [], []
    for service, n in n_services.items():
        for i in range(n):
            rows.append({"segment_id": f"{service}-{i}", "respondent": "worker",
                         "response_id": f"{service}-r{i}", "pid": pd.NA, "service": service,
                         "wave": pd.NA, "text": f"text {service} {i}"})
            values.append(int(i < hits[service]))
    segments = pd.DataFrame(rows)
    con = pd.DataFrame({"segment_id": segments["segment_id"], "code": "resourcing_workforce",
                        "value": pd.array(values, dtype="Int64")})
    return segments, con


def test_frequencies_count_respondents_and_suppress_small_cells():
    segments, con = _staff({"S01": 12, "S02": 15, "S03": 4}, {"S01": 7, "S02": 2, "S03": 3})
    out = theme_frequencies(con, segments, BOOK, min_cell=5, min_denominator=10, min_service_n=10)
    mine = out[out["code"] == "resourcing_workforce"].set_index(["breakdown", "group"])
    assert mine.loc[("overall", "all"), ["n", "count"]].tolist() == [31, 12]
    assert mine.loc[("overall", "all"), "share"] == pytest.approx(12 / 31)
    # S03 (4 workers) is pooled; S02's 2 of 15 is too small; S01 is then suppressed too,
    # or S02 could be worked out from the overall
    assert "S03" not in mine.index.get_level_values("group")
    pooled = mine.loc[("service", "Other services (pooled)")]
    assert bool(pooled["suppressed"]) and pd.isna(pooled["n"])
    assert bool(mine.loc[("service", "S02"), "suppressed"]) and mine.loc[("service", "S02"), "n"] == 15
    assert bool(mine.loc[("service", "S01"), "suppressed"])
    assert mine.loc[("service", "S01"), "note"].startswith("n.p.")
    # a code never applied is a count of zero: shown, not hidden
    zero = out[(out["code"] == "children") & (out["breakdown"] == "overall")].iloc[0]
    assert (zero["n"], zero["count"], bool(zero["suppressed"])) == (31, 0, False)


def test_quote_bank_needs_min_n_and_consent():
    segments, con = _staff({"S01": 6}, {"S01": 6})
    assert len(quote_bank(con, segments, BOOK, min_n=6)) == 6
    assert len(quote_bank(con, segments, BOOK, min_n=7)) == 0
    women = segments.assign(respondent="woman", pid=[f"P{i % 3}" for i in range(6)])
    # six answers from three women: under a min_n of 4, whatever the consent
    assert len(quote_bank(con, women, BOOK, min_n=4, consented=women["segment_id"])) == 0
    assert len(quote_bank(con, women, BOOK, min_n=3)) == 0
    ok = quote_bank(con, women, BOOK, min_n=3, consented=women["segment_id"][:2])
    assert ok["segment_id"].tolist() == ["S01-0", "S01-1"] and set(ok["respondents"]) == {3}


def test_synthetic_themes_are_codebook_codes_for_the_right_respondents():
    respondent = {}
    from pceval.synth import text as t

    for templates, who in ((t.CASE_NOTES, "record"), (t.WOMEN_COMMENTS, "woman"),
                           (t.WORKER_COMMENTS, "worker"), (t.FACILITATOR_COMMENTS, "facilitator")):
        for template in templates:
            respondent[template_key(template)] = who
    assert set(THEMES) == {template_key(x) for x in THEMED_TEMPLATES}
    for key, themes in THEMES.items():
        for code in themes:
            assert respondent[key] in BOOK.code(code).respondents, (key, code)
    # the findings of the seed study all appear in the synthetic answers
    found = {code for themes in THEMES.values() for code in themes}
    assert {"validation", "understanding_abuse", "oversight_security", "confidence_space",
            "program_misuse", "support_ends_at_exit", "children", "cultural_safety"} <= found


def test_themes_are_found_in_scrubbed_text():
    assert themes_of_text("I wish they had kept calling [NAME] he stopped going.") == (
        "support_ends_at_exit",)
    assert themes_of_text("[NAME] asked that we only call on weekdays.") == ("contact_timing",)
    assert themes_of_text("Thanks, [NAME]") == ()
    assert themes_of_text("Nothing like a template.") is None


def test_a_coding_workbook_is_the_same_bytes_each_time_and_reads_back_as_written(tmp_path):
    import time

    from openpyxl import load_workbook

    from pceval.code.sheets import write_coding_workbook

    long_text = "x" * 40_000
    segments = pd.DataFrame({"segment_id": ["s1", "s2", "s3"], "respondent": ["worker", "woman", "record"],
                             "text": ["=HYPERLINK(\"http://x\")", "http://example.org", long_text]})
    about = {"kind": "coding", "coder": "A", "export_id": "e1"}
    first = write_coding_workbook(tmp_path / "a.xlsx", coder="A", segments=segments, codebook=BOOK, about=about)
    time.sleep(1.1)  # a second later: no clock may reach the bytes
    second = write_coding_workbook(tmp_path / "b.xlsx", coder="A", segments=segments, codebook=BOOK, about=about)
    assert first.read_bytes() == second.read_bytes()
    wb = load_workbook(first)
    assert wb.sheetnames == ["coding", "instructions", "codebook", "about"]
    assert wb["about"].sheet_state == "hidden"
    ws = wb["coding"]
    assert [c.value for c in ws[1]][:4] == ["segment_id", "respondent", "text", "done"]
    assert ws["C2"].value == "=HYPERLINK(\"http://x\")" and ws["C2"].data_type == "s"
    assert ws["C3"].value == "http://example.org" and not ws["C3"].hyperlink
    assert len(ws["C4"].value) == 32_767 and ws["C4"].value.endswith("holds]")
    # shaded exactly where a code does not apply to the row's respondent
    for row, respondent in ((2, "worker"), (3, "woman"), (4, "record")):
        for offset, code in enumerate(BOOK.codes):
            shaded = ws.cell(row=row, column=5 + offset).fill.fill_type == "solid"
            assert shaded == (respondent not in code.respondents), (respondent, code.id)
    assert {str(v.sqref) for v in ws.data_validations.dataValidation} == {
        f"E2:{ws.cell(row=4, column=4 + len(BOOK.codes)).coordinate}", "D2:D4"}
    assert {k: v for k, v in wb["about"].iter_rows(values_only=True)} == about
