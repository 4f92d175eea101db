"""A corpus of bad inputs as one parametrized test, and what every refusal must be: exit code 2
from `treeline validate`, located at the suite's dataset line, the message, no traceback."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from treeline.cli import main

# (what is wrong, how to make it from good data, the suite entry's extra keys, the message)
Case = tuple[str, Callable[[Path], object], str, str]


def corpus(cases: list[Case]) -> pytest.MarkDecorator:
    """The cases as (make, extra, message) parameters, each test named by what is wrong."""
    return pytest.mark.parametrize(
        ("make", "extra", "message"), [c[1:] for c in cases], ids=[c[0] for c in cases]
    )


def assert_refused(
    capsys: pytest.CaptureFixture[str], suite: Path, message: str, line: str = r"\d+"
) -> None:
    """`line`: a pattern of the line it must be located at (any, by default)."""
    assert main(["validate", str(suite)]) == 2
    err = capsys.readouterr().err
    at = rf"{re.escape(suite.name)}:{line}: datasets\[0\]"
    assert re.search(at, err) and message in err, err
    assert "Traceback" not in err
