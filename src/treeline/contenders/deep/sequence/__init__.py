"""Networks on sequences (time series): 1-D CNN, GRU."""
