"""One small synthetic evaluation shared by the generator's tests, and readers of its files."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from pceval.synth import generate_evaluation

SMALL = {"seed": 11, "services": 5, "women": 500}


def _read_rows(path: Path, delimiter: str) -> list[list[str]]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle, delimiter=delimiter))


@pytest.fixture(scope="session")
def read_rows():
    """Read a CSV export into lists of cells (a Qualtrics BOM removed)."""
    return _read_rows


@pytest.fixture(scope="session")
def small(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("synth") / "evaluation"
    summary = generate_evaluation(root, **SMALL)
    truth = json.loads((root / "truth" / "ground_truth.json").read_text(encoding="utf-8"))
    canaries = json.loads((root / "truth" / "canaries.json").read_text(encoding="utf-8"))
    return {"root": root, "summary": summary, "truth": truth, "canaries": canaries["canaries"],
            "params": dict(SMALL)}
