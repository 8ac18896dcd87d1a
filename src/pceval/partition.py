"""A frame's rows by the value of one column, for logs of millions of rows."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["factorize_text", "partition"]


def partition(frame: pd.DataFrame, column: str) -> dict[str, pd.DataFrame]:
    """The rows of ``frame`` by the value of ``column`` (as text), in the order they come.

    Rows whose value is missing belong to no part. Where each value's rows already come
    together (as in a log concatenated one instrument after another), the parts are slices
    of ``frame`` and nothing is copied; otherwise each row is gathered once. A filter per
    value would read the whole frame once per value, and gathering text columns of millions
    of rows costs seconds.

    Examples
    --------
    >>> log = pd.DataFrame({"instrument": ["a", "a", "b"], "row": [1, 3, 2]})
    >>> {k: v["row"].tolist() for k, v in partition(log, "instrument").items()}
    {'a': [1, 3], 'b': [2]}
    >>> {k: v["row"].tolist() for k, v in partition(log.iloc[[0, 2, 1]], "instrument").items()}
    {'a': [1, 3], 'b': [2]}
    """
    codes, uniques = factorize_text(frame[column])
    # factorize numbers values in order of first appearance: values whose rows come together
    # have codes that never go down, once rows without a value are set aside
    present = codes >= 0
    if present.all() and (len(codes) < 2 or bool((np.diff(codes) >= 0).all())):
        bounds = np.searchsorted(codes, np.arange(len(uniques) + 1))
        return {str(name): frame.iloc[bounds[i]:bounds[i + 1]] for i, name in enumerate(uniques)}
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(uniques) + 1))
    return {str(name): frame.iloc[order[bounds[i]:bounds[i + 1]]] for i, name in enumerate(uniques)}


def factorize_text(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Codes of ``values`` as text, numbered in order of first appearance, and the texts.

    As ``pd.factorize(values.astype("string"))`` (missing values coded -1), but a categorical
    Series is numbered from its codes, without making its text: a log of tens of millions of
    rows keeps its fields and reasons as categories.

    Examples
    --------
    >>> codes, names = factorize_text(pd.Series(pd.Categorical(["b", None, "a", "b"])))
    >>> codes.tolist(), names.tolist()
    ([0, -1, 1, 0], ['b', 'a'])
    >>> factorize_text(pd.Series([3, 1, 3]))[1].tolist()
    ['3', '1']
    """
    if isinstance(values.dtype, pd.CategoricalDtype):
        raw = values.cat.codes.to_numpy()
        codes, uniques = pd.factorize(pd.arrays.IntegerArray(raw.astype(np.int32), raw < 0))
        categories = pd.array([str(c) for c in values.cat.categories], dtype="string")
        return codes, pd.Index(categories.take(np.asarray(uniques, dtype=np.intp)))
    return pd.factorize(values.astype("string"), use_na_sentinel=True)
