"""kafkalab.kube and kafkalab.strimzi against the hermetic cluster's real API server (real CRD schemas,
real watches, real Deployments rolled out by KWOK), and against the Strimzi stand-in where a status has
to come from an operator."""

from __future__ import annotations

import os
import threading
import time
import uuid
from pathlib import Path

import pytest
import yaml
from kubernetes import client

from kafkalab import kube, strimzi
from kafkalab.errors import ClusterUnreachable, ManifestRejected, NotFound, ResourceFailed, WaitTimeout

pytestmark = pytest.mark.hermetic

ROOT = Path(__file__).resolve().parents[2]
INSTALL = Path(
    os.environ.get("KAFKALAB_STRIMZI_SOURCE")
    or ROOT.parent / "shared" / "strimzi" / "1.2.0" / "install" / "cluster-operator"
)
RESOURCE_MANIFESTS = sorted(
    p.name for p in strimzi.manifests_dir().glob("*.yaml") if p.name != "kind-config.yaml"
)


@pytest.fixture(scope="module", autouse=True)
def library(kubeconfig):
    """The library reads KUBECONFIG on first use; the conftest fixture has just pointed it at the cluster."""
    kube.reset()
    yield
    kube.reset()


def fresh(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="module")
def namespace():
    """A namespace no Strimzi operator watches: statuses there change only when a test writes them.
    One for the module (a namespace takes seconds to delete); every test uses its own object names."""
    name = fresh("lib")
    kube.ensure_namespace(name)
    yield name
    kube.delete_namespace(name, timeout=120)


def later(seconds: float, fn, *args):
    """Run fn(*args) on a thread after `seconds` (the test's stand-in for a controller doing its work)."""
    t = threading.Timer(seconds, fn, args)
    t.start()
    return t


def set_status(kind_plural: str, name: str, namespace: str, status: dict):
    """Write a custom resource's status subresource, as an operator does."""
    obj = kube.get(
        strimzi.API_VERSION, {"kafkas": "Kafka", "kafkatopics": "KafkaTopic"}[kind_plural], name, namespace
    )
    status = {"observedGeneration": obj["metadata"]["generation"], **status}
    client.CustomObjectsApi(kube.api()).patch_namespaced_custom_object_status(
        "kafka.strimzi.io", "v1", namespace, kind_plural, name, {"status": status}
    )


def configmap(name: str, namespace: str, **data) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace},
        "data": data,
    }


# ---- reaching the cluster ------------------------------------------------------------------------------


def test_check_cluster_and_context():
    assert kube.check_cluster().startswith("v1.")
    assert kube.current_context() == "kafkalab-hermetic"


def test_wrong_context_is_cluster_unreachable():
    with pytest.raises(ClusterUnreachable, match="context no-such-context") as e:
        kube.get("v1", "Namespace", "default", context="no-such-context")
    assert "kubectl config get-contexts" in e.value.fix


def test_server_that_is_down_is_cluster_unreachable(kubeconfig, tmp_path, monkeypatch):
    cfg = yaml.safe_load(kubeconfig.read_text())
    with socket_bound() as port:  # a port nobody answers on
        for cluster in cfg["clusters"]:
            cluster["cluster"]["server"] = f"https://127.0.0.1:{port}"
        (tmp_path / "kubeconfig").write_text(yaml.safe_dump(cfg))
        monkeypatch.setenv("KUBECONFIG", str(tmp_path / "kubeconfig"))
        kube.reset()
        with pytest.raises(ClusterUnreachable) as e:
            kube.list_objects("v1", "Namespace")
    assert e.value.context == "kafkalab-hermetic"
    assert f"127.0.0.1:{port}" in str(e.value) and "make hermetic-up" in e.value.fix
    monkeypatch.undo()
    kube.reset()


class socket_bound:
    """A 127.0.0.1 port that is bound but not listening, so connecting to it is refused."""

    def __enter__(self) -> int:
        import socket

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        return self.sock.getsockname()[1]

    def __exit__(self, *exc):
        self.sock.close()


# ---- manifests against Strimzi 1.2.0's CRD schemas -------------------------------------------------------


@pytest.mark.parametrize("file", RESOURCE_MANIFESTS)
def test_every_manifest_is_accepted_by_the_crd_schemas(file, namespace):
    objs = strimzi.load_manifest(file, namespace=namespace)
    stored = kube.apply(objs, dry_run=True)
    assert [kube.describe(o) for o in stored] == [kube.describe(o) for o in objs]
    # the server kept what we sent (a field the schema does not know would have been pruned)
    for sent, back in zip(objs, stored, strict=True):
        assert back["spec"] == sent["spec"]
    for obj in objs:  # a dry run stores nothing
        assert kube.get(obj["apiVersion"], obj["kind"], obj["metadata"]["name"], namespace) is None


def test_builders_are_accepted_too(namespace):
    objs = [
        strimzi.node_pool("pool", "b", replicas=3, namespace=namespace),
        strimzi.kafka("b", namespace, replicas=3, authentication="scram-sha-512", authorization="simple"),
        strimzi.topic("t", "b", config={"retention.ms": 1000}, namespace=namespace),
        strimzi.user("u", "b", acls=[strimzi.acl("topic", "t", ["Read"])], namespace=namespace),
    ]
    assert len(kube.apply(objs, dry_run=True)) == 4


@pytest.mark.parametrize(
    "field, value, says",
    [
        ("type", "elastic", 'spec.kafka.listeners[0].type: Unsupported value: "elastic"'),
        ("port", "nine", ".spec.kafka.listeners[0].port: expected numeric"),
    ],
)
def test_schema_invalid_kafka_is_rejected_naming_the_object(namespace, field, value, says):
    bad = strimzi.kafka("broken", namespace)
    bad["spec"]["kafka"]["listeners"][0][field] = value
    with pytest.raises(ManifestRejected) as e:
        kube.apply(bad)
    assert e.value.obj == f"Kafka {namespace}/broken"
    assert says in e.value.server_message and says in str(e.value)
    assert "kubectl explain kafka.spec" in e.value.fix
    assert kube.get(strimzi.API_VERSION, "Kafka", "broken", namespace) is None


def test_a_rejected_apply_leaves_nothing_half_made(namespace):
    kube.apply(configmap("was-here", namespace, keep="yes"))
    bad = strimzi.kafka("broken", namespace)
    bad["spec"]["kafka"]["listeners"] = "not a list"
    objs = [
        configmap("was-here", namespace, keep="yes"),
        configmap("new-one", namespace),
        strimzi.topic("new-topic", "c", namespace=namespace),
        bad,
        configmap("after", namespace),
    ]
    with pytest.raises(ManifestRejected) as e:
        kube.apply(objs)
    assert "removed what this apply had created: ConfigMap" in str(e.value)
    assert kube.get("v1", "ConfigMap", "new-one", namespace) is None
    assert kube.get(strimzi.API_VERSION, "KafkaTopic", "new-topic", namespace) is None
    assert kube.get("v1", "ConfigMap", "after", namespace) is None  # never reached
    assert kube.get("v1", "ConfigMap", "was-here", namespace)["data"] == {"keep": "yes"}  # not ours to delete


def test_an_unknown_kind_stops_the_apply_before_anything_is_created(namespace):
    old = {"apiVersion": "kafka.strimzi.io/v1beta2", "kind": "Kafka", "metadata": {"name": "x"}, "spec": {}}
    with pytest.raises(NotFound, match="does not serve kind Kafka in apiVersion kafka.strimzi.io/v1beta2"):
        kube.apply([configmap("first", namespace), old], namespace=namespace)
    assert kube.get("v1", "ConfigMap", "first", namespace) is None


def test_apply_get_list_delete(namespace):
    (stored,) = kube.apply(configmap("cm", namespace, a="1"))
    assert stored["metadata"]["managedFields"][0]["manager"] == "kafkalab"
    kube.apply(configmap("cm", namespace, a="2"))  # apply again: an update, not a conflict
    assert kube.get("v1", "ConfigMap", "cm", namespace)["data"] == {"a": "2"}
    assert "cm" in [o["metadata"]["name"] for o in kube.list_objects("v1", "ConfigMap", namespace)]
    assert kube.delete(stored) == [f"ConfigMap {namespace}/cm"]
    assert kube.get("v1", "ConfigMap", "cm", namespace) is None
    assert kube.delete(stored) == []  # already gone: nothing to do
    unserved = {"apiVersion": "kafka.strimzi.io/v1beta2", "kind": "Kafka", "metadata": {"name": "x"}}
    assert kube.delete(unserved, namespace=namespace) == []  # no such kind: nothing of it can exist


# ---- watch-based waits ------------------------------------------------------------------------------


def test_wait_returns_as_soon_as_the_change_arrives(namespace):
    kube.apply(configmap("flag", namespace, state="starting"))
    later(1.5, kube.apply, configmap("flag", namespace, state="done"))
    seen = []
    start = time.monotonic()
    obj = kube.wait_for(
        "v1",
        "ConfigMap",
        "flag",
        namespace,
        ready=lambda o: o["data"]["state"] == "done",
        timeout=60,
        progress=seen.append,
    )
    took = time.monotonic() - start
    assert obj["data"]["state"] == "done"
    assert 1.4 < took < 4, f"a watch delivers the change at once; took {took:.1f}s"
    assert [s["data"]["state"] for s in seen] == ["starting", "done"]


def test_wait_for_an_object_that_does_not_exist_yet(namespace):
    later(1, kube.apply, configmap("late", namespace))
    seen = []
    obj = kube.wait_for(
        "v1", "ConfigMap", "late", namespace, ready=lambda o: True, timeout=30, progress=seen.append
    )
    assert obj["metadata"]["name"] == "late" and seen[0] is None


def test_wait_fails_fast_when_the_operator_reports_a_failure(namespace):
    kube.apply(strimzi.kafka("no-pools", namespace))
    set_status(
        "kafkas",
        "no-pools",
        namespace,
        {"conditions": [{"type": "NotReady", "status": "True", "reason": "Creating"}]},
    )
    failure = {
        "type": "NotReady",
        "status": "True",
        "reason": "InvalidResourceException",
        "message": "No KafkaNodePools found for Kafka cluster no-pools",
    }
    later(1, set_status, "kafkas", "no-pools", namespace, {"conditions": [failure]})
    start = time.monotonic()
    with pytest.raises(ResourceFailed) as e:
        strimzi.wait_kafka_ready("no-pools", namespace, timeout=60)
    assert time.monotonic() - start < 5
    assert (e.value.reason, e.value.message) == ("InvalidResourceException", failure["message"])
    assert e.value.obj == f"Kafka {namespace}/no-pools" and "No KafkaNodePools found" in str(e.value)


def test_kafka_ready_and_bootstrap_servers_from_status(namespace):
    kube.apply(strimzi.load_manifest("kafka-single-node.yaml", cluster="c1", namespace=namespace))
    listeners = [
        {"name": "plain", "bootstrapServers": "c1-kafka-bootstrap.x.svc:9092"},
        {"name": "external", "bootstrapServers": "localhost:32100"},
    ]
    later(
        1,
        set_status,
        "kafkas",
        "c1",
        namespace,
        {"conditions": [{"type": "Ready", "status": "True"}], "listeners": listeners},
    )
    obj = strimzi.wait_kafka_ready("c1", namespace, timeout=30)
    assert kube.condition(obj, "Ready")["status"] == "True"
    assert strimzi.bootstrap_servers("c1", namespace) == "localhost:32100"
    with pytest.raises(NotFound, match="its listeners are: plain, external"):
        strimzi.bootstrap_servers("c1", namespace, "tls")


def test_topic_refusal_fails_fast(namespace):
    kube.apply(strimzi.topic("shrink", "c1", namespace=namespace))
    refused = {
        "type": "Ready",
        "status": "False",
        "reason": "NotSupported",
        "message": "Decreasing partitions not supported",
    }
    later(1, set_status, "kafkatopics", "shrink", namespace, {"conditions": [refused]})
    with pytest.raises(ResourceFailed, match="NotSupported: Decreasing partitions not supported"):
        strimzi.wait_topic_ready("shrink", namespace, timeout=30)


def test_topic_without_cluster_label_is_reported_at_once(namespace):
    unlabelled = strimzi.topic("orphan", "c1", namespace=namespace)
    del unlabelled["metadata"]["labels"]
    kube.apply(unlabelled)
    with pytest.raises(ResourceFailed, match="no strimzi.io/cluster label"):
        strimzi.wait_topic_ready("orphan", namespace, timeout=30)


def test_timeout_carries_a_diagnosis(namespace):
    objs = strimzi.load_manifest("kafka-single-node.yaml", cluster="lonely", namespace=namespace)
    for obj in objs:  # c1 (an earlier test) has dual-role in this namespace: pool names are per namespace
        if obj["kind"] == "KafkaNodePool":
            obj["metadata"]["name"] = "lonely-dual-role"
    kube.apply(objs)
    start = time.monotonic()
    with pytest.raises(WaitTimeout) as e:
        strimzi.wait_kafka_ready("lonely", namespace, timeout=2)
    assert 2 <= time.monotonic() - start < 6
    d = e.value.diagnosis
    assert d.obj == f"Kafka {namespace}/lonely" and d.conditions == []
    assert f"no pods match strimzi.io/cluster=lonely in {namespace}" in d.notes
    assert "diagnosis of Kafka" in str(e.value)


def test_rollout_timeout_shows_pod_events_and_missing_logs(namespace):
    labels = {"app": "stuck"}
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "stuck", "namespace": namespace},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "nodeSelector": {"no-such-node": "true"},  # never schedulable: stays Pending
                    "containers": [{"name": "main", "image": "example.invalid/never-pulled:1"}],
                },
            },
        },
    }
    kube.apply(deployment)
    with pytest.raises(WaitTimeout) as e:
        kube.wait_for_rollout("stuck", namespace, timeout=4)
    d = e.value.diagnosis
    text = str(e.value)
    assert any("FailedScheduling" in line for line in d.events), text
    assert any(
        n.startswith("logs unavailable for stuck-") and "not started (pod Pending)" in n for n in d.notes
    ), text
    assert "ScalingReplicaSet" in text or d.events  # the Deployment's own events or its pod's


def test_delete_waits_until_gone_and_namespaces_are_idempotent():
    name = fresh("lib-ns")
    first = kube.ensure_namespace(name)
    assert kube.ensure_namespace(name)["metadata"]["uid"] == first["metadata"]["uid"]
    kube.apply(configmap("inside", name))
    kube.delete_namespace(name, timeout=120)
    assert kube.get("v1", "Namespace", name) is None


# ---- the operator install ---------------------------------------------------------------------------


@pytest.fixture
def operator_namespaces():
    op, watched = fresh("lib-op"), fresh("lib-kafka")
    yield op, watched
    strimzi.uninstall_operator(op, [watched])
    kube.delete_namespace(watched, timeout=120)
    kube.delete_namespace(op, timeout=120)


def test_install_operator_from_the_shared_dir_rolls_out(operator_namespaces):
    op, watched = operator_namespaces
    progress = []
    dep = strimzi.install_operator(op, [watched], source=INSTALL, timeout=120, progress=progress.append)
    assert dep["status"]["availableReplicas"] == 1 and progress
    (container,) = dep["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["STRIMZI_NAMESPACE"] == watched
    assert container["resources"]["limits"]["memory"] == "768Mi"
    bindings = kube.list_objects("rbac.authorization.k8s.io/v1", "RoleBinding", watched, "app=strimzi")
    assert sorted(b["roleRef"]["name"] for b in bindings) == [
        "strimzi-cluster-operator-namespaced",
        "strimzi-cluster-operator-watched",
        "strimzi-entity-operator",
    ]
    assert {s["namespace"] for b in bindings for s in b["subjects"]} == {op}
    crb = kube.get("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "strimzi-cluster-operator")
    assert crb["subjects"][0]["namespace"] == op

    # idempotent: again, and through ensure_operator (which must not need the source at all)
    strimzi.install_operator(op, [watched], source=INSTALL, timeout=60)
    again = strimzi.ensure_operator(op, [watched], source="/nonexistent-source-must-not-be-read", timeout=60)
    assert again["metadata"]["uid"] == dep["metadata"]["uid"]


# ---- the Strimzi stand-in acting on what the library creates -------------------------------------------


def test_ensure_kafka_and_topic_with_the_stand_in(operator_namespaces):
    op, watched = operator_namespaces
    strimzi.ensure_operator(op, [watched], source=INSTALL, timeout=120)
    states = []
    kafka = strimzi.ensure_kafka("lab", watched, timeout=180, progress=states.append)
    assert kube.condition(kafka, "Ready")["status"] == "True" and states
    assert strimzi.bootstrap_servers("lab", watched, "plain") == f"lab-kafka-bootstrap.{watched}.svc:9092"
    assert strimzi.ensure_kafka("lab", watched, timeout=30)["metadata"]["uid"] == kafka["metadata"]["uid"]
    topic = strimzi.ensure_topic("orders", "lab", watched, partitions=2, timeout=60)
    assert topic["status"]["topicName"] == "orders"
    # a second cluster from the same manifest in the same namespace would take over lab's node pool
    with pytest.raises(
        ManifestRejected, match="dual-role belongs to lab .label strimzi.io/cluster=lab."
    ) as e:
        strimzi.ensure_kafka("other", watched, timeout=30)
    assert "own namespace" in str(e.value) and "nothing was applied" in str(e.value)
    assert kube.get(strimzi.API_VERSION, "Kafka", "other", watched) is None
    kube.delete(kafka, timeout=120)


def test_uninstall_keeps_cluster_wide_objects_while_another_operator_runs(operator_namespaces):
    op, watched = operator_namespaces
    other, other_watched = fresh("lib-op2"), fresh("lib-kafka2")
    strimzi.install_operator(op, [watched], source=INSTALL, timeout=120)
    strimzi.install_operator(other, [other_watched], source=INSTALL, timeout=120)
    try:
        deleted = strimzi.uninstall_operator(other, [other_watched]).deleted
        assert f"Deployment {other}/strimzi-cluster-operator" in deleted
        assert f"RoleBinding {other_watched}/strimzi-cluster-operator-watched" in deleted
        assert not [d for d in deleted if d.startswith(("ClusterRole", "CustomResourceDefinition"))]
        assert kube.get("rbac.authorization.k8s.io/v1", "ClusterRole", "strimzi-cluster-operator-namespaced")
        assert kube.get("apps/v1", "Deployment", strimzi.OPERATOR_DEPLOYMENT, op)
    finally:
        kube.delete_namespace(other_watched, timeout=120)
        kube.delete_namespace(other, timeout=120)
