"""A team server with MLflow's basic-auth app, as the README sets it up: an anonymous client
cannot write (no deleted runs, no forged claims), a runner with its login records its cells,
and a runner without one, or with a wrong password, is told in one line — its password never
printed."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from store_servers import mlflow_server

pytest.importorskip("flask_wtf", reason="MLflow's basic-auth app needs mlflow[auth]")

ADMIN = ("admin", "admin-password-for-tests")
RUNNER = ("runner1", "runner1-password-long")
SUITE = """\
name: auth
description: one quick cell on a team server
budget: 1
seeds: [0]
datasets:
  - name: adult
    n: [200]
contenders: [xgboost]
"""


@pytest.fixture(scope="module")
def team_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The README's team server: basic auth, anonymous users refused, one runner's login."""
    root = tmp_path_factory.mktemp("auth")
    ini = root / "basic_auth.ini"
    ini.write_text(
        "[mlflow]\n"
        "default_permission = MANAGE\n"
        f"database_uri = sqlite:///{root}/basic_auth.db\n"
        f"admin_username = {ADMIN[0]}\n"
        f"admin_password = {ADMIN[1]}\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
    )
    env = {"MLFLOW_AUTH_CONFIG_PATH": str(ini), "MLFLOW_FLASK_SERVER_SECRET_KEY": "test-key"}
    backend = f"sqlite:///{root}/mlflow.db"
    with mlflow_server(backend, extra=("--app-name", "basic-auth"), env=env) as uri:
        code, _ = _call(uri, "users/create", {"username": RUNNER[0], "password": RUNNER[1]}, ADMIN)
        assert code == 200
        yield uri


def _call(uri: str, path: str, body: dict, login: tuple[str, str] | None = None):
    request = urllib.request.Request(
        f"{uri}/api/2.0/mlflow/{path}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    if login:
        pair = base64.b64encode(f"{login[0]}:{login[1]}".encode()).decode()
        request.add_header("Authorization", f"Basic {pair}")
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            return reply.status, json.loads(reply.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, {}


def _treeline(tmp_path: Path, uri: str, login: tuple[str, str] | None):
    (tmp_path / "auth.yaml").write_text(SUITE)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_TRACKING_")}
    env["TREELINE_RESULTS"] = str(tmp_path / "results")
    if login:
        env["MLFLOW_TRACKING_USERNAME"], env["MLFLOW_TRACKING_PASSWORD"] = login
    return subprocess.run(
        [sys.executable, "-m", "treeline", "run", str(tmp_path / "auth.yaml"),
         "--tracking-uri", uri],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_an_anonymous_client_cannot_write(team_server: str) -> None:
    """Without auth anyone who could reach the server deleted runs and forged claims (200)."""
    code, made = _call(team_server, "experiments/create", {"name": "mine"}, RUNNER)
    assert code == 200
    code, run = _call(team_server, "runs/create", {"experiment_id": made["experiment_id"]}, RUNNER)
    assert code == 200
    run_id = run["run"]["info"]["run_id"]
    for path, body in (
        ("experiments/create", {"name": "forged"}),
        ("runs/delete", {"run_id": run_id}),
        ("registered-models/create", {"name": "treeline-claim-1-forged-1"}),
    ):
        assert _call(team_server, path, body)[0] == 401, path
        assert _call(team_server, path, body, ("runner1", "wrong-password-x"))[0] == 401, path


@pytest.mark.parametrize(
    ("login", "said"), [(None, "needs a login"), ((RUNNER[0], "wrong-password-x"), "refused")]
)
def test_a_runner_without_a_valid_login_is_told_in_one_line(
    team_server: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    login: tuple[str, str] | None,
    said: str,
) -> None:
    from treeline.cli import main

    (tmp_path / "auth.yaml").write_text(SUITE)
    for name, value in zip(("USERNAME", "PASSWORD"), login or (None, None), strict=True):
        if value is None:
            monkeypatch.delenv(f"MLFLOW_TRACKING_{name}", raising=False)
        else:
            monkeypatch.setenv(f"MLFLOW_TRACKING_{name}", value)
    assert main(["run", str(tmp_path / "auth.yaml"), "--tracking-uri", team_server]) == 2
    out, err = capsys.readouterr()
    assert said in err and "MLFLOW_TRACKING_USERNAME" in err, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert "wrong-password" not in out + err


def test_a_runner_with_its_login_records_its_cells(team_server: str, tmp_path: Path) -> None:
    ok = _treeline(tmp_path, team_server, RUNNER)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert RUNNER[1] not in ok.stdout + ok.stderr
    request = urllib.request.Request(
        f"{team_server}/api/2.0/mlflow/experiments/get-by-name?experiment_name=auth",
        headers={"Authorization": "Basic " + base64.b64encode(":".join(RUNNER).encode()).decode()},
    )
    with urllib.request.urlopen(request, timeout=30) as reply:
        exp = json.loads(reply.read())["experiment"]["experiment_id"]
    code, runs = _call(team_server, "runs/search", {"experiment_ids": [exp]}, RUNNER)
    assert code == 200 and len(runs["runs"]) == 1


def test_a_runner_may_take_over_another_runner_s_claim(team_server: str) -> None:
    """Runners share a suite's experiment and delete each other's expired claims: with a
    default permission below MANAGE the second runner got 403 and the claim stayed for good."""
    other = ("runner2", "runner2-password-long")
    assert _call(team_server, "users/create", {"username": other[0], "password": other[1]},
                 ADMIN)[0] == 200  # fmt: skip
    name = "treeline-claim-9-takeover-1"
    assert _call(team_server, "registered-models/create", {"name": name}, RUNNER)[0] == 200
    request = urllib.request.Request(
        f"{team_server}/api/2.0/mlflow/registered-models/delete",
        data=json.dumps({"name": name}).encode(),
        headers={"Content-Type": "application/json",
                 "Authorization": "Basic " + base64.b64encode(":".join(other).encode()).decode()},
        method="DELETE",
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=30) as reply:
        assert reply.status == 200
