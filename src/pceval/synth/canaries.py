"""Canaries: every identifier the generator placed in a raw export, and where.

A canary is an identifier value (a name, phone number, email, street address, date of birth,
or a Qualtrics IP address or location) written into a raw file, either in an identifier field
(``woman_name``, ``phone``, ``RecipientEmail`` ...) or inside free text ("call me on 0491 572
983"). De-identification must keep every one of them out of everything from ``build/clean`` on;
tests search the outputs for the values listed in ``truth/canaries.json``.

Each entry names the file, the staged field (item id, or the Qualtrics metadata column), the
column header as written in the file, the first row holding it (the staged ``_row``: the line a
spreadsheet shows, header rows included) and how many rows of that field hold it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from pceval.instrument.model import Instrument
from pceval.io import write_text
from pceval.synth.common import CANARY, CANARY_KIND
from pceval.synth.exports import QUALTRICS_IDENTIFIERS, Written, kobo_name

KIND_OF = {"her_given": "name", "her_name": "name", "his_name": "name", "name": "name",
           "her_phone": "phone", "phone": "phone", "her_email": "email", "email": "email",
           "her_address": "address", "address": "address"}
"""What each simulated identifier is, as a canary kind."""

FIELDS = ("value", "kind", "file", "row", "field", "column", "rows")


def _entries(values: np.ndarray, kinds: np.ndarray | str, rows: np.ndarray, *, file: str, field: str,
             column: str) -> pd.DataFrame:
    values = pd.Series(values, dtype=object)
    present = values.notna().to_numpy() & (values.astype(str).str.strip() != "").to_numpy()
    frame = pd.DataFrame({
        "value": values[present].astype(str).str.strip().to_numpy(),
        "kind": (np.asarray(kinds, dtype=object)[present] if not isinstance(kinds, str)
                 else np.full(int(present.sum()), kinds, dtype=object)),
        "row": np.asarray(rows)[present].astype(np.int64),
    })
    if frame.empty:
        return pd.DataFrame(columns=list(FIELDS))
    grouped = frame.groupby(["value", "kind"], sort=True).agg(row=("row", "min"), rows=("row", "size"))
    grouped = grouped.reset_index()
    grouped["file"] = file
    grouped["field"] = field
    grouped["column"] = column
    return grouped[list(FIELDS)]


def collect(written: Written, file: str, inst: Instrument, identifiers: dict[str, str]) -> pd.DataFrame:
    """Every canary in one written export (``identifiers``: item id -> simulated identity)."""
    frame = written.frame
    rows = frame["_row"].to_numpy()
    parts = []
    for item_id, who in sorted(identifiers.items()):
        item = inst.item(item_id)
        column = kobo_name(item) if written.platform == "kobo" else item_id
        parts.append(_entries(frame[item_id].to_numpy(dtype=object), KIND_OF[who], rows, file=file,
                              field=item_id, column=column))
    for name in sorted(c for c in frame.columns if c.startswith(CANARY)):
        item_id = name[len(CANARY):]
        item = inst.item(item_id)
        column = kobo_name(item) if written.platform == "kobo" else item_id
        parts.append(_entries(frame[name].to_numpy(dtype=object),
                              frame[CANARY_KIND + item_id].to_numpy(dtype=object), rows,
                              file=file, field=item_id, column=column))
    if written.platform == "qualtrics":
        for column, kind in sorted(QUALTRICS_IDENTIFIERS.items()):
            parts.append(_entries(written.table[column].to_numpy(dtype=object), kind, rows, file=file,
                                  field=column, column=column))
    parts = [p for p in parts if not p.empty]
    if not parts:
        return pd.DataFrame(columns=list(FIELDS))
    return pd.concat(parts, ignore_index=True)


def write_canaries(path: Path, entries: pd.DataFrame) -> Path:
    """Write ``truth/canaries.json``: one entry a line, sorted, so large lists stay readable."""
    entries = entries.sort_values(["file", "row", "field", "value"], kind="stable")
    lines = [json.dumps({k: (int(v) if k in ("row", "rows") else v) for k, v in zip(FIELDS, record)},
                        ensure_ascii=False, sort_keys=False)
             for record in entries[list(FIELDS)].itertuples(index=False, name=None)]
    kinds = entries["kind"].value_counts().sort_index()
    header = {"count": len(entries), "kinds": {str(k): int(v) for k, v in kinds.items()},
              "fields": list(FIELDS),
              "note": ("Every identifier value placed in raw/: a cell of an identifier field, or "
                       "text inside a free-text answer. 'row' is the first row (as numbered in a "
                       "spreadsheet, header rows included) of 'field' holding the value; 'rows' "
                       "how many rows of that field hold it.")}
    head = json.dumps(header, ensure_ascii=False, sort_keys=True)[:-1]
    body = ",\n".join("  " + line for line in lines)
    return write_text(path, head + ',\n "canaries": [\n' + body + "\n ]}\n")
