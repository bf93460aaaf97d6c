"""Pieces every page shares: the store, the acting principal, the sidebar filters (kept in the URL),
errors, exports."""

from __future__ import annotations

import datetime as dt
import functools
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager

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
    progress_bar,
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


class _Gone(Exception):
    """The entry of an older data version was asked for and is no longer kept."""


#: Per cached call (function, source, arguments): the newest data version whose entry is complete and
#: when it was computed (approximately: when it was first seen complete). Bounded like the entries.
_KNOWN: OrderedDict[tuple, tuple[str, dt.datetime]] = OrderedDict()
_KNOWN_KEPT = 4096
_UPDATING: dict[tuple, str] = {}  # call -> data version being computed in the background
_FAILED: dict[tuple, str] = {}  # call -> data version whose background computation raised
_RUNNING: set[threading.Thread] = set()
_LOCK = threading.Lock()
REFRESH_THREAD = "reelytics-refresh-"  # the name of every background update's thread starts so


class _QuietRefreshes(logging.Filter):
    """Drops Streamlit's "missing ScriptRunContext" warning from the background updates' threads:
    they use the result cache outside a page run on purpose and draw nothing."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not threading.current_thread().name.startswith(REFRESH_THREAD)


_CONTEXT_LOG = logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context")
if not any(isinstance(f, _QuietRefreshes) for f in _CONTEXT_LOG.filters):
    _CONTEXT_LOG.addFilter(_QuietRefreshes())


def shared(fn: Callable) -> Callable:
    """``fn(store, *args)`` as a page calls it, ``call(*args)``: one result per database, data
    version and arguments for the whole server process, whichever session asks.

    Every session reads the same entry; an upload or a removal changes the data version. A page
    (a script run) asking again after that gets the previous version's entry at once while one
    background computation for the new version runs (stale while revalidate; the router then shows
    :func:`stale_note`); a run after it finished reads the new entry. A call outside a script run,
    or with no earlier entry, computes (or waits for) the current version. Sessions asking for an
    entry being computed wait for that one computation (``st.cache_data`` holds a lock per entry
    while it computes), so heavy work, the accelerator builds it triggers included, runs once.

    A keyword argument whose name starts with ``_`` is passed on but is no part of the key (as in
    ``st.cache_data``): an object another argument already identifies, such as a model by its
    fingerprint."""
    name = f"{fn.__module__}.{fn.__qualname__}"

    def compute(where: str, version: str, *args, **kwargs):
        source = get_store()  # ``where`` (the source's location) keys the entry
        if source.data_version() != version:  # an older version's entry that was dropped: not recomputed
            raise _Gone
        return fn(source, *args, **kwargs)

    # st.cache_data tells functions apart by module and name: one cache per wrapped function
    compute.__module__, compute.__qualname__ = fn.__module__, fn.__qualname__
    cached = st.cache_data(show_spinner=False, max_entries=RESULTS_KEPT, max_size=RESULTS_BYTES, ttl=RESULTS_TTL)(compute)

    def fresh(key: tuple, where: str, version: str, args, kwargs):
        value = cached(where, version, *args, **kwargs)
        with _LOCK:
            if _KNOWN.get(key, ("",))[0] != version:
                _KNOWN[key] = (version, dt.datetime.now(dt.UTC).replace(tzinfo=None))
            _KNOWN.move_to_end(key)
            while len(_KNOWN) > _KNOWN_KEPT:
                _KNOWN.popitem(last=False)
        return value

    def refresh(key: tuple, where: str, version: str, args, kwargs) -> None:
        try:
            fresh(key, where, version, args, kwargs)
        except _Gone:
            pass  # the data changed again meanwhile: a later run asks for the newer version
        except Exception:  # noqa: BLE001 - the next run computes in the foreground and shows the error
            with _LOCK:
                _FAILED[key] = version
        finally:
            with _LOCK:
                if _UPDATING.get(key) == version:
                    del _UPDATING[key]
                _RUNNING.discard(threading.current_thread())

    @functools.wraps(fn)
    def call(*args, **kwargs):
        source = get_store()
        where, version = f"{source.engine}:{source.path}", data_version()
        key = (name, where, repr(args), repr(sorted((k, v) for k, v in kwargs.items() if not k.startswith("_"))))
        with _LOCK:
            known = _KNOWN.get(key)
            stale = (known is not None and known[0] != version and getattr(_RUN, "active", False)
                     and _FAILED.get(key) != version)
            if stale and _UPDATING.get(key) != version:  # one background computation per version
                _UPDATING[key] = version
                worker = threading.Thread(target=refresh, args=(key, where, version, args, kwargs),
                                          name=f"{REFRESH_THREAD}{fn.__qualname__}", daemon=True)
                _RUNNING.add(worker)
                worker.start()
        if stale:
            try:
                value = cached(where, known[0], *args, **kwargs)
            except _Gone:
                pass
            else:
                _RUN.stale = min(known[1], getattr(_RUN, "stale", None) or known[1])
                return value
        while True:
            try:
                return fresh(key, where, version, args, kwargs)
            except _Gone:  # an upload landed since this run read the version: read it again
                data_changed()
                version = data_version()

    return call


#: The data version read in this script run (a page asks the cache several times per run; reading
#: the version is a query) and the oldest earlier-version result it showed. Outside a script run
#: the version is read on every call.
_RUN = threading.local()


def begin_run() -> None:
    """Start a script run (the router calls it first): the data version is read again, once."""
    _RUN.active, _RUN.version, _RUN.stale = True, None, None


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


def stale_since() -> dt.datetime | None:
    """When the oldest earlier-version result this run showed was computed (naive UTC), or ``None``."""
    return getattr(_RUN, "stale", None)


def stale_note(slot) -> None:
    """In ``slot`` (a placeholder above the page), say that this run showed results from before
    the latest upload while their update is computed."""
    since = stale_since()
    if since is not None:
        slot.info(t("common.as_of", when=local_moment(since, settings().timezone)), icon=":material/update:")


def wait_for_updates() -> None:
    """Wait until every background computation of :func:`shared` has finished (tests, benchmarks)."""
    while True:
        with _LOCK:
            running = list(_RUNNING)
        if not running:
            return
        for worker in running:
            worker.join()


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


def download_buttons(df: pd.DataFrame, name: str, filters: Filters | dict | None = None, key: str | None = None) -> None:
    """CSV and Excel download buttons for ``df``; the applied filters are written into the files.

    Shown only to a role that may export. The files are built only when a button is clicked: a page
    reruns on every widget change and every visit, and writing even a small Excel file costs tens of
    milliseconds of server CPU per table."""
    who = actor()
    if not can(who, "export"):
        return
    described = filters.describe() if isinstance(filters, Filters) else (filters or {})
    key = key or name

    def csv_bytes() -> bytes:
        return to_csv_bytes(df, described, title=name, actor=who)

    def xlsx_bytes() -> bytes:
        return to_excel_bytes(df, described, title=name, actor=who)

    c1, c2 = st.columns(2)
    c1.download_button(
        t("common.download_csv"),
        csv_bytes,
        file_name=f"{name}.csv",
        mime="text/csv",
        key=f"dl_csv_{key}",
    )
    c2.download_button(
        t("common.download_xlsx"),
        xlsx_bytes,
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


#: The newest model per (database, parameters, filters, tuning): its data version, when it was
#: trained or loaded (naive UTC), and the model. After an upload a page gets it at once while the
#: model of the new data is trained in the background (as :func:`shared` does for results).
_MODELS: OrderedDict[tuple, tuple[str, dt.datetime, object]] = OrderedDict()
_MODELS_KEPT = 4


#: The breakdowns whose structures an upload prepares: the Overview's ranking of videos.
PREPARED_BREAKDOWNS = ("video",)


def prepare_pages(store, progress) -> None:
    """After an events upload, build the persisted structures the pages read that do not exist yet
    (the first upload into a database; later uploads find them current, kept so by the upload
    itself), so that no page waits for a build when first opened."""
    engine.prepare(store, settings().timezone, PREPARED_BREAKDOWNS, progress)


def trained_model(params, filters: Filters, force: bool = False):
    """The recommender model for ``params`` and ``filters``: reused when saved, else trained with a
    progress bar; the device it trained on and a summary are shown. After an upload the model of
    the previous data serves while the new one trains in the background (the router says so)."""
    from analytics.recsys.models import get_model

    slot = st.empty()
    show_progress = progress_bar(slot, t("model.training"))

    store, tune, who, version = get_store(), model_tune(), actor(), data_version()
    call = (str(store.path), repr(params), repr(filters), repr(tune))

    def fetch(progress=None):
        # sessions asking for the same model at once: one trains (or tunes), the others then load it
        with single_flight(("model", *call, version)):
            model = get_model(store, params, progress=progress, filters=filters, force=force, tune=tune, actor=who)
        with _LOCK:
            if _MODELS.get(call, ("",))[0] != version or force:
                _MODELS[call] = (version, dt.datetime.now(dt.UTC).replace(tzinfo=None), model)
            _MODELS.move_to_end(call)
            while len(_MODELS) > _MODELS_KEPT:
                _MODELS.popitem(last=False)
        return model

    def refresh() -> None:
        try:
            fetch()
        except Exception:  # noqa: BLE001 - the next run trains in the foreground and shows the error
            with _LOCK:
                _FAILED[("model", *call)] = version
        finally:
            with _LOCK:
                _UPDATING.pop(("model", *call), None)
                _RUNNING.discard(threading.current_thread())

    with _LOCK:
        known = _MODELS.get(call)
        if known is not None and known[0] == version and not force:
            model = known[2]
        elif known is not None and not force and getattr(_RUN, "active", False) and _FAILED.get(("model", *call)) != version:
            model = known[2]  # the previous data's model while this data's trains, once
            _RUN.stale = min(known[1], getattr(_RUN, "stale", None) or known[1])
            if _UPDATING.get(("model", *call)) != version:
                _UPDATING[("model", *call)] = version
                worker = threading.Thread(target=refresh, name=f"{REFRESH_THREAD}model", daemon=True)
                _RUNNING.add(worker)
                worker.start()
        else:
            model = None
    if model is None:
        model = fetch(show_progress)
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
