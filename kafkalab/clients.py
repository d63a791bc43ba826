"""Kafka clients (kafka-python 3.0) configured from what Strimzi reports.

`connection()` reads the `Kafka` resource's status and spec, the cluster CA Secret and the `KafkaUser`'s
Secret, and returns the keyword arguments every kafka-python client takes. The rest are small, bounded
helpers for notebooks: nothing here waits forever and nothing here prints (a secret must never end up in a
notebook output by accident).
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import hashlib
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterable

from kafkalab import kube
from kafkalab.errors import KafkalabError, KafkaUnreachable, NotFound

__all__ = [
    "Connection",
    "connection",
    "producer",
    "consumer",
    "admin",
    "produce",
    "consume",
    "mask",
]

API_VERSION = "kafka.strimzi.io/v1"  # the only Strimzi API since 1.0; clients.py imports kube only

# Settings whose values are secrets: repr() of a Connection shows them masked.
SECRET_KEYS = ("sasl_plain_password", "ssl_password")

DEFAULT_CONSUMER_TIMEOUT_MS = 10_000  # a consumer iterated in a notebook cell ends after 10 s without records


def mask(secret: str | bytes | None) -> str:
    """Return a safe stand-in for `secret`: at most its first 2 characters and its length.

    Short secrets reveal nothing but their length, since two characters of a six-character password are a
    third of it.
    """
    if secret is None:
        return "<none>"
    if isinstance(secret, bytes):
        secret = secret.decode("utf-8", "replace")
    shown = secret[:2] if len(secret) >= 12 else ""
    return f"{shown}…({len(secret)} chars)"


class Connection(dict):
    """kafka-python settings (a plain dict to `**` into a client) whose repr never shows a secret."""

    def __repr__(self) -> str:
        items = ", ".join(
            f"{k}={mask(v) if k in SECRET_KEYS and v is not None else repr(v)}" for k, v in self.items()
        )
        return f"Connection({items})"

    __str__ = __repr__

    def copy(self) -> Connection:  # dict.copy() would return a plain dict, whose repr shows the password
        return Connection(self)

    def _repr_pretty_(self, p, cycle) -> None:  # IPython's pretty printer would otherwise print dict items
        p.text(repr(self))


def connection(
    cluster: str,
    namespace: str,
    listener: str = "external",
    user: str | None = None,
    context: str | None = None,
) -> Connection:
    """kafka-python settings to reach `listener` of Kafka `namespace/cluster`, as KafkaUser `user` if given.

    The listener's spec says whether it uses TLS and which authentication it wants; the status says where it
    is. TLS listeners get `ssl_cafile` (the cluster CA, written to a private temp file removed at exit);
    scram-sha-512 listeners get SASL settings from the user's Secret; tls-auth listeners get the user's
    certificate and key.
    """
    ref = f"Kafka {namespace}/{cluster}"
    kafka = kube.get(API_VERSION, "Kafka", cluster, namespace, context=context)
    if kafka is None:
        raise NotFound(
            f"Kafka cluster {cluster!r} does not exist in namespace {namespace!r}",
            obj=ref,
            fix="create it first, e.g. kafkalab.strimzi.ensure_kafka(cluster, namespace)",
        )
    spec = _listener_spec(kafka, listener, ref)
    bootstrap = _listener_status(kafka, listener, ref)
    tls = bool(spec.get("tls"))
    auth = (spec.get("authentication") or {}).get("type")

    conn = Connection(bootstrap_servers=bootstrap)
    if auth == "scram-sha-512":
        conn["security_protocol"] = "SASL_SSL" if tls else "SASL_PLAINTEXT"
    elif auth in (None, "tls"):
        conn["security_protocol"] = "SSL" if tls else "PLAINTEXT"
    else:
        raise KafkalabError(
            f"listener {listener!r} uses authentication {auth!r}, which kafkalab's clients do not support",
            obj=ref,
            fix="use a listener with no authentication, scram-sha-512 or tls",
        )
    if tls:
        ca_secret = f"{cluster}-cluster-ca-cert"
        why = f"the CA of TLS listener {listener!r}"
        ca = _secret_value(ca_secret, "ca.crt", namespace, context, why=why)
        conn["ssl_cafile"] = _private_file(ca, ".crt")

    if auth is None:
        if user is not None:
            raise KafkalabError(
                f"listener {listener!r} has no authentication, so user {user!r} would be ignored",
                obj=ref,
                fix="leave user=None, or pick a listener with authentication (scram-sha-512 or tls)",
            )
        return conn
    if user is None:
        raise KafkalabError(
            f"listener {listener!r} requires {auth} authentication but no user was given",
            obj=ref,
            fix=f"create a KafkaUser with authentication type {auth} and pass user='<its name>'",
        )

    status, secret = _user_secret(user, namespace, context)
    user_ref = f"KafkaUser {namespace}/{user}"
    if auth == "scram-sha-512":
        conn["sasl_mechanism"] = "SCRAM-SHA-512"
        conn["sasl_plain_username"] = status.get("username") or user
        conn["sasl_plain_password"] = _field(secret, "password", user_ref, auth)
    else:  # tls client authentication: the user's certificate, signed by the clients CA
        if not tls:
            raise KafkalabError(
                f"listener {listener!r} asks for tls authentication without tls: true",
                obj=ref,
                fix="set tls: true on the listener",
            )
        conn["ssl_certfile"] = _private_file(_field(secret, "user.crt", user_ref, auth), ".crt")
        conn["ssl_keyfile"] = _private_file(_field(secret, "user.key", user_ref, auth), ".key")
    return conn


def producer(conn: dict, **overrides):
    """A `kafka.KafkaProducer` for `conn`; `overrides` are any other KafkaProducer settings."""
    from kafka import KafkaProducer  # imported late: importing kafkalab should not need a Kafka client

    settings = {**conn, **overrides}
    with _explained_bootstrap(settings):
        return KafkaProducer(**settings)


def consumer(conn: dict, *topics: str, group: str | None = None, **overrides):
    """A `kafka.KafkaConsumer` subscribed to `topics`, reading from the earliest offset.

    Iterating it ends after `consumer_timeout_ms` (10 s by default) without a record, so a notebook cell
    that loops over it always finishes.
    """
    from kafka import KafkaConsumer

    settings = {
        "group_id": group,
        "auto_offset_reset": "earliest",
        "consumer_timeout_ms": DEFAULT_CONSUMER_TIMEOUT_MS,
        **conn,
        **overrides,
    }
    with _explained_bootstrap(settings):
        return KafkaConsumer(*topics, **settings)


def admin(conn: dict, **overrides):
    """A `kafka.KafkaAdminClient` for `conn` (its calls return plain dicts in kafka-python 3.0)."""
    from kafka import KafkaAdminClient

    settings = {**conn, **overrides}
    with _explained_bootstrap(settings):
        return KafkaAdminClient(**settings)


class _Recorder(logging.Handler):
    """Keeps what kafka-python logs while a client bootstraps (it explains a failure only in its log)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.name}: {record.getMessage()}")


@contextlib.contextmanager
def _explained_bootstrap(settings: dict):
    """Turn kafka-python's bare "Unable to bootstrap" into KafkaUnreachable saying why.

    A refused SASL login shows up in kafka-python 3.0 only as a disconnect right after the SASL exchange,
    then a timeout: we read that from its log. The log records are kept, not printed (they stay out of
    notebook outputs while the client connects).
    """
    from kafka.errors import KafkaTimeoutError

    recorder = _Recorder()
    log = logging.getLogger("kafka")
    log.addHandler(recorder)
    try:
        yield
    except KafkaTimeoutError as e:
        if "bootstrap" not in str(e).lower():
            raise
        raise _unreachable(settings, recorder.lines) from e
    finally:
        log.removeHandler(recorder)


def _unreachable(settings: dict, log_lines: list[str]) -> KafkaUnreachable:
    servers = settings.get("bootstrap_servers")
    where = servers if isinstance(servers, str) else ",".join(servers or [])
    mechanism = settings.get("sasl_mechanism")
    # a refused login: the broker hangs up right after the SASL exchange (over TLS only the hang-up shows)
    hung_up = any(".sasl" in line or "socket disconnected" in line for line in log_lines)
    if mechanism and hung_up:
        user = settings.get("sasl_plain_username")
        return KafkaUnreachable(
            f"the broker closed the connection during the {mechanism} login as user {user!r}",
            obj=f"Kafka listener {where}",
            fix="the password (or user) is wrong: build the settings from the KafkaUser's Secret with "
            "clients.connection(cluster, namespace, listener, user=...) and check the user is Ready",
        )
    causes = [line for line in log_lines if "Unable to bootstrap" not in line]
    last = causes[-1] if causes else "no connection attempt logged"
    return KafkaUnreachable(
        f"no Kafka broker answered at {where} ({last})",
        obj=f"Kafka listener {where}",
        fix="check the Kafka is Ready and this is its listener's address: strimzi.bootstrap_servers(...); "
        "a listener with authentication needs a user (docs/troubleshooting.md, NoBrokersAvailable)",
    )


def produce(conn: dict, topic: str, records: Iterable[tuple], timeout: float = 60.0, **overrides) -> int:
    """Send `(key, value)` pairs (str, bytes or None) to `topic`; return how many the brokers acknowledged.

    Waits at most about `timeout` seconds in total. Raises the first delivery error (e.g.
    `kafka.errors.TopicAuthorizationFailedError` for a user without Write permission), so a refused
    write is never reported as a short count.
    """
    ms = int(timeout * 1000)
    settings = {
        "max_block_ms": ms,
        "delivery_timeout_ms": max(ms, 1000),
        "request_timeout_ms": min(ms, 30_000),
    }
    p = producer(conn, **{**settings, **overrides})
    try:
        futures = [p.send(topic, key=_bytes(k), value=_bytes(v)) for k, v in records]
        p.flush(timeout=timeout)
        for f in futures:
            f.get(timeout=0)  # every future is done after flush; this raises the delivery error if any
        return len(futures)
    finally:
        p.close(timeout=5)


def consume(
    conn: dict, topic: str, count: int, group: str | None = None, timeout: float = 30.0, **overrides
) -> list:
    """Read up to `count` records of `topic` (from the start when the group has no offsets).

    Returns `kafka.consumer.fetcher.ConsumerRecord`s (bytes key/value) as soon as `count` have arrived or
    when `timeout` seconds have passed, whichever comes first. Never asks for more than it returns, so a
    group's committed offset points right after the last record returned.
    """
    c = consumer(conn, topic, group=group, **overrides)
    out: list = []
    deadline = time.monotonic() + timeout
    try:
        while len(out) < count:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            batches = c.poll(timeout_ms=int(min(left, 1.0) * 1000), max_records=count - len(out))
            for records in batches.values():
                out.extend(records)
        if group is not None:
            c.commit()
    finally:
        c.close(autocommit=False)
    return out


def _listener_spec(kafka: dict, listener: str, ref: str) -> dict:
    listeners = ((kafka.get("spec") or {}).get("kafka") or {}).get("listeners") or []
    for item in listeners:
        if item.get("name") == listener:
            return item
    names = ", ".join(repr(item.get("name")) for item in listeners) or "none"
    raise NotFound(
        f"Kafka has no listener named {listener!r} (its listeners: {names})",
        obj=ref,
        fix="pass one of its listener names, or add the listener to spec.kafka.listeners",
    )


def _listener_status(kafka: dict, listener: str, ref: str) -> str:
    for item in (kafka.get("status") or {}).get("listeners") or []:
        if item.get("name") == listener and item.get("bootstrapServers"):
            return item["bootstrapServers"]
    raise KafkalabError(
        f"listener {listener!r} has no address in the Kafka's status yet",
        obj=ref,
        fix="wait until the Kafka is Ready: kafkalab.strimzi.wait_kafka_ready(cluster, namespace)",
    )


def _user_secret(user: str, namespace: str, context: str | None) -> tuple[dict, dict]:
    ref = f"KafkaUser {namespace}/{user}"
    obj = kube.get(API_VERSION, "KafkaUser", user, namespace, context=context)
    if obj is None:
        raise NotFound(
            f"KafkaUser {user!r} does not exist in namespace {namespace!r}",
            obj=ref,
            fix="create it, e.g. kube.apply(strimzi.user(name, cluster)), then strimzi.wait_user_ready(...)",
        )
    status = obj.get("status") or {}
    ready = kube.condition(obj, "Ready")
    if not ready or ready.get("status") != "True" or not status.get("secret"):
        why = kube.condition(obj, "NotReady") or ready or {}
        detail = f": {why.get('reason')}: {why.get('message')}" if why.get("message") else ""
        raise KafkalabError(
            f"KafkaUser {user!r} is not Ready, so it has no credentials yet{detail}",
            obj=ref,
            fix="wait for it: kafkalab.strimzi.wait_user_ready(name, namespace); check the User Operator",
        )
    name = status["secret"]
    secret = kube.get("v1", "Secret", name, namespace, context=context)
    if secret is None:
        raise NotFound(
            f"Secret {name!r} of KafkaUser {user!r} does not exist",
            obj=f"Secret {namespace}/{name}",
            fix="the User Operator recreates it: check its logs, or delete and re-create the KafkaUser",
        )
    return status, secret


def _secret_value(name: str, key: str, namespace: str, context: str | None, why: str) -> str:
    secret = kube.get("v1", "Secret", name, namespace, context=context)
    if secret is None:
        raise NotFound(
            f"Secret {name!r} ({why}) does not exist",
            obj=f"Secret {namespace}/{name}",
            fix="wait until the Kafka is Ready; the Cluster Operator creates this Secret",
        )
    return _field(secret, key, f"Secret {namespace}/{name}", why)


def _field(secret: dict, key: str, ref: str, what: str) -> str:
    data = secret.get("data") or {}
    if key not in data:
        name = (secret.get("metadata") or {}).get("name")
        raise NotFound(
            f"Secret {name!r} has no {key!r} ({what}); keys: {sorted(data)}",
            obj=ref,
            fix="check the user's authentication type matches the listener's",
        )
    return base64.b64decode(data[key]).decode("utf-8")


_tmpdir: str | None = None


def _private_file(content: str, suffix: str) -> str:
    """Write `content` to a file only this user can read, in a directory removed when Python exits.

    Named by content hash so repeated `connection()` calls reuse one file.
    """
    global _tmpdir
    if _tmpdir is None:
        _tmpdir = tempfile.mkdtemp(prefix="kafkalab-")  # mode 0700
        atexit.register(shutil.rmtree, _tmpdir, True)
    path = os.path.join(_tmpdir, hashlib.sha256(content.encode()).hexdigest()[:16] + suffix)
    if not os.path.exists(path):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(content)
    return path


def _bytes(value) -> bytes | None:
    if value is None or isinstance(value, bytes):
        return value
    return str(value).encode("utf-8")
