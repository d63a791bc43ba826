"""The GitHub workflow is linted with actionlint (which also runs shellcheck on `run:` blocks if present).

actionlint is a Go program; install it with the INSTALL line below. Locally a missing actionlint skips these
tests; in CI (env CI set) they fail, so the check cannot vanish silently.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
INSTALL = "GOBIN=$HOME/.cache/kafkalab/bin go install github.com/rhysd/actionlint/cmd/actionlint@latest"


def find_actionlint() -> str | None:
    cache = Path(os.environ.get("KAFKALAB_CACHE", Path.home() / ".cache" / "kafkalab"))
    for candidate in (shutil.which("actionlint"), cache / "bin" / "actionlint"):
        if candidate and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def test_workflows_pass_actionlint():
    workflows = sorted((ROOT / ".github" / "workflows").glob("*.y*ml"))
    assert workflows, "no workflow files found in .github/workflows"
    actionlint = find_actionlint()
    if actionlint is None:
        if os.environ.get("CI"):
            pytest.fail(f"actionlint is not installed; install it with: {INSTALL}")
        pytest.skip(f"actionlint not installed ({INSTALL})")
    result = subprocess.run(
        [actionlint, "-no-color", *map(str, workflows)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_catches_a_broken_workflow(tmp_path):
    # The check above means something only if actionlint really rejects bad workflows here.
    actionlint = find_actionlint()
    if actionlint is None:
        if os.environ.get("CI"):
            pytest.fail(f"actionlint is not installed; install it with: {INSTALL}")
        pytest.skip(f"actionlint not installed ({INSTALL})")
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    steps = "    steps:\n      - run: echo ${{ github.nope }}\n"
    bad.write_text("on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n" + steps)
    result = subprocess.run([actionlint, "-no-color", str(bad)], capture_output=True, text=True, timeout=120)
    assert result.returncode != 0 and "nope" in result.stdout
