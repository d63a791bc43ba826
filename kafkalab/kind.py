"""kind: a Kubernetes cluster in a Docker container on the laptop, created once and reused.

Driven through the `kind` command line, like a learner would. Every command has a timeout, and a missing
tool or a stopped Docker is reported with how to fix it rather than as a stack trace from subprocess.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from kafkalab import kube
from kafkalab.errors import KafkalabError, MissingTool, ResourceFailed, WaitTimeout
from kafkalab.strimzi import manifest_path

__all__ = [
    "CGROUP_V1_PATCH",
    "DEFAULT_NAME",
    "NODE_IMAGE",
    "INSTALL_HINTS",
    "cluster_exists",
    "context_name",
    "delete_cluster",
    "ensure_cluster",
    "create_error",
    "SYSTEM_DEPLOYMENTS",
    "wait_system_pods",
    "is_ours",
    "require",
]

DEFAULT_NAME = "kafkalab"
# The node image Strimzi 1.2.0's own CI runs on (with kind v0.31.0), pinned by digest as kind's release notes
# advise: a tag on Docker Hub can be pushed again, a digest cannot. manifests/kind-config.yaml names it too.
NODE_IMAGE = "kindest/node:v1.35.0@sha256:452d707d4862f52530247495d180205e029056831160e22870e37e3f6c1ac31f"
# Kubernetes 1.35's kubelet refuses to start on a cgroup v1 host unless told otherwise; this kind config
# addition tells it (cgroup v1 still works, but is in maintenance mode upstream).
CGROUP_V1_PATCH = """kubeadmConfigPatches:
  - |
    kind: KubeletConfiguration
    failCgroupV1: false"""
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
        cgroup = _run(["docker", "info", "--format", "{{.CgroupVersion}}"], _QUICK).stdout.strip()
        raise create_error(name, result.stderr, _left_behind(name, result.stderr), cgroup)
    _mark_nodes(name)
    return context_name(name)


# Lines of kind's output that are Go stack frames ("\tpath/file.go:123", "pkg.(*T).Method(...)",
# "main.main") or kind's progress lines: noise next to its ERROR line and the cause.
_FRAME = re.compile(
    r"^(\s+\S+\.(go|s):\d+( \+0x[0-9a-f]+)?$|[\w./-]+\.[\w(*).]+\(.*\)$|main\.main$|runtime\.\w+$)"
)
# Causes worth naming, as the words that show them in kind's output (kubeadm's, the kubelet's, Docker's).
_CAUSES = (
    ("kubelet is configured to not run on a host using cgroup v1", "cgroup-v1"),
    ("port is already allocated", "port"),
    ("address already in use", "port"),
    ("node(s) already exist for a cluster with the name", "exists"),
    ("no space left on device", "disk"),
    ("Cannot connect to the Docker daemon", "docker"),
    ("failed to pull image", "image"),
)


def create_error(name: str, stderr: str, still_there: bool, cgroup: str = "") -> KafkalabError:
    """The error for a failed `kind create cluster`: kind's ERROR line and the cause, not Go stack frames.

    still_there: whether the node container outlived the failure (kind removes it unless --retain), which
    decides whether `kind delete cluster` is any use. cgroup: Docker's cgroup version ("1", "2"), which
    explains a kubelet that never became healthy when kind's output does not show the kubelet's own words.
    """
    lines = [line.rstrip() for line in stderr.splitlines()]
    errors = [line for line in lines if line.startswith("ERROR:")]
    causes = [line.strip() for line in lines if any(words in line for words, _ in _CAUSES)]
    kinds = {kind for words, kind in _CAUSES if any(words in line for line in causes)}
    if cgroup == "1" and not kinds and "kubeadm init" in stderr:
        kinds.add("cgroup-v1")
        causes.append(
            "Docker uses cgroup v1 (`docker info`): the kubelet of Kubernetes 1.35+ refuses to run there "
            "unless failCgroupV1 is false"
        )
    shown = errors + [c for c in causes if c not in errors]
    if not shown:  # an output we do not know: its last lines that are not stack frames
        shown = [line for line in lines if line.strip() and not _FRAME.match(line)][-5:]
    shown = [line if len(line) <= 400 else line[:400] + " …" for line in shown][:8]
    delete = f"`kind delete cluster --name {name}`, then try again"
    if "cgroup-v1" in kinds:
        fix = (
            "Docker runs containers on cgroup v1, and Kubernetes 1.35+ refuses it by default. Best: "
            "switch the host (or Docker Desktop's VM) to cgroup v2. Or let the kubelet run on cgroup v1: "
            f"add to a copy of manifests/kind-config.yaml\n{CGROUP_V1_PATCH}\nand pass that file as "
            "kind_config (notebooks) or --kind-config (`kafkalab up`)"
        )
    elif "port" in kinds:
        fix = (
            "something holds a port that kind-config.yaml maps (32000-32002, 32010, 32020-32022, 32100, "
            "32110, 32120): another kind cluster (`kind get clusters`, then "
            "`kind delete cluster --name <it>`) or another program (`ss -ltnp` on Linux, "
            "`lsof -iTCP -sTCP:LISTEN` on macOS)"
        )
    elif "exists" in kinds:
        fix = f"a cluster named {name} is already there: use it, or {delete}"
    elif "disk" in kinds:
        fix = "Docker's disk is full: `docker system prune` frees unused images and containers"
    elif "docker" in kinds:
        fix = "start Docker, then check `docker info`"
    elif "image" in kinds:
        fix = (
            "the node image could not be pulled: check the network, or `docker pull` it where there is "
            "network and `docker save`/`docker load` it here"
        )
    else:
        fix = (
            "read kind's error above; `kind create cluster --retain` keeps the failed node to inspect "
            "(`kind export logs`)"
        )
    if still_there and "exists" not in kinds:
        fix += f"; the failed node is still there: {delete}"
    elif not still_there:
        fix += " (kind has already removed the failed node: nothing to delete)"
    return KafkalabError(
        f"`kind create cluster --name {name}` failed:\n" + "\n".join(f"  {line}" for line in shown),
        obj=f"kind cluster {name}",
        fix=fix,
    )


def _left_behind(name: str, stderr: str) -> bool:
    """Whether a failed create left the cluster's node behind (kind deletes it unless --retain)."""
    if "Deleted nodes:" in stderr:
        return False
    try:
        return cluster_exists(name)
    except KafkalabError:
        return False


# kind's own Deployments that the notebooks rely on, and why.
SYSTEM_DEPLOYMENTS = (
    ("kube-system", "coredns", "CoreDNS (brokers and clients find each other by Service name)"),
    (
        "local-path-storage",
        "local-path-provisioner",
        "the storage provisioner (it makes the volumes of PersistentVolumeClaims)",
    ),
)


def wait_system_pods(context: str, timeout: float = 180, progress: kube.Progress | None = None) -> list[str]:
    """Wait until the kind cluster's system Deployments the notebooks need are rolled out; list them.

    `kind create --wait` only waits for the control plane: CoreDNS or the storage provisioner may still be
    pulling, or crash-looping (a host without inotify watches, a DNS loop), and Kafka would fail later
    for a reason far from its cause. A pod that cannot start fails this at once, with its diagnosis.
    """
    ready = []
    for namespace, name, what in SYSTEM_DEPLOYMENTS:
        try:
            kube.wait_for_rollout(name, namespace, timeout, progress, context)
        except (ResourceFailed, WaitTimeout) as e:
            e.summary = f"{what} is not working: {e.summary}"
            raise
        ready.append(f"Deployment {namespace}/{name}")
    return ready


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
