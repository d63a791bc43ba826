"""Every notebook run twice in a row passes both times, and 99-teardown leaves nothing behind.

Each notebook (00 … 07, then 99) runs twice in a row with papermill, as a learner re-running it would,
with the hermetic tier's parameters and namespaces of its own. After the second 99: both namespaces are
gone; no ClusterRoleBinding still names the operator's namespace (unless another operator or Strimzi
resource was on the cluster meanwhile: uninstall_operator then keeps Strimzi's shared cluster-wide RBAC on
purpose); no broker JVM or broker state of ours is left in the stand-in; no kernel process is left; and
the kernels' temp directory ($TMPDIR, one of our own) is empty again (kafkalab.clients writes CA files
there and must remove them).

Slow (every notebook twice: ~2-3 min on 2 cores, more on a busy machine), so it runs only when asked:
KAFKALAB_RERUN_TEST=1.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import psutil
import pytest
import yaml

from kafkalab import kube, strimzi
from kafkalab.suite import find_notebooks, notebooks_dir, run_suite

pytestmark = [
    pytest.mark.hermetic,
    pytest.mark.skipif(
        os.environ.get("KAFKALAB_RERUN_TEST") != "1",
        reason="slow (two runs of every notebook): set KAFKALAB_RERUN_TEST=1 to run it",
    ),
]

ROOT = Path(__file__).resolve().parents[2]
SOURCE = os.environ.get("KAFKALAB_STRIMZI_SOURCE", "/work/shared/strimzi/1.2.0/install/cluster-operator")


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


def test_every_notebook_twice_then_teardown_leaves_nothing(kubeconfig, hermetic_dir, tmp_path, monkeypatch):
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
    results: list[str] = []
    failed: list[str] = []
    try:
        for name in notebooks:
            for attempt in (1, 2):
                (r,) = run_suite(tmp_path / f"run{attempt}", params, notebooks=[name]).results
                line = f"{name} run {attempt}: {r.status} {r.seconds:.0f}s {r.error}".rstrip()
                results.append(line)
                if r.status != "passed":
                    failed.append(line)
                    break
            if failed:
                break
    finally:
        if failed or len(results) < 2 * len(notebooks):  # stopped early: clean up what the notebooks made
            run_suite(tmp_path / "cleanup", params, notebooks=[notebooks[-1]])
            for ns in (params["namespace"], params["operator_namespace"]):
                kube.delete_namespace(ns, timeout=180)
    report = "\n".join(results)
    print(report)  # shown with -s or -rP: how long each run of each notebook took
    assert not failed, report
    assert len(results) == 2 * len(notebooks), report
    assert leftovers(params, hermetic_dir, kernel_tmp, kernels_before, others_seen) == [], report
