"""How text reaches a network trained from scratch: lower-cased word tokens (runs of letters,
digits and apostrophes), a vocabulary of the training split's words seen at least twice (the
50,000 most frequent), and each pair of neighbouring words hashed into 2^16 bigram buckets
(fastText's trick: word order without a bigram vocabulary). A document is its first 512 tokens
and their bigrams, as padded id tensors on the device with their lengths; id 0 is padding, 1 an
unknown word.
"""

from __future__ import annotations

import itertools
import re
import zlib
from collections import Counter
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

import numpy as np

from treeline.contenders.base import FitContext, log_uniform_or_zero
from treeline.contenders.deep.loop import DeepContender

if TYPE_CHECKING:
    import optuna
    import torch

    from treeline.data import FitData
    from treeline.data.inputs import Text

MAX_WORDS = 50_000
BUCKETS = 1 << 16
MAX_TOKENS = 512
_WORD = re.compile(r"[a-z0-9']+")


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())[:MAX_TOKENS]


def training_space(trial: optuna.Trial) -> dict[str, Any]:
    """What the from-scratch text networks (embedding-bag, fusion) tune alike: dropout
    Uniform[0, 0.5], AdamW's lr LogUniform[1e-4, 3e-2] (embedding bags train at high rates),
    weight decay {0, LogUniform[1e-6, 1e-3]}, batch {32, 64, 128}."""
    return {
        "dropout": trial.suggest_float("dropout", 0.0, 0.5),
        "lr": trial.suggest_float("lr", 1e-4, 3e-2, log=True),
        "weight_decay": log_uniform_or_zero(trial, "weight_decay", 1e-6, 1e-3),
        "batch_size": trial.suggest_categorical("batch_size", [32, 64, 128]),
    }


@dataclass
class TokenTensors:
    """A split on the device: ids (n, T) int64 zero-padded (words then their bigrams, or word
    pieces), and the number of real ids per row. A batch is cut to its longest row and carries
    the lengths, or (`mask`) an attention mask as a transformer takes it."""

    ids: torch.Tensor
    lengths: torch.Tensor
    y: torch.Tensor | None
    mask: bool = False

    def __len__(self) -> int:
        return len(self.ids)

    def batch(self, idx: Any) -> tuple[Any, ...]:
        import torch

        lengths = self.lengths[idx]
        width = max(int(lengths.max()), 1) if len(lengths) else 1  # cut the batch's padding
        ids = self.ids[idx, :width]
        if not self.mask:
            return ids, lengths
        return ids, (torch.arange(width, device=ids.device)[None, :] < lengths[:, None]).long()


@cache  # built on first use, so reading the catalogue does not import torch
def bag_class():
    import torch
    from torch import nn

    class Bag(nn.Module):
        """The mean of a document's id embeddings (fastText's initialization, padding zero)."""

        def __init__(self, n_ids: int, dim: int):
            super().__init__()
            self.embed = nn.Embedding(n_ids, dim, padding_idx=0)
            nn.init.uniform_(self.embed.weight, -1 / dim, 1 / dim)
            with torch.no_grad():
                self.embed.weight[0].zero_()

        def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
            summed = self.embed(ids).sum(dim=1)  # padding embeds to zero
            return summed / lengths.clamp(min=1)[:, None].to(summed.dtype)

    return Bag


class TokenPreprocessor:
    y_mean, y_std = 0.0, 1.0

    def __init__(self, data: FitData):
        X: Text = data.train.X  # type: ignore[assignment]
        counts = Counter(w for s in X.strings for w in words(s))
        kept = [w for w, c in counts.most_common(MAX_WORDS) if c >= 2]
        self.vocab = {w: i + 2 for i, w in enumerate(kept)}  # 0: padding, 1: unknown
        self.n_ids = len(self.vocab) + 2 + BUCKETS

    def ids(self, text: str) -> list[int]:
        ws = words(text)
        unigrams = [self.vocab.get(w, 1) for w in ws]
        base = len(self.vocab) + 2
        pairs = itertools.pairwise(ws)
        bigrams = [base + zlib.crc32(f"{a} {b}".encode()) % BUCKETS for a, b in pairs]
        return unigrams + bigrams

    def tensors(self, X: Text, y: np.ndarray | None, device: str) -> TokenTensors:
        import torch

        rows = [self.ids(s) for s in X.strings]
        lengths = np.array([len(r) for r in rows], dtype=np.int64)
        out = np.zeros((len(rows), max(int(lengths.max(initial=0)), 1)), dtype=np.int64)
        for i, r in enumerate(rows):
            out[i, : len(r)] = r
        return TokenTensors(
            torch.from_numpy(out).to(device),
            torch.from_numpy(lengths).to(device),
            None if y is None else torch.as_tensor(y.astype(np.int64), device=device),
        )


class TextNetwork(DeepContender):
    """A network on word tokens; classification."""

    modalities = ("text",)
    regression = False
    eval_batch = 1024

    def preprocess(self, data: FitData, ctx: FitContext) -> TokenPreprocessor:
        if data.task == "regression":
            raise ValueError(f"{self.name} classifies text; the task is regression")
        return TokenPreprocessor(data)
