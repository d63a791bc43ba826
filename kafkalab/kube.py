"""The Kubernetes API, kubectl-shaped: apply, get, list, delete, watch-based waits and a diagnosis on timeout.

This module knows nothing of Strimzi or of widgets. Waits report every new state of the object they watch
through a `progress` callback, and whoever called them decides how to show it.

Objects travel as plain dicts (what `kubectl get -o json` prints), never as generated model classes, so a
notebook can print, index and change them without learning a client library.
"""

from __future__ import annotations

import copy
import getpass
import json
import math
import os
import queue
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import urllib3
import yaml
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes import watch as k8s_watch
from kubernetes.client.rest import ApiException
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.discovery import LazyDiscoverer
from kubernetes.dynamic.exceptions import NotFoundError, ResourceNotFoundError
from kubernetes.dynamic.resource import ResourceList

from kafkalab.errors import (
    ClusterUnreachable,
    KafkalabError,
    ManifestRejected,
    NotFound,
    ResourceFailed,
    WaitTimeout,
)

__all__ = [
    "FIELD_MANAGER",
    "CRASH_LOOP_RESTARTS",
    "Diagnosis",
    "PodProblem",
    "api",
    "apply",
    "check_cluster",
    "condition",
    "conditions",
    "current_context",
    "delete",
    "Cleanup",
    "CREATED_BY_ANNOTATION",
    "MANAGED_BY",
    "MANAGED_BY_LABEL",
    "PARENT_LABELS",
    "delete_namespace",
    "delete_namespace_if_ours",
    "delete_owned",
    "is_marked",
    "mark",
    "namespace_leftovers",
    "owner",
    "refusal",
    "replace",
    "describe",
    "diagnose",
    "ensure_namespace",
    "events",
    "get",
    "is_current",
    "list_objects",
    "load_yaml",
    "log_tail",
    "pod_fix",
    "pod_line",
    "pod_problems",
    "pod_status",
    "pods",
    "reset",
    "wait_for",
    "wait_for_condition",
    "wait_for_rollout",
]

FIELD_MANAGER = "kafkalab"
# One ordinary API call may take this long; a hung server must not hang a notebook cell for ever.
REQUEST_TIMEOUT = 30
# How long an apply that was rejected may spend removing what it had created before it gave up.
UNDO_TIMEOUT = 60

Obj = dict[str, Any]
# Called with each new state of a watched object (None while absent). A callback that also has a
# `finished(obj)` method is told when the wait succeeded, e.g. to close a live table.
Progress = Callable[[Obj | None], None]


# ----------------------------------------------------------------------------------------------------
# Connecting


@dataclass
class _Conn:
    context: str  # the context actually in use (the current one when the caller passed None)
    namespace: str  # the context's default namespace
    host: str
    api: k8s.ApiClient
    dynamic: DynamicClient | None = None


_conns: dict[tuple[str | None, str | None], _Conn] = {}


class _MemoryDiscoverer(LazyDiscoverer):
    """API discovery kept in this process only.

    The stock discoverer shares a cache file in /tmp per server address; a re-created cluster (kind, hermetic)
    comes back at the same address with other CRDs, and several processes write that file at once.
    """

    def _write_cache(self):
        pass


def _kubeconfig() -> str:
    # Read KUBECONFIG now, not at import: a notebook may set it in a cell after importing kafkalab.
    return os.environ.get("KUBECONFIG") or os.path.expanduser("~/.kube/config")


def _start_fix(context: str | None) -> str:
    where = f"--context {context} " if context else ""
    return (
        f"is the cluster running? `kind get clusters` (kind) or `make hermetic-up` (hermetic); "
        f"then `kubectl {where}cluster-info`"
    )


def _conn(context: str | None) -> _Conn:
    key = (os.environ.get("KUBECONFIG"), context)
    if key in _conns:
        return _conns[key]
    path = _kubeconfig()
    cfg = k8s.Configuration()
    try:
        k8s_config.load_kube_config(
            config_file=path, context=context, client_configuration=cfg, persist_config=False
        )
        contexts, active = k8s_config.list_kube_config_contexts(config_file=path)
    except (k8s_config.ConfigException, OSError, ValueError, TypeError) as e:
        shown = context or "(current context)"
        raise ClusterUnreachable(
            f"cannot load kube config {path} for context {shown}: {e}",
            context=context,
            obj=f"context {shown}",
            fix=f"check `kubectl config get-contexts` (KUBECONFIG={path}); " + _start_fix(context),
        ) from None
    chosen = next((c for c in contexts if c["name"] == context), None) if context else active
    name = chosen["name"] if chosen else (context or "")
    namespace = ((chosen or {}).get("context") or {}).get("namespace") or "default"
    conn = _Conn(context=name, namespace=namespace, host=cfg.host, api=k8s.ApiClient(cfg))
    _conns[key] = conn
    return conn


def reset() -> None:
    """Forget cached connections (after a cluster was re-created or KUBECONFIG now points elsewhere)."""
    _conns.clear()


def api(context: str | None = None) -> k8s.ApiClient:
    """The ApiClient for a kube context (None: the current one); loaded on first use and cached."""
    return _conn(context).api


def current_context(context: str | None = None) -> str:
    """The name of the context kafkalab talks to (resolves None to the kube config's current context)."""
    return _conn(context).context


@contextmanager
def _reachable(context: str | None) -> Iterator[None]:
    """Turn network failures into ClusterUnreachable naming the context and what to try."""
    try:
        yield
    except (urllib3.exceptions.HTTPError, ConnectionError, TimeoutError) as e:
        conn = _conns.get((os.environ.get("KUBECONFIG"), context))
        name = conn.context if conn else (context or "(current context)")
        host = conn.host if conn else "?"
        reason = getattr(e, "reason", None) or e
        raise ClusterUnreachable(
            f"cannot reach the Kubernetes API server of context {name} at {host}: {reason}",
            context=name,
            obj=f"context {name}",
            fix=_start_fix(name),
        ) from None
    except ApiException as e:
        if e.status == 401:
            name = current_context(context)
            raise ClusterUnreachable(
                f"the API server of context {name} refused our credentials (401 Unauthorized)",
                context=name,
                obj=f"context {name}",
                fix="the kube config's credentials are stale: re-create the cluster or get a new kube config",
            ) from None
        raise


def _dynamic(context: str | None) -> DynamicClient:
    conn = _conn(context)
    if conn.dynamic is None:
        with _reachable(context):
            # The path is never written (see _MemoryDiscoverer); it only has to not exist.
            never = os.path.join("/nonexistent", f"kafkalab-{uuid.uuid4().hex}.json")
            conn.dynamic = DynamicClient(conn.api, cache_file=never, discoverer=_MemoryDiscoverer)
    return conn.dynamic


def check_cluster(context: str | None = None) -> str:
    """Ask the API server for its version (e.g. "v1.35.0"): the cheapest proof that the cluster answers."""
    with _reachable(context):
        return k8s.VersionApi(api(context)).get_code(_request_timeout=REQUEST_TIMEOUT).git_version


# ----------------------------------------------------------------------------------------------------
# Reading manifests and naming objects


# libyaml's loader when PyYAML was built with it: Strimzi's install files are 15,000 lines of CRD schema.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(source: str | Path) -> list[Obj]:
    """Objects from a YAML file path or YAML text (multi-document; `kind: List` is flattened)."""
    if isinstance(source, Path) or ("\n" not in source and Path(source).is_file()):
        text = Path(source).read_text()
    else:
        text = source
    objs: list[Obj] = []
    for doc in yaml.load_all(text, Loader=_YAML_LOADER):
        if doc is None:
            continue
        if not isinstance(doc, dict) or "kind" not in doc:
            raise NotFound(
                f"not a Kubernetes object: {str(doc)[:80]!r}",
                obj=str(source)[:80],
                fix="pass the path of an existing YAML file, or YAML text of objects with apiVersion, kind",
            )
        if doc["kind"].endswith("List") and isinstance(doc.get("items"), list):
            objs.extend(doc["items"])
        else:
            objs.append(doc)
    return objs


def describe(obj: Obj) -> str:
    """ "Kind namespace/name" (or "Kind name" when cluster-scoped): how errors and progress name objects."""
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace")
    return f"{obj.get('kind', '?')} {ns + '/' if ns else ''}{meta.get('name', '?')}"


def _resource(api_version: str, kind: str, context: str | None):
    dyn = _dynamic(context)
    try:
        with _reachable(context):
            return dyn.resources.get(api_version=api_version, kind=kind)
    except ResourceNotFoundError:
        raise NotFound(
            f"the API server does not serve kind {kind} in apiVersion {api_version}",
            obj=f"{kind} ({api_version})",
            fix="install the CustomResourceDefinition that defines it, or fix an outdated apiVersion",
        ) from None


def _namespace(res, namespace: str | None, context: str | None) -> str | None:
    if not res.namespaced:
        return None
    return namespace or _conn(context).namespace


def _typed(obj: Obj, res) -> Obj:
    # List items and watch events of built-in kinds come without apiVersion/kind; put them back.
    obj.setdefault("apiVersion", res.group_version)
    obj.setdefault("kind", res.kind)
    return obj


def _get(res, name: str, namespace: str | None, context: str | None) -> Obj | None:
    try:
        with _reachable(context):
            resp = _dynamic(context).get(
                res, name=name, namespace=namespace, serialize=False, _request_timeout=REQUEST_TIMEOUT
            )
    except NotFoundError:
        return None
    return _typed(json.loads(resp.data), res)


def _server_message(e: ApiException) -> str:
    try:
        return json.loads(e.body).get("message") or str(e.reason)
    except (TypeError, ValueError, AttributeError):
        return str(e.body or e.reason)


# ----------------------------------------------------------------------------------------------------
# Ownership: kafkalab changes and deletes only what it made
#
# Every object kafkalab applies carries the label app.kubernetes.io/managed-by=kafkalab and an annotation
# saying who made it. apply() refuses an existing object without that mark; teardown (delete_owned,
# delete_namespace_if_ours) deletes only marked objects. Teams point kafkalab at clusters that hold other
# people's work, and learners share one cluster: what is not ours is never changed or deleted.

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "kafkalab"
CREATED_BY_ANNOTATION = "kafkalab.io/created-by"
# Labels that name the parent an object belongs to (Strimzi's: a KafkaNodePool's, KafkaTopic's or
# KafkaUser's Kafka). Applying an object with another value would hand one cluster's object to another.
PARENT_LABELS = ("strimzi.io/cluster",)
# Kinds that every namespace holds, or that only record what happened: they never keep a namespace alive.
# A Lease is a lock: it is left behind by whatever held it (an operator's leader election) and guards nothing.
_FURNITURE_KINDS = {"Event", "Endpoints", "EndpointSlice", "Lease", "PodMetrics"}
_FURNITURE = {("ConfigMap", "kube-root-ca.crt"), ("ServiceAccount", "default")}


def is_marked(obj: Obj | None) -> bool:
    """True when the object carries kafkalab's mark (it was made by kafkalab)."""
    labels = ((obj or {}).get("metadata") or {}).get("labels") or {}
    return labels.get(MANAGED_BY_LABEL) == MANAGED_BY


def _creator() -> str:
    try:
        who = getpass.getuser()
    except (KeyError, OSError):  # no user name in a container without /etc/passwd entry
        who = "unknown"
    return f"{who}@{socket.gethostname()} with kafkalab"


def mark(obj: Obj, existing: Obj | None = None) -> Obj:
    """A copy of obj with kafkalab's mark; an existing object's created-by annotation is kept as it was."""
    body = copy.deepcopy(obj)
    meta = body.setdefault("metadata", {})
    meta["labels"] = {**(meta.get("labels") or {}), MANAGED_BY_LABEL: MANAGED_BY}
    made_by = (((existing or {}).get("metadata") or {}).get("annotations") or {}).get(CREATED_BY_ANNOTATION)
    meta["annotations"] = {**(meta.get("annotations") or {}), CREATED_BY_ANNOTATION: made_by or _creator()}
    return body


def owner(obj: Obj) -> str:
    """Who an object belongs to, as it says: kafkalab's mark, a managed-by label, or its field managers."""
    meta = obj.get("metadata") or {}
    if is_marked(obj):
        return f"kafkalab ({(meta.get('annotations') or {}).get(CREATED_BY_ANNOTATION, 'made by kafkalab')})"
    managed_by = (meta.get("labels") or {}).get(MANAGED_BY_LABEL)
    if managed_by:
        return f"{MANAGED_BY_LABEL}={managed_by}"
    managers = sorted({m.get("manager", "?") for m in meta.get("managedFields") or []} - {FIELD_MANAGER})
    return f"field manager {', '.join(managers)}" if managers else "someone else (it has no mark of kafkalab)"


def refusal(body: Obj, existing: Obj | None) -> ManifestRejected | None:
    """Why applying `body` over `existing` would take over someone else's object (None: it may go ahead).

    Someone else's: it exists without kafkalab's mark, or a parent label (PARENT_LABELS) names another parent.
    """
    if existing is None:
        return None
    what = describe(existing)
    if not is_marked(existing):
        return ManifestRejected(
            f"{what} already exists and was not made by kafkalab (owner: {owner(existing)}); "
            "kafkalab changes only what it made (nothing was applied)",
            obj=what,
            fix=f"give ours another name (or another namespace), or, if {what} is yours to remove, "
            "delete it first",
        )
    theirs = existing["metadata"].get("labels") or {}
    ours = (body.get("metadata") or {}).get("labels") or {}
    for label in PARENT_LABELS:
        if label in theirs and label in ours and theirs[label] != ours[label]:
            kind = existing.get("kind", "object")
            return ManifestRejected(
                f"{what} belongs to {theirs[label]} (label {label}={theirs[label]}); applying it for "
                f"{ours[label]} would take it away from {theirs[label]} (nothing was applied)",
                obj=what,
                fix=f"{kind} names are unique in a namespace: give {ours[label]}'s {kind} another name "
                f"(e.g. {ours[label]}-{existing['metadata']['name']}), "
                f"or put {ours[label]} in its own namespace",
            )
    return None


@dataclass
class Cleanup:
    """What a teardown step deleted, and what it left and why ("Kind ns/name: reason")."""

    deleted: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)

    def __add__(self, other: Cleanup) -> Cleanup:
        return Cleanup(self.deleted + other.deleted, self.kept + other.kept)

    def __str__(self) -> str:
        lines = [f"deleted {len(self.deleted)}" + (f": {', '.join(self.deleted)}" if self.deleted else "")]
        lines += [f"left: {k}" for k in self.kept]
        return "\n".join(lines)


def delete_owned(
    objs_or_refs: Obj | Iterable[Obj],
    namespace: str | None = None,
    context: str | None = None,
    timeout: float = 120,
) -> Cleanup:
    """Delete those objects that kafkalab made and wait until they are gone; leave the others and say why.

    Each object is read first: absent ones are skipped, unmarked ones are left (someone else's), and so are
    ones whose parent label (PARENT_LABELS) differs from the reference's (another cluster's object that
    happens to have the same name). Waiting until gone includes waiting for finalizers (a KafkaTopic's).
    """
    if isinstance(objs_or_refs, dict):
        objs_or_refs = [objs_or_refs]
    result = Cleanup()
    mine = []
    for ref in objs_or_refs:
        meta = ref.get("metadata") or {}
        try:
            res = _resource(ref.get("apiVersion", ""), ref.get("kind", ""), context)
        except NotFound:
            continue  # a kind the server does not serve (its CRD is gone): nothing of it can exist
        existing = _get(
            res, meta["name"], _namespace(res, meta.get("namespace") or namespace, context), context
        )
        if existing is None:
            continue
        if not is_marked(existing):
            result.kept.append(f"{describe(existing)}: not made by kafkalab (owner: {owner(existing)})")
            continue
        refused = refusal(ref, existing)
        if refused:
            result.kept.append(f"{describe(existing)}: {refused.summary.split(';')[0]}")
            continue
        mine.append(existing)
    result.deleted = delete(mine, context=context, wait=True, timeout=timeout)
    return result


def namespace_leftovers(name: str, context: str | None = None) -> list[str]:
    """Objects in a namespace that kafkalab did not make and that would go with it: unmarked, and not the
    dependents of another object (those go with their owner), and not what every namespace holds."""
    dyn = _dynamic(context)
    seen: set[tuple[str, str]] = set()
    left = []
    with _reachable(context):
        resources = dyn.resources.search(namespaced=True)
    for res in resources:
        if isinstance(res, ResourceList) or "/" in res.name or "list" not in (res.verbs or []):
            continue  # a list kind or a subresource: not objects of their own
        if res.kind in _FURNITURE_KINDS:
            continue
        if (res.group, res.kind) in seen:
            continue  # the same objects served in another version
        seen.add((res.group, res.kind))
        try:
            with _reachable(context):
                resp = dyn.get(res, namespace=name, serialize=False, _request_timeout=REQUEST_TIMEOUT)
        except ApiException:
            continue  # not readable here (an aggregated API that is down): nothing we could delete either
        for item in json.loads(resp.data).get("items") or []:
            meta = item.get("metadata") or {}
            if is_marked(item) or meta.get("ownerReferences") or (res.kind, meta.get("name")) in _FURNITURE:
                continue
            left.append(describe({"kind": res.kind, "metadata": meta}))
    return sorted(left)


def delete_namespace_if_ours(name: str, context: str | None = None, timeout: float = 300) -> Cleanup:
    """Delete a namespace only if kafkalab created it and nothing someone else made is left in it.

    Otherwise the namespace stays and the Cleanup says why (delete kafkalab's objects in it first:
    delete_owned).
    """
    ns = get("v1", "Namespace", name, context=context)
    if ns is None:
        return Cleanup()
    what = f"Namespace {name}"
    if not is_marked(ns):
        return Cleanup(kept=[f"{what}: not created by kafkalab (owner: {owner(ns)}), so it stays"])
    left = namespace_leftovers(name, context)
    if left:
        shown = ", ".join(left[:5]) + (f" and {len(left) - 5} more" if len(left) > 5 else "")
        return Cleanup(kept=[f"{what}: holds objects kafkalab did not make ({shown}), so it stays"])
    delete_namespace(name, timeout=timeout, context=context)
    return Cleanup(deleted=[what])


# ----------------------------------------------------------------------------------------------------
# Apply, get, list, delete


def apply(
    objs: Obj | Iterable[Obj], namespace: str | None = None, context: str | None = None, dry_run: bool = False
) -> list[Obj]:
    """Server-side apply each object (field manager "kafkalab", marked as kafkalab's); return what is stored.

    Namespaced objects without metadata.namespace go to `namespace` (or the context's default namespace).
    Nothing is written when any object exists and is not kafkalab's, or would move to another parent (see
    refusal()): ManifestRejected names the object, its owner and the fix. Conflicts with another field
    manager are not forced: the server's 409 is raised as ManifestRejected. If the server rejects an object,
    the objects this call created are deleted and those it changed are put back as they were, so a
    half-applied manifest never stays behind. A kind the server does not serve raises NotFound before
    anything is applied. `dry_run=True` asks the server to validate without storing anything.
    """
    if isinstance(objs, dict):
        objs = [objs]
    dyn = _dynamic(context)
    # Resolve every kind and name, and read what exists, before changing anything: an unknown kind (a missing
    # CRD, an old apiVersion), a nameless object or someone else's object stops the apply before any write.
    planned = []
    for obj in objs:
        body = copy.deepcopy(obj)
        meta = body.setdefault("metadata", {})
        res = _resource(body.get("apiVersion", ""), body.get("kind", ""), context)
        ns = _namespace(res, meta.get("namespace") or namespace, context)
        if ns:
            meta["namespace"] = ns
        else:
            meta.pop("namespace", None)
        if not meta.get("name"):
            raise ManifestRejected(
                f"{describe(body)} has no metadata.name (nothing was applied)",
                obj=describe(body),
                fix="give the object a metadata.name",
            )
        planned.append((res, body, meta["name"], ns))
    before = [_get(res, name, ns, context) for res, _, name, ns in planned]
    for (_, body, _, _), existing in zip(planned, before, strict=True):
        refused = refusal(body, existing)
        if refused:
            raise refused
    applied: list[Obj] = []
    done: list[tuple[Any, Obj | None, Obj]] = []  # (resource, state before, state stored) of each write
    for (res, body, name, ns), existing in zip(planned, before, strict=True):
        try:
            with _reachable(context):
                resp = dyn.server_side_apply(
                    res,
                    body=mark(body, existing),
                    name=name,
                    namespace=ns,
                    field_manager=FIELD_MANAGER,
                    dry_run="All" if dry_run else None,
                    serialize=False,
                    _request_timeout=REQUEST_TIMEOUT,
                )
        except ApiException as e:
            if not _is_rejection(e):
                raise
            undone = "nothing was stored (dry run)" if dry_run else _undo(done, context)
            raise _rejected(body, e, undone) from None
        stored = _typed(json.loads(resp.data), res)
        applied.append(stored)
        done.append((res, existing, stored))
    return applied


def _is_rejection(e: ApiException) -> bool:
    """A 4xx, or the 500 server-side apply answers when a field has the wrong type for the schema."""
    if 400 <= (e.status or 0) < 500:
        return True
    return e.status == 500 and "failed to create typed patch object" in _server_message(e)


def _undo(done: list[tuple[Any, Obj | None, Obj]], context: str | None) -> str:
    """Delete what this apply created and put back what it changed, newest first; say what was done."""
    created = [stored for _, before, stored in done if before is None]
    changed = [
        (res, before)
        for res, before, stored in done
        if before is not None
        and before["metadata"]["resourceVersion"] != stored["metadata"]["resourceVersion"]
    ]
    said = []
    for res, before in reversed(changed):
        try:
            _restore(res, before, context)
            said.append(f"put back {describe(before)} as it was")
        except (ApiException, KafkalabError) as e:
            reason = e.summary if isinstance(e, KafkalabError) else _server_message(e)
            said.append(f"could not put back {describe(before)}: {reason}")
    if created:
        names = ", ".join(describe(o) for o in created)
        try:
            delete(list(reversed(created)), context=context, wait=True, timeout=UNDO_TIMEOUT)
            said.append(f"removed what this apply had created: {names}")
        except KafkalabError as e:
            said.append(f"tried to remove what this apply had created ({names}) but: {e.summary}")
    return "; ".join(said) or "nothing had been changed by this apply"


def _restore(res, before: Obj, context: str | None) -> None:
    """Put an object back to an earlier state of it (metadata, spec and data; status is the controller's)."""
    current = _get(res, before["metadata"]["name"], before["metadata"].get("namespace"), context)
    if current is not None:
        body = copy.deepcopy(before)
        body["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
        _replace(res, body, context)


def _replace(res, obj: Obj, context: str | None) -> Obj:
    body = {k: copy.deepcopy(v) for k, v in obj.items() if k != "status"}
    with _reachable(context):
        resp = _dynamic(context).replace(
            res,
            body=body,
            namespace=body["metadata"].get("namespace"),
            field_manager=FIELD_MANAGER,
            serialize=False,
            _request_timeout=REQUEST_TIMEOUT,
        )
    return _typed(json.loads(resp.data), res)


def replace(obj: Obj, context: str | None = None) -> Obj:
    """Store this whole state of a kafkalab object, as read and then changed (`kubectl replace`).

    Its metadata.resourceVersion makes it safe: if anyone changed the object since it was read, the server
    refuses (ManifestRejected, status 409) instead of undoing their change. Only kafkalab's objects.
    """
    res = _resource(obj.get("apiVersion", ""), obj.get("kind", ""), context)
    meta = obj.get("metadata") or {}
    existing = _get(res, meta.get("name", ""), _namespace(res, meta.get("namespace"), context), context)
    refused = refusal(obj, existing) or (
        None
        if existing is not None
        else NotFound(f"{describe(obj)} does not exist", obj=describe(obj), fix="apply it instead")
    )
    if refused:
        raise refused
    try:
        return _replace(res, obj, context)
    except ApiException as e:
        if not _is_rejection(e):
            raise
        raise _rejected(obj, e, "nothing was changed") from None


def _rejected(body: Obj, e: ApiException, undone: str) -> ManifestRejected:
    what = describe(body)
    msg = _server_message(e)
    kind = body.get("kind", "").lower()
    fixes = {
        403: "you may not do this here: check RBAC (`kubectl auth can-i ...`); a namespace being deleted "
        "also refuses new objects",
        404: "create the namespace first (ensure_namespace) or install the CRD that defines this kind",
        409: "another field manager (named above) owns these fields and kafkalab does not take them over: "
        "change them with the tool that set them, or leave them out of what you apply",
    }
    fix = fixes.get(e.status) or (
        f"correct the field the server names (see `kubectl explain {kind}.spec`), then apply again"
    )
    return ManifestRejected(
        f"the API server rejected {what} ({e.status}): {msg}\n  ({undone})",
        obj=what,
        fix=fix,
        status=e.status,
        server_message=msg,
    )


def get(
    api_version: str, kind: str, name: str, namespace: str | None = None, context: str | None = None
) -> Obj | None:
    """One object as a dict, or None when it does not exist."""
    res = _resource(api_version, kind, context)
    return _get(res, name, _namespace(res, namespace, context), context)


def list_objects(
    api_version: str,
    kind: str,
    namespace: str | None = None,
    label_selector: str | None = None,
    context: str | None = None,
) -> list[Obj]:
    """All objects of a kind (in one namespace, or in every namespace when namespace is None)."""
    res = _resource(api_version, kind, context)
    with _reachable(context):
        resp = _dynamic(context).get(
            res,
            namespace=namespace if res.namespaced else None,
            label_selector=label_selector,
            serialize=False,
            _request_timeout=REQUEST_TIMEOUT,
        )
    return [_typed(item, res) for item in json.loads(resp.data).get("items") or []]


def delete(
    objs_or_refs: Obj | Iterable[Obj],
    namespace: str | None = None,
    context: str | None = None,
    wait: bool = True,
    timeout: float = 120,
) -> list[str]:
    """Delete objects (dicts with apiVersion, kind, metadata.name[, namespace]); absent ones are skipped.

    With wait=True, returns only once every one of them is gone (watched, not polled), or raises WaitTimeout
    whose diagnosis shows what holds it (finalizers, events). Returns the descriptions of what was deleted.
    """
    if isinstance(objs_or_refs, dict):
        objs_or_refs = [objs_or_refs]
    deadline = time.monotonic() + timeout
    deleted: list[tuple[Any, str, str | None, str]] = []
    for ref in objs_or_refs:
        meta = ref.get("metadata") or {}
        try:
            res = _resource(ref.get("apiVersion", ""), ref.get("kind", ""), context)
        except NotFound:
            continue  # a kind the server does not serve (its CRD is gone): nothing of it can exist
        ns = _namespace(res, meta.get("namespace") or namespace, context)
        try:
            with _reachable(context):
                _dynamic(context).delete(
                    res, name=meta["name"], namespace=ns, serialize=False, _request_timeout=REQUEST_TIMEOUT
                )
        except NotFoundError:
            continue
        deleted.append(
            (
                res,
                meta["name"],
                ns,
                describe({"kind": res.kind, "metadata": {"name": meta["name"], "namespace": ns}}),
            )
        )
    if wait:
        for res, name, ns, what in deleted:
            try:
                _watch(res, name, ns, lambda state: state is None, deadline, None, context)
            except _Expired as e:
                finalizers = ((e.last or {}).get("metadata") or {}).get("finalizers")
                held = f" (finalizers: {', '.join(finalizers)})" if finalizers else ""
                raise WaitTimeout(
                    f"{what} still exists {timeout:.0f}s after it was deleted{held}",
                    obj=what,
                    fix="see the diagnosis: an object with finalizers waits for its controller to release it",
                    diagnosis=diagnose(res.group_version, res.kind, name, ns, context=context),
                    timeout=timeout,
                ) from None
    return [what for *_, what in deleted]


def ensure_namespace(name: str, context: str | None = None, timeout: float = 180) -> Obj:
    """Create the namespace if missing; if an earlier delete of it is still running, wait for that first."""
    ns = get("v1", "Namespace", name, context=context)
    if ns is not None and (ns.get("status") or {}).get("phase") == "Terminating":
        delete_namespace(name, timeout=timeout, context=context)
        ns = None
    if ns is not None:
        return ns
    return apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}, context=context)[0]


def delete_namespace(name: str, timeout: float = 300, context: str | None = None) -> None:
    """Delete a namespace and everything in it; return once it is gone."""
    delete(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}},
        context=context,
        timeout=timeout,
    )


# ----------------------------------------------------------------------------------------------------
# Watching


class _Expired(Exception):
    """Internal: the deadline passed; carries the last state seen."""

    def __init__(self, last: Obj | None):
        super().__init__("deadline passed")
        self.last = last


# A watch stream asks the server to end it after at most this many seconds and then watches again from the
# last version it saw (nothing is missed). The waiting thread stops a stream's watch when it is done; this
# bounds how long a watch it missed (started just as the wait ended) can stay open.
_STREAM_SLICE = 30


class _Watch(k8s_watch.Watch):
    """A Watch that `ended` stops as soon as its stream is open, whenever it opened.

    Watch.stop() shuts the connection of a stream that is open; a stream still being opened when the wait
    ended would miss that and stay open until the server ends it. Watch.stream() keeps the open response
    in `_resp`: on setting it, check whether the wait has ended meanwhile.
    """

    def __init__(self, ended: threading.Event):
        super().__init__()
        self._ended = ended

    @property
    def _resp(self):
        return self.__dict__.get("_open")

    @_resp.setter
    def _resp(self, resp) -> None:
        self.__dict__["_open"] = resp
        if resp is not None and self._ended.is_set():
            self.stop()


def _stream(
    res,
    namespace: str | None,
    selector: dict[str, str],
    tag: str,
    out: queue.Queue,
    stop: threading.Event,
    deadline: float,
    context: str | None,
    watchers: dict[str, _Watch],
) -> None:
    """List-then-watch the objects `selector` picks, putting (tag, event type, object) on `out`.

    The list gives the current state and the resourceVersion to watch from, so no change can slip in
    between; it is put as (tag, "LIST", [objects]). When the server says our resourceVersion is too old
    (410 Gone) we list again and carry on. An error goes on `out` as (tag, "ERROR", exception).
    The watch in progress is kept in watchers[tag], so that the waiting thread can end it at once when it
    is done (Watch.stop() shuts the connection down) rather than leave it open until the server ends it.
    """
    dyn = _dynamic(context)
    try:
        while not stop.is_set():
            with _reachable(context):
                resp = dyn.get(
                    res, namespace=namespace, serialize=False, _request_timeout=REQUEST_TIMEOUT, **selector
                )
            listed = json.loads(resp.data)
            out.put((tag, "LIST", [_typed(item, res) for item in listed.get("items") or []]))
            version = listed["metadata"]["resourceVersion"]
            try:
                while not stop.is_set():
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return
                    watcher = watchers[tag] = _Watch(stop)
                    if stop.is_set():
                        return
                    with _reachable(context):
                        for event in dyn.watch(
                            res,
                            namespace=namespace,
                            resource_version=version,
                            timeout=max(1, math.ceil(min(remaining, _STREAM_SLICE))),
                            watcher=watcher,
                            **selector,
                        ):
                            if stop.is_set():
                                watcher.stop()
                                return
                            raw = event["raw_object"]
                            version = (raw.get("metadata") or {}).get("resourceVersion", version)
                            if event["type"] != "BOOKMARK":
                                out.put((tag, event["type"], _typed(raw, res)))
            except ApiException as e:
                if e.status != 410:  # 410 Gone: our resourceVersion was compacted away; list again
                    raise
    except Exception as e:  # noqa: BLE001 - handed to the waiting thread, which raises it
        out.put((tag, "ERROR", e))


def _watch(
    res,
    name: str,
    namespace: str | None,
    done: Callable[[Obj | None], bool],
    deadline: float,
    progress: Progress | None,
    context: str | None,
    pods: _Pods | None = None,
) -> Obj | None:
    """Return the first state of one object (a dict, or None while absent) for which done(state) is true.

    With `pods`, the pods it selects are watched alongside (a second stream): each change of a pod's state
    goes to `progress` too, and a pod problem that waiting cannot heal raises _PodBroken at once.
    Raises _Expired at `deadline`.
    """
    out: queue.Queue = queue.Queue()
    stop = threading.Event()
    watchers: dict[str, _Watch] = {}
    streams = [("object", res, {"field_selector": f"metadata.name={name}"})]
    if pods is not None:
        streams.append(("pods", _resource("v1", "Pod", context), {"label_selector": pods.selector}))
    for tag, resource, selector in streams:
        threading.Thread(
            target=_stream,
            args=(resource, namespace, selector, tag, out, stop, deadline, context, watchers),
            name=f"kafkalab-watch-{tag}-{name}",
            daemon=True,
        ).start()
    last: Obj | None = None
    try:
        while True:
            remaining = deadline - time.monotonic()
            try:
                if remaining <= 0:
                    raise queue.Empty
                tag, event, payload = out.get(timeout=remaining)
            except queue.Empty:
                raise _Expired(last) from None
            if event == "ERROR":
                raise payload
            if tag == "object":
                if event == "LIST":
                    last = payload[0] if payload else None
                else:
                    last = None if event == "DELETED" else payload
                if progress is not None:
                    progress(last)
                if done(last):
                    finished = getattr(
                        progress, "finished", None
                    )  # e.g. display.Progress: closes its live table
                    if finished is not None:
                        finished(last)
                    return last
            else:
                for pod in pods.see(event, payload):
                    if progress is not None:
                        progress(pod)
            if pods is not None:
                broken = pods.final()
                if broken is not None:
                    raise _PodBroken(broken)
    finally:
        stop.set()
        for watcher in list(watchers.values()):
            watcher.stop()


def _failure(result: str | tuple[str, str] | None) -> tuple[str, str] | None:
    if not result:
        return None
    if isinstance(result, tuple):
        return result
    return "", result


class _Failed(Exception):
    """Internal: failed(obj) said the object failed."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason, self.message = reason, message


def wait_for(
    api_version: str,
    kind: str,
    name: str,
    namespace: str | None,
    ready: Callable[[Obj], bool],
    failed: Callable[[Obj], str | tuple[str, str] | None] | None = None,
    timeout: float = 300,
    progress: Progress | None = None,
    context: str | None = None,
    pod_selector: str | None = None,
    pod_counts: Callable[[Obj], bool] | None = None,
) -> Obj:
    """Watch one object until ready(obj) is true and return it.

    failed(obj) returning a message (or a (reason, message) pair) raises ResourceFailed at once, so a broken
    resource fails in seconds instead of at the timeout. progress(obj or None) is called with each new state.
    With pod_selector, the pods it selects are watched too: progress is called with each pod (a dict of
    kind Pod) whose state changed, and a pod problem waiting cannot heal (see pod_problems: image missing or
    refused, bad image name, CreateContainerConfigError, CrashLoopBackOff after CRASH_LOOP_RESTARTS restarts)
    raises ResourceFailed with the kubelet's reason and message; pod_counts(pod) may exclude pods (e.g. those
    of a Deployment's older ReplicaSet). Every failure and a timeout (WaitTimeout) carry diagnose(...):
    conditions, the pods' states, recent events, last log lines; the fix fits the pods' problem.
    """
    res = _resource(api_version, kind, context)
    ns = _namespace(res, namespace, context)
    what = describe({"kind": kind, "metadata": {"name": name, "namespace": ns}})
    pods = _Pods(pod_selector, pod_counts) if pod_selector and ns else None

    def done(state: Obj | None) -> bool:
        if state is None:
            return False
        bad = _failure(failed(state)) if failed else None
        if bad:
            raise _Failed(*bad)
        return ready(state)

    def diagnosis() -> Diagnosis:
        return diagnose(api_version, kind, name, ns, pod_selector=pod_selector, context=context)

    def worst() -> PodProblem | None:
        found = pods.problems() if pods else []
        return next((p for p in found if p.final), None) or (found[0] if found else None)

    describe_cmd = f"`kubectl describe {kind.lower()} {name}" + (f" -n {ns}`" if ns else "`")
    try:
        return _watch(res, name, ns, done, time.monotonic() + timeout, progress, context, pods)
    except _Failed as e:
        problem = worst()
        raise ResourceFailed(
            f"{what} failed: {e.reason + ': ' if e.reason else ''}{e.message}"
            + (f"\n  because {problem}" if problem else ""),
            obj=what,
            reason=e.reason,
            message=e.message,
            fix=pod_fix(problem, context) if problem else f"read the message above; {describe_cmd} shows it",
            diagnosis=diagnosis(),
        ) from None
    except _PodBroken as e:
        p = e.problem
        raise ResourceFailed(
            f"{what} cannot become ready: {p}",
            obj=f"Pod {p.pod}",
            reason=p.reason,
            message=p.message,
            fix=pod_fix(p, context),
            diagnosis=diagnosis(),
        ) from None
    except _Expired as e:
        state = "does not exist" if e.last is None else "is not ready"
        problem = worst()
        raise WaitTimeout(
            f"{what} {state} after {timeout:.0f}s" + (f"\n  pod problem: {problem}" if problem else ""),
            obj=what,
            fix=pod_fix(problem, context)
            if problem
            else "read the diagnosis below; if it is only slow (first image pulls), use a longer timeout",
            diagnosis=diagnosis(),
            timeout=timeout,
        ) from None


def is_current(obj: Obj) -> bool:
    """True when the status describes the latest spec (status.observedGeneration reached generation)."""
    observed = (obj.get("status") or {}).get("observedGeneration")
    generation = (obj.get("metadata") or {}).get("generation")
    return observed is None or generation is None or observed >= generation


def wait_for_condition(
    api_version: str,
    kind: str,
    name: str,
    namespace: str | None,
    condition: str = "Ready",
    timeout: float = 300,
    progress: Progress | None = None,
    fail_on: Iterable[str] = ("NotReady",),
    transient: Iterable[str] = ("Creating",),
    context: str | None = None,
    pod_selector: str | None = None,
) -> Obj:
    """Wait until status condition `condition` is True for the object's latest generation.

    Any condition in fail_on that is True with a reason not in `transient` fails the wait at once
    (Strimzi says NotReady/True reason Creating while it works, and NotReady/True with the error's name
    when it gave up).
    """
    fail_on, transient = tuple(fail_on), tuple(transient)

    def ready(obj: Obj) -> bool:
        c = _condition(obj, condition)
        return is_current(obj) and c is not None and c.get("status") == "True"

    def failed(obj: Obj) -> tuple[str, str] | None:
        if not is_current(obj):
            return None  # a failure reported for an older spec says nothing about this one
        for kind_ in fail_on:
            c = _condition(obj, kind_)
            if c and c.get("status") == "True" and c.get("reason") not in transient:
                return c.get("reason") or kind_, c.get("message") or ""
        return None

    return wait_for(
        api_version,
        kind,
        name,
        namespace,
        ready,
        failed,
        timeout,
        progress,
        context,
        pod_selector=pod_selector,
    )


def wait_for_rollout(
    name: str,
    namespace: str,
    timeout: float = 300,
    progress: Progress | None = None,
    context: str | None = None,
) -> Obj:
    """Wait until a Deployment's latest spec is rolled out: all replicas updated and available.

    Its pods are watched too (see wait_for): those of its newest ReplicaSet fail the wait when they cannot
    start; a crash-looping pod of the previous spec (which a new spec may be fixing) does not.
    """
    latest: dict[str, Obj] = {}
    newest: dict[tuple[str, str], bool] = {}  # (ReplicaSet, revision) -> is the Deployment's newest

    def counts(pod: Obj) -> bool:
        d = latest.get("deployment")
        if d is None or (d.get("status") or {}).get("observedGeneration", 0) < d["metadata"].get(
            "generation", 0
        ):
            return False  # the controller has not yet made the ReplicaSet of the newest spec
        revision = ((d.get("metadata") or {}).get("annotations") or {}).get(_REVISION, "")
        owner = next(
            (
                o["name"]
                for o in (pod.get("metadata") or {}).get("ownerReferences") or []
                if o.get("kind") == "ReplicaSet"
            ),
            "",
        )
        if (owner, revision) not in newest:
            rs = get("apps/v1", "ReplicaSet", owner, namespace, context) if owner else None
            theirs = (((rs or {}).get("metadata") or {}).get("annotations") or {}).get(_REVISION)
            newest[(owner, revision)] = rs is not None and theirs == revision
        return newest[(owner, revision)]

    def ready(d: Obj) -> bool:
        latest["deployment"] = d
        st = d.get("status") or {}
        want = (d.get("spec") or {}).get("replicas", 1)
        return (
            st.get("observedGeneration", 0) >= d["metadata"].get("generation", 0)
            and st.get("updatedReplicas", 0) == want
            and st.get("replicas", 0) == want
            and st.get("availableReplicas", 0) >= want
        )

    def failed(d: Obj) -> tuple[str, str] | None:
        c = _condition(d, "Progressing")
        if c and c.get("status") == "False" and c.get("reason") == "ProgressDeadlineExceeded":
            return c["reason"], c.get("message", "")
        return None

    found = get("apps/v1", "Deployment", name, namespace, context)
    labels = (((found or {}).get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    return wait_for(
        "apps/v1",
        "Deployment",
        name,
        namespace,
        ready,
        failed,
        timeout,
        progress,
        context,
        pod_selector=",".join(f"{k}={v}" for k, v in labels.items()) or None,
        pod_counts=counts,
    )


# The deployment controller numbers each spec it rolls out, on the Deployment and on that spec's ReplicaSet.
_REVISION = "deployment.kubernetes.io/revision"


# ----------------------------------------------------------------------------------------------------
# Pods: what the kubelet says, and whether waiting can heal it


# A container in CrashLoopBackOff that has restarted this many times is broken, not starting up: the
# kubelet's back-off (10 s, 20 s, 40 s, ...) puts the third restart about a minute after the first start,
# while a container that merely waits for something (a broker, a DNS name) usually makes it by then.
CRASH_LOOP_RESTARTS = 3

# Words in an image pull error (containerd's, relayed by the kubelet) that say which side failed.
_PULL_UNREACHABLE = (
    "i/o timeout",
    "timeout",
    "deadline exceeded",
    "no such host",
    "server misbehaving",
    "connection refused",
    "connection reset",
    "network is unreachable",
    "no route to host",
    "tls handshake",
    "temporary failure in name resolution",
    ": eof",
)
_PULL_DENIED = (
    "pull access denied",
    "unauthorized",
    "401",
    "403",
    "forbidden",
    "insufficient_scope",
    "denied",
)
_PULL_MISSING = ("not found", "manifest unknown", "name unknown")


@dataclass
class PodProblem:
    """What the kubelet reports about one container that is not running as it should."""

    pod: str  # "namespace/name"
    container: str
    reason: str  # the kubelet's reason: ErrImagePull, ImagePullBackOff, CrashLoopBackOff, ...
    message: str  # the kubelet's message (for a back-off, the pull error behind it when known)
    cause: str  # image-missing, image-denied, registry-unreachable, image-not-loaded, bad-image-name,
    # config, crash, oom, or other
    final: bool  # True when waiting longer cannot heal it
    image: str = ""
    restarts: int = 0

    def __str__(self) -> str:
        text = f"Pod {self.pod} container {self.container}: {self.reason}"
        if self.restarts:
            text += f" ({self.restarts} restarts)"
        if self.message:
            text += f": {self.message}"
        if self.cause == "registry-unreachable":
            text += " — the registry cannot be reached; the kubelet keeps retrying"
        return text


def _pull_cause(message: str) -> tuple[str, bool]:
    text = message.lower()
    if any(w in text for w in _PULL_UNREACHABLE):
        return "registry-unreachable", False
    if any(w in text for w in _PULL_DENIED):
        return "image-denied", True
    if any(w in text for w in _PULL_MISSING):
        return "image-missing", True
    return "other", False  # e.g. a layer that failed half-way: the kubelet retries


def pod_problems(pod: Obj, pull_errors: dict[str, str] | None = None) -> list[PodProblem]:
    """The containers of a pod that are in trouble, with the kubelet's reason and message, classified.

    A back-off (ImagePullBackOff) may carry only "Back-off pulling image X" (older kubelets); the pull error
    behind it is then taken from `pull_errors` ("pod/container" -> the last ErrImagePull message seen),
    which this function also fills in. A pod being deleted has no problems worth reporting.
    """
    meta, spec, status = pod.get("metadata") or {}, pod.get("spec") or {}, pod.get("status") or {}
    if meta.get("deletionTimestamp"):
        return []
    where = f"{meta.get('namespace', '')}/{meta.get('name', '')}"
    images = {
        c.get("name"): c.get("image", "")
        for c in (spec.get("initContainers") or []) + (spec.get("containers") or [])
    }
    memory = pull_errors if pull_errors is not None else {}
    found = []
    for c in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
        name = c.get("name", "")
        waiting = (c.get("state") or {}).get("waiting") or {}
        reason, message = waiting.get("reason") or "", (waiting.get("message") or "").strip()
        restarts = int(c.get("restartCount") or 0)
        image = images.get(name) or c.get("image", "")
        key = f"{where}/{name}"
        if reason == "ErrImagePull":
            memory[key] = message
            cause, final = _pull_cause(message)
        elif reason == "ImagePullBackOff":
            behind = message.partition(": ")[2] if ": " in message else memory.get(key, "")
            if behind and behind not in message:
                message = f"{message} (last pull error: {behind})"
            cause, final = _pull_cause(behind) if behind else ("other", False)
        elif reason == "ErrImageNeverPull":
            cause, final = "image-not-loaded", True
        elif reason == "InvalidImageName":
            cause, final = "bad-image-name", True
        elif reason == "CreateContainerConfigError":
            cause, final = "config", True
        elif reason == "CrashLoopBackOff":
            last = (c.get("lastState") or {}).get("terminated") or {}
            cause = "oom" if last.get("reason") == "OOMKilled" else "crash"
            final = restarts >= CRASH_LOOP_RESTARTS
            if last:
                message = (
                    f"last exit: {last.get('reason', '?')} (exit code {last.get('exitCode', '?')}); {message}"
                )
        elif reason in ("CreateContainerError", "RunContainerError"):
            cause, final = "other", False
        else:
            continue  # ContainerCreating, PodInitializing: on its way
        found.append(PodProblem(where, name, reason, message, cause, final, image, restarts))
    return found


def _kind_cluster(context: str | None) -> str:
    """The kind cluster behind a context ("kind-<name>"), for commands in fixes; "<cluster>" otherwise."""
    try:
        name = current_context(context)
    except KafkalabError:
        return "<cluster>"
    return name.removeprefix("kind-") if name.startswith("kind-") else "<cluster>"


def pod_fix(problem: PodProblem, context: str | None = None) -> str:
    """What to do about a pod problem, in words that fit its cause."""
    image, ns = problem.image or "IMAGE", problem.pod.partition("/")[0]
    offline = (
        f"in a room without network: `docker pull {image}` where there is network, then "
        f"`kind load docker-image {image} --name {_kind_cluster(context)}`"
    )
    pod = problem.pod.partition("/")[2]
    fixes = {
        "image-missing": f"the registry has no image {image}: check its name and tag in the manifest "
        f"(`docker pull {image}` shows the registry's answer)",
        "image-denied": f"the registry refused {image}: the name is wrong, or the image is private "
        "and the pod needs imagePullSecrets",
        "registry-unreachable": f"the node cannot reach the registry of {image} (network, proxy or DNS): "
        f"check the machine's network, then wait or re-run; {offline}",
        "image-not-loaded": f"imagePullPolicy is Never and {image} is not on the node: "
        f"`kind load docker-image {image} --name {_kind_cluster(context)}`",
        "bad-image-name": f"{image!r} is not a valid image reference: fix the image in the manifest",
        "config": "the container refers to something missing or impossible (the message names it: a Secret, "
        "a ConfigMap, a key, a securityContext): create it or fix the pod template",
        "crash": f"the container keeps exiting: read its last log lines below (`kubectl logs --previous "
        f"{pod} -c {problem.container} -n {ns}`)",
        "oom": "the container is killed for using more memory than its limit (OOMKilled): raise its memory "
        "limit (docs/troubleshooting.md: operator OOMKilled)",
    }
    return fixes.get(problem.cause) or (
        f"read the kubelet's message; `kubectl describe pod {pod} -n {ns}` shows the pod's events"
    )


def pod_status(pod: Obj) -> tuple[str, str]:
    """("0/1 ErrImagePull restarts=2", the kubelet's message or ""): a pod as `kubectl get pods` shows it."""
    meta, status = pod.get("metadata") or {}, pod.get("status") or {}
    statuses = status.get("containerStatuses") or []
    ready = sum(1 for c in statuses if c.get("ready"))
    total = len((pod.get("spec") or {}).get("containers") or statuses)
    restarts = sum(int(c.get("restartCount") or 0) for c in statuses)
    problems = pod_problems(pod)
    state = problems[0].reason if problems else status.get("reason") or status.get("phase") or "Pending"
    if state == "Pending":  # the kubelet's "ContainerCreating" says more than the phase
        for c in statuses:
            state = ((c.get("state") or {}).get("waiting") or {}).get("reason") or state
    if meta.get("deletionTimestamp"):
        state = "Terminating"
    text = f"{ready}/{total} {state}" + (f" restarts={restarts}" if restarts else "")
    if problems:
        message = problems[0].message
        if problems[0].cause == "registry-unreachable":
            message += " (the registry cannot be reached; the kubelet keeps retrying)"
        return text, message
    unscheduled = [
        c
        for c in status.get("conditions") or []
        if c.get("type") == "PodScheduled" and c.get("status") == "False"
    ]
    return text, (unscheduled[0].get("message") or "") if unscheduled else ""


def pod_line(pod: Obj) -> str:
    """ "name 0/1 ErrImagePull: <the kubelet's message>" — how diagnoses and progress lines show a pod."""
    state, message = pod_status(pod)
    return f"{(pod.get('metadata') or {}).get('name', '?')} {state}" + (f": {message}" if message else "")


class _Pods:
    """The pods a wait keeps an eye on: their latest states, and the first problem waiting cannot heal."""

    def __init__(self, selector: str, counts: Callable[[Obj], bool] | None = None):
        self.selector = selector
        self.counts = counts or (lambda pod: True)  # e.g. only the pods of a Deployment's newest ReplicaSet
        self.pods: dict[str, Obj] = {}
        self.pull_errors: dict[str, str] = {}

    def see(self, event: str, payload: Obj | list[Obj]) -> list[Obj]:
        """Take a watch event (or a fresh list); return the pods whose line changed."""
        if event == "LIST":
            before = {uid: pod_line(p) for uid, p in self.pods.items()}
            self.pods = {(p.get("metadata") or {}).get("uid", ""): p for p in payload}
            return [p for uid, p in self.pods.items() if before.get(uid) != pod_line(p)]
        uid = (payload.get("metadata") or {}).get("uid", "")
        if event == "DELETED":
            self.pods.pop(uid, None)
            return []
        old = self.pods.get(uid)
        self.pods[uid] = payload
        return [] if old is not None and pod_line(old) == pod_line(payload) else [payload]

    def problems(self) -> list[PodProblem]:
        found = []
        for pod in self.pods.values():
            found += pod_problems(pod, self.pull_errors)
        return found

    def final(self) -> PodProblem | None:
        """The first problem that waiting cannot heal, in a pod that counts."""
        for pod in self.pods.values():
            problem = next((p for p in pod_problems(pod, self.pull_errors) if p.final), None)
            if problem and self.counts(pod):
                return problem
        return None


class _PodBroken(Exception):
    """Internal: a watched pod failed for good."""

    def __init__(self, problem: PodProblem):
        super().__init__(str(problem))
        self.problem = problem


# ----------------------------------------------------------------------------------------------------
# Status, events, pods, logs, diagnosis


def conditions(obj: Obj | None) -> list[dict]:
    """status.conditions of an object ([] when it has none yet)."""
    return list(((obj or {}).get("status") or {}).get("conditions") or [])


def condition(obj: Obj | None, type: str) -> dict | None:  # noqa: A002 - the field is called "type"
    """The status condition of the given type, or None."""
    return next((c for c in conditions(obj) if c.get("type") == type), None)


_condition = condition  # wait_for_condition has a parameter named `condition`


def events(namespace: str, name: str | None = None, context: str | None = None) -> list[Obj]:
    """Events in a namespace (about the object `name` only, if given), oldest first."""
    res = _resource("v1", "Event", context)
    with _reachable(context):
        resp = _dynamic(context).get(
            res,
            namespace=namespace,
            field_selector=f"involvedObject.name={name}" if name else None,
            serialize=False,
            _request_timeout=REQUEST_TIMEOUT,
        )
    items = json.loads(resp.data).get("items") or []

    return sorted(items, key=_event_time)


def _event_time(e: Obj) -> datetime:
    # Events carry lastTimestamp (seconds) or eventTime (microseconds); compare them as times, not text.
    text = e.get("lastTimestamp") or e.get("eventTime") or (e.get("metadata") or {}).get("creationTimestamp")
    if not text:
        return datetime.min.replace(tzinfo=timezone.utc)
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def pods(namespace: str, label_selector: str | None = None, context: str | None = None) -> list[Obj]:
    """Pods in a namespace, optionally filtered by a label selector (e.g. "strimzi.io/cluster=my-cluster")."""
    return list_objects("v1", "Pod", namespace, label_selector, context)


def log_tail(
    pod: str,
    namespace: str,
    lines: int = 20,
    container: str | None = None,
    context: str | None = None,
    previous: bool = False,
) -> str:
    """The last `lines` lines of a pod's (container's) log; previous=True: the run before the last restart."""
    try:
        with _reachable(context):
            text = k8s.CoreV1Api(api(context)).read_namespaced_pod_log(
                pod,
                namespace,
                container=container,
                tail_lines=lines,
                previous=previous,
                _request_timeout=REQUEST_TIMEOUT,
            )
        return text or ""
    except ApiException as e:
        raise NotFound(
            f"no log for pod {namespace}/{pod}{' container ' + container if container else ''}: "
            f"{_server_message(e)}",
            obj=f"Pod {namespace}/{pod}",
            fix="the container may not have started yet; `kubectl describe pod` shows why",
        ) from None


@dataclass
class Diagnosis:
    """What a person looks at when a wait times out: conditions, recent events, last log lines."""

    obj: str
    conditions: list[dict] = field(default_factory=list)
    pods: list[str] = field(default_factory=list)  # pod_line() of each pod: state and the kubelet's message
    events: list[str] = field(default_factory=list)  # "HH:MM:SS type reason Kind/name: message", oldest first
    logs: dict[str, str] = field(default_factory=dict)  # "pod/container" -> last lines
    notes: list[str] = field(default_factory=list)  # what could not be found out, and why

    def __str__(self) -> str:
        out = [f"diagnosis of {self.obj}:", "  conditions:"]
        out += [
            f"    {c.get('type')}={c.get('status')} reason={c.get('reason', '')} {c.get('message', '')}"
            for c in self.conditions
        ] or ["    (none)"]
        if self.pods:
            out.append("  pods:")
            out += [f"    {p}" for p in self.pods]
        out.append("  recent events:")
        out += [f"    {e}" for e in self.events] or ["    (none)"]
        out.append("  logs:")
        for where, text in self.logs.items():
            out.append(f"    {where}:")
            out += [f"      {line}" for line in text.rstrip().splitlines()] or ["      (empty)"]
        if not self.logs:
            out.append("    (none)")
        out += [f"  note: {n}" for n in self.notes]
        return "\n".join(out)


def _event_line(e: Obj) -> str:
    involved = e.get("involvedObject") or {}
    when = _event_time(e).strftime("%H:%M:%S")
    count = f" (x{e['count']})" if (e.get("count") or 1) > 1 else ""
    return (
        f"{when} {e.get('type', '')} {e.get('reason', '')} "
        f"{involved.get('kind', '')}/{involved.get('name', '')}: "
        f"{(e.get('message') or '').strip()}{count}"
    )


def diagnose(
    api_version: str,
    kind: str,
    name: str,
    namespace: str | None,
    pod_selector: str | None = None,
    context: str | None = None,
    max_events: int = 10,
    log_lines: int = 20,
) -> Diagnosis:
    """Collect conditions, recent events (the object's and its pods') and pods' last log lines.

    Never raises for what it cannot read: it notes it instead, because it runs while reporting another error.
    For a Deployment without pod_selector, its own spec.selector picks the pods.
    """
    what = describe({"kind": kind, "metadata": {"name": name, "namespace": namespace}})
    d = Diagnosis(obj=what)
    obj = None
    try:
        obj = get(api_version, kind, name, namespace, context)
        if obj is None:
            d.notes.append(f"{what} does not exist")
        d.conditions = conditions(obj)
    except KafkalabError as e:
        d.notes.append(f"could not read {what}: {e.summary}")
    labels = (((obj or {}).get("spec") or {}).get("selector") or {}).get("matchLabels")
    if pod_selector is None and kind == "Deployment" and labels:
        pod_selector = ",".join(f"{k}={v}" for k, v in labels.items())
    found: list[Obj] = []
    if namespace and pod_selector:
        try:
            found = pods(namespace, pod_selector, context)
            if not found:
                d.notes.append(f"no pods match {pod_selector} in {namespace}")
        except KafkalabError as e:
            d.notes.append(f"could not list pods: {e.summary}")
    d.pods = [pod_line(p) for p in found]
    if namespace:
        # Events name the object they are about by kind, name and uid: match the uid, so the events of an
        # earlier object of the same name (deleted and made again) do not pass for this one's. Events that
        # carry no uid are matched by kind and name.
        uids = {(o.get("metadata") or {}).get("uid") for o in [obj, *found] if o} - {None}
        names = {(kind, name)} | {("Pod", p["metadata"]["name"]) for p in found}
        try:
            evs = [e for e in events(namespace, context=context) if _about(e, uids, names)]
            d.events = [_event_line(e) for e in evs[-max_events:]]
        except KafkalabError as e:
            d.notes.append(f"could not read events: {e.summary}")
    for p in found:
        pod = p["metadata"]["name"]
        statuses = {c["name"]: c for c in (p.get("status") or {}).get("containerStatuses") or []}
        for c in (p.get("spec") or {}).get("containers") or []:
            st = statuses.get(c["name"]) or {}
            waiting = "waiting" in (st.get("state") or {"waiting": {}})
            # A container waiting to restart (CrashLoopBackOff) has no log of its own yet: its previous
            # run's log says why it exited.
            previous = waiting and bool(st.get("restartCount"))
            if waiting and not previous:
                phase = (p.get("status") or {}).get("phase", "unknown")
                d.notes.append(f"logs unavailable for {pod}/{c['name']}: not started (pod {phase})")
                continue
            where = f"{pod}/{c['name']}" + (" (previous run)" if previous else "")
            try:
                d.logs[where] = log_tail(pod, namespace, log_lines, c["name"], context, previous=previous)
            except KafkalabError as e:
                d.notes.append(f"logs unavailable for {pod}/{c['name']}: {e.summary}")
    return d


def _about(event: Obj, uids: set[str], names: set[tuple[str, str]]) -> bool:
    involved = event.get("involvedObject") or {}
    if involved.get("uid"):
        return involved["uid"] in uids
    return (involved.get("kind"), involved.get("name")) in names
