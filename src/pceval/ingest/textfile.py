"""Delimited text exports: bytes → decoded text → header records and a grid of text cells.

The steps, each deterministic:

1. **encoding**: a byte-order mark decides (UTF-8, UTF-16, UTF-32); without one the bytes are
   checked as strict UTF-8, then decoded as Windows-1252 (what Excel writes on Windows); a file
   that is neither is refused. Whatever the source encoding, the parser sees UTF-8 bytes
   (UTF-16 and Windows-1252 are transcoded by Python's codecs, which pyarrow cannot read).
2. **delimiter**: the one of ``,`` ``;`` tab ``|`` that occurs most often outside quotes in the
   header line (ties broken by the second line, then in that order), unless given.
3. **header records** (one, or three for Qualtrics) are parsed by Python's :mod:`csv` module.
4. **data records** are parsed by :func:`pyarrow.csv.read_csv` with every column typed as
   text, so codes such as ``007`` and ``-99`` survive exactly and nothing is guessed.

Row numbers are *spreadsheet rows*: the number of the row a user sees when the file is opened
in a spreadsheet (a record whose quoted text spans three lines is still one row; a blank line
is a row of blank cells). They are counted from the records, never from physical lines.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from pceval.errors import DataError

DELIMITERS = (",", ";", "\t", "|")
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
_QUOTE = 0x22
_CR = 0x0D
_LF = 0x0A
_SPECIAL = re.compile(rb'["\r\n]')
# the parser reads blocks of this size in parallel; larger blocks cut the per-block overhead
# of newlines_in_values without hurting small files
_BLOCK_SIZE = 4 << 20

_BOMS = (  # longest first: the UTF-32 LE mark starts with the UTF-16 LE one
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def delimiter_name(delimiter: str) -> str:
    """A delimiter as a user would name it (``'tab'`` rather than ``'\\t'``)."""
    return _DELIMITER_NAMES.get(delimiter, repr(delimiter))


@dataclass(frozen=True)
class TextGrid:
    """The records of a delimited file after its header records.

    Attributes
    ----------
    header : tuple of tuple of str
        The header records (one for most exports, three for Qualtrics), cells as written
        (header names are stripped of surrounding whitespace).
    table : pyarrow.Table
        One text column per header column (named ``f0``, ``f1``, ...), one row per data
        record in file order; cells as written, empty cells null.
    rows : numpy.ndarray
        The spreadsheet row (1-based) of each data record.
    """

    header: tuple[tuple[str, ...], ...]
    table: pa.Table
    rows: np.ndarray

    @property
    def names(self) -> tuple[str, ...]:
        return self.header[0]


@dataclass(frozen=True)
class TextFile:
    """A delimited export decoded to UTF-8 bytes, with its encoding and delimiter decided.

    Use :func:`open_text` to make one.
    """

    file: str
    data: bytes = field(repr=False)
    start: int
    leading_lines: int
    encoding: str
    delimiter: str

    def head(self, count: int) -> list[list[str]]:
        """The first ``count`` records (fewer if the file is shorter), parsed."""
        end = _skip_records(self.data, self.start, count, self.delimiter.encode())
        return self._parse(self.start, end)[:count]

    def read_grid(self, header_rows: int = 1) -> TextGrid:
        """Parse the header records and every data record.

        Raises
        ------
        DataError
            If the file has fewer header records than ``header_rows``, a duplicated column
            name, or a record with more or fewer fields than the header.
        """
        delim = self.delimiter.encode()
        data_start = _skip_records(self.data, self.start, header_rows, delim)
        header = self._parse(self.start, data_start)
        if len(header) < header_rows:
            raise DataError(f"the file has {len(header)} header row(s) where {header_rows} are expected",
                            file=self.file, fix="export the file again with its header rows")
        names = tuple(cell.strip() for cell in header[0])
        _check_names(names, self.file)
        header = [names, *(tuple(r) for r in header[1:header_rows])]
        for number, record in enumerate(header[1:], start=2):
            if len(record) != len(names):
                raise DataError(f"header row {number} has {len(record)} fields but row 1 has {len(names)}",
                                file=self.file, row=self.leading_lines + number,
                                fix="export the file again without editing its header rows")
        first_row = self.leading_lines + header_rows + 1
        table, rows = self._read_table(data_start, len(names), first_row)
        return TextGrid(header=tuple(header), table=table, rows=rows)

    def release(self) -> None:
        """Let the file's text go once its records are parsed: the parsed table holds its own
        copy, and a national export's text is gigabytes. Only the file's name, encoding and
        delimiter remain; reading it again needs :func:`open_text`."""
        object.__setattr__(self, "data", b"")  # frozen for callers, not for its own memory

    # internals ---------------------------------------------------------------------------

    def _text(self, begin: int, end: int) -> str:
        return self.data[begin:end].decode("utf-8")

    def _parse(self, begin: int, end: int) -> list[list[str]]:
        reader = csv.reader(io.StringIO(self._text(begin, end), newline=""), delimiter=self.delimiter)
        try:
            with _no_field_limit():
                return [record for record in reader if record]
        except csv.Error as exc:
            raise DataError(f"the header cannot be parsed ({exc})", file=self.file,
                            fix="check the file is a delimited text export") from None

    def _read_table(self, data_start: int, width: int, first_row: int) -> tuple[pa.Table, np.ndarray]:
        names = [f"f{i}" for i in range(width)]
        end = _content_end(self.data)
        if data_start >= end:
            return pa.table({n: pa.array([], pa.string()) for n in names}), np.zeros(0, np.int64)
        buffer = pa.py_buffer(self.data).slice(data_start, end - data_start)
        # without a quote in the data no value can span lines, and the parser is faster then
        quoted = self.data.find(b'"', data_start) >= 0
        try:
            table = self._parse_data(buffer, names, quoted=quoted)
        except pa.ArrowInvalid as exc:
            self._raise_ragged(data_start, width, first_row)
            raise DataError(f"the file cannot be parsed: {str(exc).splitlines()[0]}", file=self.file,
                            fix=f"check the delimiter (read as {delimiter_name(self.delimiter)}) "
                                "and that quoted values are closed") from None
        return table, np.arange(first_row, first_row + table.num_rows, dtype=np.int64)

    def _parse_data(self, buffer: pa.Buffer, names: list[str], *, quoted: bool) -> pa.Table:
        read = pacsv.ReadOptions(column_names=names, block_size=_BLOCK_SIZE)
        parse = pacsv.ParseOptions(delimiter=self.delimiter, quote_char='"', double_quote=True,
                                   escape_char=False, newlines_in_values=quoted,
                                   # a blank line is a row of blank cells, as in a spreadsheet,
                                   # so every later row keeps its spreadsheet number
                                   ignore_empty_lines=False)
        convert = pacsv.ConvertOptions(
            column_types={n: pa.string() for n in names},
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
            check_utf8=False,  # the whole file was checked (or transcoded) when it was opened
        )
        return pacsv.read_csv(pa.BufferReader(buffer), read_options=read, parse_options=parse,
                              convert_options=convert)

    def _records(self, data_start: int):
        """(spreadsheet row offset, record) for each record, blank lines included as []."""
        reader = csv.reader(io.StringIO(self._text(data_start, len(self.data)), newline=""),
                            delimiter=self.delimiter)
        try:
            with _no_field_limit():
                yield from enumerate(reader)
        except csv.Error as exc:
            raise DataError(f"the file cannot be parsed ({exc})", file=self.file,
                            fix="check that quoted values are closed") from None

    def _raise_ragged(self, data_start: int, width: int, first_row: int) -> None:
        """Raise the DataError of the first record with the wrong number of fields, if any.

        The slow path, taken only after the fast parser failed: Python's csv module finds the
        exact record and its spreadsheet row.
        """
        for index, record in self._records(data_start):
            if record and len(record) != width:
                more = len(record) > width
                raise DataError(
                    f"this row has {_fields(len(record))} but the header has {_fields(width)}",
                    file=self.file, row=first_row + index,
                    fix=(f"a value holding the delimiter ({delimiter_name(self.delimiter)}) must be "
                         "quoted; export the file again or check the delimiter"
                         if more else
                         "fill in the missing fields (a blank cell still needs its delimiter) "
                         "or export the file again"),
                )


@contextlib.contextmanager
def _no_field_limit() -> Iterator[None]:
    """Let Python's csv module read a value of any size while parsing (its default limit,
    128 KiB, refuses a long free-text answer or a pasted document), then restore the limit.

    The limit is process-wide; it is raised only for the duration of a parse.
    """
    previous = csv.field_size_limit(sys.maxsize)
    try:
        yield
    finally:
        csv.field_size_limit(previous)


def _fields(count: int) -> str:
    return f"{count} field" + ("" if count == 1 else "s")


def open_text(path: str | Path, *, encoding: str | None = None, delimiter: str | None = None) -> TextFile:
    """Read a delimited export and decide its encoding and delimiter.

    Parameters
    ----------
    path : str or Path
        The export. Its text is held in memory as UTF-8.
    encoding : str, optional
        Force an encoding (any Python codec name); by default decided as the module says.
    delimiter : str, optional
        Force a one-character delimiter; by default sniffed from the header line.

    Raises
    ------
    DataError
        If the file is missing, empty, or its bytes cannot be decoded.
    """
    file = str(path)
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise DataError("file not found", file=file, fix="check the path") from None
    except OSError as exc:
        raise DataError(f"the file cannot be read ({exc.strerror})", file=file) from None
    except ValueError as exc:  # a path holding a NUL character
        raise DataError(f"the path cannot be opened ({exc})", file=file.replace("\0", "\\0"),
                        fix="check the path") from None
    data, used = decode(raw, file=file, encoding=encoding)
    start, leading = _skip_blank_lines(data, 0)
    if start >= _content_end(data):
        raise DataError("the file is empty", file=file, fix="export the data again")
    if delimiter is None:
        delimiter = sniff_delimiter(data, start)
    elif len(delimiter) != 1 or not delimiter.isascii() or delimiter in "\"\r\n":
        raise DataError(f"delimiter {delimiter!r} cannot be used", file=file,
                        fix="give one character such as ',' ';' '\\t' or '|'")
    return TextFile(file=file, data=data, start=start, leading_lines=leading,
                    encoding=used, delimiter=delimiter)


def decode(raw: bytes, *, file: str, encoding: str | None = None) -> tuple[bytes, str]:
    """UTF-8 bytes of ``raw`` (without a byte-order mark) and the encoding they were read as.

    Examples
    --------
    >>> decode("Zoë".encode("cp1252"), file="a.csv")
    (b'Zo\\xc3\\xab', 'cp1252')
    >>> decode(codecs.BOM_UTF8 + b"id", file="a.csv")
    (b'id', 'utf-8-sig')
    """
    if encoding is not None:
        try:
            info = codecs.lookup(encoding)
            # codecs such as base64 and rot13 exist but are no text encodings (str.decode
            # refuses them by this flag)
            if not getattr(info, "_is_text_encoding", True):
                raise LookupError(encoding)
            name = info.name
        except LookupError:
            raise DataError(f"unknown text encoding {encoding!r}", file=file,
                            fix="use a name such as utf-8, utf-16 or cp1252") from None
        if name in ("utf-8", "utf-8-sig"):
            body = raw[3:] if raw.startswith(codecs.BOM_UTF8) else raw
            if _valid_utf8(body):
                return body, name
        return _transcode(raw, name, file, forced=True), name
    for bom, name in _BOMS:
        if raw.startswith(bom):
            if name == "utf-8-sig":
                body = raw[len(bom):]
                if _valid_utf8(body):
                    return body, name
            return _transcode(raw, name, file, forced=False), name
    guess = _bomless_utf16(raw)
    if guess:
        return _transcode(raw, guess, file, forced=False), guess
    if _valid_utf8(raw):
        return raw, "utf-8"
    return _transcode(raw, "cp1252", file, forced=False), "cp1252"


def sniff_delimiter(data: bytes, start: int = 0) -> str:
    """The delimiter among ``, ; \\t |`` occurring most often outside quotes in the header.

    Examples
    --------
    >>> sniff_delimiter(b'a;"b,c";d\\n1;2;3\\n')
    ';'
    >>> sniff_delimiter(b'id\\n1\\n')
    ','
    """
    first = _skip_records(data, start, 1, None)
    counts = _count_outside_quotes(data[start:first])
    best = max(counts.values())
    if best == 0:
        return ","
    tied = [d for d in DELIMITERS if counts[d] == best]
    if len(tied) > 1:  # the second record should have as many fields as the header
        second = _count_outside_quotes(data[first:_skip_records(data, first, 1, None)])
        agreeing = [d for d in tied if second[d] == best]
        tied = agreeing or tied
    return tied[0]


# helpers ------------------------------------------------------------------------------------

def _count_outside_quotes(line: bytes) -> dict[str, int]:
    outside = b"".join(line.split(b'"')[::2])  # drop every quoted stretch
    return {d: outside.count(d.encode()) for d in DELIMITERS}


def _skip_records(data: bytes, pos: int, count: int, delim: bytes | None) -> int:
    """Offset just after ``count`` records starting at ``pos``, respecting quoted values.

    A quote opens a quoted value only at the start of a field (``delim`` known) or anywhere
    (``delim`` None, as when sniffing); inside, ``""`` is a literal quote.
    """
    n = len(data)
    for _ in range(count):
        pos, _ = _skip_blank_lines(data, pos)
        record_start = pos
        while True:
            match = _SPECIAL.search(data, pos)
            if match is None:
                return n
            at = match.start()
            char = data[at]
            if char == _QUOTE:
                if delim is None or at == record_start or data[at - 1:at] == delim:
                    close = at + 1
                    while True:
                        close = data.find(b'"', close)
                        if close < 0:
                            return n  # an unclosed quote runs to the end of the file
                        if data[close + 1:close + 2] == b'"':
                            close += 2
                            continue
                        break
                    pos = close + 1
                else:
                    pos = at + 1
                continue
            pos = at + 1
            if char == _CR and data[pos:pos + 1] == b"\n":
                pos += 1
            break
    return pos


def _skip_blank_lines(data: bytes, pos: int) -> tuple[int, int]:
    """Offset of the first non-blank line at or after ``pos``, and how many lines were skipped."""
    lines = 0
    n = len(data)
    while pos < n and data[pos] in (_CR, _LF):
        if data[pos] == _CR and data[pos + 1:pos + 2] == b"\n":
            pos += 1
        pos += 1
        lines += 1
    return pos, lines


def _content_end(data: bytes) -> int:
    """Offset after the last byte that is not a line break (trailing blank lines are no rows)."""
    end = len(data)
    while end and data[end - 1] in (_CR, _LF):
        end -= 1
    return end


def _valid_utf8(data: bytes) -> bool:
    # pyarrow's SIMD validator: about 100 times faster than bytes.decode on large files, and
    # it makes no copy
    offsets = pa.py_buffer(np.array([0, len(data)], dtype=np.int64))
    array = pa.Array.from_buffers(pa.large_string(), 1, [None, offsets, pa.py_buffer(data)])
    try:
        array.validate(full=True)
    except pa.ArrowInvalid:
        return False
    return True


def _bomless_utf16(raw: bytes) -> str | None:
    """``'utf-16-le'``/``'utf-16-be'`` when a sample's zero bytes say so; text has no NULs."""
    sample = raw[:4096]
    if len(sample) < 4 or b"\x00" not in sample:
        return None
    even = sample[0::2].count(0)
    odd = sample[1::2].count(0)
    half = len(sample) // 2
    if odd > 0.3 * half and even < 0.05 * half:
        return "utf-16-le"
    if even > 0.3 * half and odd < 0.05 * half:
        return "utf-16-be"
    return None


def _transcode(raw: bytes, encoding: str, file: str, *, forced: bool) -> bytes:
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        where = f"byte {raw[exc.start:exc.start + 1].hex()} at offset {exc.start}"
        if encoding.startswith(("utf-16", "utf-32")):
            what = f"is not valid {encoding.upper()}"
        else:
            line = raw.count(b"\n", 0, exc.start) + 1
            where += f" (line {line})"
            what = (f"is not valid {encoding}" if forced
                    else "is neither UTF-8 nor Windows-1252 text")
        raise DataError(
            f"{where} {what}", file=file,
            fix="save the file as UTF-8, or give its encoding (sources: encoding: in pceval.yml)",
        ) from None
    except UnicodeError:  # codecs such as punycode fail without saying where
        raise DataError(f"the file cannot be decoded as {encoding}", file=file,
                        fix="save the file as UTF-8, or give its encoding") from None
    try:
        return text.removeprefix("\ufeff").encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate, which utf-7 or unicode_escape can decode to
        raise DataError(f"read as {encoding}, the file holds a lone surrogate at character "
                        f"{exc.start}, which is not text", file=file,
                        fix="save the file as UTF-8, or give its encoding") from None


def _check_names(names: tuple[str, ...], file: str) -> None:
    if not any(names):
        raise DataError("the file has no header row (the first row is blank)", file=file, row=1,
                        fix="export the file with its column headers")
    seen: set[str] = set()
    for name in names:
        if name and name in seen:
            raise DataError("this column name occurs more than once in the header", file=file,
                            row=1, field=name,
                            fix="rename or remove the duplicate column and export again")
        seen.add(name)


def clean_text(column: pa.ChunkedArray | pa.Array, *, empty_is_null: bool = False
               ) -> pa.ChunkedArray | pa.Array:
    """Cells stripped of surrounding whitespace, blank cells null.

    ``empty_is_null`` says the column holds no empty string already (as the grid's columns:
    the parser reads empty cells as null), which saves a pass over the column.

    Examples
    --------
    >>> clean_text(pa.array([" 007 ", "", "  ", None, "-99"])).to_pylist()
    ['007', None, None, None, '-99']
    """
    trimmed = pc.utf8_trim_whitespace(column)
    if _text_bytes(trimmed) == _text_bytes(column) and (empty_is_null or not _has_empty(column)):
        return column  # nothing to trim and no blank cell: the common case, no new array
    return pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, pa.string()), trimmed)


def _has_empty(column: pa.ChunkedArray | pa.Array) -> bool:
    return bool(pc.any(pc.equal(column, "")).as_py())


def _text_bytes(column: pa.ChunkedArray | pa.Array) -> int:
    """Total bytes of text in a string column, read from its offsets (no scan of the text)."""
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    total = 0
    for chunk in chunks:
        if len(chunk) == 0:
            continue
        width = np.int64 if pa.types.is_large_string(chunk.type) else np.int32
        offsets = np.frombuffer(chunk.buffers()[1], dtype=width)
        total += int(offsets[chunk.offset + len(chunk)] - offsets[chunk.offset])
    return total
