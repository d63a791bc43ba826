"""connection() and mask() against a fake Kubernetes API (only kube.get is replaced)."""

from __future__ import annotations

import base64
import os
import stat

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer

from kafkalab import clients, kube
from kafkalab.errors import KafkalabError, KafkaUnreachable, NotFound

NS = "kafka"
PASSWORD = "Zq8xV3pLw0rdW1thEnoughChars"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def kafka_obj(listeners: list[dict], status_listeners: list[dict] | None = None) -> dict:
    obj = {
        "apiVersion": "kafka.strimzi.io/v1",
        "kind": "Kafka",
        "metadata": {"name": "my-cluster", "namespace": NS},
        "spec": {"kafka": {"listeners": listeners}},
    }
    if status_listeners is not None:
        obj["status"] = {"listeners": status_listeners}
    return obj


def listener(name, tls=False, auth=None, port=9094):
    spec = {"name": name, "port": port, "type": "nodeport", "tls": tls}
    if auth:
        spec["authentication"] = {"type": auth}
    return spec


def ready_user(name, username, secret):
    return {
        "kind": "KafkaUser",
        "metadata": {"name": name, "namespace": NS},
        "status": {
            "conditions": [{"type": "Ready", "status": "True"}],
            "username": username,
            "secret": secret,
        },
    }


@pytest.fixture
def cluster(monkeypatch):
    """A dict of (kind, name) -> object that kube.get answers from; tests fill it."""
    store: dict[tuple[str, str], dict] = {}

    def fake_get(api_version, kind, name, namespace=None, context=None):
        assert namespace == NS
        return store.get((kind, name))

    monkeypatch.setattr(kube, "get", fake_get)
    store[("Kafka", "my-cluster")] = kafka_obj(
        [
            listener("plain", port=9092),
            listener("tls", tls=True, port=9093),
            listener("external", port=9094),
            listener("scram", auth="scram-sha-512", port=9095),
            listener("scramtls", tls=True, auth="scram-sha-512", port=9096),
            listener("mtls", tls=True, auth="tls", port=9097),
        ],
        [
            {"name": n, "bootstrapServers": f"127.0.0.1:{p}"}
            for n, p in [
                ("plain", 9092),
                ("tls", 9093),
                ("external", 9094),
                ("scram", 9095),
                ("scramtls", 9096),
                ("mtls", 9097),
            ]
        ],
    )
    store[("Secret", "my-cluster-cluster-ca-cert")] = {
        "metadata": {"name": "my-cluster-cluster-ca-cert"},
        "data": {"ca.crt": b64("-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n")},
    }
    store[("KafkaUser", "alice")] = ready_user("alice", "alice", "alice")
    store[("Secret", "alice")] = {"metadata": {"name": "alice"}, "data": {"password": b64(PASSWORD)}}
    store[("KafkaUser", "bob")] = ready_user("bob", "CN=bob", "bob")
    store[("Secret", "bob")] = {
        "metadata": {"name": "bob"},
        "data": {"user.crt": b64("BOB CERT"), "user.key": b64("BOB KEY"), "ca.crt": b64("CLIENTS CA")},
    }
    return store


def test_plain_listener(cluster):
    conn = clients.connection("my-cluster", NS)
    assert dict(conn) == {"bootstrap_servers": "127.0.0.1:9094", "security_protocol": "PLAINTEXT"}


def test_tls_listener_writes_ca_to_a_private_file(cluster):
    conn = clients.connection("my-cluster", NS, listener="tls")
    assert conn["security_protocol"] == "SSL"
    path = conn["ssl_cafile"]
    with open(path) as f:
        assert "CA" in f.read()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700
    # the same CA again reuses the file instead of leaving one per call
    assert clients.connection("my-cluster", NS, listener="tls")["ssl_cafile"] == path


@pytest.mark.parametrize("name,protocol", [("scram", "SASL_PLAINTEXT"), ("scramtls", "SASL_SSL")])
def test_scram_user(cluster, name, protocol):
    conn = clients.connection("my-cluster", NS, listener=name, user="alice")
    assert conn["security_protocol"] == protocol
    assert conn["sasl_mechanism"] == "SCRAM-SHA-512"
    assert conn["sasl_plain_username"] == "alice"
    assert conn["sasl_plain_password"] == PASSWORD
    assert ("ssl_cafile" in conn) == (protocol == "SASL_SSL")


def test_repr_and_str_never_show_the_password(cluster):
    conn = clients.connection("my-cluster", NS, listener="scram", user="alice")
    for text in (repr(conn), str(conn), f"{conn}", repr([conn]), repr({"c": conn}), repr(conn.copy())):
        assert PASSWORD not in text
        assert PASSWORD[2:8] not in text
        assert "Zq…(27 chars)" in text


def test_ipython_pretty_printer_masks_too(cluster):
    pretty = pytest.importorskip("IPython.lib.pretty")
    conn = clients.connection("my-cluster", NS, listener="scram", user="alice")
    assert PASSWORD not in pretty.pretty(conn)
    assert PASSWORD not in pretty.pretty({"conn": conn})


def test_tls_client_auth_user(cluster):
    conn = clients.connection("my-cluster", NS, listener="mtls", user="bob")
    assert conn["security_protocol"] == "SSL"
    with open(conn["ssl_certfile"]) as f:
        assert f.read() == "BOB CERT"
    with open(conn["ssl_keyfile"]) as f:
        assert f.read() == "BOB KEY"
    assert stat.S_IMODE(os.stat(conn["ssl_keyfile"]).st_mode) == 0o600


@pytest.mark.parametrize("cls", [KafkaProducer, KafkaConsumer, KafkaAdminClient])
@pytest.mark.parametrize("name,user", [("external", None), ("scramtls", "alice"), ("mtls", "bob")])
def test_every_setting_is_one_kafka_python_knows(cluster, cls, name, user):
    # kafka-python raises "Unrecognized configs" for unknown keys; check without connecting anywhere
    conn = clients.connection("my-cluster", NS, listener=name, user=user)
    assert set(conn) <= set(cls.DEFAULT_CONFIG)


def test_missing_kafka(cluster):
    with pytest.raises(NotFound) as e:
        clients.connection("nope", NS)
    assert e.value.obj == "Kafka kafka/nope"
    assert "ensure_kafka" in e.value.fix


def test_unknown_listener_lists_the_real_ones(cluster):
    with pytest.raises(NotFound) as e:
        clients.connection("my-cluster", NS, listener="outside")
    assert "'outside'" in str(e.value) and "'external'" in str(e.value)


def test_kafka_not_ready_yet(cluster):
    cluster[("Kafka", "my-cluster")].pop("status")
    with pytest.raises(KafkalabError) as e:
        clients.connection("my-cluster", NS)
    assert "no address" in e.value.summary and "wait_kafka_ready" in e.value.fix


def test_auth_listener_without_user(cluster):
    with pytest.raises(KafkalabError) as e:
        clients.connection("my-cluster", NS, listener="scram")
    assert "requires scram-sha-512" in str(e.value)


def test_user_on_listener_without_authentication(cluster):
    with pytest.raises(KafkalabError, match="would be ignored"):
        clients.connection("my-cluster", NS, listener="external", user="alice")


def test_user_not_ready_says_why(cluster):
    cluster[("KafkaUser", "alice")]["status"] = {
        "conditions": [
            {
                "type": "NotReady",
                "status": "True",
                "reason": "InvalidResourceException",
                "message": "Simple authorization ACL rules are configured but not supported",
            }
        ]
    }
    with pytest.raises(KafkalabError) as e:
        clients.connection("my-cluster", NS, listener="scram", user="alice")
    assert e.value.obj == "KafkaUser kafka/alice"
    assert "not Ready" in e.value.summary and "Simple authorization" in e.value.summary


def test_missing_user(cluster):
    with pytest.raises(NotFound) as e:
        clients.connection("my-cluster", NS, listener="scram", user="carol")
    assert e.value.obj == "KafkaUser kafka/carol"


def test_missing_user_secret_names_it(cluster):
    del cluster[("Secret", "alice")]
    with pytest.raises(NotFound) as e:
        clients.connection("my-cluster", NS, listener="scram", user="alice")
    assert e.value.obj == "Secret kafka/alice"
    assert "User Operator" in e.value.fix


def test_missing_ca_secret(cluster):
    del cluster[("Secret", "my-cluster-cluster-ca-cert")]
    with pytest.raises(NotFound) as e:
        clients.connection("my-cluster", NS, listener="tls")
    assert e.value.obj == "Secret kafka/my-cluster-cluster-ca-cert"


def test_tls_user_on_scram_listener_is_a_clear_error(cluster):
    with pytest.raises(NotFound, match="'password'"):
        clients.connection("my-cluster", NS, listener="scram", user="bob")


@pytest.mark.parametrize("secret", ["", "a", "abc", "abcdefghijk", "abcdefghijkl", "x" * 200, PASSWORD])
def test_mask_reveals_at_most_two_characters_and_the_length(secret):
    shown = clients.mask(secret)
    assert f"({len(secret)} chars)" in shown
    revealed = shown.split("…", 1)[0]
    assert len(revealed) <= 2 and secret.startswith(revealed)
    if len(secret) < 12:  # short secrets: nothing but the length
        assert revealed == ""


def test_mask_bytes_and_none():
    assert clients.mask(b"secretsecretsecret") == "se…(18 chars)"
    assert clients.mask(None) == "<none>"


def test_a_refused_login_is_named_as_such_not_as_a_timeout():
    settings = {
        "bootstrap_servers": "127.0.0.1:9094",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "alice",
        "sasl_plain_password": "wrong-password-123",
    }
    lines = [
        "kafka.net.sasl.scram: Exchanging credentials in the clear during Sasl Authentication",
        "kafka.net.transport: <KafkaTCPTransport>: socket disconnected",
        "kafka.net.manager: Bootstrap failed: KafkaTimeoutError: Unable to bootstrap from 127.0.0.1:9094",
    ]
    err = clients._unreachable(settings, lines)
    assert isinstance(err, KafkaUnreachable)
    assert "SCRAM-SHA-512 login as user 'alice'" in str(err) and "password" in err.fix
    assert err.obj == "Kafka listener 127.0.0.1:9094" and "wrong-password" not in str(err)


def test_an_unreachable_address_says_what_the_client_saw():
    lines = [
        "kafka.net.manager: Bootstrap connection to bootstrap-0 failed: [Errno 111] Connection refused",
        "kafka.net.manager: Bootstrap failed: KafkaTimeoutError: Unable to bootstrap from 127.0.0.1:1",
    ]
    err = clients._unreachable({"bootstrap_servers": ["127.0.0.1:1"]}, lines)
    assert "no Kafka broker answered at 127.0.0.1:1" in str(err) and "Connection refused" in str(err)
    assert "bootstrap_servers" in err.fix
