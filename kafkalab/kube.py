"""The Kubernetes API, kubectl-shaped: apply, get, list, delete, watch-based waits and a diagnosis on timeout.

This module knows nothing of Strimzi or of widgets. Waits report every new state of the object they watch
through a `progress` callback, and whoever called them decides how to show it.

Objects travel as plain dicts (what `kubectl get -o json` prints), never as generated model classes, so a
notebook can print, index and change them without learning a client library.
"""

from __future__ import annotations

import copy
import json
import math
import os
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
    "Diagnosis",
    "api",
    "apply",
    "check_cluster",
    "condition",
    "conditions",
    "current_context",
    "delete",
    "delete_namespace",
    "describe",
    "diagnose",
    "ensure_namespace",
    "events",
    "get",
    "is_current",
    "list_objects",
    "load_yaml",
    "log_tail",
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
# Apply, get, list, delete


def apply(
    objs: Obj | Iterable[Obj], namespace: str | None = None, context: str | None = None, dry_run: bool = False
) -> list[Obj]:
    """Server-side apply each object (field manager "kafkalab", conflicts forced); return what was stored.

    Namespaced objects without metadata.namespace go to `namespace` (or the context's default namespace).
    If the server rejects an object (HTTP 4xx), the objects this call had created are deleted again and
    ManifestRejected is raised, so a half-applied manifest never stays behind; objects that existed before
    the call are left as they are. A kind the server does not serve raises NotFound before anything is
    applied. `dry_run=True` asks the server to validate without storing anything.
    """
    if isinstance(objs, dict):
        objs = [objs]
    dyn = _dynamic(context)
    # Resolve every kind and name before changing anything: an unknown kind (a missing CRD, an old
    # apiVersion) or a nameless object then stops the apply before its first object is created.
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
    applied: list[Obj] = []
    created: list[Obj] = []
    for res, body, name, ns in planned:
        existed = dry_run or _get(res, name, ns, context) is not None
        try:
            with _reachable(context):
                resp = dyn.server_side_apply(
                    res,
                    body=body,
                    name=name,
                    namespace=ns,
                    field_manager=FIELD_MANAGER,
                    force_conflicts=True,
                    dry_run="All" if dry_run else None,
                    serialize=False,
                    _request_timeout=REQUEST_TIMEOUT,
                )
        except ApiException as e:
            if not _is_rejection(e):
                raise
            undone = _undo(created, context)
            raise _rejected(body, e, undone) from None
        stored = _typed(json.loads(resp.data), res)
        applied.append(stored)
        if not existed:
            created.append(stored)
    return applied


def _is_rejection(e: ApiException) -> bool:
    """A 4xx, or the 500 server-side apply answers when a field has the wrong type for the schema."""
    if 400 <= (e.status or 0) < 500:
        return True
    return e.status == 500 and "failed to create typed patch object" in _server_message(e)


def _undo(created: list[Obj], context: str | None) -> str:
    if not created:
        return "nothing had been created by this apply"
    names = ", ".join(describe(o) for o in created)
    try:
        delete(list(reversed(created)), context=context, wait=True, timeout=UNDO_TIMEOUT)
    except KafkalabError as e:
        return f"tried to remove what this apply had created ({names}) but: {e.summary}"
    return f"removed what this apply had created: {names}"


def _rejected(body: Obj, e: ApiException, undone: str) -> ManifestRejected:
    what = describe(body)
    msg = _server_message(e)
    kind = body.get("kind", "").lower()
    fixes = {
        403: "you may not do this here: check RBAC (`kubectl auth can-i ...`); a namespace being deleted "
        "also refuses new objects",
        404: "create the namespace first (ensure_namespace) or install the CRD that defines this kind",
        409: "something else changed it at the same moment: apply again",
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


def _watch(
    res,
    name: str,
    namespace: str | None,
    done: Callable[[Obj | None], bool],
    deadline: float,
    progress: Progress | None,
    context: str | None,
) -> Obj | None:
    """Return the first state of one object (a dict, or None while absent) for which done(state) is true.

    List-then-watch: the list gives the current state and the resourceVersion to watch from, so no change
    can slip in between. The watch is bounded by the server (timeoutSeconds) and by `deadline`; when the
    server says our resourceVersion is too old (410 Gone) we list again and carry on.
    """
    dyn = _dynamic(context)
    selector = f"metadata.name={name}"
    last: Obj | None = None

    def see(state: Obj | None) -> bool:
        nonlocal last
        last = state
        if progress is not None:
            progress(state)
        if not done(state):
            return False
        finished = getattr(progress, "finished", None)  # e.g. display.Progress: closes its live table
        if finished is not None:
            finished(state)
        return True

    while True:
        with _reachable(context):
            resp = dyn.get(
                res,
                namespace=namespace,
                field_selector=selector,
                serialize=False,
                _request_timeout=REQUEST_TIMEOUT,
            )
        listed = json.loads(resp.data)
        items = listed.get("items") or []
        state = _typed(items[0], res) if items else None
        if see(state):
            return state
        version = listed["metadata"]["resourceVersion"]
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise _Expired(last)
                watcher = k8s_watch.Watch()
                with _reachable(context):
                    for event in dyn.watch(
                        res,
                        namespace=namespace,
                        name=name,
                        resource_version=version,
                        timeout=max(1, math.ceil(remaining)),
                        watcher=watcher,
                    ):
                        raw = event["raw_object"]
                        version = (raw.get("metadata") or {}).get("resourceVersion", version)
                        if event["type"] == "BOOKMARK":
                            continue
                        state = None if event["type"] == "DELETED" else _typed(raw, res)
                        if see(state):
                            watcher.stop()
                            return state
                        if time.monotonic() >= deadline:
                            watcher.stop()
                            break
        except ApiException as e:
            if e.status != 410:  # 410 Gone: our resourceVersion was compacted away; list again
                raise


def _failure(result: str | tuple[str, str] | None) -> tuple[str, str] | None:
    if not result:
        return None
    if isinstance(result, tuple):
        return result
    return "", result


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
) -> Obj:
    """Watch one object until ready(obj) is true and return it.

    failed(obj) returning a message (or a (reason, message) pair) raises ResourceFailed at once, so a broken
    resource fails in seconds instead of at the timeout. progress(obj or None) is called with each new state.
    On timeout raises WaitTimeout carrying diagnose(...) (conditions, recent events, pods' last log lines;
    pods chosen by pod_selector).
    """
    res = _resource(api_version, kind, context)
    ns = _namespace(res, namespace, context)
    what = describe({"kind": kind, "metadata": {"name": name, "namespace": ns}})

    def done(state: Obj | None) -> bool:
        if state is None:
            return False
        bad = _failure(failed(state)) if failed else None
        if bad:
            reason, message = bad
            raise ResourceFailed(
                f"{what} failed: {reason + ': ' if reason else ''}{message}",
                obj=what,
                reason=reason,
                message=message,
                fix=f"read the message above; `kubectl describe {kind.lower()} {name}"
                + (f" -n {ns}`" if ns else "`")
                + " shows the same status",
            )
        return ready(state)

    try:
        return _watch(res, name, ns, done, time.monotonic() + timeout, progress, context)
    except _Expired as e:
        state = "does not exist" if e.last is None else "is not ready"
        raise WaitTimeout(
            f"{what} {state} after {timeout:.0f}s",
            obj=what,
            fix="read the diagnosis below; if it is only slow (first image pulls), use a longer timeout",
            diagnosis=diagnose(api_version, kind, name, ns, pod_selector=pod_selector, context=context),
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
    """Wait until a Deployment's latest spec is rolled out: all replicas updated and available."""

    def ready(d: Obj) -> bool:
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

    return wait_for("apps/v1", "Deployment", name, namespace, ready, failed, timeout, progress, context)


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
    pod: str, namespace: str, lines: int = 20, container: str | None = None, context: str | None = None
) -> str:
    """The last `lines` lines of a pod's (container's) log."""
    try:
        with _reachable(context):
            text = k8s.CoreV1Api(api(context)).read_namespaced_pod_log(
                pod, namespace, container=container, tail_lines=lines, _request_timeout=REQUEST_TIMEOUT
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
    events: list[str] = field(default_factory=list)  # "HH:MM:SS type reason Kind/name: message", oldest first
    logs: dict[str, str] = field(default_factory=dict)  # "pod/container" -> last lines
    notes: list[str] = field(default_factory=list)  # what could not be found out, and why

    def __str__(self) -> str:
        out = [f"diagnosis of {self.obj}:", "  conditions:"]
        out += [
            f"    {c.get('type')}={c.get('status')} reason={c.get('reason', '')} {c.get('message', '')}"
            for c in self.conditions
        ] or ["    (none)"]
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
    if namespace:
        try:
            names = {name} | {p["metadata"]["name"] for p in found}
            evs = [
                e
                for e in events(namespace, context=context)
                if (e.get("involvedObject") or {}).get("name") in names
            ]
            d.events = [_event_line(e) for e in evs[-max_events:]]
        except KafkalabError as e:
            d.notes.append(f"could not read events: {e.summary}")
    for p in found:
        pod = p["metadata"]["name"]
        started = {
            c["name"]
            for c in (p.get("status") or {}).get("containerStatuses") or []
            if "waiting" not in c["state"]
        }
        for c in (p.get("spec") or {}).get("containers") or []:
            if c["name"] not in started:
                phase = (p.get("status") or {}).get("phase", "unknown")
                d.notes.append(f"logs unavailable for {pod}/{c['name']}: not started (pod {phase})")
                continue
            try:
                d.logs[f"{pod}/{c['name']}"] = log_tail(pod, namespace, log_lines, c["name"], context)
            except KafkalabError as e:
                d.notes.append(f"logs unavailable for {pod}/{c['name']}: {e.summary}")
    return d
