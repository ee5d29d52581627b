"""EC2 calls about many instances at once, whose cost stays flat in the fleet size.

Both functions read and tag every worker or coordinator a group lists. Two EC2 habits made that
cost grow with the fleet: `DescribeInstances` with `InstanceIds` fails the whole request
(InvalidInstanceID.NotFound) when one id is not yet, or no longer, known to EC2, and the old
answer (ask again one id at a time) cost 1,001 calls at 1,000 workers against the account's
shared Describe bucket; and `CreateTags`/`DeleteTags` take at most 1,000 resource ids a request.
Here the instances are asked for by an `instance-id` filter, which leaves unknown ids out instead
of failing (one call per BATCH ids, whatever the ids), and tags are written in batches of BATCH,
an unknown id dropped from its batch by the name EC2 gives in its error and the batch written
again (at most ATTEMPTS calls per batch).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from functions.shared.lambda_support import AWS_ERRORS, AwsErrorKind, aws_error_kind

# Ids per request: DescribeInstances takes at most 200 values per filter and CreateTags at most
# 1,000 resources; one number for both keeps the arithmetic plain (5 calls at 1,000 workers).
BATCH = 200
ATTEMPTS = 3  # per batch: each retry follows a NotFound that named ids, which are then dropped
INSTANCE_ID = re.compile(r"\bi-[0-9a-f]{8,17}\b")


def batches(ids: Sequence[str], size: int = BATCH) -> list[list[str]]:
    return [list(ids[start : start + size]) for start in range(0, len(ids), size)]


def describe_instances(ec2: Any, instance_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """instance id -> DescribeInstances record; ids EC2 does not know are simply absent."""
    found: dict[str, dict[str, Any]] = {}
    for batch in batches(sorted(set(instance_ids))):
        pages = ec2.get_paginator("describe_instances").paginate(
            Filters=[{"Name": "instance-id", "Values": batch}]
        )
        for page in pages:
            for reservation in page["Reservations"]:
                for instance in reservation["Instances"]:
                    found[instance["InstanceId"]] = instance
    return found


def write_tags(
    ec2: Any,
    operation: str,
    instance_ids: Sequence[str],
    tags: list[dict[str, str]],
    gone: Callable[[str, str], None],
) -> None:
    """`create_tags` or `delete_tags` on every id, BATCH at a time.

    An id that vanished since it was described fails its whole batch: EC2 names the unknown ids in
    the error, so they are reported through `gone(instance_id, reason)` and the rest written again
    (at most ATTEMPTS calls a batch). An error that names no id it can drop, or any other error, is raised.
    """
    call = getattr(ec2, operation)
    for batch in batches(list(instance_ids)):
        for _ in range(ATTEMPTS):
            if not batch:
                break
            try:
                call(Resources=batch, Tags=tags)
                break
            except AWS_ERRORS as exc:
                unknown = set(INSTANCE_ID.findall(str(exc))) & set(batch)
                if aws_error_kind(exc) is not AwsErrorKind.NOT_FOUND or not unknown:
                    raise
                for iid in sorted(unknown):
                    gone(iid, f"{operation}: {exc}")
                batch = [iid for iid in batch if iid not in unknown]
        else:
            raise RuntimeError(f"{operation}: ids kept vanishing from one batch after {ATTEMPTS} attempts")
