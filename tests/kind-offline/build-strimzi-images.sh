#!/usr/bin/env bash
# Builds the two images under Strimzi's names into our dockerd's store, labelled as kafkalab builds:
#   quay.io/strimzi/kafka:1.2.0-kafka-4.3.1  Apache Kafka 4.3.1's jars (Maven Central, tests/hermetic/fetch-kafka.sh)
#                                            on Debian's JRE, with our start scripts and console tools (images/kafka)
#   quay.io/strimzi/operator:1.2.0           the Strimzi stand-in in pod mode (tests/hermetic/standin) on Debian's
#                                            Python, its libraries from PyPI (images/operator)
# An image is rebuilt only when what it is made from changed (a hash of its inputs, kept as a label).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
docker version >/dev/null 2>&1 || die "no dockerd on $DOCKER_HOST" "run tests/kind-offline/up.sh (it starts one)"
APPS_IMAGE=$(docker images --format '{{.Repository}}:{{.Tag}}' kafkalab.local/debian-apps | head -1)
[ -n "$APPS_IMAGE" ] || die "the Debian apps image is missing" "run tests/kind-offline/build-images.sh first"
KAFKA_IMAGE=quay.io/strimzi/kafka:1.2.0-kafka-4.3.1
OPERATOR_IMAGE=quay.io/strimzi/operator:1.2.0
PY_DEPS=(kopf==1.45.2 kubernetes==37.0.2 kafka-python==3.0.12 cryptography==50.0.2 PyYAML==6.0.4 crc32c==2.9.post0)
work=$(mktemp -d /var/tmp/kafkalab-strimzi-images.XXXXXX)
trap 'rm -rf "$work"' EXIT

# build IMAGE CONTEXT: docker build unless the image carries this context's hash already
build() {
  local image=$1 ctx=$2 hash
  hash=$(cd "$ctx" && find . -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
  if [ "$(docker image inspect -f '{{index .Config.Labels "kafkalab.inputs"}}' "$image" 2>/dev/null)" = "$hash" ]; then
    return 0
  fi
  say "building $image (inputs $hash)"
  docker_build --build-arg "BASE=$APPS_IMAGE" \
    --label "org.opencontainers.image.vendor=kafkalab (built locally by tests/kind-offline, not the upstream image)" \
    --label "kafkalab.inputs=$hash" -t "$image" "$ctx"
}

# ---- Kafka ----------------------------------------------------------------------------------------------
libs=$("$ROOT/tests/hermetic/fetch-kafka.sh") || die "fetching Kafka's jars failed (above)" "check Maven Central access"
cp -r "$HERE/images/kafka" "$work/kafka"
cp -r "$libs" "$work/kafka/libs"
cp "$ROOT/tests/hermetic/kafka/log4j2.xml" "$work/kafka/config/log4j2.xml"
build "$KAFKA_IMAGE" "$work/kafka"

# ---- operator (the stand-in) -----------------------------------------------------------------------------
deps="$KO_CACHE/operator-python-$(echo "${PY_DEPS[*]}" | sha256sum | cut -c1-12)"
if [ ! -d "$deps" ]; then
  say "fetching the stand-in's Python libraries from PyPI (${PY_DEPS[*]})"
  # wheels for Debian bookworm's Python 3.11, whatever Python runs this script
  niced "$PY" -m pip install -q --target "$deps.partial" --only-binary=:all: --python-version 3.11 \
    --implementation cp --platform manylinux2014_x86_64 --platform manylinux_2_28_x86_64 \
    --platform manylinux_2_17_x86_64 "${PY_DEPS[@]}" ||
    die "pip could not fetch the stand-in's libraries (above)" "check access to PyPI"
  find "$deps.partial" -name __pycache__ -prune -exec rm -rf {} +
  mv "$deps.partial" "$deps"
fi
mkdir -p "$work/operator"
cp -r "$HERE/images/operator/." "$work/operator/"
cp -r "$deps" "$work/operator/python"
cp -r "$ROOT/tests/hermetic/standin" "$work/operator/standin"
find "$work/operator/standin" -name __pycache__ -prune -exec rm -rf {} +
build "$OPERATOR_IMAGE" "$work/operator"
say "Strimzi-named images ready: $KAFKA_IMAGE, $OPERATOR_IMAGE"
