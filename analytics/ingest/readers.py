"""What a file is (format, encoding, delimiter, header) and how DuckDB gets to read it.

Everything here streams: a file is sniffed from its first megabyte; legacy encodings (GBK,
GB18030, ...) and Excel workbooks are converted chunk by chunk into a UTF-8 CSV in the store's
staging folder, because the DuckDB extensions that would read them download at run time.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from analytics.errors import BadInput

Format = Literal["csv", "xlsx", "parquet"]
SNIFF_BYTES = 1 << 20
CHUNK_BYTES = 1 << 20
DELIMITERS = (",", "\t", ";", "|")
SAMPLE_ROWS = 1000

#: Encodings DuckDB reads itself; anything else is converted to UTF-8 first.
NATIVE_ENCODINGS = {"utf-8", "utf8", "utf-8-sig"}


@dataclass(frozen=True)
class Sniffed:
    """What the first part of a file says about it."""

    path: Path
    format: Format
    encoding: str | None  # text files only
    delimiter: str | None
    has_header: bool
    headers: tuple[str, ...]
    sample: tuple[tuple[str | None, ...], ...] = field(default_factory=tuple)  # first data rows, as text
    header_lines: int = 0

    @property
    def needs_conversion(self) -> bool:
        return self.format == "xlsx" or (self.format == "csv" and self.encoding not in NATIVE_ENCODINGS)

    def describe(self) -> dict[str, object]:
        delim = {"\t": "tab"}.get(self.delimiter or "", self.delimiter)
        return {"format": self.format, "encoding": self.encoding, "delimiter": delim, "header": self.has_header}


def _canonical_encoding(name: str) -> str:
    try:
        found = codecs.lookup(name).name
    except LookupError as exc:
        raise BadInput(
            f"unknown encoding {name!r}; use e.g. utf-8, gbk, gb18030", code="bad_encoding", value=name
        ) from exc
    return {"utf_8": "utf-8", "utf-8": "utf-8", "utf_8_sig": "utf-8-sig"}.get(found, found)


def detect_format(path: Path, head: bytes) -> Format:
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith(b"PK\x03\x04"):
        if path.suffix.lower() in (".xlsx", ".xlsm") or b"[Content_Types].xml" in head[:2000] or b"xl/" in head:
            return "xlsx"
        raise BadInput(f"{path.name} is a zip archive, not a CSV, Excel or Parquet file", code="binary_file")
    if path.suffix.lower() == ".xls" or head.startswith(b"\xd0\xcf\x11\xe0"):
        raise BadInput(
            f"{path.name} is an old .xls workbook; save it as .xlsx or CSV and upload again", code="xls_unsupported"
        )
    return "csv"


def detect_encoding(head: bytes, complete: bool) -> str:
    """UTF-8 (with or without BOM) when the bytes decode as such, else GB18030 (a superset of GBK)."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=complete)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        codecs.getincrementaldecoder("gb18030")().decode(head, final=complete)
        return "gb18030"
    except UnicodeDecodeError:
        raise BadInput(
            "cannot tell the text encoding of the file (not UTF-8, GBK or GB18030); pass --encoding",
            code="bad_encoding",
        ) from None


def _looks_binary(head: bytes, encoding: str) -> bool:
    if encoding == "utf-16":
        return False
    sample = head[:8192]
    if b"\x00" in sample:
        return True
    controls = sum(1 for b in sample if b < 9 or 13 < b < 32)
    return bool(sample) and controls / len(sample) > 0.05


def sniff_delimiter(lines: list[str]) -> str:
    """The candidate delimiter that splits the first lines into the most consistent field count (> 1)."""
    best, best_key = ",", (0.0, 0)
    for delim in DELIMITERS:
        counts = [len(r) for r in csv.reader(lines, delimiter=delim) if r]
        if not counts:
            continue
        mode = max(set(counts), key=counts.count)
        if mode < 2:
            continue
        key = (counts.count(mode) / len(counts), mode)
        if key > best_key:
            best, best_key = delim, key
    return best


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def looks_like_header(first: list[str], rest: list[list[str]], known: Callable[[str], bool]) -> bool:
    """A header when a cell is a known column name, or when no cell of the first row is a number
    (a data row of an export nearly always holds an id, a count or an epoch time)."""
    if any(known(c) for c in first):
        return True
    return not any(_is_number(c) for c in first if c.strip())


def _decoded_head(path: Path, encoding: str) -> tuple[str, bool]:
    with open(path, "rb") as fh:
        raw = fh.read(SNIFF_BYTES)
        complete = fh.read(1) == b""
    text = codecs.getincrementaldecoder(encoding)(errors="replace").decode(raw, final=complete)
    return text, complete


def _unique(headers: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for i, h in enumerate(headers):
        h = (h or "").replace("\ufeff", "").strip() or f"column_{i + 1}"
        if h in seen:
            seen[h] += 1
            h = f"{h}_{seen[h]}"
        else:
            seen[h] = 1
        out.append(h)
    return out


def sniff(
    path: Path,
    *,
    encoding: str | None = None,
    columns: list[str] | None = None,
    known: Callable[[str], bool] = lambda _: False,
) -> Sniffed:
    """Sniff ``path``: format, encoding, delimiter, header row and the first rows as text."""
    if not path.exists() or not path.is_file():
        raise BadInput(f"there is no file {path.name}", code="no_file", path=path.name)
    if path.stat().st_size == 0:
        raise BadInput(f"{path.name} is empty", code="empty_file")
    with open(path, "rb") as fh:
        head = fh.read(SNIFF_BYTES)
        complete = fh.read(1) == b""
    fmt = detect_format(path, head)
    if fmt == "parquet":
        return _sniff_parquet(path, columns)
    if fmt == "xlsx":
        return _sniff_xlsx(path, columns, known)
    bom16 = head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    if _looks_binary(head, "utf-16" if bom16 or (encoding or "").lower().startswith("utf-16") else ""):
        raise BadInput(f"{path.name} looks like a binary file, not text, Excel or Parquet", code="binary_file")
    enc = _canonical_encoding(encoding) if encoding else detect_encoding(head, complete)
    text, _ = _decoded_head(path, enc)
    text = text.lstrip("\ufeff")
    lines = text.splitlines()
    if not complete and len(lines) > 1:
        lines = lines[:-1]  # the last line may be cut by the sniff window
    lines = [ln for ln in lines[: SAMPLE_ROWS + 1]]
    if not any(ln.strip() for ln in lines):
        raise BadInput(f"{path.name} is empty", code="empty_file")
    delim = sniff_delimiter(lines[:200])
    rows = [r for r in csv.reader(io.StringIO("\n".join(lines)), delimiter=delim)]
    if columns:
        headers = _unique(columns)
        first = rows[0] if rows else []
        has_header = bool(first) and [normalise(c) for c in first] == [normalise(c) for c in columns]
    else:
        has_header = looks_like_header(rows[0], rows[1:50], known)
        if not has_header:
            raise BadInput(
                f"{path.name} has no header row; give the column names in order (--columns a,b,c)",
                code="no_header",
                first_row=",".join(rows[0])[:200],
            )
        headers = _unique(rows[0])
    data = rows[1:] if has_header else rows
    if has_header and not any(any(c.strip() for c in r) for r in data) and complete:
        raise BadInput(f"{path.name} has a header row but no data rows", code="no_rows")
    sample = tuple(tuple(r[i] if i < len(r) else None for i in range(len(headers))) for r in data[:SAMPLE_ROWS])
    return Sniffed(path, "csv", enc, delim, has_header, tuple(headers), sample, 1 if has_header else 0)


def normalise(text: str) -> str:
    return text.replace("\ufeff", "").strip().lower()


def _cell_text(value) -> str | None:
    import datetime as dt

    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return str(value)


def _open_workbook(path: Path):
    import openpyxl

    try:
        return openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a broken workbook
        raise BadInput(f"{path.name} is not a readable .xlsx workbook: {exc}", code="bad_excel") from exc


def _sheet_rows(path: Path):
    wb = _open_workbook(path)
    ws = wb.worksheets[0]
    try:
        for row in ws.iter_rows(values_only=True):
            cells = [_cell_text(v) for v in row]
            if any(c not in (None, "") for c in cells):
                yield cells
    finally:
        wb.close()


def _sniff_xlsx(path: Path, columns: list[str] | None, known: Callable[[str], bool]) -> Sniffed:
    rows = []
    for cells in _sheet_rows(path):
        rows.append(cells)
        if len(rows) > SAMPLE_ROWS:
            break
    if not rows:
        raise BadInput(f"{path.name} has no rows in its first sheet", code="empty_file")
    first = [c or "" for c in rows[0]]
    if columns:
        headers = _unique(columns)
        has_header = [normalise(c) for c in first[: len(columns)]] == [normalise(c) for c in columns]
    else:
        has_header = looks_like_header(first, [[c or "" for c in r] for r in rows[1:50]], known)
        if not has_header:
            raise BadInput(f"{path.name} has no header row; give the column names (--columns a,b,c)", code="no_header")
        while first and not first[-1]:
            first.pop()
        headers = _unique(first)
    data = rows[1:] if has_header else rows
    if not data:
        raise BadInput(f"{path.name} has a header row but no data rows", code="no_rows")
    sample = tuple(tuple(r[i] if i < len(r) else None for i in range(len(headers))) for r in data)
    return Sniffed(path, "xlsx", None, ",", has_header, tuple(headers), sample, 1 if has_header else 0)


def _sniff_parquet(path: Path, columns: list[str] | None) -> Sniffed:
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except Exception as exc:
        raise BadInput(f"{path.name} is not a readable Parquet file: {exc}", code="bad_parquet") from exc
    names = list(pf.schema_arrow.names)
    if columns and len(columns) == len(names):
        names = columns
    if pf.metadata.num_rows == 0:
        raise BadInput(f"{path.name} has no rows", code="no_rows")
    batch = next(pf.iter_batches(batch_size=SAMPLE_ROWS))
    cols = [[_cell_text(v) for v in batch.column(i).to_pylist()] for i in range(batch.num_columns)]
    sample = tuple(zip(*cols)) if cols else ()
    return Sniffed(path, "parquet", None, None, True, tuple(_unique(names)), tuple(sample), 0)


def convert_to_utf8_csv(sniffed: Sniffed, staging_dir: Path, progress=None) -> Path:
    """Stream a legacy-encoded text file or an Excel workbook into a UTF-8 CSV in ``staging_dir``.

    The caller removes the returned file. Memory use is one chunk (text) or one row (Excel).
    """
    staging_dir.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix="ingest-", suffix=".csv", dir=staging_dir)
    out = Path(name)
    try:
        if sniffed.format == "xlsx":
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
                writer = csv.writer(fh, lineterminator="\n")
                for i, cells in enumerate(_sheet_rows(sniffed.path)):
                    writer.writerow(["" if c is None else c for c in cells])
                    if progress and i % 20000 == 0:
                        progress(0.0, f"Excel row {i:,}")
        else:
            total = max(sniffed.path.stat().st_size, 1)
            decoder = codecs.getincrementaldecoder(sniffed.encoding or "utf-8")(errors="strict")
            done = 0
            with open(sniffed.path, "rb") as src, os.fdopen(fd, "w", encoding="utf-8", newline="") as dst:
                while chunk := src.read(CHUNK_BYTES):
                    done += len(chunk)
                    try:
                        dst.write(decoder.decode(chunk))
                    except UnicodeDecodeError as exc:
                        raise BadInput(
                            f"{sniffed.path.name} is not valid {sniffed.encoding} near byte {done - len(chunk) + exc.start:,}; "
                            "pass the right --encoding",
                            code="bad_encoding",
                            encoding=sniffed.encoding,
                        ) from exc
                    if progress:
                        progress(done / total, "converting to UTF-8")
                dst.write(decoder.decode(b"", final=True))
    except BaseException:
        out.unlink(missing_ok=True)
        raise
    return out
