"""Run the Strimzi stand-in: `python -m tests.hermetic.standin --kubeconfig FILE --state-dir DIR`.

`--in-cluster` (the kind-offline tier): it runs as the Cluster Operator's own pod, from Strimzi's install
YAML unchanged — its service account, Strimzi's RBAC, `STRIMZI_NAMESPACE` — and its Kafka nodes are pods
(podbroker.py). Health on :8080 (/healthy, /ready) as the Deployment's probes expect.

Prints `standin ready` (flushed; up.sh waits for it in the log) once kopf watches every namespace. On
SIGTERM or SIGINT kopf shuts down, and the cleanup handler stops every broker before the process exits.
"""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import logging
import os
import sys
import threading
from pathlib import Path

import kopf
import kubernetes

from .broker import BrokerError, fetch_kafka
from .clusters import Clusters
from .context import Context
from .gate import Gate
from .kubeapi import Kube
from .operator import Standin, make_registry
from .workqueue import WorkQueue


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.hermetic.standin", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--kubeconfig", type=Path, help="kubeconfig of the hermetic cluster")
    parser.add_argument("--in-cluster", action="store_true", help="run as the operator pod; nodes are pods")
    parser.add_argument("--state-dir", required=True, type=Path, help="where brokers, CAs and data live")
    parser.add_argument("--verbose", action="store_true", help="debug logging")
    args = parser.parse_args(argv)

    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stdout,
    )
    for noisy in ("kopf", "urllib3", "aiohttp"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # kafka-python warns on every SCRAM login over plaintext and logs every refused connection while a
    # broker restarts; the stand-in says what matters itself
    logging.getLogger("kafka").setLevel(logging.CRITICAL)
    log = logging.getLogger("standin")

    if args.in_cluster:
        return in_cluster(args, log)
    if args.kubeconfig is None or not args.kubeconfig.is_file():
        log.error(
            "kubeconfig %s not found — start the control plane first (tests/hermetic/up.sh); "
            "in the operator pod, pass --in-cluster",
            args.kubeconfig or "(none given)",
        )
        return 2
    # The client library and kopf's login (login_via_client) both read this kubeconfig, nothing else.
    os.environ["KUBECONFIG"] = str(args.kubeconfig.resolve())
    kubernetes.config.load_kube_config(config_file=str(args.kubeconfig))
    try:
        libs = fetch_kafka()
    except BrokerError as e:
        log.error("cannot get the Kafka jars: %s", e)
        return 2
    args.state_dir.mkdir(parents=True, exist_ok=True)
    # Two stand-ins on one state directory would start two JVMs on the same data: refuse the second.
    lock = open(args.state_dir / "standin.lock", "a+")  # noqa: SIM115 - held for the process's life
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        log.error(
            "another stand-in (pid %s) already runs on %s — stop it first (tests/hermetic/down.sh)",
            lock.read().strip() or "?",
            args.state_dir,
        )
        return 2
    lock.truncate(0)
    lock.write(str(os.getpid()))
    lock.flush()

    api = kubernetes.client.ApiClient()
    kube = Kube(api)
    ctx = Context(kube=kube, gate=Gate(kube), clusters=Clusters(args.state_dir, libs))
    standin = Standin(ctx)
    ctx.queue = WorkQueue(standin.reconcile)
    standin.start()

    ready = threading.Event()

    def announce() -> None:
        ready.wait()
        print(f"standin ready (pid {os.getpid()}, state {args.state_dir})", flush=True)

    threading.Thread(target=announce, daemon=True).start()
    try:
        asyncio.run(
            kopf.operator(
                registry=make_registry(standin),
                clusterwide=True,
                standalone=True,  # no peering objects: the stand-in is the only operator here
                ready_flag=ready,
            )
        )
    finally:
        standin.shutdown()  # idempotent; covers a kopf crash before its cleanup handler ran
    return 0


def in_cluster(args, log: logging.Logger) -> int:
    """Pod mode: the operator Deployment's container."""
    from .gate import OpenGate
    from .health import serve_health
    from .podbroker import make_node

    kubernetes.config.load_incluster_config()
    watched = os.environ.get("STRIMZI_NAMESPACE", "").strip()
    namespaces = sorted({ns.strip() for ns in watched.split(",") if ns.strip()})
    if not namespaces:
        log.error("STRIMZI_NAMESPACE is empty: nothing to watch")
        return 1
    api = kubernetes.client.ApiClient()
    kube = Kube(api)
    # Strimzi's watches open at start: a watched namespace its RBAC does not cover makes it exit
    # (observed/rbac)
    for ns in namespaces if namespaces != ["*"] else []:
        try:
            kube.list("Kafka", ns)
        except kubernetes.client.rest.ApiException as e:
            if e.status != 403:
                raise
            log.error(
                "Cluster Operator verticle in namespace %s failed to start: Forbidden (%s)", ns, e.reason
            )
            return 1
    health = serve_health(8080)
    args.state_dir.mkdir(parents=True, exist_ok=True)
    ctx = Context(
        kube=kube, gate=OpenGate(namespaces), clusters=Clusters(args.state_dir, None, pods=make_node(kube))
    )
    standin = Standin(ctx)
    ctx.queue = WorkQueue(standin.reconcile)
    standin.start()
    ready = threading.Event()

    def announce() -> None:
        ready.wait()
        health.ready = True
        print(f"standin ready (in cluster, watching {','.join(namespaces)}; nodes are pods)", flush=True)

    threading.Thread(target=announce, daemon=True).start()
    try:
        asyncio.run(
            kopf.operator(
                registry=make_registry(standin, in_cluster=True),
                clusterwide=namespaces == ["*"],
                namespaces=[] if namespaces == ["*"] else namespaces,
                standalone=True,
                ready_flag=ready,
            )
        )
    finally:
        standin.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
