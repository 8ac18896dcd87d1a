"""Crash safety of ``pceval build``: killed at any instant, it leaves a complete build behind.

A small synthetic evaluation is built under two configurations, A and B, that differ in what
the build writes (B drops the SPSS and Stata copies and reads the women's survey without its
platform missing-data codes, which changes files written in the cleaning, scoring and
reporting stages). Each trial switches the configuration and kills ``pceval build`` with
SIGKILL after a random delay spread over the build's measured duration (the last strata at
the moment the new build is put in place, too short to hit by the clock), then checks that:

- ``raw/`` is byte for byte what the generator wrote;
- ``build/`` is *exactly* one complete build, the previous one or the new one: every file and
  its bytes equal a clean build of A or of B, so a mix of files from two builds, a stale file
  of an earlier configuration or a temporary file shows up;
- the manifest's hashes match the files present, and every output loads (Parquet with
  pyarrow, CSV, SPSS and Stata with pyreadstat, JSON).

After the trials an uninterrupted build must give the clean build again and leave nothing of
the interrupted runs behind.

To keep the trials quick, builds run in children forked from one interpreter that has
already imported pceval (importing it takes about as long as a small build); each child runs
the command line's own entry point, ``pceval build DIR``, as the console script does. Two
copies of the evaluation are driven at once, one per core.

Quick tests below cover the way a build folder is put in place where the system cannot swap
two folders in one step, and the recovery from a run stopped inside it.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pyreadstat
import pytest
import yaml

from pceval import io as pceval_io
from pceval.io import recover_directory, replace_directory
from pceval.synth import generate_evaluation

SEED = 31
TRIALS = 20
CHAINS = 2
# kill points from this share of the run on are taken at the commit of the new build
COMMIT_SHARE = 0.9

# A process that imports pceval once, then forks a child per build. It reads one JSON request
# a line and answers one line: {"build": dir, "log": file} starts a build and answers its
# process id; {"poll": pid} answers its exit code once it has ended, else "running".
_BUILDER = r"""
import json, os, sys
import pceval.cli, pceval.pipeline

print("ready", flush=True)
for line in sys.stdin:
    request = json.loads(line)
    if "build" in request:
        pid = os.fork()
        if pid == 0:
            log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(log, 1)
            os.dup2(log, 2)
            sys.argv = ["pceval", "build", request["build"]]
            code = 0
            try:
                pceval.cli.main()
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
            except BaseException:
                import traceback
                traceback.print_exc()
                code = 3
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
        print(pid, flush=True)
    else:
        pid, status = os.waitpid(request["poll"], os.WNOHANG)
        print(os.waitstatus_to_exitcode(status) if pid else "running", flush=True)
"""


class _Builder:
    """A warm interpreter that runs ``pceval build DIR`` in forked children, for any thread."""

    def __init__(self) -> None:
        self.process = subprocess.Popen([sys.executable, "-c", _BUILDER], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True)
        self.lock = threading.Lock()
        self.running: set[int] = set()
        assert self._ask(None) == "ready"

    def _ask(self, request: dict | None) -> str:
        with self.lock:
            if request is not None:
                self.process.stdin.write(json.dumps(request) + "\n")
                self.process.stdin.flush()
            return self.process.stdout.readline().strip()

    def start(self, root: Path, log: Path) -> int:
        pid = int(self._ask({"build": str(root), "log": str(log)}))
        self.running.add(pid)
        return pid

    def wait(self, pid: int) -> int:
        """The exit code of a build (negative: the signal that ended it)."""
        while (answer := self._ask({"poll": pid})) == "running":
            time.sleep(0.05)
        self.running.discard(pid)
        return int(answer)

    def close(self) -> None:
        # a build left running by a failed check must not outlive the test
        for pid in sorted(self.running):
            os.kill(pid, signal.SIGKILL)
            self.wait(pid)
        self.process.stdin.close()
        self.process.wait(timeout=30)
        self.process.stdout.close()


def _hashes(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _configure(root: Path, config: str) -> None:
    """Switch ``pceval.yml`` to configuration A (as generated) or B."""
    original = root / "pceval.yml.a"
    if not original.exists():
        shutil.copyfile(root / "pceval.yml", original)
    data = yaml.safe_load(original.read_text(encoding="utf-8"))
    if config == "B":
        data["shareable"] = ["csv"]
        for source in data["sources"]:
            if source["instrument"] == "womens_survey":
                source["missing_data_codes"] = {}
    (root / "pceval.yml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


# contents (build/ and coding/ hashes) already read back: the same bytes load the same way
_LOADED: set[frozenset] = set()


def _check_loadable(root: Path) -> None:
    """Every output of ``build/`` (and the coding export's tables) reads back."""
    contents = frozenset({**_hashes(root / "build"),
                          **{f"coding/{k}": v for k, v in _hashes(root / "coding").items()}}.items())
    if contents in _LOADED:
        return
    for path in sorted((root / "build").rglob("*")):
        if path.suffix == ".parquet":
            pq.read_table(path)
        elif path.suffix == ".csv":
            pd.read_csv(path, dtype="string", keep_default_na=False)
        elif path.suffix == ".sav":
            pyreadstat.read_sav(path, user_missing=True)
        elif path.suffix == ".dta":
            pyreadstat.read_dta(path)
        elif path.suffix == ".json":
            json.loads(path.read_text(encoding="utf-8"))
        elif path.suffix == ".html":
            path.read_text(encoding="utf-8")
    for path in sorted((root / "coding").glob("*.*")):
        if path.suffix == ".csv":
            pd.read_csv(path, dtype="string", keep_default_na=False)
        elif path.suffix == ".json":
            json.loads(path.read_text(encoding="utf-8"))
    _LOADED.add(contents)


def _check_manifest(root: Path) -> None:
    """The manifest's hashes are those of the files present, it lists every output, and no
    temporary file stands among them."""
    build = root / "build"
    manifest = json.loads((build / "manifest.json").read_text(encoding="utf-8"))
    recorded = manifest["outputs"]
    for name, digest in recorded.items():
        path = root / name
        assert path.is_file(), f"the manifest lists {name}, which is not there"
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest, f"{name} is not the file recorded"
    files = _hashes(build)
    temporary = [n for n in files if n.endswith(".tmp") or any(p.startswith(".") for p in n.split("/"))]
    assert temporary == [], f"temporary files among the outputs: {temporary}"
    present = {f"build/{name}" for name in files
               if name != "manifest.json" and not name.startswith("staged/")}
    assert present <= set(recorded), f"outputs the manifest does not list: {sorted(present - set(recorded))}"


class _Chain:
    """One evaluation driven through a clean build and a series of killed builds."""

    def __init__(self, root: Path, index: int, builder: _Builder, logs: Path) -> None:
        self.root, self.index, self.builder, self.logs = root, index, builder, logs
        self.raw = _hashes(root / "raw")
        # the configuration build/ holds, and the one pceval.yml names
        self.state = self.config = "A" if index % 2 == 0 else "B"
        self.duration = 0.0
        self.outcomes: list[tuple[float, float, str]] = []

    def clean_build(self) -> dict[str, str]:
        """A complete build of this chain's first configuration, timed."""
        _configure(self.root, self.state)
        log = self.logs / f"chain{self.index}_clean.log"
        start = time.perf_counter()
        code = self.builder.wait(self.builder.start(self.root, log))
        self.duration = time.perf_counter() - start
        assert code == 0, log.read_text(encoding="utf-8")
        self.entries = sorted(p.name for p in self.root.iterdir())
        _check_manifest(self.root)
        _check_loadable(self.root)
        return _hashes(self.root / "build")

    def trials(self, fractions: list[float], durations: dict[str, float],
               reference: dict[str, dict[str, str]]) -> None:
        """Kill a build of the other configuration at each fraction of its clean build's time."""
        for trial, fraction in enumerate(fractions):
            target = self.config = "B" if self.state == "A" else "A"
            _configure(self.root, target)
            log = self.logs / f"chain{self.index}_trial{trial}.log"
            since = time.time()
            pid = self.builder.start(self.root, log)
            started = time.perf_counter()
            if fraction < COMMIT_SHARE:
                time.sleep(fraction * durations[target])
            else:
                # the last strata are the moment the new build is put in place, too short to
                # hit by the clock: wait for its manifest (written last, in a hidden folder
                # beside build/, or already in build/ if this thread was slow to look), then
                # kill within half a second
                while (not _written_since([*self.root.glob(".*/manifest.json"),
                                           self.root / "build" / "manifest.json"], since)
                       and time.perf_counter() - started < 2 * durations[target]):
                    time.sleep(0.002)
                time.sleep((fraction - COMMIT_SHARE) / (1 - COMMIT_SHARE) * 0.5)
            delay = time.perf_counter() - started
            os.kill(pid, signal.SIGKILL)
            code = self.builder.wait(pid)
            assert code in (0, -signal.SIGKILL), log.read_text(encoding="utf-8")
            where = f"chain {self.index}, trial {trial}, killed after {delay:.2f} s"

            assert _hashes(self.root / "raw") == self.raw, f"{where}: raw/ changed"
            found = _hashes(self.root / "build")
            matches = [name for name, files in reference.items() if files == found]
            assert matches in ([self.state], [target]), (
                f"{where}: build/ is neither the previous build ({self.state}) nor the new one "
                f"({target}); {_mix(found, reference[self.state], reference[target])}")
            _check_manifest(self.root)
            _check_loadable(self.root)
            # whatever an interrupted run leaves must not pass for an output: hidden, outside build/
            extra = sorted(p.name for p in self.root.iterdir() if p.name not in self.entries)
            assert all(name.startswith(".") for name in extra), f"{where}: left {extra}"
            self.outcomes.append((fraction, delay, "completed" if code == 0 else
                                  "new" if matches == [target] else "previous"))
            self.state = matches[0]

    def final_build(self) -> dict[str, str]:
        """An uninterrupted build, which must also tidy what the killed ones left."""
        log = self.logs / f"chain{self.index}_final.log"
        assert self.builder.wait(self.builder.start(self.root, log)) == 0, log.read_text(encoding="utf-8")
        assert sorted(p.name for p in self.root.iterdir()) == self.entries, "leftovers of killed builds"
        assert _hashes(self.root / "raw") == self.raw
        _check_manifest(self.root)
        _check_loadable(self.root)
        return _hashes(self.root / "build")


def _written_since(paths: Iterable[Path], since: float) -> bool:
    """Whether one of the files was written at or after ``since`` (a left-over one was not)."""
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            if path.stat().st_mtime >= since:
                return True
    return False


def _mix(found: dict[str, str], previous: dict[str, str], new: dict[str, str]) -> str:
    """What of ``build/`` differs from each of two complete builds, for the failure message."""
    def off(reference: dict[str, str]) -> list[str]:
        return sorted(n for n in set(found) | set(reference) if found.get(n) != reference.get(n))

    return f"not as in the previous build: {off(previous)[:8]}; not as in the new one: {off(new)[:8]}"


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "fork"), reason="the trials fork warm build processes")
def test_killed_builds_leave_a_complete_build(tmp_path):
    phases = [("start", time.perf_counter())]
    first = tmp_path / "chain0"
    generate_evaluation(first, seed=SEED, services=3, women=120)
    roots = [first]
    for index in range(1, CHAINS):
        roots.append(tmp_path / f"chain{index}")
        shutil.copytree(first, roots[-1])
    logs = tmp_path / "logs"
    logs.mkdir()

    phases.append(("synthetic evaluation", time.perf_counter()))
    builder = _Builder()
    phases.append(("warm interpreter", time.perf_counter()))
    try:
        chains = [_Chain(root, i, builder, logs) for i, root in enumerate(roots)]
        with ThreadPoolExecutor(CHAINS) as pool:
            # the clean builds of A and B run side by side, as the trials will
            clean = list(pool.map(_Chain.clean_build, chains))
            phases.append(("clean builds", time.perf_counter()))
            reference = {chain.state: files for chain, files in zip(chains, clean)}
            durations = {chain.state: chain.duration for chain in chains}
            assert set(reference) == {"A", "B"}
            # the two configurations differ from the cleaning stage to the reports (so a mix
            # of the two builds is seen), and A has files B has not
            changed = {n for n in reference["A"] if reference["A"][n] != reference["B"].get(n)}
            assert {"manifest.json", "audit/audit_log.csv", "clean/missing_reasons.parquet",
                    "shareable/womens_survey.csv", "codebook.html"} <= changed
            assert "shareable/womens_survey.sav" in set(reference["A"]) - set(reference["B"])

            # kill points spread over the whole build: the run is cut into TRIALS equal strata
            # and each trial is killed at a random point of its own, the chains taking turns
            rng = random.Random(SEED)
            strata = list(range(TRIALS))
            rng.shuffle(strata)
            fractions = [(s + rng.random()) / TRIALS for s in strata]
            list(pool.map(lambda c: c.trials(fractions[c.index::CHAINS], durations, reference),
                          chains))
            phases.append(("trials", time.perf_counter()))
            finals = list(pool.map(_Chain.final_build, chains))
            phases.append(("final builds", time.perf_counter()))
    finally:
        builder.close()

    for chain, files in zip(chains, finals):
        assert files == reference[chain.config]
    outcomes = [o for chain in chains for o in chain.outcomes]
    assert len(outcomes) >= 20
    # most kills must land inside a build, or the test shows nothing
    assert sum(kind != "completed" for _, _, kind in outcomes) >= len(outcomes) / 2
    summary = ", ".join(f"{f:.2f} ({d:.1f} s) {k}" for f, d, k in sorted(outcomes))
    spent = ", ".join(f"{name} {end - start:.1f} s"
                      for (_, start), (name, end) in itertools.pairwise(phases))
    print(f"\nclean builds take {durations['A']:.1f} s (A) and {durations['B']:.1f} s (B); "
          f"trials (kill point as a share of the build): {summary}\n{spent}")


# Where paths cannot be exchanged (not Linux, or a file system without the call) the folder is
# put in place by two renames; a run stopped between them leaves no build/ until the next.


def _folder(path: Path, *names: str) -> Path:
    path.mkdir()
    for name in names:
        (path / name).write_text(name, encoding="utf-8")
    return path


def test_replace_directory_by_two_renames(tmp_path, monkeypatch):
    monkeypatch.setattr(pceval_io, "exchange_paths", lambda first, second: False)
    _folder(tmp_path / "build", "manifest.json", "old.csv")
    _folder(tmp_path / ".next", "manifest.json", "new.csv")
    replace_directory(tmp_path / ".next", tmp_path / "build", retired=tmp_path / ".old")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["build"]
    assert sorted(p.name for p in (tmp_path / "build").iterdir()) == ["manifest.json", "new.csv"]


def test_recovery_between_the_two_renames_completes_the_new_build(tmp_path):
    _folder(tmp_path / ".old", "manifest.json", "old.csv")
    _folder(tmp_path / ".next", "manifest.json", "new.csv")
    recover_directory(tmp_path / "build", staging=tmp_path / ".next", retired=tmp_path / ".old",
                      complete="manifest.json")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["build"]
    assert (tmp_path / "build" / "new.csv").exists()


def test_recovery_keeps_the_old_build_over_an_unfinished_one(tmp_path):
    _folder(tmp_path / ".old", "manifest.json", "old.csv")
    _folder(tmp_path / ".next", "new.csv")
    recover_directory(tmp_path / "build", staging=tmp_path / ".next", retired=tmp_path / ".old",
                      complete="manifest.json")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["build"]
    assert (tmp_path / "build" / "old.csv").exists()


def test_recovery_deletes_leftovers_beside_a_build(tmp_path):
    _folder(tmp_path / "build", "manifest.json", "current.csv")
    _folder(tmp_path / ".next", "manifest.json", "half.csv")
    _folder(tmp_path / ".old", "old.csv")
    recover_directory(tmp_path / "build", staging=tmp_path / ".next", retired=tmp_path / ".old",
                      complete="manifest.json")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["build"]
    assert sorted(p.name for p in (tmp_path / "build").iterdir()) == ["current.csv", "manifest.json"]
