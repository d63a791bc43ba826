"""Strimzi: install the Cluster Operator, build and load Kafka resources, wait for them, read their status.

Written for Strimzi 1.2.0 (CRD API kafka.strimzi.io/v1, KRaft only, Kafka 4.3.1). Everything here goes
through kafkalab.kube; nothing here talks HTTP by itself except fetching the install YAML from a URL.
"""

from __future__ import annotations

import copy
import os
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from kafkalab import kube
from kafkalab.errors import KafkalabError, ManifestRejected, NotFound, ResourceFailed

__all__ = [
    "API_VERSION",
    "KAFKA_VERSION",
    "METADATA_VERSION",
    "OPERATOR_DEPLOYMENT",
    "RELEASE_URL",
    "STRIMZI_VERSION",
    "acl",
    "RESOURCE_KINDS",
    "bootstrap_servers",
    "cache_dir",
    "default_source",
    "delete_namespaces",
    "delete_resources",
    "ensure_kafka",
    "ensure_operator",
    "ensure_topic",
    "ensure_user",
    "external_listener",
    "fetch_release",
    "install_operator",
    "kafka",
    "load_manifest",
    "manifest_path",
    "manifests_dir",
    "node_pool",
    "operator_manifests",
    "strimzi_resources",
    "teardown",
    "topic",
    "uninstall_operator",
    "user",
    "verify_install",
    "wait_kafka_ready",
    "wait_topic_ready",
    "wait_user_ready",
]

STRIMZI_VERSION = "1.2.0"
KAFKA_VERSION = "4.3.1"
METADATA_VERSION = "4.3-IV0"
API_VERSION = "kafka.strimzi.io/v1"
RELEASE_URL = (
    f"https://github.com/strimzi/strimzi-kafka-operator/releases/download/{STRIMZI_VERSION}/"
    f"strimzi-cluster-operator-{STRIMZI_VERSION}.yaml"
)
OPERATOR_DEPLOYMENT = "strimzi-cluster-operator"
# Environment variable naming a local install source (air-gapped rooms), used wherever none is given.
SOURCE_ENV = "KAFKALAB_STRIMZI_SOURCE"
# The CRDs kafkalab creates objects of; each must serve API_VERSION.
_REQUIRED_CRDS = ("kafkas", "kafkanodepools", "kafkatopics", "kafkausers")
OPERATOR_IMAGE = f"quay.io/strimzi/operator:{STRIMZI_VERSION}"

# The namespace Strimzi's install files are written for; the operator's namespace replaces it.
_UPSTREAM_NAMESPACE = "myproject"
# Download of the install YAML: long enough for a slow workshop network, short enough to fail visibly.
_FETCH_TIMEOUT = 60
# Kinds in Strimzi's install files that are not namespaced (everything else gets the operator's namespace).
_CLUSTER_SCOPED = {"ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "Namespace"}
# The ClusterRoles the operator needs in every namespace it watches (RoleBindings 020, 023 and 031), and
# the names Strimzi's docs give the ClusterRoleBindings when it watches all namespaces ("*").
_WATCHED_ROLES = {
    "strimzi-cluster-operator-namespaced": "strimzi-cluster-operator-namespaced",
    "strimzi-cluster-operator-watched": "strimzi-cluster-operator-watched",
    "strimzi-entity-operator": "strimzi-cluster-operator-entity-operator-delegation",
}

# Node ports of the external listener; manifests/kind-config.yaml maps exactly these to 127.0.0.1.
BOOTSTRAP_NODE_PORT = 32100
BROKER_NODE_PORT_BASE = 32000

Obj = dict[str, Any]


# ----------------------------------------------------------------------------------------------------
# Installing the Cluster Operator


def cache_dir() -> Path:
    """Where the downloaded install YAML is kept: $KAFKALAB_CACHE/strimzi/<version> (~/.cache/kafkalab)."""
    root = os.environ.get("KAFKALAB_CACHE") or Path.home() / ".cache" / "kafkalab"
    return Path(root).expanduser() / "strimzi" / STRIMZI_VERSION


def default_source() -> str:
    """The install source to use when none is given: $KAFKALAB_STRIMZI_SOURCE, else the release URL
    (downloaded once into cache_dir(), then read from there, offline too)."""
    return os.environ.get(SOURCE_ENV) or RELEASE_URL


def verify_install(objs: list[Obj], origin: str | Path) -> None:
    """Raise unless `objs` are Strimzi STRIMZI_VERSION's Cluster Operator install: the operator image is
    tagged with the version and the CRDs kafkalab uses serve API_VERSION."""
    _check_operator_version(objs, origin)
    group, version = API_VERSION.split("/")
    served = {
        o["metadata"]["name"]: [v["name"] for v in o.get("spec", {}).get("versions", []) if v.get("served")]
        for o in objs
        if o.get("kind") == "CustomResourceDefinition"
    }
    wrong = [
        f"{plural}.{group} ({', '.join(served.get(f'{plural}.{group}') or ['missing'])})"
        for plural in _REQUIRED_CRDS
        if version not in served.get(f"{plural}.{group}", [])
    ]
    if wrong:
        raise KafkalabError(
            f"{origin} does not serve {API_VERSION} for: {'; '.join(wrong)}",
            obj=str(origin),
            fix=f"use Strimzi {STRIMZI_VERSION}'s own install YAML ({RELEASE_URL})",
        )


def fetch_release(url: str = RELEASE_URL) -> Path:
    """The install YAML at `url` as a local file: from cache_dir() when it is there, else downloaded,
    verified (verify_install) and stored there for every later use, offline included."""
    target = cache_dir() / (url.rstrip("/").rpartition("/")[2] or "install.yaml")
    if target.is_file():
        return target  # verified before it was stored
    fix = (
        f"offline or air-gapped: set {SOURCE_ENV} (or strimzi_source / --strimzi-source) to a local copy — "
        f"the release's strimzi-cluster-operator-{STRIMZI_VERSION}.yaml or its install/cluster-operator "
        f"directory — or put that file at {target}"
    )
    try:
        with urllib.request.urlopen(url, timeout=_FETCH_TIMEOUT) as resp:
            data = resp.read()
    except (urllib.error.URLError, TimeoutError, OSError, ValueError) as e:
        why = getattr(e, "reason", e)
        raise NotFound(
            f"cannot download the Strimzi {STRIMZI_VERSION} install YAML from {url}: {why}", obj=url, fix=fix
        ) from None
    try:
        objs = kube.load_yaml(data.decode())
    except Exception as e:  # noqa: BLE001 - whatever the parser says, the download is not an install YAML
        raise KafkalabError(
            f"what {url} returned is not YAML ({type(e).__name__}: {str(e)[:200]})", obj=url, fix=fix
        ) from None
    verify_install(objs, url)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.write_bytes(data)
    partial.replace(target)  # atomic: a killed download never leaves a file that looks complete
    return target


def _read_source(source: str | Path) -> list[Obj]:
    text = str(source)
    if text.startswith(("http://", "https://")):
        return kube.load_yaml(fetch_release(text))
    path = Path(source).expanduser()
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml"))
        if not files:
            raise NotFound(
                f"no YAML files in {path}", obj=str(path), fix="point source= at install/cluster-operator"
            )
        return [obj for f in files for obj in kube.load_yaml(f)]
    if path.is_file():
        return kube.load_yaml(path)
    raise NotFound(
        f"Strimzi install source {text} is neither a URL, a YAML file nor a directory",
        obj=text,
        fix=f"pass source= the release URL ({RELEASE_URL}) or a local copy of it (or set {SOURCE_ENV})",
    )


def _operator_container(objs: list[Obj], source: str | Path) -> dict:
    for obj in objs:
        if obj.get("kind") == "Deployment" and obj["metadata"].get("name") == OPERATOR_DEPLOYMENT:
            for c in obj["spec"]["template"]["spec"]["containers"]:
                if c.get("name") == OPERATOR_DEPLOYMENT:
                    return c
    raise KafkalabError(
        f"{source} has no Deployment {OPERATOR_DEPLOYMENT}: it is not a Strimzi Cluster Operator install",
        obj=str(source),
        fix=f"use strimzi-cluster-operator-{STRIMZI_VERSION}.yaml or the release's install/cluster-operator",
    )


def _check_operator_version(objs: list[Obj], origin: str | Path) -> dict:
    """The operator's container, after checking its image is tagged STRIMZI_VERSION."""
    container = _operator_container(objs, origin)
    image = container.get("image", "")
    if image.rpartition(":")[2] != STRIMZI_VERSION:
        raise KafkalabError(
            f"{origin} installs Strimzi {image.rpartition(':')[2] or '?'} ({image}); kafkalab is written for "
            f"Strimzi {STRIMZI_VERSION}",
            obj=str(origin),
            fix=f"use source={RELEASE_URL!r} or a local copy of that release",
        )
    return container


def operator_manifests(
    namespace: str = "strimzi",
    watch_namespaces: Sequence[str] = ("kafka",),
    source: str | Path = RELEASE_URL,
    memory_limit: str = "768Mi",
) -> list[Obj]:
    """The operator's install objects, rewritten for this install (what install_operator applies).

    - every namespaced object, and every RoleBinding/ClusterRoleBinding subject, moves from Strimzi's
      placeholder namespace `myproject` to `namespace` (what old guides did with `sed`);
    - env STRIMZI_NAMESPACE on the operator lists the watched namespaces;
    - each watched namespace gets the RoleBindings 020, 023 and 031 (for "*": ClusterRoleBindings);
    - the operator's memory is raised to `memory_limit` (Strimzi's 384Mi is known to OOM on laptops).
    """
    if isinstance(watch_namespaces, str):
        watch_namespaces = [n for n in watch_namespaces.split(",") if n]
    objs = copy.deepcopy(_read_source(source))
    container = _check_operator_version(objs, source)
    bindings = []
    for obj in objs:
        meta = obj.setdefault("metadata", {})
        if obj.get("kind") not in _CLUSTER_SCOPED:
            meta["namespace"] = namespace
        for subject in obj.get("subjects") or []:
            if subject.get("namespace") == _UPSTREAM_NAMESPACE:
                subject["namespace"] = namespace
        if obj.get("kind") == "RoleBinding" and obj.get("roleRef", {}).get("name") in _WATCHED_ROLES:
            bindings.append(obj)

    container["env"] = [e for e in container.get("env") or [] if e.get("name") != "STRIMZI_NAMESPACE"]
    container["env"].insert(0, {"name": "STRIMZI_NAMESPACE", "value": ",".join(watch_namespaces)})
    resources = container.setdefault("resources", {})
    # Request what we limit (as Strimzi's own file does): the operator is then never the first to be evicted.
    resources.setdefault("limits", {})["memory"] = memory_limit
    resources.setdefault("requests", {})["memory"] = memory_limit

    extra = []
    for watched in watch_namespaces:
        if watched == namespace:
            continue  # the files already bind the operator in its own namespace
        for rb in bindings:
            copied = copy.deepcopy(rb)
            if watched == "*":
                copied["kind"] = "ClusterRoleBinding"
                copied["metadata"]["name"] = _WATCHED_ROLES[rb["roleRef"]["name"]]
                copied["metadata"].pop("namespace", None)
            else:
                copied["metadata"]["namespace"] = watched
            extra.append(copied)
    return objs + extra


def _crd_names(objs: Iterable[Obj]) -> list[str]:
    return [o["metadata"]["name"] for o in objs if o.get("kind") == "CustomResourceDefinition"]


def _foreign_shared(objs: list[Obj], context: str | None) -> set[str]:
    """Cluster-wide install objects that exist and are not kafkalab's (CRDs someone installed, another
    install's ClusterRoles): the install uses them as they are and never changes or deletes them."""
    foreign = set()
    for obj in objs:
        if obj.get("kind") in _CLUSTER_SCOPED:
            existing = kube.get(obj["apiVersion"], obj["kind"], obj["metadata"]["name"], context=context)
            if existing is not None and not kube.is_marked(existing):
                foreign.add(kube.describe(obj))
    return foreign


def install_operator(
    namespace: str = "strimzi",
    watch_namespaces: Sequence[str] = ("kafka",),
    source: str | Path = RELEASE_URL,
    memory_limit: str = "768Mi",
    timeout: float = 300,
    progress: kube.Progress | None = None,
    context: str | None = None,
    _precondition: Obj | None = None,
) -> Obj:
    """Install (or update) the Strimzi Cluster Operator and wait until it is rolled out; idempotent.

    Creates `namespace` and the watched namespaces, applies the rewritten install objects (see
    operator_manifests): first everything but the Deployment (the watched namespaces' RoleBindings among
    them: the operator exits if it watches a namespace it has no rights in), then the Deployment. Waits for
    the CRDs to be served and for Deployment strimzi-cluster-operator to roll out. Returns the Deployment.
    Cluster-wide objects that exist and are not kafkalab's (CRDs installed by someone else) are used as
    they are; a namespaced one that is not kafkalab's (someone's operator) stops the install:
    ManifestRejected.
    """
    objs = operator_manifests(namespace, watch_namespaces, source, memory_limit)
    for ns in [namespace, *watch_namespaces]:
        if ns != "*":
            kube.ensure_namespace(ns, context=context)
    foreign = _foreign_shared(objs, context)
    objs = [o for o in objs if kube.describe(o) not in foreign]
    deployment = [o for o in objs if o.get("kind") == "Deployment"]
    if _precondition is not None:
        # Widening a running operator: fail (409) rather than drop a namespace someone added meanwhile.
        for d in deployment:
            d["metadata"]["resourceVersion"] = _precondition["metadata"]["resourceVersion"]
    kube.apply([o for o in objs if o.get("kind") != "Deployment"], context=context)
    kube.apply(deployment, context=context)
    for crd in _crd_names(objs):
        # A CRD answers only once Established; a Kafka applied before that gets a 404.
        kube.wait_for_condition(
            "apiextensions.k8s.io/v1",
            "CustomResourceDefinition",
            crd,
            None,
            condition="Established",
            timeout=60,
            fail_on=(),
            context=context,
        )
    return kube.wait_for_rollout(
        OPERATOR_DEPLOYMENT, namespace, timeout=timeout, progress=progress, context=context
    )


# The kinds of Strimzi resources a person makes (StrimziPodSets are the operator's, owned by a Kafka).
RESOURCE_KINDS = (
    "Kafka",
    "KafkaNodePool",
    "KafkaTopic",
    "KafkaUser",
    "KafkaConnect",
    "KafkaConnector",
    "KafkaMirrorMaker2",
    "KafkaBridge",
    "KafkaRebalance",
)


def strimzi_resources(
    namespace: str | None = None, kinds: Sequence[str] = RESOURCE_KINDS, context: str | None = None
) -> list[Obj]:
    """Strimzi resources of these kinds in a namespace (None: every namespace); [] for kinds not served."""
    found = []
    for kind in kinds:
        try:
            found += kube.list_objects(API_VERSION, kind, namespace, context=context)
        except NotFound:
            continue  # its CRD is not installed: nothing of that kind can exist
    return found


def delete_resources(
    namespace: str,
    kinds: Sequence[str],
    cluster: str | None = None,
    timeout: float = 300,
    context: str | None = None,
) -> kube.Cleanup:
    """Delete the Strimzi resources of these kinds that kafkalab made in `namespace` (of Kafka `cluster`
    only, if given) and wait until they are gone, their finalizers included; others stay, with the reason.

    Order matters (notebook 99): KafkaUser and KafkaTopic first, while the Topic Operator still runs to
    release its finalizer; then Kafka and KafkaNodePool.
    """
    objs = []
    for obj in strimzi_resources(namespace, kinds, context):
        meta = obj["metadata"]
        parent = (
            meta["name"] if obj["kind"] == "Kafka" else (meta.get("labels") or {}).get("strimzi.io/cluster")
        )
        if cluster is None or parent == cluster:
            objs.append(obj)
    return kube.delete_owned(objs, context=context, timeout=timeout)


def _remaining_kafkas(watched: Sequence[str], context: str | None) -> list[Obj]:
    """Kafka resources that still exist in the namespaces an operator watches ("*": all)."""
    if "*" in watched:
        return strimzi_resources(None, ("Kafka",), context)
    return [k for ns in watched for k in strimzi_resources(ns, ("Kafka",), context)]


def _set_watched(deployment: Obj, namespaces: Sequence[str], timeout: float, context: str | None) -> None:
    """Change the running operator's STRIMZI_NAMESPACE (and nothing else) and wait for the rollout."""
    dep = copy.deepcopy(deployment)
    for c in dep["spec"]["template"]["spec"]["containers"]:
        for e in c.get("env") or []:
            if e.get("name") == "STRIMZI_NAMESPACE":
                e.pop("valueFrom", None)
                e["value"] = ",".join(namespaces)
    # resourceVersion as read: fails (409) rather than undo another learner's change made meanwhile.
    kube.replace(dep, context=context)
    kube.wait_for_rollout(OPERATOR_DEPLOYMENT, dep["metadata"]["namespace"], timeout, context=context)


def uninstall_operator(
    namespace: str = "strimzi",
    watch_namespaces: Sequence[str] = ("kafka",),
    source: str | Path | None = None,
    delete_crds: bool = False,
    timeout: float = 120,
    context: str | None = None,
) -> kube.Cleanup:
    """Remove the Cluster Operator install_operator installed (namespaces stay); return what went and stayed.

    Only an operator kafkalab installed is touched. While a Kafka still exists in any namespace it watches
    (another learner's, on a shared cluster), it stays: it only stops watching `watch_namespaces`
    (STRIMZI_NAMESPACE first, then their RoleBindings), so the others' clusters keep their operator.
    Without `source`, finds Strimzi's objects by their label app=strimzi (nothing to download); with it,
    deletes exactly what that source would install. Only marked objects are deleted. Cluster-wide RBAC and
    CRDs stay while any Strimzi resource or another operator exists anywhere in the cluster; CRDs stay
    anyway unless delete_crds=True (deleting a CRD deletes every resource of that kind in the cluster).
    """
    if isinstance(watch_namespaces, str):
        watch_namespaces = [n for n in watch_namespaces.split(",") if n]
    dep = kube.get("apps/v1", "Deployment", OPERATOR_DEPLOYMENT, namespace, context)
    what = f"Deployment {namespace}/{OPERATOR_DEPLOYMENT}"
    if dep is not None and not kube.is_marked(dep):
        return kube.Cleanup(
            kept=[f"{what}: not installed by kafkalab (owner: {kube.owner(dep)}), so it stays"]
        )
    if dep is not None:
        watched = _operator_watches(dep) or []
        remaining = _remaining_kafkas(watched, context)
        # Stop watching our namespaces only where no Kafka is left (one kafkalab did not make may be).
        busy = {k["metadata"]["namespace"] for k in remaining}
        ours = [n for n in watch_namespaces if n in watched and n not in ("*", namespace, *busy)]
        others = [n for n in watched if n not in ours]
        if remaining:
            serves = ", ".join(map(kube.describe, remaining))
            result = kube.Cleanup(kept=[f"{what}: still serves {serves}, so it stays"])
            if ours and "*" not in watched:
                _set_watched(dep, others, timeout, context)
                result += kube.delete_owned(_bindings_for(ours, namespace, context), context=context)
                result.kept[0] += f"; it no longer watches {', '.join(ours)}"
            return result
    if source is not None:
        objs = operator_manifests(namespace, watch_namespaces, source)
    else:
        where = [(kind, namespace) for kind in ("Deployment", "ConfigMap", "ServiceAccount", "RoleBinding")]
        where += [("RoleBinding", ns) for ns in watch_namespaces if ns not in ("*", namespace)]
        where += [("ClusterRoleBinding", None), ("ClusterRole", None), ("CustomResourceDefinition", None)]
        versions = {"Deployment": "apps/v1", "ConfigMap": "v1", "ServiceAccount": "v1"}
        versions["CustomResourceDefinition"] = "apiextensions.k8s.io/v1"
        objs = []
        for kind, ns in where:
            if ns is not None and kube.get("v1", "Namespace", ns, context=context) is None:
                continue
            api_version = versions.get(kind, "rbac.authorization.k8s.io/v1")
            objs += kube.list_objects(api_version, kind, ns, "app=strimzi", context)
        objs = [
            o for o in objs if o.get("kind") != "Deployment" or o["metadata"]["name"] == OPERATOR_DEPLOYMENT
        ]
    if not delete_crds:
        objs = [o for o in objs if o.get("kind") != "CustomResourceDefinition"]
    other_operators = [
        d
        for d in kube.list_objects("apps/v1", "Deployment", context=context)
        if d["metadata"]["name"] == OPERATOR_DEPLOYMENT and d["metadata"]["namespace"] != namespace
    ]
    kept = []
    if other_operators or strimzi_resources(None, context=context):
        # Cluster-wide RBAC and CRDs serve every operator and every Strimzi resource in the cluster.
        if any(o.get("kind") in _CLUSTER_SCOPED for o in objs):
            kept.append(
                "cluster-wide ClusterRoles, ClusterRoleBindings and CRDs: other Strimzi operators or "
                "resources in the cluster still use them"
            )
        objs = [o for o in objs if o.get("kind") not in _CLUSTER_SCOPED]
    # The Deployment first, so no operator is left running with half its rights.
    objs.sort(key=lambda o: o.get("kind") != "Deployment")
    result = kube.delete_owned(objs, context=context, timeout=timeout)
    result.kept += kept
    return result


def delete_namespaces(
    namespaces: Sequence[str], operator_namespace: str, timeout: float = 300, context: str | None = None
) -> kube.Cleanup:
    """Delete those of the namespaces kafkalab created and that hold nothing of anyone else's, in order.

    The operator's namespace stays while kafkalab's operator still runs there (it serves other namespaces).
    """
    result = kube.Cleanup()
    for ns in dict.fromkeys(namespaces):
        if ns == operator_namespace and kube.get("apps/v1", "Deployment", OPERATOR_DEPLOYMENT, ns, context):
            result.kept.append(f"Namespace {ns}: the Strimzi operator in it still runs, so it stays")
            continue
        result += kube.delete_namespace_if_ours(ns, context=context, timeout=timeout)
    return result


def teardown(
    namespace: str,
    operator_namespace: str,
    source: str | Path | None = None,
    timeout: float = 300,
    context: str | None = None,
) -> Iterator[tuple[str, kube.Cleanup]]:
    """Delete what kafkalab made for `namespace`, step by step in the order Strimzi needs (notebook 99 does
    the same, cell by cell); yields (step, what went and what stayed) as each step finishes.

    Only kafkalab's objects go; a namespace goes only if kafkalab created it and nothing else is in it.
    """
    yield "users and topics", delete_resources(namespace, _FIRST_KINDS, timeout=timeout, context=context)
    rest = [k for k in RESOURCE_KINDS if k not in _FIRST_KINDS]
    yield "Kafka clusters and node pools", delete_resources(namespace, rest, timeout=timeout, context=context)
    yield (
        "operator",
        uninstall_operator(operator_namespace, (namespace,), source, timeout=timeout, context=context),
    )
    namespaces = (namespace, operator_namespace)
    yield "namespaces", delete_namespaces(namespaces, operator_namespace, timeout, context)


# Deleted before their Kafka: topics carry the Topic Operator's finalizer (released only while it runs);
# users, connectors and rebalances are about a running cluster too.
_FIRST_KINDS = ("KafkaUser", "KafkaTopic", "KafkaConnector", "KafkaRebalance")


def _operator_watches(deployment: Obj) -> list[str] | None:
    for c in deployment["spec"]["template"]["spec"]["containers"]:
        for e in c.get("env") or []:
            if e.get("name") == "STRIMZI_NAMESPACE":
                if "value" in e:
                    return [n.strip() for n in e["value"].split(",") if n.strip()]
                return [deployment["metadata"]["namespace"]]  # valueFrom metadata.namespace: its own
    return None


def _bindings_for(watched: Sequence[str], operator_namespace: str, context: str | None) -> list[Obj]:
    """The RoleBindings 020, 023 and 031 for each watched namespace, copied from the operator's own
    namespace (where the install put them), so a running operator can be widened without the source."""
    own = kube.list_objects(
        "rbac.authorization.k8s.io/v1", "RoleBinding", operator_namespace, "app=strimzi", context
    )
    templates = [rb for rb in own if rb.get("roleRef", {}).get("name") in _WATCHED_ROLES]
    copies = []
    for ns in watched:
        if ns in ("*", operator_namespace):
            continue
        for rb in templates:
            meta = rb["metadata"]
            copies.append(
                {
                    "apiVersion": "rbac.authorization.k8s.io/v1",
                    "kind": "RoleBinding",
                    "metadata": {
                        "name": meta["name"],
                        "namespace": ns,
                        "labels": dict(meta.get("labels") or {}),
                    },
                    "subjects": copy.deepcopy(rb["subjects"]),
                    "roleRef": copy.deepcopy(rb["roleRef"]),
                }
            )
    return copies


def _missing_bindings(watched: Sequence[str], operator_namespace: str, context: str | None) -> list[Obj]:
    return [
        rb
        for rb in _bindings_for(watched, operator_namespace, context)
        if kube.get(
            "rbac.authorization.k8s.io/v1",
            "RoleBinding",
            rb["metadata"]["name"],
            rb["metadata"]["namespace"],
            context,
        )
        is None
    ]


def ensure_operator(
    namespace: str = "strimzi",
    watch_namespaces: Sequence[str] = ("kafka",),
    source: str | Path = RELEASE_URL,
    memory_limit: str = "768Mi",
    timeout: float = 300,
    progress: kube.Progress | None = None,
    context: str | None = None,
) -> Obj:
    """Make sure an operator of this Strimzi version runs in `namespace` and watches `watch_namespaces`.

    Reuses a running one (without downloading anything), recreating the watched namespaces' RoleBindings
    of kafkalab's own install if they went missing. Otherwise installs it, or widens kafkalab's running
    operator keeping the namespaces it already watched (on a shared cluster: the other learners'):
    RoleBindings first, then STRIMZI_NAMESPACE. An operator kafkalab did not install is used only if it
    already watches `watch_namespaces`; kafkalab never changes it.
    """
    if isinstance(watch_namespaces, str):
        watch_namespaces = [n for n in watch_namespaces.split(",") if n]
    for attempt in range(5):
        dep = kube.get("apps/v1", "Deployment", OPERATOR_DEPLOYMENT, namespace, context)
        if dep is None:
            return install_operator(
                namespace, watch_namespaces, source, memory_limit, timeout, progress, context
            )
        what = f"Deployment {namespace}/{OPERATOR_DEPLOYMENT}"
        images = [c.get("image") for c in dep["spec"]["template"]["spec"]["containers"]]
        watched = _operator_watches(dep) or []
        covered = "*" in watched or set(watch_namespaces) <= set(watched)
        if not kube.is_marked(dep):
            missing = [] if "*" in watched else _missing_bindings(watch_namespaces, namespace, context)
            if OPERATOR_IMAGE in images and covered and not missing:
                return kube.wait_for_rollout(OPERATOR_DEPLOYMENT, namespace, timeout, progress, context)
            need = ", ".join(n for n in watch_namespaces if n not in watched) or "(all watched)"
            raise KafkalabError(
                f"the Strimzi operator {what} was not installed by kafkalab (owner: {kube.owner(dep)}) and "
                f"does not serve {', '.join(watch_namespaces)} as needed (image {', '.join(images)}; watches "
                f"{', '.join(watched) or '?'}; missing: {need}"
                + (
                    f"; RoleBindings missing: {', '.join(kube.describe(b) for b in missing)}"
                    if missing
                    else ""
                )
                + "); kafkalab does not change it",
                obj=what,
                fix="ask its owner to add the namespace to STRIMZI_NAMESPACE (RoleBindings 020/023/031 "
                "in it first), or use an operator of your own: operator_namespace=<another namespace>",
            )
        for ns in watch_namespaces:
            if ns != "*":
                kube.ensure_namespace(ns, context=context)
        if OPERATOR_IMAGE in images and covered:
            missing = [] if "*" in watched else _missing_bindings(watched, namespace, context)
            if (
                missing
            ):  # someone deleted them (or a watched namespace was re-created): the operator needs them
                kube.apply(missing, context=context)
            return kube.wait_for_rollout(OPERATOR_DEPLOYMENT, namespace, timeout, progress, context)
        wanted = (
            watch_namespaces
            if "*" in watch_namespaces
            else list(dict.fromkeys([*watched, *watch_namespaces]))
        )
        try:
            return install_operator(
                namespace, wanted, source, memory_limit, timeout, progress, context, _precondition=dep
            )
        except ManifestRejected as e:
            if e.status != 409 or attempt == 4:
                raise
            # Another learner widened it at the same moment: read it again and add ours to theirs.
    raise AssertionError("unreachable")


# ----------------------------------------------------------------------------------------------------
# Builders: the same resources as manifests/, as dicts a notebook can change


def _meta(name: str, namespace: str | None, cluster: str | None = None) -> Obj:
    meta: Obj = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    if cluster:
        meta["labels"] = {"strimzi.io/cluster": cluster}
    return meta


def external_listener(brokers: int = 1, tls: bool = False, authentication: str | None = None) -> Obj:
    """The `external` nodeport listener on the pinned ports of manifests/kind-config.yaml.

    Broker n is advertised as localhost:32000+n, so a client on the laptop can reach every broker.
    """
    listener: Obj = {
        "name": "external",
        "port": 9094,
        "type": "nodeport",
        "tls": tls,
        "configuration": {
            "bootstrap": {"nodePort": BOOTSTRAP_NODE_PORT},
            "brokers": [
                {
                    "broker": n,
                    "nodePort": BROKER_NODE_PORT_BASE + n,
                    "advertisedHost": "localhost",
                    "advertisedPort": BROKER_NODE_PORT_BASE + n,
                }
                for n in range(brokers)
            ],
        },
    }
    if authentication:
        listener["authentication"] = {"type": authentication}
    return listener


def kafka(
    name: str,
    namespace: str | None = None,
    replicas: int = 1,
    listeners: list[Obj] | None = None,
    authentication: str | None = None,
    authorization: str | None = None,
    config: dict | None = None,
    version: str = KAFKA_VERSION,
    metadata_version: str = METADATA_VERSION,
    entity_operator: bool = True,
) -> Obj:
    """A Kafka resource like manifests/kafka-*.yaml (it still needs a node_pool with the same cluster name).

    `replicas` is the number of brokers you will give it (it sizes the replication defaults and the
    external listener's broker ports). authentication="scram-sha-512" puts SCRAM on every listener;
    authorization="simple" turns on Kafka ACLs (needed for KafkaUser ACLs).
    """
    if listeners is None:
        listeners = [
            {"name": "plain", "port": 9092, "type": "internal", "tls": False},
            {"name": "tls", "port": 9093, "type": "internal", "tls": True},
            external_listener(replicas),
        ]
    listeners = copy.deepcopy(listeners)
    if authentication:
        for listener in listeners:
            listener["authentication"] = {"type": authentication}
    copies = min(replicas, 3)
    min_isr = 2 if copies >= 3 else 1
    settings = {
        "offsets.topic.replication.factor": copies,
        "transaction.state.log.replication.factor": copies,
        "transaction.state.log.min.isr": min_isr,
        "default.replication.factor": copies,
        "min.insync.replicas": min_isr,
        **(config or {}),
    }
    spec: Obj = {
        "kafka": {
            "version": version,
            "metadataVersion": metadata_version,
            "listeners": listeners,
            "config": settings,
        }
    }
    if authorization:
        spec["kafka"]["authorization"] = {"type": authorization}
    if entity_operator:
        small = {"requests": {"memory": "256Mi", "cpu": "100m"}, "limits": {"memory": "256Mi"}}
        spec["entityOperator"] = {
            "topicOperator": {"resources": copy.deepcopy(small)},
            "userOperator": {"resources": copy.deepcopy(small)},
        }
    return {"apiVersion": API_VERSION, "kind": "Kafka", "metadata": _meta(name, namespace), "spec": spec}


def node_pool(
    name: str,
    cluster: str,
    roles: Sequence[str] = ("controller", "broker"),
    replicas: int = 1,
    namespace: str | None = None,
    memory: str = "768Mi",
    heap: str = "384m",
    cpu_request: str = "250m",
) -> Obj:
    """A KafkaNodePool of `cluster` with ephemeral storage (see manifests/kafka-single-node.yaml for why)."""
    return {
        "apiVersion": API_VERSION,
        "kind": "KafkaNodePool",
        "metadata": _meta(name, namespace, cluster),
        "spec": {
            "replicas": replicas,
            "roles": list(roles),
            "storage": {"type": "ephemeral"},
            "resources": {"requests": {"memory": memory, "cpu": cpu_request}, "limits": {"memory": memory}},
            "jvmOptions": {"-Xms": heap, "-Xmx": heap},
        },
    }


def topic(
    name: str,
    cluster: str,
    partitions: int = 3,
    replicas: int = 1,
    config: dict | None = None,
    namespace: str | None = None,
) -> Obj:
    """A KafkaTopic (labelled with its cluster: without the label the Topic Operator ignores it)."""
    spec: Obj = {"partitions": partitions, "replicas": replicas}
    if config:
        spec["config"] = dict(config)
    return {
        "apiVersion": API_VERSION,
        "kind": "KafkaTopic",
        "metadata": _meta(name, namespace, cluster),
        "spec": spec,
    }


def acl(
    resource_type: str, name: str, operations: Sequence[str], pattern: str = "literal", host: str = "*"
) -> Obj:
    """One ACL rule for user(acls=...), e.g. acl("topic", "orders", ["Describe", "Read"])."""
    return {
        "resource": {"type": resource_type, "name": name, "patternType": pattern},
        "operations": list(operations),
        "host": host,
    }


def user(
    name: str,
    cluster: str,
    authentication: str = "scram-sha-512",
    acls: list[Obj] | None = None,
    namespace: str | None = None,
) -> Obj:
    """A KafkaUser; with acls it gets `authorization: simple` (the Kafka must have authorization enabled)."""
    spec: Obj = {"authentication": {"type": authentication}}
    if acls is not None:
        spec["authorization"] = {"type": "simple", "acls": copy.deepcopy(acls)}
    return {
        "apiVersion": API_VERSION,
        "kind": "KafkaUser",
        "metadata": _meta(name, namespace, cluster),
        "spec": spec,
    }


# ----------------------------------------------------------------------------------------------------
# The manifests/ folder


def manifests_dir() -> Path:
    """Where kafkalab's YAML lives: kafkalab/manifests in an installed package, else the repo's manifests/."""
    packaged = Path(__file__).parent / "manifests"
    return packaged if packaged.is_dir() else Path(__file__).resolve().parent.parent / "manifests"


def manifest_path(file: str | Path) -> Path:
    """The path of a file in manifests/ (or `file` itself when it is an existing path)."""
    path = Path(file)
    if path.is_file():
        return path
    candidate = manifests_dir() / file
    if candidate.is_file():
        return candidate
    known = ", ".join(sorted(p.name for p in manifests_dir().glob("*.yaml")))
    raise NotFound(
        f"no manifest {file} in {manifests_dir()}",
        obj=str(file),
        fix=f"use one of: {known}" if known else "reinstall kafkalab: its manifests folder is missing",
    )


def load_manifest(
    file: str | Path,
    cluster: str | None = None,
    namespace: str | None = None,
    name: str | None = None,
    topic: str | None = None,
    group: str | None = None,
) -> list[Obj]:
    """Objects of a manifests/ file, renamed for this run.

    cluster: the Kafka's name and every other object's strimzi.io/cluster label; namespace: metadata.namespace
    of all; name: the name of the file's KafkaTopic/KafkaUser; topic, group: the topic and consumer group its
    ACL rules are about (user.yaml).
    """
    objs = kube.load_yaml(manifest_path(file))
    for obj in objs:
        meta = obj.setdefault("metadata", {})
        if namespace:
            meta["namespace"] = namespace
        if cluster:
            if obj.get("kind") == "Kafka":
                meta["name"] = cluster
            else:
                meta.setdefault("labels", {})["strimzi.io/cluster"] = cluster
        if name and obj.get("kind") in ("KafkaTopic", "KafkaUser"):
            meta["name"] = name
        for rule in ((obj.get("spec") or {}).get("authorization") or {}).get("acls") or []:
            resource = rule.get("resource") or {}
            if topic and resource.get("type") == "topic":
                resource["name"] = topic
            if group and resource.get("type") == "group":
                resource["name"] = group
    return objs


# ----------------------------------------------------------------------------------------------------
# Waiting and reading status


# Strimzi reasons that are final for the generation: the operator will fail the same way on every retry
# until the spec changes. Any other NotReady reason (StrimziTimeoutException after its 300 s operation
# timeout, KafkaException or UnforceableProblem while brokers are unreachable, ...) is retried by the operator
# every 2 minutes and often clears by itself (slow image pulls, pods Pending for CPU or memory).
FINAL_KAFKA_REASONS = frozenset(
    {
        "InvalidResourceException",
        "InvalidConfigurationException",
        "UnsupportedKafkaVersionException",
        "KafkaUpgradeException",
    }
)
# The User Operator wraps its failures: reason ExecutionException, message "io.strimzi.operator.common.
# ReconciliationException: io.strimzi.operator.common.model.InvalidResourceException: <text>". Only a wrapped
# InvalidResourceException is final; anything else (Kafka unreachable) is retried.
USER_WRAPPER_REASON = "ExecutionException"


def _not_ready(obj: Obj) -> tuple[str, str] | None:
    """(reason, message) of a NotReady/True condition about the latest spec, else None."""
    if not kube.is_current(obj):
        return None  # a failure reported for an older spec says nothing about this one
    c = kube.condition(obj, "NotReady")
    if c and c.get("status") == "True":
        return c.get("reason") or "NotReady", c.get("message") or ""
    return None


def _kafka_failed(obj: Obj) -> tuple[str, str] | None:
    """Fail a Kafka wait at once only on a reason that is final for this generation."""
    bad = _not_ready(obj)
    return bad if bad and bad[0] in FINAL_KAFKA_REASONS else None


def _user_failed(obj: Obj) -> tuple[str, str] | None:
    """Fail a KafkaUser wait at once only when the User Operator refused the spec itself."""
    bad = _not_ready(obj)
    if bad and bad[0] in FINAL_KAFKA_REASONS:
        return bad
    if bad and bad[0] == USER_WRAPPER_REASON and "InvalidResourceException" in bad[1]:
        return bad
    return None


def _topic_failed(obj: Obj) -> tuple[str, str] | None:
    """The Topic Operator says Ready/False (NotSupported, KafkaError, ...) when it gives up on a spec."""
    if not kube.is_current(obj):
        return None
    c = kube.condition(obj, "Ready")
    if c and c.get("status") == "False":
        return c.get("reason") or "NotReady", c.get("message") or ""
    return None


def _ready(obj: Obj) -> bool:
    c = kube.condition(obj, "Ready")
    return kube.is_current(obj) and c is not None and c.get("status") == "True"


def wait_kafka_ready(
    name: str,
    namespace: str,
    timeout: float = 600,
    progress: kube.Progress | None = None,
    context: str | None = None,
) -> Obj:
    """Wait for Kafka `name` to be Ready.

    Fails at once only on a reason final for the generation (FINAL_KAFKA_REASONS: a refused spec). Other
    NotReady reasons — StrimziTimeoutException, KafkaException, UnforceableProblem — are the operator still
    trying: the wait goes on until `timeout`, then raises WaitTimeout whose diagnosis shows the last
    condition, the events and the pods.
    """
    return kube.wait_for(
        API_VERSION,
        "Kafka",
        name,
        namespace,
        _ready,
        _kafka_failed,
        timeout,
        progress,
        context,
        pod_selector=f"strimzi.io/cluster={name}",
    )


def _check_label(kind: str, name: str, namespace: str, context: str | None) -> None:
    obj = kube.get(API_VERSION, kind, name, namespace, context)
    if obj is not None and not ((obj["metadata"].get("labels") or {}).get("strimzi.io/cluster")):
        what = kube.describe(obj)
        raise ResourceFailed(
            f"{what} has no strimzi.io/cluster label, so no operator will ever act on it",
            obj=what,
            reason="MissingClusterLabel",
            message="label strimzi.io/cluster is missing",
            fix=f"add label strimzi.io/cluster: <your Kafka's name> to the {kind} and apply it again",
        )


def wait_topic_ready(
    name: str,
    namespace: str,
    timeout: float = 120,
    progress: kube.Progress | None = None,
    context: str | None = None,
) -> Obj:
    """Wait for KafkaTopic `name` to be Ready; fail fast on Ready=False (e.g. NotSupported, KafkaError)."""
    return _wait_labelled("KafkaTopic", name, namespace, timeout, progress, context)


def wait_user_ready(
    name: str,
    namespace: str,
    timeout: float = 120,
    progress: kube.Progress | None = None,
    context: str | None = None,
) -> Obj:
    """Wait for KafkaUser `name` to be Ready (its Secret then exists).

    Fails at once when the User Operator refused the spec (ExecutionException wrapping an
    InvalidResourceException, e.g. ACLs on a cluster without authorization); other failures are retried by
    the operator, so the wait goes on until `timeout`.
    """
    return _wait_labelled("KafkaUser", name, namespace, timeout, progress, context)


def _wait_labelled(
    kind: str, name: str, namespace: str, timeout: float, progress: kube.Progress | None, context: str | None
) -> Obj:
    """A topic's or user's wait: first the label its operator needs, then Ready (failing fast)."""
    _check_label(kind, name, namespace, context)
    failed = _topic_failed if kind == "KafkaTopic" else _user_failed
    return kube.wait_for(API_VERSION, kind, name, namespace, _ready, failed, timeout, progress, context)


def bootstrap_servers(
    cluster: str, namespace: str, listener: str = "external", context: str | None = None
) -> str:
    """The bootstrap address of a listener, from Kafka status.listeners (e.g. "localhost:32100")."""
    obj = kube.get(API_VERSION, "Kafka", cluster, namespace, context)
    what = f"Kafka {namespace}/{cluster}"
    if obj is None:
        raise NotFound(
            f"{what} does not exist", obj=what, fix="create it first: kafkalab.strimzi.ensure_kafka(...)"
        )
    listeners = (obj.get("status") or {}).get("listeners") or []
    for entry in listeners:
        if entry.get("name") == listener and entry.get("bootstrapServers"):
            return entry["bootstrapServers"]
    if not listeners:
        raise NotFound(
            f"{what} reports no listeners yet (it is not ready)",
            obj=what,
            fix="wait for it first: kafkalab.strimzi.wait_kafka_ready(...)",
        )
    names = ", ".join(e.get("name", "?") for e in listeners)
    raise NotFound(
        f"{what} has no listener named {listener!r}; its listeners are: {names}",
        obj=what,
        fix=f"pass listener= one of {names}, or add a {listener!r} listener to spec.kafka.listeners",
    )


# ----------------------------------------------------------------------------------------------------
# ensure_*: bring what a notebook needs into being (idempotent)


def ensure_kafka(
    cluster: str,
    namespace: str,
    manifest: str = "kafka-single-node.yaml",
    timeout: float = 600,
    progress: kube.Progress | None = None,
    context: str | None = None,
) -> Obj:
    """Create Kafka `cluster` (and its node pool) from a manifests/ file unless it exists; wait until Ready.

    An existing Kafka of that name is left as it is (it may have been changed on purpose in a lesson).
    """
    kube.ensure_namespace(namespace, context=context)
    if kube.get(API_VERSION, "Kafka", cluster, namespace, context) is None:
        # kube.apply refuses, before writing anything, a node pool of that name that is another cluster's.
        kube.apply(load_manifest(manifest, cluster=cluster, namespace=namespace), context=context)
    return wait_kafka_ready(cluster, namespace, timeout, progress, context)


def ensure_topic(
    name: str,
    cluster: str,
    namespace: str,
    partitions: int = 3,
    replicas: int = 1,
    config: dict | None = None,
    timeout: float = 120,
    progress: kube.Progress | None = None,
    context: str | None = None,
) -> Obj:
    """Create KafkaTopic `name` unless it exists; wait until Ready. An existing topic is left as it is,
    unless it belongs to another cluster (then ManifestRejected: names are unique per namespace)."""
    _create_unless_exists(topic(name, cluster, partitions, replicas, config, namespace), context)
    return wait_topic_ready(name, namespace, timeout, progress, context)


def ensure_user(
    name: str,
    cluster: str,
    namespace: str,
    authentication: str = "scram-sha-512",
    acls: list[Obj] | None = None,
    timeout: float = 120,
    progress: kube.Progress | None = None,
    context: str | None = None,
) -> Obj:
    """Create KafkaUser `name` unless it exists; wait until Ready (its credentials Secret then exists).
    An existing user is left as it is, unless it belongs to another cluster (then ManifestRejected)."""
    _create_unless_exists(user(name, cluster, authentication, acls, namespace), context)
    return wait_user_ready(name, namespace, timeout, progress, context)


def _create_unless_exists(obj: Obj, context: str | None) -> None:
    """Apply obj if nothing of its name exists; refuse one of that name that belongs to another cluster."""
    meta = obj["metadata"]
    existing = kube.get(obj["apiVersion"], obj["kind"], meta["name"], meta["namespace"], context)
    if existing is None:
        kube.apply(obj, context=context)
        return
    ours = meta["labels"]["strimzi.io/cluster"]
    theirs = (existing["metadata"].get("labels") or {}).get("strimzi.io/cluster")
    if theirs != ours:
        what = kube.describe(existing)
        raise ManifestRejected(
            f"{what} already exists for cluster {theirs} (label strimzi.io/cluster={theirs}), not for "
            f"{ours}; using it would use {theirs}'s {obj['kind']} (nothing was applied)",
            obj=what,
            fix=f"{obj['kind']} names are unique in a namespace: give {ours}'s another name "
            f"(e.g. {ours}-{meta['name']}), or put {ours} in its own namespace",
        )
