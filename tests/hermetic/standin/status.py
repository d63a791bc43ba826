"""The `.status` Strimzi 1.2.0 writes (DESIGN.md §2), built as plain dicts.

Conditions keep their `lastTransitionTime` while type and status stay the same, as Strimzi's do, so a
status write that changes nothing really changes nothing (the stand-in skips it) and waits keyed on
transitions behave.
"""

from __future__ import annotations

import datetime as dt

from .validate import KafkaPlan, PoolPlan

__all__ = [
    "OPERATOR_VERSION",
    "condition",
    "failed_kafka",
    "kafka_creating",
    "kafka_ready",
    "pool_status",
    "ready",
    "same_status",
    "topic_failed",
    "topic_ready",
    "user_failed",
    "user_ready",
]

OPERATOR_VERSION = "1.2.0"


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def condition(ctype: str, status: str, reason: str | None = None, message: str | None = None) -> dict:
    c = {"type": ctype, "status": status, "lastTransitionTime": now()}
    if reason:
        c["reason"] = reason
    if message:
        c["message"] = message
    return c


def ready() -> dict:
    return condition("Ready", "True")


def _carry_transition_times(new: list[dict], old: list[dict]) -> list[dict]:
    """Keep the old lastTransitionTime for a condition whose type and status did not change."""
    before = {(c.get("type"), c.get("status")): c.get("lastTransitionTime") for c in old or []}
    out = []
    for c in new:
        c = dict(c)
        if before.get((c["type"], c["status"])):
            c["lastTransitionTime"] = before[(c["type"], c["status"])]
        out.append(c)
    return out


def finish(new: dict, old: dict | None) -> dict:
    """The status to write: `new`, with transition times carried over from `old`."""
    new = dict(new)
    new["conditions"] = _carry_transition_times(
        new.get("conditions") or [], (old or {}).get("conditions") or []
    )
    return new


def same_status(a: dict | None, b: dict | None) -> bool:
    """Equal apart from condition timestamps: nothing to write."""

    def strip(s: dict | None) -> dict:
        s = dict(s or {})
        s["conditions"] = [
            {k: v for k, v in c.items() if k != "lastTransitionTime"} for c in s.get("conditions") or []
        ]
        return s

    return strip(a) == strip(b)


# -- Kafka and KafkaNodePool ----------------------------------------------------------------------------


def kafka_creating(old: dict | None) -> dict:
    """While the first broker comes up: NotReady/True reason Creating (other fields as they were)."""
    new = {k: v for k, v in (old or {}).items() if k != "conditions"}
    new["conditions"] = [condition("NotReady", "True", "Creating", "Kafka cluster is being deployed")]
    return finish(new, old)


def kafka_ready(
    plan: KafkaPlan,
    generation: int,
    cluster_id: str,
    ports: dict[str, int],
    ca_pem: str,
    warnings: list[tuple[str, str]],
    old: dict | None,
) -> dict:
    listeners = []
    for lst in plan.listeners:
        port = ports[lst.name]
        entry = {
            "name": lst.name,
            "addresses": [{"host": "127.0.0.1", "port": port}],
            "bootstrapServers": f"127.0.0.1:{port}",
        }
        if lst.tls:
            entry["certificates"] = [ca_pem]
        listeners.append(entry)
    conditions = [condition("Warning", "True", reason, message) for reason, message in warnings]
    conditions.append(ready())
    return finish(
        {
            "conditions": conditions,
            "observedGeneration": generation,
            "listeners": listeners,
            "kafkaNodePools": [{"name": p.name} for p in sorted(plan.pools, key=lambda p: p.name)],
            "clusterId": cluster_id,
            "operatorLastSuccessfulVersion": OPERATOR_VERSION,
            "kafkaVersion": plan.version,
            "kafkaMetadataVersion": plan.metadata_version,
        },
        old,
    )


def failed_kafka(reason: str, message: str, generation: int, old: dict | None) -> dict:
    """A refused or failed reconciliation: NotReady/True with the reason; what was known stays."""
    new = {k: v for k, v in (old or {}).items() if k not in ("conditions", "observedGeneration")}
    new["conditions"] = [condition("NotReady", "True", reason, message)]
    new["observedGeneration"] = generation
    return finish(new, old)


def pool_status(cluster: str, pool: PoolPlan, cluster_id: str, generation: int, old: dict | None) -> dict:
    selector = (
        f"strimzi.io/cluster={cluster},strimzi.io/name={cluster}-kafka,strimzi.io/kind=Kafka,"
        f"strimzi.io/pool-name={pool.name}"
    )
    return finish(
        {
            "conditions": [],
            "observedGeneration": generation,
            "nodeIds": list(pool.node_ids),
            "clusterId": cluster_id,
            "roles": list(pool.roles),
            "replicas": pool.replicas,
            "labelSelector": selector,
        },
        old,
    )


# -- KafkaTopic ------------------------------------------------------------------------------------


def topic_ready(generation: int, topic_name: str, topic_id: str | None, old: dict | None) -> dict:
    new = {"conditions": [ready()], "observedGeneration": generation, "topicName": topic_name}
    if topic_id:
        new["topicId"] = topic_id
    return finish(new, old)


def topic_failed(
    reason: str, message: str, generation: int, old: dict | None, topic_name: str | None
) -> dict:
    """Ready/False with the Topic Operator's reason; topicName/topicId stay as they were."""
    new = {k: v for k, v in (old or {}).items() if k in ("topicName", "topicId")}
    if topic_name and "topicName" not in new:
        new["topicName"] = topic_name
    new["conditions"] = [condition("Ready", "False", reason, message)]
    new["observedGeneration"] = generation
    return finish(new, old)


# -- KafkaUser -------------------------------------------------------------------------------------


def user_ready(generation: int, username: str, secret: str | None, old: dict | None) -> dict:
    new = {"conditions": [ready()], "observedGeneration": generation, "username": username}
    if secret:
        new["secret"] = secret
    return finish(new, old)


def user_failed(reason: str, message: str, generation: int, old: dict | None) -> dict:
    new = {k: v for k, v in (old or {}).items() if k in ("username", "secret")}
    new["conditions"] = [condition("NotReady", "True", reason, message)]
    new["observedGeneration"] = generation
    return finish(new, old)
