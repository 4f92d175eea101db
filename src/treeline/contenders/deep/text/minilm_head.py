"""A head trained on frozen all-MiniLM-L6-v2 sentence embeddings: the `minilm-embed` features
(computed once per dataset and cached; each cell is charged its rows' measured share) under the
MLP of tabular/mlp.py, with its search space and default. The cheap pretrained route: the
encoder never trains, so an epoch costs what an MLP on 384 numbers costs. On text with a table
(multimodal) the embeddings are joined with the table's columns: early fusion.
"""

from __future__ import annotations

from treeline.contenders.deep.tabular.mlp import MLP


class MiniLMHead(MLP):
    name = "minilm-head"
    modalities = ("text", "multimodal")  # multimodal: the embeddings joined with the table
    featurizer = "minilm-embed"
    description = "MLP head on frozen all-MiniLM-L6-v2 embeddings (minilm-embed)"


CONTENDER = MiniLMHead
