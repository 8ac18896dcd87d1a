"""The build's memory habits: the cut of the typed frame lets each column go as it is taken,
Arrow allocates from jemalloc during a build and the caller's allocator comes back after."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from pceval.clean import _keep_rows
from pceval.memory import returning_allocator


def _typed(n: int = 1_000) -> pd.DataFrame:
    return pd.DataFrame({
        "_row": np.arange(2, n + 2, dtype=np.int64),
        "service_id": pd.array([f"S{i % 7:02d}" if i % 5 else None for i in range(n)], dtype="string"),
        "score": pd.array([i % 4 if i % 3 else None for i in range(n)], dtype="Int8"),
        "when": pd.date_range("2024-01-01", periods=n, freq="h"),
    }, index=pd.RangeIndex(n))


def test_keep_rows_gives_the_rows_loc_gives_and_empties_the_frame():
    frame = _typed()
    expected = frame.loc[frame["_row"] % 3 != 0].copy()
    keep = frame["_row"] % 3 != 0
    out = _keep_rows(frame, keep)
    pd.testing.assert_frame_equal(out, expected)
    assert list(out.index[:3]) == [0, 2, 3]  # the kept rows keep their labels
    assert frame.columns.empty  # every column was taken out as it was cut


def test_keep_rows_keeping_everything_is_the_frame_itself():
    frame = _typed(10)
    assert _keep_rows(frame, pd.Series(True, index=frame.index)) is frame
    assert len(frame.columns) == 4


def test_keep_rows_keeping_nothing_keeps_the_columns_and_their_types():
    frame = _typed(10)
    dtypes = frame.dtypes.copy()
    out = _keep_rows(frame, pd.Series(False, index=frame.index))
    assert out.empty and list(out.columns) == list(dtypes.index)
    pd.testing.assert_series_equal(out.dtypes, dtypes)


def _jemalloc_available() -> bool:
    try:
        pa.jemalloc_memory_pool()
    except (NotImplementedError, pa.ArrowNotImplementedError):
        return False
    return True


@pytest.mark.skipif(not _jemalloc_available(), reason="this pyarrow was built without jemalloc")
def test_arrow_allocates_from_jemalloc_inside_and_from_the_callers_pool_after(monkeypatch):
    monkeypatch.delenv("ARROW_DEFAULT_MEMORY_POOL", raising=False)
    before = pa.default_memory_pool().backend_name
    with returning_allocator() as name:
        assert name == "jemalloc" == pa.default_memory_pool().backend_name
        inside = pa.array(["a", "b"] * 1000)
    assert pa.default_memory_pool().backend_name == before
    assert inside.to_pylist()[:2] == ["a", "b"]  # a buffer of the block outlives it
    del inside


def test_the_allocator_the_user_chose_is_kept(monkeypatch):
    monkeypatch.setenv("ARROW_DEFAULT_MEMORY_POOL", "system")
    before = pa.default_memory_pool().backend_name
    with returning_allocator() as name:
        assert name == before == pa.default_memory_pool().backend_name


def test_the_allocator_comes_back_when_the_block_raises(monkeypatch):
    monkeypatch.delenv("ARROW_DEFAULT_MEMORY_POOL", raising=False)
    before = pa.default_memory_pool().backend_name
    with pytest.raises(RuntimeError), returning_allocator():
        raise RuntimeError("stopped")
    assert pa.default_memory_pool().backend_name == before
