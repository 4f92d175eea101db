"""The suite's cells as tests (see conftest.py)."""

from __future__ import annotations

import pytest

from treeline.execute import grace_seconds


def test_cell(cell, suite_run, outcomes, benchmark) -> None:
    outcome = benchmark.pedantic(suite_run.run_cell, args=(cell,), rounds=1, iterations=1)
    outcomes.append(outcome)
    m = outcome.metrics
    benchmark.extra_info.update(
        {"cell_id": cell.id, "status": outcome.status, "error": outcome.error[-500:], **m}
    )
    if outcome.status == "skipped":
        pytest.skip(outcome.error)
    assert outcome.status == "ok", f"{cell.id} ended '{outcome.status}': {outcome.error}"
    limit = cell.budget + grace_seconds(cell.budget)
    assert m["fit_seconds"] <= limit, f"fit took {m['fit_seconds']:.2f} s > {limit:g} s"
    assert m["test_score"] > m["baseline_test_score"], (
        f"test score {m['test_score']:.4g} does not beat the trivial baseline "
        f"{m['baseline_test_score']:.4g}"
    )
    for exp in suite_run.suite.expectations:
        if exp.applies(cell.dataset.label, cell.contender, cell.n, cell.runner):
            assert exp.low <= m["test_score"] <= exp.high, (
                f"test score {m['test_score']:.4g} outside the expected [{exp.low:g}, {exp.high:g}]"
            )
