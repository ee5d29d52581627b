"""The query log's sender loop: spooled events into the store, in order, acknowledged only after it.

Errors are sorted by what ends them. Unreachable, timeouts, 5xx, 401/403/404 and 429 end when the
store (or its configuration) is fixed: the events stay in the spool and are sent again with
backoff, with a log line that names the status and a counter per status. Errors about a document
itself end never: the document is set aside in a size-bounded `rejected.jsonl` for a human and the
rest ships. A whole request refused for its content (e.g. an `_id` over 512 bytes) is halved until
the refused documents stand alone. Which status means what is decided by the store's module
(store.item_result / request_refused), the one place that knows that store.
"""

from __future__ import annotations

import json
import logging
import math
import random
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from node_agent.querylog.segments import Position
from node_agent.querylog.spool import Spool
from node_agent.querylog.store.base import BulkOutcome, RequestRefused, entry_document, spooled_entry

if TYPE_CHECKING:
    from node_agent.querylog.command import QuerylogConfig
    from node_agent.querylog.counters import QuerylogMetrics

log = logging.getLogger(__name__)

BulkFn = Callable[[list[bytes]], BulkOutcome]  # bulk entries (store.bulk_entry), in spool order


class Shipper(threading.Thread):
    """Moves spooled events into the store, in order, acknowledging only what it accepted."""

    def __init__(
        self,
        spool: Spool,
        bulk: BulkFn,
        metrics: QuerylogMetrics,
        config: QuerylogConfig,
        prepare: Callable[[], None] = lambda: None,
    ) -> None:
        super().__init__(name="querylog-shipper", daemon=True)
        self.spool = spool
        self.bulk = bulk
        self.prepare = prepare  # e.g. put the index template; retried until it works
        self.metrics = metrics
        self.config = config
        self._stop_event = threading.Event()
        self._backoff = config.backoff_initial_seconds
        self._prepare_due = 0.0  # monotonic time of the next template put; inf once it worked

    def stop(self, timeout: float = 10.0) -> None:
        self._stop_event.set()
        self.spool.has_data.set()
        self.join(timeout)

    def run(self) -> None:
        while not self._stop_event.is_set():
            try:
                progressed = self.ship_once()
            except Exception as exc:  # unreachable, timeouts, 5xx or auth on the whole request: retried
                log.warning(
                    "querylog: shipping to the store failed (%s: %s); %d events wait in the spool, "
                    "retrying in %.1fs",
                    type(exc).__name__,
                    exc,
                    self.spool.pending_records,
                    self._backoff,
                )
                self.metrics.bulk_errors.inc()
                self.metrics.es_up.set(0)
                self._update_gauges()
                self._sleep_backoff()
                continue
            if not progressed:
                self.spool.has_data.wait(timeout=1.0)

    def ship_once(self) -> bool:
        """One batch; True if anything was acknowledged. Raises if ES is unreachable."""
        self._update_gauges()  # first: also right after a restart while the store is down
        self._prepare_if_due()
        records = self.spool.read(self.config.batch_events, self.config.batch_bytes)
        if records and len(records) < self.config.batch_events and self.config.batch_linger_seconds > 0:
            # Let a short batch fill for a moment: every bulk request costs Elasticsearch a
            # translog fsync per index it touches, so many tiny requests cap its rate.
            self._stop_event.wait(self.config.batch_linger_seconds)
            records = self.spool.read(self.config.batch_events, self.config.batch_bytes)
        if not records:
            # Nothing readable: sleep until the next append (or 1 s) instead of spinning. An append
            # racing with this clear is picked up by the 1 s timeout.
            self.spool.has_data.clear()
            return False
        entries = [spooled_entry(self.config.index_prefix, r.payload) for r in records]
        outcome = self._bulk_narrowing(entries)
        self.metrics.es_up.set(1)
        # Acknowledge only the prefix before the first event to retry: the spool is a queue.
        first_retry = next((i for i, r in enumerate(outcome.results) if r == "retry"), len(records))
        acked_upto: Position | None = None
        acked = 0
        for record, entry, result, reason in zip(
            records[:first_retry], entries, outcome.results, outcome.reasons, strict=False
        ):
            if result == "rejected":
                self._reject(entry_document(entry), reason)
            else:
                self.metrics.indexed.inc()
            acked_upto, acked = record.end, acked + 1
        retry_statuses: dict[str, int] = {}
        statuses = outcome.statuses or [0] * len(records)
        for result, status in zip(outcome.results, statuses, strict=True):
            if result == "retry":
                key = str(status) if status else "unknown"
                retry_statuses[key] = retry_statuses.get(key, 0) + 1
        if acked_upto is not None:
            self.spool.ack(acked_upto, acked)
        self._update_gauges()
        if retry_statuses:
            self._log_retries(retry_statuses, outcome)
            self._sleep_backoff()
        else:
            self._backoff = self.config.backoff_initial_seconds
        return acked > 0

    def _bulk_narrowing(self, entries: list[bytes]) -> BulkOutcome:
        """Bulk-index `entries`; when the store refuses the whole request, halve it until the
        refused documents stand alone, and reject just those (the rest ships)."""
        try:
            return self.bulk(entries)
        except RequestRefused as exc:
            self.metrics.refused_requests.inc()
            if len(entries) == 1:
                return BulkOutcome(
                    results=["rejected"], reasons=[f"request refused: {exc}"], statuses=[exc.status]
                )
            log.warning(
                "querylog: the store refused a whole request of %d events (%s); splitting it to "
                "find the events it refuses",
                len(entries),
                exc,
            )
        half = len(entries) // 2
        first = self._bulk_narrowing(entries[:half])
        if "retry" in first.results:  # the rest waits for its turn, in order
            rest = len(entries) - half
            return _concat(first, BulkOutcome(["retry"] * rest, [None] * rest, [0] * rest))
        return _concat(first, self._bulk_narrowing(entries[half:]))

    def _prepare_if_due(self) -> None:
        """Put the index template; a failure is logged and counted and shipping goes on."""
        now = time.monotonic()
        if now < self._prepare_due:
            return
        try:
            self.prepare()
        except Exception as exc:
            self._prepare_due = now + self.config.template_retry_seconds
            self.metrics.template_errors.inc()
            log.error(
                "querylog: putting the index template failed (%s: %s); shipping goes on (a new "
                "daily index meanwhile gets guessed field types), next try in %.0fs",
                type(exc).__name__,
                exc,
                self.config.template_retry_seconds,
            )
        else:
            self._prepare_due = math.inf
            self.metrics.es_up.set(1)  # it answered: up, also while nothing waits to be shipped

    def _log_retries(self, by_status: dict[str, int], outcome: BulkOutcome) -> None:
        for status, count in by_status.items():
            self.metrics.retried.labels(status=status).inc(count)
        first_reason = next(
            (r for r, res in zip(outcome.reasons, outcome.results, strict=True) if res == "retry" and r), None
        )
        hint = ""
        if {"401", "403"} & by_status.keys():
            hint = " Check the Elasticsearch user and its role (write and create_index on the prefix)."
        elif "404" in by_status:
            hint = " Check that the index or alias the prefix names can be created."
        log.warning(
            "querylog: the store asked to retry %d events later (by status: %s; first reason: %s); "
            "they stay in the spool.%s",
            sum(by_status.values()),
            ", ".join(f"{k}: {v}" for k, v in sorted(by_status.items())),
            first_reason,
            hint,
        )
        self.metrics.bulk_errors.inc()

    def _reject(self, doc: dict[str, Any], reason: str | None) -> None:
        log.error("querylog: the store refused query %s for good: %s", doc.get("query_id"), reason)
        self.metrics.rejected.inc()
        line = (json.dumps({"reason": reason, "document": doc}) + "\n").encode()
        path = self.spool.directory / self.config.rejected_file
        try:
            if path.exists() and path.stat().st_size + len(line) > self.config.rejected_max_bytes:
                path.replace(path.with_name(path.name + ".1"))  # one older generation is kept
            with path.open("ab") as f:
                f.write(line)
        except OSError as exc:
            log.error("querylog: could not keep refused query %s in %s: %s", doc.get("query_id"), path, exc)

    def _sleep_backoff(self) -> None:
        self._stop_event.wait(self._backoff * random.uniform(0.8, 1.2))
        self._backoff = min(self._backoff * 2, self.config.backoff_max_seconds)

    def _update_gauges(self) -> None:
        self.metrics.spool_bytes.set(self.spool.size_bytes)
        self.metrics.spool_events.set(self.spool.pending_records)


def _concat(a: BulkOutcome, b: BulkOutcome) -> BulkOutcome:
    def statuses(o: BulkOutcome) -> list[int]:
        return o.statuses or [0] * len(o.results)

    return BulkOutcome(a.results + b.results, a.reasons + b.reasons, statuses(a) + statuses(b))
