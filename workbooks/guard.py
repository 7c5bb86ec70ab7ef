"""Refuse hostile or broken workbook files before anything reads them.

python-calamine (Rust) and the zip editing code trust what a file says about itself. A
crafted file can make them decompress without end or allocate hundreds of GiB, and calamine
then aborts the whole process (a failed Rust allocation is not a Python exception).
`check_book_file` inspects the package with bounded reads only and raises
`BookUnreadableError`, naming the file, the problem and what to do, when:

- the path is missing, a folder, empty or unreadable;
- the file is not a zip (a CSV renamed .xlsx), or an OLE2 compound file: how Excel stores a
  password-protected workbook, and also a legacy .xls;
- the zip is damaged or truncated, or a part fails its CRC;
- the zip is not an Excel workbook (no [Content_Types].xml or xl/workbook.xml);
- it looks like a zip bomb: too many entries, too much declared data, an extreme compression
  ratio, overlapping entries, or a part whose declared size lies (every part is inflated
  streaming under a hard cap, never trusting its header);
- an XML part has a DTD (`<!DOCTYPE`, `<!ENTITY`) before its root element: entity bombs and
  external entities (XXE). Excel never writes one;
- a worksheet or table spans an absurd block of cells. calamine allocates one 32-byte cell
  for every position of the rectangle from the first cell to the last, so A1 plus
  XFD1048576 asks for 512 GiB and kills the process. Measured with python-calamine 0.9.1.
"""

from __future__ import annotations

import collections
import posixpath
import re
import stat
import struct
import xml.etree.ElementTree as ET
import zipfile
import zlib
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from itertools import chain, pairwise
from pathlib import Path
from typing import BinaryIO, NoReturn
from xml.parsers import expat

from sheetloop.errors import BookUnreadableError

__all__ = ["DEFAULT_LIMITS", "GuardLimits", "check_book_file"]


@dataclass(frozen=True)
class GuardLimits:
    """Ceilings beyond which a workbook file is refused without being expanded."""

    max_total_uncompressed: int = 2 * 1024**3
    """Sum of the declared sizes of all parts."""
    max_entries: int = 10_000
    max_ratio: float = 200.0
    """Real workbook parts compress 4-25:1; deflate bombs reach about 1000:1."""
    ratio_min_size: int = 4 * 1024**2
    """The ratio is judged only for parts larger than this."""
    max_cells: int = 50_000_000
    """Largest block (rows x columns) a sheet or table may span: about 1.6 GB in calamine."""
    max_prolog_bytes: int = 64 * 1024
    """How far into an XML part its root element must start."""
    max_index_part_bytes: int = 64 * 1024**2
    """xl/workbook.xml and its relationships are parsed whole, so they are bounded."""


DEFAULT_LIMITS = GuardLimits()

_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_XML_SUFFIXES = (".xml", ".rels", ".vml")
_WORKBOOK = "xl/workbook.xml"
_WORKBOOK_RELS = "xl/_rels/workbook.xml.rels"
_CONTENT_TYPES = "[content_types].xml"
_SHEET_ROOTS = ("worksheet", "dialogsheet")
_MAX_ROW = 1_048_576
_MAX_COL = 16_384
_CELL_BYTES = 32  # calamine asked for 549,755,813,888 bytes for A1:XFD1048576
_READ_SIZE = 1024**2
_INFLATE_SIZE = 4 * 1024**2
_OVERLAP = 256  # bytes kept between scanned chunks: longer than any pattern's context
_CD_BYTES_PER_ENTRY = 1024  # a generous central-directory record (46 bytes + name + extras)
_UTF16_NAMES = {"utf-16", "utf-16le", "utf-16be", "utf-16-le", "utf-16-be"}
# Encodings in which markup is plain ASCII, so that byte patterns can read it.
_ENCODINGS = {
    "utf-8",
    "utf8",
    "us-ascii",
    "ascii",
    "iso-8859-1",
    "latin-1",
    "latin1",
    "windows-1252",
    "cp1252",
}
_RESAVE = "Open it in Excel and save it again (File > Save As > Excel Workbook), then try again."
_DAMAGED = "Restore it from a backup, or download or copy it again."
_HOSTILE = (
    "Do not open it in other programs either; if you trust its source, ask for a copy saved "
    "from Excel."
)


def check_book_file(
    path: Path,
    *,
    sheets_to_read: Collection[str] | None = None,
    limits: GuardLimits = DEFAULT_LIMITS,
) -> None:
    """Refuse ``path`` unless it is a workbook package that is safe to read and edit.

    Reads only bounded amounts and keeps at most a few MiB of a part in memory (up to
    ``limits.max_index_part_bytes`` of xl/workbook.xml and its relationships, which are
    parsed); every part is inflated once, a sheet written in an unusual way up to three
    times. The cell extent is measured for the sheets named in ``sheets_to_read`` (as in
    xl/workbook.xml), or for every sheet when it is None. Raises `BookUnreadableError`
    (exit 2) whose message names the file, the problem and what to do.
    """
    size = _check_path(path)
    try:
        with path.open("rb") as fh:
            _Inspection(path, fh, size, limits).run(sheets_to_read)
    except OSError as exc:
        raise BookUnreadableError(
            f"{path}: cannot read the file ({exc.strerror or exc}). Check that it exists and "
            "that you have permission to read it."
        ) from exc


def _check_path(path: Path) -> int:
    try:
        st = path.stat()
    except FileNotFoundError:
        raise BookUnreadableError(
            f"{path}: no such file. Check the folder and the file name."
        ) from None
    except OSError as exc:
        raise BookUnreadableError(
            f"{path}: cannot read the file ({exc.strerror or exc}). Check the path and that "
            "you have permission to read it."
        ) from exc
    if stat.S_ISDIR(st.st_mode):
        raise BookUnreadableError(
            f"{path}: is a folder, not a workbook file. Give the path of an .xlsx or .xlsm file."
        )
    if not stat.S_ISREG(st.st_mode):
        raise BookUnreadableError(
            f"{path}: is not a regular file. Give the path of an .xlsx or .xlsm file."
        )
    if st.st_size == 0:
        raise BookUnreadableError(
            f"{path}: the file is empty (0 bytes), so it holds no workbook. {_DAMAGED}"
        )
    return st.st_size


# --- the zip package --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Entry:
    name: str
    key: str  # how calamine looks parts up: ASCII case ignored, backslashes as slashes
    method: int
    crc: int
    compress_size: int
    file_size: int
    data_start: int


@dataclass(frozen=True)
class _Root:
    """The root element of an XML part, as its start tag is written."""

    qname: bytes
    attributes: bytes
    utf16: bool = False

    @property
    def local(self) -> str:
        return self.qname.rpartition(b":")[2].decode("latin-1")

    @property
    def prefix(self) -> bytes:
        return self.qname.rpartition(b":")[0]


class _Inspection:
    """One check of one open file."""

    def __init__(self, path: Path, fh: BinaryIO, size: int, limits: GuardLimits) -> None:
        self.path = path
        self.fh = fh
        self.size = size
        self.limits = limits
        self.part_to_sheet: dict[str, str] = {}
        self.selected: set[str] = set()
        self.scan_every_sheet = True

    def refuse(self, problem: str) -> NoReturn:
        raise BookUnreadableError(f"{self.path}: {problem}")

    def run(self, sheets_to_read: Collection[str] | None) -> None:
        self._check_signature()
        entries = self._read_directory()
        parts = {e.key: e for e in entries}
        self._check_is_workbook(parts)
        done = self._map_sheets(parts, sheets_to_read)
        for entry in entries:
            if entry.key not in done:
                self._check_part(entry)

    # --- what kind of file --------------------------------------------------------------------

    def _check_signature(self) -> None:
        self.fh.seek(0)
        head = self.fh.read(512)
        if head.startswith(_OLE2_MAGIC):
            self.refuse(
                "is password-protected (encrypted) or an old .xls workbook, which sheetloop "
                "cannot read. Remove the password (in Excel: File > Info > Protect Workbook > "
                "Encrypt with Password, and clear it) or save it as .xlsx, then try again."
            )
        if not head.startswith(b"PK"):
            kind = "a text file such as a CSV" if _looks_like_text(head) else "another kind of file"
            self.refuse(
                f"is not a zip package, so it is not an .xlsx/.xlsm workbook: it looks like "
                f"{kind}, perhaps renamed to {self.path.suffix or 'this name'}. Open it in Excel "
                "and save it as an Excel Workbook (.xlsx)."
            )

    def _read_directory(self) -> list[_Entry]:
        limits = self.limits
        count, directory_bytes = self._end_record()
        if count > limits.max_entries or directory_bytes > limits.max_entries * _CD_BYTES_PER_ENTRY:
            self.refuse(
                f"refused as a possible zip bomb: its zip directory lists {count:,} entries in "
                f"{_size(directory_bytes)}, more than the {limits.max_entries:,} entries a "
                f"workbook may have. {_HOSTILE}"
            )
        try:
            infos = zipfile.ZipFile(self.fh).infolist()
        except (zipfile.BadZipFile, EOFError, ValueError, struct.error, NotImplementedError) as e:
            self.refuse(f"the zip package is damaged or truncated ({e}). {_DAMAGED}")
        if len(infos) > limits.max_entries:
            self.refuse(
                f"refused as a possible zip bomb: the package has {len(infos):,} entries, more "
                f"than the {limits.max_entries:,} a workbook may have. {_HOSTILE}"
            )
        seen: dict[str, str] = {}
        total = 0
        for info in infos:
            key = _part_key(info.filename)
            if key in seen:
                self.refuse(
                    f"the package has two parts named {seen[key]!r} and {info.filename!r} "
                    f"(the same name to Excel), so readers would disagree on which to use. "
                    f"{_RESAVE}"
                )
            seen[key] = info.filename
            self._check_entry_header(info)
            total += info.file_size
        if total > limits.max_total_uncompressed:
            self.refuse(
                f"refused as a possible zip bomb: its parts expand to {_size(total)} in all, "
                f"more than the {_size(limits.max_total_uncompressed)} limit. If it is a "
                "genuine workbook, split its data across smaller workbooks."
            )
        return self._locate_data(infos)

    def _end_record(self) -> tuple[int, int]:
        """Entry count and directory size, read before zipfile builds an object per entry."""
        tail_len = min(self.size, 22 + 0xFFFF)
        self.fh.seek(self.size - tail_len)
        tail = self.fh.read(tail_len)
        at = tail.rfind(b"PK\x05\x06")
        if at < 0 or at + 22 > len(tail):
            self.refuse(
                "the zip package is damaged or truncated: its directory, kept at the end of "
                f"the file, is missing (the file was probably cut short). {_DAMAGED}"
            )
        count, directory_bytes, directory_at = struct.unpack_from("<HLL", tail, at + 10)
        if 0xFFFF in (count,) or 0xFFFFFFFF in (directory_bytes, directory_at):
            locator_at = self.size - tail_len + at - 20
            if locator_at >= 0:
                self.fh.seek(locator_at)
                locator = self.fh.read(20)
                if locator[:4] == b"PK\x06\x07":
                    (record_at,) = struct.unpack_from("<Q", locator, 8)
                    if record_at + 56 <= self.size:
                        self.fh.seek(record_at)
                        record = self.fh.read(56)
                        if record[:4] == b"PK\x06\x06":
                            count, directory_bytes = struct.unpack_from("<QQ", record, 32)
        return count, directory_bytes

    def _check_entry_header(self, info: zipfile.ZipInfo) -> None:
        limits = self.limits
        if info.flag_bits & 0x1:
            self.refuse(
                f"part {info.filename} is encrypted with a zip password, which Excel never "
                f"does. {_RESAVE}"
            )
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            self.refuse(
                f"part {info.filename} uses zip compression method {info.compress_type}; Excel "
                f"writes only stored or deflated parts. {_RESAVE}"
            )
        if info.compress_type == zipfile.ZIP_STORED and info.compress_size != info.file_size:
            self.refuse(
                f"the package is damaged: stored part {info.filename} declares "
                f"{info.file_size:,} bytes but occupies {info.compress_size:,}. {_DAMAGED}"
            )
        if info.file_size > limits.ratio_min_size and info.file_size > limits.max_ratio * max(
            info.compress_size, 1
        ):
            ratio = info.file_size / max(info.compress_size, 1)
            self.refuse(
                f"refused as a possible zip bomb: part {info.filename} expands {ratio:,.0f}:1 "
                f"({_size(info.compress_size)} to {_size(info.file_size)}), beyond the "
                f"{limits.max_ratio:,.0f}:1 any real workbook part reaches. {_HOSTILE}"
            )

    def _locate_data(self, infos: list[zipfile.ZipInfo]) -> list[_Entry]:
        """Find each part's compressed bytes from its local header; refuse overlaps."""
        located: list[tuple[zipfile.ZipInfo, _Entry]] = []
        for info in infos:
            self.fh.seek(info.header_offset)
            header = self.fh.read(30)
            if len(header) < 30 or header[:4] != b"PK\x03\x04":
                self.refuse(
                    f"the zip package is damaged or truncated: part {info.filename} has no "
                    f"local header where the directory says. {_DAMAGED}"
                )
            name_len, extra_len = struct.unpack_from("<HH", header, 26)
            encoding = "utf-8" if info.flag_bits & 0x800 else "cp437"
            if self.fh.read(name_len) != info.orig_filename.encode(encoding, "replace"):
                self.refuse(
                    f"the zip package is damaged: the headers of part {info.filename} disagree "
                    f"on its name. {_DAMAGED}"
                )
            start = info.header_offset + 30 + name_len + extra_len
            if start + info.compress_size > self.size:
                self.refuse(
                    f"the zip package is truncated: part {info.filename} runs past the end of "
                    f"the file. {_DAMAGED}"
                )
            entry = _Entry(
                name=info.filename,
                key=_part_key(info.filename),
                method=info.compress_type,
                crc=info.CRC,
                compress_size=info.compress_size,
                file_size=info.file_size,
                data_start=start,
            )
            located.append((info, entry))
        by_offset = sorted(located, key=lambda pair: pair[0].header_offset)
        for (info, entry), (after, _) in pairwise(by_offset):
            if entry.data_start + entry.compress_size > after.header_offset:
                self.refuse(
                    f"refused as a possible zip bomb: parts {info.filename} and "
                    f"{after.filename} overlap in the file, so the same compressed bytes "
                    f"expand more than once. {_HOSTILE}"
                )
        return [entry for _, entry in located]

    def _check_is_workbook(self, parts: dict[str, _Entry]) -> None:
        if _CONTENT_TYPES not in parts:
            self.refuse(
                "is a zip file but not an Office Open XML workbook: it has no "
                "[Content_Types].xml. Check that it is the right file; if it is, open it in "
                "Excel and save it as .xlsx."
            )
        if _WORKBOOK not in parts:
            if "xl/workbook.bin" in parts:
                what = "it is an Excel Binary Workbook (.xlsb)"
            elif "word/document.xml" in parts:
                what = "it is a Word document"
            elif "ppt/presentation.xml" in parts:
                what = "it is a PowerPoint presentation"
            else:
                what = "it has no xl/workbook.xml"
            self.refuse(
                f"is a zip file but not an Excel workbook: {what}. Open the workbook in Excel "
                "and save it as an Excel Workbook (.xlsx or .xlsm)."
            )

    # --- which parts are sheets ---------------------------------------------------------------

    def _map_sheets(
        self, parts: dict[str, _Entry], sheets_to_read: Collection[str] | None
    ) -> set[str]:
        """Read the sheet list and its relationships; returns the parts already checked."""
        done = {_WORKBOOK}
        workbook = self._read_whole(parts[_WORKBOOK])
        targets: dict[str, str] = {}
        rels = parts.get(_WORKBOOK_RELS)
        if rels is not None:
            done.add(_WORKBOOK_RELS)
            targets = _relationship_targets(self._parse(rels.name, self._read_whole(rels)))
        wanted = None
        if sheets_to_read is not None:
            self.scan_every_sheet = False
            wanted = {name.casefold() for name in sheets_to_read}
        for name, ids in _sheet_list(self._parse(_WORKBOOK, workbook)):
            for rid in ids:
                target = targets.get(rid)
                if target is None:
                    continue
                for candidate in _calamine_paths(target):
                    key = _part_key(candidate)
                    if key in parts:
                        self.part_to_sheet[key] = name
                        if wanted is None or name.casefold() in wanted:
                            self.selected.add(key)
        return done

    def _read_whole(self, entry: _Entry) -> bytes:
        chunks = self._inflate(entry)
        head, _ = self._prolog(entry, chunks)
        data = bytearray(head)
        for chunk in chunks:
            data += chunk
            if len(data) > self.limits.max_index_part_bytes:
                self.refuse(
                    f"part {entry.name} is larger than "
                    f"{_size(self.limits.max_index_part_bytes)}, far more than a workbook's "
                    f"index needs. {_HOSTILE}"
                )
        return bytes(data)

    def _parse(self, name: str, data: bytes) -> ET.Element:
        # Safe: _prolog has refused any DTD, so there is nothing for entities to expand.
        try:
            return ET.fromstring(data)
        except ET.ParseError as exc:
            self.refuse(f"part {name} is not well-formed XML ({exc}). {_RESAVE}")

    # --- XML parts ----------------------------------------------------------------------------

    def _check_part(self, entry: _Entry) -> None:
        """Inflate a part; measure it if it is a sheet or a table.

        Parts named as XML, and sheets however named (calamine parses whatever a sheet's
        relationship points to), must pass the prolog checks. Any other part is still
        sniffed for a sheet or table root, which calamine would read whatever its name.
        """
        strict = entry.key.endswith(_XML_SUFFIXES) or entry.key in self.part_to_sheet
        chunks = self._inflate(entry)
        head, root = self._prolog(entry, chunks, strict=strict)
        stream = chain((head,), chunks)
        if root is not None:
            if entry.key in self.selected or (
                self.scan_every_sheet
                and (root.local in _SHEET_ROOTS or entry.key in self.part_to_sheet)
            ):
                self._check_sheet(entry, root, stream)
                return
            if root.local == "table":
                self._check_table(entry, root)
        collections.deque(stream, maxlen=0)

    def _prolog(
        self, entry: _Entry, chunks: Iterator[bytes], *, strict: bool = True
    ) -> tuple[bytes, _Root | None]:
        """Read up to the root element; refuse a DTD, a foreign encoding or a non-XML part.

        Not ``strict``, a part that is not XML is simply not one: its root is None.
        """
        limit = self.limits.max_prolog_bytes
        head = b""
        for chunk in chunks:
            head += chunk
            if len(head) >= limit:
                break
        verdict = _read_prolog(head[:limit], complete=len(head) < limit, limit=limit)
        if isinstance(verdict, _Root) or verdict is None:
            return head, verdict
        if not strict:
            return head, None
        self.refuse(f"part {entry.name} {verdict}")

    def _check_table(self, entry: _Entry, root: _Root) -> None:
        attributes = _attributes(root.attributes)
        ref = attributes.get(b"ref")
        box = _parse_range(ref) if ref is not None else None
        if box is None:
            return  # calamine fails on such a table instead of allocating
        name = attributes.get(b"displayName") or attributes.get(b"name") or b"?"
        label = f"table {name.decode('utf-8', 'replace')!r} ({entry.name})"
        self._check_extent(label, box, "resize the table (Table Design > Resize Table)")

    def _check_sheet(self, entry: _Entry, root: _Root, stream: Iterable[bytes]) -> None:
        sheet = self.part_to_sheet.get(entry.key)
        label = f"sheet {sheet!r} ({entry.name})" if sheet is not None else f"part {entry.name}"
        cell_tag = root.prefix + b":c" if root.prefix else b"c"
        max_cells = self.limits.max_cells
        box: _Box | str | None
        try:
            if root.utf16:
                box = _scan_cells_exact(stream, max_cells)
            else:
                box = _scan_cells_fast(stream, cell_tag, max_cells, use_hint=True)
            if box == _HINT_FAILED:
                box = _scan_cells_fast(self._inflate(entry), cell_tag, max_cells, use_hint=False)
            if box == _NEEDS_EXACT:
                box = _scan_cells_exact(self._inflate(entry), max_cells)
        except _TooLarge as exc:
            box = exc.box
        except _OffGrid as exc:
            self.refuse(_off_grid(label, exc.ref))
        except _BadReference as exc:
            self.refuse(f"{label} has an invalid cell reference {exc.ref!r}. {_RESAVE}")
        except _Malformed as exc:
            self.refuse(f"{label} is not well-formed XML ({exc}). {_RESAVE}")
        if isinstance(box, _Box):
            self._check_extent(
                label,
                box,
                "delete the stray cells outside your data (Ctrl+End jumps to the last used cell)",
            )

    def _check_extent(self, label: str, box: _Box, remedy: str) -> None:
        if box.bottom > _MAX_ROW or box.right > _MAX_COL:
            self.refuse(_off_grid(label, box.bottom_right))
        if box.cells > self.limits.max_cells:
            memory = box.cells * _CELL_BYTES
            self.refuse(
                f"refused: {label} has cells from {box.top_left} to {box.bottom_right}, a "
                f"block of {box.cells:,} cells; sheetloop reads at most "
                f"{self.limits.max_cells:,} per sheet or table (this one would need about "
                f"{_size(memory)} of memory). In Excel, {remedy}, save, and try again."
            )

    # --- inflating ----------------------------------------------------------------------------

    def _inflate(self, entry: _Entry) -> Iterator[bytes]:
        """Yield a part's bytes, refusing when they exceed, or fall short of, its header."""
        position = entry.data_start
        remaining = entry.compress_size
        produced = 0
        crc = 0
        inflater = zlib.decompressobj(-15) if entry.method == zipfile.ZIP_DEFLATED else None
        while remaining > 0 and not (inflater is not None and inflater.eof):
            # Seek every time: an abandoned scan leaves its reader behind mid-part.
            self.fh.seek(position)
            raw = self.fh.read(min(_READ_SIZE, remaining))
            if not raw:
                self.refuse(f"the zip package is truncated inside part {entry.name}. {_DAMAGED}")
            position += len(raw)
            remaining -= len(raw)
            pending = raw
            while pending:
                if inflater is None:
                    out, pending = pending, b""
                else:
                    try:
                        out = inflater.decompress(pending, _INFLATE_SIZE)
                    except zlib.error as exc:
                        self.refuse(
                            f"the package is damaged: part {entry.name} cannot be "
                            f"decompressed ({exc}). {_DAMAGED}"
                        )
                    pending = inflater.unconsumed_tail
                produced += len(out)
                if produced > entry.file_size:
                    self.refuse(
                        f"refused as a possible zip bomb: part {entry.name} declares "
                        f"{entry.file_size:,} bytes but expands to more. {_HOSTILE}"
                    )
                crc = zlib.crc32(out, crc)
                if out:
                    yield out
                if inflater is not None and inflater.eof:
                    break
        if inflater is not None and not inflater.eof and entry.compress_size > 0:
            self.refuse(
                f"the package is damaged: the compressed data of part {entry.name} ends early. "
                f"{_DAMAGED}"
            )
        if produced != entry.file_size:
            self.refuse(
                f"the package is damaged: part {entry.name} declares {entry.file_size:,} bytes "
                f"but holds {produced:,}. {_DAMAGED}"
            )
        if crc != entry.crc:
            self.refuse(
                f"the package is damaged: part {entry.name} fails its CRC check (its bytes "
                f"were altered or cut). {_DAMAGED}"
            )


def _off_grid(label: str, ref: str) -> str:
    return (
        f"refused: {label} has a cell at {ref}, outside Excel's grid (A1:XFD1048576). Excel "
        f"cannot write such a file; it was made by another program and could exhaust memory. "
        f"{_HOSTILE}"
    )


def _part_key(name: str) -> str:
    return name.replace("\\", "/").lower()


def _calamine_paths(target: str) -> set[str]:
    """Where calamine looks for a sheet target, and where the target really points."""
    if target.startswith("/xl/"):
        as_calamine = target[1:]
    elif target.startswith("xl/"):
        as_calamine = target
    else:
        as_calamine = f"xl/{target}"
    resolved = target[1:] if target.startswith("/") else posixpath.normpath(f"xl/{target}")
    return {as_calamine, resolved}


def _local(tag: str) -> str:
    return tag.rpartition("}")[2].rpartition(":")[2]


def _relationship_targets(root: ET.Element) -> dict[str, str]:
    return {
        el.get("Id", ""): el.get("Target", "")
        for el in root.iter()
        if _local(el.tag) == "Relationship" and el.get("TargetMode") != "External"
    }


def _sheet_list(root: ET.Element) -> list[tuple[str, list[str]]]:
    """(name, relationship ids) of each sheet; any attribute named id may be the link."""
    return [
        (el.get("name", ""), [v for k, v in el.attrib.items() if _local(k) == "id"])
        for el in root.iter()
        if _local(el.tag) == "sheet"
    ]


def _looks_like_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start >= len(head) - 3  # a character cut by the 512-byte read
    return True


def _size(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


# --- the XML prolog ---------------------------------------------------------------------------

_START_TAG = re.compile(rb"""<([^\s/>!?]+)((?:\s+[^\s=/>]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*/?>""")
_ATTRIBUTE = re.compile(rb"""([^\s=/>]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_ENCODING = re.compile(rb"""\sencoding\s*=\s*["']([^"']*)["']""")


def _read_prolog(head: bytes, *, complete: bool, limit: int) -> _Root | str | None:
    """The root element's start tag, None if the part has no element, or what is wrong.

    ``complete`` says that ``head`` is the whole part rather than its first bytes. A UTF-16
    part (Office writes some customXml items so) is read as the UTF-8 it transcodes to.
    """
    utf16 = _utf16_codec(head)
    if utf16 is not None:
        head = head[: len(head) // 2 * 2].decode(utf16, "replace").encode()
    elif b"\x00" in head[:4]:
        return _foreign_encoding("UTF-32")  # or binary data: either way not Office XML
    at = 3 if head.startswith(b"\xef\xbb\xbf") else 0
    end = len(head)
    too_long = (
        f"has more than {_size(limit)} before its root element; Excel writes a few dozen bytes."
    )
    while True:
        while at < end and head[at] in b" \t\r\n":
            at += 1
        if at >= end:
            return None if complete else too_long
        if head[at] != ord("<"):
            return f"is not XML: it has text before its first element. {_RESAVE}"
        if head.startswith(b"<?", at):
            close = head.find(b"?>", at)
            if close < 0:
                return too_long if not complete else f"is not well-formed XML. {_RESAVE}"
            declaration = head[at : close + 2]
            found = _ENCODING.search(declaration) if declaration[2:5] == b"xml" else None
            declared = found[1].decode("latin-1") if found else None
            if declared and declared.lower() not in (_UTF16_NAMES if utf16 else _ENCODINGS):
                return _foreign_encoding(declared)
            at = close + 2
        elif head.startswith(b"<!--", at):
            close = head.find(b"-->", at + 4)
            if close < 0:
                return too_long if not complete else f"is not well-formed XML. {_RESAVE}"
            at = close + 3
        elif head.startswith(b"<!", at):
            word = head[at + 2 : at + 9].upper()
            what = "<!ENTITY>" if word.startswith(b"ENTITY") else "<!DOCTYPE>"
            return (
                f"was refused: it declares a DTD ({what}), which Excel never writes and which "
                "can hide an XML entity bomb or read other files on this computer (XXE). "
                f"{_HOSTILE}"
            )
        else:
            tag = _START_TAG.match(head, at)
            if tag is None:
                return too_long if not complete else f"is not well-formed XML. {_RESAVE}"
            return _Root(tag[1], tag[2], utf16=utf16 is not None)


def _utf16_codec(head: bytes) -> str | None:
    """The codec of a UTF-16 part, told by its byte-order mark or by how "<" is spelled."""
    if head[:4] in (b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff"):
        return None  # UTF-32
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    if head.startswith(b"<\x00") and head[2:4] != b"\x00\x00":
        return "utf-16-le"
    if head.startswith(b"\x00<"):
        return "utf-16-be"
    return None


def _attributes(raw: bytes) -> dict[bytes, bytes]:
    return {name: double or single for name, double, single in _ATTRIBUTE.findall(raw)}


def _foreign_encoding(name: str) -> str:
    return (
        f"is declared as {name}; sheetloop reads XML only in UTF-8 or UTF-16, as Office "
        f"writes it. {_RESAVE}"
    )


# --- cell references --------------------------------------------------------------------------


@dataclass
class _Box:
    """A block of cells, 1-based and inclusive."""

    top: int
    left: int
    bottom: int
    right: int

    @property
    def cells(self) -> int:
        return (self.bottom - self.top + 1) * (self.right - self.left + 1)

    @property
    def top_left(self) -> str:
        return f"{_column_name(self.left)}{self.top}"

    @property
    def bottom_right(self) -> str:
        return f"{_column_name(self.right)}{self.bottom}"

    def add(self, row: int, col: int) -> None:
        self.top = min(self.top, row)
        self.bottom = max(self.bottom, row)
        self.left = min(self.left, col)
        self.right = max(self.right, col)


class _OffGrid(Exception):
    def __init__(self, ref: str) -> None:
        super().__init__(ref)
        self.ref = ref


class _BadReference(Exception):
    def __init__(self, ref: str) -> None:
        super().__init__(ref)
        self.ref = ref


class _Malformed(Exception):
    pass


def _column_number(letters: str) -> int:
    number = 0
    for ch in letters.upper():
        number = number * 26 + ord(ch) - 64
    return number


def _column_name(number: int) -> str:
    name = ""
    while number > 0:
        number, rest = divmod(number - 1, 26)
        name = chr(65 + rest) + name
    return name


_REFERENCE = re.compile(r"([A-Za-z]*)([0-9]*)")


def _parse_reference(ref: str) -> tuple[int, int | None]:
    """(row, column or None), 1-based, read the way calamine reads an ``r`` attribute."""
    found = _REFERENCE.fullmatch(ref)
    if found is None or not found[2] or int(found[2]) == 0:
        raise _BadReference(ref)
    return int(found[2]), _column_number(found[1]) if found[1] else None


def _parse_range(ref: bytes) -> _Box | None:
    corners = []
    for text in ref.decode("latin-1").split(":"):
        try:
            row, col = _parse_reference(text)
        except _BadReference:
            return None
        if col is None:
            return None
        corners.append((row, col))
    if len(corners) == 1:
        corners.append(corners[0])
    if len(corners) != 2:
        return None
    (top, left), (bottom, right) = corners
    return _Box(min(top, bottom), min(left, right), max(top, bottom), max(left, right))


def _fixed_length_range(low: str, high: str, first: str, last: str) -> str:
    """A regex for the strings of len(low) from low to high, over the characters first..last."""
    if low == high:
        return low
    rest = len(low) - 1
    if low[1:] == first * rest and high[1:] == last * rest:
        return f"[{low[0]}-{high[0]}]" + (f"[{first}-{last}]{{{rest}}}" if rest else "")
    if low[0] == high[0]:
        return low[0] + _fixed_length_range(low[1:], high[1:], first, last)
    options = [low[0] + _fixed_length_range(low[1:], last * rest, first, last)]
    if ord(high[0]) - ord(low[0]) > 1:
        middle = f"[{chr(ord(low[0]) + 1)}-{chr(ord(high[0]) - 1)}]"
        options.append(f"{middle}[{first}-{last}]{{{rest}}}")
    options.append(high[0] + _fixed_length_range(first * rest, high[1:], first, last))
    return "(?:" + "|".join(options) + ")"


def _shortlex_range(low: str, high: str, lead: str, first: str, last: str) -> str:
    """A regex for the numerals from low to high, shorter ones first (as 9 < 10, Z < AA).

    A numeral starts with a character from lead..last, then any of first..last.
    """

    def smallest(n: int) -> str:
        return lead + first * (n - 1)

    def largest(n: int) -> str:
        return last * n

    full = [
        n
        for n in range(len(low), len(high) + 1)
        if (n > len(low) or low == smallest(n)) and (n < len(high) or high == largest(n))
    ]
    options = []
    if full:
        options.append(f"[{lead}-{last}][{first}-{last}]{{{full[0] - 1},{full[-1] - 1}}}")
    if len(low) not in full:
        top = high if len(high) == len(low) else largest(len(low))
        options.append(_fixed_length_range(low, top, first, last))
    if len(high) not in full and len(high) > len(low):
        options.append(_fixed_length_range(smallest(len(high)), high, first, last))
    return "(?:" + "|".join(options) + ")"


def _rows_regex(low: int, high: int) -> str:
    """Row numbers low..high as written (no leading zeros)."""
    return _shortlex_range(str(low), str(high), "1", "0", "9")


def _columns_regex(low: int, high: int) -> str:
    """Column letters low..high, upper case, as Excel writes them."""
    return _shortlex_range(_column_name(low), _column_name(high), "A", "A", "Z")


# --- measuring a sheet's cells ----------------------------------------------------------------
#
# The fast scans read the XML as bytes with regular expressions: fast enough for a 100 MB
# sheet, but sound only for cell tags written the usual way, <c r="B7" ...>. Anything else
# sends the sheet to the exact scan, an expat parse that follows calamine's own rules.

_HINT_FAILED = "hint failed"
_NEEDS_EXACT = "needs exact scan"
_DIMENSION = re.compile(
    rb'<(?:[\w.-]+:)?dimension\s+ref="([A-Z]{1,3}[0-9]{1,7}(?::[A-Z]{1,3}[0-9]{1,7})?)"'
)
# An attribute named r written any way but ` r="`: calamine reads even "r= without a space.
_ODD_R = re.compile(rb"""r(?:=[\s']|\s+=|(?<=[\t\n\r"']r)\s*=)""")
# An r value other than a plain reference (entities, over-long): left to the exact scan.
_ODD_REFERENCE = re.compile(rb' r="(?![A-Za-z]{1,3}[0-9]{1,7}"|[0-9]{1,7}")')
_COLUMNS = re.compile(rb' r="([A-Za-z]+)[0-9]')
_ROWS = re.compile(rb' r="[A-Za-z]+([0-9]+)"')


def _odd_cell_tags(cell_tag: bytes) -> list[re.Pattern[bytes]]:
    """Patterns for cell tags the fast scans cannot read: no r first, or another prefix."""
    tag = re.escape(cell_tag)
    patterns = [re.compile(rb"<" + tag + rb'(?! r=")[\s/>]')]
    if cell_tag == b"c":
        patterns.append(re.compile(rb":c[\s/>]"))
    else:
        patterns.append(re.compile(rb"<c[\s/>]"))
        patterns.append(re.compile(rb":c(?<!<" + tag + rb")(?<!</" + tag + rb")[\s/>]"))
    return patterns


def _overlapping(stream: Iterable[bytes]) -> Iterator[tuple[bytes, int, int]]:
    """(buffer, start, end): consecutive buffers, each owning the positions [start, end).

    Every owned position has _OVERLAP bytes of context on both sides (but at the very ends
    of the part), so a pattern found at an owned position is judged on its whole text.
    """
    kept = b""  # the last 2 * _OVERLAP bytes of the previous buffer; its second half unowned
    pending = b""
    for chunk in stream:
        pending += chunk
        if len(pending) < 2 * _OVERLAP:
            continue
        buffer = kept + pending
        yield buffer, len(kept) - _OVERLAP if kept else 0, len(buffer) - _OVERLAP
        kept = buffer[-2 * _OVERLAP :]
        pending = b""
    buffer = kept + pending
    if buffer:
        yield buffer, len(kept) - _OVERLAP if kept else 0, len(buffer)


def _found(pattern: re.Pattern[bytes], buffer: bytes, start: int, end: int) -> bool:
    hit = pattern.search(buffer, start)
    return hit is not None and hit.start() < end


def _usable_hint(buffer: bytes, max_cells: int) -> _Box | None:
    dimension = _DIMENSION.search(buffer)
    hint = _parse_range(dimension[1]) if dimension else None
    if hint is None or hint.cells > max_cells or hint.bottom > _MAX_ROW or hint.right > _MAX_COL:
        return None
    return hint


def _scan_cells_fast(
    stream: Iterable[bytes], cell_tag: bytes, max_cells: int, *, use_hint: bool
) -> _Box | str | None:
    """The cells' bounding box (None if no cells), or which other scan must decide.

    With a usable <dimension> the scan only checks that every r attribute lies inside it
    (the cheapest proof); otherwise, or with ``use_hint`` False, it collects every reference.
    Returns _HINT_FAILED when a reference lies outside the dimension, _NEEDS_EXACT when a
    cell tag is written in a way these byte patterns cannot follow.
    """
    if len(cell_tag) > _OVERLAP // 2:
        return _NEEDS_EXACT
    odd = [*_odd_cell_tags(cell_tag), _ODD_R]
    hint: _Box | None = None
    outside: re.Pattern[bytes] | None = None
    box: _Box | None = None
    first = True
    for buffer, start, end in _overlapping(stream):
        if first:
            hint = _usable_hint(buffer, max_cells) if use_hint else None
            if hint is None:
                odd.append(_ODD_REFERENCE)
            else:
                cells = _columns_regex(hint.left, hint.right) + _rows_regex(hint.top, hint.bottom)
                outside = re.compile(rb' r="(?!' + cells.encode() + rb'"|[0-9]{1,7}")')
            first = False
        if any(_found(pattern, buffer, start, end) for pattern in odd):
            return _NEEDS_EXACT
        if outside is not None:
            if _found(outside, buffer, start, end):
                return _HINT_FAILED
            continue
        columns = {_column_number(c.decode()) for c in set(_COLUMNS.findall(buffer, start))}
        rows = {int(r) for r in set(_ROWS.findall(buffer, start))}
        for row, col in (
            ((min(rows), min(columns)), (max(rows), max(columns))) if rows and columns else ()
        ):
            if box is None:
                box = _Box(row, col, row, col)
            else:
                box.add(row, col)
        if box is not None:
            _stop_early(box, max_cells)
    return hint if hint is not None else box


def _stop_early(box: _Box, max_cells: int) -> None:
    if box.bottom > _MAX_ROW or box.right > _MAX_COL:
        raise _OffGrid(f"{_column_name(box.right)}{box.bottom}")
    if box.cells > max_cells:
        raise _TooLarge(box)


class _TooLarge(Exception):
    def __init__(self, box: _Box) -> None:
        super().__init__(box.cells)
        self.box = box


def _scan_cells_exact(stream: Iterable[bytes], max_cells: int) -> _Box | None:
    """Place every cell as calamine does, on an expat parse; the bounding box or None.

    calamine expands <c/> and <row/> like <c></c>: a cell without r sits one column right of
    the previous one, a row without r one row below the previous one.
    """
    state = _Placement()
    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartElementHandler = state.start
    parser.EndElementHandler = state.end
    try:
        for chunk in stream:
            parser.Parse(chunk, False)
            if state.box is not None:
                _stop_early(state.box, max_cells)
        parser.Parse(b"", True)
    except expat.ExpatError as exc:
        raise _Malformed(str(exc)) from exc
    return state.box


class _Placement:
    """calamine's cursor over rows and cells (0-based inside, 1-based in the box)."""

    def __init__(self) -> None:
        self.row = 0
        self.col = 0
        self.box: _Box | None = None

    def start(self, name: str, attributes: dict[str, str]) -> None:
        local = name.rpartition(":")[2]
        if local == "row":
            ref = attributes.get("r")
            if ref is not None:
                self.row = _parse_reference(ref)[0] - 1
        elif local == "c":
            ref = attributes.get("r")
            if ref is None:
                row, col = self.row, self.col
            else:
                number, letters = _parse_reference(ref)
                if letters is None:
                    raise _BadReference(ref)
                row, col = number - 1, letters - 1
            self.col = col + 1
            if row >= _MAX_ROW or col >= _MAX_COL:
                raise _OffGrid(f"{_column_name(col + 1)}{row + 1}")
            if self.box is None:
                self.box = _Box(row + 1, col + 1, row + 1, col + 1)
            else:
                self.box.add(row + 1, col + 1)

    def end(self, name: str) -> None:
        if name.rpartition(":")[2] == "row":
            self.row += 1
            self.col = 0
