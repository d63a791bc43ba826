"""Readiness detection: how soon after a condition becomes Ready on the API server does a waiter return?

We play the operator ourselves: a KafkaTopic in a namespace no operator watches (so nothing else writes its
status), then a status patch that sets Ready=True. Two delays, on this machine's monotonic clock: from the
moment the PATCH was sent to the waiter's return (an upper bound: it includes the write itself), and from the
moment the PATCH's response arrived (the write is committed then). The second can be negative: the watch
event may reach the waiter before the PATCH response reaches the patcher. Two waiters, alternated:

- kafkalab.kube.wait_for_condition in a thread (list, then one watch: no polling loop; the requests it
  made during the wait are counted to show it);
- `kubectl wait --for=condition=Ready` in a process, whose watch is known to be open once its -v=6 log
  shows the watch request's response.

Each waiter is given 0.5 s after its watch is open before the patch, so neither races its own start-up.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

from kubernetes import client

from bench.common import kubectl, machine, median, unique
from kafkalab import kube, strimzi

__all__ = ["main"]

ROUNDS = int(os.environ.get("BENCH_READY_ROUNDS", 10))
SETTLE = 0.5  # seconds between "the waiter's watch is open" and the status patch
WATCH_LINE = re.compile(r"watch=true.*200 OK|200 OK.*watch=true")


def _topic(name: str, ns: str) -> None:
    body = strimzi.topic(name, "nobody", namespace=ns)
    kube.apply(body)


def _patch_ready(name: str, ns: str) -> tuple[float, float]:
    """Write Ready=True as the Topic Operator would; return the monotonic time before and after the PATCH."""
    gen = kube.get(strimzi.API_VERSION, "KafkaTopic", name, ns)["metadata"]["generation"]
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    status = {
        "observedGeneration": gen,
        "topicName": name,
        "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": now}],
    }
    api = client.CustomObjectsApi(kube.api())
    before = time.monotonic()
    api.patch_namespaced_custom_object_status(
        "kafka.strimzi.io", "v1", ns, "kafkatopics", name, {"status": status}
    )
    return before, time.monotonic()


class _CountingRequests:
    """Counts HTTP requests the kafkalab ApiClient makes while active (proof there is no polling loop)."""

    def __init__(self) -> None:
        self.urls: list[str] = []

    def __enter__(self):
        rest = kube.api().rest_client
        self._rest, self._orig = rest, rest.request

        def request(method, url, *args, **kwargs):
            self.urls.append(f"{method} {url.split('?')[0].rsplit('/', 1)[-1]}?{url.partition('?')[2]}")
            return self._orig(method, url, *args, **kwargs)

        rest.request = request
        return self

    def __exit__(self, *exc):
        self._rest.request = self._orig


def kafkalab_round(ns: str) -> dict:
    name = unique("ready")
    _topic(name, ns)
    watching = threading.Event()
    returned: dict = {}

    def progress(obj):
        watching.set()  # called with the listed state, right before the watch starts

    def waiter():
        kube.wait_for_condition(
            strimzi.API_VERSION, "KafkaTopic", name, ns, "Ready", timeout=60, progress=progress
        )
        returned["at"] = time.monotonic()

    with _CountingRequests() as counted:
        t = threading.Thread(target=waiter)
        t.start()
        if not watching.wait(30):
            raise RuntimeError("kafkalab waiter never listed the object")
        time.sleep(SETTLE)
        before, after = _patch_ready(name, ns)
        t.join(60)
    return {
        "delay_s": returned["at"] - after,
        "from_sent_s": returned["at"] - before,
        "patch_s": after - before,
        "requests": len(counted.urls) - 2,  # minus the patch's GET of the generation and the PATCH
        "request_lines": counted.urls,
    }


def kubectl_round(ns: str, kubeconfig: str) -> dict:
    name = unique("ready")
    _topic(name, ns)
    cmd = [
        kubectl(), "--kubeconfig", kubeconfig, "-v=6", "wait", "--for=condition=Ready",
        f"kafkatopic/{name}", "-n", ns, "--timeout=60s",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    watching = threading.Event()
    log: list[str] = []

    def read_stderr():
        for line in proc.stderr:
            log.append(line)
            if WATCH_LINE.search(line):
                watching.set()

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    if not watching.wait(30):
        proc.kill()
        raise RuntimeError("kubectl wait never opened its watch:\n" + "".join(log[-20:]))
    time.sleep(SETTLE)
    before, after = _patch_ready(name, ns)
    proc.wait(60)  # blocking waitpid: returns the moment the process exits
    exited = time.monotonic()
    out = proc.stdout.read()
    if proc.returncode != 0 or "condition met" not in out:
        raise RuntimeError(f"kubectl wait failed ({proc.returncode}): {out}\n{''.join(log[-20:])}")
    return {"delay_s": exited - after, "from_sent_s": exited - before, "patch_s": after - before}


def main(argv: list[str]) -> int:
    out = Path(argv[1])
    kube.reset()
    kubeconfig = os.environ["KUBECONFIG"]
    info = machine()
    ns = unique("bench-ready")
    kube.ensure_namespace(ns)
    runs: list[dict] = []
    try:
        for rnd in range(ROUNDS):
            order = ("kafkalab", "kubectl") if rnd % 2 == 0 else ("kubectl", "kafkalab")
            for who in order:
                r = kafkalab_round(ns) if who == "kafkalab" else kubectl_round(ns, kubeconfig)
                runs.append({"waiter": who, "round": rnd, **r})
                extra = f", {r['requests']} requests" if "requests" in r else ""
                print(
                    f"round {rnd} {who:<8} {r['from_sent_s'] * 1000:7.1f} ms from PATCH sent, "
                    f"{r['delay_s'] * 1000:7.1f} ms from PATCH answered{extra}",
                    flush=True,
                )
    finally:
        kube.delete_namespace(ns, timeout=120)
    summary = {}
    for who in ("kafkalab", "kubectl"):
        d = [r["delay_s"] for r in runs if r["waiter"] == who]
        sent = [r["from_sent_s"] for r in runs if r["waiter"] == who]
        summary[who] = {
            "median_s": median(d),
            "min_s": min(d),
            "max_s": max(d),
            "from_sent_median_s": median(sent),
            "from_sent_max_s": max(sent),
        }
    summary["kafkalab_requests"] = sorted({r["requests"] for r in runs if r["waiter"] == "kafkalab"})
    summary["patch_median_s"] = median(r["patch_s"] for r in runs)
    out.write_text(
        json.dumps({"machine": info, "rounds": ROUNDS, "runs": runs, "summary": summary}, indent=2)
    )
    for who in ("kafkalab", "kubectl"):
        s = summary[who]
        print(
            f"{who:<8} from PATCH sent: median {s['from_sent_median_s'] * 1000:6.1f} ms, max "
            f"{s['from_sent_max_s'] * 1000:.1f}; from PATCH answered: median {s['median_s'] * 1000:.1f} ms "
            f"(min {s['min_s'] * 1000:.1f}, max {s['max_s'] * 1000:.1f})"
        )
    print("kafkalab requests per wait:", summary["kafkalab_requests"])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
