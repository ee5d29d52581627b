"""Real components on one machine, for the integration suite and `make rehearse`.

Trino, Elasticsearch, Prometheus and an AWS emulator run as plain processes on loopback, each on
ports picked at runtime, from verified downloads cached between runs. Everything started here is
registered in `tools.harness.processes`, so it is stopped at the end of a run even when a test fails.
"""
