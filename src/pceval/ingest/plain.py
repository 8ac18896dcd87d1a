"""Plain delimited files whose headers are item ids (paper or phone data entry, other tools).

A column is named by an item id; a multiple-choice item is either one column per choice named
like the staged column (``help__2``, ``help__m99``) holding 1/0, or one column named by the
item holding its codes separated by ``;``, ``,`` or spaces. Columns named like the staged
meta columns (``_record``, ``_event``, ``_wave``, ``_submitted_at``, ``_complete``,
``_preview``) are read into them, so a file written by another tool can carry its wave.
"""

from __future__ import annotations

from pceval.ingest.staged import (
    META_COLUMNS,
    ColumnPlan,
    HeaderIndex,
    IngestResult,
    build_result,
    meta_text,
    plan_items,
)
from pceval.ingest.textfile import TextFile
from pceval.instrument.model import Instrument

_READ_META = META_COLUMNS[2:]


def read_plain(text: TextFile, instrument: Instrument) -> IngestResult:
    """Read a plain CSV (or other delimited) file with item ids as headers."""
    grid = text.read_grid(1)
    plan = ColumnPlan(file=text.file)
    used = set()
    for i, name in enumerate(grid.names):
        if name in _READ_META:
            plan.meta[name] = meta_text(grid, i)
            used.add(i)
    plan_items(plan, grid, HeaderIndex(instrument), used=used)
    return build_result(text, grid, instrument, plan, platform="csv")
