"""`make plan STACK=<name>`: what `pulumi up` would create, printed on a machine without AWS.

It runs the real program function (components/program.py, the one `pulumi up` runs) under
Pulumi's mocks, with the stack's config loaded the way the CLI would load it, records every
resource the program declares (type, name, parent, inputs, dependencies: tools/plan/mocks.py) and prints the
component tree, a count by type and the security posture read from that same graph (tools/plan/report.py).
Then every AWS request the graph implies is checked against botocore's service models and the
documented limits they lack (tools/plan/aws_check/table.py). A bad stack file, or a request AWS would
refuse, prints the whole list of problems and exits 2; no traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from components.lambdas.packaging import PackagingError
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
    try:
        plan = run_program(options.stack, dict(options.overrides))
    except ConfigError as error:
        print(str(error), file=sys.stderr)
        return 2
    except PackagingError as error:
        print(f"cannot package a function: {error}", file=sys.stderr)
        return 2
    refused = request_problems(plan.resources)
    if refused:
        lines = "\n".join(f"  - {p}" for p in refused)
        print(
            f"stack {options.stack!r}: AWS would refuse {len(refused)} request(s):\n{lines}", file=sys.stderr
        )
        return 2
    print(render(plan, verbose=options.verbose))
    return 0


if __name__ == "__main__":
    sys.exit(main())
