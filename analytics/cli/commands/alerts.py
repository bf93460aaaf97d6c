"""``reelytics alerts``: KPI days outside their expected band, with their likely cause (docs/explain.md)."""

from __future__ import annotations

from pathlib import Path

from analytics.cli.main import Output, add_filter_args, filters_from_args
from analytics.cli.text_output import NO_EVENTS
from analytics.errors import StorageError
from analytics.metrics.explain import Contributor
from analytics.metrics.kpis import KPI_BY_NAME

#: Exit status of ``--fail-on-alert`` when there are alerts (for cron).
ALERT_EXIT_STATUS = 3


def register(sub) -> None:
    from analytics.metrics.alerts import SEGMENT_DIMENSION, Z_THRESHOLD

    p = sub.add_parser(
        "alerts",
        description="Judges --from..--to (default: the last 7 days with data) against the 8 weeks before. "
        "While a dashboard holds the database, prints the latest digest the dashboard wrote instead.",
    )
    add_filter_args(p)
    p.add_argument("--kpi", action="append", default=[], metavar="KPI", help="monitor only this KPI (repeatable)")
    p.add_argument("--segment", action="append", default=[], metavar="DIM",
                   help=f"dimension whose top values get series of their own (repeatable; default {SEGMENT_DIMENSION})")
    p.add_argument("--z", type=float, default=Z_THRESHOLD, help=f"band half-width in robust scales (default {Z_THRESHOLD:g})")
    p.add_argument("--no-explain", action="store_true", help="skip the explanation of each alert (faster)")
    p.add_argument("--digest", type=Path, metavar="DIR", help="also write alerts-DAY.json and alerts-DAY.md into DIR")
    p.add_argument("--fail-on-alert", action="store_true", help=f"exit with status {ALERT_EXIT_STATUS} when there are alerts")
    p.set_defaults(func=run)


def _text(doc: dict) -> list[str]:
    from analytics.cli.text_output import header
    from analytics.metrics.alerts import MIN_HISTORY_DAYS
    from dashboard.change_text import contributor_text, segment_text, value_text

    window = doc["window"]
    if doc["status"] == "no_data":
        return [NO_EVENTS]
    head = (f"{len(doc['alerts'])} alert(s) {window['from']} .. {window['to']} "
            f"(band: expected ± {doc['z']:g} robust scales, {doc['points']} days judged)")
    lines = [head]
    if doc["status"] == "short_history":
        lines.append(f"  note: no series has {MIN_HISTORY_DAYS} days of values yet, so no day is judged")
    for a in doc["alerts"]:
        kpi = KPI_BY_NAME[a["kpi"]]
        seg = segment_text(a["segment"], "en")
        lines.append(f"  {a['day']}  {header(a['kpi']):<24} {seg:<26} {value_text(kpi, a['value']):>12}  expected "
                     f"{value_text(kpi, a['expected'])} [{value_text(kpi, a['low'])} .. "
                     f"{value_text(kpi, a['high'])}]")
        for c in a["explanation"]:
            lines.append(f"      {contributor_text(kpi, Contributor(**c), 'en')}")
    return lines


def run(args, ctx) -> Output:
    from analytics.metrics.alerts import (
        DIGEST_FOLDER,
        latest_digest,
        monitor,
        write_digest,
    )

    filters = filters_from_args(args, ctx)
    try:
        store = ctx.source
    except StorageError as exc:
        found = latest_digest(ctx.settings.data_dir / DIGEST_FOLDER) if exc.code == "db_locked" else None
        if found is None:
            raise
        path, doc = found
        doc = {**doc, "source": str(path)}
        text = [f"the database is in use; the latest digest written by the dashboard: {path.name}", *_text(doc)]
        status = ALERT_EXIT_STATUS if args.fail_on_alert and doc["alerts"] else 0
        return Output(doc, "\n".join(text), exit_status=status)
    report = monitor(store, filters, args.kpi or None, z=args.z, segments=args.segment or ("channel",),
                     explain_alerts=not args.no_explain)
    doc = report.to_dict()
    lines = _text(doc)
    if args.digest is not None:
        from dashboard.change_text import digest_markdown

        paths = write_digest(report, args.digest, digest_markdown)
        lines.append("digest: " + ", ".join(str(p) for p in paths.values()))
    status = ALERT_EXIT_STATUS if args.fail_on_alert and report.alerts else 0
    return Output(doc, "\n".join(lines), exit_status=status)
