"""Reconcile a KafkaTopic as Strimzi's (unidirectional) Topic Operator does, against the real broker.

A topic is managed only if its `strimzi.io/cluster` label names a ready Kafka, in a watched namespace, whose
spec has `entityOperator.topicOperator`; otherwise it is ignored and its status stays empty, as with
Strimzi. Managed topics get Strimzi's finalizer `strimzi.io/topic-operator`: deleting the KafkaTopic deletes
the Kafka topic first. Refusals carry the Topic Operator's reasons: NotSupported (partition decrease,
replication factor change, topicName change) and KafkaError (whatever the broker says, e.g. too many
replicas for one broker or an invalid config value).
"""

from __future__ import annotations

import logging

from .context import CLUSTER_RETRY, Context
from .kafkaops import (
    KafkaFailure,
    add_partitions,
    admin_session,
    alter_topic_config,
    create_topic,
    delete_topic,
    describe_topic,
)
from .kafkas import is_ready
from .status import same_status, topic_failed, topic_ready
from .validate import CLUSTER_LABEL, Refusal, config_value, topic_name

__all__ = ["FINALIZER", "reconcile_topic"]

log = logging.getLogger("standin.topic")

FINALIZER = "strimzi.io/topic-operator"


def reconcile_topic(ctx: Context, namespace: str, name: str) -> float | None:
    topic = ctx.kube.get("KafkaTopic", namespace, name)
    if topic is None:
        return None
    meta = topic["metadata"]
    cluster_name = (meta.get("labels") or {}).get(CLUSTER_LABEL)
    finalizers = meta.get("finalizers") or []
    cluster, waiting = _managing_cluster(ctx, namespace, cluster_name)

    if meta.get("deletionTimestamp"):
        if FINALIZER in finalizers:
            if cluster is None and waiting is not None:
                return waiting  # the cluster is restarting (or its operator away): delete once it is back
            if cluster is not None:
                try:
                    with admin_session(cluster.admin_config) as admin:
                        delete_topic(admin, (topic.get("status") or {}).get("topicName") or topic_name(topic))
                except KafkaFailure as f:
                    _write(
                        ctx,
                        topic,
                        topic_failed(f.reason, f.message, meta["generation"], topic.get("status"), None),
                    )
                    return CLUSTER_RETRY
            # With no cluster left to ask (Kafka deleted first), Strimzi's finalizer would hang the deletion;
            # the stand-in lets it go, so a namespace can always be deleted.
            _set_finalizers(ctx, topic, [f for f in finalizers if f != FINALIZER])
        return None

    if cluster is None:
        if FINALIZER in finalizers and waiting is None:
            _set_finalizers(ctx, topic, [f for f in finalizers if f != FINALIZER])  # no longer managed
        return waiting

    if FINALIZER not in finalizers:
        _set_finalizers(ctx, topic, finalizers + [FINALIZER])

    generation, old = meta["generation"], topic.get("status")
    wanted_name = topic_name(topic)
    try:
        if old and old.get("topicName") and old["topicName"] != wanted_name:
            raise Refusal("NotSupported", "Changing spec.topicName is not supported")
        with admin_session(cluster.admin_config) as admin:
            topic_id = _sync(admin, wanted_name, topic.get("spec") or {})
    except (Refusal, KafkaFailure) as e:
        _write(ctx, topic, topic_failed(e.reason, e.message, generation, old, wanted_name))
        return None
    _write(ctx, topic, topic_ready(generation, wanted_name, topic_id, old))
    return None


def _managing_cluster(ctx: Context, namespace: str, cluster_name: str | None):
    """(the Cluster that manages this topic, None) or (None, retry delay or None if it is simply ignored)."""
    if not cluster_name:
        return None, None
    kafka = ctx.kube.get("Kafka", namespace, cluster_name)
    if kafka is None or kafka["metadata"].get("deletionTimestamp"):
        return None, None
    if "topicOperator" not in ((kafka.get("spec") or {}).get("entityOperator") or {}):
        return None, None  # no Topic Operator deployed for this cluster
    if not ctx.gate.covers(namespace):
        return None, CLUSTER_RETRY
    cluster = ctx.clusters.get(namespace, cluster_name)
    if cluster is None or not cluster.ready or not is_ready(kafka):
        return None, CLUSTER_RETRY
    return cluster, None


def _sync(admin, name: str, spec: dict) -> str | None:
    """Make the Kafka topic match the spec; return its topic id. Raise Refusal/KafkaFailure on error."""
    partitions, replicas = spec.get("partitions"), spec.get("replicas")
    config = {k: config_value(v) for k, v in (spec.get("config") or {}).items()}
    state = describe_topic(admin, name)
    if state is None:
        create_topic(admin, name, partitions, replicas, config)
        state = describe_topic(admin, name)
        return state.topic_id if state else None
    # As the Topic Operator: config first, then partitions, then the replication factor check.
    alter_topic_config(
        admin,
        name,
        {k: v for k, v in config.items() if state.dynamic_config.get(k) != v},
        [k for k in state.dynamic_config if k not in config],
    )
    if partitions is not None and partitions < state.partitions:
        raise Refusal("NotSupported", "Decreasing partitions not supported")
    if partitions is not None and partitions > state.partitions:
        add_partitions(admin, name, partitions)
    if replicas is not None:
        differ = sorted(p for p, rf in state.replication_factors.items() if rf != replicas)
        if differ:
            raise Refusal(
                "NotSupported",
                "Replication factor change not supported, but required for partitions "
                f"[{', '.join(map(str, differ))}]",
            )
    return state.topic_id


def _write(ctx: Context, topic: dict, new: dict) -> None:
    old = topic.get("status")
    if same_status(new, old):
        return
    meta = topic["metadata"]
    ctx.kube.patch_status("KafkaTopic", meta["namespace"], meta["name"], new, old)
    failed = next((c for c in new["conditions"] if c["type"] == "Ready" and c["status"] == "False"), None)
    if failed:
        ctx.kube.event(topic, failed["reason"], failed["message"], warning=True)
        log.warning(
            "KafkaTopic %s/%s: %s: %s", meta["namespace"], meta["name"], failed["reason"], failed["message"]
        )


def _set_finalizers(ctx: Context, topic: dict, finalizers: list[str]) -> None:
    meta = topic["metadata"]
    # resourceVersion makes this a compare-and-swap: another finalizer added meanwhile is not lost
    ctx.kube.patch(
        "KafkaTopic",
        meta["namespace"],
        meta["name"],
        {"metadata": {"finalizers": finalizers, "resourceVersion": meta["resourceVersion"]}},
    )
