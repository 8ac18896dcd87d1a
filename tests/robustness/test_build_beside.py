"""A build that writes its reports and coders' workbooks in a second process writes the same
bytes as one that writes everything in one."""

from __future__ import annotations

import json
import shutil

import pytest

from pceval import pipeline
from pceval.code import workflow
from pceval.project import load_project
from pceval.synth import generate_evaluation


def _built(root):
    manifest = json.loads((root / "build" / "manifest.json").read_text(encoding="utf-8"))
    coding = json.loads((root / "coding" / "export.json").read_text(encoding="utf-8"))
    return manifest, coding["sheet_sha256"]


def test_forked_build_writes_the_same_bytes(tmp_path, monkeypatch):
    one = tmp_path / "one"
    generate_evaluation(one, seed=3, services=3, women=150)
    two = tmp_path / "two"
    shutil.copytree(one, two)
    forks = []
    real = pipeline.beside

    def counted(where):
        def start(job, *, fork=True):
            forks.append((where, fork))
            return real(job, fork=fork)
        return start

    monkeypatch.setattr(pipeline, "beside", counted("reports"))
    monkeypatch.setattr(workflow, "beside", counted("workbooks"))
    monkeypatch.setattr(pipeline, "BESIDE_ROWS", 10**12)
    monkeypatch.setattr(workflow, "BESIDE_SEGMENTS", 10**12)
    pipeline.build(load_project(one))
    monkeypatch.setattr(pipeline, "BESIDE_ROWS", 0)
    monkeypatch.setattr(workflow, "BESIDE_SEGMENTS", 0)
    pipeline.build(load_project(two))
    assert forks == [("reports", False), ("workbooks", False), ("reports", True), ("workbooks", True)]
    manifest_one, sheets_one = _built(one)
    manifest_two, sheets_two = _built(two)
    assert manifest_one["outputs"] == manifest_two["outputs"]
    assert len(manifest_one["outputs"]) > 30
    assert sheets_one == sheets_two and len(sheets_one) == 2


def test_a_failing_report_fails_the_build_whole(tmp_path, monkeypatch):
    root = tmp_path / "ev"
    generate_evaluation(root, seed=3, services=3, women=60)
    monkeypatch.setattr(pipeline, "BESIDE_ROWS", 0)

    def broken(*args, **kwargs):
        raise pipeline.DataError("the codebook could not be written", field="codebook")

    monkeypatch.setattr(pipeline, "write_codebook", broken)
    with pytest.raises(pipeline.DataError, match="codebook could not be written"):
        pipeline.build(load_project(root))
    assert not (root / "build").exists() and not (root / pipeline.BUILD_STAGING).exists()
