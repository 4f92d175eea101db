"""Gradient-boosted tree contenders: one module each."""
