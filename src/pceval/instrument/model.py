"""The instrument model: what is asked, of whom, and how answers are coded and scored.

Instruments are declared in YAML (``instruments/*.yml``) and loaded into these frozen pydantic
models. Everything downstream (validation, cleaning, de-identification, scoring, codebooks,
exports, the synthetic generator) reads them; no item list is repeated in code.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SCHEMA_VERSION = 1
ID_PATTERN = r"^[a-z][a-z0-9_]*$"


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ItemType(StrEnum):
    SINGLE_CHOICE = "single_choice"
    MULTIPLE_CHOICE = "multiple_choice"
    LIKERT = "likert"
    INTEGER = "integer"
    DECIMAL = "decimal"
    DATE = "date"
    SHORT_TEXT = "short_text"
    LONG_TEXT = "long_text"
    CALCULATED = "calculated"
    NOTE = "note"


class Sensitivity(StrEnum):
    """How an item's answers may travel.

    ``direct_identifier`` and ``contact_safety`` never pass de-identification;
    ``quasi_identifier`` passes but is checked for small combinations; ``free_text`` passes
    only scrubbed; ``analysis`` passes as is.
    """

    DIRECT_IDENTIFIER = "direct_identifier"
    CONTACT_SAFETY = "contact_safety"
    QUASI_IDENTIFIER = "quasi_identifier"
    FREE_TEXT = "free_text"
    ANALYSIS = "analysis"


class MissingKind(StrEnum):
    PREFER_NOT_TO_SAY = "prefer_not_to_say"
    DONT_KNOW = "dont_know"
    NOT_APPLICABLE = "not_applicable"
    SKIPPED_BY_LOGIC = "skipped_by_logic"
    MISSING = "missing"


class Role(StrEnum):
    """What an item does beyond being an answer.

    ``case_key`` is the service's case number for the woman, pseudonymised and used to link
    waves and instruments; ``service`` names the service; ``wave`` the survey wave;
    ``respondent_key`` identifies a worker or facilitator respondent; ``safety_gate`` is the
    opening safety check whose "no" ends the survey; ``event_date`` dates a record row.
    """

    CASE_KEY = "case_key"
    RESPONDENT_KEY = "respondent_key"
    SERVICE = "service"
    WAVE = "wave"
    SAFETY_GATE = "safety_gate"
    EVENT_DATE = "event_date"
    CONSENT = "consent"


Text = str | dict[str, str]
Code = int | str


def text_in(text: Text | None, lang: str = "en") -> str:
    """The text of a label in ``lang`` (falling back to English, then to any language)."""
    if text is None:
        return ""
    if isinstance(text, str):
        return text
    return text.get(lang) or text.get("en") or next(iter(text.values()), "")


class Choice(Frozen):
    code: Code
    label: Text


class MissingCode(Frozen):
    code: Code
    label: Text
    kind: MissingKind


class Constraint(Frozen):
    min: float | None = None
    max: float | None = None
    pattern: str | None = None
    message: Text | None = None

    @field_validator("pattern")
    @classmethod
    def _pattern_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except (re.error, OverflowError, RecursionError) as exc:
                # a ValueError, which pydantic reports as a problem of the field
                raise ValueError(f"pattern {value!r} is not a regular expression ({exc})") from None
        return value


class Item(Frozen):
    id: Annotated[str, Field(pattern=ID_PATTERN, max_length=26)]
    type: ItemType
    label: Text = ""
    hint: Text | None = None
    choices: str | None = None
    group: Annotated[str, Field(pattern=ID_PATTERN)] | None = None
    required: bool = False
    relevance: str | None = None
    constraint: Constraint | None = None
    missing_codes: tuple[Code, ...] = ()
    sensitivity: Sensitivity = Sensitivity.ANALYSIS
    role: Role | None = None
    domains: tuple[Annotated[str, Field(pattern=r"^D\d\d$")], ...] = ()
    nos: tuple[Annotated[str, Field(pattern=r"^NOS[1-6]$")], ...] = ()
    waves: tuple[str, ...] = ()
    calculation: str | None = None

    @model_validator(mode="after")
    def _choices_where_needed(self) -> Item:
        choice_types = {ItemType.SINGLE_CHOICE, ItemType.MULTIPLE_CHOICE, ItemType.LIKERT}
        if self.type in choice_types and not self.choices:
            raise ValueError(f"item {self.id!r} of type {self.type.value} needs a choice list")
        if self.type not in choice_types and self.choices:
            raise ValueError(f"item {self.id!r} of type {self.type.value} cannot have choices")
        if self.type == ItemType.CALCULATED and not self.calculation:
            raise ValueError(f"calculated item {self.id!r} needs a calculation")
        return self

    @property
    def is_choice(self) -> bool:
        return self.type in {ItemType.SINGLE_CHOICE, ItemType.LIKERT}

    @property
    def is_multiple(self) -> bool:
        return self.type == ItemType.MULTIPLE_CHOICE

    @property
    def is_numeric(self) -> bool:
        return self.type in {
            ItemType.SINGLE_CHOICE,
            ItemType.LIKERT,
            ItemType.INTEGER,
            ItemType.DECIMAL,
            ItemType.CALCULATED,
        }

    @property
    def is_text(self) -> bool:
        return self.type in {ItemType.SHORT_TEXT, ItemType.LONG_TEXT}

    @property
    def carries_data(self) -> bool:
        return self.type != ItemType.NOTE

    @property
    def leaves_staging(self) -> bool:
        """Whether the item's values may appear in de-identified outputs (scrubbed if text)."""
        return self.sensitivity not in {Sensitivity.DIRECT_IDENTIFIER, Sensitivity.CONTACT_SAFETY}


class Band(Frozen):
    label: str
    min: float
    max: float


class DexScore(Frozen):
    """How a scale's score maps to a DSS Data Exchange SCORE rating (1 to 5).

    SCORE has four types: ``circumstances`` and ``goals`` are rated before and after support on
    the same domain, ``satisfaction`` and ``community`` after. ``cuts`` are the four score
    thresholds at which the rating steps up to 2, 3, 4 and 5 (on the scale's own metric, in the
    scale's direction); without them the scale's possible range is cut into five equal parts.
    """

    type: Literal["circumstances", "goals", "satisfaction", "community"]
    domain: str
    assessed_by: str | None = None
    cuts: tuple[float, float, float, float] | None = None

    @model_validator(mode="after")
    def _cuts_increase(self) -> DexScore:
        if self.cuts is not None and list(self.cuts) != sorted(set(self.cuts)):
            raise ValueError(f"SCORE cuts must increase strictly, got {list(self.cuts)}")
        return self


class Scale(Frozen):
    id: Annotated[str, Field(pattern=ID_PATTERN)]
    label: Text
    items: tuple[str, ...]
    reverse: tuple[str, ...] = ()
    method: Literal["mean", "sum", "prorated_sum"] = "mean"
    min_valid: int | None = None
    multiplier: float = 1.0
    bands: tuple[Band, ...] = ()
    domains: tuple[str, ...] = ()
    nos: tuple[str, ...] = ()
    higher_is_better: bool = True
    rule: Annotated[str, Field(pattern=ID_PATTERN)] | None = None
    screen_uniform: bool = False
    dex: DexScore | None = None

    @model_validator(mode="after")
    def _reverse_subset(self) -> Scale:
        stray = set(self.reverse) - set(self.items)
        if stray:
            raise ValueError(f"scale {self.id!r}: reverse-keyed items {sorted(stray)} are not in its items")
        if self.min_valid is not None and not 1 <= self.min_valid <= len(self.items):
            raise ValueError(f"scale {self.id!r}: min_valid must be between 1 and {len(self.items)}")
        return self


class CleaningRuleSpec(Frozen):
    """A cleaning rule (see :mod:`pceval.clean.rules`), declared in an instrument's ``cleaning``.

    The same shape, with an ``instrument`` key, is a rule of ``pceval.yml``. An instrument's own
    rules travel with it: they harmonise what its older versions and the platforms send.
    """

    name: str | None = None
    field: str | None = None
    rename: dict[str, str] | None = None
    recode: dict[str, str | int] | None = None
    date_formats: tuple[str, ...] | None = None
    trim: bool = False

    @model_validator(mode="after")
    def _does_something(self) -> CleaningRuleSpec:
        if not (self.rename or self.recode or self.date_formats or self.trim):
            raise ValueError("a cleaning rule needs rename, recode, date_formats or trim")
        if (self.recode or self.date_formats or self.trim) and not self.field:
            raise ValueError("recode, date_formats and trim need a field")
        return self


class Instrument(Frozen):
    """One survey or record, as declared in its YAML file.

    Examples
    --------
    >>> from pceval.instrument import load_instrument
    >>> inst = load_instrument("womens_survey")
    >>> inst.role_item("case_key").id
    'case_id'
    """

    kind: Literal["instrument"]
    schema_version: Literal[1]
    id: Annotated[str, Field(pattern=ID_PATTERN)]
    version: str
    title: Text
    respondent: Literal["woman", "worker", "facilitator", "record"]
    description: Text = ""
    languages: tuple[str, ...] = ("en",)
    waves: tuple[str, ...] = ()
    unit: Literal["response", "event"] = "response"
    choice_lists: dict[str, tuple[Choice, ...]] = {}
    missing_codes: tuple[MissingCode, ...] = ()
    items: tuple[Item, ...]
    scales: tuple[Scale, ...] = ()
    support_services: tuple[str, ...] = ()
    cleaning: tuple[CleaningRuleSpec, ...] = ()

    @model_validator(mode="after")
    def _references_resolve(self) -> Instrument:
        ids = [item.id for item in self.items]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate item ids {dupes}")
        known_codes = {m.code for m in self.missing_codes}
        for item in self.items:
            if item.choices and item.choices not in self.choice_lists:
                raise ValueError(
                    f"item {item.id!r} names choice list {item.choices!r}, which is not defined; "
                    f"defined lists: {sorted(self.choice_lists)}"
                )
            unknown = set(item.missing_codes) - known_codes
            if unknown:
                raise ValueError(f"item {item.id!r} uses undeclared missing codes {sorted(unknown, key=str)}")
            stray_waves = set(item.waves) - set(self.waves)
            if stray_waves:
                raise ValueError(f"item {item.id!r} names unknown waves {sorted(stray_waves)}")
        for scale in self.scales:
            if scale.id in ids:
                raise ValueError(f"scale id {scale.id!r} is also an item id; scores need their own name")
            missing = [i for i in scale.items if i not in ids]
            if missing:
                raise ValueError(f"scale {scale.id!r} names items that do not exist: {missing}")
        roles = [item.role for item in self.items if item.role is not None]
        dup_roles = sorted({r.value for r in roles if roles.count(r) > 1})
        if dup_roles:
            raise ValueError(f"roles {dup_roles} are given to more than one item")
        columns = set(self.columns())
        for number, rule in enumerate(self.cleaning, start=1):
            if rule.field is not None and rule.field not in columns:
                raise ValueError(f"cleaning rule {number} names field {rule.field!r}, which is not a "
                                 f"column of this instrument")
            stray = sorted(set((rule.rename or {}).values()) - columns)
            if stray:
                raise ValueError(f"cleaning rule {number} renames to {stray}, which are not columns of "
                                 f"this instrument")
        return self

    # Look-ups -------------------------------------------------------------------------------

    def item(self, item_id: str) -> Item:
        for item in self.items:
            if item.id == item_id:
                return item
        raise KeyError(item_id)

    def role_item(self, role: str | Role) -> Item | None:
        role = Role(role)
        for item in self.items:
            if item.role == role:
                return item
        return None

    def choices_of(self, item: Item | str) -> tuple[Choice, ...]:
        item = self.item(item) if isinstance(item, str) else item
        return self.choice_lists[item.choices] if item.choices else ()

    def missing_of(self, item: Item | str) -> tuple[MissingCode, ...]:
        item = self.item(item) if isinstance(item, str) else item
        return tuple(m for m in self.missing_codes if m.code in item.missing_codes)

    def data_items(self) -> Iterator[Item]:
        return (item for item in self.items if item.carries_data)

    def items_with(self, sensitivity: Sensitivity | str) -> tuple[Item, ...]:
        sensitivity = Sensitivity(sensitivity)
        return tuple(item for item in self.items if item.sensitivity == sensitivity)

    def columns(self) -> list[str]:
        """Staged column names: one per item, and one per choice of a multiple-choice item."""
        out: list[str] = []
        for item in self.data_items():
            if item.is_multiple:
                out.extend(multi_column(item.id, c.code) for c in self.choices_of(item))
            else:
                out.append(item.id)
        return out

    def scale(self, scale_id: str) -> Scale:
        for scale in self.scales:
            if scale.id == scale_id:
                return scale
        raise KeyError(scale_id)


def multi_column(item_id: str, code: Code) -> str:
    """Column holding one choice of a multiple-choice item (0/1).

    Negative codes are written with ``m`` so the name stays a valid identifier.

    Examples
    --------
    >>> multi_column("content", "safety_plan"), multi_column("help", -99)
    ('content__safety_plan', 'help__m99')
    """
    text = str(code)
    if text.startswith("-"):
        text = "m" + text[1:]
    return f"{item_id}__{text}"


class Domain(Frozen):
    id: Annotated[str, Field(pattern=r"^D\d\d$")]
    name: str
    indicators: tuple[str, ...]
    sources: tuple[Literal["W", "PCW", "F", "L"], ...]
    nos: tuple[Annotated[str, Field(pattern=r"^NOS[1-6]$")], ...]
    rba: tuple[Literal["HM", "HW", "BO"], ...]


class ScaleRule(Frozen):
    """Scoring facts of a published scale (no wording): see ``instruments/scale_rules.yml``."""

    id: Annotated[str, Field(pattern=ID_PATTERN)]
    name: str
    reference: str
    n_items: int | None = None
    item_min: float
    item_max: float
    method: Literal["mean", "sum", "prorated_sum"]
    min_valid: int | None = None
    multiplier: float = 1.0
    higher_is_better: bool = True
    screen_uniform: bool = False
    bands: tuple[Band, ...] = ()


class ScaleRules(Frozen):
    kind: Literal["scale_rules"]
    schema_version: Literal[1]
    version: str
    rules: tuple[ScaleRule, ...]

    def rule(self, rule_id: str) -> ScaleRule:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)


class DomainCatalogue(Frozen):
    kind: Literal["domain_catalogue"]
    schema_version: Literal[1]
    version: str
    respondents: dict[str, Literal["woman", "worker", "facilitator", "record"]]
    domains: tuple[Domain, ...]

    def domain(self, domain_id: str) -> Domain:
        for domain in self.domains:
            if domain.id == domain_id:
                return domain
        raise KeyError(domain_id)
