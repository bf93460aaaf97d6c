"""Accelerator: the catalog's item labels read in DuckDB without building an ibis expression.

:class:`~analytics.query.layer.ItemLabels` (each item's title and creator, which a breakdown by
video shows beside its numbers) is one aggregation of ``items``; its portable path
(:func:`analytics.query.components.item_labels`) builds it in ibis, which costs a one-shot command
the import of ibis and its DuckDB backend where nothing else on its path needs them (a breakdown
answered from the persisted breakdown tables). This path runs the same aggregation as SQL on the
store's connection. It keeps no structure.
"""

from __future__ import annotations

from typing import Final

from analytics.query.layer import Accelerator, ItemLabels

#: The portable aggregation, as SQL.
_LABELS_SQL: Final[str] = "SELECT item_id, max(title) AS title, max(creator) AS creator FROM items GROUP BY item_id"


class CatalogLabels(Accelerator):
    name = "catalog_sql"
    query = ItemLabels

    def answers(self, source, query: ItemLabels) -> bool:
        return True

    def answer(self, source, query: ItemLabels):
        return source.arrow(_LABELS_SQL)
