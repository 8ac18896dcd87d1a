"""Analysis units from the scored data, as a plan entry's ``data`` describes them.

A question about reach counts women, not contact events; a question about felt safety reads
survey responses and may need each woman's contacts from the record beside them. The plan says
which: ``per_person`` turns event rows into one row per woman with derived columns, ``join``
adds another instrument's columns by the person key, ``compute`` adds row-wise expressions and
``where`` keeps the units a question is about. Nothing here names an item: every column comes
from the plan or from an item's role in its instrument.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from pceval.analyse.plan import Aggregate, DataSpec, JoinSpec
from pceval.errors import AnalysisError
from pceval.instrument.expressions import ExpressionError, parse_expression
from pceval.instrument.model import Instrument, Role
from pceval.privacy.deidentify import PERSON_KEY


def service_column(instrument: Instrument) -> str:
    """The column naming the service (the item with role ``service``)."""
    item = instrument.role_item(Role.SERVICE)
    if item is None:
        raise AnalysisError(f"instrument {instrument.id} has no item with role service")
    return item.id


def _evaluate(source: str, frame: pd.DataFrame, where: str) -> pd.Series:
    try:
        return parse_expression(source, analysis=True).evaluate(frame)
    except ExpressionError as exc:
        raise AnalysisError(str(exc), field=where) from None


def columns_read(sources: Iterable[str]) -> set[str]:
    """The columns the plan expressions ``sources`` refer to.

    An expression that does not parse names nothing here: it is reported, with its place in
    the plan, where it is evaluated.

    Examples
    --------
    >>> sorted(columns_read(["outcome == 'reached'", "days(referral_date, event_date) <= 14"]))
    ['event_date', 'outcome', 'referral_date']
    """
    names: set[str] = set()
    for source in sources:
        with contextlib.suppress(ExpressionError):
            names |= parse_expression(source, analysis=True).names
    return names


def person_date_order(codes: np.ndarray, dates: pd.Series) -> np.ndarray:
    """Row order by person (``codes``), then date with undated rows last, ties in file order.

    Examples
    --------
    >>> dates = pd.Series(pd.to_datetime(["2025-03-01", None, "2025-01-01", "2025-02-01"]))
    >>> person_date_order(np.array([1, 0, 0, 1]), dates).tolist()
    [2, 1, 3, 0]
    """
    if pd.api.types.is_datetime64_any_dtype(dates):
        undated = dates.isna().to_numpy()
        stamps = dates.to_numpy(dtype="datetime64[ns]").view("int64")
        return np.lexsort((stamps, undated, codes))
    rank = pd.Series(dates).rank(method="dense", na_option="bottom").to_numpy()
    return np.lexsort((rank, codes))


def per_person(events: pd.DataFrame, instrument: Instrument, *, derive: Mapping[str, str | Aggregate],
               carry: tuple[str, ...] = (), where: str = "data", ordered: bool = False) -> pd.DataFrame:
    """One row per woman from event rows: derived summaries and carried case-level columns.

    Parameters
    ----------
    events : DataFrame
        Event rows with the person key ``pid``.
    instrument : Instrument
        Its event-date item orders the rows for ``first`` and ``last``; its service item is
        always carried.
    derive : mapping
        Column name to an expression (count of rows where it holds) or an :class:`Aggregate`.
    carry : tuple of str
        Case-level columns: the first non-missing value per woman.
    ordered : bool
        The rows are already in person-then-date order (:func:`person_date_order`).

    Returns
    -------
    DataFrame
        Sorted by ``pid``; every woman with at least one row appears (counts of zero included).

    Examples
    --------
    >>> from pceval.instrument import load_instrument
    >>> ev = pd.DataFrame({"pid": ["a", "a", "b"], "service_id": ["S01"] * 3,
    ...                    "event_date": pd.to_datetime(["2025-01-05", "2025-01-02", "2025-01-03"]),
    ...                    "outcome": ["reached", "no_answer", None]})
    >>> first = Aggregate(agg="min", of="event_date", where="outcome == 'reached'")
    >>> out = per_person(ev, load_instrument("contact_record"),
    ...                  derive={"contacts": "outcome == 'reached'", "first_contact": first})
    >>> out[["pid", "contacts"]].values.tolist(), out["first_contact"].dt.day.tolist()
    ([['a', 1], ['b', 0]], [5.0, nan])
    """
    if PERSON_KEY not in events.columns:
        raise AnalysisError(f"{instrument.id} has no person key to aggregate by", field=where)
    specs = {name: Aggregate(agg="count", where=spec) if isinstance(spec, str) else spec
             for name, spec in derive.items()}
    date = instrument.role_item(Role.EVENT_DATE)
    service = service_column(instrument)
    carried = list(dict.fromkeys([service, *carry]))
    missing = [c for c in carried if c not in events.columns]
    if missing:
        raise AnalysisError(f"carry names columns not in {instrument.id}: {missing}", field=f"{where}.carry")
    # only the columns the summaries read are reordered: a record has dozens of columns and
    # hundreds of thousands of rows, and reordering all of them would cost most of the time
    needed = {PERSON_KEY, *carried, *(s.of for s in specs.values() if s.of)}
    needed |= columns_read(s.where for s in specs.values() if s.where)
    if date is not None:
        needed.add(date.id)
    events = events[[c for c in events.columns if c in needed]]
    if events[PERSON_KEY].hasnans:
        events = events.loc[events[PERSON_KEY].notna()]
    codes, people = pd.factorize(events[PERSON_KEY], sort=True)
    if date is not None and date.id in events.columns and not ordered:
        order = person_date_order(codes, events[date.id])
        events, codes = events.take(order), codes[order]
    out = pd.DataFrame(index=pd.Index(np.asarray(people, dtype=object), name=PERSON_KEY))
    for name, spec in specs.items():
        mask = (_evaluate(spec.where, events, f"{where}.derive.{name}").fillna(False).astype(bool)
                if spec.where else pd.Series(True, index=events.index))
        if spec.agg in {"count", "any"}:
            counts = np.bincount(codes, weights=mask.to_numpy(dtype="float64"), minlength=len(people))
            out[name] = (counts if spec.agg == "count" else counts > 0).astype("int64")
            continue
        if spec.of not in events.columns:
            raise AnalysisError(f"derive {name!r} summarises {spec.of!r}, which is not a column of "
                                f"{instrument.id}", field=f"{where}.derive.{name}")
        summary = getattr(events[spec.of].where(mask).groupby(codes, sort=True), spec.agg)()
        out[name] = summary.set_axis(out.index)
    first = events[carried].groupby(codes, sort=True).first()
    for column in carried:
        out[column] = first[column].set_axis(out.index)
    return out.reset_index()


def _joined(spec: JoinSpec, data: Mapping[str, pd.DataFrame], instruments: Mapping[str, Instrument],
            where: str, ordered: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    if spec.source not in data or spec.source not in instruments:
        raise AnalysisError(f"join names instrument {spec.source!r}, which has no scored data", field=where)
    frame, instrument = data[spec.source], instruments[spec.source]
    if spec.per_person:
        part = per_person(ordered.get(spec.source, frame), instrument, derive=spec.derive, carry=spec.carry,
                          where=where, ordered=spec.source in ordered)
        part = part.drop(columns=[service_column(instrument)]) if service_column(instrument) not in spec.carry else part
    else:
        if spec.wave is not None:
            frame = frame.loc[frame["_wave"].eq(spec.wave).fillna(False)]
        missing = [c for c in spec.carry if c not in frame.columns]
        if missing:
            raise AnalysisError(f"join carries columns not in {spec.source}: {missing}", field=where)
        frame = frame.loc[frame[PERSON_KEY].notna()]
        part = frame[[PERSON_KEY, *spec.carry]].drop_duplicates(PERSON_KEY, keep="last")
    return part.rename(columns={c: f"{spec.prefix}{c}" for c in part.columns if c != PERSON_KEY})


def build_units(spec: DataSpec, data: Mapping[str, pd.DataFrame], instruments: Mapping[str, Instrument],
                *, where: str = "data", ordered: Mapping[str, pd.DataFrame] | None = None) -> pd.DataFrame:
    """The analysis units of one plan entry.

    Parameters
    ----------
    spec : DataSpec
        The entry's ``data``.
    data : mapping of str to DataFrame
        Scored data per instrument id.
    instruments : mapping of str to Instrument
    ordered : mapping of str to DataFrame, optional
        Event sources already in person-then-date order, read instead of ``data`` for
        per-woman summaries (:class:`UnitsCache` orders each source once).

    Returns
    -------
    DataFrame
        One row per unit: per woman when ``per_person``, else per row of the source.

    Examples
    --------
    >>> from pceval.instrument import load_instrument
    >>> from pceval.analyse.plan import DataSpec
    >>> rec = pd.DataFrame({"pid": ["a", "a", "b"], "service_id": ["S01"] * 3,
    ...                     "outcome": ["reached", "reached", None]})
    >>> spec = DataSpec(source="contact_record", per_person=True,
    ...                 derive={"contacts": "outcome == 'reached'"}, compute={"engaged": "contacts >= 2"})
    >>> build_units(spec, {"contact_record": rec}, {"contact_record": load_instrument("contact_record")}
    ...             )[["pid", "engaged"]].values.tolist()
    [['a', True], ['b', False]]
    """
    if spec.source not in data or spec.source not in instruments:
        raise AnalysisError(f"no scored data for instrument {spec.source!r}", field=f"{where}.source",
                            fix="run `pceval build` first, or correct data.source in the plan")
    instrument = instruments[spec.source]
    if spec.per_person:
        ordered = ordered or {}
        frame = per_person(ordered.get(spec.source, data[spec.source]), instrument, derive=spec.derive,
                           carry=spec.carry, where=where, ordered=spec.source in ordered)
    else:
        frame = data[spec.source].copy()
    for number, join in enumerate(spec.join, start=1):
        part = _joined(join, data, instruments, f"{where}.join[{number}]", ordered or {})
        clash = sorted(set(part.columns) & set(frame.columns) - {PERSON_KEY})
        if clash:
            raise AnalysisError(f"joined columns {clash} are already columns of the units",
                                field=f"{where}.join[{number}]", fix="give the join a prefix")
        if PERSON_KEY not in frame.columns:
            raise AnalysisError(f"{spec.source} has no person key to join by", field=f"{where}.join")
        frame = frame.merge(part, on=PERSON_KEY, how="left", sort=False, validate="many_to_one")
    for name, source in spec.compute.items():
        frame[name] = _evaluate(source, frame, f"{where}.compute.{name}")
    if spec.where:
        frame = frame.loc[_evaluate(spec.where, frame, f"{where}.where").fillna(False).astype(bool)]
    return frame.reset_index(drop=True)


class UnitsCache:
    """Analysis units built once per distinct ``data`` description and handed out as copies.

    Most analyses of a plan entry share the entry's ``data``, and several entries aggregate the
    same contact record per woman; at national scale building the units is a large share of an
    analysis, so they are built once. Each caller gets its own copy, so no method can change
    what the next one sees.

    Examples
    --------
    >>> from pceval.analyse.plan import DataSpec
    >>> from pceval.instrument import load_instrument
    >>> rec = pd.DataFrame({"pid": ["a", "b"], "service_id": ["S01", "S01"], "outcome": ["reached", None]})
    >>> cache = UnitsCache({"contact_record": rec}, {"contact_record": load_instrument("contact_record")})
    >>> spec = DataSpec(source="contact_record", per_person=True, derive={"n": "outcome == 'reached'"})
    >>> first = cache.units(spec)
    >>> first["n"] = 0
    >>> cache.units(spec)["n"].tolist(), len(cache)
    ([1, 0], 1)
    """

    def __init__(self, data: Mapping[str, pd.DataFrame], instruments: Mapping[str, Instrument]) -> None:
        self.data, self.instruments = data, instruments
        self._built: dict[str, pd.DataFrame] = {}
        self._ordered: dict[str, pd.DataFrame] = {}
        self._seen: set[str] = set()

    def _source(self, source: str) -> None:
        # an event source is put in person-then-date order once, so that no per-woman
        # summary of it has to reorder its rows again
        if source in self._seen or source not in self.data or source not in self.instruments:
            return
        self._seen.add(source)
        frame, date = self.data[source], self.instruments[source].role_item(Role.EVENT_DATE)
        if date is None or PERSON_KEY not in frame.columns or date.id not in frame.columns:
            return
        codes = pd.factorize(frame[PERSON_KEY], sort=True, use_na_sentinel=False)[0]
        order = person_date_order(codes, frame[date.id])
        self._ordered[source] = frame.take(order).reset_index(drop=True)

    def __len__(self) -> int:
        return len(self._built)

    def prepare(self, spec: DataSpec) -> None:
        """Put the event sources ``spec`` summarises per woman in person-then-date order."""
        for source in ([spec.source] if spec.per_person else []) + [j.source for j in spec.join
                                                                    if j.per_person]:
            self._source(source)

    def units(self, spec: DataSpec, *, where: str = "data") -> pd.DataFrame:
        """The units ``spec`` describes (:func:`build_units`), as a copy."""
        key = spec.model_dump_json()
        if key not in self._built:
            self.prepare(spec)
            self._built[key] = build_units(spec, self.data, self.instruments, where=where,
                                           ordered=self._ordered)
        return self._built[key].copy()


__all__ = ["UnitsCache", "build_units", "columns_read", "per_person", "person_date_order", "service_column"]
