"""One JSON object per log line, for the agent log that the CloudWatch agent ships.

CloudWatch Logs Insights parses JSON lines into fields, so `level`, `component` and `message` can
be filtered on without regular expressions. Exceptions travel in `error` on the same line.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime


class JsonFormatter(logging.Formatter):
    def __init__(self, component: str) -> None:
        super().__init__()
        self.component = component

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "component": self.component,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, sort_keys=True)


def configure(component: str, level: int = logging.INFO) -> None:
    """Send every log record of this process to stderr as JSON lines (systemd appends them)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter(component))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
