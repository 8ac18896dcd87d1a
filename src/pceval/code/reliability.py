"""Agreement between coders on the double-coded segments, per code and over all codes."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["AGREEMENT_COLUMNS", "coding_agreement"]

#: Columns of :func:`coding_agreement`: the code, then the columns of
#: :func:`pceval.code.agreement.agreement`.
AGREEMENT_COLUMNS = ("code", "statistic", "estimate", "ci_low", "ci_high", "n_units", "n_coders",
                     "level")
OVERALL = "overall"


def coding_agreement(codings: pd.DataFrame, *, n_boot: int = 1000) -> pd.DataFrame:
    """Inter-coder agreement on segments coded by two or more coders.

    Parameters
    ----------
    codings : DataFrame
        Long codings ``segment_id, coder, code, value`` (0/1). Segments coded by one coder
        are left out.
    n_boot : int
        Bootstrap resamples for the intervals (see :func:`pceval.code.agreement.agreement`).

    Returns
    -------
    DataFrame
        :data:`AGREEMENT_COLUMNS`: for each code (in order of first appearance) and then
        ``overall``, the rows of :func:`pceval.code.agreement.agreement` (percent agreement,
        Cohen's kappa with two coders, Fleiss' kappa, Krippendorff's alpha), nominal level.
        ``overall`` treats each segment-and-code as one unit, so it weighs codes by how often
        they can apply. Empty when no segment is double-coded.

    Examples
    --------
    >>> c = pd.DataFrame({"segment_id": ["s1", "s1", "s2", "s2", "s3", "s3", "s4"],
    ...                   "coder": ["A", "B"] * 3 + ["A"], "code": ["x"] * 7,
    ...                   "value": [1, 1, 0, 0, 1, 0, 1]})
    >>> out = coding_agreement(c, n_boot=0)
    >>> row = out[(out["code"] == "x") & (out["statistic"] == "percent_agreement")].iloc[0]
    >>> round(float(row["estimate"]), 4), int(row["n_units"])
    (0.6667, 3)
    """
    from pceval.code.agreement import agreement

    empty = pd.DataFrame({c: pd.Series(dtype="string" if c in {"code", "statistic", "level"}
                                       else "float64") for c in AGREEMENT_COLUMNS})
    if not len(codings):
        return empty
    coders_per = codings.groupby("segment_id", observed=True)["coder"].nunique()
    double = codings[codings["segment_id"].isin(coders_per.index[coders_per >= 2])]
    if not len(double):
        return empty
    double = double.loc[:, ["segment_id", "coder", "code", "value"]].astype(
        {"segment_id": str, "coder": str, "code": str, "value": "int64"})
    # a rare code one coder never applies gives statsmodels' Cohen's kappa a zero standard
    # error under the null, and it divides by it for a z-value that is not reported here
    with np.errstate(divide="ignore", invalid="ignore"):
        parts = [agreement(double[double["code"] == code], unit="segment_id", coder="coder",
                           value="value", level="nominal", n_boot=n_boot).assign(code=code)
                 for code in pd.unique(double["code"])]
        pooled = double.assign(unit=double["segment_id"] + "|" + double["code"])
        parts.append(agreement(pooled, unit="unit", coder="coder", value="value", level="nominal",
                               n_boot=n_boot).assign(code=OVERALL))
    out = pd.concat(parts, ignore_index=True)
    out = out.loc[:, [c for c in AGREEMENT_COLUMNS if c in out.columns]]
    return out.astype({"code": "string"}).reset_index(drop=True)
