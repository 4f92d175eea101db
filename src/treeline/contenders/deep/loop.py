"""What every deep contender shares: preprocessing, the training loop, prediction.

Preprocessing follows Gorishniy et al. (2021, 2024): numeric features through a quantile
transform to a normal distribution fitted on train only (missing values first set to the train
median), categorical features as integer codes (embedded by FT-Transformer and TabM, one-hot for
MLP and ResNet), regression targets standardized with train statistics.

The loop: all tensors live on the device; each epoch draws a fresh permutation and batches are
index slices of it — no Dataset/DataLoader per-row overhead. AdamW; the deadline is checked
every step; validation after each epoch is reported to the pruner and drives early stopping
(patience in epochs), restoring the best epoch's weights. On CUDA the forward pass runs under
bf16 autocast. Batch size grows with n (below).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, PositiveInt

from treeline.contenders.base import Contender, FitContext
from treeline.data.metrics import score

if TYPE_CHECKING:
    import torch

    from treeline.data import FitData
    from treeline.data.inputs import Table

PATIENCE_EPOCHS = 16
# Parameters of the loop, not of the network.
TRAINING_KEYS = frozenset({"lr", "weight_decay", "batch_size", "max_epochs"})
EVAL_BATCH = 4096


def batch_size_for(n_train: int) -> int:
    """32 below ~3k training rows, doubling with n up to 1024 (rtdl's 128-1024 by dataset size,
    extended down for the small n a boundary sweep starts from)."""
    return int(min(1024, max(32, 2 ** math.floor(math.log2(max(n_train, 1) / 50)))))


@dataclass
class Tensors:
    """A split, preprocessed, on the device."""

    x_num: torch.Tensor  # (n, d_num) float32, possibly with one-hot categoricals appended
    x_cat: torch.Tensor | None  # (n, d_cat) int64 codes, for models that embed them
    y: torch.Tensor | None


class DeepOptions(BaseModel):
    """What a suite may fix for every network (not tuned): batch size and an epoch cap."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    batch_size: PositiveInt | None = None  # None: grows with n (batch_size_for)
    max_epochs: PositiveInt | None = None  # None: until early stopping or the deadline


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


@dataclass
class DeepInputs:
    """Per-cell inputs shared by every trial: the fitted preprocessor and device tensors."""

    pre: Preprocessor
    train: Tensors
    val: Tensors
    device: str


class DeepModel:
    """A trained network plus what predicting with it needs."""

    def __init__(
        self,
        module: Any,
        pre: Preprocessor,
        device: str,
        val_pred: np.ndarray,
        epochs: int,
        samples: int,
        train_seconds: float,
    ):
        self.module, self.pre, self.device = module, pre, device
        self.val_pred = val_pred  # the best epoch's validation predictions (reused by tuning)
        self.epochs, self.samples, self.train_seconds = epochs, samples, train_seconds


class DeepContender(Contender):
    """A torch network trained by the shared loop; subclasses build the module."""

    # torch.optim imports torch._dynamo on first use (~2 s here): load it before the clock starts,
    # or every deep cell pays it out of its budget.
    libraries = ("torch", "torch._dynamo", "sklearn.preprocessing", "rtdl_revisiting_models")
    family = "deep"
    Options = DeepOptions
    onehot = True  # categorical codes → one-hot columns (MLP, ResNet); False: embeddings
    ensemble = False  # the module returns (batch, k, d_out) predictions to average (TabM)

    def build(
        self, params: dict[str, Any], pre: Preprocessor, d_out: int, train: Tensors
    ) -> torch.nn.Module:
        raise NotImplementedError

    def forward(self, module: Any, x_num: torch.Tensor, x_cat: torch.Tensor | None):
        if self.onehot:  # categoricals are already columns of x_num
            return module(x_num)
        return module(x_num if x_num.shape[1] else None, x_cat)

    def prepare(self, data: FitData, ctx: FitContext) -> DeepInputs:
        _use_threads(ctx.threads)
        pre = Preprocessor(data, self.onehot, ctx.seed)
        device = "cuda" if ctx.device == "cuda" else "cpu"
        return DeepInputs(
            pre,
            pre.tensors(data.train.X, data.train.y, device),
            pre.tensors(data.val.X, data.val.y, device),
            device,
        )

    def fit(
        self, data: FitData, prepared: Any, params: dict[str, Any], ctx: FitContext
    ) -> DeepModel:
        import time

        import torch

        p: DeepInputs = prepared
        _use_threads(ctx.threads)
        _seed_everything(ctx.seed)
        d_out = 1 if data.task == "regression" else data.n_classes
        module = self.build(params, p.pre, d_out, p.train).to(p.device)
        opt = torch.optim.AdamW(
            module.parameters(), lr=params["lr"], weight_decay=params.get("weight_decay", 0.0)
        )
        n = len(p.train.x_num)
        bs = params.get("batch_size") or self.options.batch_size or batch_size_for(n)
        gen = torch.Generator(device=p.device).manual_seed(ctx.seed)
        loss_fn = _loss(data.task)
        best_score, best_state, best_val_pred, bad_epochs = -math.inf, None, None, 0
        epochs = samples = 0
        train_seconds = 0.0
        stop = False
        while not stop:
            module.train()
            t0 = time.perf_counter()
            perm = torch.randperm(n, device=p.device, generator=gen)
            for start in range(0, n, bs):
                idx = perm[start : start + bs]
                x_cat = p.train.x_cat[idx] if p.train.x_cat is not None else None
                with _autocast(p.device):
                    out = self.forward(module, p.train.x_num[idx], x_cat)
                loss = loss_fn(out.float(), p.train.y[idx], self.ensemble)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                samples += len(idx)
                ctx.did("steps")
                if ctx.expired(sync=False):
                    stop = True
                    break
            train_seconds += time.perf_counter() - t0
            if stop and best_state is not None:
                break  # a cut-off epoch is not evaluated: the best complete epoch stands
            epochs += 1
            ctx.did("epochs")
            val_pred = self._predict_tensors(module, p.val, p.pre, data)
            s = score(data.task, data.val.y, val_pred, data.metric).score
            if s > best_score:
                best_score, best_val_pred, bad_epochs = s, val_pred, 0
                best_state = {k: v.detach().clone() for k, v in module.state_dict().items()}
            else:
                bad_epochs += 1
            ctx.report(epochs, s)  # may raise optuna.TrialPruned
            if (
                bad_epochs >= PATIENCE_EPOCHS
                or epochs >= (params.get("max_epochs") or self.options.max_epochs or math.inf)
                or ctx.expired()
            ):
                break
        module.load_state_dict(best_state)
        return DeepModel(module, p.pre, p.device, best_val_pred, epochs, samples, train_seconds)

    def _predict_tensors(
        self, module: Any, t: Tensors, pre: Preprocessor, data: FitData
    ) -> np.ndarray:
        """Probabilities (n, k), or regression values in the target's own units."""
        import torch

        module.eval()
        outs = []
        with torch.inference_mode():
            for start in range(0, len(t.x_num), EVAL_BATCH):
                sl = slice(start, start + EVAL_BATCH)
                x_cat = t.x_cat[sl] if t.x_cat is not None else None
                with _autocast(t.x_num.device.type):
                    out = self.forward(module, t.x_num[sl], x_cat).float()
                if data.task == "regression":
                    out = out.mean(dim=1) if self.ensemble else out
                    outs.append(out.reshape(len(out), -1)[:, 0])
                else:
                    proba = torch.softmax(out, dim=-1)
                    outs.append(proba.mean(dim=1) if self.ensemble else proba)
        pred = torch.cat(outs).cpu().numpy().astype(np.float64)
        if data.task == "regression":
            return pred * pre.y_std + pre.y_mean
        return pred

    def predict(self, model: DeepModel, X: Table, data: FitData) -> np.ndarray:
        return self._predict_tensors(
            model.module, model.pre.tensors(X, None, model.device), model.pre, data
        )


def _loss(task: str):
    import torch.nn.functional as F

    def loss(out, y, ensemble: bool):
        if ensemble:  # TabM: every member learns the target (mean of the k losses)
            k = out.shape[1]
            out = out.reshape(-1, out.shape[-1])
            y = y.repeat_interleave(k)
        if task == "regression":
            return F.mse_loss(out.reshape(-1), y)
        return F.cross_entropy(out, y)

    return loss


def _autocast(device: str):
    import contextlib

    import torch

    if device == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _use_threads(threads: int) -> None:
    """Honour the runner's thread count, as the tree libraries do per call: torch's intra-op pool
    defaults to every core, and on a busy machine its spinning workers stretch one step 5-10x."""
    import torch

    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


def _seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
