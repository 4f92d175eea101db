"""A cell's test-set predictions: what its best model said for each test row, beside the truth.

The worker writes them (a compressed .npz beside the cell's log), the store keeps them as the
run's artifact, an export carries their bytes; re-scoring a cell and test-set intervals read
them back, without running anything again.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class Predictions:
    pred: np.ndarray  # class probabilities (rows, classes) or values (rows,)
    y: np.ndarray  # the test rows' labels or values, in the same order


def path_beside(log_path: Path) -> Path:
    """Where a cell's worker writes its predictions: beside its log."""
    return log_path.with_name(log_path.name.removesuffix(".log") + ".predictions.npz")


def save(path: Path, pred: np.ndarray, y: np.ndarray, task: str) -> None:
    """Probabilities as float32 (their argmax and log-loss survive it), values as float64;
    written whole or not at all."""
    import numpy as np

    dtype = np.float64 if task == "regression" else np.float32
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        np.savez_compressed(f, pred=np.asarray(pred, dtype=dtype), y=np.asarray(y))
    os.replace(tmp, path)


def load(data: bytes | Path) -> Predictions:
    import numpy as np

    source = io.BytesIO(data) if isinstance(data, bytes) else data
    with np.load(source, allow_pickle=False) as z:
        return Predictions(pred=z["pred"], y=z["y"])
