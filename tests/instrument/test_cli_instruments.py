"""``pceval instruments``: export in every format, import back, diff, codebook, check."""

from __future__ import annotations

import zipfile

import pytest
from pyxform.xls2xform import convert
from typer.testing import CliRunner

from pceval.cli import app
from pceval.instrument import load_instrument, load_instruments
from pceval.instrument.redcap import HEADERS, check_redcap_dictionary
from pceval.instrument.qualtrics import check_qualtrics_txt

runner = CliRunner()
SHIPPED = sorted(load_instruments())


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    out = tmp_path_factory.mktemp("exports")
    for fmt in ("xlsform", "redcap", "qualtrics", "script"):
        result = runner.invoke(app, ["instruments", "export", "--format", fmt, "--out", str(out)])
        assert result.exit_code == 0, result.output
    return out


@pytest.mark.parametrize("instrument_id", SHIPPED)
def test_every_instrument_exports_in_every_format(exports, instrument_id):
    xlsx = exports / f"{instrument_id}.xlsx"
    converted = convert(xlsform=str(xlsx), validate=False)
    assert converted.warnings == []
    dictionary = exports / f"{instrument_id}_redcap_dictionary.csv"
    assert dictionary.read_text(encoding="utf-8").splitlines()[0].split(",")[:3] == [
        f'"{h}"' if "," in h else h for h in HEADERS[:3]]
    assert check_redcap_dictionary(dictionary) == []
    assert check_qualtrics_txt(exports / f"{instrument_id}_qualtrics.txt") == []
    html = next(exports.glob(f"{instrument_id}*.html")).read_text(encoding="utf-8")
    assert "1800 737 732" in html or load_instrument(instrument_id).respondent != "woman"
    with zipfile.ZipFile(next(exports.glob(f"{instrument_id}*.docx"))) as docx:
        assert "word/document.xml" in docx.namelist()


@pytest.mark.parametrize("source,suffix", [("redcap", "_redcap_dictionary.csv"), ("xlsform", ".xlsx")])
def test_import_gives_back_the_instrument(exports, tmp_path, source, suffix):
    for instrument_id in SHIPPED:
        target = tmp_path / f"{instrument_id}.yml"
        result = runner.invoke(app, ["instruments", "import", str(exports / f"{instrument_id}{suffix}"),
                                     "--from", source, "--out", str(target)])
        assert result.exit_code == 0, result.output
        assert load_instrument(target) == load_instrument(instrument_id)


def test_export_by_path_and_one_wave(tmp_path):
    from pceval.instrument.dump import write_instrument

    path = str(write_instrument(tmp_path / "w.yml", load_instrument("womens_survey")))
    result = runner.invoke(app, ["instruments", "export", path, "--format", "xlsform", "--wave", "baseline",
                                 "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert convert(xlsform=str(tmp_path / "out" / "womens_survey_baseline.xlsx"), validate=False).warnings == []


def test_diff_names_what_changed(tmp_path):
    from pceval.instrument.dump import write_instrument

    old = load_instrument("worker_survey")
    items = tuple(i for i in old.items if i.id != "burnout")
    new = old.model_copy(update={"items": items, "version": "1.1.0"})
    write_instrument(tmp_path / "new.yml", new)
    result = runner.invoke(app, ["instruments", "diff", "worker_survey", str(tmp_path / "new.yml")])
    assert result.exit_code == 0, result.output
    assert "burnout" in result.output and "removed" in result.output


def test_codebook_lists_items_and_scales(tmp_path):
    out = tmp_path / "codebook.html"
    result = runner.invoke(app, ["instruments", "codebook", "--out", str(out)])
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    for item in ("safe_now", "fs_afraid", "content", "caseload", "partner_info_used"):
        assert item in html
    assert "Prefer not to say" in html and "felt_safety" in html


def test_unknown_format_is_one_line_error(tmp_path):
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "pceval", "instruments", "export", "--format", "spss",
                             "--out", str(tmp_path)], capture_output=True, text=True)
    assert result.returncode == 1
    assert "unknown export format 'spss'" in result.stderr and "Traceback" not in result.stderr


def test_check_passes_shipped_and_fails_a_broken_instrument(tmp_path):
    result = runner.invoke(app, ["instruments", "check"])
    assert result.exit_code == 0, result.output
    assert "4 instrument(s) checked: 0 error(s)" in result.output
    from pceval.instrument.dump import write_instrument

    bad = tmp_path / "bad.yml"
    inst = load_instrument("womens_survey")
    # drop the decline option from a sensitive item: the design check must refuse it
    items = tuple(i.model_copy(update={"missing_codes": ()}) if i.id == "violence_3m" else i for i in inst.items)
    write_instrument(bad, inst.model_copy(update={"items": items}))
    result = runner.invoke(app, ["instruments", "check", str(bad)])
    assert result.exit_code == 1
    assert "no_decline_option" in result.output and "violence_3m" in result.output
