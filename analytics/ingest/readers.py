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
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from analytics.errors import BadInput
from analytics.ingest import json_records
from analytics.ingest.limits import Limits
from analytics.ingest.quality import SheetPart

Format = Literal["csv", "xlsx", "parquet", "json"]
SNIFF_BYTES = 1 << 20
CHUNK_BYTES = 1 << 20
DELIMITERS = (",", "\t", ";", "|")
SAMPLE_ROWS = 1000

#: Encodings DuckDB reads itself; anything else is converted to UTF-8 first.
NATIVE_ENCODINGS = {"utf-8", "utf8", "utf-8-sig"}
#: A file whose first 8 KiB hold more NUL bytes than this share is binary; fewer NULs reject their rows.
BINARY_NUL_SHARE = 0.01
#: The first cell of a line written in place of a line over the line limit (it rejects that row).
LONG_LINE_MARK = "\x00line_too_long\x00"
#: Bytes of an over-long line kept as its raw text in the rejected rows.
LONG_LINE_HEAD = 200
#: ``sheet`` value asking for every sheet of a workbook whose columns match (no sheet name holds ``*``).
ALL_SHEETS = "*"

# The sniff window is parsed with Python's csv module: let one field fill the whole window.
csv.field_size_limit(max(csv.field_size_limit(), 2 * SNIFF_BYTES))


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
    sheet: str | None = None  # the workbook sheet read, or ALL_SHEETS
    sheets: tuple[str, ...] = ()  # every sheet of the workbook holding data
    # ALL_SHEETS: every sheet of the workbook, whether it is read (status "match") and why not
    parts: tuple[SheetPart, ...] = ()
    named_by_values: bool = False  # no header row: the columns were named from their values
    json_paths: tuple[tuple[str, ...], ...] = ()  # JSON records: each column's keys (json_records)
    titles: tuple[str, ...] = ()  # the lines above the header row (a report's title, an export date), skipped

    @property
    def needs_conversion(self) -> bool:
        return self.format in ("xlsx", "json") or (self.format == "csv" and self.encoding not in NATIVE_ENCODINGS)

    def describe(self) -> dict[str, object]:
        delim = {"\t": "tab"}.get(self.delimiter or "", self.delimiter)
        out: dict[str, object] = {"format": self.format, "encoding": self.encoding, "delimiter": delim, "header": self.has_header}
        if self.format == "xlsx":
            out.update(sheet=self.sheet, sheets=list(self.sheets))
        return out

    @property
    def combined(self) -> tuple[str, ...]:
        """The sheets read one after another (ALL_SHEETS), in workbook order; empty otherwise."""
        return tuple(p.sheet for p in self.parts if p.status == "match")


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
        raise BadInput(f"{path.name} is a zip archive, not a CSV, Excel, Parquet or JSON file", code="binary_file")
    if path.suffix.lower() == ".xls" or head.startswith(b"\xd0\xcf\x11\xe0"):
        raise BadInput(
            f"{path.name} is an old .xls workbook; save it as .xlsx or CSV and upload again", code="xls_unsupported"
        )
    if json_records.looks_like_json(path, head):
        return "json"
    return "csv"


def detect_encoding(head: bytes, complete: bool) -> str:
    """UTF-8 (with or without BOM) when the bytes decode as such; else GB18030 (a superset of GBK)
    when they decode as it and read like Chinese text (:func:`_reads_as_gbk`); else Windows-1252 (a
    superset of Latin-1: Western European exports) when they decode as that."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    for encoding in ("utf-8", "gb18030", "cp1252"):
        try:
            codecs.getincrementaldecoder(encoding)().decode(head, final=complete)
        except UnicodeDecodeError:
            continue
        if encoding != "gb18030" or _reads_as_gbk(head):
            return encoding
    raise BadInput(
        "cannot tell the text encoding of the file (not UTF-8, GBK, GB18030 or Windows-1252); pass --encoding",
        code="bad_encoding",
    )


def _reads_as_gbk(head: bytes) -> bool:
    """Whether the double-byte characters of ``head`` read as GBK read like Chinese text: most of the
    common characters (GB2312) have a second byte above 0x80, while Western text in Windows-1252 that
    happens to decode as GBK pairs an accented letter with the ASCII byte after it (``é_``)."""
    high = ascii_after = 0
    i, n = 0, len(head)
    while i < n:
        b = head[i]
        if b < 0x81:
            i += 1
            continue
        second = head[i + 1] if i + 1 < n else 0
        if 0x30 <= second <= 0x39:  # a four-byte GB18030 sequence
            i += 4
            continue
        if second >= 0x81:
            high += 1
        else:
            ascii_after += 1
        i += 2
    return high >= ascii_after


def _looks_binary(head: bytes, encoding: str) -> bool:
    if encoding == "utf-16":
        return False
    sample = head[:8192]
    if not sample:
        return False
    if sample.count(b"\x00") / len(sample) > BINARY_NUL_SHARE:
        return True
    controls = sum(1 for b in sample if b < 9 or 13 < b < 32)
    return controls / len(sample) > 0.05


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


def confine(path: Path, data_dir: Path | None) -> tuple[Path, bool]:
    """``path`` resolved, and whether its contents may be quoted in errors (it lies in ``data_dir``).

    A path named inside the data folder that reaches, through a symbolic link, a file outside it is
    refused.
    """
    given = Path(os.path.abspath(path))
    resolved = given.resolve()
    if data_dir is None:
        return resolved, True

    def under(p: Path, folder: Path) -> bool:
        return p == folder or folder in p.parents

    real_dir = data_dir.resolve()
    inside = under(resolved, real_dir)
    # named inside the data folder, but a link leads out of it (a path given outside it is read as
    # given, whatever links its folders pass through)
    named_inside = under(given, Path(os.path.abspath(data_dir))) or under(given, real_dir)
    if named_inside and not inside:
        raise BadInput(
            f"{given.name} is a symbolic link to a file outside the data folder; copy the file instead",
            code="symlink_outside",
            path=given.name,
        )
    return resolved, inside


def _check_columns(path: Path, headers: list[str], limits: Limits) -> None:
    if len(headers) > limits.max_columns:
        raise BadInput(
            f"{path.name} has {len(headers):,} columns; at most {limits.max_columns:,} are read "
            "(REELYTICS_MAX_COLUMNS); remove the columns you do not need",
            code="too_many_columns",
            columns=len(headers),
            limit=limits.max_columns,
        )


def sniff(
    path: Path,
    *,
    encoding: str | None = None,
    columns: list[str] | None = None,
    known: Callable[[str], bool] = lambda _: False,
    limits: Limits | None = None,
    sheet: str | None = None,
    reveal: bool = True,
    name_headless: Callable[[list[list[str]]], list[str] | None] | None = None,
) -> Sniffed:
    """Sniff ``path``: format, encoding, delimiter, header row and the first rows as text.

    ``sheet`` names the sheet of a workbook (needed when several hold data); ``reveal`` says whether
    an error may quote the file's contents (only for files inside the data folder); ``name_headless``
    names the columns of a text file without a header row from its first rows (``None``: it cannot,
    and the file is refused with ``no_header``).
    """
    limits = limits or Limits()
    if not path.exists() or not path.is_file():
        raise BadInput(f"there is no file {path.name}", code="no_file", path=path.name)
    if path.stat().st_size == 0:
        raise BadInput(f"{path.name} is empty", code="empty_file")
    with open(path, "rb") as fh:
        head = fh.read(SNIFF_BYTES)
        complete = fh.read(1) == b""
    fmt = detect_format(path, head)
    if fmt == "parquet":
        return _sniff_parquet(path, columns, limits)
    if fmt == "xlsx":
        return _sniff_xlsx(path, columns, known, limits, sheet, reveal)
    if fmt == "json":
        return _sniff_json(path, columns, limits)
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
    first_line = next(ln for ln in lines if ln.strip())
    first_cut = not complete and not any(c in text for c in "\r\n")  # the sniff window ends inside it
    if first_cut or len(first_line.encode("utf-8", "replace")) > limits.max_line_bytes:
        raise BadInput(
            f"the first line of {path.name} is longer than {limits.max_line_bytes:,} bytes (REELYTICS_MAX_LINE_BYTES); "
            "its columns cannot be read",
            code="line_too_long",
            limit=limits.max_line_bytes,
        )
    delim = sniff_delimiter([ln for ln in lines[:200] if len(ln) <= limits.max_line_bytes])
    rows = _parse(lines, delim, limits)
    titles = () if columns else _titles(rows, known)
    rows = rows[len(titles):]
    if columns:
        headers = _unique(columns)
        first = rows[0] if rows else []
        has_header = bool(first) and [normalise(c) for c in first] == [normalise(c) for c in columns]
    else:
        has_header = looks_like_header(rows[0], rows[1:50], known)
        named = None if has_header or name_headless is None else name_headless(rows[:SAMPLE_ROWS])
        if not has_header and named is None:
            raise BadInput(
                f"{path.name} has no header row; give the column names in order (--columns a,b,c)",
                code="no_header",
                **({"first_row": ",".join(rows[0])[:200]} if reveal else {}),
            )
        headers = _unique(named or rows[0])
    _check_columns(path, headers, limits)
    data = rows[1:] if has_header else rows
    if has_header and not any(any(c.strip() for c in r) for r in data) and complete:
        raise BadInput(f"{path.name} has a header row but no data rows", code="no_rows")
    sample = tuple(tuple(r[i] if i < len(r) else None for i in range(len(headers))) for r in data[:SAMPLE_ROWS])
    return Sniffed(path, "csv", enc, delim, has_header, tuple(headers), sample, len(titles) + (1 if has_header else 0),
                   named_by_values=not columns and not has_header, titles=titles)


#: Lines above a header row that an export may write (a report's title, its date range, a blank line).
MAX_TITLE_LINES = 10


def title_rows(rows: list[list[str | None]], known: Callable[[str], bool] = lambda _: False) -> int:
    """How many leading ``rows`` are title lines above the header (:func:`_titles`)."""
    return len(_titles(rows, known))


def _filled(row: list[str | None]) -> list[str]:
    return [str(c).strip() for c in row if c is not None and str(c).strip()]


def _groups_columns(row: list[str | None], below: list[str | None], known: Callable[[str], bool]) -> bool:
    """Whether ``row`` groups the columns of the header ``below`` (a report's merged cells, such as
    基础数据 over some columns and 转化数据 over others): it names no known column, ``below`` two or more."""
    return not any(known(c) for c in _filled(row)) and sum(1 for c in _filled(below) if known(c)) >= 2


def _titles(rows: list[list[str | None]], known: Callable[[str], bool] = lambda _: False) -> tuple[str, ...]:
    """The text of each line above the header, cut to 200 characters: leading rows with at most one
    non-empty cell (a report's title, an export date, a blank line), on one line each, and a row
    grouping the header's columns (:func:`_groups_columns`; ``known``: whether a name is a column's),
    before the header -- at most :data:`MAX_TITLE_LINES`. None in a file of one column (no row has two
    cells)."""
    texts = []
    for i, row in enumerate(rows[: MAX_TITLE_LINES + 1]):
        filled = _filled(row)
        if len(filled) >= 2 and not (i < MAX_TITLE_LINES and i + 1 < len(rows) and _groups_columns(row, rows[i + 1], known)):
            return tuple(texts)
        if any("\n" in c or "\r" in c for c in filled):
            return ()
        texts.append(" ".join(filled)[:200])
    return ()


def _parse(lines: list[str], delim: str, limits: Limits) -> list[list[str]]:
    """The sniffed lines as rows; a line over the line limit (the reader rejects it) is left out."""
    short = [ln for ln in lines if len(ln.encode("utf-8", "replace")) <= limits.max_line_bytes]
    rows = []
    reader = csv.reader(io.StringIO("\n".join(short)), delimiter=delim)
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error:  # a broken quote in the window: the reader reports that row later
            continue
        rows.append(row)
    return rows


def normalise(text: str) -> str:
    return text.replace("\ufeff", "").strip().lower()


def _cell_text(value) -> str | None:
    """A cell as text: whole numbers without a fraction or an exponent, with every digit the file holds."""
    import datetime as dt
    from decimal import Decimal

    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        # repr() is the shortest text that reads back as the same number, i.e. the digits the
        # workbook stores; Decimal writes them out without an exponent (1.2345678901234567e+19
        # -> 12345678901234567000).
        return format(Decimal(repr(value)), "f")
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return str(value)


def _check_workbook(path: Path, limits: Limits) -> None:
    """Refuse a workbook whose parts decompress to more than the limits (an .xlsx bomb)."""
    try:
        with zipfile.ZipFile(path) as zf:
            parts = zf.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise BadInput(f"{path.name} is not a readable .xlsx workbook", code="bad_excel") from exc
    total = sum(p.file_size for p in parts)
    strings = sum(p.file_size for p in parts if p.filename.lower().endswith("sharedstrings.xml"))
    if total > limits.max_xlsx_bytes or strings > limits.max_xlsx_strings:
        raise BadInput(
            f"{path.name} unpacks to {total / 2**20:,.0f} MiB ({strings / 2**20:,.0f} MiB of shared text); "
            f"the limits are {limits.max_xlsx_bytes / 2**20:,.0f} MiB and {limits.max_xlsx_strings / 2**20:,.0f} MiB "
            "(REELYTICS_MAX_XLSX_BYTES, REELYTICS_MAX_XLSX_STRINGS); save it as CSV instead",
            code="workbook_too_big",
            unpacked_mib=round(total / 2**20),
            strings_mib=round(strings / 2**20),
            limit_mib=limits.max_xlsx_bytes // 2**20,
            strings_limit_mib=limits.max_xlsx_strings // 2**20,
        )


def _open_workbook(path: Path, limits: Limits):
    import openpyxl

    _check_workbook(path, limits)
    try:
        return openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a broken workbook
        raise BadInput(f"{path.name} is not a readable .xlsx workbook", code="bad_excel") from exc


def _data_rows(ws, deadline: Deadline):
    """The non-empty rows of a sheet, as text; a sheet of endless empty rows runs into ``deadline``.

    A part that turns out broken while it is read (bad XML, a size or checksum that does not match
    its directory entry) is :class:`BadInput`, like a workbook that cannot be opened."""
    rows = ws.iter_rows(values_only=True)
    i = 0
    while True:
        if i % 1000 == 0:
            deadline.check()
        try:
            row = next(rows)
        except StopIteration:
            return
        except Exception as exc:  # openpyxl and zipfile raise many kinds for a broken part
            raise BadInput(f"{deadline.name} is not a readable .xlsx workbook", code="bad_excel") from exc
        i += 1
        cells = [_cell_text(v) for v in row]
        if any(c not in (None, "") for c in cells):
            yield cells


def sheet_heads(path: Path, limits: Limits | None = None) -> tuple[tuple[str, list[str] | None], ...]:
    """Every sheet of a workbook with its first non-empty row as text (None: the sheet holds no data)."""
    limits = limits or Limits.from_env()
    deadline = Deadline(path.name, limits)
    wb = _open_workbook(path, limits)
    try:
        return tuple((ws.title, next(_data_rows(ws, deadline), None)) for ws in wb.worksheets)
    finally:
        wb.close()


def workbook_sheets(path: Path, limits: Limits | None = None) -> tuple[str, ...]:
    """The names of the sheets of a workbook that hold at least one non-empty row (``limits``: default
    from the environment)."""
    return tuple(name for name, first in sheet_heads(path, limits) if first is not None)


def header_cells(first: list[str | None]) -> list[str]:
    """A header row's names: trailing empty cells dropped, blanks named and repeats numbered."""
    cells = [c or "" for c in first]
    while cells and not cells[-1]:
        cells.pop()
    return _unique(cells)


def sheet_parts(heads, reference: str) -> tuple[SheetPart, ...]:
    """Which sheets of ``heads`` (from :func:`sheet_heads`) have the columns of the sheet ``reference``
    (the same names, in any order), and for the others the columns missing and extra."""
    ref = header_cells(dict(heads)[reference])
    ref_norm = {normalise(h): h for h in ref}
    out = []
    for name, first in heads:
        if first is None:
            out.append(SheetPart(name, "empty"))
            continue
        own = {normalise(h): h for h in header_cells(first)}
        missing = tuple(h for n, h in ref_norm.items() if n not in own)
        extra = tuple(h for n, h in own.items() if n not in ref_norm)
        out.append(SheetPart(name, "other_columns", missing=missing, extra=extra) if missing or extra else SheetPart(name, "match"))
    return tuple(out)


def _sheet_rows(path: Path, sheet: str, limits: Limits):
    wb = _open_workbook(path, limits)
    try:
        yield from _data_rows(wb[sheet], Deadline(path.name, limits))
    finally:
        wb.close()


def _combined_rows(sniffed: Sniffed, limits: Limits, counts: list[tuple[str, int]]):
    """The header of the first matching sheet, then the data rows of every matching sheet, each row's
    cells in that header's order; appends (sheet, data rows) to ``counts`` as each sheet ends. Cells
    beyond a sheet's header are kept at the end of the row (which the reader then rejects)."""
    order = [normalise(h) for h in sniffed.headers]
    yield list(sniffed.headers)
    for sheet in sniffed.combined:
        rows = _sheet_rows(sniffed.path, sheet, limits)
        head = header_cells(next(rows))
        pos = {normalise(h): i for i, h in enumerate(head)}
        idx = [pos[h] for h in order]
        n = 0
        for cells in rows:
            beyond = cells[len(head):]
            while beyond and beyond[-1] in (None, ""):
                beyond.pop()
            yield [cells[i] if i < len(cells) else None for i in idx] + beyond
            n += 1
        counts.append((sheet, n))


def _pick_sheet(path: Path, sheet: str | None, limits: Limits, reveal: bool) -> tuple[str, tuple[str, ...]]:
    sheets = workbook_sheets(path, limits)
    if not sheets:
        raise BadInput(f"{path.name} has no rows in any sheet", code="empty_file")
    if sheet is not None:
        if sheet not in sheets:
            raise BadInput(
                f"{path.name} has no sheet {sheet!r} with data" + (f"; sheets with data: {', '.join(sheets)}" if reveal else ""),
                code="no_sheet",
                sheet=sheet,
                **({"sheets": list(sheets)} if reveal else {}),
            )
        return sheet, sheets
    if len(sheets) > 1:
        raise BadInput(
            f"{path.name} has {len(sheets)} sheets with data"
            + (f" ({', '.join(sheets)})" if reveal else "")
            + "; pick one (--sheet NAME)",
            code="choose_sheet",
            count=len(sheets),
            **({"sheets": list(sheets)} if reveal else {}),
        )
    return sheets[0], sheets


def _sniff_xlsx(
    path: Path, columns: list[str] | None, known: Callable[[str], bool], limits: Limits, sheet: str | None, reveal: bool
) -> Sniffed:
    sheet, sheets = _pick_sheet(path, sheet, limits, reveal)
    rows = []
    for cells in _sheet_rows(path, sheet, limits):
        rows.append(cells)
        if len(rows) > SAMPLE_ROWS:
            break
    titles = () if columns else _titles(rows, known)
    rows = rows[len(titles):]
    first = [c or "" for c in rows[0]]
    if columns:
        headers = _unique(columns)
        has_header = [normalise(c) for c in first[: len(columns)]] == [normalise(c) for c in columns]
    else:
        has_header = looks_like_header(first, [[c or "" for c in r] for r in rows[1:50]], known)
        if not has_header:
            raise BadInput(f"{path.name} has no header row; give the column names (--columns a,b,c)", code="no_header")
        headers = header_cells(first)
    _check_columns(path, headers, limits)
    data = rows[1:] if has_header else rows
    if not data:
        raise BadInput(f"{path.name} has a header row but no data rows", code="no_rows")
    sample = tuple(tuple(r[i] if i < len(r) else None for i in range(len(headers))) for r in data)
    return Sniffed(path, "xlsx", None, ",", has_header, tuple(headers), sample, len(titles) + (1 if has_header else 0), sheet,
                   sheets, titles=titles)


def is_workbook(path: Path) -> bool:
    """Whether ``path`` is an existing .xlsx workbook (by its first bytes and name)."""
    if not path.is_file():
        return False
    with open(path, "rb") as fh:
        head = fh.read(4096)
    return head.startswith(b"PK\x03\x04") and detect_format(path, head) == "xlsx"


def _sniff_parquet(path: Path, columns: list[str] | None, limits: Limits) -> Sniffed:
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except Exception as exc:
        raise BadInput(f"{path.name} is not a readable Parquet file", code="bad_parquet") from exc
    names = list(pf.schema_arrow.names)
    _check_columns(path, names, limits)
    if columns and len(columns) == len(names):
        names = columns
    if pf.metadata.num_rows == 0:
        raise BadInput(f"{path.name} has no rows", code="no_rows")
    batch = next(pf.iter_batches(batch_size=SAMPLE_ROWS))
    cols = [[_cell_text(v) for v in batch.column(i).to_pylist()] for i in range(batch.num_columns)]
    sample = tuple(zip(*cols)) if cols else ()
    return Sniffed(path, "parquet", None, None, True, tuple(_unique(names)), tuple(sample), 0)


def _sniff_json(path: Path, columns: list[str] | None, limits: Limits) -> Sniffed:
    """JSON records (:mod:`analytics.ingest.json_records`): one column per leaf, named by its keys."""
    paths, sample, records = json_records.read_head(path, SAMPLE_ROWS, Deadline(path.name, limits))
    if not records or not paths:
        raise BadInput(f"{path.name} has no records", code="no_rows")
    names = [json_records.header(p) for p in paths]
    _check_columns(path, names, limits)
    if columns and len(columns) == len(names):
        names = columns
    return Sniffed(path, "json", None, ",", True, tuple(_unique(names)), tuple(sample), 0, json_paths=tuple(paths))


class Deadline:
    """Raises :class:`BadInput` once a conversion has run longer than the limit."""

    def __init__(self, name: str, limits: Limits) -> None:
        self.name = name
        self.seconds = limits.max_convert_seconds
        self.end = time.monotonic() + self.seconds

    def remaining(self) -> float:
        """Seconds left (none or less: past the deadline)."""
        return self.end - time.monotonic()

    def error(self) -> BadInput:
        return BadInput(
            f"converting {self.name} took longer than {self.seconds:,} s (REELYTICS_MAX_CONVERT_SECONDS); "
            "save it as a UTF-8 CSV and upload that",
            code="conversion_too_slow",
            limit_seconds=self.seconds,
        )

    def check(self) -> None:
        if self.remaining() < 0:
            raise self.error()


def _staging_file(staging_dir: Path) -> tuple[int, Path]:
    staging_dir.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix="ingest-", suffix=".csv", dir=staging_dir)
    return fd, Path(name)


def convert_to_utf8_csv(
    sniffed: Sniffed,
    staging_dir: Path,
    progress=None,
    limits: Limits | None = None,
    sheet_rows: list[tuple[str, int]] | None = None,
) -> Path:
    """Stream a legacy-encoded text file or an Excel sheet into a UTF-8 CSV in ``staging_dir``.

    Every matching sheet (:attr:`Sniffed.combined`) is written after one header row, and
    ``sheet_rows`` receives (sheet, data rows) for each. The caller removes the returned file. Memory
    use is one chunk (text) or one row (Excel).
    """
    limits = limits or Limits()
    deadline = Deadline(sniffed.path.name, limits)
    fd, out = _staging_file(staging_dir)
    try:
        if sniffed.format == "json":
            os.close(fd)
            if progress:
                progress(0.0, "reading_json")
            json_records.write_csv(sniffed.path, list(sniffed.json_paths), out, deadline)
        elif sniffed.format == "xlsx":
            rows = (
                _combined_rows(sniffed, limits, sheet_rows if sheet_rows is not None else [])
                if sniffed.combined
                else _sheet_rows(sniffed.path, sniffed.sheet or "", limits)
            )
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
                writer = csv.writer(fh, lineterminator="\n")
                for i, cells in enumerate(rows):
                    writer.writerow(["" if c is None else c for c in cells])
                    if progress and i % 20000 == 0:
                        progress(0.0, "reading_excel", row=i)
        else:
            total = max(sniffed.path.stat().st_size, 1)
            decoder = codecs.getincrementaldecoder(sniffed.encoding or "utf-8")(errors="strict")
            done = 0
            with open(sniffed.path, "rb") as src, os.fdopen(fd, "w", encoding="utf-8", newline="") as dst:
                while chunk := src.read(CHUNK_BYTES):
                    done += len(chunk)
                    deadline.check()
                    try:
                        dst.write(decoder.decode(chunk))
                    except UnicodeDecodeError as exc:
                        raise BadInput(
                            f"{sniffed.path.name} is not valid {sniffed.encoding} near byte {done - len(chunk) + exc.start:,}; "
                            "pass the right --encoding",
                            code="bad_encoding",
                            encoding=sniffed.encoding,
                            byte=done - len(chunk) + exc.start,
                        ) from exc
                    if progress:
                        progress(done / total, "converting")
                dst.write(decoder.decode(b"", final=True))
    except BaseException:
        out.unlink(missing_ok=True)
        raise
    return out


@dataclass(frozen=True)
class TextFacts:
    """What one streamed pass over a text file finds: the lines over the line limit (numbers, 1-based),
    the longest line in bytes, whether any byte is NUL or outside ASCII, and whether a cell may start
    or end with a space (a space next to a delimiter, a quote or a line end; ``False`` in an ASCII
    file: no cell needs trimming. Other files may hold wider spaces, which the trim also removes), and
    whether a cell may start with a character a spreadsheet reads as a formula (one of ``=+@-``, a tab
    or a carriage return after a delimiter, a quote, a line start or a space; after any non-ASCII byte
    too, which may end a wide space)."""

    long_lines: list[int]
    longest: int
    has_nul: bool
    ascii: bool
    spaced: bool = True
    formula_start: bool = True


#: Bytes a cell's first or last character can touch: every delimiter the reader accepts, the quote
#: and the line ends.
_CELL_EDGES = b",;|\t\n\r\""
#: Characters that make a spreadsheet read a cell as a formula when they start it.
_FORMULA_STARTS = b"=+@-\t\r"


def chunks(path: Path, size: int = CHUNK_BYTES * 8):
    """The bytes of ``path`` in chunks of ``size``, read into one reused buffer (a fresh buffer a chunk
    costs the kernel a page fault and a cleared page every 4 KiB): each chunk is valid until the next."""
    buf = bytearray(size)
    with open(path, "rb", buffering=0) as fh:
        while n := fh.readinto(buf):
            yield buf if n == size else buf[:n]


def text_facts(path: Path, max_line_bytes: int, digest=None, progress: Callable[[float], None] | None = None) -> TextFacts:
    """:class:`TextFacts` of ``path``, streamed (NumPy over 8 MiB chunks). ``digest`` (a :mod:`hashlib`
    object) is fed every chunk on the way, so that one read gives the file's checksum too;
    ``progress`` receives the share of the file read."""
    import numpy as np

    found: list[int] = []
    line = 1  # number of the line the chunk starts in
    length = 0  # bytes of that line before the chunk
    longest, has_nul, ascii_only, spaced, formula = 0, False, True, False, False
    edge = np.zeros(256, dtype=bool)
    edge[list(_CELL_EDGES)] = True
    before_formula = edge.copy()  # a space may be trimmed, a non-ASCII byte may end a wide space
    before_formula[32] = True
    before_formula[128:] = True
    last = 10  # the byte before the chunk: the file starts a line
    total, done = max(path.stat().st_size, 1), 0
    for chunk in chunks(path):
        if digest is not None:
            digest.update(chunk)
        if progress is not None:
            done += len(chunk)
            progress(done / total)
        arr = np.frombuffer(chunk, dtype=np.uint8)
        has_nul = has_nul or b"\0" in chunk
        ascii_only = ascii_only and chunk.isascii()
        if spaced:
            ends = np.flatnonzero(arr == 10)
        else:  # the line ends and the spaces from one pass over the bytes
            low = np.flatnonzero(arr <= 32)
            kinds = arr[low]
            ends = low[kinds == 10]
            spaced = _space_at_an_edge(arr, low[kinds == 32], last, edge)
        if not formula:
            formula = _formula_start(chunk, arr, last, before_formula)
        last = int(arr[-1])
        if len(ends) == 0:
            length += len(chunk)
            continue
        sizes = np.diff(ends, prepend=-1)  # bytes of each line ending in this chunk, with the "\n"
        sizes[0] += length
        longest = max(longest, int(sizes.max()) - 1)
        for k in np.flatnonzero(sizes - 1 > max_line_bytes):
            found.append(line + int(k))
        line += len(ends)
        length = len(chunk) - int(ends[-1]) - 1
    if length > max_line_bytes:
        found.append(line)
    return TextFacts(found, max(longest, length), has_nul, ascii_only, spaced, formula)


def _formula_start(chunk: bytes, arr, before_first: int, before) -> bool:
    """Whether a byte of :data:`_FORMULA_STARTS` in ``chunk`` (``arr``: its bytes as NumPy) follows a
    byte in ``before`` (a lookup table); ``before_first`` is the byte before the chunk."""
    import numpy as np

    for c in _FORMULA_STARTS:
        if c not in chunk:  # a byte search, far cheaper than a pass of NumPy
            continue
        at = np.flatnonzero(arr == c)
        if (at[0] == 0 and before[before_first]) or before[arr[at[at > 0] - 1]].any():
            return True
    return False


def _space_at_an_edge(arr, at, before_first: int, edge) -> bool:
    """Whether a space in the bytes ``arr`` (``at``: the positions of every space, ascending) touches a
    cell's edge (``edge``: a lookup table of bytes); ``before_first`` is the byte before them. A space
    ending the chunk counts (its next byte is unseen)."""
    if not len(at):
        return False
    if at[-1] == len(arr) - 1:
        return True
    before = arr[at[at > 0] - 1]
    return bool(edge[before].any() or (at[0] == 0 and edge[before_first]) or edge[arr[at + 1]].any())


def long_lines(path: Path, max_line_bytes: int) -> list[int]:
    """Numbers (1-based) of the physical lines of ``path`` longer than ``max_line_bytes``, streamed."""
    return text_facts(path, max_line_bytes).long_lines


def mark_long_lines(path: Path, lines: list[int], n_fields: int, delimiter: str, staging_dir: Path) -> Path:
    """A copy of the UTF-8 text ``path`` in ``staging_dir`` with each of ``lines`` replaced by one row of
    ``n_fields`` fields whose first is :data:`LONG_LINE_MARK` plus the line's first bytes (so that the
    row is rejected as over-long, and every other line keeps its number). The caller removes it."""
    todo = set(lines)
    fd, out = _staging_file(staging_dir)
    try:
        with open(path, "rb") as src, os.fdopen(fd, "wb") as dst:
            number = 0
            while True:
                raw = src.readline(CHUNK_BYTES)
                if not raw:
                    break
                number += 1
                if number not in todo:
                    dst.write(raw)
                    while not raw.endswith(b"\n"):  # only a line over the limit is read in parts
                        raw = src.readline(CHUNK_BYTES)
                        if not raw:
                            break
                        dst.write(raw)
                    continue
                head = raw[:LONG_LINE_HEAD].decode("utf-8", "replace").replace("\r", " ").replace("\n", " ")
                while not raw.endswith(b"\n"):
                    raw = src.readline(CHUNK_BYTES)
                    if not raw:
                        break
                buf = io.StringIO()
                csv.writer(buf, delimiter=delimiter, lineterminator="\n").writerow([LONG_LINE_MARK + head] + [""] * (n_fields - 1))
                dst.write(buf.getvalue().encode("utf-8"))
    except BaseException:
        out.unlink(missing_ok=True)
        raise
    return out


#: Staged files untouched for this long belong to no running upload: a killed conversion's
#: ``ingest-*`` copy, a page upload's ``upload-*.part``; saved uploads never imported go after a day.
STALE_WORK_SECONDS = 3600
STALE_UPLOAD_SECONDS = 86400


def clean_staging(staging_dir: Path, limits: Limits | None = None, now: float | None = None) -> list[str]:
    """Remove stale files from the staging folder; returns their names (``limits``: default from the
    environment)."""
    limits = limits or Limits.from_env()
    now = time.time() if now is None else now
    work_age = max(STALE_WORK_SECONDS, 2 * limits.max_convert_seconds)
    removed = []
    if not staging_dir.is_dir():
        return removed
    for f in staging_dir.iterdir():
        if f.name.startswith("ingest-") or f.name.endswith(".part"):
            max_age = work_age
        elif f.name.startswith("upload-"):
            max_age = STALE_UPLOAD_SECONDS
        else:
            continue
        try:
            if f.is_file() and not f.is_symlink() and now - f.stat().st_mtime > max_age:
                f.unlink()
                removed.append(f.name)
        except OSError:  # removed meanwhile by another process
            pass
    return removed
