"""EC2 calls about a whole fleet at 1,000 workers: bounded per batch, flat in bad ids (moto)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from functions.shared.ec2_batch import BATCH, describe_instances, write_tags

FLEET = 1000
UNKNOWN = "i-0123456789abcdef0"
TAG = [{"Key": "presto-on-aws:health-misses", "Value": "1"}]


@pytest.fixture(scope="module")
def fleet() -> Iterator[tuple[Any, list[str]]]:
    with mock_aws():
        ec2 = boto3.client("ec2", region_name="eu-west-1")
        ids = [
            i["InstanceId"]
            for _ in range(FLEET // 250)
            for i in ec2.run_instances(ImageId="ami-12c6146b", MinCount=250, MaxCount=250)["Instances"]
        ]
        yield ec2, ids


class Calls:
    """Every request of one EC2 operation, by its parameters."""

    def __init__(self, ec2: Any, operation: str) -> None:
        self.params: list[dict[str, Any]] = []
        self._ec2, self._event = ec2, f"before-parameter-build.ec2.{operation}"
        ec2.meta.events.register(self._event, self._record)

    def _record(self, params: dict[str, Any], **_: Any) -> None:
        self.params.append(dict(params))

    def close(self) -> None:
        self._ec2.meta.events.unregister(self._event, self._record)


def test_one_unknown_id_among_1000_workers_costs_no_extra_describe_call(fleet: tuple[Any, list[str]]) -> None:
    ec2, ids = fleet
    calls = Calls(ec2, "DescribeInstances")
    try:
        found = describe_instances(ec2, [*ids, UNKNOWN])
    finally:
        calls.close()
    assert set(found) == set(ids)
    assert len(calls.params) == math.ceil((FLEET + 1) / BATCH)


def test_describe_asks_at_most_200_ids_a_request(fleet: tuple[Any, list[str]]) -> None:
    ec2, ids = fleet
    calls = Calls(ec2, "DescribeInstances")
    try:
        describe_instances(ec2, ids)
    finally:
        calls.close()
    assert max(len(p["Filters"][0]["Values"]) for p in calls.params) <= 200


def test_tags_for_1000_workers_go_in_batches_within_the_api_limit(fleet: tuple[Any, list[str]]) -> None:
    ec2, ids = fleet
    calls = Calls(ec2, "CreateTags")
    try:
        write_tags(ec2, "create_tags", ids, TAG, gone=lambda *_: None)
    finally:
        calls.close()
    assert len(calls.params) == FLEET // BATCH
    assert max(len(p["Resources"]) for p in calls.params) <= 1000
    tagged = ec2.describe_tags(Filters=[{"Name": "key", "Values": [TAG[0]["Key"]]}], MaxResults=1000)["Tags"]
    assert {t["ResourceId"] for t in tagged} == set(ids)


def _vanished(instance_id: str, operation: str) -> ClientError:
    error = {
        "Code": "InvalidInstanceID.NotFound",
        "Message": f"The instance ID '{instance_id}' does not exist",
    }
    return ClientError({"Error": error}, operation)


def test_a_worker_that_vanished_costs_its_batch_one_more_call_not_one_per_worker(
    fleet: tuple[Any, list[str]],
) -> None:
    ec2, ids = fleet
    vanished = ids[7]

    def refuse(params: dict[str, Any], **_: Any) -> None:
        if vanished in params.get("Resources", []):
            raise _vanished(vanished, "DeleteTags")

    calls = Calls(ec2, "DeleteTags")
    ec2.meta.events.register("before-parameter-build.ec2.DeleteTags", refuse)
    reported: list[str] = []
    try:
        write_tags(
            ec2, "delete_tags", ids, [{"Key": TAG[0]["Key"]}], gone=lambda iid, _r: reported.append(iid)
        )
    finally:
        ec2.meta.events.unregister("before-parameter-build.ec2.DeleteTags", refuse)
        calls.close()
    assert reported == [vanished]
    assert len(calls.params) == FLEET // BATCH + 1


def test_a_not_found_that_names_no_id_of_the_batch_is_raised(fleet: tuple[Any, list[str]]) -> None:
    ec2, ids = fleet

    def refuse(**_: Any) -> None:
        raise _vanished(UNKNOWN, "CreateTags")

    ec2.meta.events.register("before-parameter-build.ec2.CreateTags", refuse)
    try:
        with pytest.raises(ClientError):
            write_tags(ec2, "create_tags", ids[:10], TAG, gone=lambda *_: None)
    finally:
        ec2.meta.events.unregister("before-parameter-build.ec2.CreateTags", refuse)


def test_ids_that_keep_vanishing_stop_after_three_attempts(fleet: tuple[Any, list[str]]) -> None:
    ec2, ids = fleet
    batch = ids[:10]

    def refuse(params: dict[str, Any], **_: Any) -> None:
        raise _vanished(params["Resources"][0], "CreateTags")

    ec2.meta.events.register("before-parameter-build.ec2.CreateTags", refuse)
    reported: list[str] = []
    try:
        with pytest.raises(RuntimeError, match="after 3 attempts"):
            write_tags(ec2, "create_tags", batch, TAG, gone=lambda iid, _r: reported.append(iid))
    finally:
        ec2.meta.events.unregister("before-parameter-build.ec2.CreateTags", refuse)
    assert reported == batch[:3]
