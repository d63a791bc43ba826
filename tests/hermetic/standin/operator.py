"""The stand-in operator: kopf watches the Strimzi resources, a work queue reconciles them.

kopf's part is what it is good at — logging in, watching every namespace (with re-listing after a broken
watch), handing each event over. Each handler only records the body and kicks the key; the reconcile
functions (kafkas, topics, users) read the object fresh and act. See workqueue.py for why kopf's own
change handlers (which write annotations and finalizers onto resources) are not used.
"""

from __future__ import annotations

import asyncio
import logging
import threading

import kafka.errors
import kopf

from . import status
from .context import Context, Key
from .gate import OPERATOR_NAME
from .kafkas import reconcile_kafka
from .kubeapi import STRIMZI_GROUP, ApiException
from .topics import reconcile_topic
from .users import cleanup_user, reconcile_user
from .validate import CLUSTER_LABEL

__all__ = ["RESYNC_SECONDS", "Standin", "make_registry"]

log = logging.getLogger("standin")

# Strimzi reconciles everything periodically too (STRIMZI_FULL_RECONCILIATION_INTERVAL_MS, 2 min); this
# also restarts a broker that died and re-creates a pod someone deleted.
RESYNC_SECONDS = 60.0

_RECONCILERS = {"Kafka": reconcile_kafka, "KafkaTopic": reconcile_topic, "KafkaUser": reconcile_user}


class Standin:
    """Owns the context; `reconcile(key)` is what the work queue runs."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._stop = threading.Event()
        self._resync = threading.Thread(target=self._resync_loop, name="resync", daemon=True)

    def start(self) -> None:
        self.ctx.queue.start()
        self._resync.start()

    def shutdown(self) -> None:
        """Stop reconciling, then stop every broker (each JVM shuts down cleanly on SIGTERM)."""
        self._stop.set()
        self.ctx.queue.stop()
        self.ctx.clusters.stop_all()

    def reconcile(self, key: Key) -> float | None:
        kind, namespace, name = key
        try:
            return _RECONCILERS[kind](self.ctx, namespace, name)
        except ApiException as e:
            if e.status == 409:
                return 0.5  # we lost a race on resourceVersion: look again with a fresh object
            if e.status == 403 and "being terminated" in (e.body or ""):
                return None  # the namespace is going away, and everything in it with it
            log.warning(
                "%s %s/%s: Kubernetes API error %s %s; retrying", kind, namespace, name, e.status, e.reason
            )
            return 5.0
        except kafka.errors.KafkaError as e:
            log.warning("%s %s/%s: cannot reach the broker (%r); retrying", kind, namespace, name, e)
            return 5.0
        except Exception as e:  # noqa: BLE001 - whatever it is, the resource's status must say so
            log.exception("%s %s/%s: reconcile failed", kind, namespace, name)
            self._report(kind, namespace, name, e)
            return 30.0

    def _report(self, kind: str, namespace: str, name: str, error: Exception) -> None:
        """Put an unexpected failure into the resource's status, so it is visible where a learner looks."""
        what = f"{type(error).__name__}: {error}"
        message = f"The hermetic Strimzi stand-in could not handle this resource ({what})"
        try:
            obj = self.ctx.kube.get(kind, namespace, name)
            if obj is None:
                return
            old, generation = obj.get("status"), obj["metadata"].get("generation")
            if kind == "KafkaTopic":  # the Topic Operator's reason for the unexpected
                new = status.topic_failed("InternalError", message, generation, old, None)
            elif kind == "KafkaUser":
                new = status.user_failed("StandinInternalError", message, generation, old)
            else:
                new = status.failed_kafka("StandinInternalError", message, generation, old)
            if not status.same_status(new, old):
                self.ctx.kube.patch_status(kind, namespace, name, new, old)
                self.ctx.kube.event(obj, "StandinInternalError", message, warning=True)
        except Exception:  # noqa: BLE001 - reporting is best effort; the log has the traceback
            log.exception("%s %s/%s: could not report the failure in its status", kind, namespace, name)

    # -- events from kopf ---------------------------------------------------------------------------

    def seen(self, kind: str, event_type: str | None, body: dict) -> None:
        meta = body["metadata"]
        key = (kind, meta["namespace"], meta["name"])
        with self.ctx.lock:
            if event_type == "DELETED":
                last = self.ctx.last_seen.pop(key, None)
            else:
                self.ctx.last_seen[key] = body
                last = None
        if kind == "KafkaUser" and event_type == "DELETED":
            # No finalizer on users (as Strimzi): clean Kafka up from the last body we saw.
            threading.Thread(target=cleanup_user, args=(self.ctx, last or body), daemon=True).start()
            return
        if kind == "KafkaNodePool":
            cluster = (meta.get("labels") or {}).get(CLUSTER_LABEL)
            if cluster:
                self.ctx.kick("Kafka", meta["namespace"], cluster)
            return
        self.ctx.kick(*key)

    def operator_changed(self) -> None:
        """An operator Deployment appeared, changed or went: what it watches may have changed."""
        self.ctx.gate.forget()
        self._check_operators()
        for key in self.ctx.known():
            if key[0] in _RECONCILERS:
                self.ctx.kick(*key)

    def _check_operators(self) -> None:
        """Crash-loop (or bring back) the operators whose RBAC does not (or again does) cover their watch."""
        try:
            self.ctx.gate.check_operators()
        except Exception:  # noqa: BLE001 - the next Deployment event or resync round tries again
            log.exception("checking the operator Deployments failed")

    def _resync_loop(self) -> None:
        while not self._stop.wait(RESYNC_SECONDS):
            self._check_operators()  # RoleBindings may have come or gone
            for key in self.ctx.known():
                if key[0] in _RECONCILERS:
                    self.ctx.kick(*key)


def make_registry(standin: Standin, in_cluster: bool = False) -> kopf.OperatorRegistry:
    """kopf handlers bound to `standin` (an explicit registry: importing this module registers nothing).
    in_cluster: the stand-in is the operator pod itself, so no operator Deployments to watch."""
    registry = kopf.OperatorRegistry()

    @kopf.on.startup(registry=registry)
    def configure(settings: kopf.OperatorSettings, **_) -> None:
        settings.posting.enabled = False  # the stand-in posts its own Events (kubeapi.Kube.event)
        settings.watching.server_timeout = 300
        settings.watching.connect_timeout = 10
        # The operator pod's RBAC (Strimzi's) may not list CRDs or namespaces cluster-wide: no scanning.
        settings.scanning.disabled = in_cluster

    @kopf.on.login(registry=registry)
    def login(**kwargs):
        # The kubeconfig was loaded into the client library by __main__; kopf borrows its credentials.
        return kopf.login_via_client(**kwargs)

    for kind, plural in (
        ("Kafka", "kafkas"),
        ("KafkaNodePool", "kafkanodepools"),
        ("KafkaTopic", "kafkatopics"),
        ("KafkaUser", "kafkausers"),
    ):

        async def handler(event, _kind=kind, **_):
            standin.seen(_kind, event.get("type"), event["object"])  # the raw dict, not kopf's live view

        kopf.on.event(STRIMZI_GROUP, "v1", plural, id=f"watch-{plural}", registry=registry)(handler)

    # A Kafka pod deleted by hand comes back at once, as Strimzi's StrimziPodSet controller brings it back.
    @kopf.on.event("pods", labels={"strimzi.io/kind": "Kafka", "strimzi.io/component-type": "kafka"},
                   registry=registry)  # fmt: skip
    async def kafka_pod(event, **_) -> None:
        if event.get("type") == "DELETED":
            meta = event["object"]["metadata"]
            cluster = (meta.get("labels") or {}).get(CLUSTER_LABEL)
            if cluster:
                standin.ctx.kick("Kafka", meta["namespace"], cluster, delay=0.5)

    if not in_cluster:

        @kopf.on.event("apps", "v1", "deployments", field="metadata.name", value=OPERATOR_NAME,
                       registry=registry)  # fmt: skip
        async def operator_deployment(**_) -> None:
            await asyncio.to_thread(standin.operator_changed)  # API calls (RBAC reviews): off the event loop

    @kopf.on.cleanup(registry=registry)
    def cleanup(**_) -> None:
        log.info("stopping: stopping every broker")
        standin.shutdown()

    return registry
