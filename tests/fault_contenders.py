"""Contenders that misbehave on purpose, for the fault tests. Imported inside real workers
(the tests put this folder on PYTHONPATH and add these to the contender catalogue)."""

from __future__ import annotations

import os
import signal
import time
from typing import Any

from treeline.contenders.deep.tabular.mlp import MLP
from treeline.contenders.trees.xgboost import XGBoost


class Hang(XGBoost):
    """Ignores the clock: the parent must kill it."""

    name = "hang"

    def fit(self, data: Any, prepared: Any, params: dict[str, Any], ctx: Any) -> Any:
        time.sleep(3600)


class Crash(XGBoost):
    """The worker process dies mid-trial."""

    name = "crash"

    def fit(self, data: Any, prepared: Any, params: dict[str, Any], ctx: Any) -> Any:
        os._exit(3)


class Killed(XGBoost):
    """SIGKILL from outside (what the kernel's OOM killer sends, but not from it)."""

    name = "killed"

    def fit(self, data: Any, prepared: Any, params: dict[str, Any], ctx: Any) -> Any:
        os.kill(os.getpid(), signal.SIGKILL)


class AlwaysRaises(XGBoost):
    """Every trial fails: the cell has no model."""

    name = "always-raises"

    def fit(self, data: Any, prepared: Any, params: dict[str, Any], ctx: Any) -> Any:
        raise ValueError("bad configuration")


class Flaky(XGBoost):
    """Fits 2 and 3 fail, fit 4 runs out of (injected) GPU memory; the others work."""

    name = "flaky"

    def __init__(self, options: Any = None) -> None:
        super().__init__(options)
        self.calls = 0

    def fit(self, data: Any, prepared: Any, params: dict[str, Any], ctx: Any) -> Any:
        self.calls += 1
        if self.calls in (2, 3):
            raise ValueError(f"injected failure in fit {self.calls}")
        if self.calls == 4:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB (injected)")
        return super().fit(data, prepared, params, ctx)


class DeepOOM(MLP):
    """An MLP whose 2nd and 3rd networks run out of GPU memory in their first forward pass."""

    name = "deep-oom"

    def __init__(self, options: Any = None) -> None:
        super().__init__(options)
        self.builds = 0

    # Short trials: the test is about the OOM path, not about training.
    def default_params(self, data: Any, device: str = "cpu") -> dict[str, Any]:
        return {**super().default_params(data, device), "max_epochs": 2}

    def suggest(self, trial: Any, data: Any, device: str = "cpu") -> dict[str, Any]:
        return {**super().suggest(trial, data, device), "max_epochs": 2}

    def build(self, params: dict[str, Any], pre: Any, d_out: int, train: Any) -> Any:
        import torch

        self.builds += 1
        net = super().build(params, pre, d_out, train)
        if self.builds in (2, 3):

            def out_of_memory(*args: Any, **kwargs: Any) -> Any:
                raise torch.cuda.OutOfMemoryError("CUDA out of memory (injected)")

            net.forward = out_of_memory
        return net


class SlowTestScoring(XGBoost):
    """Predicting the (6,512-row) test set takes 5.5 s in all, past the grace: only the
    anytime scoring of new bests, with the budget clock paused, pays it during tuning."""

    name = "slow-test-scoring"

    def predict(self, model: Any, X: Any, data: Any) -> Any:
        if len(X) > 100:  # not the 60 validation rows: that is tuning, on the clock
            time.sleep(5.5 * len(X) / 6_512)
        return super().predict(model, X, data)


class SlowTestRows(XGBoost):
    """Predicting test rows takes 0.5 ms each: 3.3 s for the 6,512-row test set, 1 s a chunk."""

    name = "slow-test-rows"

    def predict(self, model: Any, X: Any, data: Any) -> Any:
        if len(X) > 100:
            time.sleep(0.0005 * len(X))
        return super().predict(model, X, data)


class HungTestScoring(XGBoost):
    """Predicting test rows never returns: the scoring limit must still end the worker."""

    name = "hung-test-scoring"

    def predict(self, model: Any, X: Any, data: Any) -> Any:
        if len(X) > 100:
            time.sleep(3600)
        return super().predict(model, X, data)


class Hog(XGBoost):
    """Takes memory until the kernel's OOM killer stops it (run only under a memory limit)."""

    name = "hog"

    def fit(self, data: Any, prepared: Any, params: dict[str, Any], ctx: Any) -> Any:
        import numpy as np

        held = []
        while True:
            held.append(np.ones(2**24))  # 128 MiB, touched


class AddressSpace(XGBoost):
    """Hits an address-space limit (ulimit -v): Python raises MemoryError, no kill."""

    name = "address-space"

    def fit(self, data: Any, prepared: Any, params: dict[str, Any], ctx: Any) -> Any:
        import resource

        import numpy as np

        resource.setrlimit(resource.RLIMIT_AS, (2**33, resource.getrlimit(resource.RLIMIT_AS)[1]))
        return np.ones(2**32)  # 32 GiB of address space: refused


class KilledLater(XGBoost):
    """SIGKILL from outside after 3 s, while something else may be OOM-killed."""

    name = "killed-later"

    def fit(self, data: Any, prepared: Any, params: dict[str, Any], ctx: Any) -> Any:
        time.sleep(3)
        os.kill(os.getpid(), signal.SIGKILL)
