"""Ingest: read a raw platform export into the staged frame of its instrument.

One entry point, :func:`read_export`, reads REDCap, KoboToolbox, ODK Central, Qualtrics and
plain CSV exports (any of UTF-8, UTF-8 with BOM, UTF-16, Windows-1252; comma, semicolon, tab
or pipe delimited), SPSS and Stata data files, Excel workbooks and Parquet files, and returns
the same staged frame for all of them (see :mod:`pceval.ingest.staged`). Ingest writes nothing: storing the staged zone is the
pipeline's job.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path

from pceval.errors import DataError
from pceval.ingest.detect import BINARY_PLATFORMS, PLATFORMS, detect_platform, file_platform, platform_of
from pceval.ingest.excel import read_excel
from pceval.ingest.kobo import read_kobo
from pceval.ingest.parquet import read_parquet
from pceval.ingest.plain import read_plain
from pceval.ingest.qualtrics import read_qualtrics
from pceval.ingest.redcap import read_redcap
from pceval.ingest.statfiles import read_spss, read_stata
from pceval.ingest.staged import META_COLUMNS, IngestResult
from pceval.ingest.textfile import open_text
from pceval.instrument.model import Instrument

__all__ = ["META_COLUMNS", "PLATFORMS", "IngestResult", "detect_platform", "read_export"]


def read_export(
    path: str | Path,
    *,
    instrument: Instrument,
    platform: str = "auto",
    events: Mapping[str, str] | None = None,
    delimiter: str | None = None,
    encoding: str | None = None,
    sheet: str | None = None,
) -> IngestResult:
    """Read one raw export into the staged frame of its instrument.

    Parameters
    ----------
    path : str or Path
        The export as received (never modified).
    instrument : Instrument
        The instrument the export holds; its items name the staged columns.
    platform : {'auto', 'redcap', 'kobo', 'odk', 'qualtrics', 'csv', 'spss', 'stata', 'excel', 'parquet'}
        The platform or format that wrote the file; ``'auto'`` detects it
        (:func:`detect_platform`): SPSS (``.sav``/``.zsav``), Stata (``.dta``), Excel
        (``.xlsx``/``.xlsm``) and Parquet files by their first bytes or extension
        (:mod:`pceval.ingest.statfiles`, :mod:`~pceval.ingest.excel`,
        :mod:`~pceval.ingest.parquet`), delimited text by its headers.
    events : mapping of str to str, optional
        REDCap unique event name → wave name. Without it ``_wave`` is left blank.
    delimiter : str, optional
        One character; sniffed from the header line among ``, ; \\t |`` by default.
    encoding : str, optional
        A Python codec name; by default a byte-order mark decides, else UTF-8 if the bytes are
        valid UTF-8, else Windows-1252. For SPSS and Stata files, the encoding of old files
        that do not record theirs; unused for Excel and Parquet.
    sheet : str, optional
        Excel only: the sheet to read; by default the sheet named like the instrument id,
        else the first.

    Returns
    -------
    IngestResult
        ``frame``: one ``string`` column per entry of ``instrument.columns()`` (cell text,
        stripped, blank → ``<NA>``), then ``_file``, ``_row`` (int64 spreadsheet row),
        ``_record``, ``_event``, ``_wave``, ``_submitted_at``, ``_complete``, ``_preview``;
        ``platform``, ``file``, ``rows_read``, ``dropped_columns`` ((column, reason) pairs),
        ``missing_columns``, ``notes``, ``encoding``, ``delimiter`` (``''`` for files that
        are not delimited text).

    Raises
    ------
    DataError
        One line naming the file, and the row and field where known, with a fix: a missing,
        empty or undecodable file; no header or a duplicated column name; a row with more or
        fewer fields than the header; no column matching the instrument; a platform-specific
        problem (REDCap label export, unknown REDCap event, Qualtrics header rows); a file
        that is not the format its platform names, or is damaged or truncated (an ``.xls``
        workbook, an SPSS file cut short); a text platform given for an SPSS, Stata, Excel or
        Parquet file.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from pceval.instrument import load_instrument
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "record.csv"
    >>> _ = p.write_text("start;end;case/case_id;event/outcome;_uuid\\n"
    ...                  "2025-03-04T10:22:31+11:00;2025-03-04T10:30:00+11:00;AB0007;reached;u-1\\n")
    >>> result = read_export(p, instrument=load_instrument("contact_record"))
    >>> result.platform, result.frame.loc[0, "case_id"], int(result.frame.loc[0, "_row"])
    ('kobo', 'AB0007', 2)
    >>> result.dropped_columns[0]
    ('start', 'platform metadata (time the form was opened)')
    """
    if platform != "auto" and platform not in PLATFORMS:
        raise DataError(f"unknown platform {platform!r}", file=str(path), field="platform",
                        fix=f"use one of: auto, {', '.join(PLATFORMS)}")
    if platform == "auto":
        platform = file_platform(path) or "auto"
    if platform in BINARY_PLATFORMS:
        ignored = [f"{name} {value!r}" for name, value in (("delimiter", delimiter),) if value]
        if platform in ("excel", "parquet") and encoding:
            ignored.append(f"encoding {encoding!r}")
        result = _read_binary(path, instrument, platform, encoding=encoding, sheet=sheet)
        if ignored:
            note = (f"{' and '.join(ignored)} given but not used: a {platform} file stores its "
                    "own values")
            result = dataclasses.replace(result, notes=(*result.notes, note))
        return result
    binary = file_platform(path, by_name=False)
    if binary is not None:
        raise DataError(f"this is {_FORMATS[binary]}, not a delimited text export as platform "
                        f"{platform!r} expects", file=str(path), field="platform",
                        fix=f"set platform: {binary} (or auto), or export the data as CSV")
    text = open_text(path, encoding=encoding, delimiter=delimiter)
    if platform == "auto":
        platform = platform_of(text.head(3))
    if platform == "redcap":
        return read_redcap(text, instrument, events=events)
    if platform in ("kobo", "odk"):
        return read_kobo(text, instrument, platform=platform)
    if platform == "qualtrics":
        return read_qualtrics(text, instrument)
    return read_plain(text, instrument)


_FORMATS = {"spss": "an SPSS data file", "stata": "a Stata data file",
            "excel": "an Excel workbook", "parquet": "a Parquet file"}


def _read_binary(path: str | Path, instrument: Instrument, platform: str, *,
                 encoding: str | None, sheet: str | None) -> IngestResult:
    if platform == "spss":
        return read_spss(path, instrument, encoding=encoding)
    if platform == "stata":
        return read_stata(path, instrument, encoding=encoding)
    if platform == "excel":
        return read_excel(path, instrument, sheet=sheet)
    return read_parquet(path, instrument)
