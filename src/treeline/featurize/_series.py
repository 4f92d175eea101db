"""Sequences in the layouts the time-series libraries take."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from treeline.data.inputs import Sequences


def collection(X: Sequences) -> np.ndarray | list[np.ndarray]:
    """aeon's collection: N×C×T float64 when lengths are equal, else a list of C×T_i arrays."""
    if X.dense is not None:
        return np.asarray(X.padded(), dtype=np.float64)
    return [np.asarray(X.row(i).T, dtype=np.float64) for i in range(len(X))]


def table(values: np.ndarray, prefix: str):
    """A float32 matrix as a Table with columns `{prefix}{k}`."""
    import pandas as pd

    from treeline.data.inputs import Table

    columns = [f"{prefix}{k}" for k in range(values.shape[1])]
    frame = pd.DataFrame(values.astype(np.float32, copy=False), columns=columns, copy=False)
    return Table(frame, tuple(columns), ())
