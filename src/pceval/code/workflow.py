"""The coding workflow of an evaluation project: export coding sheets, import them back.

```
my-evaluation/coding/
  export.json            the export: id, codebook and version, coders, double share, seed
  manifest.csv           one row per segment and coder it is assigned to
  sheets/coding_<coder>.xlsx   each coder's workbook (instructions, codebook, coding sheet)
  sheets/consensus.xlsx  the disagreements of double-coded segments, for adjudication
  codings.parquet        long codings: segment_id, coder, code, value
  agreement.csv          agreement per code and overall on the double-coded segments
  consensus_audit.csv    every decision: segment, code, coder values, decision, value, rule
  theme_frequencies.csv  respondents raising each theme, by type, service and wave (suppressed)
  quote_bank.csv         quotes for themes raised by enough respondents (when switched on)
```

Text comes only from ``build/scored`` (scrubbed, de-identified); the staged zone is never
read. An import checks every workbook before writing anything: a problem is one line naming the
file, row and field, and the previous outputs stay as they were.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from pceval.beside import beside
from pceval.code.assign import assign_segments
from pceval.code.consensus import CONSENSUS_RULE, consensus
from pceval.code.frequencies import theme_frequencies
from pceval.code.quotes import QUOTE_CONSENT_NEEDED, quote_bank
from pceval.code.reliability import coding_agreement
from pceval.code.segments import free_text_items, text_segments
from pceval.code.sheets import (
    CODING_SHEET,
    read_coding_workbook,
    read_consensus_workbook,
    write_coding_workbook,
    write_consensus_workbook,
)
from pceval.errors import ConfigError, DataError
from pceval.instrument import Instrument, load_instrument
from pceval.instrument.themes import CODEBOOK_FILE, ThematicCodebook, load_thematic_codebook
from pceval.io import sha256_file, write_bytes, write_csv, write_json, write_parquet
from pceval.outputs.csvsafe import neutralise_column
from pceval.project import Project, load_project

__all__ = [
    "MANIFEST_COLUMNS",
    "CodingExport",
    "CodingImport",
    "coding_folder",
    "export_sheets",
    "import_sheets",
    "project_codebook",
    "write_coding_sheets",
]

#: Columns of ``coding/manifest.csv``.
MANIFEST_COLUMNS = ("segment_id", "instrument", "item", "respondent", "coder", "double", "sheet")
CONSENSUS_FILE = "consensus.xlsx"
#: Segments from which coders' workbooks are written by two processes at once: below it,
#: forking costs more than it saves.
BESIDE_SEGMENTS = 20_000


@dataclass(frozen=True)
class CodingExport:
    """What :func:`export_sheets` wrote.

    Attributes
    ----------
    export_id : str
        Identifies this export; each workbook carries it.
    manifest : DataFrame
        The assignments (:data:`MANIFEST_COLUMNS`).
    paths : tuple of Path
        Files written: the workbooks, ``manifest.csv`` and ``export.json``.
    """

    export_id: str
    manifest: pd.DataFrame
    paths: tuple[Path, ...]

    @property
    def segments(self) -> int:
        return int(self.manifest["segment_id"].nunique())

    @property
    def double_coded(self) -> int:
        return int(self.manifest.loc[self.manifest["double"], "segment_id"].nunique())


@dataclass(frozen=True)
class CodingImport:
    """What :func:`import_sheets` read and wrote; each frame is also a file in ``coding/``."""

    codings: pd.DataFrame
    agreement: pd.DataFrame
    audit: pd.DataFrame
    frequencies: pd.DataFrame
    quotes: pd.DataFrame | None
    paths: tuple[Path, ...]
    files_read: tuple[Path, ...] = field(default=())

    @property
    def pending(self) -> int:
        """Disagreements still awaiting adjudication."""
        return int((self.audit["decision"] == "pending").sum())


def _write_table(path: Path, frame: pd.DataFrame) -> Path:
    """A CSV an evaluator may open in a spreadsheet: text cells cannot become formulas."""
    safe = frame.copy()
    for column in safe.columns:
        if pd.api.types.is_string_dtype(safe[column].dtype) or safe[column].dtype == object:
            safe[column] = neutralise_column(safe[column])
    return write_csv(path, safe)


def _as_project(project: Project | str | Path) -> Project:
    return project if isinstance(project, Project) else load_project(project)


def coding_folder(project: Project | str | Path) -> Path:
    """``coding/`` of an evaluation project."""
    return _as_project(project).root / "coding"


def project_codebook(project: Project | str | Path) -> ThematicCodebook:
    """The project's thematic codebook: ``themes.yml`` of its instruments folder, else the
    shipped one.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from pceval.project import init_project
    >>> project_codebook(init_project(pathlib.Path(tempfile.mkdtemp()) / "ev")).id
    'themes'
    """
    project = _as_project(project)
    own = project.folder("instruments") / CODEBOOK_FILE
    return load_thematic_codebook(own if own.exists() else None)


def _instruments(project: Project) -> dict[str, Instrument]:
    folder = project.folder("instruments")
    out: dict[str, Instrument] = {}
    for source in project.config.sources:
        inst = load_instrument(source.instrument, search=folder)
        out[inst.id] = inst
    return out


def _scored(project: Project, instruments: Mapping[str, Instrument]) -> dict[str, pd.DataFrame]:
    """Scored frames of the instruments with free text (the only zone text is read from)."""
    wanted = sorted({inst_id for inst_id, _ in free_text_items(instruments)})
    out = {}
    for inst_id in wanted:
        path = project.build / "scored" / f"{inst_id}.parquet"
        if not path.exists():
            raise DataError("scored data not found", file=path, fix="run `pceval build` first")
        out[inst_id] = pd.read_parquet(path)
    return out


def _export_id(manifest_csv: bytes, codebook: ThematicCodebook) -> str:
    digest = hashlib.sha256()
    digest.update(f"{codebook.id}\n{codebook.version}\n".encode())
    digest.update(manifest_csv)
    return digest.hexdigest()[:16]


def _sheet_name(coder: str) -> str:
    return f"coding_{coder}.xlsx"


def _holds_codings(path: Path) -> bool:
    """Whether a coding workbook has anything entered in its ``done`` or code cells."""
    from openpyxl import load_workbook

    try:
        wb = load_workbook(io.BytesIO(path.read_bytes()), read_only=True)
        ws = wb[CODING_SHEET]
    except Exception:  # noqa: BLE001 - an unreadable file is not overwritten unasked
        return True
    try:
        for values in ws.iter_rows(min_row=2, min_col=4, values_only=True):
            if any(v is not None and str(v).strip() != "" for v in values):
                return True
        return False
    finally:
        wb.close()


def _assignments(segments: pd.DataFrame, coders: Sequence[str], double_share: float,
                 seed: int) -> pd.DataFrame:
    assigned = assign_segments(segments["segment_id"], coders, double_share=double_share, seed=seed)
    manifest = assigned.merge(segments[["segment_id", "instrument", "item", "respondent"]],
                              on="segment_id", how="left")
    manifest["sheet"] = manifest["coder"].map(_sheet_name).astype("string")
    return manifest.loc[:, list(MANIFEST_COLUMNS)]


def _write_export(project: Project, segments: pd.DataFrame, codebook: ThematicCodebook, *,
                  coders: Sequence[str], double_share: float, seed: int) -> CodingExport:
    folder = coding_folder(project)
    sheets = folder / "sheets"
    manifest = _assignments(segments, coders, double_share, seed)
    # the manifest's CSV made once: its bytes identify the export and are the file written
    manifest_csv = manifest.to_csv(index=False, lineterminator="\n").encode("utf-8")
    export_id = _export_id(manifest_csv, codebook)
    text = segments.set_index("segment_id")

    def workbooks(names: Sequence[str]) -> list[Path]:
        written = []
        for coder in names:
            mine = manifest.loc[manifest["coder"] == coder, "segment_id"]
            # a coder's rows in a random but repeatable order, so instruments and waves are mixed
            order = mine.sample(frac=1.0, random_state=_hash_int(f"{seed}:{coder}") % (2**32))
            rows = text.loc[order.to_numpy(), ["respondent", "text"]].reset_index()
            about = {"kind": "coding", "coder": coder, "export_id": export_id,
                     "codebook": codebook.id, "codebook_version": codebook.version}
            written.append(write_coding_workbook(sheets / _sheet_name(coder), coder=coder,
                                                 segments=rows, codebook=codebook, about=about))
        return written

    # every other coder's workbook is written by a second process
    with beside(lambda: workbooks(coders[1::2]),
                fork=len(coders) > 1 and len(segments) >= BESIDE_SEGMENTS) as others:
        mine = workbooks(coders[0::2])
        theirs = others.result()
    by_name = {p.name: p for p in mine + theirs}
    paths: list[Path] = [by_name[_sheet_name(coder)] for coder in coders]
    # workbooks of coders no longer assigned, and the consensus of an earlier export, would be
    # read back by the next import: they go
    for stale in sorted(sheets.glob("coding_*.xlsx")):
        if stale not in paths:
            stale.unlink()
    (sheets / CONSENSUS_FILE).unlink(missing_ok=True)
    paths.append(write_bytes(folder / "manifest.csv", manifest_csv))
    paths.append(write_json(folder / "export.json", {
        "export_id": export_id, "codebook": codebook.id, "codebook_version": codebook.version,
        "coders": list(coders), "double_share": double_share, "seed": seed,
        "segments": int(segments["segment_id"].nunique()),
        "double_coded": int(manifest.loc[manifest["double"], "segment_id"].nunique()),
        "consensus_rule": CONSENSUS_RULE,
        "sheet_sha256": {p.name: sha256_file(p) for p in paths if p.suffix == ".xlsx"},
    }))
    return CodingExport(export_id=export_id, manifest=manifest, paths=tuple(paths))


def _hash_int(text: str) -> int:
    """A stable integer from text (Python's ``hash`` changes between runs)."""
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")


def _written_hashes(project: Project) -> dict[str, str]:
    """The SHA-256 of each workbook as the last export wrote it (from ``export.json``)."""
    path = coding_folder(project) / "export.json"
    try:
        hashes = json.loads(path.read_text(encoding="utf-8")).get("sheet_sha256", {})
    except (OSError, ValueError, AttributeError):
        return {}
    return hashes if isinstance(hashes, dict) else {}


def _started(project: Project) -> list[Path]:
    sheets = coding_folder(project) / "sheets"
    written = _written_hashes(project)
    # a workbook with the bytes the export wrote holds nothing new: no need to read every cell
    return [p for p in sorted(sheets.glob("coding_*.xlsx"))
            if written.get(p.name) != sha256_file(p) and _holds_codings(p)]


def export_sheets(project: Project | str | Path, *, coders: Sequence[str] | None = None,
                  double_share: float | None = None, seed: int | None = None,
                  force: bool = False) -> CodingExport:
    """Write each coder's coding workbook and the manifest of assignments.

    Parameters
    ----------
    project : Project, str or Path
        The evaluation project (built: text is read from ``build/scored``).
    coders : sequence of str, optional
        Coder names; ``coding.coders`` of ``pceval.yml`` by default.
    double_share : float, optional
        Share of segments coded by two coders; ``coding.double_share`` by default.
    seed : int, optional
        Seed of the assignment; ``coding.seed`` by default.
    force : bool
        Replace workbooks that already hold codings (they are lost unless imported).

    Returns
    -------
    CodingExport

    Raises
    ------
    DataError
        No scored data, or (without ``force``) a workbook in ``coding/sheets`` already holds
        codings.
    ConfigError
        Bad coder names or share.

    Examples
    --------
    An evaluation with only the worker survey, and its scored data written by hand:

    >>> import tempfile, pathlib
    >>> from pceval.io import write_parquet
    >>> from pceval.project import init_project, write_config
    >>> root = pathlib.Path(tempfile.mkdtemp()) / "ev"
    >>> project = init_project(root)
    >>> workers = [s for s in project.config.sources if s.instrument == "worker_survey"]
    >>> _ = write_config(root, project.config.model_copy(update={"sources": tuple(workers)}))
    >>> _ = write_parquet(root / "build" / "scored" / "worker_survey.parquet", pd.DataFrame(
    ...     {"response_id": ["Pa", "Pb", "Pc"], "service_id": ["S01"] * 3,
    ...      "comments": ["More hours.", "Better links.", None]}))
    >>> done = export_sheets(root, coders=["A", "B"], double_share=0.5, seed=1)
    >>> done.segments, done.double_coded, [p.name for p in done.paths]
    (2, 1, ['coding_A.xlsx', 'coding_B.xlsx', 'manifest.csv', 'export.json'])
    """
    project = _as_project(project)
    settings = project.config.coding
    coders = tuple(coders) if coders is not None else settings.coders
    double_share = settings.double_share if double_share is None else double_share
    seed = settings.seed if seed is None else seed
    _check_settings(project, coders, double_share)
    if not force:
        started = _started(project)
        if started:
            raise DataError("this workbook already holds codings; exporting again would replace it",
                            file=started[0], fix="import it first (`pceval code import`), or export "
                            "with --force to start again")
    instruments = _instruments(project)
    segments = text_segments(_scored(project, instruments), instruments)
    return _write_export(project, segments, project_codebook(project), coders=coders,
                         double_share=double_share, seed=seed)


def _check_settings(project: Project, coders: Sequence[str], double_share: float) -> None:
    from pydantic import ValidationError

    from pceval.project import Coding

    try:
        Coding(coders=tuple(coders), double_share=double_share)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise ConfigError(first["msg"].removeprefix("Value error, "),
                          file=project.root / "pceval.yml",
                          field=f"coding.{loc}" if loc else "coding",
                          fix="coder names are letters, digits, - and _ (starting with a letter), "
                              "each once; the double-coded share is from 0 to 1") from None


def write_coding_sheets(project: Project, scored_frames: Mapping[str, pd.DataFrame],
                        instruments: Mapping[str, Instrument]) -> list[Path]:
    """Write the coding workbooks as part of a build, from the frames it has just scored.

    Uses ``coding`` of ``pceval.yml``. Workbooks in which coding has started are never
    replaced: then nothing is written and the list is empty (``pceval code export --force``
    starts again).

    Parameters
    ----------
    project : Project
        The evaluation project.
    scored_frames : mapping of str to DataFrame
        The scored (de-identified, scrubbed) frames, keyed by instrument id.
    instruments : mapping of str to Instrument
        The instruments, keyed by id.

    Returns
    -------
    list of Path
        The workbooks, ``coding/manifest.csv`` and ``coding/export.json``; empty when there is
        no free text or coding has started.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from pceval.instrument import load_instrument
    >>> from pceval.project import init_project
    >>> project = init_project(pathlib.Path(tempfile.mkdtemp()) / "ev")
    >>> inst = load_instrument("worker_survey")
    >>> frame = pd.DataFrame({"response_id": ["Pa", "Pb"], "service_id": ["S01", "S01"],
    ...                       "comments": ["More hours.", "Better links."]})
    >>> [p.name for p in write_coding_sheets(project, {"worker_survey": frame},
    ...                                      {"worker_survey": inst})]
    ['coding_coder1.xlsx', 'coding_coder2.xlsx', 'manifest.csv', 'export.json']
    """
    settings = project.config.coding
    if _started(project):
        return []
    segments = text_segments(scored_frames, instruments)
    if not len(segments):
        return []
    done = _write_export(project, segments, project_codebook(project), coders=settings.coders,
                         double_share=settings.double_share, seed=settings.seed)
    return list(done.paths)


# --- import ---------------------------------------------------------------------------------


def _read_export(project: Project) -> tuple[dict, pd.DataFrame]:
    folder = coding_folder(project)
    info_path, manifest_path = folder / "export.json", folder / "manifest.csv"
    for path in (info_path, manifest_path):
        if not path.exists():
            raise DataError("no coding export here", file=path,
                            fix="run `pceval code export` first")
    info = json.loads(info_path.read_text(encoding="utf-8"))
    manifest = pd.read_csv(manifest_path, dtype="string", keep_default_na=False)
    manifest["double"] = manifest["double"].map({"True": True, "False": False}).astype(bool)
    return info, manifest


def _coding_files(project: Project, files: Iterable[str | Path] | None) -> list[Path]:
    if files:
        return [Path(f) for f in files]
    sheets = coding_folder(project) / "sheets"
    found = sorted(sheets.glob("coding_*.xlsx"))
    if (sheets / CONSENSUS_FILE).exists():
        found.append(sheets / CONSENSUS_FILE)
    return found


def _kind_of(path: Path) -> str:
    from pceval.code.sheets import _about, _open

    wb = _open(path)
    try:
        return _about(wb, path).get("kind", "coding")
    finally:
        wb.close()


def _consented(project: Project, scored: Mapping[str, pd.DataFrame],
               instruments: Mapping[str, Instrument], segments: pd.DataFrame) -> set[str]:
    """Segments whose author consented to be quoted (``coding.quote_consent``)."""
    from pceval.code.segments import WAVE_COLUMN, segment_id

    allowed = set(segments.loc[~segments["respondent"].isin(QUOTE_CONSENT_NEEDED), "segment_id"])
    for inst_id, item_id in project.config.coding.quote_consent.items():
        inst = instruments.get(inst_id)
        if inst is None or item_id not in {i.id for i in inst.items}:
            raise ConfigError(f"quote consent item {inst_id}.{item_id} is not an item of this "
                              "evaluation's instruments", file=project.root / "pceval.yml",
                              field=f"coding.quote_consent.{inst_id}",
                              fix="name the item that records consent to be quoted")
        frame = scored.get(inst_id)
        if frame is None or item_id not in frame.columns:
            continue
        yes = pd.to_numeric(frame[item_id], errors="coerce") == 1
        rows = frame.loc[yes.fillna(False)]
        waves = rows[WAVE_COLUMN] if inst.waves and WAVE_COLUMN in rows else pd.Series(pd.NA, index=rows.index)
        for _, text_item in free_text_items({inst_id: inst}):
            for response, wave in zip(rows["response_id"], waves, strict=True):
                allowed.add(segment_id(inst_id, str(response), None if pd.isna(wave) else str(wave),
                                       text_item))
    return allowed


def import_sheets(project: Project | str | Path, files: Iterable[str | Path] | None = None, *,
                  n_boot: int = 1000) -> CodingImport:
    """Read filled coding workbooks (and the consensus workbook), check them, and write the
    codings, agreement, consensus, theme frequencies and quote bank.

    Parameters
    ----------
    project : Project, str or Path
        The evaluation project, with a coding export (``coding/manifest.csv``).
    files : iterable of paths, optional
        The workbooks to read; by default every ``coding/sheets/coding_*.xlsx`` and
        ``coding/sheets/consensus.xlsx``. A consensus workbook is recognised by its content.
    n_boot : int
        Bootstrap resamples for the agreement intervals (0: no intervals).

    Returns
    -------
    CodingImport

    Raises
    ------
    DataError
        One line naming the file, row and field: unknown code column, value not 0/1/blank,
        segment not in the manifest, a row from another coder's workbook, a workbook of an
        unknown coder or of another export, two workbooks of one coder, a repeated row. Nothing
        is written when any workbook has a problem.

    Notes
    -----
    Consensus follows :data:`pceval.code.consensus.CONSENSUS_RULE`. Agreement is computed on
    the segments coded by two coders, per code and overall. Codings of segments no longer in
    the scored data (a woman who withdrew) are dropped.
    """
    project = _as_project(project)
    info, manifest = _read_export(project)
    codebook = project_codebook(project)
    if (codebook.id, codebook.version) != (info.get("codebook"), info.get("codebook_version")):
        raise DataError(f"the sheets were written with codebook {info.get('codebook')} "
                        f"{info.get('codebook_version')}, the project now has {codebook.id} "
                        f"{codebook.version}", file=coding_folder(project) / "export.json",
                        field="codebook_version", fix="export the sheets again with the new codebook")
    export_id = info["export_id"]
    paths = _coding_files(project, files)
    coders = set(manifest["coder"])
    parts, by_coder, decisions_files = [], {}, []
    for path in paths:
        if _kind_of(path) == "consensus":
            decisions_files.append(path)
            continue
        about, rows = read_coding_workbook(path, codebook=codebook, manifest=manifest,
                                           export_id=export_id)
        coder = about["coder"]
        named = path.stem.removeprefix("coding_") if path.stem.startswith("coding_") else None
        if named in coders and named != coder:
            raise DataError(f"the file is named for coder {named} but holds the workbook of coder "
                            f"{coder}", file=path, field="about.coder",
                            fix=f"return {named}'s own workbook")
        if coder in by_coder:
            raise DataError(f"a second workbook of coder {coder} (the first is {by_coder[coder]})",
                            file=path, field="about.coder", fix="import one workbook per coder")
        by_coder[coder] = path
        parts.append(rows.assign(coder=coder))
    codings = (pd.concat(parts, ignore_index=True) if parts
               else pd.DataFrame(columns=["segment_id", "respondent", "code", "value", "row", "coder"]))
    instruments = _instruments(project)
    scored = _scored(project, instruments)
    segments = text_segments(scored, instruments)
    codings = codings[codings["segment_id"].isin(set(segments["segment_id"]))]
    codings = codings.loc[:, ["segment_id", "coder", "code", "value"]].astype(
        {"segment_id": "string", "coder": "string", "code": "string", "value": "int64"})
    codings = codings.sort_values(["segment_id", "coder", "code"], kind="stable").reset_index(drop=True)

    decisions = None
    known = set(manifest["segment_id"])
    for path in decisions_files:
        about, read = read_consensus_workbook(path)
        if about.get("export_id") != export_id:
            raise DataError("the consensus workbook belongs to another export", file=path,
                            field="about.export_id", fix="adjudicate the workbook of the current export")
        for seg, code, _, row in read.itertuples(index=False):
            if seg not in known:
                raise DataError(f"segment {seg} is not in the manifest", file=path, row=row,
                                field="segment_id", fix="restore the segment id the import wrote")
            if code not in codebook.ids:
                raise DataError(f"unknown code {code!r}", file=path, row=row, field="code",
                                fix="restore the code the import wrote")
        decisions = read if decisions is None else pd.concat([decisions, read], ignore_index=True)
    if decisions is not None and decisions.duplicated(["segment_id", "code"]).any():
        raise DataError("two consensus workbooks decide the same segment and code",
                        file=decisions_files[-1], fix="import one consensus workbook")

    agreement = coding_agreement(codings, n_boot=n_boot)
    audit = consensus(codings, decisions=decisions)
    privacy = project.config.privacy
    frequencies = theme_frequencies(audit, segments, codebook, min_cell=privacy.min_cell,
                                    min_denominator=privacy.min_denominator,
                                    min_service_n=privacy.min_service_n, strict=privacy.strict)
    settings = project.config.coding
    quotes = None
    if settings.quote_bank:
        quotes = quote_bank(audit, segments, codebook,
                            min_n=max(settings.min_n, privacy.effective_min_cell),
                            consented=_consented(project, scored, instruments, segments))

    # everything is checked and computed: now write
    folder = coding_folder(project)
    written = [
        write_parquet(folder / "codings.parquet", codings),
        _write_table(folder / "agreement.csv", agreement),
        _write_table(folder / "consensus_audit.csv", audit),
        _write_table(folder / "theme_frequencies.csv", frequencies),
    ]
    if quotes is not None:
        written.append(_write_table(folder / "quote_bank.csv", quotes))
    disputed = audit[audit["rule"].isin(["awaiting_adjudication", "adjudicated"])]
    consensus_path = folder / "sheets" / CONSENSUS_FILE
    if len(disputed):
        labels = {c.id: c.label for c in codebook.codes}
        sheet = disputed.merge(segments[["segment_id", "respondent", "text"]], on="segment_id",
                               how="left")
        sheet = sheet.assign(label=sheet["code"].map(labels),
                             decision=sheet["value"].where(sheet["rule"] == "adjudicated"))
        written.append(write_consensus_workbook(consensus_path, sheet,
                                                about={"kind": "consensus", "export_id": export_id}))
    else:
        consensus_path.unlink(missing_ok=True)
    return CodingImport(codings=codings, agreement=agreement, audit=audit, frequencies=frequencies,
                        quotes=quotes, paths=tuple(written), files_read=tuple(paths))
