"""Sequence datasets: time series, univariate or multivariate, equal or ragged lengths."""
