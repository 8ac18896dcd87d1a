"""Every canary listed in truth/canaries.json is where it says; free text carries identifiers."""

from __future__ import annotations

import pandas as pd

from pceval.instrument import Sensitivity, load_instrument

LAYOUT = {"redcap": (1, ","), "kobo": (1, ";"), "qualtrics": (3, ",")}
KINDS = {"name", "phone", "email", "address", "dob", "ip", "location"}


def _files(small, read_rows):
    out = {}
    for file, info in small["truth"]["files"].items():
        out[file] = (info, read_rows(small["root"] / file, LAYOUT[info["platform"]][1]))
    return out


def test_every_canary_is_in_its_file_row_and_field(small, read_rows):
    files = _files(small, read_rows)
    entries = small["canaries"]
    assert len(entries) >= 200
    assert {e["kind"] for e in entries} <= KINDS
    assert {"name", "phone", "email", "address"} <= {e["kind"] for e in entries}
    for entry in entries:
        info, rows = files[entry["file"]]
        header = rows[0]
        cell = rows[entry["row"] - 1][header.index(entry["column"])]
        assert entry["value"] in cell, entry
        assert entry["column"].split("/")[-1] == entry["field"]
        assert entry["rows"] >= 1


def test_every_identifier_field_cell_is_a_canary(small, read_rows):
    files = _files(small, read_rows)
    listed = {(e["file"], e["field"], e["value"]) for e in small["canaries"]}
    for file, (info, rows) in files.items():
        inst = load_instrument(info["instrument"])
        header = rows[0]
        fields = [i.id for i in inst.data_items()
                  if i.sensitivity == Sensitivity.DIRECT_IDENTIFIER and i.is_text and i.role is None]
        fields += [i.id for i in inst.data_items() if i.sensitivity == Sensitivity.CONTACT_SAFETY and
                   i.type.value == "short_text"]
        if info["platform"] == "qualtrics":
            fields += ["RecipientFirstName", "RecipientLastName", "RecipientEmail", "IPAddress"]
        assert fields
        for field in fields:
            at = next(i for i, c in enumerate(header) if c.split("/")[-1] == field)
            for row in rows[info["header_rows"]:]:
                if row[at].strip():
                    assert (file, field, row[at].strip()) in listed, (file, field, row[at])


def test_free_text_carries_identifiers_from_the_same_case(small, read_rows):
    files = _files(small, read_rows)
    women = pd.read_csv(small["root"] / "truth" / "women.csv", dtype=str).set_index("case_id")
    free = [e for e in small["canaries"] if e["field"] in {"notes", "comments"}]
    texts = 0
    for file, (info, rows) in files.items():
        inst = load_instrument(info["instrument"])
        header = rows[0]
        for item in inst.items_with(Sensitivity.FREE_TEXT):
            at = next(i for i, c in enumerate(header) if c.split("/")[-1] == item.id)
            texts += sum(1 for row in rows[info["header_rows"]:] if row[at].strip())
    assert len(free) >= 0.05 * texts
    # a name in a case note or a woman's comment is hers or his, as the case's identifier fields hold
    for entry in free:
        if entry["kind"] != "name" or entry["file"] == "raw/worker_survey_qualtrics.csv" \
                or entry["file"] == "raw/facilitator_survey_qualtrics.csv":
            continue
        info, rows = files[entry["file"]]
        header = rows[0]
        case = rows[entry["row"] - 1][next(i for i, c in enumerate(header) if c.split("/")[-1] == "case_id")]
        if not case.strip():
            continue  # a row whose case number the generator blanked as a fault
        woman = women.loc[case.strip()]
        names = {woman["her_name"], woman["his_name"], *woman["her_name"].split(" ", 1)[:1],
                 *woman["his_name"].split(" ", 1)[:1]}
        assert entry["value"] in names, entry
