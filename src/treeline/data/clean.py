"""A raw table's columns made usable, with every change stated: what a user's file holds is
not always what it means (a numeric column with a few "n/a", dates as text, infinities).

Each rule leaves a column alone unless it applies, and returns a note saying what it did; the
notes are kept with the prepared data, printed in each cell's log and recorded in MLflow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

# A text column is numeric with a few bad tokens when at most this share of its non-missing
# values fail to parse as numbers (and they are few distinct tokens): more is a real category.
MAX_BAD_SHARE = 0.05
MAX_BAD_TOKENS = 20
DATE_PARTS = ("year", "month", "day", "weekday")


def clean_table(frame: pd.DataFrame, keep: tuple[str, ...] = ()) -> tuple[pd.DataFrame, list[str]]:
    """Columns → numbers, categories or date parts; returns the frame and the notes. Columns in
    `keep` (a dataset's declared categoricals) are left as they are."""
    import pandas as pd

    out: dict[str, pd.Series] = {}
    notes: list[str] = []
    for col in frame.columns:
        s = frame[col]
        if col in keep:
            out[col] = s
            continue
        if pd.api.types.is_bool_dtype(s):
            out[col] = s.astype("float64")
            notes.append(f"column '{col}': booleans as 0/1")
            continue
        if pd.api.types.is_datetime64_any_dtype(s):
            out.update(_date_parts(col, s, notes))
            continue
        if s.dtype == object or pd.api.types.is_string_dtype(s):
            numeric = _mostly_numeric(col, s, notes)
            if numeric is not None:
                s = numeric
            else:
                dates = _as_dates(s)
                if dates is not None:
                    out.update(_date_parts(col, dates, notes))
                    continue
                out[col] = s
                continue
        if pd.api.types.is_numeric_dtype(s):
            values = s.to_numpy(dtype=np.float64, na_value=np.nan)
            inf = np.isinf(values)
            if inf.any():
                notes.append(
                    f"column '{col}': {int(inf.sum()):,} infinite values treated as missing"
                )
                values = np.where(inf, np.nan, values)
                s = pd.Series(values, index=s.index, name=col)
        out[col] = s
    return pd.DataFrame(out, index=frame.index), notes


def _mostly_numeric(col: str, s: pd.Series, notes: list[str]) -> pd.Series | None:
    """A text column whose values are numbers but for a few tokens ("n/a", "?"): the tokens
    become missing. None when it is a real text column."""
    import pandas as pd

    present = s.dropna()
    if present.empty:
        return None
    text = present.astype(str).str.strip()
    parsed = pd.to_numeric(text, errors="coerce")
    bad = parsed.isna() & (text != "")
    n_bad = int(bad.sum())
    if n_bad == len(present) or n_bad > MAX_BAD_SHARE * len(present):
        return None
    tokens = sorted(text[bad].unique())
    if len(tokens) > MAX_BAD_TOKENS:
        return None
    if n_bad:
        shown = ", ".join(repr(t) for t in tokens[:5]) + (", …" if len(tokens) > 5 else "")
        notes.append(f"column '{col}': {n_bad:,} non-numeric values ({shown}) treated as missing")
    return pd.to_numeric(s.astype("string").str.strip(), errors="coerce").astype("float64")


def _as_dates(s: pd.Series) -> pd.Series | None:
    """Text that is dates (ISO-like, on at least 95 % of the values), else None."""
    import warnings

    import pandas as pd

    present = s.dropna().astype(str)
    if (
        present.empty
        or not present.str.contains(r"\d{4}-\d{1,2}-\d{1,2}|\d{1,2}/\d{1,2}/\d{2,4}").mean() >= 0.95
    ):
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas warns when it guesses a format per element
        parsed = pd.to_datetime(s, errors="coerce", format="mixed")
    if parsed.notna().sum() < 0.95 * len(present):
        return None
    return parsed


def _date_parts(col: str, s: pd.Series, notes: list[str]) -> dict[str, pd.Series]:
    """A date column → numeric year, month, day, weekday (and hour when times vary)."""
    import pandas as pd

    dt = pd.to_datetime(s, errors="coerce")
    if getattr(dt.dt, "tz", None) is not None:
        dt = dt.dt.tz_convert(None)
    parts = {
        "year": dt.dt.year,
        "month": dt.dt.month,
        "day": dt.dt.day,
        "weekday": dt.dt.day_of_week,
    }
    if (dt.dt.hour.fillna(0) != 0).any() or (dt.dt.minute.fillna(0) != 0).any():
        parts["hour"] = dt.dt.hour + dt.dt.minute / 60.0
    notes.append(f"column '{col}': dates expanded to {', '.join(f'{col}_{p}' for p in parts)}")
    return {f"{col}_{p}": v.astype("float64") for p, v in parts.items()}
