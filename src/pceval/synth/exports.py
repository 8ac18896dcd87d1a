"""Write answer frames as each platform exports them (see the ingest readers for the inverse).

- **REDCap** "record export", raw values: ``record_id``, ``redcap_event_name``,
  ``redcap_repeat_instrument``, ``redcap_repeat_instance``, one column per item (a multiple-choice
  item as checkbox columns ``item___code``, a negative code written ``item____99``; REDCap writes
  ``0`` in every unticked box, even where the form was not filled in), then
  ``<form>_complete`` (0 incomplete, 2 complete). Rows sorted by record, then event.
- **KoboToolbox** CSV, "XML values and headers", groups in headers with ``/``, ``;``-separated:
  ``start``, ``end``, the items as ``group/item`` (a select_multiple item as a space-separated
  summary column followed by ``group/item/code`` split columns, blank where not shown), then
  Kobo's own columns ``_id`` ... ``_index``. Rows in submission order.
- **Qualtrics** CSV, numeric values, UTF-8 with BOM, three header rows (export tags, question
  text, ImportId JSON); a multiple-choice question is one column of comma-separated codes.
  Rows in the order responses were recorded.

Each writer also assigns the platform's metadata (record numbers, submission times, response
ids) from the generator's random stream, so the files are reproducible from the seed.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pceval.instrument.model import Instrument, ItemType, multi_column, text_in
from pceval.io import atomic_path
from pceval.synth.common import META

REDCAP_META = ("record_id", "redcap_event_name", "redcap_repeat_instrument", "redcap_repeat_instance")
KOBO_START = ("start", "end")
KOBO_END = ("_id", "_uuid", "_submission_time", "_validation_status", "_notes", "_status",
            "_submitted_by", "__version__", "_tags", "_index")
KOBO_FORM_VERSION = "vRk7Hq2TzP9cLxW4mDa6Ns"
KOBO_OLD_FORM_VERSION = "vB3nGf8YsJ5eUq1KwZt7Cv"
QUALTRICS_META = (
    # export tag, question text row, ImportId JSON
    ("StartDate", "Start Date", {"ImportId": "startDate", "timeZone": "Australia/Sydney"}),
    ("EndDate", "End Date", {"ImportId": "endDate", "timeZone": "Australia/Sydney"}),
    ("Status", "Response Type", {"ImportId": "status"}),
    ("IPAddress", "IP Address", {"ImportId": "ipAddress"}),
    ("Progress", "Progress", {"ImportId": "progress"}),
    ("Duration (in seconds)", "Duration (in seconds)", {"ImportId": "duration"}),
    ("Finished", "Finished", {"ImportId": "finished"}),
    ("RecordedDate", "Recorded Date", {"ImportId": "recordedDate", "timeZone": "Australia/Sydney"}),
    ("ResponseId", "Response ID", {"ImportId": "_recordId"}),
    ("RecipientLastName", "Recipient Last Name", {"ImportId": "recipientLastName"}),
    ("RecipientFirstName", "Recipient First Name", {"ImportId": "recipientFirstName"}),
    ("RecipientEmail", "Recipient Email", {"ImportId": "recipientEmail"}),
    ("ExternalReference", "External Data Reference", {"ImportId": "externalDataReference"}),
    ("LocationLatitude", "Location Latitude", {"ImportId": "locationLatitude"}),
    ("LocationLongitude", "Location Longitude", {"ImportId": "locationLongitude"}),
    ("DistributionChannel", "Distribution Channel", {"ImportId": "distributionChannel"}),
    ("UserLanguage", "User Language", {"ImportId": "userLanguage"}),
)
QUALTRICS_IDENTIFIERS = {"IPAddress": "ip", "RecipientFirstName": "name", "RecipientLastName": "name",
                         "RecipientEmail": "email", "LocationLatitude": "location",
                         "LocationLongitude": "location"}
"""Qualtrics metadata columns that identify a respondent, and the kind of identifier each holds."""

HEADER_ROWS = {"redcap": 1, "kobo": 1, "qualtrics": 3}
DELIMITERS = {"redcap": ",", "kobo": ";", "qualtrics": ","}


@dataclass(frozen=True)
class Written:
    """A written export: the answer frame in file order, with each row's ``_row`` number."""

    path: Path
    platform: str
    frame: pd.DataFrame     # answer frame sorted as written, with a "_row" column
    table: pd.DataFrame     # the cells as written (platform columns)

    @property
    def rows(self) -> int:
        return len(self.frame)


# --- column names -------------------------------------------------------------------------------

def redcap_checkbox(item_id: str, code) -> str:
    """REDCap's checkbox column: ``item___code``; a negative code's minus is written ``_``.

    Examples
    --------
    >>> redcap_checkbox("help", 3), redcap_checkbox("help", -99)
    ('help___3', 'help____99')
    """
    return f"{item_id}___{str(code).replace('-', '_')}"


def redcap_columns(inst: Instrument) -> list[str]:
    """Every column of a REDCap record export of the instrument, in order."""
    out = list(REDCAP_META)
    for item in inst.data_items():
        if item.is_multiple:
            out.extend(redcap_checkbox(item.id, c.code) for c in inst.choices_of(item))
        else:
            out.append(item.id)
    return out + [f"{inst.id}_complete"]


def kobo_name(item) -> str:
    return f"{item.group}/{item.id}" if item.group else item.id


def kobo_columns(inst: Instrument) -> list[str]:
    """Every column of a KoboToolbox CSV export of the instrument, in order."""
    out = list(KOBO_START)
    for item in inst.data_items():
        out.append(kobo_name(item))
        if item.is_multiple:
            out.extend(f"{kobo_name(item)}/{c.code}" for c in inst.choices_of(item))
    return out + list(KOBO_END)


def qualtrics_headers(inst: Instrument) -> tuple[list[str], list[str], list[str]]:
    """The three Qualtrics header rows: export tags, question texts, ImportId JSON."""
    tags = [m[0] for m in QUALTRICS_META]
    labels = [m[1] for m in QUALTRICS_META]
    imports = [json.dumps(m[2], separators=(",", ":")) for m in QUALTRICS_META]
    for number, item in enumerate(inst.items, start=1):
        if not item.carries_data:
            continue
        tags.append(item.id)
        labels.append(" ".join(text_in(item.label).split()))
        entry = item.is_text or item.type in (ItemType.INTEGER, ItemType.DECIMAL, ItemType.DATE)
        imports.append(json.dumps({"ImportId": f"QID{number}" + ("_TEXT" if entry else "")},
                                  separators=(",", ":")))
    return tags, labels, imports


# --- metadata -----------------------------------------------------------------------------------

def uuids(rng: np.random.Generator, n: int) -> np.ndarray:
    """Version-4 UUIDs from the random stream (as Kobo's ``_uuid``)."""
    raw = rng.bytes(16 * n).hex()
    variant = np.array(list("89ab"))[rng.integers(0, 4, n)]
    return np.asarray([f"{raw[i:i + 8]}-{raw[i + 8:i + 12]}-4{raw[i + 13:i + 16]}-{v}{raw[i + 17:i + 20]}-"
                       f"{raw[i + 20:i + 32]}" for i, v in zip(range(0, 32 * n, 32), variant)], dtype=object)


def response_ids(rng: np.random.Generator, n: int) -> np.ndarray:
    """Qualtrics response ids: ``R_`` and fifteen letters and digits."""
    alphabet = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"))
    raw = alphabet[rng.integers(0, len(alphabet), (n, 15))]
    return np.asarray(["R_" + "".join(r) for r in raw], dtype=object)


def sydney_offset_minutes(days: np.ndarray) -> np.ndarray:
    """UTC offset in minutes of Australia/Sydney at midday on each day (600 or 660)."""
    days = np.asarray(days, dtype=np.int64)
    unique, inverse = np.unique(days, return_inverse=True)
    stamps = pd.to_datetime(unique, unit="D") + pd.Timedelta(hours=12)
    local = stamps.tz_localize("Australia/Sydney")
    offsets = (local.tz_localize(None) - local.tz_convert("UTC").tz_localize(None)).total_seconds() / 60
    return np.asarray(offsets, dtype=np.int64)[inverse]


def _offset_text(minutes: np.ndarray) -> np.ndarray:
    return np.where(minutes == 660, "+11:00", "+10:00").astype(object)


def assign_redcap_meta(frame: pd.DataFrame, events: dict[str, str]) -> pd.DataFrame:
    """Record numbers (one per woman, in the order her first survey was created) and events."""
    frame = frame.copy()
    first = frame.groupby(META + "woman")[META + "day"].transform("min")
    order = pd.DataFrame({"first": first, "woman": frame[META + "woman"]}).drop_duplicates("woman")
    order = order.sort_values(["first", "woman"], kind="stable")
    number = pd.Series(np.arange(1, len(order) + 1), index=order["woman"].to_numpy())
    frame[META + "record_id"] = number.reindex(frame[META + "woman"].to_numpy()).to_numpy()
    wave_to_event = {wave: event for event, wave in events.items()}
    frame[META + "event"] = frame[META + "wave"].map(wave_to_event)
    frame[META + "complete"] = "2"
    return frame


def assign_kobo_meta(rng: np.random.Generator, frame: pd.DataFrame, worker_column: str) -> pd.DataFrame:
    """Form start/end times (local, with offset), submission time (UTC), uuid, submitter."""
    frame = frame.copy()
    n = len(frame)
    entry_day = frame[META + "day"].to_numpy() + np.where(rng.random(n) < 0.8, 0, rng.integers(1, 4, n))
    start_s = entry_day * 86400 + rng.integers(9 * 3600, 17 * 3600, n)
    start_ms = start_s * 1000 + rng.integers(0, 1000, n)
    end_ms = start_ms + rng.integers(90, 900, n) * 1000 + rng.integers(0, 1000, n)
    offset = sydney_offset_minutes(entry_day)
    submitted = end_ms // 1000 + rng.integers(5, 5400, n) - offset * 60
    frame[META + "start_ms"] = start_ms
    frame[META + "end_ms"] = end_ms
    frame[META + "offset"] = offset
    frame[META + "submitted"] = submitted
    frame[META + "uuid"] = pd.Series(uuids(rng, n), index=frame.index, dtype=object)
    worker = frame[worker_column].to_numpy(dtype=object)
    frame[META + "submitted_by"] = pd.Series([w.lower() if isinstance(w, str) else None for w in worker],
                                             index=frame.index, dtype=object)
    frame[META + "version"] = KOBO_FORM_VERSION
    return frame


def assign_qualtrics_meta(rng: np.random.Generator, frame: pd.DataFrame) -> pd.DataFrame:
    """Qualtrics response metadata; recipients for those invited by email."""
    from pceval.synth import identities as ids

    frame = frame.copy()
    n = len(frame)
    start_day = np.datetime64("2026-03-02").astype(np.int64) + rng.integers(0, 88, n)
    start = start_day * 86400 + rng.integers(8 * 3600, 18 * 3600, n)
    duration = rng.integers(240, 1800, n)
    frame[META + "start"] = start
    frame[META + "end"] = start + duration
    frame[META + "recorded"] = start + duration + rng.integers(0, 3, n)
    frame[META + "duration"] = duration
    frame[META + "status"] = "0"
    frame[META + "progress"] = "100"
    frame[META + "finished"] = "1"
    frame[META + "ip"] = ids.ip_addresses(rng, n)
    frame[META + "response_id"] = response_ids(rng, n)
    emailed = rng.random(n) < 0.7
    frame[META + "channel"] = np.where(emailed, "email", "anonymous")
    frame[META + "recipient_first"] = np.where(emailed, frame[META + "given"], None)
    frame[META + "recipient_last"] = np.where(emailed, frame[META + "family"], None)
    frame[META + "recipient_email"] = np.where(emailed, frame[META + "email"], None)
    lat, lon = ids.coordinates(rng, n)
    frame[META + "latitude"] = lat
    frame[META + "longitude"] = lon
    return frame


# --- writers ------------------------------------------------------------------------------------

def _seconds_text(seconds: np.ndarray, sep: str = " ") -> np.ndarray:
    text = np.datetime_as_string(np.asarray(seconds, dtype=np.int64).astype("datetime64[s]"), unit="s")
    return np.char.replace(text, "T", sep).astype(object) if sep != "T" else text.astype(object)


def _csv_body(table: pd.DataFrame, delimiter: str) -> bytes:
    """The table's rows as CSV (UTF-8, ``\\n`` line ends), quoting only cells that need it.

    Quoting follows ``csv.QUOTE_MINIMAL``: a cell is quoted only if it holds the delimiter, a
    quote or a line break. Written with Arrow's compute functions rather than :mod:`csv` or
    ``DataFrame.to_csv``, which quote and join millions of cells in compiled code and keep a
    five-million-row export to seconds; Arrow's own CSV writer quotes every text cell, which no
    platform does.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if not len(table):
        return b""
    special = "[" + "".join("\\" + c if c in "\\]^-" else c for c in delimiter) + '"\\r\\n]'
    lookup = np.zeros(256, dtype=bool)
    lookup[np.frombuffer((delimiter + '"\r\n').encode("utf-8"), dtype=np.uint8)] = True
    text = pa.large_string()
    empty = pa.scalar("", type=text)
    mark = pa.scalar('"', type=text)
    columns = []
    for name in table.columns:
        arr = pa.array(table[name].to_numpy(dtype=object), type=text, from_pandas=True)
        # a quick look at the column's bytes first: most columns hold codes that never need quotes
        data = np.frombuffer(arr.buffers()[2], dtype=np.uint8) if arr.buffers()[2] is not None \
            else np.zeros(0, dtype=np.uint8)
        if not lookup[data].any():
            columns.append(pc.fill_null(arr, ""))
            continue
        need = pc.fill_null(pc.match_substring_regex(arr, special), False)
        if pc.any(need).as_py():
            quoted = pc.binary_join_element_wise(mark, pc.replace_substring(arr, '"', '""'), mark, empty)
            arr = pc.if_else(need, quoted, arr)
        columns.append(pc.fill_null(arr, ""))
    columns.append(pa.array(np.full(len(table), "", dtype=object), type=text))
    # the last (empty) column turns the separator after each line's last cell into its line end
    body = pc.binary_join_element_wise(*columns[:-1], pa.scalar(delimiter, type=text)) \
        if len(columns) > 2 else columns[0]
    lines = pc.binary_join_element_wise(body, columns[-1], pa.scalar("\n", type=text))
    lines = pa.concat_arrays([lines]) if isinstance(lines, pa.ChunkedArray) else lines
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64)[lines.offset:lines.offset + len(lines) + 1]
    data = lines.buffers()[2]
    return memoryview(data)[int(offsets[0]):int(offsets[-1])].tobytes()


def _write(path: Path, table: pd.DataFrame, delimiter: str, *, preamble: list[list[str]] | None = None,
           bom: bool = False) -> None:
    header = io.StringIO()
    writer = csv.writer(header, delimiter=delimiter, lineterminator="\n")
    writer.writerows(preamble if preamble is not None else [list(table.columns)])
    body = _csv_body(table, delimiter)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            if bom:
                handle.write("\ufeff".encode("utf-8"))
            handle.write(header.getvalue().encode("utf-8"))
            handle.write(body)


def _join(parts: list[tuple[str, np.ndarray]], sep: str, n: int) -> np.ndarray:
    """Per row, the codes whose mask is true joined by ``sep``; ``None`` where none is."""
    joined = np.full(n, "", dtype=object)
    for code, chosen in parts:
        joined = joined + np.where(chosen, sep + code, "").astype(object)
    return np.asarray([j[len(sep):] if j else None for j in joined], dtype=object)


def _finish(frame: pd.DataFrame, table: pd.DataFrame, path: Path, platform: str) -> Written:
    frame = frame.reset_index(names="_index_in")
    frame["_row"] = np.arange(len(frame)) + HEADER_ROWS[platform] + 1
    return Written(path=path, platform=platform, frame=frame, table=table)


def write_redcap(path: Path, frame: pd.DataFrame, inst: Instrument, event_order: list[str]) -> Written:
    """Write the women's survey as a REDCap record export."""
    rank = {event: i for i, event in enumerate(event_order)}
    frame = frame.assign(_event_rank=frame[META + "event"].map(rank))
    frame = frame.sort_values([META + "record_id", "_event_rank"], kind="stable").drop(columns="_event_rank")
    n = len(frame)
    table = {"record_id": frame[META + "record_id"].astype(np.int64).astype(str).to_numpy(dtype=object),
             "redcap_event_name": frame[META + "event"].to_numpy(dtype=object),
             "redcap_repeat_instrument": np.full(n, None, dtype=object),
             "redcap_repeat_instance": np.full(n, None, dtype=object)}
    for item in inst.data_items():
        if item.is_multiple:
            for choice in inst.choices_of(item):
                values = frame[multi_column(item.id, choice.code)].to_numpy(dtype=object)
                filled = np.where(pd.isna(values), "0", values).astype(object)
                table[redcap_checkbox(item.id, choice.code)] = filled
        else:
            table[item.id] = frame[item.id].to_numpy(dtype=object)
    table[f"{inst.id}_complete"] = frame[META + "complete"].to_numpy(dtype=object)
    table = pd.DataFrame(table, columns=redcap_columns(inst), dtype=object)
    _write(path, table, ",")
    return _finish(frame, table, path, "redcap")


def write_kobo(path: Path, frame: pd.DataFrame, inst: Instrument, rng: np.random.Generator) -> Written:
    """Write the contact record as a KoboToolbox CSV export."""
    frame = frame.sort_values([META + "submitted", META + "uuid"], kind="stable")
    n = len(frame)
    offset = frame[META + "offset"].to_numpy()
    tz = _offset_text(offset)
    local_start = frame[META + "start_ms"].to_numpy(dtype=np.int64)
    local_end = frame[META + "end_ms"].to_numpy(dtype=np.int64)
    table = {
        "start": np.datetime_as_string(local_start.astype("datetime64[ms]"), unit="ms").astype(object) + tz,
        "end": np.datetime_as_string(local_end.astype("datetime64[ms]"), unit="ms").astype(object) + tz,
    }
    for item in inst.data_items():
        name = kobo_name(item)
        if item.is_multiple:
            columns = [(c.code, frame[multi_column(item.id, c.code)].to_numpy(dtype=object))
                       for c in inst.choices_of(item)]
            summary = _join([(str(code), values == "1") for code, values in columns], " ", n)
            shown = ~pd.isna(columns[0][1]) if columns else np.zeros(n, dtype=bool)
            # shown with nothing chosen: an empty summary; not shown: blank as well
            table[name] = np.where(shown, summary, None).astype(object)
            for code, values in columns:
                table[f"{name}/{code}"] = values
        else:
            table[name] = frame[item.id].to_numpy(dtype=object)
    table["_id"] = (314_000_000 + np.cumsum(rng.integers(1, 40, n))).astype(str).astype(object)
    table["_uuid"] = frame[META + "uuid"].to_numpy(dtype=object)
    table["_submission_time"] = _seconds_text(frame[META + "submitted"].to_numpy(), sep="T")
    table["_validation_status"] = np.full(n, None, dtype=object)
    table["_notes"] = np.full(n, None, dtype=object)
    table["_status"] = "submitted_via_web"
    table["_submitted_by"] = frame[META + "submitted_by"].to_numpy(dtype=object)
    table["__version__"] = frame[META + "version"].to_numpy(dtype=object)
    table["_tags"] = np.full(n, None, dtype=object)
    table["_index"] = np.arange(1, n + 1).astype(str).astype(object)
    table = pd.DataFrame(table, columns=kobo_columns(inst), dtype=object)
    _write(path, table, ";")
    return _finish(frame, table, path, "kobo")


def write_qualtrics(path: Path, frame: pd.DataFrame, inst: Instrument) -> Written:
    """Write a worker or facilitator survey as a Qualtrics CSV export (numeric values)."""
    frame = frame.sort_values([META + "recorded", META + "response_id"], kind="stable")
    n = len(frame)
    table = {
        "StartDate": _seconds_text(frame[META + "start"].to_numpy()),
        "EndDate": _seconds_text(frame[META + "end"].to_numpy()),
        "Status": frame[META + "status"].to_numpy(dtype=object),
        "IPAddress": frame[META + "ip"].to_numpy(dtype=object),
        "Progress": frame[META + "progress"].to_numpy(dtype=object),
        "Duration (in seconds)": frame[META + "duration"].astype(np.int64).astype(str).to_numpy(dtype=object),
        "Finished": frame[META + "finished"].to_numpy(dtype=object),
        "RecordedDate": _seconds_text(frame[META + "recorded"].to_numpy()),
        "ResponseId": frame[META + "response_id"].to_numpy(dtype=object),
        "RecipientLastName": frame[META + "recipient_last"].to_numpy(dtype=object),
        "RecipientFirstName": frame[META + "recipient_first"].to_numpy(dtype=object),
        "RecipientEmail": frame[META + "recipient_email"].to_numpy(dtype=object),
        "ExternalReference": np.full(n, None, dtype=object),
        "LocationLatitude": frame[META + "latitude"].to_numpy(dtype=object),
        "LocationLongitude": frame[META + "longitude"].to_numpy(dtype=object),
        "DistributionChannel": frame[META + "channel"].to_numpy(dtype=object),
        "UserLanguage": np.full(n, "EN", dtype=object),
    }
    for item in inst.data_items():
        if item.is_multiple:
            table[item.id] = _join([(str(c.code), frame[multi_column(item.id, c.code)].to_numpy(dtype=object) == "1")
                                    for c in inst.choices_of(item)], ",", n)
        else:
            table[item.id] = frame[item.id].to_numpy(dtype=object)
    tags, labels, imports = qualtrics_headers(inst)
    table = pd.DataFrame(table, columns=tags, dtype=object)
    _write(path, table, ",", preamble=[tags, labels, imports], bom=True)
    return _finish(frame, table, path, "qualtrics")


def read_back(path: Path, platform: str) -> list[list[str]]:
    """The rows of a written export as lists of cells (headers included); for checks and tests."""
    encoding = "utf-8-sig" if platform == "qualtrics" else "utf-8"
    with open(path, encoding=encoding, newline="") as handle:
        return list(csv.reader(io.StringIO(handle.read()), delimiter=DELIMITERS[platform]))
