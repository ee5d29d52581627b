"""What `make plan`'s checks cost: the parse (with both roles rendered), the program under mocks,
and the AWS request check (cold: botocore loads its service models; warm: models cached).

    .venv/bin/python bench/plan_checks.py [--stack prod] [--runs 3]     (or: make bench)

Prints seconds per step (best of the runs) and how many requests were checked.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


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
    sys.path.insert(0, str(ROOT))  # run as a script by `make bench`: the project's modules
    from components import settings_render
    from components.aws_request_check import operation_model, request_problems
    from components.aws_requests import requests_of
    from components.stack_file import load_stack_settings
    from plan import run_program

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
