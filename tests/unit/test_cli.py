"""The kafkalab command: fakes only at the edge (which tools exist, what they answer)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import click
import nbformat
import pytest
from click.testing import CliRunner

from kafkalab import cli


def write_nb(path, *sources, parameters):
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell(parameters)
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, *(nbformat.v4.new_code_cell(s) for s in sources)]
    nbformat.write(nb, path)


def fake_tools(monkeypatch, missing=(), failing=()):
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
            return subprocess.CompletedProcess(cmd, 0, f"28.2.2 {16 * 2**30}", "")
        return subprocess.CompletedProcess(cmd, 0, f"{cmd[0]} version 1.2.3\nmore", "")

    monkeypatch.setattr(cli.subprocess, "run", run)
    return calls


def test_doctor_all_present(monkeypatch):
    fake_tools(monkeypatch)
    result = CliRunner().invoke(cli.main, ["doctor"])
    assert result.exit_code == 0, result.output
    assert "All required tools found" in result.output
    assert "kind version 1.2.3" in result.output
    assert "daemon 28.2.2, 16.0 GiB for containers" in result.output


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
    assert default["strimzi_source"] == str((cli.ROOT / cli.DEFAULT_STRIMZI_LOCAL).resolve())
    assert Path(default["strimzi_source"]).is_absolute()
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


def test_run_hermetic_without_the_cluster_says_so(checkout):
    result = CliRunner().invoke(cli.main, ["run", "--hermetic", "-o", "out/none"])
    assert result.exit_code == 1
    assert "the hermetic cluster is not up" in result.output and "make hermetic-up" in result.output
    assert not (checkout / "out/none").exists()


def test_run_hermetic_with_parameters(checkout, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", str(checkout / "some-kubeconfig"))  # chosen by the caller
    result = CliRunner().invoke(cli.main, ["run", "--hermetic", "-p", "message_count=7", "-o", "out/x"])
    assert result.exit_code == 0, result.output
    assert "create_kind_cluster = False" in result.output
    assert "00-params.ipynb … passed" in result.output
    executed = (checkout / "out/x/00-params.ipynb").read_text()
    assert "create_kind_cluster False count 7" in executed
    assert (checkout / "out/x/summary.json").exists()


def test_run_failure_exit_1(checkout):
    write_nb(checkout / "notebooks/01-fails.ipynb", "1/0", parameters="")
    result = CliRunner().invoke(cli.main, ["run", "-o", "out/y"])
    assert result.exit_code == 1
    assert "01-fails.ipynb … failed" in result.output and "ZeroDivisionError" in result.output


def test_run_default_output_dir(checkout):
    result = CliRunner().invoke(cli.main, ["run"])
    assert result.exit_code == 0, result.output
    (run_dir,) = (checkout / "out").glob("run-*")
    assert (run_dir / "summary.md").exists()


def test_library_error_is_a_message_not_a_traceback(checkout):
    result = CliRunner().invoke(cli.main, ["run", "-n", "77"])
    assert result.exit_code == 1
    assert "error: no notebook matches '77'" in result.output
    assert "fix: use a number like 05" in result.output
    assert "Traceback" not in result.output


def test_run_hermetic_reads_the_env_file(checkout, monkeypatch):
    run_dir = checkout / "no-hermetic-dir"
    run_dir.mkdir()
    (run_dir / "env").write_text(
        f"export KUBECONFIG={run_dir}/kubeconfig\nKAFKALAB_STRIMZI_SOURCE=/opt/strimzi\n"
    )
    monkeypatch.delenv("KAFKALAB_STRIMZI_SOURCE", raising=False)
    result = CliRunner().invoke(cli.main, ["run", "--hermetic", "-o", "out/z"])
    assert result.exit_code == 0, result.output
    assert f"KUBECONFIG={run_dir}/kubeconfig" in result.output
    assert "strimzi_source = '/opt/strimzi'" in result.output


def test_down_without_kind_never_touches_the_current_context(monkeypatch, tmp_path):
    calls = fake_tools(monkeypatch, missing=("kind",))
    result = CliRunner().invoke(cli.main, ["down"])
    assert result.exit_code == 0, result.output
    assert "no kind cluster named kafkalab: nothing to delete" in result.output
    assert not [c for c in calls if c[0] == "kubectl"]


def test_down_keep_cluster_without_any_cluster(monkeypatch, tmp_path):
    monkeypatch.setattr(cli.shutil, "which", lambda tool: None)
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing-kubeconfig"))
    from kafkalab import kube

    kube.reset()
    result = CliRunner().invoke(cli.main, ["down", "--keep-cluster"])
    assert result.exit_code == 0, result.output
    assert "no cluster to clean up" in result.output


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
