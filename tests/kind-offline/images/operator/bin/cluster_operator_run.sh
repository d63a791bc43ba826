#!/bin/sh
# The Cluster Operator container of Strimzi's install Deployment runs this: kafkalab's stand-in, in pod mode
# (its Kafka nodes are pods). State (CAs, cluster ids) lives in the pod's /tmp.
exec python3 -m standin --in-cluster --state-dir /tmp/standin
