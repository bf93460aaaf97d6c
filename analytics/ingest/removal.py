"""Removing an upload: its rows go in one transaction, then the accelerators follow."""

from __future__ import annotations

from analytics.access import Principal
from analytics.store import uploads


def remove_upload(store, upload_id: int, actor: Principal | None = None) -> dict[str, int]:
    """Delete an upload and every row it brought (:func:`analytics.store.uploads.remove_upload`),
    then bring the persisted accelerator structures up to date in this process."""
    from analytics.query.engine import removing

    with removing(store, upload_id):
        return uploads.remove_upload(store, upload_id, actor)
