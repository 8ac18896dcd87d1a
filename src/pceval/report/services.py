"""Service reports: ``reports/service.qmd`` rendered once per service.

Each service gets ``reports/service-<id>.<ext>`` in the evaluation's output folder, with the
``service`` parameter set to its id and ``results_dir`` to the evaluation's ``results/``. All
services are rendered in one Jupyter kernel (:func:`pceval.report.render.render_many`), which
re-runs the document with a new parameters cell for each service; the result tables are read
once for all of them (:func:`pceval.report.data.load_results`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pceval.errors import ReportError
from pceval.report.render import ReportFormat, render_many

if TYPE_CHECKING:
    from pceval.project import Project

__all__ = ["SERVICE_REPORT", "render_services"]

#: The service report's file in the reports folder.
SERVICE_REPORT = "service.qmd"


def render_services(
    project: Project, services: Sequence[str] | None = None, *, fmt: ReportFormat = "html"
) -> list[Path]:
    """Render the service report for some or all of an evaluation's services.

    Parameters
    ----------
    project : pceval.project.Project
        The evaluation (its ``pceval.yml`` lists the services).
    services : sequence of str, optional
        Service ids, e.g. ``["S01"]``; every service in ``pceval.yml`` when None.
    fmt : {"html", "docx", "pdf"}
        Output format.

    Returns
    -------
    list of Path
        One file per service, ``service-<id>.<ext>``, in the order asked for.

    Raises
    ------
    ReportError
        If a service id is not in ``pceval.yml``, the reports folder has no ``service.qmd``,
        there are no results yet, or rendering fails.

    Examples
    --------
    >>> from pceval.project import load_project  # doctest: +SKIP
    >>> render_services(load_project("my-evaluation"), ["S01"], fmt="pdf")  # doctest: +SKIP
    [PosixPath('my-evaluation/reports/service-S01.pdf')]
    """
    known = [service.id for service in project.config.services]
    chosen = list(known if services is None else services)
    unknown = [service for service in chosen if service not in known]
    if unknown:
        raise ReportError(
            f"no service {', '.join(map(repr, unknown))} in this evaluation "
            f"(its services: {', '.join(known)})",
            fix="use a service id listed under services in pceval.yml",
        )
    if not chosen:
        raise ReportError("no service to report on", fix="list the services in pceval.yml")
    if len(set(chosen)) != len(chosen):
        raise ReportError("a service is asked for twice", fix="name each service once")
    qmd = project.folder("reports") / SERVICE_REPORT
    if not qmd.is_file():
        raise ReportError(
            "the reports folder has no service report",
            file=qmd,
            fix=f"copy {SERVICE_REPORT} from pceval's default reports folder into it",
        )
    if not (project.results / "results.parquet").is_file():
        raise ReportError(
            "no results to report", file=project.results, fix="run `pceval analyse` first"
        )
    results_dir = str(project.results.resolve())
    return render_many(
        qmd,
        output_dir=project.reports_out,
        param_sets=[{"results_dir": results_dir, "service": service} for service in chosen],
        names=[f"service-{service}" for service in chosen],
        fmt=fmt,
    )
