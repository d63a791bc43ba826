"""What every reconcile function gets: the API, the gate, the live clusters and the work queue."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from .clusters import Clusters
from .gate import Gate
from .kubeapi import Kube
from .validate import CLUSTER_LABEL
from .workqueue import WorkQueue

__all__ = ["Context", "Key"]

Key = tuple[str, str, str]  # (kind, namespace, name)

# How long to wait before looking again at something that waits on something else.
GATE_RETRY = 5.0  # no operator watching yet
CLUSTER_RETRY = 10.0  # the Kafka of a topic/user is not ready yet


@dataclass
class Context:
    kube: Kube
    gate: Gate
    clusters: Clusters
    queue: WorkQueue | None = None
    # The last body seen of each object, so a deletion (no finalizer) can still be cleaned up after.
    last_seen: dict[Key, dict] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def kick(self, kind: str, namespace: str, name: str, delay: float = 0.0) -> None:
        if self.queue is not None:
            self.queue.kick((kind, namespace, name), delay)

    def kick_members(self, namespace: str, cluster: str) -> None:
        """Re-look at the topics and users of a cluster (it became ready, or changed)."""
        for kind in ("KafkaTopic", "KafkaUser"):
            for obj in self.kube.list(kind, namespace, labels={CLUSTER_LABEL: cluster}):
                self.kick(kind, namespace, obj["metadata"]["name"])

    def known(self) -> list[Key]:
        with self.lock:
            return list(self.last_seen)
