"""image datasets: one module each."""
