"""``pceval code``: qualitative coding of open-text answers (export sheets, import codings)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

code_app = typer.Typer(
    help="Code open-text answers: export coding sheets for coders, import them back.",
    no_args_is_help=True)
out = Console(highlight=False)

DirArg = Annotated[Path, typer.Argument(help="The evaluation project folder.", show_default=False)]


def _coder_list(text: str | None) -> list[str] | None:
    if text is None:
        return None
    return [name.strip() for name in text.split(",") if name.strip()]


@code_app.command("export")
def export_cmd(
    root: DirArg,
    coders: Annotated[str | None, typer.Option(help="Coder names, comma-separated (default: coding.coders of pceval.yml).")] = None,
    double: Annotated[float | None, typer.Option(help="Share of segments coded by two coders (default: coding.double_share).")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of the assignment (default: coding.seed).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace workbooks in which coding has started.")] = False,
) -> None:
    """Write a coding workbook per coder (coding/sheets/) and the manifest of assignments,
    from the scrubbed free text of build/scored."""
    from pceval.code import export_sheets

    done = export_sheets(root, coders=_coder_list(coders), double_share=double, seed=seed, force=force)
    out.print(f"{done.segments} segments, {done.double_coded} double-coded (export {done.export_id})")
    for path in done.paths:
        out.print(str(path))


@code_app.command("import")
def import_cmd(
    root: DirArg,
    files: Annotated[list[Path] | None, typer.Argument(help="Filled workbooks (default: coding/sheets/*.xlsx).", show_default=False)] = None,
    n_boot: Annotated[int, typer.Option("--n-boot", min=0, help="Bootstrap resamples for the agreement intervals (0: none).")] = 1000,
) -> None:
    """Read filled coding workbooks (and the consensus workbook), then write codings,
    agreement, consensus audit, theme frequencies and the quote bank to coding/."""
    from pceval.code import import_sheets

    done = import_sheets(root, files or None, n_boot=n_boot)
    coders = done.codings["coder"].nunique() if len(done.codings) else 0
    segments = done.codings["segment_id"].nunique() if len(done.codings) else 0
    out.print(f"{len(done.files_read)} workbook(s) read: {segments} segments coded by {coders} coder(s)")
    overall = done.agreement[(done.agreement["code"] == "overall")
                             & (done.agreement["statistic"] == "krippendorff_alpha")]
    if len(overall):
        row = overall.iloc[0]
        out.print(f"agreement over {int(row['n_units'])} double-coded segment-codes: "
                  f"Krippendorff's alpha {float(row['estimate']):.3f}")
    if done.pending:
        out.print(f"{done.pending} disagreement(s) await adjudication: coding/sheets/consensus.xlsx")
    for path in done.paths:
        out.print(str(path))
