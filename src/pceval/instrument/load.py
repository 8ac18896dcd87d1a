"""Load instrument and catalogue YAML: YAML, then schema check, then frozen models."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from pceval.errors import InstrumentError
from pceval.instrument.expressions import ExpressionError, parse_expression
from pceval.instrument.model import DomainCatalogue, Instrument, ScaleRules
from pceval.resources import default_path


def _read_yaml(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InstrumentError("file not found", file=path) from None
    except UnicodeDecodeError:
        raise InstrumentError("not UTF-8 text", file=path, fix="save the file as UTF-8") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        row = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise InstrumentError(f"malformed YAML: {problem}", file=path, row=row,
                              fix="check indentation and quoting on that line") from None
    except ValueError as exc:  # a value PyYAML's constructors refuse: an integer of 5,000 digits
        raise InstrumentError(f"malformed YAML: {exc}", file=path,
                              fix="check the values of the file") from None
    except RecursionError:  # PyYAML reads nested collections recursively
        raise InstrumentError("malformed YAML: lists or mappings nested too deeply", file=path,
                              fix="check the brackets and indentation of the file") from None
    if not isinstance(data, dict):
        raise InstrumentError("expected a mapping at the top of the file", file=path)
    return data


def _pydantic_error(path: Path, data: dict, exc: ValidationError) -> InstrumentError:
    first = exc.errors()[0]
    loc = first["loc"]
    field = None
    if len(loc) >= 2 and loc[0] in {"items", "scales", "domains"} and isinstance(loc[1], int):
        try:
            field = f"{loc[0][:-1]} {data[loc[0]][loc[1]].get('id', loc[1])}"
        except (KeyError, IndexError, AttributeError, TypeError):
            field = f"{loc[0]}[{loc[1]}]"
        rest = ".".join(str(part) for part in loc[2:])
        if rest:
            field = f"{field}.{rest}"
    elif loc:
        field = ".".join(str(part) for part in loc)
    message = first["msg"].removeprefix("Value error, ")
    more = len(exc.errors()) - 1
    if more:
        message += f" (and {more} more problem{'s' if more > 1 else ''})"
    return InstrumentError(message, file=path, field=field)


def resolve_instrument_path(ref: str | Path, search: Path | None = None) -> Path:
    """Find an instrument file from an id (``womens_survey``) or a path."""
    candidate = Path(ref)
    if candidate.suffix in {".yml", ".yaml"} or candidate.exists():
        return candidate
    folders = [search] if search is not None else []
    folders.append(default_path("instruments"))
    for folder in folders:
        for suffix in (".yml", ".yaml"):
            path = Path(folder) / f"{ref}{suffix}"
            if path.exists():
                return path
    raise InstrumentError(f"no instrument with id {str(ref)!r}",
                          fix="give a path to a .yml file or one of the shipped ids")


def load_instrument(ref: str | Path, *, search: Path | None = None) -> Instrument:
    """Load an instrument by id or path and check its references and expressions.

    Parameters
    ----------
    ref : str or Path
        An instrument id (looked up in ``search``, then in the shipped instruments) or a path.
    search : Path, optional
        A folder of instruments to look in first (an evaluation project's ``instruments/``).

    Raises
    ------
    InstrumentError
        With the file and the item at fault.

    Examples
    --------
    >>> load_instrument("contact_record").respondent
    'record'
    """
    path = resolve_instrument_path(ref, search)
    data = _read_yaml(path)
    if data.get("kind") != "instrument":
        raise InstrumentError(f"kind is {data.get('kind')!r}, expected 'instrument'", file=path,
                              field="kind")
    try:
        instrument = Instrument.model_validate(data)
    except ValidationError as exc:
        raise _pydantic_error(path, data, exc) from None
    if any(scale.rule for scale in instrument.scales):
        beside = path.parent / "scale_rules.yml"
        rules = load_scale_rules(beside if beside.exists() else None)
        instrument = apply_scale_rules(instrument, rules, file=path)
    known = {item.id for item in instrument.items}
    for item in instrument.items:
        for attr in ("relevance", "calculation"):
            source = getattr(item, attr)
            if not source:
                continue
            try:
                names = parse_expression(source).names
            except ExpressionError as exc:
                raise InstrumentError(str(exc), file=path, field=f"item {item.id}.{attr}") from None
            unknown = sorted(names - known)
            if unknown:
                raise InstrumentError(
                    f"{attr} {source!r} names {unknown}, which are not items of this instrument",
                    file=path, field=f"item {item.id}.{attr}",
                    fix="correct the item id or add the item")
    return instrument


def load_instruments(folder: str | Path | None = None) -> dict[str, Instrument]:
    """All instruments in a folder (the shipped ones by default), keyed by id."""
    folder = Path(folder) if folder is not None else default_path("instruments")
    out: dict[str, Instrument] = {}
    for path in sorted(folder.glob("*.yml")):
        head = _read_yaml(path)
        if head.get("kind") == "instrument":
            instrument = load_instrument(path)
            out[instrument.id] = instrument
    return out


def load_catalogue(path: str | Path | None = None) -> DomainCatalogue:
    """Load the outcome-domain catalogue (``instruments/domains.yml``)."""
    path = Path(path) if path is not None else default_path("instruments") / "domains.yml"
    data = _read_yaml(path)
    try:
        return DomainCatalogue.model_validate(data)
    except ValidationError as exc:
        raise _pydantic_error(path, data, exc) from None


def load_scale_rules(path: str | Path | None = None) -> ScaleRules:
    """Load the built-in scoring rules (``instruments/scale_rules.yml``).

    Examples
    --------
    >>> load_scale_rules().rule("k10").bands[-1].label
    'very high'
    """
    path = Path(path) if path is not None else default_path("instruments") / "scale_rules.yml"
    data = _read_yaml(path)
    try:
        return ScaleRules.model_validate(data)
    except ValidationError as exc:
        raise _pydantic_error(path, data, exc) from None


_RULE_FIELDS = ("method", "min_valid", "multiplier", "higher_is_better", "screen_uniform", "bands")


def apply_scale_rules(instrument: Instrument, rules: ScaleRules, *, file: Path | str | None = None) -> Instrument:
    """Check each scale that names a rule against it and fill in what the scale leaves unset.

    The item count must match the rule's, and each item's range (its numeric choice codes or
    its constraint) must be the rule's response range; a value set on the scale wins over the
    rule's.
    """
    scales = []
    for scale in instrument.scales:
        if not scale.rule:
            scales.append(scale)
            continue
        try:
            rule = rules.rule(scale.rule)
        except KeyError:
            raise InstrumentError(f"scale {scale.id} names unknown scoring rule {scale.rule!r}",
                                  file=file, field=f"scale {scale.id}.rule",
                                  fix=f"use one of {[r.id for r in rules.rules]}") from None
        if rule.n_items is not None and len(scale.items) != rule.n_items:
            raise InstrumentError(
                f"scale {scale.id} has {len(scale.items)} items; rule {rule.id} scores {rule.n_items}",
                file=file, field=f"scale {scale.id}.items", fix="list exactly the scale's items")
        for item_id in scale.items:
            item = instrument.item(item_id)
            codes = [c.code for c in instrument.choices_of(item)]
            if codes and all(isinstance(c, int) for c in codes):
                low, high = min(codes), max(codes)
            elif item.constraint is not None:
                low, high = item.constraint.min, item.constraint.max
            else:
                low = high = None
            if (low, high) != (rule.item_min, rule.item_max):
                raise InstrumentError(
                    f"item {item_id} ranges {low} to {high}; rule {rule.id} needs {rule.item_min:g} to {rule.item_max:g}",
                    file=file, field=f"scale {scale.id}", fix="code the item's answers as the scale's rule does")
        update = {name: getattr(rule, name) for name in _RULE_FIELDS if name not in scale.model_fields_set}
        scales.append(scale.model_copy(update=update))
    return instrument.model_copy(update={"scales": tuple(scales)})
