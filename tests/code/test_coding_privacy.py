"""No identifier the synthetic generator placed in raw/ reaches a coding sheet or output."""

from __future__ import annotations

import json

from openpyxl import load_workbook

from pceval.code import export_sheets, import_sheets
from pceval.synth.text import themes_of_text


def _cells(path) -> list[str]:
    wb = load_workbook(path)
    return [str(v) for ws in wb.worksheets for row in ws.iter_rows(values_only=True)
            for v in row if v is not None]


def test_no_canary_in_any_sheet_or_coding_output(evaluation, fill):
    export_sheets(evaluation, coders=["A", "B"], double_share=0.5, seed=1)
    sheets = evaluation / "coding" / "sheets"
    fill(sheets / "coding_A.xlsx", lambda s, c, t: int(c in themes_of_text(t)))
    fill(sheets / "coding_B.xlsx", lambda s, c, t: 1 - int(c in themes_of_text(t)) if c == "children" else int(c in themes_of_text(t)))
    import_sheets(evaluation, n_boot=0)
    assert (sheets / "consensus.xlsx").exists()

    canaries = json.loads((evaluation / "truth" / "canaries.json").read_text(encoding="utf-8"))
    values = {str(c["value"]).lower() for c in canaries["canaries"]}
    assert len(values) > 100
    texts = []
    for path in sorted((evaluation / "coding").rglob("*")):
        if path.suffix == ".xlsx":
            texts += _cells(path)
        elif path.suffix in {".csv", ".json"}:
            texts.append(path.read_text(encoding="utf-8"))
    blob = "\n".join(texts).lower()
    assert "[name]" in blob  # scrubbed text is there, with its placeholders
    leaked = sorted(v for v in values if v in blob)
    assert leaked == []
