"""Reconcile a Kafka (and its KafkaNodePools) as the Cluster Operator does, one real Kafka node per pool node.

Order, as Strimzi's: validate (refusal -> NotReady with the exception's name), the broker scale-down check
(scaling.py), CA secrets, services, the StrimziPodSets and their pods, the entity operator, then the nodes:
- first sight: every node starts at once (a KRaft quorum needs most of its controllers up before any broker
  is ready); status NotReady/Creating meanwhile;
- a pod deleted (by hand, or its node died): that node's JVM stops — the container went with the pod — the
  pod comes back, as the StrimziPodSet controller brings it back, and the node starts again with the same node
  id, address and data, then catches up until it is back in the ISR of its partitions;
- a spec change that Strimzi rolls the pods for: node after node (pod deleted, node restarted with the new
  config, pod back, node back in the ISR), so a cluster of three keeps serving; the old status stays until
  the roll is done. A changed controller quorum (controllers added or removed) restarts every node at once:
  the quorum is static (`controller.quorum.voters`, as Strimzi 1.2.0 writes it);
- nodes no longer wanted (pool scaled down and allowed to) stop and their data goes, pods with them.
Ready once every node runs and the brokers answer their admin client. Deleting the Kafka takes everything it
owns with it (owner references) and stops its nodes.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor

from .broker import Broker, BrokerError
from .clusters import Cluster, broker_spec
from .context import GATE_RETRY, Context
from .kafkaops import admin_session
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
from .podbroker import PodBroker, pod_runtime
from .scaling import brokers_in_use, removed_brokers, revert_scale_down, skip_check
from .status import failed_kafka, kafka_creating, kafka_ready, pool_status, same_status
from .validate import CLUSTER_LABEL, KafkaPlan, PoolPlan, Refusal, kafka_plan

__all__ = ["is_ready", "reconcile_kafka"]

log = logging.getLogger("standin.kafka")

BROKER_START_TIMEOUT = 120.0
CLUSTER_START_TIMEOUT = 300.0  # per node, when several start together and share the machine's cores
ISR_TIMEOUT = 60.0  # how long a restarted broker may take to catch up before the roll moves on anyway


def is_ready(obj: dict | None) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in ((obj or {}).get("status") or {}).get("conditions") or []
    )


def reconcile_kafka(ctx: Context, namespace: str, name: str) -> float | None:
    kafka = ctx.kube.get("Kafka", namespace, name)
    if kafka is None:
        if ctx.clusters.remove(namespace, name):
            log.info("Kafka %s/%s deleted: nodes stopped, state removed", namespace, name)
        return None
    if kafka["metadata"].get("deletionTimestamp"):
        return None  # the garbage collector takes the rest; the nodes stop when the Kafka is gone
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
    with cluster.lock:
        return _reconcile(ctx, kafka, pools, plan, cluster)


def _reconcile(
    ctx: Context, kafka: dict, pools: list[dict], plan: KafkaPlan, cluster: Cluster
) -> float | None:
    namespace, name = plan.namespace, plan.name
    generation, old = kafka["metadata"]["generation"], kafka.get("status")
    warnings: list[tuple[str, str]] = []
    removed = removed_brokers(plan, pools)
    if removed and not skip_check(kafka) and cluster.ready:
        with admin_session(cluster.admin_config) as admin:
            in_use = removed & brokers_in_use(admin)
        if in_use:
            log.warning(
                "Kafka %s/%s: Cannot scale down brokers %s because %s have assigned partition-replicas",
                namespace, name, sorted(removed), sorted(in_use),
            )  # fmt: skip
            plan, warnings = revert_scale_down(plan, pools)

    owner = owner_reference(kafka)
    for secret in ca_secrets(plan, owner, cluster.cluster_ca, cluster.clients_ca):
        ctx.kube.apply(secret)
    for service in services(plan, owner):
        _apply_service(ctx, kafka, service)
    _apply_entity_operator(ctx, plan, owner)

    fingerprint = plan.broker_fingerprint()
    wanted = {i: pool for pool in plan.pools for i in pool.node_ids}
    for node_id in sorted(set(cluster.nodes) - set(wanted)):
        log.info("Kafka %s/%s: node %s removed (pool scaled down)", namespace, name, node_id)
        cluster.remove_node(node_id)
    nodes = {i: cluster.node(i, pool.name, pool.roles) for i, pool in wanted.items()}
    for i, node in nodes.items():
        if isinstance(node, PodBroker):  # pod mode: what the node needs to make its pod and config
            node.pod_body = _pod_body(ctx, plan, wanted[i], i)
            node.owner, node.listener_plans, node.metadata_version = (
                owner,
                plan.listeners,
                plan.metadata_version,
            )
    listener_names = [lst.name for lst in plan.listeners]
    first = broker_spec(plan)
    voters = tuple((i, n.prepare(first)) for i, n in sorted(nodes.items()) if n.is_controller)
    specs = {i: broker_spec(plan, wanted[i], voters) for i in nodes}
    wants = {i: (fingerprint, voters, nodes[i].roles, wanted[i].heap) for i in nodes}

    # A pod that is gone (or a new one) means the container it stood for is gone: stop that node's JVM.
    pods = _pods(ctx, plan)
    for i, node in nodes.items():
        if node.running and cluster.pod_uids.get(i) not in (None, pods.get(_pod_name(plan, wanted[i], i))):
            log.info(
                "Kafka %s/%s: pod %s deleted: stopping its node",
                namespace,
                name,
                _pod_name(plan, wanted[i], i),
            )
            node.stop()
            cluster.started_from.pop(i, None)
    # The quorum is static: a changed voter set means every node starts again with the new one.
    if any(n.running and cluster.started_from.get(i, wants[i])[1] != voters for i, n in nodes.items()):
        log.info(
            "Kafka %s/%s: controller quorum changed to %s: restarting every node", namespace, name, voters
        )
        for i, node in nodes.items():
            node.stop()
            cluster.started_from.pop(i, None)
    cluster.update_endpoints(listener_names)

    to_start = [i for i, n in nodes.items() if not n.running]
    to_roll = [i for i, n in nodes.items() if n.running and cluster.started_from.get(i) != wants[i]]
    if to_start or to_roll:
        if cluster.failed == (generation, fingerprint):
            return None  # this spec already failed to start; a change (or a new generation) tries again
        if not is_ready(kafka):
            _write(ctx, kafka, kafka_creating(old), old)
        for key in sorted(plan.ignored_config):  # Strimzi: no condition, no event, only this log line
            log.warning("Kafka %s/%s: Configuration option \"%s\" is forbidden and will be ignored",
                        namespace, name, key)  # fmt: skip
    started = time.monotonic()
    try:
        if to_start:
            _apply_pods(ctx, plan, owner, cluster)
            ctx.kube.event(kafka, "Creating", f"Starting Kafka nodes {to_start} (Kafka {plan.version})")
            _start_all(cluster, [nodes[i] for i in to_start], specs)
            for i in to_start:
                cluster.started_from[i] = wants[i]
            cluster.update_endpoints(listener_names)
            log.info(
                "Kafka %s/%s: nodes %s up in %.1fs", namespace, name, to_start, time.monotonic() - started
            )
        for i in to_roll:
            ctx.kube.event(
                kafka, "RollingUpdate", f"Rolling Kafka node {i} for the changed spec (Kafka {plan.version})"
            )
            _roll(ctx, plan, owner, cluster, wanted[i], nodes[i], specs[i])
            cluster.started_from[i] = wants[i]
        if to_roll:
            log.info(
                "Kafka %s/%s: nodes %s rolled in %.1fs", namespace, name, to_roll, time.monotonic() - started
            )
    except BrokerError as e:
        cluster.failed = (generation, fingerprint)
        cluster.update_endpoints(listener_names)
        message = f"The Kafka broker did not start: {e}"
        _write(ctx, kafka, failed_kafka("StandinBrokerError", message, generation, old, plan), old,
               event=("StandinBrokerError", message))  # fmt: skip
        return None
    cluster.failed = None
    _apply_pods(ctx, plan, owner, cluster)

    in_pods = cluster.pods is not None
    ready = kafka_ready(
        plan,
        generation,
        cluster.cluster_id,
        _node_ports(ctx, plan) if in_pods else cluster.bootstrap_ports(listener_names),
        cluster.cluster_ca.ca_crt.decode(),
        warnings,
        old,
    )
    became_ready = not is_ready(kafka)
    # Pools first, as Strimzi: whoever sees the Kafka Ready finds its pools' status already there.
    for pool_obj in pools:
        pool_plan = next(p for p in plan.pools if p.name == pool_obj["metadata"]["name"])
        pool_old = pool_obj.get("status")
        new = pool_status(name, pool_plan, cluster.cluster_id, pool_obj["metadata"]["generation"], pool_old)
        if not same_status(new, pool_old):
            ctx.kube.patch_status("KafkaNodePool", namespace, pool_plan.name, new, pool_old)
    if not in_pods:  # the host's way in to the proxies; in pod mode the Services themselves are the way
        ctx.kube.patch(
            "Service",
            namespace,
            f"{name}-kafka-bootstrap",
            host_bootstrap_patch(plan, cluster.bootstrap_ports(listener_names)),
        )
    _write(ctx, kafka, ready, old)
    if became_ready:
        ctx.kube.event(
            kafka,
            "Ready",
            f"Kafka cluster {name} is ready ({len(nodes)} nodes {'in pods' if in_pods else 'on loopback addresses'})",  # noqa: E501
        )
    ctx.kick_members(namespace, name)  # topics and users may have waited for this cluster
    return None


def _start_all(cluster: Cluster, nodes: list[Broker], specs: dict) -> None:
    """Start the nodes together: brokers wait for a controller quorum, which needs most controllers up."""
    if len(nodes) == 1:
        nodes[0].start(specs[nodes[0].node_id], timeout=BROKER_START_TIMEOUT)
    else:
        with ThreadPoolExecutor(len(nodes)) as pool:
            futures = [pool.submit(n.start, specs[n.node_id], CLUSTER_START_TIMEOUT) for n in nodes]
        errors = [f.exception() for f in futures if f.exception() is not None]
        if errors:
            raise errors[0]
    if len(cluster.brokers) > 1:  # a single broker is in every ISR it has
        for node in nodes:
            if node.is_broker:
                _wait_in_isr(cluster, node.node_id)


def _roll(ctx: Context, plan: KafkaPlan, owner: dict, cluster: Cluster, pool: PoolPlan, node: Broker,
          spec) -> None:  # fmt: skip
    """Roll one node as Strimzi rolls a pod: pod deleted, node restarted, pod back, node back in the ISR."""
    pod_name = _pod_name(plan, pool, node.node_id)
    ctx.kube.delete("Pod", plan.namespace, pod_name)
    _wait_gone(ctx, "Pod", plan.namespace, pod_name)
    node.stop()
    cluster.update_endpoints([lst.name for lst in plan.listeners])
    node.start(spec, timeout=BROKER_START_TIMEOUT)
    cluster.update_endpoints([lst.name for lst in plan.listeners])
    _apply_pods(ctx, plan, owner, cluster)
    if node.is_broker:
        _wait_in_isr(cluster, node.node_id)


def _wait_in_isr(cluster: Cluster, node_id: int, timeout: float = ISR_TIMEOUT) -> None:
    """Until the node is in the ISR of every partition it holds a replica of (Strimzi's roller checks the
    same before it rolls the next broker). Gives up quietly after `timeout`: the roll goes on."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with admin_session(cluster.admin_config) as admin:
                names = list(admin.list_topics())
                behind = [
                    (t["name"], p["partition_index"])
                    for t in (admin.describe_topics(names) if names else [])
                    for p in t["partitions"]
                    if node_id in p["replica_nodes"] and node_id not in p["isr_nodes"]
                ]
            if not behind:
                return
        except Exception:  # noqa: BLE001 - a cluster still settling; the deadline decides
            pass
        time.sleep(0.5)
    log.warning("Kafka %s/%s: node %s not back in every ISR after %.0fs", cluster.namespace, cluster.name,
                node_id, timeout)  # fmt: skip


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


def _pod_name(plan: KafkaPlan, pool: PoolPlan, node_id: int) -> str:
    return f"{plan.name}-{pool.name}-{node_id}"


def _selector(plan: KafkaPlan) -> dict[str, str]:
    return {CLUSTER_LABEL: plan.name, "strimzi.io/name": f"{plan.name}-kafka"}


def _pods(ctx: Context, plan: KafkaPlan) -> dict[str, str]:
    """Name -> uid of the cluster's Kafka pods that exist and are not being deleted."""
    return {
        p["metadata"]["name"]: p["metadata"]["uid"]
        for p in ctx.kube.list("Pod", plan.namespace, labels=_selector(plan))
        if not p["metadata"].get("deletionTimestamp")
    }


def _apply_pods(ctx: Context, plan: KafkaPlan, owner: dict, cluster: Cluster) -> None:
    """The StrimziPodSets and their pods (missing ones created, as the StrimziPodSet controller does); pods
    and podsets no longer wanted are deleted. Records each node's pod uid, to notice the pod going."""
    selector = _selector(plan)
    wanted_sets = {f"{plan.name}-{p.name}" for p in plan.pools}
    for ps in ctx.kube.list("StrimziPodSet", plan.namespace, labels=selector):
        if ps["metadata"]["name"] not in wanted_sets:
            ctx.kube.delete("StrimziPodSet", plan.namespace, ps["metadata"]["name"])
    wanted = {_pod_name(plan, pool, i) for pool in plan.pools for i in pool.node_ids}
    existing = _pods(ctx, plan)
    for name in existing:
        if name not in wanted:
            ctx.kube.delete("Pod", plan.namespace, name)
    for pool in plan.pools:
        applied = ctx.kube.apply(podset(plan, pool, owner))
        ps_owner = owner_reference(applied, controller=True)
        for node_id in pool.node_ids:
            body = pod(plan, pool, node_id, ps_owner)
            if cluster.pods is not None:
                body = pod_runtime(body, pool.heap)
            name = body["metadata"]["name"]
            if name not in existing:
                _wait_gone(ctx, "Pod", plan.namespace, name)  # a pod being deleted still holds the name
                existing[name] = ctx.kube.apply(body)["metadata"]["uid"]
            cluster.pod_uids[node_id] = existing[name]
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


def _wait_gone(ctx: Context, kind: str, namespace: str, name: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and ctx.kube.get(kind, namespace, name) is not None:
        time.sleep(0.2)


def _pod_body(ctx: Context, plan: KafkaPlan, pool: PoolPlan, node_id: int):
    """Pod mode: a function giving node `node_id`'s pod, owned by its StrimziPodSet (looked up when called:
    a roll re-creates the pod long after the podset was applied)."""

    def body() -> dict:
        podset_obj = ctx.kube.get("StrimziPodSet", plan.namespace, f"{plan.name}-{pool.name}")
        ps_owner = owner_reference(podset_obj, controller=True) if podset_obj else None
        return pod_runtime(pod(plan, pool, node_id, ps_owner), pool.heap)

    return body


def _node_ports(ctx: Context, plan: KafkaPlan) -> dict[str, int]:
    """Pod mode: listener name -> the port its status names (a nodeport listener: its bootstrap Service's
    node port, as Strimzi reports it; others: the listener's own port)."""
    out = {}
    for lst in plan.listeners:
        port = lst.port
        if lst.type == "nodeport":
            svc = ctx.kube.get("Service", plan.namespace, f"{plan.name}-kafka-{lst.name}-bootstrap") or {}
            port = next((p.get("nodePort") for p in (svc.get("spec") or {}).get("ports") or []), None) or port
        out[lst.name] = port
    return out
