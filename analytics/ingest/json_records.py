"""JSON exports (Mixpanel, Amplitude, Segment, GA4's BigQuery rows): records read as flat columns.

A file of JSON objects -- one per line (NDJSON), or one array of them -- is read by DuckDB. Every
leaf of every record becomes a column named by its path (``properties.distinct_id``), found over the
whole file, not a sample, so that a key first met late is not lost; a list or an object under a key
that also holds other values is kept whole, as JSON text. Every value is kept as the text the file
writes (numbers are not re-typed, so an id of twenty digits stays exact). The ingest then reads the
records like any other table: each record is one row, and a rejected row's "line" is its record's
number.
"""

from __future__ import annotations

import json
from pathlib import Path

from analytics.errors import BadInput

#: File name endings read as JSON whatever their first byte.
JSON_SUFFIXES = (".json", ".jsonl", ".ndjson")


def looks_like_json(path: Path, head: bytes) -> bool:
    """Whether ``path`` holds JSON records: a ``.json``/``.jsonl``/``.ndjson`` name, or a text that opens
    an array of objects (``[`` then ``{``) or whose first line is a JSON object."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if path.suffix.lower() in JSON_SUFFIXES:
        return True
    if text[:1] == b"[":
        return text[1:].lstrip(b" \t\r\n")[:1] in (b"{", b"]")
    if text[:1] != b"{":
        return False
    try:
        return isinstance(json.loads(text.split(b"\n", 1)[0]), dict)
    except ValueError:
        return False


def _records(con, path: Path):
    return con.sql("SELECT json FROM read_json_objects($path, format = 'auto')", params={"path": str(path)})


def _leaves(structure, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """The paths of the leaves of a ``json_group_structure`` description, in the order met."""
    if isinstance(structure, dict) and structure:
        return [leaf for key, sub in structure.items() for leaf in _leaves(sub, (*prefix, key))]
    return [prefix] if prefix else []


def _path_text(path: tuple[str, ...]) -> str:
    return "$" + "".join("." + json.dumps(k, ensure_ascii=False) for k in path)


def header(path: tuple[str, ...]) -> str:
    """The column name of a leaf: its keys joined by dots (``properties.distinct_id``)."""
    return ".".join(path)


def _select(paths: list[tuple[str, ...]]) -> str:
    """Each leaf of a record as text (a list or object as its JSON), one column per path."""
    listed = "[" + ", ".join("'" + _path_text(p).replace("'", "''") + "'" for p in paths) + "]"
    names = [header(p).replace('"', '""') for p in paths]
    return (
        "SELECT " + ", ".join(f'v[{i + 1}] AS "{n}"' for i, n in enumerate(names))
        + f" FROM (SELECT json_extract_string(json, {listed}) AS v FROM r)"
    )


def _bad_json(path: Path, exc: Exception) -> BadInput:
    detail = str(exc).split("\n", 1)[0].replace("Invalid Input Error: ", "").replace(f' in file "{path}"', "")
    detail = detail.replace(str(path), path.name).rstrip(". ")
    return BadInput(
        f"{path.name} is not valid JSON: {detail}. Each line must hold one JSON object (or the file one array of them)",
        code="bad_json",
        error=detail,
    )


def read_head(path: Path, rows: int, deadline) -> tuple[list[tuple[str, ...]], list[tuple[str | None, ...]], int]:
    """The leaves of the records (key paths, over the whole file), the first ``rows`` records as text,
    and the number of records; a read running past ``deadline`` (:class:`analytics.ingest.readers.Deadline`)
    is stopped with its error."""
    from analytics.store.storage import BadData, Interrupted, file_reader

    deadline.check()
    try:
        with file_reader(path, seconds=deadline.remaining()) as con:
            con.register("r", _records(con, path))
            found = con.execute("SELECT json_group_structure(json), count(*) FROM r").fetchone()
            structure = json.loads(found[0]) if found[0] else None
            if found[1] and not isinstance(structure, dict):
                raise BadInput(f"{path.name} holds JSON, but not one object per record", code="bad_json", error="not objects")
            paths = _leaves(structure or {})
            sample = con.execute(_select(paths) + f" LIMIT {int(rows)}").fetchall() if paths else []
    except BadData as exc:
        raise _bad_json(path, exc) from exc
    except Interrupted as exc:
        raise deadline.error() from exc
    return paths, [tuple(row) for row in sample], int(found[1])


def write_csv(path: Path, paths: list[tuple[str, ...]], out: Path, deadline) -> None:
    """Write every record of ``path`` into ``out`` as a UTF-8 CSV, one column per leaf of ``paths``
    (:func:`read_head`) under one header row; stopped with ``deadline``'s error when it runs past it."""
    from analytics.store.storage import BadData, Interrupted, file_reader

    deadline.check()
    try:
        with file_reader(path, out, deadline.remaining()) as con:
            con.register("r", _records(con, path))
            # written in place (the staged file exists already: no temporary file beside it, which the
            # connection could not write)
            con.execute(f"COPY ({_select(paths)}) TO $out (FORMAT csv, HEADER, USE_TMP_FILE false)", {"out": str(out)})
    except BadData as exc:
        raise _bad_json(path, exc) from exc
    except Interrupted as exc:
        raise deadline.error() from exc
