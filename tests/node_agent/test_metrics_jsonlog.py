"""The agents' log lines are JSON objects (the agent log is shipped to CloudWatch Logs)."""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

from node_agent.jsonlog import JsonFormatter


def record(message: str, exc_info: Any = None) -> logging.LogRecord:
    return logging.LogRecord("node_agent.querylog.command", logging.ERROR, __file__, 1, message, (), exc_info)


def test_a_log_line_is_one_json_object_with_level_component_and_message() -> None:
    line = JsonFormatter("querylog").format(record("DROPPING query q1"))
    parsed = json.loads(line)
    assert "\n" not in line
    assert parsed["level"] == "ERROR"
    assert parsed["component"] == "querylog"
    assert parsed["message"] == "DROPPING query q1"


def test_an_exception_stays_on_the_same_line() -> None:
    try:
        raise ConnectionError("refused")
    except ConnectionError:
        line = JsonFormatter("metrics").format(record("failed", sys.exc_info()))
    assert "\n" not in line
    assert "ConnectionError: refused" in json.loads(line)["error"]
