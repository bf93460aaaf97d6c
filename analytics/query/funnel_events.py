"""The portable meaning of a :class:`~analytics.query.layer.FunnelEvents` query: one ibis query.

The funnel's events of every unit (a user, or a user and a held value) as packed
``time << bits | steps`` integers; users numbered by dictionary encoding and sorted with one int64
sort; with extra columns (strict mode's previous instant, a breakdown value), grouped into sorted
lists per unit. The funnel order accelerator (:mod:`analytics.query.accel.funnel_order`) cuts the
same rows from memory; the contract tests prove both equal.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import ibis
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from analytics.query.arrays import sort_by_unit
from analytics.query.definitions import views_with_ratio
from analytics.query.filters import Filters, filtered_events
from analytics.query.layer import ITEM_BREAKDOWNS, UnitRows


def _condition_expr(table, cond):
    col = table[cond.column]
    value = cond.value
    ops = {
        ">=": col >= value,
        "<=": col <= value,
        ">": col > value,
        "<": col < value,
        "=": col == value,
        "!=": col != value,
    }
    return ops[cond.op].fill_null(False)


def _step_expr(table, step):
    pred = table.event_type == step.event_type
    for cond in step.conditions:
        pred = pred & _condition_expr(table, cond)
    return pred.fill_null(False)


def _entry_end(filters: Filters) -> dt.datetime | None:
    return filters.utc_bounds()[1]


def _base_events(source, spec, filters: Filters):
    """Filtered events with the columns the funnel needs: entries must fall in the date range,
    later steps may follow up to one window after its end."""
    end = _entry_end(filters)
    ev = filtered_events(source, dataclasses.replace(filters, date_to=None))
    if end is not None:
        ev = ev.filter(ev.event_time < end + dt.timedelta(seconds=spec.window_seconds))
    if any(c.column == "watch_ratio" for s in spec.steps for c in s.conditions):
        items = source.table("items")
        cols = list(ev.columns)
        views = views_with_ratio(ev, items)
        others = ev.filter(ev.event_type != "view").mutate(watch_ratio=ibis.null("float64"))
        schema = {c: ev.schema()[c].copy(nullable=True) for c in cols}
        schema["watch_ratio"] = ibis.dtype("float64")

        def aligned(table):
            return table.select(*[table[c].cast(d).name(c) for c, d in schema.items()])

        ev = aligned(views).union(aligned(others))
    if spec.breakdown in ITEM_BREAKDOWNS:
        items = source.table("items")
        attr = items.group_by(items.item_id).aggregate(segment_value=items[spec.breakdown].cast("string").max())
        ev = ev.left_join(attr, ev.item_id == attr.item_id).drop("item_id_right")
    elif spec.breakdown is not None:
        ev = ev.mutate(segment_value=ev[spec.breakdown].cast("string"))
    return ev, end


@ibis.udf.scalar.builtin(name="epoch_us")
def _duckdb_epoch_us(ts: dt.datetime) -> int:  # DuckDB's own epoch_us (faster than date_diff)
    ...


def _epoch_us(ts, source):
    if source.engine == "duckdb":
        return _duckdb_epoch_us(ts).cast("int64")
    return ts.delta(ibis.timestamp(dt.datetime(1970, 1, 1)), unit="microsecond")


def _annotated(source, spec, filters: Filters):
    """Per event row: ``t`` (µs since 1970), ``steps`` (bit i: matches step i), ``entry`` (may start
    an entry), ``prev_t`` (strict: the user's previous distinct event time), unit keys, segment."""
    ev, end = _base_events(source, spec, filters)
    ev = ev.filter(ev.user_id.notnull(), ev.event_time.notnull())
    types = sorted({s.event_type for s in spec.steps})
    if spec.mode != "strict":  # strict needs every event to find interruptions
        ev = ev.filter(ev.event_type.isin(types))
    plain: dict[str, int] = {}  # steps without conditions: one CASE on the type gives their bits
    for i, step in enumerate(spec.steps):
        if not step.conditions:
            plain[step.event_type] = plain.get(step.event_type, 0) | 1 << i
    bits = ev.event_type.cases(*plain.items(), else_=0).cast("int64") if plain else ibis.literal(0, type="int64")
    for i, step in enumerate(spec.steps):
        if step.conditions:
            bits = bits + ibis.ifelse(_step_expr(ev, step), 1 << i, 0)
    entry = ev.event_time < end if end is not None else ibis.literal(True)
    ev = ev.mutate(t=_epoch_us(ev.event_time, source), steps=bits, entry=entry)
    if spec.mode == "strict":
        w = ibis.window(group_by=ev.user_id, order_by=ev.t, range=(None, -1))
        ev = ev.mutate(prev_t=ev.t.max().over(w))
    ev = ev.filter(ev.steps > 0)
    if spec.hold is not None:
        ev = ev.filter(ev[spec.hold].notnull())
        ev = ev.mutate(hold_value=ev[spec.hold].cast("string"))
    return ev


def _unit_keys(spec) -> list[str]:
    return ["user_id", "hold_value"] if spec.hold is not None else ["user_id"]


def portable_rows(source, spec, filters: Filters) -> UnitRows:
    ev = _annotated(source, spec, filters)
    k = len(spec.steps)
    packed = ev.t * (1 << (k + 1)) + ev.entry.cast("int64") * (1 << k) + ev.steps
    keys = _unit_keys(spec)
    extras = {}
    if spec.mode == "strict":
        extras["q"] = ev.prev_t.fill_null(-(1 << 62))
    if spec.breakdown is not None:
        extras["s"] = ev["segment_value"]
    if not extras and keys == ["user_id"]:  # one flat fetch; users numbered and sorted in numpy
        flat_rows = source.to_arrow(ev.select("user_id", p=packed))
        users = pc.dictionary_encode(flat_rows.column("user_id")).combine_chunks()
        unit = users.indices.to_numpy(zero_copy_only=False).astype(np.int64)
        lengths = np.bincount(unit, minlength=len(users.dictionary)) if len(unit) else np.zeros(0, dtype=np.int64)
        p = sort_by_unit(unit, np.asarray(flat_rows.column("p").to_numpy(), dtype=np.int64), k + 1)[1]
        starts = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=starts[1:])
        return UnitRows(
            keys=pa.table({"user_id": users.dictionary}),
            starts=starts,
            t=p >> (k + 1),
            bits=p & ((1 << k) - 1),
            entry=((p >> k) & 1).astype(bool),
            prev_t=None,
            segment=None,
        )
    if extras:
        agg = ev.group_by(keys).aggregate(rows=ibis.struct({"p": packed, **extras}).collect().sort())
    else:  # sorted below in numpy, which is faster than sorting inside every list
        agg = ev.group_by(keys).aggregate(rows=packed.collect())
    table = source.to_arrow(agg)
    lists = table.column("rows").combine_chunks()
    lengths = pc.list_value_length(lists).to_numpy(zero_copy_only=False).astype(np.int64)
    flat = pc.list_flatten(lists)
    if extras:
        p = flat.field("p").to_numpy(zero_copy_only=False)
        prev_t = flat.field("q").to_numpy(zero_copy_only=False).astype(np.int64) if "q" in extras else None
        segment = flat.field("s").to_numpy(zero_copy_only=False) if "s" in extras else None
    else:
        prev_t = segment = None
    starts = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=starts[1:])
    if extras:
        p = np.asarray(p, dtype=np.int64)
    else:
        p = _sort_within_units(np.asarray(flat.to_numpy(zero_copy_only=False), dtype=np.int64), starts, k + 1)
    return UnitRows(
        keys=table.select(keys),
        starts=starts,
        t=p >> (k + 1),
        bits=p & ((1 << k) - 1),
        entry=((p >> k) & 1).astype(bool),
        prev_t=prev_t,
        segment=segment,
    )


def _sort_within_units(p: np.ndarray, starts: np.ndarray, low_bits: int) -> np.ndarray:
    """Sort packed ``time << low_bits | flags`` values inside each unit's slice (:func:`sort_by_unit`)."""
    unit = np.repeat(np.arange(len(starts) - 1, dtype=np.int64), np.diff(starts))
    return sort_by_unit(unit, p, low_bits)[1]
