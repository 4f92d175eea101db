"""A reader of R's lazy-load databases (a package's `data/Rdata.rdb` + `Rdata.rdx`), the format
Debian's r-cran-* packages ship their datasets in, without R: the `.rdx` is a gzipped RDS index
of each object's (offset, length) in the `.rdb`; each blob there is a 4-byte big-endian length,
then the serialized object compressed with zlib, or a type byte (`Z`: raw LZMA2, `2`: bzip2)
and its data. The `rdata` package parses and converts the serialization.
"""

from __future__ import annotations

import gzip
import warnings
from pathlib import Path
from typing import Any


def _convert(raw: bytes) -> Any:
    import rdata

    with warnings.catch_warnings():  # an RDS stream without its file header: expected here
        warnings.simplefilter("ignore", UserWarning)
        return rdata.conversion.convert(rdata.parser.parse_data(raw))


def read_object(folder: Path, name: str) -> Any:
    """Object `name` of the lazy-load database in `folder`, converted (data frames → pandas)."""
    import bz2
    import lzma
    import zlib

    index = _convert(gzip.decompress((folder / "Rdata.rdx").read_bytes()))
    variables = index["variables"]
    if name not in variables:
        raise KeyError(f"{name} is not in {folder / 'Rdata.rdx'} (it has {sorted(variables)})")
    offset, length = (int(v) for v in variables[name])
    with open(folder / "Rdata.rdb", "rb") as f:
        f.seek(offset)
        blob = f.read(length)
    kind, body = blob[4:5], blob[5:]
    if kind == b"Z":
        raw = lzma.decompress(body, format=lzma.FORMAT_RAW, filters=[{"id": lzma.FILTER_LZMA2}])
    elif kind == b"2":
        raw = bz2.decompress(body)
    else:  # zlib from the length on
        raw = zlib.decompress(blob[4:])
    return _convert(raw)
