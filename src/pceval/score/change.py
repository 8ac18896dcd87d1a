"""Pre/post change per woman: every scale and domain score, from her first wave to each later one.

The women's survey is answered at several waves; the person key (``pid``, a keyed pseudonym of
her case number) links them. For every scale and domain column and every later wave, a woman
with a score at both the first wave and that wave gets one row: both scores, the change, and the
change turned so that a positive value is always an improvement.
"""

from __future__ import annotations

import pandas as pd

from pceval.errors import AnalysisError
from pceval.instrument.model import Instrument, Role
from pceval.privacy.deidentify import PERSON_KEY
from pceval.score.domains import domain_columns

CHANGE_COLUMNS = ["pid", "service_id", "measure", "kind", "pre_wave", "post_wave", "pre", "post",
                  "change", "improvement"]


def score_change(scored: pd.DataFrame, instrument: Instrument, *, pre: str | None = None,
                 posts: tuple[str, ...] | None = None) -> pd.DataFrame:
    """Each woman's change on each scale and domain between the first wave and every later wave.

    Parameters
    ----------
    scored : DataFrame
        Scored survey data: ``pid``, the wave column ``_wave``, the service column, scale
        scores and domain scores (:func:`pceval.score.score_domains`).
    instrument : Instrument
        Its ``waves`` give the order; its scales and their domains give the measures.
    pre : str, optional
        The wave changes are measured from; default the instrument's first wave.
    posts : tuple of str, optional
        The waves changes are measured to; default every later wave.

    Returns
    -------
    DataFrame
        Columns :data:`CHANGE_COLUMNS`; ``kind`` is ``scale`` or ``domain``; ``improvement`` is
        ``change`` for a measure where higher is better and ``-change`` otherwise (domain scores
        are always higher-better). The service is the one at the later wave.

    Examples
    --------
    >>> from pceval.instrument import load_instrument
    >>> inst = load_instrument("womens_survey")
    >>> data = pd.DataFrame({"pid": ["a", "a", "b"], "service_id": ["S01"] * 3,
    ...                      "_wave": ["baseline", "followup", "baseline"],
    ...                      "felt_safety": [2.0, 3.5, 4.0], "space_for_action": [None] * 3,
    ...                      "experience": [None] * 3})
    >>> out = score_change(data, inst)
    >>> out.loc[out["measure"] == "felt_safety", ["pid", "post_wave", "change"]].values.tolist()
    [['a', 'followup', 1.5]]
    """
    if not instrument.waves:
        raise AnalysisError(f"{instrument.id} has no waves, so scores cannot change between them")
    for column in (PERSON_KEY, "_wave"):
        if column not in scored.columns:
            raise AnalysisError(f"scored {instrument.id} data lack the column {column!r}", field=column)
    pre = pre or instrument.waves[0]
    posts = posts or tuple(w for w in instrument.waves if w != pre)
    unknown = sorted({pre, *posts} - set(instrument.waves))
    if unknown:
        raise AnalysisError(f"unknown wave {unknown[0]!r} for {instrument.id}", field="waves",
                            fix=f"use one of {list(instrument.waves)}")
    service = instrument.role_item(Role.SERVICE)
    measures: list[tuple[str, str, bool]] = [(s.id, "scale", s.higher_is_better) for s in instrument.scales]
    measures += [(name, "domain", True) for name in domain_columns(instrument)]
    measures = [m for m in measures if m[0] in scored.columns]

    keyed = scored.loc[scored[PERSON_KEY].notna()]
    base = keyed.loc[keyed["_wave"].eq(pre).fillna(False)].drop_duplicates(PERSON_KEY, keep="last")
    base = base.set_index(PERSON_KEY)
    parts = []
    for post in posts:
        later = keyed.loc[keyed["_wave"].eq(post).fillna(False)].drop_duplicates(PERSON_KEY, keep="last")
        later = later.set_index(PERSON_KEY)
        both = base.index.intersection(later.index)
        for name, kind, higher_better in measures:
            before = base.loc[both, name].astype("Float64")
            after = later.loc[both, name].astype("Float64")
            paired = before.notna() & after.notna()
            change = (after - before)[paired]
            parts.append(pd.DataFrame({
                "pid": pd.Series(change.index, dtype="string"),
                "service_id": (later.loc[change.index, service.id].astype("string").to_numpy()
                               if service is not None else pd.NA),
                "measure": name, "kind": kind, "pre_wave": pre, "post_wave": post,
                "pre": before[paired].to_numpy(), "post": after[paired].to_numpy(),
                "change": change.to_numpy(),
                "improvement": (change if higher_better else -change).to_numpy(),
            }))
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in CHANGE_COLUMNS})
    out = pd.concat(parts, ignore_index=True)
    for column in ("pre", "post", "change", "improvement"):
        out[column] = out[column].astype("Float64")
    return out.loc[:, CHANGE_COLUMNS]


__all__ = ["CHANGE_COLUMNS", "score_change"]
