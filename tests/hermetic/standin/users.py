"""Reconcile a KafkaUser as Strimzi's User Operator does: real credentials and ACLs in the real broker.

Managed only if its `strimzi.io/cluster` label names a ready Kafka (watched namespace, `entityOperator.
userOperator` set); otherwise ignored. scram-sha-512: a SCRAM credential (password generated, 32
alphanumerics like Strimzi's, kept in the user's Secret across reconciles; or taken from
`spec.authentication.password.valueFrom.secretKeyRef`) and a Secret with `password` and `sasl.jaas.config`.
tls: a certificate for `CN=<user>` signed by the clients CA, Secret with ca.crt/user.crt/user.key/user.p12/
user.password. `authorization: simple` ACLs become exactly the principal's ACLs. The Secret is owned by the
KafkaUser; deleting the user removes its credentials and ACLs from Kafka (no finalizer, as Strimzi).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets
import string

from .context import CLUSTER_RETRY, Context
from .kafkaops import KafkaFailure, admin_session, delete_scram, remove_acls, sync_acls, upsert_scram
from .kafkas import is_ready
from .objects import user_secret
from .status import same_status, user_failed, user_ready
from .validate import CLUSTER_LABEL, Refusal, UserPlan, user_plan

__all__ = ["cleanup_user", "reconcile_user"]

log = logging.getLogger("standin.user")

PASSWORD_ALPHABET = string.ascii_letters + string.digits
PASSWORD_LENGTH = 32  # Strimzi's default (STRIMZI_SCRAM_SHA_PASSWORD_LENGTH)


def reconcile_user(ctx: Context, namespace: str, name: str) -> float | None:
    user = ctx.kube.get("KafkaUser", namespace, name)
    if user is None:
        return None  # cleanup_user ran on the DELETED event
    meta = user["metadata"]
    cluster_name = (meta.get("labels") or {}).get(CLUSTER_LABEL)
    kafka, cluster, waiting = _managing(ctx, namespace, cluster_name)
    if cluster is None or meta.get("deletionTimestamp"):
        return waiting

    generation, old = meta["generation"], user.get("status")
    try:
        plan = user_plan(user, kafka)
        with admin_session(cluster.admin_config) as admin:
            secret = _credentials(ctx, admin, cluster, user, plan, cluster_name)
            other = f"CN={name}" if plan.username == name else name  # the principal the user does not use
            remove_acls(admin, f"User:{other}")
            if plan.acls is not None:
                sync_acls(admin, f"User:{plan.username}", plan.acls)
            elif ((kafka.get("spec") or {}).get("kafka") or {}).get("authorization"):
                remove_acls(admin, f"User:{plan.username}")
    except Refusal as r:
        _write(ctx, user, user_failed(r.reason, r.message, generation, old))
        return None
    except KafkaFailure as f:
        _write(ctx, user, user_failed(f.java_name or f.reason, f.message, generation, old))
        return None
    _write(ctx, user, user_ready(generation, plan.username, secret, old))
    return None


def cleanup_user(ctx: Context, last: dict) -> None:
    """After a KafkaUser is deleted: remove its SCRAM credential and ACLs (both principal forms)."""
    meta = last["metadata"]
    _, cluster, _ = _managing(ctx, meta["namespace"], (meta.get("labels") or {}).get(CLUSTER_LABEL))
    if cluster is None:
        return
    name = meta["name"]
    try:
        with admin_session(cluster.admin_config) as admin:
            delete_scram(admin, name)
            remove_acls(admin, f"User:{name}")
            remove_acls(admin, f"User:CN={name}")
        cluster.applied_passwords.pop(name, None)
        log.info("KafkaUser %s/%s deleted: credentials and ACLs removed", meta["namespace"], name)
    except Exception as e:  # noqa: BLE001 - a broker going away with its namespace is normal here
        log.warning("KafkaUser %s/%s deleted but cleaning up in Kafka failed: %r", meta["namespace"], name, e)


def _managing(ctx: Context, namespace: str, cluster_name: str | None):
    """(kafka, cluster, None) when managed; else (.., None, retry delay or None when simply ignored)."""
    if not cluster_name:
        return None, None, None
    kafka = ctx.kube.get("Kafka", namespace, cluster_name)
    if kafka is None or "userOperator" not in ((kafka.get("spec") or {}).get("entityOperator") or {}):
        return kafka, None, None
    if not ctx.gate.covers(namespace):
        return kafka, None, CLUSTER_RETRY
    cluster = ctx.clusters.get(namespace, cluster_name)
    if cluster is None or not cluster.ready or not is_ready(kafka):
        return kafka, None, CLUSTER_RETRY
    return kafka, cluster, None


def _credentials(ctx: Context, admin, cluster, user: dict, plan: UserPlan, cluster_name: str) -> str | None:
    """Make the user's credential in Kafka and its Secret match the plan; return the Secret name."""
    namespace, name = user["metadata"]["namespace"], plan.name
    existing = ctx.kube.get("Secret", namespace, name)
    ours = existing is not None and any(
        ref.get("uid") == user["metadata"]["uid"] for ref in existing["metadata"].get("ownerReferences") or []
    )
    if plan.authentication != "scram-sha-512":
        delete_scram(admin, name)
        cluster.applied_passwords.pop(name, None)

    if plan.authentication == "scram-sha-512":
        password = _password(ctx, namespace, plan, existing if ours else None)
        digest = hashlib.sha256(password.encode()).hexdigest()
        if cluster.applied_passwords.get(name) != digest:
            upsert_scram(admin, name, password)
            cluster.applied_passwords[name] = digest
        jaas = (
            "org.apache.kafka.common.security.scram.ScramLoginModule required "
            f'username="{name}" password="{password}";'
        )
        ctx.kube.apply(
            user_secret(user, cluster_name, _b64({"password": password, "sasl.jaas.config": jaas}))
        )
        return name

    if plan.authentication == "tls":
        data = (existing or {}).get("data") or {}
        current_ca = base64.b64encode(cluster.clients_ca.ca_crt).decode()
        keep = (
            ours
            and data.get("ca.crt") == current_ca
            and all(data.get(k) for k in ("user.crt", "user.key", "user.p12", "user.password"))
        )
        if not keep:
            data = cluster.clients_ca.client_cert(name).secret_data()
        ctx.kube.apply(user_secret(user, cluster_name, data))
        return name

    if ours:  # no authentication (or tls-external): Strimzi keeps no Secret
        ctx.kube.delete("Secret", namespace, name)
    return None


def _password(ctx: Context, namespace: str, plan: UserPlan, own_secret: dict | None) -> str:
    if plan.password_ref:
        secret_name, key = plan.password_ref
        secret = ctx.kube.get("Secret", namespace, secret_name)
        value = ((secret or {}).get("data") or {}).get(key)
        if secret is None:
            raise Refusal(
                "InvalidResourceException",
                f"Secret {secret_name} with requested user password does not exist.",
            )
        if not value:
            raise Refusal(
                "InvalidResourceException",
                f"Secret {secret_name} does not contain the key {key} with requested user password.",
            )
        return base64.b64decode(value).decode()
    stored = ((own_secret or {}).get("data") or {}).get("password")
    if stored:
        return base64.b64decode(stored).decode()
    return "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(PASSWORD_LENGTH))


def _b64(data: dict[str, str]) -> dict[str, str]:
    return {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}


def _write(ctx: Context, user: dict, new: dict) -> None:
    old = user.get("status")
    if same_status(new, old):
        return
    meta = user["metadata"]
    ctx.kube.patch_status("KafkaUser", meta["namespace"], meta["name"], new, old)
    bad = next((c for c in new["conditions"] if c["type"] == "NotReady"), None)
    if bad:
        ctx.kube.event(user, bad["reason"], bad["message"], warning=True)
        log.warning("KafkaUser %s/%s: %s: %s", meta["namespace"], meta["name"], bad["reason"], bad["message"])
