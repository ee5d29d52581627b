"""`make image` (image/Makefile `build`): it refuses what would fail half-way through a paid build."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.image.image_install import IMAGE

PLACEMENT = ("AWS_REGION", "VPC_ID", "SUBNET_ID")


def make(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in PLACEMENT and not k.startswith("MAKE")}
    return subprocess.run(
        ["make", "-s", "-C", str(IMAGE), *args],
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_build_names_the_missing_placement_variables() -> None:
    result = make("check-build-inputs", "TRINO_VERSION=476", env={"VPC_ID": "vpc-0123456789abcdef0"})
    assert result.returncode != 0
    assert "make build: set AWS_REGION SUBNET_ID (where the build instance runs)" in result.stderr


def test_build_refuses_an_unusable_trino_version_before_anything_else() -> None:
    result = make("check-build-inputs", "TRINO_VERSION=4x6")
    assert result.returncode != 0
    assert "--trino-version '4x6' is not a release number" in result.stderr


def test_build_refuses_a_packer_too_old_for_the_template() -> None:
    placement = {"AWS_REGION": "eu-west-1", "VPC_ID": "vpc-1", "SUBNET_ID": "subnet-1"}
    version = subprocess.run(["packer", "version"], capture_output=True, text=True).stdout
    result = make("check-build-inputs", "TRINO_VERSION=476", env=placement)
    if version.startswith("Packer v1.6"):
        assert result.returncode != 0
        assert "needs Packer 1.7 or newer (found: 1.6" in result.stderr
    else:
        assert result.returncode == 0, result.stderr


DIGEST = "0" * 64  # a checksum given for a release trino-sha256.txt does not list


def test_plan_refuses_a_release_without_a_known_checksum() -> None:
    result = make("plan", "TRINO_VERSION=477")
    assert result.returncode != 0
    assert "no SHA-256 known for Trino 477: pass TRINO_SHA256=<hex>" in result.stderr


def test_build_stops_before_packer_on_a_release_without_a_known_checksum() -> None:
    placement = {"AWS_REGION": "eu-west-1", "VPC_ID": "vpc-1", "SUBNET_ID": "subnet-1"}
    result = make("check-build-inputs", "TRINO_VERSION=477", "PACKER=/nonexistent/packer", env=placement)
    assert result.returncode != 0
    assert "no SHA-256 known for Trino 477" in result.stderr
    assert "Packer" not in result.stderr


def test_plan_shows_the_checksum_it_was_given() -> None:
    result = make("plan", "TRINO_VERSION=477", f"TRINO_SHA256={DIGEST}")
    assert result.returncode == 0, result.stderr
    assert f"sha256={DIGEST}" in result.stdout.splitlines()


def test_plan_shows_the_java_and_download_of_the_release() -> None:
    result = make("plan", "TRINO_VERSION=483", f"TRINO_SHA256={DIGEST}")
    assert result.returncode == 0, result.stderr
    assert "java_version=25" in result.stdout.splitlines()
    assert "download_url=https://github.com/trinodb/trino/releases/download/483/trino-server-483.tar.gz" in (
        result.stdout.splitlines()
    )


STAND_IN_PACKER = """#!/usr/bin/env bash
# Stands in for HashiCorp Packer >= 1.7: records its arguments, and for `build` writes the
# manifest a real build's post-processor would, next to the payload directory.
set -euo pipefail
if [[ "$1" == version ]]; then echo "Packer v1.11.2"; exit 0; fi
printf '%s\\n' "$*" >> "$STAND_IN_LOG"
if [[ "$1" == build ]]; then
  payload=$(printf '%s\\n' "$@" | sed -n 's/^payload_dir=//p')
  echo '{"builds": [{"artifact_id": "eu-west-1:ami-0123456789abcdef0"}]}' > "$payload/../manifest.json"
fi
"""


def test_build_hands_packer_the_version_java_agent_revision_and_a_complete_payload(tmp_path: Path) -> None:
    packer = tmp_path / "stand-in-packer"
    packer.write_text(STAND_IN_PACKER)
    packer.chmod(0o755)
    log = tmp_path / "packer-calls.log"
    build = tmp_path / "build"
    env = {"AWS_REGION": "eu-west-1", "VPC_ID": "vpc-1", "SUBNET_ID": "subnet-1", "STAND_IN_LOG": str(log)}
    args = ["TRINO_VERSION=476", f"PACKER={packer}", f"BUILD={build}", f"PYTHON={sys.executable}"]
    result = make("build", *args, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    init, packer_build = log.read_text().splitlines()
    assert init == "init ."
    revision = subprocess.run(
        ["git", "rev-parse", "--short=12", "HEAD"], cwd=IMAGE, capture_output=True, text=True, check=True
    ).stdout.strip()
    for setting in ("trino_version=476", "java_version=25", f"agent_version={revision}", "region=eu-west-1"):
        assert f"-var {setting}" in packer_build, setting
    payload = build / "payload"
    assert f"-var payload_dir={payload}" in packer_build
    assert {p.name for p in payload.iterdir()} == {"install.sh", "trino-sha256.txt", "files", "wheelhouse"}
    assert any(payload.glob("wheelhouse/presto_on_aws-*.whl"))
    assert "AMI: eu-west-1:ami-0123456789abcdef0" in result.stdout
