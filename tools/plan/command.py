"""`make plan STACK=<name>`: what `pulumi up` would create, printed on a machine without AWS.

It runs the real program function (components/program.py, the one `pulumi up` runs) under
Pulumi's mocks, with the stack's config loaded the way the CLI would load it, records every
resource the program declares (type, name, parent, inputs, dependencies: tools/plan/mocks.py) and prints the
component tree, a count by type and the security posture read from that same graph (tools/plan/report.py).
Then every AWS request the graph implies is checked against botocore's service models and the
documented limits they lack (tools/plan/aws_check/table.py). A bad stack file, or a request AWS would
refuse, prints the whole list of problems and exits 2; no traceback. Both kinds come in one run:
with config problems, the requests are checked on the same stack with each refused key at its
default (a required one at its documented example), and the output says which keys stood in.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence

import yaml

from components.lambdas.packaging import PackagingError
from components.settings.keys import KNOWN, PROJECT
from components.settings.model import ConfigError
from tools.plan.aws_check.check import request_problems
from tools.plan.mocks import run_program
from tools.plan.report import render


def _override(text: str) -> tuple[str, object]:
    key, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"--set wants key=value, got {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", default="dev", help="stack name: reads Pulumi.<stack>.yaml")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        type=_override,
        default=[],
        metavar="KEY=VALUE",
        help="override one config key (JSON values allowed)",
    )
    parser.add_argument("--verbose", action="store_true", help="also print the Trino files each role renders")
    options = parser.parse_args(argv)
    overrides = dict(options.overrides)
    try:
        plan = run_program(options.stack, overrides)
    except ConfigError as error:
        print(str(error), file=sys.stderr)
        print(requests_despite(options.stack, overrides, error), file=sys.stderr)
        return 2
    except PackagingError as error:
        print(f"cannot package a function: {error}", file=sys.stderr)
        return 2
    refused = request_problems(plan.resources)
    if refused:
        print(refusals(options.stack, refused), file=sys.stderr)
        return 2
    print(render(plan, verbose=options.verbose))
    return 0


def refusals(stack: str, refused: Sequence[str], checked_with: str = "") -> str:
    lines = "\n".join(f"  - {p}" for p in refused)
    return f"stack {stack!r}: AWS would refuse {len(refused)} request(s){checked_with}:\n{lines}"


def problem_keys(problems: Sequence[str]) -> list[str]:
    """The config key each problem names (each starts `<namespace>:<key>: `), once each."""
    keys: list[str] = []
    for problem in problems:
        key = problem.split(": ", 1)[0]
        if ":" in key and " " not in key and key not in keys:
            keys.append(key)
    return keys


def stand_in(key: str) -> object:
    """What a refused key is checked with: dropped, so its default applies; a required key's
    example from the key table; the region, STAND_IN_REGION."""
    namespace, _, name = key.partition(":")
    if key == "aws:region":
        return STAND_IN_REGION
    known = KNOWN.get(name) if namespace == PROJECT else None
    if known is None or known.default != "required":
        return None
    return yaml.safe_load(known.example)


STAND_IN_REGION = "us-east-1"
STAND_IN_ROUNDS = 3  # a stand-in can expose a problem of a key that depends on it (min <= max)


def requests_despite(stack: str, overrides: Mapping[str, object], error: ConfigError) -> str:
    """The AWS-request check of the same stack with every refused key stood in for (stand_in()),
    so one `make plan` reports both kinds of problem rather than the second after a fix."""
    stood_in: dict[str, object] = {}
    problems = error.problems
    for _ in range(STAND_IN_ROUNDS):
        new = [key for key in problem_keys(problems) if key not in stood_in]
        if not new:
            return "AWS requests not checked: a problem above names no config key to stand in for"
        stood_in.update({key: stand_in(key) for key in new})
        try:
            plan = run_program(stack, {**overrides, **stood_in})
        except ConfigError as again:
            problems = again.problems
            continue
        except PackagingError as failed:
            return f"AWS requests not checked: cannot package a function: {failed}"
        refused = request_problems(plan.resources)
        shown = ", ".join(f"{k}={'default' if v is None else v}" for k, v in stood_in.items())
        if refused:
            return refusals(stack, refused, f" (checked with {shown})")
        return f"AWS requests: none refused (checked with {shown})"
    return f"AWS requests not checked: the stack does not parse after {STAND_IN_ROUNDS} rounds of stand-ins"


if __name__ == "__main__":
    sys.exit(main())
