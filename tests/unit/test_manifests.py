"""manifests/: what the notebooks apply. Shape checks here; the CRD schemas check them in tests/hermetic."""

from __future__ import annotations

import pytest

from kafkalab import kube, strimzi

MANIFESTS = strimzi.manifests_dir()
RESOURCE_FILES = sorted(p.name for p in MANIFESTS.glob("*.yaml") if p.name != "kind-config.yaml")
KAFKA_FILES = [f for f in RESOURCE_FILES if f.startswith("kafka-")]


def host_ports() -> set[int]:
    (cfg,) = kube.load_yaml(MANIFESTS / "kind-config.yaml")
    (node,) = cfg["nodes"]
    assert all(
        m["listenAddress"] == "127.0.0.1" and m["hostPort"] == m["containerPort"]
        for m in node["extraPortMappings"]
    )
    return {m["hostPort"] for m in node["extraPortMappings"]}


def test_the_expected_files_exist():
    assert {"kafka-single-node.yaml", "kafka-three-brokers.yaml", "topic.yaml", "user.yaml"} <= set(
        RESOURCE_FILES
    )


@pytest.mark.parametrize("file", RESOURCE_FILES)
def test_strimzi_v1_with_spec_and_cluster_label(file):
    for obj in strimzi.load_manifest(file):
        assert obj["apiVersion"] == "kafka.strimzi.io/v1" and "spec" in obj
        if obj["kind"] != "Kafka":
            assert obj["metadata"]["labels"]["strimzi.io/cluster"]


@pytest.mark.parametrize("file", KAFKA_FILES)
def test_kafka_files_are_kraft_clusters_reachable_from_the_host(file):
    objs = strimzi.load_manifest(file)
    (kafka,) = [o for o in objs if o["kind"] == "Kafka"]
    pools = [o for o in objs if o["kind"] == "KafkaNodePool"]
    name = kafka["metadata"]["name"]
    assert all(p["metadata"]["labels"]["strimzi.io/cluster"] == name for p in pools)
    roles = {r for p in pools for r in p["spec"]["roles"]}
    assert roles == {"controller", "broker"}
    assert all(p["spec"]["storage"]["type"] == "ephemeral" for p in pools)  # no PVCs: kind and hermetic alike
    assert all(p["spec"]["resources"]["limits"]["memory"] for p in pools)

    brokers = sum(p["spec"]["replicas"] for p in pools if "broker" in p["spec"]["roles"])
    (external,) = [x for x in kafka["spec"]["kafka"]["listeners"] if x["name"] == "external"]
    assert external["type"] == "nodeport"
    per_broker = external["configuration"]["brokers"]
    assert [b["broker"] for b in per_broker] == list(range(brokers))
    assert all(
        b["advertisedHost"] == "localhost" and b["advertisedPort"] == b["nodePort"] for b in per_broker
    )
    ports = {external["configuration"]["bootstrap"]["nodePort"]} | {b["nodePort"] for b in per_broker}
    assert ports <= host_ports(), "every node port a client needs must be mapped by kind-config.yaml"

    config = kafka["spec"]["kafka"]["config"]
    assert (
        config["default.replication.factor"] == config["offsets.topic.replication.factor"] == min(brokers, 3)
    )
    assert config["min.insync.replicas"] <= config["default.replication.factor"]


def test_three_brokers_keep_writing_with_one_down():
    (kafka,) = [o for o in strimzi.load_manifest("kafka-three-brokers.yaml") if o["kind"] == "Kafka"]
    config = kafka["spec"]["kafka"]["config"]
    assert (config["default.replication.factor"], config["min.insync.replicas"]) == (3, 2)


def test_topic_fits_the_single_node_cluster():
    (topic,) = strimzi.load_manifest("topic.yaml")
    assert topic["spec"]["replicas"] == 1 and topic["spec"]["partitions"] >= 1


def test_user_is_scram_with_acls_for_one_topic_and_one_group():
    (user,) = strimzi.load_manifest("user.yaml")
    assert user["spec"]["authentication"] == {"type": "scram-sha-512"}
    acls = user["spec"]["authorization"]["acls"]
    assert {(a["resource"]["type"], a["resource"]["name"]) for a in acls} == {
        ("topic", "my-topic"),
        ("group", "my-group"),
    }
