"""The coordinator's numbers in CloudWatch, on a thread of their own behind a one-slot mailbox,
so a slow CloudWatch never stalls the scraper or the Prometheus endpoint.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from typing import Any

from node_agent.contract import CLOUDWATCH_NAMESPACE, DIMENSION_CLUSTER
from node_agent.contract import Metric as CloudWatchMetric
from node_agent.metrics.sources import AgentMetrics, ClusterNumbers, Snapshot

log = logging.getLogger(__name__)


# --- CloudWatch ----------------------------------------------------------------------------------
def metric_data(
    cluster: str,
    current: ClusterNumbers,
    previous: ClusterNumbers | None,
    timestamp: datetime,
    *,
    high_resolution_queue: bool = False,
) -> list[dict[str, Any]]:
    """The coordinator's datums for one interval, in the namespace the scaling policies watch.

    `high_resolution_queue`: QueuedQueries stored at 1 s resolution, which an alarm on 10 s
    periods needs (a standard-resolution metric has one value a minute)."""
    dimensions = [{"Name": DIMENSION_CLUSTER, "Value": cluster}]
    values: list[tuple[CloudWatchMetric, float | None, str]] = [
        (CloudWatchMetric.RUNNING_QUERIES, current.running_queries, "Count"),
        (CloudWatchMetric.QUEUED_QUERIES, current.queued_queries, "Count"),
        (CloudWatchMetric.BLOCKED_QUERIES, current.blocked_queries, "Count"),
        (CloudWatchMetric.ACTIVE_WORKERS, current.active_workers, "Count"),
        (CloudWatchMetric.FAILED_QUERIES, _delta(current, previous, "failed_queries_total"), "Count"),
        (CloudWatchMetric.COMPLETED_QUERIES, _delta(current, previous, "completed_queries_total"), "Count"),
        (CloudWatchMetric.CLUSTER_MEMORY_RESERVED_PERCENT, _memory_percent(current), "Percent"),
        (
            CloudWatchMetric.CLUSTER_CPU_PERCENT,
            None if current.worker_cpu_load is None else current.worker_cpu_load * 100.0,
            "Percent",
        ),
    ]
    data: list[dict[str, Any]] = [
        {
            "MetricName": str(m),
            "Dimensions": dimensions,
            "Timestamp": timestamp,
            "Value": float(v),
            "Unit": unit,
        }
        for m, v, unit in values
        if v is not None
    ]
    if high_resolution_queue:
        for datum in data:
            if datum["MetricName"] == str(CloudWatchMetric.QUEUED_QUERIES):
                datum["StorageResolution"] = 1
    return data


def _delta(current: ClusterNumbers, previous: ClusterNumbers | None, name: str) -> float | None:
    now = getattr(current, name)
    before = None if previous is None else getattr(previous, name)
    if now is None or before is None:
        return None
    return now - before if now >= before else now  # a drop means Trino restarted from zero


def _memory_percent(c: ClusterNumbers) -> float | None:
    if not c.memory_total_bytes or c.memory_reserved_bytes is None:
        return None
    return 100.0 * c.memory_reserved_bytes / c.memory_total_bytes


class CloudWatchPublisher(threading.Thread):
    """One PutMetricData per interval from a one-slot mailbox: a slow call skips, never queues up."""

    def __init__(
        self, client: Any, cluster: str, agent_metrics: AgentMetrics, *, high_resolution_queue: bool = False
    ) -> None:
        super().__init__(name="cloudwatch-publisher", daemon=True)
        self.client = client  # boto3 CloudWatch client; botocore retries with backoff (standard mode)
        self.cluster = cluster
        self.high_resolution_queue = high_resolution_queue
        self.agent_metrics = agent_metrics
        self._slot: Snapshot | None = None
        self._ready = threading.Condition()
        self._stopped = False
        self._previous: ClusterNumbers | None = None

    def offer(self, snapshot: Snapshot) -> None:
        if snapshot.cluster is None:
            return
        with self._ready:
            self._slot = snapshot
            self._ready.notify()

    def stop(self) -> None:
        with self._ready:
            self._stopped = True
            self._ready.notify()
        self.join(timeout=10)

    def run(self) -> None:
        while True:
            with self._ready:
                while self._slot is None and not self._stopped:
                    self._ready.wait()
                if self._stopped:
                    return
                snapshot, self._slot = self._slot, None
            if snapshot is not None:  # always, once the wait ended without a stop
                self.publish(snapshot)

    def publish(self, snapshot: Snapshot) -> None:
        assert snapshot.cluster is not None
        data = metric_data(
            self.cluster,
            snapshot.cluster,
            self._previous,
            snapshot.taken_at,
            high_resolution_queue=self.high_resolution_queue,
        )
        try:
            if data:
                self.client.put_metric_data(Namespace=CLOUDWATCH_NAMESPACE, MetricData=data)
                self.agent_metrics.cloudwatch_puts.inc()
            self._previous = snapshot.cluster
        except Exception as exc:  # botocore already retried; keep the agent alive for the next interval
            log.error("metrics: PutMetricData failed after retries: %s", exc)
            self.agent_metrics.cloudwatch_errors.inc()
