#!/usr/bin/env bash
# Alive while the broker's JVM (the container's main process) runs.
grep -q 'kafka.Kafka' /proc/1/cmdline
