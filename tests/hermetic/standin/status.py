"""The `.status` Strimzi 1.2.0 writes (DESIGN.md §2, ../shared/strimzi/1.2.0/observed/), built as plain dicts.

Where the stand-in cannot write what Strimzi writes, it says so here: a nodeport listener's status port is
the stand-in's bootstrap port on 127.0.0.1 (Strimzi writes the bootstrap Service's node port, which kind maps
to the same host port), and a node's address is 127.0.0.1 (the "node" the host reaches; on kind Strimzi
writes the node's own address, e.g. 172.18.0.2).

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
    "listener_status",
    "pool_status",
    "ready",
    "same_status",
    "storage_warnings",
    "topic_failed",
    "topic_ready",
    "user_failed",
    "user_ready",
]

OPERATOR_VERSION = "1.2.0"
# What every recorded Kafka status held (observed/*): how Strimzi secures its own traffic (replication,
# control plane, operator): mTLS with its cluster CA. The recordings show no spec option that changes it.
CLUSTER_SECURITY = {"authentication": {"type": "strimzi-mtls"}, "encryption": {"type": "strimzi-tls"}}
# Fields a failed reconcile keeps from the status before it (DESIGN.md §2): it starts from a fresh status.
KEPT_ON_FAILURE = (
    "clusterId",
    "operatorLastSuccessfulVersion",
    "kafkaVersion",
    "kafkaMetadataVersion",
    "autoRebalance",
    "clusterSecurity",
)
# Where the host reaches a node's node ports in the hermetic cluster (see the module docstring).
NODE_ADDRESS = "127.0.0.1"
# The Java classes behind the reasons the User Operator wraps (reason ExecutionException, DESIGN.md §2).
JAVA_CLASSES = {
    "InvalidResourceException": "io.strimzi.operator.common.model.InvalidResourceException",
}
RECONCILIATION_EXCEPTION = "io.strimzi.operator.common.ReconciliationException"


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
    """The first status Strimzi writes (~1 s after apply): NotReady/Creating, observedGeneration 0, nothing
    else — only when there was no status before; otherwise the old status stays until the reconcile ends."""
    if old:
        return old
    return {
        "conditions": [condition("NotReady", "True", "Creating", "Kafka cluster is being deployed")],
        "observedGeneration": 0,
    }


def storage_warnings(plan: KafkaPlan) -> list[tuple[str, str]]:
    """Strimzi's `Warning`/`KafkaStorage` conditions (texts as recorded in observed/single-node)."""
    out = []
    brokers = [p for p in plan.pools for _ in p.node_ids if "broker" in p.roles]
    controllers = [p for p in plan.pools for _ in p.node_ids if "controller" in p.roles]
    if len(brokers) == 1 and brokers[0].storage == "ephemeral":
        out.append(
            (
                "KafkaStorage",
                "A Kafka cluster with a single broker node and ephemeral storage will lose topic messages "
                "after any restart or rolling update.",
            )
        )
    if len(controllers) == 1 and controllers[0].storage == "ephemeral":
        out.append(
            (
                "KafkaStorage",
                "A Kafka cluster with a single controller node and ephemeral storage will lose data "
                "after any restart or rolling update.",
            )
        )
    return out


def listener_status(plan: KafkaPlan, lst, port: int, ca_pem: str) -> dict:
    """One `status.listeners[]` entry, addressed as Strimzi addresses it.

    internal → `<cluster>-kafka-bootstrap.<ns>.svc:<port>`; cluster-ip → `<cluster>-kafka-<listener>-
    bootstrap.<ns>.svc:<port>`; nodeport → each broker's `advertisedHost` override, else the node address,
    with the bootstrap port (`port`: here the stand-in's bootstrap on 127.0.0.1); loadbalancer → 127.0.0.1
    (no load balancer here). `bootstrapServers` is the distinct, sorted `host:port` list joined by commas.
    """
    if lst.type == "internal":
        hosts, port = [f"{plan.name}-kafka-bootstrap.{plan.namespace}.svc"], lst.port
    elif lst.type == "cluster-ip":
        hosts, port = [f"{plan.name}-kafka-{lst.name}-bootstrap.{plan.namespace}.svc"], lst.port
    elif lst.type == "nodeport":
        overrides = {
            int(b["broker"]): b.get("advertisedHost")
            for b in (lst.configuration.get("brokers") or [])
            if b.get("broker") is not None
        }
        brokers = [i for p in plan.pools if "broker" in p.roles for i in p.node_ids]
        hosts = sorted({overrides.get(i) or NODE_ADDRESS for i in brokers}) or [NODE_ADDRESS]
    else:
        hosts = [NODE_ADDRESS]
    entry = {
        "name": lst.name,
        "addresses": [{"host": h, "port": port} for h in hosts],
        "bootstrapServers": ",".join(f"{h}:{port}" for h in hosts),
    }
    if lst.tls:
        entry["certificates"] = [ca_pem]
    return entry


def _auto_rebalance(old: dict | None) -> dict:
    return (old or {}).get("autoRebalance") or {"lastTransitionTime": now(), "state": "Idle"}


def kafka_ready(
    plan: KafkaPlan,
    generation: int,
    cluster_id: str,
    ports: dict[str, int],
    ca_pem: str,
    warnings: list[tuple[str, str]],
    old: dict | None,
) -> dict:
    """Ready/True (after the KafkaStorage warnings and `warnings`); `ports`: listener name -> the port the
    host reaches its bootstrap on (used for nodeport and loadbalancer listeners)."""
    listeners = [listener_status(plan, lst, ports.get(lst.name, lst.port), ca_pem) for lst in plan.listeners]
    conditions = [
        condition("Warning", "True", reason, message) for reason, message in storage_warnings(plan) + warnings
    ]
    conditions.append(ready())
    return finish(
        {
            "autoRebalance": _auto_rebalance(old),
            "clusterSecurity": CLUSTER_SECURITY,
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


def failed_kafka(
    reason: str, message: str, generation: int, old: dict | None, plan: KafkaPlan | None = None
) -> dict:
    """A refused or failed reconciliation: NotReady/True with the reason, observedGeneration set.

    Strimzi starts the status afresh and keeps only KEPT_ON_FAILURE from before (listeners disappear). A
    refusal (validation, `plan` None) adds nothing else; a failure after validation (`plan` given) also
    carries what that reconcile had worked out: the KafkaStorage warnings, kafkaNodePools, autoRebalance.
    """
    new = {k: v for k, v in (old or {}).items() if k in KEPT_ON_FAILURE}
    new["clusterSecurity"] = CLUSTER_SECURITY
    conditions = []
    if plan is not None:
        new["autoRebalance"] = _auto_rebalance(old)
        new["kafkaNodePools"] = [{"name": p.name} for p in sorted(plan.pools, key=lambda p: p.name)]
        conditions = [condition("Warning", "True", r, m) for r, m in storage_warnings(plan)]
    new["conditions"] = [*conditions, condition("NotReady", "True", reason, message)]
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
    """NotReady/True as the User Operator writes it: every failure wrapped, reason `ExecutionException`,
    message `io.strimzi.operator.common.ReconciliationException: <java class>: <text>`; no username or
    secret any more. The stand-in's own reasons (Standin*) stay as they are: Strimzi has no such failure."""
    if not reason.startswith("Standin"):
        java = JAVA_CLASSES.get(reason, reason)
        reason, message = "ExecutionException", f"{RECONCILIATION_EXCEPTION}: {java}: {message}"
    new = {"conditions": [condition("NotReady", "True", reason, message)], "observedGeneration": generation}
    return finish(new, old)
