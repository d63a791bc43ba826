"""docs/troubleshooting.md, proved: each problem the hermetic cluster can reproduce is reproduced here, and
the diagnosis the guide promises is what kafkalab's real calls report against the real API server and the
Strimzi stand-in (real Kafka brokers).

Each test also does the fix (or the correct variant) and checks it works, so a test cannot pass merely
because nothing works at all. Everything lives in namespaces named tshoot-*, with an operator Deployment of
its own in one of them, so the shared operator (namespace strimzi) and other tests are never touched; the
namespaces are deleted afterwards.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import os
import re
import time
import uuid
from pathlib import Path

import pytest
import yaml
from kubernetes import client

from kafkalab import kube, strimzi
from kafkalab.errors import ClusterUnreachable, ManifestRejected, NotFound, ResourceFailed, WaitTimeout

pytestmark = pytest.mark.hermetic

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SOURCE = ROOT.parent / "shared" / "strimzi" / "1.2.0" / "install" / "cluster-operator"
# What a learner would wait at most; the stand-in answers in seconds, a real broker starts in ~10 s.
WAIT = 120


def strimzi_source() -> str:
    source = os.environ.get("KAFKALAB_STRIMZI_SOURCE") or str(DEFAULT_SOURCE)
    if "://" not in source and not Path(source).exists():
        pytest.fail(
            f"Strimzi install files not found at {source}: set KAFKALAB_STRIMZI_SOURCE", pytrace=False
        )
    return source


def is_ready(obj: dict) -> bool:
    return (kube.condition(obj, "Ready") or {}).get("status") == "True"


def operator_objects(operator_ns: str, watched: tuple[str, ...]) -> list[dict]:
    """Strimzi's own install objects for an operator in `operator_ns` watching `watched`, minus what is
    shared cluster-wide: CRDs (up.sh installed them) and ClusterRoleBindings (they would re-point the shared
    operator's cluster-wide rights at ours). ClusterRoles are kept: RoleBindings need them to grant anything.
    """
    objs = strimzi.operator_manifests(operator_ns, watched, strimzi_source())
    return [o for o in objs if o["kind"] not in ("CustomResourceDefinition", "ClusterRoleBinding")]


@pytest.fixture(scope="module")
def names(kubeconfig):
    """Namespaces tshoot-<id>-op (our operator) and tshoot-<id> (what it watches), deleted afterwards."""
    kube.reset()  # kubeconfig just set KUBECONFIG; forget any connection made before
    run = uuid.uuid4().hex[:6]
    ns, op_ns = f"tshoot-{run}", f"tshoot-{run}-op"
    roles = [o for o in operator_objects(op_ns, (ns,)) if o["kind"] == "ClusterRole"]
    existed = {
        o["metadata"]["name"]
        for o in roles
        if kube.get(o["apiVersion"], "ClusterRole", o["metadata"]["name"])
    }
    yield {"ns": ns, "op_ns": op_ns}
    for name in (ns, op_ns):
        if kube.get("v1", "Namespace", name) is not None:
            kube.delete_namespace(name, timeout=WAIT)
    # The ClusterRoles this module created (none if an operator was installed before), unless an operator
    # installed meanwhile (notebook 02) relies on them now.
    operators = [
        d
        for d in kube.list_objects("apps/v1", "Deployment")
        if d["metadata"]["name"] == strimzi.OPERATOR_DEPLOYMENT
    ]
    if not operators:
        kube.delete([o for o in roles if o["metadata"]["name"] not in existed], timeout=WAIT)


@pytest.fixture(scope="module")
def watched(names):
    """An operator (its Deployment, service account and RoleBindings, KWOK-run) watching names['ns']."""
    for ns in (names["op_ns"], names["ns"]):
        kube.ensure_namespace(ns)
    kube.apply(operator_objects(names["op_ns"], (names["ns"],)))
    kube.wait_for_rollout(strimzi.OPERATOR_DEPLOYMENT, names["op_ns"], timeout=WAIT)
    return names["ns"]


@pytest.fixture(scope="module")
def open_cluster(watched):
    """A Kafka like notebook 03's (no authentication, no authorization), Ready with a real broker."""
    name = "open"
    strimzi.ensure_kafka(name, watched, manifest="kafka-single-node.yaml", timeout=WAIT)
    return name


# ---------------------------------------------------------------------------------------------------------
# 14. The wrong kube context, or no cluster at all


def test_wrong_context_is_cluster_unreachable_naming_the_context(kubeconfig):
    kube.reset()
    assert kube.check_cluster().startswith("v1.")  # the right context answers

    with pytest.raises(ClusterUnreachable) as e:
        kube.check_cluster(context="kind-kafkalab")
    assert e.value.context == "kind-kafkalab"
    assert "kind-kafkalab" in e.value.summary and "get-contexts" in e.value.fix


def test_cluster_that_is_gone_is_cluster_unreachable(kubeconfig, tmp_path, monkeypatch):
    config = yaml.safe_load(kubeconfig.read_text())
    for cluster in config["clusters"]:
        cluster["cluster"]["server"] = "https://127.0.0.1:1"  # nothing listens on port 1
    dead = tmp_path / "kubeconfig"
    dead.write_text(yaml.safe_dump(config))
    monkeypatch.setenv("KUBECONFIG", str(dead))
    kube.reset()
    try:
        with pytest.raises(ClusterUnreachable) as e:
            kube.check_cluster()
        assert "cannot reach the Kubernetes API server" in e.value.summary
        assert "127.0.0.1:1" in e.value.summary
        assert "cluster-info" in e.value.fix
    finally:
        kube.reset()


# ---------------------------------------------------------------------------------------------------------
# 6. v1beta2 manifests; 5A. ZooKeeper-era fields


def v1beta2_kafka(ns: str) -> dict:
    obj = strimzi.kafka("old", ns)
    obj["apiVersion"] = "kafka.strimzi.io/v1beta2"
    return obj


def test_v1beta2_manifest_is_not_served(names):
    ns = names["ns"]
    kube.ensure_namespace(ns)
    with pytest.raises(NotFound) as e:
        kube.apply(v1beta2_kafka(ns))
    assert "kafka.strimzi.io/v1beta2" in e.value.summary and "Kafka" in e.value.summary
    assert "outdated apiVersion" in e.value.fix

    # The API server itself has no v1beta2 endpoint (what kubectl's "no matches for kind" comes from) ...
    groups = client.ApisApi(kube.api()).get_api_versions().groups
    served = [v.version for g in groups if g.name == "kafka.strimzi.io" for v in g.versions]
    assert served == ["v1"], served
    # ... and the same object as v1 is accepted (server-side dry run: nothing is stored).
    fixed = kube.apply(strimzi.kafka("old", ns), dry_run=True)
    assert fixed[0]["apiVersion"] == "kafka.strimzi.io/v1"


def test_zookeeper_era_fields_are_refused_by_the_api_server(names):
    ns = names["ns"]
    kube.ensure_namespace(ns)
    old = strimzi.kafka("zk", ns)
    old["spec"]["zookeeper"] = {"replicas": 3, "storage": {"type": "ephemeral"}}
    old["spec"]["kafka"]["replicas"] = 3
    with pytest.raises(ManifestRejected) as e:
        kube.apply(old, dry_run=True)
    # Server-side apply names the unknown fields (kube-apiserver answers with HTTP 500, not 400); which of the
    # two it reports varies from run to run (it may stop at the first), so either will do.
    msg = e.value.server_message
    assert "field not declared in schema" in msg, msg
    assert ".spec.zookeeper" in msg or ".spec.kafka.replicas" in msg, msg
    assert kube.get(strimzi.API_VERSION, "Kafka", "zk", ns) is None


# ---------------------------------------------------------------------------------------------------------
# 5B. No node pool


def test_kafka_without_node_pool_fails_fast_with_the_strimzi_message(watched):
    name = "no-pools"
    kube.apply(strimzi.kafka(name, watched))
    try:
        with pytest.raises(ResourceFailed) as e:
            strimzi.wait_kafka_ready(name, watched, timeout=WAIT)
        assert e.value.reason == "InvalidConfigurationException"
        assert e.value.message == f"No KafkaNodePools found for Kafka cluster {name}"
        pools = kube.list_objects(strimzi.API_VERSION, "KafkaNodePool", watched, f"strimzi.io/cluster={name}")
        assert pools == []
        obj = kube.get(strimzi.API_VERSION, "Kafka", name, watched)
        assert kube.condition(obj, "NotReady")["status"] == "True"
    finally:
        kube.delete(strimzi.kafka(name, watched), timeout=WAIT)


# ---------------------------------------------------------------------------------------------------------
# 1. RBAC namespace mismatch: the operator watches a namespace it has no RoleBindings in


def operator_container(op_ns: str) -> dict | None:
    """The operator pod's container status, or None while there is no started pod."""
    for pod in kube.pods(op_ns, "name=strimzi-cluster-operator"):
        for c in (pod.get("status") or {}).get("containerStatuses") or []:
            return c
    return None


def test_operator_without_rolebindings_crash_loops(names, watched):
    # A namespace listed in STRIMZI_NAMESPACE of an operator that has no RoleBindings there: what installing
    # into a namespace without the 020/023/031 bindings does. The real operator exits at start-up
    # (observed/rbac: "Cluster Operator verticle in namespace ... failed to start", exit code 1) and its pod
    # crash-loops. (Installed as our own operator Deployment in a namespace of its own, so the first one
    # keeps working.)
    ns, op_ns = f"{names['ns']}-rbac", f"{names['ns']}-rbac-op"
    try:
        for n in (ns, op_ns):
            kube.ensure_namespace(n)
        objs = operator_objects(op_ns, (ns,))
        kube.apply([o for o in objs if not (o["kind"] == "RoleBinding" and o["metadata"]["namespace"] == ns)])
        deadline = time.monotonic() + WAIT
        while "waiting" not in ((operator_container(op_ns) or {}).get("state") or {}):
            assert time.monotonic() < deadline, f"no crash-loop: {operator_container(op_ns)}"
            time.sleep(0.5)
        c = operator_container(op_ns)
        assert c["state"]["waiting"]["reason"] == "CrashLoopBackOff" and not c["ready"]
        assert c["lastState"]["terminated"]["exitCode"] == 1
        diagnosis = kube.diagnose("apps/v1", "Deployment", strimzi.OPERATOR_DEPLOYMENT, op_ns)
        assert "BackOff" in str(diagnosis)  # the guide's first tell-tale: the operator's pod
        with pytest.raises(WaitTimeout):
            kube.wait_for_rollout(strimzi.OPERATOR_DEPLOYMENT, op_ns, timeout=5)

        kube.apply(strimzi.kafka("forbidden", ns))  # no pool: a served namespace would fail it at once
        with pytest.raises(WaitTimeout) as e:
            strimzi.wait_kafka_ready("forbidden", ns, timeout=15)
        assert e.value.diagnosis.conditions == []  # nobody wrote a status
        assert "(none)" in str(e.value.diagnosis)

        # The fix the guide gives: the RoleBindings in the watched namespace. The next start succeeds.
        kube.apply([o for o in objs if o["kind"] == "RoleBinding" and o["metadata"]["namespace"] == ns])
        kube.wait_for_rollout(strimzi.OPERATOR_DEPLOYMENT, op_ns, timeout=WAIT)
        with pytest.raises(ResourceFailed) as acted:
            strimzi.wait_kafka_ready("forbidden", ns, timeout=WAIT)
        assert acted.value.reason == "InvalidConfigurationException"
    finally:
        for n in (ns, op_ns):
            kube.delete_namespace(n, timeout=WAIT)


# ---------------------------------------------------------------------------------------------------------
# 9. Missing strimzi.io/cluster label


def test_topic_without_cluster_label_keeps_an_empty_status(watched, open_cluster):
    unlabelled = strimzi.topic("no-label", open_cluster, namespace=watched)
    del unlabelled["metadata"]["labels"]
    labelled = strimzi.topic("with-label", open_cluster, namespace=watched)
    kube.apply([unlabelled, labelled])

    # The labelled twin becomes Ready, so the operator is working ...
    assert is_ready(strimzi.wait_topic_ready("with-label", watched, timeout=WAIT))
    # ... while the unlabelled topic gets no status at all: a plain wait only times out, with no conditions.
    with pytest.raises(WaitTimeout) as e:
        kube.wait_for_condition(strimzi.API_VERSION, "KafkaTopic", "no-label", watched, timeout=10)
    assert e.value.diagnosis.conditions == []
    assert kube.get(strimzi.API_VERSION, "KafkaTopic", "no-label", watched).get("status") in (None, {})
    # kafkalab's topic wait says why at once.
    with pytest.raises(ResourceFailed) as missing:
        strimzi.wait_topic_ready("no-label", watched, timeout=WAIT)
    assert missing.value.reason == "MissingClusterLabel"
    assert "strimzi.io/cluster" in missing.value.fix

    # The fix: add the label; the same topic becomes Ready.
    kube.apply(strimzi.topic("no-label", open_cluster, namespace=watched))
    assert is_ready(strimzi.wait_topic_ready("no-label", watched, timeout=WAIT))


# ---------------------------------------------------------------------------------------------------------
# 10. A user with ACLs on a cluster without authorization


def test_acl_user_on_cluster_without_authorization_is_not_ready(watched, open_cluster):
    acls = [strimzi.acl("topic", "orders", ["Describe", "Read"]), strimzi.acl("group", "billing", ["Read"])]
    kube.apply(strimzi.user("acl-user", open_cluster, acls=acls, namespace=watched))
    with pytest.raises(ResourceFailed) as e:
        strimzi.wait_user_ready("acl-user", watched, timeout=WAIT)
    # Strimzi's User Operator wraps its errors: the reason names the wrapper, the message says why
    assert e.value.reason == "ExecutionException"
    assert e.value.message == (
        "io.strimzi.operator.common.ReconciliationException: io.strimzi.operator.common.model."
        "InvalidResourceException: Simple authorization ACL rules are configured but not supported in the "
        "Kafka cluster configuration."
    )
    assert kube.get("v1", "Secret", "acl-user", watched) is None  # no credentials for a refused user

    # The fix for an open cluster: the same user without ACLs is accepted and gets its credentials.
    kube.apply(strimzi.user("acl-user", open_cluster, namespace=watched))
    ready = strimzi.wait_user_ready("acl-user", watched, timeout=WAIT)
    assert is_ready(ready)
    assert "authorization" not in ready["spec"]
    secret = kube.get("v1", "Secret", ready["status"]["secret"], watched)
    assert set(secret["data"]) >= {"password", "sasl.jaas.config"}


# ---------------------------------------------------------------------------------------------------------
# The guide itself: its table of contents and the kafkalab calls it recommends exist


GUIDE = ROOT / "docs" / "troubleshooting.md"


def _anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def test_guide_table_links_every_section():
    text = GUIDE.read_text()
    anchors = {_anchor(h) for h in re.findall(r"^## (.+)$", text, flags=re.M)}
    links = re.findall(r"\]\(#([^)]+)\)", text)
    assert links and set(links) <= anchors, sorted(set(links) - anchors)
    assert len(set(links)) == len(anchors), "every section should be reachable from the table"


def _snippets(text: str) -> list[str]:
    """The Python in the guide: ```python blocks and inline `code` that parses as Python."""
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    inline = re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", text, flags=re.S))
    found = []
    for code in blocks + inline:
        try:
            found.append(ast.parse(code))
        except SyntaxError:
            continue  # shell commands, YAML, error texts
    return found


def test_guide_recommends_only_calls_that_exist():
    calls = 0
    for tree in _snippets(GUIDE.read_text()):
        for node in ast.walk(tree):
            f = getattr(node, "func", None)
            if not (isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name)):
                continue
            if f.value.id not in ("kube", "strimzi", "clients", "display", "kind"):
                continue
            mod = importlib.import_module(f"kafkalab.{f.value.id}")
            where = f"docs/troubleshooting.md: {f.value.id}.{f.attr}(...)"
            assert f.attr in mod.__all__, f"{where} is not in kafkalab.{f.value.id}.__all__"
            signature = inspect.signature(getattr(mod, f.attr))
            try:
                signature.bind_partial(*[None] * len(node.args), **{k.arg: None for k in node.keywords})
            except TypeError as e:
                pytest.fail(f"{where}: {e} (signature {signature})")
            calls += 1
    assert calls >= 10, f"only {calls} kafkalab calls found in the guide: is the snippet parser broken?"
