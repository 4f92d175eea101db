"""The instruments: cost, peak memory, NVML's honest 'unknown', machine identity."""

from __future__ import annotations

import math

import pytest

from treeline.config.runner_profile import visible_gpus
from treeline.execute.measure import NvmlSampler, cost_usd, cpu_model, versions


def test_cost_is_wall_clock_times_price() -> None:
    assert math.isclose(cost_usd(1800, 0.1008), 0.0504)


_ALLOCATE = """
import numpy as np
from treeline.execute.measure import peak_rss_mb
before = peak_rss_mb()
block = np.ones(256 * 2**20 // 8)  # 256 MiB, touched
print(before, peak_rss_mb())
"""


def test_peak_rss_grows_with_an_allocation() -> None:
    """In a fresh process, so the peak before the allocation is well below it (this test
    process may already be past any fixed threshold)."""
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-c", _ALLOCATE], capture_output=True, text=True, check=True
    ).stdout.split()
    before, after = map(float, out)
    assert after - before >= 200, (before, after)


def test_nvml_sampler_says_unknown_without_a_gpu_and_measures_with_one() -> None:
    with NvmlSampler() as sampler:
        pass
    if visible_gpus():
        assert sampler.peak_mb is not None and sampler.peak_mb >= 0
    else:
        assert sampler.peak_mb is None  # never a made-up 0


def test_machine_identity() -> None:
    v = versions()
    assert v["xgboost"] != "absent" and v["python"].count(".") == 2
    assert cpu_model()


def test_the_versions_recorded_are_every_contender_s_and_featurizer_s_libraries(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Replay promises bit-equal scores when no recorded version changed: the list must hold
    each library a contender or featurizer declares (by its distribution's name), and a new
    contender's library without anyone editing a list."""
    from treeline.contenders import catalogue
    from treeline.contenders.trees.xgboost import XGBoost

    v = versions()
    for lib in ("tabm", "torchvision", "transformers", "librosa", "aeon", "pycatch22"):
        assert lib in v, lib
    assert {"scikit-learn", "scikit-image", "sentence-transformers"} <= set(v)

    class NewOne(XGBoost):
        name = "new-one"
        libraries = ("threadpoolctl",)

    monkeypatch.setitem(catalogue(), NewOne.name, NewOne)
    assert versions()["threadpoolctl"] != "absent"
