"""kafkalab.clients against the hermetic cluster: real API server, the Strimzi stand-in, real Kafka brokers.

Two Kafka clusters, each in a namespace of our own (their node pools are both called `dual-role`, and pool
names are unique per namespace), watched by an operator installed in a third namespace of our own, so the
notebooks' `strimzi`/`kafka` namespaces on the same cluster are not touched: an open cluster and one with
SCRAM-SHA-512 and simple authorization. Everything is deleted at the end.
"""

from __future__ import annotations

import base64
import os
import uuid

import pytest
from kafka.errors import GroupAuthorizationFailedError, TopicAuthorizationFailedError

from kafkalab import clients, display, kube, strimzi
from kafkalab.errors import KafkalabError, NotFound
from tests.hermetic.hostaddr import reachable
from tests.hermetic.source import strimzi_source

pytestmark = pytest.mark.hermetic

NS = "kl-clients"
SECURE_NS = "kl-clients-secure"
OPERATOR_NS = "kl-clients-op"
OPEN, SECURE = "open-cluster", "secure-cluster"
SOURCE = strimzi_source()
TIMEOUT = 240
MTLS_LISTENER = {
    "name": "mtls",
    "port": 9095,
    "type": "internal",
    "tls": True,
    "authentication": {"type": "tls"},
}


@pytest.fixture(scope="module")
def clusters(kubeconfig, request):
    kube.reset()  # KUBECONFIG was just set by the kubeconfig fixture

    def cleanup():  # also after a failed setup: leave nothing behind on a shared cluster
        for ns in (NS, SECURE_NS, OPERATOR_NS):
            kube.delete_namespace(ns, timeout=180)

    request.addfinalizer(cleanup)
    strimzi.install_operator(OPERATOR_NS, (NS, SECURE_NS), source=SOURCE, timeout=TIMEOUT)
    kube.apply(strimzi.load_manifest("kafka-single-node.yaml", cluster=OPEN, namespace=NS))
    secured = strimzi.load_manifest("kafka-secured.yaml", cluster=SECURE, namespace=SECURE_NS)
    kafka = next(o for o in secured if o["kind"] == "Kafka")
    kafka["spec"]["kafka"]["listeners"].append(MTLS_LISTENER)  # for the tls-client-authentication test
    kube.apply(secured)
    strimzi.wait_kafka_ready(OPEN, NS, timeout=TIMEOUT)
    strimzi.wait_kafka_ready(SECURE, SECURE_NS, timeout=TIMEOUT)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_external_listener_100_records_none_lost(clusters):
    conn = clients.connection(OPEN, NS)  # listener="external"
    assert conn["security_protocol"] == "PLAINTEXT"
    assert conn["bootstrap_servers"] == strimzi.bootstrap_servers(OPEN, NS)
    topic = unique("orders")
    strimzi.ensure_topic(topic, OPEN, NS, partitions=3, timeout=120)

    sent = {f"key-{i}": f"value-{i}" for i in range(100)}
    assert clients.produce(conn, topic, sent.items(), timeout=60) == 100

    group = unique("readers")
    records = clients.consume(conn, topic, 100, group=group, timeout=60)
    got = {r.key.decode(): r.value.decode() for r in records}
    assert len(records) == 100, "duplicates or missing records"
    assert got == sent  # none lost, none changed
    assert {r.partition for r in records} == {0, 1, 2}
    # the group's offsets were committed right after the last record: nothing is left for it
    assert clients.consume(conn, topic, 1, group=group, timeout=5) == []


def test_consume_stops_at_count_and_at_timeout(clusters):
    conn = clients.connection(OPEN, NS)
    topic = unique("small")
    strimzi.ensure_topic(topic, OPEN, NS, partitions=1, timeout=120)
    clients.produce(conn, topic, [(None, f"m{i}") for i in range(10)])
    group = unique("g")
    first = clients.consume(conn, topic, 4, group=group, timeout=30)
    assert [r.value for r in first] == [b"m0", b"m1", b"m2", b"m3"]
    rest = clients.consume(conn, topic, 100, group=group, timeout=8)  # only 6 left: ends at the timeout
    assert [r.value for r in rest] == [f"m{i}".encode() for i in range(4, 10)]
    # without a group: reads from the beginning, commits nothing
    assert len(clients.consume(conn, topic, 10, timeout=30)) == 10


def test_tls_listener_with_the_cluster_ca(clusters):
    conn = clients.connection(OPEN, NS, listener="tls")
    assert conn["bootstrap_servers"] == f"{OPEN}-kafka-bootstrap.{NS}.svc:9093"  # Strimzi's status address
    reachable(conn, OPEN, NS, "tls")  # ... which the host cannot resolve: the stand-in's test-only address
    assert conn["security_protocol"] == "SSL"
    assert oct(os.stat(conn["ssl_cafile"]).st_mode & 0o777) == "0o600"
    topic = unique("tls")
    strimzi.ensure_topic(topic, OPEN, NS, partitions=1, timeout=120)
    assert clients.produce(conn, topic, [(b"k", b"over tls")]) == 1
    assert [r.value for r in clients.consume(conn, topic, 1, timeout=30)] == [b"over tls"]


def test_scram_user_with_acls_and_a_denied_one(clusters):
    topic, group = unique("payments"), unique("payments-app")
    strimzi.ensure_topic(topic, SECURE, SECURE_NS, partitions=1, timeout=120)
    rules = [
        strimzi.acl("topic", topic, ["Describe", "Read", "Write"]),
        strimzi.acl("group", group, ["Read"]),
    ]
    strimzi.ensure_user("alice", SECURE, SECURE_NS, acls=rules, timeout=120)
    strimzi.ensure_user("mallory", SECURE, SECURE_NS, acls=[], timeout=120)

    conn = clients.connection(SECURE, SECURE_NS, user="alice")
    assert conn["security_protocol"] == "SASL_PLAINTEXT" and conn["sasl_mechanism"] == "SCRAM-SHA-512"
    password = conn["sasl_plain_password"]
    secret = kube.get("v1", "Secret", "alice", SECURE_NS)
    assert password == base64.b64decode(secret["data"]["password"]).decode()
    for text in (repr(conn), str(conn), clients.mask(password)):
        assert password not in text and password[2:6] not in text

    assert clients.produce(conn, topic, [(f"k{i}", f"v{i}") for i in range(20)], timeout=60) == 20
    assert len(clients.consume(conn, topic, 20, group=group, timeout=60)) == 20

    denied = clients.connection(SECURE, SECURE_NS, user="mallory")
    with pytest.raises(TopicAuthorizationFailedError):
        clients.produce(denied, topic, [(None, "not allowed")], timeout=20)
    with pytest.raises((TopicAuthorizationFailedError, GroupAuthorizationFailedError)):
        clients.consume(denied, topic, 1, group=unique("g"), timeout=20)


def test_tls_client_authentication_user(clusters):
    topic = unique("audit")
    strimzi.ensure_topic(topic, SECURE, SECURE_NS, partitions=1, timeout=120)
    rules = [strimzi.acl("topic", topic, ["Describe", "Read", "Write"])]
    user = strimzi.ensure_user("bob", SECURE, SECURE_NS, authentication="tls", acls=rules, timeout=120)
    assert user["status"]["username"] == "CN=bob"

    conn = reachable(
        clients.connection(SECURE, SECURE_NS, listener="mtls", user="bob"), SECURE, SECURE_NS, "mtls"
    )
    assert conn["security_protocol"] == "SSL"
    for key in ("ssl_cafile", "ssl_certfile", "ssl_keyfile"):
        assert oct(os.stat(conn[key]).st_mode & 0o777) == "0o600"
    assert "PRIVATE KEY" not in repr(conn)  # paths only
    assert clients.produce(conn, topic, [(b"who", b"bob, by certificate")]) == 1
    assert [r.value for r in clients.consume(conn, topic, 1, timeout=30)] == [b"bob, by certificate"]


def test_scram_listener_needs_a_user(clusters):
    with pytest.raises(KafkalabError, match="requires scram-sha-512 authentication"):
        clients.connection(SECURE, SECURE_NS)


def connection_without_secret(cluster: str, namespace: str, user: str, attempts: int = 5) -> NotFound:
    """Delete the user's Secret and ask for a connection: the NotFound it raises.

    A User Operator re-makes a deleted Secret on its next reconcile of the user (Strimzi's does; the stand-in
    does when the cluster kicks its users), which may land between the delete and the read: then try again.
    """
    ref = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": user, "namespace": namespace}}
    for _ in range(attempts):
        kube.delete(ref)
        try:
            clients.connection(cluster, namespace, user=user)
        except NotFound as e:
            return e
    pytest.fail(f"Secret {namespace}/{user} was re-made before every one of {attempts} reads")


def test_missing_user_secret_is_named(clusters):
    strimzi.ensure_user("carol", SECURE, SECURE_NS, timeout=120)
    error = connection_without_secret(SECURE, SECURE_NS, "carol")
    assert error.obj == f"Secret {SECURE_NS}/carol"
    assert "User Operator" in error.fix


def test_user_without_credentials_is_a_clear_error(clusters):
    # A user labelled for a cluster that is not in its namespace: no User Operator takes it, so it never
    # becomes Ready and has no Secret (the wrong-`strimzi.io/cluster`-label mistake).
    kube.apply(strimzi.user("ghost", OPEN, namespace=SECURE_NS))
    with pytest.raises(KafkalabError) as e:
        clients.connection(SECURE, SECURE_NS, user="ghost")
    assert e.value.obj == f"KafkaUser {SECURE_NS}/ghost"
    assert "is not Ready, so it has no credentials yet" in e.value.summary
    assert "wait_user_ready" in e.value.fix

    with pytest.raises(NotFound, match="'nobody' does not exist"):
        clients.connection(SECURE, SECURE_NS, user="nobody")

    # ACLs on a cluster without authorization: Strimzi (and the stand-in) refuse the user at once
    kube.apply(strimzi.user("dave", OPEN, acls=[strimzi.acl("topic", "*", ["Read"])], namespace=NS))
    with pytest.raises(KafkalabError, match="Simple authorization ACL rules"):
        strimzi.wait_user_ready("dave", NS, timeout=60)
    with pytest.raises(
        KafkalabError, match="would be ignored"
    ):  # that cluster's listener has no authentication
        clients.connection(OPEN, NS, listener="external", user="dave")


def test_watch_pods_on_the_real_api(clusters, capsys):
    # display.watch_pods is watch-based; the stand-in's broker pods exist and are Running on paper
    def running(pods):
        return bool(pods) and all(p["status"].get("phase") == "Running" for p in pods)

    pods = display.watch_pods(NS, f"strimzi.io/cluster={OPEN}", until=running, timeout=60, live=False)
    assert pods and running(pods)
    assert f"{OPEN}-dual-role-0" in capsys.readouterr().out
