"""Clean frames for the output writers: a small inline instrument and a synthetic build."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from pceval import pipeline
from pceval.clean import clean_staged
from pceval.instrument import Instrument, load_instrument
from pceval.privacy.deidentify import deidentify
from pceval.project import load_project
from pceval.score import score_scales
from pceval.synth import generate_evaluation

MINI = """\
kind: instrument
schema_version: 1
id: mini
version: "1.2"
title: Mini survey
respondent: woman
waves: [baseline, followup]
missing_codes:
  - {code: -99, label: Prefer not to say, kind: prefer_not_to_say}
  - {code: -97, label: Does not apply to me, kind: not_applicable}
choice_lists:
  yn: [{code: 1, label: "Yes"}, {code: 0, label: "No"}]
  agree: [{code: 1, label: Disagree}, {code: 2, label: Neither}, {code: 3, label: Agree}]
  tier: [{code: low, label: Lower}, {code: high, label: Higher}]
  help: [{code: 1, label: Safety plan}, {code: 2, label: Referral}]
items:
  - {id: safe, type: single_choice, choices: yn, required: true, role: safety_gate,
     label: "Is it safe to answer now?"}
  - {id: case_id, type: short_text, required: true, role: case_key, sensitivity: direct_identifier}
  - {id: service_id, type: short_text, required: true, role: service, label: Service}
  - {id: kids, type: integer, label: "How many children live with you?", constraint: {min: 0, max: 15},
     missing_codes: [-99], relevance: "safe == 1"}
  - {id: kids_ok, type: single_choice, choices: yn, label: "Are the children safe?",
     missing_codes: [-99, -97], relevance: "safe == 1 and kids > 0"}
  - {id: felt1, type: likert, choices: agree, missing_codes: [-99], relevance: "safe == 1",
     label: "In the past three months I have felt safe at home, when I go out, when he is around,
       when the children are with him, when I talk to my family about what has happened, and when
       I think about what the next three months will be like for me and for the children."}
  - {id: felt2, type: likert, choices: agree, missing_codes: [-99], relevance: "safe == 1",
     label: I can make my own decisions}
  - {id: tier, type: single_choice, choices: tier, label: Risk tier}
  - {id: hours, type: decimal, label: Hours of support}
  - {id: when, type: date, label: Date of the survey, relevance: "safe == 1"}
  - {id: help, type: multiple_choice, choices: help, label: "What help did you get?",
     relevance: "safe == 1"}
  - {id: comments, type: long_text, sensitivity: free_text, label: "Anything else?"}
scales:
  - {id: felt, label: Felt safety (mean of 2 items), items: [felt1, felt2], method: mean}
"""

COLUMNS = ["safe", "case_id", "service_id", "kids", "kids_ok", "felt1", "felt2", "tier", "hours",
           "when", "help__1", "help__2", "comments"]

ROWS = [
    # row 2: prefer not to say (kids_ok, felt2); a formula typed as a comment
    {"safe": "1", "case_id": "AB0001", "kids": "2", "kids_ok": "-99", "felt1": "3", "felt2": "-99",
     "tier": "low", "hours": "1.5", "when": "2025-01-05", "help__1": "1", "help__2": "0",
     "comments": "=HYPERLINK(\"http://x\",\"click\")"},
    # row 3: no children, so kids_ok is skipped by logic; a comment starting with '-'
    {"safe": "1", "case_id": "AB0002", "kids": "0", "felt1": "2", "felt2": "2",
     "tier": "high", "when": "2025-01-06", "help__1": "0", "help__2": "1",
     "comments": "-5 days after he left"},
    # row 4: not safe, so everything after the gate is skipped by logic
    {"safe": "0", "case_id": "AB0003", "tier": "low", "hours": "2"},
    # row 5: prefer not to say for kids, not applicable for kids_ok is not reachable (kids
    # unknown), plain answers otherwise
    {"safe": "1", "case_id": "AB0004", "kids": "-99", "felt1": "1", "felt2": "3", "tier": "high",
     "hours": "0.25", "when": "2025-02-01", "help__1": "1", "help__2": "1", "comments": "thank you"},
    # row 6: children, not applicable answer
    {"safe": "1", "case_id": "AB0005", "kids": "1", "kids_ok": "-97", "felt1": "3", "felt2": "1",
     "tier": "low", "hours": "3", "when": "2025-02-02", "help__1": "0", "help__2": "0"},
]


@dataclass(frozen=True)
class Clean:
    instrument: Instrument
    frame: pd.DataFrame
    scored: pd.DataFrame
    missing: pd.DataFrame


@pytest.fixture(scope="session")
def mini_instrument(tmp_path_factory) -> Instrument:
    path = tmp_path_factory.mktemp("mini") / "mini.yml"
    path.write_text(MINI, encoding="utf-8")
    return load_instrument(path)


@pytest.fixture(scope="session")
def mini(mini_instrument) -> Clean:
    staged = pd.DataFrame([{c: r.get(c) for c in COLUMNS} for r in ROWS],
                          columns=COLUMNS).astype("string")
    staged["service_id"] = "S01"
    staged["_row"] = range(2, len(ROWS) + 2)
    staged["_record"] = pd.array([f"R{i}" for i in range(len(ROWS))], dtype="string")
    staged["_wave"] = pd.array(["baseline"] * len(ROWS), dtype="string")
    staged["_complete"] = pd.array(["1"] * len(ROWS), dtype="string")
    staged["_preview"] = pd.array(["0"] * len(ROWS), dtype="string")
    staged["_file"] = "raw/mini.csv"
    result = clean_staged(staged, mini_instrument, file="raw/mini.csv", services=["S01"],
                          waves=["baseline", "followup"])
    assert result.rows_kept == len(ROWS)
    frame = deidentify(result.frame, mini_instrument, key=b"k" * 32).frame
    missing = result.missing.astype({"reason": "string"})
    return Clean(mini_instrument, frame, score_scales(frame, mini_instrument), missing)


@dataclass(frozen=True)
class Synthetic:
    root: Path
    instruments: dict[str, Instrument]
    clean: dict[str, pd.DataFrame]
    scored: dict[str, pd.DataFrame]
    missing: pd.DataFrame


@pytest.fixture(scope="session")
def synthetic(tmp_path_factory) -> Synthetic:
    root = tmp_path_factory.mktemp("outputs") / "evaluation"
    generate_evaluation(root, seed=11, services=3, women=40)
    project = load_project(root)
    pipeline.build(project)
    instruments = pipeline.load_instruments_for(project)
    clean = {i: pd.read_parquet(root / "build" / "clean" / f"{i}.parquet") for i in instruments}
    scored = {i: pd.read_parquet(root / "build" / "scored" / f"{i}.parquet") for i in instruments}
    missing = pd.read_parquet(root / "build" / "clean" / "missing_reasons.parquet")
    return Synthetic(root, instruments, clean, scored, missing)
