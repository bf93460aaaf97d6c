"""The portable definition of a funnel's levels: ibis window functions only (DuckDB and Spark)."""

from __future__ import annotations

import ibis

from analytics.errors import BadInput
from analytics.metrics.funnels.spec import FunnelSpec
from analytics.query.filters import Filters
from analytics.query.funnel_events import _annotated, _unit_keys


# -- the portable definition (ibis window functions only; DuckDB and Spark) -----------------------
def portable_levels(source, spec: FunnelSpec, filters: Filters | None = None):
    """Per user, the furthest step reached (users mode), as one ibis query.

    Written only with window functions over ``(user[, held value], t)`` so the same query runs on
    every engine; equal to the numpy kernels (tests prove it). Returns a DataFrame
    ``user_id, level`` (users that reached step 1 only).
    """
    if spec.count != "users":
        raise BadInput("the portable funnel counts users; totals need the numpy kernel", code="bad_count")
    filters = filters or Filters()
    k = len(spec.steps)
    ev = _annotated(source, spec, filters)
    keys = _unit_keys(spec)
    window_us = spec.window_seconds * 1_000_000

    def has(i):
        return ((ev.steps // (1 << i)) % 2) == 1

    ev = ev.mutate(**{f"b{i}": has(i) for i in range(k)})
    if spec.mode == "any":
        for s in range(k):
            nxt = ibis.ifelse(ev[f"b{s}"], ev.t, ibis.null("int64")).min().over(
                ibis.window(group_by=[ev[c] for c in keys], order_by=ev.t, range=(0, None))
            )
            ev = ev.mutate(**{f"n{s}": nxt})
        level = ibis.literal(0)
        for j in range(1, k + 1):
            anyb = (ev.steps % (1 << j)) != 0
            allv = ibis.literal(True)
            for s in range(j):
                allv = allv & ev[f"n{s}"].notnull()
            last = ibis.greatest(*[ev[f"n{s}"] for s in range(j)]) if j > 1 else ev["n0"]
            ok = ev.entry & anyb & allv & ((last - ev.t) <= window_us)
            level = ibis.ifelse(ok.fill_null(False), j, level)
        ev = ev.mutate(level=level)
    else:
        ev = ev.mutate(f0=ibis.ifelse(ev.b0 & ev.entry, ev.t, ibis.null("int64")))
        for i in range(1, k):
            w = spec.step_windows[i - 1]
            prev = ev[f"f{i - 1}"]
            if spec.mode == "strict":
                # the best start among the rows at this instant and, when nothing else of the user
                # happened in between, the unit's previous instant
                per_instant = ev.group_by([*keys, "t"]).aggregate(best=prev.max())
                win = ibis.window(group_by=[per_instant[c] for c in keys], order_by=per_instant.t)
                per_instant = per_instant.mutate(
                    prev_instant=per_instant.t.lag().over(win), prev_best=per_instant.best.lag().over(win)
                )
                ev = ev.inner_join(per_instant, [*keys, "t"])
                ok_prev = (ev.prev_instant == ev.prev_t).fill_null(False)
                if w is not None:
                    ok_prev = ok_prev & ((ev.t - ev.prev_t) <= w * 1_000_000)
                none = -(1 << 62)
                g = ibis.greatest(
                    ev.best.fill_null(none), ibis.ifelse(ok_prev, ev.prev_best.fill_null(none), none)
                )
                g = ibis.ifelse(g > none, g, ibis.null("int64"))
                ev = ev.mutate(g=g).drop("best", "prev_instant", "prev_best")
                g = ev.g
            else:
                frame = (None, 0) if w is None else (-w * 1_000_000, 0)
                g = prev.max().over(ibis.window(group_by=[ev[c] for c in keys], order_by=ev.t, range=frame))
            ok = (ev[f"b{i}"] & g.notnull() & ((ev.t - g) <= window_us)).fill_null(False)
            ev = ev.mutate(**{f"f{i}": ibis.ifelse(ok, g, ibis.null("int64"))})
            if "g" in ev.columns:
                ev = ev.drop("g")
        level = ibis.literal(0)
        for i in range(k):
            level = ibis.ifelse(ev[f"f{i}"].notnull(), i + 1, level)
        ev = ev.mutate(level=level)
    per_user = ev.group_by("user_id").aggregate(level=ev.level.max())
    return source.execute(per_user.filter(per_user.level > 0))
