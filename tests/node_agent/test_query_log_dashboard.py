"""dashboards/querylog.ndjson is an importable saved-objects file (Kibana and OpenSearch Dashboards:
NDJSON, one object per line) whose every field exists in the index mapping the agent puts, with a
type that can do what the dashboard asks of it."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from components.base import REPO_ROOT
from node_agent.querylog.store.base import mapping

FILE = REPO_ROOT / "dashboards" / "querylog.ndjson"
AGGREGATABLE = {"keyword", "date", "double", "long", "integer"}
NUMERIC = {"double", "long", "integer"}


def objects() -> list[dict[str, Any]]:
    return [json.loads(line) for line in FILE.read_text().splitlines() if line.strip()]


def field_types() -> dict[str, str]:
    """Every field a search can name: top-level properties and their multi-fields (`query.keyword`)."""
    types: dict[str, str] = {}
    for name, spec in mapping()["properties"].items():
        types[name] = spec["type"]
        for sub, sub_spec in spec.get("fields", {}).items():
            types[f"{name}.{sub}"] = sub_spec["type"]
    return types


def visualizations() -> list[dict[str, Any]]:
    return [o for o in objects() if o["type"] == "visualization"]


def test_every_line_is_a_saved_object_with_type_id_attributes_and_references() -> None:
    found = objects()
    assert found, "empty file"
    for o in found:
        assert o["type"] in {"index-pattern", "visualization", "dashboard"}, o["type"]
        assert isinstance(o["id"], str) and o["id"]
        assert isinstance(o["attributes"]["title"], str)
        assert isinstance(o["references"], list)
    assert len({o["id"] for o in found}) == len(found)


def test_every_reference_points_to_an_object_of_that_type_in_the_file() -> None:
    present = {(o["type"], o["id"]) for o in objects()}
    for o in objects():
        for ref in o["references"]:
            assert (ref["type"], ref["id"]) in present, f"{o['id']} refers to missing {ref}"


def test_the_index_pattern_matches_the_default_prefix_and_its_time_field_is_a_date() -> None:
    [pattern] = [o for o in objects() if o["type"] == "index-pattern"]
    assert pattern["attributes"]["title"] == "trino-queries-*"
    assert field_types()[pattern["attributes"]["timeFieldName"]] == "date"


def test_the_dashboard_shows_every_visualization_through_its_references() -> None:
    [dashboard] = [o for o in objects() if o["type"] == "dashboard"]
    panels = json.loads(dashboard["attributes"]["panelsJSON"])
    names = {ref["name"]: ref["id"] for ref in dashboard["references"]}
    assert {names[p["panelRefName"]] for p in panels} == {v["id"] for v in visualizations()}


def test_the_dashboard_has_the_panels_the_readme_promises() -> None:
    titles = {v["attributes"]["title"] for v in visualizations()}
    assert titles == {
        "Trino queries per minute",
        "Trino failed queries by error",
        "Trino slowest queries",
        "Trino top users",
        "Trino top sources",
        "Trino CPU and bytes per query",
    }


@pytest.mark.parametrize("vis", visualizations(), ids=lambda v: v["id"])
def test_every_aggregated_field_exists_in_the_mapping_with_a_type_that_aggregates(
    vis: dict[str, Any],
) -> None:
    types = field_types()
    state = json.loads(vis["attributes"]["visState"])
    for agg in state["aggs"]:
        field = agg["params"].get("field")
        if field is None:
            assert agg["type"] == "count"
            continue
        assert field in types, f"{vis['id']}: {field} is not in the agent's mapping"
        wanted = NUMERIC if agg["type"] in {"avg", "sum", "max", "min"} else AGGREGATABLE
        assert types[field] in wanted, f"{vis['id']}: {agg['type']} on {field} ({types[field]})"


@pytest.mark.parametrize("vis", visualizations(), ids=lambda v: v["id"])
def test_every_field_in_a_visualization_query_exists_in_the_mapping(vis: dict[str, Any]) -> None:
    source = json.loads(vis["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])
    assert source["indexRefName"] in {ref["name"] for ref in vis["references"]}
    for field in re.findall(r"([a-z_.]+)\s*:", source["query"]["query"]):
        assert field in field_types(), f"{vis['id']}: query names {field}, not in the mapping"
