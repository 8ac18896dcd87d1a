"""Parquet files, read with pyarrow.

Columns are named by item ids, as in a plain CSV file (a multiple-choice item is one column
per choice or one text column of its codes), with the staged meta columns (``_record``,
``_wave``, ...) read under their names; columns that match no item are dropped unread, and
the index pandas writes (``__index_level_0__``) is dropped as such. Values become the staged
text of :mod:`pceval.ingest.tabular` (integers as digits, whole floats as integers, dates
``YYYY-MM-DD``); ``_row`` is the record number + 1, the row a spreadsheet of the data shows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from pceval.errors import DataError
from pceval.ingest.staged import IngestResult
from pceval.ingest.tabular import (
    SourceFile,
    WarningNotes,
    assemble,
    check_file,
    column_text,
    plan_columns,
    read_head,
    unreadable,
    used_columns,
)
from pceval.instrument.model import Instrument

_WHAT = "Parquet file"
_PANDAS_INDEX = "the row index pandas writes with a frame (not data)"


def read_parquet(path: str | Path, instrument: Instrument) -> IngestResult:
    """Read a Parquet file into the staged frame (see the module notes).

    Raises
    ------
    DataError
        If the file is missing, empty, not Parquet, damaged, has a duplicated column name, a
        used column of lists or structures, or no column named by an item of the instrument.
    """
    file = str(path)
    check_file(path)
    if not read_head(path).startswith(b"PAR1"):
        raise DataError(f"this is not a {_WHAT}", file=file,
                        fix="export the data again, or set the platform that wrote the file")
    caught = WarningNotes()
    with caught:
        try:
            parquet = pq.ParquetFile(file)
        except Exception as exc:  # noqa: BLE001 - pyarrow reading untrusted bytes: any failure is a damaged file
            raise unreadable(file, _WHAT, exc) from None
        try:
            count = parquet.metadata.num_rows
            names = [str(n) for n in parquet.schema_arrow.names]
            reasons = {n: _PANDAS_INDEX for n in names if n.startswith("__index_level_")}
            plan, meta = plan_columns(file, names, instrument, reasons=reasons)
            used = used_columns(plan, meta)
            texts = {}
            if used:
                try:
                    table = parquet.read(columns=[names[i] for i in used], use_threads=False)
                except Exception as exc:  # noqa: BLE001 - as above
                    raise unreadable(file, _WHAT, exc) from None
                count = table.num_rows
                for k, i in enumerate(used):
                    texts[i] = column_text(table.column(k), file=file, field=names[i])
        finally:
            parquet.close()
    rows = np.arange(2, count + 2, dtype=np.int64)
    return assemble(SourceFile(file), names, texts, rows, instrument, plan, meta,
                    platform="parquet", notes=caught.notes)
