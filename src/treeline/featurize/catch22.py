"""catch22 (Lubba et al. 2019): 22 canonical time-series characteristics per channel, computed by
aeon with the `pycatch22` C implementation. aeon's own numba version is slower to start and
gives NaN in two features on short series; it is what aeon falls back to, silently, when
`pycatch22` cannot be imported — so `setup` imports it and fails loudly instead. Learns nothing:
computed once per dataset and cached. Ragged series are taken as they are.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

from treeline.featurize.base import Featurizer

if TYPE_CHECKING:
    from treeline.data.inputs import Sequences, Table


class Catch22(Featurizer):
    name = "catch22"
    modalities = ("sequence",)
    description = "catch22: 22 time-series characteristics per channel (aeon + pycatch22)"
    library = "aeon"
    libraries = ("pycatch22", "aeon.transformations.collection.feature_based")

    def transform(self, X: Sequences) -> Table:  # type: ignore[override]
        import pycatch22  # noqa: F401  (without it aeon silently uses its NaN-prone fallback)
        from aeon.transformations.collection.feature_based import Catch22 as AeonCatch22

        from treeline.featurize._series import collection, table

        with warnings.catch_warnings():
            # aeon 1.6 deprecates the flag in favour of its own version: the one this avoids.
            warnings.filterwarnings("ignore", "The 'use_pycatch22'", FutureWarning)
            # pycatch22 1.0 warns on every call of a feature aeon still names the old way.
            warnings.filterwarnings("ignore", ".* is now ", DeprecationWarning)
            values = AeonCatch22(use_pycatch22=True, n_jobs=1).fit_transform(collection(X))
        return table(values, "c22_")


FEATURIZER = Catch22
