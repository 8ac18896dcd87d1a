"""Compare two versions of an instrument, and say what to do before pooling their data.

Instruments change between evaluation rounds: a question is reworded, a response option is
merged, a missing code is added. :func:`diff_instruments` lists every change as a tidy frame
with a harmonisation hint for each (what must be recoded or checked before data collected with
the two versions can be pooled); :func:`format_diff` prints it for the terminal.

Choice lists are compared by content, not by name: moving an item to an identically coded list
under another name is no change. Labels are compared in every language.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd

from pceval.instrument.load import load_instrument
from pceval.instrument.model import Choice, Code, Instrument, Item, Scale, Text, text_in

__all__ = ["CHANGES", "DIFF_COLUMNS", "diff_instruments", "format_diff"]

DIFF_COLUMNS = ("change", "item", "detail", "harmonise")

#: Change types, in the order rows appear for one item.
CHANGES = (
    "version_changed",
    "item_added",
    "item_removed",
    "type_changed",
    "label_changed",
    "choices_changed",
    "missing_codes_changed",
    "relevance_changed",
    "constraint_changed",
    "sensitivity_changed",
    "scale_changed",
    "other_changed",
)

# Item fields with their own change type (everything else is ``other_changed``).
_OWN = {"id", "type", "label", "choices", "missing_codes", "relevance", "constraint",
        "sensitivity"}


def _load(ref: Instrument | str | Path) -> Instrument:
    return ref if isinstance(ref, Instrument) else load_instrument(ref)


def diff_instruments(old: Instrument | str | Path, new: Instrument | str | Path) -> pd.DataFrame:
    """Every difference between two versions of an instrument.

    Parameters
    ----------
    old, new : Instrument, str or Path
        The two versions (loaded instruments, ids or paths).

    Returns
    -------
    DataFrame
        One row per change, columns:

        - ``change``: one of :data:`CHANGES` (``item_added``, ``label_changed``,
          ``choices_changed`` ...; ``other_changed`` for fields without a type of their own,
          such as waves, domains or the title);
        - ``item``: the item (or scale) id; "" for the instrument as a whole;
        - ``detail``: what changed, old → new;
        - ``harmonise``: what to do before pooling data from the two versions
          (e.g. ``codes 4,5 merged into 4: recode old 5 to 4 before pooling``).

        Rows follow the new version's item order (removed items where they were), then scales.

    Examples
    --------
    >>> from pceval.instrument import load_instrument
    >>> women = load_instrument("womens_survey")
    >>> diff_instruments(women, women).empty
    True
    """
    before, after = _load(old), _load(new)
    rows: list[tuple[str, str, str, str]] = []
    if before.version != after.version:
        rows.append(("version_changed", "", f"{before.version} → {after.version}",
                     "record the instrument version with every response so rounds can be told "
                     "apart"))
    for field in ("id", "title", "respondent", "waves", "unit", "languages", "description",
                  "support_services"):
        a, b = getattr(before, field), getattr(after, field)
        if a != b:
            hint = ("different respondents: do not pool" if field == "respondent"
                    else "a different instrument id: check these are versions of one instrument"
                    if field == "id"
                    else "waves differ: align wave names before pooling" if field == "waves"
                    else "documentation only")
            rows.append(("other_changed", "", f"{field}: {_show(a)} → {_show(b)}", hint))
    old_ids = [i.id for i in before.items]
    new_ids = [i.id for i in after.items]
    for item_id in _merged_order(old_ids, new_ids):
        if item_id not in new_ids:
            rows.append(("item_removed", item_id, f"{_type_label(before.item(item_id))}",
                         "not asked in the new version: missing for its respondents; analyses "
                         "pooling both versions must not expect it"))
        elif item_id not in old_ids:
            rows.append(("item_added", item_id, f"{_type_label(after.item(item_id))}",
                         "not asked in the old version: missing (not skipped) for earlier "
                         "responses; compare only responses from the new version"))
        else:
            rows.extend(_item_changes(before, after, before.item(item_id), after.item(item_id)))
    rows.extend(_scale_changes(before, after))
    return pd.DataFrame(rows, columns=list(DIFF_COLUMNS)).astype("string")


def _merged_order(old: Sequence[str], new: Sequence[str]) -> list[str]:
    """New order, with each removed id placed after the id that preceded it in the old order."""
    out = list(new)
    for n, item_id in enumerate(old):
        if item_id in out:
            continue
        before = next((old[k] for k in range(n - 1, -1, -1) if old[k] in out), None)
        out.insert(out.index(before) + 1 if before is not None else 0, item_id)
    return out


def _type_label(item: Item) -> str:
    label = text_in(item.label)
    return f"{item.type.value}: {_clip(label)}" if label else item.type.value


def _clip(text: str, width: int = 70) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _show(value: object) -> str:
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_clip(str(v), 40)}" for k, v in value.items()) + "}"
    if value is None or value == "":
        return "(none)"
    if hasattr(value, "value"):
        return str(value.value)
    return _clip(str(value))


def _code(code: Code) -> str:
    return str(code)


def _codes(codes: Iterable[Code]) -> str:
    return ",".join(_code(c) for c in codes)


def _texts(text: Text) -> dict[str, str]:
    return {"en": text} if isinstance(text, str) else dict(text)


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def _item_changes(before: Instrument, after: Instrument, a: Item, b: Item) -> list[tuple]:
    rows: list[tuple] = []
    item_id = b.id
    if a.type != b.type:
        rows.append(("type_changed", item_id, f"{a.type.value} → {b.type.value}",
                     "values are stored differently: convert old values to the new type and "
                     "check codes and scoring before pooling"))
    old_labels, new_labels = _texts(a.label), _texts(b.label)
    if old_labels != new_labels:
        for lang in sorted(set(old_labels) | set(new_labels)):
            x, y = old_labels.get(lang, ""), new_labels.get(lang, "")
            if x != y:
                prefix = "" if lang == "en" and len(set(old_labels) | set(new_labels)) == 1 \
                    else f"[{lang}] "
                rows.append(("label_changed", item_id,
                             f"{prefix}{_clip(x) or '(none)'!r} → {_clip(y) or '(none)'!r}",
                             _label_hint(x, y)))
    choice_detail = _choices_detail(before.choices_of(a), after.choices_of(b))
    if choice_detail:
        rows.append(("choices_changed", item_id, *choice_detail))
    missing_detail = _missing_detail(before, after, a, b)
    if missing_detail:
        rows.append(("missing_codes_changed", item_id, *missing_detail))
    if (a.relevance or "") != (b.relevance or ""):
        rows.append(("relevance_changed", item_id,
                     f"{a.relevance or '(always asked)'} → {b.relevance or '(always asked)'}",
                     "who is asked changed: compare only respondents asked under both "
                     "conditions, and recheck skipped_by_logic counts"))
    if a.constraint != b.constraint:
        rows.append(("constraint_changed", item_id,
                     f"{_constraint(a)} → {_constraint(b)}",
                     "the valid range changed: apply the narrower range to both versions "
                     "before pooling"))
    if a.sensitivity != b.sensitivity:
        rows.append(("sensitivity_changed", item_id,
                     f"{a.sensitivity.value} → {b.sensitivity.value}", _sensitivity_hint(b)))
    for field in type(b).model_fields:
        if field in _OWN:
            continue
        x, y = getattr(a, field), getattr(b, field)
        if x != y:
            rows.append(("other_changed", item_id, f"{field}: {_show(x)} → {_show(y)}",
                         _other_hint(field)))
    return rows


def _label_hint(old: str, new: str) -> str:
    if _norm(old) == _norm(new):
        return "punctuation or spacing only: pool as is"
    old_window, new_window = _window(old), _window(new)
    if old_window != new_window:
        return (f"recall window changed ({old_window or 'none'} → {new_window or 'none'}): "
                "answers cover different periods; do not pool without a sensitivity analysis")
    return "wording changed: check the meaning is the same before pooling; report the change"


def _window(text: str) -> str:
    match = re.search(r"(in|over|during) the (past|last) [\w ]*?(days?|weeks?|months?|years?)",
                      text, re.IGNORECASE)
    return match.group(0).lower() if match else ""


def _choices_detail(old: Sequence[Choice], new: Sequence[Choice]) -> tuple[str, str] | None:
    if tuple(old) == tuple(new):
        return None
    old_map = {c.code: c.label for c in old}
    new_map = {c.code: c.label for c in new}
    added = [c for c in new_map if c not in old_map]
    removed = [c for c in old_map if c not in new_map]
    relabelled = [c for c in old_map if c in new_map and _texts(old_map[c]) != _texts(new_map[c])]
    details: list[str] = []
    hints: list[str] = []
    # a label that kept its text but moved to another code: recoded
    recoded: dict[Code, Code] = {}
    for code in removed:
        for other in added:
            if _norm(text_in(old_map[code])) == _norm(text_in(new_map[other])):
                recoded[code] = other
    for code, other in recoded.items():
        details.append(f"{text_in(old_map[code])!r} recoded {_code(code)} → {_code(other)}")
        hints.append(f"recode old {_code(code)} to {_code(other)} before pooling")
    removed = [c for c in removed if c not in recoded]
    added = [c for c in added if c not in recoded.values()]
    # a removed code whose label the new label of a kept code now includes: merged
    merged: dict[Code, list[Code]] = {}
    for code in removed:
        for kept in relabelled:
            now = f" {_norm(text_in(new_map[kept]))} "
            if (f" {_norm(text_in(old_map[code]))} " in now
                    and f" {_norm(text_in(old_map[kept]))} " in now):
                merged.setdefault(kept, []).append(code)
                break
    for kept, codes in merged.items():
        group = sorted([kept, *codes], key=str)
        details.append(f"codes {_codes(group)} merged into {_code(kept)} "
                       f"({text_in(new_map[kept])!r})")
        hints.append(f"codes {_codes(group)} merged: recode old {_codes(codes)} to "
                     f"{_code(kept)} before pooling")
    merged_codes = {c for codes in merged.values() for c in codes}
    removed = [c for c in removed if c not in merged_codes]
    relabelled = [c for c in relabelled if c not in merged]
    if added:
        details.append("added " + ", ".join(f"{_code(c)} {text_in(new_map[c])!r}" for c in added))
        hints.append(f"code{'s' if len(added) > 1 else ''} {_codes(added)} did not exist in "
                     "the old version: old answers cannot have chosen "
                     f"{'them' if len(added) > 1 else 'it'}; compare distributions with care")
    if removed:
        details.append("removed " + ", ".join(f"{_code(c)} {text_in(old_map[c])!r}"
                                              for c in removed))
        hints.append(f"code{'s' if len(removed) > 1 else ''} {_codes(removed)} no longer "
                     "offered: map old answers to a new code or treat them as missing before "
                     "pooling")
    if relabelled:
        details.append("relabelled " + ", ".join(
            f"{_code(c)} {text_in(old_map[c])!r} → {text_in(new_map[c])!r}" for c in relabelled))
        hints.append(f"code{'s' if len(relabelled) > 1 else ''} {_codes(relabelled)} "
                     "relabelled: check the meaning is unchanged before pooling")
    if not details:
        details.append(f"order {_codes(old_map)} → {_codes(new_map)}")
        hints.append("display order only, codes unchanged: pool as is (order effects possible)")
    return "; ".join(details), "; ".join(hints)


def _missing_detail(before: Instrument, after: Instrument, a: Item,
                    b: Item) -> tuple[str, str] | None:
    old = {m.code: m for m in before.missing_of(a)}
    new = {m.code: m for m in after.missing_of(b)}
    if old == new:
        return None
    details: list[str] = []
    hints: list[str] = []
    added = [c for c in new if c not in old]
    removed = [c for c in old if c not in new]
    changed = [c for c in old if c in new and old[c] != new[c]]
    if added:
        details.append("added " + ", ".join(f"{_code(c)} {text_in(new[c].label)!r} "
                                            f"({new[c].kind.value})" for c in added))
        hints.append(f"{_codes(added)} not offered before: earlier blanks may hide these "
                     "answers; compare missingness by reason with care")
    if removed:
        details.append("removed " + ", ".join(f"{_code(c)} {text_in(old[c].label)!r} "
                                              f"({old[c].kind.value})" for c in removed))
        hints.append(f"{_codes(removed)} no longer offered: declining may now show as a blank "
                     "or a forced answer; compare missingness with care")
    if changed:
        details.append("changed " + ", ".join(
            f"{_code(c)} {text_in(old[c].label)!r} ({old[c].kind.value}) → "
            f"{text_in(new[c].label)!r} ({new[c].kind.value})" for c in changed))
        hints.append(f"{_codes(changed)} now means something else: recode the old missing "
                     "reasons before pooling")
    return "; ".join(details), "; ".join(hints)


def _constraint(item: Item) -> str:
    c = item.constraint
    if c is None:
        return "(none)"
    parts = []
    if c.min is not None:
        parts.append(f"min {c.min:g}")
    if c.max is not None:
        parts.append(f"max {c.max:g}")
    if c.pattern is not None:
        parts.append(f"pattern {c.pattern}")
    return ", ".join(parts) or "(none)"


def _sensitivity_hint(item: Item) -> str:
    value = item.sensitivity.value
    if value in {"direct_identifier", "contact_safety"}:
        return ("now dropped at de-identification: rebuild earlier clean outputs so its old "
                "values are removed there too")
    if value == "free_text":
        return "now scrubbed: rebuild earlier clean outputs so old values are scrubbed too"
    if value == "quasi_identifier":
        return "now checked for small groups: rebuild earlier outputs with disclosure control"
    return "now passes de-identification as is: confirm its values cannot identify anyone"


def _other_hint(field: str) -> str:
    return {
        "waves": "asked at different waves: compare only waves asked in both versions",
        "calculation": "computed differently: recompute old values with the new calculation "
                       "before pooling",
        "role": "its role changed: linkage and de-identification treat it differently; rebuild",
        "group": "layout only: pool as is",
        "hint": "help text only: pool as is, report the change",
        "required": "old responses may be blank where new ones cannot: compare missingness",
        "domains": "tagging only: results grouped by domain change",
        "nos": "tagging only: standards scorecard groupings change",
    }.get(field, "check whether the change affects the data before pooling")


def _scale_changes(before: Instrument, after: Instrument) -> list[tuple]:
    rows: list[tuple] = []
    old = {s.id: s for s in before.scales}
    new = {s.id: s for s in after.scales}
    for scale_id in _merged_order(list(old), list(new)):
        if scale_id not in new:
            rows.append(("scale_changed", scale_id, "scale removed",
                         "no score in the new version: score old data only"))
        elif scale_id not in old:
            rows.append(("scale_changed", scale_id,
                         f"scale added ({', '.join(new[scale_id].items)})",
                         "score old data with the new rule if its items were asked there"))
        elif old[scale_id] != new[scale_id]:
            rows.append(("scale_changed", scale_id, *_scale_detail(old[scale_id],
                                                                   new[scale_id])))
    return rows


def _scale_detail(a: Scale, b: Scale) -> tuple[str, str]:
    parts = []
    for field in type(b).model_fields:
        x, y = getattr(a, field), getattr(b, field)
        if x == y:
            continue
        if field == "items":
            gone = [i for i in x if i not in y]
            came = [i for i in y if i not in x]
            bits = ([f"added {', '.join(came)}"] if came else []) + (
                [f"removed {', '.join(gone)}"] if gone else [])
            parts.append("items " + ("; ".join(bits) if bits else "reordered"))
        elif field == "bands":
            parts.append("bands " + _show([f"{b_.label} {b_.min:g}-{b_.max:g}" for b_ in x])
                         + " → " + _show([f"{b_.label} {b_.min:g}-{b_.max:g}" for b_ in y]))
        else:
            parts.append(f"{field} {_show(x)} → {_show(y)}")
    scoring = {"items", "reverse", "method", "min_valid", "multiplier", "bands",
               "higher_is_better"}
    changed = {f for f in type(b).model_fields if getattr(a, f) != getattr(b, f)}
    hint = ("scores not comparable: rescore old data with the new rule before pooling"
            if changed & scoring else "label or tagging only: scores comparable")
    return "; ".join(parts), hint


def format_diff(frame: pd.DataFrame) -> str:
    """A diff frame as text for the terminal.

    ``+`` marks an added item, ``-`` a removed one, ``~`` any other change; each change is
    followed by its harmonisation hint.

    Examples
    --------
    >>> from pceval.instrument import load_instrument
    >>> women = load_instrument("womens_survey")
    >>> print(format_diff(diff_instruments(women, women)))
    no differences
    """
    if frame.empty:
        return "no differences"
    marks = {"item_added": "+", "item_removed": "-"}
    lines: list[str] = []
    width = max(len(str(i)) for i in frame["item"].fillna("")) or 1
    width = max(width, len("(instrument)"))
    for row in frame.itertuples(index=False):
        mark = marks.get(row.change, "~")
        item = row.item if isinstance(row.item, str) and row.item else "(instrument)"
        lines.append(f"{mark} {item:<{width}}  {row.change}: {row.detail}")
        lines.append(f"  {'':<{width}}  → {row.harmonise}")
    return "\n".join(lines)
