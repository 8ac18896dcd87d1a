"""k-anonymity of quasi-identifiers, and the generalisation rules that restore it.

A quasi-identifier (``sensitivity: quasi_identifier`` in the instrument: age group, Aboriginal
and Torres Strait Islander status, cultural background, disability, number of children, a
worker's code) is harmless alone, but a rare combination of them can single a woman out. A
data set is *k-anonymous* when every combination of quasi-identifier values (an *equivalence
class*) is shared by at least ``k`` people.

- :func:`quasi_identifiers` lists an instrument's quasi-identifier columns;
- :func:`k_anonymity` measures one frame: the smallest class, the classes under ``k`` (their
  value combinations and sizes, never the rows) and the share of people in them;
- :func:`generalise` applies declared rules (recode to broader bands, top-code, drop) and
  returns an audit row for every changed cell;
- :func:`check_k_anonymity` measures every instrument of a build, and
  :func:`k_anonymity_warnings` turns that table into messages the CLI prints.

People, not rows, are counted when the frame says who a row belongs to (the pseudonym
``pid``): a woman with twenty contact-record events or three survey waves is one member of her
class, not twenty or three. A missing value is a value like any other (a reader sees the blank
too), so it forms its own class.

Notes
-----
Sweeney L (2002). k-anonymity: a model for protecting privacy. *International Journal of
Uncertainty, Fuzziness and Knowledge-Based Systems* 10(5):557-570. The measure is written here
rather than taken from a library: the anonymisation packages on PyPI (e.g. ``anonypy``,
``pycanon``) either generalise automatically (pceval's generalisations are declared, audited
rules) or count rows, not people; the count itself is one ``groupby``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from pceval.clean.log import AUDIT_COLUMNS, REDACTED
from pceval.errors import ConfigError
from pceval.instrument.model import Instrument, Sensitivity, multi_column
from pceval.privacy.deidentify import PERSON_KEY

__all__ = [
    "GENERALISE_RULE",
    "KANON_COLUMNS",
    "KAnonResult",
    "check_k_anonymity",
    "generalise",
    "k_anonymity",
    "k_anonymity_warnings",
    "quasi_identifiers",
]

#: Columns of :func:`check_k_anonymity`'s table.
KANON_COLUMNS = ("instrument", "quasi_identifiers", "unit", "units", "k", "k_min",
                 "classes_under_k", "at_risk", "share_at_risk")
#: The ``rule`` of the audit rows :func:`generalise` writes.
GENERALISE_RULE = "generalise"
#: Keys of a rule written as a directive (anything else is a recode map).
_DIRECTIVES = frozenset({"recode", "top_code", "drop", "label"})
_HIDDEN = frozenset({Sensitivity.DIRECT_IDENTIFIER, Sensitivity.CONTACT_SAFETY,
                     Sensitivity.FREE_TEXT})
_SIZE = "size"


# --------------------------------------------------------------------------------------------
# Measuring
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class KAnonResult:
    """How k-anonymous one frame is on its quasi-identifiers.

    Attributes
    ----------
    k : int
        The threshold checked.
    quasi : tuple of str
        The quasi-identifier columns the classes are formed on.
    unit : str or None
        The column naming the person a row belongs to; ``None`` when each row is a person.
    k_min : int or None
        Size of the smallest equivalence class (people in it); ``None`` for an empty frame.
    classes : DataFrame
        The equivalence classes smaller than ``k``: one row per class, the quasi-identifier
        columns (the combination of values) and ``size``, sorted by size then values. Never
        the rows themselves.
    units : int
        People (or rows) counted.
    at_risk : int
        People (or rows) in at least one class smaller than ``k``.
    """

    k: int
    quasi: tuple[str, ...]
    unit: str | None
    k_min: int | None
    classes: pd.DataFrame
    units: int
    at_risk: int

    @property
    def share_at_risk(self) -> float:
        """Share of people (or rows) in a class smaller than ``k`` (0 for an empty frame)."""
        return self.at_risk / self.units if self.units else 0.0

    @property
    def ok(self) -> bool:
        """Whether every class has at least ``k`` members."""
        return self.at_risk == 0

    def to_frame(self) -> pd.DataFrame:
        """One row: ``quasi_identifiers, unit, units, k, k_min, classes_under_k, at_risk,
        share_at_risk``."""
        return pd.DataFrame({
            "quasi_identifiers": pd.array([", ".join(self.quasi)], dtype="string"),
            "unit": pd.array([self.unit or "row"], dtype="string"),
            "units": pd.array([self.units], dtype="Int64"),
            "k": pd.array([self.k], dtype="Int64"),
            "k_min": pd.array([self.k_min], dtype="Int64"),
            "classes_under_k": pd.array([len(self.classes)], dtype="Int64"),
            "at_risk": pd.array([self.at_risk], dtype="Int64"),
            "share_at_risk": pd.array([self.share_at_risk], dtype="Float64"),
        })


def k_anonymity(frame: pd.DataFrame, quasi: Sequence[str], *, k: int = 5,
                unit: str | None = None) -> KAnonResult:
    """Measure the k-anonymity of ``frame`` on the quasi-identifier columns ``quasi``.

    Parameters
    ----------
    frame : DataFrame
        Record-level data. Not modified.
    quasi : sequence of str
        Quasi-identifier columns; rows with the same values in all of them form a class. A
        missing value is a value of its own. With no columns, all rows form one class.
    k : int
        Classes with fewer than ``k`` members are at risk (default 5, pceval's minimum cell).
    unit : str, optional
        Column naming the person a row belongs to (``pid``); a class's size is then the number
        of distinct people in it, and a person is at risk when any of her classes is small.
        Rows with a missing unit count as a person each. Without it, rows are counted.

    Returns
    -------
    KAnonResult

    Raises
    ------
    ConfigError
        A named column is not in the frame.
    ValueError
        ``k`` is not a positive integer, or a quasi-identifier is named ``size``.

    Examples
    --------
    >>> f = pd.DataFrame({"age": [1, 1, 1, 2, 2, 3], "atsi": [0, 0, 0, 0, 0, 1]})
    >>> r = k_anonymity(f, ["age", "atsi"], k=3)
    >>> r.k_min, r.at_risk, round(r.share_at_risk, 2)
    (1, 3, 0.5)
    >>> r.classes.to_dict("records")
    [{'age': 3, 'atsi': 1, 'size': 1}, {'age': 2, 'atsi': 0, 'size': 2}]
    """
    if not isinstance(k, int | np.integer) or isinstance(k, bool) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    quasi = tuple(quasi)
    if _SIZE in quasi:
        raise ValueError(f"a quasi-identifier column cannot be called {_SIZE!r}; rename it")
    for column in (*quasi, *([unit] if unit is not None else [])):
        _require_column(frame, column, what="k-anonymity check")
    empty_classes = pd.DataFrame({**{c: frame[c].iloc[:0] for c in quasi},
                                  _SIZE: pd.Series(dtype="Int64")})
    if frame.empty:
        return KAnonResult(k=int(k), quasi=quasi, unit=unit, k_min=None, classes=empty_classes,
                           units=0, at_risk=0)
    people = _units(frame, unit)
    if quasi:
        class_id = frame.groupby(list(quasi), dropna=False, sort=False).ngroup().to_numpy()
    else:
        class_id = np.zeros(len(frame), dtype=np.int64)
    members = pd.DataFrame({"cls": class_id, "unit": people.to_numpy()})
    sizes = members.drop_duplicates().groupby("cls")["unit"].size()
    small = sizes[sizes < k]
    at_risk_rows = members["cls"].isin(small.index).to_numpy()
    at_risk = int(members.loc[at_risk_rows, "unit"].nunique())
    units = int(members["unit"].nunique())
    if len(small):
        first = pd.Series(np.arange(len(frame))).groupby(class_id).first()
        rows = first.loc[small.index].to_numpy()
        classes = frame.iloc[rows][list(quasi)].reset_index(drop=True)
        classes[_SIZE] = pd.array(small.to_numpy(), dtype="Int64")
        classes = _sort_classes(classes, quasi)
    else:
        classes = empty_classes
    return KAnonResult(k=int(k), quasi=quasi, unit=unit, k_min=int(sizes.min()), classes=classes,
                       units=units, at_risk=at_risk)


def _units(frame: pd.DataFrame, unit: str | None) -> pd.Series:
    """One label per row naming its person; rows without one are a person each."""
    position = pd.Series([f"\x00row{i}" for i in range(len(frame))], index=frame.index)
    if unit is None:
        return position
    labels = frame[unit].astype("string")
    return labels.where(labels.notna(), position).astype(str)


def _sort_classes(classes: pd.DataFrame, quasi: Sequence[str]) -> pd.DataFrame:
    # sort on the values' text so mixed or missing values still give one stable order
    keys = pd.DataFrame({c: classes[c].astype("string").fillna("") for c in quasi})
    keys.insert(0, _SIZE, classes[_SIZE].to_numpy())
    order = keys.sort_values([_SIZE, *quasi], kind="stable").index
    return classes.loc[order].reset_index(drop=True)


def quasi_identifiers(instrument: Instrument, frame: pd.DataFrame | None = None) -> list[str]:
    """The columns of an instrument's quasi-identifier items, in the instrument's order.

    Parameters
    ----------
    instrument : Instrument
        Items with ``sensitivity: quasi_identifier`` are taken (a multiple-choice item
        gives one column per choice).
    frame : DataFrame, optional
        When given, only the columns present in it.

    Examples
    --------
    >>> from pceval.instrument import load_instrument
    >>> quasi_identifiers(load_instrument("contact_record"))
    ['age_group', 'atsi', 'cald', 'disability', 'worker_code']
    """
    columns: list[str] = []
    for item in instrument.items_with(Sensitivity.QUASI_IDENTIFIER):
        if not item.carries_data:
            continue
        if item.is_multiple:
            columns += [multi_column(item.id, c.code) for c in instrument.choices_of(item)]
        else:
            columns.append(item.id)
    if frame is not None:
        columns = [c for c in columns if c in frame.columns]
    return columns


def check_k_anonymity(frames: Mapping[str, pd.DataFrame], instruments: Mapping[str, Instrument],
                      *, k: int = 5) -> pd.DataFrame:
    """k-anonymity of every instrument's quasi-identifiers in a build.

    Parameters
    ----------
    frames : mapping of str to DataFrame
        De-identified data per instrument id (the clean zone).
    instruments : mapping of str to Instrument
        The instruments; only those with a frame are checked, in the instruments' order.
    k : int
        The threshold (default 5).

    Returns
    -------
    DataFrame
        One row per instrument, columns :data:`KANON_COLUMNS`: ``instrument``,
        ``quasi_identifiers`` (comma-separated; empty when the instrument has none in the
        data, and then ``k_min`` is missing), ``unit`` (``woman`` when people are counted by
        their pseudonym, else ``row``), ``units``, ``k``, ``k_min``, ``classes_under_k``,
        ``at_risk`` (people or rows in a class under ``k``) and ``share_at_risk``.

    Examples
    --------
    >>> from pceval.instrument import load_instrument
    >>> inst = load_instrument("worker_survey")
    >>> f = pd.DataFrame({"qualification": [1, 1, 1, 2]})
    >>> check_k_anonymity({"worker_survey": f}, {"worker_survey": inst}, k=3)[
    ...     ["quasi_identifiers", "k_min", "at_risk"]].to_dict("records")
    [{'quasi_identifiers': 'qualification', 'k_min': 1, 'at_risk': 1}]
    """
    rows = []
    for inst_id, inst in instruments.items():
        if inst_id not in frames:
            continue
        frame = frames[inst_id]
        quasi = quasi_identifiers(inst, frame)
        unit = PERSON_KEY if PERSON_KEY in frame.columns else None
        if quasi:
            summary = k_anonymity(frame, quasi, k=k, unit=unit).to_frame()
            record = summary.iloc[0].to_dict()
            record["unit"] = "woman" if unit else "row"
        else:
            units = int(frame[unit].nunique()) if unit else len(frame)
            record = {"quasi_identifiers": "", "unit": "woman" if unit else "row",
                      "units": units, "k": k, "k_min": pd.NA, "classes_under_k": 0,
                      "at_risk": 0, "share_at_risk": 0.0}
        rows.append({"instrument": inst_id, **record})
    out = pd.DataFrame(rows, columns=list(KANON_COLUMNS))
    return out.astype({"instrument": "string", "quasi_identifiers": "string", "unit": "string",
                       "units": "Int64", "k": "Int64", "k_min": "Int64",
                       "classes_under_k": "Int64", "at_risk": "Int64",
                       "share_at_risk": "Float64"})


def k_anonymity_warnings(table: pd.DataFrame) -> list[str]:
    """One message per instrument of :func:`check_k_anonymity`'s table with a class under k.

    The messages name the instrument, its quasi-identifiers and how many people are at risk,
    and say what to do; they contain no values.

    Examples
    --------
    >>> t = pd.DataFrame([{"instrument": "contact_record", "quasi_identifiers": "age_group, atsi",
    ...                    "unit": "woman", "units": 200, "k": 5, "k_min": 1,
    ...                    "classes_under_k": 3, "at_risk": 6, "share_at_risk": 0.03}])
    >>> print(k_anonymity_warnings(t)[0])  # doctest: +NORMALIZE_WHITESPACE
    contact_record: 6 of 200 women (3.0%) are in 3 combinations of age_group, atsi shared by
    fewer than 5 (smallest: 1); generalise these quasi-identifiers (broader bands, top-coding
    or dropping one) before record-level data leave the evaluation
    """
    out = []
    for row in table.to_dict("records"):
        classes = row.get("classes_under_k")
        if classes is None or pd.isna(classes) or int(classes) == 0:
            continue
        noun = "women" if row.get("unit") == "woman" else "rows"
        share = float(row["share_at_risk"]) * 100
        out.append(
            f"{row['instrument']}: {int(row['at_risk']):,} of {int(row['units']):,} {noun} "
            f"({share:.1f}%) are in {int(classes):,} combination{'s' if int(classes) != 1 else ''}"
            f" of {row['quasi_identifiers']} shared by fewer than {int(row['k'])} "
            f"(smallest: {int(row['k_min'])}); generalise these quasi-identifiers (broader "
            "bands, top-coding or dropping one) before record-level data leave the evaluation")
    return out


# --------------------------------------------------------------------------------------------
# Generalising
# --------------------------------------------------------------------------------------------


def generalise(frame: pd.DataFrame, rules: Mapping[str, Mapping[str, Any]], *,
               instrument: Instrument | str | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Apply declared generalisation rules to quasi-identifier columns.

    Parameters
    ----------
    frame : DataFrame
        Record-level data. Not modified.
    rules : mapping of column to rule
        One rule per column, applied in the order given. A rule is one of

        - a recode map, ``{old: new, ...}`` (or ``{"recode": {old: new, ...}}``): codes are
          matched by their text (``1``, ``1.0`` and ``"1"`` are the same code); values not in
          the map are kept. The column stays numeric when it was and every new value is a
          number; otherwise it becomes text;
        - ``{"top_code": n}``: numbers of ``n`` or more become ``"n or more"`` (or the text of
          ``"label"``); the column becomes text;
        - ``{"drop": true}``: the column is removed.
    instrument : Instrument or str, optional
        The instrument (or its id) the frame follows, named in the audit. Given as an
        :class:`Instrument`, values of identifier, contact-safety and free-text columns are
        written to the audit as ``[redacted]``; values of quasi-identifiers and analysis
        items are shown (they identify no one alone).

    Returns
    -------
    frame : DataFrame
        A generalised copy.
    audit : DataFrame
        One row per changed cell, columns :data:`pceval.clean.log.AUDIT_COLUMNS`
        (``instrument, file, row, field, old, new, rule``) with ``rule`` ``generalise``;
        ``row`` is the ``_row`` column (as the user counts rows in the raw file) when there is
        one, else the frame's index; ``file`` is the ``_file`` column when there is one. A
        dropped cell has ``new`` missing; blank cells are not listed.

    Raises
    ------
    ConfigError
        A rule names a column that is not in the frame, is not a mapping, mixes directives, or
        top-codes a column that is not numeric.

    Examples
    --------
    >>> f = pd.DataFrame({"_row": [2, 3, 4], "age_group": [1, 2, 4], "children_n": [0, 6, 2]})
    >>> out, audit = generalise(f, {"age_group": {1: "under 35", 2: "under 35"},
    ...                             "children_n": {"top_code": 5}})
    >>> out[["age_group", "children_n"]].to_dict("list")
    {'age_group': ['under 35', 'under 35', '4'], 'children_n': ['0', '5 or more', '2']}
    >>> audit[["row", "field", "old", "new"]].to_dict("records")  # doctest: +NORMALIZE_WHITESPACE
    [{'row': 2, 'field': 'age_group', 'old': '1', 'new': 'under 35'},
     {'row': 3, 'field': 'age_group', 'old': '2', 'new': 'under 35'},
     {'row': 3, 'field': 'children_n', 'old': '6', 'new': '5 or more'}]
    """
    if not isinstance(rules, Mapping):
        raise ConfigError("generalisation rules must map column names to rules, got "
                          f"{type(rules).__name__}", fix="write rules as {column: rule}")
    inst_id = instrument.id if isinstance(instrument, Instrument) else instrument
    hidden = _hidden_columns(instrument) if isinstance(instrument, Instrument) else set()
    for column in rules:
        _require_column(frame, column, what="generalisation rule")
    out = frame.copy()
    rows = (out["_row"] if "_row" in out.columns else pd.Series(out.index, index=out.index))
    files = out["_file"] if "_file" in out.columns else pd.Series(pd.NA, index=out.index)
    parts: list[pd.DataFrame] = []
    for column, rule in rules.items():
        kind, argument, label = _parse_rule(column, rule)
        values = out[column]
        if kind == "drop":
            changed = values.notna()
            new = pd.Series(pd.NA, index=out.index, dtype="string")
            out = out.drop(columns=[column])
        elif kind == "top_code":
            new, changed = _top_code(column, values, argument, label)
            out[column] = new
        else:
            new, changed = _recode(values, argument)
            out[column] = new
        if changed.any():
            old_text = _as_text(values[changed])
            new_text = _as_text(new[changed])
            if column in hidden:
                old_text = old_text.mask(old_text.notna(), REDACTED)
                new_text = new_text.mask(new_text.notna(), REDACTED)
            parts.append(pd.DataFrame({
                "instrument": inst_id if inst_id is not None else pd.NA,
                "file": files[changed].astype("string").to_numpy(),
                "row": pd.array(rows[changed].to_numpy(), dtype="Int64"),
                "field": column,
                "old": old_text.to_numpy(),
                "new": new_text.to_numpy(),
                "rule": GENERALISE_RULE,
            }))
    audit = (pd.concat(parts, ignore_index=True) if parts
             else pd.DataFrame({c: pd.Series(dtype="string") for c in AUDIT_COLUMNS}))
    audit = audit.loc[:, list(AUDIT_COLUMNS)]
    for column in AUDIT_COLUMNS:
        audit[column] = audit[column].astype("Int64" if column == "row" else "string")
    return out, audit.reset_index(drop=True)


def _hidden_columns(instrument: Instrument) -> set[str]:
    out: set[str] = set()
    for item in instrument.data_items():
        if item.sensitivity in _HIDDEN:
            out.add(item.id)
            if item.is_multiple:
                out |= {multi_column(item.id, c.code) for c in instrument.choices_of(item)}
    return out


def _require_column(frame: pd.DataFrame, column: str, *, what: str) -> None:
    if column not in frame.columns:
        raise ConfigError(f"the {what} names column {column!r}, which is not in the data",
                          field=str(column),
                          fix="name one of the columns: " + ", ".join(map(str, frame.columns)))


def _parse_rule(column: str, rule: object) -> tuple[str, Any, str | None]:
    """``(kind, argument, label)`` of one rule; kind is ``recode``, ``top_code`` or ``drop``."""
    if not isinstance(rule, Mapping):
        raise ConfigError(f"the rule for {column!r} must be a recode map or one of "
                          f"{{top_code: n}}, {{drop: true}}; got {rule!r}", field=str(column))
    keys = {str(key) for key in rule}
    if not keys & _DIRECTIVES:
        return "recode", dict(rule), None
    stray = keys - _DIRECTIVES
    chosen = sorted(keys & {"recode", "top_code", "drop"})
    if stray or len(chosen) != 1 or ("label" in keys and chosen != ["top_code"]):
        raise ConfigError(f"the rule for {column!r} has keys {sorted(keys)}; a rule is a recode "
                          "map or exactly one of recode, top_code (with an optional label), drop",
                          field=str(column), fix="split it into one rule per column")
    kind = chosen[0]
    argument = rule[kind]
    if kind == "drop":
        if argument is not True:
            raise ConfigError(f"the rule for {column!r} says drop: {argument!r}; write drop: true "
                              "or remove the rule", field=str(column))
    elif kind == "recode":
        if not isinstance(argument, Mapping):
            raise ConfigError(f"the recode rule for {column!r} must map old codes to new ones",
                              field=str(column))
        argument = dict(argument)
    elif (not isinstance(argument, int | float | np.number) or isinstance(argument, bool)
          or not np.isfinite(argument)):
        raise ConfigError(f"the top_code of {column!r} must be a number, got {argument!r}",
                          field=str(column))
    label = rule.get("label")
    return kind, argument, None if label is None else str(label)


def _key(value: object) -> str:
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _as_text(values: pd.Series) -> pd.Series:
    """Values as the text a user reads (whole numbers without ``.0``; missing stays missing)."""
    return pd.Series([pd.NA if pd.isna(v) else _key(v) for v in values], index=values.index,
                     dtype="string")


def _top_code(column: str, values: pd.Series, top: float,
              label: str | None) -> tuple[pd.Series, pd.Series]:
    if not pd.api.types.is_numeric_dtype(values.dtype) or pd.api.types.is_bool_dtype(values.dtype):
        raise ConfigError(f"top_code needs numbers, but {column!r} holds {values.dtype}",
                          field=str(column), fix="recode it with a map instead")
    changed = (values >= top).fillna(False).astype(bool)
    text = label if label is not None else f"{_key(top)} or more"
    new = _as_text(values).where(~changed, text)
    return new, changed


def _recode(values: pd.Series, mapping: dict) -> tuple[pd.Series, pd.Series]:
    lookup = {_key(old): new for old, new in mapping.items()}
    keys = _as_text(values)
    hit = keys.isin(list(lookup)).fillna(False).astype(bool)
    mapped = keys[hit].map(lookup)
    numeric_out = (pd.api.types.is_numeric_dtype(values.dtype)
                   and not pd.api.types.is_bool_dtype(values.dtype)
                   and all(isinstance(v, int | float | np.number) and not isinstance(v, bool)
                           for v in lookup.values()))
    if numeric_out:
        whole = all(float(v).is_integer() for v in lookup.values()) and \
            pd.api.types.is_integer_dtype(values.dtype)
        new = values.astype("Int64" if whole else "Float64").copy()
        new.loc[hit] = mapped.astype("Int64" if whole else "Float64")
    else:
        new = keys.copy()
        new.loc[hit] = mapped.map(_key).astype("string")
    changed = hit & (_as_text(new) != keys).fillna(True).astype(bool)
    return new, changed
