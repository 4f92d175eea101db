"""The shared conformance test every contender passes (as every Optuna sampler passes one)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time

import numpy as np
import optuna
import pytest
from modal_data import (
    MODAL_DATA,
    TEST_OPTIONS,
    contender_bundle,
    modal_task,
    modality_of,
    need_espeak,
)

from treeline.contenders import contender_class, contender_names, load
from treeline.contenders.base import FitContext, Pace
from treeline.data import DataBundle, get_dataset
from treeline.data.tabular.synthetic import Synthetic, SyntheticOptions
from treeline.execute.budget import BudgetClock
from treeline.execute.schedule import UNITS, Allowance, Deadline

CONTENDERS = sorted(contender_names())
# Settings that would train for a long time if the contender ignored its clock (a contender
# not listed is run with its defaults).
SLOW: dict[str, dict] = {
    "xgboost": {"learning_rate": 1e-3, "max_depth": 10},
    "lightgbm": {"learning_rate": 1e-3, "num_leaves": 700, "min_child_samples": 2},
    "catboost": {"learning_rate": 1e-3, "depth": 10},
    "random-forest": {"max_features": 1.0, "min_samples_leaf": 1, "max_samples": None},
    "mlp": {"n_blocks": 8, "d_block": 512, "lr": 1e-5},
    "resnet": {"n_blocks": 8, "d_block": 512, "lr": 1e-5},
    "ft-transformer": {"n_blocks": 4, "d_block": 256, "lr": 1e-5},
    # One step must stay well under the 0.5 s slack on a busy 2-core runner (d_block 1024: ~0.3 s).
    "tabm": {"n_blocks": 4, "d_block": 512, "k": 32, "lr": 1e-5},
    "cnn": {"channels": 64, "d_dense": 1024, "lr": 1e-5, "batch_size": 64},
    "resnet18": {"lr": 1e-5, "batch_size": 64},
    "mobilenet-v2": {"lr": 1e-5, "batch_size": 32},
    "cnn1d": {"channels": 64, "lr": 1e-5, "batch_size": 32},
    "gru": {"hidden": 256, "n_layers": 2, "lr": 1e-5, "batch_size": 32},
    "audio-cnn": {"channels": 8, "n_blocks": 2, "lr": 1e-5, "batch_size": 16},
    "embedding-bag": {"dim": 200, "hidden": 256, "lr": 1e-5, "batch_size": 32},
    "minilm-head": {"n_blocks": 8, "d_block": 512, "lr": 1e-5},
    # One step of 32 texts is ~1.5 s on one thread (11 M encoder weights × 1,024 word pieces).
    "minilm-finetune": {"lr": 1e-5, "batch_size": 4},
    "fusion": {"dim": 200, "table_layers": 3, "table_units": 256, "lr": 1e-5, "batch_size": 32},
}
# The deadline test measures the training loop stopping. A first epoch cut short is still scored
# on validation (a model needs a score); at MobileNet's default 64 pixels that pass alone takes
# ~0.65 s on one thread here, more than the test's slack (the worker's grace is >= 5 s); so
# does MiniLM's on 256 word pieces.
DEADLINE_OPTIONS: dict[str, dict] = {
    "mobilenet-v2": {"size": 32},
    "minilm-finetune": {"max_length": 8},
}


def _is_tabular(name: str) -> bool:
    return modality_of(name) == "tabular"


def _bundle(task: str, name: str = "") -> DataBundle:
    """Networks on images, sequences and audio take a small real multiclass set of theirs
    (tests/modal_data.py); they have no binary or regression ones."""
    if name and not _is_tabular(name):
        return contender_bundle(name)
    if task == "binary":
        return get_dataset("adult").bundle(600, 0)
    if task == "regression":
        return get_dataset("diamonds").bundle(600, 0)
    opts = SyntheticOptions(task="multiclass", classes=4, categorical=2, informative=4)
    return Synthetic(opts, "multi").bundle(600, 0)


def _defaults(c, data) -> dict:
    """The default configuration, cut to 2 epochs for networks (fixed work, not time)."""
    extra = {"max_epochs": 2} if c.family == "deep" else {}
    return {**c.default_params(data), **extra}


def _ctx(budget: float = 60.0, pace: Pace | None = None) -> FitContext:
    return FitContext(
        device="cpu",
        threads=1,
        seed=0,
        limit=BudgetClock(budget),
        report=lambda step, value: None,
        pace=pace or Pace(),
    )


@pytest.fixture(scope="module", params=["binary", "multiclass", "regression"])
def task(request: pytest.FixtureRequest) -> str:
    return request.param


def _data(name: str, task: str) -> DataBundle:
    modality = modality_of(name)
    if modality != "tabular" and task != modal_task(modality):
        pytest.skip(f"{name} takes {modality}: a {modal_task(modality)} set")
    return _bundle(task, name)


# Test predictions of a default fit, by (contender, task): the shape test's fit is the first of
# the two the same-seed test compares, instead of fitting three times for two tests.
_FIRST_PREDICTIONS: dict[tuple[str, str], np.ndarray] = {}


def _fit_predict(name: str, task: str, data: DataBundle) -> np.ndarray:
    c, fd = load(name, TEST_OPTIONS.get(name)), data.fitdata()
    c.import_libraries()  # as the worker does before its clock: pretrained weights placed
    ctx = _ctx()
    model = c.fit(fd, c.prepare(fd, ctx), _defaults(c, fd), ctx)
    return c.predict(model, data.test.X, fd)


@pytest.mark.parametrize("name", CONTENDERS)
def test_predictions_have_the_right_shape(name: str, task: str) -> None:
    data = _data(name, task)
    pred = _FIRST_PREDICTIONS[name, task] = _fit_predict(name, task, data)
    if data.task == "regression":
        assert pred.shape == (len(data.test),)
    else:
        assert pred.shape == (len(data.test), data.n_classes)
        np.testing.assert_allclose(pred.sum(axis=1), 1.0, atol=1e-5)
    assert np.isfinite(pred).all()


@pytest.mark.parametrize("name", CONTENDERS)
def test_same_seed_same_predictions(name: str, task: str) -> None:
    """Two fits in fresh contender objects, the first one the shape test's when it ran."""
    data = _data(name, task)
    first = _FIRST_PREDICTIONS.pop((name, task), None)
    if first is None:
        first = _fit_predict(name, task, data)
    np.testing.assert_array_equal(first, _fit_predict(name, task, data))


@pytest.mark.parametrize("name", CONTENDERS)
def test_stops_before_its_deadline(name: str) -> None:
    """The contract, in this machine's own time: the clock is asked after every unit of work,
    so the deadline is seen within one step of passing; once seen, the fit ends within the
    step's time again (a network's last validation pass) plus 0.5 s. Steps are measured here,
    between the checks, so a loaded machine's slower steps loosen the limits with them."""
    data = _bundle("binary", name).fitdata()
    c = load(name, DEADLINE_OPTIONS.get(name, TEST_OPTIONS.get(name)))
    c.import_libraries()  # as the worker does before its clock starts
    budget = 0.5
    prepared = c.prepare(data, _ctx())
    params = {**c.default_params(data), **SLOW.get(name, {})}
    limit = _Checks(budget)
    ctx = FitContext("cpu", 1, 0, limit, lambda step, value: None)
    model = c.fit(data, prepared, params, ctx)
    end = time.perf_counter()
    deadline = limit.started + budget
    if limit.cut is None:  # it finished before the deadline, asking as it went
        assert limit.at and end <= deadline + 0.5, f"{name} never saw its clock run out"
    else:
        step = max(np.diff([limit.started, *limit.at]))  # the longest work between two checks
        # One step of these small sets takes well under a second (MiniLM's 1.5 s the most): a
        # contender that asks only now and then would show a stretch far longer than this.
        assert step <= 3.0, f"{name} went {step:.2f} s without asking its clock"
        assert limit.cut <= deadline + step + 0.05, f"{name} saw the deadline late"
        assert end - limit.cut <= max(2 * step, 0.2) + 0.5, (
            f"{name} ran {end - limit.cut:.2f} s after its deadline (steps up to {step:.2f} s)"
        )
    assert c.predict(model, data.val.X, data).shape[0] == len(data.val)


class _Checks:
    """A budget clock that notes when each deadline check was made, and the first that said
    the time was up."""

    def __init__(self, budget: float):
        self.started = time.perf_counter()
        self.clock = BudgetClock(budget)
        self.at: list[float] = []
        self.cut: float | None = None

    def expired(self, sync: bool = True, reserve: float = 0.0) -> bool:
        now = time.perf_counter()
        self.at.append(now)
        out = self.clock.expired(sync, reserve)
        if out and self.cut is None:
            self.cut = now
        return out


@pytest.mark.parametrize("name", CONTENDERS)
def test_a_deadline_cut_replays_as_the_same_amount_of_work(name: str) -> None:
    """Through the shared contract (`ctx.did` + `ctx.expired`), a fit the clock cut is repeated
    by a count of work alone, and gives the same model."""
    bundle = _bundle("binary", name)
    data = bundle.fitdata()
    c = load(name, TEST_OPTIONS.get(name))
    c.import_libraries()
    params = {**c.default_params(data), **SLOW.get(name, {})}
    runs = []
    for limit in (Deadline(BudgetClock(0.4)), None):
        if limit is None:  # the replay: the recorded cut, and no clock at all
            limit = Allowance(runs[0][1].cut_at)
        ctx = FitContext("cpu", 1, 0, limit, lambda step, value: None)
        model = c.fit(data, c.prepare(data, ctx), params, ctx)
        runs.append((ctx.work, limit, c.predict(model, bundle.test.X, data)))
    (work, deadline, pred), (replayed_work, allowance, replayed_pred) = runs
    assert deadline.cut_at is not None, f"{name}: the clock never cut it"
    assert work and set(work) <= set(UNITS), f"{name} counted no work: {work}"
    assert replayed_work == work and allowance.cut_at == deadline.cut_at
    np.testing.assert_array_equal(replayed_pred, pred)


# One interpreter imports what every check starts from, then forks a child per contender:
# without paying start-up and the harness's imports eighteen times. Only a library a contender
# itself declares may be loaded before its child (torch, for the networks, once they come):
# `import_libraries` loads it anyway before the modules are counted, so nothing is hidden.
_FIRST_FITS = """
import json
import os
import sys
from treeline.contenders import load
from treeline.contenders.base import FitContext
from treeline.data import DatasetRef
from treeline.execute.budget import BudgetClock


def check(name, dataset, options, test_options):
    bundle = DatasetRef(dataset, dataset, options).build().bundle(200, 0)
    c = load(name, test_options)
    if c.featurizer:  # as the worker: its featurizer is set up and applied before the clock
        from dataclasses import replace

        import numpy as np

        bundle = replace(bundle, test=bundle.test.take(np.arange(20)))  # a few rows will do
        from treeline.featurize import featurizer_class
        from treeline.featurize.apply import featurize

        f = featurizer_class(c.featurizer)()
        f.setup()
        bundle = featurize(f, None, bundle)[0]
    data = bundle.fitdata()
    c.import_libraries()
    limit = BudgetClock(60)
    ctx = FitContext(device="cpu", threads=1, seed=0, limit=limit, report=lambda s, v: None)
    before = set(sys.modules)
    prepared = c.prepare(data, ctx)
    params = {**c.default_params(data), **({"max_epochs": 1} if c.family == "deep" else {})}
    c.predict(c.fit(data, prepared, params, ctx), bundle.test.X, data)
    return sorted(set(sys.modules) - before)


for *job, preload in json.loads(sys.argv[1]):
    for module in preload:  # one of the contender's own `libraries`: loaded before `before`
        __import__(module)
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            print(json.dumps([job[0], check(*job)]), flush=True)
        except BaseException as exc:
            print(json.dumps([job[0], f"error: {type(exc).__name__}: {exc}"]), flush=True)
            code = 1
        os._exit(code)
    os.waitpid(pid, 0)
"""


@pytest.fixture(scope="module")
def imported_on_the_clock() -> dict[str, list[str] | str]:
    """Per contender: the modules its first prepare() and fit() imported (or its error)."""
    jobs = []
    for name in CONTENDERS:
        if modality_of(name) == "audio" and shutil.which("espeak-ng") is None:
            continue  # its test says why
        dataset, options = ("adult", {}) if _is_tabular(name) else MODAL_DATA[modality_of(name)][:2]
        declared = contender_class(name).libraries
        jobs.append([name, dataset, options, TEST_OPTIONS.get(name), "torch" in declared])
    # The networks last, torch imported once before their children.
    jobs = [[*j[:4], ["torch"] if j[4] else []] for j in sorted(jobs, key=lambda j: j[4])]
    out = subprocess.run(
        [sys.executable, "-c", _FIRST_FITS, json.dumps(jobs)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return dict(json.loads(line) for line in out.splitlines() if line.startswith("["))


@pytest.mark.parametrize("name", CONTENDERS)
def test_first_prepare_and_fit_import_nothing_on_the_clock(
    name: str, imported_on_the_clock: dict[str, list[str] | str]
) -> None:
    """Imports in prepare()/fit() are charged to the budget; `libraries` must load them first."""
    if modality_of(name) == "audio":
        need_espeak()
    out = imported_on_the_clock[name]
    assert out == [], f"{name} imported on the clock: {out[:10]}"


@pytest.mark.parametrize("name", CONTENDERS)
def test_search_space_samples_are_valid_configurations(name: str) -> None:
    data = _bundle("binary", name).fitdata()
    c = load(name, TEST_OPTIONS.get(name))
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    prepared = c.prepare(data, _ctx())
    for _ in range(6):
        trial = study.ask()
        params = c.suggest(trial, data)
        model = c.fit(data, prepared, params, _ctx(budget=0.5))
        assert np.isfinite(c.predict(model, data.val.X, data)).all(), params
        study.tell(trial, 0.0)


def test_a_first_epoch_cut_short_leaves_time_to_score_it() -> None:
    """A network whose first epoch the deadline cuts must still score it on validation; the loop
    stops early enough for that pass (half a training step per row) to fit the budget,
    where it used to start it at the deadline and overrun by the whole pass (audio-cnn at
    16,000 clips: killed past its grace)."""
    data = contender_bundle("minilm-finetune").fitdata()
    c = load("minilm-finetune", {"max_length": 64})
    c.import_libraries()
    ctx = _ctx(budget=2.5)  # one step (~0.5 s) and the validation pass (~1 s) fit in it
    prepared = c.prepare(data, ctx)
    params = {**c.default_params(data), "batch_size": 4}
    t0 = time.perf_counter()
    c.fit(data, prepared, params, ctx)
    took = time.perf_counter() - t0
    assert took < 2.5 + 0.25, f"ran {took:.2f} s on a 2.5 s clock"


def test_a_slow_first_step_does_not_stop_the_first_epoch() -> None:
    """The time kept for scoring a cut first epoch is not timed on the cell's first step,
    which pays one-time warm-up: from it alone the loop stopped a fine-tuned MiniLM on 20
    Newsgroups after one step of a 120 s budget. Later fits (trials) time every step: one that
    starts with too little time left stops after its first."""
    from treeline.contenders.deep.tabular.mlp import MLP

    pace = Pace()  # a cell's, as the harness makes one: its trials share it

    class SlowStart(MLP):
        calls = 0

        def train_batch(self, *args: object) -> object:
            SlowStart.calls += 1
            if SlowStart.calls == 1:
                time.sleep(1.5)  # warm-up: 1.5 s for the first 4 rows
            return super().train_batch(*args)

    data = _bundle("binary", "mlp").fitdata()
    c = SlowStart()
    ctx = _ctx(budget=15.0, pace=pace)  # room for a slow machine's torch start-up + 1.5 s
    params = {**c.default_params(data), "batch_size": 4, "max_epochs": 1}
    model = c.fit(data, c.prepare(data, ctx), params, ctx)
    assert len(data.val.y) * 1.5 / 4 / 2 > 15.0  # the first step alone asks for more than it has
    assert model.samples > 4, "stopped after the first step"
    SlowStart.calls = 0  # a second trial of the same cell: its slow first step counts
    ctx = _ctx(budget=15.0, pace=pace)
    assert c.fit(data, c.prepare(data, ctx), params, ctx).samples == 4


def test_a_later_trial_cut_in_its_first_epoch_ends_pruned_without_a_validation_pass() -> None:
    """Only a cell's first trial must end with a model. A later one the deadline cuts in its
    first epoch is pruned at once: scoring it on validation ran the fine-tuned MiniLM on the
    election tweets (1,031 validation tweets, ~11 s) past a 30 s cell's grace, and the killed
    worker took the cell's finished trials with it."""
    import optuna

    from treeline.contenders.deep.tabular.mlp import MLP

    data = _bundle("binary", "mlp").fitdata()
    c = MLP()
    params = {**c.default_params(data), "batch_size": 8}
    ctx = FitContext("cpu", 1, 0, BudgetClock(0.0), lambda step, value: None, needs_model=False)
    with pytest.raises(optuna.TrialPruned):
        c.fit(data, c.prepare(data, ctx), params, ctx)
    ctx = FitContext("cpu", 1, 0, BudgetClock(0.0), lambda step, value: None)  # a first trial
    assert c.fit(data, c.prepare(data, ctx), params, ctx).samples == 8


def test_lightgbm_takes_a_user_s_column_names_with_json_characters() -> None:
    """`Unnamed: 0` (pandas' name for a blank header, as in R's CSV exports) and `price [$]`:
    LightGBM refuses them as feature names; the contender renames what it hands over."""
    import pandas as pd

    from treeline.data import FitData, Split
    from treeline.data.dataset import type_columns

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "Unnamed: 0": np.arange(200.0),
            "price [$]": rng.normal(size=200),
            "a,b": rng.normal(size=200),
        }
    )
    y = (frame["price [$]"] > 0).astype(int).to_numpy()
    X = type_columns(frame)
    train, val = Split(X.take(np.arange(150)), y[:150]), Split(X.take(np.arange(150, 200)), y[150:])
    data = FitData("binary", ("0", "1"), train, val)
    c = load("lightgbm")
    ctx = FitContext("cpu", 1, 0, BudgetClock(30), lambda step, value: None)
    model = c.fit(data, c.prepare(data, ctx), c.default_params(data), ctx)
    assert (c.predict(model, data.val.X, data).argmax(1) == y[150:]).mean() > 0.8
