"""display: state summaries, line output, the widget/plain decision in real kernels, watch_pods' loop."""

from __future__ import annotations

import nbformat
import papermill
import pytest
from jupyter_client.manager import start_new_kernel

from kafkalab import display, kube


def kafka(conditions, **status):
    return {
        "kind": "Kafka",
        "metadata": {"name": "my-cluster", "namespace": "kafka"},
        "status": {"conditions": conditions, **status},
    }


def test_summarize_strimzi_and_deployment():
    creating = kafka(
        [{"type": "NotReady", "status": "True", "reason": "Creating", "message": "Kafka is being created"}]
    )
    assert display.summarize(creating) == ("NotReady (Creating)", "Kafka is being created")
    assert display.summarize(kafka([{"type": "Ready", "status": "True", "message": "ok"}])) == ("Ready", "")
    failed = kafka(
        [{"type": "Ready", "status": "False", "reason": "NotSupported", "message": "Decreasing partitions"}]
    )
    assert display.summarize(failed) == ("Ready=False (NotSupported)", "Decreasing partitions")
    deployment = {
        "kind": "Deployment",
        "status": {
            "replicas": 1,
            "conditions": [{"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable"}],
        },
    }
    assert display.summarize(deployment)[0] == "Available=False (MinimumReplicasUnavailable), 0/1 ready"
    rolled_out = {
        "kind": "Deployment",
        "status": {
            "replicas": 1,
            "readyReplicas": 1,
            "conditions": [
                {
                    "type": "Available",
                    "status": "True",
                    "reason": "MinimumReplicasAvailable",
                    "message": "has",
                },
                {
                    "type": "Progressing",
                    "status": "True",
                    "reason": "NewReplicaSetAvailable",
                    "message": "done",
                },
            ],
        },
    }
    assert display.summarize(rolled_out) == (
        "Available (MinimumReplicasAvailable), Progressing (NewReplicaSetAvailable), 1/1 ready",
        "",
    )
    assert display.summarize({"kind": "Kafka"}) == ("no status yet", "")


def test_progress_prints_one_line_per_change(capsys):
    cb = display.progress("Kafka kafka/my-cluster", widgets=False)
    cb(None)
    cb(None)
    creating = kafka([{"type": "NotReady", "status": "True", "reason": "Creating"}])
    cb(creating)
    cb(creating)
    cb(kafka([{"type": "Ready", "status": "True"}]))
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    assert lines[0].endswith("Kafka kafka/my-cluster: not created yet")
    assert lines[1].endswith("Kafka kafka/my-cluster: NotReady (Creating)")
    assert lines[2].endswith("Kafka kafka/my-cluster: Ready")
    assert lines[0].startswith("[")  # elapsed seconds first


def test_pod_state_like_kubectl():
    pod = {
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "kafka"}]},
        "status": {
            "phase": "Pending",
            "containerStatuses": [
                {"ready": False, "restartCount": 2, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}
            ],
        },
    }
    assert display.pod_state(pod) == ("0/1", "CrashLoopBackOff", 2)
    pod["status"] = {
        "phase": "Running",
        "containerStatuses": [{"ready": True, "restartCount": 0, "state": {}}],
    }
    assert display.pod_state(pod) == ("1/1", "Running", 0)
    pod["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    assert display.pod_state(pod)[1] == "Terminating"
    assert display.pod_state({"metadata": {}, "spec": {"containers": [{}]}, "status": {}}) == (
        "0/1",
        "Pending",
        0,
    )


def test_show_conditions_text(capsys):
    display.show_conditions(
        kafka([{"type": "Ready", "status": "True", "reason": "", "message": ""}]), widgets=False
    )
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Kafka kafka/my-cluster"
    assert out[1].split() == ["TYPE", "STATUS", "REASON", "MESSAGE"]
    assert out[2].split() == ["Ready", "True"]
    display.show_conditions({"kind": "KafkaTopic", "metadata": {"name": "t"}}, widgets=False)
    assert "no conditions yet" in capsys.readouterr().out


def test_use_widgets_env(monkeypatch):
    monkeypatch.setenv("KAFKALAB_DISPLAY", "widget")
    assert display.use_widgets()
    monkeypatch.setenv("KAFKALAB_DISPLAY", "plain")
    monkeypatch.setenv("JPY_SESSION_NAME", "/x.ipynb")
    assert not display.use_widgets()
    monkeypatch.delenv("KAFKALAB_DISPLAY")
    assert not display.use_widgets()  # JPY_SESSION_NAME but not in a kernel (plain pytest)


def _kernel_says(env: dict) -> str:
    km, kc = start_new_kernel(kernel_name="python3", env=env)
    try:
        reply = []
        kc.execute_interactive(
            "from kafkalab.display import use_widgets; print(use_widgets())",
            output_hook=lambda m: reply.append(m["content"].get("text", "")),
            timeout=60,
        )
        return "".join(reply).strip()
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


@pytest.mark.parametrize("session,expected", [("/home/me/notebooks/03.ipynb", "True"), (None, "False")])
def test_use_widgets_in_a_real_kernel(monkeypatch, session, expected):
    # A kernel started like jupyter_server starts it (JPY_SESSION_NAME in its env) renders widgets;
    # one started without it (as papermill/nbval do) prints lines.
    import os

    env = {k: v for k, v in os.environ.items() if k not in ("JPY_SESSION_NAME", "KAFKALAB_DISPLAY")}
    if session:
        env["JPY_SESSION_NAME"] = session
    assert _kernel_says(env) == expected


def test_papermill_kernel_prints_lines(tmp_path, monkeypatch):
    monkeypatch.setenv("JPY_SESSION_NAME", "/pretend/we/run/inside/jupyterlab.ipynb")
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "from kafkalab import display\n"
            "print('widgets:', display.use_widgets())\n"
            "display.progress('Kafka kafka/x')(None)"
        )
    ]
    src, out = tmp_path / "in.ipynb", tmp_path / "out.ipynb"
    nbformat.write(nb, src)
    # kafkalab.suite clears JPY_SESSION_NAME for its kernels; emulate that path through papermill itself
    from kafkalab.suite import _plain_display

    with _plain_display():
        papermill.execute_notebook(str(src), str(out), kernel_name="python3", progress_bar=False)
    text = "".join(o.get("text", "") for o in nbformat.read(out, 4).cells[0].outputs)
    assert "widgets: False" in text
    assert "Kafka kafka/x: not created yet" in text


class _Meta:
    def __init__(self, rv, name=None):
        self.resource_version, self.name = rv, name


class _Pod:
    def __init__(self, name):
        self.metadata = _Meta("1", name)


def _pod(name, phase, ready=False, rv="2"):
    return {
        "metadata": {"name": name, "resourceVersion": rv},
        "spec": {"containers": [{"name": "c"}]},
        "status": {"phase": phase, "containerStatuses": [{"ready": ready, "restartCount": 0, "state": {}}]},
    }


def test_watch_pods_ends_when_until_is_true(monkeypatch, capsys):
    events = [
        {"type": "ADDED", "raw_object": _pod("b", "Pending", rv="3")},
        {"type": "MODIFIED", "raw_object": _pod("a", "Running", True, rv="4")},
        {"type": "MODIFIED", "raw_object": _pod("b", "Running", True, rv="5")},
        {"type": "MODIFIED", "raw_object": _pod("b", "Running", True, rv="6")},  # never reached
    ]
    seen_kwargs = {}

    class FakeCore:
        def __init__(self, api_client):
            pass

        def list_namespaced_pod(self, namespace, **kw):
            class Listing:
                metadata = _Meta("2")
                items = [_Pod("a")]

            return Listing()

    class FakeWatch:
        def stream(self, fn, namespace, **kw):
            seen_kwargs.update(kw)
            yield from events

        def stop(self):
            pass

    class FakeApiClient:
        def sanitize_for_serialization(self, pod):
            return _pod(pod.metadata.name, "Pending")

    import kubernetes

    monkeypatch.setattr(kube, "api", lambda context=None: FakeApiClient())
    monkeypatch.setattr(kubernetes.client, "CoreV1Api", FakeCore)
    monkeypatch.setattr(kubernetes.watch, "Watch", FakeWatch)

    def all_running(pods):
        return len(pods) == 2 and all(p["status"]["phase"] == "Running" for p in pods)

    pods = display.watch_pods("kafka", "app=x", until=all_running, timeout=30, widgets=False)
    assert sorted(p["metadata"]["name"] for p in pods) == ["a", "b"]
    assert seen_kwargs["resource_version"] == "2" and seen_kwargs["label_selector"] == "app=x"
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("] ", 1)[1] for line in lines] == [
        "a  0/1  Pending  restarts=0",
        "b  0/1  Pending  restarts=0",
        "a  1/1  Running  restarts=0",
        "b  1/1  Running  restarts=0",
    ]


def _kernel_messages(env: dict, code: str) -> list[dict]:
    km, kc = start_new_kernel(kernel_name="python3", env=env)
    try:
        messages: list[dict] = []
        reply = kc.execute_interactive(code, output_hook=messages.append, timeout=60)
        assert reply["content"]["status"] == "ok", reply["content"]
        return messages
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def test_widget_table_updates_in_place_in_a_jupyterlab_kernel():
    import os

    env = {k: v for k, v in os.environ.items() if k != "KAFKALAB_DISPLAY"}
    env["JPY_SESSION_NAME"] = "/home/me/notebooks/03-kafka-cluster.ipynb"
    code = (
        "from kafkalab import display\n"
        "cb = display.progress('Kafka kafka/x')\n"
        "k = {'kind': 'Kafka', 'metadata': {'name': 'x', 'namespace': 'kafka'}}\n"
        "cb(None)\n"
        "c = {'type': 'NotReady', 'status': 'True', 'reason': 'Creating'}\n"
        "cb({**k, 'status': {'conditions': [c]}})\n"
        "cb({**k, 'status': {'conditions': [{'type': 'Ready', 'status': 'True'}]}})\n"
    )
    messages = _kernel_messages(env, code)
    shown = [m for m in messages if m["msg_type"] == "display_data"]
    assert len(shown) == 1  # one table, displayed once ...
    assert "application/vnd.jupyter.widget-view+json" in shown[0]["content"]["data"]
    assert not [m for m in messages if m["msg_type"] == "stream"]  # ... and no printed lines
    updates = [
        m["content"]["data"]["state"]["value"]
        for m in messages
        if m["msg_type"] == "comm_msg" and "value" in m["content"]["data"].get("state", {})
    ]
    assert "not created yet" in updates[0]
    assert "NotReady (Creating)" in updates[-2] and "<td style='text-align:left'>Ready</td>" in updates[-1]


# ---- kubectl: run for real, with a stand-in `kubectl` on PATH that echoes its arguments ----


@pytest.fixture
def fake_kubectl(tmp_path, monkeypatch):
    script = tmp_path / "kubectl"
    script.write_text(
        '#!/bin/sh\nif [ "$1" = "sleep" ]; then sleep 5; fi\necho "args: $*"\necho "to stderr" >&2\nexit 3\n'
    )
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")  # first: before a real kubectl
    return script


def node(kwok: bool) -> dict:
    return {"metadata": {"name": "n", "annotations": {"kwok.x-k8s.io/node": "fake"} if kwok else {}}}


def test_kubectl_prints_output_and_a_failing_exit_code(fake_kubectl, capsys):
    assert display.kubectl("get pods -n kafka -l 'a=b c'", context="kind-x") is None  # a cell echoes nothing
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "args: --context kind-x get pods -n kafka -l a=b c",
        "to stderr",
        "(kubectl exited with code 3)",
    ]
    display.kubectl("get pods")  # no context: kubectl's current one
    assert capsys.readouterr().out.startswith("args: get pods\n")


def test_kubectl_missing_is_one_line(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))
    display.kubectl("get pods")
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "kubectl is not installed" in out


def test_kubectl_is_bounded(fake_kubectl, capsys):
    display.kubectl("sleep", timeout=0.5)
    assert "did not finish within 0.5 s" in capsys.readouterr().out


@pytest.mark.parametrize(("nodes", "skipped"), [([node(True)], True), ([node(True), node(False)], False)])
def test_kubectl_logs_skipped_where_pods_run_no_containers(fake_kubectl, monkeypatch, capsys, nodes, skipped):
    monkeypatch.setattr(kube, "list_objects", lambda *a, **k: nodes)
    display.kubectl("logs my-pod -n kafka")
    out = capsys.readouterr().out
    assert ("pods run no containers" in out) is skipped and ("args: logs" in out) is not skipped
    display.kubectl("get pods")  # get/describe work on any cluster: the API server answers them
    assert "args: get pods" in capsys.readouterr().out
