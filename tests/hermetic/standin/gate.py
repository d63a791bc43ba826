"""Which namespaces an installed Strimzi Cluster Operator watches — the stand-in acts only there.

Strimzi acts on a namespace when its Deployment `strimzi-cluster-operator` runs (≥1 available replica) with
`STRIMZI_NAMESPACE` naming it (a comma list, `*`, or a fieldRef to its own namespace). Its watches open when
it starts: if its service account may not list Kafkas in any one watched namespace (the 020/023/031
RoleBindings missing there), the real operator logs "Cluster Operator verticle in namespace <ns> failed to
start", exits with code 1 and its pod crash-loops — no namespace is served, not even the allowed ones
(observed/rbac). The stand-in does the same to the operator's pods (their status says CrashLoopBackOff,
not ready, so the Deployment is not available) until the RoleBindings exist; the RBAC check is a real
SubjectAccessReview. A namespace missing only from STRIMZI_NAMESPACE is silently ignored, as by Strimzi.
"""

from __future__ import annotations

import logging
import threading
import time

from .kubeapi import STRIMZI_GROUP, Kube

__all__ = ["OPERATOR_NAME", "Gate", "OpenGate", "crash_loop_status", "running_status", "watched_namespaces"]

OPERATOR_NAME = "strimzi-cluster-operator"
log = logging.getLogger("standin.gate")


def watched_namespaces(deployment: dict) -> set[str]:
    """The namespaces an operator Deployment watches ({"*"} for all)."""
    own = deployment["metadata"]["namespace"]
    for container in deployment["spec"]["template"]["spec"].get("containers") or []:
        for env in container.get("env") or []:
            if env.get("name") != "STRIMZI_NAMESPACE":
                continue
            if "value" in env:
                return {ns.strip() for ns in str(env["value"]).split(",") if ns.strip()}
            field = ((env.get("valueFrom") or {}).get("fieldRef") or {}).get("fieldPath")
            return {own} if field == "metadata.namespace" else set()
    return set()


def _available(deployment: dict) -> bool:
    return int((deployment.get("status") or {}).get("availableReplicas") or 0) >= 1


def _service_account(deployment: dict) -> str:
    spec = deployment["spec"]["template"]["spec"]
    account = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
    return f"system:serviceaccount:{deployment['metadata']['namespace']}:{account}"


def _with_ready(pod_status: dict, ready: bool) -> dict:
    conditions = []
    for c in pod_status.get("conditions") or []:
        if c.get("type") in ("Ready", "ContainersReady"):
            c = {k: v for k, v in c.items() if k != "reason"}
            c["status"] = str(ready)
            if not ready:
                c["reason"] = "ContainersNotReady"
        conditions.append(c)
    return dict(pod_status, conditions=conditions)


def crash_loop_status(pod_status: dict, when: str) -> dict:
    """A pod's status once its operator container exited with code 1 and is being restarted with back-off."""
    out = _with_ready(pod_status, False)
    statuses = []
    for c in pod_status.get("containerStatuses") or []:
        restarts = int(c.get("restartCount") or 0) + 1
        statuses.append(
            dict(
                c,
                ready=False,
                started=False,
                restartCount=restarts,
                state={"waiting": {"reason": "CrashLoopBackOff", "message": f"back-off restarting failed "
                                   f"container {c.get('name')}"}},
                lastState={"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": when}},
            )
        )  # fmt: skip
    out["containerStatuses"] = statuses
    return out


def running_status(pod_status: dict, when: str) -> dict:
    """The same pod once its container started again and stays up."""
    out = _with_ready(pod_status, True)
    out["containerStatuses"] = [
        dict(c, ready=True, started=True, state={"running": {"startedAt": when}})
        for c in pod_status.get("containerStatuses") or []
    ]
    return out


class Gate:
    """Answers "does an installed operator cover this namespace?", cached for a moment; crashes operators
    whose RBAC does not cover what they watch, as their own start-up would."""

    TTL = 2.0

    def __init__(self, kube: Kube) -> None:
        self.kube = kube
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, bool]] = {}
        self._crashed: dict[tuple[str, str], str] = {}  # (namespace, name) of the Deployment -> forbidden ns

    def covers(self, namespace: str) -> bool:
        with self._lock:
            hit = self._cache.get(namespace)
            if hit and time.monotonic() - hit[0] < self.TTL:
                return hit[1]
        answer = self._check(namespace)
        with self._lock:
            self._cache[namespace] = (time.monotonic(), answer)
        return answer

    def forget(self) -> None:
        """Drop cached answers (an operator Deployment changed)."""
        with self._lock:
            self._cache.clear()

    def check_operators(self) -> None:
        """Crash (or bring back) every operator Deployment as its RBAC says; called on Deployment events and
        periodically, so an operator crash-loops even while no Kafka exists, as the real one does."""
        for dep in self.kube.list("Deployment", field=f"metadata.name={OPERATOR_NAME}"):
            self._starts(dep)

    def _check(self, namespace: str) -> bool:
        for dep in self.kube.list("Deployment", field=f"metadata.name={OPERATOR_NAME}"):
            watched = watched_namespaces(dep)
            if not watched or ("*" not in watched and namespace not in watched):
                continue
            if self._starts(dep) and _available(dep):
                return True
        return False

    def _starts(self, dep: dict) -> bool:
        """Whether this operator gets past its start-up: it may list Kafkas in every namespace it watches."""
        watched = watched_namespaces(dep)
        pods = self._started_pods(dep)
        if not watched or not pods:
            return False  # not running (yet): it has not tried to open its watches
        user = _service_account(dep)
        spaces = [""] if "*" in watched else sorted(watched)  # "": cluster-wide (ClusterRoleBindings)
        forbidden = next(
            (ns for ns in spaces if not self.kube.can_i(user, "list", STRIMZI_GROUP, "kafkas", ns)), None
        )
        key = (dep["metadata"]["namespace"], dep["metadata"]["name"])
        with self._lock:
            before = self._crashed.get(key)
            if forbidden is None:
                self._crashed.pop(key, None)
            else:
                self._crashed[key] = forbidden
        if forbidden is not None and before is None:
            where = forbidden or "*"
            log.error("Cluster Operator verticle in namespace %s failed to start", where)
            log.error(
                "Unable to start operator for 1 or more namespace (%s/%s: %s may not list kafkas in %s: "
                "missing RoleBinding?) - exit code 1, the pod crash-loops as Strimzi's does",
                *key,
                user,
                where,
            )
        if (forbidden is None) != (before is None) or forbidden is not None:
            self._set_pods(pods, crashed=forbidden is not None)
        return forbidden is None

    def _started_pods(self, dep: dict) -> list[dict]:
        """The Deployment's pods whose container has started (KWOK ran them), crash-looping ones included."""
        labels = ((dep["spec"].get("selector") or {}).get("matchLabels")) or {}
        return [
            p
            for p in self.kube.list("Pod", dep["metadata"]["namespace"], labels=labels)
            if (p.get("status") or {}).get("containerStatuses") and not p["metadata"].get("deletionTimestamp")
        ]

    def _set_pods(self, pods: list[dict], crashed: bool) -> None:
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        for pod in pods:
            old = pod["status"]
            waiting = any("waiting" in (c.get("state") or {}) for c in old["containerStatuses"])
            if crashed == waiting:
                continue  # already as it should be
            new = crash_loop_status(old, when) if crashed else running_status(old, when)
            self.kube.patch_status("Pod", pod["metadata"]["namespace"], pod["metadata"]["name"], new, None)
            if crashed:
                # what the kubelet reports (list items carry no apiVersion/kind)
                pod = dict(pod, apiVersion="v1", kind="Pod")
                self.kube.event(pod, "BackOff", "Back-off restarting failed container", warning=True)


class OpenGate:
    """Pod mode: the stand-in is the operator pod, so it runs only while its Deployment does, with its own
    RBAC enforced by the API server; it covers exactly the namespaces of its STRIMZI_NAMESPACE."""

    def __init__(self, namespaces: list[str]) -> None:
        self.namespaces = set(namespaces)

    def covers(self, namespace: str) -> bool:
        return "*" in self.namespaces or namespace in self.namespaces

    def forget(self) -> None:
        pass

    def check_operators(self) -> None:
        pass
