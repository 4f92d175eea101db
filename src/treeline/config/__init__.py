"""Configuration files: suites, runner profiles, YAML with line numbers, run options."""
