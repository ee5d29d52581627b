"""Finding the Trino JVM by its data dir, with real processes (a renamed `sleep` stands in for java)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from node_agent.trino.admin import TrinoError, TrinoUnavailable
from node_agent.trino.process import TrinoProcess, trino_alive


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture
def jvm(data_dir: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A process whose argv[0] is `java`, started in the data dir like the launcher's JVM."""
    process = subprocess.Popen(["bash", "-c", "exec -a java sleep 60"], cwd=data_dir)
    yield process
    if process.poll() is None:
        process.kill()
        process.wait()


def test_a_java_process_in_the_data_dir_is_running(jvm: subprocess.Popen[bytes], data_dir: Path) -> None:
    probe = TrinoProcess(data_dir)
    assert _eventually(probe.running, True)


def test_a_java_process_elsewhere_is_not_this_trino(jvm: subprocess.Popen[bytes], tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    assert not TrinoProcess(other).running()


def test_an_exited_but_unreaped_process_counts_as_exited(
    jvm: subprocess.Popen[bytes], data_dir: Path
) -> None:
    probe = TrinoProcess(data_dir)
    assert _eventually(probe.running, True)
    jvm.kill()
    assert _eventually(probe.running, False)  # a zombie until we reap it below
    jvm.wait()
    assert not probe.running()


def test_no_process_at_all_is_not_running(data_dir: Path) -> None:
    assert not TrinoProcess(data_dir).running()


class AnsweringTrino:
    def __init__(self, answer: Exception | None) -> None:
        self.answer = answer

    def info(self) -> dict[str, object]:
        if self.answer:
            raise self.answer
        return {"starting": False}


def test_an_invisible_process_that_still_answers_http_counts_as_running(data_dir: Path) -> None:
    assert trino_alive(TrinoProcess(data_dir), AnsweringTrino(None))()


def test_an_invisible_process_answering_with_an_error_counts_as_running(data_dir: Path) -> None:
    assert trino_alive(TrinoProcess(data_dir), AnsweringTrino(TrinoError("HTTP 503", status=503)))()


def test_no_process_and_no_answer_is_not_running(data_dir: Path) -> None:
    assert not trino_alive(TrinoProcess(data_dir), AnsweringTrino(TrinoUnavailable("refused")))()


def test_a_visible_process_is_running_without_asking_http(
    jvm: subprocess.Popen[bytes], data_dir: Path
) -> None:
    probe = TrinoProcess(data_dir)
    assert _eventually(probe.running, True)
    assert trino_alive(probe, AnsweringTrino(TrinoUnavailable("refused")))()


def _eventually(check: object, wanted: bool, attempts: int = 50) -> bool:
    for _ in range(attempts):
        if check() == wanted:  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False
