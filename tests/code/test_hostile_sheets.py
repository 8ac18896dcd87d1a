"""Workbooks that come back wrong: each gives one line naming the file, row and field, and
nothing is written."""

from __future__ import annotations

import hashlib
import shutil
import sys

import pytest
from openpyxl import load_workbook

from pceval.code import export_sheets, import_sheets
from pceval.errors import DataError
from pceval.synth.text import themes_of_text


def truth(segment: str, code: str, text: str) -> int:
    return int(code in themes_of_text(text))


@pytest.fixture(scope="module")
def filled_once(built_evaluation, tmp_path_factory, fill, copy_of):
    root = copy_of(built_evaluation, tmp_path_factory.mktemp("hostile") / "ev")
    export = export_sheets(root, coders=["A", "B"], double_share=0.2, seed=4)
    sheets = root / "coding" / "sheets"
    for coder in "AB":
        fill(sheets / f"coding_{coder}.xlsx", truth)
    return root, export.manifest


@pytest.fixture
def filled(filled_once, tmp_path, copy_of):
    """Both workbooks filled, in a copy of their own."""
    source, manifest = filled_once
    return copy_of(source, tmp_path / "ev"), manifest


def _snapshot(root):
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted((root / "coding").rglob("*")) if p.is_file()}


def _edit(path, change):
    wb = load_workbook(path)
    change(wb["coding"])
    wb.save(path)


def _only_b(manifest):
    return str(manifest.loc[~manifest["double"] & (manifest["coder"] == "B"), "segment_id"].iloc[0])


def _unknown_column(ws, manifest):
    ws.cell(row=1, column=7).value = "made_up_theme"
    return 1, "made_up_theme", "unknown column 'made_up_theme'"


def _bad_value(ws, manifest):
    ws.cell(row=3, column=5).value = 2
    return 3, ws.cell(row=1, column=5).value, "value 2 is not 0, 1 or blank"


def _text_value(ws, manifest):
    ws.cell(row=4, column=6).value = "yes"
    return 4, ws.cell(row=1, column=6).value, "value 'yes' is not 0, 1 or blank"


def _foreign_segment(ws, manifest):
    ws.cell(row=2, column=1).value = "womens_survey:P0000000000000000:exit:comments"
    return 2, "segment_id", "is not in the manifest"


def _other_coders_segment(ws, manifest):
    ws.cell(row=5, column=1).value = _only_b(manifest)
    return 5, "segment_id", "is assigned to B, not to A"


def _duplicate_row(ws, manifest):
    ws.cell(row=6, column=1).value = ws.cell(row=2, column=1).value
    return 6, "segment_id", "appears twice (first in row 2)"


def _missing_column(ws, manifest):
    last = ws.cell(row=1, column=ws.max_column).value
    ws.delete_cols(ws.max_column)
    return 1, last, f"column {last!r} is missing from the coding sheet"


@pytest.mark.parametrize("change", [_unknown_column, _bad_value, _text_value, _foreign_segment,
                                    _other_coders_segment, _duplicate_row, _missing_column])
def test_a_hostile_sheet_is_one_line_and_writes_nothing(filled, change):
    root, manifest = filled
    path = root / "coding" / "sheets" / "coding_A.xlsx"
    expected = {}

    def apply(ws):
        expected["row"], expected["field"], expected["text"] = change(ws, manifest)

    _edit(path, apply)
    before = _snapshot(root)
    with pytest.raises(DataError) as caught:
        import_sheets(root, n_boot=0)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}, row {expected['row']}, field ")
    if expected["field"]:
        assert f"field {expected['field']}:" in message
    assert expected["text"] in message
    assert _snapshot(root) == before
    assert not (root / "coding" / "codings.parquet").exists()


def test_a_workbook_returned_under_another_coders_name_is_refused(filled):
    root, _ = filled
    sheets = root / "coding" / "sheets"
    shutil.copy(sheets / "coding_B.xlsx", sheets / "coding_A.xlsx")
    before = _snapshot(root)
    with pytest.raises(DataError, match=r"coding_A\.xlsx, field about\.coder: the file is named for "
                                        r"coder A but holds the workbook of coder B"):
        import_sheets(root, n_boot=0)
    assert _snapshot(root) == before


def test_a_workbook_of_an_earlier_export_is_refused(filled, tmp_path):
    root, _ = filled
    old = tmp_path / "old_A.xlsx"
    shutil.copy(root / "coding" / "sheets" / "coding_A.xlsx", old)
    export_sheets(root, coders=["A", "B"], double_share=0.2, seed=99, force=True)
    with pytest.raises(DataError, match=r"old_A\.xlsx, field about\.export_id: the workbook belongs "
                                        r"to another export"):
        import_sheets(root, [old], n_boot=0)


@pytest.mark.parametrize(("segment", "code", "decision", "field", "text"), [
    (None, "children", 7, "decision", "decision 7 is not 0, 1 or blank"),
    ("womens_survey:P0000000000000000:exit:comments", "children", 1, "segment_id",
     "is not in the manifest"),
    (None, "made_up_theme", 1, "code", "unknown code 'made_up_theme'"),
])
def test_a_bad_consensus_decision_is_refused(filled, segment, code, decision, field, text):
    import json

    import pandas as pd

    from pceval.code.sheets import write_consensus_workbook

    root, manifest = filled
    export_id = json.loads((root / "coding" / "export.json").read_text())["export_id"]
    segment = segment or str(manifest.loc[manifest["double"], "segment_id"].iloc[0])
    path = write_consensus_workbook(
        root / "coding" / "sheets" / "consensus.xlsx",
        pd.DataFrame({"segment_id": [segment], "code": [code], "label": ["x"],
                      "respondent": ["record"], "text": ["t"], "coder_values": ["A=1; B=0"],
                      "decision": [decision]}),
        about={"kind": "consensus", "export_id": export_id})
    before = _snapshot(root)
    with pytest.raises(DataError) as caught:
        import_sheets(root, n_boot=0)
    assert str(caught.value).startswith(f"{path}, row 2, field {field}: ")
    assert text in str(caught.value)
    assert _snapshot(root) == before


def test_the_cli_exits_non_zero_with_the_one_line(filled, monkeypatch, capsys):
    from pceval.cli import main

    root, _ = filled
    _edit(root / "coding" / "sheets" / "coding_A.xlsx", lambda ws: _bad_value(ws, None))
    monkeypatch.setattr(sys, "argv", ["pceval", "code", "import", str(root)])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 1
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in lines[0]
    assert "coding_A.xlsx, row 3, field" in lines[0] and "is not 0, 1 or blank" in lines[0]
