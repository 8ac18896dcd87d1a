"""Analysis units from the scored data, as a plan entry's ``data`` describes them.

A question about reach counts women, not contact events; a question about felt safety reads
survey responses and may need each woman's contacts from the record beside them. The plan says
which: ``per_person`` turns event rows into one row per woman with derived columns, ``join``
adds another instrument's columns by the person key, ``compute`` adds row-wise expressions and
``where`` keeps the units a question is about. Nothing here names an item: every column comes
from the plan or from an item's role in its instrument.
"""

from __future__ import annotations

from collections.abc import Mapping

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


def per_person(events: pd.DataFrame, instrument: Instrument, *, derive: Mapping[str, str | Aggregate],
               carry: tuple[str, ...] = (), where: str = "data") -> pd.DataFrame:
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
    date = instrument.role_item(Role.EVENT_DATE)
    events = events.loc[events[PERSON_KEY].notna()]
    if date is not None and date.id in events.columns:
        events = events.sort_values([PERSON_KEY, date.id], kind="stable", na_position="last")
    keys = events[PERSON_KEY]
    out = pd.DataFrame(index=pd.Index(sorted(keys.unique()), name=PERSON_KEY))
    for name, spec in derive.items():
        spec = Aggregate(agg="count", where=spec) if isinstance(spec, str) else spec
        mask = (_evaluate(spec.where, events, f"{where}.derive.{name}").fillna(False).astype(bool)
                if spec.where else pd.Series(True, index=events.index))
        if spec.agg in {"count", "any"}:
            counts = mask.groupby(keys, sort=True).sum()
            out[name] = (counts if spec.agg == "count" else counts.gt(0)).astype("int64")
            continue
        if spec.of not in events.columns:
            raise AnalysisError(f"derive {name!r} summarises {spec.of!r}, which is not a column of "
                                f"{instrument.id}", field=f"{where}.derive.{name}")
        values = events[spec.of].where(mask)
        grouped = values.groupby(keys, sort=True)
        out[name] = getattr(grouped, spec.agg)()
    service = service_column(instrument)
    carried = list(dict.fromkeys([service, *carry]))
    missing = [c for c in carried if c not in events.columns]
    if missing:
        raise AnalysisError(f"carry names columns not in {instrument.id}: {missing}", field=f"{where}.carry")
    out = out.join(events[[PERSON_KEY, *carried]].groupby(PERSON_KEY, sort=True).first())
    return out.reset_index()


def _joined(spec: JoinSpec, data: Mapping[str, pd.DataFrame], instruments: Mapping[str, Instrument],
            where: str) -> pd.DataFrame:
    if spec.source not in data or spec.source not in instruments:
        raise AnalysisError(f"join names instrument {spec.source!r}, which has no scored data", field=where)
    frame, instrument = data[spec.source], instruments[spec.source]
    if spec.per_person:
        part = per_person(frame, instrument, derive=spec.derive, carry=spec.carry, where=where)
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
                *, where: str = "data") -> pd.DataFrame:
    """The analysis units of one plan entry.

    Parameters
    ----------
    spec : DataSpec
        The entry's ``data``.
    data : mapping of str to DataFrame
        Scored data per instrument id.
    instruments : mapping of str to Instrument

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
        frame = per_person(data[spec.source], instrument, derive=spec.derive, carry=spec.carry, where=where)
    else:
        frame = data[spec.source].copy()
    for number, join in enumerate(spec.join, start=1):
        part = _joined(join, data, instruments, f"{where}.join[{number}]")
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


__all__ = ["build_units", "per_person", "service_column"]
