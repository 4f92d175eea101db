"""The contender catalogue: every module under `treeline.contenders.trees` and
`treeline.contenders.deep.<modality>` that sets `CONTENDER`, by name. Reading it imports the
modules (cheap), never their libraries."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from treeline.errors import TreelineError, unknown_name

if TYPE_CHECKING:
    from treeline.contenders.base import Contender

PACKAGES = (
    "trees",
    "deep.tabular",
    "deep.image",
    "deep.sequence",
    "deep.audio",
    "deep.text",
    "deep.fusion",
)


@cache
def catalogue() -> dict[str, type[Contender]]:
    from treeline.catalogue import discover

    return discover("treeline.contenders", PACKAGES, "CONTENDER")


def contender_names() -> list[str]:
    return list(catalogue())


def contender_class(name: str) -> type[Contender]:
    found = catalogue()
    if name not in found:
        raise TreelineError(unknown_name("contender", name, found))
    return found[name]


def load(name: str, options: dict | None = None) -> Contender:
    """A contender by name, with typed options (its defaults when None)."""
    return contender_class(name)(options)
