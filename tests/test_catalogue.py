"""Adding a contender, a featurizer or a dataset is adding one module: the catalogues find it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import treeline

STUMP = '''
"""A one-split tree: the smallest contender there is."""
import numpy as np

from treeline.contenders.base import Contender, as_proba


class Stump(Contender):
    name = "stump"
    family = "tree"
    devices = ("cpu",)
    library = "numpy"
    description = "one split on the most correlated numeric column"

    def default_params(self, data, device="cpu"):
        return {}

    def suggest(self, trial, data, device="cpu"):
        return {}

    def fit(self, data, prepared, params, ctx):
        return np.bincount(data.train.y, minlength=data.n_classes) / len(data.train.y)

    def predict(self, model, X, data):
        return as_proba(np.tile(model, (len(X), 1)), data.n_classes)


CONTENDER = Stump
'''

SUITE = """\
name: tiny
description: the new module, validated and run
budget: 1
seeds: [0]
datasets:
  - name: adult
    n: [200]
contenders: [stump]
"""


def test_a_new_contender_module_is_picked_up_without_editing_any_other_file(
    tmp_path: Path,
) -> None:
    copy = tmp_path / "pkg" / "treeline"
    shutil.copytree(
        Path(treeline.__file__).parent, copy, ignore=shutil.ignore_patterns("__pycache__")
    )
    (copy / "contenders" / "trees" / "stump.py").write_text(textwrap.dedent(STUMP))
    (tmp_path / "tiny.yaml").write_text(SUITE)
    shutil.copytree(Path(__file__).parent.parent / "runners", tmp_path / "runners")
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "pkg"), "TREELINE_RESULTS": str(tmp_path)}

    def treeline_cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "treeline", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )

    where = subprocess.run(
        [sys.executable, "-c", "import treeline; print(treeline.__file__)"],
        env=env,
        capture_output=True,
        text=True,
    ).stdout
    assert where.startswith(str(copy))  # the copy, not the installed package
    listed = treeline_cli("ls", "contenders")
    assert listed.returncode == 0 and "stump" in listed.stdout, listed.stderr
    run = treeline_cli("run", "tiny.yaml")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "ok adult/n=200/stump/cpu/s0" in " ".join(run.stdout.split())
    # Without the module, the same suite is refused with the usual located error.
    (copy / "contenders" / "trees" / "stump.py").unlink()
    refused = treeline_cli("validate", "tiny.yaml")
    assert refused.returncode == 2 and "unknown contender 'stump'" in refused.stderr
