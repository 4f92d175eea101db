"""What every deep contender shares, whatever its modality: the training loop and prediction.
How a modality's inputs reach the device is its base class's (tabular/base.py, image/base.py).

The loop: all tensors live on the device; each epoch draws a fresh permutation and batches are
index slices of it — no Dataset/DataLoader per-row overhead. AdamW; the deadline is checked
every step; validation after each epoch is reported to the pruner and drives early stopping
(patience in epochs), restoring the best epoch's weights. On CUDA the forward pass runs under
bf16 autocast. Batch size grows with n (below) unless the network or the trial sets it.
"""

from __future__ import annotations

import math
import random
from abc import abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict, PositiveInt

from treeline.contenders.base import Contender, FitContext
from treeline.data.metrics import score

if TYPE_CHECKING:
    import torch

    from treeline.data import FitData

PATIENCE_EPOCHS = 16
# Parameters of the loop, not of the network.
TRAINING_KEYS = frozenset({"lr", "weight_decay", "batch_size", "max_epochs"})
EVAL_BATCH = 4096


def batch_size_for(n_train: int) -> int:
    """32 below ~3k training rows, doubling with n up to 1024 (rtdl's 128-1024 by dataset size,
    extended down for the small n a boundary sweep starts from)."""
    return int(min(1024, max(32, 2 ** math.floor(math.log2(max(n_train, 1) / 50)))))


class DeepOptions(BaseModel):
    """What a suite may fix for every network (not tuned): batch size and an epoch cap."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    batch_size: PositiveInt | None = None  # None: grows with n (batch_size_for)
    max_epochs: PositiveInt | None = None  # None: until early stopping or the deadline


class DeviceData(Protocol):
    """A split's inputs and targets on the device, in the form the network takes."""

    y: torch.Tensor | None

    def __len__(self) -> int: ...

    def batch(self, idx: Any) -> tuple[Any, ...]:
        """The network's inputs for the rows `idx` (index tensor or slice)."""


class Preprocessing(Protocol):
    """Fitted on the training split only; turns any split of the same kind into DeviceData."""

    y_mean: float  # regression targets are standardized with these; 0 and 1 otherwise
    y_std: float

    def tensors(self, X: Any, y: np.ndarray | None, device: str) -> DeviceData: ...


@dataclass
class DeepInputs:
    """Per-cell inputs shared by every trial: the fitted preprocessing and device tensors."""

    pre: Preprocessing
    train: DeviceData
    val: DeviceData
    device: str


class DeepModel:
    """A trained network plus what predicting with it needs."""

    def __init__(
        self,
        module: Any,
        pre: Preprocessing,
        device: str,
        val_pred: np.ndarray,
        samples: int,
        train_seconds: float,
    ):
        self.module, self.pre, self.device = module, pre, device
        self.val_pred = val_pred  # the best epoch's validation predictions (reused by tuning)
        # Samples trained on and seconds spent on them: the throughput benchmark reads these.
        self.samples, self.train_seconds = samples, train_seconds
        self.settings: dict[str, float] = {}  # what training ran with (device_settings)


class DeepContender(Contender):
    """A torch network trained by the shared loop. A modality's base class says how its inputs
    reach the device (`preprocess`, `train_batch`); each network builds its module."""

    # torch.optim imports torch._dynamo on first use (~2 s here): load it before the clock starts,
    # or every deep cell pays it out of its budget.
    libraries: tuple[str, ...] = ("torch", "torch._dynamo")
    family = "deep"
    Options = DeepOptions
    ensemble = False  # the module returns (batch, k, d_out) predictions to average (TabM)
    eval_batch = EVAL_BATCH  # rows per forward pass when predicting

    @abstractmethod
    def preprocess(self, data: FitData, ctx: FitContext) -> Preprocessing:
        """Fitted on data.train only."""

    @abstractmethod
    def build(
        self, params: dict[str, Any], pre: Preprocessing, d_out: int, train: DeviceData
    ) -> torch.nn.Module: ...

    def forward(self, module: Any, *inputs: Any):
        return module(*inputs)

    def batch_size(self, n_train: int, params: dict[str, Any]) -> int:
        return params.get("batch_size") or self.options.batch_size or batch_size_for(n_train)

    def train_batch(
        self, train: DeviceData, idx: torch.Tensor, params: dict[str, Any], gen: torch.Generator
    ) -> tuple[Any, ...]:
        """The inputs of one training step (images add their augmentation here)."""
        return train.batch(idx)

    def param_groups(self, module: torch.nn.Module, params: dict[str, Any]) -> Any:
        """What AdamW trains, at `lr` unless a group sets its own (a pretrained encoder and a
        fresh head learn at different rates)."""
        return module.parameters()

    def on_device(self, module: torch.nn.Module, device: str) -> torch.nn.Module:
        return module.to(device)

    def prepare(self, data: FitData, ctx: FitContext) -> DeepInputs:
        _use_threads(ctx.threads)
        pre = self.preprocess(data, ctx)
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
        module = self.on_device(self.build(params, p.pre, d_out, p.train), p.device)
        opt = torch.optim.AdamW(
            self.param_groups(module, params),
            lr=params["lr"],
            weight_decay=params.get("weight_decay", 0.0),
        )
        n = len(p.train)
        bs = self.batch_size(n, params)
        gen = torch.Generator(device=p.device).manual_seed(ctx.seed)
        loss_fn = _loss(data.task)
        best_score, best_state, best_val_pred, bad_epochs = -math.inf, None, None, 0
        epochs = samples = 0
        train_seconds = 0.0  # measured for the throughput benchmark, not for deciding anything
        stop = False
        while not stop:
            module.train()
            t0 = time.perf_counter()
            perm = torch.randperm(n, device=p.device, generator=gen)
            for start in range(0, n, bs):
                idx = perm[start : start + bs]
                inputs = self.train_batch(p.train, idx, params, gen)
                with _autocast(p.device):
                    out = self.forward(module, *inputs)
                    if not samples:
                        settings = device_settings(module, p.device)
                loss = loss_fn(out.float(), p.train.y[idx], self.ensemble)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                samples += len(idx)
                ctx.did("steps")
                reserve = self._val_reserve(best_state, p, samples, ctx)
                if ctx.expired(sync=False, reserve=reserve):
                    stop = True
                    break
            train_seconds += time.perf_counter() - t0
            if stop and best_state is not None:
                break  # a cut-off epoch is not evaluated: the best complete epoch stands
            if stop and not ctx.needs_model:
                import optuna  # the cell has a model: no validation pass past the deadline

                raise optuna.TrialPruned("cut in its first epoch")
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
        model = DeepModel(module, p.pre, p.device, best_val_pred, samples, train_seconds)
        model.settings = settings
        return model

    @staticmethod
    def _val_reserve(best_state: Any, p: DeepInputs, samples: int, ctx: FitContext) -> float:
        """Seconds to keep for scoring a first epoch cut short on validation (it must be
        scored, and on a large validation split with a slow network that pass alone can outrun
        the grace): a forward pass costs about a third of a training step per row (MiniLM
        fine-tuning on 20 Newsgroups, 2 cores: ~20 ms a post to score, ~64 ms to train); half
        is kept, for the step-to-step noise of a shared machine. The cell's first step pays
        one-time warm-up and is not timed, and an estimate from it alone stopped a
        fine-tuned MiniLM on 20 Newsgroups (2,258 validation posts) after one step; later
        trials time their first step, so one that starts near the deadline stops at once.
        The harness times the steps (`ctx.seconds_per`); the loop only counts them."""
        per_step = ctx.seconds_per("steps")
        if best_state is not None or per_step is None:
            return 0.0
        rows_per_step = samples / ctx.work["steps"]
        return per_step / rows_per_step * len(p.val) / 2

    def _predict_tensors(
        self, module: Any, t: DeviceData, pre: Preprocessing, data: FitData
    ) -> np.ndarray:
        """Probabilities (n, k), or regression values in the target's own units."""
        import torch

        module.eval()
        outs = []
        device = next(module.parameters()).device.type
        with torch.inference_mode():
            for start in range(0, len(t), self.eval_batch):
                with _autocast(device):
                    out = self.forward(module, *t.batch(slice(start, start + self.eval_batch)))
                out = out.float()
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

    def predict(self, model: DeepModel, X: Any, data: FitData) -> np.ndarray:
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


def device_settings(module: torch.nn.Module, device: str) -> dict[str, float]:
    """Read off torch inside the first forward pass: whether bf16 autocast is active on the
    module's device, and whether its convolutions' weights are channels-last (NaN: none)."""
    import torch

    amp = torch.is_autocast_enabled(device) and torch.get_autocast_dtype(device) == torch.bfloat16
    convs = [p for p in module.parameters() if p.dim() == 4]
    last = [p.is_contiguous(memory_format=torch.channels_last) for p in convs]
    return {"bf16_autocast": float(amp), "channels_last": float(all(last)) if last else math.nan}


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
