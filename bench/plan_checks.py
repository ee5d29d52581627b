"""What `make plan`'s checks cost: the parse (with both roles rendered), the program under mocks,
and the AWS request check (cold: botocore loads its service models; warm: models cached).

    .venv/bin/python -m bench.plan_checks [--stack prod] [--runs 3]     (or: make bench)

Prints seconds per step (best of the runs) and how many requests were checked.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

from components.base import REPO_ROOT

ROOT = REPO_ROOT


def best(runs: int, step: Callable[[], Any]) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", default="prod")
    parser.add_argument("--runs", type=int, default=3)
    options = parser.parse_args()
    from components.settings import render_check as settings_render
    from components.settings.stack_file import load_stack_settings
    from tools.plan.aws_check.check import operation_model, request_problems
    from tools.plan.aws_check.table import requests_of
    from tools.plan.command import run_program

    settings = load_stack_settings(options.stack)
    plan = run_program(options.stack)
    requests, _ = requests_of(plan.resources)
    start = time.perf_counter()
    request_problems(plan.resources)
    cold = time.perf_counter() - start
    text = settings_render.planned_node_settings(settings).to_json()
    uncached = settings_render._render_problems_of.__wrapped__  # the render itself, every time
    rows = {
        "parse (render check cached)": best(options.runs, lambda: load_stack_settings(options.stack)),
        "render of both roles, uncached": best(options.runs, lambda: uncached(text)),
        "program under mocks": best(options.runs, lambda: run_program(options.stack)),
        "request check, cold (models load)": cold,
        "request check, warm": best(options.runs, lambda: request_problems(plan.resources)),
    }
    print(f"stack {options.stack}: {len(plan.resources)} resources, {len(requests)} requests checked")
    for label, seconds in rows.items():
        print(f"{label:36s} {seconds:.3f} s")
    print(f"botocore operation models loaded: {operation_model.cache_info().currsize}")


if __name__ == "__main__":
    main()
