"""`node-agent querylog`: Trino's HTTP event listener -> durable spool -> Elasticsearch.

Trino delivers each QueryCompletedEvent once, fire-and-forget, on a single thread, so the agent is
the only place an event can be kept: the 200 goes out only after the event is fsynced into the
spool (see spool.py). A separate thread bulk-indexes spooled events with the query id as `_id` and
acknowledges them in the spool only after Elasticsearch has; while Elasticsearch is down it backs
off and the spool grows up to its bound, beyond which new events are refused with 503, logged at
ERROR and counted (`trino_querylog_events_dropped_total`).

The listener only ever binds 127.0.0.1: Trino on the same node is its only client. GET /metrics on
the same port serves this process's own counters for the metrics agent to pass on.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, disable_created_metrics, generate_latest

from node_agent import contract, jsonlog
from node_agent.querylog.counters import QuerylogMetrics
from node_agent.querylog.events import EventError, parse_completed_event
from node_agent.querylog.shipper import BulkFn, Shipper
from node_agent.querylog.spool import Spool, SpoolFull, SpoolWriteError
from node_agent.querylog.store.base import BulkOutcome, Store, bulk_entry, open_store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class QuerylogConfig:
    host: str = "127.0.0.1"
    port: int = contract.QUERYLOG_PORT
    path: str = contract.QUERYLOG_PATH
    index_prefix: str = contract.ElasticsearchSettings.index_prefix  # the store's (for_store sets it)
    spool_dir: Path = Path(contract.AGENT_STATE_DIR) / "querylog-spool"
    spool_max_bytes: int = 1024 * 1024 * 1024
    # Real events are ~30-100 KB. The renderer caps the output-stage JSON (the one part Trino lets
    # reach 16 MB) at render.MAX_OUTPUT_STAGE_SIZE; the rest grows with the query text, itself
    # capped by query.max-length (1M characters): query, plan and JSON plan together stay far below
    # this (measured: tests/integration/test_querylog.py). Trino never retries a 413.
    max_body_bytes: int = 64 * 1024 * 1024
    batch_events: int = 500
    batch_bytes: int = 5 * 1024 * 1024
    # A short batch waits this long for more events. Each bulk request costs the store a translog
    # fsync per index it touches: measured (bench/querylog.py, 4 senders, Elasticsearch on the same
    # 2 cores), 0.05 s made ~20-event requests costing the store 2.8 ms CPU per event and the
    # agent reached 382 events/s; 0.5 s made ~250-event requests, 1.2 ms, 524 events/s. The
    # event is durable on disk meanwhile: only its visibility waits.
    batch_linger_seconds: float = 0.5
    backoff_initial_seconds: float = 1.0
    backoff_max_seconds: float = 30.0
    rejected_file: str = "rejected.jsonl"  # documents Elasticsearch refused for good, for a human
    rejected_max_bytes: int = 64 * 1024 * 1024  # then rejected.jsonl moves to rejected.jsonl.1
    template_retry_seconds: float = 60.0
    discard: bool = False  # no Elasticsearch configured: validate and answer, keep nothing


class QuerylogServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, config: QuerylogConfig, spool: Spool, metrics: QuerylogMetrics) -> None:
        self.config = config
        self.spool = spool
        self.metrics = metrics
        super().__init__((config.host, config.port), _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: QuerylogServer
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        """Every request gets an HTTP answer and a log line; a 5xx is one Trino sends again."""
        try:
            self._post()
        except Exception:
            log.exception("querylog: unexpected error on %s %s; answering 500", self.command, self.path)
            self.server.metrics.internal_errors.inc()
            self._reply(500, b"internal error; the event was not stored, send it again\n", close=True)

    def _post(self) -> None:
        config, metrics = self.server.config, self.server.metrics
        if self.path.split("?", 1)[0] != config.path:
            self._refuse(404, "not_found", f"POST only to {config.path}")
            return
        length_header = self.headers.get("Content-Length")
        if length_header is None:
            self._refuse(411, "no_length", "Content-Length is required")
            return
        try:
            length = int(length_header)
            if length < 0:
                raise ValueError(length_header)
        except ValueError:
            self._refuse(400, "bad_length", f"Content-Length {length_header!r} is not a byte count")
            return
        if length > config.max_body_bytes:
            self._refuse(413, "too_large", f"body of {length} bytes exceeds {config.max_body_bytes} bytes")
            return
        body = self.rfile.read(length)
        if len(body) < length:
            self._refuse(400, "short_body", f"body ended after {len(body)} of {length} bytes")
            return
        try:
            doc = parse_completed_event(body)
        except EventError as exc:
            self._refuse(400, "malformed", str(exc))
            return
        if config.discard:
            metrics.received.inc()
            self._reply(200, b"")
            return
        try:
            self.server.spool.append(bulk_entry(config.index_prefix, doc))
        except SpoolFull as exc:
            log.error("querylog: DROPPING query %s: %s", doc["query_id"], exc)
            metrics.dropped.inc()
            self._reply(503, f"spool full, event not stored: {exc}\n".encode(), close=False)
            return
        except (SpoolWriteError, OSError) as exc:
            log.error("querylog: query %s not stored, answering 503 for a resend: %s", doc["query_id"], exc)
            metrics.write_errors.inc()
            self._reply(503, f"spool write failed, event not stored: {exc}\n".encode(), close=False)
            return
        metrics.received.inc()
        metrics.received_bytes.inc(length)
        self._reply(200, b"")

    def do_GET(self) -> None:
        if self.path == "/metrics":
            self._reply(200, generate_latest(self.server.metrics.registry), content_type=CONTENT_TYPE_LATEST)
        elif self.path == "/healthz":
            self._reply(200, b"ok\n")
        else:
            self._refuse(404, "not_found", "GET serves /metrics and /healthz only")

    def _refuse(self, status: int, reason: str, message: str) -> None:
        self.server.metrics.invalid.labels(reason=reason).inc()
        log.warning("querylog: refused %s %s with %d: %s", self.command, self.path, status, message)
        # A body left unread would be parsed as the next request: close rather than drain it.
        self._reply(status, (message + "\n").encode(), close=True)

    def _reply(self, status: int, body: bytes, content_type: str = "text/plain", close: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("querylog http: " + format, *args)


class QuerylogAgent:
    """The listener and the shipper around one spool; start() returns once the port is bound."""

    def __init__(
        self,
        config: QuerylogConfig,
        bulk: BulkFn,
        prepare: Callable[[], None] = lambda: None,
        metrics: QuerylogMetrics | None = None,
    ) -> None:
        self.config = config
        self.metrics = metrics or QuerylogMetrics()
        self.spool = Spool(config.spool_dir, max_bytes=config.spool_max_bytes)
        self.server = QuerylogServer(config, self.spool, self.metrics)
        self.shipper = Shipper(self.spool, bulk, self.metrics, config, prepare)
        self._serve = threading.Thread(target=self.server.serve_forever, name="querylog-http", daemon=True)

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def start(self) -> None:
        self._serve.start()
        self.shipper.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.shipper.stop()
        self.spool.close()


def for_store(config: QuerylogConfig, store: Store) -> QuerylogAgent:
    """The agent shipping to `store`: one delivery path whatever the backend behind the seam."""
    return QuerylogAgent(
        dataclasses.replace(config, index_prefix=store.index_prefix), bulk=store.bulk, prepare=store.prepare
    )


def main(argv: list[str]) -> int:
    """On a node: no arguments (the Elasticsearch settings come from the node env file and SSM).

    The flags serve local runs and tests: with --es-url no AWS call is made.
    """
    parser = argparse.ArgumentParser(prog="node-agent querylog", description=__doc__.split("\n")[0])
    parser.add_argument("--env-file", type=Path, help=f"node env file (default {contract.NODE_ENV_FILE})")
    parser.add_argument("--es-url", help="Elasticsearch URL, no credentials (instead of the node settings)")
    parser.add_argument(
        "--index-prefix", help="daily index prefix (default: the node settings' or trino-queries)"
    )
    parser.add_argument(
        "--backend",
        choices=contract.STORE_BACKENDS,
        help="with --es-url: which server it is (default elasticsearch)",
    )
    parser.add_argument("--aws-region", help="with --es-url and an aws-* backend: the SigV4 signing region")
    parser.add_argument("--retention-days", type=int, help="with --es-url: delete indices older than this")
    parser.add_argument("--port", type=int, default=contract.QUERYLOG_PORT)
    parser.add_argument("--spool-dir", type=Path, default=QuerylogConfig.spool_dir)
    parser.add_argument("--spool-max-bytes", type=int, default=QuerylogConfig.spool_max_bytes)
    args = parser.parse_args(argv)
    jsonlog.configure("querylog")
    for chatty in ("elastic_transport", "opensearch"):  # not one line per bulk request
        logging.getLogger(chatty).setLevel(logging.WARNING)
    disable_created_metrics()

    try:
        es, password = resolve_elasticsearch(args.env_file, args.es_url, args.index_prefix)
        if es is not None and args.es_url:
            flags = {
                "backend": args.backend,
                "aws_region": args.aws_region,
                "retention_days": args.retention_days,
            }
            es = dataclasses.replace(es, **{k: v for k, v in flags.items() if v is not None})
    except Exception as exc:  # NodeConfigError, AwsError: say what is missing and let systemd retry
        print(f"node-agent querylog: {exc}", file=sys.stderr)
        return 2
    config = QuerylogConfig(port=args.port, spool_dir=args.spool_dir, spool_max_bytes=args.spool_max_bytes)
    if es is None:
        # Trino posts events whether or not a query log is configured; answering keeps its single
        # listener thread from retrying every event, and nothing piles up on disk.
        log.warning("querylog: no elasticsearch in the node settings: events are answered and discarded")
        agent = QuerylogAgent(dataclasses.replace(config, discard=True), bulk=_never_called)
        target = "nowhere (discarding)"
    else:
        store = open_store(es, password)
        agent = for_store(config, store)
        target = store.target
    agent.start()
    log.info("querylog: listening on %s:%d%s, shipping to %s", config.host, agent.port, config.path, target)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    agent.stop()
    return 0


def resolve_elasticsearch(
    env_file: Path | None, es_url: str | None = None, index_prefix: str | None = None
) -> tuple[contract.ElasticsearchSettings | None, str | None]:
    """Where to ship and with which password: from the node settings in SSM, unless `es_url` is given.

    The password is read from Secrets Manager (elasticsearch.password_secret_arn) with the node's
    role; it never appears in the node settings or on the command line.
    """
    if es_url:
        prefix = index_prefix or contract.ElasticsearchSettings.index_prefix
        return contract.ElasticsearchSettings(url=es_url, index_prefix=prefix), None
    from node_agent import aws, node_config

    env = node_config.read_env_file(env_file or node_config.default_env_file())
    settings = node_config.load_settings(env)
    es = settings.elasticsearch
    if es is None:
        return None, None
    if index_prefix:
        es = dataclasses.replace(es, index_prefix=index_prefix)
    password = aws.get_secret(es.password_secret_arn, settings.region) if es.password_secret_arn else None
    return es, password


def _never_called(entries: list[bytes]) -> BulkOutcome:
    raise RuntimeError("a discarding query log spools nothing, so it never ships")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
