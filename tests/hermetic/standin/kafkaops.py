"""What the Topic and User Operators do inside Kafka, done for real through the broker's admin listener.

Errors the broker returns become `KafkaFailure(reason, message)` with the message Strimzi would show: the
Java exception's full class name and the broker's own text, e.g. "org.apache.kafka.common.errors.
InvalidReplicationFactorException: Unable to replicate the partition 3 time(s): ...".
"""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import kafka.errors as Errors
from kafka.admin import (
    ACL,
    ACLFilter,
    ACLOperation,
    ACLPermissionType,
    ACLResourcePatternType,
    AlterConfigOp,
    ConfigResource,
    KafkaAdminClient,
    ResourcePattern,
    ResourcePatternFilter,
    ResourceType,
    ScramMechanism,
    UserScramCredentialDeletion,
    UserScramCredentialUpsertion,
)

from .validate import AclRule

__all__ = [
    "KafkaFailure",
    "TopicState",
    "add_partitions",
    "admin_client",
    "admin_session",
    "alter_topic_config",
    "create_topic",
    "delete_scram",
    "delete_topic",
    "describe_topic",
    "remove_acls",
    "sync_acls",
    "upsert_scram",
]


class KafkaFailure(Exception):
    """The broker refused an operation; `reason`/`message` are what the status condition shows."""

    def __init__(self, message: str, reason: str = "KafkaError", java_name: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.java_name = java_name  # simple class name, e.g. InvalidConfigurationException


def _java_name(error_cls: type) -> str:
    # kafka-python names errors FooError where Kafka's Java client has FooException.
    return re.sub(r"Error$", "Exception", error_cls.__name__)


def _failure(code: int, message: str | None) -> KafkaFailure:
    cls = Errors.for_code(code)
    java = _java_name(cls)
    text = message or getattr(cls, "description", "") or cls.__name__
    return KafkaFailure(f"org.apache.kafka.common.errors.{java}: {text}", java_name=java)


def admin_client(admin_config: dict) -> KafkaAdminClient:
    return KafkaAdminClient(**admin_config, request_timeout_ms=15000, client_id="strimzi-standin")


@contextmanager
def admin_session(admin_config: dict) -> Iterator[KafkaAdminClient]:
    """A short-lived admin client (one reconcile), closed afterwards."""
    client = admin_client(admin_config)
    try:
        yield client
    finally:
        client.close()


def kafka_uuid(value: str | None) -> str | None:
    """Kafka's text form of a topic id (URL-safe base64 of its 16 bytes), as kafka-topics shows it."""
    if not value:
        return None
    return base64.urlsafe_b64encode(uuid.UUID(str(value)).bytes).decode().rstrip("=")


# -- topics ---------------------------------------------------------------------------------------------


@dataclass
class TopicState:
    name: str
    topic_id: str | None
    partitions: int
    replication_factors: dict[int, int]  # partition -> number of replicas
    dynamic_config: dict[str, str]  # the topic's own settings (DYNAMIC_TOPIC_CONFIG)


def describe_topic(admin: KafkaAdminClient, name: str) -> TopicState | None:
    """The topic as the broker has it, or None if it does not exist."""
    (desc,) = admin.describe_topics([name])
    if desc["error_code"] == Errors.UnknownTopicOrPartitionError.errno:
        return None
    if desc["error_code"]:
        raise _failure(desc["error_code"], None)
    configs = admin.describe_configs([ConfigResource("topic", name)])["topic"].get(name) or {}
    return TopicState(
        name=name,
        topic_id=kafka_uuid(desc["topic_id"]),
        partitions=len(desc["partitions"]),
        replication_factors={p["partition_index"]: len(p["replica_nodes"]) for p in desc["partitions"]},
        dynamic_config={
            k: v["value"] for k, v in configs.items() if v.get("config_source") == "DYNAMIC_TOPIC_CONFIG"
        },
    )


def create_topic(admin: KafkaAdminClient, name: str, partitions: int | None, replicas: int | None,
                 config: dict[str, str]) -> None:  # fmt: skip
    """Create the topic; None partitions/replicas take the broker's defaults, as Strimzi does."""
    result = admin.create_topics(
        {name: {"num_partitions": partitions or -1, "replication_factor": replicas or -1, "configs": config}},
        raise_errors=False,
    )
    (topic,) = result["topics"]
    if topic["error_code"]:
        raise _failure(topic["error_code"], topic["error_message"])


def alter_topic_config(admin: KafkaAdminClient, name: str, set_: dict[str, str], delete: list[str]) -> None:
    ops = {k: (AlterConfigOp.SET, v) for k, v in set_.items()}
    ops.update({k: (AlterConfigOp.DELETE, None) for k in delete})
    if not ops:
        return
    result = admin.alter_configs([ConfigResource("topic", name, ops)], raise_on_unknown=False)
    outcome = result["topic"][name]
    if outcome != "OK":
        # kafka-python reports "[Error 40] InvalidConfigurationError: <broker message>"
        m = re.match(r"\[Error (\d+)\] \w+: ?(.*)", str(outcome), re.S)
        if m:
            raise _failure(int(m.group(1)), m.group(2))
        raise KafkaFailure(str(outcome))


def add_partitions(admin: KafkaAdminClient, name: str, total: int) -> None:
    response = admin.create_partitions({name: total}, raise_errors=False)
    for r in response.results:
        if r.error_code:
            raise _failure(r.error_code, r.error_message)


def delete_topic(admin: KafkaAdminClient, name: str) -> None:
    """Delete the topic; a topic already gone is fine."""
    result = admin.delete_topics([name], raise_errors=False)
    (topic,) = result["topics"]
    if topic["error_code"] and topic["error_code"] != Errors.UnknownTopicOrPartitionError.errno:
        raise _failure(topic["error_code"], topic["error_message"])


# -- users ----------------------------------------------------------------------------------------------


def upsert_scram(admin: KafkaAdminClient, user: str, password: str) -> None:
    result = admin.alter_user_scram_credentials(
        [UserScramCredentialUpsertion(user, ScramMechanism.SCRAM_SHA_512, password)]
    )
    if result.get(user):
        raise KafkaFailure(f"setting SCRAM-SHA-512 credentials of {user} failed: {result[user]}")


def delete_scram(admin: KafkaAdminClient, user: str) -> None:
    """Remove the user's SCRAM-SHA-512 credential; a user without one is fine."""
    described = admin.describe_user_scram_credentials([user]).get(user) or {}
    if not described.get("credential_infos"):
        return
    result = admin.alter_user_scram_credentials(
        [UserScramCredentialDeletion(user, ScramMechanism.SCRAM_SHA_512)]
    )
    if result.get(user):
        raise KafkaFailure(f"deleting SCRAM-SHA-512 credentials of {user} failed: {result[user]}")


_RESOURCE = {
    "topic": ResourceType.TOPIC,
    "group": ResourceType.GROUP,
    "cluster": ResourceType.CLUSTER,
    "transactionalId": ResourceType.TRANSACTIONAL_ID,
}
_PATTERN = {"literal": ACLResourcePatternType.LITERAL, "prefix": ACLResourcePatternType.PREFIXED}


def _operation(name: str) -> ACLOperation:
    # CRD spelling (IdempotentWrite) -> enum name (IDEMPOTENT_WRITE)
    return ACLOperation[re.sub(r"(?<!^)(?=[A-Z])", "_", name).upper()]


def _acl(principal: str, rule: AclRule) -> ACL:
    return ACL(
        principal=principal,
        host=rule.host,
        operation=_operation(rule.operation),
        permission_type=ACLPermissionType.ALLOW if rule.allow else ACLPermissionType.DENY,
        resource_pattern=ResourcePattern(_RESOURCE[rule.resource_type], rule.name, _PATTERN[rule.pattern]),
    )


def _key(acl: ACL) -> tuple:
    rp = acl.resource_pattern
    return (int(rp.resource_type), rp.resource_name, int(rp.pattern_type), int(acl.operation),
            int(acl.permission_type), acl.host)  # fmt: skip


def _principal_filter(principal: str) -> ACLFilter:
    return ACLFilter(
        principal=principal,
        host=None,
        operation=ACLOperation.ANY,
        permission_type=ACLPermissionType.ANY,
        resource_pattern=ResourcePatternFilter(ResourceType.ANY, None, ACLResourcePatternType.ANY),
    )


def sync_acls(admin: KafkaAdminClient, principal: str, rules: frozenset[AclRule]) -> None:
    """Make the principal's ACLs exactly `rules`: create what is missing, delete what is extra."""
    current, _ = admin.describe_acls(_principal_filter(principal))
    wanted = {_key(a): a for a in (_acl(principal, r) for r in rules)}
    have = {_key(a): a for a in current}
    missing = [a for k, a in wanted.items() if k not in have]
    if missing:
        result = admin.create_acls(missing)
        if result["failed"]:
            err = result["failed"][0]
            raise _failure(err.errno, getattr(err, "description", None))
    for key, acl in have.items():
        if key not in wanted:
            rp = acl.resource_pattern
            admin.delete_acls(
                [
                    ACLFilter(
                        principal=principal,
                        host=acl.host,
                        operation=acl.operation,
                        permission_type=acl.permission_type,
                        resource_pattern=ResourcePatternFilter(
                            rp.resource_type, rp.resource_name, rp.pattern_type
                        ),
                    )
                ]
            )


def remove_acls(admin: KafkaAdminClient, principal: str) -> None:
    """Delete every ACL of the principal (a cluster without an authorizer has none to delete)."""
    try:
        admin.delete_acls([_principal_filter(principal)])
    except Errors.SecurityDisabledError:
        pass
