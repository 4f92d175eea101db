"""Results at scale: `treeline export` of a store of many cells against a bare MLflow listing of
the same runs (`MlflowClient.search_runs`, paginated: what an export through MLflow would at
least do; Treeline reads a SQLite store's tables directly), in one process, medians of rounds,
as a ratio; and `report --from` the export.

The store is made cheaply: a real 1-s run of two cells, exported, copied under new seeds
(each copy's predictions perturbed, so Parquet cannot fold equal ones) and imported —
timing data only, never a result. `TREELINE_BENCH_CELLS` sets the size (default 1,000; the
issue's figure used 5,000). Run: `pytest benchmarks/test_results_export.py -s`.
"""

from __future__ import annotations

import dataclasses
import io
import os
import statistics
import time
from pathlib import Path

import numpy as np
import pytest

CELLS = int(os.environ.get("TREELINE_BENCH_CELLS", "1000"))
ROUNDS = 3
SUITE = """\
name: scale
description: copies of two real cells under new seeds, for timing only
budget: 1
seeds: [0]
datasets:
  - name: adult
    n: [300]
contenders: [xgboost, mlp]
runners: [cpu]
"""


def copies(export: Path, n: int, out: Path) -> None:
    from treeline.execute.predictions import load
    from treeline.record import results_file

    data = results_file.read([export])
    rng = np.random.default_rng(0)
    records = []
    for i in range(n):
        r = data.records[i % len(data.records)]
        cell = dataclasses.replace(r.result.cell, seed=1000 + i)
        p = load(r.predictions)
        pred = (p.pred * (1 + rng.normal(0, 1e-3, p.pred.shape))).astype(p.pred.dtype)
        buf = io.BytesIO()
        np.savez_compressed(buf, pred=pred, y=p.y)
        result = dataclasses.replace(r.result, cell=cell)
        records.append(r._replace(result=result, predictions=buf.getvalue()))
    results_file.write(records, out, data.suites, "copies")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    from treeline.cli import main

    root = tmp_path_factory.mktemp("scale")
    (root / "scale.yaml").write_text(SUITE)
    uri = f"sqlite:///{root}/mlflow.db"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TREELINE_RESULTS", str(root / "results"))
        assert main(["run", str(root / "scale.yaml"), "--tracking-uri", uri]) == 0
    assert main(["export", "scale", "--tracking-uri", uri, "-o", str(root / "two.parquet")]) == 0
    copies(root / "two.parquet", CELLS, root / "copies.parquet")
    big = f"sqlite:///{root}/big.db"
    t0 = time.perf_counter()
    assert main(["import", str(root / "copies.parquet"), "--tracking-uri", big]) == 0
    print(f"\nimport of {CELLS:,} cells: {time.perf_counter() - t0:.1f} s")
    return big


def test_export_vs_a_bare_listing_of_the_runs(
    benchmark, store: str, tmp_path: Path, pytestconfig
) -> None:
    if pytestconfig.getoption("--suite"):
        pytest.skip("a harness benchmark, not a suite cell: run it without --suite")
    from mlflow import MlflowClient

    from treeline.cli import main

    client = MlflowClient(store)
    exp = client.get_experiment_by_name("scale").experiment_id
    out = tmp_path / "scale.parquet"
    bare, export, report = [], [], []

    def one_round() -> None:
        t0 = time.perf_counter()
        runs, token = [], None
        while True:
            page = client.search_runs([exp], max_results=5000, page_token=token)
            runs += page
            token = page.token
            if not token:
                break
        bare.append(time.perf_counter() - t0)
        assert len(runs) == CELLS
        t0 = time.perf_counter()
        assert main(["export", "scale", "--tracking-uri", store, "-o", str(out)]) == 0
        export.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        assert main(["report", "--from", str(out), "--out", str(tmp_path / "report")]) == 0
        report.append(time.perf_counter() - t0)

    benchmark.pedantic(one_round, rounds=ROUNDS, iterations=1, warmup_rounds=0)
    b, e, r = (statistics.median(x) for x in (bare, export, report))
    info = {
        "cells": CELLS,
        "bare_listing_seconds": b,
        "export_seconds": e,
        "export_ratio": e / b,
        "export_mib": out.stat().st_size / 2**20,
        "report_from_file_seconds": r,
    }
    benchmark.extra_info.update(info)
    print("\n" + "\n".join(f"{k}: {v:,.3f}" for k, v in info.items()))
    assert info["export_ratio"] < 3  # what export adds to MLflow's own listing
