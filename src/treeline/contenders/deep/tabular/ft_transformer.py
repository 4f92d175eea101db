"""FT-Transformer (rtdl_revisiting_models.FTTransformer): numeric and categorical embeddings.

Search space: Gorishniy et al. 2021, Appendix (FT-Transformer): n_blocks UniformInt[1, 4],
d_block UniformInt[64, 512] (a multiple of the 8 heads), attention_dropout Uniform[0, 0.5],
ffn_d_hidden_multiplier Uniform[2/3, 8/3], ffn_dropout Uniform[0, 0.5], residual_dropout
{0, Uniform[0, 0.2]}, lr LogUniform[1e-5, 1e-3], weight_decay LogUniform[1e-6, 1e-3].
Default (trial 0): the paper's (`FTTransformer.get_default_kwargs`: 3 blocks of 192, lr 1e-4,
weight decay 1e-5).

CPU preset: attention over every feature is the cost — a default epoch over 100k rows takes
minutes on 2 cores — so on CPU trial 0 uses the library's 1-block default (d_block 96) and the
space is n_blocks UniformInt[1, 2], d_block UniformInt[32, 128] step 8; a trial then sees
several epochs within a budget of minutes. Batch size grows with n (`deep.loop.batch_size_for`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from treeline.contenders.base import log_uniform_or_zero
from treeline.contenders.deep.loop import TRAINING_KEYS
from treeline.contenders.deep.tabular.base import Preprocessor, TabularNetwork, Tensors

if TYPE_CHECKING:
    import optuna
    import torch

    from treeline.data import FitData


class FTTransformer(TabularNetwork):
    name = "ft-transformer"
    library = "rtdl-revisiting-models"
    description = "FT-Transformer, feature tokens + attention (Gorishniy et al. 2021)"
    onehot = False

    def default_params(self, data: FitData, device: str = "cpu") -> dict[str, Any]:
        from rtdl_revisiting_models import FTTransformer as Net

        kw = Net.get_default_kwargs(n_blocks=3 if device == "cuda" else 1)
        kw.pop("_is_default", None)
        return {**kw, "lr": 1e-4, "weight_decay": 1e-5}

    def suggest(self, trial: optuna.Trial, data: FitData, device: str = "cpu") -> dict[str, Any]:
        cpu = device != "cuda"
        residual_zero = trial.suggest_categorical("residual_dropout_zero", [True, False])
        return {
            "n_blocks": trial.suggest_int("n_blocks", 1, 2 if cpu else 4),
            "d_block": trial.suggest_int("d_block", 32 if cpu else 64, 128 if cpu else 512, step=8),
            "attention_n_heads": 8,
            "attention_dropout": trial.suggest_float("attention_dropout", 0.0, 0.5),
            "ffn_d_hidden": None,
            "ffn_d_hidden_multiplier": trial.suggest_float("ffn_d_hidden_multiplier", 2 / 3, 8 / 3),
            "ffn_dropout": trial.suggest_float("ffn_dropout", 0.0, 0.5),
            "residual_dropout": 0.0
            if residual_zero
            else trial.suggest_float("residual_dropout", 0.0, 0.2),
            "lr": trial.suggest_float("lr", 1e-5, 1e-3, log=True),
            "weight_decay": log_uniform_or_zero(trial, "weight_decay", 1e-6, 1e-3),
        }

    def build(
        self, params: dict[str, Any], pre: Preprocessor, d_out: int, train: Tensors
    ) -> torch.nn.Module:
        from rtdl_revisiting_models import FTTransformer as Net

        arch = {k: v for k, v in params.items() if k not in TRAINING_KEYS}
        return Net(
            n_cont_features=len(pre.numeric),
            cat_cardinalities=pre.cardinalities,
            d_out=d_out,
            **arch,
        )


CONTENDER = FTTransformer
