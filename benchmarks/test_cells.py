"""The suite's cells as tests (see conftest.py)."""

from __future__ import annotations

import pytest

from treeline.execute.budget import grace_seconds


def test_cell(cell, suite_run, recorded, ran_together, results, benchmark) -> None:
    if cell.resume_key in recorded:  # checked as recorded, like `treeline run` resumes
        result = recorded[cell.resume_key]
    elif cell.id in ran_together:  # --jobs / --executor ray: run beside the others
        result = ran_together[cell.id]
    else:
        result = benchmark.pedantic(suite_run.run_cell, args=(cell,), rounds=1, iterations=1)
    results.append(result)
    m = result.measurements
    benchmark.extra_info.update(
        {
            "cell_id": cell.id,
            "status": result.status,
            "recorded_earlier": result.from_earlier_run,
            "error": result.error[-500:],
            **result.metrics,
        }
    )
    if result.status == "skipped":
        pytest.skip(result.error)
    assert result.status == "ok", f"{cell.id} ended '{result.status}': {result.error}"
    limit = cell.budget + grace_seconds(cell.budget)
    assert m.fit_seconds <= limit, f"fit took {m.fit_seconds:.2f} s > {limit:g} s"
    assert m.test_score > m.baseline_test_score, (
        f"test score {m.test_score:.4g} does not beat the trivial baseline "
        f"{m.baseline_test_score:.4g}"
    )
    for exp in suite_run.suite.expectations:
        if exp.applies(cell.dataset.label, cell.contender.label, cell.n, cell.runner):
            assert exp.low <= m.test_score <= exp.high, (
                f"test score {m.test_score:.4g} outside the expected [{exp.low:g}, {exp.high:g}]"
            )
