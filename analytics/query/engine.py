"""The engine: answers a query by the fastest path that answers it exactly.

The one place that knows every accelerator. For a query it tries, in order, the accelerators
declared for its type that run on the source's engine, declare every active filter field of the
query, say they answer it (:meth:`~analytics.query.layer.Accelerator.answers`) and, when they hold
an in-memory structure, either already hold it or may build it (:func:`keep_in_memory`). The
first non-``None`` answer wins; the portable path answers everything else.

Feature modules call :func:`ask` and never choose a path; tests call :func:`answer_by` to run one
path and :func:`paths_for` to list the paths able to answer a query (the contract suite). Ingest
calls :func:`after_upload` right after an upload commits and removes uploads inside
:func:`removing`, so that every persisted structure follows the data without a page waiting.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from analytics.errors import BadInput
from analytics.progress import Progress, no_progress
from analytics.query.layer import (
    _KEEP,
    Accelerator,
    Change,
    Components,
    FunnelEvents,
    ItemLabels,
    Recorded,
    keeps_in_memory,
)

PORTABLE = "portable"


# Each query type's paths are imported when a query of that type is first asked: a funnel loads
# neither the KPI accelerators nor what they import (pandas), a KPI query not the funnel order.
def _components_portable(source, q: Components):
    from analytics.query.components import portable_components, portable_sums

    return (portable_sums if q.sums_only else portable_components)(source, q.filters, q.by)


def _funnel_portable(source, q: FunnelEvents):
    from analytics.query.funnel_events import portable_rows

    return portable_rows(source, q.spec, q.filters)


def _labels_portable(source, q: ItemLabels):
    from analytics.query.components import item_labels

    return item_labels(source)


def _recorded_portable(source, q: Recorded):
    from analytics.query.components import recorded

    return recorded(source)


def _components_accelerators() -> tuple[Accelerator, ...]:
    from analytics.query.accel.breakdown import BreakdownIndex, BreakdownTables
    from analytics.query.accel.rollup import HourlyRollup

    return (BreakdownIndex(), BreakdownTables(), HourlyRollup())


def _funnel_accelerators() -> tuple[Accelerator, ...]:
    from analytics.query.accel.funnel_order import FunnelOrder, FunnelScan

    return (FunnelOrder(), FunnelScan())


def _labels_accelerators() -> tuple[Accelerator, ...]:
    from analytics.query.accel.catalog import CatalogLabels

    return (CatalogLabels(),)


def _recorded_accelerators() -> tuple[Accelerator, ...]:
    from analytics.query.accel.recorded import RecordedSql

    return (RecordedSql(),)


#: The meaning of each query type: its portable path (runs on every engine).
_PORTABLE: dict[type, Callable[[Any, Any], Any]] = {
    Components: _components_portable,
    FunnelEvents: _funnel_portable,
    ItemLabels: _labels_portable,
    Recorded: _recorded_portable,
}

#: The accelerators of each query type, fastest first (:data:`ACCELERATORS`: all of them).
_DECLARED: dict[type, Callable[[], tuple[Accelerator, ...]]] = {
    Components: _components_accelerators,
    FunnelEvents: _funnel_accelerators,
    ItemLabels: _labels_accelerators,
    Recorded: _recorded_accelerators,
}
_loaded: dict[type, tuple[Accelerator, ...]] = {}
_load_lock = threading.Lock()


def _accelerators(query_type: type) -> tuple[Accelerator, ...]:
    """The accelerators declared for ``query_type`` (imported on first use)."""
    found = _loaded.get(query_type)
    if found is None:
        with _load_lock:
            found = _loaded.get(query_type)
            if found is None:
                found = _loaded[query_type] = _DECLARED[query_type]()
    return found


def _every_accelerator() -> tuple[Accelerator, ...]:
    return tuple(acc for query_type in _DECLARED for acc in _accelerators(query_type))


def __getattr__(name: str) -> Any:
    if name == "ACCELERATORS":  # every accelerator, fastest first within each query type (imports them all)
        return _every_accelerator()
    raise AttributeError(name)


_forced = threading.local()


def keep_in_memory(enabled: bool = True) -> None:
    """Let in-memory accelerators build their persisted structures on first use (a long-lived
    process such as the dashboard: built once, then kept current at ingest). Off by default: a
    one-shot command uses such a structure only where it is current (held or persisted), since
    loading it then costs far less than the portable answer, and building it more."""
    _KEEP["in_memory"] = enabled


def _declares(acc: Accelerator, source, query) -> bool:
    """Whether ``acc`` answers ``query`` exactly: its type, engine, filter fields and own conditions."""
    return (
        isinstance(query, acc.query)
        and source.engine in acc.engines
        and set(query.filters.active()) <= acc.filter_fields
        and acc.answers(source, query)
    )


def _may_use(acc: Accelerator, source, query) -> bool:
    if not _declares(acc, source, query):
        return False
    return not acc.in_memory or keeps_in_memory() or acc.is_ready(source, query)


@contextmanager
def using(path: str) -> Iterator[None]:
    """Within the block (this thread), answer by the path named ``path`` wherever it can answer
    (building what it needs) and by the portable path elsewhere; ``"portable"`` never accelerates.
    For the contract tests and the benchmarks, which compare paths; features never choose."""
    if path != PORTABLE and path not in {a.name for a in _every_accelerator()}:
        raise KeyError(path)
    before = getattr(_forced, "path", None)
    _forced.path = path
    try:
        yield
    finally:
        _forced.path = before


def ask(source, query):
    """The answer to ``query`` over ``source``, by the fastest path that answers it exactly."""
    forced = getattr(_forced, "path", None)
    if forced is not None:
        if forced in paths_for(source, query)[:-1]:
            found = answer_by(forced, source, query)
            if found is not None:
                return found
        return _PORTABLE[type(query)](source, query)
    for acc in _accelerators(type(query)):
        if _may_use(acc, source, query):
            found = acc.answer(source, query)
            if found is not None:
                return found
    return _PORTABLE[type(query)](source, query)


def paths_for(source, query) -> tuple[str, ...]:
    """Names of every path that may answer ``query`` on ``source`` (building what it needs), the
    portable one last."""
    return (*(acc.name for acc in _accelerators(type(query)) if _declares(acc, source, query)), PORTABLE)


def answer_by(path: str, source, query):
    """The answer of one named path (``None`` where an accelerator finds it cannot answer exactly)."""
    if path == PORTABLE:
        return _PORTABLE[type(query)](source, query)
    for acc in _accelerators(type(query)):
        if acc.name == path:
            return acc.answer(source, query)
    raise KeyError(path)


def after_upload(source, upload_id: int, kind: str, progress: Progress = no_progress) -> None:
    """Bring every persisted accelerator structure up to date after upload ``upload_id`` (of
    ``kind``) committed, in this process: those current just before it are extended with its rows,
    the others rebuilt; structures never built stay absent. Call it before the next upload."""
    _upkeep(source, Change(upload_id, kind, False, source.content_version(without_upload=upload_id)), progress)


@contextmanager
def removing(source, upload_id: int, progress: Progress = no_progress) -> Iterator[None]:
    """Remove upload ``upload_id`` inside the block; after it, the persisted accelerator structures
    current before drop that upload's rows, the others are rebuilt."""
    kind = source.query("SELECT kind FROM uploads WHERE upload_id = ?", [upload_id]).scalar() if source.engine == "duckdb" else None
    before = source.content_version() if kind is not None else ""
    yield
    if kind is not None:
        _upkeep(source, Change(upload_id, kind, True, before), progress)


def prepare(source, timezone: str, dimensions: tuple[str, ...], progress: Progress = no_progress) -> tuple[str, ...]:
    """Build now every structure the accelerators persist (the breakdowns of ``dimensions`` in
    ``timezone``), so that no page and no command pays for a build later: from then on ingest keeps
    them current. Nothing is loaded into this process. Returns the structures' names; none on an
    engine without persisted accelerators (Spark). A dimension no structure is built for is refused
    before anything is built."""
    kept = [acc for acc in _every_accelerator() if source.engine in acc.engines]
    known = tuple(dict.fromkeys(d for acc in _every_accelerator() for d in acc.prepared_dimensions))
    for d in dimensions:
        if d not in known:
            raise BadInput(
                f"cannot prepare a breakdown by {d!r}: only {', '.join(known)} have a structure of their own "
                "(channel, campaign, variant and day come from the hourly rollup, other columns from the events)",
                code="bad_dimension", value=d,
            )
    names: list[str] = []
    for done, acc in enumerate(kept):
        progress(done / len(kept), "preparing")
        names += acc.prepare(source, timezone, dimensions)
    progress(1.0, "preparing")
    return tuple(dict.fromkeys(names))


def structures(source) -> dict[str, bool]:
    """Every structure the accelerators keep in the database and whether it is current."""
    found: dict[str, bool] = {}
    for acc in _every_accelerator():
        if source.engine in acc.engines:
            found.update(acc.structures(source))
    return found


def _upkeep(source, change: Change, progress: Progress) -> None:
    kept = [acc for acc in _every_accelerator() if source.engine in acc.engines]
    for done, acc in enumerate(kept):
        progress(done / len(kept), "accelerators")
        acc.upkeep(source, change)
    progress(1.0, "accelerators")
