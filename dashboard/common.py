"""Pieces every page shares: the store, the acting principal, the sidebar filters (kept in the URL),
errors, exports."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pandas as pd
import streamlit as st

from analytics.access import AccessDenied, Principal, can
from analytics.config import Settings
from analytics.errors import ReelyticsError
from analytics.export import to_csv_bytes, to_excel_bytes
from analytics.query import engine
from analytics.query.facets import Facets, load_facets
from analytics.query.filters import FIELDS, Filters
from analytics.store.sources import open_source
from analytics.store.storage import Source, Store, open_store
from dashboard.format import (
    CURRENCIES,
    DEFAULT_CURRENCY,
    TABLE_DATE,
    count,
    local_moment,
    value,
)
from dashboard.i18n import LANGUAGES, t


@st.cache_resource(show_spinner=False)
def _store_for(path: str) -> Store:
    # a long-lived process: in-memory accelerators are built once per data version, then reused
    engine.keep_in_memory(True)
    return open_store(path)


def settings() -> Settings:
    return Settings()


def actor() -> Principal:
    """Who this session acts for (set by the router from the sign-in, before any page runs)."""
    return st.session_state["actor"]


def get_store() -> Source:
    """The source the pages read: the process-wide DuckDB store (one connection per process) or, when
    the engine setting is ``spark`` (``REELYTICS_ENGINE``; docs/scale-out.md), Spark over the Parquet
    dataset (one session per dataset and process)."""
    current = settings()
    if current.engine == "spark":
        return open_source(current)
    return _store_for(str(current.db_path.resolve()))


def duckdb_only() -> bool:
    """On Spark, say that this page works on the DuckDB store and return False; True on DuckDB."""
    current = settings()
    if current.engine == "spark":
        st.info(t("common.duckdb_only"))
        return False
    return True


#: Bounds of each page function's share of the result cache: entries (the least recently used
#: goes first), pickled bytes, and age (an entry of an older data version is never read again).
RESULTS_KEPT = 32
RESULTS_BYTES = "128MB"
RESULTS_TTL = "6h"


def shared(fn: Callable) -> Callable:
    """``fn(store, *args)`` as a page calls it, ``call(*args)``: one result per database, data
    version and arguments for the whole server process, whichever session asks.

    Every session reads the same entry; an upload or a removal changes the data version, so the
    next call computes afresh. Sessions asking for an entry being computed wait for that one
    computation (``st.cache_data`` holds a lock per entry while it computes), so heavy work, the
    accelerator builds it triggers included, runs once."""

    def compute(where: str, version: str, *args, **kwargs):
        return fn(get_store(), *args, **kwargs)  # ``where`` (the source's location) keys the entry

    # st.cache_data tells functions apart by module and name: one cache per wrapped function
    compute.__module__, compute.__qualname__ = fn.__module__, fn.__qualname__
    cached = st.cache_data(show_spinner=False, max_entries=RESULTS_KEPT, max_size=RESULTS_BYTES, ttl=RESULTS_TTL)(compute)

    @functools.wraps(fn)
    def call(*args, **kwargs):
        source = get_store()
        return cached(f"{source.engine}:{source.path}", data_version(), *args, **kwargs)

    return call


#: The data version read in this script run (a page asks the cache several times per run; reading
#: the version is a query). Outside a script run the version is read on every call.
_RUN = threading.local()


def begin_run() -> None:
    """Start a script run (the router calls it first): the data version is read again, once."""
    _RUN.active, _RUN.version = True, None


def data_changed() -> None:
    """An upload or a removal landed during this run: later calls read the new data version."""
    _RUN.version = None


def data_version() -> str:
    """The source's data version (:meth:`Source.data_version`), read once per script run."""
    if not getattr(_RUN, "active", False):
        return get_store().data_version()
    if _RUN.version is None:
        _RUN.version = get_store().data_version()
    return _RUN.version


@dataclass(frozen=True)
class Latest:
    """A result of :func:`latest`: ``value`` was computed at ``computed_at`` (naive UTC) on the data
    version ``version``; ``updating``: the data changed since and the new result is being computed."""

    value: Any
    version: str
    computed_at: dt.datetime
    updating: bool


@dataclass
class _Slot:
    value: Any = None
    version: str | None = None
    computed_at: dt.datetime | None = None
    pending: str | None = None  # the data version being computed
    done: threading.Event = dataclasses.field(default_factory=threading.Event)
    error: tuple[str, BaseException] | None = None  # (data version, what its computation raised)


_LATEST: dict[str, OrderedDict[tuple, _Slot]] = {}
_LATEST_LOCK = threading.Lock()
_RUNNING: set[threading.Thread] = set()


def latest(fn: Callable) -> Callable[..., Latest]:
    """``fn(store, *args)`` as a page calls it, ``call(*args)``: like :func:`shared`, one result per
    database and arguments for the whole server process, but after an upload or a removal the
    previous result is served at once (``updating=True``; the page says so with
    :func:`as_of_note`) while one background computation for the new data version runs; the first
    request for some arguments waits for it. For pages whose work after an upload takes seconds
    (the alerts monitor, the Overview). The value is shared, not copied: pages only read it."""
    name = f"{fn.__module__}.{fn.__qualname__}"

    def compute(source: Source, slot: _Slot, version: str, done: threading.Event, args, kwargs) -> None:
        try:
            value = fn(source, *args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - handed to the sessions waiting for it
            with _LATEST_LOCK:
                slot.error = (version, exc)
        else:
            with _LATEST_LOCK:  # kept even if a newer version is pending: it is the newest result so far
                slot.value, slot.version, slot.computed_at = value, version, dt.datetime.now(dt.UTC).replace(tzinfo=None)
                slot.error = None
        finally:
            with _LATEST_LOCK:
                if slot.pending == version:
                    slot.pending = None
                _RUNNING.discard(threading.current_thread())
            done.set()

    def get(args, kwargs, wait: bool) -> Latest | None:
        source, version = get_store(), data_version()
        key = (f"{source.engine}:{source.path}", repr(args), repr(sorted(kwargs.items())))
        with _LATEST_LOCK:
            slots = _LATEST.setdefault(name, OrderedDict())
            slot = slots.setdefault(key, _Slot())
            slots.move_to_end(key)
            while len(slots) > RESULTS_KEPT:
                slots.popitem(last=False)
            if slot.version == version:
                return Latest(slot.value, version, slot.computed_at, False)
            if slot.error is not None and slot.error[0] == version:
                raise slot.error[1]
            if slot.pending != version:  # one computation per data version, whoever asks
                slot.pending, slot.done = version, threading.Event()
                worker = threading.Thread(target=compute, args=(source, slot, version, slot.done, args, kwargs),
                                          name=f"reelytics-latest-{fn.__qualname__}", daemon=True)
                _RUNNING.add(worker)
                worker.start()
            if slot.version is not None:
                return Latest(slot.value, slot.version, slot.computed_at, True)
            done = slot.done
        if not wait:
            return None
        done.wait()
        return get(args, kwargs, wait)

    @functools.wraps(fn)
    def call(*args, **kwargs) -> Latest:
        return get(args, kwargs, True)

    def peek(*args, **kwargs) -> Latest | None:
        """Like ``call`` but never waits: ``None`` while no result exists yet (its computation starts)."""
        return get(args, kwargs, False)

    call.peek = peek
    return call


def wait_for_updates() -> None:
    """Wait until every background computation of :func:`latest` has finished (benchmarks)."""
    while True:
        with _LATEST_LOCK:
            running = list(_RUNNING)
        if not running:
            return
        for worker in running:
            worker.join()


def as_of_note(result: Latest) -> None:
    """Say that a result predates the latest data while its update is computed."""
    if result.updating:
        st.info(t("common.as_of", when=local_moment(result.computed_at, settings().timezone)), icon=":material/update:")


_facets = shared(load_facets)


def facets() -> Facets:
    return _facets(settings().timezone)


def _url_setting(key: str, param: str, choices, default: str, label: str, format_func=str) -> None:
    """A sidebar choice kept in session state and, when not the default, in the ``param`` query parameter;
    ``label`` is a text key (read after the language is known)."""
    if key not in st.session_state:
        st.session_state[key] = st.query_params.get(param) if st.query_params.get(param) in choices else default
    st.sidebar.selectbox(t(label), list(choices), format_func=format_func, key=key)
    if st.session_state[key] != default:
        st.query_params[param] = st.session_state[key]
    elif param in st.query_params:
        del st.query_params[param]


def display_settings() -> None:
    """The sidebar's language and currency, each kept in the URL (``lang``, ``currency``)."""
    _url_setting("lang", "lang", LANGUAGES, "en", "sidebar.language", LANGUAGES.__getitem__)
    _url_setting("currency", "currency", CURRENCIES, DEFAULT_CURRENCY, "sidebar.currency",
                 lambda code: f"{code} ({CURRENCIES[code]})")


def _param_list(name: str) -> list[str]:
    return [v for v in st.query_params.get_all(name) if v]


def _param_date(name: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(st.query_params.get(name, ""))
    except ValueError:
        return None


def sidebar_filters() -> Filters:
    """Render the shared filters in the sidebar and return them; their state lives in the URL."""
    f = facets()
    tz = settings().timezone
    st.sidebar.subheader(t("sidebar.filters"))
    if f.first_day is None:
        st.sidebar.caption(t("common.no_data"))
        return Filters(timezone=tz)
    start = _param_date("from") or f.first_day
    end = _param_date("to") or f.last_day
    start, end = max(min(start, f.last_day), f.first_day), min(max(end, f.first_day), f.last_day)
    picked = st.sidebar.date_input(
        t("sidebar.dates"), value=(start, end), min_value=f.first_day, max_value=f.last_day, key="flt_dates", format=TABLE_DATE
    )
    if isinstance(picked, (tuple, list)) and len(picked) == 2:
        start, end = picked
    choices = {}
    for field in FIELDS:  # one multiselect per declared filter field, kept in the URL under its key
        options = f.options.get(field.name, ())
        default = [v for v in _param_list(field.key) if v in options]
        choices[field.key] = st.sidebar.multiselect(
            t(f"sidebar.{field.key}"), options, default=default, key=f"flt_{field.key}", placeholder=t("sidebar.all"),
            format_func=lambda v, key=field.key: value(key, v),
        )
    params = {"from": start.isoformat(), "to": end.isoformat()}
    for name, values in choices.items():
        params[name] = list(values)
    for key, wanted in params.items():
        if wanted:
            st.query_params[key] = wanted
        elif key in st.query_params:
            del st.query_params[key]
    st.sidebar.caption(t("sidebar.timezone", tz=tz))
    if settings().engine == "spark":
        st.sidebar.caption(t("sidebar.spark", url=settings().spark_url, data=settings().parquet_location))
    st.sidebar.caption(t("sidebar.share"))
    # Dates equal to the data's span are not a restriction: keep them open so new data shows up.
    return Filters(
        date_from=None if start == f.first_day else start,
        date_to=None if end == f.last_day else end,
        timezone=tz,
        **{field.name: tuple(choices[field.key]) for field in FIELDS},
    )


def show_error(exc: ReelyticsError, next_step: str | None = None) -> None:
    """Show a library error: its message, the details in an expander, and the next step."""
    if isinstance(exc, AccessDenied) and "action" in exc.details:
        d = exc.details
        st.error(t("access.no_model") if d["action"] == "train" else t(
            "access.denied", action=t(f"access.action.{d['action']}"), needed=t(f"auth.role.{d['needed']}")))
        return
    st.error(exc.message)
    if exc.details:
        with st.expander(t("common.details")):
            st.json({"code": exc.code, **{k: str(v) for k, v in exc.details.items()}})
    st.caption(t("common.next_step", step=next_step or t("common.fix_input")))


@contextmanager
def guarded(next_step: str | None = None) -> Iterator[None]:
    """Run a page block; a :class:`ReelyticsError` is shown, anything else surfaces as a bug."""
    try:
        yield
    except ReelyticsError as exc:
        show_error(exc, next_step)


#: Above this many rows the export files are built only when a button is clicked: writing an Excel
#: file of thousands of rows takes seconds, and a page reruns on every widget change.
LAZY_DOWNLOAD_ROWS = 500


def download_buttons(df: pd.DataFrame, name: str, filters: Filters | dict | None = None, key: str | None = None) -> None:
    """CSV and Excel download buttons for ``df``; the applied filters are written into the files.

    Shown only to a role that may export."""
    who = actor()
    if not can(who, "export"):
        return
    described = filters.describe() if isinstance(filters, Filters) else (filters or {})
    key = key or name

    def csv_bytes() -> bytes:
        return to_csv_bytes(df, described, title=name, actor=who)

    def xlsx_bytes() -> bytes:
        return to_excel_bytes(df, described, title=name, actor=who)

    lazy = len(df) > LAZY_DOWNLOAD_ROWS
    c1, c2 = st.columns(2)
    c1.download_button(
        t("common.download_csv"),
        csv_bytes if lazy else csv_bytes(),
        file_name=f"{name}.csv",
        mime="text/csv",
        key=f"dl_csv_{key}",
    )
    c2.download_button(
        t("common.download_xlsx"),
        xlsx_bytes if lazy else xlsx_bytes(),
        file_name=f"{name}.xlsx",
        mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        key=f"dl_xlsx_{key}",
    )


def model_tune():
    """The parameter search set on the Recommendations page (on by default), so every page uses the same model."""
    from analytics.recsys.tuning import TuneSettings

    choice = st.session_state.get("rec_tune", {"enabled": True, "budget_seconds": None})
    return TuneSettings(budget_seconds=choice.get("budget_seconds")) if choice.get("enabled", True) else None


_FLIGHTS: dict[object, tuple[threading.Lock, int]] = {}
_FLIGHTS_LOCK = threading.Lock()


@contextmanager
def single_flight(key) -> Iterator[None]:
    """One caller at a time per ``key`` across the sessions of the process: a second caller waits
    until the first is done (and then finds what it saved). For work whose result is not a value
    :func:`shared` can keep, such as a trained model."""
    with _FLIGHTS_LOCK:
        lock, callers = _FLIGHTS.get(key, (None, 0))
        lock = lock or threading.Lock()
        _FLIGHTS[key] = (lock, callers + 1)
    try:
        with lock:
            yield
    finally:
        with _FLIGHTS_LOCK:
            lock, callers = _FLIGHTS[key]
            if callers == 1:
                del _FLIGHTS[key]
            else:
                _FLIGHTS[key] = (lock, callers - 1)


def trained_model(params, filters: Filters, force: bool = False):
    """The recommender model for ``params`` and ``filters``: reused when saved, else trained with a
    progress bar; the device it trained on and a summary are shown."""
    from analytics.recsys.models import get_model

    slot = st.empty()

    def show_progress(fraction: float, message: str = "") -> None:
        slot.progress(min(max(fraction, 0.0), 1.0), text=f"{t('model.training')} {message}")

    store, tune = get_store(), model_tune()
    # sessions asking for the same model at once: one trains (or tunes), the others then load it
    with single_flight(("model", str(store.path), data_version(), repr(params), repr(filters), repr(tune))):
        model = get_model(store, params, progress=show_progress, filters=filters, force=force, tune=tune, actor=actor())
    slot.empty()
    s = model.summary()
    st.badge(t("model.device", device=s["device"].upper()), icon=":material/memory:",
             color="blue" if s["device"] == "gpu" else "gray")
    source = t("model.source.loaded") if s["loaded_from_disk"] else t("model.source.trained", seconds=s["train_seconds"])
    st.caption(t("model.summary", fingerprint=s["fingerprint"], users=count(s["users"]), items=count(s["items"]),
                 interactions=count(s["interactions"]), source=source))
    if s["device_note"]:
        st.warning(s["device_note"])
    return model


def current_filters() -> Filters:
    """The sidebar filters the router applied for this run."""
    return st.session_state.get("filters") or Filters(timezone=settings().timezone)


def require_events() -> bool:
    """Show the "no data yet" message and return False when the store holds no events."""
    if facets().first_day is None:
        st.info(t("common.no_data"))
        return False
    return True
