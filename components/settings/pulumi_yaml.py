"""Stack files decoded the way the Pulumi CLI decodes them, so `make plan` sees what `pulumi up` sees.

The CLI (sdk/v3/go/common/workspace/loaders.go, LoadProjectStackBytes) decodes Pulumi.<stack>.yaml
with gopkg.in/yaml.v3 into plain Go values, writes them back out and decodes the config again.
yaml.v3 resolves plain scalars by rules (resolve.go) that differ from PyYAML's YAML 1.1 ones in
ways that change a setting:
- booleans are only true/True/TRUE and false/False/FALSE: `yes`, `on`, `y`, `off` stay text;
- an integer is what Go's strconv.ParseInt(text, 0, 64) (then ParseUint) accepts after removing
  underscores (0x1f, 0o17, 0b101, and 017 octal as in YAML 1.1); a float what matches yaml.v3's
  float pattern (1e3 is a number there, a string in PyYAML); an overflowing float is text;
- `.inf` and `.nan` are floats, which the CLI then fails to write as JSON: the stack is refused;
- a plain date or date-time (2026-12-06, 2026-12-06T10:00:00Z) becomes a Go time.Time, which the
  program receives as Go prints it ("2026-12-06 00:00:00 +0000 UTC");
- a map key that is not text is printed with Go's %v (`null` -> "<nil>", `010` -> "8");
- two keys spelled alike in one map are refused (yaml.v3's own check, by text, so `1` and '1'
  clash while `true` and `True` do not: the latter collapse to one key and the last wins).
tests/integration/test_stack_loader.py checks all of this against the SDK's own loader
(tools/pulumi_loader). The local zone is taken as UTC, as on CI (Go names an offset that matches
the machine's zone after that zone).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from typing import Any

import yaml

_PLAIN = "!pulumi-cli-plain"  # every untagged plain scalar: resolved here, yaml.v3's way
_STR_TAGS = {"tag:yaml.org,2002:str", "tag:yaml.org,2002:binary"}
_TYPED_TAGS = {f"tag:yaml.org,2002:{t}": t for t in ("bool", "null", "int", "float", "timestamp")}
_SPECIAL: dict[str, Any] = {
    **dict.fromkeys(("true", "True", "TRUE"), True),
    **dict.fromkeys(("false", "False", "FALSE"), False),
    **dict.fromkeys(("", "~", "null", "Null", "NULL"), None),
    **dict.fromkeys((".nan", ".NaN", ".NAN"), float("nan")),
    **dict.fromkeys((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), float("inf")),
    **dict.fromkeys(("-.inf", "-.Inf", "-.INF"), float("-inf")),
}
_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
_GO_INT = re.compile(r"^[-+]?(0[xX][0-9a-fA-F]+|0[oO]?[0-7]+|0[bB][01]+|[1-9][0-9]*|0)$")
_DOT_FLOAT = re.compile(r"^\.[0-9]+([eE][-+]?[0-9]+)?$")  # what ParseFloat takes of a leading '.'
_DATE = r"(?P<y>[0-9]{4})-(?P<mo>[0-9]{1,2})-(?P<d>[0-9]{1,2})"
_CLOCK = r"(?P<h>[0-9]{1,2}):(?P<mi>[0-9]{1,2}):(?P<s>[0-9]{1,2})(?:[.,](?P<f>[0-9]+))?"
_TIMESTAMPS = (  # yaml.v3's allowedTimestampFormats, as Go's time.Parse reads them
    re.compile(rf"^{_DATE}[Tt]{_CLOCK}(?P<z>Z|[-+][0-9]{{2}}:[0-9]{{2}})$"),
    re.compile(rf"^{_DATE} {_CLOCK}$"),
    re.compile(rf"^{_DATE}$"),
)
INT64 = (-(2**63), 2**63 - 1)
UINT64_MAX = 2**64 - 1


class LoadError(yaml.YAMLError):
    """The CLI refuses the file (a message naming where, in the words of this reader)."""


class DuplicateKeyError(LoadError):
    """A mapping names the same key twice (yaml.v3 refuses it: "mapping key already defined")."""

    def __init__(self, key: str, first: yaml.Mark, again: yaml.Mark) -> None:
        super().__init__()
        self.key = key
        self.first_line = first.line + 1
        self.again_line = again.line + 1

    def __str__(self) -> str:
        return (
            f"key {self.key!r} is given twice (lines {self.first_line} and {self.again_line}); the Pulumi "
            "CLI refuses the file: keep one"
        )


@dataclass(frozen=True)
class GoTime:
    """A plain timestamp, kept as the text Go's time.Time.String() gives the program."""

    text: str


def go_int(text: str) -> int | None:
    """strconv.ParseInt(text, 0, 64), then ParseUint(text, 0, 64); None where Go refuses both."""
    if not _GO_INT.match(text):
        return None
    sign = -1 if text.startswith("-") else 1
    digits = text.lstrip("+-").lower()
    if digits.startswith(("0x", "0b", "0o")):
        value = int(digits[2:], {"x": 16, "b": 2, "o": 8}[digits[1]])
    elif len(digits) > 1 and digits.startswith("0"):
        value = int(digits[1:], 8)
    else:
        value = int(digits)
    value *= sign
    if INT64[0] <= value <= INT64[1] or (text[0] != "+" and 0 <= value <= UINT64_MAX):
        return value
    return None


def _finite_float(text: str) -> float | None:
    value = float(text)
    return None if value in (float("inf"), float("-inf")) else value  # Go: ErrRange, so text


def go_time(text: str) -> GoTime | None:
    """yaml.v3's parseTimestamp, printed as time.Time.String(); None where it is not a timestamp."""
    for pattern in _TIMESTAMPS:
        match = pattern.match(text)
        if match:
            break
    else:
        return None
    part = {k: int(v) for k, v in match.groupdict().items() if v is not None and k not in ("f", "z")}
    year, month, day = part["y"], part["mo"], part["d"]
    hour, minute, second = part.get("h", 0), part.get("mi", 0), part.get("s", 0)
    if not (1 <= month <= 12 and 1 <= day <= calendar.monthrange(year, month)[1]):
        return None
    if hour > 23 or minute > 59 or second > 59:
        return None
    nanos = (match.groupdict().get("f") or "")[:9].ljust(9, "0")
    zone = match.groupdict().get("z") or "Z"
    offset = 0 if zone == "Z" else (int(zone[1:3]) * 60 + int(zone[4:6])) * (-1 if zone[0] == "-" else 1)
    if zone != "Z" and (int(zone[1:3]) > 24 or int(zone[4:6]) > 60):
        return None
    fraction = "." + nanos.rstrip("0") if nanos.strip("0") else ""
    sign = "-" if offset < 0 else "+"
    numeric = f"{sign}{abs(offset) // 60:02d}{abs(offset) % 60:02d}"
    name = "UTC" if offset == 0 else numeric
    return GoTime(
        f"{year:04d}-{month:02d}-{day:02d} {hour:02d}:{minute:02d}:{second:02d}{fraction} {numeric} {name}"
    )


def resolve_plain(text: str) -> Any:
    """What yaml.v3's resolve() makes of an untagged plain scalar."""
    if text in _SPECIAL:
        return _SPECIAL[text]
    if text.startswith("."):
        return _finite_float(text) if _DOT_FLOAT.match(text) else text
    if not text or text[0] not in "+-0123456789":
        return text
    stamp = go_time(text)
    if stamp is not None:
        return stamp
    plain = text.replace("_", "")
    number = go_int(plain)
    if number is not None:
        return number
    if _FLOAT.match(plain):
        value = _finite_float(plain)
        return text if value is None else value
    return text


def go_key(value: Any) -> str:
    """A map key as the CLI ends up spelling it (Go's %v of the decoded key)."""
    from components.settings.go_json import go_format_v

    return go_format_v(value)


class _Composer(yaml.SafeLoader):
    """PyYAML's parser, tagging every untagged plain scalar for resolve_plain()."""


_Composer.yaml_implicit_resolvers = {}  # its own table: none of SafeLoader's resolvers apply
_Composer.add_implicit_resolver(_PLAIN, re.compile(r"(?s).*"), None)


def _construct(node: yaml.Node, parents: tuple[int, ...] = ()) -> Any:
    if id(node) in parents:
        raise LoadError(f"line {node.start_mark.line + 1}: an alias refers to its own parent")
    if isinstance(node, yaml.ScalarNode):
        return _scalar(node)
    inner = (*parents, id(node))
    if isinstance(node, yaml.SequenceNode):
        return [_construct(item, inner) for item in node.value]
    if isinstance(node, yaml.MappingNode):
        return _mapping(node, inner)
    raise LoadError(f"line {node.start_mark.line + 1}: unsupported node")


def _scalar(node: yaml.ScalarNode) -> Any:
    if node.tag == _PLAIN:
        return resolve_plain(node.value)
    if node.tag in _STR_TAGS:
        return node.value
    kind = _TYPED_TAGS.get(node.tag)
    if kind is None:
        raise LoadError(f"line {node.start_mark.line + 1}: tag {node.tag} is not read here")
    value = resolve_plain(node.value)
    ok = {
        "bool": isinstance(value, bool),
        "null": value is None,
        "int": isinstance(value, int) and not isinstance(value, bool),
        "float": isinstance(value, int | float) and not isinstance(value, bool),
        "timestamp": isinstance(value, GoTime),
    }[kind]
    if not ok:
        raise LoadError(f"line {node.start_mark.line + 1}: cannot decode {node.value!r} as a {kind}")
    return float(value) if kind == "float" else value


def _mapping(node: yaml.MappingNode, parents: tuple[int, ...]) -> dict[str, Any]:
    """A map, yaml.v3's way: keys unique by their text, merged `<<` maps never override a key."""
    seen: dict[tuple[str, str], yaml.Node] = {}
    for key_node, _ in node.value:
        spelling = (type(key_node).__name__, key_node.value if isinstance(key_node, yaml.ScalarNode) else "")
        if isinstance(key_node, yaml.ScalarNode) and spelling in seen:
            raise DuplicateKeyError(key_node.value, seen[spelling].start_mark, key_node.start_mark)
        seen[spelling] = key_node
    result: dict[str, Any] = {}
    merges: list[yaml.Node] = []
    for key_node, value_node in node.value:
        if isinstance(key_node, yaml.ScalarNode) and key_node.tag == _PLAIN and key_node.value == "<<":
            merges.append(value_node)
            continue
        key = _construct(key_node, parents)
        if isinstance(key, dict | list):
            raise LoadError(f"line {key_node.start_mark.line + 1}: a map key must be a scalar")
        result[go_key(key)] = _construct(value_node, parents)
    for merge in merges:
        sources = merge.value if isinstance(merge, yaml.SequenceNode) else [merge]
        for source in sources:
            if not isinstance(source, yaml.MappingNode):
                raise LoadError(f"line {source.start_mark.line + 1}: map merge requires a map")
            for key, value in _mapping(source, parents).items():
                result.setdefault(key, value)
    return result


def load(text: str) -> Any:
    """The document as the Pulumi CLI decodes it; raises yaml.YAMLError (LoadError, DuplicateKeyError)."""
    loader = _Composer(text)
    try:
        node = loader.get_single_node()
    finally:
        loader.dispose()
    return None if node is None else _construct(node)
