"""The package's public functions resolve, each with a numpydoc docstring and an example."""

from __future__ import annotations

import pytest

import pceval


@pytest.mark.parametrize("name", [n for n in pceval.__all__ if n != "__version__"])
def test_public_function_is_documented_with_an_example(name):
    function = getattr(pceval, name)
    doc = function.__doc__ or ""
    assert callable(function)
    assert "Parameters" in doc or "Examples" in doc
    assert ">>> " in doc, f"{name} has no runnable example"


def test_icc_reproduces_shrout_and_fleiss_through_the_package():
    import pandas as pd

    ratings = [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]]
    long = pd.DataFrame([(t, j, v) for t, row in enumerate(ratings) for j, v in enumerate(row)],
                        columns=["target", "judge", "rating"])
    table = pceval.icc(long, target="target", rater="judge", value="rating").set_index("statistic")
    published = {"ICC1": 0.17, "ICC2": 0.29, "ICC3": 0.71, "ICC1k": 0.44, "ICC2k": 0.62, "ICC3k": 0.91}
    assert {k: round(float(table.loc[k, "estimate"]), 2) for k in published} == published


def test_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        pceval.nope  # noqa: B018
