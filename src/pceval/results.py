"""The one shape every result table has.

Each analysis returns a long, tidy frame with these columns (STYLE.md: one shape across
siblings). Full precision is kept here; rounding and labels belong to the display layer.

==============  =============================================================================
column          meaning
==============  =============================================================================
question        plan entry id, e.g. ``q01_reach``
indicator       what is estimated, e.g. ``reached`` or ``felt_safety``
breakdown       the breakdown variable (``overall``, ``service``, ``wave`` ...)
group           the level of the breakdown (``all`` for overall, a service id ...)
statistic       ``count``, ``proportion``, ``mean``, ``mean_change``, ``effect_size_dz`` ...
n               contributors (women, respondents) the estimate rests on
numerator       for proportions and counts: the count with the attribute; else missing
estimate        the value
ci_low, ci_high 95% interval where defined
p_value         where a test is defined
method          short name of the method (``wilson``, ``paired_t`` ...)
suppressed      True when disclosure control removed the value
note            why a value was suppressed or pooled
==============  =============================================================================
"""

from __future__ import annotations

import pandas as pd

RESULT_COLUMNS = (
    "question",
    "indicator",
    "breakdown",
    "group",
    "statistic",
    "n",
    "numerator",
    "estimate",
    "ci_low",
    "ci_high",
    "p_value",
    "method",
    "suppressed",
    "note",
)

_DTYPES = {
    "question": "string",
    "indicator": "string",
    "breakdown": "string",
    "group": "string",
    "statistic": "string",
    "n": "Int64",
    "numerator": "Int64",
    "estimate": "Float64",
    "ci_low": "Float64",
    "ci_high": "Float64",
    "p_value": "Float64",
    "method": "string",
    "suppressed": "boolean",
    "note": "string",
}


def result_frame(rows: list[dict] | pd.DataFrame | None = None) -> pd.DataFrame:
    """Build a result table with the standard columns and dtypes.

    Missing columns are added empty; extra columns are an error, so every table keeps one
    shape.

    Examples
    --------
    >>> f = result_frame([{"question": "q01", "indicator": "reached", "estimate": 0.5}])
    >>> list(f.columns) == list(RESULT_COLUMNS), bool(f.loc[0, "suppressed"])
    (True, False)
    """
    frame = pd.DataFrame(rows if rows is not None else [])
    extra = set(frame.columns) - set(RESULT_COLUMNS)
    if extra:
        raise ValueError(f"result rows carry unknown columns {sorted(extra)}")
    for column in RESULT_COLUMNS:
        if column not in frame.columns:
            frame[column] = pd.NA
    frame = frame.loc[:, list(RESULT_COLUMNS)]
    frame["suppressed"] = frame["suppressed"].fillna(False)
    frame["breakdown"] = frame["breakdown"].fillna("overall")
    frame["group"] = frame["group"].fillna("all")
    return frame.astype(_DTYPES).reset_index(drop=True)
