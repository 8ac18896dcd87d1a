"""Spreadsheet-safe CSV: no cell can become a formula; numbers and text round-trip."""

from __future__ import annotations

import csv
import io

import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from pceval.outputs import FORMULA_CHARACTERS, neutralise_cell, restore_cell, write_csv_safe

texts = st.one_of(
    st.none(),
    st.text(max_size=12),
    st.builds(lambda c, t: c + t, st.sampled_from(list(FORMULA_CHARACTERS) + ["'", "''"]),
              st.text(max_size=8)),
)


def _read(path) -> list[list[str]]:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))


@given(st.lists(st.tuples(texts, st.integers(-10**12, 10**12) | st.none(),
                          st.floats(allow_nan=False, allow_infinity=False) | st.none()),
                min_size=1, max_size=15))
def test_no_cell_starts_a_formula_and_values_round_trip(tmp_path_factory, rows):
    frame = pd.DataFrame({
        "text": pd.array([r[0] for r in rows], dtype="string"),
        "n": pd.array([r[1] for r in rows], dtype="Int64"),
        "x": pd.array([r[2] for r in rows], dtype="Float64"),
    })
    path = tmp_path_factory.mktemp("csv") / "t.csv"
    write_csv_safe(path, frame)
    header, *body = _read(path)
    assert header == ["text", "n", "x"] and len(body) == len(rows)
    for (text, n, x), (cell, n_cell, x_cell) in zip(rows, body, strict=True):
        assert cell == "" or cell[0] not in FORMULA_CHARACTERS
        assert restore_cell(cell) == (text or "")
        assert n_cell == ("" if n is None else str(n))  # numbers are never quoted
        assert (x_cell == "") if x is None else float(x_cell) == x


def test_excel_bytes_dates_and_numbers(tmp_path):
    frame = pd.DataFrame({
        "code": pd.array([-99, 3], dtype="Int64"),
        "when": pd.to_datetime(["2025-01-05", None]).astype("datetime64[ms]"),
        "at": pd.to_datetime(["2025-01-05 10:30:00", "2025-01-06 00:00:00"]),
        "text": pd.array(["@SUM(A1)", "line\rbreak"], dtype="string"),
        "flag": [True, False],
    })
    path = write_csv_safe(tmp_path / "a.csv", frame, dates=["when"])
    assert _read(path) == [["code", "when", "at", "text", "flag"],
                           ["-99", "2025-01-05", "2025-01-05T10:30:00", "'@SUM(A1)", "true"],
                           ["3", "", "2025-01-06T00:00:00", "line\rbreak", "false"]]
    first = path.read_bytes()
    write_csv_safe(path, frame, dates=["when"])
    assert path.read_bytes() == first
    # without `dates`, a datetime column all at midnight is written as dates
    write_csv_safe(tmp_path / "b.csv", frame[["when"]])
    assert _read(tmp_path / "b.csv")[1] == ["2025-01-05"]


def test_neutralising_is_reversible():
    for text in ["=1+1", "+61", "-", "@x", "\tx", "\rx", "'=1", "''+2", "'a", "", "plain", "a=b"]:
        assert restore_cell(neutralise_cell(text)) == text
        safe = neutralise_cell(text)
        assert safe[:1] not in FORMULA_CHARACTERS
    assert neutralise_cell("a=b") == "a=b" and neutralise_cell("'a") == "'a"


def test_fast_writer_gives_the_bytes_of_pythons_csv_module(tmp_path, monkeypatch):
    # the Arrow path must write what pandas (Python's csv module, QUOTE_MINIMAL) writes, chunk
    # boundaries included
    import random

    import numpy as np

    from pceval.outputs import csvsafe

    rng = random.Random(7)
    alphabet = "ab ,\"\r\n'=+-@\t;é’\ue000"

    def text():
        return None if rng.random() < 0.2 else "".join(
            rng.choice(alphabet) for _ in range(rng.randint(0, 6)))

    for trial in range(60):
        n = rng.randint(0, 12)
        monkeypatch.setattr(csvsafe, "_CHUNK_ROWS", rng.choice([1, 3, 65_536]))
        frame = pd.DataFrame({
            "t": pd.array([text() for _ in range(n)], dtype="string"),
            "=o": pd.Series([text() for _ in range(n)], dtype=object),
            "c": pd.Categorical([text() for _ in range(n)]),
            "i": pd.array([rng.choice([None, -99, 10**12]) for _ in range(n)], dtype="Int64"),
            "f": pd.array([rng.choice([None, 1.5, -95.0, 1e20, 1e-7]) for _ in range(n)],
                          dtype="Float64"),
            "nf": np.array([rng.choice([np.nan, 2.0, 1 / 3]) for _ in range(n)]),
            "b": pd.array([rng.choice([None, True, False]) for _ in range(n)], dtype="boolean"),
            "d": pd.Series(np.array([rng.choice(["NaT", "1969-12-31T23:59:59", "2024-02-29"])
                                     for _ in range(n)], dtype="datetime64[s]")),
        })
        columns = rng.sample(list(frame.columns), rng.randint(1, len(frame.columns)))
        dates = rng.choice([None, ["d"], []])
        fast = csvsafe.write_csv_safe(tmp_path / "fast.csv", frame[columns], dates=dates)
        slow = csvsafe._write_csv_pandas(tmp_path / "slow.csv", frame[columns], dates=dates)
        assert fast.read_bytes() == slow.read_bytes(), (trial, columns, dates)


def test_columns_read_from_parquet_in_several_row_groups(tmp_path):
    # a frame read back from Parquet holds each text column as one Arrow chunk per row group
    import pyarrow as pa
    import pyarrow.parquet as pq

    from pceval.outputs import csvsafe

    table = pa.table({"t": ["a", "=b", None, "c,d", "e"], "n": pa.array([1, None, 3, 4, 5], pa.int64())})
    pq.write_table(table, tmp_path / "x.parquet", row_group_size=2)
    frame = pd.read_parquet(tmp_path / "x.parquet", dtype_backend="pyarrow")
    assert pa.array(frame["t"], from_pandas=True).num_chunks == 3
    fast = csvsafe.write_csv_safe(tmp_path / "fast.csv", frame)
    slow = csvsafe._write_csv_pandas(tmp_path / "slow.csv", frame)
    assert fast.read_bytes() == slow.read_bytes() == (
        b"\xef\xbb\xbft,n\r\na,1\r\n'=b,\r\n,3\r\n\"c,d\",4\r\ne,5\r\n")
