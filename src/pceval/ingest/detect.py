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
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from pceval.ingest.textfile import open_text

PLATFORMS = ("redcap", "kobo", "odk", "qualtrics", "csv")

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
        One of ``'redcap'``, ``'kobo'``, ``'odk'``, ``'qualtrics'``, ``'csv'``.

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
    text = open_text(path, encoding=encoding, delimiter=delimiter)
    return platform_of(text.head(3))


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
