"""kafkalab is safe on any cluster: it never deletes or changes what it did not create (issue 8).

On the hermetic cluster (real API server, the Strimzi stand-in, real brokers):
- a team's namespaces, holding objects of the team's, survive a whole suite run (teardown on, 99 included)
  with those namespaces as parameters; only kafkalab's objects go, and 99 says what stayed and why;
- two learners share one operator (classroom): their suites interleave, both pass, the operator is widened
  for the second without losing the first, and the first one's 99 leaves the second's cluster Ready;
- notebook 03 run for a second cluster in the same namespace is refused before anything is written, naming
  the node pool, the cluster it belongs to and the fix; the first cluster, its pool and topic stay as they
  were and Ready;
- a refused multi-object apply puts back what it changed and removes what it created; another field
  manager's fields are not taken over; someone else's object is not applied over.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
import yaml
from kubernetes import client

from kafkalab import kube, strimzi
from kafkalab.errors import ManifestRejected
from kafkalab.suite import run_suite

pytestmark = pytest.mark.hermetic

ROOT = Path(__file__).resolve().parents[2]
SOURCE = os.environ.get("KAFKALAB_STRIMZI_SOURCE") or str(
    ROOT.parent / "shared" / "strimzi" / "1.2.0" / "install" / "cluster-operator"
)
WAIT = 180


@pytest.fixture(scope="module", autouse=True)
def library(kubeconfig):
    kube.reset()
    yield
    kube.reset()


def fresh(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def params(**over) -> dict:
    p = yaml.safe_load((ROOT / "tests" / "notebooks" / "hermetic.yaml").read_text())
    p.update(strimzi_source=SOURCE, **over)
    return p


def someone_elses_namespace(name: str) -> None:
    """A namespace made by someone else (kubectl, not kafkalab) holding a ConfigMap of theirs."""
    core = client.CoreV1Api(kube.api())
    core.create_namespace({"metadata": {"name": name}}, field_manager="kubectl")
    core.create_namespaced_config_map(
        name, {"metadata": {"name": "team-notes"}, "data": {"owner": "the team"}}, field_manager="kubectl"
    )


def team_notes(namespace: str) -> dict | None:
    cm = kube.get("v1", "ConfigMap", "team-notes", namespace)
    return cm and cm["data"]


def suite(out: Path, p: dict, *notebooks: str) -> None:
    summary = run_suite(out, p, notebooks=list(notebooks))
    assert summary.ok, f"{p['namespace']}: {summary}"


def executed_text(out: Path, notebook: str) -> str:
    path = next(out.glob(f"{notebook}*.ipynb"))
    return path.read_text()


def kafka_ready(name: str, namespace: str) -> bool:
    obj = kube.get(strimzi.API_VERSION, "Kafka", name, namespace)
    return obj is not None and (kube.condition(obj, "Ready") or {}).get("status") == "True"


def watched(operator_namespace: str) -> list[str]:
    dep = kube.get("apps/v1", "Deployment", strimzi.OPERATOR_DEPLOYMENT, operator_namespace)
    return strimzi._operator_watches(dep) if dep else []


def force_remove(*namespaces: str) -> None:
    """Test cleanup of whatever a failed test left (the test made these namespaces; kafkalab may not)."""
    for ns in namespaces:
        for obj in strimzi.strimzi_resources(ns):
            kube.delete(obj, timeout=WAIT)
    for ns in namespaces:
        if kube.get("v1", "Namespace", ns) is not None:
            kube.delete_namespace(ns, timeout=WAIT)


def test_team_namespaces_survive_and_two_learners_share_one_operator(tmp_path):
    team, ops, other = fresh("team"), fresh("ops"), fresh("learner")
    someone_elses_namespace(team)
    someone_elses_namespace(ops)
    a = params(namespace=team, operator_namespace=ops, teardown=True)
    b = params(namespace=other, operator_namespace=ops)
    try:
        # Learner A (in the team's namespaces) starts; learner B joins the same operator; they interleave.
        suite(tmp_path / "a1", a, "00", "01", "02", "03", "04")
        suite(tmp_path / "b1", b, "03")
        assert set(watched(ops)) >= {team, other}, watched(ops)  # widened, A's namespace kept
        for ns in (team, other):  # RoleBindings 020/023/031 in each watched namespace
            names = {
                rb["roleRef"]["name"]
                for rb in kube.list_objects("rbac.authorization.k8s.io/v1", "RoleBinding", ns)
            }
            assert {"strimzi-cluster-operator-namespaced", "strimzi-cluster-operator-watched"} <= names, (
                ns,
                names,
            )
        suite(tmp_path / "a2", a, "05", "06")
        suite(tmp_path / "b2", b, "04")
        suite(tmp_path / "a3", a, "07", "99")

        # A's 99 took only A's things: B's cluster is Ready, the operator stays and no longer watches A.
        assert kafka_ready("my-cluster", other)
        assert team not in watched(ops) and other in watched(ops)
        said = executed_text(tmp_path / "a3", "99")
        assert f"still serves Kafka {other}/my-cluster" in said
        assert f"Namespace {team}: not created by kafkalab" in said
        suite(tmp_path / "b3", b, "05")  # B goes on working after A left

        suite(tmp_path / "b4", b, "99")
        # The team's namespaces and their objects are as they were; nothing of kafkalab's is left in them.
        for ns in (team, ops):
            assert team_notes(ns) == {"owner": "the team"}, ns
            assert not [o for o in strimzi.strimzi_resources(ns) if kube.is_marked(o)]
        assert kube.get("apps/v1", "Deployment", strimzi.OPERATOR_DEPLOYMENT, ops) is None
        assert not kube.list_objects("v1", "ConfigMap", ops, f"{kube.MANAGED_BY_LABEL}={kube.MANAGED_BY}")
        assert kube.get("v1", "Namespace", other) is None  # kafkalab created B's namespace: it went
    finally:
        force_remove(team, ops, other)


def test_second_cluster_in_one_namespace_is_refused_and_the_first_is_untouched(tmp_path):
    ops, ns = fresh("ops"), fresh("two")
    try:
        strimzi.ensure_operator(ops, [ns], source=SOURCE, timeout=WAIT)
        strimzi.ensure_kafka("first", ns, timeout=WAIT)
        strimzi.ensure_topic("orders", "first", ns, timeout=WAIT)
        before = {
            kind: kube.get(strimzi.API_VERSION, kind, name, ns)
            for kind, name in (("Kafka", "first"), ("KafkaNodePool", "dual-role"), ("KafkaTopic", "orders"))
        }
        p = params(namespace=ns, operator_namespace=ops, cluster_name="second")
        summary = run_suite(tmp_path / "second", p, notebooks=["03"])
        (result,) = summary.results
        assert result.status == "failed"
        text = executed_text(tmp_path / "second", "03")
        assert f"KafkaNodePool {ns}/dual-role belongs to first (label strimzi.io/cluster=first)" in text
        assert "second-dual-role" in text and "nothing was applied" in text
        for kind, obj in before.items():  # not one write: same resourceVersion, same labels
            now = kube.get(strimzi.API_VERSION, kind, obj["metadata"]["name"], ns)
            assert now["metadata"]["resourceVersion"] == obj["metadata"]["resourceVersion"], kind
        assert kube.get(strimzi.API_VERSION, "Kafka", "second", ns) is None
        assert kafka_ready("first", ns)
        # the library says the same
        with pytest.raises(ManifestRejected, match="belongs to first") as e:
            strimzi.ensure_kafka("second", ns, timeout=30)
        assert e.value.obj == f"KafkaNodePool {ns}/dual-role" and "own namespace" in e.value.fix
        # a topic of the same name for another cluster is refused, not silently used (07's "orders" and 08's)
        with pytest.raises(ManifestRejected, match="already exists for cluster first") as e:
            strimzi.ensure_topic("orders", "second", ns, timeout=30)
        assert e.value.obj == f"KafkaTopic {ns}/orders" and "second-orders" in e.value.fix
        topic_now = kube.get(strimzi.API_VERSION, "KafkaTopic", "orders", ns)
        assert topic_now["metadata"]["resourceVersion"] == before["KafkaTopic"]["metadata"]["resourceVersion"]
    finally:
        force_remove(ns)
        strimzi.uninstall_operator(ops, [ns])
        force_remove(ops)


def configmap(name: str, namespace: str, **data) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace},
        "data": data,
    }


def test_a_refused_apply_puts_back_what_it_changed(tmp_path):
    ns = fresh("undo")
    kube.ensure_namespace(ns)
    try:
        kube.apply([configmap("kept", ns, a="1"), configmap("changed", ns, a="1")])
        before = {n: kube.get("v1", "ConfigMap", n, ns) for n in ("kept", "changed")}
        bad = {
            "apiVersion": strimzi.API_VERSION,
            "kind": "KafkaTopic",
            "metadata": {"name": "bad", "namespace": ns},
            "spec": {"partitions": "three"},  # the CRD schema wants an integer: the server rejects it
        }
        with pytest.raises(ManifestRejected) as e:
            kube.apply([configmap("changed", ns, a="2", b="new"), configmap("created", ns, a="1"), bad])
        assert f"put back ConfigMap {ns}/changed as it was" in str(e.value)
        assert f"removed what this apply had created: ConfigMap {ns}/created" in str(e.value)
        for name, old in before.items():
            now = kube.get("v1", "ConfigMap", name, ns)
            assert now["data"] == old["data"] and now["metadata"]["labels"] == old["metadata"]["labels"], name
        assert kube.get("v1", "ConfigMap", "created", ns) is None
    finally:
        kube.delete_namespace(ns, timeout=WAIT)


def test_someone_elses_object_and_fields_are_not_taken_over():
    ns = fresh("theirs")
    someone_elses_namespace(ns)
    try:
        theirs = kube.get("v1", "ConfigMap", "team-notes", ns)
        with pytest.raises(ManifestRejected, match="not made by kafkalab .owner: field manager kubectl") as e:
            kube.apply([configmap("ours", ns, a="1"), configmap("team-notes", ns, owner="kafkalab")])
        assert e.value.obj == f"ConfigMap {ns}/team-notes"
        assert kube.get("v1", "ConfigMap", "ours", ns) is None  # refused before anything was written
        assert (
            kube.get("v1", "ConfigMap", "team-notes", ns)["metadata"]["resourceVersion"]
            == (theirs["metadata"]["resourceVersion"])
        )
        # a field another manager set on one of ours: the server's conflict is not forced
        kube.apply(configmap("ours", ns, a="1"))
        client.CoreV1Api(kube.api()).patch_namespaced_config_map(
            "ours", ns, {"data": {"a": "edited"}}, field_manager="kubectl-edit"
        )
        with pytest.raises(ManifestRejected, match="kubectl-edit") as e:
            kube.apply(configmap("ours", ns, a="2"))
        assert e.value.status == 409 and "does not take them over" in e.value.fix
        assert kube.get("v1", "ConfigMap", "ours", ns)["data"] == {"a": "edited"}
        # teardown leaves their namespace and their object, and says why
        gone = kube.delete_owned([configmap("ours", ns), configmap("team-notes", ns)])
        assert gone.deleted == [f"ConfigMap {ns}/ours"] and "team-notes: not made by kafkalab" in gone.kept[0]
        kept = kube.delete_namespace_if_ours(ns)
        assert not kept.deleted and f"Namespace {ns}: not created by kafkalab" in kept.kept[0]
        assert team_notes(ns) == {"owner": "the team"}
    finally:
        kube.delete_namespace(ns, timeout=WAIT)


def test_a_namespace_kafkalab_made_stays_while_it_holds_something_of_someone_elses():
    ns = fresh("mixed")
    kube.ensure_namespace(ns)
    try:
        assert kube.is_marked(kube.get("v1", "Namespace", ns))
        kube.apply(configmap("ours", ns, a="1"))
        client.CoreV1Api(kube.api()).create_namespaced_config_map(
            ns, {"metadata": {"name": "theirs"}, "data": {"b": "2"}}
        )
        assert kube.namespace_leftovers(ns) == [f"ConfigMap {ns}/theirs"]
        kept = kube.delete_namespace_if_ours(ns)
        assert "holds objects kafkalab did not make (ConfigMap" in kept.kept[0]
        assert kube.get("v1", "ConfigMap", "theirs", ns) is not None
        kube.delete(configmap("theirs", ns))
        assert kube.delete_namespace_if_ours(ns, timeout=WAIT).deleted == [f"Namespace {ns}"]
    finally:
        if kube.get("v1", "Namespace", ns) is not None:
            kube.delete_namespace(ns, timeout=WAIT)
