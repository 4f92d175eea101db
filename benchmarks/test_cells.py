"""The suite's cells as tests: `pytest benchmarks/ --suite NAME` (treeline/pytest_plugin.py)."""

from __future__ import annotations

import pytest

from treeline.record.schema import metrics


def test_cell(
    treeline_cell,
    treeline_run,
    treeline_recorded,
    treeline_ran_together,
    treeline_results,
    benchmark,
) -> None:
    """One cell of the suite (the plugin's fixtures, prefixed: it is loaded in every pytest run
    of an environment where Treeline is installed)."""
    cell, suite_run, recorded = treeline_cell, treeline_run, treeline_recorded
    ran_together, results = treeline_ran_together, treeline_results
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
            **metrics(result),
        }
    )
    if result.status == "skipped":
        pytest.skip(result.error)
    assert result.status == "ok", f"{cell.id} ended '{result.status}': {result.error}"
    limit = cell.budget.limit
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
