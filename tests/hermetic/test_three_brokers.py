"""`manifests/kafka-three-brokers.yaml` for real: three Kafka nodes (dual role, a KRaft quorum of three), each
a JVM on a loopback address of its own, behind one bootstrap address on 127.0.0.1.

- an RF=3 topic with min.insync.replicas=2 made through a KafkaTopic; records produced with acks=all while a
  broker's pod is deleted: nothing lost, nothing twice, the partition leadership moved away from the deleted
  broker, and the broker came back (same node id, same data) and rejoined every ISR;
- a broker-only pool added (scale-up): node 3 joins, a topic with four replicas gets one on it;
- that pool scaled down while node 3 still holds replicas: reverted, as Strimzi 1.2.0 does (scaling.py says
  where in Strimzi's source that comes from): Warning `ScaleDownPreventionCheck`, node 3 kept; once its
  replicas are gone the next reconcile removes it.

The pure scale-down rules are tested without a cluster at the top. The hermetic part takes about 2-3 minutes
on 2 cores (three JVMs start; a broker restarts once; a fourth starts and stops). Nothing in it waits on a
clock: every wait is for a state (a pid, an ISR, a condition), bounded by a generous timeout.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path

import psutil
import pytest
from kafka.admin import KafkaAdminClient
from kafka.errors import KafkaError
from kubernetes import client

from kafkalab import clients, kube, strimzi
from tests.hermetic.standin.scaling import removed_brokers, revert_scale_down, skip_check
from tests.hermetic.standin.validate import kafka_plan

SOURCE = os.environ.get("KAFKALAB_STRIMZI_SOURCE", "/work/shared/strimzi/1.2.0/install/cluster-operator")
CLUSTER = "trio"
POOL = "dual-role"
KEYS = 6
BEFORE, AFTER = 200, 200  # records sent before the pod deletion and after the broker is back
TIMEOUT = 180  # seconds any one wait may take (2 cores shared with other tests)
START_TIMEOUT = 420  # three JVMs starting together on a busy machine (the stand-in allows each 300 s)


# ---------------------------------------------------------------------------------------------------------
# pure: Strimzi's scale-down check
# ---------------------------------------------------------------------------------------------------------


def _pool(name: str, replicas: int, roles=("broker",), status_ids=None) -> dict:
    pool = {
        "metadata": {"name": name, "labels": {"strimzi.io/cluster": "c"}},
        "spec": {"replicas": replicas, "roles": list(roles), "storage": {"type": "ephemeral"}},
    }
    if status_ids is not None:
        pool["status"] = {"nodeIds": status_ids, "roles": list(roles), "replicas": len(status_ids)}
    return pool


def _kafka(annotations=None) -> dict:
    return {
        "metadata": {"name": "c", "namespace": "ns", "annotations": annotations or {}},
        "spec": {"kafka": {"listeners": [{"name": "plain", "port": 9092, "type": "internal", "tls": False}]}},
    }


def test_scale_down_of_a_broker_pool_is_reverted_to_its_status_node_ids():
    pools = [
        _pool("ctrl", 1, roles=("controller",), status_ids=[0]),
        _pool("brokers", 1, status_ids=[1, 2, 3]),
    ]
    plan = kafka_plan(_kafka(), pools)
    assert {p.name: p.node_ids for p in plan.pools}["brokers"] == (1,)  # Strimzi removes the highest ids
    assert removed_brokers(plan, pools) == {2, 3}
    reverted, warnings = revert_scale_down(plan, pools)
    assert {p.name: (p.replicas, p.node_ids) for p in reverted.pools} == {
        "ctrl": (1, (0,)),
        "brokers": (3, (1, 2, 3)),
    }
    assert warnings == [
        (
            "ScaleDownPreventionCheck",
            "Reverting scale-down of KafkaNodePool brokers by changing number of replicas to 3",
        )
    ]


def test_controller_only_pools_and_scale_up_remove_nothing():
    pools = [_pool("ctrl", 3, roles=("controller",), status_ids=[0]), _pool("brokers", 4, status_ids=[1])]
    plan = kafka_plan(_kafka(), pools)
    assert removed_brokers(plan, pools) == set()
    assert {p.name: p.node_ids for p in plan.pools} == {"brokers": (1, 2, 3, 4), "ctrl": (0, 5, 6)}


def test_remove_node_ids_annotation_picks_the_nodes_a_scale_down_removes():
    pool = _pool("brokers", 2, status_ids=[1, 2, 3, 4])
    pool["metadata"]["annotations"] = {
        "strimzi.io/remove-node-ids": "[2, 9]"
    }  # 9 is not there: then the highest
    plan = kafka_plan(_kafka(), [_pool("ctrl", 1, roles=("controller",), status_ids=[0]), pool])
    assert {p.name: p.node_ids for p in plan.pools}["brokers"] == (1, 3)
    pool["metadata"]["annotations"] = {"strimzi.io/remove-node-ids": "[4-1]"}
    plan = kafka_plan(_kafka(), [_pool("ctrl", 1, roles=("controller",), status_ids=[0]), pool])
    assert {p.name: p.node_ids for p in plan.pools}["brokers"] == (1, 2)


def test_skip_annotation_is_read_like_strimzi():
    assert not skip_check(_kafka())
    assert skip_check(_kafka({"strimzi.io/skip-broker-scaledown-check": "true"}))
    assert not skip_check(_kafka({"strimzi.io/skip-broker-scaledown-check": "false"}))


# ---------------------------------------------------------------------------------------------------------
# hermetic: three real brokers
# ---------------------------------------------------------------------------------------------------------

hermetic = pytest.mark.hermetic


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="module")
def trio(kubeconfig, hermetic_dir):
    """(namespace, external connection, state dir of the cluster) of manifests/kafka-three-brokers.yaml."""
    kube.reset()
    op_ns, ns = unique("kl-trio-op"), unique("kl-trio")
    try:
        strimzi.install_operator(op_ns, (ns,), source=SOURCE, timeout=240)
        kube.apply(strimzi.load_manifest("kafka-three-brokers.yaml", cluster=CLUSTER, namespace=ns))
        started = time.monotonic()
        strimzi.wait_kafka_ready(CLUSTER, ns, timeout=START_TIMEOUT)
        print(f"three nodes Ready in {time.monotonic() - started:.1f}s")
        yield ns, clients.connection(CLUSTER, ns, "external"), hermetic_dir / "standin" / ns / CLUSTER
    finally:
        for name in (ns, op_ns):
            kube.delete_namespace(name, timeout=180)


def wait_for(what: str, check, timeout: float = TIMEOUT):
    """Poll `check()` until it returns something truthy; fail naming `what` and the last value."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.25)
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}; last seen: {last!r}")


def node_pid(state: Path, pool: str, node_id: int) -> int | None:
    """The pid of node `node_id`'s JVM if it runs (checked against its command line: pids get reused)."""
    node_dir = state / f"{pool}-{node_id}"
    try:
        pid = int((node_dir / "broker.pid").read_text())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except (FileNotFoundError, ValueError):
        return None
    return pid if "kafka.Kafka" in cmdline and str(node_dir) in cmdline else None


def describe(conn: dict, topic: str) -> list[dict]:
    """The topic's partitions; asked again when the metadata still names a broker that just went away."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        try:
            admin = KafkaAdminClient(**conn)
            try:
                (desc,) = admin.describe_topics([topic])
                return sorted(desc["partitions"], key=lambda p: p["partition_index"])
            finally:
                admin.close()
        except KafkaError:
            if time.monotonic() > deadline:
                raise


def cluster_brokers(conn: dict) -> list[dict]:
    admin = KafkaAdminClient(**conn)
    try:
        return sorted(admin.describe_cluster()["brokers"], key=lambda b: b["broker_id"])
    finally:
        admin.close()


def broker_ids(conn: dict) -> list[int] | None:
    """The ids of the brokers in the cluster metadata; None while a broker going away drops the connection."""
    try:
        return [b["broker_id"] for b in cluster_brokers(conn)]
    except KafkaError:
        return None


def kafka_status(ns: str) -> dict:
    return kube.get(strimzi.API_VERSION, "Kafka", CLUSTER, ns).get("status") or {}


def nudge(ns: str) -> None:
    """Make the stand-in reconcile the Kafka now, standing in for Strimzi's periodic reconciliation."""
    kafka = kube.get(strimzi.API_VERSION, "Kafka", CLUSTER, ns)
    annotations = dict(
        kafka["metadata"].get("annotations") or {}, **{"kafkalab.test/nudge": str(time.time())}
    )
    client_patch = {"metadata": {"annotations": annotations}}
    client.CustomObjectsApi(kube.api()).patch_namespaced_custom_object(
        "kafka.strimzi.io", "v1", ns, "kafkas", CLUSTER, client_patch
    )


@hermetic
def test_three_nodes_each_on_its_own_address_behind_one_bootstrap(trio):
    ns, conn, state = trio
    status = kafka_status(ns)
    external = next(lst for lst in status["listeners"] if lst["name"] == "external")
    # a nodeport listener's status names its advertisedHost (the manifest's `localhost`), as Strimzi writes it
    assert external["bootstrapServers"].startswith("localhost:")
    pool = kube.get(strimzi.API_VERSION, "KafkaNodePool", POOL, ns)["status"]
    assert (pool["nodeIds"], pool["roles"]) == ([0, 1, 2], ["controller", "broker"])
    brokers = cluster_brokers(conn)
    assert [b["broker_id"] for b in brokers] == [0, 1, 2]
    hosts = {b["host"] for b in brokers}
    assert len(hosts) == 3 and not hosts & {"127.0.0.1", "localhost"}, brokers
    assert {b["port"] for b in brokers} == {9094}  # the external listener's port, as in a pod
    pids = [node_pid(state, POOL, i) for i in range(3)]
    assert all(pids) and len(set(pids)) == 3
    for i in range(3):  # each node is a combined-mode KRaft node of a quorum of three
        props = (state / f"{POOL}-{i}" / "server.properties").read_text()
        assert "process.roles=broker,controller" in props and f"node.id={i}\n" in props
        assert props.count("@127.") == 3, "controller.quorum.voters should name the three nodes"
    rss = [psutil.Process(p).memory_info().rss for p in pids]
    print(f"RSS of the three JVMs after start: {sum(rss) / 2**20:.0f} MiB ({[r // 2**20 for r in rss]})")


@hermetic
def test_acks_all_rf3_topic_loses_nothing_while_a_broker_pod_is_deleted(trio):
    ns, conn, state = trio
    topic = unique("trio")
    strimzi.ensure_topic(
        topic, CLUSTER, ns, partitions=3, replicas=3, config={"min.insync.replicas": 2}, timeout=TIMEOUT
    )
    partitions = describe(conn, topic)
    assert [len(p["replica_nodes"]) for p in partitions] == [3, 3, 3]
    assert all(len(p["isr_nodes"]) == 3 for p in partitions)
    victim = partitions[0]["leader_id"]
    pod_name = f"{CLUSTER}-{POOL}-{victim}"
    old_uid = kube.get("v1", "Pod", pod_name, ns)["metadata"]["uid"]
    old_pid = node_pid(state, POOL, victim)
    seen = {"phases": [0, 0, 0], "leaders_while_down": None}

    def records():
        seq = 0

        def record(phase: int):
            nonlocal seq
            seen["phases"][phase] += 1
            out = (f"key-{seq % KEYS}", json.dumps({"seq": seq}))
            seq += 1
            return out

        for _ in range(BEFORE):
            yield record(0)
        kube.delete(
            {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": pod_name, "namespace": ns}}, wait=False
        )
        deadline = time.monotonic() + TIMEOUT
        # down: until the node's JVM is gone, then until a new one runs and is back in every ISR
        while node_pid(state, POOL, victim) == old_pid:
            assert time.monotonic() < deadline, f"node {victim}'s JVM did not stop when its pod went"
            yield record(1)
            time.sleep(0.02)  # paces the records sent meanwhile; correctness does not rest on it
        leaders = [p["leader_id"] for p in describe(conn, topic)]
        seen["leaders_while_down"] = leaders
        while True:
            pid = node_pid(state, POOL, victim)
            if pid not in (None, old_pid) and all(victim in p["isr_nodes"] for p in describe(conn, topic)):
                break
            assert time.monotonic() < deadline, f"node {victim} was not back in every ISR in {TIMEOUT}s"
            yield record(1)
            time.sleep(0.02)
        for _ in range(AFTER):
            yield record(2)

    acked = clients.produce(conn, topic, records(), timeout=TIMEOUT + 60, acks="all", enable_idempotence=True)
    total = sum(seen["phases"])
    assert acked == total and seen["phases"][1] > 0, seen
    assert victim not in seen["leaders_while_down"], f"leadership did not move off node {victim}: {seen}"

    new_pod = wait_for(f"pod {pod_name} re-created", lambda: kube.get("v1", "Pod", pod_name, ns))
    assert new_pod["metadata"]["uid"] != old_uid
    assert all(victim in p["isr_nodes"] and len(p["isr_nodes"]) == 3 for p in describe(conn, topic))
    assert cluster_brokers(conn)[victim]["broker_id"] == victim  # same node id, back in the cluster

    got = clients.consume(conn, topic, total, group=unique("trio-readers"), timeout=120)
    pairs = [(r.key.decode(), json.loads(r.value)["seq"]) for r in got]
    sent = {(f"key-{i % KEYS}", i) for i in range(total)}
    assert len(pairs) == len(set(pairs)), f"duplicated: {len(pairs) - len(set(pairs))}"
    assert set(pairs) == sent, f"lost: {len(sent - set(pairs))} of {total}"

    peak = [_peak_rss(node_pid(state, POOL, i)) for i in range(3)]
    print(f"peak RSS (VmHWM) of the three JVMs: {sum(peak) / 2**20:.0f} MiB ({[p // 2**20 for p in peak]})")


def _peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


@hermetic
def test_scale_up_adds_a_broker_and_scale_down_of_a_broker_holding_replicas_is_reverted(trio):
    ns, conn, state = trio
    extra = {
        "apiVersion": strimzi.API_VERSION,
        "kind": "KafkaNodePool",
        "metadata": {"name": "extra", "namespace": ns, "labels": {"strimzi.io/cluster": CLUSTER}},
        "spec": {"replicas": 1, "roles": ["broker"], "storage": {"type": "ephemeral"}},
    }
    kube.apply(extra)
    wait_for("node 3 in the cluster", lambda: broker_ids(conn) == [0, 1, 2, 3])
    pool = wait_for(
        "pool extra's status",
        lambda: (kube.get(strimzi.API_VERSION, "KafkaNodePool", "extra", ns).get("status") or {}).get(
            "nodeIds"
        ),
    )
    assert pool == [3]
    props = (state / "extra-3" / "server.properties").read_text()
    assert "process.roles=broker\n" in props and "STANDIN_CONTROLLER://" not in props.split("\nlisteners=")[1]

    topic = unique("four")
    strimzi.ensure_topic(topic, CLUSTER, ns, partitions=1, replicas=4, timeout=TIMEOUT)
    assert 3 in describe(conn, topic)[0]["replica_nodes"]

    # scale the pool down to nothing: node 3 holds a replica, so Strimzi reverts the scale-down
    kube.apply(dict(extra, spec=dict(extra["spec"], replicas=0)))

    def reverted():
        return next(
            (
                c
                for c in kafka_status(ns).get("conditions") or []
                if c.get("reason") == "ScaleDownPreventionCheck"
            ),
            None,
        )

    warning = wait_for("the ScaleDownPreventionCheck warning", reverted)
    assert (warning["type"], warning["status"]) == ("Warning", "True")
    assert (
        warning["message"]
        == "Reverting scale-down of KafkaNodePool extra by changing number of replicas to 1"
    )
    assert any(c["type"] == "Ready" and c["status"] == "True" for c in kafka_status(ns)["conditions"])
    assert kube.get(strimzi.API_VERSION, "KafkaNodePool", "extra", ns)["status"]["nodeIds"] == [3]
    assert node_pid(state, "extra", 3) is not None
    assert kube.get("v1", "Pod", f"{CLUSTER}-extra-3", ns) is not None

    # once nothing is left on node 3, the next reconcile removes it
    kube.delete({"apiVersion": strimzi.API_VERSION, "kind": "KafkaTopic", "metadata": {"name": topic}}, ns)
    wait_for("the topic gone from the brokers", lambda: topic not in _topics(conn))
    pid = node_pid(state, "extra", 3)
    nudge(ns)
    # (the removed broker stays registered in the KRaft metadata, fenced: the stand-in does not unregister it)
    wait_for(
        "its JVM stopped", lambda: not psutil.pid_exists(pid) or psutil.Process(pid).status() == "zombie"
    )
    wait_for("its pod deleted", lambda: kube.get("v1", "Pod", f"{CLUSTER}-extra-3", ns) is None)
    wait_for(
        "pool extra's status without node 3",
        lambda: kube.get(strimzi.API_VERSION, "KafkaNodePool", "extra", ns)["status"]["nodeIds"] == [],
    )
    wait_for("the warning gone", lambda: reverted() is None)


def _topics(conn: dict) -> set[str]:
    admin = KafkaAdminClient(**conn)
    try:
        return set(admin.list_topics())
    finally:
        admin.close()
