#!/usr/bin/env bash
# `make kind-offline`: the notebook suite on a kind cluster built on this machine (up.sh), then down.sh —
# also when the suite fails. Executed notebooks, summary.md and junit.xml in ${OUT:-out}/kind-offline.
# Strimzi's install YAML: $KAFKALAB_STRIMZI_SOURCE, else the copy beside the repository (../shared), else the
# release asset in the cache (tests/hermetic/source.py decides, as for the hermetic tier).
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=.venv/bin/python
OUT=${OUT:-out}/kind-offline
trap 'bash tests/kind-offline/down.sh' EXIT
bash tests/kind-offline/up.sh
# shellcheck disable=SC1091
. "${KAFKALAB_KIND_OFFLINE_DIR:-/tmp/kafkalab-kind-offline}/env"
KAFKALAB_STRIMZI_SOURCE=$("$PY" -c 'from tests.hermetic.source import strimzi_source; print(strimzi_source())')
export KAFKALAB_STRIMZI_SOURCE
rm -rf "$OUT"
"$PY" -m kafkalab run --tier kind -f tests/notebooks/kind-offline.yaml --output "$OUT"
