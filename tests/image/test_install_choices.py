"""What install.sh decides from the Trino version, and what it refuses, before installing anything."""

from __future__ import annotations

import hashlib
import re
import subprocess
import tarfile
from pathlib import Path

import pytest

from node_agent import contract
from node_agent.trino import versions
from tests.image.image_install import INSTALL, InstalledImage, install_args, run_install

MAVEN = "https://repo1.maven.org/maven2"
GITHUB = "https://github.com/trinodb/trino/releases/download"
SHA_476 = "cfd5accde17e8ebd251eeeb78aed1f490e77bb3a164d95a0f454bf8a7c1cbd3f"


def plan(version: int | str, *extra: str) -> dict[str, str]:
    result = run_install("--plan", "--trino-version", str(version), *extra)
    return dict(line.split("=", 1) for line in result.stdout.splitlines())


def test_java_minimum_agrees_with_versions_py_for_every_accepted_release() -> None:
    """The AMI installs from install.sh's table, the renderer reasons from versions.py's: one
    release where they differ is an image whose Trino refuses to start (447-475 once got Java 21)."""
    accepted = range(versions.OLDEST_VERSION, versions.NEWEST_VERSION + 1)
    script = f'for v in {" ".join(map(str, accepted))}; do bash "$1" --plan --trino-version "$v"; done'
    result = subprocess.run(
        ["bash", "-c", script, "plan", str(INSTALL)], capture_output=True, text=True, check=True
    )
    plans = [dict(line.split("=", 1) for line in block.splitlines()) for block in _plans(result.stdout)]
    disagree = {
        int(p["trino_version"]): (
            p["java_minimum"],
            p["java_version"],
            versions.java_minimum(int(p["trino_version"])),
        )
        for p in plans
        if int(p["java_minimum"]) != versions.java_minimum(int(p["trino_version"]))
        or int(p["java_version"]) < int(p["java_minimum"])
    }
    assert len(plans) == len(accepted)
    assert disagree == {}


def _plans(stdout: str) -> list[str]:
    """install.sh --plan prints one block per run, each starting with its trino_version line."""
    blocks: list[str] = []
    for line in stdout.splitlines():
        if line.startswith("trino_version="):
            blocks.append("")
        blocks[-1] += line + "\n"
    return blocks


@pytest.mark.parametrize(
    ("version", "java", "minimum"),
    [(330, "11", "11"), (350, "11", "11"), (431, "17", "17"), (435, "17", "17"), (436, "21", "21"),
     (446, "21", "21"), (447, "22", "22"), (463, "22", "22"), (464, "23", "23"), (475, "23", "23"),
     (476, "25", "24"), (478, "25", "24"), (479, "25", "25"), (483, "25", "25")],
)  # fmt: skip
def test_java_is_chosen_from_the_trino_version(version: int, java: str, minimum: str) -> None:
    chosen = plan(version)
    assert (chosen["java_version"], chosen["java_minimum"]) == (java, minimum)
    assert chosen["java_home"] == f"/usr/lib/jvm/java-{java}-amazon-corretto"


@pytest.mark.parametrize(
    ("version", "url"),
    [
        (350, f"{MAVEN}/io/prestosql/presto-server/350/presto-server-350.tar.gz"),
        (476, f"{MAVEN}/io/trino/trino-server/476/trino-server-476.tar.gz"),
        (477, f"{GITHUB}/477/trino-server-477.tar.gz"),
        (483, f"{GITHUB}/483/trino-server-483.tar.gz"),
    ],
)
def test_server_is_downloaded_from_where_that_release_is_published(version: int, url: str) -> None:
    assert plan(version)["download_url"] == url


def test_pinned_checksum_of_476_is_used_when_none_is_given() -> None:
    assert plan(476)["sha256"] == SHA_476


def test_releases_before_466_start_through_the_python_launcher() -> None:
    assert (plan(465)["launcher"], plan(466)["launcher"]) == ("python", "go")


def test_java_older_than_the_release_needs_is_refused() -> None:
    result = run_install("--plan", "--trino-version", "476", "--java-version", "21", check=False)
    assert result.returncode != 0
    assert "--java-version '21' cannot run Trino 476: it needs Java 24 or newer" in result.stderr


@pytest.mark.parametrize(
    ("version", "message"), [("abc", "is not a release number"), ("329", "older than 330")]
)
def test_unusable_trino_version_is_refused_naming_it(version: str, message: str) -> None:
    result = run_install("--plan", "--trino-version", version, check=False)
    assert result.returncode != 0
    assert message in result.stderr and version in result.stderr


def test_release_without_a_known_checksum_is_not_installed(tmp_path: Path) -> None:
    result = run_install("--trino-version", "477", "--wheelhouse", tmp_path, "--root", tmp_path, check=False)
    assert result.returncode != 0
    assert "no SHA-256 known for Trino 477: pass --trino-sha256" in result.stderr


def test_install_paths_are_the_contracts() -> None:
    script = INSTALL.read_text()
    for name in ("TRINO_HOME", "TRINO_DATA", "AGENT_STATE_DIR"):
        assert re.search(rf"^{name}={re.escape(getattr(contract, name))}$", script, re.M), name
    assert re.search(rf"^CONFIG_DIR={re.escape(str(Path(contract.NODE_ENV_FILE).parent))}$", script, re.M)


def test_tarball_that_does_not_match_its_checksum_is_refused(
    installed: InstalledImage, tmp_path: Path
) -> None:
    # A tarball that is not the pinned 476 one, offered as 476.
    impostor = tmp_path / "trino-server-476.tar.gz"
    (tmp_path / "trino-server-476" / "bin").mkdir(parents=True)
    (tmp_path / "trino-server-476" / "bin" / "launcher").write_text("#!/bin/sh\n")
    with tarfile.open(impostor, "w:gz") as archive:
        archive.add(tmp_path / "trino-server-476", arcname="trino-server-476")
    root = tmp_path / "root"
    root.mkdir()
    args = install_args(root, installed.wheelhouse, impostor)
    result = run_install(*args, check=False)
    assert result.returncode != 0
    assert f"expected {SHA_476} for Trino 476: refusing to install it" in result.stderr
    assert not (root / "opt" / "trino-server-476").exists()
    assert not (root / "opt" / "trino").exists()


def stand_in_server_tarball(directory: Path, name: str) -> tuple[Path, str]:
    """A tiny tarball laid out like a real server release (bin/launcher, bin/launcher.py)."""
    bin_dir = directory / name / "bin"
    bin_dir.mkdir(parents=True)
    for script in ("launcher", "launcher.py"):
        (bin_dir / script).write_text("#!/bin/sh\n")
        (bin_dir / script).chmod(0o755)
    tarball = directory / f"{name}.tar.gz"
    with tarfile.open(tarball, "w:gz") as archive:
        archive.add(directory / name, arcname=name)
    return tarball, hashlib.sha256(tarball.read_bytes()).hexdigest()


def test_prestosql_release_gets_its_own_server_name_java_11_and_the_python_launcher(
    installed: InstalledImage, tmp_path: Path
) -> None:
    tarball, sha256 = stand_in_server_tarball(tmp_path, "presto-server-350")
    root = tmp_path / "root"
    root.mkdir()
    args = [*install_args(root, installed.wheelhouse, tarball), "--trino-sha256", sha256]
    args[args.index("--trino-version") + 1] = "350"
    args[args.index("--java-home") + 1] = "/usr/lib/jvm/java-11-amazon-corretto"  # absent here: recorded only
    run_install(*args)
    assert (root / "opt" / "trino").readlink() == Path("presto-server-350")
    drop_in = root / "usr/lib/systemd/system/trino.service.d/python-launcher.conf"
    paths = f"--etc-dir={contract.TRINO_ETC} --data-dir={contract.TRINO_DATA}"
    launch = f"ExecStart=/usr/bin/python3 {contract.TRINO_HOME}/bin/launcher.py run {paths}"
    assert launch in drop_in.read_text().splitlines()
    java = (root / "etc/presto-on-aws/java.env").read_text()
    assert "PATH=/usr/lib/jvm/java-11-amazon-corretto/bin:" in java


def test_go_launcher_release_has_no_python_launcher_drop_in(installed: InstalledImage) -> None:
    assert not installed.path("/usr/lib/systemd/system/trino.service.d").exists()
