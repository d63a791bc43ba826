#!/usr/bin/env bash
# kafkalab's start script for a Kafka node pod (not Strimzi's; it does what Strimzi's kafka_run.sh does):
# the node's config comes from /opt/kafka/custom-config/ (the operator's per-node Secret), the storage on
# /var/lib/kafka/data is formatted once (KRaft: cluster id, metadata version, the operator's admin user),
# then the broker runs in the foreground as the container's process.
set -euo pipefail
cd /opt/kafka
conf=/opt/kafka/custom-config
for f in server.config cluster.id metadata.version; do
  [ -s "$conf/$f" ] || { echo "kafka_run.sh: $conf/$f missing — the operator writes it (Secret named like this pod)" >&2; exit 1; }
done
cp "$conf/server.config" /tmp/strimzi.properties
echo "Starting Kafka with configuration:"
sed -e 's/\(jaas.config\|password\)=.*/\1=[hidden]/' /tmp/strimzi.properties
scram=()
[ -s "$conf/admin.scram" ] && scram=(--add-scram "$(cat "$conf/admin.scram")")
echo "Making sure the KRaft storage is formatted with cluster ID $(cat "$conf/cluster.id")"
bin/kafka-storage.sh format --cluster-id="$(cat "$conf/cluster.id")" \
  --release-version="$(cat "$conf/metadata.version")" --config=/tmp/strimzi.properties \
  --ignore-formatted "${scram[@]}"
# C1 only and serial GC: quick to start on a small node, as the hermetic tier's brokers
exec java ${KAFKA_HEAP_OPTS:--Xms384m -Xmx384m} -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
  -XX:MaxDirectMemorySize=128m -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
  -Dlog4j2.configurationFile=/opt/kafka/config/log4j2.xml -cp '/opt/kafka/libs/*' kafka.Kafka /tmp/strimzi.properties
