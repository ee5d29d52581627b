"""Drive the stack from other tools: deploy, preview, destroy and outputs, in Python.

    from automation import deploy
    result = deploy("prod", {"workerMaxSize": 60})
    print(result.outputs["coordinatorUrl"])

Each call runs the same program function as `pulumi up` (components/program.py) as an inline
program of the Automation API, with the stack's config from Pulumi.<stack>.yaml. Overrides are
validated offline first (the same parser, every problem at once). `deploy` writes them to the
stack's config the way `pulumi config set` would, so the next `up` deploys the same thing;
`preview` sets them only for the preview and puts the previous values back afterwards, so a
preview never changes what the next `up` does. `destroy` and `outputs` run no program, so they
neither read nor validate the stack file: a stack whose file no longer parses (or is gone) can
still be torn down. CLI failures become
AutomationError subclasses that say what to do. The Pulumi CLI must be installed; tests replace
the stack factory instead.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pulumi.automation as auto

from components.base import REPO_ROOT
from components.program import program
from components.settings.keys import PROJECT
from components.settings.model import ConfigError, SecretText
from components.settings.stack_file import load_stack_settings

# ConfigError is re-exported: callers catch it from here, as README shows.
__all__ = [
    "AutomationError",
    "ConfigError",
    "DeployResult",
    "OperationFailed",
    "PluginMissing",
    "PulumiCliMissing",
    "StackLocked",
    "deploy",
    "destroy",
    "outputs",
    "preview",
]

OutputSink = Callable[[str], None]


class AutomationError(RuntimeError):
    """A stack operation did not complete; the message says why and what to do."""


class PulumiCliMissing(AutomationError):
    pass


class StackLocked(AutomationError):
    pass


class PluginMissing(AutomationError):
    """A provider plugin the program needs is not installed (and was not, or could not be, fetched)."""


class OperationFailed(AutomationError):
    def __init__(self, message: str, stderr: str = "") -> None:
        super().__init__(message)
        self.stderr = stderr


class StackLike(Protocol):
    """The part of `pulumi.automation.Stack` used here (a seam for tests)."""

    def get_all_config(self) -> auto.ConfigMap: ...
    def set_all_config(self, config: auto.ConfigMap, *, path: bool = False) -> None: ...
    def remove_all_config(self, keys: list[str], *, path: bool = False) -> None: ...
    def up(self, *, on_output: OutputSink | None = None) -> auto.UpResult: ...
    def preview(self, *, on_output: OutputSink | None = None) -> auto.PreviewResult: ...
    def destroy(self, *, on_output: OutputSink | None = None) -> auto.DestroyResult: ...
    def outputs(self) -> auto.OutputMap: ...


StackFactory = Callable[[str], StackLike]


def local_stack(stack: str, work_dir: Path = REPO_ROOT) -> auto.Stack:
    """The real stack: the inline program in a workspace that reads this repo's stack files."""
    return auto.create_or_select_stack(
        stack_name=stack,
        project_name=PROJECT,
        program=_inline_program,
        opts=auto.LocalWorkspaceOptions(work_dir=str(work_dir)),
    )


def _inline_program() -> None:
    """`__main__.py`'s program as the Automation API runs it (it wants nothing back)."""
    program()


def _local_in(root: Path) -> StackFactory:
    return lambda stack: local_stack(stack, root)


@dataclass(frozen=True)
class DeployResult:
    outputs: dict[str, Any]  # secret outputs stay wrapped in OutputValue
    changes: dict[str, int]


def config_values(overrides: Mapping[str, object]) -> dict[str, auto.ConfigValue]:
    """Overrides as the CLI stores them: scalars as text, lists and maps as JSON, secrets marked."""
    values = {}
    for key, value in overrides.items():
        full = key if ":" in key else f"{PROJECT}:{key}"
        if isinstance(value, SecretText):
            values[full] = auto.ConfigValue(value=value.value, secret=True)
        elif isinstance(value, bool):
            values[full] = auto.ConfigValue(value="true" if value else "false")
        elif isinstance(value, dict | list):
            values[full] = auto.ConfigValue(value=json.dumps(value))
        else:
            values[full] = auto.ConfigValue(value=str(value))
    return values


def _validated(stack: str, overrides: Mapping[str, object] | None, root: Path) -> None:
    """ConfigError before the CLI is touched, for the operations that run the program: the stack
    file in `root`, the workspace the CLI reads."""
    if overrides and any(v is None for v in overrides.values()):
        raise AutomationError("removing a key (None) is not supported here; use `pulumi config rm`")
    load_stack_settings(stack, overrides, root)


def _open(stack: str, factory: StackFactory) -> StackLike:
    try:
        handle = factory(stack)
    except FileNotFoundError as error:
        raise PulumiCliMissing(
            "the Pulumi CLI is not installed or not on PATH; install it "
            "(https://www.pulumi.com/docs/install/) or use `make plan` to see the plan offline"
        ) from error
    except auto.CommandError as error:
        raise _translate(stack, "open", error) from error
    return handle


def _with_overrides_for(handle: StackLike, overrides: Mapping[str, object], call: Callable[[], Any]) -> Any:
    """Run `call` with the overrides in the stack's config, then put back what was there before."""
    values = config_values(overrides)
    if not values:
        return call()
    before = handle.get_all_config()
    handle.set_all_config(values)
    try:
        return call()
    finally:
        added = [key for key in values if key not in before]
        if added:
            handle.remove_all_config(added)
        restored = {key: before[key] for key in values if key in before}
        if restored:
            handle.set_all_config(restored)


_MISSING_PLUGIN = re.compile(
    r"no resource plugin 'pulumi-resource-([\w-]+)' found in the workspace at version v(\S+)"
)


def _errors(output: str) -> str:
    """The CLI's diagnostic error lines (what went wrong), without its progress display."""
    lines = output.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("Diagnostics:")), None)
    body = lines[start + 1 :] if start is not None else lines
    errors = list(dict.fromkeys(line.strip() for line in body if line.strip().startswith("error:")))
    return "; ".join(errors) if errors else output.strip()


def _translate(stack: str, operation: str, error: auto.CommandError) -> AutomationError:
    stderr = getattr(error, "stderr", "") or str(error)
    missing = _MISSING_PLUGIN.search(str(error))
    if missing:
        name, version = missing.groups()
        return PluginMissing(
            f"{operation} of stack {stack!r} needs the Pulumi {name} provider plugin v{version}, which "
            f"is not installed: run `pulumi plugin install resource {name} {version}` and retry",
            str(error),
        )
    if isinstance(error, auto.ConcurrentUpdateError):
        return StackLocked(
            f"stack {stack!r} is locked by another update; wait for it to finish, or if it died, "
            f"run `pulumi cancel --stack {stack}` and retry the {operation}"
        )
    if isinstance(error, auto.StackNotFoundError):
        return OperationFailed(f"stack {stack!r} does not exist in the current Pulumi backend", stderr)
    return OperationFailed(f"{operation} of stack {stack!r} failed: {_errors(str(error))}", str(error))


def _run(stack: str, operation: str, call: Callable[[], Any]) -> Any:
    try:
        return call()
    except auto.CommandError as error:
        raise _translate(stack, operation, error) from error
    except FileNotFoundError as error:
        raise PulumiCliMissing("the Pulumi CLI disappeared from PATH during the operation") from error


def deploy(
    stack: str,
    config_overrides: Mapping[str, object] | None = None,
    *,
    on_output: OutputSink | None = None,
    root: Path = REPO_ROOT,
    factory: StackFactory | None = None,
) -> DeployResult:
    """`pulumi up` of the stack whose files are in `root` (its workspace), overrides saved first."""
    _validated(stack, config_overrides, root)
    handle = _open(stack, factory or _local_in(root))
    if config_overrides:
        handle.set_all_config(config_values(config_overrides))
    result: auto.UpResult = _run(stack, "deploy", lambda: handle.up(on_output=on_output))
    return DeployResult(outputs=_plain(result.outputs), changes=_counts(result.summary.resource_changes))


def preview(
    stack: str,
    config_overrides: Mapping[str, object] | None = None,
    *,
    on_output: OutputSink | None = None,
    root: Path = REPO_ROOT,
    factory: StackFactory | None = None,
) -> dict[str, int]:
    """The change summary (operation -> count) that `pulumi preview` reports; the stack's config
    is the same afterwards as before."""
    _validated(stack, config_overrides, root)
    handle = _open(stack, factory or _local_in(root))
    result: auto.PreviewResult = _with_overrides_for(
        handle,
        config_overrides or {},
        lambda: _run(stack, "preview", lambda: handle.preview(on_output=on_output)),
    )
    return _counts(result.change_summary)


def destroy(
    stack: str,
    *,
    on_output: OutputSink | None = None,
    root: Path = REPO_ROOT,
    factory: StackFactory | None = None,
) -> dict[str, int]:
    handle = _open(stack, factory or _local_in(root))
    result: auto.DestroyResult = _run(stack, "destroy", lambda: handle.destroy(on_output=on_output))
    return _counts(result.summary.resource_changes)


def outputs(stack: str, *, root: Path = REPO_ROOT, factory: StackFactory | None = None) -> dict[str, Any]:
    handle = _open(stack, factory or _local_in(root))
    return _plain(_run(stack, "outputs", handle.outputs))


def _plain(values: auto.OutputMap) -> dict[str, Any]:
    """Plain values, except secrets, which stay OutputValue (their repr hides the value)."""
    return {key: (value if value.secret else value.value) for key, value in values.items()}


def _counts(summary: Mapping[Any, int] | None) -> dict[str, int]:
    """Operation -> count with plain text keys ("create", "same"): the Automation API types its
    keys as an OpType enumeration, which would print as `OpType.CREATE` in a user's report."""
    return {str(getattr(op, "value", op)): count for op, count in (summary or {}).items()}
