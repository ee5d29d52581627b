"""The query-log agent's own counters, served on its /metrics page for the metrics agent."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge


@dataclass
class QuerylogMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.received = Counter("trino_querylog_events_received", "Events accepted and spooled", registry=r)
        self.received_bytes = Counter(
            "trino_querylog_received_bytes", "Bytes of the events accepted, as Trino posted them", registry=r
        )
        self.invalid = Counter(
            "trino_querylog_requests_invalid", "Requests refused with 4xx", ["reason"], registry=r
        )
        self.dropped = Counter("trino_querylog_events_dropped", "Events refused: spool full", registry=r)
        self.indexed = Counter("trino_querylog_events_indexed", "Events acknowledged by ES", registry=r)
        self.rejected = Counter(
            "trino_querylog_events_rejected", "Events Elasticsearch refused permanently", registry=r
        )
        self.bulk_errors = Counter("trino_querylog_bulk_errors", "Failed bulk requests", registry=r)
        self.spool_bytes = Gauge("trino_querylog_spool_bytes", "Spool size on disk", registry=r)
        self.spool_events = Gauge("trino_querylog_spool_events", "Events waiting for ES", registry=r)
        self.es_up = Gauge("trino_querylog_elasticsearch_up", "1 if the store answered", registry=r)
        self.retried = Counter(
            "trino_querylog_events_retried",
            "Events the store asked to send again (auth, missing index, overload), by status",
            ["status"],
            registry=r,
        )
        self.refused_requests = Counter(
            "trino_querylog_requests_refused",
            "Bulk requests the store refused as a whole; the batch is split to find the culprit",
            registry=r,
        )
        self.template_errors = Counter(
            "trino_querylog_template_errors", "Failed index-template puts (shipping goes on)", registry=r
        )
        self.write_errors = Counter(
            "trino_querylog_spool_write_errors",
            "Events refused: the disk failed",
            registry=r,
        )
        self.internal_errors = Counter(
            "trino_querylog_requests_failed", "Requests answered 500: an unexpected error", registry=r
        )
