"""Fixtures of the report tests: a small synthetic evaluation, its rendered report in every
format, and headless Chromium driven through the DevTools protocol.

The evaluation is synthesised, built and analysed once per session, and each format is
rendered once; the browser, disclosure and format tests share them.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cdp_pipe import Chromium

from pceval import pipeline
from pceval.project import Project, load_project
from pceval.report import render_report
from pceval.synth import generate_evaluation

CHROMIUM = os.environ.get("PCEVAL_CHROMIUM", "/usr/bin/chromium")


# --------------------------------------------------------------------------------------------
# A rendered synthetic evaluation
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def evaluation(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """A synthetic evaluation (6 services, 500 women), built and analysed.

    Small enough to build in seconds, and with services small enough that disclosure control
    withholds values in both tables of the report.
    """
    root = tmp_path_factory.mktemp("report-evaluation") / "evaluation"
    generate_evaluation(root, seed=5, services=6, women=500)
    project = load_project(root)
    pipeline.build(project)
    pipeline.analyse(project)
    return project


@pytest.fixture(scope="session")
def rendered(evaluation: Project) -> Callable[[str], Path]:
    """``rendered("pdf")``: the evaluation report in that format, rendered once a session."""
    cache: dict[str, Path] = {}

    def render(fmt: str) -> Path:
        if fmt not in cache:
            cache[fmt] = render_report(
                evaluation.folder("reports") / "evaluation.qmd",
                output_dir=evaluation.reports_out,
                fmt=fmt,  # type: ignore[arg-type]
                params={"results_dir": str(evaluation.results), "title": evaluation.config.name},
                engine="embedded",
            )
        return cache[fmt]

    return render


# --------------------------------------------------------------------------------------------
# Headless Chromium over the DevTools protocol
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chromium]:
    """A headless Chromium for the session. .ci/run installs it; without it, tests fail."""
    executable = shutil.which(CHROMIUM) or shutil.which("chromium")
    if executable is None:
        pytest.fail(
            f"Chromium is not installed ({CHROMIUM} not found): the browser tests need it. "
            "Install Debian's package (apt-get install chromium), as .ci/run does, or set "
            "PCEVAL_CHROMIUM to a Chromium executable.",
            pytrace=False,
        )
    browser = Chromium(executable, tmp_path_factory.mktemp("chromium-profile"))
    try:
        yield browser
    finally:
        browser.close()


@pytest.fixture(scope="session")
def artefacts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A folder for screenshots; copied to $PCEVAL_ARTEFACTS, when set, at the end."""
    folder = tmp_path_factory.mktemp("artefacts")
    yield folder
    destination = os.environ.get("PCEVAL_ARTEFACTS")
    if destination:
        Path(destination).mkdir(parents=True, exist_ok=True)
        for item in folder.iterdir():
            shutil.copy2(item, Path(destination) / item.name)
