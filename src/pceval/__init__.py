"""pceval: the dedicated partner contact evaluation stream for men's behaviour change programs.

The public functions are importable from the package itself; each is loaded on first use, so
``import pceval`` stays quick for the command line.

Examples
--------
>>> import pandas as pd
>>> import pceval
>>> ratings = pd.DataFrame({"unit": [1, 1, 2, 2, 3, 3], "coder": ["A", "B"] * 3,
...                         "code": [1, 1, 0, 0, 1, 0]})
>>> table = pceval.agreement(ratings, unit="unit", coder="coder", value="code")
>>> round(float(table.set_index("statistic").loc["percent_agreement", "estimate"]), 3)
0.667
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_PUBLIC = {
    "agreement": "pceval.code.agreement",
    "icc": "pceval.code.agreement",
    "reliability": "pceval.score.psychometrics",
    "item_statistics": "pceval.score.psychometrics",
    "scale_reliability": "pceval.score.psychometrics",
    "cfa_one_factor": "pceval.score.psychometrics",
    "score_scales": "pceval.score",
    "score_domains": "pceval.score",
    "score_dex": "pceval.score",
    "dex_records": "pceval.score",
    "score_change": "pceval.score",
    "load_instrument": "pceval.instrument",
    "load_project": "pceval.project",
    "load_plan": "pceval.analyse.plan",
    "run_plan": "pceval.analyse.run",
    "generate_evaluation": "pceval.synth",
}

__all__ = ["__version__", *sorted(_PUBLIC)]


def __getattr__(name: str):
    if name in _PUBLIC:
        value = getattr(importlib.import_module(_PUBLIC[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'pceval' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PUBLIC))
