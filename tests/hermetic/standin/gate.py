"""Which namespaces an installed Strimzi Cluster Operator watches — the stand-in acts only there.

Strimzi acts on a namespace when its Deployment `strimzi-cluster-operator` runs (≥1 available replica) with
`STRIMZI_NAMESPACE` naming it (a comma list, `*`, or a fieldRef to its own namespace) and RBAC lets its
service account read Kafkas there (the 020/023/031 RoleBindings). Without any of that, a real operator
would leave the resource without status, and so does the stand-in; the RBAC check is a real
SubjectAccessReview, so a missing RoleBinding fails here as it would on kind.
"""

from __future__ import annotations

import logging
import threading
import time

from .kubeapi import STRIMZI_GROUP, Kube

__all__ = ["OPERATOR_NAME", "Gate", "watched_namespaces"]

OPERATOR_NAME = "strimzi-cluster-operator"
log = logging.getLogger("standin.gate")


def watched_namespaces(deployment: dict) -> set[str] | None:
    """The namespaces an operator Deployment watches ({"*"} for all), or None if it is not available."""
    if int((deployment.get("status") or {}).get("availableReplicas") or 0) < 1:
        return None
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


class Gate:
    """Answers "does an installed operator cover this namespace?", cached for a moment."""

    TTL = 2.0

    def __init__(self, kube: Kube) -> None:
        self.kube = kube
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, bool]] = {}
        self._warned: set[tuple[str, str]] = set()  # (service account, namespace) already logged

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

    def _check(self, namespace: str) -> bool:
        for dep in self.kube.list("Deployment", field=f"metadata.name={OPERATOR_NAME}"):
            watched = watched_namespaces(dep)
            if not watched or ("*" not in watched and namespace not in watched):
                continue
            spec = dep["spec"]["template"]["spec"]
            account = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
            user = f"system:serviceaccount:{dep['metadata']['namespace']}:{account}"
            if self.kube.can_i(user, "list", STRIMZI_GROUP, "kafkas", namespace):
                return True
            if (user, namespace) in self._warned:
                continue
            self._warned.add((user, namespace))
            log.warning(
                "operator %s/%s watches %s but its service account may not list kafkas there "
                "(missing RoleBinding?): leaving the namespace alone, as Strimzi would (Forbidden)",
                dep["metadata"]["namespace"],
                OPERATOR_NAME,
                namespace,
            )
        return False
