"""What install.sh leaves on a node: Trino, its user, its limits, the agent and their directories."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import textwrap
from pathlib import Path

from node_agent import contract
from tests.image.image_install import JAVA_HOME, TRINO_VERSION, InstalledImage, install_args, run_install

AGENT_VENV = "/opt/presto-on-aws/venv"


def passwd_entry(image: InstalledImage, name: str) -> list[str]:
    for line in image.path("/etc/passwd").read_text().splitlines():
        fields = line.split(":")
        if fields[0] == name:
            return fields
    raise AssertionError(f"no user {name!r} in the image's /etc/passwd")


def env_file(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


def test_trino_home_points_at_the_pinned_server_release(installed: InstalledImage) -> None:
    home = installed.path(contract.TRINO_HOME)
    assert home.is_symlink()
    assert os.readlink(home) == f"trino-server-{TRINO_VERSION}"
    assert os.access(home / "bin" / "launcher", os.X_OK)


def test_server_has_the_http_event_listener_the_query_log_needs(installed: InstalledImage) -> None:
    plugin = installed.path(contract.TRINO_HOME) / "plugin" / "http-event-listener"
    assert any(plugin.glob("*.jar"))


def test_server_files_belong_to_root_and_trino_cannot_change_them(installed: InstalledImage) -> None:
    server = installed.path(f"/opt/trino-server-{TRINO_VERSION}")
    for path in [server, server / "bin" / "launcher", server / "lib", next((server / "lib").glob("*.jar"))]:
        info = path.lstat()
        assert info.st_uid == 0, path
        assert not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH), path


def test_trino_user_can_read_every_server_file_and_run_the_launcher(installed: InstalledImage) -> None:
    # The server is root's; trino.service runs it as trino, who is "other" to these files.
    server = installed.path(f"/opt/trino-server-{TRINO_VERSION}")

    def readable_by_others(path: Path) -> bool:
        needed = stat.S_IROTH | (stat.S_IXOTH if path.is_dir() else 0)
        return path.lstat().st_mode & needed == needed

    paths = [path for path in server.rglob("*") if not path.is_symlink()]
    unreadable = [path for path in paths if not readable_by_others(path)]
    assert unreadable == []
    assert (server / "bin" / "launcher").stat().st_mode & stat.S_IXOTH


def test_trino_runs_as_an_unprivileged_system_user_without_a_shell(installed: InstalledImage) -> None:
    _, _, uid, _, _, home, shell = passwd_entry(installed, "trino")
    assert 0 < int(uid) < 1000
    assert home == contract.TRINO_DATA
    assert shell.endswith("/nologin")


def test_trino_data_dir_is_trinos_alone(installed: InstalledImage) -> None:
    info = installed.path(contract.TRINO_DATA).stat()
    assert info.st_uid == int(passwd_entry(installed, "trino")[2])
    assert stat.S_IMODE(info.st_mode) == 0o750


def test_agent_state_holding_query_text_is_readable_by_root_only(installed: InstalledImage) -> None:
    info = installed.path(contract.AGENT_STATE_DIR).stat()
    assert info.st_uid == 0
    assert stat.S_IMODE(info.st_mode) == 0o700


def test_directory_of_every_shipped_log_file_exists_or_is_trinos_to_create(installed: InstalledImage) -> None:
    for log in contract.LogFile:
        if log.value.startswith(contract.TRINO_DATA + "/"):
            continue  # Trino creates var/log under its data dir itself
        if log is contract.LogFile.SYSLOG:
            continue  # rsyslog's, installed with the OS packages on the build instance
        assert installed.path(os.path.dirname(log.value)).is_dir(), log


def test_trino_etc_is_left_for_the_bootstrap_to_render(installed: InstalledImage) -> None:
    # write_atomically would move an image default aside; there must be none to begin with.
    assert not installed.path(contract.TRINO_ETC).exists()


def test_nofile_limit_for_the_trino_user_is_at_least_131072(installed: InstalledImage) -> None:
    limits = installed.path("/etc/security/limits.d/90-trino.conf").read_text()
    entries = [line.split() for line in limits.splitlines() if line and not line.startswith("#")]
    nofile = {kind: int(value) for user, kind, item, value in entries if user == "trino" and item == "nofile"}
    assert nofile == {"soft": 131072, "hard": 131072}


def test_launcher_is_pointed_at_the_checked_jdk(installed: InstalledImage) -> None:
    java = env_file(installed.path("/etc/presto-on-aws/java.env"))
    assert java["JAVA_HOME"] == str(JAVA_HOME)
    assert java["PATH"].startswith(f"{JAVA_HOME}/bin:")


def test_image_records_its_trino_java_and_agent_versions(installed: InstalledImage) -> None:
    facts = env_file(installed.path("/etc/presto-on-aws/image.env"))
    assert facts == {"TRINO_VERSION": "476", "JAVA_VERSION": "25", "AGENT_VERSION": "test-revision"}


def test_agent_venv_holds_exactly_the_wheelhouse(installed: InstalledImage) -> None:
    pip = installed.path(AGENT_VENV) / "bin" / "python"
    listed = subprocess.run(
        [str(pip), "-m", "pip", "list", "--format=json", "--disable-pip-version-check", "--exclude", "pip"],
        capture_output=True,
        text=True,
        check=True,
    )
    installed_names = {_normal(p["name"]) + "==" + p["version"] for p in json.loads(listed.stdout)}
    wheels = {
        _normal(w.name.split("-")[0]) + "==" + w.name.split("-")[1]
        for w in installed.wheelhouse.glob("*.whl")
    }
    assert installed_names - {n for n in installed_names if n.startswith("setuptools==")} == wheels


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_node_agent_command_lists_the_commands_the_units_run(installed: InstalledImage) -> None:
    result = subprocess.run(
        [str(installed.path(AGENT_VENV) / "bin" / "node-agent"), "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    for command in ("bootstrap", "metrics", "querylog", "lifecycle"):
        assert re.search(rf"^\s+{command}\s", result.stdout, re.M), command


def test_every_agent_module_imports_in_the_image(installed: InstalledImage) -> None:
    # A module that imports a package the wheelhouse lacks would fail only on the node, at boot.
    script = textwrap.dedent(
        """
        import importlib, pkgutil, node_agent
        for module in pkgutil.walk_packages(node_agent.__path__, "node_agent."):
            importlib.import_module(module.name)
        """
    )
    python = installed.path(AGENT_VENV) / "bin" / "python"
    result = subprocess.run([str(python), "-c", script], capture_output=True, text=True, check=False, cwd="/")
    assert result.returncode == 0, result.stderr


RENDER_SAMPLE = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from node_agent.contract import NodeSettings, Role
    from node_agent.etc_writer import write_atomically
    from node_agent.render import Layout, NodeFacts, Secrets, render

    settings = NodeSettings(
        cluster="analytics", environment="prod", region="eu-west-1", trino_version=476,
        coordinator_address="10.0.0.10",
        shared_secret_arn="arn:aws:secretsmanager:eu-west-1:123456789012:secret:shared",
        catalogs={"tpch": {"connector.name": "tpch"}},
    )
    facts = NodeFacts("i-0123456789abcdef0", "r6i.xlarge", "10.0.1.17", "eu-west-1a", 32 * 1024**3)
    etc = Path(sys.argv[1])
    files = render(settings, facts, Role.WORKER, Layout(etc_dir=etc), Secrets(shared_secret="s3cret"))
    write_atomically(files, etc)
    print(json.dumps(sorted(files)))
    """
)


def test_agent_in_the_image_renders_a_configuration_its_check_accepts(
    installed: InstalledImage, tmp_path: Path
) -> None:
    venv = installed.path(AGENT_VENV) / "bin"
    etc = tmp_path / "trino"
    rendered = subprocess.run(
        [str(venv / "python"), "-c", RENDER_SAMPLE, str(etc)], capture_output=True, text=True, check=False
    )
    assert rendered.returncode == 0, rendered.stderr
    assert {"config.properties", "jvm.config", "node.properties"} <= set(json.loads(rendered.stdout))
    check = subprocess.run(
        [str(venv / "node-agent"), "bootstrap", "--check", "--etc-dir", str(etc)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stderr


def test_rendered_server_log_is_the_file_cloudwatch_ships(installed: InstalledImage, tmp_path: Path) -> None:
    venv = installed.path(AGENT_VENV) / "bin"
    etc = tmp_path / "trino"
    subprocess.run([str(venv / "python"), "-c", RENDER_SAMPLE, str(etc)], check=True, capture_output=True)
    config = dict(
        line.split("=", 1) for line in (etc / "config.properties").read_text().splitlines() if "=" in line
    )
    assert config["log.path"] == contract.LogFile.SERVER.value


def test_http_request_log_is_where_trino_writes_it_by_default(
    installed: InstalledImage, tmp_path: Path
) -> None:
    # Trino writes var/log/http-request.log relative to its working directory, the data dir
    # (trino.service's WorkingDirectory; the launcher also changes into it).
    venv = installed.path(AGENT_VENV) / "bin"
    etc = tmp_path / "trino"
    subprocess.run([str(venv / "python"), "-c", RENDER_SAMPLE, str(etc)], check=True, capture_output=True)
    assert "http-server.log.path" not in (etc / "config.properties").read_text()
    assert contract.LogFile.HTTP_REQUEST.value == f"{contract.TRINO_DATA}/var/log/http-request.log"


def test_second_run_reuses_the_server_and_the_agent_and_keeps_the_trino_user(
    installed: InstalledImage,
) -> None:
    # Packer may re-run the step; nothing is extracted or rebuilt twice, and no second user appears.
    server = installed.path(f"/opt/trino-server-{TRINO_VERSION}")
    python = installed.path(AGENT_VENV) / "bin" / "python"
    before = (server.stat().st_ino, python.lstat().st_mtime_ns, installed.path("/etc/passwd").read_text())
    result = run_install(*install_args(installed.root, installed.wheelhouse, installed.tarball))
    assert f"trino-server-{TRINO_VERSION} already installed" in result.stderr
    assert "node agent already installed from the same wheels" in result.stderr
    after = (server.stat().st_ino, python.lstat().st_mtime_ns, installed.path("/etc/passwd").read_text())
    assert after == before
