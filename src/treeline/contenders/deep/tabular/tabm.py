"""TabM (the `tabm` package): an MLP ensemble of k members sharing most weights, with optional
piecewise-linear numeric embeddings (`rtdl_num_embeddings`).

Search space: Gorishniy et al. 2024/2025, "TabM: Advancing Tabular Deep Learning with
Parameter-Efficient Ensembling", Appendix: n_blocks UniformInt[1, 5] (UniformInt[1, 4] with
embeddings), d_block UniformInt[64, 1024] step 16, dropout {0, Uniform[0, 0.5]}, lr
LogUniform[1e-4, 5e-3], weight_decay {0, LogUniform[1e-4, 1e-1]}, k = 32; piecewise-linear
embeddings with n_bins UniformInt[2, 128] and d_embedding UniformInt[8, 32] step 4. Whether to
use the embeddings is a choice in the space. Default (trial 0): `TabM.make`'s (3 blocks of 512,
dropout 0.1, k 32) with lr 2e-3, no embeddings.

CPU preset: the k members multiply the work of every step — a default epoch over 100k rows runs
for minutes on 2 cores — so on CPU k = 8, trial 0 has 2 blocks of 256, and the space is
n_blocks UniformInt[1, 3], d_block UniformInt[64, 512] step 16, n_bins UniformInt[2, 64].
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import PositiveInt

from treeline.contenders.base import log_uniform_or_zero
from treeline.contenders.deep.loop import DeepOptions
from treeline.contenders.deep.tabular.base import Preprocessor, TabularNetwork, Tensors

if TYPE_CHECKING:
    import optuna
    import torch

    from treeline.data import FitData


class TabMOptions(DeepOptions):
    k: PositiveInt | None = None  # ensemble size; None: the preset (8 on CPU, 32 on CUDA)


class TabM(TabularNetwork):
    name = "tabm"
    library = "tabm, rtdl-num-embeddings"
    description = (
        "TabM, parameter-efficient MLP ensemble (Gorishniy et al. 2024), "
        "optional piecewise-linear embeddings"
    )
    libraries = ("torch", "torch._dynamo", "sklearn.preprocessing", "tabm", "rtdl_num_embeddings")
    Options = TabMOptions
    onehot = False
    ensemble = True

    def _k(self, device: str) -> int:
        return self.options.k or (32 if device == "cuda" else 8)

    def default_params(self, data: FitData, device: str = "cpu") -> dict[str, Any]:
        if device == "cuda":
            return {
                "k": self._k(device),
                "n_blocks": 3,
                "d_block": 512,
                "dropout": 0.1,
                "lr": 2e-3,
                "weight_decay": 0.0,
                "embeddings": "none",
            }
        return {
            "k": self._k(device),
            "n_blocks": 2,
            "d_block": 256,
            "dropout": 0.1,
            "lr": 2e-3,
            "weight_decay": 0.0,
            "embeddings": "none",
        }

    def suggest(self, trial: optuna.Trial, data: FitData, device: str = "cpu") -> dict[str, Any]:
        cpu = device != "cuda"
        embeddings = "none"
        if data.train.X.numeric:
            embeddings = trial.suggest_categorical("embeddings", ["none", "piecewise-linear"])
        ple = embeddings == "piecewise-linear"
        dropout_zero = trial.suggest_categorical("dropout_zero", [True, False])
        params = {
            "k": self._k(device),
            "n_blocks": trial.suggest_int("n_blocks", 1, 3 if cpu else (4 if ple else 5)),
            "d_block": trial.suggest_int("d_block", 64, 512 if cpu else 1024, step=16),
            "dropout": 0.0 if dropout_zero else trial.suggest_float("dropout", 0.0, 0.5),
            "lr": trial.suggest_float("lr", 1e-4, 5e-3, log=True),
            "weight_decay": log_uniform_or_zero(trial, "weight_decay", 1e-4, 1e-1),
            "embeddings": embeddings,
        }
        if ple:
            params["n_bins"] = trial.suggest_int("n_bins", 2, 64 if cpu else 128)
            params["d_embedding"] = trial.suggest_int("d_embedding", 8, 32, step=4)
        return params

    def build(
        self, params: dict[str, Any], pre: Preprocessor, d_out: int, train: Tensors
    ) -> torch.nn.Module:
        from tabm import TabM as Net

        num_embeddings = None
        if params["embeddings"] == "piecewise-linear":
            from rtdl_num_embeddings import PiecewiseLinearEmbeddings, compute_bins

            # Bins from the training features only; at most as many bins as distinct values.
            bins = compute_bins(train.x_num.cpu(), n_bins=params["n_bins"])
            num_embeddings = PiecewiseLinearEmbeddings(
                bins, params["d_embedding"], activation=False, version="B"
            )
        return Net.make(
            n_num_features=len(pre.numeric),
            cat_cardinalities=pre.cardinalities or None,
            d_out=d_out,
            num_embeddings=num_embeddings,
            k=params["k"],
            n_blocks=params["n_blocks"],
            d_block=params["d_block"],
            dropout=params["dropout"],
        )


CONTENDER = TabM
