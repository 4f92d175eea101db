"""What a worker tells its supervisor, one JSON line per event on a pipe: the protocol both
sides (worker.py, supervise.py) spell through this enumeration only."""

from __future__ import annotations

from enum import StrEnum


class Event(StrEnum):
    LOADED = "loaded"  # data loaded, the budget clock starts (data_seconds)
    PAUSE = "pause"  # test scoring of a new best begins: the budget clock stands still
    RESUME = "resume"  # it ended (seconds it took)
    SCORED = "scored"  # a chunk of test rows predicted: the scoring limit starts again
    TUNED = "tuned"  # tuning ended (fit_seconds); the best model is scored on test next
    RESULT = "result"  # the cell's result (result)
    ERROR = "error"  # the cell ended without one (reason: oom | skipped | failed, error)
