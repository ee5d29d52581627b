"""The systemd units on the image: they verify, and they encode the node's start and stop order."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from node_agent import contract
from node_agent.cli import COMMANDS
from tests.image.image_install import InstalledImage
from tools.harness.fakes import FakeImds, instance_metadata

UNIT_DIR = "/usr/lib/systemd/system"
AGENT = "/opt/presto-on-aws/venv/bin/node-agent"
UNITS = {
    contract.BOOTSTRAP_UNIT: "bootstrap",
    "node-agent-querylog.service": "querylog",
    "node-agent-metrics.service": "metrics",
    "node-agent-lifecycle.service": "lifecycle",
}


def unit(image: InstalledImage, name: str) -> dict[str, list[str]]:
    """Every `Key=value` of a unit file, values in order of appearance (keys may repeat)."""
    values: dict[str, list[str]] = {}
    for line in image.path(f"{UNIT_DIR}/{name}").read_text().splitlines():
        if "=" in line and not line.startswith(("#", ";")):
            key, value = line.split("=", 1)
            values.setdefault(key.strip(), []).append(value.strip())
    return values


def words(values: list[str]) -> list[str]:
    return [word for value in values for word in value.split()]


@pytest.fixture(scope="module")
def verify_root(installed: InstalledImage, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The installed tree plus this machine's own systemd units and /usr/bin/test.

    `systemd-analyze verify --root` resolves every dependency (sysinit.target, ...) and every
    ExecStart binary inside the root; an image tree has only our units, so the host's are added
    to a hard-linked copy (cheap, and the installed tree stays as install.sh left it).
    """
    root = tmp_path_factory.mktemp("verify") / "root"
    subprocess.run(["cp", "-al", str(installed.root), str(root)], check=True)
    subprocess.run(["cp", "-rn", "/usr/lib/systemd/system/.", str(root / UNIT_DIR.lstrip("/"))], check=True)
    (root / "usr" / "bin").mkdir(parents=True, exist_ok=True)
    shutil.copy2("/usr/bin/test", root / "usr" / "bin" / "test")
    yield root
    shutil.rmtree(root, ignore_errors=True)  # its hard links would keep the 1 GB server alive


@pytest.mark.parametrize("name", ["trino.service", *UNITS])
def test_unit_passes_systemd_analyze_verify(verify_root: Path, name: str) -> None:
    assert shutil.which("systemd-analyze"), "systemd-analyze is missing (Debian package systemd)"
    unit_file = verify_root / UNIT_DIR.lstrip("/") / name
    result = subprocess.run(
        ["systemd-analyze", "verify", f"--root={verify_root}", str(unit_file)],
        capture_output=True,
        text=True,
        check=False,
    )
    # Unknown keys are only warnings, so any output at all is a finding.
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_trino_runs_the_launcher_as_trino_with_the_contract_paths(installed: InstalledImage) -> None:
    trino = unit(installed, "trino.service")
    assert trino["User"] == ["trino"]
    launcher = f"{contract.TRINO_HOME}/bin/launcher"
    paths = f"--etc-dir={contract.TRINO_ETC} --data-dir={contract.TRINO_DATA}"
    assert trino["ExecStart"] == [f"{launcher} run {paths}"]


def test_drained_worker_stays_down_but_a_crash_is_restarted(installed: InstalledImage) -> None:
    # Graceful shutdown ends with exit 0: on-failure restarts everything else but that.
    trino = unit(installed, "trino.service")
    assert trino["Restart"] == ["on-failure"]
    assert "RestartForceExitStatus" not in trino


def test_trino_gets_at_least_131072_open_files(installed: InstalledImage) -> None:
    assert int(unit(installed, "trino.service")["LimitNOFILE"][0]) >= 131072


def test_trino_starts_only_after_a_complete_render(installed: InstalledImage) -> None:
    trino = unit(installed, "trino.service")
    assert contract.BOOTSTRAP_UNIT in words(trino["Requires"])
    assert contract.BOOTSTRAP_UNIT in words(trino["After"])
    assert trino["ExecStartPre"][0] == f"{AGENT} bootstrap --check"


def test_heap_dumps_are_bounded_before_every_trino_start(installed: InstalledImage, tmp_path: Path) -> None:
    (rotate,) = [line for line in unit(installed, "trino.service")["ExecStartPre"] if " heapdumps" in line]
    assert rotate.startswith("-")  # never keeps Trino down
    command = shlex.split(rotate.removeprefix("-"))
    assert command[1:] == ["heapdumps", f"--data-dir={contract.TRINO_DATA}"]
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "heapdump.hprof").write_bytes(b"newest")
    (tmp_path / "var" / "java_pid42.hprof").write_bytes(b"old")
    command = [str(installed.path(command[0])), "heapdumps", f"--data-dir={tmp_path}"]
    subprocess.run(command, check=True, capture_output=True)
    assert sorted(p.name for p in (tmp_path / "var").iterdir()) == ["heapdump.previous.hprof"]


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def trino_may_start(installed: InstalledImage, state_dir: Path, imds_url: str | None = None) -> int:
    """trino.service's ExecCondition as systemd runs it ("+": as root), on this state directory and
    this IMDS (by default one that does not answer, so any drain record counts as this instance's)."""
    (condition,) = unit(installed, "trino.service")["ExecCondition"]
    command = [*shlex.split(condition.removeprefix("+")), "--state-dir", str(state_dir)]
    command += ["--imds-url", imds_url or closed_port_url()]
    command[0] = str(installed.path(command[0]))
    return subprocess.run(command, capture_output=True, check=False).returncode


@pytest.fixture
def imds() -> Iterator[FakeImds]:
    fake = FakeImds(instance_metadata("i-0123456789abcdef0"))
    try:
        yield fake
    finally:
        fake.stop()


def test_trino_restarted_mid_drain_is_not_started_again(installed: InstalledImage, tmp_path: Path) -> None:
    record = {"instance_id": "i-0123456789abcdef0", "reason": "target lifecycle state is Terminated"}
    (tmp_path / "lifecycle.json").write_text(json.dumps({**record, "started_at": 1.0}))
    assert trino_may_start(installed, tmp_path) == 1  # 1-254: skipped, not failed, so no restart loop


def test_trino_starts_on_a_node_that_is_not_draining(
    installed: InstalledImage, tmp_path: Path, imds: FakeImds
) -> None:
    assert trino_may_start(installed, tmp_path, imds.url) == 0


def test_trino_does_not_start_on_a_worker_in_the_warm_pool(
    installed: InstalledImage, tmp_path: Path, imds: FakeImds
) -> None:
    imds.metadata["autoscaling/target-lifecycle-state"] = "Warmed:Pending"
    assert trino_may_start(installed, tmp_path, imds.url) == 1  # skipped; the boot out of the pool starts it


def test_query_log_listens_before_trino_starts(installed: InstalledImage) -> None:
    querylog = unit(installed, "node-agent-querylog.service")
    assert "trino.service" in words(querylog["Before"])
    assert "node-agent-querylog.service" in words(unit(installed, "trino.service")["After"])


def test_metrics_and_lifecycle_start_after_trino_is_ready(installed: InstalledImage) -> None:
    assert any("bootstrap --wait-ready" in line for line in unit(installed, "trino.service")["ExecStartPost"])
    for name in ("node-agent-metrics.service", "node-agent-lifecycle.service"):
        assert "trino.service" in words(unit(installed, name)["After"]), name


def test_lifecycle_outlives_trinos_graceful_exit(installed: InstalledImage) -> None:
    # It completes the lifecycle action after Trino exits, so Trino stopping must not stop it.
    lifecycle = unit(installed, "node-agent-lifecycle.service")
    for binding in ("BindsTo", "PartOf", "Requisite"):
        assert "trino.service" not in words(lifecycle.get(binding, [])), binding
    assert "trino.service" not in words(lifecycle.get("Requires", []))


def test_lifecycle_runs_only_on_workers(installed: InstalledImage, tmp_path: Path) -> None:
    lifecycle = unit(installed, "node-agent-lifecycle.service")
    assert lifecycle["EnvironmentFile"] == [contract.NODE_ENV_FILE]
    (condition,) = lifecycle["ExecCondition"]
    # systemd substitutes ${VAR} from the environment file; do the same for each role and run it.
    for role, wanted in ((contract.Role.WORKER, 0), (contract.Role.COORDINATOR, 1), ("", 1)):
        command = condition.replace("${" + contract.NODE_ENV_ROLE + "}", str(role))
        result = subprocess.run(shlex.split(command), check=False)
        assert result.returncode == wanted, role


@pytest.mark.parametrize(("name", "command"), UNITS.items())
def test_agent_unit_runs_its_node_agent_command(installed: InstalledImage, name: str, command: str) -> None:
    assert command in COMMANDS
    (exec_start,) = unit(installed, name)["ExecStart"]
    assert exec_start.split()[:2] == [AGENT, command]


@pytest.mark.parametrize("name", list(UNITS))
def test_agent_unit_waits_for_user_data_on_the_first_boot(installed: InstalledImage, name: str) -> None:
    assert unit(installed, name)["ConditionPathExists"] == [contract.NODE_ENV_FILE]


def test_bootstrap_is_the_one_enabled_unit_and_brings_up_the_rest(installed: InstalledImage) -> None:
    wants = installed.path("/etc/systemd/system/multi-user.target.wants")
    assert sorted(os.listdir(wants)) == [contract.BOOTSTRAP_UNIT]
    bootstrap = unit(installed, contract.BOOTSTRAP_UNIT)
    assert bootstrap["Type"] == ["oneshot"]
    assert set(words(bootstrap["Wants"])) >= {"trino.service", *list(UNITS)[1:]}


def test_metrics_and_query_log_hold_no_capabilities(installed: InstalledImage) -> None:
    for name in ("node-agent-querylog.service", "node-agent-metrics.service"):
        service = unit(installed, name)
        assert service["CapabilityBoundingSet"] == [""], name
        assert service["ProtectSystem"] == ["strict"], name


def test_lifecycle_holds_only_the_capability_to_see_trinos_process(installed: InstalledImage) -> None:
    lifecycle = unit(installed, "node-agent-lifecycle.service")
    assert lifecycle["CapabilityBoundingSet"] == ["CAP_SYS_PTRACE"]
    assert lifecycle["ProtectSystem"] == ["strict"]


@pytest.fixture
def process_standing_in_for_trinos_jvm() -> Iterator[Path]:
    """A process that the lifecycle agent's check takes for Trino's JVM: another user's, its working
    directory the data dir, "java" in its command line. What the test is about is the kernel's
    rule for reading another user's /proc/<pid>/cwd, which is the same for this process as for a
    real JVM started by trino.service (and a real one would cost a gigabyte of heap here).
    """
    data_dir = Path(tempfile.mkdtemp(prefix="trino-data-", dir="/var/tmp"))
    data_dir.chmod(0o755)
    nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    process = subprocess.Popen([*nobody, "bash", "-c", "exec -a java sleep 300"], cwd=data_dir)
    try:
        cmdline = Path(f"/proc/{process.pid}/cmdline")
        deadline = time.monotonic() + 10
        while not cmdline.read_bytes().startswith(b"java\0") and time.monotonic() < deadline:
            time.sleep(0.05)  # setpriv and bash have not exec()ed sleep yet
        yield data_dir
    finally:
        process.kill()
        process.wait()
        shutil.rmtree(data_dir, ignore_errors=True)


def sees_trino(installed: InstalledImage, data_dir: Path, capabilities: list[str]) -> bool:
    """The lifecycle agent's own check, run as root limited to these capabilities (as systemd would)."""
    bounding = ",".join(["-all", *(f"+{cap.removeprefix('CAP_').lower()}" for cap in capabilities)])
    code = (
        f"from node_agent.trino.process import TrinoProcess; print(TrinoProcess({str(data_dir)!r}).running())"
    )
    python = str(installed.path("/opt/presto-on-aws/venv/bin/python"))
    result = subprocess.run(
        ["setpriv", f"--bounding-set={bounding}", "--inh-caps=-all", python, "-c", code],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip() == "True"


def test_lifecycle_unit_lets_the_agent_see_trinos_jvm(
    installed: InstalledImage, process_standing_in_for_trinos_jvm: Path
) -> None:
    capabilities = words(unit(installed, "node-agent-lifecycle.service")["CapabilityBoundingSet"])
    assert sees_trino(installed, process_standing_in_for_trinos_jvm, capabilities)


def test_without_ptrace_the_agent_would_take_a_running_trino_for_gone(
    installed: InstalledImage, process_standing_in_for_trinos_jvm: Path
) -> None:
    # Why the lifecycle unit keeps CAP_SYS_PTRACE: with no capabilities, root cannot read
    # another user's /proc/<pid>/cwd, and the agent would complete the termination at once.
    assert not sees_trino(installed, process_standing_in_for_trinos_jvm, [])


@pytest.mark.parametrize("name", list(UNITS))
def test_agent_unit_writes_the_log_file_cloudwatch_ships(installed: InstalledImage, name: str) -> None:
    service = unit(installed, name)
    target = f"append:{contract.LogFile.AGENT.value}"
    assert (service["StandardOutput"], service["StandardError"]) == ([target], [target])


def test_agent_log_is_rotated_in_place(installed: InstalledImage) -> None:
    # systemd keeps the file open, so it must be truncated, not moved away.
    rules = installed.path("/etc/logrotate.d/presto-on-aws").read_text()
    assert f"{contract.LogFile.AGENT.value} {{" in rules
    assert re.search(r"^\s+copytruncate$", rules, re.M)
    assert re.search(r"^\s+maxsize \d+M$", rules, re.M)
