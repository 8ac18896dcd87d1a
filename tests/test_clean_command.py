"""``pceval clean FILE``: one export, no evaluation project, the same outputs as a build."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from pceval.cli import app
from pceval.synth import generate_evaluation

runner = CliRunner()


@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    root = tmp_path_factory.mktemp("single") / "ev"
    generate_evaluation(root, seed=11, services=3, women=200)
    return root


@pytest.mark.parametrize("name,instrument", [("womens_survey_redcap.csv", "womens_survey"),
                                             ("contact_record_kobo.csv", "contact_record"),
                                             ("worker_survey_qualtrics.csv", "worker_survey")])
def test_clean_one_export(raw, tmp_path, name, instrument):
    out = tmp_path / "out"
    result = runner.invoke(app, ["clean", str(raw / "raw" / name), "--instrument", instrument,
                                 "--out", str(out), "--key-file", str(raw / "private" / "pseudonym.key")])
    assert result.exit_code == 0, result.output
    truth = json.loads((raw / "truth" / "ground_truth.json").read_text())["files"][f"raw/{name}"]
    clean = pd.read_parquet(out / "build" / "clean" / f"{instrument}.parquet")
    quarantine = pd.read_csv(out / "build" / "quarantine" / "quarantine.csv")
    assert len(clean) + len(quarantine) == truth["rows"]
    # an export on its own has no list of services: only blank services are quarantined
    assert "unknown_service" not in set(quarantine["reason"]) or instrument != "contact_record"
    canaries = {e["value"] for e in json.loads((raw / "truth" / "canaries.json").read_text())["canaries"]
                if e["file"] == f"raw/{name}"}
    assert canaries
    text = clean.astype("string").to_csv(index=False).casefold()
    assert not [c for c in canaries if c.casefold() in text]


def test_clean_without_a_key_says_how_to_make_one(raw, tmp_path, monkeypatch):
    import subprocess
    import sys

    env = {k: v for k, v in __import__("os").environ.items() if k != "PCEVAL_KEY"}
    result = subprocess.run([sys.executable, "-m", "pceval", "clean", str(raw / "raw" / "contact_record_kobo.csv"),
                             "--instrument", "contact_record", "--out", str(tmp_path / "o")],
                            capture_output=True, text=True, env=env)
    assert result.returncode == 1
    assert "pceval key new" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "o" / "build").exists()
