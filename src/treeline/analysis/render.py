"""The report's blocks as Markdown (report.md) and as one self-contained HTML page."""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from treeline.analysis.content import Block


def render_markdown(blocks: list[Block], out: Path) -> str:
    lines: list[str] = []
    for b in blocks:
        if b.kind == "h1":
            lines += [f"# {b.content}", ""]
        elif b.kind == "h2":
            lines += [f"## {b.content}", ""]
        elif b.kind == "p":
            lines += [b.content, ""]
        elif b.kind == "table":
            header, rows = b.content
            lines.append("| " + " | ".join(header) + " |")
            lines.append("|" + "---|" * len(header))
            lines += ["| " + " | ".join(str(x) for x in row) + " |" for row in rows]
            lines.append("")
        elif b.kind == "img":
            lines += [f"![{b.content.stem}]({b.content.relative_to(out)})", ""]
    return "\n".join(lines)


def render_html(blocks: list[Block], title: str = "Treeline report") -> str:
    import re

    def inline(text: str) -> str:
        """Escaped, then the Markdown the blocks use: **bold** and `code`."""
        text = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", html.escape(str(text)))
        return re.sub(r"`([^`]+)`", r"<code>\1</code>", text)

    body: list[str] = []
    for b in blocks:
        if b.kind in ("h1", "h2"):
            body.append(f"<{b.kind}>{html.escape(b.content)}</{b.kind}>")
        elif b.kind == "p":
            body.append(f"<p>{inline(b.content)}</p>")
        elif b.kind == "table":
            header, rows = b.content
            head = "".join(f"<th>{inline(h)}</th>" for h in header)
            trs = "".join(
                "<tr>" + "".join(f"<td>{inline(x)}</td>" for x in row) + "</tr>" for row in rows
            )
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{trs}</tbody></table>")
        elif b.kind == "img":
            data = base64.b64encode(b.content.read_bytes()).decode()
            body.append(
                f'<img alt="{html.escape(b.content.stem)}" src="data:image/png;base64,{data}">'
            )
    style = (
        "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;"
        "line-height:1.45}table{border-collapse:collapse;margin:1em 0;font-size:14px}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}"
        "th{background:#f3f3f3}img{max-width:100%;margin:1em 0}"
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{style}</style></head><body>{''.join(body)}</body></html>"
    )
