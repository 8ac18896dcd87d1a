"""Which platform wrote an export, told from its header records.

=============  ==============================================================================
platform       recognised by
=============  ==============================================================================
``redcap``     ``redcap_event_name`` / ``redcap_repeat_instrument``, or ``record_id`` with a
               ``<form>_complete`` column; also REDCap *label* exports (``Record ID``,
               ``Event Name``, ``Complete?``, ``(choice=...)``), which the REDCap reader refuses
``qualtrics``  ``ResponseId`` in row 1 and ImportId JSON in row 3 (or Qualtrics' own
               ``Response ID`` in row 2)
``odk``        ``KEY``, ``meta-instanceID`` or ``SubmissionDate``
``kobo``       ``_uuid`` or ``_submission_time``, or ``start`` and ``end`` as the first columns
``csv``        anything else: plain CSV whose headers are item ids
=============  ==============================================================================

Files that are not delimited text are told by their first bytes, else by their extension
(:func:`file_platform`): ``spss`` (``$FL2``/``$FL3``; ``.sav``, ``.zsav``), ``stata``
(``<stata_dta>`` or an old Stata header; ``.dta``), ``excel`` (a zip holding
``xl/workbook.xml``, or an OLE2 file, as ``.xls`` and password-protected workbooks are;
``.xlsx``, ``.xlsm``, ``.xls``, ``.xlsb``) and ``parquet`` (``PAR1``; ``.parquet``, ``.pq``).
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Sequence
from pathlib import Path

from pceval.ingest.textfile import open_text

TEXT_PLATFORMS = ("redcap", "kobo", "odk", "qualtrics", "csv")
BINARY_PLATFORMS = ("spss", "stata", "excel", "parquet")
PLATFORMS = TEXT_PLATFORMS + BINARY_PLATFORMS

_EXTENSIONS = {".sav": "spss", ".zsav": "spss", ".dta": "stata", ".xlsx": "excel",
               ".xlsm": "excel", ".xls": "excel", ".xlsb": "excel", ".parquet": "parquet",
               ".pq": "parquet"}
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"

_REDCAP_MARKERS = {"redcap_event_name", "redcap_repeat_instrument", "redcap_repeat_instance",
                   "redcap_data_access_group", "redcap_survey_identifier"}
_REDCAP_LABELS = {"Record ID", "Event Name", "Repeat Instrument", "Repeat Instance",
                  "Data Access Group", "Survey Identifier"}
_ODK_MARKERS = {"KEY", "meta-instanceID", "SubmissionDate"}
_KOBO_MARKERS = {"_uuid", "_submission_time"}


def detect_platform(path: str | Path, *, encoding: str | None = None, delimiter: str | None = None) -> str:
    """The platform that wrote an export, from its header records.

    Parameters
    ----------
    path : str or Path
        The export.
    encoding, delimiter : str, optional
        As for :func:`pceval.ingest.read_export`; decided from the file by default.

    Returns
    -------
    str
        One of ``'redcap'``, ``'kobo'``, ``'odk'``, ``'qualtrics'``, ``'csv'`` for delimited
        text, ``'spss'``, ``'stata'``, ``'excel'``, ``'parquet'`` otherwise
        (:func:`file_platform`).

    Raises
    ------
    DataError
        If the file is missing, empty or undecodable.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "export.csv"
    >>> _ = p.write_text("record_id,redcap_event_name,consent,womens_survey_complete\\n")
    >>> detect_platform(p)
    'redcap'
    """
    binary = file_platform(path)
    if binary is not None:
        return binary
    text = open_text(path, encoding=encoding, delimiter=delimiter)
    return platform_of(text.head(3))


def file_platform(path: str | Path, *, by_name: bool = True) -> str | None:
    """``'spss'``, ``'stata'``, ``'excel'`` or ``'parquet'`` for a file in one of those formats
    (by its first bytes, else, with ``by_name``, its extension), None for anything else
    (delimited text).

    A file that cannot be opened is None here; the reader reports it.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "export.csv"
    >>> _ = p.write_bytes(b"PAR1" + bytes(8) + b"PAR1")
    >>> file_platform(p), file_platform(p.with_suffix(".sav"))
    ('parquet', 'spss')
    """
    named = _EXTENSIONS.get(Path(path).suffix.lower()) if by_name else None
    try:
        with open(path, "rb") as handle:
            head = handle.read(16)
    except (OSError, ValueError):
        return named
    found = binary_platform_of(head)
    if found == "zip":
        return "excel" if named == "excel" or _zip_is_workbook(path) else named
    return found or named


def binary_platform_of(head: bytes) -> str | None:
    """The platform a file's first bytes name, ``'zip'`` for any zip archive, else None."""
    if is_spss(head):
        return "spss"
    if is_stata(head):
        return "stata"
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith(_OLE2):
        return "excel"
    if head.startswith(b"PK\x03\x04"):
        return "zip"
    return None


def is_spss(head: bytes) -> bool:
    """Whether a file's first bytes are an SPSS system file's (``$FL2``; ``$FL3`` compressed)."""
    return head[:4] in (b"$FL2", b"$FL3")


def is_stata(head: bytes) -> bool:
    """Whether a file's first bytes are a Stata data file's (``<stata_dta>`` from Stata 13;
    before it a version byte 102-115, a byte order 1 or 2, file type 1 and a zero byte)."""
    if head.startswith(b"<stata_dta>"):
        return True
    return len(head) >= 4 and 102 <= head[0] <= 115 and head[1] in (1, 2) and head[2] == 1 and head[3] == 0


def _zip_is_workbook(path: str | Path) -> bool:
    try:
        with zipfile.ZipFile(path) as archive:
            return "xl/workbook.xml" in archive.namelist()
    except Exception:  # noqa: BLE001 - zipfile on damaged bytes raises many types (BadZipFile,
        # NotImplementedError for a corrupted version field, ...): not a workbook we can read
        return False


def platform_of(head: Sequence[Sequence[str]]) -> str:
    """The platform, from an export's first (up to three) records.

    Examples
    --------
    >>> platform_of([["start", "end", "case/case_id", "_uuid"]])
    'kobo'
    >>> platform_of([["case_id", "consent"], ["AB1234", "1"]])
    'csv'
    """
    if not head:
        return "csv"
    names = [cell.strip() for cell in head[0]]
    present = set(names)
    if present & _REDCAP_MARKERS or present & _REDCAP_LABELS:
        return "redcap"
    if "record_id" in present and any(n.endswith("_complete") for n in names):
        return "redcap"
    if any("(choice=" in n for n in names) or any(n.endswith("Complete?") for n in names):
        return "redcap"
    if "ResponseId" in present and _looks_like_qualtrics(head):
        return "qualtrics"
    if present & _ODK_MARKERS:
        return "odk"
    if present & _KOBO_MARKERS or names[:2] == ["start", "end"]:
        return "kobo"
    return "csv"


def _looks_like_qualtrics(head: Sequence[Sequence[str]]) -> bool:
    if len(head) >= 2 and "Response ID" in (cell.strip() for cell in head[1]):
        return True
    return len(head) >= 3 and any(is_import_id(cell) for cell in head[2])


def is_import_id(cell: str) -> bool:
    """Whether a cell is Qualtrics' ImportId JSON (``{"ImportId":"QID7"}``)."""
    try:
        value = json.loads(cell)
    except ValueError:
        return False
    return isinstance(value, dict) and isinstance(value.get("ImportId"), str)
