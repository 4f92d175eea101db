"""Discovery: a concept's implementations are the modules of its packages that define one
module-level attribute (`DATASET`, `FEATURIZER`, `CONTENDER`), or its plural for a family
(`DATASETS`: a tuple, e.g. the UCR archive's sets). Adding one is adding a module."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable
from typing import Any


def discover(package: str, subpackages: Iterable[str], attribute: str) -> dict[str, Any]:
    """`{obj.name: obj}` for every `attribute` found in `package.<sub>.<module>` (`sub` "" for
    the package itself), in the order of the subpackages, then module names. A module without
    the attribute, or whose name starts with `_`, is a helper."""
    found: dict[str, Any] = {}
    for sub in subpackages:
        try:
            pkg = importlib.import_module(f"{package}.{sub}" if sub else package)
        except ModuleNotFoundError:
            continue
        for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
            if info.ispkg or info.name.startswith("_"):
                continue
            module = importlib.import_module(f"{pkg.__name__}.{info.name}")
            one = getattr(module, attribute, None)
            for obj in ((one,) if one is not None else ()) + getattr(module, f"{attribute}S", ()):
                name = obj.name
                if name in found:
                    raise RuntimeError(
                        f"two {attribute.lower()}s named '{name}': {module.__name__} and an "
                        "earlier one"
                    )
                found[name] = obj
    return found


def import_path(path: str) -> Any:
    """`package.module:Attribute` — how a worker process finds what the parent resolved."""
    module, _, attr = path.partition(":")
    return getattr(importlib.import_module(module), attr)
