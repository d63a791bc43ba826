"""Strimzi stand-in for the hermetic cluster: a small operator whose Kafka brokers are real JVMs."""
