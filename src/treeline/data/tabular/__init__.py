"""tabular datasets: one module each."""
