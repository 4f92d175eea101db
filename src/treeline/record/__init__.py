"""The MLflow store: cell results written and read back through execute/result.py."""
