"""The hermetic control plane behaves like a real cluster where the notebooks depend on it:
a real API server of the right version, a Ready node, Deployments that roll out, Strimzi's CRDs served
with their schemas enforced — and up.sh/down.sh leave nothing behind when up fails half-way."""

import os
import re
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from kubernetes import client, watch
from kubernetes.client.rest import ApiException

pytestmark = pytest.mark.hermetic

HERMETIC = Path(__file__).resolve().parent
NODE = "kafkalab-node"
STRIMZI = ("kafka.strimzi.io", "v1")


@pytest.fixture
def namespace(kube_api):
    """A fresh namespace, deleted afterwards (without waiting: deletion is the controllers' business)."""
    core = client.CoreV1Api(kube_api)
    name = f"cp-test-{uuid.uuid4().hex[:8]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    yield name
    core.delete_namespace(name)


def test_server_is_a_real_kubernetes_1_36(kube_api):
    version = client.VersionApi(kube_api).get_code()
    # v0.0.0 would mean the build lost its version ldflags; clients gate features on this string
    assert re.fullmatch(r"v1\.36\.\d+", version.git_version), version.git_version


def test_the_fake_node_is_ready_and_managed_by_kwok(kube_api):
    node = client.CoreV1Api(kube_api).read_node(NODE)
    assert node.metadata.annotations.get("kwok.x-k8s.io/node") == "fake"
    ready = {c.type: c.status for c in node.status.conditions}.get("Ready")
    assert ready == "True", node.status.conditions
    assert not node.spec.taints, f"{NODE} must not be tainted, or pods without tolerations never schedule"


def test_a_deployment_rolls_out_to_ready_pods(kube_api, namespace):
    apps = client.AppsV1Api(kube_api)
    labels = {"app": "web"}
    apps.create_namespaced_deployment(
        namespace,
        client.V1Deployment(
            metadata=client.V1ObjectMeta(name="web"),
            spec=client.V1DeploymentSpec(
                replicas=2,
                selector=client.V1LabelSelector(match_labels=labels),
                template=client.V1PodTemplateSpec(
                    metadata=client.V1ObjectMeta(labels=labels),
                    # never pulled: KWOK plays the kubelet, so any image name will do
                    spec=client.V1PodSpec(
                        containers=[client.V1Container(name="web", image="registry.invalid/app:1")]
                    ),
                ),
            ),
        ),
    )
    last = None
    for event in watch.Watch().stream(
        apps.list_namespaced_deployment, namespace, field_selector="metadata.name=web", timeout_seconds=60
    ):
        last = event["object"].status
        if (last.ready_replicas or 0) == 2 and (last.updated_replicas or 0) == 2:
            break
    else:
        pytest.fail(f"Deployment {namespace}/web not rolled out within 60s; last status: {last}")

    pods = client.CoreV1Api(kube_api).list_namespaced_pod(namespace, label_selector="app=web").items
    assert len(pods) == 2
    for pod in pods:
        assert pod.spec.node_name == NODE
        assert pod.status.phase == "Running"
        assert {c.type: c.status for c in pod.status.conditions}["Ready"] == "True"


@pytest.mark.parametrize("plural", ["kafkas", "kafkanodepools", "kafkatopics", "kafkausers"])
def test_strimzi_crds_are_established_and_served_at_v1(kube_api, plural):
    crd = client.ApiextensionsV1Api(kube_api).read_custom_resource_definition(f"{plural}.{STRIMZI[0]}")
    assert {c.type: c.status for c in crd.status.conditions}["Established"] == "True"
    assert any(v.name == STRIMZI[1] and v.served and v.storage for v in crd.spec.versions)
    # served means a client can use the endpoint, not just that the CRD object exists
    client.CustomObjectsApi(kube_api).list_cluster_custom_object(*STRIMZI, plural)


def kafka(name: str, kafka_spec: dict) -> dict:
    return {
        "apiVersion": "/".join(STRIMZI),
        "kind": "Kafka",
        "metadata": {"name": name},
        "spec": {"kafka": kafka_spec},
    }


VALID_KAFKA = {"listeners": [{"name": "plain", "port": 9092, "type": "internal", "tls": False}]}


def test_a_valid_kafka_is_accepted(kube_api, namespace):
    # the control for the rejection below: the schema is enforced, not everything refused
    created = client.CustomObjectsApi(kube_api).create_namespaced_custom_object(
        *STRIMZI, namespace, "kafkas", kafka("ok", VALID_KAFKA), dry_run="All"
    )
    assert created["metadata"]["name"] == "ok"


@pytest.mark.parametrize(
    "kafka_spec",
    [{}, {"listeners": "plain:9092"}],
    ids=["listeners-missing", "listeners-wrong-type"],
)
def test_a_schema_invalid_kafka_is_rejected_with_422(kube_api, namespace, kafka_spec):
    with pytest.raises(ApiException) as err:
        client.CustomObjectsApi(kube_api).create_namespaced_custom_object(
            *STRIMZI, namespace, "kafkas", kafka("bad", kafka_spec)
        )
    assert err.value.status == 422, err.value.body
    assert "spec.kafka.listeners" in err.value.body


def run_pids(run: Path) -> list[str]:
    """Command lines of processes that name `run` or a path below it."""
    pattern = re.compile(re.escape(str(run)) + r"(/|$)")
    found = []
    for proc in Path("/proc").iterdir():
        try:
            args = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if proc.name.isdigit() and any(pattern.search(a.decode(errors="replace")) for a in args):
            found.append(f"{proc.name}: {b' '.join(args)[:120]!r}")
    return found


def test_a_failed_up_leaves_nothing_behind(kubeconfig, tmp_path):
    """up.sh fails after the control plane is running (a CRD the API server rejects); its trap must run
    down.sh and leave no process, no listening port and no run directory. Uses its own run directory,
    so the shared cluster is not touched. `kubeconfig` is requested only to ensure the binaries are built."""
    run = tmp_path / "run"
    strimzi = tmp_path / "strimzi"
    strimzi.mkdir()
    # a CRD without spec.group/names: apiextensions validation refuses it with a 422
    (strimzi / "040-Crd-broken.yaml").write_text(
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n"
        "metadata:\n  name: broken.example.com\nspec:\n  scope: Namespaced\n  versions: []\n"
    )
    env = {**os.environ, "KAFKALAB_HERMETIC_DIR": str(run), "KAFKALAB_STRIMZI_DIR": str(strimzi)}
    env.pop("KAFKALAB_APISERVER_PORT", None)
    started = time.monotonic()
    up = subprocess.run(["bash", HERMETIC / "up.sh"], env=env, capture_output=True, text=True, timeout=300)
    assert up.returncode != 0, up.stderr
    assert "rejected a Strimzi CRD" in up.stderr and "broken.example.com" in up.stderr, up.stderr
    port = int(re.search(r"kube-apiserver \(127\.0\.0\.1:(\d+)\)", up.stderr).group(1))

    assert not run.exists(), f"{run} left behind\n{up.stderr}"
    assert run_pids(run) == [], up.stderr
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still accepts connections"

    # and down.sh is idempotent: nothing to do is not an error
    down = subprocess.run(["bash", HERMETIC / "down.sh"], env=env, capture_output=True, text=True, timeout=60)
    assert down.returncode == 0, down.stderr
    assert time.monotonic() - started < 120
