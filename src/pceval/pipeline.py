"""The data zones as stages, each with one entry point.

``build`` = ingest → validate + clean → de-identify → score, writing under ``build/``;
``analyse`` runs the evaluation plan on ``build/scored`` and writes ``results/``;
``report`` renders the Quarto reports from ``results/`` into ``reports/``.

Zone rules: ``raw/`` is only read (and hashed); ``build/staged/`` is the only place
identifiable data is written; everything is written atomically, so an interrupted run leaves
the previous outputs in place; nothing depends on the clock or on hash order, so the same raw
files, plan, configuration and key give byte-identical outputs.

A build is atomic as a whole, not only file by file: it writes a complete new ``build/`` in a
hidden folder beside it (``.build-next/``, its ``staged/`` the private zone of the build in
progress) and puts it in place in one step when everything, the manifest last, is written.
``build/`` is therefore always one complete build, its manifest true of its files, however
the run ends; the next build deletes what a stopped one left.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from pceval import __version__
from pceval.beside import beside
from pceval.clean import (
    AUDIT_COLUMNS,
    ISSUE_COLUMNS,
    MISSING_COLUMNS,
    QUARANTINE_COLUMNS,
    CleanResult,
    clean_staged,
)
from pceval.clean.quality import quality_tables, write_quality_report, write_validation_report
from pceval.code import write_coding_sheets
from pceval.errors import ConfigError, DataError
from pceval.ingest import IngestResult, read_export
from pceval.instrument import Instrument, load_catalogue, load_instrument
from pceval.instrument.codebook import write_codebook
from pceval.instrument.model import Role
from pceval.io import (
    BackgroundWriter,
    copy_file,
    recover_directory,
    replace_directory,
    sha256_file,
    sync_tree,
    write_csv,
    write_json,
    write_parquet,
)
from pceval.memory import returning_allocator
from pceval.privacy.deidentify import PERSON_KEY, Deidentified, deidentify, identifier_names
from pceval.outputs import write_datapackage, write_dta, write_sav
from pceval.outputs.missing_codes import part_for, split_by_instrument
from pceval.privacy.kanon import check_k_anonymity, generalise, k_anonymity_warnings
from pceval.privacy.pseudonym import load_key
from pceval.privacy.scrub import Scrubber
from pceval.project import Project
from pceval.results import RESULT_COLUMNS
from pceval.score.dex import write_dex_export
from pceval.score.psychometrics import scale_reliability
from pceval.score import CHANGE_COLUMNS, score_change, score_dex, score_domains, score_scales

try:
    import fcntl
except ImportError:  # Windows: no advisory locks on folders, builds are not locked there
    fcntl = None

Step = Callable[[str], None]
# progress steps of a build: ingest, clean, de-identify per source; score, shareable, quality
BUILD_STEPS_PER_SOURCE = 3
BUILD_STEPS_FIXED = 3


def _noop(_: str) -> None:
    return None


@dataclass
class BuildSummary:
    """Row accounting and outputs of one build (rows in = kept + quarantined, per file)."""

    rows: dict[str, dict[str, int]] = field(default_factory=dict)
    outputs: list[Path] = field(default_factory=list)
    issues: int = 0
    warnings: list[str] = field(default_factory=list)


def source_instruments(project: Project) -> dict[str, Instrument]:
    """The instrument of each raw file (keyed by the file as listed in ``pceval.yml``).

    A source names its instrument by id (looked up in the project's instruments folder, then
    in the shipped ones) or by path.
    """
    folder = project.folder("instruments")
    cache: dict[str, Instrument] = {}
    out: dict[str, Instrument] = {}
    for source in project.config.sources:
        if source.instrument not in cache:
            cache[source.instrument] = load_instrument(source.instrument, search=folder)
        out[source.file] = cache[source.instrument]
    ids = [i.id for i in out.values()]
    duplicated = sorted({i for i in ids if ids.count(i) > 1})
    if duplicated:
        raise ConfigError(f"instrument {duplicated[0]} is listed for two raw files; combine the exports first",
                          file=project.root / "pceval.yml", field="sources")
    return out


def load_instruments_for(project: Project) -> dict[str, Instrument]:
    """The project's instruments keyed by instrument id."""
    return {inst.id: inst for inst in source_instruments(project).values()}


def build_steps(project: Project) -> int:
    """Number of progress steps :func:`build` reports."""
    return BUILD_STEPS_PER_SOURCE * len(project.config.sources) + BUILD_STEPS_FIXED


# Stage 1: ingest ---------------------------------------------------------------------------

def ingest(project: Project, instruments: dict[str, Instrument], step: Step = _noop, *,
           writer: BackgroundWriter | None = None) -> dict[str, IngestResult]:
    """Read every raw export into the staged zone (``build/staged/``, private).

    With a ``writer`` the staged files are written by its thread while the build goes on.
    """
    staged: dict[str, IngestResult] = {}
    for source in project.config.sources:
        path = project.source_path(source)
        if not path.exists():
            raise DataError("raw export listed in pceval.yml not found", file=source.file,
                            fix="put the export there or correct sources in pceval.yml")
        result = read_export(path, instrument=instruments[source.file],
                             platform=source.platform, events=source.events or None,
                             delimiter=source.delimiter, encoding=source.encoding)
        # shallow: pandas copies a column only when it is written (the export read is gigabytes)
        frame = result.frame.copy(deep=False)
        frame["_file"] = source.file
        if instruments[source.file].waves and not source.events:
            frame["_wave"] = infer_waves(frame["_event"], instruments[source.file].waves, frame["_wave"])
        staged[source.file] = dataclasses.replace(result, frame=frame, file=source.file)
        _write_staged(project.staged / f"{instruments[source.file].id}.parquet", frame, writer)
        step(f"ingest {source.file}")
    return staged


def infer_waves(events: pd.Series, waves: tuple[str, ...], current: pd.Series) -> pd.Series:
    """Waves from REDCap event names when ``pceval.yml`` gives no mapping.

    An event's unique name is its label in lower case with ``_arm_N`` appended, so
    ``followup_arm_1`` is the wave ``followup``; events that match no wave stay unmapped and
    their rows are quarantined as ``unknown_wave``.

    Examples
    --------
    >>> infer_waves(pd.Series(["baseline_arm_1", "follow_up_arm_2", None]), ("baseline", "follow_up"),
    ...             pd.Series([None] * 3, dtype="string")).tolist()
    ['baseline', 'follow_up', <NA>]
    """
    names = events.astype("string").str.replace(r"_arm_\d+$", "", regex=True)
    inferred = names.where(names.isin(list(waves)))
    return current.astype("string").fillna(inferred)


# Stage 2: validate + clean -----------------------------------------------------------------

def clean(project: Project, instruments: dict[str, Instrument], staged: dict[str, IngestResult],
          step: Step = _noop, *, writer: BackgroundWriter | None = None) -> dict[str, CleanResult]:
    """Validate and clean every staged export; rejected rows kept privately with their reason.

    Each staged frame is consumed: cleaning takes its columns as it goes (they are on disk in
    ``staged/``), and leaves the frames in ``staged`` without columns.
    """
    services = [s.id for s in project.config.services]
    cleaned: dict[str, CleanResult] = {}
    for source in project.config.sources:
        ingested = staged[source.file]
        result = clean_staged(ingested.frame, instruments[source.file], file=source.file,
                              services=services, waves=project.config.waves,
                              platform_codes=source.missing_data_codes,
                              duplicates=project.config.cleaning.duplicates,
                              rules=project.config.cleaning.rules, consume=True)
        _write_staged(project.staged / f"{instruments[source.file].id}_quarantined.parquet",
                      result.quarantined_staged, writer)
        result = dataclasses.replace(result, quarantined_staged=None)
        cleaned[source.file] = result
        step(f"clean {source.file}")
    return cleaned


def _write_staged(path: Path, frame: pd.DataFrame, writer: BackgroundWriter | None) -> None:
    if writer is None:
        write_parquet(path, frame)
    else:
        writer.parquet(path, frame)


def link_issues(frames: dict[str, pd.DataFrame], instruments: dict[str, Instrument]) -> pd.DataFrame:
    """Across instruments: survey responses for women not in the contact record; waves out of order."""
    rows = []
    records = [i for i in instruments.values() if i.respondent == "record" and i.role_item(Role.CASE_KEY)]
    known: set[str] = set()
    for inst in records:
        known |= set(frames[inst.id][PERSON_KEY].dropna())
    for inst in instruments.values():
        if inst.respondent != "woman" or inst.id not in frames:
            continue
        frame = frames[inst.id]
        file = str(frame["_file"].iloc[0]) if len(frame) else inst.id
        if records:
            unknown = frame[~frame[PERSON_KEY].isin(known)]
            rows += [{"code": "unknown_woman", "severity": "warning", "file": file, "row": r,
                      "field": PERSON_KEY, "value": pd.NA,
                      "message": "no partner contact record for this woman's case number"}
                     for r in unknown["_row"]]
        date = inst.role_item(Role.EVENT_DATE)
        if date is not None and inst.waves:
            order = {w: i for i, w in enumerate(inst.waves)}
            dated = frame[[PERSON_KEY, "_wave", "_row", date.id]].dropna()
            dated = dated.assign(_order=dated["_wave"].map(order)).sort_values([PERSON_KEY, "_order"])
            previous = dated.groupby(PERSON_KEY)[date.id].shift()
            bad = dated[previous.notna() & (dated[date.id] < previous)]
            rows += [{"code": "wave_out_of_order", "severity": "warning", "file": file, "row": r,
                      "field": date.id, "value": pd.NA,
                      "message": "this wave is dated before the woman's earlier wave"}
                     for r in bad["_row"]]
    return pd.DataFrame(rows, columns=list(ISSUE_COLUMNS))


# Stage 3: de-identify ----------------------------------------------------------------------

def project_key(project: Project) -> bytes:
    """The pseudonym key, from the environment variable or the key file the project names."""
    privacy = project.config.privacy
    return load_key(env_var=privacy.key_env,
                    key_file=(project.root / privacy.key_file) if privacy.key_file else None)


def deidentify_all(project: Project, instruments: dict[str, Instrument],
                   cleaned: dict[str, CleanResult], step: Step = _noop, *,
                   key: bytes | None = None) -> dict[str, Deidentified]:
    """Drop identifiers, pseudonymise keys and scrub free text for every instrument."""
    key = key if key is not None else project_key(project)
    names: set[str] = set()
    for source in project.config.sources:
        names |= identifier_names(cleaned[source.file].frame, instruments[source.file])
    scrubber = Scrubber(known_global=tuple(sorted(names)))
    out: dict[str, Deidentified] = {}
    for source in project.config.sources:
        out[source.file] = deidentify(cleaned[source.file].frame, instruments[source.file],
                                      key=key, scrubber=scrubber)
        step(f"de-identify {source.file}")
    return out


def generalise_quasi_identifiers(project: Project, frames: dict[str, pd.DataFrame],
                                 instruments: dict[str, Instrument]) -> tuple[dict[str, pd.DataFrame], list[pd.DataFrame]]:
    """Apply ``privacy.generalise`` rules (per instrument, per field) before anything is written."""
    rules = project.config.privacy.generalise
    unknown = sorted(set(rules) - set(frames))
    if unknown:
        raise ConfigError(f"privacy.generalise names {unknown[0]!r}, which is not an instrument of this "
                          "evaluation", file=project.root / "pceval.yml", field="privacy.generalise")
    out, audits = dict(frames), []
    for inst_id, inst_rules in rules.items():
        out[inst_id], audit = generalise(frames[inst_id], inst_rules, instrument=instruments[inst_id])
        audits.append(audit)
    return out, audits


def write_shareable(project: Project, scored: dict[str, pd.DataFrame], instruments: dict[str, Instrument],
                    missing: pd.DataFrame) -> list[Path]:
    """The scored data as SPSS, Stata and Excel-safe CSV, described by a Frictionless data package.

    Missing cells of numeric items carry their reason as a code: user-missing values in SPSS,
    extended missing values (``.a`` ...) in Stata, labelled ``missingValues`` in the data package.
    """
    folder = project.build / "shareable"
    missing = missing if len(missing) else None
    formats = set(project.config.shareable)
    written = []
    parts = split_by_instrument(missing) if formats & {"sav", "dta"} else None
    for inst_id, frame in scored.items():
        own = part_for(parts, missing, inst_id)
        if "sav" in formats:
            written.append(write_sav(folder / f"{inst_id}.sav", frame, instruments[inst_id], own))
        if "dta" in formats:
            written.append(write_dta(folder / f"{inst_id}.dta", frame, instruments[inst_id], own))
    if "csv" not in formats:
        return written
    resources = {inst_id.replace("_", "-"): (frame, instruments[inst_id], f"{inst_id}.csv")
                 for inst_id, frame in scored.items()}
    package = write_datapackage(folder, resources, name="pceval-build", title=project.config.name,
                                missing=missing)
    written.append(package)
    written += sorted(p for p in folder.glob("*.csv"))
    return written


def reliability_tables(instruments: dict[str, Instrument],
                       frames: dict[str, pd.DataFrame]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Reliability of every scale per instrument and wave, and its item statistics."""
    scales, items = [], []
    for inst_id, frame in frames.items():
        instrument = instruments[inst_id]
        if not instrument.scales:
            continue
        by = ("_wave",) if instrument.waves and "_wave" in frame.columns else ()
        result = scale_reliability(frame, instrument, by=by)
        scales.append(result.scales.assign(instrument=inst_id))
        items.append(result.items.assign(instrument=inst_id))

    def stacked(parts: list[pd.DataFrame]) -> pd.DataFrame:
        if not parts:
            return pd.DataFrame({"instrument": pd.Series(dtype="string"), "scale": pd.Series(dtype="string")})
        out = pd.concat(parts, ignore_index=True)
        return out.loc[:, ["instrument", *[c for c in out.columns if c != "instrument"]]]

    return stacked(scales), stacked(items)


def _codebook_reliability(scales: pd.DataFrame) -> pd.DataFrame:
    """The reliability table in the codebook's long form: alpha and omega per scale and wave."""
    rows = []
    for row in scales.to_dict("records"):
        wave = row.get("wave")
        suffix = f", {wave}" if isinstance(wave, str) else ""
        rows.append({"instrument": row["instrument"], "scale": row["scale"], "statistic": f"alpha{suffix}",
                     "estimate": row["alpha"], "ci_low": row["alpha_ci_low"], "ci_high": row["alpha_ci_high"],
                     "n": row["n"]})
        rows.append({"instrument": row["instrument"], "scale": row["scale"], "statistic": f"omega{suffix}",
                     "estimate": row["omega"], "ci_low": None, "ci_high": None, "n": row["n"]})
    columns = ["instrument", "scale", "statistic", "estimate", "ci_low", "ci_high", "n"]
    frame = pd.DataFrame(rows, columns=columns)
    return frame.loc[frame["estimate"].notna()]


def write_quality(project: Project, summary: BuildSummary, *, issues: pd.DataFrame, quarantine: pd.DataFrame,
                  missing: pd.DataFrame, clean: dict[str, pd.DataFrame],
                  instruments: dict[str, Instrument], reliability: pd.DataFrame | None = None) -> list[Path]:
    """The validation report and the data-quality report (HTML) with their tables (CSV)."""
    audit_dir = project.build / "audit"
    tables = quality_tables(manifest_rows=summary.rows, issues=issues, quarantine=quarantine,
                            missing=missing, clean=clean, instruments=instruments)
    written = [write_csv(audit_dir / "quality" / f"{name}.csv", table) for name, table in tables.items()]
    written.append(write_validation_report(audit_dir / "validation_report.html", issues,
                                           title=f"Validation report: {project.config.name}",
                                           instruments=list(instruments.values())))
    written.append(write_codebook(project.build / "codebook.html", list(instruments.values()),
                                  catalogue=load_catalogue(), data=clean, missing=missing,
                                  reliability=None if reliability is None else _codebook_reliability(reliability),
                                  min_cell=project.config.privacy.effective_min_cell,
                                  title=f"Codebook: {project.config.name}"))
    written.append(write_quality_report(project.build / "data_quality.html", tables,
                                        title=f"Data quality: {project.config.name}",
                                        min_cell=project.config.privacy.effective_min_cell))
    return written


#: Rows (all instruments) from which a build writes its reports in a second process: below
#: it, forking costs more than it saves.
BESIDE_ROWS = 100_000


def _write_reports(project: Project, summary: BuildSummary, *, issues: pd.DataFrame,
                   quarantine: pd.DataFrame, missing: pd.DataFrame, audit: pd.DataFrame,
                   scrubs: pd.DataFrame, clean: dict[str, pd.DataFrame],
                   scored: dict[str, pd.DataFrame],
                   instruments: dict[str, Instrument]) -> tuple[list[Path], list[str]]:
    """Everything a build writes about its data: audit logs, reliability, the quality reports,
    the codebook, k-anonymity and the DEX export; the files and the k-anonymity warnings."""
    build_dir = project.build
    # DSS Data Exchange SCORE records: pseudonymous, record-level, so beside the shareable data
    outputs = list(write_dex_export(project, scored=scored, instruments=instruments))
    outputs.append(write_csv(build_dir / "audit" / "audit_log.csv", audit))
    outputs.append(write_csv(build_dir / "audit" / "validation_issues.csv", issues))
    outputs.append(write_csv(build_dir / "audit" / "scrubbing.csv", scrubs))
    outputs.append(write_csv(build_dir / "quarantine" / "quarantine.csv", quarantine))
    scale_table, item_table = reliability_tables(instruments, clean)
    outputs.append(write_csv(build_dir / "reliability" / "scale_reliability.csv", scale_table))
    outputs.append(write_csv(build_dir / "reliability" / "item_statistics.csv", item_table))
    outputs += write_quality(project, summary, issues=issues, quarantine=quarantine, missing=missing,
                             clean=clean, instruments=instruments, reliability=scale_table)
    kanon = check_k_anonymity(clean, instruments, k=project.config.privacy.k_anonymity)
    outputs.append(write_csv(build_dir / "audit" / "k_anonymity.csv", kanon))
    return outputs, k_anonymity_warnings(kanon)


# Stage 4: score ----------------------------------------------------------------------------

def score(instruments: dict[str, Instrument], frames: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Score every declared scale of every instrument, then its domains and SCORE ratings."""
    out = {}
    for inst_id, frame in frames.items():
        scored = score_scales(frame, instruments[inst_id])
        scored = score_domains(scored, instruments[inst_id])
        out[inst_id] = score_dex(scored, instruments[inst_id])
    return out


def change_per_person(instruments: dict[str, Instrument], scored: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Every woman's change on every scale and domain, from her first wave to each later one."""
    parts = [score_change(frame, instruments[inst_id]).assign(instrument=inst_id)
             for inst_id, frame in scored.items()
             if instruments[inst_id].waves and instruments[inst_id].scales and PERSON_KEY in frame.columns]
    columns = ["instrument", *CHANGE_COLUMNS]
    parts = [p for p in parts if len(p)]
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype="string") for c in columns})
    return pd.concat(parts, ignore_index=True).loc[:, columns]


def _concat_logs(parts: Iterable[pd.DataFrame], columns: Iterable[str]) -> pd.DataFrame:
    """One log from many; an empty log still has its header, so it reads back as a table."""
    columns = list(columns)
    parts = [p for p in parts if len(p)]
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype="string") for c in columns})
    # columns held as categories (the missing-reasons log's) stay categories: pandas joins
    # categoricals as text objects unless all have the same categories
    for column in columns:
        dtypes = [p[column].dtype for p in parts]
        if all(isinstance(d, pd.CategoricalDtype) for d in dtypes) and any(d != dtypes[0] for d in dtypes):
            categories = sorted({str(c) for d in dtypes for c in d.categories})
            parts = [p.assign(**{column: p[column].cat.set_categories(categories)}) for p in parts]
    return pd.concat(parts, ignore_index=True).loc[:, columns]


#: Beside ``build/``: the build being written, and the previous one until it is deleted.
BUILD_STAGING = ".build-next"
BUILD_RETIRED = ".build-old"
#: Written last into a build, so a folder holding it is a complete build.
BUILD_MANIFEST = "manifest.json"


@dataclass(frozen=True)
class _Staging(Project):
    """The project as a build in progress sees it: its ``build/`` is the staging folder."""

    staging: Path

    @property
    def build(self) -> Path:
        return self.staging

    @property
    def published(self) -> Path:
        """Where the build goes once complete: the project's own ``build/``."""
        return Project.build.fget(self)  # the property this class overrides


@contextlib.contextmanager
def _exclusive(project: Project) -> Iterator[None]:
    """Hold the evaluation for one build at a time.

    A build deletes what an earlier, stopped build left beside ``build/``; a second build
    running at the same time would have its half-written folder deleted under it. The lock
    is the operating system's on the evaluation folder, so it goes with the process however
    that ends.
    """
    if fcntl is None:
        yield
        return
    fd = os.open(project.root, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DataError("another build of this evaluation is running", file=project.root,
                            fix="wait for it to finish, then build again") from None
        except OSError:
            pass  # a file system without locks (some network shares): build unguarded
        yield
    finally:
        os.close(fd)


def recover_build(project: Project) -> None:
    """Tidy what a build stopped part way left beside ``build/``.

    If the build was stopped while putting its folder in place and ``build/`` is missing, the
    complete new build (or else the previous one) becomes ``build/``; the unfinished folder
    and the old one awaiting deletion are deleted. :func:`build` does this first.
    """
    recover_directory(project.build, staging=project.root / BUILD_STAGING,
                      retired=project.root / BUILD_RETIRED, complete=BUILD_MANIFEST)


def build(project: Project, step: Step = _noop) -> BuildSummary:
    """Run the build zones: ingest, validate + clean, de-identify, score.

    Everything is written into a new folder beside ``build/`` that replaces it in one step at
    the end, so ``build/`` is at every instant the previous complete build or this one (where
    the system can swap two folders, as Linux can; elsewhere two renames leave a moment
    without ``build/``, which the next build completes if it was stopped there). The
    manifest records every file of the build (not ``staged/``) with its hash. The coding
    workbooks (``coding/``, outside the build) are written after the new build is in place,
    from its scored data, unless coding has started; ``coding/export.json`` identifies them.

    Returns
    -------
    BuildSummary
        Rows in, kept and quarantined per raw file, and the outputs written.

    Raises
    ------
    DataError
        If another build of the same evaluation is running.
    """
    instruments = source_instruments(project)
    key = project_key(project)  # before anything is written: no key, no partial output
    with _exclusive(project), returning_allocator():
        recover_build(project)
        staging = project.root / BUILD_STAGING
        staging.mkdir()
        try:
            summary, scored = _build_into(_Staging(root=project.root, config=project.config,
                                                   staging=staging), instruments, key, step)
            sync_tree(staging)
        except BaseException:
            # a build that fails leaves no half-written folder (nor its identifiable staged
            # data) behind; only a killed one does, until the next build deletes it
            shutil.rmtree(staging, ignore_errors=True)
            raise
        replace_directory(staging, project.build, retired=project.root / BUILD_RETIRED)
        summary.outputs = [project.build / p.relative_to(staging) for p in summary.outputs]
        # the open-text answers go out for coding only from the scored zone, scrubbed, and
        # only once that zone is the published build: the workbooks never run ahead of it
        by_id = {inst.id: inst for inst in instruments.values()}
        summary.outputs += write_coding_sheets(project, scored, by_id)
    step("write build outputs")
    return summary


def _build_into(project: _Staging, instruments: dict[str, Instrument], key: bytes,
                step: Step) -> tuple[BuildSummary, dict[str, pd.DataFrame]]:
    """Write a complete build into the staging folder, the manifest last; return the scored data."""
    by_id = {inst.id: inst for inst in instruments.values()}
    raw_hashes = {s.file: sha256_file(project.source_path(s)) for s in project.config.sources
                  if project.source_path(s).exists()}
    # the private staged files are written by a thread while the build cleans, on the
    # processor cleaning leaves idle; all are on disk before anything forks
    with BackgroundWriter() as writer:
        staged = ingest(project, instruments, step, writer=writer)
        cleaned = clean(project, instruments, staged, step, writer=writer)
        # each stage's frames are let go once the next stage has its own (staged/ keeps the
        # staged rows on disk): at national scale holding every stage's copy at once set the
        # peak memory
        del staged
    deidentified = deidentify_all(project, instruments, cleaned, step, key=key)
    rows = {s.file: {"rows_in": cleaned[s.file].rows_in, "rows_kept": cleaned[s.file].rows_kept,
                     "rows_quarantined": cleaned[s.file].rows_quarantined} for s in project.config.sources}
    cleaned = {file: dataclasses.replace(result, frame=result.frame.iloc[:0]) for file, result in cleaned.items()}
    by_instrument = {instruments[s.file].id: deidentified[s.file].frame for s in project.config.sources}
    scrubs = _concat_logs((d.scrub_counts for d in deidentified.values()),
                          ("instrument", "row", "field", "kind", "count"))
    del deidentified
    by_instrument, generalised = generalise_quasi_identifiers(project, by_instrument, by_id)
    scored = score(by_id, by_instrument)
    step("score")

    summary = BuildSummary()
    build_dir = project.build
    issues = _concat_logs([*(c.issues for c in cleaned.values()), link_issues(by_instrument, by_id)],
                          ISSUE_COLUMNS)
    audit = _concat_logs([*(c.audit for c in cleaned.values()), *generalised], AUDIT_COLUMNS)
    missing = _concat_logs((c.missing for c in cleaned.values()), MISSING_COLUMNS)
    quarantine = _concat_logs((c.quarantine for c in cleaned.values()), QUARANTINE_COLUMNS)
    # the logs are now whole: their parts (a gigabyte and more at national scale) go
    del cleaned
    summary.rows.update(rows)
    summary.issues = len(issues)

    def reports() -> tuple[list[Path], list[str]]:
        return _write_reports(project, summary, issues=issues, quarantine=quarantine, missing=missing,
                              audit=audit, scrubs=scrubs, clean=by_instrument, scored=scored,
                              instruments=by_id)

    outputs: list[Path] = []
    # the reports on the data are written by a second process while this one writes the data
    with beside(reports, fork=sum(map(len, by_instrument.values())) >= BESIDE_ROWS) as written:
        for inst_id, frame in by_instrument.items():
            clean_file = write_parquet(build_dir / "clean" / f"{inst_id}.parquet", frame)
            outputs.append(clean_file)
            scored_file = build_dir / "scored" / f"{inst_id}.parquet"
            # an instrument without scales or domains (the contact record) scores to its clean
            # frame, whose Parquet file is already written: the same bytes, copied
            outputs.append(copy_file(clean_file, scored_file) if scored[inst_id].equals(frame)
                           else write_parquet(scored_file, scored[inst_id]))
        outputs.append(write_parquet(build_dir / "scored" / "change.parquet", change_per_person(by_id, scored)))
        outputs.append(write_parquet(build_dir / "clean" / "missing_reasons.parquet", missing,
                                     as_text=("instrument", "field", "reason")))
        outputs += write_shareable(project, scored, by_id, missing)
        step("write shareable formats")
        reported, summary.warnings = written.result()
    outputs += reported
    # recorded under the names they will have once the staging folder is build/
    published = project.published.relative_to(project.root)
    manifest = {
        "pceval_version": __version__,
        "raw": raw_hashes,
        "instruments": {i.id: i.version for i in by_id.values()},
        "rows": summary.rows,
        "outputs": {str(published / p.relative_to(build_dir)): sha256_file(p) for p in sorted(outputs)},
    }
    outputs.append(write_json(build_dir / BUILD_MANIFEST, manifest))
    summary.outputs = outputs
    return summary, scored


def clean_export(file: str | Path, instrument: str | Path, *, out_dir: str | Path,
                 platform: str = "auto", key_file: str | Path | None = None,
                 key_env: str = "PCEVAL_KEY", step: Step = _noop) -> BuildSummary:
    """Ingest, validate, clean, de-identify and score one export, with a build's outputs.

    For a user with one export and no evaluation project: ``out_dir`` becomes a one-source
    project (``pceval.yml`` is written there so the run can be repeated), and its ``build/``
    holds what ``pceval build`` writes. Any non-blank service code is accepted.
    """
    from pceval.project import Privacy, ProjectConfig, Source, load_project, write_config

    file = Path(file).resolve()
    if not file.exists():
        raise DataError("export not found", file=file)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    resolved = load_instrument(instrument)
    is_path = Path(str(instrument)).suffix in {".yml", ".yaml"}
    if key_file is not None:
        key_file = Path(key_file).resolve()
    config = ProjectConfig(
        kind="evaluation", schema_version=1, name=f"{file.name} ({resolved.id})", services=(),
        waves=resolved.waves or ("baseline", "exit", "followup"),
        sources=(Source(file=str(file), instrument=str(Path(instrument).resolve()) if is_path else resolved.id,
                        platform=platform),),
        privacy=Privacy(key_env=key_env, key_file=str(key_file) if key_file else None),
    )
    write_config(out_dir, config, header="# Written by `pceval clean`: one export cleaned on its own.")
    project = load_project(out_dir)
    return build(project, step)


# Stage 5: analyse --------------------------------------------------------------------------

#: Scored rows from which the plan's entries are answered by parallel processes: below it,
#: starting the processes costs more than it saves.
PARALLEL_ANALYSIS_ROWS = 100_000


def analysis_workers(data: dict[str, pd.DataFrame]) -> int:
    """Processes to answer the plan with: one per processor (at most 4) for large evaluations."""
    if sum(len(frame) for frame in data.values()) < PARALLEL_ANALYSIS_ROWS:
        return 1
    return max(1, min(os.cpu_count() or 1, 4))


def analyse(project: Project, step: Step = _noop) -> dict[str, pd.DataFrame]:
    """Run the evaluation plan on ``build/scored`` and write ``results/``."""
    # the statistics libraries load only here: a build (and ``pceval clean``) does without them
    from pceval.analyse.plan import load_plan
    from pceval.analyse.run import DisclosureRules, run_plan

    instruments = load_instruments_for(project)
    plan_path = project.folder("analysis") / "plan.yml"
    plan = load_plan(plan_path)
    data = {}
    for inst_id in instruments:
        path = project.build / "scored" / f"{inst_id}.parquet"
        if not path.exists():
            raise DataError("scored data not found", file=path, fix="run `pceval build` first")
        data[inst_id] = pd.read_parquet(path)
    privacy = project.config.privacy
    rules = DisclosureRules(min_cell=privacy.effective_min_cell, min_denominator=privacy.min_denominator,
                            min_service_n=privacy.min_service_n, strict=privacy.strict)
    results = run_plan(plan, data, instruments, rules, workers=analysis_workers(data))
    step("analyse")
    combined = pd.concat(list(results.values()), ignore_index=True)
    for qid, table in results.items():
        write_csv(project.results / f"{qid}.csv", table)
    write_csv(project.results / "results.csv", combined.loc[:, list(RESULT_COLUMNS)])
    write_parquet(project.results / "results.parquet", combined)
    questions = [q.model_dump(mode="json") for q in plan.questions]
    write_json(project.results / "plan.json", {"title": plan.title, "version": plan.version,
                                              "questions": questions,
                                              "disclosure": rules.__dict__})
    step("write results")
    return results


# Stage 6: report ---------------------------------------------------------------------------

def report(project: Project, *, fmt: str = "html") -> Path:
    """Render the evaluation report from ``results/`` into ``reports/``."""
    from pceval.report.render import render_report

    if not (project.results / "results.parquet").exists():
        raise DataError("no results to report", file=project.results,
                        fix="run `pceval analyse` first")
    qmd = project.folder("reports") / "evaluation.qmd"
    return render_report(qmd, output_dir=project.reports_out, fmt=fmt,
                         params={"results_dir": str(project.results),
                                 "title": project.config.name})


#: Reports on the build itself, rendered beside the evaluation report when the project has them.
BUILD_REPORTS = ("codebook.qmd", "data-quality.qmd")


def report_build(project: Project, *, fmt: str = "html") -> list[Path]:
    """Render the codebook and data-quality reports from the de-identified zones of ``build/``."""
    from pceval.report.render import render_report

    if not (project.build / "manifest.json").exists():
        raise DataError("no build to report on", file=project.build, fix="run `pceval build` first")
    folder = project.folder("reports")
    return [render_report(folder / name, output_dir=project.reports_out, fmt=fmt,
                          params={"build_dir": str(project.build)})
            for name in BUILD_REPORTS if (folder / name).exists()]
