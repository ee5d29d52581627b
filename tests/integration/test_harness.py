"""The harness itself: each real component comes up, does its basic job, and goes away."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Gauge, start_http_server

from components.base import REPO_ROOT
from node_agent.contract import TAG_CLUSTER, TlsSettings
from node_agent.trino.admin import TrinoError
from tools import rehearse
from tools.harness import downloads
from tools.harness.elasticsearch import Elasticsearch
from tools.harness.moto import ClusterResources, MotoServer
from tools.harness.ports import free_port
from tools.harness.processes import ManagedProcess
from tools.harness.prometheus import PrometheusFactory
from tools.harness.trino import TrinoCluster, TrinoFactory, default_settings
from tools.harness.trino_node import TrinoStartError

pytestmark = pytest.mark.integration

REPO = REPO_ROOT


# --- Trino -------------------------------------------------------------------------------------
def _tasks_by_node(cluster: TrinoCluster, query_id: str) -> set[str]:
    result = cluster.query(f"SELECT DISTINCT node_id FROM system.runtime.tasks WHERE query_id = '{query_id}'")
    return {str(row[0]) for row in result.rows}


def test_tpch_query_runs_on_both_workers(trino_cluster: TrinoCluster) -> None:
    result = trino_cluster.query("SELECT orderstatus, count(*) FROM tpch.tiny.orders GROUP BY orderstatus")

    assert sum(row[1] for row in result.rows) == 15_000
    worker_ids = {w.node_id for w in trino_cluster.workers if w.running()}
    assert worker_ids <= _tasks_by_node(trino_cluster, result.query_id)
    assert trino_cluster.coordinator.node_id not in _tasks_by_node(trino_cluster, result.query_id)


def test_only_the_management_user_may_shut_a_worker_down(trino_cluster: TrinoCluster) -> None:
    worker = trino_cluster.workers[0]

    with pytest.raises(TrinoError) as denied:
        worker.admin(user="analyst").shutdown()

    assert denied.value.status == 403
    assert worker.admin().state() == "ACTIVE"


def test_a_rejected_override_fails_with_trinos_own_error(trino_factory: TrinoFactory) -> None:
    settings = default_settings(config_overrides={"query.max-memory": "lots"})

    with pytest.raises(TrinoStartError) as failed:
        trino_factory.start_cluster(workers=0, settings=settings, include_coordinator=True, timeout=120)

    assert "query.max-memory" in str(failed.value)
    assert "exited with code" in str(failed.value)


# --- Elasticsearch -----------------------------------------------------------------------------
def test_elasticsearch_accepts_a_bulk_request(elasticsearch: Elasticsearch) -> None:
    client = elasticsearch.client()
    operations: list[dict[str, object]] = []
    for number in range(3):
        operations += [{"index": {"_index": "harness-bulk", "_id": f"q{number}"}}, {"number": number}]

    answer = client.bulk(operations=operations, refresh=True)

    assert answer["errors"] is False
    assert client.count(index="harness-bulk")["count"] == 3


def test_elasticsearch_keeps_its_port_and_data_across_a_restart(elasticsearch: Elasticsearch) -> None:
    client = elasticsearch.client()
    client.index(index="harness-restart", id="kept", document={"kept": True}, refresh=True)
    url = elasticsearch.url

    elasticsearch.stop()
    assert not elasticsearch.running()
    elasticsearch.start()

    assert elasticsearch.url == url
    assert elasticsearch.client().get(index="harness-restart", id="kept")["_source"] == {"kept": True}


# --- Prometheus --------------------------------------------------------------------------------
def test_prometheus_scrapes_a_target(prometheus_factory: PrometheusFactory) -> None:
    registry = CollectorRegistry()
    Gauge("harness_probe_value", "A value only this test serves", registry=registry).set(42)
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    try:
        prometheus = prometheus_factory.start([f"127.0.0.1:{port}"], scrape_interval="1s")

        samples = prometheus.wait_for("harness_probe_value", timeout=30)

        assert float(samples[0]["value"][1]) == 42.0
        assert samples[0]["metric"]["instance"] == f"127.0.0.1:{port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


# --- moto --------------------------------------------------------------------------------------
def test_moto_holds_the_clusters_groups_with_the_drain_hook(
    moto_server: MotoServer, aws_cluster: ClusterResources
) -> None:
    autoscaling = moto_server.boto3_client("autoscaling")

    hooks = autoscaling.describe_lifecycle_hooks(AutoScalingGroupName=aws_cluster.worker_asg_name)
    groups = autoscaling.describe_auto_scaling_groups(
        AutoScalingGroupNames=[aws_cluster.coordinator_asg_name, aws_cluster.worker_asg_name]
    )["AutoScalingGroups"]

    (hook,) = hooks["LifecycleHooks"]
    assert hook["LifecycleTransition"] == "autoscaling:EC2_INSTANCE_TERMINATING"
    assert hook["DefaultResult"] == "CONTINUE"
    assert {len(g["Instances"]) for g in groups} == {2}
    for group in groups:
        assert {(t["Key"], t["Value"], t["PropagateAtLaunch"]) for t in group["Tags"]} >= {
            (TAG_CLUSTER, "harness", True)
        }


def test_moto_holds_the_coordinator_eni_and_imdsv2_launch_templates(
    moto_server: MotoServer, aws_cluster: ClusterResources
) -> None:
    ec2 = moto_server.boto3_client("ec2")

    (eni,) = ec2.describe_network_interfaces(NetworkInterfaceIds=[aws_cluster.coordinator_eni_id])[
        "NetworkInterfaces"
    ]
    versions = ec2.describe_launch_template_versions(LaunchTemplateId=aws_cluster.worker_launch_template_id)

    assert eni["PrivateIpAddress"] == aws_cluster.coordinator_address
    assert {"Key": TAG_CLUSTER, "Value": "harness"} in eni["TagSet"]
    data = versions["LaunchTemplateVersions"][0]["LaunchTemplateData"]
    assert data["MetadataOptions"]["HttpTokens"] == "required"
    assert data["BlockDeviceMappings"][0]["Ebs"]["Encrypted"] is True


# --- downloads and processes -------------------------------------------------------------------
def test_trino_install_holds_only_the_plugins_the_harness_uses() -> None:
    install = downloads.trino_install(476)

    assert sorted(p.name for p in (install / "plugin").iterdir()) == sorted(downloads.TRINO_PLUGINS)
    assert (install / "bin" / "launcher").is_file()
    assert (install / ".sha256").read_text().strip() == downloads.PINNED_SHA256[
        "io.trino:trino-server:476:tar.gz"
    ]


def test_a_download_without_network_fails_fast_naming_the_artifact(tmp_path: Path) -> None:
    unreachable = tmp_path / "settings.xml"
    unreachable.write_text(
        "<settings><mirrors><mirror><id>unreachable</id><mirrorOf>*</mirrorOf>"
        f"<url>http://127.0.0.1:{free_port()}/maven2</url></mirror></mirrors></settings>"
    )
    missing = downloads.MavenArtifact("io.trino", "trino-server", "475", "tar.gz")
    started = time.monotonic()

    with pytest.raises(downloads.DownloadError) as failed:
        downloads.fetch(missing, settings=unreachable)

    assert time.monotonic() - started < 60
    assert "io.trino:trino-server:475:tar.gz" in str(failed.value)
    assert "Without network" in str(failed.value)


def test_stopping_a_process_also_stops_what_it_forked(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    parent = ManagedProcess(
        "forking shell", ["sh", "-c", f"sleep 300 & echo $! > {pid_file}; wait"], log_path=tmp_path / "log"
    )
    child = _wait_for_pid(pid_file)

    parent.stop(timeout=5)

    assert _gone(child)


def test_processes_left_running_are_stopped_when_the_run_exits(tmp_path: Path) -> None:
    pid_file = tmp_path / "server.pid"
    script = (
        "from pathlib import Path; from tools.harness.processes import ManagedProcess\n"
        f"p = ManagedProcess('left running', ['sleep', '300'], log_path=Path({str(tmp_path / 'log')!r}))\n"
        f"Path({str(pid_file)!r}).write_text(str(p.pid))\n"
    )

    subprocess.run([sys.executable, "-c", script], cwd=REPO, check=True, timeout=60)

    assert _gone(int(pid_file.read_text()))


def _wait_for_pid(path: Path) -> int:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if path.is_file() and path.read_text().strip():
            return int(path.read_text())
        time.sleep(0.05)
    raise AssertionError(f"no pid in {path}")


def _gone(pid: int) -> bool:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
        except FileNotFoundError:
            return True
        if state == "Z":  # exited, waiting for its parent (init) to reap it
            return True
        time.sleep(0.05)
    return False


# --- make rehearse -----------------------------------------------------------------------------
@dataclass
class Rehearsal:
    """One `tools/rehearse.py` run in the background, its output in files (a full pipe would stall it)."""

    process: subprocess.Popen[bytes]
    dir: Path

    def finished(self, timeout: float = 600) -> tuple[int, str, str]:
        """Its exit code, stdout and stderr once it has exited."""
        code = self.process.wait(timeout)
        return (
            code,
            (self.dir.parent / f"{self.dir.name}.out").read_text(),
            (self.dir.parent / f"{self.dir.name}.err").read_text(),
        )


def _start_rehearsal(directory: Path, *args: str) -> Rehearsal:
    with (
        open(directory.parent / f"{directory.name}.out", "wb") as out,
        open(directory.parent / f"{directory.name}.err", "wb") as err,
    ):
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tools.rehearse",
                "--stack",
                "dev",
                "--smoke-and-exit",
                "--dir",
                str(directory),
                *args,
            ],
            cwd=REPO,
            stdout=out,
            stderr=err,
        )
    return Rehearsal(process, directory)


@dataclass
class Rehearsals:
    """The module's `tools/rehearse.py` runs, started together: each boots its own Trino, and side by
    side their JVMs use the two cores that one boot alone leaves partly idle."""

    smoke: Rehearsal  # the dev stack with one worker
    bad_override: Rehearsal  # a lone coordinator with a property Trino rejects
    interactive: subprocess.Popen[str]  # a lone coordinator that runs until Ctrl-C
    interactive_dir: Path


@pytest.fixture(scope="module")
def rehearsals(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rehearsals]:
    base = tmp_path_factory.mktemp("rehearsals")
    started: list[subprocess.Popen[str] | subprocess.Popen[bytes]] = []
    try:
        smoke = _start_rehearsal(base / "smoke", "--workers", "1")
        started.append(smoke.process)
        bad = _start_rehearsal(base / "bad", "--workers", "0", "--property", "query.max-memory=lots")
        started.append(bad.process)
        interactive = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tools.rehearse",
                "--stack",
                "dev",
                "--workers",
                "0",
                "--dir",
                str(base / "r"),
            ],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        started.append(interactive)
        yield Rehearsals(smoke, bad, interactive, base / "r")
    finally:  # a test that failed early leaves its rehearsal running: SIGTERM stops its nodes too
        for process in started:
            if process.poll() is None:
                process.terminate()
            try:
                process.communicate(timeout=120)
            except subprocess.TimeoutExpired:
                process.kill()
                process.communicate()


def test_rehearsal_boots_the_dev_stack_runs_the_smoke_query_and_stops(rehearsals: Rehearsals) -> None:
    returncode, stdout, stderr = rehearsals.smoke.finished()

    assert returncode == 0, stdout + stderr
    assert "returned 25" in stdout
    assert "Web UI:     http://127.0.0.1:" in stdout
    assert "Catalogs:   hive, memory, tpch" in stdout
    assert (rehearsals.smoke.dir / "c1-coordinator" / "data" / "var" / "log" / "server.log").is_file()


def test_rehearsal_with_a_bad_override_fails_with_trinos_own_error(rehearsals: Rehearsals) -> None:
    returncode, _stdout, stderr = rehearsals.bad_override.finished()

    assert returncode == 1
    assert "Invalid value 'lots'" in stderr
    assert "query.max-memory" in stderr


def test_rehearsal_stops_every_node_on_ctrl_c(rehearsals: Rehearsals) -> None:
    rehearsal = rehearsals.interactive
    output = _read_until(rehearsal, "Ctrl-C stops every node", timeout=400)
    pids = _trino_pids_under(rehearsals.interactive_dir)
    assert pids, output

    rehearsal.send_signal(signal.SIGINT)
    rest, _ = rehearsal.communicate(timeout=120)

    assert rehearsal.returncode == 0, output + rest
    assert "nothing is left running" in rest
    assert all(_gone(pid) for pid in pids)


def test_rehearsal_skips_catalogs_whose_connector_trino_does_not_ship_and_keeps_tls_on() -> None:
    stack = default_settings(
        catalogs={"tpch": {"connector.name": "tpch"}, "legacy": {"connector.name": "nonesuch"}},
        tls=TlsSettings(enabled=True, authentication="password"),
    )

    local, notes = rehearse.local_node_settings(stack, {"tpch", "memory"}, Path("/unused"))

    assert set(local.catalogs) == {"tpch"}
    assert any("'legacy' skipped" in note and "nonesuch" in note for note in notes)
    assert local.tls == stack.tls
    assert any("self-signed certificate" in note for note in notes)


def _read_until(process: subprocess.Popen[str], marker: str, timeout: float) -> str:
    assert process.stdout is not None
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        seen.append(line)
        if marker in line:
            return "".join(seen)
    raise AssertionError(f"{marker!r} not printed; output so far:\n{''.join(seen)}")


def _trino_pids_under(base: Path) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if Path(os.readlink(entry / "cwd")).is_relative_to(base.resolve()):
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def test_rehearsal_puts_the_task_retry_exchange_in_a_local_directory(tmp_path: Path) -> None:
    stack = default_settings(retry_policy="TASK", exchange_bucket="acme-trino-exchange")

    local, notes = rehearse.local_node_settings(stack, {"tpch", "memory"}, tmp_path / "exchange")

    assert local.exchange_bucket == str(tmp_path / "exchange")
    assert local.retry_policy == "TASK"
    assert any("exchange manager" in note for note in notes)
