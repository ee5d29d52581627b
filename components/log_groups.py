"""CloudWatch log groups for the nodes' files and the functions, each with its own retention.

Nodes of both roles ship a file kind to the same group (one stream per instance, named after
it), so the node settings can name one group per file kind. Lambda's default group would keep
logs forever; the functions are pointed at groups created here instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.base import TYPE_PREFIX, child
from node_agent.contract import LogFile

# LogFile member -> (retention kind in the stack config, group name suffix)
NODE_LOGS = {
    LogFile.SERVER: ("server", "server"),
    LogFile.HTTP_REQUEST: ("httpRequest", "http-request"),
    LogFile.AGENT: ("agent", "agent"),
    LogFile.SYSLOG: ("syslog", "syslog"),
}
FUNCTIONS = ("failover", "worker-health", "scale-in")


def log_group_prefix(cluster: str) -> str:
    return f"/presto-on-aws/{cluster}"


@dataclass(frozen=True)
class ClusterLoggingArgs:
    """The groups' names follow the cluster; their retention is all the stack config decides."""

    cluster: str
    tags: Mapping[str, str]
    retention_days: Mapping[str, int]  # by kind: server, httpRequest, agent, syslog, functions


class ClusterLogging(pulumi.ComponentResource):
    """Names are fixed (not auto-named): the agent's CloudWatch configuration and the dashboards
    refer to them by name. Consumers take the `name` outputs, so they wait for the groups."""

    node_groups: dict[str, pulumi.Output[str]]  # LogFile name -> group name (NodeSettings.log_groups)
    function_groups: dict[str, pulumi.Output[str]]  # function -> group name

    def __init__(
        self, name: str, args: ClusterLoggingArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE_PREFIX + "ClusterLogging", name, None, opts)
        prefix = log_group_prefix(args.cluster)
        self.node_groups = {}
        for log_file, (kind, suffix) in NODE_LOGS.items():
            group = aws.cloudwatch.LogGroup(
                f"{name}-{suffix}",
                name=f"{prefix}/{suffix}",
                retention_in_days=args.retention_days[kind],
                tags={**args.tags, "Name": f"{prefix}/{suffix}"},
                opts=child(self),
            )
            self.node_groups[log_file.name] = group.name
        self.function_groups = {}
        for function in FUNCTIONS:
            group = aws.cloudwatch.LogGroup(
                f"{name}-{function}",
                name=f"{prefix}/functions/{function}",
                retention_in_days=args.retention_days["functions"],
                tags={**args.tags, "Name": f"{prefix}/functions/{function}"},
                opts=child(self),
            )
            self.function_groups[function] = group.name
        self.register_outputs({"nodeLogGroups": self.node_groups, "functionLogGroups": self.function_groups})
