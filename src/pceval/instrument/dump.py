"""Write an instrument back to its YAML form (after an import, or to copy one into a project)."""

from __future__ import annotations

from pathlib import Path

import yaml

from pceval.instrument.model import Instrument
from pceval.io import write_text


class _Dumper(yaml.SafeDumper):
    """Block style, long lines kept, multi-line text as literal blocks."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def instrument_to_yaml(instrument: Instrument, *, header: str = "") -> str:
    """The YAML text of an instrument; loading it gives back an equal instrument.

    Fields left at their defaults are omitted so the file reads like a hand-written one.

    Examples
    --------
    >>> from pceval.instrument import load_instrument
    >>> text = instrument_to_yaml(load_instrument("worker_survey"))
    >>> text.splitlines()[0]
    'kind: instrument'
    """
    data = instrument.model_dump(mode="json", exclude_defaults=True)
    data = {"kind": instrument.kind, "schema_version": instrument.schema_version, **data}
    body = yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100,
                     default_flow_style=False)
    comment = "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines())
    return comment + body


def write_instrument(path: str | Path, instrument: Instrument, *, header: str = "") -> Path:
    """Write an instrument's YAML atomically."""
    return write_text(path, instrument_to_yaml(instrument, header=header))
