"""Stack files read the way the Pulumi CLI reads them, so `make plan` sees the values `pulumi up` sees.

The CLI (sdk/go/common/workspace/loaders.go, LoadProjectStackBytes) decodes Pulumi.<stack>.yaml
with gopkg.in/yaml.v2 into plain Go values, writes them back out and decodes the config values
again. yaml.v2 resolves scalars by YAML 1.1 rules, which differ from PyYAML's in ways that change
a setting:
- booleans: y, Y, yes, on, n, no, off (any of the spellings yaml.v2 lists) are booleans, so
  `tls: yes` reaches the program as "true"; PyYAML does not know y / n;
- numbers: an integer is anything Go's strconv.ParseInt(text, 0, 64) accepts after removing
  underscores (0x1f, 0o17, 0b101, 017 octal), a float anything matching yaml.v2's float pattern
  (1e3 is 1000 there, a string in PyYAML); a float that is whole prints without a fraction
  (`5.0` reaches the program as "5");
- timestamps and sexagesimal numbers (`1:30`) stay text.
yaml.v2 keeps the last of two equal keys without a word (it refuses them only in strict mode,
which the CLI does not use). A repeated key is almost always an edit gone wrong and one of the two
values is silently lost, so here it is refused, naming the key and both lines: stricter than the
CLI, never laxer.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

import yaml

_BOOLEANS = {
    **dict.fromkeys(("y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"), True),
    **dict.fromkeys(("n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"), False),
}
_NULLS = ("", "~", "null", "Null", "NULL")
_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
_GO_INT = re.compile(r"^[-+]?(0[xX][0-9a-fA-F]+|0[oO]?[0-7]+|0[bB][01]+|[1-9][0-9]*|0)$")
_BOOL_TAG = "tag:yaml.org,2002:bool"
_NULL_TAG = "tag:yaml.org,2002:null"
_NUMBER_TAG = "!pulumi-cli-number"  # a plain scalar that yaml.v2 may read as a number
INT64 = (-(2**63), 2**63 - 1)


class DuplicateKeyError(yaml.MarkedYAMLError):
    """A mapping names the same key twice."""

    def __init__(self, key: object, first: yaml.Mark, again: yaml.Mark) -> None:
        super().__init__(problem_mark=again)
        self.key = key
        self.first_line = first.line + 1
        self.again_line = again.line + 1

    def __str__(self) -> str:
        return (
            f"key {self.key!r} is given twice (lines {self.first_line} and {self.again_line}); the Pulumi "
            "CLI would silently keep only the last value: keep one"
        )


def go_int(text: str) -> int | None:
    """The value of strconv.ParseInt(text, 0, 64), or None where Go refuses the text."""
    if not _GO_INT.match(text):
        return None
    sign = -1 if text.startswith("-") else 1
    digits = text.lstrip("+-")
    lowered = digits.lower()
    if lowered.startswith("0x"):
        value = int(lowered[2:], 16)
    elif lowered.startswith("0b"):
        value = int(lowered[2:], 2)
    elif lowered.startswith("0o"):
        value = int(lowered[2:], 8)
    elif len(digits) > 1 and digits.startswith("0"):
        value = int(digits[1:], 8)
    else:
        value = int(digits)
    value *= sign
    return value if INT64[0] <= value <= INT64[1] else None


def go_number(text: str) -> int | float | str:
    """What yaml.v2 makes of a plain scalar that starts like a number (resolve.go)."""
    plain = text.replace("_", "")
    integer = go_int(plain)
    if integer is not None:
        return integer
    if _FLOAT.match(plain) and abs(float(plain)) != float("inf"):  # Go refuses an overflow: text
        return float(plain)
    return text


def go_value(value: Any) -> Any:
    """The value after the CLI's decode, re-encode and decode: a whole float becomes an integer
    (yaml.v2 writes float64(5) as `5`, which reads back as an int), at any depth."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return int(value)
    if isinstance(value, dict):
        return {k: go_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [go_value(v) for v in value]
    return value


def go_text(value: Any) -> str:
    """A scalar as the CLI hands it to the program (booleans lowercase, `5.0` as 5)."""
    value = go_value(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class PulumiCliLoader(yaml.SafeLoader):
    """PyYAML's safe loader with yaml.v2's scalar rules and a refusal of repeated keys."""

    yaml_implicit_resolvers: ClassVar[dict[str, list[tuple[str, re.Pattern[str]]]]] = {}

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, yaml.Node] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise DuplicateKeyError(key, seen[key].start_mark, key_node.start_mark)
            seen[key] = key_node
        return super().construct_mapping(node, deep=deep)


def _construct_bool(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> bool:
    return _BOOLEANS[loader.construct_scalar(node)]


def _construct_number(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int | float | str:
    return go_number(str(loader.construct_scalar(node)))


PulumiCliLoader.add_implicit_resolver(
    _BOOL_TAG, re.compile("^(?:" + "|".join(_BOOLEANS) + ")$"), list("yYnNtTfFoO")
)
PulumiCliLoader.add_implicit_resolver(_NULL_TAG, re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""])
PulumiCliLoader.add_implicit_resolver(_NUMBER_TAG, re.compile(r"^[-+0-9.]"), list("-+0123456789."))
PulumiCliLoader.add_implicit_resolver("tag:yaml.org,2002:merge", re.compile(r"^(?:<<)$"), ["<"])
PulumiCliLoader.add_constructor(_BOOL_TAG, _construct_bool)
PulumiCliLoader.add_constructor(_NUMBER_TAG, _construct_number)


def load(text: str) -> Any:
    """The document as the Pulumi CLI decodes it; raises yaml.YAMLError (DuplicateKeyError too)."""
    return go_value(yaml.load(text, Loader=PulumiCliLoader))
