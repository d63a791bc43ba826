"""The stand-in's live Kafka clusters: per Kafka resource, its two CAs, one real Kafka node per pool node,
and a bootstrap proxy per listener.

State lives under `<state-dir>/<namespace>/<name>/`: cluster-ca/, clients-ca/, `cluster.json` (cluster id and
the stand-in's passwords, shared by the nodes), `bootstrap.json` (the proxies' ports) and one directory per
node, named like its pod without the cluster prefix (`<pool>-<id>/`, see broker.py). A stand-in restart finds
the same CAs, cluster id, addresses, ports and data. The Kafka's uid is recorded too: a Kafka deleted and
created again under the same name is a new cluster (fresh id, no old topics), as with Strimzi's ephemeral
storage.
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path

from .bootstrap import BootstrapProxy
from .broker import Broker, BrokerSpec, ClusterSecrets, ListenerSpec, admin_config, claim_port, free_port
from .ca import ClusterCA
from .validate import KafkaPlan, PoolPlan

__all__ = ["Cluster", "Clusters", "broker_spec"]

log = logging.getLogger("standin.clusters")


def broker_spec(plan: KafkaPlan, pool: PoolPlan | None = None, voters: tuple = ()) -> BrokerSpec:
    """The spec of a node of `pool` (its heap); `voters` are the cluster's controllers."""
    return BrokerSpec(
        listeners=[ListenerSpec(lst.name, lst.tls, lst.authentication, lst.port) for lst in plan.listeners],
        authorization_simple=plan.authorization_simple,
        config=dict(plan.config),
        voters=tuple(voters),
        brokers=sum(len(p.node_ids) for p in plan.pools if "broker" in p.roles),
        heap=pool.heap if pool else None,
    )


@dataclass
class Cluster:
    namespace: str
    name: str
    base: Path
    libs_dir: Path
    cluster_ca: ClusterCA
    clients_ca: ClusterCA
    secrets: ClusterSecrets
    nodes: dict[int, Broker] = field(default_factory=dict)  # node id -> its Kafka process
    # per node: what its running JVM was started from (spec fingerprint, voters, roles, heap); its pod's uid
    started_from: dict[int, tuple] = field(default_factory=dict)
    pod_uids: dict[int, str] = field(default_factory=dict)
    failed: tuple | None = None  # (generation, fingerprint) whose start failed: not retried until a change
    applied_passwords: dict[str, str] = field(default_factory=dict)  # SCRAM user -> sha256 of what was set
    proxies: dict[str, BootstrapProxy] = field(default_factory=dict)  # spec listener name -> its proxy
    lock: threading.RLock = field(default_factory=threading.RLock)
    # pod mode: makes a node a pod (podbroker.PodBroker) instead of a host JVM; no bootstrap proxies then,
    # the cluster's Services reach the pods
    pods: object = None

    @property
    def cluster_id(self) -> str:
        return self.secrets.cluster_id

    @property
    def brokers(self) -> list[Broker]:
        return [n for _, n in sorted(self.nodes.items()) if n.is_broker]

    @property
    def ready(self) -> bool:
        """Started from a spec, and some broker runs (one being restarted does not stop topics and users)."""
        return bool(self.started_from) and any(b.running for b in self.brokers)

    @property
    def admin_config(self) -> dict:
        """kafka-python keyword arguments reaching the brokers' admin listeners as the super user."""
        brokers = [b for b in self.brokers if b.running] or self.brokers
        return admin_config([b.admin_address for b in brokers], self.secrets)

    def node(self, node_id: int, pool: str, roles: tuple[str, ...]) -> Broker:
        """The node `node_id` of `pool` with these roles (a new object, same data, when its roles change)."""
        with self.lock:
            node = self.nodes.get(node_id)
            state_dir = self.base / f"{pool}-{node_id}"
            if node is not None and (node.state_dir != state_dir.resolve() or node.roles != _roles(roles)):
                node.stop()
                node = None
            if node is None and self.pods is not None:  # pod mode (podbroker.py)
                node = self.pods(self, node_id, pool, roles, state_dir)
                self.nodes[node_id] = node
                self.started_from.pop(node_id, None)
            if node is None:
                node = Broker(f"{self.namespace}-{self.name}-{pool}-{node_id}", state_dir, self.cluster_ca,
                              self.libs_dir, clients_ca=self.clients_ca, node_id=node_id, roles=roles,
                              secrets=self.secrets)  # fmt: skip
                self.nodes[node_id] = node
                self.started_from.pop(node_id, None)
            return node

    def remove_node(self, node_id: int) -> None:
        """Stop a node no longer wanted and delete its data (as Strimzi deletes the pod and its PVC)."""
        with self.lock:
            node = self.nodes.pop(node_id, None)
            self.started_from.pop(node_id, None)
            self.pod_uids.pop(node_id, None)
        if node is not None:
            node.stop()
            shutil.rmtree(node.state_dir, ignore_errors=True)

    def bootstrap_ports(self, listeners: list[str]) -> dict[str, int]:
        """Spec listener name -> the port of its bootstrap proxy on 127.0.0.1 (kept across restarts)."""
        path = self.base / "bootstrap.json"
        with self.lock:
            ports = json.loads(path.read_text()) if path.exists() else {}
            for port in ports.values():
                claim_port(port)
            changed = False
            for name in listeners:
                if name not in ports:
                    ports[name], changed = free_port(), True
            if changed:
                path.write_text(json.dumps(ports, indent=2))
            return {name: ports[name] for name in listeners}

    def update_endpoints(self, listeners: list[str]) -> None:
        """Point each listener's bootstrap proxy at the brokers running now (none: the proxy closes)."""
        if self.pods is not None:
            return
        with self.lock:
            ports = self.bootstrap_ports(listeners)
            for name in list(self.proxies):
                if name not in ports:
                    self.proxies.pop(name).close()
            for name, port in ports.items():
                proxy = self.proxies.get(name)
                if proxy is None or proxy.port != port:
                    if proxy is not None:
                        proxy.close()
                    proxy = self.proxies[name] = BootstrapProxy(f"{self.namespace}/{self.name}/{name}", port)
                proxy.set_endpoints(
                    [(b.address, b.ports[name]) for b in self.brokers if b.running and name in b.ports]
                )

    def stop(self) -> None:
        with self.lock:
            for proxy in self.proxies.values():
                proxy.close()
            self.proxies.clear()
            nodes = list(self.nodes.values())
        # all at once: one by one, the last controllers would wait for a quorum that is already gone
        errors = []

        def stop(node: Broker) -> None:
            try:
                node.stop()
            except Exception as e:  # noqa: BLE001 - stop the others anyway
                errors.append(e)

        threads = [threading.Thread(target=stop, args=(n,)) for n in nodes]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]


def _roles(roles) -> tuple[str, ...]:
    return tuple(r for r in ("broker", "controller") if r in roles)


class Clusters:
    def __init__(self, state_dir: Path, libs_dir: Path | None, pods=None) -> None:
        """`pods`: None (nodes are host JVMs), or pod mode's node factory (podbroker.make_node)."""
        self.pods = pods
        self.state_dir = Path(state_dir)
        self.libs_dir = libs_dir
        self._lock = threading.Lock()
        self._clusters: dict[tuple[str, str], Cluster] = {}

    def get(self, namespace: str, name: str) -> Cluster | None:
        with self._lock:
            return self._clusters.get((namespace, name))

    def ensure(self, namespace: str, name: str, uid: str) -> Cluster:
        """The cluster of Kafka `namespace/name` with this uid, created (CAs, secrets) if new."""
        with self._lock:
            cluster = self._clusters.get((namespace, name))
            if cluster is not None:
                return cluster
            base = self.state_dir / namespace / name
            uid_file = base / "uid"
            if base.exists() and (not uid_file.exists() or uid_file.read_text().strip() != uid):
                log.info("state of an earlier Kafka %s/%s found in %s: wiping it", namespace, name, base)
                shutil.rmtree(base)
            base.mkdir(parents=True, exist_ok=True)
            uid_file.write_text(uid)
            cluster = Cluster(
                namespace,
                name,
                base,
                self.libs_dir,
                ClusterCA(base / "cluster-ca", common_name=f"cluster-ca {namespace}/{name}"),
                ClusterCA(base / "clients-ca", common_name=f"clients-ca {namespace}/{name}"),
                ClusterSecrets(base / "cluster.json"),
                pods=self.pods,
            )
            self._clusters[(namespace, name)] = cluster
            return cluster

    def remove(self, namespace: str, name: str) -> bool:
        """Stop the nodes of a deleted Kafka and wipe its state. True if there was one."""
        with self._lock:
            cluster = self._clusters.pop((namespace, name), None)
        base = self.state_dir / namespace / name
        if cluster is not None:
            cluster.stop()
        if base.exists():
            shutil.rmtree(base, ignore_errors=True)
            try:
                base.parent.rmdir()  # the namespace's directory, once its last cluster is gone
            except OSError:
                pass
        return cluster is not None

    def stop_all(self) -> None:
        with self._lock:
            clusters = list(self._clusters.values())
        for cluster in clusters:
            try:
                cluster.stop()
            except Exception:  # noqa: BLE001 - stop the others anyway
                log.exception("stopping the nodes of %s/%s failed", cluster.namespace, cluster.name)
