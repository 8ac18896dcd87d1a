"""JSON Schemas generated from the models: committed, never drifting, and valid for every file."""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml

import pceval.instrument.model as model_module
from pceval.instrument.model import DomainCatalogue, Instrument
from pceval.instrument.schema import (
    CATALOGUE_SCHEMA_FILE,
    INSTRUMENT_SCHEMA_FILE,
    domain_catalogue_json_schema,
    instrument_json_schema,
    schema_text,
    write_schemas,
)
from pceval.resources import default_path

FOLDER = default_path("instruments")
SCHEMAS = {
    "instrument": (INSTRUMENT_SCHEMA_FILE, instrument_json_schema),
    "domain_catalogue": (CATALOGUE_SCHEMA_FILE, domain_catalogue_json_schema),
}
REGENERATE = ('python -c "from pceval.instrument.schema import write_schemas as w; '
              "w('instruments/schema')\"")


def _files_of(kind: str) -> list:
    out = []
    for path in sorted(FOLDER.glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if data.get("kind") == kind:
            out.append((path, data))
    return out


@pytest.mark.parametrize("kind", sorted(SCHEMAS))
def test_committed_schema_matches_the_model(kind):
    name, build = SCHEMAS[kind]
    committed = (FOLDER / "schema" / name).read_text(encoding="utf-8")
    assert committed == schema_text(build()), f"the schema has drifted: run {REGENERATE}"


def test_write_schemas_writes_what_is_committed(tmp_path):
    paths = write_schemas(tmp_path)
    assert [p.name for p in paths] == [INSTRUMENT_SCHEMA_FILE, CATALOGUE_SCHEMA_FILE]
    for path in paths:
        assert path.read_bytes() == (FOLDER / "schema" / path.name).read_bytes()


@pytest.mark.parametrize("kind", sorted(SCHEMAS))
def test_schema_is_valid_draft_2020_12_with_id_and_title(kind):
    schema = SCHEMAS[kind][1]()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"].startswith("urn:pceval:schema:")
    assert schema["title"] and schema["description"]
    assert schema["properties"]["kind"]["const"] == kind


@pytest.mark.parametrize(("model", "build"), [(Instrument, instrument_json_schema),
                                              (DomainCatalogue, domain_catalogue_json_schema)])
def test_schema_lists_every_model_field(model, build):
    schema = build()
    assert set(schema["properties"]) == set(model.model_fields)
    for sub, definition in schema.get("$defs", {}).items():
        if "properties" in definition:
            fields = getattr(model_module, sub).model_fields
            assert set(definition["properties"]) == set(fields), sub
            assert definition["additionalProperties"] is False, sub


def test_every_shipped_instrument_and_the_catalogue_validate():
    checked = 0
    for kind, (_, build) in SCHEMAS.items():
        validator = jsonschema.Draft202012Validator(build())
        for path, data in _files_of(kind):
            errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
                      for e in validator.iter_errors(data)]
            assert not errors, f"{path.name}: {errors[:3]}"
            checked += 1
    assert checked >= 5  # four instruments and the catalogue


def test_the_schema_rejects_what_the_model_rejects():
    validator = jsonschema.Draft202012Validator(instrument_json_schema())
    [(path, data)] = [f for f in _files_of("instrument") if f[0].stem == "womens_survey"]
    typo = json.loads(json.dumps(data))
    typo["items"][0]["sensitivty"] = "analysis"
    assert any("sensitivty" in e.message for e in validator.iter_errors(typo))
    bad_id = json.loads(json.dumps(data))
    bad_id["items"][0]["id"] = "Safe Now"
    assert list(validator.iter_errors(bad_id))
    bad_kind = json.loads(json.dumps(data))
    bad_kind["items"][0]["sensitivity"] = "secret"
    assert list(validator.iter_errors(bad_kind))


def test_module_documents_the_editor_comment():
    import pceval.instrument.schema as module

    assert "# yaml-language-server: $schema=schema/instrument.schema.json" in module.__doc__
