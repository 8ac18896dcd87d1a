"""Outcome-domain scores: the scales an instrument tags with a domain, on one 0-100 metric.

Scales differ in range (a 1-5 mean, a 10-50 sum) and direction (higher felt safety is better,
higher distress is worse). A domain score puts each scale of the domain on the percent of
maximum possible (POMP) metric, turned so that higher is always better, and averages the scales
a respondent has scores on. Which scales belong to which domain is read from each scale's
``domains`` in the instrument; nothing here names a scale or a domain.
"""

from __future__ import annotations

import pandas as pd

from pceval.instrument.model import Instrument, Scale
from pceval.score.scales import item_bounds

DOMAIN_PREFIX = "domain_"


def scale_range(instrument: Instrument, scale: Scale) -> tuple[float, float]:
    """The lowest and highest score a scale can take.

    Examples
    --------
    >>> from pceval.instrument import load_instrument
    >>> inst = load_instrument("womens_survey")
    >>> scale_range(inst, inst.scale("felt_safety"))
    (1.0, 5.0)
    """
    bounds = [item_bounds(instrument, instrument.item(i)) for i in scale.items]
    lows = sum(b[0] for b in bounds)
    highs = sum(b[1] for b in bounds)
    if scale.method == "mean":
        lows, highs = lows / len(bounds), highs / len(bounds)
    return float(lows * scale.multiplier), float(highs * scale.multiplier)


def pomp(score: pd.Series, instrument: Instrument, scale: Scale) -> pd.Series:
    """A scale's scores as percent of maximum possible (0-100), higher always better.

    Examples
    --------
    >>> from pceval.instrument import load_instrument
    >>> inst = load_instrument("womens_survey")
    >>> pomp(pd.Series([1, 3, 5, None], dtype="Float64"), inst, inst.scale("felt_safety")).tolist()
    [0.0, 50.0, 100.0, <NA>]
    """
    low, high = scale_range(instrument, scale)
    share = (score.astype("Float64") - low) / (high - low) * 100
    return share if scale.higher_is_better else 100 - share


def domain_columns(instrument: Instrument) -> dict[str, tuple[Scale, ...]]:
    """Each domain column an instrument's scales give, with the scales that make it up.

    Examples
    --------
    >>> from pceval.instrument import load_instrument
    >>> {k: [s.id for s in v] for k, v in domain_columns(load_instrument("womens_survey")).items()}
    {'domain_D11': ['experience'], 'domain_D12': ['felt_safety'], 'domain_D13': ['space_for_action']}
    """
    out: dict[str, list[Scale]] = {}
    for scale in instrument.scales:
        for domain in scale.domains:
            out.setdefault(f"{DOMAIN_PREFIX}{domain}", []).append(scale)
    return {name: tuple(out[name]) for name in sorted(out)}


def score_domains(scored: pd.DataFrame, instrument: Instrument) -> pd.DataFrame:
    """Append a ``domain_<id>`` column (0-100, higher better) for every domain with scales.

    A respondent's domain score is the mean of her POMP scores on the domain's scales that she
    has a score on; without any, it is missing.

    Parameters
    ----------
    scored : DataFrame
        Data with the instrument's scale score columns (from :func:`pceval.score.score_scales`).
    instrument : Instrument

    Returns
    -------
    DataFrame
        A copy of ``scored`` with the domain columns appended.

    Examples
    --------
    >>> from pceval.instrument import load_instrument
    >>> inst = load_instrument("womens_survey")
    >>> data = pd.DataFrame({"felt_safety": [2.0, None], "space_for_action": [5.0, 3.0],
    ...                      "experience": [None, 4.0]}, dtype="Float64")
    >>> out = score_domains(data, inst)
    >>> out["domain_D12"].tolist(), out["domain_D13"].tolist()
    ([25.0, <NA>], [100.0, 50.0])
    """
    # copy-on-write: the scored frame shares the columns it does not add (a deep copy held
    # a second contact record in memory at national scale)
    out = scored.copy(deep=False)
    for name, scales in domain_columns(instrument).items():
        parts = pd.concat([pomp(scored[s.id], instrument, s) for s in scales if s.id in scored.columns],
                          axis=1)
        out[name] = parts.mean(axis=1, skipna=True).astype("Float64")
    return out


__all__ = ["DOMAIN_PREFIX", "domain_columns", "pomp", "scale_range", "score_domains"]
