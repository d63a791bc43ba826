"""Pod problems as the kubelet reports them: which ones a wait gives up on, what it says and which fix.

The pod dicts carry the kubelet's real reasons and messages (containerd's pull errors relayed by the
kubelet, as `kubectl get pod -o json` shows them); the watch path runs against a real API server in
tests/hermetic/test_pod_failures.py.
"""

from __future__ import annotations

import pytest

from kafkalab import display, kube

IMAGE = "quay.io/strimzi/operator:9.9.9"
NOT_FOUND = (
    f'rpc error: code = NotFound desc = failed to pull and unpack image "{IMAGE}": failed to resolve '
    f'reference "{IMAGE}": {IMAGE}: not found'
)
DENIED = (
    'rpc error: code = Unknown desc = failed to pull and unpack image "docker.io/acme/private:1": failed to '
    'resolve reference "docker.io/acme/private:1": pull access denied, repository does not exist or may '
    "require authorization: server message: insufficient_scope: authorization failed"
)
TIMEOUT = (
    f'rpc error: code = DeadlineExceeded desc = failed to pull and unpack image "{IMAGE}": failed to '
    f'resolve reference "{IMAGE}": failed to do request: Head "https://quay.io/v2/strimzi/operator/'
    'manifests/9.9.9": dial tcp: lookup quay.io on 10.96.0.10:53: read udp 10.244.0.5:41234->'
    "10.96.0.10:53: i/o timeout"
)


def pod(waiting=None, restarts=0, last=None, name="op-1", image=IMAGE, deleting=False, owner=None):
    status = {"name": "main", "ready": False, "restartCount": restarts, "image": image, "state": {}}
    if waiting:
        status["state"] = {"waiting": dict(zip(("reason", "message"), waiting, strict=False))}
    else:
        status["state"] = {"running": {"startedAt": "2026-12-02T10:00:00Z"}}
        status["ready"] = True
    if last:
        status["lastState"] = {"terminated": last}
    meta = {"name": name, "namespace": "strimzi", "uid": f"uid-{name}"}
    if deleting:
        meta["deletionTimestamp"] = "2026-12-02T10:00:00Z"
    if owner:
        meta["ownerReferences"] = [{"kind": "ReplicaSet", "name": owner}]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": {"containers": [{"name": "main", "image": image}]},
        "status": {"phase": "Pending" if waiting else "Running", "containerStatuses": [status]},
    }


@pytest.mark.parametrize(
    "waiting,cause,final",
    [
        (("ErrImagePull", NOT_FOUND), "image-missing", True),
        (("ErrImagePull", DENIED), "image-denied", True),
        (("ErrImagePull", TIMEOUT), "registry-unreachable", False),
        (
            ("ImagePullBackOff", f'Back-off pulling image "{IMAGE}": ErrImagePull: {NOT_FOUND}'),
            "image-missing",
            True,
        ),
        (
            ("ErrImageNeverPull", f'Container image "{IMAGE}" is not present with pull policy of Never'),
            "image-not-loaded",
            True,
        ),
        (
            (
                "InvalidImageName",
                'Failed to apply default image tag "Quay.io/x:1": couldn\'t parse image name '
                '"Quay.io/x:1": invalid reference format: repository name must be lowercase',
            ),
            "bad-image-name",
            True,
        ),
        (("CreateContainerConfigError", 'secret "my-cluster-cluster-ca-cert" not found'), "config", True),
        (("CreateContainerError", "context deadline exceeded"), "other", False),
    ],
)
def test_problems_are_classified_by_the_kubelets_words(waiting, cause, final):
    (problem,) = kube.pod_problems(pod(waiting))
    assert (problem.reason, problem.cause, problem.final) == (waiting[0], cause, final)
    assert problem.pod == "strimzi/op-1" and problem.container == "main" and problem.image == IMAGE
    assert waiting[1].split(": ")[-1] in problem.message


def test_an_old_kubelets_back_off_takes_its_cause_from_the_pull_error_seen_before():
    seen: dict[str, str] = {}
    kube.pod_problems(pod(("ErrImagePull", NOT_FOUND)), seen)
    (problem,) = kube.pod_problems(pod(("ImagePullBackOff", f'Back-off pulling image "{IMAGE}"')), seen)
    assert problem.final and problem.cause == "image-missing"
    assert f"(last pull error: {NOT_FOUND})" in problem.message
    (unknown,) = kube.pod_problems(pod(("ImagePullBackOff", f'Back-off pulling image "{IMAGE}"')))
    assert not unknown.final  # nothing says why yet: keep waiting


def test_crash_loop_is_final_only_after_repeated_restarts():
    message = "back-off 40s restarting failed container=main pod=op-1_strimzi(uid-op-1)"
    exited = {"reason": "Error", "exitCode": 1}
    (early,) = kube.pod_problems(pod(("CrashLoopBackOff", message), restarts=1, last=exited))
    (late,) = kube.pod_problems(
        pod(("CrashLoopBackOff", message), restarts=kube.CRASH_LOOP_RESTARTS, last=exited)
    )
    assert not early.final and late.final and late.cause == "crash"
    assert late.message.startswith("last exit: Error (exit code 1);")
    oom = {"reason": "OOMKilled", "exitCode": 137}
    (killed,) = kube.pod_problems(pod(("CrashLoopBackOff", message), restarts=5, last=oom))
    assert killed.cause == "oom" and "OOMKilled (exit code 137)" in killed.message
    assert "raise its memory limit" in kube.pod_fix(killed)


def test_healthy_creating_and_deleted_pods_have_no_problems():
    assert kube.pod_problems(pod()) == []
    assert kube.pod_problems(pod(("ContainerCreating", ""))) == []
    assert kube.pod_problems(pod(("ErrImagePull", NOT_FOUND), deleting=True)) == []


def test_fixes_fit_the_cause(monkeypatch):
    monkeypatch.setattr(kube, "current_context", lambda context=None: "kind-lab")
    (missing,) = kube.pod_problems(pod(("ErrImagePull", NOT_FOUND)))
    assert f"the registry has no image {IMAGE}" in kube.pod_fix(missing)
    (slow,) = kube.pod_problems(pod(("ErrImagePull", TIMEOUT)))
    fix = kube.pod_fix(slow)
    assert "cannot reach the registry" in fix
    assert f"`docker pull {IMAGE}`" in fix and f"`kind load docker-image {IMAGE} --name lab`" in fix
    (denied,) = kube.pod_problems(pod(("ErrImagePull", DENIED)))
    assert "imagePullSecrets" in kube.pod_fix(denied)
    (config,) = kube.pod_problems(pod(("CreateContainerConfigError", 'secret "x" not found')))
    assert "Secret" in kube.pod_fix(config)


def test_a_pull_that_keeps_timing_out_is_reported_as_such():
    state, message = kube.pod_status(pod(("ErrImagePull", TIMEOUT)))
    assert state == "0/1 ErrImagePull"
    assert message.endswith("i/o timeout (the registry cannot be reached; the kubelet keeps retrying)")
    assert kube.pod_line(pod(("ContainerCreating", ""))) == "op-1 0/1 ContainerCreating"
    assert kube.pod_line(pod()) == "op-1 1/1 Running"


def test_progress_lines_show_pods_with_the_kubelets_message(capsys):
    show = display.progress("Deployment strimzi/op", live=False)
    show(pod(("ContainerCreating", "")))
    show(pod(("ErrImagePull", NOT_FOUND)))
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith("Pod strimzi/op-1: 0/1 ContainerCreating")
    assert "Pod strimzi/op-1: 0/1 ErrImagePull — rpc error: code = NotFound" in lines[1]


def test_watched_pods_fail_on_the_first_final_problem_of_a_pod_that_counts():
    pods = kube._Pods("app=op", counts=lambda p: p["metadata"]["name"] != "old")
    assert pods.see("LIST", [pod(name="new")]) != []
    assert pods.see("MODIFIED", pod(name="new")) == []  # same line: nothing to show
    pods.see("ADDED", pod(("ErrImagePull", NOT_FOUND), name="old"))
    assert pods.final() is None  # the previous spec's pod: a new spec may be its fix
    changed = pods.see("MODIFIED", pod(("ErrImagePull", NOT_FOUND), name="new"))
    assert [p["metadata"]["name"] for p in changed] == ["new"]
    assert pods.final().pod == "strimzi/new"
    pods.see("DELETED", pod(name="new"))
    assert pods.final() is None


def test_diagnosis_events_match_by_uid_not_name(monkeypatch):
    now = pod(("ErrImagePull", NOT_FOUND), name="op-1")
    monkeypatch.setattr(kube, "get", lambda *a, **k: None)
    monkeypatch.setattr(kube, "pods", lambda *a, **k: [now])
    event = {"type": "Warning", "reason": "Failed", "lastTimestamp": "2026-12-02T10:00:00Z", "message": "m"}
    this = {**event, "involvedObject": {"kind": "Pod", "name": "op-1", "uid": "uid-op-1"}, "message": "now"}
    earlier = {**event, "involvedObject": {"kind": "Pod", "name": "op-1", "uid": "gone"}, "message": "then"}
    no_uid = {**event, "involvedObject": {"kind": "Pod", "name": "op-1"}, "message": "uid-less"}
    monkeypatch.setattr(kube, "events", lambda *a, **k: [earlier, this, no_uid])
    monkeypatch.setattr(kube, "log_tail", lambda *a, **k: "")
    d = kube.diagnose("apps/v1", "Deployment", "op", "strimzi", pod_selector="app=op")
    assert [e.rsplit(": ", 1)[1] for e in d.events] == ["now", "uid-less"]
    assert d.pods == [f"op-1 0/1 ErrImagePull: {NOT_FOUND}"]
    assert f"pods:\n    op-1 0/1 ErrImagePull: {NOT_FOUND}" in str(d)


def test_diagnosis_reads_the_previous_run_of_a_crash_looping_container(monkeypatch):
    looping = pod(("CrashLoopBackOff", "back-off 20s"), restarts=2, last={"reason": "Error", "exitCode": 1})
    monkeypatch.setattr(kube, "get", lambda *a, **k: None)
    monkeypatch.setattr(kube, "pods", lambda *a, **k: [looping])
    monkeypatch.setattr(kube, "events", lambda *a, **k: [])
    asked = []

    def log_tail(pod, ns, lines, container, context, previous=False):
        asked.append(previous)
        return "java.lang.OutOfMemoryError\n"

    monkeypatch.setattr(kube, "log_tail", log_tail)
    d = kube.diagnose("apps/v1", "Deployment", "op", "strimzi", pod_selector="app=op")
    assert asked == [True] and d.logs == {"op-1/main (previous run)": "java.lang.OutOfMemoryError\n"}
