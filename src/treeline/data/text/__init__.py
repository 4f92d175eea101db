"""Text datasets: one string per row."""
