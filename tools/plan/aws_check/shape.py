"""The shape every modelled AWS request shares: what a request is, and how Pulumi's recorded inputs
become the API's members (names Pulumi would generate, tags, PascalCase).

Kept apart from the builders (tools/plan/aws_check/builders.py) and the table of types
(tools/plan/aws_check/table.py) because both use it: one rule for a generated name or a tag list.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from components import aws_limits

RANDOM_SUFFIX = "-abcdefg"  # stands in for Pulumi's "-" + 7 random characters
PREFIX_SUFFIX = "2026113001234567890000000a"  # stands in for a name_prefix's 26 characters


@dataclass(frozen=True)
class Request:
    """One API call as the provider will make it, for botocore's models to check."""

    resource: str  # the logical name, as in `make plan`'s tree
    service: str
    operation: str
    params: Mapping[str, Any]


# Turns one resource's logical name and recorded inputs into the requests the provider will send.
Builder = Callable[[str, Mapping[str, Any]], list[Request]]


def auto_name(type_: str, name: str, inputs: Mapping[str, Any]) -> str:
    """The name the provider will use: the input, or the logical name plus Pulumi's suffix."""
    field = aws_limits.AUTO_NAMED[type_].field if type_ in aws_limits.AUTO_NAMED else "name"
    given = inputs.get(field)
    return str(given) if given else name + RANDOM_SUFFIX


def api_tags(inputs: Mapping[str, Any]) -> list[dict[str, str]]:
    """The `tags` input as the API's Key/Value list."""
    tags = inputs.get("tags") or {}
    return [{"Key": str(k), "Value": str(v)} for k, v in tags.items()] if isinstance(tags, Mapping) else []


def camel_to_api(value: Any) -> Any:
    """Pulumi's camelCase nested inputs as the API's PascalCase members."""
    if isinstance(value, Mapping):
        return {k[:1].upper() + k[1:]: camel_to_api(v) for k, v in value.items()}
    if isinstance(value, list):
        return [camel_to_api(v) for v in value]
    return value


def simple_request(
    service: str, operation: str, members: Mapping[str, str | Callable[[str, Mapping[str, Any]], Any]]
) -> Builder:
    """A request whose members each come from one input (a name) or a function of the inputs."""

    def build(name: str, i: Mapping[str, Any]) -> list[Request]:
        params = {
            member: (source(name, i) if callable(source) else i.get(source))
            for member, source in members.items()
        }
        return [Request(name, service, operation, params)]

    return build


def auto_named(type_: str) -> Callable[[str, Mapping[str, Any]], str]:
    """A simple_request member source: the name the provider will give a resource of this type."""
    return lambda name, i: auto_name(type_, name, i)
