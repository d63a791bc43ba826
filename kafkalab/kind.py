"""kind: a Kubernetes cluster in a Docker container on the laptop, created once and reused.

Driven through the `kind` command line, like a learner would. Every command has a timeout, and a missing
tool or a stopped Docker is reported with how to fix it rather than as a stack trace from subprocess.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from kafkalab.errors import KafkalabError, MissingTool
from kafkalab.strimzi import manifest_path

__all__ = [
    "DEFAULT_NAME",
    "INSTALL_HINTS",
    "cluster_exists",
    "context_name",
    "delete_cluster",
    "ensure_cluster",
    "is_ours",
    "require",
]

DEFAULT_NAME = "kafkalab"
INSTALL_HINTS = {
    "docker": "install Docker Desktop or Docker Engine: https://docs.docker.com/get-docker/",
    "kind": "install kind v0.31.0: `go install sigs.k8s.io/kind@v0.31.0`, or a release binary from "
    "https://kind.sigs.k8s.io/docs/user/quick-start/#installation",
    "kubectl": "install kubectl: https://kubernetes.io/docs/tasks/tools/",
}
_QUICK = 60  # seconds for commands that only ask something (docker info, kind get clusters)
_CREATE = 600  # creating a cluster pulls the node image the first time


def context_name(name: str = DEFAULT_NAME) -> str:
    """The kube context kind writes for cluster `name` ("kind-<name>")."""
    return f"kind-{name}"


def require(*tools: str) -> None:
    """Raise MissingTool for the first tool that is not on PATH."""
    for tool in tools:
        if shutil.which(tool) is None:
            raise MissingTool(tool, INSTALL_HINTS.get(tool, f"install {tool} and put it on PATH"))


def _run(args: list[str], timeout: float) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise KafkalabError(
            f"`{' '.join(args)}` did not finish within {timeout:.0f}s",
            obj=args[0],
            fix="is Docker responsive? `docker ps`; a first run may pull a large image: try again",
        ) from None


def _docker_running() -> None:
    result = _run(["docker", "info"], _QUICK)
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise KafkalabError(
            f"Docker is not running (`docker info` failed: {last})",
            obj="docker",
            fix="start Docker Desktop, or `sudo systemctl start docker` on Linux; then check `docker info`",
        )


def cluster_exists(name: str = DEFAULT_NAME) -> bool:
    """Whether kind has a cluster called `name`."""
    require("kind")
    result = _run(["kind", "get", "clusters"], _QUICK)
    if result.returncode != 0:
        raise KafkalabError(
            f"`kind get clusters` failed: {result.stderr.strip()}",
            obj="kind",
            fix="is Docker running? `docker info`",
        )
    return name in result.stdout.split()


def ensure_cluster(
    name: str = DEFAULT_NAME,
    config: str | Path | None = None,
    image: str | None = None,
    timeout: float = _CREATE,
) -> str:
    """Create kind cluster `name` unless it exists; return its kube context name.

    config defaults to manifests/kind-config.yaml (one node, Kafka's external ports mapped to 127.0.0.1).
    An existing cluster is reused as it is (its port mappings cannot change after creation).
    """
    require("docker", "kind", "kubectl")
    _docker_running()
    if cluster_exists(name):
        return context_name(name)
    args = [
        "kind",
        "create",
        "cluster",
        "--name",
        name,
        "--config",
        str(manifest_path(config or "kind-config.yaml")),
    ]
    if image:
        args += ["--image", image]
    args += ["--wait", "120s"]
    result = _run(args, timeout)
    if result.returncode != 0:
        tail = "\n".join(result.stderr.strip().splitlines()[-5:])
        busy = "address already in use" in result.stderr or "port is already allocated" in result.stderr
        ports_fix = (
            "something holds a port that kind-config.yaml maps (32000-32002, 32010, 32100, 32110): "
            "`kind get clusters`, then `kind delete cluster --name <it>`"
        )
        raise KafkalabError(
            f"`kind create cluster --name {name}` failed:\n{tail}",
            obj=f"kind cluster {name}",
            fix=ports_fix
            if busy
            else f"read the output above; `kind delete cluster --name {name}` and try again",
        )
    _mark_nodes(name)
    return context_name(name)


# kafkalab's mark on the nodes of a kind cluster it created (kube.py marks every object the same way).
MARK = "app.kubernetes.io/managed-by=kafkalab"


def _mark_nodes(name: str) -> None:
    """Label the new cluster's nodes with kafkalab's mark: only a cluster carrying it is ever deleted."""
    args = ["kubectl", "--context", context_name(name), "label", "nodes", "--all", "--overwrite", MARK]
    result = _run(args, _QUICK)
    if result.returncode != 0:
        raise KafkalabError(
            f"could not mark kind cluster {name} as kafkalab's: {result.stderr.strip()}",
            obj=f"kind cluster {name}",
            fix=f"`{' '.join(args)}` by hand (without the mark kafkalab never deletes the cluster)",
        )


def is_ours(name: str = DEFAULT_NAME) -> bool:
    """Whether kind cluster `name` exists and kafkalab created it (every node carries kafkalab's mark)."""
    if not cluster_exists(name):
        return False
    context = context_name(name)
    every = _run(["kubectl", "--context", context, "get", "nodes", "-o", "name"], _QUICK)
    marked = _run(["kubectl", "--context", context, "get", "nodes", "-l", MARK, "-o", "name"], _QUICK)
    if every.returncode != 0 or marked.returncode != 0:
        return False  # cannot tell: then it is not ours to delete
    return bool(every.stdout.split()) and sorted(every.stdout.split()) == sorted(marked.stdout.split())


def delete_cluster(name: str = DEFAULT_NAME, timeout: float = 300) -> bool:
    """Delete kind cluster `name` if kafkalab created it; returns False when there was none.

    A kind cluster kafkalab did not create (its nodes lack kafkalab's mark) is never deleted: KafkalabError.
    """
    if not cluster_exists(name):
        return False
    if not is_ours(name):
        raise KafkalabError(
            f"kind cluster {name} was not created by kafkalab (its nodes lack the label {MARK}), "
            "so kafkalab does not delete it",
            obj=f"kind cluster {name}",
            fix=f"if it is yours to remove: `kind delete cluster --name {name}`",
        )
    result = _run(["kind", "delete", "cluster", "--name", name], timeout)
    if result.returncode != 0:
        raise KafkalabError(
            f"`kind delete cluster --name {name}` failed: {result.stderr.strip()}",
            obj=f"kind cluster {name}",
            fix="is Docker running? `docker info`; `docker ps -a` shows the node container to remove by hand",
        )
    return True
