"""How a table reaches a network: preprocessing fitted on train, tensors on the device, and
the base class of the tabular networks (MLP, ResNet, FT-Transformer, TabM).

Preprocessing follows Gorishniy et al. (2021, 2024): numeric features through a quantile
transform to a normal distribution fitted on train only (missing values first set to the train
median), categorical features as integer codes (embedded by FT-Transformer and TabM, one-hot for
MLP and ResNet), regression targets standardized with train statistics.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from treeline.contenders.base import FitContext
from treeline.contenders.deep.loop import DeepContender

if TYPE_CHECKING:
    import torch

    from treeline.data import FitData
    from treeline.data.inputs import Table


@dataclass
class Tensors:
    """A split, preprocessed, on the device."""

    x_num: torch.Tensor  # (n, d_num) float32, possibly with one-hot categoricals appended
    x_cat: torch.Tensor | None  # (n, d_cat) int64 codes, for models that embed them
    y: torch.Tensor | None

    def __len__(self) -> int:
        return len(self.x_num)

    def batch(self, idx: Any) -> tuple[torch.Tensor, torch.Tensor | None]:
        return self.x_num[idx], (self.x_cat[idx] if self.x_cat is not None else None)


class Preprocessor:
    """Fitted on train only; turns any table of the same columns into tensors."""

    def __init__(self, data: FitData, onehot: bool, seed: int):
        from sklearn.preprocessing import QuantileTransformer

        table: Table = data.train.X  # type: ignore[assignment]
        self.task, self.onehot = data.task, onehot
        self.numeric, self.categorical = table.numeric, table.categorical
        X = table.frame
        num = X[list(self.numeric)].to_numpy(dtype=np.float64)
        self.median = np.nan_to_num(np.nanmedian(num, axis=0)) if num.size else np.zeros(0)
        self.quantile = None
        if num.shape[1]:
            self.quantile = QuantileTransformer(
                output_distribution="normal",
                n_quantiles=max(min(len(X) // 30, 1000), 10),
                subsample=10**9,
                random_state=seed,
            ).fit(self._impute(num))
        # One code per level plus one for missing; cardinalities from the typed categories.
        self.cardinalities = [len(X[c].cat.categories) + 1 for c in self.categorical]
        self.y_mean, self.y_std = 0.0, 1.0
        if data.task == "regression":
            self.y_mean = float(np.mean(data.train.y))
            self.y_std = float(np.std(data.train.y)) or 1.0

    def _impute(self, num: np.ndarray) -> np.ndarray:
        return np.where(np.isnan(num), self.median, num)

    @property
    def n_num_features(self) -> int:
        n = len(self.numeric)
        return n + (sum(self.cardinalities) if self.onehot else 0)

    def tensors(self, table: Table, y: np.ndarray | None, device: str) -> Tensors:
        import torch

        X = table.frame
        num = X[list(self.numeric)].to_numpy(dtype=np.float64)
        if self.quantile is not None:
            num = self.quantile.transform(self._impute(num))
        # Integer codes per categorical column; missing (-1) takes the last code.
        codes = np.zeros((len(X), len(self.cardinalities)), dtype=np.int64)
        for j, (col, card) in enumerate(zip(self.categorical, self.cardinalities, strict=True)):
            c = X[col].cat.codes.to_numpy()
            codes[:, j] = np.where(c < 0, card - 1, c)
        x_cat = None
        if self.onehot and codes.shape[1]:
            blocks = [
                np.eye(card, dtype=np.float32)[codes[:, j]]
                for j, card in enumerate(self.cardinalities)
            ]
            num = np.concatenate([num, *blocks], axis=1)
        elif codes.shape[1]:
            x_cat = torch.as_tensor(codes, device=device)
        x_num = torch.as_tensor(num.astype(np.float32), device=device)
        y_t = None
        if y is not None:
            if self.task == "regression":
                y_t = torch.as_tensor(
                    ((y - self.y_mean) / self.y_std).astype(np.float32), device=device
                )
            else:
                y_t = torch.as_tensor(y.astype(np.int64), device=device)
        return Tensors(x_num, x_cat, y_t)


class TabularNetwork(DeepContender):
    """A network on a table: quantile-normal numeric features, categoricals one-hot or as
    codes for an embedding."""

    libraries = ("torch", "torch._dynamo", "sklearn.preprocessing", "rtdl_revisiting_models")
    onehot = True  # categorical codes → one-hot columns (MLP, ResNet); False: embeddings

    def preprocess(self, data: FitData, ctx: FitContext) -> Preprocessor:
        return Preprocessor(data, self.onehot, ctx.seed)

    def forward(self, module: Any, x_num: torch.Tensor, x_cat: torch.Tensor | None):
        if self.onehot:  # categoricals are already columns of x_num
            return module(x_num)
        return module(x_num if x_num.shape[1] else None, x_cat)
