"""The Packer template, checked with the Packer that Debian ships (1.6.6).

1.6.6 reads HCL2 and has the amazon-ebs builder built in, but it predates three things the
template needs for a real build with current Packer: the `required_plugins` block (plugins.pkr.hcl,
which also pins Packer >= 1.7), and the builder's `metadata_options` block and `imds_support`
setting (IMDSv2). What it CAN check, these tests assert: every file is formatted; the template
without those three settings validates fully (variables, locals, builder settings, provisioners,
post-processor); the locals evaluate to the tags and install arguments we expect; and 1.6.6 is
refused with a clear message. The three settings themselves are asserted on the template text.
"""

from __future__ import annotations

import ipaddress
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from node_agent.contract import AMI_TAG_TRINO_VERSION
from tests.image.image_install import IMAGE

TEMPLATE = IMAGE / "trino.pkr.hcl"
VARIABLES = IMAGE / "variables.pkr.hcl"
BUILD_VARS = {
    "trino_version": "476",
    "java_version": "25",
    "agent_version": "0123456789ab",
    "payload_dir": "",  # set per test to a directory that exists: Packer checks the upload source
    "region": "eu-west-1",
    "vpc_id": "vpc-0123456789abcdef0",
    "subnet_id": "subnet-0123456789abcdef0",
}
# Settings current Packer's amazon plugin knows and Packer 1.6.6's built-in builder does not.
NEWER_THAN_1_6 = (
    re.compile(r"\n  metadata_options \{\n.*?\n  \}\n", re.S),
    re.compile(r"\n  imds_support += .*\n"),
)


@pytest.fixture(scope="module")
def packer() -> str:
    path = shutil.which("packer")
    assert path, "packer is missing (Debian package packer; .ci/run installs it)"
    return path


def var_args(directory: Path, overrides: dict[str, str] | None = None) -> list[str]:
    payload = directory / "payload"
    payload.mkdir(exist_ok=True)
    values = {**BUILD_VARS, "payload_dir": str(payload), **(overrides or {})}
    return [arg for key, value in values.items() for arg in ("-var", f"{key}={value}")]


@pytest.fixture
def template_for_packer_1_6(tmp_path: Path) -> Path:
    """The template without the settings 1.6.6 cannot read (and without plugins.pkr.hcl)."""
    text = TEMPLATE.read_text()
    for pattern in NEWER_THAN_1_6:
        text, count = pattern.subn("\n", text)
        assert count == 1, pattern.pattern
    (tmp_path / TEMPLATE.name).write_text(text)
    shutil.copy(VARIABLES, tmp_path / VARIABLES.name)
    return tmp_path


def console(packer: str, directory: Path, expression: str, overrides: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [packer, "console", *var_args(directory, overrides), str(directory)],
        input=expression + "\n",
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_every_packer_file_is_formatted(packer: str) -> None:
    result = subprocess.run([packer, "fmt", "-check", "-diff", str(IMAGE)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_template_validates_with_packer_1_6(packer: str, template_for_packer_1_6: Path) -> None:
    result = subprocess.run(
        [packer, "validate", *var_args(template_for_packer_1_6), str(template_for_packer_1_6)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_validation_rejects_an_unknown_ssh_interface(packer: str, template_for_packer_1_6: Path) -> None:
    result = subprocess.run(
        [
            packer,
            "validate",
            *var_args(template_for_packer_1_6, {"ssh_interface": "telnet"}),
            str(template_for_packer_1_6),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "ssh_interface must be private_ip, session_manager or public_ip" in result.stdout + result.stderr


def test_packer_older_than_1_7_is_refused_by_the_template(packer: str) -> None:
    version = subprocess.run([packer, "version"], capture_output=True, text=True).stdout
    found = re.match(r"Packer v(\d+)\.(\d+)", version)
    assert found, version
    result = subprocess.run([packer, "validate", "-syntax-only", str(IMAGE)], capture_output=True, text=True)
    if (int(found[1]), int(found[2])) >= (1, 7):
        assert result.returncode == 0, result.stdout + result.stderr
    else:
        assert result.returncode != 0
        assert "does not support Packer version" in result.stdout + result.stderr


def test_ami_is_tagged_with_trino_java_and_agent_versions_and_build_time(
    packer: str, template_for_packer_1_6: Path
) -> None:
    tags = console(packer, template_for_packer_1_6, "local.tags")
    assert f'"{AMI_TAG_TRINO_VERSION}" = "476"' in tags
    assert '"java-version" = "25"' in tags
    assert '"agent-version" = "0123456789ab"' in tags
    assert re.search(r'"build-time" = "\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"', tags)


def test_install_script_gets_the_checksum_only_when_one_is_given(
    packer: str, template_for_packer_1_6: Path
) -> None:
    without = console(packer, template_for_packer_1_6, "local.install_args")
    given = console(packer, template_for_packer_1_6, "local.install_args", {"trino_sha256": "ab" * 32})
    assert "--trino-sha256" not in without
    assert f"--trino-sha256 {'ab' * 32}" in given
    assert "--trino-version 476 --java-version 25" in without


def test_build_instance_requires_imdsv2() -> None:
    (block,) = re.findall(r"metadata_options \{(.*?)\}", TEMPLATE.read_text(), re.S)
    assert re.search(r'http_tokens\s*=\s*"required"', block)
    assert re.search(r'^\s*imds_support\s*=\s*"v2.0"', TEMPLATE.read_text(), re.M)


def test_root_volume_and_ami_snapshot_are_encrypted() -> None:
    text = TEMPLATE.read_text()
    assert re.search(r"^\s*encrypted\s*=\s*true$", text, re.M)
    assert re.search(r"^\s*encrypt_boot\s*=\s*true$", text, re.M)


def test_base_is_the_newest_amazon_linux_2023_found_by_filter() -> None:
    (block,) = re.findall(r"source_ami_filter \{(.*?)\n  \}", TEMPLATE.read_text(), re.S)
    assert re.search(r'name\s*=\s*"al2023-ami-', block)
    assert re.search(r'owners\s*=\s*\["amazon"\]', block)
    assert re.search(r"most_recent\s*=\s*true", block)
    assert "source_ami " not in TEMPLATE.read_text()


def test_build_instance_gets_no_public_ip_unless_asked() -> None:
    (block,) = re.findall(r'variable "associate_public_ip_address" \{(.*?)\n\}', VARIABLES.read_text(), re.S)
    assert re.search(r"default\s*=\s*false", block)


def test_build_instance_ssh_is_open_to_private_ranges_only_by_default(
    packer: str, template_for_packer_1_6: Path
) -> None:
    assert re.search(
        r"^\s*temporary_security_group_source_cidrs\s*=\s*var\.ssh_source_cidrs$", TEMPLATE.read_text(), re.M
    )
    cidrs = re.findall(r'"([0-9./]+)"', console(packer, template_for_packer_1_6, "var.ssh_source_cidrs"))
    assert cidrs
    assert all(ipaddress.ip_network(cidr).is_private for cidr in cidrs)
