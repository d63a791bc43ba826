"""kind.py with subprocess.run and shutil.which replaced (the edge): which commands run, and the errors."""

from __future__ import annotations

import subprocess

import pytest

from kafkalab import kind, strimzi
from kafkalab.errors import KafkalabError, MissingTool


class FakeShell:
    """Answers commands like a machine with docker and kind; records what was run."""

    def __init__(self, clusters=(), docker_ok=True, create_error=""):
        self.clusters = list(clusters)
        self.marked: set[str] = set()  # clusters whose node carries kafkalab's label
        self.docker_ok = docker_ok
        self.create_error = create_error
        self.ran: list[list[str]] = []

    def __call__(self, args, capture_output, text, timeout, check):
        assert capture_output and text and timeout > 0 and check is False
        self.ran.append(args)
        out, err, rc = "", "", 0
        if args[:2] == ["docker", "info"] and not self.docker_ok:
            err, rc = "Cannot connect to the Docker daemon at unix:///var/run/docker.sock", 1
        elif args[:3] == ["kind", "get", "clusters"]:
            out = "".join(f"{c}\n" for c in self.clusters)
        elif args[:3] == ["kind", "create", "cluster"]:
            if self.create_error:
                err, rc = self.create_error, 1
            else:
                self.clusters.append(args[args.index("--name") + 1])
        elif args[:3] == ["kind", "delete", "cluster"]:
            self.clusters.remove(args[args.index("--name") + 1])
        elif args[0] == "kubectl":
            cluster = args[args.index("--context") + 1].removeprefix("kind-")
            if "label" in args:
                assert args[-1] == kind.MARK and "--all" in args
                self.marked.add(cluster)
            elif "-l" not in args or cluster in self.marked:
                out = f"node/{cluster}-control-plane\n"
        return subprocess.CompletedProcess(args, rc, out, err)


@pytest.fixture
def shell(monkeypatch):
    fake = FakeShell()
    monkeypatch.setattr(kind.subprocess, "run", fake)
    monkeypatch.setattr(kind.shutil, "which", lambda tool: f"/usr/bin/{tool}")
    return fake


def test_context_name():
    assert kind.context_name("kafkalab") == "kind-kafkalab"


def test_creates_a_cluster_with_the_kind_config_and_marks_it(shell):
    assert kind.ensure_cluster("lab") == "kind-lab"
    create = shell.ran[-2]
    assert shell.ran[-1][:4] == ["kubectl", "--context", "kind-lab", "label"]
    assert kind.is_ours("lab")
    assert create[:5] == ["kind", "create", "cluster", "--name", "lab"]
    assert create[create.index("--config") + 1] == str(strimzi.manifests_dir() / "kind-config.yaml")


def test_reuses_an_existing_cluster(shell):
    shell.clusters = ["lab"]
    assert kind.ensure_cluster("lab") == "kind-lab"
    assert not [c for c in shell.ran if c[:2] == ["kind", "create"]]
    assert kind.cluster_exists("lab") and not kind.cluster_exists("la")


def test_delete(shell):
    shell.clusters = ["lab"]
    shell.marked = {"lab"}
    assert kind.delete_cluster("lab") is True
    assert kind.delete_cluster("lab") is False
    assert shell.ran[-1] == ["kind", "get", "clusters"]  # nothing to delete: only asked


def test_a_kind_cluster_kafkalab_did_not_create_is_never_deleted(shell):
    shell.clusters = ["theirs"]
    assert not kind.is_ours("theirs")
    with pytest.raises(KafkalabError, match="kind cluster theirs was not created by kafkalab") as e:
        kind.delete_cluster("theirs")
    assert "kind delete cluster --name theirs" in e.value.fix
    assert shell.clusters == ["theirs"]
    assert not [c for c in shell.ran if c[:2] == ["kind", "delete"]]


@pytest.mark.parametrize("missing", ["docker", "kind", "kubectl"])
def test_missing_tools_say_how_to_install_them(shell, monkeypatch, missing):
    monkeypatch.setattr(kind.shutil, "which", lambda tool: None if tool == missing else f"/usr/bin/{tool}")
    with pytest.raises(MissingTool) as e:
        kind.ensure_cluster()
    assert e.value.tool == missing and e.value.install == kind.INSTALL_HINTS[missing]
    assert shell.ran == []


def test_docker_not_running(shell):
    shell.docker_ok = False
    with pytest.raises(
        KafkalabError, match="Docker is not running .*Cannot connect to the Docker daemon"
    ) as e:
        kind.ensure_cluster()
    assert "start Docker" in e.value.fix


def test_busy_ports(shell):
    shell.create_error = (
        "ERROR: failed to create cluster: ... Bind for 127.0.0.1:32100 failed: port is already allocated"
    )
    with pytest.raises(KafkalabError, match="kind create cluster --name kafkalab` failed") as e:
        kind.ensure_cluster()
    assert "32100" in e.value.fix and "kind delete cluster" in e.value.fix


def test_a_hanging_command_times_out(monkeypatch):
    def hang(args, **kw):
        raise subprocess.TimeoutExpired(args, kw["timeout"])

    monkeypatch.setattr(kind.subprocess, "run", hang)
    monkeypatch.setattr(kind.shutil, "which", lambda tool: f"/usr/bin/{tool}")
    with pytest.raises(KafkalabError, match="`kind get clusters` did not finish within 60s"):
        kind.cluster_exists()
