"""The stack file means what the Pulumi CLI (gopkg.in/yaml.v3) makes of it, and the
values that round-trip through it come back unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest

from components.settings import pulumi_yaml
from components.settings.model import ConfigError
from components.settings.parse import parse
from components.settings.stack_file import load_stack_settings, read_stack_file
from tests.unit.stack_config import raw_with

BASE = """config:
  aws:region: eu-west-1
  presto-on-aws:environment: test
  presto-on-aws:vpcId: vpc-0a1b2c3d
  presto-on-aws:coordinatorSubnetId: subnet-0a1b2c3d
  presto-on-aws:workerSubnetIds: [subnet-0a1b2c3d]
"""


def stack(tmp_path: Path, extra: str) -> Path:
    (tmp_path / "Pulumi.s.yaml").write_text(BASE + extra)
    return tmp_path


@pytest.mark.parametrize("text", ["yes", "on", "ON", "y", "Y", "off", "no", "n"])
def test_yes_no_on_off_y_stay_text_as_yaml_v3_reads_them(tmp_path: Path, text: str) -> None:
    raw, _ = read_stack_file("s", root=stack(tmp_path, f"  presto-on-aws:spillEnabled: {text}\n"))
    assert raw["presto-on-aws:spillEnabled"] == text


@pytest.mark.parametrize("text", ["true", "True", "TRUE"])
def test_true_spellings_of_yaml_v3_are_booleans(tmp_path: Path, text: str) -> None:
    raw, _ = read_stack_file("s", root=stack(tmp_path, f"  presto-on-aws:spillEnabled: {text}\n"))
    assert raw["presto-on-aws:spillEnabled"] == "true"


def test_quoted_yes_stays_text_and_is_refused_as_a_boolean(tmp_path: Path) -> None:
    root = stack(tmp_path, "  presto-on-aws:tls: 'yes'\n")
    with pytest.raises(ConfigError) as caught:
        load_stack_settings("s", root=root)
    assert any("presto-on-aws:tls: 'yes' is not a boolean" in p for p in caught.value.problems)


def test_whole_float_reaches_the_program_as_an_integer(tmp_path: Path) -> None:
    root = stack(tmp_path, "  presto-on-aws:tls: false\n  presto-on-aws:workerMaxSize: 6.0\n")
    assert load_stack_settings("s", root=root).workers.max_size == 6


def test_exponent_without_a_dot_is_a_number_as_in_yaml_v3(tmp_path: Path) -> None:
    root = stack(tmp_path, "  presto-on-aws:tls: false\n  presto-on-aws:rootVolumeSizeGb: 1e3\n")
    assert load_stack_settings("s", root=root).volume.size_gb == 1000


def test_nested_on_in_a_catalog_stays_text_and_floats_print_whole(tmp_path: Path) -> None:
    root = stack(
        tmp_path,
        "  presto-on-aws:tls: false\n  presto-on-aws:catalogs:\n    m:\n      connector.name: memory\n"
        "      memory.enable-lazy-dynamic-filtering: on\n      memory.splits-per-node: 2.0\n",
    )
    catalogs = load_stack_settings("s", root=root).trino.catalogs
    assert catalogs["m"]["memory.enable-lazy-dynamic-filtering"] == "on"
    assert catalogs["m"]["memory.splits-per-node"] == "2"


def test_duplicate_key_is_refused_naming_the_key_and_both_lines(tmp_path: Path) -> None:
    root = stack(tmp_path, "  presto-on-aws:workerMaxSize: 4\n  presto-on-aws:workerMaxSize: 40\n")
    with pytest.raises(ConfigError) as caught:
        read_stack_file("s", root=root)
    message = str(caught.value)
    assert "'presto-on-aws:workerMaxSize'" in message
    assert "(lines 7 and 8)" in message


def test_duplicate_key_inside_a_catalog_is_refused(tmp_path: Path) -> None:
    root = stack(
        tmp_path,
        "  presto-on-aws:catalogs:\n    m:\n      connector.name: memory\n      connector.name: tpch\n",
    )
    with pytest.raises(ConfigError, match=r"'connector\.name'"):
        read_stack_file("s", root=root)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0x1f", 31),
        ("017", 15),
        ("0o17", 15),
        ("0b101", 5),
        ("1_000", 1000),
        ("-3", -3),
        ("1.5", 1.5),
        ("08", 8.0),
        ("1e3", 1000.0),
        ("9223372036854775808", 2**63),
    ],
)
def test_numbers_follow_go_parse_int_and_yaml_v3_floats(text: str, value: object) -> None:
    assert pulumi_yaml.resolve_plain(text) == value


@pytest.mark.parametrize("text", ["1:30", "1.2.3", "1e400", "2026-02-30", "2001-12-14 21:59:43.10 -5"])
def test_text_that_yaml_v3_does_not_read_as_a_number_or_date_stays_text(text: str) -> None:
    assert pulumi_yaml.load(f"k: {text}")["k"] == text


def test_ipv6_elasticsearch_url_round_trips() -> None:
    raw = raw_with({"elasticsearchUrl": "https://[fd00::10]:9243"})
    first = parse("s", raw).elasticsearch
    assert first is not None and first.url == "https://[fd00::10]:9243"
    again = parse("s", {**raw, "presto-on-aws:elasticsearchUrl": first.url}).elasticsearch
    assert again == first
