"""Reliability of every scale, as the evaluation must report it of itself.

For each scale the source instrument declares, per wave: Cronbach's alpha with its Feldt
interval, McDonald's omega, and the shares at the floor and at the ceiling
(:func:`pceval.score.psychometrics.scale_reliability`). Which scales come from the instrument,
so the plan needs no item list.
"""

from __future__ import annotations

import pandas as pd

from pceval.analyse.registry import Context, Params, register
from pceval.errors import AnalysisError
from pceval.results import result_frame
from pceval.score.psychometrics import scale_reliability

_STATISTICS = {"alpha": ("alpha", "alpha_ci_low", "alpha_ci_high", "feldt"),
               "omega": ("omega", None, None, "one_factor_ml"),
               "floor": ("floor", None, None, "share"),
               "ceiling": ("ceiling", None, None, "share")}


class ReliabilityParams(Params):
    """``scales``: which of the instrument's scales (default all); ``by``: a grouping column."""

    scales: tuple[str, ...] = ()
    by: str = "_wave"


@register("scale_reliability", params=ReliabilityParams, pool=False)
def run_scale_reliability(units: pd.DataFrame, context: Context) -> pd.DataFrame:
    """Alpha (Feldt interval), omega, floor and ceiling of each scale, per wave.

    Examples
    --------
    >>> import numpy as np
    >>> from pceval.analyse.plan import Analysis, DataSpec, Question
    >>> from pceval.analyse.registry import Context, DisclosureRules
    >>> from pceval.instrument import load_instrument
    >>> inst = load_instrument("womens_survey")
    >>> rng = np.random.default_rng(1)
    >>> latent = rng.normal(3, 0.8, 200)
    >>> items = {i: np.clip(np.round(latent + rng.normal(0, 0.5, 200)), 1, 5)
    ...          for i in inst.scale("space_for_action").items}
    >>> units = pd.DataFrame({"_wave": "baseline", **items})
    >>> q = Question(id="reliability", title="t", question="?", data=DataSpec(source="womens_survey"),
    ...              analyses=[Analysis(id="main", method="scale_reliability",
    ...                                 params={"scales": ["space_for_action"]})])
    >>> ctx = Context(question=q, analysis=q.analyses[0], instrument=inst, instruments={}, data={},
    ...               service="service_id", breakdowns={}, rules=DisclosureRules(),
    ...               params=ReliabilityParams(scales=("space_for_action",)))
    >>> out = run_scale_reliability(units, ctx)
    >>> row = out[out["statistic"] == "alpha"].iloc[0]
    >>> row["indicator"], row["group"], int(row["n"]), bool(0.8 < row["estimate"] < 0.95)
    ('space_for_action', 'baseline', 200, True)
    """
    params: ReliabilityParams = context.params
    instrument = context.instrument
    known = {s.id for s in instrument.scales}
    unknown = sorted(set(params.scales) - known)
    if unknown:
        raise AnalysisError(f"{context.question_id}: {instrument.id} declares no scale {unknown[0]!r}",
                            field=f"{context.question_id}.{context.analysis.id}.params.scales",
                            fix=f"choose from {sorted(known)}")
    chosen = [s for s in instrument.scales if not params.scales or s.id in params.scales]
    by = (params.by,) if params.by in units.columns else ()
    table = scale_reliability(units, instrument.model_copy(update={"scales": tuple(chosen)}), by=by).scales
    group_col = params.by.lstrip("_")
    rows = []
    for record in table.to_dict("records"):
        group = str(record.get(group_col, "all")) if by else "all"
        for statistic, (column, low, high, method) in _STATISTICS.items():
            estimate = record[column]
            rows.append({"indicator": record["scale"], "breakdown": group_col if by else "overall",
                         "group": group, "statistic": statistic, "n": int(record["n"]),
                         "estimate": estimate, "ci_low": record[low] if low else None,
                         "ci_high": record[high] if high else None, "method": method,
                         "note": record.get("note") or None})
    frame = result_frame(rows)
    return frame.loc[frame["n"].fillna(0) > 0].reset_index(drop=True)
