"""The Kubernetes objects Strimzi 1.2.0 creates for a Kafka and a KafkaUser, as plain dicts.

Names and labels follow Strimzi (DESIGN.md §2) so `kubectl get pods -l strimzi.io/cluster=...`, the
notebooks' live views and the diagnosis code see what they would on kind. The pods are the real shape
(one per node ID, owned by a StrimziPodSet per pool); KWOK runs them "on paper" while the broker they
stand for is one real JVM on 127.0.0.1. Everything a Kafka owns carries an ownerReference to it, so deleting
the Kafka deletes them through Kubernetes' garbage collector, as it does with Strimzi.
"""

from __future__ import annotations

import base64
import json

from .validate import KafkaPlan, PoolPlan

__all__ = [
    "ca_secrets",
    "HOST_BOOTSTRAP_ANNOTATION",
    "cluster_labels",
    "host_bootstrap_patch",
    "entity_operator",
    "owner_reference",
    "pod",
    "podset",
    "services",
    "user_secret",
]

OPERATOR_IMAGE = "quay.io/strimzi/operator:1.2.0"
# Test-only, the stand-in's alone (Strimzi writes no such thing): on `<cluster>-kafka-bootstrap`, a JSON map
# listener name -> the `127.0.0.1:<port>` the host reaches that listener's bootstrap on. The status holds what
# Strimzi writes (internal listeners: `<cluster>-kafka-bootstrap.<ns>.svc:<port>`, which the host cannot
# resolve); hermetic tests that talk to an internal listener from the host read this instead.
HOST_BOOTSTRAP_ANNOTATION = "hermetic.kafkalab.io/host-bootstrap"


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
        {"name": "tcp-kafkaagent", "containerPort": 8443, "protocol": "TCP"},
        {"name": "tcp-ctrlplane", "containerPort": 9090, "protocol": "TCP"},
        {"name": "tcp-replication", "containerPort": 9091, "protocol": "TCP"},
    ]
    ports += [
        {"name": port_name(lst.name), "containerPort": lst.port, "protocol": "TCP"} for lst in plan.listeners
    ]
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
    """StrimziPodSet `<cluster>-<pool>` listing its pods, as the Cluster Operator keeps it (its own labels
    name the pool; the role and controller labels are the pods')."""
    labels = dict(cluster_labels(plan.name, "kafka"), **{"strimzi.io/pool-name": pool.name})
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


def host_bootstrap_patch(plan: KafkaPlan, ports: dict[str, int]) -> dict:
    """The merge patch that puts HOST_BOOTSTRAP_ANNOTATION on the cluster's bootstrap Service."""
    value = {lst.name: f"127.0.0.1:{ports[lst.name]}" for lst in plan.listeners if lst.name in ports}
    return {"metadata": {"annotations": {HOST_BOOTSTRAP_ANNOTATION: json.dumps(value, sort_keys=True)}}}


def port_name(listener: str) -> str:
    """A listener's Service and container port name, as Strimzi names it (ListenersUtils): the listeners
    called plain, tls and external keep their pre-1.0 names (observed/single-node/objects-summary.yaml)."""
    return {"plain": "tcp-clients", "tls": "tcp-clientstls", "external": "tcp-external"}.get(
        listener, f"tcp-{listener}"
    )


def _port(name: str, port: int, node_port: int | None = None) -> dict:
    out = {"name": name, "port": port, "protocol": "TCP", "targetPort": name}
    if node_port:
        out["nodePort"] = int(node_port)
    return out


def per_broker_service_name(plan: KafkaPlan, pool: PoolPlan, node_id: int, listener: str) -> str:
    """`<cluster>-<pool>-<id>` for the listener called external (recorded); for another name Strimzi's
    ListenersUtils puts the listener's name before the id (not recorded: read from Strimzi's naming rule)."""
    base = f"{plan.name}-{pool.name}"
    return f"{base}-{node_id}" if listener == "external" else f"{base}-{listener}-{node_id}"


def services(plan: KafkaPlan, kafka_owner: dict) -> list[dict]:
    """Strimzi's Services: `-kafka-bootstrap` (replication + internal listeners), headless `-kafka-brokers`,
    and per nodeport/loadbalancer/cluster-ip listener a `-kafka-<listener>-bootstrap` Service, plus for a
    nodeport listener one Service per broker node (owned by its pool in Strimzi; here by the Kafka)."""
    labels = cluster_labels(plan.name, "kafka")
    broker_selector = {
        "strimzi.io/cluster": plan.name,
        "strimzi.io/kind": "Kafka",
        "strimzi.io/name": f"{plan.name}-kafka",
        "strimzi.io/broker-role": "true",
    }
    internal = [_port(port_name(lst.name), lst.port) for lst in plan.listeners if lst.type == "internal"]
    out = [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": _meta(
                f"{plan.name}-kafka-bootstrap",
                plan.namespace,
                dict(labels, **{"strimzi.io/discovery": "true"}),
                kafka_owner,
            ),
            "spec": {
                "type": "ClusterIP",
                "selector": broker_selector,
                "ports": [_port("tcp-replication", 9091), *internal],
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
                    _port("tcp-ctrlplane", 9090),
                    _port("tcp-replication", 9091),
                    _port("tcp-kafkaagent", 8443),
                    *internal,
                ],
            },
        },
    ]
    kinds = {"nodeport": "NodePort", "loadbalancer": "LoadBalancer", "cluster-ip": "ClusterIP"}
    for lst in plan.listeners:
        if lst.type not in kinds:
            continue
        conf = lst.configuration
        node_port = (conf.get("bootstrap") or {}).get("nodePort") if lst.type == "nodeport" else None
        out.append(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": _meta(
                    f"{plan.name}-kafka-{lst.name}-bootstrap", plan.namespace, labels, kafka_owner
                ),
                "spec": {
                    "type": kinds[lst.type],
                    "selector": broker_selector,
                    "ports": [_port(port_name(lst.name), lst.port, node_port)],
                },
            }
        )
        if lst.type != "nodeport":
            continue
        node_ports = {int(b["broker"]): b.get("nodePort") for b in conf.get("brokers") or [] if "broker" in b}
        for pool in plan.pools:
            if "broker" not in pool.roles:
                continue
            pool_labels = dict(labels, **{"strimzi.io/pool-name": pool.name})
            for node_id in pool.node_ids:
                pod_name = f"{plan.name}-{pool.name}-{node_id}"
                selector = {
                    "strimzi.io/cluster": plan.name,
                    "strimzi.io/kind": "Kafka",
                    "strimzi.io/name": f"{plan.name}-kafka",
                    "strimzi.io/pod-name": pod_name,
                    "strimzi.io/pool-name": pool.name,
                }
                name = per_broker_service_name(plan, pool, node_id, lst.name)
                out.append(
                    {
                        "apiVersion": "v1",
                        "kind": "Service",
                        "metadata": _meta(name, plan.namespace, pool_labels, kafka_owner),
                        "spec": {
                            "type": "NodePort",
                            "selector": selector,
                            "ports": [_port(port_name(lst.name), lst.port, node_ports.get(node_id))],
                        },
                    }
                )
    return out


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
    """The Secrets Strimzi makes for a cluster (observed/single-node/objects-summary.yaml): the two CAs'
    `-ca-cert` (public) and `-ca` (key) Secrets, `-cluster-operator-certs`, `-trustbundle`, and one per node
    named after its pod. The certificates in the last two kinds are the stand-in's own (its brokers use the
    files behind them, not these Secrets); what matters is that the names and keys are Strimzi's."""
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
    trust = dict(
        labels, **{"app.kubernetes.io/name": "trust-bundle", "strimzi.io/component-type": "trust-bundle"}
    )
    out.append(
        _secret(
            f"{plan.name}-trustbundle",
            plan.namespace,
            trust,
            kafka_owner,
            {"cluster-ca.crt": _b64(cluster_ca.ca_crt), "clients-ca.crt": _b64(clients_ca.ca_crt)},
            {"strimzi.io/cluster-ca-cert-generation": "0", "strimzi.io/clients-ca-cert-generation": "0"},
        )
    )
    generation = {"strimzi.io/cluster-ca-cert-generation": "0"}
    crt, key = cluster_ca.server_cert(f"{plan.name}-cluster-operator-secret")
    operator_labels = dict(
        labels, **{"app.kubernetes.io/name": "strimzi", "strimzi.io/component-type": "strimzi"}
    )
    out.append(
        _secret(
            f"{plan.name}-cluster-operator-certs",
            plan.namespace,
            operator_labels,
            kafka_owner,
            {"cluster-operator.crt": _b64(crt.read_bytes()), "cluster-operator.key": _b64(key.read_bytes())},
            generation,
        )
    )
    for pool in plan.pools:
        for node_id in pool.node_ids:
            pod_name = f"{plan.name}-{pool.name}-{node_id}"
            host = f"{pod_name}.{plan.name}-kafka-brokers.{plan.namespace}.svc"
            crt, key = cluster_ca.server_cert(f"{pod_name}-secret", (host,))
            out.append(
                _secret(
                    pod_name,
                    plan.namespace,
                    cluster_labels(plan.name, "kafka"),
                    kafka_owner,
                    {f"{pod_name}.crt": _b64(crt.read_bytes()), f"{pod_name}.key": _b64(key.read_bytes())},
                    generation,
                )
            )
    return out


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


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
