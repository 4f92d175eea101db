"""MLP (rtdl_revisiting_models.MLP) with one-hot categoricals.

Search space: Gorishniy et al. 2021, "Revisiting Deep Learning Models for Tabular Data",
Appendix (MLP): n_blocks UniformInt[1, 8], d_block UniformInt[1, 512], dropout
{0, Uniform[0, 0.5]}, lr LogUniform[1e-5, 1e-2], weight_decay {0, LogUniform[1e-6, 1e-3]}.
An MLP epoch is cheap on CPU, so the CPU space is the paper's. The paper gives no default;
trial 0 is ours: 3 blocks of 256, dropout 0.1, lr 1e-3, weight decay 1e-5.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from treeline.contenders.base import log_uniform_or_zero
from treeline.contenders.deep.tabular.base import Preprocessor, TabularNetwork, Tensors

if TYPE_CHECKING:
    import optuna
    import torch

    from treeline.data import FitData


class MLP(TabularNetwork):
    name = "mlp"
    library = "rtdl-revisiting-models"
    description = "MLP, one-hot categoricals (Gorishniy et al. 2021)"

    def default_params(self, data: FitData, device: str = "cpu") -> dict[str, Any]:
        return {"n_blocks": 3, "d_block": 256, "dropout": 0.1, "lr": 1e-3, "weight_decay": 1e-5}

    def suggest(self, trial: optuna.Trial, data: FitData, device: str = "cpu") -> dict[str, Any]:
        dropout_zero = trial.suggest_categorical("dropout_zero", [True, False])
        return {
            "n_blocks": trial.suggest_int("n_blocks", 1, 8),
            "d_block": trial.suggest_int("d_block", 1, 512),
            "dropout": 0.0 if dropout_zero else trial.suggest_float("dropout", 0.0, 0.5),
            "lr": trial.suggest_float("lr", 1e-5, 1e-2, log=True),
            "weight_decay": log_uniform_or_zero(trial, "weight_decay", 1e-6, 1e-3),
        }

    def build(
        self, params: dict[str, Any], pre: Preprocessor, d_out: int, train: Tensors
    ) -> torch.nn.Module:
        from rtdl_revisiting_models import MLP as Net

        return Net(
            d_in=pre.n_num_features,
            d_out=d_out,
            n_blocks=params["n_blocks"],
            d_block=params["d_block"],
            dropout=params["dropout"],
        )


CONTENDER = MLP
