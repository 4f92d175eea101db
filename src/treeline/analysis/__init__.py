"""From recorded results to the boundary: statistics, plots and the report."""
