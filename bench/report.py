"""Turn the benchmarks' JSON (out/bench/*.json) into bench/RESULTS.md, bench/results.png and
bench/results.json (the raw figures the page was made from)."""

from __future__ import annotations

import json
import os
import sys
import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display: write a PNG
import matplotlib.pyplot as plt  # noqa: E402 - after choosing the backend

__all__ = ["main"]

CLIENTS = (("helper", "kafkalab.clients"), ("raw", "raw kafka-python"), ("java", "Kafka perf tool (Java)"))
COLORS = {
    "helper": "#2b7bba",
    "raw": "#8fbc5a",
    "java": "#e08a2c",
    "kafkalab": "#2b7bba",
    "kubectl": "#999999",
}
SUITE_TARGET_S = 180
READY_TARGET_S = 0.5
HELPER_TARGET = 0.95  # helpers may cost at most 5 % against raw kafka-python


def _load(out: Path, name: str) -> dict | None:
    path = out / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def _size(size: int) -> str:
    return "1 KiB" if size == 1024 else f"{size} B"


# ---- markdown ------------------------------------------------------------------------------------------


def _machine(data: dict) -> list[str]:
    parts = {k: d["machine"] for k, d in data.items() if d and "machine" in d}
    first = next(iter(parts.values()))
    return [
        "| | |",
        "|---|---|",
        f"| CPU | {first['cpu_model']}, nproc {first['nproc']} |",
        f"| memory | {first['memory_gib']} GiB |",
        f"| kernel, Python, Java | {first['kernel']}, Python {first['python']}, {first['java']} |",
        f"| kafka-python | {first['kafka_python']} |",
        f"| hermetic cluster | {first.get('hermetic_dir') or os.environ.get('KAFKALAB_HERMETIC_DIR', '?')} "
        "(tests/hermetic/up.sh) |",
        "| each part started at (1-min load average then) | "
        + "; ".join(f"{k} {m['date_utc']} ({m['load_average_1m_at_start']})" for k, m in parts.items())
        + " |",
    ]


def _ratio(row: dict, key: str) -> str:
    if key not in row:
        return "–"
    lo, hi = row[key + "_spread"]
    return f"{row[key]:.3f} [{lo:.2f}–{hi:.2f}]"


def _throughput_md(tp: dict) -> list[str]:
    lines = [
        "## 1. Produce and consume throughput",
        "",
        f"{tp['counts']['100']:,} records of 100 B and {tp['counts']['1024']:,} of 1 KiB per run, "
        f"{tp['rounds']} rounds of four runs (helpers, raw kafka-python, raw again, Java tool) in rotating "
        "order. One broker (the hermetic "
        "stand-in's Kafka 4.3.1 JVM), a topic of one partition, records without keys; acks=all, "
        "idempotence on, linger 0, 16 KiB batches, no compression for all three. Throughput: medians over "
        "rounds [min–max]; MiB/s counts record values only. Helper/raw ratios: medians of the per-round "
        "ratios [min–max] (helper and raw ran back to back). CPU: the client process's own CPU time per "
        "record (Python: all threads of the process; Java: the whole JVM, start-up and JIT included).",
        "",
        "| op | size | kafkalab.clients msg/s (MiB/s) | raw kafka-python msg/s (MiB/s) "
        "| Java tool msg/s (MiB/s) | helpers / raw, throughput | raw again / raw, throughput "
        "| helpers / raw, CPU per record | raw again / raw, CPU per record "
        "| CPU µs/record: helpers, raw, Java | Java / raw |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in tp["summary"]:
        cells = []
        for who, _ in CLIENTS:
            m = row[who]
            lo, hi = m["spread"]
            cells.append(f"{m['msgs_s']:,.0f} ({m['mib_s']:.2f}) [{lo:,.0f}–{hi:,.0f}]")
        cpu = ", ".join(f"{row[w]['cpu_us_per_msg']:.0f}" for w, _ in CLIENTS)
        ratios = [_ratio(row, k) for k in ("helper_vs_raw", "raw_again_vs_raw", "helper_cpu_vs_raw",
                                            "raw_again_cpu_vs_raw")]  # fmt: skip
        lines.append(
            f"| {row['op']} | {_size(row['size'])} | {' | '.join(cells)} | {' | '.join(ratios)} | {cpu} "
            f"| {row['java_vs_raw']:.2f} |"
        )
    worst_cpu = max(r["helper_cpu_vs_raw"] for r in tp["summary"])
    worst_wall = min(r["helper_vs_raw"] for r in tp["summary"])
    aa = [r[k] for r in tp["summary"] for k in ("raw_again_vs_raw", "raw_again_cpu_vs_raw") if k in r]
    hr = [r[k] for r in tp["summary"] for k in ("helper_vs_raw", "helper_cpu_vs_raw")]
    met = worst_cpu <= 1 / HELPER_TARGET and worst_wall >= HELPER_TARGET
    lines += [
        "",
        f"Target: the helpers cost at most 5 % against raw kafka-python. Worst median helper/raw ratio: "
        f"{worst_wall:.3f} in throughput, {worst_cpu:.3f} in client CPU per record — "
        f"{'met by the medians' if met else 'NOT met by the medians'}.",
    ]
    if aa:
        lines[-1] += (
            f" How far that can be trusted: the same raw code, run twice in a round, gave median ratios "
            f"from {min(aa):.3f} to {max(aa):.3f} (single rounds: see the brackets), while the helper/raw "
            f"medians lie between {min(hr):.3f} and {max(hr):.3f}. On this machine, shared with other work "
            "while the benchmark ran, a difference of a few per cent cannot be told from noise; where a "
            "helper ratio stays on one side in every round (its bracket excludes 1), it is more likely real."
        )
    java_fetch = [r for r in tp["summary"] if r["op"] == "consume"]
    lines += [
        "",
        "Java consumer, fetch phase alone (the tool's `fetch.nMsg.sec`, without joining the group): "
        + ", ".join(f"{_size(r['size'])} {r['java']['fetch_msgs_s']:,.0f} msg/s" for r in java_fetch)
        + ". Java process wall time per run (JVM start included): "
        + ", ".join(
            f"{r['op']} {_size(r['size'])} {r['java']['process_wall_s']:.1f} s" for r in tp["summary"]
        )
        + ".",
    ]
    if tp.get("crc32c_py_mib_s"):
        used = (
            "kafka-python used the `crc32c` C extension kafkalab installs"
            if tp.get("crc32c_c")
            else "the `crc32c` C extension was not installed, so kafka-python used its pure-Python CRC-32C"
        )
        lines += [
            "",
            f"CRC-32C: {used}; the pure-Python one ran at {tp['crc32c_py_mib_s']:.2f} MiB/s on this machine "
            "during this run.",
        ]
    return lines


def _java_gap_md(tp: dict, cr: dict | None) -> list[str]:
    """Why Kafka's Java tools and kafka-python differ, with this run's figures."""
    row = {(r["op"], r["size"]): r for r in tp["summary"]}
    speed = {(r["op"], r["size"]): r["speedup"] for r in (cr or {}).get("summary", [])}
    crc = tp.get("crc32c_py_mib_s")
    lines = [
        "### Reading the gap to the Java tools",
        "",
        "- **Per record, Python vs JIT-compiled Java.** kafka-python builds every record (varints, batch "
        "append) and computes each batch's CRC-32C — in C with the `crc32c` package kafkalab installs, in "
        "pure Python without it"
        + (f" ({crc:.1f} MiB/s here)" if crc else "")
        + "; the consumer decodes every record into a Python object and checks each fetched batch's CRC "
        "(check_crcs=True). The Java clients do the same work in JIT-compiled code with the CPU's CRC32C "
        "instruction. kafka-python's network thread also shares the GIL with the code calling send()/poll().",
        f"- **At 100 B the Java producer is not faster** here (Java/raw "
        f"{row[('produce', 100)]['java_vs_raw']:.2f}); at 1 KiB it is (Java/raw "
        f"{row[('produce', 1024)]['java_vs_raw']:.2f}). Not separated by this benchmark, but consistent with "
        "it: with acks=all, linger 0 and at most 5 requests in flight both producers wait on the same "
        "broker's round trips, and a run of a few seconds is over before the JVM has compiled its hot "
        "paths; per byte, Python's record building and copying (and, without the C extension, its CRC-32C) "
        "is what grows with the record size.",
        f"- **ConsumerPerformance always joins a consumer group**, and its overall rate includes that join; "
        f"kafkalab and raw kafka-python read without a group here. Its fetch phase alone ran at "
        f"{row[('consume', 100)]['java']['fetch_msgs_s']:,.0f} msg/s (100 B) and "
        f"{row[('consume', 1024)]['java']['fetch_msgs_s']:,.0f} msg/s (1 KiB).",
        "- **The Java CPU figures include the JVM's start-up and JIT compilation** (a second or more of CPU "
        "per run), which runs this short do not amortize.",
        "- **The broker is tuned to start fast, not for peak throughput**: the stand-in runs it with the C1 "
        "compiler only, SerialGC and a 384 MiB heap (tests/hermetic/standin/broker.py), and the broker, "
        "the clients and whatever else runs on the machine share its 2 cores. Absolute figures are far "
        "below a tuned broker on dedicated hardware; the ratios are what this page is for.",
    ]
    if speed:
        lines.append(
            f"- **With the `crc32c` package** kafka-python ran ×{speed[('produce', 1024)]:.2f} (produce) and "
            f"×{speed[('consume', 1024)]:.2f} (consume) at 1 KiB, ×{speed[('produce', 100)]:.2f} and "
            f"×{speed[('consume', 100)]:.2f} at 100 B (section 1b)."
        )
    return lines


def _crc32c_md(cr: dict) -> list[str]:
    lines = [
        "### 1b. kafka-python with its optional C CRC-32C",
        "",
        f"Raw kafka-python producer, then consumer (defaults), {cr['rounds']} rounds, alternating: "
        "pure-Python "
        "CRC-32C (kafka-python where the package is missing; the package hidden for these runs) vs the "
        "`crc32c` package's C implementation (what kafkalab installs), which kafka-python picks up by itself "
        "when it is importable. Medians.",
        "",
        "| op | size | pure Python msg/s | with crc32c msg/s | speed-up | CPU µs/record: pure, with crc32c |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for row in cr["summary"]:
        p, e = row["pure"], row["ext"]
        lines.append(
            f"| {row['op']} | {_size(row['size'])} | {p['msgs_s']:,.0f} | {e['msgs_s']:,.0f} | "
            f"**×{row['speedup']:.2f}** | {p['cpu_us_per_msg']:.0f}, {e['cpu_us_per_msg']:.0f} |"
        )
    return lines


def _readiness_md(rd: dict) -> list[str]:
    s = rd["summary"]
    lines = [
        "## 2. Readiness detection",
        "",
        f"{rd['rounds']} rounds each, alternating. A KafkaTopic in a namespace no operator watches; we "
        "write `Ready=True` into its status ourselves with a PATCH, once the waiter's watch is open. Two "
        "delays on one clock: from the PATCH being sent (an upper bound, it includes the write) and from its "
        "response arriving (the write is committed by then). The second can be negative: the watch event "
        "may reach the waiter before the PATCH response reaches the patcher.",
        "",
        "| waiter | from PATCH sent: median | max | from PATCH answered: median | min | max |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for who, label in (("kafkalab", "kafkalab.kube.wait_for_condition"), ("kubectl", "kubectl wait")):
        m = s[who]
        ms = [m[k] * 1000 for k in ("from_sent_median_s", "from_sent_max_s", "median_s", "min_s", "max_s")]
        lines.append(f"| {label} | " + " | ".join(f"{v:.1f} ms" for v in ms) + " |")
    worst = s["kafkalab"]["from_sent_max_s"]
    lines += [
        "",
        f"The status PATCH itself took {s['patch_median_s'] * 1000:.1f} ms (median). HTTP requests "
        f"kafkalab made per wait: {', '.join(map(str, s['kafkalab_requests']))} (one list, one watch — no "
        "polling loop). kubectl's figure includes its process exiting.",
        "",
        f"Target: under {READY_TARGET_S * 1000:.0f} ms, no polling loop. Worst kafkalab delay from the PATCH "
        f"being sent: {worst * 1000:.1f} ms — {'met' if worst < READY_TARGET_S else 'NOT met'}.",
    ]
    return lines


def _suite_md(st: dict) -> list[str]:
    runs = st["runs"]
    names = [nb["notebook"] for nb in runs[0]["notebooks"]]
    header = " | ".join(f"run {i + 1}" for i in range(len(runs)))
    lines = [
        "## 3. The notebook suite",
        "",
        "kafkalab.suite.run_suite (papermill, a fresh kernel per notebook) with "
        "tests/notebooks/hermetic.yaml's parameters in namespaces of its own, 99-teardown last. "
        "Run 1 starts from whatever the machine had cached; the last run is the warm one. "
        "Memory: RSS sampled every 0.25 s with psutil, peak of the sum over the kernel processes, "
        "and over the hermetic cluster's processes (control plane, KWOK, stand-in, broker JVMs).",
        "",
        f"| notebook | {header} |",
        "|---|" + "---:|" * len(runs),
    ]
    for i, name in enumerate(names):
        cells = []
        for r in runs:
            nb = r["notebooks"][i]
            cells.append(
                f"{nb['seconds']:.1f} s" + ("" if nb["status"] == "passed" else f" **{nb['status']}**")
            )
        lines.append(f"| {name} | {' | '.join(cells)} |")
    lines.append("| **total** | " + " | ".join(f"**{r['total_s']:.0f} s**" for r in runs) + " |")
    lines.append("| peak kernel RSS | " + " | ".join(f"{r['peak_kernel_mib']} MiB" for r in runs) + " |")
    lines.append(
        "| peak hermetic-cluster RSS | " + " | ".join(f"{r['peak_cluster_mib']} MiB" for r in runs) + " |"
    )
    lines.append("| broker JVMs at most | " + " | ".join(str(r["peak_broker_jvms"]) for r in runs) + " |")
    warm = runs[-1]
    errors = [f"{nb['notebook']}: {nb['error']}" for r in runs for nb in r["notebooks"] if nb["error"]]
    lines += [
        "",
        "At the warm run's cluster peak, by process: "
        + ", ".join(f"{k} {v} MiB" for k, v in warm["peak_cluster_by_role_mib"].items())
        + ".",
        "",
        f"Target: the suite under {SUITE_TARGET_S // 60} minutes on 2 cores. "
        f"Warm run: {warm['total_s']:.0f} s — "
        f"{'met' if warm['total_s'] < SUITE_TARGET_S and warm['ok'] else 'NOT met'}"
        + ("" if warm["ok"] else " (a notebook failed)")
        + ".",
    ]
    if errors:
        lines += ["", "Failures:", ""] + [f"- {e}" for e in errors]
    return lines


def _footprint_md(fp: dict) -> list[str]:
    lines = [
        "## 4. The kind cluster on paper",
        "",
        "Requests and limits of what the notebooks create on kind, read from the objects kafkalab applies "
        "(the operator Deployment as `strimzi.operator_manifests()` rewrites Strimzi 1.2.0's 060 file, with "
        "kafkalab's 768Mi; KafkaNodePool and entity-operator resources from manifests/). kind's own "
        f"system pods (kubeadm/kind defaults, stated, not read from a file): "
        f"{fp['kind_system_cpu_request_m']}m CPU and {fp['kind_system_mem_request_mi']} MiB requested. "
        + (
            "Memory requests equal limits for every kafkalab workload, so the requests are what the "
            "scheduler must find free on the node — and a kind node in a 4 GiB Docker VM offers less than "
            "4096 MiB (the VM's own kernel and processes, kubelet's 100Mi eviction threshold)."
            if all(r["mem_request_mi"] == r["mem_limit_mi"] for s in fp["scenarios"] for r in s["rows"])
            else "Some workloads request less memory than their limit: the scheduler counts the requests."
        ),
        "",
        "| scenario | CPU requests | memory requests | memory limits | JVM heaps | + kind system "
        "| of 4 GiB |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for s in fp["scenarios"]:
        lines.append(
            f"| {s['name']} | {s['cpu_request_m']}m | {s['mem_request_mi']} MiB | {s['mem_limit_mi']} MiB | "
            f"{s['heap_mi']} MiB | {s['with_kind_mem_request_mi']} MiB | **{s['share_of_laptop']:.0%}** |"
        )
    lines += [
        "",
        "Per workload:",
        "",
        "| workload | source | replicas | CPU req | mem req | mem limit | heap |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    seen = set()
    for s in fp["scenarios"]:
        for r in s["rows"]:
            if r["what"] in seen:
                continue
            seen.add(r["what"])
            lines.append(
                f"| {r['what']} | {r['source']} | {r['replicas']} | {r['cpu_request_m']}m | "
                f"{r['mem_request_mi']} MiB | {r['mem_limit_mi']} MiB | {r['heap_mi'] or ''} |"
            )
    return lines


# ---- the plot ------------------------------------------------------------------------------------------


def _plot(data: dict, png: Path) -> None:
    fig, axes = plt.subplots(2, 2, figsize=(13, 9))
    tp, rd, st, fp = (data.get(k) for k in ("throughput", "readiness", "suite", "footprint"))

    ax = axes[0][0]
    if tp:
        groups = [(r["op"], r["size"]) for r in tp["summary"]]
        width = 0.27
        for i, (who, label) in enumerate(CLIENTS):
            vals = [r[who]["msgs_s"] for r in tp["summary"]]
            bars = ax.bar([g + (i - 1) * width for g in range(len(groups))], vals, width, label=label,
                          color=COLORS[who])  # fmt: skip
            if who == "helper":
                for bar, r in zip(bars, tp["summary"], strict=True):
                    top = (bar.get_x() + width / 2, bar.get_height())
                    ax.annotate(
                        f"×{r['helper_vs_raw']:.2f}\nof raw", top, ha="center", va="bottom", fontsize=8
                    )
        ax.set_xticks(range(len(groups)), [f"{op}\n{_size(size)}" for op, size in groups])
        ax.set_ylabel("records per second (median)")
        ax.set_yscale("log")
        ax.set_ylim(top=ax.get_ylim()[1] * 3)  # room for the ratio labels
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=3)
    ax.set_title("1. Throughput on one hermetic broker")

    ax = axes[0][1]
    if rd:
        for i, who in enumerate(("kafkalab", "kubectl")):
            ms = [r["from_sent_s"] * 1000 for r in rd["runs"] if r["waiter"] == who]
            ax.scatter([i] * len(ms), ms, color=COLORS[who], alpha=0.7, s=30)
            ax.hlines(sorted(ms)[len(ms) // 2], i - 0.25, i + 0.25, color="black")
        ax.axhline(READY_TARGET_S * 1000, color="red", linestyle="--", linewidth=1)
        ax.text(0.5, READY_TARGET_S * 1000 * 1.1, "target 500 ms", color="red", ha="center", fontsize=8)
        ax.set_xticks([0, 1], ["kafkalab\nwait_for_condition", "kubectl wait"])
        ax.set_yscale("log")
        ax.set_ylabel("ms from the Ready PATCH sent to the waiter's return")
        ax.set_xlim(-0.6, 1.6)
    ax.set_title("2. Readiness detection (each dot a round, bar = median)")

    ax = axes[1][0]
    if st:
        warm = st["runs"][-1]
        names = [nb["notebook"].removesuffix(".ipynb") for nb in warm["notebooks"]]
        secs = [nb["seconds"] for nb in warm["notebooks"]]
        colors = ["#2b7bba" if nb["status"] == "passed" else "#d62728" for nb in warm["notebooks"]]
        ax.barh(names[::-1], secs[::-1], color=colors[::-1])
        ax.set_xlabel("seconds (warm run)")
        ax.set_title(
            f"3. Notebook suite: {warm['total_s']:.0f} s total (target {SUITE_TARGET_S} s); "
            f"peak RSS kernel {warm['peak_kernel_mib']} MiB, cluster {warm['peak_cluster_mib']} MiB",
            fontsize=10,
        )

    ax = axes[1][1]
    if fp:
        system = fp["kind_system_mem_request_mi"]
        names, parts = (
            [],
            {"kind system pods": [], "Cluster Operator": [], "Kafka nodes": [], "entity operators": []},
        )
        for s in fp["scenarios"]:
            names.append(textwrap.fill(s["name"], 26))
            parts["kind system pods"].append(system)
            by = {"Cluster Operator": 0, "Kafka nodes": 0, "entity operators": 0}
            for r in s["rows"]:
                key = ("Cluster Operator" if "Operator" in r["what"] and "entity" not in r["what"]
                       else "entity operators" if "entity" in r["what"] else "Kafka nodes")  # fmt: skip
                by[key] += r["mem_request_mi"] * r["replicas"]
            for k, v in by.items():
                parts[k].append(v)
        left = [0] * len(names)
        for (label, vals), color in zip(
            parts.items(), ["#bbbbbb", "#e08a2c", "#2b7bba", "#8fbc5a"], strict=True
        ):
            ax.barh(names, vals, left=left, label=label, color=color)
            left = [a + b for a, b in zip(left, vals, strict=True)]
        ax.axvline(fp["laptop_docker_mib"], color="red", linestyle="--")
        ax.text(fp["laptop_docker_mib"], -0.45, "4 GiB Docker ", color="red", fontsize=8, ha="right")
        ax.set_xlabel("memory requested, MiB")
        ax.invert_yaxis()
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=4)
    ax.set_title("4. kind cluster on paper: memory requests vs a 4 GiB laptop")

    fig.tight_layout()
    fig.savefig(png, dpi=110)


def main(argv: list[str]) -> int:
    out, md, png = Path(argv[1]), Path(argv[2]), Path(argv[3])
    data = {k: _load(out, k) for k in ("throughput", "crc32c", "readiness", "suite", "footprint")}
    lines = [
        "# kafkalab benchmarks",
        "",
        "Made by `make bench` (bench/run.sh): figures from one run on the machine below, ratios against "
        "references measured in the same run. Benchmarks report; no test asserts on time.",
        "",
        "![results](results.png)",
        "",
        *_machine(data),
        "",
    ]
    for key, fn in (("throughput", _throughput_md), ("crc32c", _crc32c_md), ("readiness", _readiness_md),
                    ("suite", _suite_md), ("footprint", _footprint_md)):  # fmt: skip
        if data[key]:
            lines += [*fn(data[key]), ""]
            if key == "throughput":
                lines += [*_java_gap_md(data[key], data["crc32c"]), ""]
        else:
            lines += [f"## {key}: not run", ""]
    md.write_text("\n".join(lines))
    _plot(data, png)
    (md.parent / "results.json").write_text(json.dumps(data, indent=1) + "\n")
    print(f"wrote {md}, {png}, {md.parent / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
