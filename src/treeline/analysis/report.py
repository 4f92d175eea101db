"""`treeline report SUITE`: report.md, a self-contained index.html and PNG plots, from results.

The content (content, with its plots) is built once and rendered twice (render).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from treeline.analysis.content import build
from treeline.analysis.render import render_html, render_markdown

if TYPE_CHECKING:
    import pandas as pd


def write_report(
    suite_name: str,
    description: str,
    frame: pd.DataFrame,
    out: Path,
    replays: pd.DataFrame | None = None,
) -> Path:
    """Write report.md, index.html and the PNGs into `out`; returns the Markdown path."""
    out.mkdir(parents=True, exist_ok=True)
    blocks = build(suite_name, description, frame, out, replays)
    (out / "report.md").write_text(render_markdown(blocks, out))
    (out / "index.html").write_text(render_html(blocks))
    return out / "report.md"
