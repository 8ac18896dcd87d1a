"""Which coder codes which segment: a double-coded sample and the rest split across coders."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["ASSIGNMENT_COLUMNS", "assign_segments"]

#: Columns of :func:`assign_segments`.
ASSIGNMENT_COLUMNS = ("segment_id", "coder", "double")


def assign_segments(segment_ids: Sequence[str] | pd.Series, coders: Sequence[str], *,
                    double_share: float = 0.2, seed: int = 0) -> pd.DataFrame:
    """Assign segments to coders, a share of them to two coders.

    Parameters
    ----------
    segment_ids : sequence of str
        The segments (unique).
    coders : sequence of str
        Coder names (unique). With one coder nothing is double-coded.
    double_share : float
        Share of segments coded by two coders, from 0 to 1; the number is rounded half up.
    seed : int
        The same segments, coders, share and seed give the same assignment.

    Returns
    -------
    DataFrame
        ``segment_id, coder, double``: one row per segment and coder, sorted by segment then
        coder; ``double`` is True for the double-coded sample.

    Notes
    -----
    Segments are put in a random order (from ``seed``; the input order does not matter). The
    first ``round(double_share * n)`` form the double-coded sample; each is given to a pair of
    coders, the pairs taken in turn so every pair codes about the same number. The rest go to
    one coder each, in turn, starting after the coder who was given the fewest double-coded
    segments, so workloads differ by at most one segment per kind.

    Examples
    --------
    >>> a = assign_segments([f"s{i}" for i in range(10)], ["A", "B"], double_share=0.2, seed=1)
    >>> int(a["double"].sum() / 2), a.groupby("coder").size().to_dict()
    (2, {'A': 6, 'B': 6})
    """
    ids = sorted(str(s) for s in segment_ids)
    if len(set(ids)) != len(ids):
        raise ValueError("segment ids must be unique")
    coders = list(coders)
    if not coders or len(set(coders)) != len(coders):
        raise ValueError("give at least one coder, each once")
    if not 0 <= double_share <= 1:
        raise ValueError(f"double_share must be between 0 and 1, got {double_share!r}")
    rng = np.random.default_rng(seed)
    order = [ids[i] for i in rng.permutation(len(ids))]
    n_double = int(np.floor(double_share * len(ids) + 0.5)) if len(coders) > 1 else 0
    pairs = list(itertools.combinations(coders, 2))
    rows: list[tuple[str, str, bool]] = []
    load = dict.fromkeys(coders, 0)
    for k, seg in enumerate(order[:n_double]):
        for coder in pairs[k % len(pairs)]:
            rows.append((seg, coder, True))
            load[coder] += 1
    start = coders.index(min(coders, key=lambda c: (load[c], coders.index(c))))
    for k, seg in enumerate(order[n_double:]):
        rows.append((seg, coders[(start + k) % len(coders)], False))
    out = pd.DataFrame(rows, columns=list(ASSIGNMENT_COLUMNS))
    out = out.astype({"segment_id": "string", "coder": "string", "double": "bool"})
    return out.sort_values(["segment_id", "coder"], kind="stable").reset_index(drop=True)
