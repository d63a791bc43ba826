"""The laptop cluster on paper: CPU and memory requests/limits of what the notebooks create on kind.

Read from the same objects kafkalab applies: the operator's Deployment as `strimzi.operator_manifests()`
rewrites Strimzi's 060 file (with kafkalab's 768Mi memory override), and the KafkaNodePool and entity
operator resources of manifests/kafka-*.yaml. kind's own control plane is not in manifests/: its requests
are kubeadm's and kind's defaults, written down here as constants (see KIND_SYSTEM).
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from kafkalab import strimzi

__all__ = ["Row", "footprint", "main"]

LAPTOP_DOCKER_MIB = 4096  # what a laptop's Docker Desktop is typically given

# kind v0.31 node (kubeadm static pods, CoreDNS, kindnet): requests/limits as kubeadm and kind set them.
# Not read from a file here (they live in the node image), so stated, not measured.
KIND_SYSTEM = [
    # name, replicas, cpu request m, mem request Mi, cpu limit m, mem limit Mi
    ("kube-apiserver", 1, 250, 0, 0, 0),
    ("kube-controller-manager", 1, 200, 0, 0, 0),
    ("kube-scheduler", 1, 100, 0, 0, 0),
    ("etcd", 1, 100, 100, 0, 0),
    ("coredns", 2, 100, 70, 0, 170),
    ("kindnet", 1, 100, 50, 100, 50),
]


@dataclass
class Row:
    """One workload: per-replica figures times replicas (0 = not set)."""

    what: str
    source: str
    replicas: int
    cpu_request_m: int
    mem_request_mi: int
    cpu_limit_m: int
    mem_limit_mi: int
    heap_mi: int = 0

    def total(self, field: str) -> int:
        return getattr(self, field) * self.replicas


def _cpu_m(value) -> int:
    if value in (None, ""):
        return 0
    text = str(value)
    return int(text[:-1]) if text.endswith("m") else int(float(text) * 1000)


def _mem_mi(value) -> int:
    """MiB of a Kubernetes quantity ("1Gi", "768Mi", "500M") or a JVM size ("512m", "1g")."""
    if value in (None, ""):
        return 0
    text = str(value)
    mib = 1024**2
    units = {"Ki": 1024, "Mi": mib, "Gi": 1024 * mib, "k": 1000, "M": 1000**2, "G": 1000**3}
    for suffix in ("Ki", "Mi", "Gi", "k", "M", "G"):
        if text.endswith(suffix):
            return round(float(text[: -len(suffix)]) * units[suffix] / mib)
    jvm = {"m": mib, "g": 1024 * mib}
    if text[-1] in jvm:
        return round(float(text[:-1]) * jvm[text[-1]] / mib)
    return round(int(text) / mib)


def _resources(what: str, source: str, replicas: int, res: dict, heap: str | None = None) -> Row:
    req, lim = res.get("requests") or {}, res.get("limits") or {}
    return Row(
        what,
        source,
        replicas,
        _cpu_m(req.get("cpu")),
        _mem_mi(req.get("memory")),
        _cpu_m(lim.get("cpu")),
        _mem_mi(lim.get("memory")),
        _mem_mi(heap) if heap else 0,
    )


def operator_row(source: str | Path) -> Row:
    objs = strimzi.operator_manifests("strimzi", ("kafka",), source=source)
    dep = next(o for o in objs if o["kind"] == "Deployment")
    (container,) = dep["spec"]["template"]["spec"]["containers"]
    return _resources(
        "Strimzi Cluster Operator",
        "060-Deployment via strimzi.operator_manifests (768Mi override)",
        dep["spec"].get("replicas", 1),
        container.get("resources") or {},
    )


def kafka_rows(manifest: str, label: str) -> list[Row]:
    rows = []
    for obj in strimzi.load_manifest(manifest):
        spec = obj.get("spec") or {}
        if obj["kind"] == "KafkaNodePool":
            heap = (spec.get("jvmOptions") or {}).get("-Xmx")
            rows.append(
                _resources(
                    f"{label}: Kafka nodes",
                    f"manifests/{manifest}",
                    spec["replicas"],
                    spec["resources"],
                    heap,
                )
            )
        elif obj["kind"] == "Kafka":
            for part in ("topicOperator", "userOperator"):
                res = ((spec.get("entityOperator") or {}).get(part) or {}).get("resources")
                if res is not None:
                    rows.append(
                        _resources(f"{label}: entity operator {part}", f"manifests/{manifest}", 1, res)
                    )
    return rows


def kind_rows() -> list[Row]:
    return [Row(n, "kubeadm/kind defaults (stated)", r, c, m, cl, ml) for n, r, c, m, cl, ml in KIND_SYSTEM]


def footprint(source: str | Path) -> dict:
    """Scenarios (what runs at the same time) with their rows and totals."""
    op = operator_row(source)
    system = kind_rows()
    single = kafka_rows("kafka-single-node.yaml", "my-cluster")
    secured = kafka_rows("kafka-secured.yaml", "secure-cluster")
    three = kafka_rows("kafka-three-brokers.yaml", "my-cluster (3 nodes)")
    scenarios = {
        "notebooks 03-05: operator + my-cluster": [op, *single],
        "notebook 06: + secure-cluster": [op, *single, *secured],
        "notebook 08 peak: + trio (06's cluster kept)": [
            op,
            *single,
            *secured,
            *kafka_rows("kafka-three-brokers.yaml", "trio"),
        ],
        "kafka-three-brokers.yaml instead of single node": [op, *three],
    }
    out = {
        "laptop_docker_mib": LAPTOP_DOCKER_MIB,
        "kind_system": [asdict(r) for r in system],
        "scenarios": [],
    }
    sys_mem = sum(r.total("mem_request_mi") for r in system)
    sys_cpu = sum(r.total("cpu_request_m") for r in system)
    for name, rows in scenarios.items():
        mem_req = sum(r.total("mem_request_mi") for r in rows)
        mem_lim = sum(r.total("mem_limit_mi") for r in rows)
        cpu_req = sum(r.total("cpu_request_m") for r in rows)
        out["scenarios"].append(
            {
                "name": name,
                "rows": [asdict(r) for r in rows],
                "mem_request_mi": mem_req,
                "mem_limit_mi": mem_lim,
                "cpu_request_m": cpu_req,
                "heap_mi": sum(r.total("heap_mi") for r in rows),
                "with_kind_mem_request_mi": mem_req + sys_mem,
                "with_kind_cpu_request_m": cpu_req + sys_cpu,
                "share_of_laptop": round((mem_req + sys_mem) / LAPTOP_DOCKER_MIB, 3),
            }
        )
    out["kind_system_mem_request_mi"] = sys_mem
    out["kind_system_cpu_request_m"] = sys_cpu
    return out


def main(argv: list[str]) -> int:
    source, out = argv[1], Path(argv[2])
    data = footprint(source)
    out.write_text(json.dumps(data, indent=2) + "\n")
    for s in data["scenarios"]:
        print(
            f"{s['name']:<50} requests {s['cpu_request_m']:>5}m CPU {s['mem_request_mi']:>5} Mi, "
            f"limits {s['mem_limit_mi']:>5} Mi; + kind system {data['kind_system_mem_request_mi']} Mi "
            f"= {s['share_of_laptop']:.0%} of {LAPTOP_DOCKER_MIB} Mi"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
