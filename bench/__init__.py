"""kafkalab benchmarks (`make bench` → bench/run.sh). Figures go to bench/RESULTS.md; nothing here asserts
on time: a benchmark reports, the tests judge."""
