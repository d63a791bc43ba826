#!/usr/bin/env bash
# `make bench`: every kafkalab benchmark against the hermetic cluster, then bench/RESULTS.md,
# bench/results.png and bench/results.json. Raw per-benchmark JSON goes to $BENCH_OUT (default out/bench).
#
# Uses the hermetic cluster in $KAFKALAB_HERMETIC_DIR (default /tmp/kafkalab-hermetic) when it is up, and
# leaves it up. When it is not, starts it with tests/hermetic/up.sh and takes it down again at the end.
# Every benchmark works in namespaces of its own (bench-*), so it can share a cluster with tests.
#
# Knobs: BENCH_ROUNDS (throughput rounds, 5), BENCH_N_100 / BENCH_N_1K (records per run, 20000 / 10000),
# BENCH_READY_ROUNDS (10), BENCH_CRC_ROUNDS (3), BENCH_SUITE_RUNS (2), BENCH_ONLY (e.g. "footprint readiness"),
# BENCH_OUT (raw JSON), BENCH_REPORT (where the report goes, default bench/).
# A full run takes ~10 min on 2 idle cores.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
RUN=$(realpath -m "${KAFKALAB_HERMETIC_DIR:-/tmp/kafkalab-hermetic}")
OUT=${BENCH_OUT:-out/bench}
REPORT=${BENCH_REPORT:-bench} # where RESULTS.md, results.png and results.json go
ONLY=${BENCH_ONLY:-footprint readiness throughput crc32c suite}
step() { printf '\n==> bench: %s  [%s]\n' "$*" "$(date +%T)"; }

if [ ! -f "$RUN/up.done" ]; then
  step "no hermetic cluster in $RUN: starting one (tests/hermetic/up.sh), stopped again at the end"
  trap 'step "stopping the hermetic cluster this run started"; bash tests/hermetic/down.sh' EXIT
  bash tests/hermetic/up.sh >/dev/null
fi
# shellcheck disable=SC1091
set -a; . "$RUN/env"; set +a
mkdir -p "$OUT"

for part in $ONLY; do
  step "$part"
  case "$part" in
    footprint) "$PY" -m bench.footprint "$KAFKALAB_STRIMZI_SOURCE" "$OUT/footprint.json" ;;
    readiness) "$PY" -m bench.readiness "$OUT/readiness.json" ;;
    throughput) "$PY" -m bench.throughput "$OUT/throughput.json" ;;
    crc32c) "$PY" -m bench.crc32c_effect "$OUT/crc32c.json" ;; # with the venv's crc32c vs with it hidden
    suite) "$PY" -m bench.suite_time "$OUT/suite.json" || echo "bench: a notebook failed (see above); figures kept" ;;
    *) echo "bench: unknown part $part (footprint, readiness, throughput, crc32c, suite)" >&2; exit 2 ;;
  esac
done

step "report"
mkdir -p "$REPORT"
"$PY" -m bench.report "$OUT" "$REPORT/RESULTS.md" "$REPORT/results.png"
