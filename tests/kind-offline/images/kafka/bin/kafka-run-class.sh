#!/usr/bin/env bash
# Runs a Java class of Kafka's with its jars (what Apache Kafka's script of this name does, written here).
# Tools log warnings only, to stderr. KAFKA_HEAP_OPTS and KAFKA_OPTS as in Apache Kafka's scripts.
exec java ${KAFKA_HEAP_OPTS:--Xmx256m} -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true \
  ${KAFKA_OPTS:-} -Dlog4j2.configurationFile=/opt/kafka/config/tools-log4j2.xml -cp '/opt/kafka/libs/*' "$@"
