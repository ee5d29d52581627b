"""automation.py against the real Pulumi CLI (pkg/v3 v3.276.0, built by tools/pulumi_cli) and a
local file backend, as a user runs it with `PULUMI_BACKEND_URL=file://...`.

No AWS provider plugin is served here, so no real preview: what is proven is everything before the
first provider call (stack init/select, config set/get with a passphrase-encrypted secret, the
inline program run by the CLI), that the missing plugin is a clear error naming the install
command, that a preview leaves the config as it was, a stack lock, outputs and destroy of an empty
stack. Each test works on a copy of the dev stack's files in its own workspace and backend.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import automation
from components.base import REPO_ROOT
from components.settings.keys import PROJECT
from components.settings.model import ConfigError, SecretText
from components.settings.stack_file import read_stack_file

pytestmark = pytest.mark.integration

STACK = "dev"
PASSWORD_KEY = f"{PROJECT}:elasticsearchPassword"


@pytest.fixture(scope="module")
def pulumi_bin() -> Path:
    """The built CLI (cached; the first build takes about 5 minutes)."""
    built = subprocess.run(
        ["bash", str(REPO_ROOT / "tools/pulumi_cli/build.sh")], capture_output=True, text=True, timeout=1800
    )
    assert built.returncode == 0, f"tools/pulumi_cli/build.sh failed:\n{built.stderr}"
    return Path(built.stdout.strip())


@pytest.fixture
def workspace(pulumi_bin: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The dev stack's files in a fresh dir, a fresh file backend, and the CLI first on PATH."""
    work = tmp_path / "work"
    work.mkdir()
    for name in ("Pulumi.yaml", f"Pulumi.{STACK}.yaml"):
        shutil.copy(REPO_ROOT / name, work / name)
    monkeypatch.setenv("PATH", f"{pulumi_bin.parent}:{Path(shutil.which('python3') or '').parent}")
    monkeypatch.setenv("PULUMI_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PULUMI_BACKEND_URL", (tmp_path / "state").as_uri())
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "correct horse battery staple")
    monkeypatch.setenv("PULUMI_SKIP_UPDATE_CHECK", "true")
    # No download site answers here; without this the CLI would try get.pulumi.com first.
    monkeypatch.setenv("PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION", "true")
    (tmp_path / "state").mkdir()
    return work


# A preview runs the inline program, for which the Pulumi SDK starts a gRPC server in this process.
# gRPC's fork handlers then abort a child forked to exec Trino (exit -6, "epoll_wait error: Bad
# file descriptor", seen in CI), and the integration suite forks Trino, so previews run in a child.
CHILD = """
import json, sys
from pathlib import Path
import automation
try:
    automation.preview(sys.argv[1], json.loads(sys.argv[3]), root=Path(sys.argv[2]))
    print(json.dumps(["ok", ""]))
except automation.AutomationError as error:
    print(json.dumps([type(error).__name__, str(error)]))
"""


def preview_in_a_child(workspace: Path, overrides: dict[str, object] | None = None) -> tuple[str, str]:
    """automation.preview in a fresh interpreter: the error's class name and message."""
    done = subprocess.run(
        [sys.executable, "-c", CHILD, STACK, str(workspace), json.dumps(overrides or {})],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env=dict(os.environ),
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    kind, message = json.loads(done.stdout.strip().splitlines()[-1])
    return kind, message


def test_the_cli_built_is_the_pinned_release(pulumi_bin: Path) -> None:
    done = subprocess.run([str(pulumi_bin), "version"], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "v3.276.0"


def test_a_stack_is_created_on_first_use_and_selected_after(workspace: Path) -> None:
    first = automation.local_stack(STACK, workspace)
    again = automation.local_stack(STACK, workspace)
    assert [s.name for s in again.workspace.list_stacks()] == [STACK]
    assert first.name == again.name == STACK


def test_a_secret_override_is_encrypted_in_the_stack_file_and_read_back_as_secret(workspace: Path) -> None:
    handle = automation.local_stack(STACK, workspace)
    handle.set_all_config(automation.config_values({"elasticsearchPassword": SecretText("s3cr3t-pw")}))
    text = (workspace / f"Pulumi.{STACK}.yaml").read_text()
    assert "s3cr3t-pw" not in text and "secure: v1:" in text
    assert handle.get_config(PASSWORD_KEY).value == "s3cr3t-pw"  # the passphrase decrypts it
    _, secret = read_stack_file(STACK, root=workspace)  # what `make plan` reads from it
    assert PASSWORD_KEY in secret


def test_config_set_by_the_cli_reads_the_same_in_make_plan(workspace: Path) -> None:
    handle = automation.local_stack(STACK, workspace)
    overrides = {"workerMaxSize": 7, "clientCidrs": ["10.1.0.0/16"], "tls": False}
    handle.set_all_config(automation.config_values(overrides))
    raw, _ = read_stack_file(STACK, root=workspace)
    cli = {key: value.value for key, value in handle.get_all_config().items() if not value.secret}
    assert raw == cli


def test_a_preview_without_the_aws_plugin_names_the_plugin_and_the_install_command(workspace: Path) -> None:
    kind, message = preview_in_a_child(workspace)
    assert kind == "PluginMissing"
    assert "pulumi plugin install resource aws 7.51.1" in message


def test_a_failed_preview_leaves_the_stack_config_as_it_was(workspace: Path) -> None:
    before = read_stack_file(STACK, root=workspace)
    kind, _ = preview_in_a_child(workspace, {"workerMaxSize": 9, "scalingStepWorkers": 3})
    assert kind == "PluginMissing"
    assert read_stack_file(STACK, root=workspace) == before


def test_a_key_the_workspace_file_gets_wrong_is_refused_before_the_cli_runs(workspace: Path) -> None:
    """The check reads the workspace's stack file, the one the CLI would hand the program."""
    path = workspace / f"Pulumi.{STACK}.yaml"
    path.write_text(path.read_text() + f"  {PROJECT}:workerMaxSzie: 5\n")
    with pytest.raises(ConfigError, match="workerMaxSzie"):
        automation.preview(STACK, root=workspace)


def test_a_locked_stack_is_reported_as_locked_with_what_to_do(workspace: Path) -> None:
    automation.local_stack(STACK, workspace)
    locks = workspace.parent / "state" / ".pulumi" / "locks" / "organization" / PROJECT / STACK
    locks.mkdir(parents=True, exist_ok=True)
    (locks / "held-by-another-update.json").write_text('{"pid": 1, "username": "other", "hostname": "h"}')
    with pytest.raises(automation.StackLocked, match="pulumi cancel --stack dev"):
        automation.destroy(STACK, root=workspace)  # a preview takes no lock; an update does


def test_an_empty_stack_has_no_outputs_and_destroys_to_nothing(workspace: Path) -> None:
    automation.local_stack(STACK, workspace)
    assert automation.outputs(STACK, root=workspace) == {}
    assert automation.destroy(STACK, root=workspace) == {}
