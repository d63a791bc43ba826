"""Real Kafka 4.3.1 JVMs started by tests/hermetic/standin/broker.py, reached with kafka-python.

Needs Java 17+ and the Kafka jars (fetched once by fetch-kafka.sh). Two single-node clusters are shared per
module: an open one (plaintext, TLS, SCRAM listeners) and a secured one (StandardAuthorizer, SCRAM and mTLS
listeners); one more test runs a controller-only node with two broker-only ones.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from pathlib import Path

import psutil
import pytest
from cryptography import x509
from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import (
    ACL,
    ACLOperation,
    ACLPermissionType,
    ConfigResource,
    ConfigResourceType,
    KafkaAdminClient,
    NewTopic,
    ResourcePattern,
    ResourceType,
    ScramMechanism,
    UserScramCredentialUpsertion,
)
from kafka.errors import KafkaTimeoutError, TopicAuthorizationFailedError

from tests.hermetic.standin.broker import (
    Broker,
    BrokerError,
    BrokerSpec,
    ClusterSecrets,
    ListenerSpec,
    admin_config,
    fetch_kafka,
)
from tests.hermetic.standin.ca import ClusterCA

pytestmark = pytest.mark.hermetic

OPEN_SPEC = BrokerSpec(
    listeners=[
        ListenerSpec("plain"),
        ListenerSpec("tls", tls=True),
        ListenerSpec("scram", authentication="scram-sha-512"),
        ListenerSpec("scramtls", tls=True, authentication="scram-sha-512"),
    ],
    # a value of ours, and one key Strimzi (and so the stand-in) refuses to take from spec.kafka.config
    config={"log.retention.hours": 100, "listeners": "PLAINTEXT://0.0.0.0:9092"},
)
SECURED_SPEC = BrokerSpec(
    listeners=[
        ListenerSpec("scram", authentication="scram-sha-512"),
        ListenerSpec("mtls", tls=True, authentication="tls"),
    ],
    authorization_simple=True,
)
# A client that cannot connect should say so in seconds, not after kafka-python's 30 s default.
FAIL_FAST = {"bootstrap_timeout_ms": 2500}


@pytest.fixture(scope="module")
def libs() -> Path:
    return fetch_kafka()


@pytest.fixture(scope="module")
def ca(tmp_path_factory) -> ClusterCA:
    return ClusterCA(tmp_path_factory.mktemp("ca"))


@pytest.fixture(scope="module")
def open_broker(tmp_path_factory, ca, libs):
    b = Broker("open", tmp_path_factory.mktemp("open"), ca, libs_dir=libs)
    yield b
    b.stop()


@pytest.fixture
def broker(open_broker):
    """The module's open broker, running. Tests that stop it leave it stopped; the next one to need it
    starts it again, so a test can be run alone and the file in order starts the JVM only when needed."""
    if not open_broker.running:
        open_broker.start(OPEN_SPEC)
    return open_broker


@pytest.fixture(scope="module")
def secured(tmp_path_factory, ca, libs):
    b = Broker("secured", tmp_path_factory.mktemp("secured"), ca, libs_dir=libs)
    b.start(SECURED_SPEC)
    yield b
    b.stop()


def topic_name() -> str:
    return f"t-{uuid.uuid4().hex[:8]}"


def produce(conn: dict, topic: str, values: list[bytes]) -> None:
    producer = KafkaProducer(**conn, **FAIL_FAST)
    try:
        for v in values:
            producer.send(topic, v).get(timeout=30)
    finally:
        producer.close(timeout=5)


def consume(conn: dict, topic: str, count: int) -> list[bytes]:
    consumer = KafkaConsumer(
        topic, **conn, group_id=None, auto_offset_reset="earliest", consumer_timeout_ms=15000
    )
    try:
        out = []
        for record in consumer:
            out.append(record.value)
            if len(out) == count:
                break
        return out
    finally:
        consumer.close()


def add_scram_user(b: Broker, name: str, password: str) -> None:
    admin = KafkaAdminClient(**b.admin_config)
    try:
        result = admin.alter_user_scram_credentials(
            [UserScramCredentialUpsertion(name, ScramMechanism.SCRAM_SHA_512, password)]
        )
        assert result == {name: None}
    finally:
        admin.close()


def scram(b: Broker, listener: str, user: str, password: str, tls: bool = False, ca: ClusterCA | None = None):
    conn = {
        "bootstrap_servers": b.bootstrap(listener),
        "security_protocol": "SASL_SSL" if tls else "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": user,
        "sasl_plain_password": password,
    }
    if tls:
        conn["ssl_cafile"] = str(ca.cert_path)
    return conn


def stopped_after_first_start(b: Broker) -> None:
    """`b` stopped, with its storage formatted and its ports picked (whatever ran before)."""
    if not b.ports:
        b.start(OPEN_SPEC)
    b.stop()


def processes_of(b: Broker) -> list[int]:
    """PIDs of live processes naming the broker's state dir (what the cleanup script would kill)."""
    found = []
    for p in psutil.process_iter(["cmdline", "status"]):
        if p.info["status"] != psutil.STATUS_ZOMBIE and str(b.state_dir) in " ".join(p.info["cmdline"] or []):
            found.append(p.pid)
    return found


def eventually(check, timeout: float = 10):
    """ACLs reach the broker's authorizer through the metadata log: allow it a moment."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except TopicAuthorizationFailedError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


# -- the CA, without a broker --------------------------------------------------------------------------


def test_ca_is_reused_and_server_cert_names_127_0_0_1(tmp_path):
    first = ClusterCA(tmp_path / "ca")
    again = ClusterCA(tmp_path / "ca")
    assert again.ca_crt == first.ca_crt and again.ca_password == first.ca_password
    assert set(first.secret_data()) == {"ca.crt", "ca.p12", "ca.password"}
    cert_path, key_path = first.server_cert("b", ["my-cluster-kafka-bootstrap"])
    assert first.server_cert("b", ["my-cluster-kafka-bootstrap"]) == (cert_path, key_path)
    leaf = x509.load_pem_x509_certificate(cert_path.read_bytes())
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert set(san.get_values_for_type(x509.DNSName)) == {"localhost", "my-cluster-kafka-bootstrap"}
    assert leaf.issuer == x509.load_pem_x509_certificate(first.ca_crt).subject
    assert oct(key_path.stat().st_mode & 0o777) == "0o600"
    user = first.client_cert("my-user")
    assert x509.load_pem_x509_certificate(user.user_crt).subject.rfc4514_string() == "CN=my-user"


# -- the open broker ------------------------------------------------------------------------------------


def test_plaintext_produce_consume(broker):
    conn = {"bootstrap_servers": broker.bootstrap("plain")}
    topic = topic_name()
    values = [f"m{i}".encode() for i in range(10)]
    produce(conn, topic, values)
    assert consume(conn, topic, 10) == values


def test_tls_client_trusting_only_the_cluster_ca(broker, ca, tmp_path):
    # kafka-python checks the hostname by default: 127.0.0.1 must be an IP SAN of the broker certificate.
    conn = {
        "bootstrap_servers": broker.bootstrap("tls"),
        "security_protocol": "SSL",
        "ssl_cafile": str(ca.cert_path),
    }
    topic = topic_name()
    produce(conn, topic, [b"over tls"])
    assert consume(conn, topic, 1) == [b"over tls"]
    # ...and it is the CA that makes it work: a client trusting another CA is refused.
    other = ClusterCA(tmp_path / "other-ca")
    with pytest.raises(KafkaTimeoutError):
        produce({**conn, "ssl_cafile": str(other.cert_path)}, topic, [b"never"])


def test_scram_user_can_produce_and_wrong_password_is_refused(broker, ca):
    add_scram_user(broker, "alice", "alice-secret")
    topic = topic_name()
    produce(scram(broker, "scram", "alice", "alice-secret"), topic, [b"a"])
    produce(scram(broker, "scramtls", "alice", "alice-secret", tls=True, ca=ca), topic, [b"b"])
    assert consume(scram(broker, "scram", "alice", "alice-secret"), topic, 2) == [b"a", b"b"]
    with pytest.raises(KafkaTimeoutError):
        produce(scram(broker, "scram", "alice", "wrong"), topic, [b"never"])
    # the broker refused it for the reason we think
    assert "Failed authentication" in broker.log_tail(400)


def test_spec_config_applied_and_owned_keys_ignored(broker):
    assert broker.ignored_config == ["listeners"]
    admin = KafkaAdminClient(**broker.admin_config)
    try:
        configs = admin.describe_configs(
            [ConfigResource(ConfigResourceType.BROKER, "0")], config_filter="all"
        )
    finally:
        admin.close()
    retention = configs["broker"]["0"]["log.retention.hours"]
    assert retention["value"] == "100", retention


def test_restart_keeps_topics_data_cluster_id_and_ports(broker, ca, libs):
    topic = topic_name()
    conn = {"bootstrap_servers": broker.bootstrap("plain")}
    produce(conn, topic, [b"before restart"])
    cluster_id, ports = broker.cluster_id, broker.ports
    old_pid = broker.pid

    # a rolling update that adds a listener: the others keep their ports
    spec = BrokerSpec(listeners=[*OPEN_SPEC.listeners, ListenerSpec("extra")], config=OPEN_SPEC.config)
    broker.restart(spec)
    assert broker.pid != old_pid
    assert broker.cluster_id == cluster_id
    assert {k: v for k, v in broker.ports.items() if k in ports} == ports
    assert "extra" in broker.ports
    assert consume({"bootstrap_servers": broker.bootstrap("extra")}, topic, 1) == [b"before restart"]
    admin = KafkaAdminClient(**broker.admin_config)
    try:
        assert admin.describe_cluster()["cluster_id"] == cluster_id  # the id is the broker's, not just ours
    finally:
        admin.close()

    # a stand-in that crashed and came back: a new Broker object on the same state dir replaces the JVM
    # left running (it holds the data lock and the ports) and finds the same cluster
    again = Broker("open", broker.state_dir, ca, libs_dir=libs)
    try:
        again.start(OPEN_SPEC)
        assert not broker.running  # the leftover JVM is gone
        assert again.cluster_id == cluster_id and again.ports == broker.ports
        assert consume(conn, topic, 1) == [b"before restart"]
    finally:
        again.stop()


def test_port_taken_while_down_moves_the_node_to_a_new_address(open_broker):
    # Another process binds the plain listener's port on the node's address while the node is down.
    stopped_after_first_start(open_broker)
    old, plain = open_broker.address, open_broker.ports["plain"]
    squatter = socket.socket()
    squatter.bind((old, plain))
    squatter.listen()
    try:
        open_broker.start(OPEN_SPEC)
        assert open_broker.address != old and open_broker.ports["plain"] == plain  # a pod's ports stay
        assert f"a port on {old} is taken" in open_broker.log_tail(1000)
        topic = topic_name()
        produce({"bootstrap_servers": open_broker.bootstrap("plain")}, topic, [b"new address"])
        assert consume({"bootstrap_servers": open_broker.bootstrap("plain")}, topic, 1) == [b"new address"]
    finally:
        squatter.close()


def test_stop_leaves_no_process(broker):
    pid = broker.pid
    broker.stop()
    broker.stop()  # idempotent
    assert not broker.running and broker.pid is None
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert processes_of(broker) == []
    assert not (broker.state_dir / "broker.pid").exists()


def test_start_timeout_stops_the_jvm(open_broker):
    stopped_after_first_start(open_broker)
    with pytest.raises(BrokerError, match="not ready after"):
        open_broker.start(OPEN_SPEC, timeout=0.5)  # formatted already: all of it goes to the JVM, too little
    assert not open_broker.running
    assert processes_of(open_broker) == []


# -- the secured broker (StandardAuthorizer) ------------------------------------------------------------


def test_user_without_acl_is_denied_until_an_acl_is_added(secured):
    topic = topic_name()
    admin = KafkaAdminClient(**secured.admin_config)
    try:
        admin.create_topics([NewTopic(topic, 1, 1)])
        add_scram_user(secured, "bob", "bob-secret")
        conn = scram(secured, "scram", "bob", "bob-secret")
        with pytest.raises(TopicAuthorizationFailedError):
            produce(conn, topic, [b"denied"])
        acl = ACL(
            "User:bob",
            "*",
            ACLOperation.WRITE,
            ACLPermissionType.ALLOW,
            ResourcePattern(ResourceType.TOPIC, topic),
        )
        assert admin.create_acls([acl])["failed"] == []
        eventually(lambda: produce(conn, topic, [b"allowed"]))
    finally:
        admin.close()
    # the admin (a super user) reads it back
    assert consume(secured.admin_config, topic, 1) == [b"allowed"]


def test_tls_client_authentication_gives_principal_cn(secured, ca, tmp_path):
    cert = ca.client_cert("carol")
    (tmp_path / "user.crt").write_bytes(cert.user_crt)
    (tmp_path / "user.key").write_bytes(cert.user_key)
    conn = {
        "bootstrap_servers": secured.bootstrap("mtls"),
        "security_protocol": "SSL",
        "ssl_cafile": str(ca.cert_path),
    }
    topic = topic_name()
    with pytest.raises(KafkaTimeoutError):
        produce(conn, topic, [b"no client certificate"])
    conn.update(ssl_certfile=str(tmp_path / "user.crt"), ssl_keyfile=str(tmp_path / "user.key"))
    with pytest.raises(TopicAuthorizationFailedError):  # authenticated, but no ACL yet
        produce(conn, topic, [b"no acl"])
    admin = KafkaAdminClient(**secured.admin_config)
    try:
        for op in (
            ACLOperation.CREATE,
            ACLOperation.WRITE,
        ):  # CREATE: the topic is auto-created on first write
            acl = ACL(
                "User:CN=carol", "*", op, ACLPermissionType.ALLOW, ResourcePattern(ResourceType.TOPIC, topic)
            )
            assert admin.create_acls([acl])["failed"] == []
    finally:
        admin.close()
    eventually(lambda: produce(conn, topic, [b"as CN=carol"]))


# -- failures ---------------------------------------------------------------------------------------------


def test_bad_config_fails_with_the_log_tail(tmp_path, ca, libs):
    b = Broker("bad", tmp_path / "bad", ca, libs_dir=libs)
    started = time.monotonic()
    with pytest.raises(BrokerError) as err:
        b.start(BrokerSpec([ListenerSpec("plain")], config={"num.partitions": "many"}), timeout=60)
    assert "num.partitions" in str(err.value)  # Kafka's own complaint, from the log tail
    assert time.monotonic() - started < 30  # a JVM that exits is reported at once, not at the timeout
    assert not b.running


def test_listener_name_clash_is_refused(tmp_path, ca, libs):
    b = Broker("clash", tmp_path / "clash", ca, libs_dir=libs)
    with pytest.raises(BrokerError, match="clash"):
        b.start(BrokerSpec([ListenerSpec("a-b"), ListenerSpec("a_b")]))
    assert not b.running


def test_start_twice_is_refused(secured):
    with pytest.raises(BrokerError, match="already running"):
        secured.start(SECURED_SPEC)


def test_unknown_listener_is_named(secured):
    with pytest.raises(BrokerError, match="no listener named 'nope'"):
        secured.bootstrap("nope")


def test_java_command_line_names_the_state_dir(secured):
    cmdline = " ".join(psutil.Process(secured.pid).cmdline())
    assert str(secured.state_dir) in cmdline
    assert os.getpgid(secured.pid) == secured.pid  # its own process group, stopped as one


# -- roles: a controller-only node and broker-only nodes ------------------------------------------------


def test_controller_only_and_broker_only_nodes_form_one_cluster(tmp_path, ca, libs):
    """As pools with `roles: [controller]` and `roles: [broker]`: the quorum is the controller alone, the
    brokers replicate between their own addresses, and the controller serves no client listener."""
    secrets = ClusterSecrets(tmp_path / "cluster.json")
    controller = Broker("ctl", tmp_path / "ctl", ca, libs, node_id=0, roles=("controller",), secrets=secrets)
    brokers = [
        Broker(f"b{i}", tmp_path / f"b{i}", ca, libs, node_id=i, roles=("broker",), secrets=secrets)
        for i in (1, 2)
    ]
    listeners = [ListenerSpec("plain", port=9092)]
    voters = ((0, controller.prepare(BrokerSpec(listeners))),)
    spec = BrokerSpec(listeners, voters=voters, brokers=2)
    nodes = [controller, *brokers]
    threads = [threading.Thread(target=n.start, args=(spec, 120)) for n in nodes]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert all(n.running for n in nodes), [n.log_tail(5) for n in nodes if not n.running]
        assert len({n.address for n in nodes}) == 3
        assert "process.roles=controller\n" in (controller.state_dir / "server.properties").read_text()
        assert not socket_open(controller.address, 9092)  # no client listener on a controller
        admin = KafkaAdminClient(**admin_config([b.admin_address for b in brokers], secrets))
        try:
            assert sorted(b["broker_id"] for b in admin.describe_cluster()["brokers"]) == [1, 2]
            topic = topic_name()
            admin.create_topics([NewTopic(topic, 2, 2)])
        finally:
            admin.close()
        conn = {"bootstrap_servers": brokers[0].bootstrap("plain")}
        produce(conn, topic, [b"two copies"])
        assert consume({"bootstrap_servers": brokers[1].bootstrap("plain")}, topic, 1) == [b"two copies"]
    finally:
        for n in nodes:
            n.stop()


def socket_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False
