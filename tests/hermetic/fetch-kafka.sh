#!/usr/bin/env bash
# Fetches the jars of a real Apache Kafka 4.3.1 broker (kafka_2.13, kafka-tools, the log4j2 binding for
# slf4j) from Maven Central into the cache and prints that directory (a Java classpath dir: libs/*).
# Why Maven and not the release tarball: the tarball lives on the Apache mirrors, which are not reachable
# here; Maven Central is. The pom next to this script lists what to fetch (kafka/pom.xml).
# A finished fetch is never redone: the marker records the pom it was fetched for.
set -euo pipefail

KAFKA_VERSION=4.3.1
CACHE=${KAFKALAB_CACHE:-$HOME/.cache/kafkalab}
DIR="$CACHE/kafka-$KAFKA_VERSION"
LIBS="$DIR/libs"
MARKER="$DIR/fetched"
POM="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/kafka/pom.xml"
PLUGIN=org.apache.maven.plugins:maven-dependency-plugin:3.8.1

die() { echo "fetch-kafka: $*" >&2; exit 1; }

stamp=$(sha256sum "$POM" | cut -d' ' -f1)
if [ -f "$MARKER" ] && [ "$(cat "$MARKER")" = "$stamp" ] && [ -d "$LIBS" ]; then echo "$LIBS"; exit 0; fi

command -v java >/dev/null || die "'java' not found — install a Java 17+ runtime (e.g. apt-get install openjdk-17-jre-headless)"
# `java -version` prints e.g. 'openjdk version "17.0.15"' or '"1.8.0_392"' on stderr.
jv=$(java -version 2>&1 | sed -n 's/.* version "\([0-9]*\)[."].*/\1/p' | head -1)
[ "${jv:-0}" -ge 17 ] 2>/dev/null \
  || die "Kafka $KAFKA_VERSION needs Java 17+, found '${jv:-unknown}' — install Java 17+ or put it first on PATH (JAVA_HOME)"
command -v mvn >/dev/null || die "'mvn' not found — install Maven 3.6+ (e.g. apt-get install maven)"

mkdir -p "$DIR"
rm -rf "$LIBS.partial"
# The plugin is pinned by full coordinates so an empty ~/.m2 with no network fails as "cannot resolve",
# not as a baffling "No plugin found for prefix".
if ! out=$(mvn -B -q -Dstyle.color=never -f "$POM" "$PLUGIN:copy-dependencies" -DincludeScope=runtime \
             -DoutputDirectory="$LIBS.partial" 2>&1); then
  rm -rf "$LIBS.partial"
  if echo "$out" | grep -qiE 'transfer|resolve|UnknownHost|Connect|timed out|Network is unreachable'; then
    die "Maven Central did not answer while fetching Kafka $KAFKA_VERSION — check network access to" \
        "repo.maven.apache.org (or a mirror/proxy in ~/.m2/settings.xml) and re-run"
  fi
  die "Maven failed: $(echo "$out" | grep -m1 ERROR || echo "$out" | tail -1) — see 'mvn -f $POM dependency:tree'"
fi
ls "$LIBS.partial"/kafka_2.13-$KAFKA_VERSION.jar >/dev/null 2>&1 \
  || { rm -rf "$LIBS.partial"; die "Maven finished but kafka_2.13-$KAFKA_VERSION.jar is missing — check $POM"; }

rm -rf "$LIBS"
mv "$LIBS.partial" "$LIBS"
echo "$stamp" > "$MARKER"   # written last: a half-done fetch is never taken for a finished one
echo "$LIBS"
