"""Disclosure control for result tables: nothing too small is published, and nothing hidden can
be worked back out from what is shown.

Applied once, centrally, to every result table (the shape of :mod:`pceval.results`) before it is
written; :func:`pool_small_groups` runs earlier, on record-level data, so that no estimate rests
on a service with too few women.

The rules follow Australian practice. The AIHW publishes counts of 1 to 4 as "n.p." (not
published) and suppresses further cells that would let them be recovered (consequential
suppression); the ABS DataLab output rules ask for at least 10 unweighted contributors to every
cell, statistic, numerator and denominator. pceval's default is a minimum cell of 5 and no
percentage on a denominator under 10; ``strict=True`` applies the rule of 10 throughout.

References
----------
Australian Institute of Health and Welfare, *AIHW data governance framework* and publication
practice for small cells ("n.p." for counts of 1-4, with consequential suppression).
Australian Bureau of Statistics, *DataLab output checking rules* (at least 10 unweighted
contributors to each cell and to the numerator and denominator of each statistic).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
import pandas as pd

from pceval.errors import PrivacyError
from pceval.results import RESULT_COLUMNS, result_frame

PROPORTION_STATISTICS = frozenset({"proportion", "percent", "percentage", "share", "prevalence"})
"""Statistics that are percentages: never shown on a denominator under ``min_denominator``."""

ADDITIVE_STATISTICS = frozenset(
    {"count", "total", "sum", "mean", "mean_change"} | PROPORTION_STATISTICS
)
"""Statistics whose groups combine into the overall value (counts add up; means and
proportions are n-weighted averages), so a hidden group can be recovered from the overall and
the other groups. Any row with a ``numerator`` is treated as additive too."""

NOTE_SMALL = "n.p.: fewer than {k} contributors"
NOTE_COMPLEMENT = "n.p.: fewer than {k} contributors without the attribute"
NOTE_DENOMINATOR = "n.p.: denominator under {k}"
NOTE_NO_N = "n.p.: number of contributors not given"
NOTE_CONSEQUENTIAL = "n.p.: consequential"

VIOLATION_COLUMNS = ("question", "indicator", "breakdown", "group", "statistic", "rule", "value")

_MASKED = ("estimate", "ci_low", "ci_high", "p_value", "numerator")


def _small(value: int | None, limit: int) -> bool:
    """A count from 1 to ``limit - 1``. Zero is not small: it describes nobody."""
    return value is not None and 1 <= value < limit


@dataclass
class _View:
    """What a reader of the table sees, row by row (``None`` where hidden or missing)."""

    n: list[int | None]
    count: list[int | None]  # numerator, or the estimate of a ``count`` row
    hide_value: list[bool]
    hide_n: list[bool]
    statistic: list[str]
    group: list[str]

    def shown_n(self, i: int) -> int | None:
        return None if self.hide_n[i] else self.n[i]

    def shown_count(self, i: int) -> int | None:
        return None if self.hide_value[i] else self.count[i]


def _int_or_none(value: object) -> int | None:
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    return int(value)


def _count_values(frame: pd.DataFrame) -> list[int | None]:
    out = []
    for numerator, estimate, statistic in zip(frame["numerator"], frame["estimate"],
                                              frame["statistic"], strict=True):
        value = _int_or_none(numerator)
        if value is None and statistic == "count" and not pd.isna(estimate):
            est = float(estimate)
            value = int(est) if est.is_integer() else None
        out.append(value)
    return out


def _view(frame: pd.DataFrame) -> _View:
    suppressed = frame["suppressed"].fillna(False).astype(bool).tolist()
    nothing_shown = (frame["estimate"].isna() & frame["numerator"].isna()).tolist()
    n = [_int_or_none(v) for v in frame["n"]]
    return _View(
        n=n,
        count=_count_values(frame),
        hide_value=[s or e for s, e in zip(suppressed, nothing_shown, strict=True)],
        hide_n=[v is None for v in n],
        statistic=[str(s) if not pd.isna(s) else "" for s in frame["statistic"]],
        group=[str(g) for g in frame["group"]],
    )


def _is_additive(view: _View, i: int) -> bool:
    return view.statistic[i] in ADDITIVE_STATISTICS or view.count[i] is not None


def _linked_sets(frame: pd.DataFrame) -> list[tuple[int, tuple[int, ...]]]:
    """(overall row, group rows) for every breakdown that can add up to an overall row.

    Rows are linked by ``question, indicator, statistic, method``: the ``overall`` row and the
    rows of each other breakdown. Whether they really add up is decided by :func:`_check_set`
    from what is shown.
    """
    keys = list(zip(frame["question"].fillna(""), frame["indicator"].fillna(""),
                    frame["statistic"].fillna(""), frame["method"].fillna(""), strict=True))
    breakdown = frame["breakdown"].fillna("overall").tolist()
    overall: dict[tuple, list[int]] = {}
    groups: dict[tuple, list[int]] = {}
    for i, (key, b) in enumerate(zip(keys, breakdown, strict=True)):
        if b == "overall":
            overall.setdefault(key, []).append(i)
        else:
            groups.setdefault((*key, b), []).append(i)
    out = []
    for set_key, members in groups.items():
        for o in overall.get(set_key[:-1], []):
            out.append((o, tuple(members)))
    return out


def _cell_problem(count: int | None, n: int | None, statistic: str, min_cell: int,
                  min_denominator: int) -> tuple[str, int] | None:
    """The first primary rule a (derived) cell breaks, with the offending value."""
    if _small(n, min_cell):
        return "small_n", n
    if _small(count, min_cell):
        return "small_cell", count
    if count is not None and n is not None and _small(n - count, min_cell):
        return "small_complement", n - count
    if statistic in PROPORTION_STATISTICS and _small(n, min_denominator):
        return "small_denominator", n
    return None


def _check_set(view: _View, o: int, members: Sequence[int], min_cell: int,
               min_denominator: int) -> list[tuple[str, str, int, tuple[int, ...]]]:
    """Problems of one linked set: (dimension, rule, derived value, hidden rows).

    ``dimension`` is ``"n"`` or ``"value"``: what must be hidden further to fix the problem.
    """
    statistic = view.statistic[o]
    # can a reader rule out that the groups add up to the overall row? then nothing follows
    o_n = view.shown_n(o)
    if o_n is not None:
        shown = [view.n[g] for g in members if not view.hide_n[g]]
        total = sum(v for v in shown if v is not None)
        if (total != o_n) if len(shown) == len(members) else (total > o_n):
            return []
    o_count = view.shown_count(o)
    if o_count is not None:
        shown = [view.shown_count(g) for g in members]
        known = [v for v in shown if v is not None]
        if (sum(known) != o_count) if len(known) == len(members) else (sum(known) > o_count):
            return []

    problems = []
    # the n of hidden groups, recovered as overall n minus the shown ones
    hidden_n = tuple(g for g in members if view.hide_n[g])
    if o_n is not None and hidden_n:
        derived = o_n - sum(view.n[g] for g in members if not view.hide_n[g])
        if _small(derived, min_cell):
            problems.append(("n", "derivable_n", derived, hidden_n))
    elif o_n is None and not hidden_n and view.hide_n[o]:
        derived = sum(view.n[g] for g in members)
        if _small(derived, min_cell):
            problems.append(("n", "derivable_n", derived, (o,)))

    if not _is_additive(view, o):
        return problems
    # the value of hidden groups, recovered as overall minus the shown ones
    hidden_v = tuple(g for g in members if view.hide_value[g])
    counted = view.count[o] is not None or statistic == "count"
    if not view.hide_value[o] and hidden_v:
        shown = [g for g in members if not view.hide_value[g]]
        d_count = None
        if counted and o_count is not None and all(view.count[g] is not None for g in shown):
            d_count = o_count - sum(view.count[g] for g in shown)
        d_n = None
        if o_n is not None and all(not view.hide_n[g] for g in shown):
            d_n = o_n - sum(view.n[g] for g in shown)
        problem = _cell_problem(d_count, d_n, statistic, min_cell, min_denominator)
        if problem:
            problems.append(("value", "derivable_" + problem[0].removeprefix("small_"),
                             problem[1], hidden_v))
    elif view.hide_value[o] and not hidden_v:
        # the overall is hidden but every group is shown: it is their sum
        d_count = None
        if counted and all(view.count[g] is not None for g in members):
            d_count = sum(view.count[g] for g in members)
        d_n = o_n if o_n is not None else (
            sum(view.n[g] for g in members) if all(not view.hide_n[g] for g in members) else None
        )
        problem = _cell_problem(d_count, d_n, statistic, min_cell, min_denominator)
        if problem:
            problems.append(("value", "derivable_" + problem[0].removeprefix("small_"),
                             problem[1], (o,)))
    return problems


def _resolve_limits(min_cell: int, min_denominator: int, strict: bool) -> tuple[int, int]:
    for name, value in (("min_cell", min_cell), ("min_denominator", min_denominator)):
        if not isinstance(value, int | np.integer) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if strict:
        min_cell = max(min_cell, 10)
        min_denominator = max(min_denominator, 10)
    return int(min_cell), int(max(min_denominator, min_cell))


@cache
def _standard_dtypes() -> pd.Series:
    return result_frame().dtypes


def _checked_frame(frame: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame):
        raise TypeError("frame must be a pandas DataFrame")
    missing = [c for c in RESULT_COLUMNS if c not in frame.columns]
    if missing:
        raise PrivacyError(f"a result table lacks the columns {missing}, so disclosure control "
                           "cannot be applied",
                           fix="build result tables with pceval.results.result_frame")
    if list(frame.columns) == list(RESULT_COLUMNS) and frame.dtypes.equals(_standard_dtypes()):
        out = frame.reset_index(drop=True)  # a new frame: copy-on-write keeps the input intact
    else:
        out = result_frame(frame)
    counts = out[["n", "numerator"]].to_numpy(dtype="float64", na_value=np.nan)
    negative = np.flatnonzero((counts < 0).any(axis=1))
    if len(negative):
        row = out.iloc[negative[0]]
        raise PrivacyError(f"{row['question']}/{row['indicator']}/{row['group']}: n and "
                           "numerator must not be negative")
    return out


def suppress_results(frame: pd.DataFrame, *, min_cell: int = 5, min_denominator: int = 10,
                     strict: bool = False) -> pd.DataFrame:
    """Suppress small cells, and the cells that would reveal them, in a result table.

    Parameters
    ----------
    frame : DataFrame
        A result table (:data:`pceval.results.RESULT_COLUMNS`). Not modified.
    min_cell : int
        Smallest count that may be shown (default 5: counts of 1-4 are "n.p.").
    min_denominator : int
        Smallest denominator a percentage may be shown on (default 10).
    strict : bool
        The ABS rule of 10: ``min_cell`` and ``min_denominator`` become at least 10.

    Returns
    -------
    DataFrame
        A new table with the same rows in the same order (index reset). On suppressed rows
        ``estimate, ci_low, ci_high, p_value, numerator`` are missing, ``suppressed`` is True and
        ``note`` says why; ``n`` is missing too when it is itself small (see Notes).

    Raises
    ------
    PrivacyError
        The table lacks result columns, or has a negative ``n`` or ``numerator``.

    Notes
    -----
    A count below ``k`` means 1 to ``k - 1``; zero is never small (it describes nobody).

    **Primary suppression**, row by row (rows already suppressed keep their note; their values
    are masked and a small ``n`` hidden, as for any other):

    1. ``n`` below ``min_cell``: everything is hidden, ``n`` included ("n.p.: fewer than 5
       contributors"); a missing ``n`` hides the row too ("n.p.: number of contributors not
       given").
    2. a count below ``min_cell`` (the ``numerator``, or the estimate of a ``count`` row), or a
       complement ``n - numerator`` below ``min_cell`` (showing 96 of 100 reveals the 4):
       the value is hidden, ``n`` stays.
    3. a percentage (:data:`PROPORTION_STATISTICS`) on ``n`` below ``min_denominator``: the
       value is hidden, ``n`` stays ("n.p.: denominator under 10").

    So ``n`` is shown on a suppressed row exactly when ``n >= min_cell`` and no consequential
    rule needed to hide it: the number of women a figure rests on is published (AIHW practice
    publishes totals beside "n.p." cells), the figure is not.

    **Consequential suppression.** Rows that share ``question, indicator, statistic, method``
    and a breakdown other than ``overall`` are linked to the ``overall`` row: their ``n`` (and,
    for counts, numerators; for proportions and means, n-weighted values) add up to it whenever
    the groups partition the women. A reader can then recover the hidden groups' total as the
    overall minus the shown groups, and a hidden overall as the sum of the groups. Working from
    what is shown, so the rule is the same one a reader (and :func:`disclosure_violations`)
    can apply:

    - a breakdown is treated as adding up unless the shown figures rule it out (shown groups'
      ``n`` or numerators exceed the overall's, or all are shown and differ from it);
    - the total of the hidden groups must itself pass the primary rules. With exactly one
      hidden group its total *is* that group, so the AIHW rule follows: one suppressed cell
      forces a second. With several hidden groups their pooled total must not be a small
      count either (1 and 2 hidden beside an overall reveal "3 in these two services");
    - while a breakdown breaks this, the shown group with the smallest ``n`` (then numerator,
      then group label) is suppressed as well ("n.p.: consequential"); ``n`` is hidden too
      only when a hidden ``n`` is what could be recovered;
    - a hidden overall with every group shown is their sum, so a group is hidden as well.

    The overall row is not suppressed when only one group is left shown: the hidden groups'
    total is then derivable, but it passes the rules and no single hidden group can be
    recovered from it. Suppression repeats until no breakdown breaks the rule. Two-way tables
    (a breakdown by service and cohort at once) are not linked; publish them only from data
    pooled with :func:`pool_small_groups`.

    References: AIHW small-cell practice ("n.p." for 1-4, consequential suppression);
    ABS DataLab output rules (rule of 10 for cells, numerators and denominators).

    Examples
    --------
    >>> from pceval.results import result_frame
    >>> t = result_frame([
    ...     {"question": "q01", "indicator": "reached", "statistic": "count", "n": 40,
    ...      "numerator": 30, "estimate": 30},
    ...     {"question": "q01", "indicator": "reached", "statistic": "count", "n": 20,
    ...      "numerator": 3, "estimate": 3, "breakdown": "service", "group": "S1"},
    ...     {"question": "q01", "indicator": "reached", "statistic": "count", "n": 20,
    ...      "numerator": 27, "estimate": 27, "breakdown": "service", "group": "S2"},
    ... ])
    >>> out = suppress_results(t)
    >>> for row in out[["group", "n", "numerator", "note"]].itertuples(index=False):
    ...     print(*row, sep=" | ")
    all | 40 | 30 | <NA>
    S1 | 20 | <NA> | n.p.: fewer than 5 contributors
    S2 | 20 | <NA> | n.p.: consequential
    """
    min_cell, min_denominator = _resolve_limits(min_cell, min_denominator, strict)
    out = _checked_frame(frame)
    view = _view(out)
    rows = len(out)
    reason: list[str | None] = [None] * rows
    already = out["suppressed"].fillna(False).astype(bool).tolist()

    for i in range(rows):
        n, count, statistic = view.n[i], view.count[i], view.statistic[i]
        if already[i] or view.hide_value[i]:
            # suppressed upstream, or no value to show: only a small n is left to hide
            if _small(n, min_cell):
                view.hide_n[i] = True
                if not already[i]:
                    reason[i] = NOTE_SMALL.format(k=min_cell)
            continue
        if n is None:
            view.hide_value[i], reason[i] = True, NOTE_NO_N
        elif _small(n, min_cell):
            view.hide_value[i] = view.hide_n[i] = True
            reason[i] = NOTE_SMALL.format(k=min_cell)
        elif _small(count, min_cell):
            view.hide_value[i], reason[i] = True, NOTE_SMALL.format(k=min_cell)
        elif count is not None and _small(n - count, min_cell):
            view.hide_value[i], reason[i] = True, NOTE_COMPLEMENT.format(k=min_cell)
        elif statistic in PROPORTION_STATISTICS and _small(n, min_denominator):
            view.hide_value[i], reason[i] = True, NOTE_DENOMINATOR.format(k=min_denominator)

    sets = _linked_sets(out)
    changed = True
    while changed:  # an overall row is shared by several breakdowns: repeat until all hold
        changed = False
        for o, members in sets:
            while problems := _check_set(view, o, members, min_cell, min_denominator):
                target = _next_to_hide(view, o, members, dimension=problems[0][0])
                if target is None:  # pragma: no cover - every member is already hidden
                    break
                if problems[0][0] == "n":
                    view.hide_n[target] = True
                view.hide_value[target] = True
                if reason[target] is None and not already[target]:
                    reason[target] = NOTE_CONSEQUENTIAL
                changed = True

    newly = np.array([r is not None for r in reason], dtype=bool)
    hidden = newly | np.array(already, dtype=bool)  # rows suppressed upstream are masked too
    if hidden.any():
        for column in _MASKED:
            out[column] = out[column].mask(hidden)
        out["n"] = out["n"].mask(np.array(view.hide_n, dtype=bool) & hidden)
        out["suppressed"] = out["suppressed"].mask(newly, True)
        old = out["note"].tolist()
        out["note"] = pd.array(
            [_join_note(r, o) if r is not None else o for r, o in zip(reason, old, strict=True)],
            dtype="string",
        )
    return out


def _next_to_hide(view: _View, o: int, members: Sequence[int], *, dimension: str) -> int | None:
    """The shown group with the smallest n (then count, label); the overall if none is left."""
    hidden = view.hide_n if dimension == "n" else view.hide_value
    candidates = [g for g in members if not hidden[g]]
    if candidates:
        return min(candidates, key=lambda g: (
            view.n[g] if view.n[g] is not None else -1,
            view.count[g] if view.count[g] is not None else -1,
            view.group[g], g))
    return None if hidden[o] else o


def _join_note(reason: str, old: object) -> str:
    if old is None or pd.isna(old) or not str(old).strip() or str(old).startswith("n.p."):
        return reason
    return f"{reason}; {old}"


def disclosure_violations(frame: pd.DataFrame, *, min_cell: int = 5,
                          min_denominator: int = 10) -> pd.DataFrame:
    """Every place a result table shows something the disclosure rules forbid.

    Checks what a reader sees, with the rules of :func:`suppress_results`: run it on any table
    about to be published; an empty answer is the pass.

    Parameters
    ----------
    frame : DataFrame
        A result table (:data:`pceval.results.RESULT_COLUMNS`).
    min_cell, min_denominator : int
        The limits the table must respect.

    Returns
    -------
    DataFrame
        Tidy, one row per problem, in table order: ``question, indicator, breakdown, group,
        statistic, rule, value``. ``rule`` is one of

        - ``small_n``, ``small_cell``, ``small_complement``, ``small_denominator``: a shown
          row breaks a primary rule; ``value`` is the offending count;
        - ``n_missing``: a value is shown without the number of contributors;
        - ``not_masked``: a row marked suppressed still shows a value;
        - ``derivable_n``, ``derivable_cell``, ``derivable_complement``,
          ``derivable_denominator``: hidden groups (listed in ``group``) can be recovered by
          subtraction from the overall row and what they give breaks a primary rule;
          ``value`` is what can be recovered.

    Examples
    --------
    >>> from pceval.results import result_frame
    >>> t = result_frame([{"question": "q01", "indicator": "reached", "statistic": "count",
    ...                    "n": 12, "numerator": 3, "estimate": 3}])
    >>> disclosure_violations(t)[["rule", "value"]].to_dict("records")
    [{'rule': 'small_cell', 'value': 3}]
    >>> len(disclosure_violations(suppress_results(t)))
    0
    """
    min_cell, min_denominator = _resolve_limits(min_cell, min_denominator, False)
    table = _checked_frame(frame)
    view = _view(table)
    found: list[tuple[int, int, str, str, int | None]] = []  # (row, order, group, rule, value)
    suppressed = table["suppressed"].fillna(False).astype(bool).tolist()
    leaks = table[list(_MASKED)].notna().any(axis=1).tolist()
    for i in range(len(table)):
        group = view.group[i]
        if suppressed[i] and leaks[i]:
            found.append((i, 0, group, "not_masked", None))
        n = view.shown_n(i)
        if _small(n, min_cell):
            found.append((i, 1, group, "small_n", n))
        if view.hide_value[i]:
            continue
        if n is None:
            found.append((i, 1, group, "n_missing", None))
            continue
        problem = _cell_problem(view.count[i], n, view.statistic[i], min_cell, min_denominator)
        if problem and problem[0] != "small_n":
            found.append((i, 1, group, problem[0], problem[1]))
    for o, members in _linked_sets(table):
        for _dimension, rule, value, hidden in _check_set(view, o, members, min_cell,
                                                          min_denominator):
            label = ", ".join(sorted(view.group[g] for g in hidden))
            found.append((min(hidden), 2, label, rule, value))
    found = sorted(set(found), key=lambda f: (f[0], f[1], f[3], f[2]))
    records = [
        {
            "question": table.at[i, "question"],
            "indicator": table.at[i, "indicator"],
            "breakdown": table.at[i, "breakdown"],
            "group": group,
            "statistic": table.at[i, "statistic"],
            "rule": rule,
            "value": value,
        }
        for i, _order, group, rule, value in found
    ]
    out = pd.DataFrame(records, columns=list(VIOLATION_COLUMNS))
    return out.astype({"question": "string", "indicator": "string", "breakdown": "string",
                       "group": "string", "statistic": "string", "rule": "string",
                       "value": "Int64"})


def pool_small_groups(
    frame: pd.DataFrame,
    *,
    group_col: str,
    min_n: int = 10,
    unit_col: str | None = None,
    label: str = "Other services (pooled)",
) -> tuple[pd.DataFrame, list[Hashable]]:
    """Relabel groups with too few units as one pooled group, before anything is estimated.

    Parameters
    ----------
    frame : DataFrame
        Record-level data. Not modified.
    group_col : str
        The grouping column (usually the service).
    min_n : int
        Groups with fewer distinct units than this are pooled (default 10: no service
        breakdown for a service with fewer than 10 women).
    unit_col : str, optional
        Column identifying a unit (the woman's pseudonym); without it, rows are counted.
    label : str
        Label of the pooled group. Must not be an existing group.

    Returns
    -------
    frame : DataFrame
        A copy with small groups relabelled; missing group values are left missing.
    pooled : list
        The original labels that were pooled, sorted.

    Notes
    -----
    If the pooled group is itself smaller than ``min_n`` it is still pooled, and its figures
    are then suppressed by :func:`suppress_results`. A single small group is pooled alone: its
    label is hidden, its figures are still subject to suppression.

    Examples
    --------
    >>> f = pd.DataFrame({"service": ["A"] * 12 + ["B"] * 3 + ["C"] * 2})
    >>> out, pooled = pool_small_groups(f, group_col="service")
    >>> pooled, out["service"].value_counts().to_dict()
    (['B', 'C'], {'A': 12, 'Other services (pooled)': 5})
    """
    if group_col not in frame.columns:
        raise ValueError(f"group_col {group_col!r} is not a column of the frame")
    if unit_col is not None and unit_col not in frame.columns:
        raise ValueError(f"unit_col {unit_col!r} is not a column of the frame")
    if not isinstance(min_n, int | np.integer) or isinstance(min_n, bool) or min_n < 1:
        raise ValueError(f"min_n must be a positive integer, got {min_n!r}")
    groups = frame[group_col]
    present = groups.dropna()
    if (present.astype(str) == label).any():
        raise ValueError(f"the pooled label {label!r} is already a group of {group_col!r}")
    if unit_col is None:
        sizes = present.value_counts(sort=False)
    else:
        units = frame.loc[groups.notna(), [group_col, unit_col]].dropna()
        sizes = units.groupby(group_col, sort=False, observed=True)[unit_col].nunique()
        sizes = sizes.reindex(pd.unique(present), fill_value=0)
    small = [g for g, size in sizes.items() if size < min_n]
    try:
        pooled = sorted(small)
    except TypeError:  # labels of mixed types
        pooled = sorted(small, key=lambda g: (type(g).__name__, str(g)))
    out = frame.copy()
    if pooled:
        mask = groups.isin(pooled).to_numpy()
        column = out[group_col]
        if isinstance(column.dtype, pd.CategoricalDtype):
            column = column.cat.add_categories([label])
            column = column.where(~mask, label).cat.remove_unused_categories()
        elif pd.api.types.is_string_dtype(column.dtype):
            column = column.where(~mask, label)
        else:  # numeric or mixed labels: the pooled label makes the column object
            column = column.astype(object).where(~mask, label)
        out[group_col] = column
    return out, pooled
