"""Run the Strimzi stand-in: `python -m tests.hermetic.standin --kubeconfig FILE --state-dir DIR`.

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
    parser.add_argument("--kubeconfig", required=True, type=Path, help="kubeconfig of the hermetic cluster")
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

    if not args.kubeconfig.is_file():
        log.error(
            "kubeconfig %s not found — start the control plane first (tests/hermetic/up.sh)", args.kubeconfig
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


if __name__ == "__main__":
    sys.exit(main())
