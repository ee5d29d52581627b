"""Each function's environment: exactly the contract variables it reads, from the settings."""

from __future__ import annotations

from components.lambdas.environment import failover_environment, worker_health_environment
from components.settings.stack_file import load_stack_settings
from node_agent.contract import FunctionEnv

SHARED = "arn:aws:secretsmanager:eu-west-1:1:secret:shared"
CA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def test_health_function_gets_the_ca_bundle_when_one_is_configured() -> None:
    settings = load_stack_settings("prod", {"tlsCaBundle": CA})
    env = worker_health_environment(settings, "eni-1", "arn:aws:secretsmanager:eu-west-1:1:secret:m")
    assert env[FunctionEnv.CA_BUNDLE] == CA
    assert env[FunctionEnv.TRINO_SCHEME] == "https"


def test_with_passwords_failover_probes_over_https_as_the_management_user() -> None:
    arn = "arn:aws:secretsmanager:eu-west-1:1:secret:m"
    env = failover_environment(load_stack_settings("prod", {"tlsCaBundle": CA}), "eni-1", arn, SHARED)
    assert (env[FunctionEnv.TRINO_SCHEME], env[FunctionEnv.TRINO_PORT]) == ("https", "8443")
    assert env[FunctionEnv.MANAGEMENT_PASSWORD_SECRET_ARN] == arn
    assert env[FunctionEnv.CA_BUNDLE] == CA


def test_without_passwords_failover_needs_no_password_or_ca() -> None:
    env = failover_environment(load_stack_settings("dev"), "eni-1", None, SHARED)
    assert (env[FunctionEnv.TRINO_SCHEME], env[FunctionEnv.TRINO_PORT]) == ("http", "8080")
    assert FunctionEnv.MANAGEMENT_PASSWORD_SECRET_ARN not in env
    assert FunctionEnv.CA_BUNDLE not in env


def test_probe_settings_follow_the_config() -> None:
    settings = load_stack_settings("dev", {"failoverFailedProbes": 5, "workerHealthFailedChecks": 7})
    assert failover_environment(settings, "eni-1", None, SHARED)[FunctionEnv.FAILED_PROBES] == "5"
    assert worker_health_environment(settings, "eni-1", None)[FunctionEnv.FAILED_PROBES] == "7"


def test_every_variable_name_is_a_contract_name() -> None:
    settings = load_stack_settings("prod", {"tlsCaBundle": CA})
    names = set(failover_environment(settings, "e", "arn", SHARED)) | set(
        worker_health_environment(settings, "e", "arn")
    )
    assert names <= {member.value for member in FunctionEnv}


def test_failover_gets_the_shared_secret_to_hand_the_workers_to_a_switchover_target() -> None:
    settings = load_stack_settings("dev")
    assert failover_environment(settings, "eni-1", None, SHARED)[FunctionEnv.SHARED_SECRET_ARN] == SHARED
    assert FunctionEnv.SHARED_SECRET_ARN not in worker_health_environment(settings, "eni-1", None)
