"""A small inline instrument and a helper that writes inline exports to files."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pandas as pd
import pytest

from pceval.instrument import load_instrument

MINI = """\
kind: instrument
schema_version: 1
id: mini
version: "1"
title: Mini
respondent: woman
waves: [baseline, exit]
missing_codes:
  - {code: -99, label: Prefer not to say, kind: prefer_not_to_say}
choice_lists:
  yn: [{code: 1, label: "Yes"}, {code: 0, label: "No"}]
  help: [{code: 1, label: Counselling}, {code: 2, label: Legal}, {code: -99, label: Prefer not to say}]
  topics: [{code: program_info, label: Program}, {code: safety_plan, label: Safety plan}]
items:
  - {id: intro, type: note, label: Welcome}
  - {id: case_id, type: short_text, group: case, role: case_key, sensitivity: direct_identifier}
  - {id: consent, type: single_choice, choices: yn, group: case}
  - {id: visit_date, type: date, group: visit}
  - {id: kids, type: integer, group: visit, missing_codes: [-99]}
  - {id: help, type: multiple_choice, choices: help, group: visit}
  - {id: topics, type: multiple_choice, choices: topics, group: visit}
  - {id: comments, type: long_text}
"""

COLUMNS = ["case_id", "consent", "visit_date", "kids", "help__1", "help__2", "help__m99",
           "topics__program_info", "topics__safety_plan", "comments"]
META = ["_file", "_row", "_record", "_event", "_wave", "_submitted_at", "_complete", "_preview"]


@pytest.fixture(scope="session")
def mini(tmp_path_factory):
    path = tmp_path_factory.mktemp("instrument") / "mini.yml"
    path.write_text(MINI, encoding="utf-8")
    instrument = load_instrument(path)
    assert instrument.columns() == COLUMNS
    return instrument


@pytest.fixture
def export(tmp_path: Path):
    """Write an inline export (dedented; ``\\n`` line ends unless ``newline`` says otherwise)."""

    def _write(text: str, name: str = "export.csv", *, encoding: str = "utf-8",
               newline: str = "\n", dedent: bool = True) -> Path:
        body = textwrap.dedent(text) if dedent else text
        path = tmp_path / name
        path.write_bytes(body.replace("\n", newline).encode(encoding))
        return path

    return _write


@pytest.fixture(scope="session")
def values():
    """A staged column as a list, ``None`` for ``<NA>``."""

    def _values(frame: pd.DataFrame, column: str) -> list:
        return [None if pd.isna(v) else v for v in frame[column].tolist()]

    return _values
