"""The command line: listings, validation of the shipped files, data preparation, lazy imports."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from treeline.cli import main
from treeline.config.runner_profile import available_runners, load_runner
from treeline.config.suite import suite_files
from treeline.execute.resolve import load_suite

HEAVY = ("torch", "xgboost", "catboost", "lightgbm", "mlflow", "optuna", "sklearn")


@pytest.mark.parametrize(
    "argv",
    [["--help"], ["ls", "datasets"], ["ls", "contenders"], ["ls", "suites"], ["ls", "runners"]],
)
def test_listing_commands_import_no_heavy_library(argv: list[str]) -> None:
    code = (
        "import sys\nfrom treeline.cli import main\n"
        f"try:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_ls_datasets_shows_every_dataset(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ls", "datasets"]) == 0
    out = capsys.readouterr().out
    for name in ("adult", "nyc-flights", "diamonds", "shuttle", "synthetic", "digits"):
        assert name in out


@pytest.mark.parametrize("what", ["datasets", "contenders", "featurizers", "suites", "runners"])
def test_ls_fits_80_columns_without_breaking_words_and_uses_full_width_in_a_pipe(
    what: str,
) -> None:
    def ls(**env: str) -> list[str]:
        env = {k: v for k, v in os.environ.items() if k != "COLUMNS"} | env
        out = subprocess.run(
            [sys.executable, "-m", "treeline", "ls", what],
            capture_output=True,
            text=True,
            check=True,
            env=env,
        ).stdout
        return out.splitlines()

    narrow, piped = ls(COLUMNS="80"), ls()
    assert max(len(line.rstrip()) for line in narrow) <= 80
    # Every word printed whole: the words of the pipe's (unwrapped) table all appear in the
    # 80-column output, none cut in two.
    rows = [line for line in piped if line.startswith("│")]
    assert rows
    in_rows = {w for line in rows for w in line.split() if w != "│"}
    assert in_rows <= {w for line in narrow for w in line.split()}
    # In a pipe one row per entry: the table is as wide as its longest row, not folded to 80.
    assert len(piped) <= len(narrow)


@pytest.mark.parametrize("name", sorted(suite_files()))
def test_every_shipped_suite_validates(name: str) -> None:
    suite = load_suite(name)
    assert suite.name == name and suite.datasets and suite.contenders


@pytest.mark.parametrize("name", sorted(available_runners()))
def test_every_shipped_runner_profile_validates(name: str) -> None:
    profile = load_runner(available_runners()[name])
    assert profile.price_per_hour > 0 and profile.price_source


@pytest.mark.parametrize(
    ("gpus", "reason"),
    [
        (None, "runner 't4' needs a CUDA GPU (T4); none is visible"),
        (
            "NVIDIA H200",
            "runner 't4' is priced for T4, but this machine has NVIDIA H200; pick the "
            "matching profile",
        ),
        ("Tesla T4", None),
    ],
    ids=["no-gpu", "another-gpu", "its-gpu"],
)
def test_a_gpu_profile_says_why_it_cannot_run_here(
    gpus: str | None, reason: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever GPU the test machine has: nvidia-smi is stood in for by a script that reports
    `gpus` (None: no nvidia-smi at all)."""
    if gpus is not None:
        smi = tmp_path / "nvidia-smi"
        smi.write_text(f"#!/bin/sh\necho '{gpus}'\n")
        smi.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    profile = load_runner(available_runners()["t4"])
    got = profile.unavailable_reason()
    assert got == reason


def test_validate_shipped_suites_by_name(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", *sorted(suite_files())]) == 0
    assert capsys.readouterr().out.count("ok ") == len(suite_files())


def test_data_prepare_then_served_from_cache(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "prepare", "adult"]) == 0
    assert main(["data", "prepare", "adult"]) == 0
    out = capsys.readouterr().out
    assert "from cache" in out.splitlines()[-1]
    assert main(["data", "list"]) == 0
    assert "adult" in capsys.readouterr().out


def test_unknown_dataset_to_prepare_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "prepare", "adultt"]) == 2
    assert "did you mean 'adult'" in capsys.readouterr().err


class _UI:
    """One `treeline ui` for this module's UI tests (its start is ~10 s of MLflow imports): the
    first test reads its pages, the second stops it; started again if a test runs alone."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.proc: subprocess.Popen[str] | None = None

    def get(self) -> tuple[subprocess.Popen[str], int, list[str]]:
        import signal
        import socket
        import time

        if self.proc is not None and self.proc.poll() is None:
            return self.proc, self.port, self.lines
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        env = {**os.environ, "TREELINE_RESULTS": str(self.folder / "res")}
        env.pop("MLFLOW_TRACKING_URI", None)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "treeline", "ui", "--port", str(self.port)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            # As from a terminal: a test run started in the background inherits SIGINT ignored.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        assert self.proc.stdout is not None
        deadline = time.monotonic() + 120
        self.lines = []
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            self.lines.append(line)
            if "MLflow UI ready on" in line or not line:
                break
        return self.proc, self.port, self.lines

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:  # a failed test leaves no server
            self.proc.terminate()  # SIGTERM: treeline ui stops its server too
            self.proc.wait(timeout=30)


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory):
    server = _UI(tmp_path_factory.mktemp("ui"))
    yield server
    server.close()


def test_ui_serves_the_mlflow_ui(ui: _UI) -> None:
    import urllib.request

    _, port, _ = ui.get()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as r:
        assert r.status == 200


def test_ui_says_when_it_is_ready_and_leaves_nothing_behind(ui: _UI) -> None:
    import signal
    import socket
    import time

    proc, port, lines = ui.get()
    assert any(f"MLflow UI ready on http://127.0.0.1:{port}" in ln for ln in lines), lines
    socket.create_connection(("127.0.0.1", port), timeout=5).close()  # it does answer
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and "MLflow UI stopped" in out
    assert "Traceback" not in err
    time.sleep(1)
    with pytest.raises(OSError):  # nothing listens any more: the server went with it
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


def test_every_option_has_help_and_ls_alone_says_what_it_lists(capsys) -> None:
    import argparse

    from treeline.cli import build_parser

    missing = []

    def walk(parser: argparse.ArgumentParser, prefix: str) -> None:
        for a in parser._actions:
            if isinstance(a, argparse._SubParsersAction):
                for name, sub in a.choices.items():
                    walk(sub, f"{prefix} {name}")
            elif not a.help and a.dest != "help":
                missing.append(f"{prefix} {a.option_strings or a.dest}")

    walk(build_parser(), "treeline")
    assert missing == []
    assert main(["ls"]) == 0
    assert "datasets, featurizers, contenders, suites, runners" in " ".join(
        capsys.readouterr().out.split()
    )
