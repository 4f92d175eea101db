"""Treeline: where deep learning earns its cost over gradient-boosted trees, measured."""

__version__ = "0.1.0"

__all__ = ["__version__"]
