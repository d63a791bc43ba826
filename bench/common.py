"""What every benchmark needs: the machine it ran on, the hermetic cluster, a Kafka of its own, and a
process-memory sampler.

Benchmarks run against the hermetic cluster whose run directory is $KAFKALAB_HERMETIC_DIR (default
/tmp/kafkalab-hermetic). Each one makes its own namespaces (prefix `bench-`) and deletes them, so it can
share the cluster with tests and notebooks.
"""

from __future__ import annotations

import os
import platform
import re
import statistics
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from pathlib import Path

import psutil

from kafkalab import kube, strimzi

__all__ = [
    "ROOT",
    "RUN",
    "SOURCE",
    "PeakSampler",
    "bench_kafka",
    "cluster_processes",
    "kafka_libs",
    "kubectl",
    "machine",
    "median",
    "timed",
    "unique",
]

ROOT = Path(__file__).resolve().parents[1]
RUN = Path(os.environ.get("KAFKALAB_HERMETIC_DIR", "/tmp/kafkalab-hermetic")).resolve()
SOURCE = os.environ.get("KAFKALAB_STRIMZI_SOURCE") or str(
    ROOT.parent / "shared" / "strimzi" / "1.2.0" / "install" / "cluster-operator"
)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _java_version() -> str:
    try:
        out = subprocess.run(["java", "-version"], capture_output=True, text=True, timeout=30)
        return out.stderr.splitlines()[0].strip()
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "unknown"


def machine() -> dict:
    """Where and when the figures were taken (they mean little without it)."""
    import kafka

    return {
        "date_utc": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "nproc": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 1024**3, 1),
        "cpu_model": _cpu_model(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "kafka_python": kafka.__version__,
        "java": _java_version(),
        "load_average_1m_at_start": round(os.getloadavg()[0], 2),
        "hermetic_dir": str(RUN),
    }


def kubectl() -> str:
    """The kubectl the hermetic cluster was built with (bin-dir of the run, else the newest cached one)."""
    bin_dir = RUN / "bin-dir"
    if bin_dir.is_file():
        return str(Path(bin_dir.read_text().strip()) / "kubectl")
    cache = Path(os.environ.get("KAFKALAB_CACHE", Path.home() / ".cache" / "kafkalab"))
    found = sorted(cache.glob("control-plane/*/bin/kubectl"))
    if not found:
        raise SystemExit("bench: no kubectl in the hermetic run dir or the cache — run tests/hermetic/up.sh")
    return str(found[-1])


def kafka_libs() -> Path:
    """Kafka 4.3.1's jars (tests/hermetic/fetch-kafka.sh; instant when cached)."""
    out = subprocess.run(
        ["bash", str(ROOT / "tests" / "hermetic" / "fetch-kafka.sh")], capture_output=True, text=True
    )
    if out.returncode != 0:
        raise SystemExit(f"bench: fetch-kafka.sh failed: {out.stderr.strip()}")
    return Path(out.stdout.strip().splitlines()[-1])


@contextmanager
def bench_kafka(prefix: str, manifest: str = "kafka-single-node.yaml", timeout: float = 300):
    """An operator and one Kafka (`bench`) in namespaces of our own; yields (cluster, namespace).

    Deleted afterwards, whatever happened (deleting the Kafka stops its broker).
    """
    op_ns, ns = unique(f"{prefix}-op"), unique(prefix)
    cluster = "bench"
    try:
        strimzi.install_operator(op_ns, (ns,), source=SOURCE, timeout=timeout)
        kube.apply(strimzi.load_manifest(manifest, cluster=cluster, namespace=ns))
        strimzi.wait_kafka_ready(cluster, ns, timeout=timeout)
        yield cluster, ns
    finally:
        for name in (ns, op_ns):
            try:
                kube.delete_namespace(name, timeout=180)
            except Exception as e:  # noqa: BLE001 - report and go on deleting the other one
                print(f"bench: could not delete namespace {name}: {e}")


def _owned(p: psutil.Process, run: Path) -> bool:
    """A process of the hermetic cluster: its command line names the run dir, or it carries the marker
    environment the stand-in passes to the brokers it starts (see tests/hermetic/lib.sh)."""
    below = re.compile(
        re.escape(str(run)) + r"(/|$)"
    )  # not /tmp/kafkalab-hermetic2 for /tmp/kafkalab-hermetic
    try:
        if any(below.search(arg) for arg in p.cmdline()):
            return True
        return p.environ().get("KAFKALAB_HERMETIC_RUN") == str(run)
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False


def _role(p: psutil.Process) -> str:
    try:
        cmd = " ".join(p.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return "gone"
    for key, role in (
        ("kafka.Kafka", "Kafka broker JVMs"),
        ("tests.hermetic.standin", "Strimzi stand-in"),
        ("kube-apiserver", "kube-apiserver"),
        ("etcd", "etcd"),
        ("kube-controller-manager", "kube-controller-manager"),
        ("kube-scheduler", "kube-scheduler"),
        ("kwok", "kwok"),
    ):
        if key in cmd:
            return role
    return "other"


def cluster_processes(run: Path = RUN) -> list[psutil.Process]:
    return [p for p in psutil.process_iter() if _owned(p, run)]


def _rss(p: psutil.Process) -> int:
    try:
        return p.memory_info().rss
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return 0


class PeakSampler:
    """Samples RSS every `interval` s in a thread: the kernels (children of this process) and the hermetic
    cluster (its processes, by role). Keeps the peak of each sum."""

    def __init__(self, interval: float = 0.25, run: Path = RUN) -> None:
        self.interval = interval
        self.run = run
        self.peak_kernel = 0
        self.peak_cluster = 0
        self.peak_by_role: dict[str, int] = {}
        self.peak_brokers = 0
        self._known: dict[int, psutil.Process] = {}
        self._rescan = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _cluster(self) -> list[psutil.Process]:
        # a full process scan is costly; brokers come and go, so rescan every 2 s
        now = time.monotonic()
        if now >= self._rescan:
            self._known = {p.pid: p for p in cluster_processes(self.run)}
            self._rescan = now + 2
        return [p for p in self._known.values() if p.is_running()]

    def sample(self) -> None:
        me = psutil.Process()
        kernels = sum(_rss(c) for c in me.children(recursive=True))
        self.peak_kernel = max(self.peak_kernel, kernels)
        by_role: dict[str, int] = {}
        brokers = 0
        for p in self._cluster():
            role = _role(p)
            by_role[role] = by_role.get(role, 0) + _rss(p)
            brokers += role == "Kafka broker JVMs"
        total = sum(by_role.values())
        if total > self.peak_cluster:
            self.peak_cluster, self.peak_by_role = total, by_role
        self.peak_brokers = max(self.peak_brokers, brokers)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result
