"""Instance types the plan refuses before `pulumi up` would: unknown to EC2, the wrong CPU for the
image, too small for Trino; each named by its key, with the nearest types."""

from __future__ import annotations

import json

from components.settings.parse import parse
from tests.unit.stack_config import only, raw_with


def test_a_misspelt_coordinator_type_names_its_key_and_the_nearest_types() -> None:
    message = only({"coordinatorInstanceType": "m6i.lrage"})
    assert message.startswith(
        "presto-on-aws:coordinatorInstanceType: 'm6i.lrage' is not an EC2 instance type"
    )
    assert "did you mean m6i.large" in message


def test_the_message_for_an_unknown_type_stays_short() -> None:
    assert len(only({"coordinatorInstanceType": "m6i.lrage"})) < 400


def test_a_worker_type_that_does_not_exist_is_refused() -> None:
    message = only({"workerInstanceTypes": json.dumps(["r6i.2xlarge", "r9z.mega"])})
    assert message.startswith(
        "presto-on-aws:workerInstanceTypes: item 'r9z.mega' is not an EC2 instance type"
    )


def test_a_graviton_type_is_refused_on_the_x86_image() -> None:
    message = only({"workerInstanceTypes": json.dumps(["m6g.2xlarge"])})
    assert "is a Graviton (arm64) type, and the image make image builds is x86_64" in message


def test_a_graviton_type_is_left_to_a_stack_that_names_its_own_image() -> None:
    raw = raw_with({"coordinatorInstanceType": "m7g.xlarge", "amiId": "ami-0a1b2c3d4e5f67890"})
    assert parse("test", raw).coordinator.instance_type == "m7g.xlarge"


def test_a_type_too_small_to_hold_trino_is_refused() -> None:
    assert "has 0.5 GiB of memory" in only({"coordinatorInstanceType": "t2.nano"})


def test_every_type_the_stacks_ship_is_accepted() -> None:
    settings = parse(
        "test", raw_with({"workerInstanceTypes": json.dumps(["r6i.2xlarge", "r6a.2xlarge", "t3.small"])})
    )
    assert settings.workers.instance_types == ("r6i.2xlarge", "r6a.2xlarge", "t3.small")
