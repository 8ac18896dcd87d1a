"""The command line: every command documented, errors in one line with a non-zero exit."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pceval.cli import app

COMMANDS = ["init", "synth", "build", "analyse", "analyze", "report", "run", "demo", "key"]
runner = CliRunner()


def _pceval(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pceval", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=120)


def test_help_lists_every_command():
    result = _pceval("--help")
    assert result.returncode == 0
    for command in COMMANDS:
        assert command in result.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command):
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0
    assert "Usage" in result.output


def test_missing_project_is_one_line_and_non_zero(tmp_path):
    result = _pceval("build", str(tmp_path / "nowhere"))
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1
    assert "pceval.yml" in lines[0] and "no pceval.yml here" in lines[0]
    assert "Traceback" not in result.stderr


def test_malformed_config_names_file_and_line(tmp_path):
    (tmp_path / "pceval.yml").write_text("kind: evaluation\nname: [unclosed\n", encoding="utf-8")
    result = _pceval("build", str(tmp_path))
    assert result.returncode == 1
    assert "pceval.yml" in result.stderr and "row" in result.stderr
    assert "Traceback" not in result.stderr


def test_debug_shows_the_traceback(tmp_path):
    result = _pceval("--debug", "build", str(tmp_path))
    assert result.returncode != 0
    assert "Traceback" in result.stderr


def test_init_then_key(tmp_path):
    result = runner.invoke(app, ["init", str(tmp_path / "ev")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "ev" / "pceval.yml").exists()
    key = tmp_path / "ev" / "private" / "pseudonym.key"
    assert key.exists() and (key.stat().st_mode & 0o777) == 0o600
    result = runner.invoke(app, ["key", "new", "--out", str(tmp_path / "other.key")])
    assert result.exit_code == 0 and (tmp_path / "other.key").exists()


def test_an_error_naming_a_hostile_field_or_file_is_still_one_line():
    from pceval.errors import DataError

    error = DataError("row 3 should hold\nImportId JSON\x1b[31m", file="raw/a\nb.csv", row=3,
                      field="FL2\ufeffStartDate;EndDate\nStart Date", fix="export\r\nagain")
    text = str(error)
    assert text == ("raw/a\\nb.csv, row 3, field FL2\\ufeffStartDate;EndDate\\nStart Date: "
                    "row 3 should hold ImportId JSON\\x1b[31m (fix: export again)")
    assert text.isprintable()
