"""A `trinoVersion` or `environment` change on a deployed cluster stops `pulumi up` (and preview)
before any resource is touched: Trino gives no work to a node of another version, and discovery
refuses a node of another environment, so neither can roll through one cluster
(components/nodes/incompatible_change.py). A first deploy, and config changes that keep both, run as
before."""

from __future__ import annotations

import json

import pulumi
import pytest
from pulumi.runtime.mocks import MockCallArgs

from components.nodes.incompatible_change import Deployed, read_deployed
from components.program import program
from components.settings.model import ConfigError
from tools.plan.mocks import RecordingMocks, install_mocks, run_program

PARAMETER = "/presto-on-aws/trino-prod/node-settings"  # Pulumi.prod.yaml's cluster
GET_PARAMETERS_BY_PATH = "aws:ssm/getParametersByPath:getParametersByPath"


def deployed_at(version: object, environment: object = "prod") -> dict[str, str]:
    """The node settings parameter as a `pulumi up` of Pulumi.prod.yaml at `version` left it."""
    return {
        PARAMETER: json.dumps({"trino_version": version, "environment": environment, "cluster": "trino-prod"})
    }


def test_a_version_change_on_a_deployed_cluster_is_refused_as_a_config_problem() -> None:
    with pytest.raises(ConfigError) as caught:
        run_program("prod", deployed=deployed_at(475))
    (problem,) = caught.value.problems
    assert problem.startswith("trinoVersion: 476, but the running nodes have 475 (cluster trino-prod, ")


def test_the_refused_run_declares_no_resource() -> None:
    monitor = install_mocks("prod", RecordingMocks("eu-west-1", deployed=deployed_at(475)))
    with pytest.raises(ConfigError):
        pulumi.runtime.test(program)()
    assert monitor.recorded == []


def test_the_deployed_version_is_read_from_the_clusters_path_before_any_resource() -> None:
    plan = run_program("prod")
    (read,) = [c for c in plan.calls if c.token == GET_PARAMETERS_BY_PATH]
    assert read.args["path"] == "/presto-on-aws/trino-prod"
    assert read.args["withDecryption"] is False
    # The default provider: the same aws: stack keys as the explicit one, and no wait on a
    # provider resource (components/nodes/incompatible_change.py says why).
    assert read.provider == ""


def test_the_refusal_names_both_versions_the_parameter_and_what_works_instead() -> None:
    with pytest.raises(ConfigError) as caught:
        run_program("prod", deployed=deployed_at(483))
    (problem,) = caught.value.problems
    assert "trinoVersion: 476, but the running nodes have 483" in problem
    assert PARAMETER in problem
    assert "Nothing was changed" in problem
    assert "Set trinoVersion back to 483" in problem
    assert "second stack" in problem and "`pulumi destroy`, then `pulumi up`" in problem


def test_an_environment_change_on_a_deployed_cluster_is_refused_naming_the_key() -> None:
    with pytest.raises(ConfigError) as caught:
        run_program("prod", deployed=deployed_at(476, "production"))
    (problem,) = caught.value.problems
    assert problem.startswith("environment: prod, but the running nodes have production")
    assert "Set environment back to production" in problem


def test_a_version_and_an_environment_change_are_named_in_one_problem() -> None:
    with pytest.raises(ConfigError) as caught:
        run_program("prod", deployed=deployed_at(475, "production"))
    (problem,) = caught.value.problems
    assert "trinoVersion: 476, but the running nodes have 475; environment: prod" in problem
    assert "Set trinoVersion back to 475 and environment back to production" in problem


def test_a_preview_refuses_the_version_change_too() -> None:
    with pytest.raises(ConfigError):
        run_program("prod", preview=True, deployed=deployed_at(475))


def test_a_first_deploy_without_node_settings_runs() -> None:
    plan = run_program("prod", deployed={})
    assert plan.named("trino-prod-node-settings", "aws:ssm/parameter:Parameter")


def test_the_same_version_deployed_runs_config_changes_in_place() -> None:
    plan = run_program("prod", {"workerMaxSize": 40}, deployed=deployed_at(476))
    assert plan.named("trino-prod-node-settings", "aws:ssm/parameter:Parameter")


def test_another_clusters_parameter_under_a_longer_name_is_not_this_clusters_version() -> None:
    other = {"/presto-on-aws/trino-prod-old/node-settings": json.dumps({"trino_version": 475})}
    plan = run_program("prod", deployed=other)
    assert plan.named("trino-prod-node-settings", "aws:ssm/parameter:Parameter")


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("{not json", "not JSON"),
        (json.dumps({"cluster": "trino-prod"}), "no integer 'trino_version'"),
        (json.dumps({"trino_version": "475"}), "no integer 'trino_version'"),
        (json.dumps({"trino_version": True}), "no integer 'trino_version'"),
        (json.dumps([475]), "not a JSON object"),
        (json.dumps({"trino_version": 476}), "no text 'environment'"),
    ],
)
def test_a_garbled_node_settings_parameter_is_reported_not_read_as_a_version(value: str, reason: str) -> None:
    deployed = read_deployed([PARAMETER], [value], "trino-prod")
    assert deployed.version is None
    assert deployed.unreadable is not None and deployed.unreadable.startswith(reason)


def test_a_garbled_node_settings_parameter_does_not_block_the_run_that_rewrites_it() -> None:
    plan = run_program("prod", deployed={PARAMETER: "{not json"})
    assert plan.named("trino-prod-node-settings", "aws:ssm/parameter:Parameter")


def test_no_parameter_under_the_path_means_not_deployed() -> None:
    assert read_deployed(None, None, "trino-prod") == Deployed(PARAMETER)


class ThrottledSsmMocks(RecordingMocks):
    """A fake: SSM refuses the read (throttled), which the mocks cannot otherwise produce."""

    def call(self, args: MockCallArgs) -> tuple[dict, list]:
        if args.token == GET_PARAMETERS_BY_PATH:
            raise Exception("ThrottlingException: Rate exceeded")
        return super().call(args)


def test_a_failed_read_of_the_deployed_version_stops_the_run_before_any_resource() -> None:
    monitor = install_mocks("prod", ThrottledSsmMocks("eu-west-1"))
    with pytest.raises(Exception, match="Rate exceeded"):
        pulumi.runtime.test(program)()
    assert monitor.recorded == []
