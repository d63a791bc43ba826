"""The Kubernetes objects Strimzi 1.2.0 creates for a Kafka and a KafkaUser, as plain dicts.

Names and labels follow Strimzi (DESIGN.md §2) so `kubectl get pods -l strimzi.io/cluster=...`, the
notebooks' live views and the diagnosis code see what they would on kind. The pods are the real shape
(one per node ID, owned by a StrimziPodSet per pool); KWOK runs them "on paper" while the broker they
stand for is one real JVM on 127.0.0.1. Everything a Kafka owns carries an ownerReference to it, so deleting
the Kafka deletes them through Kubernetes' garbage collector, as it does with Strimzi.
"""

from __future__ import annotations

import base64

from .validate import KafkaPlan, PoolPlan

__all__ = [
    "ca_secrets",
    "cluster_labels",
    "entity_operator",
    "owner_reference",
    "pod",
    "podset",
    "services",
    "user_secret",
]

OPERATOR_IMAGE = "quay.io/strimzi/operator:1.2.0"


def owner_reference(obj: dict, controller: bool = False) -> dict:
    return {
        "apiVersion": obj["apiVersion"],
        "kind": obj["kind"],
        "name": obj["metadata"]["name"],
        "uid": obj["metadata"]["uid"],
        "controller": controller,
        "blockOwnerDeletion": False,
    }


def cluster_labels(cluster: str, component: str) -> dict[str, str]:
    """Labels on everything of a Kafka cluster's `component` ("kafka", "entity-operator", ...)."""
    return {
        "app.kubernetes.io/instance": cluster,
        "app.kubernetes.io/managed-by": "strimzi-cluster-operator",
        "app.kubernetes.io/name": component,
        "app.kubernetes.io/part-of": f"strimzi-{cluster}",
        "strimzi.io/cluster": cluster,
        "strimzi.io/component-type": component,
        "strimzi.io/kind": "Kafka",
        "strimzi.io/name": f"{cluster}-{component}",
    }


def _meta(
    name: str, namespace: str, labels: dict, owner: dict | None, annotations: dict | None = None
) -> dict:
    meta = {"name": name, "namespace": namespace, "labels": labels}
    if owner:
        meta["ownerReferences"] = [owner]
    if annotations:
        meta["annotations"] = annotations
    return meta


# -- pods -----------------------------------------------------------------------------------------------


def _pool_labels(plan: KafkaPlan, pool: PoolPlan) -> dict[str, str]:
    labels = cluster_labels(plan.name, "kafka")
    labels["strimzi.io/pool-name"] = pool.name
    labels["strimzi.io/controller"] = "strimzipodset"
    labels["strimzi.io/controller-name"] = f"{plan.name}-{pool.name}"
    labels["strimzi.io/broker-role"] = str("broker" in pool.roles).lower()
    labels["strimzi.io/controller-role"] = str("controller" in pool.roles).lower()
    return labels


def pod(plan: KafkaPlan, pool: PoolPlan, node_id: int, podset_owner: dict | None) -> dict:
    """Pod `<cluster>-<pool>-<id>`; inside a StrimziPodSet's spec it has no owner (`podset_owner=None`)."""
    name = f"{plan.name}-{pool.name}-{node_id}"
    labels = dict(_pool_labels(plan, pool), **{"strimzi.io/pod-name": name})
    ports = [
        {"name": "tcp-ctrlplane", "containerPort": 9090},
        {"name": "tcp-replication", "containerPort": 9091},
    ]
    ports += [{"name": f"tcp-{lst.name}", "containerPort": lst.port} for lst in plan.listeners]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": _meta(
            name,
            plan.namespace,
            labels,
            podset_owner,
            {"strimzi.io/kafka-version": plan.version, "strimzi.io/hermetic-standin": "true"},
        ),
        "spec": {
            "hostname": name,
            "subdomain": f"{plan.name}-kafka-brokers",
            "containers": [
                {
                    "name": "kafka",
                    "image": plan.image,
                    "command": ["/opt/kafka/kafka_run.sh"],
                    "ports": ports,
                    "env": [{"name": "STRIMZI_KAFKA_NODE_ID", "value": str(node_id)}],
                }
            ],
        },
    }


def podset(plan: KafkaPlan, pool: PoolPlan, kafka_owner: dict) -> dict:
    """StrimziPodSet `<cluster>-<pool>` listing its pods, as the Cluster Operator keeps it."""
    labels = _pool_labels(plan, pool)
    selector = {
        "strimzi.io/cluster": plan.name,
        "strimzi.io/name": f"{plan.name}-kafka",
        "strimzi.io/kind": "Kafka",
        "strimzi.io/pool-name": pool.name,
    }
    pods = [pod(plan, pool, i, None) for i in pool.node_ids]
    return {
        "apiVersion": "core.strimzi.io/v1",
        "kind": "StrimziPodSet",
        "metadata": _meta(f"{plan.name}-{pool.name}", plan.namespace, labels, kafka_owner),
        "spec": {"selector": {"matchLabels": selector}, "pods": pods},
    }


# -- services -------------------------------------------------------------------------------------------


def services(plan: KafkaPlan, kafka_owner: dict) -> list[dict]:
    """bootstrap, headless brokers, and `<cluster>-kafka-<listener>-bootstrap` per external listener."""
    labels = cluster_labels(plan.name, "kafka")
    broker_selector = {
        "strimzi.io/cluster": plan.name,
        "strimzi.io/kind": "Kafka",
        "strimzi.io/name": f"{plan.name}-kafka",
        "strimzi.io/broker-role": "true",
    }
    internal = [lst for lst in plan.listeners if lst.type == "internal"]
    out = [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": _meta(f"{plan.name}-kafka-bootstrap", plan.namespace, labels, kafka_owner),
            "spec": {
                "type": "ClusterIP",
                "selector": broker_selector,
                "ports": [{"name": "tcp-replication", "port": 9091, "protocol": "TCP", "targetPort": 9091}]
                + [_port(lst) for lst in internal],
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": _meta(f"{plan.name}-kafka-brokers", plan.namespace, labels, kafka_owner),
            "spec": {
                "clusterIP": "None",
                "publishNotReadyAddresses": True,
                "selector": {k: v for k, v in broker_selector.items() if k != "strimzi.io/broker-role"},
                "ports": [
                    {"name": "tcp-ctrlplane", "port": 9090, "protocol": "TCP", "targetPort": 9090},
                    {"name": "tcp-replication", "port": 9091, "protocol": "TCP", "targetPort": 9091},
                ]
                + [_port(lst) for lst in internal],
            },
        },
    ]
    kinds = {"nodeport": "NodePort", "loadbalancer": "LoadBalancer", "cluster-ip": "ClusterIP"}
    for lst in plan.listeners:
        if lst.type not in kinds:
            continue
        port = _port(lst)
        node_port = (
            ((lst.configuration.get("bootstrap") or {}).get("nodePort")) if lst.type == "nodeport" else None
        )
        if node_port:
            port["nodePort"] = int(node_port)
        out.append(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": _meta(
                    f"{plan.name}-kafka-{lst.name}-bootstrap", plan.namespace, labels, kafka_owner
                ),
                "spec": {"type": kinds[lst.type], "selector": broker_selector, "ports": [port]},
            }
        )
    return out


def _port(lst) -> dict:
    return {"name": f"tcp-{lst.name}", "port": lst.port, "protocol": "TCP", "targetPort": lst.port}


# -- entity operator ------------------------------------------------------------------------------------


def entity_operator(plan: KafkaPlan, kafka_owner: dict) -> dict:
    """Deployment `<cluster>-entity-operator` with the topic-operator / user-operator containers."""
    labels = cluster_labels(plan.name, "entity-operator")
    selector = {
        "strimzi.io/cluster": plan.name,
        "strimzi.io/kind": "Kafka",
        "strimzi.io/name": f"{plan.name}-entity-operator",
    }
    containers = []
    if plan.topic_operator:
        containers.append(
            {
                "name": "topic-operator",
                "image": OPERATOR_IMAGE,
                "args": ["/opt/strimzi/bin/topic_operator_run.sh"],
            }
        )
    if plan.user_operator:
        containers.append(
            {
                "name": "user-operator",
                "image": OPERATOR_IMAGE,
                "args": ["/opt/strimzi/bin/user_operator_run.sh"],
            }
        )
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(f"{plan.name}-entity-operator", plan.namespace, labels, kafka_owner),
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": selector},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": containers}},
        },
    }


# -- secrets -------------------------------------------------------------------------------------------


def _secret(
    name: str, namespace: str, labels: dict, owner: dict, data: dict[str, str], annotations=None
) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": _meta(name, namespace, labels, owner, annotations),
        "data": data,
    }


def ca_secrets(plan: KafkaPlan, kafka_owner: dict, cluster_ca, clients_ca) -> list[dict]:
    """`<cluster>-cluster-ca-cert`, `<cluster>-clients-ca-cert` (public parts) and the two key secrets."""
    labels = cluster_labels(plan.name, "certificate-authority")
    labels["strimzi.io/name"] = "strimzi"
    out = []
    for prefix, ca in (("cluster", cluster_ca), ("clients", clients_ca)):
        out.append(
            _secret(
                f"{plan.name}-{prefix}-ca-cert",
                plan.namespace,
                labels,
                kafka_owner,
                ca.secret_data(),
                {"strimzi.io/ca-cert-generation": "0"},
            )
        )
        out.append(
            _secret(
                f"{plan.name}-{prefix}-ca",
                plan.namespace,
                labels,
                kafka_owner,
                {"ca.key": base64.b64encode(ca.key_path.read_bytes()).decode()},
                {"strimzi.io/ca-key-generation": "0"},
            )
        )
    return out


def user_secret(user: dict, cluster: str, data: dict[str, str]) -> dict:
    """The Secret named after a KafkaUser, owned by it, with the labels the User Operator sets."""
    name = user["metadata"]["name"]
    labels = {
        "app.kubernetes.io/instance": name,
        "app.kubernetes.io/managed-by": "strimzi-user-operator",
        "app.kubernetes.io/name": "strimzi-user-operator",
        "app.kubernetes.io/part-of": f"strimzi-{name}",
        "strimzi.io/cluster": cluster,
        "strimzi.io/kind": "KafkaUser",
    }
    return _secret(name, user["metadata"]["namespace"], labels, owner_reference(user, controller=True), data)
