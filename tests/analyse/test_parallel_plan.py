"""The plan answered by parallel workers gives the same tables as answered one entry at a time."""

from __future__ import annotations

import pandas as pd
import pytest

from pceval import pipeline
from pceval.analyse.plan import load_plan
from pceval.analyse.run import run_plan
from pceval.project import load_project
from pceval.synth import generate_evaluation

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    root = tmp_path_factory.mktemp("parallel") / "evaluation"
    generate_evaluation(root, seed=11, services=4, women=300)
    project = load_project(root)
    pipeline.build(project)
    instruments = pipeline.load_instruments_for(project)
    data = {i: pd.read_parquet(project.build / "scored" / f"{i}.parquet") for i in instruments}
    return load_plan(project.folder("analysis") / "plan.yml"), data, instruments


def test_two_workers_give_the_same_tables_in_plan_order(scored):
    plan, data, instruments = scored
    serial = run_plan(plan, data, instruments, workers=1)
    parallel = run_plan(plan, data, instruments, workers=2)
    assert list(parallel) == list(serial) == [q.id for q in plan.questions]
    for qid, table in serial.items():
        pd.testing.assert_frame_equal(parallel[qid], table, obj=qid)
    assert serial["q15_scorecard"]["estimate"].notna().any()


def test_an_entry_that_fails_in_a_worker_fails_whole_in_the_caller(scored, monkeypatch):
    from pceval.analyse import run as run_module
    from pceval.errors import AnalysisError

    plan, data, instruments = scored
    broken = plan.questions[1].model_copy(update={"breakdowns": ("no_such_column",)})
    plan = plan.model_copy(update={"questions": (plan.questions[0], broken, *plan.questions[2:])})
    with pytest.raises(AnalysisError, match="no_such_column"):
        run_module.run_plan(plan, data, instruments, workers=2)
