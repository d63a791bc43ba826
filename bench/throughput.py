"""Produce and consume throughput: kafkalab.clients helpers vs raw kafka-python vs Kafka's own perf tools.

All three talk to the same broker (the hermetic cluster's real Kafka 4.3.1, through the Kafka's external
listener) with the same producer settings: acks=all, idempotence on, linger 0, 16 KiB batches, no
compression (kafka-python 3.0's defaults, which the helpers keep). Records have no key and go to a topic of
one partition, so no partitioner differences enter. Python timings are end to end of what a notebook does
(construct the client, send or read everything, close); the Java tools report their own rate (after JVM
start and client construction), and their process wall time is kept too.

Rounds alternate the order of the clients so drift (JIT warm-up, other load on the machine) spreads evenly;
figures are medians over rounds, and helper-vs-raw ratios are medians of per-round ratios. Raw kafka-python
runs twice per round ("raw_again"): raw_again/raw is the noise floor a helper/raw difference must stand out
from. Besides wall time, the client's own CPU time per record is kept (this Python process, all threads;
for the Java tools the whole JVM, start-up included). Nothing here asserts on time.
"""

from __future__ import annotations

import json
import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

from kafka import KafkaConsumer, KafkaProducer

from bench.common import ROOT, bench_kafka, kafka_libs, machine, median
from kafkalab import clients, kube, strimzi

__all__ = ["main"]

SIZES = (100, 1024)
# records per run: enough for a few seconds per run on 2 cores, few enough for a full run in minutes
COUNTS = {100: int(os.environ.get("BENCH_N_100", 20_000)), 1024: int(os.environ.get("BENCH_N_1K", 10_000))}
ROUNDS = int(os.environ.get("BENCH_ROUNDS", 5))
TIMEOUT = 180.0
MIB = 1024 * 1024
# what clients.produce() sets on top of kafka-python's defaults; the raw producer gets exactly these
PRODUCE_SETTINGS = {
    "max_block_ms": int(TIMEOUT * 1000),
    "delivery_timeout_ms": int(TIMEOUT * 1000),
    "request_timeout_ms": 30_000,
}
JAVA_PRODUCER_PROPS = {
    "acks": "all",
    "enable.idempotence": "true",
    "linger.ms": "0",  # Kafka 4's Java default is 5; kafka-python's is 0
    "batch.size": "16384",
    "compression.type": "none",
    "max.in.flight.requests.per.connection": "5",
}
LOG4J = ROOT / "bench" / "log4j2-tools.xml"


def _payloads(size: int, count: int) -> list[tuple[None, bytes]]:
    value = (b"kafkalab-" * (size // 9 + 1))[:size]
    return [(None, value)] * count


# ---- the three producers --------------------------------------------------------------------------------


def produce_helper(conn: dict, topic: str, records: list) -> tuple[float, float]:
    start, cpu = time.perf_counter(), time.process_time()
    sent = clients.produce(conn, topic, records, timeout=TIMEOUT)
    took, cpu = time.perf_counter() - start, time.process_time() - cpu
    assert sent == len(records)
    return took, cpu


def produce_raw(conn: dict, topic: str, records: list) -> tuple[float, float]:
    start, cpu = time.perf_counter(), time.process_time()
    p = KafkaProducer(**conn, **PRODUCE_SETTINGS)
    for key, value in records:
        p.send(topic, key=key, value=value)
    p.flush(timeout=TIMEOUT)
    p.close(timeout=5)
    return time.perf_counter() - start, time.process_time() - cpu


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _java(libs: Path, main: str, *args: str) -> tuple[float, float, str]:
    cmd = [
        "java",
        "-Xmx512m",
        f"-Dlog4j2.configurationFile={LOG4J}",
        "-cp",
        f"{libs}/*",
        main,
        *args,
    ]
    start, cpu = time.perf_counter(), _children_cpu()
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    wall, cpu = time.perf_counter() - start, _children_cpu() - cpu
    if out.returncode != 0:
        raise RuntimeError(f"{main} failed (exit {out.returncode}):\n{out.stderr[-2000:]}")
    return wall, cpu, out.stdout


def produce_java(libs: Path, bootstrap: str, topic: str, size: int, count: int) -> tuple[float, float, float]:
    """(records/s the tool reports, process wall seconds, process CPU seconds)."""
    props = [f"bootstrap.servers={bootstrap}"] + [f"{k}={v}" for k, v in JAVA_PRODUCER_PROPS.items()]
    wall, cpu, stdout = _java(
        libs,
        "org.apache.kafka.tools.ProducerPerformance",
        "--topic", topic, "--num-records", str(count), "--record-size", str(size),
        "--throughput", "-1", "--producer-props", *props,
    )  # fmt: skip
    # final line: "30000 records sent, 41152.3 records/sec (3.92 MB/sec), 305.1 ms avg latency, ..."
    m = re.findall(r"(\d+) records sent, ([\d.]+) records/sec", stdout)
    if not m or int(m[-1][0]) != count:
        raise RuntimeError(f"ProducerPerformance: unexpected output:\n{stdout[-1000:]}")
    return float(m[-1][1]), wall, cpu


# ---- the three consumers --------------------------------------------------------------------------------


def consume_helper(conn: dict, topic: str, count: int) -> tuple[float, float]:
    start, cpu = time.perf_counter(), time.process_time()
    got = clients.consume(conn, topic, count, timeout=TIMEOUT)
    took, cpu = time.perf_counter() - start, time.process_time() - cpu
    assert len(got) == count, f"helper read {len(got)} of {count}"
    return took, cpu


def consume_raw(conn: dict, topic: str, count: int) -> tuple[float, float]:
    start, cpu = time.perf_counter(), time.process_time()
    c = KafkaConsumer(topic, group_id=None, auto_offset_reset="earliest", consumer_timeout_ms=10_000, **conn)
    n = 0
    deadline = time.monotonic() + TIMEOUT
    while n < count and time.monotonic() < deadline:
        for records in c.poll(timeout_ms=1000, max_records=count - n).values():
            n += len(records)
    c.close(autocommit=False)
    took, cpu = time.perf_counter() - start, time.process_time() - cpu
    assert n == count, f"raw consumer read {n} of {count}"
    return took, cpu


def consume_java(libs: Path, bootstrap: str, topic: str, count: int) -> tuple[float, float, float, float]:
    """(records/s overall as the tool reports it, records/s of the fetch phase alone, process wall s,
    process CPU s)."""
    wall, cpu, stdout = _java(
        libs,
        "org.apache.kafka.tools.ConsumerPerformance",
        "--bootstrap-server", bootstrap, "--topic", topic, "--messages", str(count), "--timeout", "60000",
    )  # fmt: skip
    # header: start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec,
    #         rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec
    lines = [line for line in stdout.splitlines() if line.strip()]
    fields = [f.strip() for f in lines[-1].split(",")]
    if len(fields) < 10 or int(fields[4]) < count:
        raise RuntimeError(f"ConsumerPerformance: unexpected output:\n{stdout[-1000:]}")
    return float(fields[5]), float(fields[9]), wall, cpu


# ---- the run -------------------------------------------------------------------------------------------


def _rate(count: int, size: int, seconds: float, cpu: float) -> dict:
    return {
        "msgs_s": count / seconds,
        "mib_s": count * size / MIB / seconds,
        "seconds": seconds,
        "cpu_s": cpu,
        "cpu_us_per_msg": cpu / count * 1e6,
    }


def _produce_once(who: str, conn: dict, libs: Path, topic: str, records: list, size: int) -> dict:
    count = len(records)
    if who == "helper":
        return _rate(count, size, *produce_helper(conn, topic, records))
    if who in ("raw", "raw_again"):
        return _rate(count, size, *produce_raw(conn, topic, records))
    rate, wall, cpu = produce_java(libs, conn["bootstrap_servers"], topic, size, count)
    return {**_rate(count, size, count / rate, cpu), "process_wall_s": wall}


def _consume_once(who: str, conn: dict, libs: Path, topic: str, count: int, size: int) -> dict:
    if who == "helper":
        return _rate(count, size, *consume_helper(conn, topic, count))
    if who in ("raw", "raw_again"):
        return _rate(count, size, *consume_raw(conn, topic, count))
    rate, fetch_rate, wall, cpu = consume_java(libs, conn["bootstrap_servers"], topic, count)
    return {**_rate(count, size, count / rate, cpu), "fetch_msgs_s": fetch_rate, "process_wall_s": wall}


def crc32c_in_use() -> bool:
    """True when kafka-python uses the `crc32c` C extension (kafkalab installs it)."""
    import kafka.record.util as util

    return util.crc32c_c is not None


def crc32c_speed() -> float:
    """MiB/s of kafka-python's pure-Python CRC-32C, which it runs over every batch it builds or reads (with
    check_crcs) when the `crc32c` C extension is not installed."""
    from kafka.record._crc32c import crc as crc_py

    buf = os.urandom(16 * 1024)
    start, n = time.perf_counter(), 0
    while time.perf_counter() - start < 1.0:
        crc_py(buf)
        n += 1
    return n * len(buf) / MIB / (time.perf_counter() - start)


def run(cluster: str, ns: str) -> dict:
    libs = kafka_libs()
    conn = clients.connection(cluster, ns, "external")
    results: dict = {"rounds": ROUNDS, "counts": COUNTS, "runs": []}

    for size in SIZES:
        count = COUNTS[size]
        records = _payloads(size, count)
        produce_topic, consume_topic = f"produce-{size}", f"consume-{size}"
        for t in (produce_topic, consume_topic):
            strimzi.ensure_topic(t, cluster, ns, partitions=1, timeout=120)
        # warm-up (not reported): the broker's JIT, kafka-python's imports and connections
        produce_raw(conn, produce_topic, records[: count // 5])
        # the consume topic holds exactly `count` records
        produce_raw(conn, consume_topic, records)

        for rnd in range(ROUNDS):
            # raw_again is raw once more: raw_again/raw shows how much the same code varies (the noise floor)
            order = ["helper", "raw", "raw_again", "java"]
            order = order[rnd % 4 :] + order[: rnd % 4]
            for op in ("produce", "consume"):
                for who in order:
                    if op == "produce":
                        r = _produce_once(who, conn, libs, produce_topic, records, size)
                    else:
                        r = _consume_once(who, conn, libs, consume_topic, count, size)
                    results["runs"].append({"op": op, "size": size, "client": who, "round": rnd, **r})
                    print(
                        f"{op} {size:>4} B {who:<6} round {rnd}: "
                        f"{r['msgs_s']:>9.0f} msg/s {r['mib_s']:6.2f} MiB/s",
                        flush=True,
                    )

    results["summary"] = summarize(results["runs"])
    results["crc32c_py_mib_s"] = crc32c_speed()
    results["crc32c_c"] = crc32c_in_use()
    return results


def _paired(runs: list[dict], key: str, a: str, b: str) -> list[float]:
    """Per round, a's figure over b's: the two ran back to back, so load on the machine hits both alike."""
    by = {(r["client"], r["round"]): r[key] for r in runs}
    return [
        by[(a, n)] / by[(b, n)] for n in sorted({r["round"] for r in runs}) if (a, n) in by and (b, n) in by
    ]


def summarize(runs: list[dict]) -> list[dict]:
    rows = []
    for op in ("produce", "consume"):
        for size in SIZES:
            mine = [r for r in runs if r["op"] == op and r["size"] == size]
            row: dict = {"op": op, "size": size}
            for who in ("helper", "raw", "raw_again", "java"):
                theirs = [r for r in mine if r["client"] == who]
                if not theirs:
                    continue
                row[who] = {
                    "msgs_s": median(r["msgs_s"] for r in theirs),
                    "mib_s": median(r["mib_s"] for r in theirs),
                    "spread": (min(r["msgs_s"] for r in theirs), max(r["msgs_s"] for r in theirs)),
                    "cpu_us_per_msg": median(r["cpu_us_per_msg"] for r in theirs),
                }
                for extra in ("process_wall_s", "fetch_msgs_s"):
                    if extra in theirs[0]:
                        row[who][extra] = median(r[extra] for r in theirs)
            if "helper" in row and "raw" in row:
                wall = _paired(mine, "msgs_s", "helper", "raw")
                cpu = _paired(mine, "cpu_us_per_msg", "helper", "raw")
                row["helper_vs_raw"] = median(wall)  # throughput: > 1 means the helper was faster
                row["helper_vs_raw_spread"] = (min(wall), max(wall))
                row["helper_cpu_vs_raw"] = median(
                    cpu
                )  # client CPU per record: > 1 means the helper costs more
                row["helper_cpu_vs_raw_spread"] = (min(cpu), max(cpu))
            if "raw_again" in row and "raw" in row:
                wall = _paired(mine, "msgs_s", "raw_again", "raw")
                cpu = _paired(mine, "cpu_us_per_msg", "raw_again", "raw")
                row["raw_again_vs_raw"] = median(wall)
                row["raw_again_vs_raw_spread"] = (min(wall), max(wall))
                row["raw_again_cpu_vs_raw"] = median(cpu)
                row["raw_again_cpu_vs_raw_spread"] = (min(cpu), max(cpu))
            if "java" in row and "raw" in row:
                row["java_vs_raw"] = median(_paired(mine, "msgs_s", "java", "raw"))
            rows.append(row)
    return rows


def main(argv: list[str]) -> int:
    out = Path(argv[1])
    kube.reset()
    info = machine()
    with bench_kafka("bench-tp") as (cluster, ns):
        results = run(cluster, ns)
    results["machine"] = info
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(
        f"{'op':<8}{'size':>6}  {'helper msg/s':>13}{'raw msg/s':>11}{'java msg/s':>12}  helper/raw  "
        "helper CPU/raw CPU  java/raw"
    )
    for row in results["summary"]:
        print(
            f"{row['op']:<8}{row['size']:>6}  {row['helper']['msgs_s']:>13.0f}{row['raw']['msgs_s']:>11.0f}"
            f"{row['java']['msgs_s']:>12.0f}  {row['helper_vs_raw']:>10.3f}  "
            f"{row['helper_cpu_vs_raw']:>18.3f}  {row['java_vs_raw']:>8.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
