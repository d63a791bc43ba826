"""display: state summaries, line output, the live/plain decision in real kernels, watch_pods' loop, and
the live tables: redrawn in place through a display id, their last state kept in the saved notebook."""

from __future__ import annotations

from pathlib import Path

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
    cb = display.progress("Kafka kafka/my-cluster", live=False)
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
        kafka([{"type": "Ready", "status": "True", "reason": "", "message": ""}]), live=False
    )
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Kafka kafka/my-cluster"
    assert out[1].split() == ["TYPE", "STATUS", "REASON", "MESSAGE"]
    assert out[2].split() == ["Ready", "True"]
    display.show_conditions({"kind": "KafkaTopic", "metadata": {"name": "t"}}, live=False)
    assert "no conditions yet" in capsys.readouterr().out


def test_is_live_env(monkeypatch):
    monkeypatch.setenv("KAFKALAB_DISPLAY", "live")
    assert display.is_live()
    monkeypatch.setenv("KAFKALAB_DISPLAY", "plain")
    monkeypatch.setenv("JPY_SESSION_NAME", "/x.ipynb")
    assert not display.is_live()
    monkeypatch.delenv("KAFKALAB_DISPLAY")
    assert not display.is_live()  # JPY_SESSION_NAME but not in a kernel (plain pytest)


def _kernel_env(**extra) -> dict:
    import os

    env = {k: v for k, v in os.environ.items() if k not in ("JPY_SESSION_NAME", "KAFKALAB_DISPLAY")}
    return {**env, **extra}


def _kernel_says(env: dict) -> str:
    km, kc = start_new_kernel(kernel_name="python3", env=env)
    try:
        reply = []
        kc.execute_interactive(
            "from kafkalab.display import is_live; print(is_live())",
            output_hook=lambda m: reply.append(m["content"].get("text", "")),
            timeout=60,
        )
        return "".join(reply).strip()
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


@pytest.mark.parametrize("session,expected", [("/home/me/notebooks/03.ipynb", "True"), (None, "False")])
def test_is_live_in_a_real_kernel(session, expected):
    # A kernel started like jupyter_server starts it (JPY_SESSION_NAME in its env) draws live tables;
    # one started without it (as papermill/nbval do) prints lines.
    env = _kernel_env(**({"JPY_SESSION_NAME": session} if session else {}))
    assert _kernel_says(env) == expected


def test_papermill_kernel_prints_lines(tmp_path, monkeypatch):
    monkeypatch.setenv("JPY_SESSION_NAME", "/pretend/we/run/inside/jupyterlab.ipynb")
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "from kafkalab import display\n"
            "print('live:', display.is_live())\n"
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
    assert "live: False" in text
    assert "Kafka kafka/x: not created yet" in text


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


READY = "{'type': 'Ready', 'status': 'True'}"
STORAGE = "{'type': 'Warning', 'status': 'True', 'reason': 'KafkaStorage', 'message': 'ephemeral'}"
WAIT_CELL = (
    "from kafkalab import display\n"
    "cb = display.progress('Kafka kafka/x')\n"
    "k = {'kind': 'Kafka', 'metadata': {'name': 'x', 'namespace': 'kafka'}}\n"
    "cb(None)\n"
    "cb({**k, 'status': {'conditions': [{'type': 'NotReady', 'status': 'True', 'reason': 'Creating'}]}})\n"
    f"ready = {{**k, 'status': {{'conditions': [{READY}, {STORAGE}]}}}}\n"
    "cb(ready)\n"
    "cb.finished(ready)  # what kube.wait_for does once ready(obj) is true\n"
    "display.show_conditions(ready)  # right after the wait: redraws its table, no second one\n"
)


def test_live_table_updates_in_place_in_a_jupyterlab_kernel():
    env = _kernel_env(JPY_SESSION_NAME="/home/me/notebooks/03-kafka-cluster.ipynb")
    messages = _kernel_messages(env, WAIT_CELL)
    shown = [m for m in messages if m["msg_type"] == "display_data"]
    assert len(shown) == 1  # one table, displayed once ...
    display_id = shown[0]["content"]["transient"]["display_id"]
    assert not [m for m in messages if m["msg_type"] in ("stream", "comm_open", "comm_msg")]  # no widgets
    updates = [m["content"] for m in messages if m["msg_type"] == "update_display_data"]
    assert {u["transient"]["display_id"] for u in updates} == {display_id}  # ... and redrawn in place
    assert "not created yet" in shown[0]["content"]["data"]["text/plain"]
    assert "Creating" in updates[0]["data"]["text/plain"]
    last = updates[-1]["data"]
    assert "KafkaStorage" in last["text/html"] and "— done" in last["text/plain"]


def test_render_pads_aligns_and_keeps_columns_stable():
    bundle = display.render(
        "pods in kafka", ["NAME", "READY"], [["a", "0/1"], ["long-name", "1/1"]], "elapsed: 3 s"
    )
    assert bundle["text/plain"].splitlines() == [
        "pods in kafka",
        "  NAME       READY",
        "  a          0/1",
        "  long-name  1/1",
        "elapsed: 3 s",
    ]
    assert "padding:" in bundle["text/html"] and "text-align:left" in bundle["text/html"]
    table = display._LiveTable("pods", ["NAME", "READY"], "no pods yet")
    table.show = lambda b: drawn.append(b)
    drawn: list[dict] = []
    table.rows = {"b-very-long-pod-name": ["b-very-long-pod-name", "0/1"], "a": ["a", "1/1"]}
    table.draw("x")
    del table.rows["b-very-long-pod-name"]
    table.draw("y")
    first, second = (b["text/plain"].splitlines() for b in drawn)
    assert first[2].startswith("  a  ") and first[3].startswith("  b-very")  # sorted by name
    assert len(second[1]) == len(first[1])  # the NAME column kept its width when the long row went
    assert "min-width:20ch" in drawn[1]["text/html"]
    table.rows = {}
    table.draw("z")
    assert "(no pods yet)" in drawn[-1]["text/plain"]


# A fake API server for watch_pods, usable in this process and in a kernel (the module is written to disk).
FAKE_PODS = """
import kubernetes
from kafkalab import kube


def pod(name, phase, ready=False, rv="2"):
    return {
        "metadata": {"name": name, "resourceVersion": rv},
        "spec": {"containers": [{"name": "c"}]},
        "status": {"phase": phase, "containerStatuses": [{"ready": ready, "restartCount": 0, "state": {}}]},
    }


EVENTS = [
    {"type": "ADDED", "raw_object": pod("b", "Pending", rv="3")},
    {"type": "MODIFIED", "raw_object": pod("a", "Running", True, rv="4")},
    {"type": "MODIFIED", "raw_object": pod("b", "Running", True, rv="5")},
    {"type": "MODIFIED", "raw_object": pod("b", "Running", True, rv="6")},  # never reached
]
SEEN = {}


class Meta:
    def __init__(self, rv, name=None):
        self.resource_version, self.name = rv, name


class Listed:
    def __init__(self, name):
        self.metadata = Meta("1", name)


class Core:
    def __init__(self, api_client):
        pass

    def list_namespaced_pod(self, namespace, **kw):
        class Listing:
            metadata = Meta("2")
            items = [Listed("a")]

        return Listing()


class Watch:
    def stream(self, fn, namespace, **kw):
        SEEN.update(kw)
        yield from EVENTS

    def stop(self):
        pass


class ApiClient:
    def sanitize_for_serialization(self, p):
        return pod(p.metadata.name, "Pending")


def patch(setattr_=setattr):
    setattr_(kube, "api", lambda context=None: ApiClient())
    setattr_(kubernetes.client, "CoreV1Api", Core)
    setattr_(kubernetes.watch, "Watch", Watch)


def all_running(pods):
    return len(pods) == 2 and all(p["status"]["phase"] == "Running" for p in pods)
"""


@pytest.fixture
def fake_pods(tmp_path, monkeypatch):
    (tmp_path / "fake_pods.py").write_text(FAKE_PODS)
    monkeypatch.syspath_prepend(str(tmp_path))
    import fake_pods

    fake_pods.patch(monkeypatch.setattr)
    return fake_pods


def test_watch_pods_ends_when_until_is_true(fake_pods, capsys):
    pods = display.watch_pods("kafka", "app=x", until=fake_pods.all_running, timeout=30, live=False)
    assert sorted(p["metadata"]["name"] for p in pods) == ["a", "b"]
    assert fake_pods.SEEN["resource_version"] == "2" and fake_pods.SEEN["label_selector"] == "app=x"
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("] ", 1)[1] for line in lines] == [
        "a  0/1  Pending  restarts=0",
        "b  0/1  Pending  restarts=0",
        "a  1/1  Running  restarts=0",
        "b  1/1  Running  restarts=0",
    ]


def _run_live(tmp_path, cells: list[str]) -> Path:
    """Execute cells with papermill in a kernel that draws live tables, as JupyterLab's would; return the
    saved notebook's path. nbclient applies each update_display_data to the stored output, as JupyterLab
    does before it saves."""
    import os

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    src, out = tmp_path / "in.ipynb", tmp_path / "out.ipynb"
    nbformat.write(nb, src)
    saved = os.environ.get("KAFKALAB_DISPLAY")
    os.environ["KAFKALAB_DISPLAY"] = "live"  # papermill's kernel inherits it
    try:
        papermill.execute_notebook(
            str(src), str(out), kernel_name="python3", progress_bar=False, cwd=str(tmp_path)
        )
    finally:
        if saved is None:
            os.environ.pop("KAFKALAB_DISPLAY")
        else:
            os.environ["KAFKALAB_DISPLAY"] = saved
    return out


def test_saved_notebook_keeps_each_live_tables_last_state(tmp_path):
    (tmp_path / "fake_pods.py").write_text(FAKE_PODS)
    already = {
        "kind": "Deployment",
        "metadata": {"name": "op", "namespace": "strimzi"},
        "status": {
            "replicas": 1,
            "readyReplicas": 1,
            "conditions": [{"type": "Available", "status": "True"}],
        },
    }
    out = _run_live(
        tmp_path,
        [
            WAIT_CELL,
            f"cb = display.progress('Deployment strimzi/op')\ncb({already!r})\ncb.finished({already!r})",
            "import fake_pods\nfake_pods.patch()\n"
            "pods = display.watch_pods('kafka', 'app=x', until=fake_pods.all_running, timeout=30)",
        ],
    )
    # A restart or reopening the notebook sees only what was saved: read it back from disk.
    saved = nbformat.read(out, as_version=4)
    nbformat.validate(saved)
    wait, operator, pods = (c.outputs for c in saved.cells[-3:])
    for outputs in (wait, operator, pods):
        assert [o.output_type for o in outputs] == ["display_data"]  # one output per wait, nothing else
        assert set(outputs[0].data) == {"text/html", "text/plain"}  # no widget reference
    assert "Warning" in wait[0].data["text/plain"] and "KafkaStorage" in wait[0].data["text/html"]
    assert "Creating" not in wait[0].data["text/plain"]  # the last state, not the first
    assert operator[0].data["text/plain"].startswith("Deployment strimzi/op: already there")
    assert "<table" not in operator[0].data["text/html"]  # an operator that was already there: one line
    text = pods[0].data["text/plain"].splitlines()
    assert [line.split() for line in text[2:4]] == [
        ["a", "1/1", "Running", "0"],
        ["b", "1/1", "Running", "0"],
    ]
    assert text[-1].startswith("elapsed:") and text[-1].endswith("— done")
    assert "<td" in pods[0].data["text/html"]


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
