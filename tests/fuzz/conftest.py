"""Shared pieces of the fuzzing suite: one instrument, a valid export of it from every platform
(the seeds the fuzzers mutate), the byte and zip damage strategies, a folder per generated
input, and the count of hostile inputs.

Every test of the suite that makes a hostile input reports it to the session-scoped
:func:`hostile` counter; the terminal summary prints ``fuzzing: N hostile inputs`` (and the
known bugs outside the code under test the inputs ran into, each pinned by an xfail test), and
``test_hostile_input_count`` (moved to run last) checks that a full run with the ``ci``
hypothesis profile (tests/conftest.py) generated at least :data:`MINIMUM_INPUTS`.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import os
import warnings
import zipfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import openpyxl
import pandas as pd
import pyreadstat
import pytest
from hypothesis import strategies as st

from pceval.instrument import load_instrument

#: Hostile inputs a full run of the suite must generate with the ``ci`` profile.
MINIMUM_INPUTS = 500
COUNT_TEST = "test_hostile_input_count"

# An instrument with every kind of column a reader maps: a case key, a service, a single
# choice, a date, a number with missing codes, multiple-choice items with numeric and text
# codes, free text behind a relevance. Its multiple-choice lists hold no missing code, so a
# valid export of it goes through the whole of `pceval clean`.
INSTRUMENT = """\
kind: instrument
schema_version: 1
id: fuzzform
version: "1"
title: Fuzz form
respondent: woman
waves: [baseline, exit]
missing_codes:
  - {code: -99, label: Prefer not to say, kind: prefer_not_to_say}
  - {code: -98, label: Don't know, kind: dont_know}
choice_lists:
  yn: [{code: 1, label: "Yes"}, {code: 0, label: "No"}]
  help: [{code: 1, label: Counselling}, {code: 2, label: Legal}, {code: 3, label: Housing}]
  topics: [{code: program_info, label: Program}, {code: safety_plan, label: Safety plan}]
items:
  - {id: intro, type: note, label: Welcome}
  - {id: case_id, type: short_text, label: Case number, group: case, role: case_key,
     sensitivity: direct_identifier}
  - {id: service_id, type: short_text, label: Service, group: case, role: service}
  - {id: consent, type: single_choice, label: "Do you agree?", choices: yn, group: case,
     missing_codes: [-99]}
  - {id: visit_date, type: date, label: Date of the visit, group: visit, role: event_date}
  - {id: kids, type: integer, label: "How many children?", group: visit, missing_codes: [-99, -98],
     constraint: {min: 0, max: 20}}
  - {id: help, type: multiple_choice, label: Help received, choices: help, group: visit}
  - {id: topics, type: multiple_choice, label: Topics, choices: topics, group: visit}
  - {id: comments, type: long_text, label: "Anything else?", sensitivity: free_text,
     relevance: "consent == 1"}
"""

# The answers of the seed exports, one dict per row; help and topics as lists of codes.
ANSWERS = (
    {"case_id": "AB0001", "service_id": "S01", "consent": 1, "visit_date": "2025-01-02", "kids": 2,
     "help": [1, 3], "topics": ["program_info"], "comments": 'She said "thanks", twice'},
    {"case_id": "AB0001", "service_id": "S01", "consent": 1, "visit_date": "2025-03-04", "kids": -99,
     "help": [2], "topics": ["program_info", "safety_plan"], "comments": ""},
    {"case_id": "AB0002", "service_id": "S02", "consent": 0, "visit_date": "2025-02-10", "kids": None,
     "help": [], "topics": [], "comments": "line one\nline two"},
    {"case_id": "AB0003", "service_id": "S01", "consent": 1, "visit_date": "2025-02-11", "kids": 0,
     "help": [1, 2, 3], "topics": ["safety_plan"], "comments": "Zoë née Müller; 1,2"},
)
HELP = (1, 2, 3)
TOPICS = ("program_info", "safety_plan")
TYPED_PLATFORMS = ("spss", "stata", "excel", "parquet")
EXTENSIONS = {"redcap": "csv", "kobo": "csv", "odk": "csv", "qualtrics": "csv", "csv": "csv",
              "spss": "sav", "stata": "dta", "excel": "xlsx", "parquet": "parquet"}


@dataclass(frozen=True)
class Seed:
    """A valid export: its bytes, its records (text platforms), how it is written."""

    platform: str
    name: str
    data: bytes
    rows: int
    header_rows: int = 1
    records: tuple[tuple[str, ...], ...] = ()
    delimiter: str = ","
    encoding: str = "utf-8"


def _text(value) -> str:
    return "" if value is None else str(value)


def _redcap_records() -> list[list[str]]:
    header = ["record_id", "redcap_event_name", "redcap_repeat_instrument", "redcap_repeat_instance",
              "case_id", "service_id", "consent", "visit_date", "kids",
              *(f"help___{c}" for c in HELP), *(f"topics___{c}" for c in TOPICS), "comments",
              "fuzzform_complete"]
    events = ("baseline_arm_1", "exit_arm_1", "baseline_arm_1", "baseline_arm_1")
    rows = []
    for number, (answer, event) in enumerate(zip(ANSWERS, events, strict=True)):
        rows.append([str(1 + number // 2), event, "", "", answer["case_id"], answer["service_id"],
                     _text(answer["consent"]), answer["visit_date"], _text(answer["kids"]),
                     *("1" if c in answer["help"] else "0" for c in HELP),
                     *("1" if c in answer["topics"] else "0" for c in TOPICS),
                     answer["comments"], ("2", "2", "1", "0")[number]])
    return [header, *rows]


def _kobo_records() -> list[list[str]]:
    header = ["start", "end", "case/case_id", "case/service_id", "case/consent", "visit/visit_date",
              "visit/kids", "visit/help", *(f"visit/help/{c}" for c in HELP), "visit/topics",
              *(f"visit/topics/{c}" for c in TOPICS), "comments", "_id", "_uuid", "_submission_time",
              "_validation_status", "_notes", "_status", "_submitted_by", "__version__", "_tags",
              "_index"]
    rows = []
    for number, answer in enumerate(ANSWERS, start=1):
        day = answer["visit_date"]
        rows.append([f"{day}T10:00:00.000+11:00", f"{day}T10:20:00.000+11:00", answer["case_id"],
                     answer["service_id"], _text(answer["consent"]), day, _text(answer["kids"]),
                     " ".join(map(str, answer["help"])),
                     *("1" if c in answer["help"] else "0" for c in HELP), " ".join(answer["topics"]),
                     *("1" if c in answer["topics"] else "0" for c in TOPICS), answer["comments"],
                     str(100 + number), f"0b1c{number:04d}-uuid", f"{day}T00:21:00",
                     "", "", "submitted_via_web", "collector", "vAbc", "", str(number)])
    return [header, *rows]


def _odk_records() -> list[list[str]]:
    header = ["SubmissionDate", "case-case_id", "case-service_id", "case-consent", "visit-visit_date",
              "visit-kids", "visit-help", "visit-topics", "comments", "meta-instanceID", "KEY",
              "SubmitterID", "SubmitterName", "AttachmentsPresent", "AttachmentsExpected", "Status",
              "ReviewState", "DeviceID", "Edits", "FormVersion"]
    rows = []
    for number, answer in enumerate(ANSWERS, start=1):
        rows.append([f"{answer['visit_date']}T00:21:00.000Z", answer["case_id"], answer["service_id"],
                     _text(answer["consent"]), answer["visit_date"], _text(answer["kids"]),
                     " ".join(map(str, answer["help"])), " ".join(answer["topics"]), answer["comments"],
                     f"uuid:{number}", f"uuid:{number}", "5", "collector", "0", "0", "", "",
                     f"collect:{number}", "0", "1"])
    return [header, *rows]


def _qualtrics_records() -> list[list[str]]:
    meta = [("StartDate", "Start Date", {"ImportId": "startDate", "timeZone": "Australia/Sydney"}),
            ("EndDate", "End Date", {"ImportId": "endDate", "timeZone": "Australia/Sydney"}),
            ("Status", "Response Type", {"ImportId": "status"}),
            ("IPAddress", "IP Address", {"ImportId": "ipAddress"}),
            ("Progress", "Progress", {"ImportId": "progress"}),
            ("Duration (in seconds)", "Duration (in seconds)", {"ImportId": "duration"}),
            ("Finished", "Finished", {"ImportId": "finished"}),
            ("RecordedDate", "Recorded Date",
             {"ImportId": "recordedDate", "timeZone": "Australia/Sydney"}),
            ("ResponseId", "Response ID", {"ImportId": "_recordId"}),
            ("RecipientEmail", "Recipient Email", {"ImportId": "recipientEmail"}),
            ("LocationLatitude", "Location Latitude", {"ImportId": "locationLatitude"}),
            ("UserLanguage", "User Language", {"ImportId": "userLanguage"})]
    items = [("case_id", "Case number", "QID1_TEXT"), ("service_id", "Service", "QID2_TEXT"),
             ("consent", "Do you agree?", "QID3"), ("visit_date", "Date", "QID4_TEXT"),
             ("kids", "How many children?", "QID5_TEXT"),
             ("help", "Help received - Selected Choice", "QID6"),
             ("topics", "Topics", "QID7"), ("comments", "Anything else?", "QID8_TEXT")]
    header = [m[0] for m in meta] + [i[0] for i in items]
    texts = [m[1] for m in meta] + [i[1] for i in items]
    ids = [json.dumps(m[2], separators=(",", ":")) for m in meta] + \
          [json.dumps({"ImportId": i[2]}, separators=(",", ":")) for i in items]
    rows = []
    for number, answer in enumerate(ANSWERS, start=1):
        when = f"{answer['visit_date']} 10:00:00"
        rows.append([when, when, "8" if number == 3 else "0", "203.0.113.9", "100", "600",
                     "1" if number != 4 else "0", when, f"R_{number:03d}xyz", "", "-33.8", "EN",
                     answer["case_id"], answer["service_id"], _text(answer["consent"]),
                     answer["visit_date"], _text(answer["kids"]), ",".join(map(str, answer["help"])),
                     ",".join(answer["topics"]), answer["comments"]])
    return [header, texts, ids, *rows]


def _plain_records() -> list[list[str]]:
    header = ["case_id", "service_id", "consent", "visit_date", "kids",
              *(f"help__{c}" for c in HELP), "topics", "comments", "_wave"]
    rows = [[a["case_id"], a["service_id"], _text(a["consent"]), a["visit_date"], _text(a["kids"]),
             *("1" if c in a["help"] else "0" for c in HELP), ";".join(a["topics"]), a["comments"],
             ("baseline", "exit", "baseline", "baseline")[n]]
            for n, a in enumerate(ANSWERS)]
    return [header, *rows]


def write_records(records, *, delimiter: str = ",", encoding: str = "utf-8",
                  terminator: str = "\r\n", quoting: int = csv.QUOTE_MINIMAL) -> bytes:
    """Delimited text as a platform writes it (Python's csv module: every record a line)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator=terminator, quoting=quoting)
    writer.writerows(records)
    return buffer.getvalue().encode(encoding, errors="replace")


def typed_frame() -> pd.DataFrame:
    """The seed answers as a typed frame (numbers as floats, the date as a date)."""
    return pd.DataFrame({
        "case_id": [a["case_id"] for a in ANSWERS],
        "service_id": [a["service_id"] for a in ANSWERS],
        "consent": [float(a["consent"]) for a in ANSWERS],
        "visit_date": [dt.date.fromisoformat(a["visit_date"]) for a in ANSWERS],
        "kids": [float("nan") if a["kids"] is None else float(a["kids"]) for a in ANSWERS],
        **{f"help__{c}": [1.0 if c in a["help"] else 0.0 for a in ANSWERS] for c in HELP},
        "topics": [" ".join(a["topics"]) for a in ANSWERS],
        "comments": [a["comments"] for a in ANSWERS],
    })


def write_typed(frame: pd.DataFrame, path: Path, platform: str) -> None:
    """Write a frame as the typed platform's file (SPSS, Stata, Excel or Parquet)."""
    if platform == "spss":
        labels = ({"consent": {1.0: "Yes", 0.0: "No", -99.0: "Prefer not to say"}}
                  if "consent" in frame else None)
        missing = ({"kids": [-99.0, -98.0]}
                   if "kids" in frame and frame["kids"].dtype.kind == "f" else None)
        pyreadstat.write_sav(frame, path, variable_value_labels=labels, missing_ranges=missing)
    elif platform == "stata":
        pyreadstat.write_dta(frame, path)
    elif platform == "parquet":
        frame.to_parquet(path)
    else:
        workbook = openpyxl.Workbook()
        sheet = workbook.active
        sheet.title = "fuzzform"
        sheet.append([str(c) for c in frame.columns])
        for row in frame.itertuples(index=False):
            sheet.append([None if isinstance(v, float) and math.isnan(v) else v for v in row])
        workbook.save(path)


@pytest.fixture(scope="session")
def instrument_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("fuzz_instrument") / "fuzzform.yml"
    path.write_text(INSTRUMENT, encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def fuzzform(instrument_file):
    return load_instrument(instrument_file)


class Seeds:
    """The seed exports by platform.

    Not a dict of dataclasses: hypothesis pretty-prints a failing test's arguments when it
    replays the failure, and printing these (kilobytes of bytes each) made that replay differ
    from the first run, hiding the failure behind a FlakyStrategyDefinition.
    """

    def __init__(self, seeds: dict[str, Seed]) -> None:
        self._seeds = seeds

    def __getitem__(self, platform: str) -> Seed:
        return self._seeds[platform]

    def items(self):
        return self._seeds.items()

    def __repr__(self) -> str:
        return f"<seed exports: {', '.join(self._seeds)}>"


@pytest.fixture(scope="session")
def seeds(tmp_path_factory) -> Seeds:
    """A valid export of the instrument from every platform, keyed by platform."""
    out: dict[str, Seed] = {}
    text = {"redcap": (_redcap_records(), ",", "utf-8"), "kobo": (_kobo_records(), ";", "utf-8"),
            "odk": (_odk_records(), ",", "utf-8"),
            "qualtrics": (_qualtrics_records(), ",", "utf-8-sig"),
            "csv": (_plain_records(), ",", "utf-8")}
    for platform, (records, delimiter, encoding) in text.items():
        header_rows = 3 if platform == "qualtrics" else 1
        out[platform] = Seed(platform, f"export_{platform}.csv",
                             write_records(records, delimiter=delimiter, encoding=encoding),
                             rows=len(records) - header_rows, header_rows=header_rows,
                             records=tuple(tuple(r) for r in records), delimiter=delimiter,
                             encoding=encoding)
    folder = tmp_path_factory.mktemp("fuzz_seeds")
    for platform in TYPED_PLATFORMS:
        path = folder / f"export_{platform}.{EXTENSIONS[platform]}"
        write_typed(typed_frame(), path, platform)
        out[platform] = Seed(platform, path.name, path.read_bytes(), rows=len(ANSWERS), header_rows=0)
    return Seeds(out)


@dataclass(frozen=True)
class Typed:
    """The seed answers as a typed frame, and the writer of each typed format."""

    frame: Callable[[], pd.DataFrame]
    write: Callable[[pd.DataFrame, Path, str], None]


@pytest.fixture(scope="session")
def typed() -> Typed:
    return Typed(frame=typed_frame, write=write_typed)


@pytest.fixture(scope="session")
def new_folder(tmp_path_factory):
    """A fresh empty folder per generated input (function-scoped fixtures are shared by all the
    examples of a hypothesis test)."""
    base = tmp_path_factory.mktemp("fuzz_cases")
    numbers = iter(range(10**9))

    def _new() -> Path:
        path = base / f"case{next(numbers)}"
        path.mkdir()
        return path

    return _new


# Damage to any file ----------------------------------------------------------------------------

MAGIC = (b"$FL2", b"$FL3", b"<stata_dta>", b"PK\x03\x04", b"PAR1", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
         b"\xef\xbb\xbf", b"\xff\xfe", b"\x00\x00\xfe\xff")
JUNK_BYTES = (b"\x00", b"\x00\x00\x00\x00", b'"', b"\r", b"\n", b"\r\n\r\n", b",,,", b";", b"\t",
              b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\x80\x81\x8d\x8f\x90\x9d", b"\xc3",
              b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"PK\x03\x04", b"<?xml", b"\x1a")


@st.composite
def byte_damage(draw, raw: bytes):
    """Up to three byte-level edits of ``raw``; positions drawn as shares of its length."""
    edits = draw(st.integers(1, 3), label="byte edits")
    for _ in range(edits):
        at = int(draw(st.integers(0, 10_000), label="position per 10,000") * len(raw) / 10_000)
        kind = draw(st.sampled_from(["flip", "cut", "insert", "delete", "repeat", "lineends", "magic"]))
        if kind == "flip" and raw:
            at = min(at, len(raw) - 1)
            raw = raw[:at] + bytes([raw[at] ^ draw(st.integers(1, 255))]) + raw[at + 1:]
        elif kind == "cut":
            raw = raw[:at]
        elif kind == "insert":
            junk = draw(st.sampled_from(JUNK_BYTES) | st.binary(min_size=1, max_size=16))
            raw = raw[:at] + junk + raw[at:]
        elif kind == "delete":
            raw = raw[:at] + raw[at + draw(st.integers(1, 64)):]
        elif kind == "repeat":
            raw = raw[:at] + raw[at:at + draw(st.integers(1, 256))] * draw(st.integers(2, 4)) + raw[at:]
        elif kind == "lineends":
            raw = raw.replace(b"\r\n", draw(st.sampled_from([b"\n", b"\r", b"\n\r", b"\r\r\n"])))
        else:
            raw = draw(st.sampled_from(MAGIC)) + raw[at:]
    return raw


@st.composite
def zip_damage(draw, raw: bytes):
    """A workbook with one zip member cut, corrupted, dropped, duplicated or replaced."""
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        parts = [(info.filename, archive.read(info.filename)) for info in archive.infolist()]
    index = draw(st.integers(0, len(parts) - 1), label="member")
    name, body = parts[index]
    kind = draw(st.sampled_from(["cut", "flip", "drop", "junk", "entities", "duplicate", "empty",
                                 "rename"]))
    if kind == "cut":
        parts[index] = (name, body[: int(len(body) * draw(st.integers(0, 99)) / 100)])
    elif kind == "flip" and body:
        at = int(draw(st.integers(0, 9_999)) * len(body) / 10_000)
        parts[index] = (name, body[:at] + bytes([body[at] ^ draw(st.integers(1, 255))]) + body[at + 1:])
    elif kind == "drop":
        del parts[index]
    elif kind == "junk":
        parts[index] = (name, draw(st.sampled_from([b"<x>", b"\x00" * 9, "<t>é</t>".encode("utf-16"),
                                                     b"<?xml version='1.0'?><worksheet/>"])))
    elif kind == "entities":  # a DTD with an entity, as in billion-laughs attacks
        bomb = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
                b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>')
        parts[index] = (name, bomb + body.split(b"?>", 1)[-1].replace(b"<t>", b"<t>&lol2;", 1))
    elif kind == "duplicate":
        parts.append((name, body))
    elif kind == "empty":
        parts[index] = (name, b"")
    else:
        parts[index] = (name.upper(), body)
    buffer = io.BytesIO()
    # a duplicated member name warns; it is the point
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        for part_name, part_body in parts:
            archive.writestr(part_name, part_body)
    return buffer.getvalue()


class Damage:
    """The byte-level mutators, as strategies: ``bytes(raw)`` and ``zip(raw)`` (a workbook)."""

    bytes = staticmethod(byte_damage)
    zip = staticmethod(zip_damage)

    def __repr__(self) -> str:
        return "<damage strategies>"


@pytest.fixture(scope="session")
def damage() -> Damage:
    return Damage()


# The count of hostile inputs ----------------------------------------------------------------

class HostileCounter:
    """Hostile inputs generated in this session, by kind, and the known bugs they ran into."""

    def __init__(self) -> None:
        self.by_kind: Counter[str] = Counter()
        self.known: Counter[str] = Counter()

    def add(self, kind: str) -> None:
        self.by_kind[kind] += 1

    def hit_known_bug(self, name: str) -> None:
        self.known[name] += 1

    @property
    def total(self) -> int:
        return sum(self.by_kind.values())


_COUNTER = HostileCounter()
# what a session selected, deselected and saw pass of this folder's tests, so the count test
# knows whether the whole suite ran
_RUN: dict = {"selected": set(), "deselected": 0, "passed": set()}


@pytest.fixture(scope="session")
def hostile() -> HostileCounter:
    return _COUNTER


def _in_suite(item) -> bool:
    return Path(item.path).parent == Path(__file__).parent


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session, config, items):
    # the count test runs last, after every test that feeds the counter
    last = [item for item in items if item.name == COUNT_TEST and _in_suite(item)]
    items[:] = [item for item in items if item not in last] + last
    _RUN["selected"] = {item.nodeid for item in items if _in_suite(item)}


def pytest_deselected(items):
    _RUN["deselected"] += sum(1 for item in items if _in_suite(item))


def pytest_runtest_logreport(report):
    # an expected failure (xfail) is a pass of the suite
    if report.when == "call" and (report.passed or hasattr(report, "wasxfail")):
        _RUN["passed"].add(report.nodeid)


class FuzzSession:
    """What the count test needs to know of the session."""

    minimum = MINIMUM_INPUTS

    @staticmethod
    def ran_whole() -> tuple[bool, str]:
        """Whether every test of the suite was selected and passed (the count test aside),
        and if not, why."""
        others = {n for n in _RUN["selected"] if n.rsplit("::", 1)[-1] != COUNT_TEST}
        modules = {n.split("::")[0].rsplit("/", 1)[-1] for n in others}
        if _RUN["deselected"] or modules != {"test_fuzz_readers.py", "test_fuzz_instruments.py"}:
            return False, "only part of the fuzzing suite was selected"
        failed = others - _RUN["passed"]
        if failed:
            return False, f"{len(failed)} fuzzing test(s) did not pass"
        return True, ""

    @staticmethod
    def ci_profile() -> bool:
        """Whether the ``ci`` hypothesis profile is loaded (decided as in tests/conftest.py)."""
        return os.environ.get("HYPOTHESIS_PROFILE", "ci") == "ci"


@pytest.fixture(scope="session")
def fuzz_session() -> FuzzSession:
    return FuzzSession()


@pytest.fixture(scope="session")
def key_file(tmp_path_factory) -> Path:
    from pceval.privacy.pseudonym import write_key_file

    return write_key_file(tmp_path_factory.mktemp("fuzz_key") / "pseudonym.key")


def pytest_terminal_summary(terminalreporter):
    if not _COUNTER.total:
        return
    kinds = ", ".join(f"{kind} {count}" for kind, count in sorted(_COUNTER.by_kind.items()))
    terminalreporter.write_line(f"fuzzing: {_COUNTER.total} hostile inputs ({kinds})")
    if _COUNTER.known:
        known = ", ".join(f"{name} {count}" for name, count in sorted(_COUNTER.known.items()))
        terminalreporter.write_line(f"fuzzing: known bugs hit (see the xfail tests): {known}")
