"""DSS Data Exchange SCORE ratings (1 to 5) from the scales that declare a ``dex`` mapping.

Services funded by the Department of Social Services report client outcomes to the Data
Exchange as SCORE ratings: Circumstances and Goals rated before and after support on the same
domain (one Circumstances domain is "personal and family safety"), Satisfaction and Community
after, each with an "assessed by" note naming any validated tool. A scale's ``dex`` entry in its
instrument says which SCORE type and domain it informs and where its score steps from one rating
to the next; this module applies that mapping and lays the ratings out as pre/post records.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pceval.errors import AnalysisError
from pceval.instrument.model import Instrument, Role, Scale, text_in
from pceval.io import write_csv
from pceval.privacy.deidentify import PERSON_KEY
from pceval.score.domains import scale_range

DEX_SUFFIX = "_score_rating"
DEX_COLUMNS = ["pid", "service_id", "score_type", "score_domain", "assessed_by", "phase", "wave",
               "rating", "scale", "scale_score"]


def dex_cuts(instrument: Instrument, scale: Scale) -> tuple[float, float, float, float]:
    """The four thresholds at which a scale's SCORE rating steps up (declared, or equal fifths).

    Examples
    --------
    >>> from pceval.instrument import load_instrument
    >>> inst = load_instrument("womens_survey")
    >>> dex_cuts(inst, inst.scale("felt_safety"))
    (1.8, 2.6, 3.4, 4.2)
    """
    if scale.dex is None:
        raise AnalysisError(f"scale {scale.id} declares no SCORE mapping", field=scale.id,
                            fix="add a dex entry to the scale in its instrument")
    if scale.dex.cuts is not None:
        return scale.dex.cuts
    low, high = scale_range(instrument, scale)
    step = (high - low) / 5
    return tuple(round(low + step * k, 10) for k in range(1, 5))  # type: ignore[return-value]


def dex_rating(score: pd.Series, instrument: Instrument, scale: Scale) -> pd.Series:
    """Each score's SCORE rating, 1 (worst) to 5 (best); missing where the score is.

    A score on a cut takes the higher rating. For a scale where a higher score is worse
    (``higher_is_better: false``) the rating is turned round, since SCORE's 5 is always the best.

    Examples
    --------
    >>> from pceval.instrument import load_instrument
    >>> inst = load_instrument("womens_survey")
    >>> dex_rating(pd.Series([1.0, 1.8, 3.0, 4.25, 5.0, None], dtype="Float64"), inst,
    ...            inst.scale("felt_safety")).tolist()
    [1, 2, 3, 5, 5, <NA>]
    """
    cuts = np.asarray(dex_cuts(instrument, scale), dtype=float)
    values = score.astype("Float64")
    known = values.notna()
    steps = np.searchsorted(cuts, values[known].to_numpy(dtype=float), side="right")
    rating = 1 + steps if scale.higher_is_better else 5 - steps
    out = pd.Series(pd.NA, index=score.index, dtype="Int64")
    out[known] = rating
    return out


def score_dex(scored: pd.DataFrame, instrument: Instrument) -> pd.DataFrame:
    """Append ``<scale>_score_rating`` for every scale with a SCORE mapping.

    Examples
    --------
    >>> from pceval.instrument import load_instrument
    >>> inst = load_instrument("womens_survey")
    >>> out = score_dex(pd.DataFrame({"felt_safety": [4.5]}, dtype="Float64"), inst)
    >>> out["felt_safety_score_rating"].tolist()
    [5]
    """
    # copy-on-write: the scored frame shares the columns it does not add (a deep copy held
    # a second contact record in memory at national scale)
    out = scored.copy(deep=False)
    for scale in instrument.scales:
        if scale.dex is not None and scale.id in scored.columns:
            out[f"{scale.id}{DEX_SUFFIX}"] = dex_rating(scored[scale.id], instrument, scale)
    return out


def dex_records(scored: pd.DataFrame, instrument: Instrument, *, pre: str | None = None,
                post: str | None = None) -> pd.DataFrame:
    """SCORE records per woman: pre and post ratings for Circumstances and Goals, post for the rest.

    Parameters
    ----------
    scored : DataFrame
        Scored survey data with ``pid``, the wave column ``_wave``, the service column and the
        scale scores.
    instrument : Instrument
    pre, post : str, optional
        The waves that count as the pre and post assessment; default the instrument's first
        and last waves.

    Returns
    -------
    DataFrame
        Columns :data:`DEX_COLUMNS`, one row per woman, SCORE item and phase; a woman without a
        rating at a phase has no row for it, and a response without a person key has none.

    Examples
    --------
    >>> from pceval.instrument import load_instrument
    >>> inst = load_instrument("womens_survey")
    >>> data = pd.DataFrame({"pid": ["a", "a"], "service_id": ["S01", "S01"],
    ...                      "_wave": ["baseline", "followup"], "felt_safety": [2.0, 4.5],
    ...                      "space_for_action": [3.0, 3.5], "experience": [None, 4.0]})
    >>> dex_records(data, inst)[["score_type", "phase", "rating"]].values.tolist()[:2]
    [['circumstances', 'pre', 2], ['circumstances', 'post', 5]]
    """
    if not instrument.waves:
        raise AnalysisError(f"{instrument.id} has no waves, so it has no pre and post assessment")
    pre = pre or instrument.waves[0]
    post = post or instrument.waves[-1]
    service = instrument.role_item(Role.SERVICE)
    service_col = service.id if service is not None else None
    parts = []
    for scale in instrument.scales:
        if scale.dex is None or scale.id not in scored.columns:
            continue
        phases = {"pre": pre, "post": post} if scale.dex.type in {"circumstances", "goals"} else {"post": post}
        for phase, wave in phases.items():
            rows = scored.loc[scored["_wave"].eq(wave).fillna(False) & scored[scale.id].notna()
                              & scored[PERSON_KEY].notna()]
            parts.append(pd.DataFrame({
                "pid": rows[PERSON_KEY].astype("string"),
                "service_id": rows[service_col].astype("string") if service_col else pd.NA,
                "score_type": scale.dex.type,
                "score_domain": scale.dex.domain,
                "assessed_by": scale.dex.assessed_by or text_in(scale.label),
                "phase": phase,
                "wave": wave,
                "rating": dex_rating(rows[scale.id], instrument, scale),
                "scale": scale.id,
                "scale_score": rows[scale.id].astype("Float64"),
            }))
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in DEX_COLUMNS})
    out = pd.concat(parts, ignore_index=True)
    scale_order = {s.id: n for n, s in enumerate(instrument.scales)}
    out = out.assign(_scale=out["scale"].map(scale_order), _phase=out["phase"].map({"pre": 0, "post": 1}))
    out = out.sort_values(["pid", "_scale", "_phase"], kind="stable").drop(columns=["_scale", "_phase"])
    return out.reset_index(drop=True).loc[:, DEX_COLUMNS]


def write_dex_export(project: Any, *, scored: Mapping[str, pd.DataFrame] | None = None,
                     instruments: Mapping[str, Any] | None = None,
                     waves: Mapping[str, str] | None = None) -> list[Path]:
    """Write the record-level DEX SCORE file(s) into ``build/shareable/`` (pseudonymous).

    One CSV per instrument with a SCORE mapping, ``dex_score_<instrument>.csv``, columns
    :data:`pceval.score.dex.DEX_COLUMNS` (one row per woman, SCORE item and phase, keyed by the
    pseudonym ``pid``). Record-level data are never written to ``results/``, which is
    published; ``build/shareable/`` is where pseudonymous data for the evaluation's own users
    live.

    Parameters
    ----------
    project : Project
        The evaluation project.
    scored : mapping, optional
        Scored frames by instrument id (a build passes its own); read from ``build/scored/``
        otherwise.
    instruments : mapping, optional
        The instruments by id; the project's otherwise.
    waves : mapping, optional
        ``{"pre": ..., "post": ...}``; default each instrument's first and last wave.

    Returns
    -------
    list of Path
        The files written.
    """
    if instruments is None:
        from pceval.pipeline import load_instruments_for

        instruments = load_instruments_for(project)
    instruments = dict(instruments)
    waves = dict(waves or {})
    written = []
    for inst_id, instrument in instruments.items():
        if not instrument.waves or not any(s.dex is not None for s in instrument.scales):
            continue
        if scored is not None:
            if inst_id not in scored:
                continue
            frame = scored[inst_id]
        else:
            path = Path(project.build) / "scored" / f"{inst_id}.parquet"
            if not path.exists():
                continue
            frame = pd.read_parquet(path)
        records = dex_records(frame, instrument, pre=waves.get("pre"), post=waves.get("post"))
        written.append(write_csv(Path(project.build) / "shareable" / f"dex_score_{inst_id}.csv", records))
    return written


__all__ = ["DEX_COLUMNS", "DEX_SUFFIX", "dex_cuts", "dex_rating", "dex_records", "score_dex",
           "write_dex_export"]
