"""The order key of the funnel rows, (unit, packed time) in one integer, and the sort by it, shared by the portable
funnel rows (:mod:`analytics.query.funnel_events`) and the funnel order accelerator
(:mod:`analytics.query.accel.funnel_order`), which must not import each other. Conversions between
numpy and Arrow are in :mod:`analytics.columns`."""

from __future__ import annotations

import numpy as np


def unit_key(p: np.ndarray, unit: np.ndarray, low_bits: int) -> tuple[np.ndarray, int, int, int] | None:
    """One int64 key per row ordering ``p`` (packed ``time << low_bits | flags``) by (unit, p),
    with the time's origin, step and bits; ``None`` when unit, time and flags do not fit 62 bits.
    Times are made relative to the earliest and divided by their greatest common divisor (exact)."""
    t = p >> low_bits
    t0 = int(t.min())
    step = int(np.gcd.reduce(t - t0)) or 1
    q = (t - t0) // step
    t_bits = max(int(q.max()).bit_length(), 1)
    u_bits = max(int(unit.max()).bit_length(), 1)
    if u_bits + t_bits + low_bits > 62:
        return None
    return (unit << (t_bits + low_bits)) | (q << low_bits) | (p & ((1 << low_bits) - 1)), t0, step, t_bits


def sort_by_unit(unit: np.ndarray, p: np.ndarray, low_bits: int) -> tuple[np.ndarray, np.ndarray]:
    """``unit`` (int64) and ``p`` (packed ``time << low_bits | flags``) ordered by (unit, p): one sort of
    the key of :func:`unit_key` where it fits, else a two-key sort."""
    if len(p) == 0:
        return unit, p
    packed = unit_key(p, unit, low_bits)
    if packed is None:
        order = np.lexsort((p, unit))
        return unit[order], p[order]
    key, t0, step, t_bits = packed
    key.sort()
    q = (key >> low_bits) & ((1 << t_bits) - 1)
    return key >> (t_bits + low_bits), ((q * step + t0) << low_bits) | (key & ((1 << low_bits) - 1))
