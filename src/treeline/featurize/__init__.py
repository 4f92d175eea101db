"""The featurizer catalogue: every module of this package that sets `FEATURIZER`, by name.

A featurizer turns a dataset's inputs (images, sequences, audio, text) into a table, so any
tabular contender — tree or network — can take them: `xgboost+pixels`, `mlp+pixels`.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from treeline.errors import TreelineError, unknown_name

if TYPE_CHECKING:
    from treeline.featurize.base import Featurizer


@cache
def catalogue() -> dict[str, type[Featurizer]]:
    from treeline.catalogue import discover

    return discover("treeline.featurize", [""], "FEATURIZER")


def featurizer_class(name: str) -> type[Featurizer]:
    found = catalogue()
    if name not in found:
        raise TreelineError(unknown_name("featurizer", name, found))
    return found[name]
