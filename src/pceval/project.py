"""An evaluation project: ``pceval.yml`` and the folders beside it.

```
my-evaluation/
  pceval.yml      what is where (never the pseudonym key itself)
  raw/            exports as received, never modified
  build/          staged/ (private), clean/, scored/, audit/, quarantine/, manifest.json
  results/        result tables per evaluation question
  reports/        rendered reports
```
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from pceval.errors import ConfigError
from pceval.instrument.model import CleaningRuleSpec

CONFIG_NAME = "pceval.yml"
Platform = Literal["auto", "redcap", "kobo", "odk", "qualtrics", "spss", "stata", "excel", "csv", "parquet"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Service(_Frozen):
    id: Annotated[str, Field(pattern=r"^S[0-9]{2,3}$")]
    name: str
    delivery_model: Literal["in_house", "partner_agency"] | None = None


class Source(_Frozen):
    """One raw export: which file, which instrument, which platform."""

    file: str
    instrument: str
    platform: Platform = "auto"
    events: dict[str, str] = {}
    missing_data_codes: dict[str, str] = {}
    delimiter: str | None = None
    encoding: str | None = None


class Privacy(_Frozen):
    min_cell: int = Field(default=5, ge=2)
    min_denominator: int = Field(default=10, ge=2)
    min_service_n: int = Field(default=10, ge=1)
    strict: bool = False
    key_env: str = "PCEVAL_KEY"
    key_file: str | None = None
    k_anonymity: int = Field(default=5, ge=2)
    generalise: dict[str, dict[str, dict]] = {}

    @property
    def effective_min_cell(self) -> int:
        return max(self.min_cell, 10) if self.strict else self.min_cell


class CleaningRule(CleaningRuleSpec):
    """One declared cleaning rule of ``pceval.yml`` (see :mod:`pceval.clean.rules`)."""

    instrument: str


class Cleaning(_Frozen):
    duplicates: Literal["keep_last", "keep_first", "keep_complete_last"] = "keep_complete_last"
    rules: tuple[CleaningRule, ...] = ()


class Coding(_Frozen):
    """Qualitative coding of open-text answers (see :mod:`pceval.code`).

    ``coders`` name the coding sheets; ``double_share`` of segments go to two coders (their
    agreement is measured), the rest are split across coders; ``seed`` makes the assignment
    repeatable; ``quote_bank`` writes quotes for themes found in at least ``min_n``
    respondents; ``quote_consent`` names, per instrument, the item that records consent to be
    quoted (coded 1): without one, no quote is taken from a woman's answers or her case notes.
    """

    coders: tuple[Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,30}$")], ...] = (
        "coder1", "coder2")
    double_share: float = Field(default=0.2, ge=0, le=1)
    seed: int = 20260101
    quote_bank: bool = False
    min_n: int = Field(default=5, ge=1)
    quote_consent: dict[str, str] = {}

    @model_validator(mode="after")
    def _distinct_coders(self) -> Coding:
        if not self.coders:
            raise ValueError("coding needs at least one coder")
        if len({c.lower() for c in self.coders}) != len(self.coders):
            raise ValueError("coder names must be unique (ignoring case)")
        return self


class ProjectConfig(_Frozen):
    kind: Literal["evaluation"]
    schema_version: Literal[1]
    name: str
    services: tuple[Service, ...]
    waves: tuple[str, ...] = ("baseline", "exit", "followup")
    sources: tuple[Source, ...]
    privacy: Privacy = Privacy()
    cleaning: Cleaning = Cleaning()
    coding: Coding = Coding()
    instruments: str | None = None
    analysis: str | None = None
    reports: str | None = None
    # shareable copies of the scored data written by a build; SPSS and Stata files take
    # minutes at national scale (their writer goes row by row), so a large evaluation may
    # list only what it shares
    shareable: tuple[Literal["csv", "sav", "dta"], ...] = ("csv", "sav", "dta")

    @model_validator(mode="after")
    def _unique(self) -> ProjectConfig:
        ids = [s.id for s in self.services]
        if len(ids) != len(set(ids)):
            raise ValueError("service ids must be unique")
        files = [s.file for s in self.sources]
        if len(files) != len(set(files)):
            raise ValueError("each raw file may be listed once under sources")
        return self


@dataclass(frozen=True)
class Project:
    """A loaded evaluation project.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from pceval.project import init_project
    >>> p = init_project(pathlib.Path(tempfile.mkdtemp()) / "ev")
    >>> p.config.privacy.min_cell
    5
    """

    root: Path
    config: ProjectConfig

    @property
    def raw(self) -> Path:
        return self.root / "raw"

    @property
    def build(self) -> Path:
        return self.root / "build"

    @property
    def staged(self) -> Path:
        return self.build / "staged"

    @property
    def results(self) -> Path:
        return self.root / "results"

    @property
    def reports_out(self) -> Path:
        return self.root / "reports"

    def folder(self, name: Literal["instruments", "analysis", "reports"]) -> Path:
        """The project's own copy of a declarative folder if it has one, else the defaults."""
        from pceval.resources import default_path

        configured = getattr(self.config, name)
        if configured:
            path = (self.root / configured).resolve()
            if not path.is_dir():
                raise ConfigError(f"{name} folder {configured!r} does not exist",
                                  file=self.root / CONFIG_NAME, field=name)
            return path
        return default_path(name)

    def source_path(self, source: Source) -> Path:
        return self.root / source.file


def load_project(root: str | Path) -> Project:
    """Read ``pceval.yml`` from an evaluation folder.

    Raises
    ------
    ConfigError
        If the file is missing or malformed, naming the field at fault.

    Examples
    --------
    >>> import tempfile
    >>> from pceval.synth import generate_evaluation
    >>> root = tempfile.mkdtemp()
    >>> _ = generate_evaluation(root, seed=1, services=2, women=40)
    >>> project = load_project(root)
    >>> [s.id for s in project.config.services], [s.instrument for s in project.config.sources][:2]
    (['S01', 'S02'], ['womens_survey', 'contact_record'])
    """
    root = Path(root)
    path = root / CONFIG_NAME
    if not path.exists():
        raise ConfigError("no pceval.yml here", file=path,
                          fix="run `pceval init DIR` or `pceval synth DIR` to make an evaluation")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ConfigError(f"malformed YAML: {getattr(exc, 'problem', exc)}", file=path,
                          row=mark.line + 1 if mark else None) from None
    if not isinstance(data, dict):
        raise ConfigError("expected a mapping", file=path)
    try:
        config = ProjectConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or None
        raise ConfigError(first["msg"].removeprefix("Value error, "), file=path, field=field) from None
    return Project(root=root.resolve(), config=config)


def write_config(root: Path, config: ProjectConfig, *, header: str = "") -> Path:
    """Write ``pceval.yml`` (atomically) from a config model."""
    from pceval.io import write_text

    data = config.model_dump(mode="json", exclude_defaults=False)
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
    return write_text(root / CONFIG_NAME, (header + "\n" if header else "") + text)


def init_project(root: str | Path, *, name: str | None = None) -> Project:
    """Make an empty evaluation project with the default instruments' sources listed.

    The default instruments, plan and reports are used from the installed package until the
    user copies them in (``instruments:``, ``analysis:``, ``reports:`` in ``pceval.yml``).
    """
    from pceval.privacy import write_key_file

    root = Path(root)
    if (root / CONFIG_NAME).exists():
        raise ConfigError("an evaluation already exists here", file=root / CONFIG_NAME,
                          fix="choose an empty folder")
    (root / "raw").mkdir(parents=True, exist_ok=True)
    (root / "private").mkdir(parents=True, exist_ok=True)
    key_file = root / "private" / "pseudonym.key"
    if not key_file.exists():
        write_key_file(key_file)
    config = ProjectConfig(
        kind="evaluation",
        schema_version=1,
        name=name or root.name,
        services=(Service(id="S01", name="Service 1"),),
        sources=(
            Source(file="raw/womens_survey.csv", instrument="womens_survey", platform="redcap",
                   events={"baseline_arm_1": "baseline", "exit_arm_1": "exit",
                           "followup_arm_1": "followup"}),
            Source(file="raw/contact_record.csv", instrument="contact_record", platform="kobo"),
            Source(file="raw/worker_survey.csv", instrument="worker_survey", platform="qualtrics"),
            Source(file="raw/facilitator_survey.csv", instrument="facilitator_survey",
                   platform="qualtrics"),
        ),
        privacy=Privacy(key_file="private/pseudonym.key"),
    )
    write_config(root, config, header=_HEADER)
    return load_project(root)


_HEADER = """\
# pceval evaluation project. Keep raw/ and private/ on this machine only; build/ keeps its
# identifiable staging area in build/staged/. The pseudonym key is read from the environment
# variable named by privacy.key_env, else from privacy.key_file; it is never written to outputs."""
