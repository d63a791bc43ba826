"""kind.py with subprocess.run and shutil.which replaced (the edge): which commands run, and the errors."""

from __future__ import annotations

import subprocess

import pytest

from kafkalab import kind, strimzi
from kafkalab.errors import KafkalabError, MissingTool


class FakeShell:
    """Answers commands like a machine with docker and kind; records what was run."""

    def __init__(self, clusters=(), docker_ok=True, create_error="", cgroup="2", retained=False):
        self.clusters = list(clusters)
        self.marked: set[str] = set()  # clusters whose node carries kafkalab's label
        self.docker_ok = docker_ok
        self.create_error = create_error
        self.cgroup = cgroup
        self.retained = retained  # a failed create leaves the node behind (kind --retain, or kind died)
        self.ran: list[list[str]] = []

    def __call__(self, args, capture_output, text, timeout, check):
        assert capture_output and text and timeout > 0 and check is False
        self.ran.append(args)
        out, err, rc = "", "", 0
        if args[:2] == ["docker", "info"] and not self.docker_ok:
            err, rc = "Cannot connect to the Docker daemon at unix:///var/run/docker.sock", 1
        elif args[:2] == ["docker", "info"] and "{{.CgroupVersion}}" in args:
            out = self.cgroup + "\n"
        elif args[:3] == ["kind", "get", "clusters"]:
            out = "".join(f"{c}\n" for c in self.clusters)
        elif args[:3] == ["kind", "create", "cluster"]:
            if self.create_error:
                err, rc = self.create_error, 1
                if self.retained:
                    self.clusters.append(args[args.index("--name") + 1])
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
        'Creating cluster "kafkalab" ...\n'
        " ✗ Preparing nodes 📦\n"
        'Deleted nodes: ["kafkalab-control-plane"]\n'
        'ERROR: failed to create cluster: command "docker run --name kafkalab-control-plane ..." failed '
        "with error: exit status 125\n"
        "Command Output: docker: Error response from daemon: driver failed programming external "
        "connectivity on endpoint kafkalab-control-plane: Bind for 127.0.0.1:32100 failed: port is "
        "already allocated.\n"
    )
    with pytest.raises(KafkalabError, match="kind create cluster --name kafkalab` failed") as e:
        kind.ensure_cluster()
    assert "Bind for 127.0.0.1:32100 failed: port is already allocated" in e.value.summary
    assert "32100" in e.value.fix and "kind get clusters" in e.value.fix
    assert "kind has already removed the failed node: nothing to delete" in e.value.fix


# What kind v0.31 prints when the kubelet of a 1.35 node image refuses a cgroup v1 host: kubeadm's output,
# then kind's stack trace (frames as in kubernetes-sigs/kind issue 3802).
KUBEADM_FAILED = """Creating cluster "kafkalab" ...
 ✓ Ensuring node image (kindest/node:v1.35.0) 🖼
 ✓ Preparing nodes 📦
 ✓ Writing configuration 📜
 ✗ Starting control-plane 🕹️
Deleted nodes: ["kafkalab-control-plane"]
ERROR: failed to create cluster: failed to init node with kubeadm: command "docker exec --privileged \
kafkalab-control-plane kubeadm init --config=/kind/kubeadm.conf --skip-token-print --v=6" failed with error: \
exit status 1
Command Output: I1202 10:01:02.123456 226 initconfiguration.go:261] loading configuration
[init] Using Kubernetes version: v1.35.0
[kubelet-check] Waiting for a healthy kubelet at http://127.0.0.1:10248/healthz. This can take up to 4m0s
{KUBELET}[kubelet-check] The kubelet is not healthy after 4m0.000327514s
error: error execution phase wait-control-plane: failed while waiting for the kubelet to start
k8s.io/kubernetes/cmd/kubeadm/app/cmd/phases/workflow.(*Runner).Run.func1
	cmd/kubeadm/app/cmd/phases/workflow/runner.go:260
k8s.io/kubernetes/cmd/kubeadm/app/cmd/phases/workflow.(*Runner).visitAll
	cmd/kubeadm/app/cmd/phases/workflow/runner.go:446
github.com/spf13/cobra.(*Command).Execute
	vendor/github.com/spf13/cobra/command.go:968
main.main
	cmd/kubeadm/kubeadm.go:25
runtime.main
	/usr/local/go/src/runtime/proc.go:250
runtime.goexit
	/usr/local/go/src/runtime/asm_amd64.s:1594
"""
KUBELET_CGROUP_V1 = (
    "E1202 10:01:03.1 kubelet is configured to not run on a host using cgroup v1. cgroup v1 support is in "
    "maintenance mode\n"
)


def test_cgroup_v1_failure_shows_kinds_error_and_the_cause_not_stack_frames(shell):
    shell.create_error = KUBEADM_FAILED.replace("{KUBELET}", KUBELET_CGROUP_V1)
    with pytest.raises(KafkalabError) as e:
        kind.ensure_cluster()
    summary = e.value.summary
    assert "ERROR: failed to create cluster: failed to init node with kubeadm" in summary
    assert "kubelet is configured to not run on a host using cgroup v1" in summary
    assert "runner.go" not in summary and "runtime.goexit" not in summary and "main.main" not in summary
    assert "failCgroupV1: false" in e.value.fix and "kind: KubeletConfiguration" in e.value.fix
    assert "kind delete cluster" not in e.value.fix  # kind already removed the node


def test_kubelet_that_never_got_healthy_on_cgroup_v1_is_explained_by_dockers_cgroup(shell):
    shell.create_error = KUBEADM_FAILED.replace("{KUBELET}", "")  # kubeadm's output alone does not say why
    shell.cgroup = "1"
    with pytest.raises(KafkalabError) as e:
        kind.ensure_cluster()
    assert "Docker uses cgroup v1" in e.value.summary and "failCgroupV1: false" in e.value.fix
    shell.cgroup = "2"
    with pytest.raises(KafkalabError) as e:
        kind.ensure_cluster()
    assert "cgroup" not in e.value.fix and "kind create cluster --retain" in e.value.fix


def test_delete_is_suggested_only_when_the_node_is_still_there(shell):
    shell.create_error = "ERROR: failed to create cluster: timed out waiting for the condition\n"
    shell.retained = True
    with pytest.raises(KafkalabError) as e:
        kind.ensure_cluster("lab")
    assert "the failed node is still there: `kind delete cluster --name lab`" in e.value.fix


def test_unknown_failure_shows_its_last_lines_without_frames():
    stderr = "something odd\ngithub.com/x/y.(*T).Run(...)\n\tpkg/y.go:12\nmain.main\nreally odd\n"
    e = kind.create_error("lab", stderr, still_there=False)
    assert "something odd" in e.summary and "really odd" in e.summary
    assert "y.go" not in e.summary and "main.main" not in e.summary and "(*T)" not in e.summary


def test_node_image_is_pinned_by_digest_in_the_kind_config():
    import yaml

    config = yaml.safe_load(strimzi.manifest_path("kind-config.yaml").read_text())
    assert config["nodes"][0]["image"] == kind.NODE_IMAGE
    assert kind.NODE_IMAGE.startswith("kindest/node:v1.35.0@sha256:452d707d4862")


def test_config_and_image_are_passed_to_kind(shell, tmp_path):
    own = tmp_path / "my-kind.yaml"
    own.write_text("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\n")
    kind.ensure_cluster("lab", config=own, image="kindest/node:v1.34.0")
    create = next(args for args in shell.ran if args[:3] == ["kind", "create", "cluster"])
    assert create[create.index("--config") + 1] == str(own)
    assert create[create.index("--image") + 1] == "kindest/node:v1.34.0"


def test_a_hanging_command_times_out(monkeypatch):
    def hang(args, **kw):
        raise subprocess.TimeoutExpired(args, kw["timeout"])

    monkeypatch.setattr(kind.subprocess, "run", hang)
    monkeypatch.setattr(kind.shutil, "which", lambda tool: f"/usr/bin/{tool}")
    with pytest.raises(KafkalabError, match="`kind get clusters` did not finish within 60s"):
        kind.cluster_exists()
