"""The kafkalab command: fakes only at the edge (which tools exist, what they answer)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import click
import nbformat
import pytest
from click.testing import CliRunner

from kafkalab import cli, strimzi, tiers


def write_nb(path, *sources, parameters):
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell(parameters)
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, *(nbformat.v4.new_code_cell(s) for s in sources)]
    nbformat.write(nb, path)


# What `docker info --format '{{json .}}'` prints, cut to the fields doctor reads (Docker Engine 28 on
# cgroup v2, 4 CPUs, 16 GiB).
DOCKER_INFO = {"ServerVersion": "28.2.2", "NCPU": 4, "MemTotal": 16 * 2**30, "CgroupVersion": "2"}
KUBECTL_CLIENT = {"clientVersion": {"gitVersion": "v1.35.1"}, "kustomizeVersion": "v5.7.1"}


def fake_tools(monkeypatch, missing=(), failing=(), docker=None, kubectl=None, kind="v0.31.0", clusters=""):
    """Pretend every tool is installed except `missing`; commands of `failing` tools exit 1."""
    monkeypatch.setattr(cli.shutil, "which", lambda tool: None if tool in missing else f"/usr/bin/{tool}")
    calls = []

    def run(cmd, **kw):
        calls.append(cmd)
        if cmd[0] in failing:
            return subprocess.CompletedProcess(
                cmd, 1, "", "Cannot connect to the Docker daemon. Is it running?"
            )
        if cmd[:2] == ["docker", "info"]:
            return subprocess.CompletedProcess(cmd, 0, json.dumps({**DOCKER_INFO, **(docker or {})}), "")
        if cmd[:2] == ["kubectl", "version"] and "json" in cmd:
            return subprocess.CompletedProcess(cmd, 0, json.dumps(kubectl or KUBECTL_CLIENT), "")
        if cmd[:2] == ["kind", "version"]:
            return subprocess.CompletedProcess(cmd, 0, f"kind {kind} go1.25.5 linux/amd64\n", "")
        if cmd[:3] == ["kind", "get", "clusters"]:
            return subprocess.CompletedProcess(cmd, 0, clusters, "")
        return subprocess.CompletedProcess(cmd, 0, f"{cmd[0]} version 1.2.3\nmore", "")

    monkeypatch.setattr(cli.subprocess, "run", run)
    monkeypatch.setattr(cli, "_port_free", lambda address, port: True)
    return calls


def test_doctor_all_present(monkeypatch):
    fake_tools(monkeypatch)
    result = CliRunner().invoke(cli.main, ["doctor"])
    assert result.exit_code == 0, result.output
    assert "All required tools found" in result.output
    assert "kind version   v0.31.0" in result.output
    assert "daemon 28.2.2" in result.output and "cgroup v2" in result.output
    assert "kubectl v1.35, node image Kubernetes v1.35" in result.output
    assert "32100, 32000, 32001, 32002, 32110, 32010, 32120, 32020, 32021, 32022 free" in result.output
    assert "warn" not in result.output


def test_doctor_cgroup_v1_with_kubernetes_1_35_says_how_to_patch_the_kubelet(monkeypatch):
    fake_tools(monkeypatch, docker={"CgroupVersion": "1"})
    result = CliRunner().invoke(cli.main, ["doctor"])
    assert result.exit_code == 1
    assert "MISSING docker cgroup" in result.output
    assert (
        "cgroup v1: the kubelet of kindest/node:v1.35.0 (Kubernetes 1.35+) refuses to start" in result.output
    )
    assert "kind: KubeletConfiguration" in result.output and "failCgroupV1: false" in result.output
    assert "--kind-config FILE" in result.output


def test_doctor_cgroup_v1_is_fine_with_the_patch_or_an_older_node_image(monkeypatch, tmp_path):
    from kafkalab import kind, strimzi

    fake_tools(monkeypatch, docker={"CgroupVersion": "1"})
    patched = tmp_path / "kind.yaml"
    patched.write_text(strimzi.manifest_path("kind-config.yaml").read_text() + kind.CGROUP_V1_PATCH + "\n")
    result = CliRunner().invoke(cli.main, ["doctor", "--kind-config", str(patched)])
    assert result.exit_code == 0, result.output
    assert "cgroup v1 (kubelet patched: failCgroupV1: false)" in result.output
    result = CliRunner().invoke(cli.main, ["doctor", "--node-image", "kindest/node:v1.34.0"])
    assert result.exit_code == 0, result.output


def test_doctor_states_what_the_notebooks_request(monkeypatch):
    need = cli.notebook_requests()
    # operator 200m/768Mi + kind's pods 950m/290Mi + my-cluster: a 250m/768Mi node, entity operator 200m/512Mi
    assert need["notebooks 03-05"] == (1600, 2338)
    assert need["notebook 06"] == (2050, 3618)  # + secure-cluster, the same again
    assert need["notebook 08"] == (2850, 6434)  # + trio: three 768Mi nodes, its entity operator (06's kept)
    fake_tools(monkeypatch, docker={"NCPU": 2, "MemTotal": 3 * 2**30})
    result = CliRunner().invoke(cli.main, ["doctor"])
    assert result.exit_code == 0, result.output  # enough for 03-05: warnings only
    assert "warn    docker cpus    2 CPUs; the notebooks request 1.60 (03-05), 2.85 (08" in result.output
    assert (
        "warn    docker memory  3.0 GiB; the notebooks request 2.3 GiB (03-05), 6.3 GiB (08" in result.output
    )
    assert "each Kafka node 768Mi with a 384m heap" in result.output
    assert "operator 768Mi (its limit raised from Strimzi's 384Mi" in result.output
    fake_tools(monkeypatch, docker={"NCPU": 1, "MemTotal": 2 * 2**30})
    result = CliRunner().invoke(cli.main, ["doctor"])
    assert result.exit_code == 1
    assert "MISSING docker cpus" in result.output and "MISSING docker memory" in result.output


def test_doctor_old_kind_and_kubectl_skew_are_warnings(monkeypatch):
    fake_tools(monkeypatch, kind="v0.20.0", kubectl={"clientVersion": {"gitVersion": "v1.31.4"}})
    result = CliRunner().invoke(cli.main, ["doctor"])
    assert result.exit_code == 0, result.output
    assert "warn    kind version   v0.20.0, older than v0.31.0" in result.output
    assert "warn    kubectl skew   kubectl v1.31, node image Kubernetes v1.35" in result.output
    assert "install kubectl v1.35" in result.output and "2 warning(s) above" in result.output


def test_doctor_busy_host_ports(monkeypatch):
    fake_tools(monkeypatch)
    monkeypatch.setattr(cli, "_port_free", lambda address, port: port != 32100)
    result = CliRunner().invoke(cli.main, ["doctor"])
    assert result.exit_code == 1
    assert "MISSING host ports     in use: 127.0.0.1:32100" in result.output
    assert "kind get clusters" in result.output
    fake_tools(monkeypatch, clusters="kafkalab\n")  # our own cluster holds them: it is reused
    monkeypatch.setattr(cli, "_port_free", lambda address, port: False)
    result = CliRunner().invoke(cli.main, ["doctor"])
    assert result.exit_code == 0 and "kind cluster kafkalab exists (reused)" in result.output


def test_port_free_binds_for_real():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        assert cli._port_free("127.0.0.1", s.getsockname()[1]) is False


def test_doctor_missing_tools_exit_1_with_hints(monkeypatch):
    fake_tools(monkeypatch, missing=("kind",), failing=("docker",))
    result = CliRunner().invoke(cli.main, ["doctor"])
    assert result.exit_code == 1
    assert "MISSING kind" in result.output and "go install sigs.k8s.io/kind@v0.31.0" in result.output
    assert "MISSING docker daemon" in result.output and "start Docker" in result.output
    assert "make hermetic-run" in result.output
    assert "Traceback" not in result.output


def test_doctor_survives_a_tool_that_cannot_run(monkeypatch):
    monkeypatch.setattr(cli.shutil, "which", lambda tool: f"/usr/bin/{tool}")

    def broken(cmd, **kw):
        raise PermissionError(13, "Permission denied", cmd[0])

    monkeypatch.setattr(cli.subprocess, "run", broken)
    result = CliRunner().invoke(cli.main, ["doctor"])
    assert result.exit_code == 1
    assert (
        "Permission denied" in result.output
        and result.exception is None
        or isinstance(result.exception, SystemExit)
    )


def test_doctor_hermetic_does_not_need_docker(monkeypatch):
    calls = fake_tools(monkeypatch, missing=("docker", "kind"))
    result = CliRunner().invoke(cli.main, ["doctor", "--hermetic"])
    assert result.exit_code == 0, result.output
    assert ["java", "-version"] in calls and not any(c[0] == "docker" for c in calls)


def test_up_without_docker_names_the_hermetic_way(monkeypatch):
    fake_tools(monkeypatch, missing=("docker",))
    result = CliRunner().invoke(cli.main, ["up"])
    assert result.exit_code == 1
    assert "make hermetic-up" in result.output and "make test" in result.output


@pytest.mark.parametrize(
    "text,expected",
    [
        ("message_count=100", ("message_count", 100)),
        ("teardown=true", ("teardown", True)),
        ("kube_context=None", ("kube_context", None)),
        ("namespace=team-a", ("namespace", "team-a")),
        ("ratio=0.5", ("ratio", 0.5)),
        ("note=a: b", ("note", "a: b")),
    ],
)
def test_parse_parameter(text, expected):
    assert cli.parse_parameter(text) == expected


def test_parse_parameter_rejects_no_equals():
    with pytest.raises(click.BadParameter):
        cli.parse_parameter("teardown")


def test_hermetic_parameters():
    default = cli.hermetic_parameters({})
    assert default["create_kind_cluster"] is False and default["kube_context"] is None
    assert default["strimzi_source"] == strimzi.RELEASE_URL  # downloaded once into the cache
    assert default["in_cluster_pods"] is False and default["timeout_s"] == 180
    url = "https://example.org/strimzi.yaml"
    assert cli.hermetic_parameters({"KAFKALAB_STRIMZI_SOURCE": url})["strimzi_source"] == url
    assert cli.hermetic_parameters({"KAFKALAB_STRIMZI_SOURCE": "/opt/s"})["strimzi_source"] == "/opt/s"


@pytest.fixture
def checkout(tmp_path, monkeypatch):
    """A directory with notebooks/ that `kafkalab run` picks up (it looks in the current directory)."""
    d = tmp_path / "notebooks"
    d.mkdir()
    write_nb(
        d / "00-params.ipynb",
        "print('create_kind_cluster', create_kind_cluster, 'count', message_count)",
        parameters="create_kind_cluster = True\nmessage_count = 1",
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("KAFKALAB_HERMETIC_DIR", str(tmp_path / "no-hermetic-dir"))
    return tmp_path


@pytest.fixture
def hermetic(checkout, monkeypatch):
    """The hermetic cluster's scripts faked at the subprocess edge: up.sh writes the env file as the real one
    does (or fails with exit code `up_rc`); every call is recorded."""
    state = {"up_rc": 0, "calls": []}
    run_dir = checkout / "no-hermetic-dir"

    def run(cmd, **kw):
        state["calls"].append(Path(cmd[-1]).name)
        if cmd[-1].endswith("up.sh") and state["up_rc"] == 0:
            run_dir.mkdir(exist_ok=True)
            (run_dir / "env").write_text(
                f"export KUBECONFIG={run_dir}/kubeconfig\nKAFKALAB_STRIMZI_SOURCE=/opt/strimzi\n"
            )
            (run_dir / "up.done").touch()
        return subprocess.CompletedProcess(cmd, state["up_rc"] if cmd[-1].endswith("up.sh") else 0)

    monkeypatch.setattr(tiers.subprocess, "run", run)
    monkeypatch.delenv("KAFKALAB_STRIMZI_SOURCE", raising=False)
    return state


def test_run_hermetic_starts_the_cluster_and_stops_it_after(checkout, hermetic, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", str(checkout / "someone-elses-kubeconfig"))  # never used by hermetic
    result = CliRunner().invoke(
        cli.main, ["run", "--tier", "hermetic", "-p", "message_count=7", "-o", "out/x"]
    )
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0].startswith("cluster: hermetic — requested")
    assert hermetic["calls"] == ["up.sh", "down.sh"]
    assert f"KUBECONFIG={checkout}/no-hermetic-dir/kubeconfig" in result.output
    assert (
        "create_kind_cluster = False" in result.output and "strimzi_source = '/opt/strimzi'" in result.output
    )
    assert "00-params.ipynb … passed" in result.output
    executed = (checkout / "out/x/00-params.ipynb").read_text()
    assert "create_kind_cluster False count 7" in executed
    assert "Cluster: hermetic — requested" in (checkout / "out/x/summary.md").read_text()


def test_run_hermetic_leaves_a_cluster_that_was_already_up(checkout, hermetic):
    run_dir = checkout / "no-hermetic-dir"
    run_dir.mkdir()
    (run_dir / "up.done").touch()
    result = CliRunner().invoke(cli.main, ["run", "--hermetic", "-o", "out/z"])
    assert result.exit_code == 0, result.output
    assert hermetic["calls"] == ["up.sh"]  # up.sh reused it; nobody stops it


def test_run_hermetic_that_cannot_start_says_so(checkout, hermetic):
    hermetic["up_rc"] = 1
    result = CliRunner().invoke(cli.main, ["run", "--tier", "hermetic", "-o", "out/none"])
    assert result.exit_code == 1
    assert "the built-in hermetic cluster did not start (up.sh exit code 1" in result.output
    assert not (checkout / "out/none").exists()


def test_run_on_the_current_context(checkout, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", str(checkout / "some-kubeconfig"))  # chosen by the caller
    result = CliRunner().invoke(cli.main, ["run", "--tier", "context", "-o", "out/x"])
    assert result.exit_code == 0, result.output
    assert (
        result.output.splitlines()[0] == "cluster: context — the current kube context; no cluster is created"
    )
    assert "create_kind_cluster False count 1" in (checkout / "out/x/00-params.ipynb").read_text()


def test_run_failure_exit_1(checkout):
    write_nb(
        checkout / "notebooks/01-fails.ipynb",
        "from kafkalab.errors import WaitTimeout\n"
        "raise WaitTimeout('Kafka k/c not Ready in 5s', obj='Kafka k/c', fix='read the events below')",
        parameters="",
    )
    result = CliRunner().invoke(cli.main, ["run", "--tier", "context", "-o", "out/y"])
    assert result.exit_code == 1
    # the whole error as the notebook shows it, not only its first line
    assert "01-fails.ipynb … failed" in result.output
    assert ": WaitTimeout: Kafka k/c not Ready in 5s\n      object: Kafka k/c\n" in result.output
    assert "      fix: read the events below" in result.output


def test_run_default_output_dir(checkout):
    result = CliRunner().invoke(cli.main, ["run", "--tier", "context"])
    assert result.exit_code == 0, result.output
    (run_dir,) = (checkout / "out").glob("run-*")
    assert (run_dir / "summary.md").exists()


def test_run_an_edition(checkout, monkeypatch):
    """--edition ja runs notebooks/ja (the same code, Japanese text), says so; a missing one fails first."""
    monkeypatch.setenv("KUBECONFIG", str(checkout / "some-kubeconfig"))
    (checkout / "notebooks/ja").mkdir()
    write_nb(
        checkout / "notebooks/ja/00-params.ipynb",
        "print('日本語版', create_kind_cluster)",
        parameters="create_kind_cluster = True",
    )
    result = CliRunner().invoke(cli.main, ["run", "--tier", "context", "--edition", "ja", "-o", "out/ja"])
    assert result.exit_code == 0, result.output
    assert "日本語版 False" in (checkout / "out/ja/00-params.ipynb").read_text()
    assert result.output.rstrip().endswith("all 1 notebooks passed (context, ja edition)")
    assert json.loads((checkout / "out/ja/summary.json").read_text())["edition"] == "ja"
    result = CliRunner().invoke(cli.main, ["run", "--tier", "kind", "--edition", "xx"])
    assert result.exit_code == 1 and "error: no 'xx' edition of the notebooks" in result.output
    assert "cluster:" not in result.output  # refused before any cluster is chosen


def test_library_error_is_a_message_not_a_traceback(checkout):
    result = CliRunner().invoke(cli.main, ["run", "--tier", "context", "-n", "77"])
    assert result.exit_code == 1
    assert "error: no notebook matches '77'" in result.output
    assert "fix: use a number like 05" in result.output
    assert "Traceback" not in result.output


def test_down_without_kind_never_touches_the_current_context(monkeypatch, tmp_path):
    calls = fake_tools(monkeypatch, missing=("kind",))
    result = CliRunner().invoke(cli.main, ["down"])
    assert result.exit_code == 0, result.output
    assert "no kind cluster named kafkalab: nothing to delete" in result.output
    assert not [c for c in calls if c[0] == "kubectl"]


def test_down_with_docker_stopped_says_it_could_not_check(monkeypatch):
    calls = fake_tools(monkeypatch, failing=("docker",))
    result = CliRunner().invoke(cli.main, ["down"])
    assert result.exit_code == 1
    assert "cannot check for kind cluster kafkalab: Docker is not running" in result.output
    assert "nothing to delete" not in result.output and "start Docker" in result.output
    assert not [c for c in calls if c[0] in ("kind", "kubectl")]


def test_down_keep_cluster_without_any_cluster(monkeypatch, tmp_path):
    monkeypatch.setattr(cli.shutil, "which", lambda tool: None)
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing-kubeconfig"))
    from kafkalab import kube

    kube.reset()
    result = CliRunner().invoke(cli.main, ["down", "--keep-cluster"])
    assert result.exit_code == 0, result.output
    assert "no cluster to clean up" in result.output


def test_up_passes_the_kind_config_and_node_image(monkeypatch, tmp_path):
    from kafkalab import kind
    from kafkalab.errors import KafkalabError

    fake_tools(monkeypatch)
    asked = {}

    def ensure_cluster(name, config=None, image=None, timeout=None):
        asked.update(name=name, config=config, image=image)
        raise KafkalabError("stop here", fix="(test)")

    monkeypatch.setattr(kind, "ensure_cluster", ensure_cluster)
    own = tmp_path / "kind.yaml"
    own.write_text("kind: Cluster\n")
    args = ["up", "--name", "lab", "--kind-config", str(own), "--node-image", "kindest/node:v1.34.0"]
    result = CliRunner().invoke(cli.main, args)
    assert result.exit_code == 1 and "stop here" in result.output
    assert asked == {"name": "lab", "config": str(own), "image": "kindest/node:v1.34.0"}


def test_hermetic_parameters_are_those_of_the_hermetic_parameter_file():
    import yaml

    tier_file = yaml.safe_load((cli.ROOT / "tests" / "notebooks" / "hermetic.yaml").read_text())
    ours = cli.hermetic_parameters({})
    assert "strimzi_source" not in tier_file  # from $KAFKALAB_STRIMZI_SOURCE or the cached release
    assert {k: v for k, v in ours.items() if k != "strimzi_source"} == {
        k: tier_file[k] for k in ours if k != "strimzi_source"
    }


def test_down_never_deletes_a_kind_cluster_kafkalab_did_not_create(monkeypatch, tmp_path):
    from kafkalab import kind, kube

    fake_tools(monkeypatch)
    monkeypatch.setattr(kind, "cluster_exists", lambda name: True)
    monkeypatch.setattr(kind, "is_ours", lambda name: False)
    monkeypatch.setattr(
        kind, "delete_cluster", lambda *a, **kw: pytest.fail("deleted someone's kind cluster")
    )
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing-kubeconfig"))
    kube.reset()
    result = CliRunner().invoke(cli.main, ["down"])
    assert result.exit_code == 0, result.output
    assert "kind cluster kafkalab was not created by kafkalab: it stays" in result.output
    assert "no cluster to clean up" in result.output  # then only kafkalab's objects in it would go


def test_down_deletes_the_kind_cluster_kafkalab_created(monkeypatch):
    from kafkalab import kind

    fake_tools(monkeypatch)
    deleted = []
    monkeypatch.setattr(kind, "cluster_exists", lambda name: True)
    monkeypatch.setattr(kind, "is_ours", lambda name: True)
    monkeypatch.setattr(kind, "delete_cluster", lambda name, **kw: deleted.append(name) or True)
    result = CliRunner().invoke(cli.main, ["down"])
    assert result.exit_code == 0, result.output
    assert deleted == ["kafkalab"] and "kafkalab made it" in result.output
