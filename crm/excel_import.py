"""Reading an uploaded spreadsheet safely into rows: .xlsx and legacy .xls with python-calamine, .csv with the
csv module (UTF-8 with or without BOM, UTF-16 with BOM, else GBK/GB18030).

Refused with a clear Chinese message (`SpreadsheetError`), before anything is parsed:
- a file over `MAX_BYTES`, an empty file, an unsupported extension;
- content that is not what a spreadsheet looks like (a picture or text renamed .xlsx, a Word file, an HTML page
  saved as .xls, a binary file named .csv), whatever the extension says: the first bytes decide;
- an .xlsx (a zip) that inflates beyond `MAX_UNCOMPRESSED` or `MAX_RATIO` times its own size, has too many
  members, or whose members inflate to more than their headers declare (a "zip bomb"). Every member is inflated
  once, streaming and counting, before calamine opens the file: cheap (≈0.1 s for 80 MB of sheet XML) and it
  does not trust the declared sizes;
- an .xlsx with a DTD in any part (entity expansion — "billion laughs" — or external entities), or with a VBA
  project (a macro workbook renamed .xlsx);
- an .xlsx whose worksheet reaches beyond `MAX_ROWS` data rows, `MAX_COLUMNS` columns or `MAX_CELLS` cells: seen
  in the cell references while the sheet is inflated, before calamine allocates the whole used range (two cells,
  A1 and Z1048576, would otherwise cost 850 MB);
- a password-protected workbook (an OLE file holding an EncryptedPackage);
- more than `MAX_ROWS` data rows, or a cell longer than Excel allows (`MAX_CELL_CHARS`).

.xlsx and .xls files are parsed in a child process (this file run as a script, `--read-sheet`): python-calamine
holds the whole sheet in memory (≈150 MB for 100,000 rows of the 35-column import template), which then stays out
of the web worker, and the parser of an untrusted file runs under its own memory and CPU limits (`CHILD_MEMORY`,
`CHILD_CPU_SECONDS`), so a file that makes it misbehave costs that child, not the worker. Rows come back in
batches over a pipe (pickled; unpickled with only the datetime classes allowed). Should the child not start, the
file is read in-process.

Cells come back as calamine gives them (str, float, int, bool, date, datetime, time, timedelta); CSV cells are
str. Row numbers are the spreadsheet's own (1-based, as Excel shows them), so a report can point at them.
"""

from __future__ import annotations

import codecs
import csv
import io
import pickle  # nosec B403  # frames from our own child only, read by _CellUnpickler (datetime allow-list)
import re
import struct
import subprocess  # nosec B404  # only the sheet-reading child: sys.executable -I this file, no shell
import sys
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import IO, Any

MAX_BYTES = 20 * 1024 * 1024
MAX_UNCOMPRESSED = 400 * 1024 * 1024  # all members of an .xlsx together, inflated
MAX_RATIO = 100  # inflated / compressed, over the whole file (real sheets: 5–20)
RATIO_FLOOR = 16 * 1024 * 1024  # small files may inflate this much whatever their ratio
MAX_MEMBERS = 5_000
MAX_ROWS = 200_000  # data rows, header excluded
MAX_COLUMNS = 256  # columns a worksheet may reach (the widest import template has 35)
MAX_CELLS = 8_000_000  # rows × columns of a worksheet's used range (calamine holds all of it, ≈ 70 bytes a cell)
MAX_CELL_CHARS = 32_767  # Excel's own limit for the text of one cell
EXTENSIONS = (".xlsx", ".xls", ".csv")
CHILD_MEMORY = 1536 * 1024 * 1024  # address space of the sheet-reading child
CHILD_CPU_SECONDS = 300
BATCH = 2_000  # rows per message from the child
MAX_FRAME = 256 * 1024 * 1024

ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# Other kinds of file that are never a spreadsheet, whatever their name (a PDF can be pure ASCII, so the text test
# below would call it text).
OTHER_MAGIC = (b"%PDF-", b"\x7fELF", b"\x89PNG", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"\x1f\x8b", b"Rar!",
               b"7z\xbc\xaf")
ENCRYPTED_OLE = "EncryptedPackage".encode("utf-16-le")  # the stream Excel writes for a workbook with a password


def _(message: str, **variables: Any) -> str:
    """flask_babel's gettext, imported when first used: the sheet-reading child process runs without Flask."""
    from flask_babel import gettext

    return gettext(message, **variables)


class SpreadsheetError(ValueError):
    """The file is refused as a whole; `message` is shown to the user. Nothing has been read or written."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class Table:
    """The first worksheet of a file, row by row. `rows()` yields (row number, cells); wholly empty rows are skipped."""

    fmt: str  # xlsx | xls | csv
    height: int  # rows in the sheet (an estimate for CSV: its line count), for progress
    encoding: str | None = None  # CSV only
    sheet_name: str | None = None
    first_row: int = 1
    first_col: int = 0  # column offset of the first cell (calamine ranges start at the first used cell)
    _source: Any = field(default=None, repr=False)
    _close: Callable[[], None] | None = field(default=None, repr=False)

    def close(self) -> None:
        """Stop reading (ends the child process, if any). Safe to call twice."""
        if self._close is not None:
            self._close()
            self._close = None

    def rows(self) -> Iterator[tuple[int, list[Any]]]:
        number = self.first_row
        for cells in self._source:
            if any(c != "" and c is not None for c in cells):
                yield number, cells
            number += 1


def column_letter(index: int) -> str:
    """0 → A, 25 → Z, 26 → AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def read_table(data: bytes, filename: str) -> Table:
    """Check and open an uploaded file; raise SpreadsheetError for anything that is not a safe spreadsheet."""
    ext = PurePath(filename or "").suffix.lower()
    if ext not in EXTENSIONS:
        raise SpreadsheetError(_("仅支持 .xlsx、.xls 或 .csv 文件（当前文件：%(name)s）", name=filename or "?"))
    if len(data) > MAX_BYTES:
        raise SpreadsheetError(_("文件过大（%(size).1f MB），最大 %(max)d MB；请拆分后分批导入",
                                 size=len(data) / 1024 / 1024, max=MAX_BYTES // 1024 // 1024))
    if not data:
        raise SpreadsheetError(_("文件是空的"))
    head = data[:8]
    if head.startswith(ZIP_MAGIC):
        _check_xlsx(data)
        return _calamine(data, "xlsx")
    if head == OLE_MAGIC:
        if ENCRYPTED_OLE in data:
            raise SpreadsheetError(_("文件设有密码，请先在 Excel 中取消密码后再导入"))
        return _calamine(data, "xls")
    if ext == ".csv":
        return _csv(data)
    if head.startswith(OTHER_MAGIC):
        raise SpreadsheetError(_("该文件不是 Excel 或 CSV 表格（可能是图片、压缩包或其他类型的文件），请选择 .xlsx、.xls 或 .csv 文件"))
    if _looks_like_text(data):
        stripped = data.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
        if stripped.startswith((b"<", b"\xff\xfe<", b"\xfe\xff\x00<")):
            raise SpreadsheetError(_("该文件不是真正的 Excel 文件（可能是网页格式另存的 .xls）；"
                                     "请用 Excel 打开后“另存为” .xlsx 再导入"))
        raise SpreadsheetError(_("该文件不是 Excel 文件（内容是纯文本）；如果是 CSV，请把扩展名改为 .csv 后再导入"))
    raise SpreadsheetError(_("该文件不是 Excel 或 CSV 表格（可能是图片、压缩包或其他类型的文件），请选择 .xlsx、.xls 或 .csv 文件"))


# ---------------------------------------------------------------- xlsx / xls

def _check_xlsx(data: bytes) -> None:
    """An .xlsx is a zip: refuse it unless it is a workbook whose members inflate to a sane, honest size."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, struct.error, EOFError):
        raise SpreadsheetError(_("文件已损坏，无法作为 Excel 文件打开")) from None
    names = {m.filename for m in members}
    if "xl/workbook.xml" not in names:
        if "word/document.xml" in names:
            raise SpreadsheetError(_("这是 Word 文档，不是 Excel 表格"))
        raise SpreadsheetError(_("该文件不是 Excel 表格（.xlsx 文件中没有工作簿）"))
    if len(members) > MAX_MEMBERS:
        raise SpreadsheetError(_("文件结构异常（包含 %(n)d 个部件），已拒绝导入", n=len(members)))
    if any(name.lower().endswith("vbaproject.bin") for name in names):
        raise SpreadsheetError(_("文件中含有宏（VBA 代码），为安全起见已拒绝导入；请在 Excel 中另存为不含宏的 .xlsx 后再导入"))
    budget = min(MAX_UNCOMPRESSED, max(RATIO_FLOOR, MAX_RATIO * len(data)))
    bomb = _("文件解压后异常巨大（超过 %(mb)d MB，或压缩比超过 %(ratio)d 倍），可能是“压缩炸弹”，已拒绝导入",
             mb=budget // 1024 // 1024, ratio=MAX_RATIO)
    if sum(m.file_size for m in members) > budget:
        raise SpreadsheetError(bomb)
    total = 0
    for member in members:
        scan = _PartScan(member.filename)
        inflated = _inflated_size(data, member, budget - total, scan)
        if inflated is None:
            raise SpreadsheetError(bomb)
        if inflated != member.file_size:
            raise SpreadsheetError(_("文件已损坏（压缩数据与文件头不符），已拒绝导入"))
        scan.check()
        total += inflated


class _PartScan:
    """What one part of an .xlsx holds, seen while it is inflated (chunk by chunk, never whole): a DTD anywhere,
    and for a worksheet the furthest row and column its cells reach and how many cells it has."""

    DTD = re.compile(rb"<!(?:DOCTYPE|ENTITY)|<\x00!\x00[DE]\x00")  # UTF-8 and UTF-16 spellings
    ROW = re.compile(rb' r="[A-Z]{1,3}([0-9]{1,9})"')
    COL = re.compile(rb' r="([A-Z]{1,9})[0-9]')

    def __init__(self, name: str) -> None:
        self.sheet = name.startswith("xl/worksheets/") and name.endswith(".xml")
        self.tail = b""
        self.rows = self.cols = self.cells = self.refs = self.row_tags = 0

    def feed(self, chunk: bytes) -> None:
        text = self.tail + chunk
        cut = text.rfind(b">") + 1  # scan whole tags only; a tag cut by the chunk waits for the next one
        if not cut:
            self.tail = text[-64:]
            return
        text, self.tail = text[:cut], text[cut:][-4096:]
        if self.DTD.search(text):
            raise SpreadsheetError(_("文件中含有 DTD 或外部实体声明（可能是恶意构造的文件），已拒绝导入；"
                                     "请用 Excel 重新保存为 .xlsx 后再导入"))
        if not self.sheet:
            return
        found = self.ROW.findall(text)
        if found:
            self.rows = max(self.rows, max(map(int, set(found))))
            self.refs += len(found)
        for letters in set(self.COL.findall(text)):
            number = 0
            for ch in letters:
                number = number * 26 + ch - 64
            self.cols = max(self.cols, number)
        self.cells += text.count(b"<c>") + text.count(b"<c ") + text.count(b"<c/>")
        self.row_tags += text.count(b"<row>") + text.count(b"<row ") + text.count(b"<row/>")
        self._limits()  # at once: a sheet of a million rows is refused after its first 200,000

    def check(self) -> None:
        if self.sheet and self.tail:
            self.feed(b">")  # the last, unterminated bit
        if self.sheet:
            self._limits()

    def _limits(self) -> None:
        # Cells or rows without a reference sit after the previous one: count them as extending the range.
        rows = max(self.rows, self.row_tags)
        cols = self.cols + max(0, self.cells - self.refs)
        if rows - 1 > MAX_ROWS:  # seen part way through the sheet: the count so far is not the sheet's
            raise SpreadsheetError(_("表格行数过多（超过 %(max)d 行），每次最多导入 %(max)d 行；请拆分后分批导入",
                                     max=MAX_ROWS))
        if cols > MAX_COLUMNS:
            raise SpreadsheetError(_("表格列数过多（超过 %(max)d 列）；请删除多余的列后再导入", max=MAX_COLUMNS))
        if rows * cols > MAX_CELLS:
            raise SpreadsheetError(_("表格过大（超过 %(max)d 个单元格）；请拆分后分批导入", max=MAX_CELLS))


def _inflated_size(data: bytes, member: zipfile.ZipInfo, budget: int, scan: _PartScan | None = None) -> int | None:
    """Inflate one member's actual compressed bytes, counting (and showing each piece to `scan`); None as soon as
    it exceeds `budget`. The declared sizes are not trusted: they are what a zip bomb lies about."""
    offset = member.header_offset
    header = data[offset:offset + 30]
    if len(header) < 30 or header[:4] != ZIP_MAGIC:
        raise SpreadsheetError(_("文件已损坏，无法作为 Excel 文件打开"))
    name_len, extra_len = struct.unpack("<HH", header[26:30])
    start = offset + 30 + name_len + extra_len
    compressed = memoryview(data)[start:start + member.compress_size]
    if len(compressed) != member.compress_size:
        raise SpreadsheetError(_("文件已损坏，无法作为 Excel 文件打开"))
    if member.flag_bits & 0x1:
        raise SpreadsheetError(_("文件设有密码，请先在 Excel 中取消密码后再导入"))
    if member.compress_type == zipfile.ZIP_STORED:
        if len(compressed) > budget:
            return None
        if scan is not None:
            for pos in range(0, len(compressed), 1 << 20):
                scan.feed(bytes(compressed[pos:pos + (1 << 20)]))
        return len(compressed)
    if member.compress_type != zipfile.ZIP_DEFLATED:
        raise SpreadsheetError(_("文件使用了不支持的压缩方式，请用 Excel 重新保存为 .xlsx 后再导入"))
    inflater = zlib.decompressobj(-15)
    total = 0
    step = 1 << 16
    try:
        for pos in range(0, len(compressed), step):
            chunk = inflater.decompress(compressed[pos:pos + step], 1 << 20)
            while True:
                total += len(chunk)
                if total > budget:
                    return None
                if scan is not None and chunk:
                    scan.feed(chunk)
                if not inflater.unconsumed_tail:
                    break
                chunk = inflater.decompress(inflater.unconsumed_tail, 1 << 20)
        rest = inflater.flush()
        total += len(rest)
        if scan is not None and rest:
            scan.feed(rest)
    except zlib.error:
        raise SpreadsheetError(_("文件已损坏，无法作为 Excel 文件打开")) from None
    return total if total <= budget else None


def _calamine(data: bytes, fmt: str) -> Table:
    """Open the first visible worksheet in a child process (see the module docstring)."""
    try:
        proc = subprocess.Popen(  # nosec B603  # fixed argv (this interpreter, this file); the upload goes to stdin
            [sys.executable, "-I", __file__, "--read-sheet"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    except OSError:
        return _calamine_here(data, fmt)
    try:
        try:
            proc.stdin.write(data)  # the child reads everything before it answers: no deadlock
            proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass
        head = _read_frame(proc.stdout)
        if not isinstance(head, dict):
            raise SpreadsheetError(_sheet_error("crashed", fmt))
        if "error" in head:
            raise SpreadsheetError(_sheet_error(head["error"], fmt))
        _check_height(head["height"])
    except BaseException:
        _end_child(proc)
        raise
    return Table(fmt=fmt, height=head["height"], sheet_name=head["sheet"], first_row=head["first_row"],
                 first_col=head["first_col"], _source=_child_rows(proc, fmt), _close=lambda: _end_child(proc))


def _child_rows(proc: subprocess.Popen, fmt: str) -> Iterator[list[Any]]:
    try:
        while True:
            message = _read_frame(proc.stdout)
            if isinstance(message, list):
                yield from message
            elif isinstance(message, dict) and message.get("end"):
                return
            elif isinstance(message, dict) and message.get("error") == "long_cell":
                raise SpreadsheetError(_sheet_error("long_cell", fmt))
            elif isinstance(message, dict) and "error" in message:
                raise SpreadsheetError(_("读取表格时出错（文件可能已损坏）：%(error)s", error=message.get("detail", "")))
            else:
                raise SpreadsheetError(_sheet_error("crashed", fmt))
    finally:
        _end_child(proc)


def _end_child(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait()
    for stream in (proc.stdin, proc.stdout):
        if stream is not None and not stream.closed:
            stream.close()


class _CellUnpickler(pickle.Unpickler):
    """Only what a cell can hold: the builtins and the datetime classes; anything else is refused."""

    ALLOWED = {("datetime", "date"), ("datetime", "datetime"), ("datetime", "time"), ("datetime", "timedelta")}

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name} is not a cell value")


def _read_frame(stream: IO[bytes]) -> Any:
    """One message from the child, or None at the end of the stream (the child died or is done)."""
    size = stream.read(4)
    if len(size) < 4:
        return None
    (length,) = struct.unpack("<I", size)
    if length > MAX_FRAME:
        return None
    blob = stream.read(length)
    if len(blob) < length:
        return None
    try:
        return _CellUnpickler(io.BytesIO(blob)).load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError):
        return None


def _sheet_error(code: str, fmt: str) -> str:
    if code == "password":
        return _("文件设有密码，请先在 Excel 中取消密码后再导入")
    if code == "no_sheet":
        return _("文件中没有可读取的工作表")
    if code == "crashed":
        return _("无法读取该文件：文件内容异常（过大、过于复杂或已损坏）")
    if code == "long_cell":
        return _("表格中有单元格内容过长（超过 %(n)d 个字符，Excel 单元格的上限），已拒绝导入", n=MAX_CELL_CHARS)
    if fmt == "xls":
        return _("无法读取该 .xls 文件：文件可能已损坏、设有密码，或不是 Excel 文件")
    return _("无法读取该 Excel 文件：文件可能已损坏")


def _check_height(height: int) -> None:
    if height - 1 > MAX_ROWS:
        raise SpreadsheetError(_("表格行数过多（%(n)d 行），每次最多导入 %(max)d 行；请拆分后分批导入",
                                 n=height - 1, max=MAX_ROWS))


def _open_sheet(data: bytes) -> Any:
    """The first visible worksheet; raises _ReadError(code)."""
    import python_calamine as pc

    try:
        book = pc.CalamineWorkbook.from_filelike(io.BytesIO(data))
        sheets = [m for m in book.sheets_metadata
                  if m.typ == pc.SheetTypeEnum.WorkSheet and m.visible == pc.SheetVisibleEnum.Visible]
        if not sheets:
            raise _ReadError("no_sheet")
        return book.get_sheet_by_name(sheets[0].name)
    except pc.PasswordError:
        raise _ReadError("password") from None
    except _ReadError:
        raise
    except Exception:  # noqa: BLE001 - calamine raises many kinds for a damaged file; all mean the same here
        raise _ReadError("damaged") from None


class _ReadError(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def _calamine_here(data: bytes, fmt: str) -> Table:
    """The same, in this process (when no child process can be started)."""
    try:
        sheet = _open_sheet(data)
    except _ReadError as exc:
        raise SpreadsheetError(_sheet_error(exc.code, fmt)) from None
    start = sheet.start or (0, 0)
    height = sheet.height or 0
    _check_height(height)
    return Table(fmt=fmt, height=height, sheet_name=sheet.name, first_row=start[0] + 1, first_col=start[1],
                 _source=_guard(sheet.iter_rows()))


def _guard(rows: Iterator[list[Any]]) -> Iterator[list[Any]]:
    try:
        yield from rows
    except Exception as exc:  # noqa: BLE001 - a sheet damaged halfway
        raise SpreadsheetError(_("读取表格时出错（文件可能已损坏）：%(error)s", error=str(exc)[:200])) from None


def _child_main() -> None:
    """`python excel_import.py --read-sheet`: the file on stdin; frames (4-byte length + pickle) on stdout: a
    head {height, sheet, first_row, first_col} or {error}, then lists of rows, then {end} or {error}."""
    import resource

    for limit, value in ((resource.RLIMIT_AS, CHILD_MEMORY), (resource.RLIMIT_CPU, CHILD_CPU_SECONDS)):
        try:
            resource.setrlimit(limit, (value, value))
        except (ValueError, OSError):
            pass
    data = sys.stdin.buffer.read()
    out = sys.stdout.buffer

    def send(message: Any) -> None:
        blob = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        out.write(struct.pack("<I", len(blob)))
        out.write(blob)

    try:
        sheet = _open_sheet(data)
    except _ReadError as exc:
        send({"error": exc.code})
        out.flush()
        return
    except MemoryError:
        send({"error": "crashed"})
        out.flush()
        return
    del data
    start = sheet.start or (0, 0)
    send({"height": sheet.height or 0, "sheet": sheet.name, "first_row": start[0] + 1, "first_col": start[1]})
    batch: list[Any] = []
    try:
        for row in sheet.iter_rows():
            if any(type(cell) is str and len(cell) > MAX_CELL_CHARS for cell in row):
                send({"error": "long_cell"})
                out.flush()
                return
            batch.append(row)
            if len(batch) >= BATCH:
                send(batch)
                batch = []
        if batch:
            send(batch)
        send({"end": True})
    except BrokenPipeError:
        return  # the parent stopped reading
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which refuses the file
        send({"error": "broken", "detail": str(exc)[:200]})
    out.flush()


# ---------------------------------------------------------------- csv

def _looks_like_text(data: bytes) -> bool:
    sample = data[:4096]
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return True
    return b"\x00" not in sample


def decode_text(data: bytes) -> tuple[str, str]:
    """The text of a CSV and the encoding it was in: UTF-16 (BOM), UTF-8 with or without BOM, else GB18030
    (a superset of GBK and GB2312, what Chinese Excel writes)."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError:
            pass
    try:
        text = data.decode("utf-8-sig")
        return text, "utf-8-sig" if data.startswith(codecs.BOM_UTF8) else "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030"), "gb18030"
    except UnicodeDecodeError:
        raise SpreadsheetError(_("无法识别 CSV 文件的文字编码；请在 Excel 中另存为“CSV UTF-8（逗号分隔）”或 .xlsx 后再导入")) from None


def _csv(data: bytes) -> Table:
    utf16 = data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    if not utf16 and b"\x00" in data:
        raise SpreadsheetError(_("该文件不是文本格式的 CSV 文件（可能是其他类型的文件改了扩展名）"))
    text, encoding = decode_text(data)
    if "\x00" in text:
        raise SpreadsheetError(_("该文件不是文本格式的 CSV 文件（可能是其他类型的文件改了扩展名）"))
    first = text[:4096].split("\n", 1)[0]
    delimiter = max((",", "\t", ";"), key=first.count) if first else ","
    # One pass to check the whole file's structure and count its records, before anything is imported.
    records = 0
    try:
        for _record in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter):
            records += 1
    except csv.Error as exc:
        raise SpreadsheetError(_("CSV 文件格式有误：%(error)s", error=str(exc)[:200])) from None
    if records - 1 > MAX_ROWS:
        raise SpreadsheetError(_("表格行数过多（%(n)d 行），每次最多导入 %(max)d 行；请拆分后分批导入",
                                 n=records - 1, max=MAX_ROWS))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    return Table(fmt="csv", height=records, encoding=encoding, _source=reader)


if __name__ == "__main__" and sys.argv[1:2] == ["--read-sheet"]:
    _child_main()
