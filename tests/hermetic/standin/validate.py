"""What Strimzi 1.2.0 refuses, and the plans the stand-in acts on once a resource passes.

Pure functions over the resources' dicts (no API calls), so every refusal is unit-testable. A refusal is a
`Refusal(reason, message)`: `reason` is what Strimzi puts in the condition (for the Cluster and User
Operators the Java exception's simple class name, for the Topic Operator one of its reason words) and
`message` follows Strimzi's wording where Strimzi has one. Things Strimzi would do but this stand-in cannot
(an OpenShift route listener, a custom authorizer) are refused with reason `StandinUnsupported`, so a test
never passes on a feature that was silently skipped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "CLUSTER_LABEL",
    "DEFAULT_KAFKA_VERSION",
    "METADATA_VERSIONS",
    "AclRule",
    "KafkaPlan",
    "ListenerPlan",
    "PoolPlan",
    "Refusal",
    "UserPlan",
    "config_value",
    "kafka_plan",
    "topic_name",
    "user_plan",
]

CLUSTER_LABEL = "strimzi.io/cluster"
DEFAULT_KAFKA_VERSION = "4.3.1"
# The Kafka versions Strimzi 1.2.0 supports and the metadata version each defaults to (kafka-versions.yaml).
METADATA_VERSIONS = {"4.2.0": "4.2-IV1", "4.2.1": "4.2-IV1", "4.3.0": "4.3-IV0", "4.3.1": "4.3-IV0"}

# Listener types the stand-in can serve on 127.0.0.1; the others need OpenShift or an ingress controller.
SERVED_LISTENER_TYPES = ("internal", "cluster-ip", "nodeport", "loadbalancer")
# Ports Kafka's pods use for themselves (control plane, replication, agent, metrics, JMX).
RESERVED_PORTS = (9090, 9091, 8443, 9404, 9999)

# spec.kafka.config keys Strimzi manages itself and ignores when a user sets them (KafkaClusterSpec,
# KRaft era), with the exceptions it lets through. Kept here so a learner's `listeners=...` cannot break
# the stand-in's own listeners either.
FORBIDDEN_PREFIXES = (
    "listeners", "advertised.", "broker.", "listener.", "host.name", "port", "inter.broker.listener.name",
    "sasl.", "ssl.", "security.", "password.", "log.dir", "zookeeper.connect", "zookeeper.set.acl",
    "zookeeper.ssl", "zookeeper.clientCnxnSocket", "authorizer.", "super.user",
    "cruise.control.metrics.topic", "cruise.control.metrics.reporter.bootstrap.servers", "node.id",
    "process.roles", "controller.", "metadata.log.dir", "zookeeper.metadata.migration.enable",
)  # fmt: skip
FORBIDDEN_EXCEPTIONS = (
    "zookeeper.connection.timeout.ms", "sasl.server.max.receive.size", "ssl.cipher.suites", "ssl.protocol",
    "ssl.enabled.protocols", "ssl.secure.random.implementation",
    "cruise.control.metrics.topic.num.partitions",
    "cruise.control.metrics.topic.replication.factor", "cruise.control.metrics.topic.retention.ms",
    "cruise.control.metrics.topic.auto.create.retries", "cruise.control.metrics.topic.auto.create.timeout.ms",
    "cruise.control.metrics.topic.min.insync.replicas", "controller.quorum.election.backoff.max.ms",
    "controller.quorum.election.timeout.ms", "controller.quorum.fetch.timeout.ms",
)  # fmt: skip


class Refusal(Exception):
    """Strimzi would not reconcile this resource: `reason` and `message` go into its status condition."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class ListenerPlan:
    name: str
    port: int
    type: str
    tls: bool
    authentication: str | None  # None | "scram-sha-512" | "tls"
    configuration: dict = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class PoolPlan:
    name: str
    roles: tuple[str, ...]
    replicas: int
    node_ids: tuple[int, ...]
    heap: str | None = None  # jvmOptions -Xmx of the pool (else of spec.kafka)
    storage: str = "ephemeral"  # spec.storage.type ("jbod" of ephemeral volumes counts as ephemeral)


@dataclass(frozen=True)
class KafkaPlan:
    """A Kafka that passed validation: everything the stand-in needs to run and describe it."""

    name: str
    namespace: str
    version: str
    metadata_version: str
    listeners: tuple[ListenerPlan, ...]
    authorization_simple: bool
    config: dict[str, str]
    ignored_config: tuple[str, ...]
    pools: tuple[PoolPlan, ...]
    topic_operator: bool
    user_operator: bool

    @property
    def image(self) -> str:
        return f"quay.io/strimzi/kafka:1.2.0-kafka-{self.version}"

    def broker_fingerprint(self) -> tuple:
        """What the broker process is started from: a change here means a rolling restart (Strimzi rolls
        the pods for these, and for a Kafka version change)."""
        return (
            self.version,
            tuple((lst.name, lst.tls, lst.authentication) for lst in self.listeners),
            self.authorization_simple,
            tuple(sorted(self.config.items())),
        )


def kafka_plan(kafka: dict, pools: list[dict]) -> KafkaPlan:
    """Validate a Kafka and its KafkaNodePools the way the Cluster Operator does; raise Refusal or plan it."""
    meta, spec = kafka["metadata"], kafka.get("spec") or {}
    name = meta["name"]
    kspec = spec.get("kafka") or {}

    version = str(kspec.get("version") or DEFAULT_KAFKA_VERSION)
    if version not in METADATA_VERSIONS:
        raise Refusal(
            "UnsupportedKafkaVersionException",
            f"Unsupported Kafka.spec.kafka.version: {version}. "
            f"Supported versions are: [{', '.join(METADATA_VERSIONS)}]",
        )
    metadata_version = str(kspec.get("metadataVersion") or METADATA_VERSIONS[version])

    pool_plans = _pools(name, pools, (kspec.get("jvmOptions") or {}).get("-Xmx"))
    listeners = _listeners(kspec.get("listeners") or [])

    authorization = kspec.get("authorization") or {}
    if authorization and authorization.get("type") != "simple":
        raise Refusal(
            "StandinUnsupported",
            f"spec.kafka.authorization.type {authorization.get('type')!r} is not supported by the hermetic "
            "Strimzi stand-in (it runs Kafka's StandardAuthorizer for type 'simple' only)",
        )

    config, ignored = {}, []
    for key, value in (kspec.get("config") or {}).items():
        if _forbidden(key):
            ignored.append(key)
        else:
            config[key] = config_value(value)

    entity = spec.get("entityOperator") or {}
    return KafkaPlan(
        name=name,
        namespace=meta["namespace"],
        version=version,
        metadata_version=metadata_version,
        listeners=listeners,
        authorization_simple=bool(authorization),
        config=config,
        ignored_config=tuple(ignored),
        pools=pool_plans,
        topic_operator="topicOperator" in entity,
        user_operator="userOperator" in entity,
    )


def _pools(cluster: str, pools: list[dict], heap: str | None = None) -> tuple[PoolPlan, ...]:
    if not pools:
        raise Refusal("InvalidConfigurationException", f"No KafkaNodePools found for Kafka cluster {cluster}")
    if all(int((p.get("spec") or {}).get("replicas") or 0) <= 0 for p in pools):
        raise Refusal(
            "InvalidResourceException",
            "KafkaNodePools are enabled, but KafkaNodePools for Kafka cluster "
            f"{cluster} either don't exist or "
            "have 0 replicas. Please make sure at least one KafkaNodePool resource exists, is in the same "
            "namespace as the Kafka resource, has at least one replica, and has the strimzi.io/cluster label "
            "set to the name of the Kafka resource.",
        )
    errors, has_broker, has_controller = [], False, False
    for pool in pools:
        spec = pool.get("spec") or {}
        roles = spec.get("roles") or []
        if not roles:
            errors.append(f"KafkaNodePool {pool['metadata']['name']} has no role defined in .spec.roles")
        elif int(spec.get("replicas") or 0) > 0:
            has_broker |= "broker" in roles
            has_controller |= "controller" in roles
    if not has_broker:
        errors.append(
            "At least one KafkaNodePool with the broker role and at least one replica is required when KRaft "
            "mode is enabled"
        )
    if not has_controller:
        errors.append(
            "At least one KafkaNodePool with the controller role and at least one replica is required when "
            "KRaft mode is enabled"
        )
    if errors:
        raise Refusal(
            "InvalidResourceException", f"The Kafka cluster {cluster} is invalid: [{', '.join(errors)}]"
        )
    return _assign_node_ids(pools, heap)


REMOVE_NODE_IDS = "strimzi.io/remove-node-ids"


def _assign_node_ids(pools: list[dict], heap: str | None = None) -> tuple[PoolPlan, ...]:
    """Node IDs as Strimzi hands them out (its NodeIdAssignor): a pool keeps its IDs (status), new nodes take
    the lowest free; a scale-down removes the IDs the pool's `strimzi.io/remove-node-ids` annotation lists
    first (e.g. "[3, 5-7]", in its order), then the highest."""
    ordered = sorted(pools, key=lambda p: p["metadata"]["name"])
    kept: dict[str, list[int]] = {}
    used: set[int] = set()
    for pool in ordered:
        replicas = int(pool["spec"].get("replicas") or 0)
        previous = [int(i) for i in (pool.get("status") or {}).get("nodeIds") or []]
        annotation = ((pool["metadata"].get("annotations") or {}).get(REMOVE_NODE_IDS)) or ""
        order = [i for i in _id_ranges(annotation) if i in previous] + sorted(previous, reverse=True)
        doomed = list(dict.fromkeys(order))[: max(0, len(previous) - replicas)]
        kept[pool["metadata"]["name"]] = sorted(i for i in previous if i not in doomed)
        used.update(kept[pool["metadata"]["name"]])
    plans = []
    for pool in ordered:
        name, spec = pool["metadata"]["name"], pool["spec"]
        ids = kept[name]
        next_id = 0
        while len(ids) < int(spec.get("replicas") or 0):
            while next_id in used:
                next_id += 1
            ids.append(next_id)
            used.add(next_id)
        pool_heap = (spec.get("jvmOptions") or {}).get("-Xmx") or heap
        plans.append(
            PoolPlan(
                name,
                tuple(spec.get("roles") or ()),
                len(ids),
                tuple(sorted(ids)),
                heap=pool_heap,
                storage=_storage(spec),
            )
        )
    return tuple(plans)


def _id_ranges(text: str) -> list[int]:
    """IDs of an annotation like "[3, 5-7]" or "[19-10]", in the order written (a range may run down)."""
    out: list[int] = []
    for part in text.strip().strip("[]").split(","):
        a, _, b = part.strip().partition("-")
        if a.strip().isdigit() and (not b or b.strip().isdigit()):
            lo, hi = int(a), int(b or a)
            out += list(range(lo, hi + 1)) if lo <= hi else list(range(lo, hi - 1, -1))
    return out


def _storage(pool_spec: dict) -> str:
    storage = pool_spec.get("storage") or {}
    volumes = storage.get("volumes") or []
    if storage.get("type") == "jbod" and volumes and all(v.get("type") == "ephemeral" for v in volumes):
        return "ephemeral"
    return str(storage.get("type") or "ephemeral")


def _listeners(specs: list[dict]) -> tuple[ListenerPlan, ...]:
    if not specs:
        raise Refusal(
            "InvalidResourceException", "Listener configuration is not valid: [no listeners defined]"
        )
    errors, unsupported, plans = [], [], []
    names = [s.get("name") for s in specs]
    ports = [s.get("port") for s in specs]
    # Strimzi's ListenersValidator words (observed/refusals/dup-listener-*.kafka.yaml)
    if len(set(names)) != len(names):
        errors.append("every listener needs to have a unique name")
    if len(set(ports)) != len(ports):
        errors.append("every listener needs to have a unique port number")
    for s in specs:
        name, port, ltype, tls = s.get("name"), s.get("port"), s.get("type"), bool(s.get("tls"))
        auth = (s.get("authentication") or {}).get("type")
        if port in RESERVED_PORTS:
            errors.append(f"port {port} is forbidden and cannot be used")
        if auth == "tls" and not tls:
            errors.append(f"listener {name} cannot use tls type authentication with disabled TLS encryption")
        if ltype not in SERVED_LISTENER_TYPES:
            unsupported.append(f"listener {name}: type {ltype!r}")
        if auth not in (None, "scram-sha-512", "tls"):
            unsupported.append(f"listener {name}: authentication type {auth!r}")
        plans.append(ListenerPlan(name, int(port), ltype, tls, auth, s.get("configuration") or {}))
    if errors:
        raise Refusal(
            "InvalidResourceException", f"Listener configuration is not valid: [{', '.join(errors)}]"
        )
    if unsupported:
        raise Refusal(
            "StandinUnsupported",
            f"Not supported by the hermetic Strimzi stand-in: {'; '.join(unsupported)} "
            "(listener types it serves: "
            f"{', '.join(SERVED_LISTENER_TYPES)}; authentication: scram-sha-512, tls)",
        )
    return tuple(plans)


def _forbidden(key: str) -> bool:
    return key not in FORBIDDEN_EXCEPTIONS and any(key.startswith(p) for p in FORBIDDEN_PREFIXES)


def config_value(value: object) -> str:
    """A config value as Kafka wants it, the way Strimzi turns YAML into strings (true, 7200000, a,b)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(config_value(v) for v in value)
    return str(value)


def topic_name(topic: dict) -> str:
    """The Kafka topic a KafkaTopic manages: spec.topicName, else metadata.name."""
    return (topic.get("spec") or {}).get("topicName") or topic["metadata"]["name"]


# -- KafkaUser ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AclRule:
    resource_type: str  # topic | group | cluster | transactionalId
    name: str
    pattern: str  # literal | prefix
    operation: str  # Read, Write, ..., All
    host: str
    allow: bool


@dataclass(frozen=True)
class UserPlan:
    name: str
    username: str  # the Kafka principal's name: the user's name, or CN=<name> for tls users
    authentication: str | None  # None | scram-sha-512 | tls | tls-external
    password_ref: tuple[str, str] | None  # (secret, key) of a user-given SCRAM password
    acls: frozenset[AclRule] | None  # None: authorization not configured, leave the user's ACLs alone

    @property
    def secret_name(self) -> str | None:
        return self.name if self.authentication in ("scram-sha-512", "tls") else None


def user_plan(user: dict, kafka: dict) -> UserPlan:
    """Validate a KafkaUser against its cluster the way the User Operator does; raise Refusal or plan it."""
    name, spec = user["metadata"]["name"], user.get("spec") or {}
    auth = spec.get("authentication") or {}
    atype = auth.get("type")
    if atype == "tls" and len(name) > 64:
        raise Refusal(
            "InvalidResourceException",
            "Users with TLS client authentication can have a username "
            "(name of the KafkaUser custom resource) "
            "only up to 64 characters long.",
        )
    password_ref = None
    if atype == "scram-sha-512" and "password" in auth:
        ref = ((auth.get("password") or {}).get("valueFrom") or {}).get("secretKeyRef") or {}
        if not ref.get("name") or not ref.get("key"):
            raise Refusal(
                "InvalidResourceException",
                "Resource requests custom SCRAM-SHA-512 password but doesn't specify "
                "the secret name and/or key",
            )
        password_ref = (ref["name"], ref["key"])

    acls = None
    authz = spec.get("authorization") or {}
    if authz.get("type") == "simple":
        if not ((kafka.get("spec") or {}).get("kafka") or {}).get("authorization"):
            raise Refusal(
                "InvalidResourceException",
                "Simple authorization ACL rules are configured but not supported in the Kafka cluster "
                "configuration.",
            )
        acls = frozenset(_acl_rules(authz.get("acls") or []))
    elif authz:
        raise Refusal(
            "StandinUnsupported", f"KafkaUser authorization type {authz.get('type')!r} is not supported"
        )

    username = f"CN={name}" if atype in ("tls", "tls-external") else name
    return UserPlan(name, username, atype, password_ref, acls)


def _acl_rules(acls: list[dict]) -> list[AclRule]:
    rules = []
    for i, acl in enumerate(acls):
        res = acl.get("resource") or {}
        rtype = res.get("type")
        rname = "kafka-cluster" if rtype == "cluster" else res.get("name")
        if not rname:
            raise Refusal(
                "InvalidResourceException",
                f"ACL rule {i} (resource type {rtype}) needs spec.authorization.acls[{i}].resource.name",
            )
        for op in acl.get("operations") or []:
            rules.append(
                AclRule(
                    resource_type=rtype,
                    name=rname,
                    pattern=res.get("patternType") or "literal",
                    operation=op,
                    host=acl.get("host") or "*",
                    allow=(acl.get("type") or "allow") == "allow",
                )
            )
    return rules
