"""The data package validates with frictionless (API and CLI) and describes every field."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import frictionless
import pytest

from pceval.clean.log import MISSING_REASONS
from pceval.errors import ConfigError
from pceval.outputs import write_datapackage


def _errors(report) -> list:
    return report.flatten(["rowNumber", "fieldName", "type", "note"])


@pytest.fixture(scope="module")
def package(mini, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("package")
    return write_datapackage(folder, {"mini": (mini.scored, mini.instrument, "data/mini.csv")},
                             name="mini-evaluation", title="Mini evaluation", missing=mini.missing)


def _fields(descriptor: dict, resource: str) -> dict[str, dict]:
    res = next(r for r in descriptor["resources"] if r["name"] == resource)
    return {f["name"]: f for f in res["schema"]["fields"]}


def test_validates_with_the_python_api(package):
    report = frictionless.validate(package)
    assert report.valid, _errors(report)


def test_validates_with_the_cli(package):
    cli = Path(sys.executable).parent / "frictionless"
    command = [str(cli)] if cli.exists() else [sys.executable, "-m", "frictionless"]
    run = subprocess.run([*command, "validate", str(package)], capture_output=True, text=True,
                         check=False,
                         timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "INVALID" not in run.stdout


def test_fields_describe_the_items(package, mini):
    descriptor = json.loads(package.read_text(encoding="utf-8"))
    assert descriptor["$schema"].endswith("/2.0/datapackage.json")
    assert descriptor["pceval"]["instruments"] == {"mini": "1.2"}
    resource = descriptor["resources"][0]
    assert resource["pceval"] == {"instrument": "mini", "version": "1.2"}
    assert resource["schema"]["primaryKey"] == ["response_id"]
    fields = _fields(descriptor, "mini")
    assert list(fields) == list(mini.scored.columns)
    kids_ok = fields["kids_ok"]
    assert kids_ok["type"] == "integer" and kids_ok["title"] == "Are the children safe?"
    assert kids_ok["categories"] == [{"value": 1, "label": "Yes"}, {"value": 0, "label": "No"}]
    assert kids_ok["constraints"]["enum"] == [1, 0]
    missing = {m["value"]: m.get("label") for m in kids_ok["missingValues"]}
    assert missing[""] is None and missing["-99"] == "Prefer not to say"
    assert missing["-97"] == "Does not apply to me" and missing["-91"] == "Skipped by survey logic"
    assert fields["felt1"]["categoriesOrdered"] is True
    assert fields["tier"]["type"] == "string"
    assert fields["tier"]["categories"] == [{"value": "low", "label": "Lower"},
                                            {"value": "high", "label": "Higher"}]
    assert (fields["when"]["type"], fields["hours"]["type"], fields["felt"]["type"]) == (
        "date", "number", "number")
    assert fields["help__1"]["type"] == "boolean"
    assert fields["help__1"]["title"] == "What help did you get?: Safety plan"
    assert fields["comments"]["type"] == "string" and "missingValues" not in fields["comments"]
    assert fields["felt"]["title"] == "Felt safety (mean of 2 items)"
    # every category is a v2 {value, label} pair whose values are the enum
    for field in fields.values():
        if "categories" in field:
            assert all(set(c) == {"value", "label"} for c in field["categories"])
            assert [c["value"] for c in field["categories"]] == field["constraints"]["enum"]


def test_csv_holds_codes_and_neutralised_text(package):
    text = (package.parent / "data" / "mini.csv").read_text(encoding="utf-8-sig")
    assert "'=HYPERLINK" in text and "'-5 days after he left" in text
    rows = (package.parent / "data" / "mini.csv").read_bytes().split(b"\r\n")
    assert rows[0].startswith(b"\xef\xbb\xbfpid,response_id,safe")
    header = rows[0].decode("utf-8-sig").split(",")
    first = dict(zip(header, rows[1].decode().split(","), strict=False))
    assert first["kids_ok"] == "-99" and first["felt2"] == "-99" and first["when"] == "2025-01-05"


def test_frictionless_reads_codes_as_missing(package):
    rows = {r["_row"]: r for r in frictionless.Resource(
        frictionless.Package(package).get_resource("mini").to_dict(),
        basepath=str(package.parent)).read_rows()}
    assert rows[2]["kids_ok"] is None and rows[3]["kids_ok"] is None and rows[2]["kids"] == 2
    assert rows[3]["hours"] is None and rows[2]["hours"] == 1.5  # -95.0 in a decimal column
    assert rows[4]["help__1"] is None and rows[2]["help__1"] is True
    assert rows[2]["comments"].startswith("'=HYPERLINK")


def test_missing_reasons_travel_as_a_resource(package, mini):
    descriptor = json.loads(package.read_text(encoding="utf-8"))
    resource = next(r for r in descriptor["resources"] if r["name"] == "mini_missing_reasons")
    fk = resource["schema"]["foreignKeys"][0]
    assert fk == {"fields": ["row"], "reference": {"resource": "mini", "fields": ["_row"]}}
    assert resource["schema"]["fields"][2]["constraints"]["enum"] == list(MISSING_REASONS)
    lines = (package.parent / resource["path"]).read_text(encoding="utf-8-sig").splitlines()
    assert lines[0] == "row,field,reason"
    assert "4,comments,missing" in lines and "4,when,skipped_by_logic" in lines
    assert len(lines) - 1 == len(mini.missing)


def test_validation_has_teeth(package, tmp_path):
    copy = tmp_path / "pkg"
    shutil.copytree(package.parent, copy)
    csv_path = copy / "data" / "mini.csv"
    with csv_path.open(encoding="utf-8-sig", newline="") as handle:
        header, *rows = list(csv.reader(handle))
    rows[1][header.index("felt1")] = "7"  # not a category
    rows[1][header.index("kids")] = "-96"  # not a declared missing code
    with csv_path.open("w", encoding="utf-8-sig", newline="") as handle:
        csv.writer(handle).writerows([header, *rows])
    report = frictionless.validate(copy / "datapackage.json")
    problems = {(e[1], e[2]) for e in _errors(report)}
    assert ("felt1", "constraint-error") in problems and ("kids", "constraint-error") in problems


def test_same_input_same_bytes(mini, tmp_path):
    def build(folder: Path) -> dict[str, bytes]:
        write_datapackage(folder, {"mini": (mini.scored, mini.instrument, "mini.csv")},
                          name="m", title="M", missing=mini.missing)
        return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}

    first, second = build(tmp_path / "a"), build(tmp_path / "b")
    assert first == second and set(first) == {"datapackage.json", "mini.csv",
                                              "mini_missing_reasons.csv"}


def test_without_reasons_cells_stay_blank(mini, tmp_path):
    path = write_datapackage(tmp_path, {"mini": (mini.scored, mini.instrument, "mini.csv")},
                             name="m", title="M")
    assert frictionless.validate(path).valid
    descriptor = json.loads(path.read_text(encoding="utf-8"))
    assert [r["name"] for r in descriptor["resources"]] == ["mini"]
    assert "missingValues" not in _fields(descriptor, "mini")["kids_ok"]
    assert "-99" not in (tmp_path / "mini.csv").read_text(encoding="utf-8-sig")


def test_names_and_paths_are_checked(mini, tmp_path):
    with pytest.raises(ConfigError, match="lower case"):
        write_datapackage(tmp_path, {"Mini": (mini.scored, mini.instrument, "m.csv")},
                          name="m", title="M")
    with pytest.raises(ConfigError, match="leaves"):
        write_datapackage(tmp_path, {"mini": (mini.scored, mini.instrument, "../m.csv")},
                          name="m", title="M")


def test_synthetic_build_validates(synthetic, tmp_path):
    resources = {i: (frame, synthetic.instruments[i], f"clean/{i}.csv")
                 for i, frame in synthetic.scored.items()}
    path = write_datapackage(tmp_path, resources, name="synthetic", title="Synthetic evaluation",
                             missing=synthetic.missing)
    report = frictionless.validate(path)
    assert report.valid, _errors(report)[:10]
    descriptor = json.loads(path.read_text(encoding="utf-8"))
    keys = {r["name"]: r["schema"].get("primaryKey") for r in descriptor["resources"]}
    assert keys["womens_survey"] == ["response_id", "_wave"]
    assert keys["contact_record"] == ["response_id"]
    risk = _fields(descriptor, "contact_record")["risk_tier"]
    assert risk["type"] == "string" and {"value": "low", "label": "Lower"} in risk["categories"]
