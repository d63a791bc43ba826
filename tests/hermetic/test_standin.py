"""The Strimzi stand-in honours Strimzi 1.2.0's contract (DESIGN.md §2) with real brokers.

Two kinds of tests:
- pure ones (no cluster): the refusals, node-id assignment, status and object builders, the gate's reading
  of STRIMZI_NAMESPACE, the work queue;
- `hermetic` ones against the running hermetic cluster (tests/hermetic/up.sh) and the stand-in it started:
  the operator gate, a Kafka going Ready with real listeners (plain, TLS trusting only the cluster CA,
  SCRAM with ACLs), topic and user refusals, a rolling restart keeping data, deletion stopping the broker.

Each hermetic test module run uses its own namespace (operator installed there, watching only itself, as
Strimzi's default install does) and deletes it at the end.
"""

from __future__ import annotations

import base64
import os
import time
import uuid
from pathlib import Path

import pytest
from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import ConfigResource, KafkaAdminClient
from kafka.errors import KafkaError, TopicAuthorizationFailedError
from kubernetes import client

from tests.hermetic.hostaddr import host_bootstrap
from tests.hermetic.standin import objects, status
from tests.hermetic.standin.gate import watched_namespaces
from tests.hermetic.standin.kubeapi import Kube
from tests.hermetic.standin.validate import Refusal, kafka_plan, user_plan
from tests.hermetic.standin.workqueue import WorkQueue

ROOT = Path(__file__).resolve().parents[2]
STRIMZI_SOURCE = os.environ.get(
    "KAFKALAB_STRIMZI_SOURCE",
    str(ROOT.parent / "shared" / "strimzi" / "1.2.0" / "install" / "cluster-operator"),
)
hermetic = pytest.mark.hermetic


# ---------------------------------------------------------------------------------------------------------
# builders for the resources under test
# ---------------------------------------------------------------------------------------------------------


def kafka_obj(
    name: str, namespace: str = "ns", listeners=None, authorization=False, config=None, **spec
) -> dict:
    kspec = {
        "version": "4.3.1",
        "listeners": listeners or [{"name": "plain", "port": 9092, "type": "internal", "tls": False}],
        "config": config or {"offsets.topic.replication.factor": 1},
    }
    if authorization:
        kspec["authorization"] = {"type": "simple"}
    return {
        "apiVersion": "kafka.strimzi.io/v1",
        "kind": "Kafka",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"kafka": kspec, "entityOperator": {"topicOperator": {}, "userOperator": {}}, **spec},
    }


def pool_obj(name: str, cluster: str, roles=("controller", "broker"), replicas=1, namespace="ns") -> dict:
    return {
        "apiVersion": "kafka.strimzi.io/v1",
        "kind": "KafkaNodePool",
        "metadata": {"name": name, "namespace": namespace, "labels": {"strimzi.io/cluster": cluster}},
        "spec": {"replicas": replicas, "roles": list(roles), "storage": {"type": "ephemeral"}},
    }


def topic_obj(name: str, cluster: str | None, namespace: str, **spec) -> dict:
    labels = {"strimzi.io/cluster": cluster} if cluster else {}
    return {
        "apiVersion": "kafka.strimzi.io/v1",
        "kind": "KafkaTopic",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": spec or {"partitions": 1, "replicas": 1},
    }


def user_obj(name: str, cluster: str, namespace: str, authentication="scram-sha-512", acls=None) -> dict:
    spec: dict = {"authentication": {"type": authentication}}
    if acls is not None:
        spec["authorization"] = {"type": "simple", "acls": acls}
    return {
        "apiVersion": "kafka.strimzi.io/v1",
        "kind": "KafkaUser",
        "metadata": {"name": name, "namespace": namespace, "labels": {"strimzi.io/cluster": cluster}},
        "spec": spec,
    }


# ---------------------------------------------------------------------------------------------------------
# pure: refusals and plans
# ---------------------------------------------------------------------------------------------------------


def refusal(fn, *args) -> Refusal:
    with pytest.raises(Refusal) as info:
        fn(*args)
    return info.value


def test_kafka_without_pools_is_refused_as_strimzi_does():
    r = refusal(kafka_plan, kafka_obj("my-cluster"), [])
    assert (r.reason, r.message) == (
        "InvalidConfigurationException",
        "No KafkaNodePools found for Kafka cluster my-cluster",
    )


def test_pools_without_a_controller_or_broker_role_are_refused():
    r = refusal(kafka_plan, kafka_obj("c"), [pool_obj("brokers", "c", roles=("broker",))])
    assert r.reason == "InvalidResourceException"
    assert r.message == (
        "The Kafka cluster c is invalid: [At least one KafkaNodePool with the controller role and at least "
        "one replica is required when KRaft mode is enabled]"
    )
    r = refusal(kafka_plan, kafka_obj("c"), [pool_obj("ctl", "c", roles=("controller",))])
    assert "with the broker role" in r.message and "controller role" not in r.message


def test_unsupported_kafka_version_is_refused():
    k = kafka_obj("c")
    k["spec"]["kafka"]["version"] = "3.9.0"
    r = refusal(kafka_plan, k, [pool_obj("p", "c")])
    assert r.reason == "UnsupportedKafkaVersionException"
    assert r.message == (
        "Unsupported Kafka.spec.kafka.version: 3.9.0. Supported versions are: [4.2.0, 4.2.1, 4.3.0, 4.3.1]"
    )


def test_listener_the_stand_in_cannot_serve_is_refused_not_skipped():
    k = kafka_obj("c", listeners=[{"name": "route", "port": 9094, "type": "route", "tls": True}])
    r = refusal(kafka_plan, k, [pool_obj("p", "c")])
    assert r.reason == "StandinUnsupported" and "type 'route'" in r.message


def test_duplicate_listener_ports_and_tls_auth_without_tls_are_refused():
    k = kafka_obj(
        "c",
        listeners=[
            {"name": "a", "port": 9092, "type": "internal", "tls": False},
            {"name": "b", "port": 9092, "type": "internal", "tls": False, "authentication": {"type": "tls"}},
        ],
    )
    r = refusal(kafka_plan, k, [pool_obj("p", "c")])
    assert r.reason == "InvalidResourceException"
    assert r.message.startswith(
        "Listener configuration is not valid: [every listener needs to have a unique port"
    )
    assert "listener b cannot use tls type authentication with disabled TLS encryption" in r.message


def test_duplicate_listener_names_are_refused_in_strimzis_words():
    k = kafka_obj(
        "c",
        listeners=[
            {"name": "plain", "port": 9092, "type": "internal", "tls": False},
            {"name": "plain", "port": 9093, "type": "internal", "tls": True},
        ],
    )
    r = refusal(kafka_plan, k, [pool_obj("p", "c")])
    assert (r.reason, r.message) == (
        "InvalidResourceException",
        "Listener configuration is not valid: [every listener needs to have a unique name]",
    )


def test_plan_versions_config_and_forbidden_keys():
    k = kafka_obj(
        "c", config={"retention.ms": 1000, "listeners": "x", "ssl.protocol": "TLSv1.3", "x.y": True}
    )
    k["spec"]["kafka"]["version"] = "4.2.1"
    plan = kafka_plan(k, [pool_obj("p", "c")])
    assert (plan.version, plan.metadata_version) == ("4.2.1", "4.2-IV1")
    assert plan.config == {"retention.ms": "1000", "ssl.protocol": "TLSv1.3", "x.y": "true"}
    assert plan.ignored_config == ("listeners",)
    assert plan.topic_operator and plan.user_operator


def test_node_ids_are_kept_from_status_and_new_ones_take_the_lowest_free():
    a = pool_obj("a", "c", replicas=2)
    b = pool_obj("b", "c", replicas=3)
    b["status"] = {"nodeIds": [0, 1]}  # b came first and owns 0 and 1
    pools = {p.name: p.node_ids for p in kafka_plan(kafka_obj("c"), [a, b]).pools}
    assert pools == {"a": (2, 3), "b": (0, 1, 4)}


def test_user_acls_on_a_cluster_without_authorization_are_refused():
    user = user_obj(
        "u", "c", "ns", acls=[{"resource": {"type": "topic", "name": "t"}, "operations": ["Read"]}]
    )
    r = refusal(user_plan, user, kafka_obj("c"))
    assert (r.reason, r.message) == (
        "InvalidResourceException",
        "Simple authorization ACL rules are configured but not supported in the Kafka cluster configuration.",
    )
    # ... and the User Operator writes it wrapped, with no username or secret left (DESIGN.md §2)
    old = {"username": "u", "secret": "u", "conditions": [status.ready()], "observedGeneration": 1}
    s = status.user_failed(r.reason, r.message, 2, old)
    (c,) = s["conditions"]
    assert (c["type"], c["status"], c["reason"]) == ("NotReady", "True", "ExecutionException")
    assert c["message"] == (
        "io.strimzi.operator.common.ReconciliationException: io.strimzi.operator.common.model."
        "InvalidResourceException: " + r.message
    )
    assert set(s) == {"conditions", "observedGeneration"}


def test_user_plan_expands_acl_operations_and_names_tls_users_by_cn():
    acls = [
        {
            "resource": {"type": "topic", "name": "t", "patternType": "prefix"},
            "operations": ["Read", "Describe"],
        },
        {"resource": {"type": "cluster"}, "operations": ["All"], "type": "deny", "host": "10.0.0.1"},
    ]
    plan = user_plan(user_obj("u", "c", "ns", "tls", acls), kafka_obj("c", authorization=True))
    assert plan.username == "CN=u" and plan.secret_name == "u"
    assert {(a.resource_type, a.name, a.pattern, a.operation, a.host, a.allow) for a in plan.acls} == {
        ("topic", "t", "prefix", "Read", "*", True),
        ("topic", "t", "prefix", "Describe", "*", True),
        ("cluster", "kafka-cluster", "literal", "All", "10.0.0.1", False),
    }


def test_custom_scram_password_needs_secret_name_and_key():
    user = user_obj("u", "c", "ns")
    user["spec"]["authentication"]["password"] = {"valueFrom": {"secretKeyRef": {"name": "s"}}}
    r = refusal(user_plan, user, kafka_obj("c"))
    assert r.reason == "InvalidResourceException" and "secret name and/or key" in r.message


# ---------------------------------------------------------------------------------------------------------
# pure: status, objects, gate, queue
# ---------------------------------------------------------------------------------------------------------


def test_condition_transition_time_is_kept_while_the_condition_holds():
    old = {"conditions": [dict(status.ready(), lastTransitionTime="2020-01-01T00:00:00Z")]}
    new = status.topic_ready(2, "t", "id", old)
    assert new["conditions"][0]["lastTransitionTime"] == "2020-01-01T00:00:00Z"
    failed = status.topic_failed("NotSupported", "Decreasing partitions not supported", 3, new, "t")
    assert failed["conditions"][0]["lastTransitionTime"] != "2020-01-01T00:00:00Z"
    assert (failed["topicName"], failed["topicId"], failed["observedGeneration"]) == ("t", "id", 3)
    assert status.same_status(new, status.topic_ready(2, "t", "id", None))


def test_kafka_ready_status_has_the_contract_fields():
    plan = kafka_plan(
        kafka_obj(
            "c",
            listeners=[
                {"name": "plain", "port": 9092, "type": "internal", "tls": False},
                {"name": "tls", "port": 9093, "type": "internal", "tls": True},
            ],
        ),
        [pool_obj("p", "c")],
    )
    s = status.kafka_ready(plan, 4, "cid", {"plain": 20001, "tls": 20002}, "PEM", [], None)
    # internal listeners: the bootstrap Service's in-cluster name and the listener's port, as Strimzi writes
    assert s["listeners"] == [
        {
            "name": "plain",
            "addresses": [{"host": "c-kafka-bootstrap.ns.svc", "port": 9092}],
            "bootstrapServers": "c-kafka-bootstrap.ns.svc:9092",
        },
        {
            "name": "tls",
            "addresses": [{"host": "c-kafka-bootstrap.ns.svc", "port": 9093}],
            "bootstrapServers": "c-kafka-bootstrap.ns.svc:9093",
            "certificates": ["PEM"],
        },
    ]
    assert [(c["type"], c.get("reason")) for c in s["conditions"]] == [
        ("Warning", "KafkaStorage"),
        ("Warning", "KafkaStorage"),
        ("Ready", None),
    ]
    assert s["clusterSecurity"] == status.CLUSTER_SECURITY and s["autoRebalance"]["state"] == "Idle"
    assert (s["clusterId"], s["kafkaVersion"], s["kafkaMetadataVersion"]) == ("cid", "4.3.1", "4.3-IV0")
    assert (s["observedGeneration"], s["operatorLastSuccessfulVersion"]) == (4, "1.2.0")
    assert s["kafkaNodePools"] == [{"name": "p"}]

    # a failure afterwards starts afresh: listeners and node pools go, the documented fields stay
    failed = status.failed_kafka("UnsupportedKafkaVersionException", "Unsupported ...", 5, s)
    assert set(failed) == {
        "clusterId", "operatorLastSuccessfulVersion", "kafkaVersion", "kafkaMetadataVersion",
        "autoRebalance", "clusterSecurity", "conditions", "observedGeneration",
    }  # fmt: skip
    assert [c["type"] for c in failed["conditions"]] == ["NotReady"]


def test_nodeport_listeners_advertise_the_override_else_the_node_address():
    def nodeport(brokers):
        return {"name": "external", "port": 9094, "type": "nodeport", "tls": False,
                "configuration": {"bootstrap": {"nodePort": 32100}, "brokers": brokers}}  # fmt: skip

    overrides = [{"broker": i, "advertisedHost": "localhost", "nodePort": 32000 + i} for i in range(3)]
    for brokers, host in ((overrides, "localhost"), ([], status.NODE_ADDRESS)):
        plan = kafka_plan(kafka_obj("c", listeners=[nodeport(brokers)]), [pool_obj("p", "c", replicas=3)])
        (lst,) = status.kafka_ready(plan, 1, "cid", {"external": 31000}, "PEM", [], None)["listeners"]
        assert lst["bootstrapServers"] == f"{host}:31000" and lst["addresses"] == [
            {"host": host, "port": 31000}
        ]
    # three brokers, no single-node KafkaStorage warnings
    assert [c["type"] for c in status.kafka_ready(plan, 1, "c", {}, "", [], None)["conditions"]] == ["Ready"]


def test_the_first_status_is_creating_only_when_there_was_none():
    first = status.kafka_creating(None)
    assert first["observedGeneration"] == 0 and set(first) == {"conditions", "observedGeneration"}
    assert (first["conditions"][0]["reason"], first["conditions"][0]["message"]) == (
        "Creating",
        "Kafka cluster is being deployed",
    )
    refused = status.failed_kafka("InvalidResourceException", "x", 1, None)
    assert status.kafka_creating(refused) is refused  # the old status stays until the reconcile ends


def test_pods_and_services_are_named_and_labelled_like_strimzi():
    k = kafka_obj(
        "my-cluster",
        listeners=[
            {"name": "plain", "port": 9092, "type": "internal", "tls": False},
            {
                "name": "external",
                "port": 9094,
                "type": "nodeport",
                "tls": False,
                "configuration": {"bootstrap": {"nodePort": 32100}},
            },
        ],
    )
    plan = kafka_plan(k, [pool_obj("dual-role", "my-cluster")])
    owner = {"apiVersion": "v1", "kind": "X", "name": "n", "uid": "u"}
    p = objects.pod(plan, plan.pools[0], 0, owner)
    assert p["metadata"]["name"] == "my-cluster-dual-role-0"
    labels = p["metadata"]["labels"]
    assert labels["strimzi.io/cluster"] == "my-cluster" and labels["strimzi.io/kind"] == "Kafka"
    assert labels["strimzi.io/name"] == "my-cluster-kafka" and labels["strimzi.io/pool-name"] == "dual-role"
    assert labels["strimzi.io/broker-role"] == labels["strimzi.io/controller-role"] == "true"
    svcs = {s["metadata"]["name"]: s for s in objects.services(plan, owner)}
    assert set(svcs) == {
        "my-cluster-kafka-bootstrap",
        "my-cluster-kafka-brokers",
        "my-cluster-kafka-external-bootstrap",
        "my-cluster-dual-role-0",  # per broker, for the nodeport listener
    }
    assert svcs["my-cluster-kafka-external-bootstrap"]["spec"]["type"] == "NodePort"
    assert svcs["my-cluster-kafka-external-bootstrap"]["spec"]["ports"][0]["nodePort"] == 32100
    assert [p["name"] for p in svcs["my-cluster-kafka-bootstrap"]["spec"]["ports"]] == [
        "tcp-replication",
        "tcp-clients",
    ]
    assert (
        svcs["my-cluster-dual-role-0"]["spec"]["selector"]["strimzi.io/pod-name"] == "my-cluster-dual-role-0"
    )


def operator_deployment(env: list[dict], available=1, namespace="strimzi") -> dict:
    return {
        "metadata": {"name": "strimzi-cluster-operator", "namespace": namespace},
        "spec": {"template": {"spec": {"containers": [{"name": "strimzi-cluster-operator", "env": env}]}}},
        "status": {"availableReplicas": available},
    }


def test_gate_reads_strimzi_namespace_like_the_operator():
    own = [{"name": "STRIMZI_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}}]
    assert watched_namespaces(operator_deployment(own)) == {"strimzi"}
    assert watched_namespaces(operator_deployment([{"name": "STRIMZI_NAMESPACE", "value": "a, b"}])) == {
        "a",
        "b",
    }
    assert watched_namespaces(operator_deployment([{"name": "STRIMZI_NAMESPACE", "value": "*"}])) == {"*"}


class RbacKube:
    """kubeapi.Kube's edge for the gate: one operator Deployment, its pod, and RBAC allowing `allowed`."""

    def __init__(self, watched: str, allowed: set[str]) -> None:
        self.allowed = allowed
        self.dep = operator_deployment([{"name": "STRIMZI_NAMESPACE", "value": watched}])
        self.dep["spec"]["selector"] = {"matchLabels": {"name": "strimzi-cluster-operator"}}
        ready = [{"type": t, "status": "True"} for t in ("Initialized", "Ready", "ContainersReady")]
        self.pod = {
            "metadata": {"name": "op-1", "namespace": "strimzi"},
            "status": {"phase": "Running", "conditions": ready, "podIP": "10.0.0.5",
                       "containerStatuses": [{"name": "strimzi-cluster-operator", "ready": True,
                                              "restartCount": 0, "state": {"running": {}}}]},
        }  # fmt: skip
        self.events: list[str] = []

    def list(self, kind, namespace=None, labels=None, field=None):
        return [self.dep] if kind == "Deployment" else [self.pod]

    def can_i(self, user, verb, group, resource, namespace):
        return namespace in self.allowed

    def patch_status(self, kind, namespace, name, new, old):
        self.pod["status"] = new

    def event(self, obj, reason, message, warning=False):
        self.events.append(reason)


def test_a_watched_namespace_without_rolebindings_crash_loops_the_operator(caplog):
    from tests.hermetic.standin.gate import Gate

    kube = RbacKube("kafka,other", allowed={"kafka"})
    gate = Gate(kube)
    assert not gate.covers("kafka")  # the real operator exits: no namespace is served, not even kafka
    st = kube.pod["status"]
    (c,) = st["containerStatuses"]
    assert c["state"]["waiting"]["reason"] == "CrashLoopBackOff" and c["restartCount"] == 1
    assert c["lastState"]["terminated"]["exitCode"] == 1
    assert {x["type"]: x["status"] for x in st["conditions"]}["Ready"] == "False"
    assert st["podIP"] == "10.0.0.5" and kube.events == ["BackOff"]
    assert "Cluster Operator verticle in namespace other failed to start" in caplog.text

    kube.allowed.add("other")  # the RoleBindings applied: the next start succeeds
    gate.forget()
    gate.check_operators()
    (c,) = kube.pod["status"]["containerStatuses"]
    assert c["ready"] and "running" in c["state"] and c["restartCount"] == 1
    assert gate.covers("kafka") and gate.covers("other")


def test_work_queue_runs_a_key_once_at_a_time_and_again_after_a_kick_during_the_run():
    runs: list[str] = []
    started = __import__("threading").Event()

    def reconcile(key):
        runs.append(key)
        if len(runs) == 1:
            started.set()
            time.sleep(0.3)
        return None

    q = WorkQueue(reconcile, workers=4)
    q.start()
    try:
        q.kick("a")
        assert started.wait(2)
        q.kick("a")  # during the run: one more run afterwards, not a parallel one
        q.kick("a")
        time.sleep(0.8)
        assert runs == ["a", "a"]
    finally:
        q.stop()


def test_work_queue_retries_when_asked():
    runs: list[float] = []

    def reconcile(key):
        runs.append(time.monotonic())
        return 0.1 if len(runs) < 3 else None

    q = WorkQueue(reconcile)
    q.start()
    try:
        q.kick("k")
        time.sleep(0.6)
        assert len(runs) == 3 and runs[2] - runs[0] >= 0.2
    finally:
        q.stop()


class FakeKube:
    """Just enough of kubeapi.Kube for the stand-in's failure reporting."""

    def __init__(self, obj: dict) -> None:
        self.obj, self.statuses, self.events = obj, [], []

    def get(self, kind, namespace, name):
        return self.obj

    def patch_status(self, kind, namespace, name, new, old):
        self.statuses.append((kind, new))

    def event(self, obj, reason, message, warning=False):
        self.events.append(reason)


@pytest.mark.parametrize(
    "kind, ctype, cstatus, reason",
    [
        ("Kafka", "NotReady", "True", "StandinInternalError"),
        ("KafkaTopic", "Ready", "False", "InternalError"),
        ("KafkaUser", "NotReady", "True", "StandinInternalError"),
    ],
)
def test_a_failure_the_stand_in_did_not_expect_lands_in_the_status(monkeypatch, kind, ctype, cstatus, reason):
    from tests.hermetic.standin import operator as standin_operator
    from tests.hermetic.standin.context import Context

    def broken(ctx, namespace, name):
        raise KeyError("spec.kafka.something")

    monkeypatch.setitem(standin_operator._RECONCILERS, kind, broken)
    kube = FakeKube({"apiVersion": "kafka.strimzi.io/v1", "kind": kind,
                     "metadata": {"name": "x", "namespace": "ns", "generation": 3}})  # fmt: skip
    standin = standin_operator.Standin(Context(kube=kube, gate=None, clusters=None))
    assert standin.reconcile((kind, "ns", "x")) == 30.0  # tried again later
    ((_, new),) = kube.statuses
    (c,) = new["conditions"]
    assert (c["type"], c["status"], c["reason"]) == (ctype, cstatus, reason)
    assert "KeyError" in c["message"] and new["observedGeneration"] == 3
    assert kube.events == ["StandinInternalError"]


# ---------------------------------------------------------------------------------------------------------
# hermetic: fixtures
# ---------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kube(kube_api) -> Kube:
    return Kube(kube_api)


@pytest.fixture(scope="module")
def ns(kube_api):
    """A fresh namespace for this module, deleted afterwards (with all its clusters)."""
    core = client.CoreV1Api(kube_api)
    name = f"standin-{uuid.uuid4().hex[:6]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    yield name
    core.delete_namespace(name)


@pytest.fixture(scope="module")
def operator(ns):
    """Strimzi's real install YAML, rewritten to watch `ns` (installed into `ns` itself)."""
    from kafkalab import strimzi

    strimzi.install_operator(namespace=ns, watch_namespaces=(ns,), source=STRIMZI_SOURCE, timeout=120)
    return ns


def apply(kube: Kube, *objs: dict, namespace: str) -> None:
    for obj in objs:
        obj = dict(obj, metadata=dict(obj["metadata"], namespace=namespace))
        kube.apply(obj)


def wait_for(what: str, check, timeout: float = 90.0, interval: float = 0.25):
    """Poll `check()` until it returns something truthy; fail naming `what` and the last value."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}; last seen: {last!r}")


def cond(obj: dict | None, ctype: str) -> dict | None:
    return next(
        (c for c in ((obj or {}).get("status") or {}).get("conditions") or [] if c["type"] == ctype), None
    )


def wait_condition(
    kube: Kube,
    kind: str,
    ns: str,
    name: str,
    ctype: str,
    status_: str = "True",
    generation=None,
    timeout: float = 90.0,
) -> dict:
    def check():
        obj = kube.get(kind, ns, name)
        c = cond(obj, ctype)
        if (
            c
            and c["status"] == status_
            and (generation is None or obj["status"].get("observedGeneration") == generation)
        ):
            return obj
        return None

    return wait_for(f"{kind} {ns}/{name} {ctype}={status_}", check, timeout)


OPEN_LISTENERS = [
    {"name": "plain", "port": 9092, "type": "internal", "tls": False},
    {"name": "tls", "port": 9093, "type": "internal", "tls": True},
]
SECURE_LISTENERS = [
    {
        "name": "scram",
        "port": 9094,
        "type": "nodeport",
        "tls": False,
        "authentication": {"type": "scram-sha-512"},
    },
    {"name": "mtls", "port": 9095, "type": "internal", "tls": True, "authentication": {"type": "tls"}},
]


@pytest.fixture(scope="module")
def open_cluster(kube, operator, ns) -> dict:
    """Kafka `open` (plain + tls listeners, no authorization), Ready."""
    apply(kube, pool_obj("dual", "open"), kafka_obj("open", listeners=OPEN_LISTENERS), namespace=ns)
    return wait_condition(kube, "Kafka", ns, "open", "Ready", timeout=120)


@pytest.fixture(scope="module")
def secure_cluster(kube, operator, ns) -> dict:
    """Kafka `secure` (SCRAM and mTLS listeners, authorization simple), Ready."""
    apply(
        kube,
        pool_obj("secure-dual", "secure"),
        kafka_obj("secure", listeners=SECURE_LISTENERS, authorization=True),
        namespace=ns,
    )
    return wait_condition(kube, "Kafka", ns, "secure", "Ready", timeout=120)


def bootstrap(kafka: dict, listener: str) -> str:
    """Where the host reaches `listener`: the stand-in's test-only address (internal listeners' status
    addresses are in-cluster names, as Strimzi writes them)."""
    return host_bootstrap(kafka["metadata"]["name"], kafka["metadata"]["namespace"], listener)


def produce(conn: dict, topic: str, values: list[bytes]) -> None:
    producer = KafkaProducer(**conn, request_timeout_ms=15000, max_block_ms=15000)
    try:
        for v in values:
            producer.send(topic, v).get(timeout=15)
    finally:
        producer.close()


def consume(conn: dict, topic: str, count: int, group: str | None = None) -> list[bytes]:
    consumer = KafkaConsumer(
        topic,
        **conn,
        group_id=group,
        auto_offset_reset="earliest",
        consumer_timeout_ms=15000,
        enable_auto_commit=False,
    )
    try:
        out = []
        for record in consumer:
            out.append(record.value)
            if len(out) >= count:
                break
        return out
    finally:
        consumer.close()


def secret_value(kube: Kube, ns: str, name: str, key: str) -> bytes:
    return base64.b64decode(kube.get("Secret", ns, name)["data"][key])


# ---------------------------------------------------------------------------------------------------------
# hermetic: the gate, and a Kafka becoming Ready
# ---------------------------------------------------------------------------------------------------------


@hermetic
def test_nothing_happens_until_the_operator_is_installed_then_kafka_gets_ready(kube, ns):
    apply(kube, pool_obj("dual", "open"), kafka_obj("open", listeners=OPEN_LISTENERS), namespace=ns)
    time.sleep(6)  # the stand-in re-checks every 5 s; a real operator would not be there at all
    assert (kube.get("Kafka", ns, "open").get("status") or {}) == {}, "touched a Kafka no operator watches"
    assert not kube.list("Pod", ns), "created pods for a Kafka no operator watches"

    from kafkalab import strimzi

    started = time.monotonic()
    strimzi.install_operator(namespace=ns, watch_namespaces=(ns,), source=STRIMZI_SOURCE, timeout=120)
    kafka = wait_condition(kube, "Kafka", ns, "open", "Ready", timeout=120)
    print(f"operator installed -> Kafka Ready in {time.monotonic() - started:.1f}s")

    s = kafka["status"]
    pool = kube.get("KafkaNodePool", ns, "dual")["status"]
    assert s["clusterId"] and s["clusterId"] == pool["clusterId"]
    assert (s["kafkaVersion"], s["kafkaMetadataVersion"], s["operatorLastSuccessfulVersion"]) == (
        "4.3.1",
        "4.3-IV0",
        "1.2.0",
    )
    assert s["observedGeneration"] == kafka["metadata"]["generation"]
    assert s["kafkaNodePools"] == [{"name": "dual"}]
    assert [lst["name"] for lst in s["listeners"]] == ["plain", "tls"]
    for lst, port in zip(s["listeners"], (9092, 9093), strict=True):
        assert lst["addresses"] == [{"host": f"open-kafka-bootstrap.{ns}.svc", "port": port}]
        assert lst["bootstrapServers"] == f"open-kafka-bootstrap.{ns}.svc:{port}"
        assert bootstrap(kafka, lst["name"]).startswith("127.0.0.1:")  # the test-only host address
    assert s["clusterSecurity"] == status.CLUSTER_SECURITY
    assert [(c["type"], c.get("reason")) for c in s["conditions"]] == [
        ("Warning", "KafkaStorage"),
        ("Warning", "KafkaStorage"),
        ("Ready", None),
    ]
    ca_pem = secret_value(kube, ns, "open-cluster-ca-cert", "ca.crt").decode()
    assert "certificates" not in s["listeners"][0] and s["listeners"][1]["certificates"] == [ca_pem]
    assert (pool["nodeIds"], pool["roles"], pool["replicas"]) == ([0], ["controller", "broker"], 1)
    assert pool["labelSelector"] == (
        "strimzi.io/cluster=open,strimzi.io/name=open-kafka,strimzi.io/kind=Kafka,strimzi.io/pool-name=dual"
    )

    # the objects Strimzi would have made, owned by the Kafka
    pod = kube.get("Pod", ns, "open-dual-0")
    assert pod["metadata"]["labels"]["strimzi.io/name"] == "open-kafka"
    for kind, name in [
        ("Service", "open-kafka-bootstrap"),
        ("Service", "open-kafka-brokers"),
        ("Secret", "open-cluster-ca-cert"),
        ("Secret", "open-clients-ca-cert"),
        ("Deployment", "open-entity-operator"),
        ("StrimziPodSet", "open-dual"),
    ]:
        obj = kube.get(kind, ns, name)
        assert obj is not None, f"{kind} {name} missing"
        assert obj["metadata"]["ownerReferences"][0]["uid"] == kafka["metadata"]["uid"]
    containers = kube.get("Deployment", ns, "open-entity-operator")["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["topic-operator", "user-operator"]


@hermetic
@pytest.mark.parametrize(
    "name, pools, version, reason, message",
    [
        (
            "nopools",
            [],
            None,
            "InvalidConfigurationException",
            "No KafkaNodePools found for Kafka cluster nopools",
        ),
        ("brokeronly", [("b", ("broker",))], None, "InvalidResourceException", "with the controller role"),
        (
            "oldkafka",
            [("p", ("controller", "broker"))],
            "3.9.0",
            "UnsupportedKafkaVersionException",
            "Unsupported Kafka.spec.kafka.version: 3.9.0",
        ),
    ],
)
def test_invalid_kafka_goes_notready_with_strimzis_reason(
    kube, operator, ns, name, pools, version, reason, message
):
    k = kafka_obj(name)
    if version:
        k["spec"]["kafka"]["version"] = version
    apply(kube, *[pool_obj(p, name, roles=roles) for p, roles in pools], k, namespace=ns)
    obj = wait_condition(kube, "Kafka", ns, name, "NotReady", timeout=30)
    c = cond(obj, "NotReady")
    assert c["reason"] == reason and message in c["message"], c
    assert cond(obj, "Ready") is None
    assert not kube.list("Pod", ns, labels={"strimzi.io/cluster": name}), "pods for a refused Kafka"


# ---------------------------------------------------------------------------------------------------------
# hermetic: clients through the addresses in status
# ---------------------------------------------------------------------------------------------------------


@hermetic
def test_produce_and_consume_through_the_plain_listener(kube, ns, open_cluster):
    apply(kube, topic_obj("greetings", "open", ns, partitions=1, replicas=1), namespace=ns)
    wait_condition(kube, "KafkaTopic", ns, "greetings", "Ready")
    conn = {"bootstrap_servers": bootstrap(open_cluster, "plain")}
    values = [f"hello {i}".encode() for i in range(20)]
    produce(conn, "greetings", values)
    assert consume(conn, "greetings", 20) == values


@hermetic
def test_tls_client_trusting_only_the_cluster_ca_secret(kube, ns, open_cluster, tmp_path):
    cafile = tmp_path / "ca.crt"
    cafile.write_bytes(secret_value(kube, ns, "open-cluster-ca-cert", "ca.crt"))
    # hostname checking stays on (kafka-python's default): the certificate must name 127.0.0.1
    conn = {
        "bootstrap_servers": bootstrap(open_cluster, "tls"),
        "security_protocol": "SSL",
        "ssl_cafile": str(cafile),
    }
    apply(kube, topic_obj("over-tls", "open", ns), namespace=ns)
    wait_condition(kube, "KafkaTopic", ns, "over-tls", "Ready")
    produce(conn, "over-tls", [b"secret"])
    assert consume(conn, "over-tls", 1) == [b"secret"]

    other = tmp_path / "other.crt"  # a CA that did not sign the broker: the handshake must fail
    other.write_bytes(secret_value(kube, ns, "open-clients-ca-cert", "ca.crt"))
    with pytest.raises(KafkaError):
        produce(dict(conn, ssl_cafile=str(other)), "over-tls", [b"x"])


# ---------------------------------------------------------------------------------------------------------
# hermetic: topics
# ---------------------------------------------------------------------------------------------------------


def broker_admin(kube: Kube, kafka: dict) -> KafkaAdminClient:
    return KafkaAdminClient(bootstrap_servers=bootstrap(kafka, "plain"), request_timeout_ms=15000)


@hermetic
def test_topic_created_for_real_with_partitions_config_and_topic_id(kube, ns, open_cluster):
    apply(
        kube,
        topic_obj("orders", "open", ns, partitions=3, replicas=1, config={"retention.ms": 7200000}),
        namespace=ns,
    )
    obj = wait_condition(kube, "KafkaTopic", ns, "orders", "Ready")
    assert obj["status"]["topicName"] == "orders" and obj["status"]["observedGeneration"] == 1
    assert "strimzi.io/topic-operator" in obj["metadata"]["finalizers"]
    admin = broker_admin(kube, open_cluster)
    try:
        (desc,) = admin.describe_topics(["orders"])
        assert len(desc["partitions"]) == 3
        topic_id = base64.urlsafe_b64encode(uuid.UUID(desc["topic_id"]).bytes).decode().rstrip("=")
        assert obj["status"]["topicId"] == topic_id
        assert topic_configs(admin, "orders") == {"retention.ms": "7200000"}

        # more partitions and another config: applied in place (a config gone from spec is removed)
        kube.patch(
            "KafkaTopic",
            ns,
            "orders",
            {"spec": {"partitions": 4, "config": {"segment.bytes": 2000000, "retention.ms": None}}},
        )
        wait_condition(kube, "KafkaTopic", ns, "orders", "Ready", generation=2)
        (desc,) = admin.describe_topics(["orders"])
        assert len(desc["partitions"]) == 4
        assert topic_configs(admin, "orders") == {"segment.bytes": "2000000"}
    finally:
        admin.close()


def topic_configs(admin: KafkaAdminClient, topic: str) -> dict[str, str]:
    """The topic's own settings (not broker defaults)."""
    configs = admin.describe_configs([ConfigResource("topic", topic)])["topic"][topic]
    return {k: v["value"] for k, v in configs.items() if v["config_source"] == "DYNAMIC_TOPIC_CONFIG"}


@hermetic
def test_topic_refusals(kube, ns, open_cluster):
    apply(kube, topic_obj("shrink", "open", ns, partitions=3, replicas=1), namespace=ns)
    wait_condition(kube, "KafkaTopic", ns, "shrink", "Ready")
    kube.patch("KafkaTopic", ns, "shrink", {"spec": {"partitions": 1}})
    c = cond(wait_condition(kube, "KafkaTopic", ns, "shrink", "Ready", "False"), "Ready")
    assert (c["reason"], c["message"]) == ("NotSupported", "Decreasing partitions not supported")

    kube.patch("KafkaTopic", ns, "shrink", {"spec": {"partitions": 3, "topicName": "renamed"}})
    c = cond(wait_condition(kube, "KafkaTopic", ns, "shrink", "Ready", "False", generation=3), "Ready")
    assert (c["reason"], c["message"]) == ("NotSupported", "Changing spec.topicName is not supported")

    apply(kube, topic_obj("too-many-replicas", "open", ns, partitions=1, replicas=3), namespace=ns)
    c = cond(wait_condition(kube, "KafkaTopic", ns, "too-many-replicas", "Ready", "False"), "Ready")
    assert c["reason"] == "KafkaError"
    assert c["message"].startswith("org.apache.kafka.common.errors.InvalidReplicationFactorException: ")
    assert "only 1 broker(s) are registered" in c["message"]

    apply(
        kube,
        topic_obj("bad-config", "open", ns, partitions=1, replicas=1, config={"retention.ms": "abc"}),
        namespace=ns,
    )
    c = cond(wait_condition(kube, "KafkaTopic", ns, "bad-config", "Ready", "False"), "Ready")
    assert c["reason"] == "KafkaError"
    assert c["message"] == (
        "org.apache.kafka.common.errors.InvalidConfigurationException: "
        "Invalid value abc for configuration retention.ms: Not a number of type LONG"
    )


@hermetic
def test_topic_without_cluster_label_is_ignored(kube, ns, open_cluster):
    apply(kube, topic_obj("unlabelled", None, ns), namespace=ns)
    time.sleep(4)
    obj = kube.get("KafkaTopic", ns, "unlabelled")
    assert not obj.get("status") and not obj["metadata"].get("finalizers")
    admin = broker_admin(kube, open_cluster)
    try:
        assert "unlabelled" not in admin.list_topics()
    finally:
        admin.close()


@hermetic
def test_deleting_a_kafkatopic_deletes_the_topic(kube, ns, open_cluster):
    apply(kube, topic_obj("short-lived", "open", ns), namespace=ns)
    wait_condition(kube, "KafkaTopic", ns, "short-lived", "Ready")
    kube.delete("KafkaTopic", ns, "short-lived")
    wait_for("KafkaTopic short-lived gone", lambda: kube.get("KafkaTopic", ns, "short-lived") is None, 30)
    admin = broker_admin(kube, open_cluster)
    try:
        assert "short-lived" not in admin.list_topics()  # gone before the finalizer was released
    finally:
        admin.close()


# ---------------------------------------------------------------------------------------------------------
# hermetic: users
# ---------------------------------------------------------------------------------------------------------


def acl(topic_or_group: str, kind: str, *ops: str) -> dict:
    return {
        "resource": {"type": kind, "name": topic_or_group, "patternType": "literal"},
        "operations": list(ops),
    }


@hermetic
def test_scram_user_works_where_its_acls_allow_and_is_denied_elsewhere(kube, ns, secure_cluster):
    for t in ("allowed", "forbidden"):
        apply(kube, topic_obj(t, "secure", ns), namespace=ns)
        wait_condition(kube, "KafkaTopic", ns, t, "Ready")
    acls = [acl("allowed", "topic", "Read", "Write", "Describe"), acl("g", "group", "Read")]
    apply(kube, user_obj("alice", "secure", ns, acls=acls), namespace=ns)
    user = wait_condition(kube, "KafkaUser", ns, "alice", "Ready")
    assert (user["status"]["username"], user["status"]["secret"]) == ("alice", "alice")

    password = secret_value(kube, ns, "alice", "password").decode()
    jaas = secret_value(kube, ns, "alice", "sasl.jaas.config").decode()
    assert len(password) >= 12
    assert jaas == (
        'org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" '
        f'password="{password}";'
    )
    secret = kube.get("Secret", ns, "alice")
    assert secret["metadata"]["ownerReferences"][0]["uid"] == user["metadata"]["uid"]

    conn = {
        "bootstrap_servers": bootstrap(secure_cluster, "scram"),
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "alice",
        "sasl_plain_password": password,
    }
    produce(conn, "allowed", [b"ok"])
    assert consume(conn, "allowed", 1, group="g") == [b"ok"]
    with pytest.raises(TopicAuthorizationFailedError):
        produce(conn, "forbidden", [b"nope"])

    # deleting the KafkaUser removes its credential (and ACLs) from Kafka; its Secret goes with it
    kube.delete("KafkaUser", ns, "alice")
    wait_for("alice's Secret gone", lambda: kube.get("Secret", ns, "alice") is None, 30)

    def login_refused() -> bool:
        try:
            KafkaAdminClient(**conn, request_timeout_ms=5000).close()
        except KafkaError:
            return True
        return False

    wait_for("alice's SCRAM login to be refused", login_refused, 30, interval=1)


@hermetic
def test_scram_password_from_a_secret_the_user_names(kube, kube_api, ns, secure_cluster):
    client.CoreV1Api(kube_api).create_namespaced_secret(
        ns,
        client.V1Secret(
            metadata=client.V1ObjectMeta(name="dave-pw"), string_data={"pw": "chosen-by-dave-42"}
        ),
    )
    user = user_obj("dave", "secure", ns, acls=[acl("dave-", "topic", "All")])
    user["spec"]["authentication"]["password"] = {
        "valueFrom": {"secretKeyRef": {"name": "dave-pw", "key": "pw"}}
    }
    apply(kube, user, namespace=ns)
    wait_condition(kube, "KafkaUser", ns, "dave", "Ready")
    assert secret_value(kube, ns, "dave", "password") == b"chosen-by-dave-42"
    conn = {
        "bootstrap_servers": bootstrap(secure_cluster, "scram"),
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "dave",
        "sasl_plain_password": "chosen-by-dave-42",
    }
    KafkaAdminClient(**conn, request_timeout_ms=10000).close()  # authenticates, or raises


@hermetic
def test_tls_user_gets_a_clients_ca_certificate_that_the_mtls_listener_accepts(
    kube, ns, secure_cluster, tmp_path
):
    apply(kube, topic_obj("mtls-topic", "secure", ns), namespace=ns)
    wait_condition(kube, "KafkaTopic", ns, "mtls-topic", "Ready")
    apply(kube, user_obj("bob", "secure", ns, "tls", acls=[acl("mtls-topic", "topic", "All")]), namespace=ns)
    user = wait_condition(kube, "KafkaUser", ns, "bob", "Ready")
    assert user["status"]["username"] == "CN=bob"
    files = {}
    for key in ("user.crt", "user.key"):
        files[key] = tmp_path / key
        files[key].write_bytes(secret_value(kube, ns, "bob", key))
    assert secret_value(kube, ns, "bob", "ca.crt") == secret_value(
        kube, ns, "secure-clients-ca-cert", "ca.crt"
    )
    cafile = tmp_path / "ca.crt"
    cafile.write_bytes(secret_value(kube, ns, "secure-cluster-ca-cert", "ca.crt"))
    conn = {
        "bootstrap_servers": bootstrap(secure_cluster, "mtls"),
        "security_protocol": "SSL",
        "ssl_cafile": str(cafile),
        "ssl_certfile": str(files["user.crt"]),
        "ssl_keyfile": str(files["user.key"]),
    }
    produce(conn, "mtls-topic", [b"by certificate"])


@hermetic
def test_acls_on_a_cluster_without_authorization_are_refused(kube, ns, open_cluster):
    apply(kube, user_obj("carol", "open", ns, acls=[acl("t", "topic", "Read")]), namespace=ns)
    user = wait_condition(kube, "KafkaUser", ns, "carol", "NotReady")
    c = cond(user, "NotReady")
    assert (c["reason"], c["message"]) == (  # the User Operator wraps its errors (DESIGN.md §2)
        "ExecutionException",
        "io.strimzi.operator.common.ReconciliationException: io.strimzi.operator.common.model."
        "InvalidResourceException: Simple authorization ACL rules are configured but not supported in the "
        "Kafka cluster configuration.",
    )
    assert "username" not in user["status"] and "secret" not in user["status"]


# ---------------------------------------------------------------------------------------------------------
# hermetic: a spec change rolls the broker; deletion stops it
# ---------------------------------------------------------------------------------------------------------


def broker_pid(hermetic_dir: Path, ns: str, name: str, node: str = "dual-0") -> int:
    """The pid of a node's JVM; `node` is `<pool>-<node id>` (the clusters here have pool `dual`)."""
    return int((hermetic_dir / "standin" / ns / name / node / "broker.pid").read_text())


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


@hermetic
def test_spec_change_restarts_the_broker_keeping_topics_and_data(kube, ns, open_cluster, hermetic_dir):
    apply(kube, topic_obj("durable", "open", ns, partitions=2, replicas=1), namespace=ns)
    wait_condition(kube, "KafkaTopic", ns, "durable", "Ready")
    conn = {"bootstrap_servers": bootstrap(open_cluster, "plain")}
    plain_before = conn["bootstrap_servers"]
    produce(conn, "durable", [b"before-1", b"before-2"])
    pid_before = broker_pid(hermetic_dir, ns, "open")
    pod_before = kube.get("Pod", ns, "open-dual-0")["metadata"]["uid"]
    kafka = kube.get("Kafka", ns, "open")

    # a new listener and a broker config change: Strimzi rolls the pods for this
    listeners = OPEN_LISTENERS + [{"name": "extra", "port": 9096, "type": "internal", "tls": False}]
    started = time.monotonic()
    kube.patch(
        "Kafka",
        ns,
        "open",
        {"spec": {"kafka": {"listeners": listeners, "config": {"log.retention.hours": 200}}}},
    )
    generation = kafka["metadata"]["generation"] + 1
    after = wait_condition(kube, "Kafka", ns, "open", "Ready", generation=generation, timeout=120)
    print(f"spec change -> Ready again in {time.monotonic() - started:.1f}s")

    assert broker_pid(hermetic_dir, ns, "open") != pid_before and not alive(pid_before)
    assert after["status"]["clusterId"] == kafka["status"]["clusterId"]
    assert [lst["name"] for lst in after["status"]["listeners"]] == ["plain", "tls", "extra"]
    assert bootstrap(after, "plain") == plain_before  # addresses survive the roll
    extra = {"bootstrap_servers": bootstrap(after, "extra")}
    got = sorted(consume(extra, "durable", 2))
    assert got == [b"before-1", b"before-2"]
    pod = wait_for("pod open-dual-0 back after the roll", lambda: kube.get("Pod", ns, "open-dual-0"), 30)
    assert pod["metadata"]["uid"] != pod_before, "the pod was not rolled"


@hermetic
def test_a_deleted_kafka_pod_comes_back(kube, ns, open_cluster):
    uid = kube.get("Pod", ns, "open-dual-0")["metadata"]["uid"]
    kube.delete("Pod", ns, "open-dual-0")
    wait_for(
        "pod open-dual-0 re-created",
        lambda: (kube.get("Pod", ns, "open-dual-0") or {"metadata": {"uid": uid}})["metadata"]["uid"] != uid,
        30,
    )


@hermetic
def test_three_nodes_three_real_brokers_then_delete_stops_them(kube, operator, ns, hermetic_dir):
    apply(kube, pool_obj("doomed-dual", "doomed", replicas=3), kafka_obj("doomed"), namespace=ns)
    kafka = wait_condition(kube, "Kafka", ns, "doomed", "Ready", timeout=180)
    assert [c["type"] for c in kafka["status"]["conditions"]] == ["Ready"], kafka["status"]["conditions"]
    assert kube.get("KafkaNodePool", ns, "doomed-dual")["status"]["nodeIds"] == [0, 1, 2]
    pods = sorted(
        p["metadata"]["name"] for p in kube.list("Pod", ns, labels={"strimzi.io/name": "doomed-kafka"})
    )
    assert pods == ["doomed-doomed-dual-0", "doomed-doomed-dual-1", "doomed-doomed-dual-2"]

    pids = [broker_pid(hermetic_dir, ns, "doomed", f"doomed-dual-{i}") for i in range(3)]
    assert all(alive(pid) for pid in pids) and len(set(pids)) == 3
    kube.delete("Kafka", ns, "doomed")
    wait_for(f"broker pids {pids} to exit", lambda: not any(alive(pid) for pid in pids), 60)
    state = hermetic_dir / "standin" / ns / "doomed"
    wait_for(f"{state} removed", lambda: not state.exists(), 10)
    # the garbage collector removes what the Kafka owned
    wait_for(
        "doomed's pods and services gone",
        lambda: (
            not kube.list("Pod", ns, labels={"strimzi.io/cluster": "doomed"})
            and kube.get("Service", ns, "doomed-kafka-bootstrap") is None
        ),
        60,
    )


@hermetic
def test_a_config_the_broker_rejects_makes_the_kafka_notready_with_the_brokers_words(kube, operator, ns):
    bad = kafka_obj("badconfig", config={"log.retention.hours": "abc"})
    apply(kube, pool_obj("badconfig-dual", "badconfig"), bad, namespace=ns)

    def failure():  # NotReady/Creating comes first, while the broker is being tried
        c = cond(kube.get("Kafka", ns, "badconfig"), "NotReady")
        return c if c and c["reason"] != "Creating" else None

    c = wait_for("Kafka badconfig to fail", failure, 120)
    assert c["reason"] == "StandinBrokerError"
    assert "log.retention.hours" in c["message"], c["message"]


@hermetic
def test_an_operator_without_rbac_in_the_namespace_crash_loops(kube, kube_api, operator, ns):
    """The gate asks the API server (SubjectAccessReview), as the real operator would get Forbidden, and
    crash-loops the operator's pod as the real one exits (observed/rbac)."""
    core, apps = client.CoreV1Api(kube_api), client.AppsV1Api(kube_api)
    other = f"{ns}-rbac"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=other)))
    try:
        core.create_namespaced_service_account(
            other, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name="strimzi-cluster-operator"))
        )
        labels = {"name": "strimzi-cluster-operator"}
        container = client.V1Container(
            name="strimzi-cluster-operator",
            image="quay.io/strimzi/operator:1.2.0",
            env=[client.V1EnvVar(name="STRIMZI_NAMESPACE", value=other)],
        )
        apps.create_namespaced_deployment(
            other,
            client.V1Deployment(
                metadata=client.V1ObjectMeta(name="strimzi-cluster-operator"),
                spec=client.V1DeploymentSpec(
                    replicas=1,
                    selector=client.V1LabelSelector(match_labels=labels),
                    template=client.V1PodTemplateSpec(
                        metadata=client.V1ObjectMeta(labels=labels),
                        spec=client.V1PodSpec(
                            service_account_name="strimzi-cluster-operator", containers=[container]
                        ),
                    ),
                ),
            ),
        )

        def crash_looping():
            for pod in kube.list("Pod", other, labels=labels):
                for c in (pod.get("status") or {}).get("containerStatuses") or []:
                    if (c.get("state") or {}).get("waiting", {}).get("reason") == "CrashLoopBackOff":
                        return c
            return None

        crashed = wait_for("operator pod in CrashLoopBackOff", crash_looping, 60)
        assert crashed["lastState"]["terminated"]["exitCode"] == 1 and not crashed["ready"]
        apply(kube, kafka_obj("nopools"), namespace=other)
        time.sleep(6)
        assert not kube.get("Kafka", other, "nopools").get("status"), "acted without RBAC"

        # the RoleBinding of Strimzi's 023 file (kafkas & co): now the operator may, and acts
        kube._call(
            "POST",
            f"/apis/rbac.authorization.k8s.io/v1/namespaces/{other}/rolebindings",
            body={
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": {"name": "strimzi-cluster-operator-watched"},
                "subjects": [
                    {"kind": "ServiceAccount", "name": "strimzi-cluster-operator", "namespace": other}
                ],
                "roleRef": {
                    "kind": "ClusterRole",
                    "name": "strimzi-cluster-operator-watched",
                    "apiGroup": "rbac.authorization.k8s.io",
                },
            },
        )
        c = cond(wait_condition(kube, "Kafka", other, "nopools", "NotReady", timeout=60), "NotReady")
        assert c["reason"] == "InvalidConfigurationException"
        assert not crash_looping(), "the operator pod still crash-loops with its RoleBinding in place"
    finally:
        core.delete_namespace(other)
