"""kube helpers that need no cluster: YAML loading, naming, conditions, and errors before any request."""

from __future__ import annotations

import textwrap

import pytest

from kafkalab import kube
from kafkalab.errors import ClusterUnreachable, NotFound

TWO_DOCS = textwrap.dedent(
    """\
    apiVersion: v1
    kind: ConfigMap
    metadata: {name: a}
    ---
    # an empty document is skipped
    ---
    apiVersion: v1
    kind: List
    items:
      - {apiVersion: v1, kind: ConfigMap, metadata: {name: b}}
      - {apiVersion: v1, kind: ConfigMap, metadata: {name: c}}
    """
)


def test_load_yaml_from_text_and_file(tmp_path):
    f = tmp_path / "x.yaml"
    f.write_text(TWO_DOCS)
    for source in (TWO_DOCS, f, str(f)):
        assert [o["metadata"]["name"] for o in kube.load_yaml(source)] == ["a", "b", "c"]


def test_load_yaml_of_a_missing_file_says_so():
    with pytest.raises(NotFound, match="not a Kubernetes object: 'nope.yaml'"):
        kube.load_yaml("nope.yaml")


def test_describe():
    assert (
        kube.describe({"kind": "Kafka", "metadata": {"name": "c", "namespace": "kafka"}}) == "Kafka kafka/c"
    )
    assert kube.describe({"kind": "Namespace", "metadata": {"name": "kafka"}}) == "Namespace kafka"


def test_conditions_and_is_current():
    obj = {
        "metadata": {"generation": 2},
        "status": {"observedGeneration": 1, "conditions": [{"type": "Ready", "status": "True"}]},
    }
    assert kube.condition(obj, "Ready") == {"type": "Ready", "status": "True"}
    assert kube.condition(obj, "NotReady") is None
    assert kube.conditions({}) == [] and kube.conditions(None) == []
    assert not kube.is_current(obj)  # Ready, but for the spec before the last change
    obj["status"]["observedGeneration"] = 2
    assert kube.is_current(obj)
    assert kube.is_current({"metadata": {"generation": 1}, "status": {}})  # kinds without observedGeneration


KUBECONFIG = textwrap.dedent(
    """\
    apiVersion: v1
    kind: Config
    current-context: dead
    contexts:
      - name: dead
        context: {cluster: dead, user: u, namespace: kafka}
    clusters:
      - name: dead
        cluster: {server: "https://127.0.0.1:1"}
    users:
      - name: u
        user: {token: not-a-real-token}
    """
)


@pytest.fixture
def dead_cluster(tmp_path, monkeypatch):
    path = tmp_path / "kubeconfig"
    path.write_text(KUBECONFIG)
    monkeypatch.setenv("KUBECONFIG", str(path))
    kube.reset()
    yield path
    kube.reset()


def test_config_is_read_lazily_from_kubeconfig_at_call_time(dead_cluster):
    assert kube.current_context() == "dead"
    assert kube.api().configuration.host == "https://127.0.0.1:1"


def test_unreachable_server_names_the_context_and_the_fix(dead_cluster):
    with pytest.raises(ClusterUnreachable) as e:
        kube.check_cluster()
    assert e.value.context == "dead"
    assert "cannot reach the Kubernetes API server of context dead at https://127.0.0.1:1" in str(e.value)
    assert "kind get clusters" in e.value.fix and "make hermetic-up" in e.value.fix


def test_unknown_context_is_cluster_unreachable(dead_cluster):
    with pytest.raises(ClusterUnreachable, match="context nope") as e:
        kube.get("v1", "Namespace", "default", context="nope")
    assert "kubectl config get-contexts" in e.value.fix


def test_missing_kubeconfig_is_cluster_unreachable(tmp_path, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "absent"))
    kube.reset()
    with pytest.raises(ClusterUnreachable, match="cannot load kube config"):
        kube.api()
    kube.reset()


class FakeApi:
    """The API server's side of list-then-watch for one ConfigMap (the edge kube.wait_for talks to).

    `watches` is a list of scripted watch streams: each is an exception to raise, or a list of events."""

    class Response:
        def __init__(self, data: dict):
            import json

            self.data = json.dumps(data).encode()

    def __init__(self, watches):
        self.watches = list(watches)
        self.lists = 0
        self.watched_from = []

    def get(self, res, namespace=None, field_selector=None, serialize=True, _request_timeout=None, **kw):
        self.lists += 1
        item = {
            "metadata": {"name": "cm", "namespace": namespace, "resourceVersion": "10"},
            "data": {"v": "0"},
        }
        return self.Response({"metadata": {"resourceVersion": "10"}, "items": [item]})

    def watch(
        self, res, namespace=None, field_selector=None, resource_version=None, timeout=None, watcher=None
    ):
        assert timeout and timeout >= 1 and field_selector == "metadata.name=cm"
        self.watched_from.append(resource_version)
        script = self.watches.pop(0)
        if isinstance(script, Exception):
            raise script
        yield from script


class FakeResource:
    namespaced = True
    group_version = "v1"
    kind = "ConfigMap"


def event(kind: str, version: str, value: str) -> dict:
    obj = {"metadata": {"name": "cm", "resourceVersion": version}, "data": {"v": value}}
    return {"type": kind, "raw_object": obj}


@pytest.fixture
def fake_api(monkeypatch):
    def install(watches):
        api = FakeApi(watches)
        monkeypatch.setattr(kube, "_dynamic", lambda context: api)
        monkeypatch.setattr(kube, "_resource", lambda *a: FakeResource())
        return api

    return install


def test_wait_lists_again_after_410_gone_and_carries_on(fake_api):
    from kubernetes.client.rest import ApiException

    gone = ApiException(status=410, reason="Expired: too old resource version")
    api = fake_api([gone, [event("MODIFIED", "12", "1")]])
    seen = []
    obj = kube.wait_for(
        "v1", "ConfigMap", "cm", "ns", ready=lambda o: o["data"]["v"] == "1", timeout=10, progress=seen.append
    )
    assert obj["data"] == {"v": "1"} and obj["kind"] == "ConfigMap"
    # listed again, watched from the new list (a stream may start one more watch before it sees the end)
    assert api.lists == 2 and api.watched_from[:2] == ["10", "10"]
    assert [s["data"]["v"] for s in seen] == ["0", "0", "1"]


def test_wait_tells_a_progress_object_when_it_succeeded(fake_api):
    fake_api([[event("MODIFIED", "11", "1")]])

    class Progress(list):
        def __call__(self, obj):
            self.append(("state", obj["data"]["v"]))

        def finished(self, obj):
            self.append(("finished", obj["data"]["v"]))

    seen = Progress()
    kube.wait_for(
        "v1", "ConfigMap", "cm", "ns", ready=lambda o: o["data"]["v"] == "1", timeout=10, progress=seen
    )
    assert seen == [("state", "0"), ("state", "1"), ("finished", "1")]


def test_delete_waits_through_ended_watches_until_the_object_is_gone(fake_api):
    # the first watch ends (server timeout) after one change; the second sees a bookmark, then the delete
    api = fake_api(
        [[event("MODIFIED", "11", "0")], [event("BOOKMARK", "15", "0"), event("DELETED", "16", "0")]]
    )
    api.delete = lambda res, name=None, namespace=None, **kw: None
    ref = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm", "namespace": "ns"}}
    assert kube.delete(ref, timeout=10) == ["ConfigMap ns/cm"]
    assert api.watched_from[:2] == ["10", "11"]  # re-watched from the last version seen, not from scratch
    assert api.watches == []
