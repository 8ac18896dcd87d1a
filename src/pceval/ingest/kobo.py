"""KoboToolbox and ODK Central CSV exports.

KoboToolbox ("XML values and headers", groups included in headers): semicolon-separated;
``start``, ``end``, then item columns named ``group/item_id`` (``item_id`` outside a group); a
select_multiple item has a summary column of space-separated codes (``event/content``)
followed by one 1/0 column per choice (``event/content/program_info``); then Kobo's metadata
(``_id``, ``_uuid``, ``_submission_time``, ``_validation_status``, ``_notes``, ``_status``,
``_submitted_by``, ``__version__``, ``_tags``, ``_index``).

ODK Central: comma-separated, ``-`` between group and item (``event-outcome``), metadata
``SubmissionDate``, ``meta-instanceID``, ``KEY``, ``SubmitterID``, ``SubmitterName``,
``AttachmentsPresent``, ``AttachmentsExpected``, ``Status``, ``ReviewState``, ``DeviceID``,
``Edits``, ``FormVersion``; select_multiple as one column of space-separated codes.

Headers are matched to the instrument by their last segment(s), whichever separator is used.
Where only the summary column of a select_multiple exists its choice columns are derived from
it; where both exist the choice columns are used and any disagreement is noted.
"""

from __future__ import annotations

from pceval.ingest.staged import (
    ColumnPlan,
    HeaderIndex,
    IngestResult,
    build_result,
    constant,
    meta_text,
    plan_items,
)
from pceval.ingest.textfile import TextFile
from pceval.instrument.model import Instrument

SEPARATORS = ("/", "-")

_METADATA = "platform metadata"
_DROPPED = {
    # both platforms (XLSForm metadata questions)
    "start": f"{_METADATA} (time the form was opened)",
    "end": f"{_METADATA} (time the form was saved)",
    "today": f"{_METADATA} (date of the interview)",
    "deviceid": "identifier: device id",
    "phonenumber": "identifier: phone number",
    "simserial": "identifier: SIM serial number",
    "subscriberid": "identifier: SIM subscriber id",
    "username": "identifier: device user name",
    "email": "identifier: device user email",
    "audit": f"{_METADATA} (audit log)",
    # KoboToolbox
    "_id": f"{_METADATA} (Kobo submission number)",
    "_validation_status": f"{_METADATA} (Kobo validation status)",
    "_notes": f"{_METADATA} (Kobo reviewer notes; may hold names)",
    "_status": f"{_METADATA} (Kobo submission status)",
    "_submitted_by": "identifier: Kobo account that submitted the form",
    "__version__": f"{_METADATA} (form version)",
    "_version_": f"{_METADATA} (form version)",
    "_tags": f"{_METADATA} (Kobo tags)",
    "_index": f"{_METADATA} (Kobo row number)",
    "_attachments": f"{_METADATA} (attachment links)",
    "_geolocation": "identifier: location",
    "_xform_id_string": f"{_METADATA} (form id)",
    "formhub/uuid": f"{_METADATA} (form id)",
    "meta/instanceID": f"{_METADATA} (instance id, same as _uuid)",
    "meta/rootUuid": f"{_METADATA} (instance id)",
    "meta/deprecatedID": f"{_METADATA} (id of an edited submission)",
    "meta/instanceName": "identifier: instance name (may hold a name)",
    # ODK Central
    "meta-instanceID": f"{_METADATA} (instance id, same as KEY)",
    "meta-instanceName": "identifier: instance name (may hold a name)",
    "meta-audit": f"{_METADATA} (audit log)",
    "SubmitterID": "identifier: ODK submitter id",
    "SubmitterName": "identifier: ODK submitter name",
    "DeviceID": "identifier: device id",
    "AttachmentsPresent": f"{_METADATA} (attachments)",
    "AttachmentsExpected": f"{_METADATA} (attachments)",
    "Status": f"{_METADATA} (ODK submission status)",
    "ReviewState": f"{_METADATA} (ODK review state)",
    "Edits": f"{_METADATA} (ODK edit count)",
    "FormVersion": f"{_METADATA} (form version)",
    "UserAgent": "identifier: device user agent",
    "instanceID": f"{_METADATA} (instance id)",
}
_RECORD = {"kobo": ("_uuid", "meta/instanceID"), "odk": ("KEY", "meta-instanceID")}
_SUBMITTED = {"kobo": ("_submission_time",), "odk": ("SubmissionDate",)}


def read_kobo(text: TextFile, instrument: Instrument, *, platform: str = "kobo") -> IngestResult:
    """Read a KoboToolbox (``platform="kobo"``) or ODK Central (``"odk"``) CSV export.

    ``_record`` is Kobo's ``_uuid`` (ODK's ``KEY``), ``_submitted_at`` Kobo's
    ``_submission_time`` (ODK's ``SubmissionDate``), ``_complete`` is ``"1"`` (a submitted form
    is complete) and ``_preview`` ``"0"``. Other metadata is dropped and listed.
    """
    grid = text.read_grid(1)
    names = grid.names
    position = {name: i for i, name in enumerate(names)}
    plan = ColumnPlan(file=text.file)
    used: set[int] = set()
    n = grid.table.num_rows
    for meta, candidates in (("_record", _RECORD[platform]), ("_submitted_at", _SUBMITTED[platform])):
        found = next((c for c in candidates if c in position), None)
        if found is not None:
            i = position[found]
            plan.meta[meta] = meta_text(grid, i)
            used.add(i)
            for other in candidates:
                if other != found and other in position:
                    plan.drop(other, position[other], _DROPPED.get(other, _METADATA))
                    used.add(position[other])
    plan.meta["_complete"] = constant("1", n)
    index = HeaderIndex(instrument)
    plan_items(plan, grid, index, used=used, separators=SEPARATORS, reasons=_DROPPED)
    return build_result(text, grid, instrument, plan, platform=platform)
