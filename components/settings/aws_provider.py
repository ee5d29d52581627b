"""The `aws:` keys of a stack: the region, and every other pulumi-aws provider setting.

The program declares one explicit AWS provider (components/program.py), and an explicit provider
reads nothing from the stack's `aws:` config: a stack file's `aws:profile`, `aws:assumeRoles` or
`aws:allowedAccountIds` would be ignored and `pulumi up` would run with whatever credentials the
environment holds, maybe in the wrong account. So every `aws:` key is parsed here against
pulumi-aws's own ProviderArgs (its names and types, not a hand list) and handed to that provider;
a key pulumi-aws does not know (`aws:assumeRole`, gone in pulumi-aws 7) is refused with the
nearest known name, as is a value of the wrong type or a credential in plain text.

The region is checked against the regions botocore lists for EC2 in every partition, so a
misspelt region fails here, not at the first API call of `pulumi up`.
"""

from __future__ import annotations

import collections.abc
import difflib
import json
import re
import typing
from collections.abc import Mapping
from functools import cache
from importlib import metadata
from typing import Any

import botocore.loaders
import botocore.session
import pulumi
import pulumi_aws
from pulumi import _types

from components.settings.model import SECRET_PLACEHOLDER, ProviderSettings

NAMESPACE = "aws"
REGION_KEY = "aws:region"
# What the program sets itself: the region from aws:region, default tags merged with its own.
MANAGED = ("region",)
# Keys that hold a credential: accepted only as secrets (`pulumi config set --secret`).
CREDENTIALS = ("accessKey", "secretKey", "token")
ACCOUNT_ID = re.compile(r"^\d{12}$")
ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")
# Keys whose value is a region, checked like aws:region.
REGION_VALUED = ("stsRegion",)


# --- regions -------------------------------------------------------------------------------------


@cache
def known_regions() -> tuple[str, ...]:
    """Every region botocore lists: EC2's endpoints in each partition, and each partition's regions."""
    session = botocore.session.get_session()
    regions = {
        region
        for partition in session.get_available_partitions()
        for region in session.get_available_regions("ec2", partition_name=partition)
    }
    partitions = botocore.loaders.create_loader().load_data("partitions")["partitions"]
    regions |= {
        region
        for partition in partitions
        for region in partition.get("regions", {})
        if not region.endswith("-global")  # pseudo-regions of global endpoints, no EC2 there
    }
    return tuple(sorted(regions))


def region_problem(key: str, region: str, skip_validation: bool = False) -> str | None:
    """Why this region would fail at `pulumi up`, or None."""
    regions = known_regions()
    if region in regions or skip_validation:
        return None
    guess = difflib.get_close_matches(region, regions, n=1, cutoff=0.6)
    hint = f"; did you mean {guess[0]}?" if guess else ""
    return (
        f"{key}: {region!r} is not an AWS region{hint} (allowed: the regions botocore "
        f"{botocore.__version__} lists: {', '.join(regions)}; for a region newer than that, set "
        "aws:skipRegionValidation: true)"
    )


# --- the provider's own fields -------------------------------------------------------------------


@cache
def provider_fields() -> dict[str, tuple[str, Any]]:
    """pulumi-aws's provider settings: config name (camelCase) -> (Python argument name, type)."""
    names = _types.input_type_py_to_pulumi_names(pulumi_aws.ProviderArgs)
    types = _types.input_type_types(pulumi_aws.ProviderArgs)
    return {pulumi_name: (py_name, types[pulumi_name]) for py_name, pulumi_name in names.items()}


def _plain(tp: Any) -> Any:
    """The type under pulumi's Input wrappers: Union[X, Awaitable[X], Output[X]] -> X."""
    if typing.get_origin(tp) is typing.Union:
        args = [
            a
            for a in typing.get_args(tp)
            if a is not type(None)
            and typing.get_origin(a) not in (collections.abc.Awaitable, pulumi.Output)
            and a is not pulumi.Output
        ]
        return _plain(args[0]) if args else Any
    return tp


def _kind(tp: Any) -> str:
    tp = _plain(tp)
    origin = typing.get_origin(tp)
    if origin in (collections.abc.Sequence, list):
        return "a list"
    if origin in (collections.abc.Mapping, dict) or _types.is_input_type(tp):
        return "a map"
    return {bool: "a boolean", int: "an integer"}.get(tp, "a string")


def _value(tp: Any, value: Any, where: str, problems: list[str]) -> Any:
    """`value` (parsed JSON) checked against the provider's type; camelCase names kept as given."""
    tp = _plain(tp)
    origin = typing.get_origin(tp)
    if origin in (collections.abc.Sequence, list):
        if not isinstance(value, list):
            problems.append(f"{where}: must be a list, got {value!r}")
            return None
        (item,) = typing.get_args(tp)
        return [_value(item, v, f"{where}[{i}]", problems) for i, v in enumerate(value)]
    if origin in (collections.abc.Mapping, dict):
        if not isinstance(value, dict):
            problems.append(f"{where}: must be a map, got {value!r}")
            return None
        item = typing.get_args(tp)[1]
        return {str(k): _value(item, v, f"{where}.{k}", problems) for k, v in value.items()}
    if _types.is_input_type(tp):
        if not isinstance(value, dict):
            problems.append(f"{where}: must be a map, got {value!r}")
            return None
        fields = _types.input_type_types(tp)
        result = {}
        for name, item in value.items():
            if name not in fields:
                guess = difflib.get_close_matches(name, list(fields), n=1)
                hint = f"; did you mean {guess[0]}?" if guess else ""
                allowed = ", ".join(sorted(fields)) if len(fields) <= 20 else f"{len(fields)} names"
                problems.append(f"{where}: unknown field {name!r} (allowed: {allowed}){hint}")
                continue
            result[name] = _value(fields[name], item, f"{where}.{name}", problems)
        return result
    if tp is bool:
        if isinstance(value, bool):
            return value
        problems.append(f"{where}: {value!r} is not a boolean (allowed: true, false)")
        return None
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        problems.append(f"{where}: {value!r} is not an integer")
        return None
    if isinstance(value, dict | list) or value is None:
        problems.append(f"{where}: must be a string, got {value!r}")
        return None
    return value if isinstance(value, str) else json.dumps(value)


def _from_text(tp: Any, text: str, where: str, problems: list[str]) -> Any:
    """A config value as the CLI hands it over (scalars as text, lists and maps as JSON)."""
    kind = _kind(tp)
    if kind in ("a list", "a map"):
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            problems.append(f"{where}: must be {kind}, got {text!r}")
            return None
    elif kind == "a boolean":
        value = {"true": True, "false": False}.get(text.lower(), text)
    elif kind == "an integer":
        value = int(text) if re.fullmatch(r"-?\d+", text) else text
    else:
        value = text
    return _value(tp, value, where, problems)


# --- the stack's aws: keys -----------------------------------------------------------------------


def provider_settings(
    raw: Mapping[str, str], secret_keys: set[str] | frozenset[str]
) -> tuple[ProviderSettings, list[str]]:
    """The provider arguments the stack's `aws:` keys ask for, and every problem with them."""
    problems: list[str] = []
    fields = provider_fields()
    options: dict[str, Any] = {}
    secret: set[str] = set()
    default_tags: dict[str, str] = {}
    for key in sorted(raw):
        namespace, _, name = key.partition(":")
        if namespace != NAMESPACE or name in MANAGED:
            continue
        text = raw[key]
        if name not in fields:
            problems.append(_unknown(key, name, fields))
            continue
        py_name, tp = fields[name]
        if key in secret_keys:
            secret.add(py_name)
        elif name in CREDENTIALS:
            problems.append(
                f"{key}: is stored in plain text; set it with `pulumi config set --secret {key} ...`, "
                "or better use aws:profile or aws:assumeRoles"
            )
            continue
        if key in secret_keys and text == SECRET_PLACEHOLDER:
            options[py_name] = text  # read offline without the secrets provider: the type is unchecked
            continue
        value = _from_text(tp, text, key, problems)
        if value is None:
            continue
        problems.extend(_meaning_problems(key, name, value))
        if name == "defaultTags":
            default_tags = dict(value.get("tags") or {})
        else:
            options[py_name] = value
    if "allowed_account_ids" in options and "forbidden_account_ids" in options:
        problems.append(
            "aws:forbiddenAccountIds: is set with aws:allowedAccountIds, which the provider refuses "
            "(allowed: one of the two)"
        )
    skip = raw.get(f"{NAMESPACE}:skipRegionValidation", "").lower() == "true"
    for name in REGION_VALUED:
        if isinstance(options.get(fields[name][0]), str) and f"{NAMESPACE}:{name}" not in secret_keys:
            reason = region_problem(f"{NAMESPACE}:{name}", options[fields[name][0]], skip)
            if reason:
                problems.append(reason)
    settings = ProviderSettings(options=options, secret=frozenset(secret), default_tags=default_tags)
    return settings, problems


def _unknown(key: str, name: str, fields: Mapping[str, Any]) -> str:
    version = metadata.version("pulumi-aws")
    guess = difflib.get_close_matches(name, list(fields), n=1, cutoff=0.6)
    hint = f"; did you mean {NAMESPACE}:{guess[0]}?" if guess else ""
    if name == "assumeRole":
        hint = (
            f"; pulumi-aws {version.split('.')[0]} takes {NAMESPACE}:assumeRoles, a list of "
            "{roleArn, sessionName, externalId, ...}"
        )
    return (
        f"{key}: not a setting of the AWS provider (pulumi-aws {version}){hint} "
        f"(allowed: {', '.join(f'{NAMESPACE}:{n}' for n in sorted(fields))})"
    )


def _meaning_problems(key: str, name: str, value: Any) -> list[str]:
    """What the provider or AWS would refuse in a well-typed value."""
    problems = []
    if name in ("allowedAccountIds", "forbiddenAccountIds"):
        problems += [
            f"{key}: {v!r} is not an AWS account id (allowed: 12 digits)"
            for v in value
            if not ACCOUNT_ID.match(str(v))
        ]
    roles = value if name == "assumeRoles" else [value] if name == "assumeRoleWithWebIdentity" else []
    for index, role in enumerate(roles):
        arn = role.get("roleArn")
        if arn is not None and not ROLE_ARN.match(str(arn)):
            where = f"{key}[{index}]" if name == "assumeRoles" else key
            problems.append(
                f"{where}.roleArn: {arn!r} is not an IAM role ARN "
                "(allowed: arn:aws:iam::<account>:role/<name>)"
            )
    if name == "defaultTags":
        for tag in value.get("tags") or {}:
            if tag.lower().startswith("aws:"):
                problems.append(f"{key}: tag {tag!r} uses the reserved prefix aws:")
            elif not 1 <= len(tag) <= 128 or len(str(value["tags"][tag])) > 256:
                problems.append(f"{key}: tag {tag!r}: keys are 1-128 characters, values at most 256")
    return problems


def tag_conflicts(provider: ProviderSettings, tags: Mapping[str, str], own: Mapping[str, str]) -> list[str]:
    """aws:defaultTags and aws:ignoreTags against the tags the program sets on every resource.

    `tags` is what the program tags every resource with (the cluster's own tags in `own` win over
    presto-on-aws:tags): a default tag of the same key with another value would be silently
    overridden, and ignoring one of the program's own keys would keep it off resources the nodes and
    functions find the cluster by.
    """
    problems = []
    for tag, value in sorted(provider.default_tags.items()):
        if tag in tags and tags[tag] != value:
            source = "set by the program" if tag in own else "given in presto-on-aws:tags"
            problems.append(
                f"aws:defaultTags: tag {tag!r} is {value!r} here but {tags[tag]!r} {source}, which wins "
                "on every resource (give each tag in one place)"
            )
    ignore = provider.options.get("ignore_tags")
    if isinstance(ignore, Mapping):
        for tag in sorted(own):
            keys = ignore.get("keys") or []
            prefixes = [p for p in ignore.get("keyPrefixes") or [] if tag.startswith(str(p))]
            if tag in keys or prefixes:
                problems.append(
                    f"aws:ignoreTags: ignores {tag!r}, a tag the program sets on every resource "
                    "(the nodes and functions find the cluster by its tags); leave it out"
                )
    return problems
