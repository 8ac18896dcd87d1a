"""The thematic codebook: the themes open-text answers are coded for.

The codebook is declared in YAML (``instruments/themes.yml``, ``kind: thematic_codebook``) and
loaded, like an instrument, YAML → schema check → frozen models. Each code has an id (the column
of the coding sheets), a label, a definition, guidance on what to include and exclude, an
example in the codebook's own words, the outcome domains it informs (D-codes of
``instruments/domains.yml``) and the respondent types whose text it applies to (``woman``,
``record`` for the partner contact record's case notes, ``worker``, ``facilitator``).

Rules across fields are checked when the file is loaded: code ids are unique, and every domain
a code names is in the domain catalogue.

Editors using the YAML language server check the file as it is typed when its first line is::

    # yaml-language-server: $schema=schema/thematic_codebook.schema.json
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, model_validator

from pceval.errors import InstrumentError
from pceval.instrument.model import ID_PATTERN, SCHEMA_VERSION, DomainCatalogue, Frozen
from pceval.io import write_text

__all__ = [
    "CODEBOOK_FILE",
    "RESPONDENT_TYPES",
    "THEMES_SCHEMA_FILE",
    "ThematicCode",
    "ThematicCodebook",
    "load_thematic_codebook",
    "thematic_codebook_json_schema",
    "write_thematic_codebook_schema",
]

#: File name of the codebook in an instruments folder.
CODEBOOK_FILE = "themes.yml"
#: File name of its JSON Schema in ``instruments/schema/``.
THEMES_SCHEMA_FILE = "thematic_codebook.schema.json"
#: Respondent types, as instruments name them (``Instrument.respondent``).
RESPONDENT_TYPES = ("woman", "record", "worker", "facilitator")

Respondent = Literal["woman", "record", "worker", "facilitator"]
# a code id is a column header of the coding sheets and a file-safe word: keep it short
CodeId = Annotated[str, Field(pattern=ID_PATTERN, max_length=32)]


class ThematicCode(Frozen):
    """One theme of the codebook.

    Attributes
    ----------
    id : str
        Snake-case id, the column of the coding sheets.
    label : str
        Short name shown to coders and in tables.
    definition : str
        What the theme is.
    include, exclude : str
        When to apply the code, and when not to (and which code to use instead).
    example : str
        A made-up answer the code applies to.
    domains : tuple of str
        Outcome domains (``D01`` ...) the theme informs.
    respondents : tuple of str
        Respondent types whose text the code applies to.
    """

    id: CodeId
    label: str = Field(min_length=1)
    definition: str = Field(min_length=1)
    include: str = Field(min_length=1)
    exclude: str = Field(min_length=1)
    example: str = Field(min_length=1)
    domains: tuple[Annotated[str, Field(pattern=r"^D\d\d$")], ...] = Field(min_length=1)
    respondents: tuple[Respondent, ...] = Field(min_length=1)


class ThematicCodebook(Frozen):
    """The thematic codebook (``instruments/themes.yml``).

    Examples
    --------
    >>> book = load_thematic_codebook()
    >>> book.code("validation").label
    'Being believed and validated'
    >>> "worker" in book.code("children").respondents
    True
    """

    kind: Literal["thematic_codebook"]
    schema_version: Literal[1]
    id: Annotated[str, Field(pattern=ID_PATTERN)]
    version: str
    title: str
    description: str = ""
    codes: tuple[ThematicCode, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_ids(self) -> ThematicCodebook:
        ids = [code.id for code in self.codes]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate code ids {dupes}")
        for code in self.codes:
            for name, values in (("domains", code.domains), ("respondents", code.respondents)):
                if len(set(values)) != len(values):
                    raise ValueError(f"code {code.id!r} lists a value twice in {name}")
        return self

    def code(self, code_id: str) -> ThematicCode:
        for code in self.codes:
            if code.id == code_id:
                return code
        raise KeyError(code_id)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(code.id for code in self.codes)

    def codes_for(self, respondent: str) -> tuple[ThematicCode, ...]:
        """The codes that apply to text from one respondent type.

        Examples
        --------
        >>> [c.id for c in load_thematic_codebook().codes_for("facilitator")][:3]
        ['program_misuse', 'support_ends_at_exit', 'children']
        """
        return tuple(code for code in self.codes if respondent in code.respondents)


def load_thematic_codebook(path: str | Path | None = None, *,
                           catalogue: DomainCatalogue | None = None) -> ThematicCodebook:
    """Load and check the thematic codebook.

    Parameters
    ----------
    path : str or Path, optional
        The codebook file, or an instruments folder holding ``themes.yml``; the shipped
        codebook by default.
    catalogue : DomainCatalogue, optional
        The domain catalogue the codes' domains must be in; the shipped one by default.

    Returns
    -------
    ThematicCodebook

    Raises
    ------
    InstrumentError
        One line naming the file and the code at fault.

    Examples
    --------
    >>> len(load_thematic_codebook().codes) >= 8
    True
    """
    from pceval.instrument.load import _pydantic_error, _read_yaml, load_catalogue
    from pceval.resources import default_path

    path = Path(path) if path is not None else default_path("instruments") / CODEBOOK_FILE
    if path.is_dir():
        path = path / CODEBOOK_FILE
    data = _read_yaml(path)
    if data.get("kind") != "thematic_codebook":
        raise InstrumentError(f"kind is {data.get('kind')!r}, expected 'thematic_codebook'",
                              file=path, field="kind")
    try:
        book = ThematicCodebook.model_validate(data)
    except ValidationError as exc:
        raise _codebook_error(path, data, exc, _pydantic_error) from None
    catalogue = catalogue if catalogue is not None else load_catalogue()
    known = {domain.id for domain in catalogue.domains}
    for code in book.codes:
        unknown = [d for d in code.domains if d not in known]
        if unknown:
            raise InstrumentError(
                f"names domain {unknown[0]}, which is not in the domain catalogue",
                file=path, field=f"code {code.id}.domains",
                fix=f"use one of {min(known)} to {max(known)} (instruments/domains.yml)")
    return book


def _codebook_error(path: Path, data: dict, exc: ValidationError, fallback) -> InstrumentError:
    """The first problem, located as ``code <id>.<field>`` where a code is at fault."""
    first = exc.errors()[0]
    loc = first["loc"]
    if len(loc) >= 2 and loc[0] == "codes" and isinstance(loc[1], int):
        try:
            name = data["codes"][loc[1]].get("id", loc[1])
        except (KeyError, IndexError, AttributeError, TypeError):
            name = loc[1]
        rest = ".".join(str(part) for part in loc[2:])
        field = f"code {name}" + (f".{rest}" if rest else "")
        message = first["msg"].removeprefix("Value error, ")
        more = len(exc.errors()) - 1
        if more:
            message += f" (and {more} more problem{'s' if more > 1 else ''})"
        return InstrumentError(message, file=path, field=field)
    return fallback(path, data, exc)


def thematic_codebook_json_schema() -> dict[str, Any]:
    """JSON Schema of the thematic codebook file (``instruments/themes.yml``).

    Examples
    --------
    >>> schema = thematic_codebook_json_schema()
    >>> schema["properties"]["kind"]["const"], schema["title"]
    ('thematic_codebook', 'pceval thematic codebook')
    """
    from pceval.instrument.schema import JSON_SCHEMA_DIALECT

    body = ThematicCodebook.model_json_schema(mode="validation")
    body.pop("title", None)
    body.pop("description", None)
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        # a URN, not a web address: the schema is found beside the files, not fetched
        "$id": f"urn:pceval:schema:thematic_codebook:v{SCHEMA_VERSION}",
        "title": "pceval thematic codebook",
        "description": (
            "The themes open-text answers of the partner contact evaluation stream are coded "
            "for: per code a definition, include and exclude guidance, an example, the outcome "
            "domains it informs and the respondent types it applies to. Generated from pceval's "
            f"pydantic model (schema_version {SCHEMA_VERSION}); unique ids and known domains "
            "are checked when the file is loaded."),
        **body,
    }


def write_thematic_codebook_schema(folder: str | Path) -> Path:
    """Write the codebook's JSON Schema into ``folder`` (atomically) and return its path.

    Rerun after changing the model::

        python -c "from pceval.instrument.themes import write_thematic_codebook_schema as w; w('instruments/schema')"

    Examples
    --------
    >>> import tempfile
    >>> write_thematic_codebook_schema(tempfile.mkdtemp()).name
    'thematic_codebook.schema.json'
    """
    from pceval.instrument.schema import schema_text

    return write_text(Path(folder) / THEMES_SCHEMA_FILE, schema_text(thematic_codebook_json_schema()))
