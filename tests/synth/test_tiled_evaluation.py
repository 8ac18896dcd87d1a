"""The benchmark's tiled evaluation: copies whose women are new women to the build."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd

from pceval.pipeline import build
from pceval.project import load_project, write_config
from pceval.synth import generate_evaluation

TILE = Path(__file__).resolve().parents[2] / "benchmarks" / "tile.py"


def _tile_module():
    spec = importlib.util.spec_from_file_location("benchmark_tile", TILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _csv_only(root: Path) -> None:
    write_config(root, load_project(root).config.model_copy(update={"shareable": ("csv",)}))


def test_three_copies_build_to_three_times_the_women_and_links(tmp_path):
    base, big = tmp_path / "base", tmp_path / "big"
    generate_evaluation(base, women=120, services=3, seed=8)
    _csv_only(base)
    _tile_module().tile_evaluation(base, big, 3)
    one, three = build(load_project(base)), build(load_project(big))
    for file, counts in one.rows.items():
        times = 1 if "qualtrics" in file else 3  # the staff surveys are written once
        assert three.rows[file] == {k: v * times for k, v in counts.items()}, file

    def people(root):
        women = pd.read_parquet(root / "build" / "scored" / "womens_survey.parquet")["pid"]
        record = pd.read_parquet(root / "build" / "scored" / "contact_record.parquet")["pid"]
        return set(women.dropna()), set(record.dropna())

    women, record = people(base)
    women3, record3 = people(big)
    assert len(women3) == 3 * len(women) > 0 and len(record3) == 3 * len(record)
    assert len(women3 & record3) == 3 * len(women & record)
