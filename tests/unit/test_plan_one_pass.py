"""`make plan` reports config problems and AWS-request problems in one run: with config problems,
the requests are checked on the same stack with each refused key stood in for (its default, a
required key's documented example), and the output says which."""

from __future__ import annotations

import pytest

from tools.plan import command as plan
from tools.plan.mocks import Recorded


def plan_errors(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert plan.main(["--stack", "dev", *argv]) == 2
    return capsys.readouterr().err


def test_config_problems_and_the_request_check_come_in_one_run(capsys: pytest.CaptureFixture[str]) -> None:
    err = plan_errors(capsys, "--set", "coordinatorCount=3")
    assert "presto-on-aws:coordinatorCount: '3' is not allowed" in err
    assert err.rstrip().endswith(
        "AWS requests: none refused (checked with presto-on-aws:coordinatorCount=default)"
    )


class FakeRequestCheck:
    """A fake: a request AWS would refuse, which no stack that parses produces today (every
    refusal found so far is caught by the parse), injected to prove it is reported beside."""

    def __init__(self) -> None:
        self.checked: list[list[Recorded]] = []

    def __call__(self, resources: list[Recorded]) -> list[str]:
        self.checked.append(resources)
        return ["ec2.CreateLaunchTemplate: refused by the fake"]


def test_a_request_refusal_is_reported_beside_the_config_problems(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeRequestCheck()
    monkeypatch.setattr(plan, "request_problems", fake)
    err = plan_errors(capsys, "--set", "coordinatorCount=3")
    assert "1 configuration problem(s)" in err
    assert (
        "stack 'dev': AWS would refuse 1 request(s) (checked with presto-on-aws:coordinatorCount=default):\n"
        "  - ec2.CreateLaunchTemplate: refused by the fake"
    ) in err
    assert len(fake.checked) == 1 and fake.checked[0], "the check ran on the program's resources"


def test_a_required_key_stands_in_with_its_documented_example(capsys: pytest.CaptureFixture[str]) -> None:
    err = plan_errors(capsys, "--set", "vpcId=bad")
    assert "checked with presto-on-aws:vpcId=vpc-0a1b2c3d4e5f67890" in err


def test_a_mistyped_region_stands_in_as_us_east_1(capsys: pytest.CaptureFixture[str]) -> None:
    err = plan_errors(capsys, "--set", "aws:region=eu-west-9")
    assert "checked with aws:region=us-east-1" in err


def test_a_stand_in_that_exposes_a_dependent_problem_is_stood_in_too(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The bad maximum falls back to its default (3), below the minimum of 5: the minimum stands in too.
    err = plan_errors(capsys, "--set", "workerMaxSize=many", "--set", "workerMinSize=5")
    assert "AWS requests: none refused (checked with presto-on-aws:workerMaxSize=default, " in err
    assert "presto-on-aws:workerMinSize=default" in err.splitlines()[-1]


def test_a_problem_that_names_no_key_leaves_the_requests_unchecked_and_says_so(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert plan.main(["--stack", "nonesuch"]) == 2
    err = capsys.readouterr().err
    assert "no stack file Pulumi.nonesuch.yaml" in err
    assert "AWS requests not checked: a problem above names no config key to stand in for" in err
