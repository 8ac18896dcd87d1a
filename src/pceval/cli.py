"""The ``pceval`` command line.

Every command prints one line and exits non-zero on error (the file, row and field first);
``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from pceval.cli_code import code_app
from pceval.cli_instruments import instruments_app
from pceval.errors import PcevalError, ReportError

app = typer.Typer(
    name="pceval",
    help="Evaluate the partner contact work of men's behaviour change programs: synthetic "
         "data, build (ingest, clean, de-identify, score), analyse and report.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
key_app = typer.Typer(help="Manage the pseudonym key.", no_args_is_help=True)
app.add_typer(key_app, name="key")
app.add_typer(instruments_app, name="instruments")
app.add_typer(code_app, name="code")

console = Console(stderr=True, highlight=False)
out = Console(highlight=False)
_state = {"debug": False}

DirArg = Annotated[Path, typer.Argument(help="The evaluation project folder.", show_default=False)]


@app.callback()
def _main(debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False) -> None:
    _state["debug"] = debug


@contextmanager
def _stage(description: str, total: int) -> Iterator[Callable[[str], None]]:
    """A progress bar for a stage; advances once per step reported by the stage."""
    progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.fields[step]}"),
                        TimeElapsedColumn(), console=console, transient=False,
                        disable=not console.is_terminal)
    with progress:
        task = progress.add_task(description, total=total, step="")

        def step(name: str) -> None:
            progress.update(task, advance=1, step=name)

        yield step
        progress.update(task, completed=total, step="done")


def _project(root: Path):
    from pceval.project import load_project

    return load_project(root)


def _do_build(root: Path) -> None:
    from pceval.pipeline import build, build_steps

    project = _project(root)
    with _stage("build", build_steps(project)) as step:
        summary = build(project, step)
    table = Table(title="Build: rows accounted for", show_edge=False)
    for column in ("raw file", "rows in", "kept", "quarantined"):
        table.add_column(column, justify="right" if column != "raw file" else "left")
    for file, rows in summary.rows.items():
        table.add_row(file, str(rows["rows_in"]), str(rows["rows_kept"]), str(rows["rows_quarantined"]))
    out.print(table)
    out.print(f"{summary.issues} validation issues: {project.build / 'audit' / 'validation_report.html'}")
    for warning in summary.warnings:
        console.print(f"[yellow]warning[/yellow]: {warning}", soft_wrap=True)
    out.print(f"data quality: {project.build / 'data_quality.html'}")


def _do_analyse(root: Path) -> None:
    from pceval.pipeline import analyse

    project = _project(root)
    with _stage("analyse", 2) as step:
        results = analyse(project, step)
    out.print(f"{len(results)} questions answered: {project.results}")


def _do_report(root: Path, fmt: str = "html") -> Path:
    from pceval.pipeline import report, report_build

    project = _project(root)
    with _stage("report", 2) as step:
        path = report(project, fmt=fmt)
        step("evaluation report")
        for extra in report_build(project, fmt=fmt):
            out.print(f"report: {extra}", soft_wrap=True)
        step("codebook and data quality")
    return path


@app.command()
def init(root: DirArg) -> None:
    """Make a new evaluation project (pceval.yml, raw/, a pseudonym key in private/)."""
    from pceval.project import init_project

    project = init_project(root)
    out.print(f"evaluation project created: {project.root}")


@app.command()
def synth(
    root: DirArg,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same files.")] = 20260101,
    services: Annotated[int, typer.Option(help="Number of services.", min=1)] = 8,
    women: Annotated[int, typer.Option(help="Number of women identified.", min=10)] = 1500,
) -> None:
    """Write a synthetic evaluation project with realistic platform exports and known truth."""
    from pceval.synth import generate_evaluation

    with _stage("synth", 1) as step:
        summary = generate_evaluation(root, seed=seed, services=services, women=women)
        step("written")
    out.print(f"synthetic evaluation written: {Path(summary.root)}")


@app.command("build")
def build_cmd(root: DirArg) -> None:
    """Ingest, validate, clean, de-identify and score the raw exports into build/."""
    _do_build(root)


@app.command("clean")
def clean_cmd(
    file: Annotated[Path, typer.Argument(help="One platform export.", show_default=False)],
    instrument: Annotated[str, typer.Option(help="The instrument it follows: an id or a .yml path.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the outputs (a build/ is written there).")],
    platform: Annotated[str, typer.Option(help="auto, redcap, kobo, odk, qualtrics, spss, stata, excel, csv or parquet.")] = "auto",
    key_file: Annotated[Path | None, typer.Option(help="Pseudonym key file (else the PCEVAL_KEY variable).")] = None,
) -> None:
    """Ingest, validate, clean and de-identify one export against one instrument, with the same
    outputs as a build."""
    from pceval.pipeline import clean_export

    from pceval.pipeline import BUILD_STEPS_PER_SOURCE, BUILD_STEPS_FIXED

    with _stage("clean", BUILD_STEPS_PER_SOURCE + BUILD_STEPS_FIXED) as step:
        summary = clean_export(file, instrument, out_dir=out_dir, platform=platform, key_file=key_file,
                               step=step)
    for name, rows in summary.rows.items():
        out.print(f"{Path(name).name}: {rows['rows_in']} rows in, {rows['rows_kept']} kept, "
                  f"{rows['rows_quarantined']} quarantined")
    out.print(f"outputs: {Path(out_dir) / 'build'}")


@app.command("analyse")
def analyse_cmd(root: DirArg) -> None:
    """Run the evaluation plan on build/ and write results/ (disclosure control applied)."""
    _do_analyse(root)


@app.command("analyze", hidden=False)
def analyze_cmd(root: DirArg) -> None:
    """Same as analyse."""
    _do_analyse(root)


@app.command("report")
def report_cmd(
    root: DirArg,
    fmt: Annotated[str, typer.Option("--format", help="Output format: html, docx or pdf.")] = "html",
    service: Annotated[list[str] | None, typer.Option(
        "--service", metavar="ID", help="Render the service report for this service (repeatable).")] = None,
    all_services: Annotated[bool, typer.Option(
        "--all-services", help="Render the service report for every service in pceval.yml.")] = False,
) -> None:
    """Render the evaluation report (or service reports) from results/ into reports/."""
    if service and all_services:
        raise ReportError("--service and --all-services cannot be used together",
                          fix="name services with --service, or use --all-services alone")
    if service or all_services:
        from pceval.report.services import render_services

        project = _project(root)
        chosen = None if all_services else service
        with _stage("service reports", 1) as step:
            paths = render_services(project, chosen, fmt=fmt)  # type: ignore[arg-type]
            step("rendered")
        for path in paths:
            out.print(f"report: {path}", soft_wrap=True)
        return
    path = _do_report(root, fmt)
    out.print(f"report: {path}")


@app.command("run")
def run_cmd(
    root: DirArg,
    fmt: Annotated[str, typer.Option("--format", help="Output format: html, docx or pdf.")] = "html",
    services: Annotated[bool, typer.Option(
        "--services/--no-services", help="Also render one report per service.")] = True,
) -> None:
    """Build, analyse and report: the evaluation report and, by default, one report per service."""
    _do_build(root)
    _do_analyse(root)
    path = _do_report(root, fmt)
    out.print(f"report: {path}")
    if services:
        from pceval.report.services import render_services

        project = _project(root)
        with _stage("service reports", 1) as step:
            paths = render_services(project, None, fmt=fmt)  # type: ignore[arg-type]
            step("rendered")
        for service_path in paths:
            out.print(f"report: {service_path}", soft_wrap=True)


@app.command()
def demo(
    out_dir: Annotated[Path, typer.Option("--out", help="Where to write the demo evaluation.")] = Path("pceval-demo"),
    seed: Annotated[int, typer.Option(help="Random seed.")] = 20260101,
) -> None:
    """Synthesise an evaluation and run every stage on it, ending with a rendered report."""
    from pceval.synth import generate_evaluation

    start = time.perf_counter()
    with _stage("synth", 1) as step:
        generate_evaluation(out_dir, seed=seed)
        step("written")
    _do_build(out_dir)
    _do_analyse(out_dir)
    path = _do_report(out_dir)
    console.print(f"demo finished in {time.perf_counter() - start:.1f} s")
    out.print(f"report: {path.resolve()}")


@key_app.command("new")
def key_new(
    path: Annotated[Path, typer.Option("--out", help="Key file to create (mode 0600).")],
) -> None:
    """Create a new random pseudonym key file. Keep it out of every shared folder."""
    from pceval.privacy.pseudonym import write_key_file

    write_key_file(path)
    out.print(f"key written: {path} (set privacy.key_file in pceval.yml, or the PCEVAL_KEY variable)")


def main() -> None:
    """Entry point: run the app, turning pceval's errors into one line and an exit code."""
    debug = "--debug" in sys.argv[1:]
    try:
        app(standalone_mode=False)
    except PcevalError as exc:
        if debug:
            raise
        # a message may quote a header or a cell, which must print as written, not as markup
        console.print(f"[red]error[/red] {exc.code}: {escape(str(exc))}", soft_wrap=True)
        sys.exit(1)
    except (typer.Abort, KeyboardInterrupt):
        console.print("aborted")
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:  # click usage errors and anything unexpected
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if debug:
            raise
        console.print(f"[red]internal error[/red]: {type(exc).__name__}: {escape(str(exc))} "
                      "(run again with --debug for the traceback)", soft_wrap=True)
        sys.exit(2)
