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
