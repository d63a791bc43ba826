"""Where a hermetic test on the host reaches a Kafka listener — test-only, the stand-in's alone.

`status.listeners` holds what Strimzi writes: an internal listener's address is the bootstrap Service's
in-cluster name (`<cluster>-kafka-bootstrap.<ns>.svc:9092`), which nothing on the host resolves (on kind
neither). The stand-in also publishes, on that Service, the `127.0.0.1:<port>` where the host reaches each
listener (objects.HOST_BOOTSTRAP_ANNOTATION); tests that talk to an internal listener read it here. Nothing
in kafkalab/ or the notebooks may use it: real Strimzi writes no such thing.
"""

from __future__ import annotations

import json

from kafkalab import kube
from tests.hermetic.standin.objects import HOST_BOOTSTRAP_ANNOTATION

__all__ = ["host_bootstrap", "reachable"]


def host_bootstrap(cluster: str, namespace: str, listener: str, context: str | None = None) -> str:
    """`127.0.0.1:<port>` of `listener` of Kafka `cluster`, as the stand-in published it."""
    svc = kube.get("v1", "Service", f"{cluster}-kafka-bootstrap", namespace, context)
    annotations = ((svc or {}).get("metadata") or {}).get("annotations") or {}
    if HOST_BOOTSTRAP_ANNOTATION not in annotations:
        raise AssertionError(
            f"Service {namespace}/{cluster}-kafka-bootstrap has no {HOST_BOOTSTRAP_ANNOTATION} annotation: "
            "is the Kafka Ready (the stand-in writes it then)?"
        )
    return json.loads(annotations[HOST_BOOTSTRAP_ANNOTATION])[listener]


def reachable(conn, cluster: str, namespace: str, listener: str):
    """`conn` (from kafkalab.clients.connection) with bootstrap_servers the host can reach."""
    conn["bootstrap_servers"] = host_bootstrap(cluster, namespace, listener)
    return conn
