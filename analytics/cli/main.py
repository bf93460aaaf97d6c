"""Command-line interface: ``reelytics [--db PATH] [--tz ZONE] [--engine duckdb|spark] [--json] COMMAND ...``
(also ``python -m analytics``).

The global options may also follow the command (``reelytics ingest FILE --tz UTC``).

Each module in :mod:`analytics.cli.commands` registers its sub-commands with ``register(subparsers)``
and lists them in :data:`COMMANDS`; only the module of the command being run is imported. A handler
takes ``(args, ctx)`` and returns an :class:`Output` (``--json`` writes its payload with
:mod:`analytics.cli.json_output`; text is built only when printed). Exit status: 0 on success, 2 on bad
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
# numpy (read once, at its import) asks the kernel for huge pages for every large array; a one-shot
# command frees its arrays soon after, and zeroing whole 2 MiB pages on first touch cost about a
# fifth of the CPU time of a 10M-event funnel (bench/cli.py). Regular pages are zeroed where written.
os.environ.setdefault("NUMPY_MADVISE_HUGEPAGE", "0")

import argparse
import importlib
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
from analytics.cli.progress_bar import end_open_line
from analytics.query.filters import FIELDS, Filters, parse_date

if TYPE_CHECKING:
    from analytics.store.storage import Source, Store

#: Every command: its module in :mod:`analytics.cli.commands` and its line in ``reelytics --help``.
#: Only the module of the command being run is imported (``reelytics --help`` imports none), so
#: start-up costs what that command needs; each module imports its heavy libraries when it runs.
COMMANDS: dict[str, tuple[str, str]] = {
    "ab": ("ab", "analyse an A/B test from events.variant or from a user-level result table"),
    "ab-plan": ("ab", "sample size per arm, detectable effect and days needed for a planned A/B test"),
    "alerts": ("alerts", "KPI days outside the band expected from their history (STL), overall and per channel"),
    "audience": ("audience", "users most likely to engage with an item, with expected conversion"),
    "completion": ("completion", "video completion (hook, completion, hold, retention curve) or, with --courses, course completion"),
    "evaluate": ("recommend", "offline evaluation: ALS against popularity, item-kNN, content and EASE^R, with intervals"),
    "export": ("export", "write the tables as Parquet (partitioned by date) for Apache Spark or a data lake"),
    "explain": ("explain", "why a KPI changed: contributions per channel, campaign, creator ... (rate and mix for ratios)"),
    "funnel": ("funnel", "conversion through ordered steps, e.g. view -> click -> purchase"),
    "ingest": ("ingest", "load a CSV/TSV, Excel, Parquet or JSON file into the database"),
    "kpis": ("kpis", "KPIs of a period with the change against the previous period; --by COL for one row per group"),
    "preview": ("ingest", "show how a file would be mapped, without loading it"),
    "prepare": ("status", "build the structures that answer KPIs, breakdowns and funnels fast (kept current at every upload)"),
    "recommend": ("recommend", "top-N items for one user (JSON) or for all users (CSV on stdout)"),
    "rejects": ("ingest", "print the rejected rows of an upload as CSV"),
    "remove-upload": ("ingest", "remove an upload and every row it brought"),
    "retention": ("retention", "cohort retention by first-seen or first-purchase day/week"),
    "roi": ("roi", "spend, purchasers, revenue, CAC, ROAS and revenue per 1,000 views per campaign or channel"),
    "sample": ("sample", "generate realistic sample data and load it into the database (or write CSVs with --export)"),
    "segments": ("segments", "cluster users into named segments from their behaviour"),
    "similar": ("similar", "items most similar to one item (ALS factors; TF-IDF content for cold items)"),
    "status": ("status", "show the engine, the database file or Parquet dataset, schema version, row counts and prepared structures"),
    "timing": ("timing", "best time to post: video outcomes by publish weekday x hour with shrinkage"),
    "train": ("recommend", "train (or reuse) the ALS recommender and print a model summary"),
    "uploads": ("ingest", "list the uploads, newest first"),
    "users": ("users", "manage the local users file (sign-in names, roles, password hashes)"),
}


@dataclass(frozen=True)
class Output:
    """What a command produced: a JSON document and, for people, text."""

    payload: Any
    text: str | Callable[[], str] | None = None  # or a function writing it: called only when text is printed
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
            from analytics.store.sources import open_source

            self._source = open_source(self.settings, read_paths=self.read_paths)
        return self._source

    @property
    def store(self) -> Store:
        """The DuckDB store (refused on Spark, unless the command reads it to serve Spark)."""
        if self.settings.engine == "spark" and not self.serves_spark:
            raise BadInput(
                f"reelytics {self.command} works on the DuckDB store and does not run on Spark; run it with "
                "--engine duckdb (then reelytics export --parquet gives Spark the new data)",
                code="not_on_spark",
                command=self.command,
            )
        if self._store is None:
            from analytics.store.storage import open_store

            self._store = open_store(self.settings.db_path, read_paths=self.read_paths)
        return self._store


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse exits with 2 too; keep it to one line
        raise BadInput(f"{self.prog}: {message}", code="usage")


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


class _Commands:
    """The sub-parsers as a command module sees them: ``add_parser(name, ...)`` gives the parser
    the command's line from :data:`COMMANDS`."""

    def __init__(self, sub: argparse._SubParsersAction) -> None:
        self._sub = sub

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser:
        return self._sub.add_parser(name, help=COMMANDS[name][1], **kwargs)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser with every command listed; only ``command``'s module is imported and registers
    its options (the other commands are names that accept anything, enough to find the command)."""
    parser = _Parser(prog="reelytics", description=__doc__.splitlines()[0])
    _add_global_options(parser, after_command=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    module = COMMANDS[command][0] if command in COMMANDS else None
    if module is not None:
        importlib.import_module(f"analytics.cli.commands.{module}").register(_Commands(sub))
    for name, (owner, text) in COMMANDS.items():
        if owner != module:
            sub.add_parser(name, help=text, add_help=False)
    # `reelytics ingest FILE --tz UTC` works as well as `reelytics --tz UTC ingest FILE` (only the
    # command being run parses its arguments; the others are names in the help)
    for name in COMMANDS if module is None else [n for n, (owner, _) in COMMANDS.items() if owner == module]:
        _add_global_options(sub.choices[name], after_command=True)
    return parser


def _command(argv: list[str] | None) -> str | None:
    """The command named in ``argv`` (``None`` for none): the first word after the global options,
    read without importing any command or building every command's parser."""
    parser = _Parser(prog="reelytics", add_help=False)
    _add_global_options(parser, after_command=False)
    parser.add_argument("command", nargs="?")
    parser.add_argument("rest", nargs=argparse.REMAINDER)
    return parser.parse_known_args(argv)[0].command


def main(argv: list[str] | None = None) -> int:
    try:
        parser = build_parser(_command(argv))
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
        elif args.json or out.text is None:
            from analytics.cli.json_output import dumps

            print(dumps(out.payload, indent=None if args.json else 2))
        else:
            print(out.text() if callable(out.text) else out.text)
        sys.stdout.flush()
    except BrokenPipeError:  # `reelytics ... | head`: the reader left, which is not an error
        sys.stdout = open(os.devnull, "w")
    return out.exit_status
