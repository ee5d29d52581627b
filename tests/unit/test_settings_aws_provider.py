"""The stack's `aws:` keys: checked against pulumi-aws's own provider settings and handed to the
one explicit provider, which would otherwise ignore them (and run in whatever account the
environment's credentials reach)."""

from __future__ import annotations

import json

from components.program import provider_args
from components.settings.model import SecretText
from components.settings.parse import parse
from tests.unit.stack_config import only, problems, raw_with
from tools.plan.mocks import SecretInput, run_program

PROVIDER = "pulumi:providers:aws"
ROLE = "arn:aws:iam::123456789012:role/deployer"


def test_a_misspelt_region_is_refused_with_the_nearest_region() -> None:
    message = only({"aws:region": "eu-wset-1"})
    assert message.startswith("aws:region: 'eu-wset-1' is not an AWS region; did you mean eu-west-1?")


def test_a_region_of_the_right_shape_that_does_not_exist_is_refused() -> None:
    assert "is not an AWS region" in only({"aws:region": "eu-west-9"})


def test_every_partition_region_is_accepted() -> None:
    for region in ("us-gov-west-1", "cn-north-1", "ap-southeast-5"):
        assert parse("test", raw_with({"aws:region": region})).region == region


def test_skip_region_validation_lets_a_newer_region_through() -> None:
    raw = raw_with({"aws:region": "xx-newplace-1", "aws:skipRegionValidation": "true"})
    assert parse("test", raw).region == "xx-newplace-1"


def test_an_unknown_aws_key_is_refused_with_the_nearest_setting() -> None:
    assert "did you mean aws:profile?" in only({"aws:profil": "ops"})


def test_assume_role_of_pulumi_aws_6_is_refused_with_its_successor() -> None:
    message = only({"aws:assumeRole": json.dumps({"roleArn": ROLE})})
    assert "takes aws:assumeRoles, a list of" in message


def test_a_boolean_setting_refuses_other_words() -> None:
    message = only({"aws:skipCredentialsValidation": "maybe"})
    assert message == "aws:skipCredentialsValidation: 'maybe' is not a boolean (allowed: true, false)"


def test_an_integer_setting_refuses_text() -> None:
    assert only({"aws:maxRetries": "five"}) == "aws:maxRetries: 'five' is not an integer"


def test_a_list_setting_refuses_a_bare_string() -> None:
    assert only({"aws:allowedAccountIds": "123456789012"}).startswith("aws:allowedAccountIds: must be a list")


def test_an_account_id_must_be_twelve_digits() -> None:
    message = only({"aws:allowedAccountIds": '["12345"]'})
    assert message == "aws:allowedAccountIds: '12345' is not an AWS account id (allowed: 12 digits)"


def test_allowed_and_forbidden_account_ids_together_are_refused() -> None:
    found = problems(
        {"aws:allowedAccountIds": '["123456789012"]', "aws:forbiddenAccountIds": '["210987654321"]'}
    )
    assert any("aws:forbiddenAccountIds: is set with aws:allowedAccountIds" in p for p in found), found


def test_an_assumed_role_must_be_a_role_arn() -> None:
    message = only({"aws:assumeRoles": json.dumps([{"roleArn": "deployer"}])})
    assert message.startswith("aws:assumeRoles[0].roleArn: 'deployer' is not an IAM role ARN")


def test_an_unknown_field_of_an_assumed_role_names_the_allowed_fields() -> None:
    message = only({"aws:assumeRoles": json.dumps([{"roleArn": ROLE, "sesionName": "ci"}])})
    assert "unknown field 'sesionName'" in message and "did you mean sessionName?" in message


def test_a_credential_in_plain_text_is_refused() -> None:
    assert only({"aws:secretKey": "wJalr"}).startswith("aws:secretKey: is stored in plain text")


def test_a_credential_set_as_a_secret_reaches_the_provider_as_a_secret() -> None:
    settings = parse(
        "test",
        raw_with({"aws:accessKey": "AKIA", "aws:secretKey": "wJalr"}),
        {"aws:secretKey", "aws:accessKey"},
    )
    assert settings.provider.secret == frozenset({"access_key", "secret_key"})


def test_a_default_tag_that_the_cluster_overrides_is_refused() -> None:
    message = only({"aws:defaultTags": json.dumps({"tags": {"Environment": "staging"}})})
    assert message.startswith(
        "aws:defaultTags: tag 'Environment' is 'staging' here but 'test' set by the program"
    )


def test_ignoring_a_tag_the_program_finds_the_cluster_by_is_refused() -> None:
    message = only({"aws:ignoreTags": json.dumps({"keyPrefixes": ["presto-on-aws:"]})})
    assert "aws:ignoreTags: ignores" in message and "leave it out" in message


def test_default_tags_of_the_stack_are_merged_under_the_clusters_own() -> None:
    settings = parse("test", raw_with({"aws:defaultTags": json.dumps({"tags": {"CostCenter": "data"}})}))
    tags = provider_args(settings)["default_tags"]["tags"]
    assert tags["CostCenter"] == "data" and tags["Environment"] == "test"


def test_the_provider_the_program_declares_gets_the_stacks_profile_and_roles() -> None:
    roles = [{"roleArn": ROLE, "sessionName": "pulumi"}]
    plan = run_program(
        "dev", {"aws:profile": "data-platform", "aws:assumeRoles": json.dumps(roles), "aws:maxRetries": "7"}
    )
    (provider,) = plan.of_type(PROVIDER)
    assert provider.inputs["profile"] == "data-platform"
    assert provider.inputs["maxRetries"] in (7, "7")
    assumed = provider.inputs["assumeRoles"]
    assert (json.loads(assumed) if isinstance(assumed, str) else assumed) == roles


def test_a_secret_credential_reaches_the_provider_as_a_secret() -> None:
    plan = run_program("dev", {"aws:token": SecretText("session-token")})
    (provider,) = plan.of_type(PROVIDER)
    assert isinstance(provider.inputs["token"], SecretInput)
    assert provider.inputs["token"].value == "session-token"
