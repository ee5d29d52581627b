"""Config values turned into the text the Pulumi CLI hands the program, spelled as Go spells it.

A scalar reaches the program as text: a string as written, `true`/`false`, a number as Go's
encoding/json writes it, null as "". A map or list reaches it as Go's JSON (resource/config
object.go): keys sorted, no spaces, `<`, `>`, `&`, U+2028 and U+2029 escaped; and since the CLI
decodes that JSON again with json.Number, a nested integer past int64 turns into a float there.
A `{secure: ...}` anywhere makes the whole value secret, and reads here as a placeholder since the
stack's secrets provider is not at hand. `.inf` and `.nan` cannot be written as JSON: the CLI
refuses the file, and so does this module (NotJson).
"""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any

from components.settings.pulumi_yaml import INT64, GoTime

_HTML = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


class NotJson(ValueError):
    """A value the CLI cannot write as JSON (an infinite or NaN float)."""


def _scientific(value: float) -> str:
    """Go's shortest %e form: 1.5e+21, 1e-07 (at least two exponent digits)."""
    number = Decimal(repr(value)).normalize()
    digits = "".join(map(str, number.as_tuple().digits))
    exponent = number.adjusted()
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    sign = "-" if value < 0 else ""
    return f"{sign}{mantissa}e{'-' if exponent < 0 else '+'}{abs(exponent):02d}"


def _fixed(value: float) -> str:
    """Go's shortest %f form: the fewest digits that read back as the same float."""
    text = format(Decimal(repr(value)), "f")
    return text.removesuffix(".0") if "." in text else text


def go_float(value: float) -> str:
    """A float64 as Go's encoding/json writes it (%f, or %e past 1e21 and below 1e-6)."""
    if math.isnan(value) or math.isinf(value):
        raise NotJson(f"json: unsupported value: {value}")
    if value == 0:
        return "0"
    if 1e-6 <= abs(value) < 1e21:
        return _fixed(value)
    text = _scientific(value)
    return text.replace("e-0", "e-") if len(text.split("e-")[-1]) == 2 else text


def go_format_v(value: Any) -> str:
    """Go's fmt %v of a decoded YAML scalar (how a non-text map key ends up spelled)."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, GoTime):
        return value.text
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "+Inf" if value > 0 else "-Inf"
        if value == 0:
            return "0"
        exponent = Decimal(repr(value)).adjusted()
        return _fixed(value) if -4 <= exponent < 21 else _scientific(value)
    return str(value)


def _plain(value: Any, nested: bool) -> Any:
    """The value as JSON data the way the CLI holds it (a nested int past int64 is a float)."""
    if isinstance(value, GoTime):
        return value.text
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value if INT64[0] <= value <= INT64[1] or not nested else float(value)
    if isinstance(value, float):
        return value
    if isinstance(value, list):
        return [_plain(item, True) for item in value]
    if isinstance(value, dict):
        return {str(k): _plain(v, True) for k, v in value.items()}
    return str(value)


def _encode(data: Any) -> str:
    if isinstance(data, float):
        return go_float(data)
    if isinstance(data, bool) or data is None:
        return json.dumps(data)
    if isinstance(data, int):
        return str(data)
    if isinstance(data, str):
        text = json.dumps(data, ensure_ascii=False)
        return "".join(_HTML.get(c, c) for c in text)
    if isinstance(data, list):
        return "[" + ",".join(_encode(item) for item in data) + "]"
    items = sorted(data.items())
    return "{" + ",".join(f"{_encode(k)}:{_encode(v)}" for k, v in items) + "}"


def is_secure(value: Any) -> bool:
    """A `{secure: <ciphertext>}` map, as the CLI recognises one (isSecureValue)."""
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get("secure"), str)


def hide_secrets(value: Any, placeholder: str) -> tuple[Any, bool]:
    """The value with every secure map replaced by the placeholder, and whether there was one."""
    if is_secure(value):
        return placeholder, True
    if isinstance(value, list):
        pairs = [hide_secrets(item, placeholder) for item in value]
        return [v for v, _ in pairs], any(s for _, s in pairs)
    if isinstance(value, dict):
        done = {k: hide_secrets(v, placeholder) for k, v in value.items()}
        return {k: v for k, (v, _) in done.items()}, any(s for _, s in done.values())
    return value, False


def program_text(value: Any) -> str:
    """One config value as the program receives it (raises NotJson where the CLI would refuse)."""
    if isinstance(value, dict | list):
        return _encode(_plain(value, True))
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, GoTime):
        return value.text
    return _encode(_plain(value, False))
