"""One real Apache Kafka 4.3.1 node (a JVM in KRaft mode) on a loopback address of its own.

The Strimzi stand-in runs one of these per node of a Kafka's KafkaNodePools, as Strimzi runs one pod per node:
each node gets its own address (127.A.B.C, A >= 1: distinct from 127.0.0.1 and from every other node on the
machine, like a pod IP) and on it the ports its pod would have. Its roles are its pool's
(`process.roles`: broker, controller or both); the controller quorum is every controller-role node of the
cluster. Each Strimzi listener becomes a broker listener (its name upper-cased) on its spec port. Two more
listeners are ours alone; their names hold an underscore, which Strimzi listener names ([a-z0-9]{1,11}) never
do:

- STANDIN_ADMIN       port 9091 (Strimzi's replication port), SASL_PLAINTEXT, SCRAM-SHA-512 user
                      `standin-admin` (seeded when the storage is formatted; a super user under the
                      authorizer). The stand-in manages topics, users and ACLs through it, and the brokers
                      replicate over it.
- STANDIN_CONTROLLER  port 9090 (Strimzi's control plane port), the KRaft controller listener,
                      SASL_PLAINTEXT with PLAIN: SCRAM cannot authenticate the controller (its
                      credentials live in the metadata log the controller serves), and an anonymous
                      PLAINTEXT controller would need `User:ANONYMOUS` as a super user, which would make
                      every unauthenticated learner listener a super user too.

Everything of a node lives in its state directory: `state.json` (its address and ports — kept so a restart,
like Strimzi re-creating a pod, keeps the node's data and address), `data/`, `server.properties`, `broker.log`
(the JVM's output), `broker.pid`. What the nodes of one cluster share (cluster id, the admin and controller
passwords) lives in one `ClusterSecrets` file. The JVM command line names the state directory, so a cleanup
script can find a leftover JVM by path.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import random
import re
import shlex
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from .ca import ClusterCA

__all__ = [
    "ADMIN_PORT",
    "ADMIN_USER",
    "CONTROLLER_PORT",
    "Broker",
    "BrokerError",
    "BrokerSpec",
    "ClusterSecrets",
    "FORBIDDEN_CONFIG_PREFIXES",
    "ListenerSpec",
    "admin_config",
    "claim_port",
    "fetch_kafka",
    "free_port",
]

KAFKA_VERSION = "4.3.1"
ADMIN_USER = "standin-admin"
ADMIN_LISTENER = "STANDIN_ADMIN"
CONTROLLER_LISTENER = "STANDIN_CONTROLLER"
CONTROLLER_USER = "standin-controller"
CONTROLLER_PORT = 9090  # a Strimzi pod's control plane port (tcp-ctrlplane)
ADMIN_PORT = 9091  # a Strimzi pod's replication port (tcp-replication): inter-broker traffic and the operator
HERMETIC = Path(__file__).resolve().parents[1]
FETCH_SCRIPT = HERMETIC / "fetch-kafka.sh"
LOG4J_CONFIG = HERMETIC / "kafka" / "log4j2.xml"

# Small and quick to start: a learner's cluster holds a few topics and a few thousand messages. C1 only
# (TieredStopAtLevel=1) starts the broker about twice as fast on two cores, where C2 compiling competes with
# the start itself; peak throughput is lower. KAFKALAB_BROKER_JVM_OPTS is appended (later flags win), e.g.
# "-XX:TieredStopAtLevel=4 -Xmx1g" for benchmarks.
JVM_OPTS = [
    "-Xms64m",
    "-Xmx384m",
    "-XX:MaxDirectMemorySize=128m",
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-XX:+ExitOnOutOfMemoryError",
    "-Xss512k",
    "-Djava.awt.headless=true",
    "-Xlog:cds*=off",  # a missing or stale class-data archive is not worth a warning in the broker log
]

CDS_DUMP_GRACE = 90  # seconds a stop() waits for a JVM that is writing the class-data archive

# Ports of the bootstrap proxies on 127.0.0.1 (bootstrap.py) come from below the kernel's ephemeral range
# (usually 32768-60999), so an outgoing connection made while a proxy is closed cannot take its port.
PORT_RANGE = (20000, 32000)

# Strimzi owns these keys of spec.kafka.config and ignores a user's value for them (with a warning); the
# stand-in owns them for the same reasons. Exceptions Strimzi allows are in ALLOWED_CONFIG.
FORBIDDEN_CONFIG_PREFIXES = (
    "listeners", "advertised.", "broker.", "listener.", "host.name", "port", "inter.broker.listener.name",
    "sasl.", "ssl.", "security.", "password.", "log.dir", "zookeeper.", "authorizer.", "super.user",
    "node.id", "process.roles", "controller.", "metadata.log.dir",
)  # fmt: skip
ALLOWED_CONFIG = (
    "ssl.cipher.suites", "ssl.protocol", "ssl.enabled.protocols", "ssl.secure.random.implementation",
    "controller.quorum.election.backoff.max.ms", "controller.quorum.election.timeout.ms",
    "controller.quorum.fetch.timeout.ms",
)  # fmt: skip

# One broker: internal topics cannot have more replicas than that. spec.kafka.config may still set them
# (Strimzi's examples do, to 1 for a single node). With more brokers Kafka's own defaults hold, as on Strimzi.
SINGLE_NODE_DEFAULTS = {
    "offsets.topic.replication.factor": "1",
    "transaction.state.log.replication.factor": "1",
    "transaction.state.log.min.isr": "1",
    "share.coordinator.state.topic.replication.factor": "1",
    "share.coordinator.state.topic.min.isr": "1",
    "default.replication.factor": "1",
    "min.insync.replicas": "1",
    "num.partitions": "1",
    # A consumer group's first member should not wait 3 s for company that will not come.
    "group.initial.rebalance.delay.ms": "0",
}
MULTI_NODE_DEFAULTS = {"group.initial.rebalance.delay.ms": "0"}


@dataclass
class ListenerSpec:
    """One Strimzi listener: `name` as in spec.kafka.listeners[].name; authentication None, "scram-sha-512"
    or "tls"; `port` its spec port (None: the next free one from 9092)."""

    name: str
    tls: bool = False
    authentication: str | None = None
    port: int | None = None


@dataclass
class BrokerSpec:
    """What a node is configured from: the Kafka resource's listeners, `authorization: simple`, and
    spec.kafka.config. `tls_hosts` are extra names/IPs for the server certificate (the node's address,
    127.0.0.1 and localhost are always in it). `voters` are (node id, address) of every controller of the
    cluster (empty: this node alone, which must then be a controller); `brokers` how many broker nodes the
    cluster has; `heap` the pool's `-Xmx` (jvmOptions), e.g. "384m"."""

    listeners: list[ListenerSpec]
    authorization_simple: bool = False
    config: dict = field(default_factory=dict)
    tls_hosts: list[str] = field(default_factory=list)
    voters: tuple[tuple[int, str], ...] = ()
    brokers: int = 1
    heap: str | None = None


class BrokerError(Exception):
    """A broker did not start or stop as asked; the message ends with the broker log's last lines."""


def fetch_kafka() -> Path:
    """Run fetch-kafka.sh (instant when cached) and return the Kafka libs directory it prints."""
    try:
        out = subprocess.run(
            ["bash", str(FETCH_SCRIPT)], capture_output=True, text=True, check=False, timeout=900
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        raise BrokerError(f"cannot run {FETCH_SCRIPT}: {e}") from e
    if out.returncode != 0:
        raise BrokerError(out.stderr.strip() or f"{FETCH_SCRIPT} failed (exit {out.returncode})")
    return Path(out.stdout.strip().splitlines()[-1])


class ClusterSecrets:
    """What every node of one cluster shares: the cluster id and the admin and controller passwords, kept in
    a JSON file (mode 0600) so restarts of the stand-in and of single nodes find the same ones."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        if self.path.exists():
            self._data = json.loads(self.path.read_text())
            return
        self._data = {
            # Kafka's Uuid text form: 16 random bytes, URL-safe base64 without padding.
            "cluster_id": base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("="),
            "admin_password": base64.urlsafe_b64encode(os.urandom(18)).decode(),
            "controller_password": base64.urlsafe_b64encode(os.urandom(18)).decode(),
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _write_private(self.path, json.dumps(self._data, indent=2))

    @property
    def cluster_id(self) -> str:
        return self._data["cluster_id"]

    @property
    def admin_password(self) -> str:
        return self._data["admin_password"]

    @property
    def controller_password(self) -> str:
        return self._data["controller_password"]


class Broker:
    """One Kafka node (KRaft) whose data and address survive restarts. Alone (the defaults) it is a
    single-node cluster in combined mode, node id 0."""

    def __init__(self, name: str, state_dir: Path, ca: ClusterCA, libs_dir: Path | None = None,
                 clients_ca: ClusterCA | None = None, node_id: int = 0,
                 roles: tuple[str, ...] = ("broker", "controller"),
                 secrets: ClusterSecrets | None = None) -> None:  # fmt: skip
        """`ca` signs the server certificate; `clients_ca` (default: `ca`) is what `authentication: tls`
        listeners trust for client certificates, like Strimzi's clients CA. `secrets` are the cluster's
        (default: a file of this node's own, for a node that is a cluster by itself)."""
        if not roles or set(roles) - {"broker", "controller"}:
            raise BrokerError(f"broker {name}: roles {roles!r} — give broker, controller or both")
        self.name = name
        self.node_id = node_id
        self.roles = tuple(r for r in ("broker", "controller") if r in roles)
        self.state_dir = Path(state_dir).resolve()
        self.ca = ca
        self.clients_ca = clients_ca or ca
        self.libs_dir = Path(libs_dir) if libs_dir else fetch_kafka()
        self.java = _java()
        self.ignored_config: list[str] = []  # spec.config keys dropped by the last start (Strimzi warns)
        self._proc: subprocess.Popen | None = None
        self._launch_offset = 0
        self._cds_dump: Path | None = None
        self._lock = threading.RLock()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.secrets = secrets or ClusterSecrets(self.state_dir / "cluster.json")
        self._state_file = self.state_dir / "state.json"
        self._state = self._load_state()
        _claim_address(self._state["address"])

    # -- public surface -------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def is_broker(self) -> bool:
        return "broker" in self.roles

    @property
    def is_controller(self) -> bool:
        return "controller" in self.roles

    @property
    def cluster_id(self) -> str:
        return self.secrets.cluster_id

    @property
    def address(self) -> str:
        """The node's own loopback address (its "pod IP")."""
        return self._state["address"]

    @property
    def ports(self) -> dict[str, int]:
        """Spec listener name -> port, for every listener this node has ever had (kept across restarts)."""
        return dict(self._state["ports"])

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self.running else None

    @property
    def log_file(self) -> Path:
        return self.state_dir / "broker.log"

    def bootstrap(self, listener: str) -> str:
        """`<address>:<port>` of the spec listener named `listener` on this node."""
        if listener not in self._state["ports"]:
            raise BrokerError(
                f"broker {self.name}: no listener named {listener!r}; known: {sorted(self.ports)}"
            )
        return f"{self.address}:{self._state['ports'][listener]}"

    @property
    def admin_address(self) -> str:
        return f"{self.address}:{ADMIN_PORT}"

    @property
    def admin_config(self) -> dict:
        """kafka-python keyword arguments reaching this node as the super user (topics, users, ACLs)."""
        return admin_config([self.admin_address], self.secrets)

    def prepare(self, spec: BrokerSpec) -> str:
        """Before a start: make sure every port the node needs is free on its address (another process may
        have taken one while it was down), moving to a new address if not. Returns the address, which the
        cluster's controller quorum names. Does nothing to a running node."""
        with self._lock:
            if not self.running:
                self._kill_leftover()
                ports = self._node_ports(self._listener_ports(spec))
                if not all(_can_bind(self.address, port) for port in ports):
                    old, new = self.address, _free_address(ports)
                    self._state["address"] = new
                    with open(self.log_file, "a") as log:
                        log.write(
                            f"=== {_now()} a port on {old} is taken by another process; moving to {new}\n"
                        )
                    self._save_state()
            return self.address

    def start(self, spec: BrokerSpec, timeout: float = 60) -> None:
        """Configure from `spec`, format the storage on first start, start the JVM and wait until it answers.

        Raises BrokerError (with the log tail) if the JVM exits or does not answer within `timeout` seconds;
        the JVM is stopped then. Starting a running broker is an error: use restart().
        """
        with self._lock:
            if self.running:
                raise BrokerError(
                    f"broker {self.name} is already running (pid {self._proc.pid}); use restart()"
                )
            self._check_listeners(spec)
            self.prepare(spec)
            self._state["ports"] = {**self._state["ports"], **self._listener_ports(spec)}
            self._save_state()
            props = self._write_properties(spec)
            deadline = time.monotonic() + timeout  # formatting counts against it too
            self._format(props, deadline)
            self._launch(props, spec)
            self._wait_ready(spec, deadline, timeout)

    def restart(self, spec: BrokerSpec, timeout: float = 60) -> None:
        """Stop, apply `spec`, start — as Strimzi rolls a pod. Data, cluster id and address are kept."""
        with self._lock:
            self.stop()
            self.start(spec, timeout=timeout)

    def stop(self, timeout: float = 20) -> None:
        """SIGTERM the JVM's process group, SIGKILL it after `timeout` s. Does nothing if not running."""
        self._stop(timeout, keep_cds=True)

    def _stop(self, timeout: float, keep_cds: bool) -> None:
        with self._lock:
            proc, self._proc = self._proc, None
            if proc is not None:
                # A JVM writing the class-data archive at exit needs longer than a plain shutdown (15 s and
                # more on a busy machine); killing it then would lose the archive for every later start.
                grace = max(timeout, CDS_DUMP_GRACE) if self._cds_dump and keep_cds else timeout
                _stop_group(proc.pid, lambda: proc.poll() is not None, grace)
                proc.wait()
                self._keep_cds_dump(publish=keep_cds)
            (self.state_dir / "broker.pid").unlink(missing_ok=True)

    def log_tail(self, lines: int = 30) -> str:
        """The last `lines` lines of the broker's log (its stdout and stderr)."""
        try:
            with open(self.log_file, "rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - 200 * lines - 4096))
                data = f.read().decode(errors="replace")
        except FileNotFoundError:
            return "(no broker log yet)"
        return "\n".join(data.splitlines()[-lines:])

    # -- state --------------------------------------------------------------------------------------------

    def _load_state(self) -> dict:
        if self._state_file.exists():
            state = json.loads(self._state_file.read_text())
            if "address" in state:
                return state
        self._state = {"address": _free_address((CONTROLLER_PORT, ADMIN_PORT)), "ports": {}}
        self._save_state()
        return self._state

    def _save_state(self) -> None:
        _write_private(self._state_file, json.dumps(self._state, indent=2))

    def _listener_ports(self, spec: BrokerSpec) -> dict[str, int]:
        """Spec listener name -> port: its spec port, else the next one from 9092 not otherwise taken."""
        taken = {ls.port for ls in spec.listeners if ls.port} | {CONTROLLER_PORT, ADMIN_PORT}
        out, port = {}, 9092
        for ls in spec.listeners:
            if ls.port:
                out[ls.name] = ls.port
                continue
            while port in taken:
                port += 1
            out[ls.name] = port
            taken.add(port)
        return out

    def _node_ports(self, listener_ports: dict[str, int]) -> list[int]:
        """The ports this node listens on: the controller's, the admin listener's and the spec listeners'."""
        ports = [CONTROLLER_PORT] if self.is_controller else []
        if self.is_broker:
            ports += [ADMIN_PORT, *listener_ports.values()]
        return ports

    def _check_listeners(self, spec: BrokerSpec) -> None:
        names = [_listener_name(ls.name) for ls in spec.listeners]
        clash = {n for n in names if names.count(n) > 1} | (
            set(names) & {ADMIN_LISTENER, CONTROLLER_LISTENER}
        )
        if clash:
            raise BrokerError(
                f"broker {self.name}: listener names {sorted(clash)} clash (upper-cased, or reserved by"
                " the stand-in) — rename the listener"
            )
        ports = [p for p in self._listener_ports(spec).values()]
        if {CONTROLLER_PORT, ADMIN_PORT} & set(ports) or len(set(ports)) != len(ports):
            raise BrokerError(
                f"broker {self.name}: listener ports {sorted(ports)} clash with each other or with the"
                f" ports {CONTROLLER_PORT}/{ADMIN_PORT} a Kafka pod uses itself — use another port"
            )
        for ls in spec.listeners:
            if ls.authentication not in (None, "scram-sha-512", "tls"):
                raise BrokerError(
                    f"broker {self.name}: listener {ls.name!r} authentication {ls.authentication!r} is"
                    " not supported by the stand-in (use scram-sha-512, tls or none)"
                )
        if not spec.voters and not self.is_controller:
            raise BrokerError(f"broker {self.name}: a broker-only node needs the controllers (spec.voters)")

    # -- configuration ------------------------------------------------------------------------------------

    def _write_properties(self, spec: BrokerSpec) -> Path:
        addr = self.address
        voters = spec.voters or ((self.node_id, addr),)
        ctrl_pw = self.secrets.controller_password
        ctrl_jaas = _jaas(
            "plain.PlainLoginModule",
            username=CONTROLLER_USER,
            password=ctrl_pw,
            **{f"user_{CONTROLLER_USER}": ctrl_pw},
        )
        c = CONTROLLER_LISTENER.lower()
        p: dict[str, str] = dict(SINGLE_NODE_DEFAULTS if spec.brokers <= 1 else MULTI_NODE_DEFAULTS)
        self.ignored_config = []
        for key, value in spec.config.items():
            if key.startswith(FORBIDDEN_CONFIG_PREFIXES) and not key.startswith(ALLOWED_CONFIG):
                self.ignored_config.append(key)
            else:
                p[key] = _prop_value(value)
        p.update(
            {
                "process.roles": ",".join(self.roles),
                "node.id": str(self.node_id),
                "controller.quorum.voters": ",".join(f"{i}@{a}:{CONTROLLER_PORT}" for i, a in voters),
                "controller.listener.names": CONTROLLER_LISTENER,
                # the controller listener's JAAS serves both ends: the controller's and its clients'
                "sasl.mechanism.controller.protocol": "PLAIN",
                f"listener.name.{c}.sasl.enabled.mechanisms": "PLAIN",
                f"listener.name.{c}.plain.sasl.jaas.config": ctrl_jaas,
                "log.dirs": str(self.state_dir / "data"),
            }
        )
        listeners = {CONTROLLER_LISTENER: CONTROLLER_PORT} if self.is_controller else {}
        protocols = {CONTROLLER_LISTENER: "SASL_PLAINTEXT"}
        if self.is_broker:
            self._broker_properties(spec, p, listeners, protocols)
        if spec.authorization_simple:
            p["authorizer.class.name"] = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
            p["super.users"] = f"User:{ADMIN_USER};User:{CONTROLLER_USER}"
        p["listeners"] = ",".join(f"{n}://{addr}:{port}" for n, port in listeners.items())
        advertised = [f"{n}://{addr}:{port}" for n, port in listeners.items() if n != CONTROLLER_LISTENER]
        if advertised:
            p["advertised.listeners"] = ",".join(advertised)
        p["listener.security.protocol.map"] = ",".join(f"{n}:{proto}" for n, proto in protocols.items())

        path = self.state_dir / "server.properties"
        body = "".join(f"{k}={_escape(v)}\n" for k, v in sorted(p.items()))
        _write_private(
            path,
            f"# written by the kafkalab Strimzi stand-in for broker {self.name}; rewritten on start\n{body}",
        )
        return path

    def _broker_properties(self, spec: BrokerSpec, p: dict, listeners: dict, protocols: dict) -> None:
        """The broker role's part: the admin (inter-broker) listener and every spec listener."""
        a = ADMIN_LISTENER.lower()
        admin_jaas = _jaas(
            "scram.ScramLoginModule", username=ADMIN_USER, password=self.secrets.admin_password
        )
        p.update(
            {
                "inter.broker.listener.name": ADMIN_LISTENER,
                "sasl.mechanism.inter.broker.protocol": "SCRAM-SHA-512",
                f"listener.name.{a}.sasl.enabled.mechanisms": "SCRAM-SHA-512",
                f"listener.name.{a}.scram-sha-512.sasl.jaas.config": admin_jaas,
            }
        )
        listeners[ADMIN_LISTENER] = ADMIN_PORT
        protocols[ADMIN_LISTENER] = "SASL_PLAINTEXT"
        ports = self._listener_ports(spec)
        tls_needed = any(ls.tls or ls.authentication == "tls" for ls in spec.listeners)
        for ls in spec.listeners:
            bname = _listener_name(ls.name)
            lname = bname.lower()
            listeners[bname] = ports[ls.name]
            tls = ls.tls or ls.authentication == "tls"  # Strimzi requires tls: true for tls authentication
            scram = ls.authentication == "scram-sha-512"
            protocols[bname] = ("SASL_" if scram else "") + ("SSL" if tls else "PLAINTEXT")
            if scram:
                p[f"listener.name.{lname}.sasl.enabled.mechanisms"] = "SCRAM-SHA-512"
                # the server side of SCRAM needs a login module; credentials come from the metadata log
                p[f"listener.name.{lname}.scram-sha-512.sasl.jaas.config"] = _jaas("scram.ScramLoginModule")
            if ls.authentication == "tls":
                p[f"listener.name.{lname}.ssl.client.auth"] = "required"
                p[f"listener.name.{lname}.ssl.truststore.type"] = "PEM"
                p[f"listener.name.{lname}.ssl.truststore.location"] = str(self.clients_ca.cert_path)
        if tls_needed:
            p.update(
                {
                    "ssl.keystore.type": "PEM",
                    "ssl.keystore.location": str(self._keystore(spec)),
                    "ssl.truststore.type": "PEM",
                    "ssl.truststore.location": str(self.ca.cert_path),
                }
            )

    def _keystore(self, spec: BrokerSpec) -> Path:
        # Kafka's PEM keystore wants the private key and the certificate chain in one file. Clients reach
        # the node at its own address, and through the bootstrap proxy at 127.0.0.1 (always in the cert).
        cert, key = self.ca.server_cert(f"{self.name}-broker", [self.address, *spec.tls_hosts])
        path = self.state_dir / "keystore.pem"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(key.read_bytes() + cert.read_bytes())
        return path

    # -- the JVM --------------------------------------------------------------------------------------

    def _java_cmd(
        self, main: str, *args: str, cds_dump: Path | None = None, heap: str | None = None
    ) -> list[str]:
        # Class-data sharing: the first broker JVM dumps the classes it loaded into an archive when it exits;
        # later JVMs map it instead of loading ~4000 classes from jars, which halves the start time again.
        if self._cds_archive.exists():
            cds = [f"-XX:SharedArchiveFile={self._cds_archive}"]
        elif cds_dump:
            cds = [f"-XX:ArchiveClassesAtExit={cds_dump}"]
        else:
            cds = []
        return [
            self.java,
            *JVM_OPTS,
            *([f"-Xmx{heap}"] if heap else []),  # the pool's jvmOptions -Xmx (later flags win)
            *cds,
            *shlex.split(os.environ.get("KAFKALAB_BROKER_JVM_OPTS", "")),
            f"-Dlog4j2.configurationFile={LOG4J_CONFIG}",
            f"-Dkafka.logs.dir={self.state_dir / 'logs'}",
            "-cp",
            f"{self.libs_dir}/*",
            main,
            *args,
        ]

    def _format(self, props: Path, deadline: float) -> None:
        if (self.state_dir / "data" / "meta.properties").exists():
            return  # formatted once; the cluster id and seeded admin user live in the data
        scram = f"SCRAM-SHA-512=[name={ADMIN_USER},password={self.secrets.admin_password}]"
        cmd = self._java_cmd(
            "kafka.tools.StorageTool", "format", f"--cluster-id={self.cluster_id}", "--config", str(props),
            "--add-scram", scram,
        )  # fmt: skip
        try:
            out = subprocess.run(
                cmd, capture_output=True, text=True, timeout=max(1, deadline - time.monotonic()), check=False
            )
        except subprocess.TimeoutExpired as e:
            raise BrokerError(
                f"broker {self.name}: formatting the storage did not finish in time"
                f"\n{e.stdout or ''}{e.stderr or ''}"
            ) from e
        with open(self.log_file, "a") as log:
            log.write(
                f"=== {_now()} format storage (cluster id {self.cluster_id}) ===\n{out.stdout}{out.stderr}"
            )
        if out.returncode != 0:
            raise BrokerError(
                f"broker {self.name}: formatting the storage in {self.state_dir / 'data'} failed"
                f" (exit {out.returncode})\n{self.log_tail()}"
            )

    def _launch(self, props: Path, spec: BrokerSpec) -> None:
        with open(self.log_file, "a") as log:
            self._launch_offset = log.tell()  # readiness looks for "started" only after this point
            log.write(f"=== {_now()} start ===\n")
            log.flush()
            self._sweep_cds_dumps()
            self._cds_dump = None
            if not self._cds_archive.exists():
                self._cds_dump = self._cds_archive.with_name(
                    f"{self._cds_archive.name}.{os.getpid()}.{id(self)}.tmp"
                )
            # own session: the JVM and anything it spawns are one process group, stopped together
            self._proc = subprocess.Popen(
                self._java_cmd("kafka.Kafka", str(props), cds_dump=self._cds_dump, heap=spec.heap),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=self.state_dir,
            )
        (self.state_dir / "broker.pid").write_text(f"{self._proc.pid}\n")

    def _wait_ready(self, spec: BrokerSpec, deadline: float, timeout: float) -> None:
        """Ready = the server logged it started, every listener accepts connections, and (a broker) the
        admin user can read the cluster metadata through it."""
        ports = self._node_ports(self._listener_ports(spec))
        while True:
            if self._proc.poll() is not None:
                code, self._proc = self._proc.returncode, None
                self._keep_cds_dump(publish=False)  # a JVM that failed to start saw too few classes
                raise BrokerError(
                    f"broker {self.name}: the JVM exited with code {code} (log: {self.log_file})\n"
                    + self.log_tail()
                )
            if (
                self._started_logged(self._launch_offset)
                and all(_can_connect(self.address, p) for p in ports)
                and (not self.is_broker or self._admin_ok())
            ):
                return
            if time.monotonic() > deadline:
                tail = self.log_tail()
                self._stop(10, keep_cds=False)  # a broker that never got ready is no model for the archive
                raise BrokerError(
                    f"broker {self.name}: not ready after {timeout:.0f}s, stopped it — see {self.log_file};"
                    f" on a busy machine give start() a longer timeout\n{tail}"
                )
            time.sleep(0.25)

    def _started_logged(self, offset: int) -> bool:
        with open(self.log_file, "rb") as f:
            f.seek(offset)
            return b"Kafka Server started" in f.read()

    def _admin_ok(self) -> bool:
        from kafka.admin import KafkaAdminClient  # late: importing kafka-python costs ~0.3 s

        try:
            admin = KafkaAdminClient(**self.admin_config, request_timeout_ms=5000, bootstrap_timeout_ms=5000)
        except Exception:  # noqa: BLE001 — not answering yet, whatever the reason; the deadline decides
            return False
        try:
            admin.describe_cluster()
            return True
        except Exception:  # noqa: BLE001
            return False
        finally:
            admin.close()

    @property
    def _cds_archive(self) -> Path:
        # An archive only fits the JVM and the jars it was made with: name it after both.
        java = Path(self.java).resolve()
        marker = self.libs_dir.parent / "fetched"
        key = f"{java}:{java.stat().st_mtime_ns}:{marker.read_text() if marker.exists() else self.libs_dir}"
        return self.libs_dir.parent / f"cds-{hashlib.sha256(key.encode()).hexdigest()[:12]}.jsa"

    def _keep_cds_dump(self, publish: bool = True) -> None:
        # The dump is written when the JVM exits; publish it under its final name in one step, so a JVM
        # starting meanwhile never maps a half-written archive. Concurrent dumps: the last one wins.
        dump, self._cds_dump = self._cds_dump, None
        if dump and dump.exists():
            if publish and dump.stat().st_size > 0 and not self._cds_archive.exists():
                os.replace(dump, self._cds_archive)
            else:
                dump.unlink(missing_ok=True)

    def _sweep_cds_dumps(self) -> None:
        # Dumps whose stand-in process died before publishing them (named <archive>.<pid>.<id>.tmp).
        for tmp in self.libs_dir.parent.glob("cds-*.jsa.*.tmp"):
            try:
                pid = int(tmp.name.split(".")[2])
            except (IndexError, ValueError):
                continue
            if pid != os.getpid() and not Path(f"/proc/{pid}").exists():
                tmp.unlink(missing_ok=True)

    def _kill_leftover(self) -> None:
        # A JVM from an earlier stand-in process (crashed, or restarted without stopping) still holds the
        # data directory lock and the ports: stop it, but only if it is ours (state dir in its cmdline).
        pidfile = self.state_dir / "broker.pid"
        try:
            pid = int(pidfile.read_text())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except (FileNotFoundError, ValueError):
            return
        if str(self.state_dir) in cmdline:
            _stop_group(pid, lambda: not Path(f"/proc/{pid}").exists() or _zombie(pid), 20)
        pidfile.unlink(missing_ok=True)


def _java() -> str:
    java_home = os.environ.get("JAVA_HOME")
    java = str(Path(java_home) / "bin" / "java") if java_home else shutil.which("java")
    if not java or not os.access(java, os.X_OK):
        raise BrokerError(
            "java not found — install a Java 17+ runtime (e.g. apt-get install openjdk-17-jre-headless)"
        )
    return java


def _listener_name(spec_name: str) -> str:
    return re.sub(r"[^A-Z0-9_]", "_", spec_name.upper())


def _jaas(module: str, **options: str) -> str:
    opts = "".join(f' {k}="{v}"' for k, v in options.items())
    return f"org.apache.kafka.common.security.{module} required{opts};"


def _prop_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _escape(value: str) -> str:
    # java.util.Properties: backslashes escape, and a newline would end the value
    return value.replace("\\", "\\\\").replace("\n", "\\n")


def admin_config(addresses: list[str], secrets: ClusterSecrets) -> dict:
    """kafka-python keyword arguments reaching the admin listeners at `addresses` as the super user."""
    return {
        "bootstrap_servers": list(addresses),
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": ADMIN_USER,
        "sasl_plain_password": secrets.admin_password,
    }


def _write_private(path: Path, text: str) -> None:
    """Write `text` to `path` in one step (mode 0600: it may hold passwords)."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


# Addresses and ports given out by this process, bound or not (a stopped node keeps its address, a closed
# proxy its port): two picking at the same moment, or one picking while another is down, never get the same.
_CLAIMED: set = set()
_CLAIMED_LOCK = threading.Lock()


def _claim_address(address: str) -> None:
    with _CLAIMED_LOCK:
        _CLAIMED.add(address)


def _free_address(ports) -> str:
    """A random loopback address 127.A.B.C (A >= 1, so never 127.0.0.x) where all `ports` are free. Random
    over 16 million addresses: stand-ins of other hermetic clusters on the machine do not pick the same."""
    rng = random.SystemRandom()
    with _CLAIMED_LOCK:
        for _ in range(200):
            address = f"127.{rng.randrange(1, 255)}.{rng.randrange(0, 256)}.{rng.randrange(1, 255)}"
            if address not in _CLAIMED and all(_can_bind(address, p) for p in ports):
                _CLAIMED.add(address)
                return address
    raise BrokerError(f"no loopback address found with ports {sorted(ports)} free")


def free_port() -> int:
    """A free port on 127.0.0.1 in PORT_RANGE, not given out before by this process."""
    rng = random.SystemRandom()
    with _CLAIMED_LOCK:
        for _ in range(200):
            port = rng.randrange(*PORT_RANGE)
            if port not in _CLAIMED and _can_bind("127.0.0.1", port):
                _CLAIMED.add(port)
                return port
    raise BrokerError(f"no free port found in {PORT_RANGE[0]}-{PORT_RANGE[1]} on 127.0.0.1")


def claim_port(port: int) -> None:
    with _CLAIMED_LOCK:
        _CLAIMED.add(port)


def _can_bind(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the JVM does: TIME_WAIT is no obstacle
        try:
            s.bind((host, port))
            return True
        except OSError:
            return False


def _can_connect(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (FileNotFoundError, IndexError):
        return True


def _stop_group(pid: int, gone, timeout: float) -> None:
    """SIGTERM the process group led by `pid` (Kafka shuts down cleanly on it), SIGKILL after `timeout`."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 10)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if gone():
                return
            time.sleep(0.1)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
