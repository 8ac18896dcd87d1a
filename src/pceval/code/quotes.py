"""The quote bank: scrubbed answers that illustrate themes raised by enough respondents.

A quote is only ever scrubbed text from the scored zone. A theme enters the bank only when at
least ``min_n`` respondents of a type raised it, so a quote cannot be the one voice behind a
theme. Quotes need consent to be quoted: answers from instruments about a woman (``woman`` and
``record`` respondent types) are quoted only where the instrument's quote-consent item, named
in ``coding.quote_consent``, holds 1; staff answers (``worker``, ``facilitator``) need none
beyond their survey consent.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from pceval.instrument.themes import ThematicCodebook

__all__ = ["QUOTE_COLUMNS", "QUOTE_CONSENT_NEEDED", "quote_bank"]

#: Columns of :func:`quote_bank`.
QUOTE_COLUMNS = ("code", "label", "respondent", "respondents", "segment_id", "text")
#: Respondent types whose answers are quoted only with consent to be quoted.
QUOTE_CONSENT_NEEDED = frozenset({"woman", "record"})


def quote_bank(consensus: pd.DataFrame, segments: pd.DataFrame, codebook: ThematicCodebook, *,
               min_n: int = 5, consented: Iterable[str] | None = None) -> pd.DataFrame:
    """Quotes for each theme raised by at least ``min_n`` respondents of a type.

    Parameters
    ----------
    consensus : DataFrame
        Output of :func:`pceval.code.consensus` (``segment_id, code, value``).
    segments : DataFrame
        Output of :func:`pceval.code.text_segments` (scrubbed ``text``, ``respondent``,
        ``pid``, ``response_id``).
    codebook : ThematicCodebook
        Codes and labels.
    min_n : int
        Fewest respondents (distinct women or responses) a theme needs before any quote of it
        is given; counted over all coded answers, consented or not.
    consented : iterable of str, optional
        Segment ids whose author consented to be quoted. Segments of the types in
        :data:`QUOTE_CONSENT_NEEDED` not listed here are never quoted.

    Returns
    -------
    DataFrame
        :data:`QUOTE_COLUMNS`, sorted by code order, respondent type and segment id:
        ``respondents`` is how many raised the theme.

    Examples
    --------
    >>> from pceval.instrument.themes import load_thematic_codebook
    >>> seg = pd.DataFrame({"segment_id": [f"s{i}" for i in range(6)], "respondent": "worker",
    ...                     "response_id": [f"r{i}" for i in range(6)], "pid": pd.NA,
    ...                     "text": [f"Too many cases ({i})." for i in range(6)]})
    >>> con = pd.DataFrame({"segment_id": seg["segment_id"], "code": "resourcing_workforce",
    ...                     "value": [1, 1, 1, 1, 1, 0]})
    >>> quote_bank(con, seg, load_thematic_codebook(), min_n=5)["text"].tolist()[:2]
    ['Too many cases (0).', 'Too many cases (1).']
    >>> len(quote_bank(con, seg, load_thematic_codebook(), min_n=6))
    0
    """
    if min_n < 1:
        raise ValueError(f"min_n must be at least 1, got {min_n!r}")
    allowed = set(consented) if consented is not None else set()
    hits = consensus.loc[consensus["value"].fillna(0) == 1, ["segment_id", "code"]].merge(
        segments.loc[:, ["segment_id", "respondent", "response_id", "pid", "text"]],
        on="segment_id", how="inner")
    hits = hits.assign(unit=hits["pid"].astype("string").fillna(hits["response_id"].astype("string")))
    counts = hits.groupby(["code", "respondent"], observed=True)["unit"].nunique().rename("respondents")
    hits = hits.merge(counts.reset_index(), on=["code", "respondent"])
    hits = hits[hits["respondents"] >= min_n]
    needs = hits["respondent"].isin(QUOTE_CONSENT_NEEDED)
    hits = hits[~needs | hits["segment_id"].isin(allowed)]
    order = {code.id: i for i, code in enumerate(codebook.codes)}
    labels = {code.id: code.label for code in codebook.codes}
    hits = hits.assign(_order=hits["code"].map(order), label=hits["code"].map(labels))
    hits = hits.sort_values(["_order", "respondent", "segment_id"], kind="stable")
    out = hits.loc[:, list(QUOTE_COLUMNS)].reset_index(drop=True)
    return out.astype({"code": "string", "label": "string", "respondent": "string",
                       "respondents": "int64", "segment_id": "string", "text": "string"})
