"""The notebook suite on the hermetic cluster, run the way users run it, and run again: the one place
`make test` executes the notebooks (each check below used to run the suite on its own).

1. `kafkalab run --tier hermetic` (the product's command, as `make run` on a machine without Docker) runs
   00 … 07 once with namespaces of its own: every notebook passes and every checked cell
   (`# NBVAL_CHECK_OUTPUT`) prints its stored output after sanitizing (kafkalab.checked, nbval's rules),
   with junit.xml and summary.md beside the executed notebooks ($KAFKALAB_SUITE_OUT, else a temp dir; the
   Japanese pass below writes to the same path with "-ja" appended: the browser step builds handouts of both).
2. No live secret in those executed notebooks (test_notebook_secrets.assert_no_live_secret), checked while
   the Secrets still exist.
3. 00 … 07 again, each on the state the first pass left (a learner re-running the suite) — this pass runs
   the Japanese edition (notebooks/ja: the same code cells and stored outputs, so the same proof, and the one
   place CI executes the Japanese notebooks), checked outputs compared again; then 99-teardown twice
   (English, then Japanese).
4. After the second 99: both namespaces are gone; no ClusterRoleBinding still names the operator's namespace
   (unless another operator or Strimzi resource was on the cluster meanwhile: uninstall_operator then keeps
   Strimzi's shared cluster-wide RBAC on purpose); no broker JVM or broker state of ours is left in the
   stand-in; no kernel process is left; and the kernels' temp directory ($TMPDIR, one of our own) is empty
   again (kafkalab.clients writes CA files there and must remove them).

Slow (the suite twice: ~2-3 min on 2 cores, more on a busy machine), so it runs only when asked:
KAFKALAB_RERUN_TEST=1 (`make test` sets it).
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import psutil
import pytest
import yaml

from kafkalab import kube, strimzi
from kafkalab.suite import find_notebooks, notebooks_dir, run_suite
from tests.hermetic.source import strimzi_source
from tests.hermetic.test_notebook_secrets import assert_no_live_secret

pytestmark = [
    pytest.mark.hermetic,
    pytest.mark.skipif(
        os.environ.get("KAFKALAB_RERUN_TEST") != "1",
        reason="slow (two runs of every notebook): set KAFKALAB_RERUN_TEST=1 to run it",
    ),
]

ROOT = Path(__file__).resolve().parents[2]
SOURCE = str(strimzi_source())


def other_operators(op_ns: str) -> list[str]:
    """Namespaces where another Strimzi Cluster Operator Deployment runs (as uninstall_operator looks)."""
    return [
        d["metadata"]["namespace"]
        for d in kube.list_objects("apps/v1", "Deployment")
        if d["metadata"]["name"] == "strimzi-cluster-operator" and d["metadata"]["namespace"] != op_ns
    ]


def leftovers(
    params: dict, hermetic_dir: Path, kernel_tmp: Path, kernels_before: set[int], others_seen: bool
) -> list[str]:
    ns, op_ns = params["namespace"], params["operator_namespace"]
    left = [f"Namespace {n}" for n in (ns, op_ns) if kube.get("v1", "Namespace", n) is not None]
    # Strimzi's cluster-wide RBAC has fixed names, shared by every operator: uninstall_operator keeps it while
    # another operator runs or any Strimzi resource exists (other tests' may come and go on a shared cluster).
    if not others_seen and not other_operators(op_ns) and not strimzi.strimzi_resources():
        for crb in kube.list_objects("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"):
            if any(s.get("namespace") == op_ns for s in crb.get("subjects") or []):
                left.append(f"ClusterRoleBinding {crb['metadata']['name']} (subject in {op_ns})")
    state = hermetic_dir / "standin" / ns
    if state.exists():
        left += [f"stand-in state {p}" for p in state.rglob("*") if p.is_file()]
    for p in psutil.process_iter():
        try:
            if any(str(state) + "/" in arg for arg in p.cmdline()):
                left.append(f"process {p.pid} {p.name()} (a broker of ours)")
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    for child in psutil.Process().children(recursive=True):
        if child.pid not in kernels_before and child.is_running() and child.status() != psutil.STATUS_ZOMBIE:
            left.append(f"process {child.pid} {' '.join(child.cmdline())[:100]}")
    left += [f"temp {p}" for p in kernel_tmp.iterdir()]
    return left


def test_the_suite_passes_with_its_checked_outputs_twice_then_teardown_leaves_nothing(
    kubeconfig, hermetic_dir, tmp_path, monkeypatch
):
    kube.reset()
    suffix = uuid.uuid4().hex[:6]
    params = yaml.safe_load((ROOT / "tests" / "notebooks" / "hermetic.yaml").read_text())
    params.update(
        strimzi_source=SOURCE, namespace=f"kl-rerun-{suffix}", operator_namespace=f"kl-rerun-op-{suffix}"
    )
    kernel_tmp = tmp_path / "kernel-tmp"
    kernel_tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(kernel_tmp))  # the kernels inherit it: their temp files land here
    kernels_before = {c.pid for c in psutil.Process().children(recursive=True)}

    others_seen = bool(other_operators(params["operator_namespace"]))
    notebooks = [p.name for p in find_notebooks(notebooks_dir())]
    assert notebooks[-1].startswith("99"), notebooks
    first = Path(os.environ.get("KAFKALAB_SUITE_OUT") or tmp_path / "suite").resolve()
    done = False
    try:
        # 1. once, as users run it
        cli = [sys.executable, "-m", "kafkalab", "run", "--tier", "hermetic", "-o", str(first)]
        cli += [a for name in notebooks[:-1] for a in ("-n", name)]
        cli += [
            a
            for k in ("strimzi_source", "namespace", "operator_namespace")
            for a in ("-p", f"{k}={params[k]}")
        ]
        proc = subprocess.run(cli, cwd=tmp_path, capture_output=True, text=True, timeout=1800)
        print(proc.stdout)  # shown with -s or -rP: how long each notebook took
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert proc.stdout.startswith("cluster: hermetic — requested")
        junit = ET.parse(first / "junit.xml").getroot()
        assert [c.get("name") for c in junit.iter("testcase")] == notebooks[:-1]
        assert junit.get("failures") == "0" and junit.get("skipped") == "0"

        # 2. no live secret in what it wrote
        assert_no_live_secret(first, [params["namespace"], params["operator_namespace"]], len(notebooks) - 1)

        # 3. again, on what the first pass left, in the Japanese edition; then teardown twice
        assert [p.name for p in find_notebooks(notebooks_dir("ja"))] == notebooks
        kept = os.environ.get("KAFKALAB_SUITE_OUT")
        again_out = first.with_name(first.name + "-ja") if kept else tmp_path / "again"
        again = run_suite(again_out, params, notebooks=notebooks[:-1], edition="ja")
        assert again.ok, f"second pass:\n{again}\n" + "\n".join(r.error for r in again.results if r.error)
        for attempt, edition in ((1, "en"), (2, "ja")):
            out = tmp_path / f"teardown{attempt}"
            (r,) = run_suite(out, params, notebooks=[notebooks[-1]], edition=edition).results
            assert r.status == "passed", f"{r.notebook} run {attempt}: {r.error}"
        done = True
    finally:
        if not done:  # stopped early: clean up what the notebooks made
            run_suite(tmp_path / "cleanup", params, notebooks=[notebooks[-1]])
            for ns in (params["namespace"], params["operator_namespace"]):
                kube.delete_namespace(ns, timeout=180)
    assert leftovers(params, hermetic_dir, kernel_tmp, kernels_before, others_seen) == []
