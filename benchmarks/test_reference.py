"""After the suite's cells (`benchmarks/test_cells.py`): the cells that ran against the suite's
committed reference export, under the --fail-on rules (treeline/pytest_plugin.py)."""

from __future__ import annotations


def test_the_cells_that_ran_match_the_reference(treeline_reference) -> None:
    comparison = treeline_reference()
    assert comparison.cells, (
        f"none of the cells that ran is in {comparison.base}: nothing to compare"
    )
    regressions = comparison.regressions
    assert not regressions, (
        f"{len(regressions)} regressions against {comparison.base} "
        f"({', '.join(map(str, comparison.rules))}):\n" + "\n".join(regressions[:30])
    )
