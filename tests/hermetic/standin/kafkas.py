"""Reconcile a Kafka (and its KafkaNodePools) as the Cluster Operator does, with one real broker behind it.

Order, as Strimzi's: validate (refusal -> NotReady with the exception's name), CA secrets, services, the
StrimziPodSets and their pods, the entity operator, then the broker — started on first sight (status
NotReady/Creating meanwhile), restarted when the spec changes what the broker runs (as Strimzi rolls its
pods; the old status stays until the roll is done), restarted if it died. Ready only once the broker
answers its admin client. Deleting the Kafka takes everything it owns with it (owner references) and stops
the broker.
"""

from __future__ import annotations

import logging
import time

from .broker import BrokerError
from .clusters import broker_spec
from .context import GATE_RETRY, Context
from .kubeapi import ApiException
from .objects import (
    ca_secrets,
    entity_operator,
    host_bootstrap_patch,
    owner_reference,
    pod,
    podset,
    services,
)
from .status import failed_kafka, kafka_creating, kafka_ready, pool_status, same_status
from .validate import CLUSTER_LABEL, KafkaPlan, Refusal, kafka_plan

__all__ = ["is_ready", "reconcile_kafka"]

log = logging.getLogger("standin.kafka")

BROKER_START_TIMEOUT = 120.0


def is_ready(obj: dict | None) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in ((obj or {}).get("status") or {}).get("conditions") or []
    )


def reconcile_kafka(ctx: Context, namespace: str, name: str) -> float | None:
    kafka = ctx.kube.get("Kafka", namespace, name)
    if kafka is None:
        if ctx.clusters.remove(namespace, name):
            log.info("Kafka %s/%s deleted: broker stopped, state removed", namespace, name)
        return None
    if kafka["metadata"].get("deletionTimestamp"):
        return None  # the garbage collector takes the rest; the broker stops when the Kafka is gone
    if not ctx.gate.covers(namespace):
        return GATE_RETRY

    pools = ctx.kube.list("KafkaNodePool", namespace, labels={CLUSTER_LABEL: name})
    generation = kafka["metadata"]["generation"]
    old = kafka.get("status")
    try:
        plan = kafka_plan(kafka, pools)
    except Refusal as r:
        _write(
            ctx, kafka, failed_kafka(r.reason, r.message, generation, old), old, event=(r.reason, r.message)
        )
        return None

    cluster = ctx.clusters.ensure(namespace, name, kafka["metadata"]["uid"])
    owner = owner_reference(kafka)
    for secret in ca_secrets(plan, owner, cluster.cluster_ca, cluster.clients_ca):
        ctx.kube.apply(secret)
    for service in services(plan, owner):
        _apply_service(ctx, kafka, service)
    _apply_entity_operator(ctx, plan, owner)

    fingerprint = plan.broker_fingerprint()
    rolling = cluster.broker.running and cluster.fingerprint != fingerprint
    if rolling:
        log.info("Kafka %s/%s: spec changed (generation %s): rolling the broker", namespace, name, generation)
        _delete_pods(ctx, plan)  # Strimzi rolls the pods while the broker restarts; they return after it
    else:
        _apply_pods(ctx, plan, owner)

    if not cluster.broker.running or cluster.fingerprint != fingerprint:
        if cluster.failed == (generation, fingerprint):
            return None  # this spec already failed to start; a change (or a new generation) tries again
        if not is_ready(kafka):
            _write(ctx, kafka, kafka_creating(old), old)
        for key in sorted(plan.ignored_config):  # Strimzi: no condition, no event, only this log line
            log.warning("Kafka %s/%s: Configuration option \"%s\" is forbidden and will be ignored",
                        namespace, name, key)  # fmt: skip
        verb = "Rolling the broker for the changed spec" if rolling else "Starting the broker"
        ctx.kube.event(kafka, "RollingUpdate" if rolling else "Creating", f"{verb} (Kafka {plan.version})")
        started = time.monotonic()
        try:
            if cluster.broker.running:
                cluster.broker.restart(broker_spec(plan), timeout=BROKER_START_TIMEOUT)
            else:
                cluster.broker.start(broker_spec(plan), timeout=BROKER_START_TIMEOUT)
        except BrokerError as e:
            cluster.failed, cluster.fingerprint = (generation, fingerprint), None
            message = f"The Kafka broker did not start: {e}"
            _write(ctx, kafka, failed_kafka("StandinBrokerError", message, generation, old, plan), old,
                   event=("StandinBrokerError", message))  # fmt: skip
            return None
        cluster.fingerprint, cluster.failed = fingerprint, None
        log.info("broker of Kafka %s/%s up in %.1fs, ports %s", namespace, name, time.monotonic() - started,
                 cluster.broker.ports)  # fmt: skip
        if rolling:
            _apply_pods(ctx, plan, owner, wait_gone=True)
            log.info(
                "Kafka %s/%s: pods rolled, %.1fs after the roll began",
                namespace,
                name,
                time.monotonic() - started,
            )

    ready = kafka_ready(
        plan,
        generation,
        cluster.broker.cluster_id,
        cluster.broker.ports,
        cluster.cluster_ca.ca_crt.decode(),
        _warnings(plan),
        old,
    )
    became_ready = not is_ready(kafka)
    # Pools first, as Strimzi: whoever sees the Kafka Ready finds its pools' status already there.
    for pool_obj in pools:
        pool_plan = next(p for p in plan.pools if p.name == pool_obj["metadata"]["name"])
        pool_old = pool_obj.get("status")
        new = pool_status(
            name, pool_plan, cluster.broker.cluster_id, pool_obj["metadata"]["generation"], pool_old
        )
        if not same_status(new, pool_old):
            ctx.kube.patch_status("KafkaNodePool", namespace, pool_plan.name, new, pool_old)
    ctx.kube.patch(
        "Service", namespace, f"{name}-kafka-bootstrap", host_bootstrap_patch(plan, cluster.broker.ports)
    )
    _write(ctx, kafka, ready, old)
    if became_ready:
        ctx.kube.event(kafka, "Ready", f"Kafka cluster {name} is ready (broker on 127.0.0.1)")
    ctx.kick_members(namespace, name)  # topics and users may have waited for this cluster
    return None


def _warnings(plan: KafkaPlan) -> list[tuple[str, str]]:
    """Warning conditions: what a learner should know about this stand-in cluster."""
    brokers = sum(len(p.node_ids) for p in plan.pools if "broker" in p.roles)
    if brokers <= 1:
        return []
    return [
        (
            "StandinSingleBroker",
            f"The hermetic Strimzi stand-in runs one real broker for the {brokers} broker nodes of this "
            "cluster (the pods are on paper): topics with more than 1 replica fail with "
            "InvalidReplicationFactorException",
        )
    ]


def _write(
    ctx: Context, kafka: dict, new: dict, old: dict | None, event: tuple[str, str] | None = None
) -> None:
    if same_status(new, old):
        return
    meta = kafka["metadata"]
    ctx.kube.patch_status("Kafka", meta["namespace"], meta["name"], new, old)
    if event:
        ctx.kube.event(kafka, event[0], event[1], warning=True)
        log.warning("Kafka %s/%s: %s: %s", meta["namespace"], meta["name"], *event)


def _apply_service(ctx: Context, kafka: dict, service: dict) -> None:
    try:
        ctx.kube.apply(service)
    except ApiException as e:
        # Pinned node ports are cluster-wide: two hermetic clusters from the same manifest would clash.
        # On kind that is an error; here the port means nothing (clients use 127.0.0.1): drop it, say so.
        if e.status != 422 or "nodePort" not in str(e.body):
            raise
        for port in service["spec"]["ports"]:
            port.pop("nodePort", None)
        ctx.kube.apply(service)
        ctx.kube.event(
            kafka,
            "NodePortInUse",
            f"Service {service['metadata']['name']}: the pinned nodePort is taken; created without it",
            warning=True,
        )


def _apply_entity_operator(ctx: Context, plan: KafkaPlan, owner: dict) -> None:
    if plan.topic_operator or plan.user_operator:
        ctx.kube.apply(entity_operator(plan, owner))
    else:
        ctx.kube.delete("Deployment", plan.namespace, f"{plan.name}-entity-operator")


def _desired_pods(plan: KafkaPlan) -> set[str]:
    return {f"{plan.name}-{pool.name}-{i}" for pool in plan.pools for i in pool.node_ids}


def _apply_pods(ctx: Context, plan: KafkaPlan, owner: dict, wait_gone: bool = False) -> None:
    """The StrimziPodSets and their pods; pods and podsets no longer wanted are deleted."""
    selector = {CLUSTER_LABEL: plan.name, "strimzi.io/name": f"{plan.name}-kafka"}
    wanted_sets = {f"{plan.name}-{p.name}" for p in plan.pools}
    for ps in ctx.kube.list("StrimziPodSet", plan.namespace, labels=selector):
        if ps["metadata"]["name"] not in wanted_sets:
            ctx.kube.delete("StrimziPodSet", plan.namespace, ps["metadata"]["name"])
    wanted = _desired_pods(plan)
    for p in ctx.kube.list("Pod", plan.namespace, labels=selector):
        if p["metadata"]["name"] not in wanted:
            ctx.kube.delete("Pod", plan.namespace, p["metadata"]["name"])
    for pool in plan.pools:
        applied = ctx.kube.apply(podset(plan, pool, owner))
        ps_owner = owner_reference(applied, controller=True)
        for node_id in pool.node_ids:
            body = pod(plan, pool, node_id, ps_owner)
            if wait_gone:
                _wait_gone(ctx, "Pod", plan.namespace, body["metadata"]["name"])
            existing = ctx.kube.get("Pod", plan.namespace, body["metadata"]["name"])
            if existing is None:
                ctx.kube.apply(body)
        # what `kubectl get strimzipodsets` shows (PODS / READY PODS / CURRENT PODS)
        n = len(pool.node_ids)
        podset_status = {
            "observedGeneration": applied["metadata"]["generation"],
            "pods": n,
            "readyPods": n,
            "currentPods": n,
        }
        if applied.get("status") != podset_status:
            ctx.kube.patch_status(
                "StrimziPodSet", plan.namespace, applied["metadata"]["name"], podset_status, None
            )


def _delete_pods(ctx: Context, plan: KafkaPlan) -> None:
    for name in _desired_pods(plan):
        ctx.kube.delete("Pod", plan.namespace, name)


def _wait_gone(ctx: Context, kind: str, namespace: str, name: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and ctx.kube.get(kind, namespace, name) is not None:
        time.sleep(0.2)
