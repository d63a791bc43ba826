"""Waits against pods the kubelet cannot start, on the hermetic cluster's real API server and watches.

KWOK plays the kubelet there: it runs a pod on paper (podIP, Running, Ready) once and then leaves its status
alone, so a test can write the status a real kubelet writes for a pod in trouble (the status subresource,
with the kubelet's reasons and messages) and check that a wait notices it through its watch and fails at
once, naming the pod's problem. What a real kubelet and containerd do is not tested here: that is the
kind-offline tier's job (issue 10), which does not exist yet.
"""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from kubernetes import client, watch

from kafkalab import kind, kube
from kafkalab.errors import ResourceFailed, WaitTimeout

pytestmark = pytest.mark.hermetic

IMAGE = "quay.io/strimzi/operator:9.9.9"
NOT_FOUND = (
    f'rpc error: code = NotFound desc = failed to pull and unpack image "{IMAGE}": failed to resolve '
    f'reference "{IMAGE}": {IMAGE}: not found'
)
TIMEOUT = (
    f'rpc error: code = DeadlineExceeded desc = failed to pull and unpack image "{IMAGE}": failed to '
    'resolve reference: failed to do request: Head "https://quay.io/v2/strimzi/operator/manifests/9.9.9": '
    "dial tcp: lookup quay.io on 10.96.0.10:53: i/o timeout"
)
# Far beyond what any of these waits should take: they must fail on the pod long before.
WAIT = 300


@pytest.fixture(scope="module", autouse=True)
def library(kubeconfig):
    kube.reset()
    yield
    kube.reset()


@pytest.fixture(scope="module")
def namespace():
    name = f"podfail-{uuid.uuid4().hex[:6]}"
    kube.ensure_namespace(name)
    yield name
    kube.delete_namespace(name, timeout=120)


def deployment(name: str, namespace: str, **spec) -> dict:
    """A Deployment whose pod KWOK runs, but that never counts as available (minReadySeconds: an hour), so
    a rollout wait keeps waiting until a pod problem ends it."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "replicas": 1,
            "minReadySeconds": 3600,
            "progressDeadlineSeconds": 7200,  # must be above minReadySeconds
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "main", "image": IMAGE}]},
            },
            **spec,
        },
    }


def running_pod(app: str, namespace: str) -> dict:
    """The Deployment's pod once KWOK has run it (watched, not polled)."""
    core = client.CoreV1Api(kube.api())
    for event in watch.Watch().stream(
        core.list_namespaced_pod, namespace, label_selector=f"app={app}", timeout_seconds=60
    ):
        pod = event["object"]
        if pod.status and pod.status.pod_ip and pod.status.phase == "Running":
            return client.ApiClient().sanitize_for_serialization(pod)
    raise AssertionError(f"KWOK did not run the pod of {app} within 60 s")


def kubelet_says(pod: dict, waiting: tuple[str, str], restarts: int = 0, last: dict | None = None):
    """Write the container status a kubelet writes for a container that is waiting (and why)."""
    status = {
        "name": "main",
        "image": IMAGE,
        "imageID": "",
        "ready": False,
        "started": False,
        "restartCount": restarts,
        "state": {"waiting": {"reason": waiting[0], "message": waiting[1]}},
    }
    if last:
        status["lastState"] = {"terminated": {**last, "startedAt": None, "finishedAt": None}}
    body = {
        "status": {
            "phase": "Pending" if not restarts else "Running",
            "conditions": [{"type": "Ready", "status": "False", "reason": "ContainersNotReady"}],
            "containerStatuses": [status],
        }
    }
    client.CoreV1Api(kube.api()).patch_namespaced_pod_status(
        pod["metadata"]["name"], pod["metadata"]["namespace"], body
    )


class Lines:
    """The pod lines a wait's progress callback received, and a way to wait for one (no polling)."""

    def __init__(self):
        self.lines: list[str] = []
        self.changed = threading.Condition()

    def __call__(self, obj):
        if obj and obj.get("kind") == "Pod":
            with self.changed:
                self.lines.append(kube.pod_line(obj))
                self.changed.notify_all()

    def wait_for(self, text: str, timeout: float = 60) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: any(text in line for line in self.lines), timeout)


def wait_in_thread(name: str, namespace: str, timeout: float = WAIT):
    """Start wait_for_rollout on a thread; return (its pod lines, the outcome dict filled in when the wait
    ends, the thread)."""
    lines = Lines()
    outcome: dict = {}

    def run():
        start = time.monotonic()
        try:
            outcome["result"] = kube.wait_for_rollout(name, namespace, timeout, lines)
        except Exception as e:  # noqa: BLE001 - handed to the test
            outcome["error"] = e
        outcome["seconds"] = time.monotonic() - start

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return lines, outcome, t


def test_a_missing_image_fails_the_wait_at_once_with_the_kubelets_message(namespace):
    kube.apply(deployment("missing", namespace))
    pod = running_pod("missing", namespace)
    lines, outcome, t = wait_in_thread("missing", namespace)
    assert lines.wait_for("1/1 Running"), f"the wait never showed the running pod: {lines.lines}"
    kubelet_says(pod, ("ErrImagePull", NOT_FOUND))  # seen through the wait's pod watch, not a new list
    t.join(60)
    e = outcome.get("error")
    assert isinstance(e, ResourceFailed), outcome
    assert outcome["seconds"] < WAIT / 2
    assert e.reason == "ErrImagePull" and e.message == NOT_FOUND
    assert f"Deployment {namespace}/missing cannot become ready: Pod {namespace}/" in e.summary
    assert f"the registry has no image {IMAGE}" in e.fix
    assert any(line.endswith(f"0/1 ErrImagePull: {NOT_FOUND}") for line in lines.lines), lines.lines
    text = str(e)
    assert "pods:" in text and f"ErrImagePull: {NOT_FOUND}" in text
    # the wait's watch threads end with it (their connections are shut), not when the server ends them
    for thread in threading.enumerate():
        if thread.name.startswith("kafkalab-watch-"):
            thread.join(20)
            assert not thread.is_alive(), f"{thread.name} outlived its wait"


def test_a_crash_loop_fails_once_it_repeats(namespace):
    kube.apply(deployment("crashing", namespace))
    pod = running_pod("crashing", namespace)
    lines, outcome, t = wait_in_thread("crashing", namespace)
    assert lines.wait_for("1/1 Running"), lines.lines
    exited = {"reason": "Error", "exitCode": 1}
    name = pod["metadata"]["name"]
    back_off = f"back-off 10s restarting failed container=main pod={name}_{namespace}"
    kubelet_says(pod, ("CrashLoopBackOff", back_off), restarts=1, last=exited)
    # One restart is not yet a loop: the wait goes on (its pod line shows the back-off) ...
    assert lines.wait_for("CrashLoopBackOff restarts=1"), lines.lines
    assert t.is_alive() and "error" not in outcome, outcome
    # ... the third restart ends it.
    kubelet_says(pod, ("CrashLoopBackOff", back_off), restarts=kube.CRASH_LOOP_RESTARTS, last=exited)
    t.join(60)
    e = outcome.get("error")
    assert isinstance(e, ResourceFailed) and e.reason == "CrashLoopBackOff", outcome
    assert "last exit: Error (exit code 1)" in e.message and "keeps exiting" in e.fix


def test_a_pull_that_keeps_timing_out_is_reported_while_the_wait_goes_on(namespace):
    kube.apply(deployment("slow", namespace))
    pod = running_pod("slow", namespace)
    kubelet_says(pod, ("ErrImagePull", TIMEOUT))
    seen = []
    with pytest.raises(WaitTimeout) as e:
        kube.wait_for_rollout("slow", namespace, timeout=5, progress=seen.append)
    assert any(
        o["kind"] == "Pod" and "the registry cannot be reached" in kube.pod_status(o)[1] for o in seen if o
    )
    assert "pod problem: Pod" in e.value.summary and "i/o timeout" in e.value.summary
    assert "cannot reach the registry" in e.value.fix and f"kind load docker-image {IMAGE}" in e.value.fix


def test_progress_deadline_exceeded_carries_the_pods_diagnosis(namespace):
    # A pod no node can take: Pending with the scheduler's message, until the Deployment gives up.
    unschedulable = deployment("pending", namespace, minReadySeconds=0, progressDeadlineSeconds=2)
    unschedulable["spec"]["template"]["spec"]["nodeSelector"] = {"kafkalab.test/no-such-node": "true"}
    kube.apply(unschedulable)
    with pytest.raises(ResourceFailed) as e:
        kube.wait_for_rollout("pending", namespace, timeout=120)
    assert e.value.reason == "ProgressDeadlineExceeded"
    assert e.value.diagnosis is not None
    (line,) = e.value.diagnosis.pods
    assert " 0/1 Pending: 0/1 nodes are available" in line and "node affinity/selector" in line


def test_an_older_replicasets_broken_pod_does_not_fail_the_new_rollout(namespace):
    kube.apply(deployment("fixed", namespace))
    pod = running_pod("fixed", namespace)
    kubelet_says(pod, ("ErrImagePull", NOT_FOUND))
    # a new spec (the fix): its pod runs, the old one is still there while the new one comes up
    fixed = deployment("fixed", namespace, minReadySeconds=0)
    fixed["spec"]["template"]["spec"]["containers"][0]["image"] = "quay.io/strimzi/operator:1.2.0"
    kube.apply(fixed)
    done = kube.wait_for_rollout("fixed", namespace, timeout=60)
    assert done["status"]["availableReplicas"] == 1


def test_wait_system_pods_names_what_is_broken(monkeypatch):
    # kind's system Deployments are not on the hermetic cluster: stand in a crash-looping provisioner.
    ns, name, what = kind.SYSTEM_DEPLOYMENTS[1]
    ns = f"{ns}-{uuid.uuid4().hex[:6]}"
    monkeypatch.setattr(kind, "SYSTEM_DEPLOYMENTS", ((ns, name, what),))
    kube.ensure_namespace(ns)
    try:
        kube.apply(deployment(name, ns))
        pod = running_pod(name, ns)
        kubelet_says(
            pod,
            ("CrashLoopBackOff", "back-off 5m0s restarting failed container"),
            restarts=7,
            last={"reason": "Error", "exitCode": 1},
        )
        with pytest.raises(ResourceFailed) as e:
            kind.wait_system_pods(kube.current_context(), timeout=60)
        assert e.value.reason == "CrashLoopBackOff"
        assert e.value.summary.startswith("the storage provisioner (it makes the volumes of")
        assert "restarts=7" in str(e.value)
    finally:
        kube.delete_namespace(ns, timeout=120)
