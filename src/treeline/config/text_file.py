"""Reading a configuration file as bounded UTF-8 text, with located reasons when it is not."""

from __future__ import annotations

import codecs
import stat
from pathlib import Path

from treeline.errors import ConfigError

MAX_BYTES = 1 << 20  # a suite or runner profile is a page of text; more is a mistake or an attack

# Longest first: the UTF-32 LE mark starts with the UTF-16 LE one.
_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)


def read_text(path: Path, limit: int = MAX_BYTES) -> str:
    """The file's text; a missing, unreadable, oversized or non-UTF-8 file is a ConfigError."""
    data = _read_bytes(path, limit)
    wide = wide_encoding(data)
    if wide:
        raise ConfigError.single(
            path, 1, "", f"the file is encoded as {wide}; save it as UTF-8 (without a BOM)"
        )
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, column = _position(data, exc.start)
        raise ConfigError.single(
            path,
            line,
            "",
            f"not UTF-8: byte 0x{data[exc.start]:02x} at line {line}, column {column} cannot be "
            "decoded; save the file as UTF-8",
        ) from None
    nul = text.find("\0")
    if nul >= 0:
        line, column = _position(data, data.find(b"\0"))
        raise ConfigError.single(
            path, line, "", f"a NUL byte at line {line}, column {column}: this is not a text file"
        )
    return text


def _read_bytes(path: Path, limit: int) -> bytes:
    try:
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            raise ConfigError.single(path, None, "", "is a directory, not a YAML file")
        if not stat.S_ISREG(info.st_mode):
            # A FIFO or a device would block or never end.
            raise ConfigError.single(path, None, "", "is not a regular file")
        if info.st_size > limit:
            raise ConfigError.single(path, None, "", _too_large(info.st_size, limit))
        with path.open("rb") as f:
            data = f.read(limit + 1)  # the file may have grown since stat
    except FileNotFoundError:
        raise ConfigError.single(path, None, "", "file not found") from None
    except PermissionError:
        raise ConfigError.single(path, None, "", "cannot read: permission denied") from None
    except OSError as exc:
        raise ConfigError.single(path, None, "", f"cannot read: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise ConfigError.single(path, None, "", _too_large(len(data), limit))
    return data


def _too_large(size: int, limit: int) -> str:
    return f"the file is {size:,} bytes; configuration files are limited to {limit:,} bytes"


def wide_encoding(data: bytes) -> str | None:
    """'UTF-16' or 'UTF-32' when the file has their byte-order mark or their pattern of NULs
    (ASCII text in UTF-16 has a NUL in every other byte, in UTF-32 three in four)."""
    for bom, name in _BOMS:
        if data.startswith(bom):
            return name
    head = data[:4]
    if len(head) == 4:
        zeros = [b == 0 for b in head]
        if zeros in ([True, True, True, False], [False, True, True, True]):
            return "UTF-32"
        if zeros in ([True, False, True, False], [False, True, False, True]):
            return "UTF-16"
    return None


def _position(data: bytes, offset: int) -> tuple[int, int]:
    """1-based line and column (in characters) of a byte offset."""
    start = data.rfind(b"\n", 0, offset) + 1
    column = len(data[start:offset].decode("utf-8", errors="replace")) + 1
    return data.count(b"\n", 0, offset) + 1, column
