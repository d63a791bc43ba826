"""No message lost or duplicated when the broker goes away mid-stream.

A producer with the notebooks' settings (kafkalab.clients.produce: acks=all, idempotence on — kafka-python
3.0's defaults, passed explicitly here) sends keyed records in three phases: while the broker runs, while it
is down, and after it is back. The broker goes away in one of two ways:

- roll: spec.kafka.config changes, so the stand-in rolls the broker (stop, restart with the new config) as
  Strimzi rolls its pods;
- crash: the broker JVM gets SIGKILL (found by its pid file in the stand-in's state dir, checked against
  its command line). The stand-in notices a dead broker at its periodic resync (60 s); an annotation on
  the Kafka makes it look at once, standing in for the kubelet that restarts a crashed container at once.

Then a consumer group reads exactly N records: each (key, seq) once, in order per key, and nothing after.
Everything lives in namespaces of its own, deleted at the end.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import time
import uuid
from pathlib import Path

import pytest
from kubernetes import client

from kafkalab import clients, kube, strimzi
from tests.hermetic.source import strimzi_source

pytestmark = pytest.mark.hermetic

SOURCE = strimzi_source()
CLUSTER = "faulty"
KEYS = 5
BEFORE, AFTER = 150, 150  # records sent while the broker runs, before the fault and after it is back
DOWN_EVERY = 0.05  # while the broker is down, one record every 50 ms
RESTART_TIMEOUT = 180  # seconds the broker may take to come back (2 cores shared with other tests)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="module")
def kafka_cluster(kubeconfig, hermetic_dir):
    """(namespace, conn, broker state dir) of a single-node Kafka of our own."""
    kube.reset()
    op_ns, ns = unique("kl-faults-op"), unique("kl-faults")
    try:
        strimzi.install_operator(op_ns, (ns,), source=SOURCE, timeout=240)
        kube.apply(strimzi.load_manifest("kafka-single-node.yaml", cluster=CLUSTER, namespace=ns))
        strimzi.wait_kafka_ready(CLUSTER, ns, timeout=240)
        conn = clients.connection(CLUSTER, ns, "external")
        yield ns, conn, hermetic_dir / "standin" / ns / CLUSTER / "dual-role-0"  # <pool>-<node id>
    finally:
        for name in (ns, op_ns):
            kube.delete_namespace(name, timeout=180)


def broker_pid(state: Path) -> int | None:
    """The pid of our broker's JVM, if it runs (checked against its command line: pids get reused)."""
    try:
        pid = int((state / "broker.pid").read_text())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except (FileNotFoundError, ValueError, ProcessLookupError):
        return None
    return pid if "kafka.Kafka" in cmdline and str(state) in cmdline else None


def answers(bootstrap: str) -> bool:
    host, port = bootstrap.rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=1):
            return True
    except OSError:
        return False


def roll(ns: str, state: Path) -> None:
    """Change the broker config, as a learner editing the Kafka would: the stand-in restarts the broker."""
    kafka = kube.get(strimzi.API_VERSION, "Kafka", CLUSTER, ns)
    config = dict(kafka["spec"]["kafka"].get("config") or {})
    config["log.retention.check.interval.ms"] = int(config.get("log.retention.check.interval.ms", 300000)) + 1
    kafka["spec"]["kafka"]["config"] = config
    # the whole spec: server-side apply drops fields our field manager applied before and now leaves out
    meta = {"name": CLUSTER, "namespace": ns}
    kube.apply({"apiVersion": kafka["apiVersion"], "kind": "Kafka", "metadata": meta, "spec": kafka["spec"]})


def crash(ns: str, state: Path) -> None:
    """SIGKILL the broker JVM (no clean shutdown), then nudge the stand-in (see the module docstring)."""
    pid = broker_pid(state)
    assert pid is not None, f"no broker JVM found by {state / 'broker.pid'}"
    os.kill(pid, signal.SIGKILL)
    patch = {"metadata": {"annotations": {"kafkalab.test/crashed-at": str(time.time())}}}
    client.CustomObjectsApi(kube.api()).patch_namespaced_custom_object(
        "kafka.strimzi.io", "v1", ns, "kafkas", CLUSTER, patch
    )


@pytest.mark.parametrize("fault", [roll, crash], ids=["roll", "crash"])
def test_no_record_lost_or_duplicated_across_a_broker_restart(kafka_cluster, fault):
    ns, conn, state = kafka_cluster
    topic = unique("faults")
    strimzi.ensure_topic(topic, CLUSTER, ns, partitions=3, timeout=120)
    old_pid = broker_pid(state)
    assert old_pid is not None
    seen = {"down": 0, "new_pid": None, "phases": [0, 0, 0]}

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
            time.sleep(0.005)
        fault(ns, state)
        deadline = time.monotonic() + RESTART_TIMEOUT
        # down: until a new JVM runs and its listener answers
        while True:
            pid = broker_pid(state)
            if pid not in (None, old_pid) and answers(conn["bootstrap_servers"]):
                seen["new_pid"] = pid
                break
            if pid is None or not answers(conn["bootstrap_servers"]):
                seen["down"] += 1
            assert time.monotonic() < deadline, f"the broker did not come back in {RESTART_TIMEOUT}s"
            yield record(1)
            time.sleep(DOWN_EVERY)
        for _ in range(AFTER):
            yield record(2)
            time.sleep(0.005)

    acked = clients.produce(
        conn, topic, records(), timeout=RESTART_TIMEOUT + 60, acks="all", enable_idempotence=True
    )
    total = sum(seen["phases"])
    assert acked == total
    assert seen["new_pid"] not in (None, old_pid), "the broker was never restarted"
    assert seen["down"] > 0 and seen["phases"][1] > 0, f"no record was sent while the broker was down: {seen}"

    group = unique("faults-readers")
    got = clients.consume(conn, topic, total, group=group, timeout=120)
    pairs = [(r.key.decode(), json.loads(r.value)["seq"]) for r in got]
    sent = {(f"key-{i % KEYS}", i) for i in range(total)}
    assert len(pairs) == len(set(pairs)), f"duplicated: {len(pairs) - len(set(pairs))}"
    assert set(pairs) == sent, f"lost: {len(sent - set(pairs))} of {total}"
    per_key: dict[str, list[int]] = {}
    partitions: dict[str, set[int]] = {}
    for r, (key, seq) in zip(got, pairs, strict=True):
        per_key.setdefault(key, []).append(seq)
        partitions.setdefault(key, set()).add(r.partition)
    assert all(seqs == sorted(seqs) for seqs in per_key.values()), "order per key broken"
    assert all(len(p) == 1 for p in partitions.values())
    # nothing beyond the N: the group's committed offsets are at the end of every partition
    assert clients.consume(conn, topic, 1, group=group, timeout=5) == []
