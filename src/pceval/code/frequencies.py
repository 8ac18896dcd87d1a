"""How many respondents raised each theme, by respondent type, service and wave.

Counts are of respondents, not of answers: a woman is counted once however many of her answers
(waves, case notes) carry the theme, and once in each wave she raised it. The unit is the
woman's pseudonym (``pid``) where the instrument has one, otherwise the response. The
denominator is the respondents of that type with at least one coded answer in the group.

Disclosure control is pceval's (:func:`pceval.privacy.suppress_results`): no count under the
minimum cell, no share on a denominator under the minimum, consequential suppression across a
breakdown and its overall row, and services with too few respondents pooled first
(:func:`pceval.privacy.pool_small_groups`).
"""

from __future__ import annotations

import pandas as pd

from pceval.instrument.themes import ThematicCodebook
from pceval.privacy.disclosure import pool_small_groups, suppress_results
from pceval.results import result_frame

__all__ = ["FREQUENCY_COLUMNS", "theme_frequencies"]

#: Columns of :func:`theme_frequencies`.
FREQUENCY_COLUMNS = ("respondent", "code", "label", "breakdown", "group", "n", "count", "share",
                     "suppressed", "note")
POOLED = "Other services (pooled)"


def _units(segments: pd.DataFrame) -> pd.Series:
    return segments["pid"].astype("string").fillna(segments["response_id"].astype("string"))


def theme_frequencies(consensus: pd.DataFrame, segments: pd.DataFrame, codebook: ThematicCodebook,
                      *, min_cell: int = 5, min_denominator: int = 10, min_service_n: int = 10,
                      strict: bool = False) -> pd.DataFrame:
    """Respondents raising each theme, overall and by service and wave, with small cells hidden.

    Parameters
    ----------
    consensus : DataFrame
        Output of :func:`pceval.code.consensus` (``segment_id, code, value``). Segments not in
        ``segments`` (a woman who has since withdrawn) are left out.
    segments : DataFrame
        Output of :func:`pceval.code.text_segments` (``segment_id, respondent, response_id,
        pid, service, wave``): the link to the quantitative data.
    codebook : ThematicCodebook
        Codes and labels; a code is counted for the respondent types it applies to.
    min_cell, min_denominator, min_service_n : int
        Disclosure limits (the project's ``privacy`` settings).
    strict : bool
        The rule of 10 (``privacy.strict``).

    Returns
    -------
    DataFrame
        :data:`FREQUENCY_COLUMNS`, one row per respondent type, code, breakdown
        (``overall``, ``service``, ``wave``) and group: ``n`` respondents with a coded answer,
        ``count`` of them raising the theme, ``share`` = count / n; suppressed cells have
        ``count`` and ``share`` missing (and ``n`` when it is itself small), ``suppressed``
        True and a ``note``.

    Examples
    --------
    >>> from pceval.instrument.themes import load_thematic_codebook
    >>> seg = pd.DataFrame({"segment_id": [f"s{i}" for i in range(20)], "respondent": "worker",
    ...                     "response_id": [f"r{i}" for i in range(20)], "pid": pd.NA,
    ...                     "service": "S01", "wave": pd.NA})
    >>> con = pd.DataFrame({"segment_id": seg["segment_id"], "code": "resourcing_workforce",
    ...                     "value": [1] * 12 + [0] * 8})
    >>> out = theme_frequencies(con, seg, load_thematic_codebook())
    >>> mine = out[(out["code"] == "resourcing_workforce") & (out["breakdown"] == "overall")]
    >>> mine[["n", "count", "share"]].values.tolist()
    [[20, 12, 0.6]]
    """
    applied = consensus.loc[:, ["segment_id", "code", "value"]].merge(
        segments.loc[:, ["segment_id", "respondent", "response_id", "pid", "service", "wave"]],
        on="segment_id", how="inner")
    applied = applied.assign(unit=_units(applied), hit=applied["value"].fillna(0).eq(1))
    rows = []
    for respondent in pd.unique(segments["respondent"].dropna()):
        coded = applied[applied["respondent"] == respondent]
        if not len(coded):
            continue
        coded, _ = pool_small_groups(coded, group_col="service", min_n=min_service_n,
                                     unit_col="unit", label=POOLED)
        coded = coded.assign(overall="all")
        breakdowns = [("overall", "overall"), ("service", "service")]
        if coded["wave"].notna().any():
            breakdowns.append(("wave", "wave"))
        codes = [code.id for code in codebook.codes_for(str(respondent))]
        for breakdown, column in breakdowns:
            part = coded[coded[column].notna()]
            n = part.groupby(column, observed=True)["unit"].nunique()
            hits = (part[part["hit"]].groupby([column, "code"], observed=True)["unit"].nunique())
            for code in codes:
                for group in sorted(n.index, key=str):
                    k = int(hits.get((group, code), 0))
                    rows.append({"question": f"themes_{respondent}", "indicator": code,
                                 "breakdown": breakdown, "group": str(group),
                                 "statistic": "proportion", "n": int(n[group]), "numerator": k,
                                 "estimate": k / n[group], "method": "consensus_coding"})
    table = suppress_results(result_frame(rows), min_cell=min_cell,
                             min_denominator=min_denominator, strict=strict)
    labels = {code.id: code.label for code in codebook.codes}
    out = pd.DataFrame({
        "respondent": table["question"].str.removeprefix("themes_"),
        "code": table["indicator"],
        "label": table["indicator"].map(labels).astype("string"),
        "breakdown": table["breakdown"],
        "group": table["group"],
        "n": table["n"],
        "count": table["numerator"],
        "share": table["estimate"],
        "suppressed": table["suppressed"],
        "note": table["note"],
    })
    return out.reset_index(drop=True)
