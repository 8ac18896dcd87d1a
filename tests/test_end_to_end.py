"""The whole job on a synthetic evaluation, and the invariants of every data zone.

One small synthetic evaluation is built, analysed and reported once per session; the tests
then check that nothing is lost, nothing leaks, nothing too small is published, the same input
gives the same bytes, and raw/ is never modified.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from pceval import pipeline
from pceval.analyse.plan import load_plan
from pceval.instrument import load_instrument
from pceval.privacy.disclosure import disclosure_violations
from pceval.project import load_project
from pceval.synth import generate_evaluation

SEED = 7
pytestmark = pytest.mark.slow


def _hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="session")
def evaluation(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("e2e") / "evaluation"
    generate_evaluation(root, seed=SEED, services=6, women=900)
    raw_before = _hashes(root / "raw")
    project = load_project(root)
    summary = pipeline.build(project)
    results = pipeline.analyse(project)
    report = pipeline.report(project)
    return {"root": root, "project": project, "summary": summary, "results": results,
            "report": report, "raw_before": raw_before}


def _data_rows(path: Path, header_rows: int, delimiter: str) -> int:
    encoding = "utf-8-sig"
    with open(path, newline="", encoding=encoding) as handle:
        return sum(1 for _ in csv.reader(handle, delimiter=delimiter)) - header_rows


def test_rows_in_equal_rows_out_plus_quarantined(evaluation):
    project = evaluation["project"]
    summary = evaluation["summary"]
    layout = {"redcap": (1, ","), "kobo": (1, ";"), "qualtrics": (3, ",")}
    quarantine = pd.read_csv(project.build / "quarantine" / "quarantine.csv")
    for source in project.config.sources:
        header_rows, delimiter = layout[source.platform]
        rows_in = _data_rows(project.root / source.file, header_rows, delimiter)
        clean = pd.read_parquet(project.build / "clean" / f"{source.instrument}.parquet")
        quarantined = quarantine[quarantine["instrument"] == source.instrument]
        assert rows_in == len(clean) + len(quarantined), source.file
        assert summary.rows[source.file]["rows_in"] == rows_in
        assert quarantined["reason"].notna().all()
        assert set(clean["_row"]).isdisjoint(set(quarantined["row"]))


def test_cleaning_finds_what_the_generator_injected(evaluation):
    project = evaluation["project"]
    quarantine = pd.read_csv(project.build / "quarantine" / "quarantine.csv")
    assert {"duplicate_submission", "no_case_key", "survey_preview"} <= set(quarantine["reason"])
    issues = pd.read_csv(project.build / "audit" / "validation_issues.csv")
    assert {"out_of_range", "unknown_code", "invalid_date"} <= set(issues["code"])
    audit = pd.read_csv(project.build / "audit" / "audit_log.csv")
    assert {"missing_code", "platform_missing_code", "out_of_range"} <= set(audit["rule"])
    missing = pd.read_parquet(project.build / "clean" / "missing_reasons.parquet")
    assert {"prefer_not_to_say", "skipped_by_logic", "invalid_value_removed"} <= set(missing["reason"])


def _canaries(root: Path) -> list[str]:
    data = json.loads((root / "truth" / "canaries.json").read_text(encoding="utf-8"))
    entries = data["canaries"] if isinstance(data, dict) else data
    values = sorted({str(e["value"]) for e in entries})
    assert len(values) >= 50
    return values


def _texts(folder: Path):
    for path in sorted(folder.rglob("*")):
        if not path.is_file():
            continue
        if path.suffix == ".parquet":
            frame = pd.read_parquet(path)
            yield path, frame.astype("string").to_csv(index=False)
        elif path.suffix == ".xlsx":
            import openpyxl

            book = openpyxl.load_workbook(path, read_only=True)
            cells = [str(v) for sheet in book.worksheets for row in sheet.iter_rows(values_only=True)
                     for v in row if v is not None]
            book.close()
            yield path, "\n".join(cells)
        else:
            yield path, path.read_bytes().decode("utf-8", errors="ignore")


def test_no_canary_leaves_the_staging_area(evaluation):
    root = evaluation["root"]
    canaries = _canaries(root)
    # the canaries are really in the raw exports (else this test proves nothing)
    raw_text = "\n".join(text for _, text in _texts(root / "raw"))
    assert sum(c in raw_text for c in canaries) >= 0.9 * len(canaries)
    staged_text = "\n".join(text for _, text in _texts(root / "build" / "staged"))
    assert any(c in staged_text for c in canaries)
    public = [p for p in (root / "build").iterdir() if p.name != "staged"]
    public += [root / "results", root / "reports", root / "coding"]
    # the coding workbooks hold the open-text answers: the scan must see inside them
    assert any((root / "coding").rglob("*.xlsx"))
    # a canary counts where it stands as a whole word: "Simon" inside "DerSimonian" (a method's
    # name in a result note) is no leak, "Simon" beside a space or a comma is
    folded = sorted({c.casefold() for c in canaries})
    leaks = []
    for folder in public:
        for path, text in ([(folder, folder.read_text())] if folder.is_file() else _texts(folder)):
            lowered = text.casefold()
            # a plain substring search first (fast); the word check only for what it finds
            found = [c for c in folded if c in lowered]
            leaks += [(path.name, c) for c in found
                      if re.search(rf"(?<!\w){re.escape(c)}(?!\w)", lowered)]
    assert leaks == []


def test_no_published_cell_under_the_minimum(evaluation):
    project = evaluation["project"]
    results = pd.read_parquet(project.results / "results.parquet")
    rules = project.config.privacy
    violations = disclosure_violations(results, min_cell=rules.min_cell, min_denominator=rules.min_denominator)
    assert violations.empty, violations
    # the small service exists and was pooled or suppressed, never shown alone
    published = results[~results["suppressed"].astype(bool) & results["estimate"].notna()]
    assert (published["n"].dropna() >= rules.min_cell).all()
    # a row without an estimate (a model term with no women in it) says only that there are none
    empty = results[~results["suppressed"].astype(bool) & results["estimate"].isna()]
    assert (empty["n"].fillna(0).eq(0) | empty["n"].fillna(0).ge(rules.min_cell)).all()
    plan = load_plan(project.folder("analysis") / "plan.yml")
    per_question = {p.stem for p in project.results.glob("*.csv")} - {"results"}
    assert per_question == {q.id for q in plan.questions}


def test_raw_is_never_modified(evaluation):
    assert _hashes(evaluation["root"] / "raw") == evaluation["raw_before"]


def test_analyses_recover_the_generators_truth(evaluation):
    root = evaluation["root"]
    truth = json.loads((root / "truth" / "ground_truth.json").read_text(encoding="utf-8"))
    results = pd.read_parquet(root / "results" / "results.parquet")
    overall = results[(results["breakdown"] == "overall")]
    reached = overall[(overall["question"] == "q01_reach") & (overall["indicator"] == "reached")].iloc[0]
    true_reach = truth["realised"]["overall"]["reached_share"]
    assert reached["ci_low"] - 0.03 <= true_reach <= reached["ci_high"] + 0.03
    change = overall[(overall["question"] == "q08_safety") & (overall["statistic"] == "mean_change")].iloc[0]
    true_change = truth["realised"]["overall"]["felt_safety_change"]
    assert change["ci_low"] - 0.05 <= true_change <= change["ci_high"] + 0.05
    assert change["ci_low"] > 0  # the generator's effect is positive and the data show it


def test_report_shows_both_questions_with_figures(evaluation):
    html = Path(evaluation["report"]).read_text(encoding="utf-8")
    assert html.count("data:image/png;base64") >= 2
    assert "Reach" in html and "Felt safety" in html
    assert "Figure 1" in html and "Table 2" in html
    assert "http://" not in html.split("<body", 1)[1].replace("http://www.w3.org", "")


def _build_in_subprocess(root: Path, hashseed: str) -> None:
    env = {**os.environ, "PYTHONHASHSEED": hashseed}
    code = ("import sys; from pceval import pipeline; from pceval.project import load_project; "
            "p = load_project(sys.argv[1]); pipeline.build(p); pipeline.analyse(p)")
    subprocess.run([sys.executable, "-c", code, str(root)], check=True, env=env)


def test_same_input_same_bytes(evaluation, tmp_path):
    source = evaluation["root"]
    copies = []
    for name, seed in (("a", "1"), ("b", "12345")):
        target = tmp_path / name
        shutil.copytree(source, target, ignore=shutil.ignore_patterns("build", "results", "reports"))
        _build_in_subprocess(target, seed)
        copies.append(target)
    for zone in ("build", "results"):
        first, second = (_hashes(c / zone) for c in copies)
        assert first == second, zone
    assert _hashes(copies[0] / "build") == {k: v for k, v in _hashes(source / "build").items()}


def test_shareable_formats_read_back_with_labels_and_missing_codes(evaluation):
    import frictionless
    import pyreadstat

    folder = evaluation["root"] / "build" / "shareable"
    frame, meta = pyreadstat.read_sav(folder / "womens_survey.sav", user_missing=True)
    assert meta.column_names_to_labels["fs_home"].startswith("In the past 3 months, I have felt safe")
    assert meta.variable_value_labels["fs_home"][5] == "Strongly agree"
    assert meta.variable_value_labels["fs_home"][-99] == "Prefer not to say"
    assert -99 in set(frame["fs_home"].dropna())  # prefer-not-to-say travels as user-missing
    assert meta.missing_ranges["fs_home"]
    stata, smeta = pyreadstat.read_dta(folder / "contact_record.dta", user_missing=True)
    assert smeta.variable_value_labels["outcome"] and len(stata) > 0
    report = frictionless.validate(folder / "datapackage.json")
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type"])[:5]
    csv_text = (folder / "contact_record.csv").read_text(encoding="utf-8-sig")
    assert not any(line.startswith(("=", "+", "@")) for line in csv_text.splitlines())


def test_build_reports_say_every_row_is_accounted_for(evaluation):
    build = evaluation["root"] / "build"
    html = (build / "data_quality.html").read_text(encoding="utf-8")
    assert '<span class="warn">no</span>' not in html
    assert html.count(">yes<") >= 4
    rows = pd.read_csv(build / "audit" / "quality" / "rows.csv")
    assert rows["balanced"].all()
    codebook = (build / "codebook.html").read_text(encoding="utf-8")
    assert "fs_home" in codebook and "Prefer not to say" in codebook
    assert (build / "audit" / "validation_report.html").exists()


def test_build_writes_domains_change_per_woman_and_reliability(evaluation):
    root = evaluation["root"]
    build = evaluation["project"].build
    truth = json.loads((root / "truth" / "ground_truth.json").read_text(encoding="utf-8"))["realised"]["overall"]
    women = load_instrument("womens_survey")
    scored = pd.read_parquet(build / "scored" / "womens_survey.parquet")
    for scale in women.scales:
        for domain in scale.domains:
            assert scored[f"domain_{domain}"].between(0, 100).all()
        if scale.dex is not None:
            assert set(scored[f"{scale.id}_score_rating"].dropna().astype(int)) <= {1, 2, 3, 4, 5}
    change = pd.read_parquet(build / "scored" / "change.parquet")
    safety = change[(change["measure"] == "felt_safety") & (change["post_wave"] == "followup")]
    # each woman's change, averaged, is the generator's realised change in the same women
    assert safety["pid"].is_unique
    assert safety["change"].mean() == pytest.approx(truth["felt_safety_change"], abs=0.03)
    # a few women lose a wave's score to injected faults (invalid values removed by cleaning)
    assert 0.97 * truth["felt_safety_change_n"] <= len(safety) <= truth["felt_safety_change_n"]
    reliability = pd.read_csv(build / "reliability" / "scale_reliability.csv")
    asked = reliability.dropna(subset=["alpha"])
    assert {(r.scale, r.wave) for r in asked.itertuples()} >= {(s.id, "followup") for s in women.scales}
    # the generator's items share one construct with item noise: alpha is high, never perfect
    assert asked["alpha"].between(0.6, 0.99).all()
    assert (asked["alpha_ci_low"] < asked["alpha"]).all() and (asked["alpha"] < asked["alpha_ci_high"]).all()
    items = pd.read_csv(build / "reliability" / "item_statistics.csv")
    assert set(items["item"]) == {i for s in women.scales for i in s.items}
    assert "alpha, followup" in (build / "codebook.html").read_text(encoding="utf-8")
