"""`python -m node_agent <command>`: the same entry point as the installed `node-agent` script."""

import sys

from node_agent.cli import main

if __name__ == "__main__":  # not when a walk over the package imports it
    sys.exit(main())
