"""``pceval instruments``: check, export, import, diff and document instruments."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console
from rich.table import Table

from pceval.errors import InstrumentError

instruments_app = typer.Typer(
    help="Check, export, import, compare and document instruments.", no_args_is_help=True)
out = Console(highlight=False)

ExportFormat = Literal["xlsform", "redcap", "qualtrics", "script"]
ImportFormat = Literal["redcap", "xlsform"]


def _refs_to_paths(refs: list[str] | None) -> list[Path]:
    from pceval.instrument.load import _read_yaml, resolve_instrument_path
    from pceval.resources import default_path

    if refs:
        return [resolve_instrument_path(ref) for ref in refs]
    folder = default_path("instruments")
    return [p for p in sorted(folder.glob("*.yml")) if _read_yaml(p).get("kind") == "instrument"]


def _codebook_paths(refs: list[str] | None) -> list[Path]:
    """The thematic codebook(s) among ``refs``; the shipped one when no file is named."""
    from pceval.instrument.load import _read_yaml
    from pceval.resources import default_path

    if refs:
        return []
    folder = default_path("instruments")
    return [p for p in sorted(folder.glob("*.yml")) if _read_yaml(p).get("kind") == "thematic_codebook"]


@instruments_app.command("check")
def check_cmd(
    files: Annotated[list[str] | None, typer.Argument(help="Instrument files or ids (default: all shipped).")] = None,
) -> None:
    """Validate instruments: structure, then design checks (decline options, safety gate,
    identifiers in scales, domain coverage, unflagged identifiers); and the thematic codebook."""
    from pceval.instrument.checks import _kind, check_files

    paths = _refs_to_paths(files) + _codebook_paths(files)
    findings = check_files(paths)
    codebooks = [p for p in paths if _kind(p) == "thematic_codebook"]
    if len(findings):
        table = Table(show_edge=False)
        for column in ("severity", "code", "file", "item", "message"):
            table.add_column(column)
        for row in findings.itertuples(index=False):
            table.add_row(str(row.severity), str(row.code), Path(str(row.file)).name, str(row.item or ""),
                          str(row.message))
        out.print(table)
    errors = int((findings["severity"] == "error").sum()) if len(findings) else 0
    warnings = int((findings["severity"] == "warning").sum()) if len(findings) else 0
    books = f"{len(codebooks)} thematic codebook(s) and " if codebooks else ""
    out.print(f"{books}{len(paths) - len(codebooks)} instrument(s) checked: {errors} error(s), "
              f"{warnings} warning(s)")
    if errors:
        raise typer.Exit(1)


@instruments_app.command("export")
def export_cmd(
    instruments: Annotated[list[str] | None, typer.Argument(help="Ids or paths (default: all shipped).")] = None,
    fmt: Annotated[str, typer.Option("--format", help="xlsform, redcap, qualtrics or script.")] = "xlsform",
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write into.")] = Path("exports"),
    wave: Annotated[str | None, typer.Option(help="Only the items asked at this wave.")] = None,
) -> None:
    """Export instruments for a platform: XLSForm (.xlsx), REDCap data dictionary (.csv),
    Qualtrics Advanced Format (.txt) or a phone interview script (HTML and DOCX)."""
    from pceval.instrument import load_instrument

    if fmt not in ("xlsform", "redcap", "qualtrics", "script"):
        raise InstrumentError(f"unknown export format {fmt!r}", field="--format",
                              fix="use xlsform, redcap, qualtrics or script")
    written: list[Path] = []
    for path in _refs_to_paths(instruments):
        instrument = load_instrument(path)
        stem = instrument.id + (f"_{wave}" if wave else "")
        if fmt == "xlsform":
            from pceval.instrument.xlsform import export_xlsform

            written.append(export_xlsform(instrument, out_dir / f"{stem}.xlsx", wave=wave))
        elif fmt == "redcap":
            from pceval.instrument.redcap import export_redcap_dictionary

            written.append(export_redcap_dictionary(instrument, out_dir / f"{stem}_redcap_dictionary.csv"))
        elif fmt == "qualtrics":
            from pceval.instrument.qualtrics import export_qualtrics_txt

            written.append(export_qualtrics_txt(instrument, out_dir / f"{stem}_qualtrics.txt", wave=wave))
        else:
            from pceval.instrument.script import export_interview_script

            written.extend(export_interview_script(instrument, out_dir, wave=wave))
    for path in written:
        out.print(str(path))


@instruments_app.command("import")
def import_cmd(
    file: Annotated[Path, typer.Argument(help="A REDCap data dictionary (.csv) or an XLSForm (.xlsx).")],
    source: Annotated[str, typer.Option("--from", help="redcap or xlsform.")],
    out_file: Annotated[Path, typer.Option("--out", help="The instrument YAML to write.")],
) -> None:
    """Turn a REDCap data dictionary or an XLSForm into a pceval instrument (YAML)."""
    from pceval.instrument.dump import write_instrument

    if source == "redcap":
        from pceval.instrument.redcap import import_redcap_dictionary

        result = import_redcap_dictionary(file)
        messages = list(result.notes)
    elif source == "xlsform":
        from pceval.instrument.xlsform import import_xlsform

        result = import_xlsform(file)
        messages = list(result.messages)
    else:
        raise InstrumentError(f"unknown import format {source!r}", field="--from", fix="use redcap or xlsform")
    write_instrument(out_file, result.instrument,
                     header=f"Imported from {file.name} ({source}). Review the sensitivity of every item.")
    for message in messages:
        out.print(f"note: {message}")
    out.print(f"instrument written: {out_file}")


@instruments_app.command("diff")
def diff_cmd(
    old: Annotated[str, typer.Argument(help="The earlier version (id or path).")],
    new: Annotated[str, typer.Argument(help="The later version (id or path).")],
) -> None:
    """What changed between two versions of an instrument, with hints for harmonising data."""
    from pceval.instrument import load_instrument
    from pceval.instrument.diff import diff_instruments, format_diff

    changes = diff_instruments(load_instrument(old), load_instrument(new))
    out.print(format_diff(changes))


@instruments_app.command("codebook")
def codebook_cmd(
    instruments: Annotated[list[str] | None, typer.Argument(help="Ids or paths (default: all shipped).")] = None,
    out_file: Annotated[Path, typer.Option("--out", help="HTML file to write.")] = Path("codebook.html"),
) -> None:
    """Write an HTML codebook of items, types, choices, missing codes, domains and scales."""
    from pceval.instrument import load_catalogue, load_instrument
    from pceval.instrument.codebook import write_codebook

    loaded = [load_instrument(path) for path in _refs_to_paths(instruments)]
    path = write_codebook(out_file, loaded, catalogue=load_catalogue())
    out.print(f"codebook: {path}")
