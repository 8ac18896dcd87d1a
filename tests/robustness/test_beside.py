"""Jobs run in a forked process beside the build: the same results, errors raised whole,
nothing written once the caller has moved on, and no child outliving a killed parent."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from pceval import beside as beside_module
from pceval.beside import beside, can_fork
from pceval.errors import DataError


def test_this_system_forks():
    # the suite runs on Linux, where the build's second process is forked
    assert can_fork() is sys.platform.startswith("linux")
    assert can_fork()


def test_a_job_runs_in_a_child_and_returns_its_value():
    parent = os.getpid()
    with beside(lambda: (os.getpid(), sum(range(1000)))) as pending:
        here = os.getpid()
        pid, total = pending.result()
    assert pending.forked and here == parent and pid != parent and total == 499500
    assert pending.result() == (pid, total)  # asked again, not run again


def test_a_failed_job_is_run_here_and_raises_its_error(tmp_path):
    runs = tmp_path / "runs"

    def job():
        with open(runs, "a", encoding="ascii") as handle:
            handle.write(f"{os.getpid()}\n")
        raise DataError("bad cell", file="raw/x.csv", field="age")

    with pytest.raises(DataError, match="bad cell") as caught:
        with beside(job) as pending:
            pending.result()
    pids = runs.read_text(encoding="ascii").split()
    assert len(pids) == 2 and pids[0] != str(os.getpid()) and pids[1] == str(os.getpid())
    assert caught.value.file == "raw/x.csv" and caught.value.field == "age"


def test_a_child_that_dies_is_replaced_by_a_run_here():
    parent = os.getpid()

    def job():
        if os.getpid() != parent:
            os._exit(3)  # as if killed for memory
        return "done here"

    with beside(job) as pending:
        assert pending.result() == "done here"


def test_a_value_that_does_not_pickle_is_computed_here():
    parent = os.getpid()
    with beside(lambda: (lambda: os.getpid())) as pending:  # a lambda cannot be pickled
        made_in = pending.result()()
    assert made_in == parent


def test_the_child_is_stopped_when_the_caller_fails(tmp_path):
    started, late = tmp_path / "pid", tmp_path / "late"

    def job():
        started.write_text(str(os.getpid()), encoding="ascii")
        time.sleep(30)
        late.write_text("written after the caller moved on", encoding="ascii")

    with pytest.raises(RuntimeError):
        with beside(job):
            for _ in range(200):
                if started.exists() and started.read_text(encoding="ascii"):
                    break
                time.sleep(0.01)
            raise RuntimeError("the build failed")
    pid = int(started.read_text(encoding="ascii"))
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # killed and reaped before the error went on
    assert not late.exists()


def test_without_fork_the_job_runs_here_when_asked(tmp_path):
    order = []
    with beside(lambda: order.append("job") or os.getpid(), fork=False) as pending:
        order.append("body")
        assert pending.result() == os.getpid()
    assert order == ["body", "job"] and not pending.forked


def test_no_fork_without_the_memory_for_it(monkeypatch):
    monkeypatch.setattr(beside_module, "_meminfo_kib",
                        lambda path, field: 1 if field == "MemAvailable" else 10**6)
    assert not beside_module.memory_allows_fork()
    with beside(os.getpid) as pending:
        assert pending.result() == os.getpid()
    assert not pending.forked


def test_the_child_dies_with_a_killed_parent(tmp_path):
    script = textwrap.dedent(f"""
        import os, time
        from pathlib import Path
        from pceval.beside import beside
        out = Path({str(tmp_path)!r})
        def job():
            (out / "child").write_text(str(os.getpid()))
            time.sleep(60)
            (out / "late").write_text("outlived its parent")
        with beside(job) as pending:
            time.sleep(60)
    """)
    parent = subprocess.Popen([sys.executable, "-c", script])
    try:
        for _ in range(600):
            if (tmp_path / "child").exists() and (tmp_path / "child").read_text():
                break
            time.sleep(0.05)
        child = int((tmp_path / "child").read_text())
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
        for _ in range(100):
            if not Path(f"/proc/{child}").exists() or _is_zombie(child):
                break
            time.sleep(0.05)
        assert not Path(f"/proc/{child}").exists() or _is_zombie(child), "the child outlived its parent"
    finally:
        parent.kill()
    assert not (tmp_path / "late").exists()


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    except OSError:
        return True


def test_partition_slices_grouped_rows_and_gathers_others():
    import numpy as np
    import pandas as pd

    from pceval.partition import partition

    log = pd.DataFrame({"instrument": pd.array(["a", "a", "b", "c", "c"], dtype="string"),
                        "row": [1, 2, 3, 4, 5]})
    parts = partition(log, "instrument")
    assert {k: v["row"].tolist() for k, v in parts.items()} == {"a": [1, 2], "b": [3], "c": [4, 5]}
    assert np.shares_memory(parts["c"]["row"].to_numpy(), log["row"].to_numpy())  # a slice
    mixed = log.iloc[[3, 0, 2, 4, 1]].assign(instrument=lambda f: f["instrument"])
    mixed.loc[mixed.index[2], "instrument"] = pd.NA
    parts = partition(mixed, "instrument")
    assert {k: v["row"].tolist() for k, v in parts.items()} == {"c": [4, 5], "a": [1, 2]}
    assert partition(log.iloc[:0], "instrument") == {}
