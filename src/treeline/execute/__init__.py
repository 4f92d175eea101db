"""Running cells: the plan, the worker process, tuning under the budget, measurements."""
