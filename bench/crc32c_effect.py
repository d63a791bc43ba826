"""What the `crc32c` C extension changes for kafka-python: raw producer and consumer, with and without it,
alternating, on the same broker.

kafka-python computes a CRC-32C over every record batch it builds, and (check_crcs=True, the default) over
every batch it reads; without the `crc32c` package it does so in pure Python. kafkalab depends on that
package (it is in the venv). The runs without and with it are separate Python processes (the package is
imported once per process); the run "without" gets, first on PYTHONPATH, a `crc32c` package whose import
fails (out/bench/no-crc32c), so kafka-python falls back to its pure-Python CRC as it does where the
extension is not installed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from bench.common import bench_kafka, machine, median
from kafkalab import clients, kube, strimzi

__all__ = ["main"]

ROUNDS = int(os.environ.get("BENCH_CRC_ROUNDS", 3))
COUNTS = {100: 20_000, 1024: 10_000}


def worker(bootstrap: str, topic: str, size: int, count: int) -> dict:
    """Produce `count` records, then read them back; wall and CPU seconds of each."""
    import kafka.record.util as util
    from kafka import KafkaConsumer, KafkaProducer

    value = (b"kafkalab-" * (size // 9 + 1))[:size]
    start, cpu = time.perf_counter(), time.process_time()
    p = KafkaProducer(bootstrap_servers=bootstrap)
    for _ in range(count):
        p.send(topic, value=value)
    p.flush(timeout=180)
    p.close(timeout=5)
    produce = (time.perf_counter() - start, time.process_time() - cpu)
    start, cpu = time.perf_counter(), time.process_time()
    c = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest")
    n = 0
    while n < count:
        for records in c.poll(timeout_ms=1000, max_records=count - n).values():
            n += len(records)
    c.close(autocommit=False)
    consume = (time.perf_counter() - start, time.process_time() - cpu)
    return {"crc32c_c": util.crc32c_c is not None, "produce": produce, "consume": consume}


def _one(cluster: str, ns: str, bootstrap: str, rnd: int, size: int, count: int, variant: str, hide: Path):
    topic = f"crc-{size}-{variant}-{rnd}"  # fresh: the consumer reads exactly this run's records
    strimzi.ensure_topic(topic, cluster, ns, partitions=1, timeout=120)
    env = dict(os.environ)
    if variant == "pure":
        env["PYTHONPATH"] = f"{hide}{os.pathsep}{env.get('PYTHONPATH', '')}"
    cmd = [sys.executable, "-m", "bench.crc32c_effect", "worker", bootstrap, topic, str(size), str(count)]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600, check=True)
    r = json.loads(done.stdout.strip().splitlines()[-1])
    assert r["crc32c_c"] == (variant == "ext"), f"{variant}: crc32c C extension in use: {r['crc32c_c']}"
    runs = []
    for op in ("produce", "consume"):
        wall, cpu = r[op]
        runs.append(
            {"round": rnd, "size": size, "variant": variant, "op": op, "msgs_s": count / wall,
             "cpu_us_per_msg": cpu / count * 1e6}
        )  # fmt: skip
        print(
            f"{op} {size:>4} B {variant:<4} round {rnd}: {count / wall:8.0f} msg/s, "
            f"{cpu / count * 1e6:6.0f} µs CPU/record",
            flush=True,
        )
    return runs


def main(argv: list[str]) -> int:
    if argv[1] == "worker":
        print(json.dumps(worker(argv[2], argv[3], int(argv[4]), int(argv[5]))))
        return 0
    out = Path(argv[1])
    hide = (out.parent / "no-crc32c").resolve()  # a `crc32c` that cannot be imported: the pure-Python runs
    (hide / "crc32c").mkdir(parents=True, exist_ok=True)
    (hide / "crc32c" / "__init__.py").write_text(
        'raise ImportError("hidden by bench/crc32c_effect.py: this run measures pure-Python CRC-32C")\n'
    )
    kube.reset()
    info = machine()
    runs = []
    with bench_kafka("bench-crc") as (cluster, ns):
        bootstrap = clients.connection(cluster, ns)["bootstrap_servers"]
        for rnd in range(ROUNDS):
            for size, count in COUNTS.items():
                for variant in ("pure", "ext") if rnd % 2 == 0 else ("ext", "pure"):
                    runs += _one(cluster, ns, bootstrap, rnd, size, count, variant, hide)
    summary = []
    for op in ("produce", "consume"):
        for size in COUNTS:
            row = {"op": op, "size": size}
            for variant in ("pure", "ext"):
                mine = [r for r in runs if (r["op"], r["size"], r["variant"]) == (op, size, variant)]
                row[variant] = {k: median(r[k] for r in mine) for k in ("msgs_s", "cpu_us_per_msg")}
            row["speedup"] = row["ext"]["msgs_s"] / row["pure"]["msgs_s"]
            summary.append(row)
            print(f"{op} {size:>4} B: {row['pure']['msgs_s']:.0f} → {row['ext']['msgs_s']:.0f} msg/s "
                  f"(×{row['speedup']:.2f})")  # fmt: skip
    out.write_text(
        json.dumps({"machine": info, "rounds": ROUNDS, "runs": runs, "summary": summary}, indent=2)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
