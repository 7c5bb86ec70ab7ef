"""The .xlsx/.xlsm zip package, edited part by part.

Parts sheetloop does not change are copied as their original compressed bytes (not
decompressed and recompressed), so they come out exactly as they went in and a large book
is not recompressed on every save. Only changed and new parts are deflated.
"""

from __future__ import annotations

import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from sheetloop.errors import BookUnreadableError

_LOCAL = struct.Struct("<4s5H3L2H")
_CENTRAL = struct.Struct("<4s6H3L5H2L")
_END = struct.Struct("<4s4H2LH")
_DOS_EPOCH = (1980, 1, 1, 0, 0, 0)
_LARGE_PART = 1 << 20  # parts above this are deflated fast rather than small


@dataclass
class _Entry:
    name: str
    info: zipfile.ZipInfo | None  # the source entry, None for a new part
    data: bytes | None = None  # new content (None: unchanged, copy the source bytes)


class Package:
    """An OOXML package: read parts, replace or add parts, write the result."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._zip = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as exc:
            raise BookUnreadableError(f"{path.name}: not a readable .xlsx/.xlsm ({exc})") from exc
        self._entries: dict[str, _Entry] = {
            i.filename: _Entry(i.filename, i) for i in self._zip.infolist() if not i.is_dir()
        }

    def close(self) -> None:
        self._zip.close()

    def __enter__(self) -> Package:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- reading -------------------------------------------------------------------------

    def names(self) -> list[str]:
        return list(self._entries)

    def __contains__(self, name: str) -> bool:
        return name in self._entries

    def read(self, name: str) -> bytes:
        entry = self._entries[name]
        if entry.data is not None:
            return entry.data
        assert entry.info is not None
        return self._zip.read(entry.info)

    def read_text(self, name: str) -> str:
        return self.read(name).decode("utf-8")

    def changed(self) -> list[str]:
        return [e.name for e in self._entries.values() if e.data is not None]

    # --- editing -------------------------------------------------------------------------

    def write(self, name: str, data: bytes | str) -> None:
        """Replace a part, or add it when the package lacks it."""
        raw = data.encode("utf-8") if isinstance(data, str) else data
        entry = self._entries.get(name)
        if entry is None:
            self._entries[name] = _Entry(name, None, raw)
        elif entry.info is not None and entry.data is None and raw == self.read(name):
            return  # unchanged: keep the original bytes untouched
        else:
            entry.data = raw

    def remove(self, name: str) -> None:
        """Drop a part from the package (nothing happens when it has no such part)."""
        self._entries.pop(name, None)

    def unused_name(self, pattern: str) -> str:
        """The first ``pattern.format(n)`` (n = 1, 2, ...) not in the package."""
        lowered = {n.lower() for n in self._entries}
        n = 1
        while pattern.format(n).lower() in lowered:
            n += 1
        return pattern.format(n)

    # --- writing -------------------------------------------------------------------------

    def save_to(self, out: BinaryIO) -> None:
        """Write the whole package to ``out`` (a file opened for binary writing)."""
        central: list[bytes] = []
        offset = 0
        src = self._zip.fp
        for entry in self._entries.values():
            name = entry.name.encode("utf-8")
            flags = 0x800 if not entry.name.isascii() else 0
            if entry.data is None:
                info = entry.info
                assert info is not None and src is not None
                method, crc, usize = info.compress_type, info.CRC, info.file_size
                payload = self._raw(info)
                date_time = info.date_time
                external = info.external_attr
            else:
                usize, crc = len(entry.data), zlib.crc32(entry.data)
                level = 1 if usize > _LARGE_PART else 6
                comp = zlib.compressobj(level, zlib.DEFLATED, -15)
                payload = comp.compress(entry.data) + comp.flush()
                method = zipfile.ZIP_DEFLATED
                date_time = entry.info.date_time if entry.info else _DOS_EPOCH
                external = entry.info.external_attr if entry.info else 0
            if len(payload) >= 0xFFFFFFFF or usize >= 0xFFFFFFFF or offset >= 0xFFFFFFFF:
                raise BookUnreadableError(
                    f"{self.path.name}: a part is larger than 4 GB, which sheetloop does not write"
                )
            dos_time, dos_date = _dos(date_time)
            out.write(
                _LOCAL.pack(
                    b"PK\x03\x04",
                    20,
                    flags,
                    method,
                    dos_time,
                    dos_date,
                    crc,
                    len(payload),
                    usize,
                    len(name),
                    0,
                )
            )
            out.write(name)
            out.write(payload)
            central.append(
                _CENTRAL.pack(
                    b"PK\x01\x02",
                    20,
                    20,
                    flags,
                    method,
                    dos_time,
                    dos_date,
                    crc,
                    len(payload),
                    usize,
                    len(name),
                    0,
                    0,
                    0,
                    0,
                    external,
                    offset,
                )
                + name
            )
            offset += _LOCAL.size + len(name) + len(payload)
        directory = b"".join(central)
        out.write(directory)
        out.write(
            _END.pack(b"PK\x05\x06", 0, 0, len(central), len(central), len(directory), offset, 0)
        )

    def _raw(self, info: zipfile.ZipInfo) -> bytes:
        """The entry's compressed bytes, exactly as stored in the source file."""
        fp = self._zip.fp
        assert fp is not None
        fp.seek(info.header_offset)
        header = fp.read(_LOCAL.size)
        name_len, extra_len = struct.unpack("<2H", header[26:30])
        fp.seek(info.header_offset + _LOCAL.size + name_len + extra_len)
        return fp.read(info.compress_size)


def _dos(date_time: tuple[int, int, int, int, int, int]) -> tuple[int, int]:
    y, mo, d, h, mi, s = date_time
    y = max(y, 1980)
    return (h << 11) | (mi << 5) | (s // 2), ((y - 1980) << 9) | (mo << 5) | d
