"""Parquet files written by a second thread: the same bytes, a snapshot of the frame, errors
raised whole when the block is left, and nothing left running after it."""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd
import pytest

from pceval.io import BackgroundWriter, write_parquet


def _frame(n: int = 50_000) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    return pd.DataFrame({
        "_row": np.arange(2, n + 2),
        "name": pd.array([f"text {i}" if i % 7 else None for i in range(n)], dtype="string"),
        "score": pd.array(rng.integers(0, 5, n), dtype="Int8"),
        "when": pd.date_range("2024-01-01", periods=n, freq="min", tz="Australia/Sydney"),
    })


def test_files_have_the_bytes_write_parquet_gives(tmp_path):
    frame = _frame()
    frame.attrs = {"instrument": "contact_record"}
    with BackgroundWriter() as writer:
        writer.parquet(tmp_path / "background.parquet", frame)
        writer.parquet(tmp_path / "nested" / "second.parquet", frame.iloc[:10])
    write_parquet(tmp_path / "direct.parquet", frame)
    assert (tmp_path / "background.parquet").read_bytes() == (tmp_path / "direct.parquet").read_bytes()
    # and the bytes pandas' own writer gives
    frame.to_parquet(tmp_path / "pandas.parquet", index=False, compression="zstd")
    assert (tmp_path / "direct.parquet").read_bytes() == (tmp_path / "pandas.parquet").read_bytes()
    assert pd.read_parquet(tmp_path / "nested" / "second.parquet")["_row"].tolist() == list(range(2, 12))


def test_the_file_holds_the_frame_as_it_was_when_queued(tmp_path):
    frame = _frame()
    with BackgroundWriter() as writer:
        # the thread is busy with a larger file, so the frame is still queued when it changes
        writer.parquet(tmp_path / "large.parquet", _frame(400_000))
        writer.parquet(tmp_path / "a.parquet", frame)
        frame["name"] = "changed"
        del frame["score"]
    back = pd.read_parquet(tmp_path / "a.parquet")
    assert list(back.columns) == ["_row", "name", "score", "when"]
    assert back["name"].iloc[1] == "text 1" and back["name"].isna().sum() == len(back) // 7 + 1


def test_a_failed_write_is_raised_when_the_block_is_left_and_leaves_no_file(tmp_path):
    (tmp_path / "taken").mkdir()  # a folder where the file should go: the rename fails
    (tmp_path / "taken" / "keep").write_text("x")
    with pytest.raises(OSError), BackgroundWriter() as writer:
        writer.parquet(tmp_path / "taken", _frame(100))
        writer.parquet(tmp_path / "fine.parquet", _frame(100))
    assert (tmp_path / "taken" / "keep").read_text() == "x"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fine.parquet", "taken"]


def test_an_error_in_the_block_waits_for_the_writes_and_is_the_one_raised(tmp_path):
    with pytest.raises(KeyError, match="the caller's"), BackgroundWriter() as writer:
        writer.parquet(tmp_path / "a.parquet", _frame())
        raise KeyError("the caller's")
    # the queued file was finished, not abandoned half-written
    assert len(pd.read_parquet(tmp_path / "a.parquet")) == 50_000
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_no_writer_thread_outlives_the_block(tmp_path):
    with BackgroundWriter() as writer:
        writer.parquet(tmp_path / "a.parquet", _frame())
    assert not [t for t in threading.enumerate() if t.name.startswith("pceval-parquet")]
