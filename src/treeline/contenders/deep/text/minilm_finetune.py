"""all-MiniLM-L6-v2 fine-tuned end to end: the pretrained encoder (6 layers, 384 wide, 22 M
parameters; data/pretrained.py, offline) with a fresh linear head on its mean-pooled token
states, every weight trained by the shared loop — the expensive pretrained route. Texts are cut
at `max_length` word pieces (a suite option: 128 by default, as the cost grows with it; the
model was trained on up to 256).

Default (trial 0): encoder lr 5e-5 and head lr 1e-3 (the usual BERT fine-tuning rate with a
faster fresh head), no weight decay, dropout 0.1, batch 32. Search space: encoder lr
LogUniform[1e-5, 1e-4] (Devlin et al. 2019's grid spans 2e-5 to 5e-5), head lr
LogUniform[1e-4, 1e-2], weight decay {0, LogUniform[1e-6, 1e-2]}, dropout Uniform[0, 0.3], batch
{16, 32}. On a CPU an epoch of a few thousand documents takes many minutes: under a budget of
minutes it sees part of one epoch, which is what such a budget buys.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import PositiveInt

from treeline.contenders.base import FitContext, log_uniform_or_zero
from treeline.contenders.deep.loop import DeepContender, DeepOptions
from treeline.contenders.deep.text.base import TokenTensors

if TYPE_CHECKING:
    import optuna
    import torch

    from treeline.data import FitData
    from treeline.data.inputs import Text


class FinetuneOptions(DeepOptions):
    max_length: PositiveInt = 128  # word pieces per text


class Tokenizer:
    y_mean, y_std = 0.0, 1.0

    def __init__(self, max_length: int):
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging

        from treeline.data.pretrained import minilm_dir

        logging.disable_progress_bar()  # a bar per trial in the worker's log says nothing
        self.max_length = max_length
        self.tok = AutoTokenizer.from_pretrained(str(minilm_dir()))
        # Read once per cell; each trial trains a copy.
        self.encoder = AutoModel.from_pretrained(str(minilm_dir()))

    def tensors(self, X: Text, y: np.ndarray | None, device: str) -> TokenTensors:
        import torch

        enc = self.tok(
            X.strings, truncation=True, max_length=self.max_length, padding="max_length",
            return_attention_mask=True, return_tensors="np",
        )  # fmt: skip
        lengths = enc["attention_mask"].sum(axis=1).astype(np.int64)
        return TokenTensors(
            torch.as_tensor(enc["input_ids"].astype(np.int64), device=device),
            torch.as_tensor(lengths, device=device),
            None if y is None else torch.as_tensor(y.astype(np.int64), device=device),
            mask=True,
        )


class MiniLMFinetune(DeepContender):
    name = "minilm-finetune"
    library = "transformers"
    modalities = ("text",)
    regression = False
    description = "all-MiniLM-L6-v2 fine-tuned end to end with a linear head (transformers)"
    libraries = ("torch", "torch._dynamo", "transformers", "transformers.models.bert")
    Options = FinetuneOptions
    eval_batch = 128

    def import_libraries(self) -> None:
        super().import_libraries()
        # transformers imports hundreds of modules lazily on a first load (~1 s): not on a clock.
        Tokenizer(8)

    def preprocess(self, data: FitData, ctx: FitContext) -> Tokenizer:
        if data.task == "regression":
            raise ValueError("minilm-finetune classifies text; the task is regression")
        return Tokenizer(self.options.max_length)  # type: ignore[attr-defined]

    def default_params(self, data: FitData, device: str = "cpu") -> dict[str, Any]:
        return {"lr": 5e-5, "head_lr": 1e-3, "weight_decay": 0.0, "dropout": 0.1, "batch_size": 32}

    def suggest(self, trial: optuna.Trial, data: FitData, device: str = "cpu") -> dict[str, Any]:
        return {
            "lr": trial.suggest_float("lr", 1e-5, 1e-4, log=True),
            "head_lr": trial.suggest_float("head_lr", 1e-4, 1e-2, log=True),
            "weight_decay": log_uniform_or_zero(trial, "weight_decay", 1e-6, 1e-2),
            "dropout": trial.suggest_float("dropout", 0.0, 0.3),
            "batch_size": trial.suggest_categorical("batch_size", [16, 32]),
        }

    def build(self, params: dict[str, Any], pre: Any, d_out: int, train: Any) -> torch.nn.Module:
        import copy

        return _module()(copy.deepcopy(pre.encoder), params, d_out)

    def param_groups(self, module: torch.nn.Module, params: dict[str, Any]) -> Any:
        return [
            {"params": module.encoder.parameters()},  # at params["lr"]
            {"params": module.head.parameters(), "lr": params["head_lr"]},
        ]


@cache
def _module():
    from torch import nn

    class Net(nn.Module):
        def __init__(self, encoder: nn.Module, params: dict[str, Any], d_out: int):
            super().__init__()
            self.encoder = encoder
            width = self.encoder.config.hidden_size
            self.head = nn.Sequential(nn.Dropout(params["dropout"]), nn.Linear(width, d_out))

        def forward(self, ids, mask):
            states = self.encoder(input_ids=ids, attention_mask=mask).last_hidden_state
            m = mask[:, :, None].to(states.dtype)
            pooled = (states * m).sum(dim=1) / m.sum(dim=1).clamp(min=1)  # as sentence-BERT
            return self.head(pooled)

    return Net


CONTENDER = MiniLMFinetune
