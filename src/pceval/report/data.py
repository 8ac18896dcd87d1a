"""What a report reads: the result tables and the evaluation plan in ``results/``.

Service reports are rendered one after another in one Jupyter kernel (see
:func:`pceval.report.render.render_many`), which clears the report's variables between
services but keeps imported modules. :func:`load_results` keeps what it read in this module,
so the result tables are read and checked once for all services; each report gets its own
copy, so nothing one report does to the tables reaches the next.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd

from pceval.errors import ReportError
from pceval.results import RESULT_COLUMNS

__all__ = ["Results", "load_results"]


@dataclass(frozen=True)
class Results:
    """The result tables and the plan they answer.

    Attributes
    ----------
    frame : pandas.DataFrame
        Every result row (:mod:`pceval.results` columns), disclosure control applied.
    plan : dict
        The evaluation plan as ``analyse`` wrote it (``plan.json``): ``questions`` and the
        ``disclosure`` rules.
    """

    frame: pd.DataFrame
    plan: dict[str, Any]

    @property
    def questions(self) -> dict[str, dict[str, Any]]:
        """Plan questions by id."""
        return {question["id"]: question for question in self.plan.get("questions", [])}

    def indicator_labels(self, question: str) -> dict[str, str]:
        """Indicator id to label for one question, in the plan's order.

        Indicators are read from the question and from each of its analyses.

        Examples
        --------
        >>> plan = {"questions": [{"id": "q01", "analyses": [
        ...     {"id": "main", "indicators": [{"id": "reached", "label": "Reached"}]}]}]}
        >>> Results(frame=pd.DataFrame(), plan=plan).indicator_labels("q01")
        {'reached': 'Reached'}
        """
        entry = self.questions.get(question)
        if entry is None:
            known = ", ".join(self.questions) or "none"
            raise ReportError(f"the plan has no question {question!r} (its questions: {known})")
        indicators = list(entry.get("indicators") or [])
        for analysis in entry.get("analyses") or []:
            indicators += analysis.get("indicators") or []
        return {str(i["id"]): str(i.get("label") or i["id"]) for i in indicators}


def load_results(results_dir: str | Path) -> Results:
    """Read ``results.parquet`` and ``plan.json`` from a results folder (once per kernel).

    Parameters
    ----------
    results_dir : str or Path
        The evaluation's ``results/`` folder.

    Returns
    -------
    Results
        A fresh copy of the tables and plan; they are read again only if a file changed.

    Raises
    ------
    ReportError
        If a file is missing or is not a result table.

    Examples
    --------
    >>> import json, pathlib, tempfile
    >>> from pceval.results import result_frame
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> result_frame([{"question": "q01", "indicator": "x", "statistic": "proportion",
    ...                "n": 20, "estimate": 0.5}]).to_parquet(folder / "results.parquet")
    >>> _ = (folder / "plan.json").write_text(json.dumps({"questions": [{"id": "q01"}]}))
    >>> results = load_results(folder)
    >>> len(results.frame), list(results.questions)
    (1, ['q01'])
    >>> load_results(folder).frame is results.frame  # a copy each time
    False
    """
    folder = Path(results_dir).resolve()
    table, plan = folder / "results.parquet", folder / "plan.json"
    for path in (table, plan):
        if not path.is_file():
            raise ReportError(
                "the report needs this results file", file=path, fix="run `pceval analyse` first"
            )
    frame, plan_text = _read(str(table), _stamp(table), str(plan), _stamp(plan))
    return Results(frame=frame.copy(), plan=json.loads(plan_text))


def _stamp(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_mtime_ns, stat.st_size


@lru_cache(maxsize=4)
def _read(
    table: str, table_stamp: tuple[int, int], plan: str, plan_stamp: tuple[int, int]
) -> tuple[pd.DataFrame, str]:
    # The stamps are part of the cache key: a results folder rewritten by `pceval analyse`
    # between two renders in the same kernel is read again.
    frame = pd.read_parquet(table)
    missing = [column for column in RESULT_COLUMNS if column not in frame.columns]
    if missing:
        raise ReportError(
            f"not a pceval result table: no column {', '.join(missing)}",
            file=table,
            fix="run `pceval analyse` again",
        )
    return frame, Path(plan).read_text(encoding="utf-8")
