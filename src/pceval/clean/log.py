"""The three tidy logs cleaning keeps: validation issues, the audit log and missing reasons.

Each is a long frame so that nothing vanishes silently: a problem is an issue row, a changed
cell is an audit row, a missing cell has a reason row. Values of identifiers and free text are
never copied into a log (they are shown as ``[redacted]``) because logs leave the staging area.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

ISSUE_COLUMNS = ("code", "severity", "file", "row", "field", "value", "message")
AUDIT_COLUMNS = ("instrument", "file", "row", "field", "old", "new", "rule")
MISSING_COLUMNS = ("instrument", "row", "field", "reason")
QUARANTINE_COLUMNS = ("instrument", "file", "row", "reason", "detail")

REDACTED = "[redacted]"

MISSING_REASONS = (
    "skipped_by_logic",
    "prefer_not_to_say",
    "dont_know",
    "not_applicable",
    "platform_missing_code",
    "invalid_value_removed",
    "not_reached",
    "missing",
)


@dataclass
class CleaningLog:
    """Collects issues, audit rows, missing reasons and quarantined rows for one instrument.

    Rows are appended as whole frames (vectorised), then concatenated once by the ``*_frame``
    methods, which keeps cleaning fast on a million rows.
    """

    instrument: str
    file: str
    issues: list[pd.DataFrame] = field(default_factory=list)
    audit: list[pd.DataFrame] = field(default_factory=list)
    #: Missing reasons as (rows, field, reason codes into MISSING_REASONS): tens of millions
    #: of cells at national scale, kept compact until :meth:`missing_frame` builds the frame.
    missing: list[tuple[pd.arrays.IntegerArray, str, np.ndarray]] = field(default_factory=list)
    quarantine: list[pd.DataFrame] = field(default_factory=list)

    def issue(self, *, code: str, severity: str, rows: pd.Series | list, field: str | None,
              values: pd.Series | list | None, message: str) -> None:
        rows = pd.Series(rows, dtype="Int64").reset_index(drop=True)
        if rows.empty:
            return
        if values is None:
            values = pd.Series(pd.NA, index=rows.index, dtype="string")
        values = pd.Series(values, dtype="string").reset_index(drop=True)
        self.issues.append(pd.DataFrame({
            "code": code, "severity": severity, "file": self.file, "row": rows,
            "field": field if field is not None else pd.NA, "value": values, "message": message,
        }))

    def change(self, *, rows: pd.Series, field: str, old: pd.Series, new: pd.Series | str,
               rule: str) -> None:
        rows = pd.Series(rows, dtype="Int64").reset_index(drop=True)
        if rows.empty:
            return
        new_values = (pd.Series(new, dtype="string").reset_index(drop=True)
                      if isinstance(new, pd.Series) else pd.Series(new, index=rows.index, dtype="string"))
        self.audit.append(pd.DataFrame({
            "instrument": self.instrument, "file": self.file, "row": rows, "field": field,
            "old": pd.Series(old, dtype="string").reset_index(drop=True),
            "new": new_values, "rule": rule,
        }))

    def missing_reason(self, *, rows: pd.Series, field: str, reason: str | pd.Series) -> None:
        rows = pd.Series(rows, dtype="Int64").reset_index(drop=True)
        if rows.empty:
            return
        if isinstance(reason, pd.Series):
            reasons = pd.Series(reason, dtype="string").reset_index(drop=True)
            unknown = sorted(set(reasons.dropna().unique()) - set(MISSING_REASONS))
            codes = pd.Categorical(reasons, categories=MISSING_REASONS).codes
        else:
            unknown = [] if reason in MISSING_REASONS else [reason]
            codes = np.full(len(rows), MISSING_REASONS.index(reason) if not unknown else -1)
        if unknown:  # a reason outside the list would become a blank without one
            raise ValueError(f"unknown missing reason {unknown[0]!r}; use one of {MISSING_REASONS}")
        self.missing.append((rows.array, field, np.asarray(codes, dtype=np.int8)))

    def quarantined(self, *, rows: pd.Series, reason: str, detail: str | pd.Series) -> None:
        rows = pd.Series(rows, dtype="Int64").reset_index(drop=True)
        if rows.empty:
            return
        details = (pd.Series(detail, dtype="string").reset_index(drop=True)
                   if isinstance(detail, pd.Series) else detail)
        self.quarantine.append(pd.DataFrame({
            "instrument": self.instrument, "file": self.file, "row": rows, "reason": reason,
            "detail": details,
        }))

    def issues_frame(self) -> pd.DataFrame:
        return _concat(self.issues, ISSUE_COLUMNS, sort=["row", "field", "code"])

    def audit_frame(self) -> pd.DataFrame:
        return _concat(self.audit, AUDIT_COLUMNS, sort=["row", "field", "rule"])

    def missing_frame(self, rows: np.ndarray | None = None) -> pd.DataFrame:
        """The missing reasons, one row per cell, sorted by row then field (stable).

        ``rows``: only the entries about these rows (those kept by cleaning), chosen before
        the frame is built; every entry when None.
        """
        if not self.missing:
            frame = _concat([], MISSING_COLUMNS, sort=["row", "field"])
            frame["reason"] = pd.Categorical(frame["reason"], categories=MISSING_REASONS)
            return frame
        numbers = np.concatenate([r.to_numpy(dtype="int64", na_value=0) for r, _, _ in self.missing])
        valid = np.concatenate([~r.isna() for r, _, _ in self.missing])
        fields = sorted({f for _, f, _ in self.missing})
        field_codes = np.concatenate([np.full(len(r), fields.index(f), dtype=np.int32)
                                      for r, f, _ in self.missing])
        reason_codes = np.concatenate([c for _, _, c in self.missing])
        # as a stable sort on (row, field) with missing rows first: fields are coded in sorted
        # order, so their codes sort as the names do
        order = np.lexsort((field_codes, numbers, valid))
        if rows is not None:
            # pandas' hash table: NumPy 2.4's np.isin is several times slower on millions
            about = valid[order] & pd.Series(numbers[order]).isin(rows).to_numpy(dtype=bool)
            order = order[about]
        # instrument, field and reason as categories: a byte or two a cell where text took
        # twenty (tens of millions of cells at national scale); written out as text
        return pd.DataFrame({
            "instrument": pd.Categorical.from_codes(np.zeros(len(order), dtype=np.int8),
                                                    categories=[self.instrument]),
            "row": pd.arrays.IntegerArray(numbers[order], ~valid[order]),
            "field": pd.Categorical.from_codes(field_codes[order], categories=fields),
            "reason": pd.Categorical.from_codes(reason_codes[order], categories=list(MISSING_REASONS)),
        })

    def quarantine_frame(self) -> pd.DataFrame:
        return _concat(self.quarantine, QUARANTINE_COLUMNS, sort=["row", "reason"])


def _concat(parts: list[pd.DataFrame], columns: tuple[str, ...], *, sort: list[str]) -> pd.DataFrame:
    if not parts:
        frame = pd.DataFrame({c: pd.Series(dtype="string") for c in columns})
    else:
        frame = pd.concat(parts, ignore_index=True)
    frame = frame.loc[:, list(columns)]
    for column in columns:
        frame[column] = frame[column].astype("Int64" if column == "row" else "string")
    # a stable sort keeps the order of appends for equal keys, so the same input gives the
    # same bytes
    return frame.sort_values(sort, kind="stable", na_position="first").reset_index(drop=True)
