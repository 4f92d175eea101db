"""TF-IDF: scikit-learn's TfidfVectorizer on word unigrams and bigrams, fitted on the cell's
training rows only (its vocabulary and idf weights are learnt from them, so it is charged to the
cell and never cached), sublinear term frequency, words in at least two training documents, the
20,000 most frequent terms, L2-normalized rows: the classical text baseline. The result stays
sparse (SciPy CSR) all the way into the tree library; nothing densifies it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from treeline.featurize.base import Featurizer

if TYPE_CHECKING:
    import numpy as np

    from treeline.data.inputs import Table, Text

MAX_TERMS = 20_000


class TfIdf(Featurizer):
    name = "tfidf"
    modalities = ("text", "multimodal")  # the text part, joined with the table
    description = f"TF-IDF of word 1-2-grams (scikit-learn), ≤{MAX_TERMS:,} terms, sparse"
    library = "scikit-learn"
    libraries = ("sklearn.feature_extraction.text", "scipy.sparse")
    fitted = True
    sparse = True

    def fit(self, X: Text, y: np.ndarray | None) -> None:  # type: ignore[override]
        import numpy as np
        from sklearn.feature_extraction.text import TfidfVectorizer

        texts = X.strings
        # min_df=2 would leave a handful of documents an empty vocabulary.
        min_df = 2 if len(texts) >= 50 else 1
        self.vectorizer = TfidfVectorizer(
            ngram_range=(1, 2), min_df=min_df, max_features=MAX_TERMS, sublinear_tf=True,
            dtype=np.float32,
        )  # fmt: skip
        self.vectorizer.fit(texts)
        # Names the tree libraries accept (no JSON specials, no brackets) and unique: a term's
        # words are joined by ".", which no token contains — "_" is a word character, so the
        # bigram "mike pence" and the hashtag word "mike_pence" would share a name.
        self.names = tuple(
            "tfidf_" + t.replace(" ", ".") for t in self.vectorizer.get_feature_names_out()
        )

    def transform(self, X: Text) -> Table:  # type: ignore[override]
        import pandas as pd

        from treeline.data.inputs import Table

        matrix = self.vectorizer.transform(X.strings).tocsr()
        frame = pd.DataFrame(index=pd.RangeIndex(len(X)))
        return Table(frame, (), (), None, matrix, self.names)


FEATURIZER = TfIdf
