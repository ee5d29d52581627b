"""`node-agent <command> [args]`: one entry point for the agent's systemd units.

Each command lives in its own module with `main(argv) -> int`; it is imported only when chosen,
so a unit that runs `lifecycle` never loads the metrics or query-log code.
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class Command:
    module: str  # whose main(argv) runs it: a package's `command` module, or a lone module
    what: str


COMMANDS = {
    "bootstrap": Command(
        "node_agent.bootstrap.command", "render Trino's etc/ for this instance (--check, --wait-ready)"
    ),
    "lifecycle": Command(
        "node_agent.lifecycle.command", "worker: drain Trino and complete the termination lifecycle action"
    ),
    "metrics": Command(
        "node_agent.metrics.command", "Trino metrics on a Prometheus endpoint and to CloudWatch"
    ),
    "querylog": Command(
        "node_agent.querylog.command", "receive Trino's query events, spool them, ship them to Elasticsearch"
    ),
    "heapdumps": Command(
        "node_agent.heapdumps", "before Trino starts: keep the newest heap dump, delete older ones"
    ),
}


def usage() -> str:
    lines = ["usage: node-agent <command> [args]", "", "commands:"]
    lines += [f"  {name:<10} {command.what}" for name, command in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help"):
        print(usage())
        return 0 if args else 2
    command, rest = args[0], args[1:]
    if command not in COMMANDS:
        print(f"node-agent: unknown command {command!r} (allowed: {', '.join(COMMANDS)})", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[command].module)
    return int(module.main(rest))


if __name__ == "__main__":
    sys.exit(main())
