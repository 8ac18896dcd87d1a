"""The thematic codebook: schema committed and valid, loader errors located, checked by
``pceval instruments check``."""

from __future__ import annotations

import jsonschema
import pytest
import yaml
from typer.testing import CliRunner

from pceval.cli import app
from pceval.errors import InstrumentError
from pceval.instrument.checks import check_files
from pceval.instrument.schema import schema_text
from pceval.instrument.themes import (
    THEMES_SCHEMA_FILE,
    ThematicCode,
    ThematicCodebook,
    load_thematic_codebook,
    thematic_codebook_json_schema,
    write_thematic_codebook_schema,
)
from pceval.resources import default_path

FOLDER = default_path("instruments")
REGENERATE = ('python -c "from pceval.instrument.themes import write_thematic_codebook_schema as w; '
              "w('instruments/schema')\"")

CODE = """\
  - id: {id}
    label: A theme
    definition: What it is.
    include: When to apply it.
    exclude: When not to.
    example: "An invented answer."
    domains: [{domains}]
    respondents: [{respondents}]
"""


def _book(*codes: str) -> str:
    return ("kind: thematic_codebook\nschema_version: 1\nid: mini\nversion: '0.1'\n"
            "title: A small codebook\ncodes:\n" + "".join(codes))


def test_committed_schema_matches_the_model(tmp_path):
    committed = (FOLDER / "schema" / THEMES_SCHEMA_FILE).read_text(encoding="utf-8")
    assert committed == schema_text(thematic_codebook_json_schema()), f"the schema has drifted: run {REGENERATE}"
    written = write_thematic_codebook_schema(tmp_path)
    assert written.read_bytes() == (FOLDER / "schema" / THEMES_SCHEMA_FILE).read_bytes()


def test_schema_is_valid_and_lists_every_field():
    schema = thematic_codebook_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$id"] == "urn:pceval:schema:thematic_codebook:v1"
    assert set(schema["properties"]) == set(ThematicCodebook.model_fields)
    assert set(schema["$defs"]["ThematicCode"]["properties"]) == set(ThematicCode.model_fields)
    assert schema["$defs"]["ThematicCode"]["additionalProperties"] is False


def test_shipped_codebook_validates_against_the_schema_and_loads():
    data = yaml.safe_load((FOLDER / "themes.yml").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(thematic_codebook_json_schema()).validate(data)
    book = load_thematic_codebook()
    assert book.kind == "thematic_codebook" and book.schema_version == 1
    for code in ("validation", "understanding_abuse", "oversight_security", "confidence_space",
                 "program_misuse", "support_ends_at_exit", "children", "cultural_safety"):
        assert code in book.ids
    assert book.code("program_misuse").domains == ("D17",)
    assert book.code("children").respondents == ("woman", "record", "worker", "facilitator")
    # every respondent type has codes, and every code a definition with guidance
    for respondent in ("woman", "record", "worker", "facilitator"):
        assert len(book.codes_for(respondent)) >= 5
    assert all(c.include and c.exclude and c.example for c in book.codes)


@pytest.mark.parametrize(("codes", "field", "message"), [
    ((CODE.format(id="a", domains="D11", respondents="woman"),
      CODE.format(id="a", domains="D12", respondents="woman")), None, "duplicate code ids ['a']"),
    ((CODE.format(id="a", domains="D99", respondents="woman"),), "code a.domains",
     "names domain D99, which is not in the domain catalogue"),
    ((CODE.format(id="a", domains="D11", respondents="partner"),), "code a.respondents.0",
     "Input should be 'woman', 'record', 'worker' or 'facilitator'"),
    ((CODE.format(id="Bad-Id", domains="D11", respondents="woman"),), "code Bad-Id.id",
     "String should match pattern"),
    ((CODE.format(id="a", domains="", respondents="woman"),), "code a.domains",
     "should have at least 1 item"),
    ((CODE.format(id="a", domains="D11", respondents="woman").replace("    exclude: When not to.\n", ""),),
     "code a.exclude", "Field required"),
])
def test_a_broken_codebook_names_the_file_and_the_code(write_yaml, codes, field, message):
    path = write_yaml(_book(*codes), "themes.yml")
    with pytest.raises(InstrumentError) as caught:
        load_thematic_codebook(path)
    text = str(caught.value)
    assert text.startswith(str(path)) and message in text and "\n" not in text
    if field:
        assert f"field {field}:" in text


def test_check_files_reports_a_broken_codebook_and_passes_the_shipped_one(write_yaml):
    broken = write_yaml(_book(CODE.format(id="a", domains="D99", respondents="woman")), "themes.yml")
    frame = check_files([broken])
    assert frame["code"].tolist() == ["invalid_codebook"]
    assert frame["item"].tolist() == ["a"] and frame["severity"].tolist() == ["error"]
    assert check_files([FOLDER / "themes.yml"]).empty
    assert check_files(FOLDER).empty


def test_instruments_check_validates_the_codebook(write_yaml):
    runner = CliRunner()
    result = runner.invoke(app, ["instruments", "check"])
    assert result.exit_code == 0, result.output
    assert "1 thematic codebook(s) and 4 instrument(s) checked: 0 error(s)" in result.output
    broken = write_yaml(_book(CODE.format(id="a", domains="D11", respondents="woman"),
                              CODE.format(id="a", domains="D11", respondents="woman")), "themes.yml")
    result = runner.invoke(app, ["instruments", "check", str(broken)])
    assert result.exit_code == 1
    assert "invalid_codebook" in result.output and "1 thematic codebook(s)" in result.output
