"""Frozen all-MiniLM-L6-v2 sentence embeddings (sentence-transformers; 384 dimensions, mean
pooling, unit length; texts cut at the model's 256 word pieces): the pretrained route a
practitioner tries first, under a tree ensemble. Learns nothing from the rows, so it is computed
once per dataset on the CPU and cached; each cell is charged the measured seconds per row for
its own rows. Weights: data/pretrained.py (offline, from a package).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from treeline.featurize.base import Featurizer

if TYPE_CHECKING:
    from treeline.data.inputs import Table, Text

BATCH = 64


class MiniLMEmbed(Featurizer):
    name = "minilm-embed"
    modalities = ("text", "multimodal")  # the text part, joined with the table
    description = "frozen all-MiniLM-L6-v2 sentence embeddings (384), sentence-transformers"
    library = "sentence-transformers"
    libraries = ("torch", "sentence_transformers")

    def setup(self) -> None:
        from treeline.data.pretrained import load_minilm

        super().setup()
        self.model = load_minilm("cpu")  # before the clock: loading is not the features' cost

    def transform(self, X: Text) -> Table:  # type: ignore[override]
        import pandas as pd

        from treeline.data.inputs import Table

        emb = self.model.encode(
            X.strings, batch_size=BATCH, convert_to_numpy=True, normalize_embeddings=True,
            show_progress_bar=False,
        )  # fmt: skip
        columns = [f"minilm_{k}" for k in range(emb.shape[1])]
        frame = pd.DataFrame(emb.astype("float32"), columns=columns, copy=False)
        return Table(frame, tuple(columns), ())


FEATURIZER = MiniLMEmbed
