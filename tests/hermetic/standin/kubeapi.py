"""The few Kubernetes API calls the stand-in makes, over one `kubernetes` ApiClient (thread-safe enough).

kopf watches; these calls read fresh objects, write status, server-side-apply the objects Strimzi would own,
post Events and ask RBAC questions. Plain REST paths keep it one small module instead of five typed APIs.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid

import kubernetes
from kubernetes.client.rest import ApiException

__all__ = ["FIELD_MANAGER", "STRIMZI_GROUP", "Kube", "ApiException"]

log = logging.getLogger("standin.kube")

FIELD_MANAGER = "strimzi-standin"
STRIMZI_GROUP = "kafka.strimzi.io"

# kind -> (api prefix, plural) for everything the stand-in touches.
_KINDS = {
    "Kafka": (f"/apis/{STRIMZI_GROUP}/v1", "kafkas"),
    "KafkaNodePool": (f"/apis/{STRIMZI_GROUP}/v1", "kafkanodepools"),
    "KafkaTopic": (f"/apis/{STRIMZI_GROUP}/v1", "kafkatopics"),
    "KafkaUser": (f"/apis/{STRIMZI_GROUP}/v1", "kafkausers"),
    "StrimziPodSet": ("/apis/core.strimzi.io/v1", "strimzipodsets"),
    "Pod": ("/api/v1", "pods"),
    "Service": ("/api/v1", "services"),
    "Secret": ("/api/v1", "secrets"),
    "Event": ("/api/v1", "events"),
    "EventV1": ("/apis/events.k8s.io/v1", "events"),
    "Deployment": ("/apis/apps/v1", "deployments"),
}


def _path(kind: str, namespace: str | None, name: str | None = None, sub: str | None = None) -> str:
    prefix, plural = _KINDS[kind]
    path = f"{prefix}/namespaces/{namespace}/{plural}" if namespace else f"{prefix}/{plural}"
    if name:
        path += f"/{name}"
    if sub:
        path += f"/{sub}"
    return path


class Kube:
    def __init__(self, api_client: kubernetes.client.ApiClient) -> None:
        self.client = api_client

    def _call(self, method: str, path: str, body=None, query=None, content_type="application/json"):
        # kubernetes>=35 client (openapi-generator 7): serialize, send, then check the status ourselves.
        verb = method
        method, url, headers, body, post = self.client.param_serialize(
            verb,
            path,
            query_params=list((query or {}).items()),
            header_params={"Content-Type": content_type, "Accept": "application/json"},
            body=body,
            auth_settings=["BearerToken"],
        )
        resp = self.client.call_api(method, url, header_params=headers, body=body, post_params=post,
                                    _request_timeout=30)  # fmt: skip
        resp.read()
        if not 200 <= resp.status < 300:
            raise ApiException(reason=f"{resp.reason} ({verb} {path})", http_resp=resp)
        return json.loads(resp.data) if resp.data else None

    # -- reading ----------------------------------------------------------------------------------------

    def get(self, kind: str, namespace: str, name: str) -> dict | None:
        try:
            return self._call("GET", _path(kind, namespace, name))
        except ApiException as e:
            if e.status == 404:
                return None
            raise

    def list(
        self, kind: str, namespace: str | None = None, labels: dict | None = None, field: str | None = None
    ):
        query = {}
        if labels:
            query["labelSelector"] = ",".join(f"{k}={v}" for k, v in labels.items())
        if field:
            query["fieldSelector"] = field
        return self._call("GET", _path(kind, namespace), query=query)["items"]

    def pod_log(self, namespace: str, name: str, lines: int = 30) -> str:
        """The last `lines` lines of a pod's log (its first container)."""
        method, url, headers, body, post = self.client.param_serialize(
            "GET", f"/api/v1/namespaces/{namespace}/pods/{name}/log",
            query_params=[("tailLines", str(lines))], auth_settings=["BearerToken"],
        )  # fmt: skip
        resp = self.client.call_api(method, url, header_params=headers, _request_timeout=30)
        resp.read()
        if not 200 <= resp.status < 300:
            raise ApiException(reason=f"{resp.reason} (log of pod {namespace}/{name})", http_resp=resp)
        return resp.data.decode(errors="replace")

    # -- writing ----------------------------------------------------------------------------------------

    def patch_status(self, kind: str, namespace: str, name: str, status: dict, old: dict | None) -> None:
        """Replace `.status` by merge patch (keys gone from `status` are deleted)."""
        patch = dict(status)
        for key in old or {}:
            patch.setdefault(key, None)
        self._call(
            "PATCH",
            _path(kind, namespace, name, "status"),
            body={"status": patch},
            content_type="application/merge-patch+json",
        )

    def patch(self, kind: str, namespace: str, name: str, patch: dict) -> None:
        self._call(
            "PATCH", _path(kind, namespace, name), body=patch, content_type="application/merge-patch+json"
        )

    def apply(self, obj: dict) -> dict:
        """Server-side apply as field manager `strimzi-standin` (create or update, idempotent)."""
        meta = obj["metadata"]
        return self._call(
            "PATCH",
            _path(obj["kind"], meta["namespace"], meta["name"]),
            body=obj,
            query={"fieldManager": FIELD_MANAGER, "force": "true"},
            content_type="application/apply-patch+yaml",
        )

    def delete(self, kind: str, namespace: str, name: str) -> None:
        try:
            self._call("DELETE", _path(kind, namespace, name))
        except ApiException as e:
            if e.status != 404:
                raise

    def event(self, obj: dict, reason: str, message: str, warning: bool = False) -> None:
        """A core/v1 Event on `obj` from `strimzi-standin` (best effort: never fails a reconcile)."""
        meta = obj["metadata"]
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": f"{meta['name']}.{uuid.uuid4().hex[:12]}", "namespace": meta["namespace"]},
            "involvedObject": {
                "apiVersion": obj["apiVersion"],
                "kind": obj["kind"],
                "name": meta["name"],
                "namespace": meta["namespace"],
                "uid": meta.get("uid"),
            },
            "reason": reason,
            "message": message[:1024],
            "type": "Warning" if warning else "Normal",
            "source": {"component": "strimzi-standin"},
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "count": 1,
            "reportingComponent": "strimzi-standin",
        }
        try:
            try:
                self._call("POST", _path("Event", meta["namespace"]), body=event)
            except ApiException as e:
                if e.status != 403:
                    raise
                # Strimzi's RBAC (the operator pod's, in pod mode) grants only the events.k8s.io API
                self._call("POST", _path("EventV1", meta["namespace"]), body=_event_v1(event))
        except Exception as e:  # noqa: BLE001 - an event is diagnosis, not function
            log.warning("could not post event %s on %s/%s: %s", reason, meta["namespace"], meta["name"], e)

    def can_i(self, user: str, verb: str, group: str, resource: str, namespace: str) -> bool:
        """SubjectAccessReview: may `user` do `verb` on `resource` in `namespace`?"""
        review = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SubjectAccessReview",
            "spec": {
                "user": user,
                "groups": ["system:serviceaccounts", f"system:serviceaccounts:{user.split(':')[2]}"],
                "resourceAttributes": {
                    "verb": verb,
                    "group": group,
                    "resource": resource,
                    "namespace": namespace,
                },
            },
        }
        out = self._call("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", body=review)
        return bool((out.get("status") or {}).get("allowed"))


def _event_v1(event: dict) -> dict:
    """The same Event in the events.k8s.io/v1 shape."""
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": event["metadata"],
        "eventTime": stamp,
        "regarding": event["involvedObject"],
        "reason": event["reason"],
        "note": event["message"],
        "type": event["type"],
        "action": event["reason"],
        "reportingController": "strimzi.io/cluster-operator",
        "reportingInstance": "strimzi-standin",
    }
