"""The stand-in's live Kafka clusters: per Kafka resource, its two CAs and its one real broker.

State lives under `<state-dir>/<namespace>/<name>/` (cluster-ca/, clients-ca/, broker/) so a stand-in restart
finds the same CAs, cluster id, ports and data. The Kafka's uid is recorded too: a Kafka deleted and created
again under the same name is a new cluster (fresh id, no old topics), as with Strimzi's ephemeral storage.
"""

from __future__ import annotations

import logging
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path

from .broker import Broker, BrokerSpec, ListenerSpec
from .ca import ClusterCA
from .validate import KafkaPlan

__all__ = ["Cluster", "Clusters", "broker_spec"]

log = logging.getLogger("standin.clusters")


def broker_spec(plan: KafkaPlan) -> BrokerSpec:
    return BrokerSpec(
        listeners=[ListenerSpec(lst.name, lst.tls, lst.authentication) for lst in plan.listeners],
        authorization_simple=plan.authorization_simple,
        config=dict(plan.config),
    )


@dataclass
class Cluster:
    namespace: str
    name: str
    broker: Broker
    cluster_ca: ClusterCA
    clients_ca: ClusterCA
    fingerprint: tuple | None = (
        None  # what the running broker was started from (KafkaPlan.broker_fingerprint)
    )
    failed: tuple | None = None  # (generation, fingerprint) whose start failed: not retried until a change
    applied_passwords: dict[str, str] = field(default_factory=dict)  # SCRAM user -> sha256 of what was set

    @property
    def ready(self) -> bool:
        return self.broker.running and self.fingerprint is not None


class Clusters:
    def __init__(self, state_dir: Path, libs_dir: Path) -> None:
        self.state_dir = Path(state_dir)
        self.libs_dir = libs_dir
        self._lock = threading.Lock()
        self._clusters: dict[tuple[str, str], Cluster] = {}

    def get(self, namespace: str, name: str) -> Cluster | None:
        with self._lock:
            return self._clusters.get((namespace, name))

    def ensure(self, namespace: str, name: str, uid: str) -> Cluster:
        """The cluster of Kafka `namespace/name` with this uid, created (CAs, broker object) if new."""
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
            cluster_ca = ClusterCA(base / "cluster-ca", common_name=f"cluster-ca {namespace}/{name}")
            clients_ca = ClusterCA(base / "clients-ca", common_name=f"clients-ca {namespace}/{name}")
            broker = Broker(
                f"{namespace}-{name}", base / "broker", cluster_ca, self.libs_dir, clients_ca=clients_ca
            )
            cluster = Cluster(namespace, name, broker, cluster_ca, clients_ca)
            self._clusters[(namespace, name)] = cluster
            return cluster

    def remove(self, namespace: str, name: str) -> bool:
        """Stop the broker of a deleted Kafka and wipe its state. True if there was one."""
        with self._lock:
            cluster = self._clusters.pop((namespace, name), None)
        base = self.state_dir / namespace / name
        if cluster is not None:
            cluster.broker.stop()
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
                cluster.broker.stop()
            except Exception:  # noqa: BLE001 - stop the others anyway
                log.exception("stopping broker %s/%s failed", cluster.namespace, cluster.name)
