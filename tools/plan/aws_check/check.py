"""Check the requests a plan implies (tools/plan/aws_check/table.py) the way AWS would.

Pulumi's mocks check no provider schema and no AWS limit, so a name one character too long, an
enum AWS does not know or a value out of range passes the mocks and fails at `pulumi up` (or, for
a launch template, at every instance launch, which `pulumi up` never sees). Every parameter is
validated against the operation's input shape in botocore's model of the service: required
members, string lengths, list sizes, numeric ranges, enums and patterns (botocore's own validator
checks only types, required members and minimums). Limits the models do not carry come from
components/aws_limits.py, with their sources. `make plan` runs this after the program; the unit
tests run it on dev, prod and odd stacks (tests/unit/test_aws_requests.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import cache
from typing import Any

import botocore.session
from botocore.model import OperationModel, Shape

from components import aws_limits
from tools.plan.aws_check.shape import Request
from tools.plan.aws_check.table import requests_of


@cache
def _session() -> botocore.session.Session:
    return botocore.session.get_session()


@cache
def operation_model(service: str, operation: str) -> OperationModel:
    return _session().get_service_model(service).operation_model(operation)


# --- validation against the models ---------------------------------------------------------------


@cache
def _pattern(text: str) -> re.Pattern[str] | None:
    """The model's (Java) pattern in Python, or None where Python's re cannot express it."""
    try:
        return re.compile(text)
    except re.error:
        return None


def validate(request: Request) -> list[str]:
    model = operation_model(request.service, request.operation)
    where = f"{request.resource}: {request.service}.{request.operation}"
    problems: list[str] = []
    _check(model.input_shape, dict(request.params), "", problems)
    return [f"{where} {p}" for p in problems]


def _check(shape: Shape, value: Any, path: str, problems: list[str]) -> None:
    kind = shape.type_name
    meta = shape.metadata
    here = path or "params"
    if kind == "structure":
        if not isinstance(value, Mapping):
            problems.append(f"{here}: expected a structure, got {type(value).__name__}")
            return
        members = shape.members
        for required in shape.required_members:
            if required not in value:
                problems.append(f"{here}: missing required member {required}")
        for key, item in value.items():
            if key not in members:
                problems.append(f"{here}: {key} is not a member of {shape.name}")
                continue
            _check(members[key], item, f"{path}.{key}" if path else key, problems)
    elif kind == "list":
        if not isinstance(value, list):
            problems.append(f"{here}: expected a list")
            return
        _size(meta, len(value), here, "items", problems)
        for index, item in enumerate(value):
            _check(shape.member, item, f"{here}[{index}]", problems)
    elif kind == "map":
        if not isinstance(value, Mapping):
            problems.append(f"{here}: expected a map")
            return
        _size(meta, len(value), here, "entries", problems)
        for key, item in value.items():
            _check(shape.key, key, f"{here} key {key!r}", problems)
            _check(shape.value, item, f"{here}[{key!r}]", problems)
    elif kind == "string":
        text = (
            value if isinstance(value, str) else json.dumps(value) if isinstance(value, bool) else str(value)
        )
        _size(meta, len(text), here, "characters", problems)
        if shape.enum and text not in shape.enum:
            problems.append(f"{here}: {text!r} is not one of {', '.join(shape.enum)}")
        pattern = _pattern(meta["pattern"]) if "pattern" in meta else None
        if pattern is not None and not pattern.fullmatch(text):
            problems.append(f"{here}: {_short(text)!r} does not match the pattern {meta['pattern']}")
    elif kind in ("integer", "long", "double", "float"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            problems.append(f"{here}: expected a number, got {value!r}")
            return
        if kind in ("integer", "long") and not float(value).is_integer():
            problems.append(f"{here}: expected a whole number, got {value!r}")
        _size(meta, value, here, "", problems)
    elif kind == "boolean":
        if not isinstance(value, bool) and str(value).lower() not in ("true", "false"):
            problems.append(f"{here}: expected a boolean, got {value!r}")
    elif kind == "blob":
        _size(meta, len(value) if isinstance(value, bytes | str) else 0, here, "bytes", problems)


def _size(meta: Mapping[str, Any], size: float, where: str, unit: str, problems: list[str]) -> None:
    low, high = meta.get("min"), meta.get("max")
    what = f"{size:g} {unit}".strip()
    if low is not None and size < low:
        problems.append(f"{where}: {what}, the model's minimum is {low:g}")
    if high is not None and size > high:
        problems.append(f"{where}: {what}, the model's maximum is {high:g}")


def _short(text: str) -> str:
    return text if len(text) <= 80 else text[:77] + "..."


# --- limits the models do not carry --------------------------------------------------------------


def _beyond(resource: str, what: str, size: int, limit: aws_limits.Limit) -> str:
    return f"{resource}: {what} is {size}, more than {limit.value} {limit.what} ({limit.source})"


def documented_limit_problems(requests: list[Request]) -> list[str]:
    """The limits AWS documents but botocore's models do not carry (components/aws_limits.py)."""
    problems = []
    for r in requests:
        p = r.params
        if r.operation == "PutParameter":
            advanced = p.get("Tier") == "Advanced"
            limit = aws_limits.SSM_ADVANCED_VALUE_BYTES if advanced else aws_limits.SSM_STANDARD_VALUE_BYTES
            size = len(str(p.get("Value", "")).encode())
            if size > limit.value:
                problems.append(_beyond(r.resource, "Value (bytes)", size, limit))
        if r.operation == "CreateFunction":
            variables = (p.get("Environment") or {}).get("Variables") or {}
            size = sum(len(k.encode()) + len(str(v).encode()) for k, v in variables.items())
            if size > aws_limits.LAMBDA_ENVIRONMENT_BYTES.value:
                problems.append(
                    _beyond(r.resource, "Environment (bytes)", size, aws_limits.LAMBDA_ENVIRONMENT_BYTES)
                )
        if r.operation == "CreateLaunchTemplate":
            for mapping in p["LaunchTemplateData"].get("BlockDeviceMappings") or []:
                ebs = mapping.get("Ebs") or {}
                ratio = aws_limits.EBS_IOPS_PER_GIB.get(ebs.get("VolumeType", ""))
                if ratio and ebs.get("Iops", 0) > ratio.value * ebs.get("VolumeSize", 0):
                    what = f"Iops on {ebs.get('VolumeSize')} GiB"
                    problems.append(_beyond(r.resource, what, ebs["Iops"], ratio))
    return problems


def request_problems(resources: list[Any]) -> list[str]:
    """Everything AWS would refuse in the requests these resources imply (empty when none)."""
    requests, unmodelled = requests_of(resources)
    problems = [p for r in requests for p in validate(r)]
    problems += documented_limit_problems(requests)
    problems += [f"{t}: no request model in tools/plan/aws_check/table.py; add one" for t in unmodelled]
    return problems
