#!/usr/bin/env bash
# Ready when this node's own ports accept connections: the replication port (9091, brokers) or the
# control plane port (9090, controllers only). Strimzi asks its Kafka agent; this image has none.
grep -q '^process.roles=.*broker' /tmp/strimzi.properties 2>/dev/null && port=9091 || port=9090
exec 3<>"/dev/tcp/127.0.0.1/$port"
