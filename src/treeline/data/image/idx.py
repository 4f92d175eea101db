"""The IDX format of the MNIST family (LeCun et al.): a magic number giving the element type
and rank, the dimensions as big-endian int32, then the array. Gzipped or not."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from treeline.errors import TreelineError

_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: Path) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _TYPES:
        raise TreelineError(f"{path}: not an IDX file (bad magic number)")
    rank = data[3]
    dims = tuple(int(d) for d in np.frombuffer(data, ">i4", count=rank, offset=4))
    dtype = np.dtype(_TYPES[data[2]])
    need = int(np.prod(dims)) * dtype.itemsize
    body = data[4 + 4 * rank :]
    if len(body) != need:
        raise TreelineError(f"{path}: IDX header says {dims}, the file holds {len(body)} bytes")
    return np.frombuffer(body, dtype).reshape(dims)
