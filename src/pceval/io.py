"""Atomic, deterministic file writing.

Every output pceval writes goes through these helpers: the content is written to a temporary
file in the destination folder and renamed over the target, so an interrupted run leaves the
previous output intact. Parquet and CSV are written without timestamps or other run-dependent
metadata so the same input gives byte-identical files.

One file at a time is not enough where files belong together (a build's tables and the
manifest that records their hashes): :func:`replace_directory` puts a whole folder, written
beside the one it replaces, in place in one step, and :func:`recover_directory` tidies up
after a run that was stopped part way.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import hashlib
import io
import json
import os
import re
import shutil
import sys
import tempfile
import warnings
import zipfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd


# the creation time too: a workbook made in one second and saved in the next differs otherwise
_MODIFIED = re.compile(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms:(?:created|modified)>)")


def fixed_office_times(data: bytes) -> bytes:
    """An Office Open XML file (XLSX, DOCX) with its save time and zip entry times fixed.

    openpyxl stamps the creation and save times into ``docProps/core.xml`` and into every zip
    entry, so two saves of the same workbook differ; fixing them makes the same input give the
    same bytes.

    Examples
    --------
    >>> import openpyxl, io
    >>> def saved():
    ...     buffer = io.BytesIO()
    ...     openpyxl.Workbook().save(buffer)
    ...     return fixed_office_times(buffer.getvalue())
    >>> saved() == saved()
    True
    """
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                content = _MODIFIED.sub(rb"\g<1>2000-01-01T00:00:00Z\g<2>", content)
            fixed = zipfile.ZipInfo(info.filename, date_time=(2000, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = info.external_attr
            target.writestr(fixed, content)
    return out.getvalue()


@contextlib.contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it over ``target`` on success.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> with atomic_path(d / "x.txt") as tmp:
    ...     _ = tmp.write_text("hello")
    >>> (d / "x.txt").read_text()
    'hello'
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    # mkstemp creates 0600 files; outputs get the permissions any new file would get (the
    # key file tightens its own mode)
    os.chmod(tmp, 0o666 & ~_umask())
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def _umask() -> int:
    current = os.umask(0o022)
    os.umask(current)
    return current


def write_text(target: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8, ``\\n`` line ends) to ``target`` atomically."""
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8", newline="\n")
    return Path(target)


def write_bytes(target: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``target`` atomically."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)
    return Path(target)


def copy_file(source: str | Path, target: str | Path) -> Path:
    """Copy ``source``'s bytes to ``target`` atomically.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = write_bytes(d / "a.bin", b"abc")
    >>> copy_file(d / "a.bin", d / "b.bin").read_bytes()
    b'abc'
    """
    with atomic_path(target) as tmp:
        shutil.copyfile(source, tmp)
    return Path(target)


def write_json(target: str | Path, obj: Any) -> Path:
    """Write ``obj`` as sorted, indented JSON atomically."""
    return write_text(target, json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n")


#: Rows per row group: pyarrow's own default, so a frame written in slices has the row groups
#: (and the bytes) it would have had written whole.
PARQUET_ROW_GROUP = 1024 * 1024


def write_parquet(target: str | Path, frame: pd.DataFrame, *, as_text: Iterable[str] = ()) -> Path:
    """Write ``frame`` to Parquet atomically, without the pandas index.

    Categorical columns named in ``as_text`` are written as text columns, as if the frame had
    held them as text: a log that keeps its text as categories is written one row group at a
    time, so its text is never all made at once.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> log = pd.DataFrame({"field": pd.Categorical(["fs_home", "fs_out", "fs_home"])})
    >>> back = pd.read_parquet(write_parquet(d / "log.parquet", log, as_text=["field"]))
    >>> str(back["field"].dtype), back["field"].tolist()
    ('string', ['fs_home', 'fs_out', 'fs_home'])
    """
    as_text = [c for c in as_text if c in frame.columns and isinstance(frame[c].dtype, pd.CategoricalDtype)]
    if not as_text:
        return _write_table(target, _parquet_table(frame))
    import pyarrow.parquet as pq

    tables = (_parquet_table(part.assign(**{c: categories_as_text(part[c]) for c in as_text}))
              for part in (frame.iloc[start:start + PARQUET_ROW_GROUP]
                           for start in range(0, max(len(frame), 1), PARQUET_ROW_GROUP)))
    first = next(tables)
    with atomic_path(target) as tmp, pq.ParquetWriter(tmp, first.schema, compression="zstd") as writer:
        writer.write_table(first)
        for table in tables:
            writer.write_table(table)
    return Path(target)


def categories_as_text(values: pd.Series) -> pd.Series:
    """A categorical Series as a text Series (pandas' ``string``), made by Arrow.

    pandas casts a categorical to text one cell at a time; Arrow takes the categories by
    their codes in one step.

    Examples
    --------
    >>> categories_as_text(pd.Series(pd.Categorical(["b", None, "a"]))).tolist()
    ['b', <NA>, 'a']
    """
    import pyarrow as pa

    codes = values.cat.codes.to_numpy()
    categories = pa.array([str(c) for c in values.cat.categories], pa.large_string())
    taken = categories.take(pa.array(codes, mask=codes < 0))
    return pd.Series(pd.array(taken, dtype="string"), index=values.index, name=values.name)


def _parquet_table(frame: pd.DataFrame) -> Any:
    """The Arrow table ``frame.to_parquet(index=False)`` writes: the same schema and metadata.

    For columns pandas holds in Arrow (text, as pceval's frames do) the table shares their
    buffers: it costs little and, being immutable, can be written by another thread.
    """
    import pyarrow as pa

    with warnings.catch_warnings():
        # as pandas' own writer: pyarrow reads .values of time-zone-aware columns, which warns
        warnings.filterwarnings("ignore", r"(Series|DatetimeIndex)\.values returning an ndarray "
                                "that drops timezone information")
        table = pa.Table.from_pandas(frame, preserve_index=False)
    if frame.attrs:
        table = table.replace_schema_metadata({**table.schema.metadata,
                                               "PANDAS_ATTRS": json.dumps(frame.attrs)})
    return table


def _write_table(target: str | Path, table: Any) -> Path:
    import pyarrow.parquet as pq

    with atomic_path(target) as tmp:
        pq.write_table(table, tmp, compression="zstd")
    return Path(target)


class BackgroundWriter:
    """Parquet files written by a second thread while the caller goes on.

    Each frame is turned into an Arrow table before it is handed over, so the caller may go
    on changing its frame; the thread encodes, compresses and writes the file (atomically,
    the bytes :func:`write_parquet` gives), work during which Arrow lets go of Python's lock,
    so it runs on another processor beside the caller's Python. Leaving the ``with`` block
    waits for every file; the first error is raised there. No process may fork while files
    are being written: leave the block first.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> with BackgroundWriter() as writer:
    ...     writer.parquet(d / "a.parquet", pd.DataFrame({"x": [1, 2]}))
    >>> pd.read_parquet(d / "a.parquet")["x"].tolist()
    [1, 2]
    """

    def __init__(self) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pceval-parquet")
        self._pending: list[Any] = []

    def parquet(self, target: str | Path, frame: pd.DataFrame) -> None:
        """Queue ``frame`` to be written to ``target`` as :func:`write_parquet` would."""
        self._pending.append(self._pool.submit(_write_table, target, _parquet_table(frame)))

    def __enter__(self) -> BackgroundWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        # every queued file finishes (or fails) before the block is left, however it is left
        self._pool.shutdown(wait=True)
        if kind is None:
            for pending in self._pending:
                pending.result()


def write_csv(target: str | Path, frame: pd.DataFrame) -> Path:
    """Write ``frame`` to UTF-8 CSV atomically, without the pandas index."""
    with atomic_path(target) as tmp:
        frame.to_csv(tmp, index=False, lineterminator="\n")
    return Path(target)


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "a"
    >>> _ = p.write_bytes(b"abc")
    >>> sha256_file(p)[:12]
    'ba7816bf8f01'
    """
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --- whole folders --------------------------------------------------------------------------

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
# what renameat2 answers where the kernel or the file system cannot exchange (EPERM: some
# container sandboxes refuse system calls they do not know this way)
_CANNOT_EXCHANGE = {errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EPERM}


@functools.cache
def _renameat2() -> Callable[..., int] | None:
    """The C library's ``renameat2`` (Linux, glibc 2.28 and later), if there is one."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        function = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    function.restype = ctypes.c_int
    return function


def exchange_paths(first: str | Path, second: str | Path) -> bool:
    """Swap two existing paths in one step (each name then holds what the other held).

    Readers of either name see the one or the other at every instant, never neither. Uses
    Linux's ``renameat2`` with ``RENAME_EXCHANGE``.

    Returns
    -------
    bool
        False, having changed nothing, where the system or the file system cannot exchange.

    Raises
    ------
    OSError
        If a path does not exist or cannot be renamed.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "a").write_text("a"); _ = (d / "b").write_text("b")
    >>> exchange_paths(d / "a", d / "b") is False or (d / "a").read_text() == "b"
    True
    """
    function = _renameat2()
    if function is None:
        return False
    if function(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in _CANNOT_EXCHANGE:
        return False
    raise OSError(code, os.strerror(code), str(first), None, str(second))


def sync_tree(folder: str | Path) -> None:
    """Flush every file and folder under ``folder`` to disk.

    Renaming a folder into place is only as safe as its contents are durable: after a power
    cut the rename may have reached the disk before the data did.
    """
    folder = Path(folder)
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink():
            _fsync(path)
    for path in [folder, *sorted(p for p in folder.rglob("*") if p.is_dir())]:
        _fsync_folder(path)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_folder(path: Path) -> None:
    # a folder's entries (the names just renamed) are flushed through the folder itself;
    # Windows cannot open a folder for this and journals its renames anyway
    if os.name != "nt":
        _fsync(path)


def replace_directory(source: str | Path, target: str | Path, *, retired: str | Path) -> None:
    """Put the complete folder ``source`` at ``target``, replacing the folder there.

    ``source`` must be a sibling of ``target`` (same file system). Where paths can be
    exchanged (:func:`exchange_paths`) the two are swapped, so ``target`` is at every instant
    the old folder or the new one, and the old one is then deleted. Elsewhere ``target`` is
    renamed to ``retired`` and ``source`` to ``target``: a run stopped between the two renames
    leaves no ``target``, which :func:`recover_directory` puts right.

    Parameters
    ----------
    source : path
        The new folder, fully written (flushed with :func:`sync_tree` for durability).
    target : path
        Where readers look for it.
    retired : path
        A free name beside ``target`` for the old folder until it is deleted.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> (d / "out").mkdir(); _ = (d / "out" / "old.txt").write_text("old")
    >>> (d / "next").mkdir(); _ = (d / "next" / "new.txt").write_text("new")
    >>> replace_directory(d / "next", d / "out", retired=d / "old")
    >>> sorted(p.name for p in d.iterdir()), [p.name for p in (d / "out").iterdir()]
    (['out'], ['new.txt'])
    """
    source, target, retired = Path(source), Path(target), Path(retired)
    if not target.exists():
        os.rename(source, target)
        _fsync_folder(target.parent)
        return
    if exchange_paths(source, target):
        retired = source  # the old folder now has the new one's name
    else:
        os.rename(target, retired)
        os.rename(source, target)
    _fsync_folder(target.parent)
    _remove(retired)


def recover_directory(target: str | Path, *, staging: str | Path, retired: str | Path,
                      complete: str) -> None:
    """Undo what a run stopped part way through writing ``target`` left behind.

    If ``target`` is missing because the run stopped inside :func:`replace_directory`, the
    new folder takes its place when it is complete (it holds the file ``complete``, which is
    written last), else the old one returns. Then whatever is left at ``staging`` (a folder
    never finished, or an old one not yet deleted) and at ``retired`` is deleted.

    Parameters
    ----------
    target : path
        The folder readers look for.
    staging, retired : path
        The names :func:`replace_directory` was given as ``source`` and ``retired``.
    complete : str
        A file, relative to the folder, that exists only once the folder is complete.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> (d / "old").mkdir(); (d / "next").mkdir()
    >>> recover_directory(d / "out", staging=d / "next", retired=d / "old", complete="done")
    >>> sorted(p.name for p in d.iterdir())
    ['out']
    """
    target, staging, retired = Path(target), Path(staging), Path(retired)
    if not target.exists():
        if (staging / complete).is_file():
            os.rename(staging, target)
        elif retired.is_dir():
            os.rename(retired, target)
    for leftover in (staging, retired):
        _remove(leftover)


def _remove(path: Path) -> None:
    """Delete a folder with its contents, a file or a link (not what a link points to)."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()
