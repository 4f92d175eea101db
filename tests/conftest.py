"""Shared fixtures: every test gets its own data cache and results folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED_CACHE = Path(os.environ.get("TREELINE_TEST_CACHE", "/tmp/treeline-test-cache"))


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Prepared data is shared between tests (it is immutable once written); results are not.
    monkeypatch.setenv("TREELINE_CACHE", str(SHARED_CACHE))
    monkeypatch.setenv("TREELINE_RESULTS", str(tmp_path / "results"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
