"""`python -m tools.plan --stack dev`: what `make plan` runs (tools/plan/command.py)."""

import sys

from tools.plan.command import main

sys.exit(main())
