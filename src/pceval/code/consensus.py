"""Merge coders' codings into one value per segment and code, with every decision audited.

The rule, stated once (:data:`CONSENSUS_RULE`):

- a segment coded by one coder takes that coder's value (``single_coder``);
- a segment coded by several coders takes their value when they all agree (``coders_agree``);
- when they disagree the value is the adjudicator's decision from the consensus workbook
  (``adjudicated``); until it is made, the value is missing (``awaiting_adjudication``) and the
  theme is not counted as applied.
"""

from __future__ import annotations

import pandas as pd

__all__ = ["AUDIT_COLUMNS", "CODING_COLUMNS", "CONSENSUS_RULE", "consensus"]

#: Columns of long-format codings.
CODING_COLUMNS = ("segment_id", "coder", "code", "value")
#: Columns of :func:`consensus`.
AUDIT_COLUMNS = ("segment_id", "code", "coder_values", "decision", "value", "rule")

CONSENSUS_RULE = (
    "A theme is applied to a segment when its one coder applied it, or when all its coders "
    "agree it applies; when coders disagree, the adjudicator's decision in "
    "coding/sheets/consensus.xlsx is taken, and until then the theme is not counted as applied."
)


def consensus(codings: pd.DataFrame, *, decisions: pd.DataFrame | None = None) -> pd.DataFrame:
    """One value per segment and code, from one or more coders, with the rule that gave it.

    Parameters
    ----------
    codings : DataFrame
        Long codings ``segment_id, coder, code, value`` (0/1), one row per coder, segment and
        code.
    decisions : DataFrame, optional
        Adjudicated disagreements ``segment_id, code, decision`` (0/1). A decision on a
        segment and code the coders agree on is ignored: there is nothing to adjudicate.

    Returns
    -------
    DataFrame
        One row per segment and code, sorted: ``segment_id, code``; ``coder_values`` (e.g.
        ``"A=1; B=0"``, coders in name order); ``decision`` (``applied``, ``not_applied``,
        ``pending``); ``value`` (Int64, 1/0, missing while pending); ``rule``
        (``single_coder``, ``coders_agree``, ``adjudicated``, ``awaiting_adjudication``).

    Examples
    --------
    >>> c = pd.DataFrame({"segment_id": ["s1", "s1", "s2", "s3", "s3"],
    ...                   "coder": ["A", "B", "A", "A", "B"], "code": ["x"] * 5,
    ...                   "value": [1, 1, 0, 1, 0]})
    >>> out = consensus(c)
    >>> out["value"].tolist(), out["rule"].tolist()
    ([1, 0, <NA>], ['coders_agree', 'single_coder', 'awaiting_adjudication'])
    >>> d = pd.DataFrame({"segment_id": ["s3"], "code": ["x"], "decision": [1]})
    >>> consensus(c, decisions=d).loc[2, ["coder_values", "decision", "rule"]].tolist()
    ['A=1; B=0', 'applied', 'adjudicated']
    """
    if not len(codings):
        return pd.DataFrame({c: pd.Series(dtype="Int64" if c == "value" else "string")
                             for c in AUDIT_COLUMNS})
    frame = codings.loc[:, list(CODING_COLUMNS)].copy()
    frame["value"] = frame["value"].astype("int64")
    frame = frame.sort_values(["segment_id", "code", "coder"], kind="stable")
    frame["pair"] = frame["coder"].astype(str) + "=" + frame["value"].astype(str)
    grouped = frame.groupby(["segment_id", "code"], sort=True, observed=True)
    out = grouped.agg(coder_values=("pair", "; ".join), n=("value", "size"),
                      low=("value", "min"), high=("value", "max")).reset_index()
    agree = out["low"] == out["high"]
    single = out["n"] == 1
    value = out["low"].astype("Int64").where(agree)
    rule = pd.Series("coders_agree", index=out.index, dtype="string")
    rule[single] = "single_coder"
    rule[~agree] = "awaiting_adjudication"
    if decisions is not None and len(decisions):
        key = decisions.set_index(["segment_id", "code"])["decision"]
        looked_up = pd.Series(list(zip(out["segment_id"], out["code"], strict=True))).map(
            key.to_dict()).to_numpy()
        has = pd.notna(looked_up) & ~agree.to_numpy()
        value = value.mask(has, pd.array(pd.Series(looked_up).where(has).tolist(), dtype="Int64"))
        rule[has] = "adjudicated"
    decision = pd.Series("pending", index=out.index, dtype="string")
    decision[value.fillna(-1) == 1] = "applied"
    decision[value.fillna(-1) == 0] = "not_applied"
    result = pd.DataFrame({
        "segment_id": out["segment_id"].astype("string"),
        "code": out["code"].astype("string"),
        "coder_values": out["coder_values"].astype("string"),
        "decision": decision,
        "value": value.astype("Int64"),
        "rule": rule,
    })
    return result.reset_index(drop=True)
