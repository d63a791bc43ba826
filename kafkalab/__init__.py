"""kafkalab: learn, teach and regression-test Apache Kafka on Kubernetes with Strimzi.

The notebooks call the modules by the names their prose uses::

    from kafkalab import kind, strimzi, clients, display
    strimzi.ensure_kafka("my-cluster", "kafka")

Nothing here reads a kube config at import time: each call loads it on first use.
"""

from . import clients, display, errors, kind, kube, strimzi, suite
from .errors import (
    ClusterUnreachable,
    KafkalabError,
    KafkaUnreachable,
    ManifestRejected,
    MissingTool,
    NotFound,
    ResourceFailed,
    WaitTimeout,
)

__version__ = "0.1.0"

__all__ = [
    "ClusterUnreachable",
    "KafkaUnreachable",
    "KafkalabError",
    "ManifestRejected",
    "MissingTool",
    "NotFound",
    "ResourceFailed",
    "WaitTimeout",
    "__version__",
    "clients",
    "display",
    "errors",
    "kind",
    "kube",
    "strimzi",
    "suite",
]
