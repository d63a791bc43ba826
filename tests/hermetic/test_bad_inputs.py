"""Bad inputs, one table: each must fail with a kafkalab error that names the object and a fix, and leave
nothing half-made behind.

Runs against the real API server (real CRD schemas) and the Strimzi stand-in with a real broker: one
Kafka with SCRAM-SHA-512 and simple authorization (manifests/kafka-secured.yaml) in a namespace of our own,
watched by an operator in another; both deleted at the end. Each row says what is done, which error type it
must raise, what `obj` must name, a word the `fix` must contain, and what must not exist afterwards.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from kafkalab import clients, kube, strimzi
from kafkalab.errors import (
    ClusterUnreachable,
    KafkalabError,
    KafkaUnreachable,
    ManifestRejected,
    NotFound,
    ResourceFailed,
)
from tests.hermetic.source import install_files, strimzi_source

pytestmark = pytest.mark.hermetic

SOURCE = strimzi_source()
CLUSTER = "sec"
ADMIN_USER = "bad-inputs-admin"  # may do anything with every topic: the test's eyes inside Kafka
TIMEOUT = 120


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


@dataclass
class Env:
    ns: str
    op_ns: str
    hermetic_dir: Path
    kubeconfig: Path
    tmp: Path
    monkeypatch: pytest.MonkeyPatch
    names: dict  # what a case made up (object names), for its leftover check

    def admin_conn(self) -> dict:
        return clients.connection(CLUSTER, self.ns, "external", user=ADMIN_USER)

    def kafka_topics(self) -> set[str]:
        admin = clients.admin(self.admin_conn(), request_timeout_ms=30_000)
        try:
            return set(admin.list_topics())
        finally:
            admin.close()

    def broker_state(self, cluster: str) -> Path:
        return self.hermetic_dir / "standin" / self.ns / cluster


@pytest.fixture(scope="module")
def cluster(kubeconfig, hermetic_dir):
    kube.reset()
    op_ns, ns = unique("kl-bad-op"), unique("kl-bad")
    try:
        strimzi.install_operator(op_ns, (ns,), source=SOURCE, timeout=240)
        kube.apply(strimzi.load_manifest("kafka-secured.yaml", cluster=CLUSTER, namespace=ns))
        strimzi.wait_kafka_ready(CLUSTER, ns, timeout=240)
        strimzi.ensure_user(
            ADMIN_USER, CLUSTER, ns, acls=[strimzi.acl("topic", "*", ["All"])], timeout=TIMEOUT
        )
        yield ns, op_ns
    finally:
        for name in (ns, op_ns):
            kube.delete_namespace(name, timeout=180)


@pytest.fixture
def env(cluster, hermetic_dir, kubeconfig, tmp_path, monkeypatch):
    ns, op_ns = cluster
    yield Env(ns, op_ns, hermetic_dir, kubeconfig, tmp_path, monkeypatch, {})
    monkeypatch.undo()
    kube.reset()  # a case may have pointed KUBECONFIG elsewhere


def configmap(name: str, ns: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns}, "data": {}}


def exists(api_version: str, kind: str, name: str, ns: str | None) -> bool:
    return kube.get(api_version, kind, name, ns) is not None


def pods_of(cluster: str, ns: str) -> list[str]:
    return [p["metadata"]["name"] for p in kube.pods(ns, f"strimzi.io/cluster={cluster}")]


# ---- the cases: each `run` must raise; each `leftovers` returns what it finds still there (must be []) ----


def schema_rejected(e: Env) -> None:
    name = e.names["kafka"] = unique("bad-schema")
    bad = strimzi.kafka(name, e.ns)
    bad["spec"]["kafka"]["listeners"][0]["type"] = "elastic"  # the CRD's enum: internal, route, ...
    # the node pool comes first and is created before the Kafka is refused
    kube.apply([strimzi.node_pool("pool", name, namespace=e.ns), bad])


def schema_rejected_left(e: Env) -> list[str]:
    name = e.names["kafka"]
    return [
        what
        for what, there in [
            (f"Kafka {name}", exists(strimzi.API_VERSION, "Kafka", name, e.ns)),
            ("KafkaNodePool pool", exists(strimzi.API_VERSION, "KafkaNodePool", "pool", e.ns)),
        ]
        if there
    ]


def no_node_pools(e: Env) -> None:
    name = e.names["kafka"] = unique("no-pools")
    kube.apply(strimzi.kafka(name, e.ns))
    try:
        strimzi.wait_kafka_ready(name, e.ns, timeout=TIMEOUT)
    finally:
        e.names["listeners"] = (
            (kube.get(strimzi.API_VERSION, "Kafka", name, e.ns) or {}).get("status") or {}
        ).get("listeners")
        kube.delete(strimzi.kafka(name, e.ns), timeout=TIMEOUT)


def kafka_left(e: Env) -> list[str]:
    """A refused Kafka got no broker, no pods, no listener addresses (and is deleted after the case)."""
    name = e.names["kafka"]
    left = [f"pod {p}" for p in pods_of(name, e.ns)]
    if any(e.broker_state(name).glob("*/broker.pid")):
        left.append(f"a broker JVM for {name} ({e.broker_state(name)})")
    if e.names.get("listeners"):
        left.append(f"listener addresses in its status: {e.names['listeners']}")
    if exists(strimzi.API_VERSION, "Kafka", name, e.ns):
        left.append(f"Kafka {name}")
    return left


def unsupported_kafka_version(e: Env) -> None:
    name = e.names["kafka"] = unique("old-kafka")
    objs = [strimzi.node_pool("pool", name, namespace=e.ns), strimzi.kafka(name, e.ns, version="3.9.0")]
    kube.apply(objs)
    try:
        strimzi.wait_kafka_ready(name, e.ns, timeout=TIMEOUT)
    finally:
        e.names["listeners"] = (
            (kube.get(strimzi.API_VERSION, "Kafka", name, e.ns) or {}).get("status") or {}
        ).get("listeners")
        kube.delete(objs, timeout=TIMEOUT)


def topic_without_label(e: Env) -> None:
    name = e.names["topic"] = unique("orphan")
    body = strimzi.topic(name, CLUSTER, namespace=e.ns)
    del body["metadata"]["labels"]
    kube.apply(body)
    try:
        strimzi.wait_topic_ready(name, e.ns, timeout=TIMEOUT)
    finally:
        kube.delete(body, timeout=TIMEOUT)


def topic_left(e: Env) -> list[str]:
    name = e.names["topic"]
    left = [f"topic {name} in Kafka"] if name in e.kafka_topics() else []
    if exists(strimzi.API_VERSION, "KafkaTopic", name, e.ns):
        left.append(f"KafkaTopic {name}")
    return left


def partition_decrease(e: Env) -> None:
    name = e.names["topic"] = unique("shrink")
    strimzi.ensure_topic(name, CLUSTER, e.ns, partitions=3, timeout=TIMEOUT)
    kube.apply(strimzi.topic(name, CLUSTER, partitions=1, namespace=e.ns))
    strimzi.wait_topic_ready(name, e.ns, timeout=TIMEOUT)


def partitions_left(e: Env) -> list[str]:
    """Nothing half-done: Kafka still has the 3 partitions (no partial shrink, no re-created topic)."""
    name = e.names["topic"]
    admin = clients.admin(e.admin_conn(), request_timeout_ms=30_000)
    try:
        (described,) = admin.describe_topics([name])
    finally:
        admin.close()
    kube.delete(strimzi.topic(name, CLUSTER, namespace=e.ns), timeout=TIMEOUT)
    count = len(described["partitions"])
    return [] if count == 3 else [f"topic {name} has {count} partitions in Kafka, not 3"]


def wrong_context(e: Env) -> None:
    name = e.names["configmap"] = unique("cm")
    kube.apply(configmap(name, e.ns), context="no-such-context")


def configmap_left(e: Env) -> list[str]:
    e.monkeypatch.undo()
    kube.reset()
    name = e.names["configmap"]
    return [f"ConfigMap {name}"] if exists("v1", "ConfigMap", name, e.ns) else []


def unreachable_api_server(e: Env) -> None:
    cfg = yaml.safe_load(e.kubeconfig.read_text())
    with socket.socket() as s:  # bound, never listening: connections are refused
        s.bind(("127.0.0.1", 0))
        e.names["port"] = s.getsockname()[1]
        for c in cfg["clusters"]:
            c["cluster"]["server"] = f"https://127.0.0.1:{e.names['port']}"
        (e.tmp / "kubeconfig").write_text(yaml.safe_dump(cfg))
        e.monkeypatch.setenv("KUBECONFIG", str(e.tmp / "kubeconfig"))
        kube.reset()
        name = e.names["configmap"] = unique("cm")
        kube.apply(configmap(name, e.ns))


def unknown_strimzi_version(e: Env) -> None:
    source = e.names["source"] = e.tmp / "strimzi-cluster-operator-0.99.0.yaml"
    bundle = "\n---\n".join(f.read_text() for f in install_files(SOURCE))
    source.write_text(bundle.replace("operator:1.2.0", "operator:0.99.0"))
    e.names["namespaces"] = [unique("kl-bad-op2"), unique("kl-bad2")]
    op_ns, watched = e.names["namespaces"]
    strimzi.install_operator(op_ns, (watched,), source=source, timeout=TIMEOUT)


def operator_left(e: Env) -> list[str]:
    return [f"Namespace {n}" for n in e.names["namespaces"] if exists("v1", "Namespace", n, None)]


def wrong_password(e: Env) -> None:
    topic = e.names["topic"] = unique("pw")
    strimzi.ensure_topic(topic, CLUSTER, e.ns, partitions=1, timeout=TIMEOUT)
    conn = dict(e.admin_conn(), sasl_plain_password="not-the-password")
    e.names["bootstrap"] = conn["bootstrap_servers"]
    clients.produce(conn, topic, [("k", "must not arrive")], timeout=20)


def records_left(e: Env) -> list[str]:
    got = clients.consume(e.admin_conn(), e.names["topic"], 1, timeout=5)
    kube.delete(strimzi.topic(e.names["topic"], CLUSTER, namespace=e.ns), timeout=TIMEOUT)
    return [f"{len(got)} record(s) written with a wrong password"] if got else []


def missing_secret(e: Env) -> None:
    user = e.names["user"] = unique("carol")
    strimzi.ensure_user(user, CLUSTER, e.ns, timeout=TIMEOUT)
    # A User Operator re-makes a deleted Secret on its next reconcile of the user, which may land between the
    # delete and the read (a connection then is right): delete and read again, a bounded number of times.
    for _ in range(5):
        kube.delete({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": user, "namespace": e.ns}})
        e.names["conn"] = clients.connection(CLUSTER, e.ns, "external", user=user)
        del e.names["conn"]  # a connection means the Secret was back already: not the case under test


def connection_left(e: Env) -> list[str]:
    """connection() only reads; it must not hand back settings without a password."""
    kube.delete(strimzi.user(e.names["user"], CLUSTER, namespace=e.ns), timeout=TIMEOUT)
    return ["a connection was returned"] if "conn" in e.names else []


@dataclass
class Case:
    id: str
    run: Callable[[Env], None]
    error: type[KafkalabError]
    obj: Callable[[Env], str]  # what e.obj must equal
    fix: str  # a word or phrase the fix must contain
    leftovers: Callable[[Env], list[str]]
    says: str = ""  # a phrase the message must contain


CASES = [
    Case("schema-rejected", schema_rejected, ManifestRejected, lambda e: f"Kafka {e.ns}/{e.names['kafka']}",
         "kubectl explain kafka.spec", schema_rejected_left, says='Unsupported value: "elastic"'),
    Case("kafka-without-node-pools", no_node_pools, ResourceFailed,
         lambda e: f"Kafka {e.ns}/{e.names['kafka']}", "kubectl describe kafka", kafka_left,
         says="No KafkaNodePools found"),
    Case("unsupported-kafka-version", unsupported_kafka_version, ResourceFailed,
         lambda e: f"Kafka {e.ns}/{e.names['kafka']}", "kubectl describe kafka", kafka_left,
         says="Unsupported Kafka.spec.kafka.version: 3.9.0"),
    Case("topic-without-cluster-label", topic_without_label, ResourceFailed,
         lambda e: f"KafkaTopic {e.ns}/{e.names['topic']}", "add label strimzi.io/cluster", topic_left,
         says="no strimzi.io/cluster label"),
    Case("partition-decrease", partition_decrease, ResourceFailed,
         lambda e: f"KafkaTopic {e.ns}/{e.names['topic']}", "kubectl describe kafkatopic", partitions_left,
         says="Decreasing partitions not supported"),
    Case("wrong-kube-context", wrong_context, ClusterUnreachable, lambda e: "context no-such-context",
         "kubectl config get-contexts", configmap_left, says="no-such-context"),
    Case("unreachable-api-server", unreachable_api_server, ClusterUnreachable,
         lambda e: "context kafkalab-hermetic", "cluster-info", configmap_left,
         says="cannot reach the Kubernetes API server"),
    Case("unknown-strimzi-version", unknown_strimzi_version, KafkalabError, lambda e: str(e.names["source"]),
         "use source=", operator_left, says="installs Strimzi 0.99.0"),
    Case("wrong-password", wrong_password, KafkaUnreachable,
         lambda e: f"Kafka listener {e.names['bootstrap']}", "the password (or user) is wrong", records_left,
         says=f"SCRAM-SHA-512 login as user '{ADMIN_USER}'"),
    Case("missing-user-secret", missing_secret, NotFound, lambda e: f"Secret {e.ns}/{e.names['user']}",
         "User Operator", connection_left, says="does not exist"),
]  # fmt: skip


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES])
def test_bad_input_fails_clearly_and_leaves_nothing(env, case):
    with pytest.raises(KafkalabError) as caught:
        case.run(env)
    err = caught.value
    text = str(err)
    assert isinstance(err, case.error), f"{type(err).__name__} is not {case.error.__name__}: {text}"
    assert err.obj == case.obj(env), text
    assert f"object: {err.obj}" in text and "fix: " in text, text
    assert case.fix in (err.fix or ""), text
    assert case.says in text, text
    assert case.leftovers(env) == []
