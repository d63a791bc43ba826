"""strimzi.py without a cluster: the operator install rewrite (against Strimzi 1.2.0's real install files),
builders, load_manifest, bootstrap_servers and the fail-fast rules."""

from __future__ import annotations

import functools
import http.server
import threading
from pathlib import Path

import pytest
import yaml

from kafkalab import kube, strimzi
from kafkalab.errors import KafkalabError, NotFound, ResourceFailed, WaitTimeout

ROOT = Path(__file__).resolve().parents[2]
INSTALL = ROOT.parent / "shared" / "strimzi" / "1.2.0" / "install" / "cluster-operator"
needs_install = pytest.mark.skipif(
    not INSTALL.is_dir(), reason=f"Strimzi 1.2.0 install files not at {INSTALL}"
)


def by(objs, kind, name=None, namespace=None):
    return [
        o
        for o in objs
        if o["kind"] == kind
        and (name is None or o["metadata"]["name"] == name)
        and (namespace is None or o["metadata"].get("namespace") == namespace)
    ]


def operator_env(objs):
    (dep,) = by(objs, "Deployment", strimzi.OPERATOR_DEPLOYMENT)
    (container,) = dep["spec"]["template"]["spec"]["containers"]
    return container, {e["name"]: e for e in container["env"]}


@needs_install
def test_rewrite_moves_everything_from_myproject_to_the_operator_namespace():
    objs = strimzi.operator_manifests("ops", ["kafka", "team-b"], INSTALL)
    upstream = [o for f in sorted(INSTALL.glob("*.yaml")) for o in kube.load_yaml(f)]
    assert len(objs) == len(upstream) + 2 * 3  # three RoleBindings per watched namespace
    for obj in objs:
        ns = obj["metadata"].get("namespace")
        if obj["kind"] in ("ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition"):
            assert ns is None, obj["metadata"]["name"]
        elif obj in objs[: len(upstream)]:
            assert ns == "ops", (obj["kind"], obj["metadata"]["name"])
        for subject in obj.get("subjects") or []:
            assert subject["namespace"] == "ops"
    assert "myproject" not in yaml.safe_dump([{k: o[k] for k in o if k != "spec"} for o in objs])
    # what files 021, 030 and 033 bind cluster-wide now points at the operator's service account
    assert len([o for o in objs if o["kind"] == "ClusterRoleBinding"]) == 3


@needs_install
def test_rewrite_sets_watched_namespaces_and_memory():
    objs = strimzi.operator_manifests("ops", ["kafka", "team-b"], INSTALL, memory_limit="1Gi")
    container, env = operator_env(objs)
    assert env["STRIMZI_NAMESPACE"] == {"name": "STRIMZI_NAMESPACE", "value": "kafka,team-b"}
    assert container["resources"]["limits"]["memory"] == "1Gi"
    assert container["resources"]["requests"]["memory"] == "1Gi"
    assert container["image"] == "quay.io/strimzi/operator:1.2.0"


@needs_install
def test_each_watched_namespace_gets_rolebindings_020_023_031():
    objs = strimzi.operator_manifests("ops", ["kafka", "team-b"], INSTALL)
    for ns in ("kafka", "team-b"):
        bindings = by(objs, "RoleBinding", namespace=ns)
        assert sorted(b["roleRef"]["name"] for b in bindings) == [
            "strimzi-cluster-operator-namespaced",
            "strimzi-cluster-operator-watched",
            "strimzi-entity-operator",
        ]
        assert all(s["namespace"] == "ops" for b in bindings for s in b["subjects"])
    # leader election (022) stays in the operator's namespace only
    assert by(objs, "RoleBinding", "strimzi-cluster-operator-leader-election", "ops")
    assert not by(objs, "RoleBinding", "strimzi-cluster-operator-leader-election", "kafka")


@needs_install
def test_watching_only_its_own_namespace_adds_nothing():
    objs = strimzi.operator_manifests("kafka", ["kafka"], INSTALL)
    assert len(by(objs, "RoleBinding")) == 4
    assert operator_env(objs)[1]["STRIMZI_NAMESPACE"]["value"] == "kafka"


@needs_install
def test_watching_all_namespaces_uses_cluster_role_bindings():
    objs = strimzi.operator_manifests("ops", ["*"], INSTALL)
    names = {o["metadata"]["name"] for o in by(objs, "ClusterRoleBinding")}
    assert {
        "strimzi-cluster-operator-namespaced",
        "strimzi-cluster-operator-watched",
        "strimzi-cluster-operator-entity-operator-delegation",
    } <= names
    assert operator_env(objs)[1]["STRIMZI_NAMESPACE"]["value"] == "*"


@needs_install
def test_single_file_and_url_sources_give_the_same_objects(tmp_path, monkeypatch):
    monkeypatch.setenv("KAFKALAB_CACHE", str(tmp_path / "cache"))  # never the user's cache
    bundle = tmp_path / "strimzi-cluster-operator-1.2.0.yaml"
    bundle.write_text("\n---\n".join(f.read_text() for f in sorted(INSTALL.glob("*.yaml"))))
    from_dir = strimzi.operator_manifests("ops", ["kafka"], INSTALL)
    assert strimzi.operator_manifests("ops", ["kafka"], bundle) == from_dir

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/{bundle.name}"
        assert strimzi.operator_manifests("ops", ["kafka"], url) == from_dir
        with pytest.raises(NotFound, match="cannot download the Strimzi 1.2.0 install YAML"):
            strimzi.operator_manifests("ops", ["kafka"], url + ".missing")
    finally:
        server.shutdown()


@needs_install
def test_another_strimzi_version_is_refused(tmp_path):
    text = (INSTALL / "060-Deployment-strimzi-cluster-operator.yaml").read_text()
    (tmp_path / "op.yaml").write_text(
        text.replace("quay.io/strimzi/operator:1.2.0", "quay.io/strimzi/operator:0.45.0")
    )
    with pytest.raises(KafkalabError, match="installs Strimzi 0.45.0 .* written for Strimzi 1.2.0"):
        strimzi.operator_manifests(source=tmp_path / "op.yaml")


def test_sources_that_are_not_an_operator_install(tmp_path):
    with pytest.raises(NotFound, match="neither a URL, a YAML file nor a directory"):
        strimzi.operator_manifests(source=tmp_path / "absent")
    (tmp_path / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
    with pytest.raises(KafkalabError, match="no Deployment strimzi-cluster-operator"):
        strimzi.operator_manifests(source=tmp_path / "cm.yaml")


# ---- builders and manifests


def test_builders_make_the_single_node_manifest():
    pool, kafka = strimzi.load_manifest("kafka-single-node.yaml", cluster="c1", namespace="ns")
    assert strimzi.node_pool("dual-role", "c1", namespace="ns") == pool
    assert strimzi.kafka("c1", namespace="ns") == kafka


def test_builders_make_the_three_broker_manifest():
    pool, kafka = strimzi.load_manifest("kafka-three-brokers.yaml")
    assert (
        strimzi.node_pool(
            "dual-role", "my-cluster", replicas=3, memory="768Mi", heap="384m", cpu_request="200m"
        )
        == pool
    )
    expected = strimzi.kafka("my-cluster", replicas=3)
    # its node ports are 20 above the builder's (32120, 32020 + id): it runs next to my-cluster (notebook 08)
    (external,) = [x for x in expected["spec"]["kafka"]["listeners"] if x["name"] == "external"]
    external["configuration"]["bootstrap"]["nodePort"] += 20
    for b in external["configuration"]["brokers"]:
        b["nodePort"] += 20
        b["advertisedPort"] += 20
    assert expected == kafka


def test_kafka_builder_security_options():
    k = strimzi.kafka(
        "s",
        authentication="scram-sha-512",
        authorization="simple",
        config={"auto.create.topics.enable": False},
    )
    assert all(lst["authentication"] == {"type": "scram-sha-512"} for lst in k["spec"]["kafka"]["listeners"])
    assert k["spec"]["kafka"]["authorization"] == {"type": "simple"}
    assert k["spec"]["kafka"]["config"]["auto.create.topics.enable"] is False
    assert "entityOperator" not in strimzi.kafka("s", entity_operator=False)["spec"]


def test_topic_and_user_builders_match_the_manifests():
    (t,) = strimzi.load_manifest("topic.yaml")
    assert (
        strimzi.topic("my-topic", "my-cluster", 3, 1, {"retention.ms": 7200000, "segment.bytes": 1073741824})
        == t
    )
    (u,) = strimzi.load_manifest("user.yaml")
    acls = [
        strimzi.acl("topic", "my-topic", ["Describe", "Read"]),
        strimzi.acl("group", "my-group", ["Read"]),
        strimzi.acl("topic", "my-topic", ["Describe", "Write"]),
    ]
    assert strimzi.user("my-user", "my-cluster", acls=acls) == u
    assert "authorization" not in strimzi.user("plain", "my-cluster")["spec"]


def test_load_manifest_renames_for_this_run():
    (u,) = strimzi.load_manifest(
        "user.yaml", cluster="c9", namespace="team", name="alice", topic="orders", group="g1"
    )
    assert u["metadata"] == {"name": "alice", "namespace": "team", "labels": {"strimzi.io/cluster": "c9"}}
    resources = [(r["resource"]["type"], r["resource"]["name"]) for r in u["spec"]["authorization"]["acls"]]
    assert resources == [("topic", "orders"), ("group", "g1"), ("topic", "orders")]
    pool, kafka = strimzi.load_manifest("kafka-single-node.yaml", cluster="c9")
    assert kafka["metadata"]["name"] == "c9" and pool["metadata"]["name"] == "dual-role"
    assert pool["metadata"]["labels"] == {"strimzi.io/cluster": "c9"}


def test_unknown_manifest_lists_the_known_ones():
    with pytest.raises(NotFound, match="no manifest kafka.yaml") as e:
        strimzi.load_manifest("kafka.yaml")
    assert "kafka-single-node.yaml" in e.value.fix and "topic.yaml" in e.value.fix


# ---- status readers (kube.get replaced: the edge to the API server)


def test_bootstrap_servers(monkeypatch):
    status = {
        "listeners": [
            {"name": "plain", "bootstrapServers": "b:9092"},
            {"name": "external", "bootstrapServers": "localhost:32100"},
        ]
    }
    monkeypatch.setattr(kube, "get", lambda *a, **k: {"kind": "Kafka", "status": status})
    assert strimzi.bootstrap_servers("c", "ns") == "localhost:32100"
    assert strimzi.bootstrap_servers("c", "ns", "plain") == "b:9092"
    with pytest.raises(NotFound, match="has no listener named 'tls'; its listeners are: plain, external"):
        strimzi.bootstrap_servers("c", "ns", "tls")


def test_bootstrap_servers_before_ready_and_without_kafka(monkeypatch):
    monkeypatch.setattr(kube, "get", lambda *a, **k: {"kind": "Kafka", "status": {}})
    with pytest.raises(NotFound, match="reports no listeners yet") as e:
        strimzi.bootstrap_servers("c", "ns")
    assert "wait_kafka_ready" in e.value.fix
    monkeypatch.setattr(kube, "get", lambda *a, **k: None)
    with pytest.raises(NotFound, match="Kafka ns/c does not exist"):
        strimzi.bootstrap_servers("c", "ns")


def status(*conds, generation=1, observed=1):
    return {
        "metadata": {"generation": generation},
        "status": {"observedGeneration": observed, "conditions": list(conds)},
    }


def notready(reason, message="m"):
    return {"type": "NotReady", "status": "True", "reason": reason, "message": message}


# Reasons and messages as Strimzi 1.2.0 writes them (DESIGN.md §2; observed/ recordings).
TIMEOUT = notready(
    "StrimziTimeoutException",
    "Exceeded timeout of 300000ms while waiting for Pods resource my-cluster-dual-role-0 in namespace kafka "
    "to be ready",
)
USER_REFUSED = notready(
    "ExecutionException",
    "io.strimzi.operator.common.ReconciliationException: io.strimzi.operator.common.model."
    "InvalidResourceException: Simple authorization ACL rules are configured but not supported in the Kafka "
    "cluster configuration.",
)


@pytest.mark.parametrize(
    "reason",
    [
        "InvalidResourceException",
        "InvalidConfigurationException",
        "UnsupportedKafkaVersionException",
        "KafkaUpgradeException",
    ],
)
def test_kafka_wait_fails_fast_on_reasons_final_for_the_generation(reason):
    assert strimzi._kafka_failed(status(notready(reason, "why"))) == (reason, "why")
    assert strimzi._kafka_failed(status(notready(reason), generation=2)) is None  # about an older spec


@pytest.mark.parametrize(
    "cond",
    [
        notready("Creating", "Kafka cluster is being deployed"),
        TIMEOUT,
        notready("KafkaException", "Failed to create new KafkaAdminClient"),
        notready("UnforceableProblem", "An error while trying to determine the active controller"),
        notready("SomethingNew"),
    ],
)
def test_kafka_wait_treats_other_reasons_as_transient(cond):
    assert strimzi._kafka_failed(status(cond)) is None


def test_user_wait_fails_fast_only_on_a_wrapped_invalid_resource():
    assert strimzi._user_failed(status(USER_REFUSED)) == ("ExecutionException", USER_REFUSED["message"])
    wrapped_timeout = notready("ExecutionException", "java.util.concurrent.TimeoutException: admin client")
    assert strimzi._user_failed(status(wrapped_timeout)) is None
    assert strimzi._user_failed(status(USER_REFUSED, generation=2)) is None


def test_topic_wait_fails_fast_on_ready_false():
    refused = {
        "type": "Ready",
        "status": "False",
        "reason": "NotSupported",
        "message": "Decreasing partitions not supported",
    }
    assert strimzi._topic_failed(status(refused)) == ("NotSupported", "Decreasing partitions not supported")
    assert strimzi._topic_failed(status(refused, generation=2)) is None


def test_ready_needs_the_latest_generation():
    ready = {"type": "Ready", "status": "True"}
    assert strimzi._ready(status(ready)) and not strimzi._ready(status(ready, generation=2))


class FakeWatch:
    """kube._watch's edge: hands `done` the given states in turn, then the deadline passes."""

    def __init__(self, states):
        self.states = states

    def __call__(self, res, name, namespace, done, deadline, progress, context, pods=None):
        for state in self.states:
            if done(state):
                return state
        raise kube._Expired(self.states[-1])


def wait_with(monkeypatch, states, fn=None, **kw):
    monkeypatch.setattr(kube, "_resource", lambda *a: object())
    monkeypatch.setattr(kube, "_namespace", lambda res, ns, ctx: ns)
    monkeypatch.setattr(kube, "_watch", FakeWatch(states))
    monkeypatch.setattr(kube, "diagnose", lambda *a, **k: "DIAGNOSIS: NotReady StrimziTimeoutException")
    monkeypatch.setattr(kube, "get", lambda *a, **k: {"metadata": {"labels": {"strimzi.io/cluster": "c"}}})
    return (fn or strimzi.wait_kafka_ready)("c", "ns", timeout=900, **kw)


def test_a_strimzi_timeout_then_ready_is_a_successful_wait(monkeypatch):
    ready = status({"type": "Ready", "status": "True"})
    assert wait_with(monkeypatch, [status(TIMEOUT), status(notready("KafkaException")), ready]) is ready


def test_a_strimzi_timeout_until_the_callers_timeout_raises_with_the_diagnosis(monkeypatch):
    with pytest.raises(WaitTimeout) as e:
        wait_with(monkeypatch, [status(TIMEOUT)])
    assert "is not ready after 900s" in e.value.summary
    assert "StrimziTimeoutException" in str(e.value)


def test_a_refused_spec_fails_the_wait_at_once(monkeypatch):
    refused = notready("UnsupportedKafkaVersionException", "Unsupported Kafka.spec.kafka.version: 4.1.0.")
    with pytest.raises(ResourceFailed) as e:
        wait_with(monkeypatch, [status(refused), status({"type": "Ready", "status": "True"})])
    assert (e.value.reason, e.value.message) == (refused["reason"], refused["message"])


def test_a_refused_user_fails_its_wait_with_strimzis_message(monkeypatch):
    with pytest.raises(ResourceFailed) as e:
        wait_with(monkeypatch, [status(USER_REFUSED)], fn=strimzi.wait_user_ready)
    assert e.value.reason == "ExecutionException"
    assert "ACL rules are configured but not supported" in str(e.value)
