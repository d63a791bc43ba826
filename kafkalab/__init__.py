"""kafkalab: learn Kafka on Kubernetes with Strimzi."""
