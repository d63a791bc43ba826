"""Strimzi's broker scale-down check: a pool scaled down below the brokers that still hold partition replicas
is reverted, not obeyed.

What Strimzi does (read from strimzi/strimzi-kafka-operator, cluster-operator `KafkaClusterCreator`:
`prepareKafkaCluster` → `brokerRemovalCheck` → `revertScaleDown`, and the BrokersInUseCheck it calls):
- the nodes being removed are the pool's current nodes (its status `nodeIds`) not in the new model;
- unless the Kafka carries the annotation `strimzi.io/skip-broker-scaledown-check: "true"`, the operator asks
  the brokers which of them hold any partition replica; if a removed broker does, it logs "Cannot scale down
  brokers [..] because [..] have assigned partition-replicas";
- it then rebuilds the model with every broker pool whose `spec.replicas` is below its status `nodeIds` count
  set back to that count (the KafkaNodePool resource itself is left as the user wrote it), and adds a Kafka
  status condition `Warning`/`True`, reason `ScaleDownPreventionCheck`, message
  "Reverting scale-down of KafkaNodePool <pool> by changing number of replicas to <n>". The reconcile goes on
  with the reverted model, so the Kafka stays Ready and the pool status keeps its node ids.
- Once the replicas have moved away (or the topics are gone), the next reconcile removes the node.
"""

from __future__ import annotations

import dataclasses

from .validate import KafkaPlan

__all__ = ["SKIP_ANNOTATION", "brokers_in_use", "removed_brokers", "revert_scale_down"]

SKIP_ANNOTATION = "strimzi.io/skip-broker-scaledown-check"


def skip_check(kafka: dict) -> bool:
    annotations = kafka["metadata"].get("annotations") or {}
    return str(annotations.get(SKIP_ANNOTATION, "false")).lower() == "true"


def removed_brokers(plan: KafkaPlan, pools: list[dict]) -> set[int]:
    """Broker nodes a pool had (status nodeIds, broker role in status) that the plan no longer has."""
    planned = {p.name: set(p.node_ids) for p in plan.pools}
    removed: set[int] = set()
    for pool in pools:
        status = pool.get("status") or {}
        if "broker" in (status.get("roles") or []):
            removed |= set(status.get("nodeIds") or []) - planned.get(pool["metadata"]["name"], set())
    return removed


def revert_scale_down(plan: KafkaPlan, pools: list[dict]) -> tuple[KafkaPlan, list[tuple[str, str]]]:
    """The plan with every scaled-down broker pool back at its status node ids, and the Warning conditions
    (reason, message) Strimzi adds for it."""
    by_name = {p["metadata"]["name"]: p for p in pools}
    new_pools, warnings = [], []
    for pool in plan.pools:
        status = (by_name.get(pool.name) or {}).get("status") or {}
        ids = [int(i) for i in status.get("nodeIds") or []]
        if "broker" in (status.get("roles") or []) and pool.replicas < len(ids):
            warnings.append(
                (
                    "ScaleDownPreventionCheck",
                    f"Reverting scale-down of KafkaNodePool {pool.name} by changing number of replicas to "
                    f"{len(ids)}",
                )
            )
            pool = dataclasses.replace(pool, replicas=len(ids), node_ids=tuple(sorted(ids)))
        new_pools.append(pool)
    return dataclasses.replace(plan, pools=tuple(new_pools)), warnings


def brokers_in_use(admin) -> set[int]:
    """Node ids holding at least one partition replica of any topic, internal ones included."""
    names = list(admin.list_topics())
    if not names:
        return set()
    return {
        node
        for topic in admin.describe_topics(names)
        for p in topic["partitions"]
        for node in p["replica_nodes"]
    }
