"""Networks for tables: one module each."""
