"""The whole notebook suite on the hermetic cluster: wall time per notebook and in total, peak memory of
the notebook kernels and of the hermetic cluster's processes (psutil, sampled every 0.25 s).

Runs kafkalab.suite.run_suite (papermill, a fresh kernel per notebook, in order, 99-teardown last) with the
hermetic tier's parameters (tests/notebooks/hermetic.yaml) but namespaces of its own, so it can share the
cluster. The first run warms what a first run warms (imports, the broker's class-data archive, page cache);
with BENCH_SUITE_RUNS=2 (the default) the second run is the one reported as warm.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import yaml

from bench.common import ROOT, RUN, SOURCE, PeakSampler, machine, unique
from kafkalab import kube
from kafkalab.suite import run_suite

__all__ = ["main", "parameters"]

RUNS = int(os.environ.get("BENCH_SUITE_RUNS", 2))
MIB = 1024 * 1024


def parameters() -> dict:
    params = yaml.safe_load((ROOT / "tests" / "notebooks" / "hermetic.yaml").read_text())
    params.update(
        strimzi_source=SOURCE,
        namespace=unique("bench-nb"),
        operator_namespace=unique("bench-nb-op"),
    )
    return params


def one_run(out: Path) -> dict:
    params = parameters()
    with PeakSampler(run=RUN) as sampler:
        start = time.monotonic()
        summary = run_suite(out, params, on_start=lambda n: print(f"  {n} ...", flush=True))
        total = time.monotonic() - start
    for ns in (params["namespace"], params["operator_namespace"]):  # 99-teardown's job; a failed run skips it
        if kube.get("v1", "Namespace", ns) is not None:
            kube.delete_namespace(ns, timeout=180)
    return {
        "ok": summary.ok,
        "total_s": round(total, 1),
        "notebooks": [
            {"notebook": r.notebook, "status": r.status, "seconds": r.seconds, "error": r.error}
            for r in summary.results
        ],
        "peak_kernel_mib": round(sampler.peak_kernel / MIB),
        "peak_cluster_mib": round(sampler.peak_cluster / MIB),
        "peak_cluster_by_role_mib": {k: round(v / MIB) for k, v in sorted(sampler.peak_by_role.items())},
        "peak_broker_jvms": sampler.peak_brokers,
    }


def main(argv: list[str]) -> int:
    out = Path(argv[1])
    kube.reset()
    info = machine()
    runs = []
    for i in range(RUNS):
        print(f"suite run {i + 1}/{RUNS}", flush=True)
        r = one_run(out.parent / f"suite-run-{i + 1}")
        runs.append(r)
        for nb in r["notebooks"]:
            print(f"  {nb['notebook']:<28} {nb['status']:<8} {nb['seconds']:6.1f} s  {nb['error']}")
        print(
            f"  total {r['total_s']:.0f} s, ok={r['ok']}; peak kernel {r['peak_kernel_mib']} MiB, "
            f"peak hermetic cluster {r['peak_cluster_mib']} MiB ({r['peak_broker_jvms']} broker JVMs)"
        )
    out.write_text(json.dumps({"machine": info, "runs": runs}, indent=2) + "\n")
    return 0 if all(r["ok"] for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
