"""One test per case where the real Pulumi loader (tools/pulumi_loader, gopkg.in/yaml.v3) showed
that our reader had differed: each asserts the text the CLI hands the program."""

from __future__ import annotations

from pathlib import Path

import pytest

from components.settings.model import SECRET_PLACEHOLDER, ConfigError
from components.settings.stack_file import read_stack_file


def read(tmp_path: Path, config: str) -> tuple[dict[str, str], set[str]]:
    (tmp_path / "Pulumi.s.yaml").write_text("config:\n" + config)
    return read_stack_file("s", root=tmp_path)


def refused(tmp_path: Path, text: str) -> str:
    (tmp_path / "Pulumi.s.yaml").write_text(text)
    with pytest.raises(ConfigError) as caught:
        read_stack_file("s", root=tmp_path)
    return str(caught.value)


def test_date_reaches_the_program_as_go_time_text(tmp_path: Path) -> None:
    raw, _ = read(tmp_path, "  p:a: 2026-12-06\n  p:b: 2026-12-06t10:00:00.50+02:00\n  p:c: '2026-12-06'\n")
    assert raw["p:a"] == "2026-12-06 00:00:00 +0000 UTC"
    assert raw["p:b"] == "2026-12-06 10:00:00.5 +0200 +0200"
    assert raw["p:c"] == "2026-12-06"


def test_inf_and_nan_are_refused_as_the_cli_cannot_write_them(tmp_path: Path) -> None:
    assert "unsupported value" in refused(tmp_path, "config:\n  p:a: .inf\n")
    assert "unsupported value" in refused(tmp_path, "config:\n  p:a: [.nan]\n")


def test_duplicate_keys_clash_by_their_text_quoted_or_not(tmp_path: Path) -> None:
    assert "given twice" in refused(tmp_path, "config:\n  p:a: {1: x, '1': y}\n")


def test_true_and_True_keys_collapse_and_the_last_wins(tmp_path: Path) -> None:
    raw, _ = read(tmp_path, "  p:a: {true: x, True: y}\n")
    assert raw["p:a"] == '{"true":"y"}'


def test_non_text_keys_are_spelled_as_go_prints_them(tmp_path: Path) -> None:
    raw, _ = read(tmp_path, "  p:a: {1.5: x, null: y, 010: z, yes: w}\n")
    assert raw["p:a"] == '{"1.5":"x","8":"z","\\u003cnil\\u003e":"y","yes":"w"}'


def test_merge_key_fills_in_without_overriding(tmp_path: Path) -> None:
    raw, _ = read(tmp_path, "  p:m: &m {k: 1, j: 0}\n  p:d:\n    <<: *m\n    k: 2\n")
    assert raw["p:d"] == '{"j":0,"k":2}'


def test_bare_key_is_namespaced_with_the_project(tmp_path: Path) -> None:
    raw, _ = read(tmp_path, "  a: 1\n  p:config:b: 2\n")
    assert raw == {"presto-on-aws:a": "1", "p:b": "2"}


def test_key_with_three_parts_is_refused(tmp_path: Path) -> None:
    assert "configuration key" in refused(tmp_path, "config:\n  p:x:y: 1\n")


def test_empty_value_reaches_the_program_as_empty_text(tmp_path: Path) -> None:
    raw, _ = read(tmp_path, "  p:a:\n  p:b: ~\n")
    assert raw == {"p:a": "", "p:b": ""}


def test_secure_inside_a_map_makes_the_whole_value_secret(tmp_path: Path) -> None:
    raw, secret = read(tmp_path, "  p:b:\n    k:\n      secure: AAAB\n    n: 1\n  p:c: {secure: x, n: 1}\n")
    assert raw["p:b"] == f'{{"k":"{SECRET_PLACEHOLDER}","n":1}}'
    assert secret == {"p:b"}


def test_structured_values_are_go_json_sorted_compact_html_escaped(tmp_path: Path) -> None:
    raw, _ = read(tmp_path, "  p:a: {z: 1, a: '<&>', y: [1, yes, 2.0, null]}\n")
    assert raw["p:a"] == '{"a":"\\u003c\\u0026\\u003e","y":[1,"yes",2,null],"z":1}'


def test_nested_integer_past_int64_becomes_a_float(tmp_path: Path) -> None:
    raw, _ = read(tmp_path, "  p:a: 9223372036854775808\n  p:b: [9223372036854775808, 1e-7]\n")
    assert raw["p:a"] == "9223372036854775808"
    assert raw["p:b"] == "[9223372036854776000,1e-7]"


def test_file_that_is_a_list_is_refused(tmp_path: Path) -> None:
    assert "must be a map" in refused(tmp_path, "- 1\n")
