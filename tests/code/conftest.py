"""A small synthetic evaluation, built once, and simulated coders who fill coding workbooks."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from openpyxl import load_workbook

from pceval.code.sheets import FIXED_COLUMNS
from pceval.pipeline import build
from pceval.project import load_project, write_config
from pceval.synth import generate_evaluation
from pceval.synth.text import themes_of_text


@pytest.fixture(scope="session")
def built_evaluation(tmp_path_factory) -> Path:
    """A synthetic evaluation with its scored zone (built once per session)."""
    root = tmp_path_factory.mktemp("coding") / "ev"
    generate_evaluation(root, women=150, services=3, seed=11)
    project = load_project(root)
    # the statistical-package copies are not needed here and take most of a build's time
    write_config(root, project.config.model_copy(update={"shareable": ("csv",)}))
    build(load_project(root))
    return root


def copy_evaluation(source: Path, root: Path) -> Path:
    """Copy what the coding workflow reads (configuration, scored zone, truth, coding/)."""
    root.mkdir(parents=True)
    shutil.copy(source / "pceval.yml", root / "pceval.yml")
    for folder in ("private", "truth", "build/scored", "coding"):
        if (source / folder).exists():
            shutil.copytree(source / folder, root / folder)
    return root


@pytest.fixture
def evaluation(built_evaluation: Path, tmp_path: Path) -> Path:
    """A private copy of the built evaluation (configuration, scored zone, truth) per test."""
    return copy_evaluation(built_evaluation, tmp_path / "ev")


@pytest.fixture(scope="session")
def copy_of() -> Callable[[Path, Path], Path]:
    return copy_evaluation


Decide = Callable[[str, str, str], int | None]
"""(segment id, code, text) -> the value a simulated coder enters (None: leaves it blank)."""


def truth(segment: str, code: str, text: str) -> int:
    """The value a perfect coder enters: 1 when the template that wrote the text has the theme."""
    themes = themes_of_text(text)
    assert themes is not None, f"no template wrote {text!r}"
    return int(code in themes)


def fill_workbook(path: Path, decide: Decide, *, done: bool = True) -> None:
    """Fill a coder's workbook as a coder would: a value in every unshaded code cell."""
    wb = load_workbook(path)
    ws = wb["coding"]
    header = [c.value for c in ws[1]]
    codes = header[len(FIXED_COLUMNS):]
    for row in ws.iter_rows(min_row=2):
        segment, text = row[0].value, row[2].value
        for offset, code in enumerate(codes):
            cell = row[len(FIXED_COLUMNS) + offset]
            if cell.fill.fill_type == "solid":  # shaded: the code does not apply
                continue
            cell.value = decide(segment, code, text)
        if done:
            row[3].value = 1
    wb.save(path)


@pytest.fixture(scope="session")
def fill() -> Callable[..., None]:
    return fill_workbook
