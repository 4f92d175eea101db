"""Networks on several inputs at once (text with a table)."""
