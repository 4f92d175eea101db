"""ResNet (rtdl_revisiting_models.ResNet) with one-hot categoricals.

Search space: Gorishniy et al. 2021, Appendix (ResNet): n_blocks UniformInt[1, 8], d_block
UniformInt[64, 512], d_hidden_multiplier Uniform[1, 4], dropout1 Uniform[0, 0.5], dropout2
{0, Uniform[0, 0.5]}, lr LogUniform[1e-5, 1e-2], weight_decay {0, LogUniform[1e-6, 1e-3]}.
CPU preset: n_blocks UniformInt[1, 4] and d_block UniformInt[64, 256], so a trial sees several
epochs within a budget of minutes on 2 cores; the rest is the paper's. Trial 0 (ours; the paper
gives none): 2 blocks of 192, multiplier 2, dropout1 0.15, dropout2 0, lr 1e-3, weight decay 0.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from treeline.contenders.base import log_uniform_or_zero
from treeline.contenders.deep.tabular.base import Preprocessor, TabularNetwork, Tensors

if TYPE_CHECKING:
    import optuna
    import torch

    from treeline.data import FitData


class ResNet(TabularNetwork):
    name = "resnet"
    library = "rtdl-revisiting-models"
    description = "ResNet for tables (Gorishniy et al. 2021)"

    def default_params(self, data: FitData, device: str = "cpu") -> dict[str, Any]:
        return {
            "n_blocks": 2,
            "d_block": 192,
            "d_hidden_multiplier": 2.0,
            "dropout1": 0.15,
            "dropout2": 0.0,
            "lr": 1e-3,
            "weight_decay": 0.0,
        }

    def suggest(self, trial: optuna.Trial, data: FitData, device: str = "cpu") -> dict[str, Any]:
        cpu = device != "cuda"
        dropout2_zero = trial.suggest_categorical("dropout2_zero", [True, False])
        return {
            "n_blocks": trial.suggest_int("n_blocks", 1, 4 if cpu else 8),
            "d_block": trial.suggest_int("d_block", 64, 256 if cpu else 512),
            "d_hidden_multiplier": trial.suggest_float("d_hidden_multiplier", 1.0, 4.0),
            "dropout1": trial.suggest_float("dropout1", 0.0, 0.5),
            "dropout2": 0.0 if dropout2_zero else trial.suggest_float("dropout2", 0.0, 0.5),
            "lr": trial.suggest_float("lr", 1e-5, 1e-2, log=True),
            "weight_decay": log_uniform_or_zero(trial, "weight_decay", 1e-6, 1e-3),
        }

    def build(
        self, params: dict[str, Any], pre: Preprocessor, d_out: int, train: Tensors
    ) -> torch.nn.Module:
        from rtdl_revisiting_models import ResNet as Net

        return Net(
            d_in=pre.n_num_features,
            d_out=d_out,
            n_blocks=params["n_blocks"],
            d_block=params["d_block"],
            d_hidden=None,
            d_hidden_multiplier=params["d_hidden_multiplier"],
            dropout1=params["dropout1"],
            dropout2=params["dropout2"],
        )


CONTENDER = ResNet
