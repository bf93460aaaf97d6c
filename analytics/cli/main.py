"""Command-line interface: ``reelytics [--db PATH] [--tz ZONE] [--engine duckdb|spark] [--json] COMMAND ...``
(also ``python -m analytics``).

The global options may also follow the command (``reelytics ingest FILE --tz UTC``).

Each module in :mod:`analytics.cli.commands` registers its sub-commands with ``register(subparsers)``;
a handler takes ``(args, ctx)`` and returns an :class:`Output`. Exit status: 0 on success, 2 on bad
input with a one-line reason on stderr (never a traceback for a user error); a command may ask for
another status after its output (``alerts --fail-on-alert``: 3).

Analytic commands read ``ctx.source``: the DuckDB store, or with ``--engine spark`` Apache Spark over
the Parquet dataset (``--spark-data``, written by ``export --parquet``) at ``--spark-url``. A command
that works on the DuckDB store itself reads ``ctx.store``, which a Spark run refuses with one line,
unless the command declares ``set_defaults(serves_spark=True)`` (it reads the store to serve Spark).
"""

from __future__ import annotations

import os

# OpenBLAS reads this once, when numpy first loads it: implicit runs threads of its own and a
# multi-threaded BLAS under it slows training down (training also pins BLAS with threadpoolctl).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse
import datetime as dt
import decimal
import importlib
import json
import math
import pkgutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from analytics.cli import commands
from analytics.config import (
    ENGINES,
    Settings,
    check_engine,
    default_db_path,
    default_engine,
    default_spark_url,
    default_timezone,
    parse_timezone,
)
from analytics.errors import BadInput, ReelyticsError
from analytics.progress import end_open_line
from analytics.query.filters import FIELDS, Filters, parse_date
from analytics.store.sources import open_source
from analytics.store.storage import Source, Store, open_store


@dataclass(frozen=True)
class Output:
    """What a command produced: a JSON document and, for people, text."""

    payload: Any
    text: str | None = None
    raw: str | None = None  # printed as is (for CSV on stdout), with or without --json
    exit_status: int = 0  # after printing (``alerts --fail-on-alert`` exits 3 when there are alerts)


@dataclass
class Context:
    """What a handler needs: settings and a lazily opened source or store."""

    settings: Settings
    read_paths: list[Path] = field(default_factory=list)
    command: str = ""
    serves_spark: bool = False  # the command reads the DuckDB store to serve Spark (export --parquet)
    _store: Store | None = None
    _source: Source | None = None

    @property
    def source(self) -> Source:
        """The source of analytic queries: the DuckDB store or, with ``--engine spark``, Spark."""
        if self._source is None:
            self._source = open_source(self.settings, read_paths=self.read_paths)
        return self._source

    @property
    def store(self) -> Store:
        """The DuckDB store (refused on Spark, unless the command reads it to serve Spark)."""
        if self.settings.engine == "spark" and not self.serves_spark:
            raise BadInput(
                f"reelytics {self.command} works on the DuckDB store and does not run on Spark; "
                "run it with --engine duckdb",
                code="not_on_spark",
                command=self.command,
            )
        if self._store is None:
            self._store = open_store(self.settings.db_path, read_paths=self.read_paths)
        return self._store


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse exits with 2 too; keep it to one line
        raise BadInput(f"{self.prog}: {message}", code="usage")


def to_jsonable(value: Any) -> Any:
    """Convert results (dataclasses, numpy, pandas, decimals, dates) into JSON values."""
    import dataclasses

    import numpy as np
    import pandas as pd

    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        if hasattr(value, "to_dict"):
            return to_jsonable(value.to_dict())
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, pd.DataFrame):
        return [to_jsonable(r) for r in value.to_dict(orient="records")]
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, np.generic):
        return to_jsonable(value.item())
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, (dt.datetime, dt.date, pd.Timestamp)):
        return value.isoformat()
    if value is pd.NaT or (value is not None and not isinstance(value, (str, int, bool)) and pd.isna(value)):
        return None
    return value


def add_filter_args(parser: argparse.ArgumentParser) -> None:
    """The shared filter options: ``--from --to --channel --campaign --category``."""
    parser.add_argument("--from", dest="date_from", metavar="YYYY-MM-DD", help="first day (local time)")
    parser.add_argument("--to", dest="date_to", metavar="YYYY-MM-DD", help="last day, inclusive")
    for declared in FIELDS:  # --channel, --campaign, --category: one option per declared filter field
        what = f"item {declared.item_column}" if declared.item_column else declared.key
        parser.add_argument(f"--{declared.key}", action="append", default=[], help=f"keep this {what} (repeatable)")


def filters_from_args(args: argparse.Namespace, ctx: Context) -> Filters:
    return Filters(
        date_from=parse_date(args.date_from, "--from"),
        date_to=parse_date(args.date_to, "--to"),
        timezone=ctx.settings.timezone,
        **{declared.name: tuple(getattr(args, declared.key)) for declared in FIELDS},
    )


def _add_global_options(parser: argparse.ArgumentParser, *, after_command: bool) -> None:
    """``--db``, ``--tz``, the engine options and ``--json``: before the command they set the defaults;
    after it, a given option overrides them (an absent one leaves them alone, hence ``SUPPRESS``)."""
    default = argparse.SUPPRESS if after_command else None
    parser.add_argument("--db", type=Path, default=default, help="database file (default: $REELYTICS_DB or data/reelytics.duckdb)")
    parser.add_argument("--tz", default=default, help="time zone for local times (default: $REELYTICS_TZ or Asia/Shanghai)")
    parser.add_argument("--engine", default=default, metavar="|".join(ENGINES),
                        help="engine of analytic commands (default: $REELYTICS_ENGINE or duckdb; see docs/scale-out.md)")
    parser.add_argument("--spark-url", default=default, metavar="URL",
                        help="local[N] or sc://host:port (default: $REELYTICS_SPARK_URL or local[2])")
    parser.add_argument("--spark-data", default=default, metavar="DIR|URL",
                        help="the Parquet dataset Spark reads (default: $REELYTICS_SPARK_DATA or the parquet folder "
                        "next to the database, written by export --parquet)")
    parser.add_argument("--json", action="store_true", default=default or False, help="print one JSON document")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="reelytics", description=__doc__.splitlines()[0])
    _add_global_options(parser, after_command=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        importlib.import_module(f"{commands.__name__}.{info.name}").register(sub)
    for command in sub.choices.values():  # `reelytics ingest FILE --tz UTC` works as well as `reelytics --tz UTC ingest FILE`
        _add_global_options(command, after_command=True)
    return parser


def _render_text(payload: Any) -> str:
    return json.dumps(to_jsonable(payload), ensure_ascii=False, indent=2)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help(sys.stderr)
            return 2
        tz = args.tz or default_timezone()
        parse_timezone(tz)
        settings = Settings(
            db_path=args.db or default_db_path(),
            timezone=tz,
            engine=check_engine(args.engine or default_engine()),
            spark_url=args.spark_url or default_spark_url(),
            spark_data=args.spark_data,
        )
        ctx = Context(settings, command=args.command, serves_spark=getattr(args, "serves_spark", False))
        prepare: Callable[[argparse.Namespace, Context], None] | None = getattr(args, "prepare", None)
        if prepare:
            prepare(args, ctx)
        out: Output = args.func(args, ctx)
    except ReelyticsError as exc:
        end_open_line()
        print(f"reelytics: error: {' '.join(exc.message.split())}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("reelytics: interrupted; nothing was changed by the interrupted step", file=sys.stderr)
        return 130
    try:
        if out.raw is not None:
            sys.stdout.write(out.raw)
        elif args.json:
            print(json.dumps(to_jsonable(out.payload), ensure_ascii=False))
        else:
            print(out.text if out.text is not None else _render_text(out.payload))
        sys.stdout.flush()
    except BrokenPipeError:  # `reelytics ... | head`: the reader left, which is not an error
        sys.stdout = open(os.devnull, "w")
    return out.exit_status
