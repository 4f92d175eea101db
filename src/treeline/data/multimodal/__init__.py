"""Multimodal datasets: named parts over the same rows, e.g. a text and a table."""
