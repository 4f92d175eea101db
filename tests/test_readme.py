"""The README's quickstart commands are the ones CI runs."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _quickstart_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.+?)\n```", section)


def test_quickstart_is_exactly_two_commands() -> None:
    commands = _quickstart_commands()
    assert len(commands) == 2
    assert commands[0].startswith("pip install") and "treeline run quickstart" in commands[0]
    assert commands[1].startswith("pip install") and "pytest" in commands[1]


def test_ci_runs_the_readme_test_command() -> None:
    install, test = _quickstart_commands()[1].split(" && ")
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert any(line.startswith(install) for line in ci)
    assert test in ci


def _tables(markdown: str, heading: str) -> list[str]:
    """The table rows under `heading` (up to the next heading)."""
    section = markdown.split(heading, 1)[1].split("\n#", 1)[0]
    return [line for line in section.splitlines() if line.startswith("|")]


def test_the_readme_opens_with_the_reference_atlas() -> None:
    """The headline grid and the claims table at the top of the README are the committed
    reference atlas page's, row for row: regenerating the page without the README fails here."""
    readme = (ROOT / "README.md").read_text()
    page = (ROOT / "results" / "reference" / "atlas" / "atlas.md").read_text()
    top = readme.split("## Quickstart", 1)[0]
    for heading in ("## Headline: who leads, by modality and size", "## The claims"):
        rows = _tables(page, heading)
        assert rows and "\n".join(rows) in top, heading
    assert "results/reference/atlas/atlas.md" in top
