"""The instruments: cost, peak memory, NVML's honest 'unknown', machine identity."""

from __future__ import annotations

import math

import numpy as np

from treeline.execute.measure import NvmlSampler, cost_usd, cpu_model, peak_rss_mb, versions
from treeline.config.runner_profile import visible_gpus


def test_cost_is_wall_clock_times_price() -> None:
    assert math.isclose(cost_usd(1800, 0.1008), 0.0504)


def test_peak_rss_grows_with_an_allocation() -> None:
    before = peak_rss_mb()
    block = np.ones(64 * 2**20 // 8)  # 64 MiB, touched
    assert peak_rss_mb() >= before and peak_rss_mb() > 64
    del block


def test_nvml_sampler_says_unknown_without_a_gpu() -> None:
    with NvmlSampler() as sampler:
        pass
    if not visible_gpus():
        assert sampler.peak_mb is None  # never a made-up 0


def test_machine_identity() -> None:
    v = versions()
    assert v["xgboost"] != "absent" and v["python"].count(".") == 2
    assert cpu_model()
