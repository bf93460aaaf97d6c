"""Accelerator: what the data records, read in DuckDB without building an ibis expression.

:class:`~analytics.query.layer.Recorded` (whether any event is a like, comment or share, a follow, a
click, a view with a watch time: :data:`analytics.query.components.RECORDS`) is asked by every KPI
report and breakdown; its portable path (:func:`analytics.query.components.recorded`) builds it in
ibis, which costs a one-shot command the import of ibis and its DuckDB backend where nothing else on
its path needs them (a breakdown answered from the persisted breakdown tables). This path asks the
same questions as SQL on the store's connection, one ``EXISTS`` each (DuckDB stops at the first row,
and skips the row groups whose statistics rule a value out). It keeps no structure.
"""

from __future__ import annotations

from typing import Final

from analytics.query.definitions import INTERACTION_TYPES
from analytics.query.layer import Accelerator, Recorded

#: The predicates of :data:`analytics.query.components.RECORDS`, as SQL.
_RECORDS_SQL: Final[dict[str, str]] = {
    "interactions": "event_type IN (" + ", ".join(f"'{t}'" for t in sorted(INTERACTION_TYPES)) + ")",
    "follows": "event_type = 'follow'",
    "clicks": "event_type = 'click'",
    "watch_time": "event_type = 'view' AND watch_seconds > 0",
}


class RecordedSql(Accelerator):
    name = "recorded_sql"
    query = Recorded

    def answers(self, source, query: Recorded) -> bool:
        return True

    def answer(self, source, query: Recorded) -> frozenset[str]:
        sql = "SELECT " + ", ".join(f"EXISTS (SELECT 1 FROM events WHERE {where})" for where in _RECORDS_SQL.values())
        (held,) = source.query(sql).rows
        return frozenset(kind for kind, found in zip(_RECORDS_SQL, held) if found)
