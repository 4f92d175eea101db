"""Frozen all-MiniLM-L6-v2 sentence embeddings (sentence-transformers; 384 dimensions, mean
pooling, unit length; texts cut at `max_length` word pieces, the model's 256 by default): the
pretrained route a practitioner tries first, under a tree ensemble. Learns nothing from the rows,
so it is computed once per dataset, on the cell's device, and cached; each cell is charged the
seconds per row measured on its own kind of device (apply.py). Weights: data/pretrained.py
(offline, from a package).

Precision: fp32 on the CPU, fp16 on CUDA (inference of a layer-normed encoder is safe there), or
`int8` on the CPU — PyTorch's dynamic quantization of the linear layers, where nearly all of the
encoder's arithmetic is — as the chapter recommends for CPU inference. Texts are encoded in
batches of similar length (sorted by characters, restored after), so a batch pads to its own
longest text rather than to the longest in the set.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from treeline.featurize.base import Featurizer

if TYPE_CHECKING:
    import numpy as np

    from treeline.data.inputs import Table, Text

BATCH = {"cpu": 64, "cuda": 256}
MAX_LENGTH = 256  # the model's own truncation


class MiniLMOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    # None: the device's own (fp32 on CPU, fp16 on CUDA). int8 is the CPU's quantized path.
    precision: Literal["fp32", "fp16", "int8"] | None = None
    max_length: int = Field(MAX_LENGTH, ge=8, le=512)


def precision_on(options: MiniLMOptions, device: str) -> str:
    return options.precision or ("fp16" if device == "cuda" else "fp32")


def unsupported_precision(options: dict[str, Any], device: str) -> str | None:
    """int8 (dynamic quantization) runs on the CPU only; fp16 is for CUDA."""
    precision = options.get("precision")
    if precision == "int8" and device == "cuda":
        return "precision int8 is the CPU's quantized path; on a GPU runner use fp16 (its default)"
    if precision == "fp16" and device == "cpu":
        return "precision fp16 is for CUDA; on a CPU runner use fp32 (its default) or int8"
    return None


def load_encoder(options: MiniLMOptions, device: str) -> Any:
    """The sentence-transformers model on `device`, at the options' precision and length."""
    from treeline.data.pretrained import load_minilm

    model = load_minilm(device)
    model.max_seq_length = options.max_length
    precision = precision_on(options, device)
    if precision == "fp16":
        model = model.half()
    elif precision == "int8":
        model = quantize_linear(model)
    return model


def quantize_linear(model: Any) -> Any:
    """int8 weights for every nn.Linear, one scale per output channel (per tensor loses twice
    as much: mean cosine to fp32 0.93 against 0.97 on 1,000 tweets), activations quantized per
    batch. torch marks its eager API deprecated; it is still the one that ships with torch."""
    import warnings

    import torch

    quantize = getattr(getattr(torch, "ao", None), "quantization", None)
    if quantize is None or not hasattr(quantize, "quantize_dynamic"):
        raise RuntimeError(
            f"torch {torch.__version__} has no torch.ao.quantization.quantize_dynamic: "
            "precision int8 needs it"
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        per_channel = quantize.per_channel_dynamic_qconfig
        return quantize.quantize_dynamic(model, {torch.nn.Linear: per_channel}, dtype=torch.qint8)


def encode(model: Any, strings: list[str], batch_size: int) -> np.ndarray:
    """Unit-length embeddings, in batches of texts of similar length, in the input's order."""
    import warnings

    import numpy as np

    order = np.argsort([-len(s) for s in strings], kind="stable")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # quantized tensors warn of their deprecation per call
        emb = model.encode(
            [strings[i] for i in order], batch_size=batch_size, convert_to_numpy=True,
            normalize_embeddings=True, show_progress_bar=False,
        )  # fmt: skip
    out = np.empty_like(emb, dtype=np.float32)
    out[order] = emb
    return out


class MiniLMEmbed(Featurizer):
    name = "minilm-embed"
    modalities = ("text", "multimodal")  # the text part, joined with the table
    description = "frozen all-MiniLM-L6-v2 sentence embeddings (384), sentence-transformers"
    library = "sentence-transformers"
    libraries = ("torch", "sentence_transformers")
    devices = ("cpu", "cuda")
    Options = MiniLMOptions

    @classmethod
    def unsupported(cls, options: dict[str, Any], device: str) -> str | None:
        return unsupported_precision(options, device)

    @property
    def variant(self) -> str:
        o: MiniLMOptions = self.options  # type: ignore[assignment]
        precision = precision_on(o, self.device)
        parts = [precision] if precision != "fp32" else []
        return "-".join(parts + ([f"len{o.max_length}"] if o.max_length != MAX_LENGTH else []))

    def setup(self) -> None:
        super().setup()
        # Before the clock: loading and quantizing are not the features' cost.
        self.model = load_encoder(self.options, self.device)  # type: ignore[arg-type]

    def transform(self, X: Text) -> Table:  # type: ignore[override]
        import pandas as pd

        from treeline.data.inputs import Table

        emb = encode(self.model, list(X.strings), BATCH[self.device])
        columns = [f"minilm_{k}" for k in range(emb.shape[1])]
        frame = pd.DataFrame(emb, columns=columns, copy=False)
        return Table(frame, tuple(columns), ())


FEATURIZER = MiniLMEmbed
