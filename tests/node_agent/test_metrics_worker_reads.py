"""The holder's worker CPU average at 1,000 workers: bounded whatever the workers do.

Workers are fakes (a status() that answers, fails, or never returns), since no harness can run
1,000 Trino workers or make one hang on purpose; the reads and the bound are the agent's own.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from node_agent.contract import Role
from node_agent.metrics import sources
from node_agent.metrics.sources import AgentMetrics, Scraper
from node_agent.trino.admin import TrinoAdmin, TrinoUnavailable

FLEET = 1000
SILENCE = threading.Event()  # set only when a test ends: till then a silent worker says nothing


@pytest.fixture(autouse=True)
def release_silent_workers() -> Iterator[None]:
    SILENCE.clear()
    yield
    SILENCE.set()  # the reads the scrape left behind end now, not at their 30 s


class FakeCoordinator(TrinoAdmin):
    def __init__(self) -> None:
        super().__init__("http://127.0.0.1:1", timeout=5.0)

    def nodes(self) -> list[dict[str, str]]:
        return [{"uri": f"http://10.0.{n // 250}.{n % 250}:8080/v1/status"} for n in range(FLEET)]


class FakeWorker(TrinoAdmin):
    def __init__(self, uri: str, silent: set[str], failing: set[str], hung: bool = False) -> None:
        super().__init__(uri, timeout=0.2)
        self.uri, self.silent, self.failing, self.hung = uri, silent, failing, hung

    def status(self) -> dict[str, Any]:
        if self.uri in self.silent:
            # Accepts the connection, then says nothing: the read times out, or (hung) never does.
            SILENCE.wait(30 if self.hung else self.timeout)
            raise TrinoUnavailable(f"GET {self.uri}/v1/status: timed out")
        if self.uri in self.failing:
            raise TrinoUnavailable(f"GET {self.uri}/v1/status: connection refused")
        return {"processCpuLoad": 0.5}


def scraper(
    silent: set[str] = frozenset(), failing: set[str] = frozenset(), hung: bool = False
) -> tuple[Scraper, AgentMetrics]:
    metrics = AgentMetrics(CollectorRegistry(), {"cluster": "c", "role": "coordinator", "node": "n"})
    made = Scraper(
        FakeCoordinator(),
        Role.COORDINATOR,
        metrics,
        worker_admin=lambda uri: FakeWorker(uri, set(silent), set(failing), hung),
    )
    return made, metrics


def uri(n: int) -> str:
    return f"http://10.0.{n // 250}.{n % 250}:8080"


def test_the_average_of_1000_workers_leaves_out_those_that_fail() -> None:
    made, _ = scraper(failing={uri(n) for n in range(50)})
    assert made.worker_cpu_load() == pytest.approx(0.5)


def run_bounded(made: Scraper) -> list[float | None]:
    done, answer = threading.Event(), []
    threading.Thread(target=lambda: (answer.append(made.worker_cpu_load()), done.set()), daemon=True).start()
    assert done.wait(20), "the worker CPU read waited on the silent workers"
    return answer


def test_silent_workers_first_in_the_list_leave_the_average_to_the_others(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sources, "WORKER_CPU_BUDGET_SECONDS", 10.0)
    made, metrics = scraper(silent={uri(n) for n in range(144)})
    assert run_bounded(made) == [pytest.approx(0.5)]
    assert metrics.scrape_errors("worker_status_late") == 0


def test_workers_that_never_answer_do_not_hold_the_scrape_past_its_budget(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sources, "WORKER_CPU_BUDGET_SECONDS", 0.5)
    made, metrics = scraper(silent={uri(n) for n in range(FLEET)}, hung=True)
    assert run_bounded(made) == [None]
    assert metrics.scrape_errors("worker_status_late") == 1
