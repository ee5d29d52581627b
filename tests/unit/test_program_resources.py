"""Each resource and property a feature depends on, asserted on the graph the program declares."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest

from components.log_groups import NODE_LOGS
from node_agent.contract import (
    AGENT_METRICS_PORT,
    BOOTSTRAP_UNIT,
    CLOUDWATCH_NAMESPACE,
    DIMENSION_CLUSTER,
    FUNCTION_HANDLER,
    NODE_ENV_FILE,
    NODE_ENV_REGION,
    NODE_ENV_ROLE,
    NODE_ENV_SETTINGS_PARAMETER,
    TAG_CLUSTER,
    TAG_HEALTH_MISSES,
    TRINO_HTTP_PORT,
    TRINO_HTTPS_PORT,
    FunctionEnv,
    Metric,
    NodeSettings,
)
from tools.plan.mocks import Plan, Recorded, reveal

PlanFor = Callable[[str], Plan]
GROUP = "aws:autoscaling/group:Group"
TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
FUNCTION = "aws:lambda/function:Function"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
POLICY = "aws:iam/rolePolicy:RolePolicy"


def group(plan: Plan, role: str) -> Recorded:
    return plan.named(f"{plan.settings.name}-{role}s", GROUP)


def template(plan: Plan, role: str) -> Recorded:
    return plan.named(f"{plan.settings.name}-{role}s-template", TEMPLATE)


def function(plan: Plan, label: str) -> Recorded:
    return plan.named(f"{plan.settings.name}-{label}", FUNCTION)


def policy(plan: Plan, job: str) -> dict[str, Any]:
    return json.loads(reveal(plan.named(f"{plan.settings.name}-identity-{job}", POLICY).inputs["policy"]))


def statement(plan: Plan, job: str, sid: str) -> dict[str, Any]:
    matches = [s for s in policy(plan, job)["Statement"] if s["Sid"] == sid]
    assert len(matches) == 1, f"{job}: {sid}"
    return matches[0]


def sids(plan: Plan, job: str) -> set[str]:
    return {s["Sid"] for s in policy(plan, job)["Statement"]}


def written_settings(plan: Plan) -> NodeSettings:
    parameter = plan.of_type("aws:ssm/parameter:Parameter")[0]
    return NodeSettings.from_json(reveal(parameter.inputs["value"]))


def user_data(plan: Plan, role: str) -> str:
    return base64.b64decode(template(plan, role).inputs["userData"]).decode()


def ingress_ports(plan: Plan, source: str) -> set[int]:
    return {int(r.inputs["fromPort"]) for r in plan.of_type(INGRESS) if f"-in-{source}" in r.name}


# --- network ---------------------------------------------------------------------------------


def test_clients_reach_only_https_when_tls_is_on(plan_for: PlanFor) -> None:
    assert ingress_ports(plan_for("prod"), "clients") == {TRINO_HTTPS_PORT}


def test_clients_reach_http_when_tls_is_off(plan_for: PlanFor) -> None:
    assert ingress_ports(plan_for("dev"), "clients") == {TRINO_HTTP_PORT}


def test_each_client_cidr_and_group_gets_its_own_rule(plan_for: PlanFor) -> None:
    rules = [r for r in plan_for("prod").of_type(INGRESS) if "-in-clients" in r.name]
    sources = {r.inputs.get("cidrIpv4") or r.inputs.get("referencedSecurityGroupId") for r in rules}
    assert sources == {"10.0.0.0/12", "sg-0a0b0c0d0e0f10111"}


def test_members_and_functions_reach_the_internal_http_port(plan_for: PlanFor) -> None:
    plan = plan_for("prod")
    assert ingress_ports(plan, "members") == {TRINO_HTTP_PORT}
    assert ingress_ports(plan_for("dev"), "functions") == {TRINO_HTTP_PORT}
    members = next(r for r in plan.of_type(INGRESS) if "-in-members" in r.name)
    assert members.inputs["referencedSecurityGroupId"] == f"{plan.settings.name}-network-nodes-id"


def test_with_passwords_the_health_function_also_reaches_https(plan_for: PlanFor) -> None:
    assert ingress_ports(plan_for("prod"), "functions") == {TRINO_HTTP_PORT, TRINO_HTTPS_PORT}


def test_prometheus_scrapes_the_agent_port_from_configured_sources_only(plan_for: PlanFor) -> None:
    assert ingress_ports(plan_for("prod"), "metrics") == {AGENT_METRICS_PORT}
    assert ingress_ports(plan_for("dev"), "metrics") == set()


def test_functions_egress_is_limited_to_aws_apis_and_trino(plan_for: PlanFor) -> None:
    plan = plan_for("prod")
    egress = [
        r
        for r in plan.of_type("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")
        if "functions" in r.name
    ]
    assert {(r.inputs["ipProtocol"], int(r.inputs["fromPort"])) for r in egress} == {
        ("tcp", 443),
        ("tcp", TRINO_HTTP_PORT),
        ("tcp", TRINO_HTTPS_PORT),
    }


def test_coordinator_address_is_a_fixed_ip_eni_in_the_coordinator_subnet(plan_for: PlanFor) -> None:
    plan = plan_for("prod")
    eni = plan.of_type("aws:ec2/networkInterface:NetworkInterface")[0]
    assert eni.inputs["subnetId"] == plan.settings.network.coordinator_subnet_id
    assert eni.inputs["privateIps"] == ["10.40.1.10"]
    assert eni.inputs["tags"][TAG_CLUSTER] == "trino-prod"
    assert plan.outputs["coordinatorAddress"] == "10.40.1.10"


def test_coordinator_url_uses_the_client_scheme_and_port(plan_for: PlanFor) -> None:
    assert plan_for("prod").outputs["coordinatorUrl"] == "https://10.40.1.10:8443"
    assert plan_for("dev").outputs["coordinatorUrl"].startswith("http://")
    assert plan_for("dev").outputs["coordinatorUrl"].endswith(":8080")


# --- coordinators ----------------------------------------------------------------------------


@pytest.mark.parametrize(("config", "count"), [("dev", 1), ("prod", 2)])
def test_coordinator_group_holds_exactly_the_configured_count(
    plan_for: PlanFor, config: str, count: int
) -> None:
    g = group(plan_for(config), "coordinator").inputs
    assert (g["minSize"], g["maxSize"], g["desiredCapacity"]) == (count, count, count)


def test_coordinators_live_in_the_address_subnet(plan_for: PlanFor) -> None:
    plan = plan_for("prod")
    assert group(plan, "coordinator").inputs["vpcZoneIdentifiers"] == [
        plan.settings.network.coordinator_subnet_id
    ]


def test_coordinator_instances_use_the_configured_type(plan_for: PlanFor) -> None:
    assert template(plan_for("prod"), "coordinator").inputs["instanceType"] == "r6i.2xlarge"


def test_node_groups_wait_for_their_settings_and_secrets(plan_for: PlanFor) -> None:
    plan = plan_for("prod")
    parameter = plan.of_type("aws:ssm/parameter:Parameter")[0].urn
    versions = {v.urn for v in plan.of_type("aws:secretsmanager/secretVersion:SecretVersion")}
    for role in ("coordinator", "worker"):
        dependencies = set(group(plan, role).dependencies)
        assert parameter in dependencies, role
        assert versions <= dependencies, role


def test_failover_function_runs_every_minute_and_when_coordinators_come_or_go(plan_for: PlanFor) -> None:
    plan = plan_for("prod")
    rules = {r.name: r.inputs for r in plan.of_type("aws:cloudwatch/eventRule:EventRule")}
    assert rules["trino-prod-coordinators-failover-schedule"]["scheduleExpression"] == "rate(1 minute)"
    group_events = json.loads(rules["trino-prod-coordinators-failover-group-change"]["eventPattern"])
    assert group_events["source"] == ["aws.autoscaling"]
    assert group_events["detail"] == {"AutoScalingGroupName": ["trino-prod-coordinators"]}
    assert "EC2 Instance Launch Successful" in group_events["detail-type"]


def test_every_trigger_may_invoke_its_function(plan_for: PlanFor) -> None:
    plan = plan_for("prod")
    permissions = {p.name: p.inputs for p in plan.of_type("aws:lambda/permission:Permission")}
    targets = {t.name: t for t in plan.of_type("aws:cloudwatch/eventTarget:EventTarget")}
    rules = plan.of_type("aws:cloudwatch/eventRule:EventRule")
    assert len(rules) == 4
    for rule in rules:
        assert permissions[rule.name]["principal"] == "events.amazonaws.com"
        assert permissions[rule.name]["sourceArn"].endswith(rule.name)
        assert permissions[rule.name]["action"] == "lambda:InvokeFunction"
        target_dependencies = targets[rule.name].dependencies
        assert plan.named(rule.name, "aws:lambda/permission:Permission").urn in target_dependencies


@pytest.mark.parametrize(
    ("label", "concurrency"), [("coordinators-failover", 2), ("workers-health", 1), ("workers-scale-in", 2)]
)
def test_functions_run_in_the_vpc_with_small_reserved_concurrency_on_a_current_python(
    plan_for: PlanFor, label: str, concurrency: int
) -> None:
    plan = plan_for("prod")
    f = function(plan, label).inputs
    assert f["handler"] == FUNCTION_HANDLER
    assert f["runtime"] in ("python3.12", "python3.13")
    assert f["reservedConcurrentExecutions"] == concurrency
    assert f["vpcConfig"]["subnetIds"] == list(plan.settings.network.worker_subnet_ids)
    assert f["vpcConfig"]["securityGroupIds"] == ["trino-prod-network-functions-id"]


def test_failover_environment_names_the_address_group_and_probe_policy(plan_for: PlanFor) -> None:
    env = function(plan_for("prod"), "coordinators-failover").inputs["environment"]["variables"]
    assert env[FunctionEnv.CLUSTER] == "trino-prod"
    assert env[FunctionEnv.COORDINATOR_ENI_ID] == "trino-prod-network-coordinator-address-id"
    assert env[FunctionEnv.COORDINATOR_ASG_NAME] == "trino-prod-coordinators"
    assert (env[FunctionEnv.TRINO_SCHEME], env[FunctionEnv.TRINO_PORT]) == ("https", "8443")
    assert env[FunctionEnv.FAILED_PROBES] == "3"
    assert int(env[FunctionEnv.PROBE_WINDOW_SECONDS]) < 60


def test_failover_invocation_outlives_its_probe_window(plan_for: PlanFor) -> None:
    f = function(plan_for("prod"), "coordinators-failover").inputs
    assert f["timeout"] > int(f["environment"]["variables"][FunctionEnv.PROBE_WINDOW_SECONDS])


def test_no_region_wide_ec2_rule_invokes_the_failover_function(plan_for: PlanFor) -> None:
    """An EC2 state-change rule cannot be filtered to the cluster: it fired for every instance in
    the region and queued those events for the function's few concurrency slots."""
    rules = plan_for("prod").of_type("aws:cloudwatch/eventRule:EventRule")
    for rule in rules:
        pattern = json.loads(rule.inputs.get("eventPattern") or "{}")
        assert pattern.get("source") != ["aws.ec2"], rule.name


def test_a_failover_run_that_follows_a_failure_streak_past_its_window_ends_within_its_minute_and_timeout(
    plan_for: PlanFor,
) -> None:
    f = function(plan_for("prod"), "coordinators-failover").inputs
    env = f["environment"]["variables"]
    longest = int(env[FunctionEnv.PROBE_WINDOW_SECONDS]) + int(env[FunctionEnv.UNRESPONSIVE_SECONDS])
    assert int(env[FunctionEnv.PROBE_WINDOW_SECONDS]) <= 45  # a margin before the next minute's run
    assert longest + 25 <= f["timeout"]  # 25 s: the last round's move (failover_watch.SAFETY_MARGIN)


def test_function_code_is_packaged_with_the_shared_modules(plan_for: PlanFor) -> None:
    code = function(plan_for("dev"), "coordinators-failover").inputs["code"]
    names = set(code.assets)
    assert {
        "handler.py",
        "functions/failover/handler.py",
        "node_agent/__init__.py",
        "node_agent/contract.py",
        "node_agent/trino/admin.py",
    } <= names


def test_functions_log_to_their_own_group_with_retention(plan_for: PlanFor) -> None:
    plan = plan_for("prod")
    f = function(plan, "coordinators-failover").inputs
    assert f["loggingConfig"]["logGroup"] == "/presto-on-aws/trino-prod/functions/failover"


def test_functions_are_not_retried_on_stale_events(plan_for: PlanFor) -> None:
    configs = plan_for("prod").of_type("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig")
    assert len(configs) == 3  # scale-in too, though Auto Scaling invokes it synchronously
    assert all(c.inputs["maximumRetryAttempts"] == 0 for c in configs)


# --- workers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("config", "heartbeat"), [("dev", 120), ("prod", 600)])
def test_worker_terminations_wait_on_the_drain_hook(plan_for: PlanFor, config: str, heartbeat: int) -> None:
    plan = plan_for(config)
    hooks = group(plan, "worker").inputs["initialLifecycleHooks"]
    assert hooks == [
        {
            "name": f"{plan.settings.name}-drain",
            "lifecycleTransition": "autoscaling:EC2_INSTANCE_TERMINATING",
            "heartbeatTimeout": heartbeat,
            "defaultResult": "CONTINUE",
        }
    ]
    assert written_settings(plan).lifecycle_hook_name == hooks[0]["name"]


def test_worker_group_size_comes_from_the_config(plan_for: PlanFor) -> None:
    g = group(plan_for("prod"), "worker").inputs
    assert (g["minSize"], g["maxSize"], g["desiredCapacity"]) == (4, 40, 6)
    assert g["vpcZoneIdentifiers"] == list(plan_for("prod").settings.network.worker_subnet_ids)


def test_pulumi_up_never_resets_the_scaled_worker_count(plan_for: PlanFor) -> None:
    assert group(plan_for("prod"), "worker").ignore_changes == ("desiredCapacity",)


def test_mixed_fleet_uses_spot_above_an_on_demand_base_with_rebalancing(plan_for: PlanFor) -> None:
    g = group(plan_for("prod"), "worker").inputs
    policy_ = g["mixedInstancesPolicy"]
    overrides = [o["instanceType"] for o in policy_["launchTemplate"]["overrides"]]
    assert overrides == ["r6i.4xlarge", "r5.4xlarge", "r6a.4xlarge"]
    distribution = policy_["instancesDistribution"]
    assert distribution["onDemandBaseCapacity"] == 4
    assert distribution["onDemandPercentageAboveBaseCapacity"] == 50
    assert distribution["spotAllocationStrategy"] == "price-capacity-optimized"
    assert g["capacityRebalance"] is True
    assert "launchTemplate" not in g


def test_all_spot_fleet(plan_for: PlanFor) -> None:
    distribution = group(plan_for("dev-glue-spot"), "worker").inputs["mixedInstancesPolicy"][
        "instancesDistribution"
    ]
    assert distribution["onDemandPercentageAboveBaseCapacity"] == 0


def test_single_type_on_demand_fleet_uses_the_template_directly(plan_for: PlanFor) -> None:
    g = group(plan_for("prod-plain"), "worker").inputs
    assert "mixedInstancesPolicy" not in g
    assert g["launchTemplate"]["id"] == "trino-prod-workers-template-id"
    assert g["capacityRebalance"] is False


def test_health_function_queries_over_https_with_the_management_password(plan_for: PlanFor) -> None:
    plan = plan_for("prod")
    env = function(plan, "workers-health").inputs["environment"]["variables"]
    assert (env[FunctionEnv.TRINO_SCHEME], env[FunctionEnv.TRINO_PORT]) == ("https", "8443")
    management = written_settings(plan).tls.management_password_secret_arn
    assert env[FunctionEnv.MANAGEMENT_PASSWORD_SECRET_ARN] == management
    assert statement(plan, "worker-health", "ReadClusterSecrets")["Resource"] == [management]


def test_failover_probes_over_https_with_the_management_password(plan_for: PlanFor) -> None:
    plan = plan_for("prod")
    env = function(plan, "coordinators-failover").inputs["environment"]["variables"]
    management = written_settings(plan).tls.management_password_secret_arn
    assert env[FunctionEnv.MANAGEMENT_PASSWORD_SECRET_ARN] == management
    # and the shared secret, which signs the switchover's worker hand-over (trino_discovery.py)
    shared = env[FunctionEnv.SHARED_SECRET_ARN]
    assert statement(plan, "failover", "ReadClusterSecrets")["Resource"] == sorted([management, shared])


def test_without_passwords_the_health_function_uses_plain_http(plan_for: PlanFor) -> None:
    env = function(plan_for("dev"), "workers-health").inputs["environment"]["variables"]
    assert (env[FunctionEnv.TRINO_SCHEME], env[FunctionEnv.TRINO_PORT]) == ("http", "8080")
    assert FunctionEnv.MANAGEMENT_PASSWORD_SECRET_ARN not in env


def test_worker_health_function_runs_on_a_schedule_with_its_limits(plan_for: PlanFor) -> None:
    plan = plan_for("prod")
    env = function(plan, "workers-health").inputs["environment"]["variables"]
    assert env[FunctionEnv.WORKER_ASG_NAME] == "trino-prod-workers"
    assert env[FunctionEnv.GRACE_PERIOD_SECONDS] == "600"
    assert env[FunctionEnv.MAX_UNHEALTHY_FRACTION] == "0.34"
    assert env[FunctionEnv.FAILED_PROBES] == "3"
    rule = plan.named("trino-prod-workers-health-schedule", "aws:cloudwatch/eventRule:EventRule")
    assert rule.inputs["scheduleExpression"] == "rate(1 minute)"


# --- boot: user data, node settings, AMI ---------------------------------------------------


@pytest.mark.parametrize("role", ["coordinator", "worker"])
def test_user_data_only_points_at_the_settings_and_starts_bootstrap(plan_for: PlanFor, role: str) -> None:
    script = user_data(plan_for("prod"), role)
    assert f"{NODE_ENV_SETTINGS_PARAMETER}=/presto-on-aws/trino-prod/node-settings" in script
    assert f"{NODE_ENV_ROLE}={role}" in script
    assert f"{NODE_ENV_REGION}=eu-west-1" in script
    assert f"cat > {NODE_ENV_FILE} <<'EOF'" in script
    assert script.rstrip().endswith(f"systemctl start --no-block {BOOTSTRAP_UNIT}")


def test_node_settings_parameter_names_the_coordinator_address_and_secrets(plan_for: PlanFor) -> None:
    plan = plan_for("prod")
    parameter = plan.of_type("aws:ssm/parameter:Parameter")[0].inputs
    assert parameter["name"] == "/presto-on-aws/trino-prod/node-settings"
    assert (parameter["type"], parameter["tier"]) == ("String", "Standard")
    written = written_settings(plan)
    assert written.coordinator_address == "10.40.1.10"
    assert written.shared_secret_arn.endswith("trino-prod-secrets-shared-secret-AbCdEf")
    assert written.log_groups == {
        log_file.name: f"/presto-on-aws/trino-prod/{suffix}" for log_file, (_, suffix) in NODE_LOGS.items()
    }
    assert written.tls.enabled and written.tls.management_password_secret_arn


def test_mixed_fleet_launch_template_defaults_to_the_first_instance_type(plan_for: PlanFor) -> None:
    assert template(plan_for("prod"), "worker").inputs["instanceType"] == "r6i.4xlarge"


def test_root_volume_follows_the_config(plan_for: PlanFor) -> None:
    ebs = template(plan_for("prod"), "worker").inputs["blockDeviceMappings"][0]
    assert ebs["deviceName"] == "/dev/xvda"
    assert (ebs["ebs"]["volumeType"], ebs["ebs"]["volumeSize"], ebs["ebs"]["iops"]) == ("gp3", 500, 6000)


def test_ami_is_found_by_the_trino_version_tag(plan_for: PlanFor) -> None:
    lookup = next(c for c in plan_for("prod").calls if c.token == "aws:ec2/getAmi:getAmi")
    assert {"name": "tag:trino-version", "values": ["476"]} in lookup.args["filters"]
    assert lookup.args["owners"] == ["self"]


# --- identity --------------------------------------------------------------------------------


def test_worker_may_hold_and_release_only_its_own_group(plan_for: PlanFor) -> None:
    s = statement(plan_for("prod"), "worker", "DrainBeforeTermination")
    assert s["Action"] == [
        "autoscaling:CompleteLifecycleAction",
        "autoscaling:RecordLifecycleActionHeartbeat",
    ]
    assert s["Resource"] == [
        "arn:aws:autoscaling:eu-west-1:123456789012:autoScalingGroup:*:autoScalingGroupName/trino-prod-workers"
    ]


def test_nodes_read_only_their_cluster_settings_parameter(plan_for: PlanFor) -> None:
    for job in ("coordinator", "worker"):
        s = statement(plan_for("prod"), job, "ReadNodeSettings")
        assert s["Resource"] == [
            "arn:aws:ssm:eu-west-1:123456789012:parameter/presto-on-aws/trino-prod/node-settings"
        ]


def test_coordinator_reads_every_secret_it_serves_with_and_workers_only_their_login(
    plan_for: PlanFor,
) -> None:
    plan = plan_for("prod")
    coordinator = statement(plan, "coordinator", "ReadClusterSecrets")["Resource"]
    assert len(coordinator) == 5  # shared, management, Elasticsearch, certificate, password file
    written = written_settings(plan)
    worker = statement(plan, "worker", "ReadClusterSecrets")["Resource"]
    assert worker == sorted([written.shared_secret_arn, written.tls.management_password_secret_arn])
    assert statement(plan_for("dev"), "worker", "ReadClusterSecrets")["Resource"] == [
        written_settings(plan_for("dev")).shared_secret_arn
    ]


def test_every_node_may_read_exactly_the_secrets_its_catalogs_refer_to(plan_for: PlanFor) -> None:
    from tools.plan.mocks import run_program

    sales = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:trino/sales-Ab12Cd"
    catalogs = {
        "tpch": {"connector.name": "tpch"},
        "sales": {
            "connector.name": "postgresql",
            "connection-url": "jdbc:postgresql://db/sales",
            "connection-user": f"secretsmanager:{sales}#user",
            "connection-password": f"secretsmanager:{sales}#password",
        },
    }
    plan = run_program("prod", {"catalogs": catalogs})
    for job in ("coordinator", "worker"):
        before = statement(plan_for("prod"), job, "ReadClusterSecrets")["Resource"]
        after = statement(plan, job, "ReadClusterSecrets")["Resource"]
        assert sorted(after) == sorted([*before, sales]), job


def test_worker_agent_may_find_its_own_group_and_hook(plan_for: PlanFor) -> None:
    s = statement(plan_for("prod"), "worker", "FindOwnDrainHook")
    assert s["Action"] == ["autoscaling:DescribeAutoScalingInstances", "autoscaling:DescribeLifecycleHooks"]


def test_glue_is_granted_only_with_the_glue_metastore(plan_for: PlanFor) -> None:
    assert "GlueMetastore" in sids(plan_for("prod"), "coordinator")
    assert "GlueMetastore" in sids(plan_for("dev-glue-spot"), "coordinator")
    assert "GlueMetastore" not in sids(plan_for("dev"), "coordinator")
    assert "GlueMetastore" not in sids(plan_for("prod"), "worker")


# What Trino's Glue metastore calls, read from its source (plugin/trino-hive .../metastore/glue:
# GlueHiveMetastore, the column-statistics provider, GlueMetastoreStats at 483 which wraps every
# call); Trino creates partitions only in batches and drops them one at a time.
TRINO_GLUE_CALLS = {
    *(f"glue:{verb}Database" for verb in ("Get", "Create", "Update", "Delete")),
    "glue:GetDatabases",
    *(f"glue:{verb}Table" for verb in ("Get", "Create", "Update", "Delete")),
    "glue:GetTables",
    *(
        f"glue:{verb}Partition"
        for verb in ("Get", "Update", "Delete", "BatchGet", "BatchCreate", "BatchUpdate")
    ),
    "glue:GetPartitions",
    *(f"glue:{v}ColumnStatisticsFor{o}" for v in ("Get", "Update", "Delete") for o in ("Table", "Partition")),
    *(f"glue:{verb}UserDefinedFunction" for verb in ("Get", "Create", "Update", "Delete")),
    "glue:GetUserDefinedFunctions",
}


def test_glue_grant_is_exactly_what_trinos_glue_metastore_calls(plan_for: PlanFor) -> None:
    s = statement(plan_for("dev-glue-spot"), "coordinator", "GlueMetastore")
    assert set(s["Action"]) == TRINO_GLUE_CALLS
    assert any(r.endswith(":userDefinedFunction/*/*") for r in s["Resource"])


def test_s3_access_is_limited_to_data_and_exchange_buckets(plan_for: PlanFor) -> None:
    s = statement(plan_for("prod"), "worker", "ListDataBuckets")
    assert s["Resource"] == [
        "arn:aws:s3:::acme-lake-prod",
        "arn:aws:s3:::acme-lake-prod-curated",
        "arn:aws:s3:::acme-trino-exchange-prod",
    ]


def test_metrics_may_be_published_only_to_the_cluster_namespace(plan_for: PlanFor) -> None:
    for job in ("coordinator", "worker", "failover", "worker-health"):
        s = statement(plan_for("prod"), job, "PublishClusterMetrics")
        assert s["Condition"] == {"StringEquals": {"cloudwatch:namespace": CLOUDWATCH_NAMESPACE}}


def test_failover_moves_only_this_clusters_address_between_its_own_instances(plan_for: PlanFor) -> None:
    s = statement(plan_for("prod"), "failover", "MoveCoordinatorAddress")
    assert s["Action"] == ["ec2:AttachNetworkInterface", "ec2:DetachNetworkInterface"]
    assert (
        "arn:aws:ec2:eu-west-1:123456789012:network-interface/trino-prod-network-coordinator-address-id"
        in s["Resource"]
    )
    assert s["Condition"] == {"StringEquals": {f"aws:ResourceTag/{TAG_CLUSTER}": "trino-prod"}}
    replace = statement(plan_for("prod"), "failover", "ReplaceFailedCoordinator")
    assert replace["Resource"][0].endswith("autoScalingGroupName/trino-prod-coordinators")


def test_worker_health_writes_only_its_miss_counter_tag(plan_for: PlanFor) -> None:
    s = statement(plan_for("prod"), "worker-health", "CountMissedChecks")
    assert s["Condition"]["ForAllValues:StringEquals"] == {"aws:TagKeys": [TAG_HEALTH_MISSES]}
    assert s["Condition"]["StringEquals"] == {f"aws:ResourceTag/{TAG_CLUSTER}": "trino-prod"}


def test_instances_use_session_manager_instead_of_open_ssh(plan_for: PlanFor) -> None:
    plan = plan_for("prod")
    for job in ("coordinator", "worker"):
        register = statement(plan, job, "RegisterWithSessionManager")
        assert register["Action"] == ["ssm:UpdateInstanceInformation"]
        assert register["Resource"] == ["arn:aws:ec2:eu-west-1:123456789012:instance/*"]
        assert "ssmmessages:OpenDataChannel" in statement(plan, job, "OpenSessionChannels")["Action"]
    assert not any(int(r.inputs["fromPort"]) == 22 for r in plan.of_type(INGRESS))


def test_functions_may_manage_their_vpc_interfaces(plan_for: PlanFor) -> None:
    for job in ("failover", "worker-health", "scale-in"):
        manage = statement(plan_for("prod"), job, "ManageFunctionInterfaces")
        assert manage["Resource"] == ["arn:aws:ec2:eu-west-1:123456789012:*/*"]
        assert (
            "ec2:CreateNetworkInterface"
            in statement(plan_for("prod"), job, "CreateFunctionInterfaces")["Action"]
        )


# --- secrets ---------------------------------------------------------------------------------


def test_generated_secrets_are_created_once_and_not_rotated_by_each_update(plan_for: PlanFor) -> None:
    versions = plan_for("prod").of_type("aws:secretsmanager/secretVersion:SecretVersion")
    assert len(versions) == 2  # shared secret and the agent's management password
    for version in versions:
        assert version.ignore_changes == ("secretString",)
        assert len(reveal(version.inputs["secretString"])) == 64


def test_without_password_authentication_only_the_shared_secret_is_generated(plan_for: PlanFor) -> None:
    secrets = plan_for("dev").of_type("aws:secretsmanager/secret:Secret")
    assert [s.inputs["namePrefix"] for s in secrets] == ["trino-dev/shared-secret-"]


def test_elasticsearch_password_given_as_a_pulumi_secret_is_stored_in_secrets_manager() -> None:
    from components.settings.model import SecretText
    from tools.plan.mocks import run_program

    plan = run_program(
        "prod",
        {"elasticsearchPasswordSecretArn": None, "elasticsearchPassword": SecretText("s3cr3t-value")},
    )
    version = plan.named(
        "trino-prod-secrets-elasticsearch-password", "aws:secretsmanager/secretVersion:SecretVersion"
    )
    assert reveal(version.inputs["secretString"]) == "s3cr3t-value"
    assert version.ignore_changes == ()
    es = written_settings(plan).elasticsearch
    assert es is not None
    assert es.password_secret_arn is not None and "elasticsearch-password" in es.password_secret_arn
    assert es.password_secret_arn in statement(plan, "coordinator", "ReadClusterSecrets")["Resource"]


# --- scaling, logging, monitoring -----------------------------------------------------------


def test_cpu_target_tracking_uses_the_aws_metric(plan_for: PlanFor) -> None:
    cpu = plan_for("prod").named("trino-prod-scaling-cpu", "aws:autoscaling/policy:Policy").inputs
    assert cpu["policyType"] == "TargetTrackingScaling"
    spec = cpu["targetTrackingConfiguration"]
    assert spec["predefinedMetricSpecification"]["predefinedMetricType"] == "ASGAverageCPUUtilization"
    assert spec["targetValue"] == 60


@pytest.mark.parametrize(
    ("label", "metric", "threshold"),
    [
        ("queued-queries", Metric.QUEUED_QUERIES, 10),
        ("memory-reserved", Metric.CLUSTER_MEMORY_RESERVED_PERCENT, 75),
    ],
)
def test_scale_out_steps_follow_trino_signals(
    plan_for: PlanFor, label: str, metric: Metric, threshold: int
) -> None:
    plan = plan_for("prod")
    policy_ = plan.named(f"trino-prod-scaling-{label}", "aws:autoscaling/policy:Policy").inputs
    assert policy_["policyType"] == "StepScaling"
    assert [s["scalingAdjustment"] for s in policy_["stepAdjustments"]] == [4, 8]
    alarm = plan.named(f"trino-prod-scaling-{label}", ALARM).inputs
    assert (alarm["namespace"], alarm["metricName"]) == (CLOUDWATCH_NAMESPACE, metric.value)
    assert alarm["dimensions"] == {DIMENSION_CLUSTER: "trino-prod"}
    assert alarm["threshold"] == threshold
    assert alarm["alarmActions"] == ["arn:aws:autoscaling:eu-west-1:123456789012:trino-prod-scaling-" + label]


def test_no_policy_scales_in_by_itself_in_steps(plan_for: PlanFor) -> None:
    policies = plan_for("prod").of_type("aws:autoscaling/policy:Policy")
    for p in policies:
        for step in p.inputs.get("stepAdjustments", []):
            assert step["scalingAdjustment"] > 0, p.name


@pytest.mark.parametrize(("config", "server", "syslog"), [("dev", 7, 3), ("prod", 90, 30)])
def test_each_log_group_keeps_its_configured_retention(
    plan_for: PlanFor, config: str, server: int, syslog: int
) -> None:
    plan = plan_for(config)
    groups = {
        g.inputs["name"]: g.inputs["retentionInDays"]
        for g in plan.of_type("aws:cloudwatch/logGroup:LogGroup")
    }
    prefix = f"/presto-on-aws/{plan.settings.name}"
    assert groups[f"{prefix}/server"] == server
    assert groups[f"{prefix}/syslog"] == syslog
    assert set(groups) == {
        f"{prefix}/{name}"
        for name in (
            "server",
            "http-request",
            "agent",
            "syslog",
            "functions/failover",
            "functions/worker-health",
            "functions/scale-in",
        )
    }


def test_dashboard_shows_every_cluster_metric(plan_for: PlanFor) -> None:
    plan = plan_for("prod")
    dashboard = plan.of_type("aws:cloudwatch/dashboard:Dashboard")[0].inputs
    body = json.loads(dashboard["dashboardBody"])
    shown = {
        m[1] for w in body["widgets"] for m in w["properties"]["metrics"] if m[0] == CLOUDWATCH_NAMESPACE
    }
    assert shown == {m.value for m in Metric}
    assert plan.outputs["dashboardUrl"].endswith("#dashboards:name=trino-prod")


def test_alarms_for_no_coordinator_failover_failed_queries_and_worker_faults(plan_for: PlanFor) -> None:
    plan = plan_for("prod")
    alarms = {
        a.name.removeprefix("trino-prod-monitoring-"): a.inputs
        for a in plan.of_type(ALARM)
        if "monitoring" in a.name
    }
    assert set(alarms) == {
        "no-coordinator",
        "failover",
        "failed-queries",
        "systemic-worker-fault",
        "shutdown-refused",
    }
    assert alarms["systemic-worker-fault"]["metricName"] == Metric.SYSTEMIC_WORKER_FAULT.value
    assert alarms["shutdown-refused"]["metricName"] == Metric.SHUTDOWN_REFUSED.value
    assert alarms["no-coordinator"]["treatMissingData"] == "breaching"
    assert alarms["failover"]["metricName"] == Metric.COORDINATOR_FAILOVERS.value
    assert alarms["failed-queries"]["threshold"] == 25
    for alarm in alarms.values():
        assert alarm["alarmActions"] == ["arn:aws:sns:eu-west-1:111122223333:data-platform-oncall"]


def test_outputs_name_the_groups_and_the_settings_parameter(plan_for: PlanFor) -> None:
    outputs = plan_for("prod").outputs
    assert outputs["coordinatorGroupName"] == "trino-prod-coordinators"
    assert outputs["workerGroupName"] == "trino-prod-workers"
    assert outputs["nodeSettingsParameter"] == "/presto-on-aws/trino-prod/node-settings"
    assert outputs["logGroups"]["SERVER"] == "/presto-on-aws/trino-prod/server"


def test_every_child_is_parented_inside_the_cluster(plan_for: PlanFor) -> None:
    plan = plan_for("prod")
    cluster = plan.named("trino-prod", "presto-on-aws:index:TrinoCluster")
    urns = {r.urn for r in plan.resources}
    top = [r for r in plan.resources if r.parent not in urns]
    assert {r.type for r in top} == {"pulumi:providers:aws", "presto-on-aws:index:TrinoCluster"}
    components = {r.type.split(":")[-1] for r in plan.children(cluster)}
    assert components == {
        "ClusterNetwork",
        "ClusterLogging",
        "ClusterSecrets",
        "ClusterIdentity",
        "ClusterNodeSettings",
        "CoordinatorPair",
        "WorkerFleet",
        "ScalingPolicies",
        "ClusterMonitoring",
        "RolloutAlarms",
    }
