"""Point the CloudWatch agent at this cluster's log groups, then (re)start it.

The AMI carries the agent and a cluster-neutral file list (image/files/cloudwatch-agent.json,
installed at TEMPLATE_PATH) whose entries name their group as a placeholder `LOG_GROUP_<LogFile
name>`. The program creates one group per LogFile kind and writes their names into
NodeSettings.log_groups, keyed by the same member names. `render_agent_config` joins the two;
`apply_agent_config` writes the result where the agent looks for it and hands it to the agent's
own control script, which translates and restarts it.

The agent's own placeholders (`{instance_id}` in a stream name) are left for the agent, which fills
them in from the instance metadata itself. Retention is not the agent's business: the program sets
it on each group, and the node's role has no logs:PutRetentionPolicy, so a template entry asking
for retention is refused rather than left to fail on every node.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from node_agent.contract import LogFile
from node_agent.durable import replace_file

TEMPLATE_PATH = Path("/opt/presto-on-aws/share/cloudwatch-agent.json")
AGENT_CONFIG_PATH = Path("/opt/aws/amazon-cloudwatch-agent/etc/amazon-cloudwatch-agent.json")
# The full path: the bootstrap unit's PATH need not include the agent's bin directory.
AGENT_CTL = Path("/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl")
CTL_TIMEOUT_SECONDS = 120.0

PLACEHOLDER_PREFIX = "LOG_GROUP_"
_PLACEHOLDER = re.compile(r"LOG_GROUP_[A-Za-z0-9_]*")
_COLLECT_LIST = "logs.logs_collected.files.collect_list"
_GROUP_NAME_PATH = re.compile(r"logs\.logs_collected\.files\.collect_list\[\d+\]\.log_group_name")

Runner = Callable[[Sequence[str]], subprocess.CompletedProcess[str]]


class LogShippingError(Exception):
    """The agent's configuration cannot be made or applied; the message says which input is wrong."""


class AgentNotInstalled(LogShippingError):
    """The CloudWatch agent's control script is absent: this machine is not a presto-on-aws AMI."""


@dataclass(frozen=True)
class AgentConfig:
    """The agent's configuration for this cluster, and what it ships where."""

    text: str  # the JSON the agent reads
    shipped: dict[str, str]  # LogFile name -> log group, for entries kept
    dropped: tuple[str, ...]  # LogFile names whose entries were removed: no group in the settings

    def summary(self) -> str:
        kept = ", ".join(f"{kind} -> {group}" for kind, group in sorted(self.shipped.items())) or "nothing"
        if not self.dropped:
            return f"shipping {kept}"
        return f"shipping {kept}; not shipping {', '.join(self.dropped)} (no log group in the node settings)"


def render_agent_config(template_text: str, log_groups: Mapping[str, str]) -> AgentConfig:
    """Replace each entry's `LOG_GROUP_<kind>` with log_groups[kind]; drop entries without a group.

    A kind with no group (settings written before that group existed, or a stack without it) costs
    only its own file: the other entries still ship. A template that is not JSON, has no
    collect_list, names a placeholder that is no LogFile member, or asks the agent to manage a
    group is a broken image and fails here, naming the offending value.
    """
    try:
        document = json.loads(template_text)
    except json.JSONDecodeError as exc:
        raise LogShippingError(f"the CloudWatch agent template is not valid JSON: {exc}") from exc
    entries = _collect_list(document)
    stray = [hit for hit in _placeholders(document, "") if not _GROUP_NAME_PATH.fullmatch(hit[0])]
    if stray:
        raise LogShippingError(
            "placeholders outside a collect_list entry's log_group_name: "
            + ", ".join(f"{path} = {value!r}" for path, value in stray)
        )
    kinds = {member.name for member in LogFile}
    shipped: dict[str, str] = {}
    dropped: list[str] = []
    kept: list[dict[str, Any]] = []
    for index, entry in enumerate(entries):
        where = f"{_COLLECT_LIST}[{index}]"
        if not isinstance(entry, dict):
            raise LogShippingError(f"{where} is {type(entry).__name__}, not an object")
        if "retention_in_days" in entry:
            raise LogShippingError(
                f"{where} sets retention_in_days: the program sets each group's retention, and the"
                " node's role may not (logs:PutRetentionPolicy)"
            )
        placeholder = entry.get("log_group_name")
        if not isinstance(placeholder, str) or not placeholder.startswith(PLACEHOLDER_PREFIX):
            raise LogShippingError(
                f"{where}.log_group_name is {placeholder!r}, expected a placeholder"
                f" {PLACEHOLDER_PREFIX}<kind> (kinds: {', '.join(sorted(kinds))})"
            )
        kind = placeholder.removeprefix(PLACEHOLDER_PREFIX)
        if kind not in kinds:
            raise LogShippingError(
                f"{where}.log_group_name is the unknown placeholder {placeholder!r}"
                f" (known: {', '.join(PLACEHOLDER_PREFIX + k for k in sorted(kinds))})"
            )
        group = log_groups.get(kind)
        if group is not None and not isinstance(group, str):
            raise LogShippingError(f"log_groups[{kind!r}] is {group!r}, expected a log group name")
        if not group:
            dropped.append(kind)
            continue
        kept.append({**entry, "log_group_name": group})
        shipped[kind] = group
    document["logs"]["logs_collected"]["files"]["collect_list"] = kept
    return AgentConfig(
        text=json.dumps(document, indent=2, sort_keys=True) + "\n",
        shipped=shipped,
        dropped=tuple(dropped),
    )


def fetch_config_command(config_path: Path, ctl: Path = AGENT_CTL) -> list[str]:
    """The documented way to load a local file into the agent: translate it, then (re)start (-s)."""
    return [str(ctl), "-a", "fetch-config", "-m", "ec2", "-s", "-c", f"file:{config_path}"]


def run_command(
    command: Sequence[str], timeout: float = CTL_TIMEOUT_SECONDS
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(command), capture_output=True, text=True, check=False, timeout=timeout)


def apply_agent_config(
    config: AgentConfig,
    *,
    config_path: Path = AGENT_CONFIG_PATH,
    ctl: Path = AGENT_CTL,
    runner: Runner = run_command,
) -> list[str]:
    """Write the configuration atomically, then have the agent load it; return the command run.

    The file is replaced with one rename, so the agent never reads half of it. A missing control
    script raises AgentNotInstalled before anything is written; one that fails raises with its
    stderr, which is where it says what it disliked about the configuration.
    """
    _require_agent(ctl)
    try:
        write_atomically(config.text, config_path)
    except OSError as exc:
        raise LogShippingError(
            f"cannot write the CloudWatch agent configuration {config_path}: {exc}"
        ) from exc
    command = fetch_config_command(config_path, ctl)
    try:
        result = runner(command)
    except subprocess.TimeoutExpired as exc:
        raise LogShippingError(f"{' '.join(command)} did not finish within {exc.timeout:.0f}s") from exc
    except OSError as exc:
        raise LogShippingError(f"cannot run {ctl}: {exc}") from exc
    if result.returncode != 0:
        detail = (result.stderr or result.stdout or "").strip() or "no output"
        raise LogShippingError(f"{' '.join(command)} exited with {result.returncode}: {detail}")
    return command


def ship_logs(
    log_groups: Mapping[str, str],
    *,
    template_path: Path = TEMPLATE_PATH,
    config_path: Path = AGENT_CONFIG_PATH,
    ctl: Path = AGENT_CTL,
    runner: Runner = run_command,
) -> AgentConfig:
    """Render the image's template for these groups and start the agent on it (the bootstrap's step).

    The agent is looked for first, so a machine that is not an AMI (a test host, the rehearsal)
    gets AgentNotInstalled rather than a complaint about the template it also lacks. With no group
    at all there is nothing to ship, and the agent is left alone rather than started on an empty
    file list.
    """
    _require_agent(ctl)
    try:
        template_text = template_path.read_text()
    except OSError as exc:
        raise LogShippingError(
            f"cannot read the CloudWatch agent template {template_path}: {exc.strerror}"
        ) from exc
    config = render_agent_config(template_text, log_groups)
    if config.shipped:
        apply_agent_config(config, config_path=config_path, ctl=ctl, runner=runner)
    return config


def write_atomically(text: str, path: Path) -> None:
    """Replace `path` with `text` in one rename(2), durable before it is visible."""
    replace_file(path, text.encode(), 0o644)  # no secrets: group names and file paths only


def _require_agent(ctl: Path) -> None:
    if not ctl.exists():
        raise AgentNotInstalled(
            f"{ctl} does not exist: the CloudWatch agent is not installed (not a presto-on-aws AMI?),"
            " so no log is shipped"
        )


def _collect_list(document: Any) -> list[Any]:
    try:
        entries = document["logs"]["logs_collected"]["files"]["collect_list"]
    except (KeyError, TypeError) as exc:
        raise LogShippingError(f"the CloudWatch agent template has no {_COLLECT_LIST}") from exc
    if not isinstance(entries, list):
        raise LogShippingError(f"{_COLLECT_LIST} in the template is not a list")
    return entries


def _placeholders(value: Any, path: str) -> list[tuple[str, str]]:
    """(JSON path, string) for every string in the template that holds a placeholder."""
    if isinstance(value, dict):
        return [hit for key, item in value.items() for hit in _placeholders(item, f"{path}.{key}")]
    if isinstance(value, list):
        return [hit for i, item in enumerate(value) for hit in _placeholders(item, f"{path}[{i}]")]
    if isinstance(value, str) and _PLACEHOLDER.search(value):
        return [(path.lstrip("."), value)]
    return []
