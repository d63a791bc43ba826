"""Pod mode: a Kafka node as a real pod (the kind-offline tier), where the hermetic tier runs a host JVM.

The stand-in then runs inside the operator Deployment's pod, and each node of a KafkaNodePool is the pod
`<cluster>-<pool>-<id>` running the image `quay.io/strimzi/kafka:…` (built locally by tests/kind-offline,
Apache Kafka's jars on a Debian JRE, with our own start script). Configuration is the host mode's
(broker.py writes it), moved into the pod:

- listeners bind 0.0.0.0; advertised are the pod's DNS name `<pod>.<cluster>-kafka-brokers.<ns>.svc` for
  internal listeners, and for nodeport listeners each broker's `advertisedHost`/`advertisedPort` (else its
  node port), as Strimzi advertises them;
- the node's Secret `<pod>` (Strimzi keeps each node's certificates in a Secret of that name) carries
  `server.config`, `cluster.id`, `metadata.version`, the seeded admin user and the PEM files; it is mounted
  where Strimzi mounts the node's config, /opt/kafka/custom-config/. Unlike Strimzi's ConfigMap it is a
  Secret because the stand-in's controller and admin passwords are in the config;
- storage is the pod's emptyDir, as for Strimzi's ephemeral storage.

start() creates the Secret and the pod and waits until the pod is Ready and (a broker) its admin listener
answers; stop() deletes the pod. The rest of the stand-in does not know the difference.
"""

from __future__ import annotations

import base64
import logging
import re
import socket
import threading
import time
from pathlib import Path

from .broker import ADMIN_PORT, ADMIN_USER, Broker, BrokerError, BrokerSpec, ClusterSecrets, _listener_name
from .ca import ClusterCA

__all__ = ["CONFIG_DIR", "PodBroker", "pod_runtime"]

log = logging.getLogger("standin.pods")

CONFIG_DIR = "/opt/kafka/custom-config"
DATA_DIR = "/var/lib/kafka/data"


def pod_runtime(body: dict, heap: str | None) -> dict:
    """What a pod of a node needs to really run (Strimzi's pod spec, trimmed): storage, the node's config
    Secret, probes, heap. `body` is objects.pod()'s pod; returns it, changed."""
    name = body["metadata"]["name"]
    container = body["spec"]["containers"][0]
    container.pop("command", None)
    container["args"] = ["/opt/kafka/kafka_run.sh"]
    container["imagePullPolicy"] = "IfNotPresent"
    container["env"] = [
        *container.get("env", []),
        {"name": "KAFKA_HEAP_OPTS", "value": f"-Xms{heap or '384m'} -Xmx{heap or '384m'}"},
        {"name": "KAFKA_CLUSTER_NAME", "value": body["metadata"]["labels"]["strimzi.io/cluster"]},
    ]
    container["volumeMounts"] = [
        {"name": "data", "mountPath": DATA_DIR},
        {"name": "kafka-config", "mountPath": f"{CONFIG_DIR}/", "readOnly": True},
    ]
    # quicker than Strimzi's 15 s/10 s: clients come back through the Services only once the pod is Ready
    probe = {"initialDelaySeconds": 2, "periodSeconds": 2, "timeoutSeconds": 5, "failureThreshold": 3}
    container["readinessProbe"] = {"exec": {"command": ["/opt/kafka/kafka_readiness.sh"]}, **probe}
    container["livenessProbe"] = {
        "exec": {"command": ["/opt/kafka/kafka_liveness.sh"]},
        **probe,
        "initialDelaySeconds": 15,
        "periodSeconds": 10,
    }
    body["spec"]["volumes"] = [
        {"name": "data", "emptyDir": {}},
        {"name": "kafka-config", "secret": {"secretName": name, "defaultMode": 0o444}},
    ]
    body["spec"]["terminationGracePeriodSeconds"] = 30
    return body


class PodBroker(Broker):
    """One Kafka node as a pod. `pod_body()` gives the pod to create (objects.pod + pod_runtime); `owner` is
    the owner reference of the Kafka, for the node's Secret."""

    def __init__(self, name: str, state_dir: Path, ca: ClusterCA, *, clients_ca: ClusterCA, node_id: int,
                 roles: tuple[str, ...], secrets: ClusterSecrets, kube, namespace: str, cluster: str,
                 pod_name: str) -> None:  # fmt: skip
        if not roles or set(roles) - {"broker", "controller"}:
            raise BrokerError(f"broker {name}: roles {roles!r} — give broker, controller or both")
        self.name = name
        self.node_id = node_id
        self.roles = tuple(r for r in ("broker", "controller") if r in roles)
        self.state_dir = Path(state_dir).resolve()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.ca, self.clients_ca, self.secrets = ca, clients_ca, secrets
        self.kube, self.namespace, self.cluster, self.pod_name = kube, namespace, cluster, pod_name
        self.ignored_config: list[str] = []
        self.libs_dir = self.java = None
        self._proc = self._cds_dump = None
        self._lock = threading.RLock()
        self._state = {"address": f"{pod_name}.{cluster}-kafka-brokers.{namespace}.svc", "ports": {}}
        self._up = False
        # set by the reconciler before start(): the pod to create, the owner of the Secret, the listeners'
        # plans (types and nodeport configuration) and the metadata version
        self.pod_body = None
        self.owner: dict | None = None
        self.listener_plans: tuple = ()
        self.metadata_version = ""

    # -- what the rest of the stand-in sees ---------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._up

    @property
    def pid(self) -> int | None:
        return None

    def prepare(self, spec: BrokerSpec) -> str:
        return self.address

    def _save_state(self) -> None:
        pass  # the pod's DNS name never changes; nothing to keep

    def start(self, spec: BrokerSpec, timeout: float = 60) -> None:
        with self._lock:
            if self._up:
                raise BrokerError(
                    f"broker {self.name} is already running (pod {self.pod_name}); use restart()"
                )
            self._check_listeners(spec)
            self._state["ports"] = {**self._state["ports"], **self._listener_ports(spec)}
            self._apply_secret(spec)
            deadline = time.monotonic() + timeout
            if self.kube.get("Pod", self.namespace, self.pod_name) is None:
                self.kube.apply(self.pod_body())
            self._wait_ready(spec, deadline, timeout)
            self._up = True

    def stop(self, timeout: float = 20) -> None:
        with self._lock:
            self._up = False
            if self.kube.get("Pod", self.namespace, self.pod_name) is not None:
                self.kube.delete("Pod", self.namespace, self.pod_name)
            deadline = time.monotonic() + timeout + 30  # the pod's own grace period is 30 s
            while time.monotonic() < deadline and self.kube.get("Pod", self.namespace, self.pod_name):
                time.sleep(0.5)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return self.kube.pod_log(self.namespace, self.pod_name, lines) or "(empty pod log)"
        except Exception as e:  # noqa: BLE001 - the log is only for the error message
            return f"(no log of pod {self.pod_name}: {e})"

    def _kill_leftover(self) -> None:
        pass

    # -- configuration, moved into the pod ----------------------------------------------------------------

    def _keystore(self, spec: BrokerSpec) -> Path:
        svc = f"{self.cluster}-kafka-bootstrap"
        brokers = f"{self.pod_name}.{self.cluster}-kafka-brokers"
        hosts = [self.address, brokers, svc, f"{svc}.{self.namespace}", f"{svc}.{self.namespace}.svc"]
        hosts += self._advertised_hosts()
        return super()._keystore(BrokerSpec(spec.listeners, tls_hosts=[*hosts, *spec.tls_hosts]))

    def _advertised(self) -> dict[str, str]:
        """Broker listener name -> host:port it advertises (Strimzi's rules)."""
        out = {}
        for lst in self.listener_plans:
            host, port = self.address, lst.port
            if lst.type == "nodeport":
                mine = [b for b in lst.configuration.get("brokers") or [] if b.get("broker") == self.node_id]
                conf = mine[0] if mine else {}
                host = conf.get("advertisedHost") or host
                port = conf.get("advertisedPort") or conf.get("nodePort") or port
            out[_listener_name(lst.name)] = f"{host}:{port}"
        return out

    def _advertised_hosts(self) -> list[str]:
        return sorted({a.rsplit(":", 1)[0] for a in self._advertised().values()})

    def _apply_secret(self, spec: BrokerSpec) -> None:
        path = self._write_properties(spec)
        text = path.read_text()
        files = {"cluster-ca.crt": self.ca.cert_path, "clients-ca.crt": self.clients_ca.cert_path}
        keystore = self.state_dir / "keystore.pem"
        if keystore.exists():
            files["keystore.pem"] = keystore
        for key, local in files.items():
            text = text.replace(str(local), f"{CONFIG_DIR}/{key}")
        text = re.sub(r"^log\.dirs=.*$", f"log.dirs={DATA_DIR}/kafka-log{self.node_id}", text, flags=re.M)
        # bind every interface of the pod; advertise what clients can reach
        text = re.sub(
            r"^listeners=(.*)$",
            lambda m: (
                "listeners="
                + ",".join(re.sub(r"://.*:(\d+)$", r"://0.0.0.0:\1", x) for x in m.group(1).split(","))
            ),
            text,
            flags=re.M,
        )
        advertised = self._advertised()
        text = re.sub(r"^advertised\.listeners=(.*)$", lambda m: "advertised.listeners=" + ",".join(
            f"{n}://{advertised.get(n, a)}" for n, a in (x.split("://", 1) for x in m.group(1).split(","))
        ), text, flags=re.M)  # fmt: skip
        data = {
            "server.config": text.encode(),
            "cluster.id": self.cluster_id.encode(),
            "metadata.version": self.metadata_version.encode(),
            # seeded into the storage at format time (kafka_run.sh: kafka-storage format --add-scram)
            "admin.scram": f"SCRAM-SHA-512=[name={ADMIN_USER},password={self.secrets.admin_password}]".encode(),  # noqa: E501
            **{key: Path(local).read_bytes() for key, local in files.items()},
        }
        self.kube.apply({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": self.pod_name,
                "namespace": self.namespace,
                "labels": {"strimzi.io/cluster": self.cluster, "strimzi.io/kind": "Kafka",
                           "strimzi.io/name": f"{self.cluster}-kafka",
                           "app.kubernetes.io/managed-by": "strimzi-cluster-operator"},
                "ownerReferences": [self.owner] if self.owner else [],
            },
            "type": "Opaque",
            "data": {k: base64.b64encode(v).decode() for k, v in data.items()},
        })  # fmt: skip

    def _wait_ready(self, spec: BrokerSpec, deadline: float, timeout: float) -> None:
        """Ready = the pod is Ready (its readiness probe: the node's ports answer) and, for a broker, the
        admin user can read the cluster metadata through it."""
        while True:
            pod = self.kube.get("Pod", self.namespace, self.pod_name)
            status = (pod or {}).get("status") or {}
            ready = any(
                c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or []
            )
            if ready and (not self.is_broker or (self._admin_ok() and self._node_ports_ok(status))):
                return
            for c in status.get("containerStatuses") or []:
                waiting = (c.get("state") or {}).get("waiting") or {}
                if waiting.get("reason") in (
                    "CrashLoopBackOff",
                    "ErrImageNeverPull",
                    "ImagePullBackOff",
                    "ErrImagePull",
                    "CreateContainerConfigError",
                    "InvalidImageName",
                ):
                    raise BrokerError(f"broker {self.name}: pod {self.pod_name} {waiting.get('reason')}: "
                                      f"{waiting.get('message', '')}\n{self.log_tail()}")  # fmt: skip
            if time.monotonic() > deadline:
                raise BrokerError(
                    f"broker {self.name}: pod {self.pod_name} not ready after {timeout:.0f}s (phase "
                    f"{status.get('phase')}) — `kubectl describe pod {self.pod_name} -n {self.namespace}`\n"
                    + self.log_tail()
                )
            time.sleep(1)

    def _node_ports_ok(self, pod_status: dict) -> bool:
        """Every nodeport listener of this broker answers on its node port, the way a client outside the
        cluster comes in (through kube-proxy, which lags the pod's readiness by a moment): Ready must mean
        reachable, or a client that trusts the Kafka's Ready finds a refused connection."""
        host = pod_status.get("hostIP")
        base, node_id = self.pod_name.rsplit("-", 1)
        for lst in self.listener_plans:
            if lst.type != "nodeport" or not host:
                continue
            name = self.pod_name if lst.name == "external" else f"{base}-{lst.name}-{node_id}"
            svc = self.kube.get("Service", self.namespace, name) or {}
            ports = [
                p.get("nodePort") for p in (svc.get("spec") or {}).get("ports") or [] if p.get("nodePort")
            ]
            for port in ports:
                try:
                    socket.create_connection((host, port), timeout=2).close()
                except OSError:
                    return False
        return True

    @property
    def admin_address(self) -> str:
        return f"{self.address}:{ADMIN_PORT}"


def make_node(kube):
    """The node factory Clusters takes in pod mode: node `node_id` of `pool` becomes pod
    `<cluster>-<pool>-<id>`."""

    def node(cluster, node_id: int, pool: str, roles, state_dir: Path) -> PodBroker:
        return PodBroker(
            f"{cluster.namespace}-{cluster.name}-{pool}-{node_id}", state_dir, cluster.cluster_ca,
            clients_ca=cluster.clients_ca, node_id=node_id, roles=roles, secrets=cluster.secrets, kube=kube,
            namespace=cluster.namespace, cluster=cluster.name, pod_name=f"{cluster.name}-{pool}-{node_id}",
        )  # fmt: skip

    return node
