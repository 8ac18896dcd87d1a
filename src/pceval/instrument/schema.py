"""JSON Schemas of the instrument and domain-catalogue files, generated from the models.

The pydantic models in :mod:`pceval.instrument.model` are the one definition of the file
formats; :func:`instrument_json_schema` and :func:`domain_catalogue_json_schema` turn them into
JSON Schema (draft 2020-12) for editors and other tools, and :func:`write_schemas` writes them to
``instruments/schema/`` where they are committed. A test regenerates them and compares, so the
committed files never drift from the models; rerun ``write_schemas`` after changing a model::

    python -c "from pceval.instrument.schema import write_schemas as w; w('instruments/schema')"

Editor support
--------------
Editors that use the YAML language server (VS Code with the Red Hat YAML extension, Neovim,
JetBrains IDEs, ...) check an instrument file as it is typed, complete keys and show each
field's description when the file's first line is::

    # yaml-language-server: $schema=schema/instrument.schema.json

(the path is relative to the YAML file, so this line suits files in ``instruments/``), and for
the domain catalogue::

    # yaml-language-server: $schema=schema/domain_catalogue.schema.json

The schema checks the shape of a file (keys, types, allowed values, id patterns). Rules across
fields (every choice list named exists, relevance names known items, no duplicate ids) are
checked when the file is loaded (:func:`pceval.instrument.load_instrument`), and design rules
(safety gate, decline options, domain coverage) by :mod:`pceval.instrument.checks`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from pceval.instrument.model import SCHEMA_VERSION, DomainCatalogue, Instrument
from pceval.io import write_text

__all__ = [
    "CATALOGUE_SCHEMA_FILE",
    "INSTRUMENT_SCHEMA_FILE",
    "domain_catalogue_json_schema",
    "instrument_json_schema",
    "schema_text",
    "write_schemas",
]

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
INSTRUMENT_SCHEMA_FILE = "instrument.schema.json"
CATALOGUE_SCHEMA_FILE = "domain_catalogue.schema.json"


def _schema(model: type[BaseModel], *, name: str, title: str, description: str) -> dict[str, Any]:
    body = model.model_json_schema(mode="validation")
    body.pop("title", None)
    body.pop("description", None)
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        # a URN, not a web address: the schema is found beside the files, not fetched
        "$id": f"urn:pceval:schema:{name}:v{SCHEMA_VERSION}",
        "title": title,
        "description": description,
        **body,
    }


def instrument_json_schema() -> dict[str, Any]:
    """JSON Schema of an instrument file (``instruments/<id>.yml``).

    Returns
    -------
    dict
        ``Instrument.model_json_schema()`` with ``$schema`` (draft 2020-12), ``$id``, title and
        description.

    Examples
    --------
    >>> schema = instrument_json_schema()
    >>> schema["title"], "items" in schema["required"]
    ('pceval instrument', True)
    """
    return _schema(
        Instrument, name="instrument", title="pceval instrument",
        description=(
            "One survey or record of the partner contact evaluation stream: what is asked, of "
            "whom, and how answers are coded and scored. Generated from pceval's pydantic model "
            f"(schema_version {SCHEMA_VERSION}); cross-field rules are checked when the file "
            "is loaded."))


def domain_catalogue_json_schema() -> dict[str, Any]:
    """JSON Schema of the outcome-domain catalogue (``instruments/domains.yml``).

    Examples
    --------
    >>> domain_catalogue_json_schema()["properties"]["kind"]["const"]
    'domain_catalogue'
    """
    return _schema(
        DomainCatalogue, name="domain_catalogue", title="pceval outcome-domain catalogue",
        description=(
            "The outcome domains of the partner contact evaluation stream, with the "
            "respondents that inform each (W woman, PCW worker, F facilitator, L record), their "
            "National Outcome Standards and RBA quadrants. Generated from pceval's pydantic "
            f"model (schema_version {SCHEMA_VERSION})."))


def schema_text(schema: dict[str, Any]) -> str:
    """A schema as the committed file holds it: indented JSON, key order kept, final newline."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def write_schemas(folder: str | Path) -> list[Path]:
    """Write both schemas into ``folder`` (atomically); returns the paths written.

    Examples
    --------
    >>> import tempfile
    >>> [p.name for p in write_schemas(tempfile.mkdtemp())]
    ['instrument.schema.json', 'domain_catalogue.schema.json']
    """
    folder = Path(folder)
    return [
        write_text(folder / INSTRUMENT_SCHEMA_FILE, schema_text(instrument_json_schema())),
        write_text(folder / CATALOGUE_SCHEMA_FILE, schema_text(domain_catalogue_json_schema())),
    ]
