"""The two doors to `parse()`: the running stack's config under Pulumi, and a stack file read
offline exactly as the Pulumi CLI would hand it to the program.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pulumi
import yaml

from components.base import REPO_ROOT
from components.settings import go_json, pulumi_yaml
from components.settings.keys import PROJECT
from components.settings.model import SECRET_PLACEHOLDER, ClusterSettings, ConfigError, SecretText
from components.settings.parse import parse
from components.settings.reader import full_key, scalar_text


def raw_from_pulumi() -> tuple[dict[str, str], set[str]]:
    """Every config value of the running stack, as the engine handed it to the program."""
    from pulumi.runtime import config as runtime_config

    raw = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    secret = set(runtime_config.get_config_secret_keys_env()) | {
        k for k in raw if pulumi.runtime.is_config_secret(k)
    }
    return {key: scalar_text(value) for key, value in raw.items()}, secret


def settings_from_pulumi() -> ClusterSettings:
    """The settings of the stack being deployed (under `pulumi up`, preview or the mocks)."""
    raw, secret = raw_from_pulumi()
    return parse(pulumi.get_stack(), raw, secret)


def config_key(key: str) -> str:
    """A stack-file config key as the CLI names it: namespaced with the project when bare, and
    `ns:config:name` shortened to `ns:name` (config.ParseKey); any other shape is refused."""
    if ":" not in key:
        return f"{PROJECT}:{key}"
    parts = key.split(":")
    if len(parts) == 2:
        return key
    if len(parts) == 3 and parts[1] == "config" and parts[0] and parts[2]:
        return f"{parts[0]}:{parts[2]}"
    raise ValueError(
        f"could not parse {key} as a configuration key (configuration keys should be of the form "
        "`<namespace>:<name>`)"
    )


def read_stack_file(
    stack: str, overrides: Mapping[str, object] | None = None, root: Path = REPO_ROOT
) -> tuple[dict[str, str], set[str]]:
    """Pulumi.<stack>.yaml as the CLI would hand it to the program, plus the secret keys.

    `overrides` (short or full keys) replace file values; a `secure:` value, which needs the
    stack's secrets provider to decrypt, reads as a placeholder (inside a map or list too, which
    makes the whole value secret, as in the CLI). An override of None drops the key.
    """
    path = root / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        stacks = sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in root.glob("Pulumi.*.yaml"))
        raise ConfigError(stack, [f"no stack file {path.name} (stacks here: {', '.join(stacks) or 'none'})"])
    try:
        document = pulumi_yaml.load(path.read_text(encoding="utf-8-sig"))
    except pulumi_yaml.DuplicateKeyError as exc:
        raise ConfigError(stack, [f"{path.name}: {exc}"]) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(stack, [f"{path.name} is not valid YAML: {exc}"]) from exc
    if document is not None and not isinstance(document, dict):
        raise ConfigError(stack, [f"{path.name}: the file must be a map (config:, encryptionsalt:, ...)"])
    config = (document or {}).get("config") or {}
    if not isinstance(config, dict):
        raise ConfigError(stack, [f"{path.name}: `config` must be a map of key -> value"])
    raw: dict[str, str] = {}
    secret: set[str] = set()
    try:
        for file_key, value in config.items():
            key = config_key(file_key)
            shown, hidden = go_json.hide_secrets(value, SECRET_PLACEHOLDER)
            raw[key] = go_json.program_text(shown)
            if hidden:
                secret.add(key)
    except (ValueError, go_json.NotJson) as exc:
        raise ConfigError(stack, [f"{path.name}: {exc}"]) from exc
    for short, value in (overrides or {}).items():
        key = full_key(short)
        secret.discard(key)
        if value is None:  # an override of None drops the file's value
            raw.pop(key, None)
        elif isinstance(value, SecretText):
            raw[key] = value.value
            secret.add(key)
        else:
            raw[key] = go_json.program_text(value)
    return raw, secret


def load_stack_settings(
    stack: str, overrides: Mapping[str, object] | None = None, root: Path = REPO_ROOT
) -> ClusterSettings:
    """Pulumi.<stack>.yaml parsed offline exactly as `pulumi up` would parse it."""
    raw, secret = read_stack_file(stack, overrides, root)
    return parse(stack, raw, secret)
