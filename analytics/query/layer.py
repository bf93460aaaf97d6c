"""The queries the layer answers and the contract every accelerator keeps.

A *query* is a frozen value naming what is asked (:class:`Components`, :class:`FunnelEvents`); its
meaning is its portable path (:mod:`analytics.query.components`, :mod:`analytics.query.funnel_events`),
written in ibis so it runs on every engine. An *accelerator* (:mod:`analytics.query.accel`) answers
some queries faster and must give exactly the portable answer. It declares:

* ``query``: the query type it answers;
* ``engines``: the engines it runs on (DuckDB-only structures say so and are skipped elsewhere);
* ``filter_fields``: the list filters (:data:`analytics.query.filters.FIELDS`) it can apply; the
  engine never hands it a query using any other, so a new filter field is answered by the portable
  path until an accelerator declares it;
* :meth:`Accelerator.answers`: anything else it needs (dimensions, time zones, options);
* ``in_memory``: whether it holds a structure in this process, loaded on first use from its
  persisted form (tables in the database keyed by the data version, shared by every process), which
  the engine builds only where that pays (see :func:`analytics.query.engine.keep_in_memory`);
* :meth:`Accelerator.upkeep`: how its persisted structure follows a committed upload or removal
  (:class:`Change`): extended with the new rows, or cut to what the removed upload touched.

Feature modules never name a path: they ask :func:`analytics.query.engine.ask` for a number.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from analytics.query.filters import FIELDS, FilterField, Filters

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa


@dataclass(frozen=True)
class Components:
    """KPI components per group of ``by`` under ``filters``: a table, one row without ``by`` (a
    DataFrame, or an Arrow table where the path builds no DataFrame: the breakdown index and its
    persisted tables; callers read either, see :mod:`analytics.metrics.kpis`).

    ``sums_only``: only the stage-1 sums (no distinct users); groups with nothing but zero sums may
    then be absent.
    """

    filters: Filters
    by: tuple[str, ...] = ()
    sums_only: bool = False


@dataclass(frozen=True)
class ItemLabels:
    """Each catalog item's title and creator: an Arrow table (``item_id``, ``title``, ``creator``),
    one row per item id (the largest value of each, over every catalog upload). No filter applies:
    ``filters`` stays empty (every query carries its filters to the engine)."""

    filters: Filters = field(default_factory=Filters)


@dataclass(frozen=True)
class Recorded:
    """The kinds of record (:data:`analytics.query.components.RECORDS`) of which the store holds any
    event, whatever the filters: a frozenset. ``filters`` stays empty."""

    filters: Filters = field(default_factory=Filters)


#: Catalog columns a funnel can be broken down by (the others are event columns).
ITEM_BREAKDOWNS: tuple[str, ...] = ("category", "creator", "kind")


@dataclass(frozen=True)
class FunnelEvents:
    """The funnel-relevant events of every unit of ``spec`` under ``filters`` (:class:`UnitRows`)."""

    spec: Any  # analytics.metrics.funnels.FunnelSpec (the layer does not import features)
    filters: Filters


@dataclass(frozen=True)
class UnitRows:
    """Events of each unit (a user, or a user and a held value) sorted by (time, steps)."""

    keys: pa.Table  # one row per unit: user_id[, hold_value]
    starts: np.ndarray  # unit u owns rows starts[u]:starts[u + 1]
    t: np.ndarray  # µs since 1970
    bits: np.ndarray  # bit i: the event matches step i
    entry: np.ndarray  # bool: may start an entry (inside the date range)
    prev_t: np.ndarray | None  # strict mode: the user's previous distinct event time
    segment: np.ndarray | None  # breakdown value per row (object array)


@dataclass(frozen=True)
class Change:
    """A committed upload (``removed`` false) or removal of upload ``upload_id`` of ``kind``;
    ``before``: the data version (:meth:`~analytics.store.storage.Store.content_version`) just
    before it, which a persisted structure must carry to be extended instead of rebuilt."""

    upload_id: int
    kind: str
    removed: bool
    before: str


_KEEP = {"in_memory": False}  # set by analytics.query.engine.keep_in_memory, read by accelerators


def keeps_in_memory() -> bool:
    """Whether this process keeps in-memory accelerator structures (loads or builds them whole on
    first use): see :func:`analytics.query.engine.keep_in_memory`."""
    return _KEEP["in_memory"]


class Accelerator:
    """A faster path for one query type that answers only what it can answer exactly."""

    name: ClassVar[str]
    query: ClassVar[type]
    engines: ClassVar[frozenset[str]] = frozenset({"duckdb"})
    filter_fields: ClassVar[frozenset[FilterField]] = frozenset()
    in_memory: ClassVar[bool] = False
    #: The breakdown dimensions whose structures :meth:`prepare` builds (one per dimension).
    prepared_dimensions: ClassVar[tuple[str, ...]] = ()

    def answers(self, source, query) -> bool:
        """Whether this accelerator answers ``query`` exactly (beyond engine and filter fields)."""
        raise NotImplementedError

    def is_ready(self, source, query) -> bool:
        """Whether the structure for ``query`` is held by this process or persisted and current
        (loading it then costs far less than the portable answer)."""
        return True

    def upkeep(self, source, change: Change) -> None:
        """Bring every persisted structure that exists up to date after ``change`` (DuckDB only)."""

    def prepare(self, source, timezone: str, dimensions: tuple[str, ...]) -> tuple[str, ...]:
        """Build the structures this accelerator persists for the data as it is now (for breakdowns,
        those of ``dimensions`` in ``timezone``), without loading them into this process; a structure
        already current is left as it is. Returns their names (their ``meta`` keys). From then on
        :meth:`upkeep` keeps them current at every upload."""
        return ()

    def structures(self, source) -> dict[str, bool]:
        """The structures this accelerator keeps in the database (their ``meta`` keys) and whether
        each is current, that is answers the data as it is now."""
        return {}

    def answer(self, source, query):
        raise NotImplementedError


def fields_named(*keys: str) -> frozenset[FilterField]:
    """The declared filter fields with these keys (``"channel"``, ...)."""
    found = frozenset(f for f in FIELDS if f.key in keys)
    if len(found) != len(set(keys)):
        raise ValueError(f"unknown filter field among {keys}")
    return found
