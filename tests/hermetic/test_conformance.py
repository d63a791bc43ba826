"""The stand-in against what the real Strimzi 1.2.0 Cluster Operator did (../shared/strimzi/1.2.0/observed/).

Every recording is fed through the stand-in and compared on the fields that matter: condition type, status,
reason and message; which status fields remain; object kinds, names, labels and ports. The recordings are
read where they lie at test time (never copied into this repository); without them the module is skipped,
saying where it looked.

Where a recording does not settle a field (the real operator never got a Ready cluster: no broker ran), the
expectation comes from DESIGN.md §2 (read from Strimzi 1.2.0's source); each such test says so. What the
stand-in does not make at all is listed in NOT_MADE, so the comparison fails both when a new difference
appears and when a listed one is closed (then the list must shrink).

Pure tests need no cluster; `hermetic` ones run the recorded inputs through the running stand-in.
"""

from __future__ import annotations

import copy
import os
import re
import time
import uuid
from pathlib import Path

import pytest
import yaml

from kafkalab import kube, strimzi
from tests.hermetic.standin import objects, status
from tests.hermetic.standin.ca import ClusterCA
from tests.hermetic.standin.gate import Gate, crash_loop_status
from tests.hermetic.standin.validate import Refusal, kafka_plan, user_plan

ROOT = Path(__file__).resolve().parents[2]
OBSERVED = Path(
    os.environ.get(
        "KAFKALAB_STRIMZI_OBSERVED", str(ROOT.parent / "shared" / "strimzi" / "1.2.0" / "observed")
    )
)
STRIMZI_SOURCE = os.environ.get(
    "KAFKALAB_STRIMZI_SOURCE",
    str(ROOT.parent / "shared" / "strimzi" / "1.2.0" / "install" / "cluster-operator"),
)
pytestmark = pytest.mark.skipif(
    not OBSERVED.is_dir(),
    reason=f"no recordings of the real Strimzi 1.2.0 at {OBSERVED} (set KAFKALAB_STRIMZI_OBSERVED)",
)
hermetic = pytest.mark.hermetic

REFUSALS = ("bad-version", "dup-listener-name", "dup-listener-port", "no-pool", "pool-no-broker")
# Broker-stage failures recorded (the real operator could not reach brokers): folder -> final Kafka file.
BROKER_STAGE = ("single-node", "single-node-refused", "three-brokers", "no-endpoints-controller")

# What the real operator made for `my-cluster` that the stand-in does not make (kind, name). Endpoints are
# Kubernetes' own (endpoint controller), not the operator's.
NOT_MADE = {
    ("ServiceAccount", "my-cluster-kafka"),
    ("ConfigMap", "my-cluster-dual-role-{id}"),
    ("NetworkPolicy", "my-cluster-network-policy-kafka"),
    ("PodDisruptionBudget", "my-cluster-kafka"),
    ("Role", "my-cluster-kafka"),
    ("RoleBinding", "my-cluster-kafka-role"),
}


def load(rel: str) -> list[dict]:
    return [d for d in yaml.safe_load_all((OBSERVED / rel).read_text()) if d]


def one(rel: str) -> dict:
    (doc,) = load(rel)
    return doc


def spec_only(obj: dict) -> dict:
    """A recorded object as it was applied: no status, no server fields."""
    out = copy.deepcopy(obj)
    out.pop("status", None)
    out["metadata"].setdefault("namespace", "kafka")
    out["metadata"].setdefault("uid", "uid-" + out["metadata"]["name"])
    return out


def shape(conditions: list[dict]) -> list[tuple]:
    """What matters of conditions: type, status, reason, message (not the times)."""
    return [(c["type"], c["status"], c.get("reason"), c.get("message")) for c in conditions]


def inputs(case: str) -> tuple[dict, list[dict]]:
    """(Kafka, [KafkaNodePool]) of a refusal case as applied (refusals/<case>.input.yaml)."""
    docs = [spec_only(d) for d in load(f"refusals/{case}.input.yaml")]
    kafka = next(d for d in docs if d["kind"] == "Kafka")
    return kafka, [d for d in docs if d["kind"] == "KafkaNodePool"]


# ---------------------------------------------------------------------------------------------------------
# pure: refusals
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", REFUSALS)
def test_refusals_match_the_recorded_status(case):
    kafka, pools = inputs(case)
    recorded = one(f"refusals/{case}.kafka.yaml")["status"]
    with pytest.raises(Refusal) as info:
        kafka_plan(kafka, pools)
    r = info.value
    ours = status.failed_kafka(r.reason, r.message, kafka["metadata"].get("generation", 1), None)
    assert shape(ours["conditions"]) == shape(recorded["conditions"])
    assert set(ours) == set(recorded)  # clusterSecurity, conditions, observedGeneration: nothing else
    assert ours["clusterSecurity"] == recorded["clusterSecurity"]
    assert ours["observedGeneration"] == recorded["observedGeneration"]


def test_forbidden_config_keys_give_no_condition_and_are_dropped():
    kafka, pools = inputs("forbidden-config")
    plan = kafka_plan(kafka, pools)  # no refusal
    assert set(plan.ignored_config) == {"listeners", "advertised.listeners"}
    assert "listeners" not in plan.config and "advertised.listeners" not in plan.config
    recorded = one("refusals/forbidden-config.kafka.yaml")["status"]
    assert not any("forbidden" in (c.get("message") or "") for c in recorded["conditions"])
    log = (OBSERVED / "refusals" / "co-log-excerpt.txt").read_text()
    for key in plan.ignored_config:
        assert f'Configuration option "{key}" is forbidden and will be ignored' in log
    server_config = OBSERVED / "single-node" / "broker-configmap-my-cluster-dual-role-0.server.config.txt"
    assert "9999" not in server_config.read_text()  # sanity: the recorded cluster had no such listener


# ---------------------------------------------------------------------------------------------------------
# pure: statuses of the recorded clusters
# ---------------------------------------------------------------------------------------------------------


def recorded_cluster(folder: str) -> tuple[dict, list[dict], dict]:
    """(Kafka, pools, the Kafka's recorded final status) of a folder. no-endpoints-controller/ ran the
    single-node manifest and kept no pool of its own: single-node's pool stands in for it."""
    final = one(f"{folder}/kafka-final.yaml")
    pool_folder = folder if (OBSERVED / folder / "kafkanodepool-final.yaml").exists() else "single-node"
    return spec_only(final), [spec_only(one(f"{pool_folder}/kafkanodepool-final.yaml"))], final["status"]


@pytest.mark.parametrize("folder", BROKER_STAGE)
def test_a_failure_after_validation_keeps_what_the_real_one_keeps(folder):
    kafka, pools, recorded = recorded_cluster(folder)
    plan = kafka_plan(kafka, pools)
    bad = recorded["conditions"][-1]
    ours = status.failed_kafka(bad["reason"], bad["message"], 1, None, plan)
    assert shape(ours["conditions"]) == shape(recorded["conditions"])  # KafkaStorage warnings too
    assert set(ours) == set(recorded)  # no listeners, clusterId, versions
    assert ours["kafkaNodePools"] == recorded["kafkaNodePools"]
    assert ours["clusterSecurity"] == recorded["clusterSecurity"]
    assert ours["autoRebalance"]["state"] == recorded["autoRebalance"]["state"]


def test_a_failure_after_ready_drops_listeners_and_pools():
    """Source: DESIGN.md §2 (never recorded: the real operator never reached Ready)."""
    kafka, pools, _ = recorded_cluster("single-node")
    plan = kafka_plan(kafka, pools)
    ready = status.kafka_ready(plan, 1, "id", {"external": 31000}, "PEM", [], None)
    failed = status.failed_kafka("UnsupportedKafkaVersionException", "x", 2, ready)
    assert set(failed) == set(status.KEPT_ON_FAILURE) | {"conditions", "observedGeneration"}


def test_the_first_status_is_the_recorded_creating_one():
    timeline = load("single-node/status-timeline.yaml")
    first = next(d["status"] for d in timeline if d.get("status") and "nodeIds" not in d["status"])
    ours = status.kafka_creating(None)
    assert set(ours) == set(first) and ours["observedGeneration"] == first["observedGeneration"] == 0
    assert shape(ours["conditions"]) == shape(first["conditions"])


@pytest.mark.parametrize("folder", ["single-node", "three-brokers"])
def test_node_pool_status_matches(folder):
    kafka, pools, _ = recorded_cluster(folder)
    recorded = one(f"{folder}/kafkanodepool-final.yaml")["status"]
    plan = kafka_plan(kafka, pools)
    ours = status.pool_status(kafka["metadata"]["name"], plan.pools[0], recorded["clusterId"], 1, None)
    assert ours == recorded


def test_ready_status_listener_addresses():
    """Source: DESIGN.md §2 (the recordings hold no Ready status): internal listeners name the bootstrap
    Service; the nodeport listener names the advertisedHost with the bootstrap port — on kind the bootstrap
    node port (32100), here the stand-in's bootstrap port on 127.0.0.1."""
    kafka, pools, _ = recorded_cluster("single-node")
    plan = kafka_plan(kafka, pools)
    ready = status.kafka_ready(plan, 1, "id", {"external": 32100}, "PEM", [], None)
    got = {lst["name"]: lst["bootstrapServers"] for lst in ready["listeners"]}
    assert got == {
        "plain": "my-cluster-kafka-bootstrap.kafka.svc:9092",
        "tls": "my-cluster-kafka-bootstrap.kafka.svc:9093",
        "external": "localhost:32100",
    }
    assert [c["reason"] for c in ready["conditions"] if c["type"] == "Warning"] == ["KafkaStorage"] * 2


# ---------------------------------------------------------------------------------------------------------
# pure: objects
# ---------------------------------------------------------------------------------------------------------


def summary(folder: str) -> list[dict]:
    return yaml.safe_load((OBSERVED / folder / "objects-summary.yaml").read_text())


def ports_of(svc_spec: dict) -> list[tuple]:
    return [
        (p["name"], p["port"], p.get("nodePort"), p.get("targetPort")) for p in svc_spec.get("ports") or []
    ]


@pytest.fixture(scope="module")
def cas(tmp_path_factory):
    d = tmp_path_factory.mktemp("cas")
    return ClusterCA(d / "cluster"), ClusterCA(d / "clients")


@pytest.mark.parametrize("folder", ["single-node", "three-brokers"])
def test_services_match_names_types_ports_selectors_and_labels(folder):
    kafka, pools, _ = recorded_cluster(folder)
    plan = kafka_plan(kafka, pools)
    ours = {s["metadata"]["name"]: s for s in objects.services(plan, None)}
    recorded = {o["name"]: o for o in summary(folder) if o["kind"] == "Service"}
    assert set(ours) == set(recorded)
    for name, rec in recorded.items():
        spec = ours[name]["spec"]
        assert spec.get("type", "ClusterIP") == rec["type"], name
        assert ports_of(spec) == ports_of(rec), name
        assert spec["selector"] == rec["selector"], name
        assert ours[name]["metadata"]["labels"] == rec["labels"], name


@pytest.mark.parametrize("folder", ["single-node", "three-brokers"])
def test_secrets_match_names_keys_and_labels(folder, cas):
    kafka, pools, _ = recorded_cluster(folder)
    plan = kafka_plan(kafka, pools)
    ours = {s["metadata"]["name"]: s for s in objects.ca_secrets(plan, None, *cas)}
    recorded = {o["name"]: o for o in summary(folder) if o["kind"] == "Secret"}
    assert set(ours) == set(recorded)
    for name, rec in recorded.items():
        assert sorted(ours[name]["data"]) == rec["keys"], name
        assert ours[name]["metadata"]["labels"] == rec["labels"], name


def test_pods_and_podsets_match_names_labels_and_ports():
    kafka, pools, _ = recorded_cluster("single-node")
    plan = kafka_plan(kafka, pools)
    recorded = {(o["kind"], o["name"]): o for o in summary("single-node")}
    pod = objects.pod(plan, plan.pools[0], 0, None)
    rec_pod = recorded[("Pod", "my-cluster-dual-role-0")]
    assert pod["metadata"]["labels"] == rec_pod["labels"]
    assert [c["name"] for c in pod["spec"]["containers"]] == rec_pod["containers"]
    rec_ports = [
        (p["name"], p["containerPort"])
        for p in next(o for o in load("single-node/objects.yaml") if o["kind"] == "Pod")["spec"][
            "containers"
        ][0]["ports"]
    ]
    assert [(p["name"], p["containerPort"]) for p in pod["spec"]["containers"][0]["ports"]] == rec_ports
    podset = objects.podset(plan, plan.pools[0], None)
    rec_set = recorded[("StrimziPodSet", "my-cluster-dual-role")]
    assert podset["metadata"]["name"] == "my-cluster-dual-role"
    assert podset["metadata"]["labels"] == rec_set["labels"]
    assert podset["spec"]["selector"] == rec_set["selector"]
    assert [p["metadata"]["name"] for p in podset["spec"]["pods"]] == rec_set["pods"]


def test_what_the_stand_in_does_not_make_is_exactly_the_known_list():
    made = {"Secret", "Service", "Pod", "StrimziPodSet"}  # what objects.py builds (tests above compare them)
    missing = set()
    for o in summary("single-node"):
        if o["kind"] in made | {"Endpoints", "Kafka", "KafkaNodePool"}:
            continue
        missing.add((o["kind"], re.sub(r"-\d+$", "-{id}", o["name"])))
    assert missing == NOT_MADE


# ---------------------------------------------------------------------------------------------------------
# pure: KafkaUser and RBAC
# ---------------------------------------------------------------------------------------------------------


def test_user_refusal_is_wrapped_in_an_execution_exception():
    """Source: DESIGN.md §2 and Strimzi's own system test (the recorded User Operator never got to reconcile:
    user-operator/kafkauser-final.yaml has no status). The recorded user and cluster are the input."""
    user = spec_only(one("user-operator/kafkauser-final.yaml"))
    assert "status" not in one("user-operator/kafkauser-final.yaml")
    kafka, _, _ = recorded_cluster("single-node")  # no spec.kafka.authorization
    with pytest.raises(Refusal) as info:
        user_plan(user, kafka)
    (c,) = status.user_failed(info.value.reason, info.value.message, 1, None)["conditions"]
    assert (c["type"], c["status"], c["reason"]) == ("NotReady", "True", "ExecutionException")
    assert c["message"].startswith(
        "io.strimzi.operator.common.ReconciliationException: "
        "io.strimzi.operator.common.model.InvalidResourceException: "
    )
    assert "Simple authorization ACL rules are configured but not supported" in c["message"]


class OneOperator:
    """kubeapi.Kube's edge for the gate: the recorded rbac/ setup (watches kafka,other; RBAC in kafka)."""

    def __init__(self) -> None:
        self.pod = {
            "metadata": {"name": "strimzi-cluster-operator-1", "namespace": "kafka"},
            "status": {"conditions": [{"type": "Ready", "status": "True"}],
                       "containerStatuses": [{"name": "strimzi-cluster-operator", "state": {"running": {}}}]},
        }  # fmt: skip
        env = [{"name": "STRIMZI_NAMESPACE", "value": "kafka,other"}]
        self.dep = {
            "metadata": {"name": "strimzi-cluster-operator", "namespace": "kafka"},
            "spec": {"selector": {"matchLabels": {}}, "template": {"spec": {"containers": [{"env": env}]}}},
            "status": {"availableReplicas": 1},
        }

    def list(self, kind, namespace=None, labels=None, field=None):
        return [self.dep] if kind == "Deployment" else [self.pod]

    def can_i(self, user, verb, group, resource, namespace):
        return namespace == "kafka"

    def patch_status(self, kind, namespace, name, new, old):
        self.pod["status"] = new

    def event(self, *a, **k):
        pass


def test_missing_rolebindings_crash_the_operator_as_recorded(caplog):
    log = (OBSERVED / "rbac" / "co-log-excerpt.txt").read_text()
    line = "Cluster Operator verticle in namespace other failed to start"
    assert line in log and "exit code: 1" in (OBSERVED / "rbac" / "exit-code.txt").read_text()
    kube_ = OneOperator()
    assert not Gate(kube_).covers("kafka")  # recorded: the operator exits although kafka had started
    assert line in caplog.text
    (c,) = kube_.pod["status"]["containerStatuses"]
    assert c["lastState"]["terminated"]["exitCode"] == 1
    assert crash_loop_status({}, "t") == {"conditions": [], "containerStatuses": []}


# ---------------------------------------------------------------------------------------------------------
# hermetic: the recorded inputs through the running stand-in
# ---------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ns(kubeconfig):
    name = f"conformance-{uuid.uuid4().hex[:6]}"
    strimzi.install_operator(name, (name,), source=STRIMZI_SOURCE, timeout=240)
    yield name
    strimzi.uninstall_operator(name, (name,), source=STRIMZI_SOURCE)
    kube.delete_namespace(name, timeout=300)


def apply_recorded(docs: list[dict], ns: str) -> None:
    for d in docs:
        d = copy.deepcopy(d)
        d["metadata"] = {k: v for k, v in d["metadata"].items() if k in ("name", "labels")}
        d["metadata"]["namespace"] = ns
        d.pop("status", None)
        kube.apply(d)


def wait_status(ns: str, name: str, done, timeout: float = 180) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        obj = kube.get(strimzi.API_VERSION, "Kafka", name, ns)
        if obj and done(obj.get("status") or {}):
            return obj["status"]
        assert time.monotonic() < deadline, f"Kafka {ns}/{name}: {obj and obj.get('status')}"
        time.sleep(0.5)


@hermetic
def test_recorded_refusals_through_the_stand_in(ns):
    for case in REFUSALS:
        apply_recorded(load(f"refusals/{case}.input.yaml"), ns)
    for case in REFUSALS:
        recorded = one(f"refusals/{case}.kafka.yaml")["status"]
        got = wait_status(ns, case, lambda s: s.get("observedGeneration") == 1)
        assert shape(got["conditions"]) == shape(recorded["conditions"]), case
        assert set(got) == set(recorded), case
        # refused before any pod exists
        assert not kube.pods(ns, f"strimzi.io/cluster={case}"), case
        # and, as recorded, the refused cluster's node pool gets no status
        for pool in load(f"refusals/{case}.input.yaml"):
            if pool["kind"] == "KafkaNodePool":
                assert "status" not in one(f"refusals/{case}.kafkanodepool.yaml"), case
                got_pool = kube.get(strimzi.API_VERSION, "KafkaNodePool", pool["metadata"]["name"], ns)
                assert not got_pool.get("status"), case


@hermetic
def test_recorded_single_node_objects_through_the_stand_in(ns, hermetic_dir):
    kafka, pools, _ = recorded_cluster("single-node")
    forbidden = inputs("forbidden-config")[0]["spec"]["kafka"]["config"]
    kafka["spec"]["kafka"]["config"].update(forbidden)  # plus the forbidden keys of refusals/forbidden-config
    apply_recorded([*pools, kafka], ns)
    got = strimzi.wait_kafka_ready("my-cluster", ns, timeout=180)["status"]
    assert not [c for c in got["conditions"] if c["type"] not in ("Warning", "Ready")]
    assert [c["reason"] for c in got["conditions"] if c["type"] == "Warning"] == ["KafkaStorage"] * 2
    log = (hermetic_dir / "standin.log").read_text()
    assert f'Kafka {ns}/my-cluster: Configuration option "listeners" is forbidden and will be ignored' in log

    recorded = summary("single-node")
    for kind in ("Service", "Secret", "Pod", "StrimziPodSet"):
        want = {o["name"]: o for o in recorded if o["kind"] == kind}
        have = {
            o["metadata"]["name"]: o
            for o in kube.list_objects(
                "core.strimzi.io/v1" if kind == "StrimziPodSet" else "v1",
                kind,
                ns,
                "strimzi.io/cluster=my-cluster",
            )
            # the entity operator is not compared: the recorded operator stopped before making it
            if o["metadata"]["labels"].get("strimzi.io/component-type") != "entity-operator"
        }
        assert set(have) == set(want), kind
        for name, rec in want.items():
            assert have[name]["metadata"]["labels"] == rec["labels"], (kind, name)
            if kind == "Service":
                assert [(p["name"], p["port"]) for p in have[name]["spec"]["ports"]] == [
                    (p["name"], p["port"]) for p in rec["ports"]
                ], name
