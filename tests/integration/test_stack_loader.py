"""Our stack-file reader against the real one: Pulumi's Go loader (tools/pulumi_loader, SDK v3.276).

components/settings/pulumi_yaml.py imitates the CLI's yaml.v3 decode; every case here is a stack
file on which the two must give the same keys, values and secret flags, or both refuse it. The Go
program is built once into ~/.cache (tools/pulumi_loader/build.sh, which .ci/run also calls); without
`go` the build, and so every case, fails: a skipped oracle would prove nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from components.base import REPO_ROOT
from components.settings.model import ConfigError
from components.settings.stack_file import read_stack_file

pytestmark = pytest.mark.integration

CORPUS: dict[str, str] = {
    "bools": "p:a: yes\np:b: no\np:c: on\np:d: off\np:e: y\np:f: True\np:g: FALSE\np:h: tRue\n",
    "dates": "p:a: 2026-12-06\np:b: 2026-12-06T10:00:00Z\np:c: 2001-12-14 21:59:43.10 -5\n"
    "p:d: 2026-1-6\np:e: 2026-12-06t10:00:00.50+02:00\np:f: 2026-12-06 10:00:00\np:g: 2026-02-30\n"
    "p:h: {k: 2026-12-06, 2026-12-07: v}\np:i: [2026-12-06T10:00:00.123456789123Z]\np:j: '2026-12-06'\n"
    "p:k: 2026-12-06T25:00:00Z\np:l: 2024-02-29T23:59:59-00:00\np:m: 2026-12-06T1:2:3Z\n",
    "inf": "p:a: .inf\n",
    "nan-nested": "p:a: [.nan]\n",
    "duplicate": "p:a: 1\np:a: 2\n",
    "duplicate-nested": "p:a: {k: 1, k: 2}\n",
    "duplicate-quoted": "p:a: {1: x, '1': y}\n",
    "duplicate-true": "p:a: {true: x, True: y}\n",
    "nested": "p:a:\n  x: 1\n  y: [1, yes, 2.0, '3', null]\n  z: {b: on}\n",
    "secure": "p:a:\n  secure: AAABAxyz\np:b:\n  k:\n    secure: AAAB\n  n: 1\n",
    "secure-edges": "p:a: {secure: ''}\np:b: {secure: x, other: 1}\np:c: [{secure: x}]\np:d: {secure: 1}\n",
    "numbers": "p:a: 010\np:b: 1e3\np:c: 0x1F\np:d: 0o17\np:e: 1_000\np:f: 5.0\np:g: 1.5\np:h: 0b101\n"
    "p:i: +12\np:j: -0\np:k: 1:30\np:l: 99999999999999999999\np:m: 1.0e21\np:n: .5\np:o: 1.e2\n"
    "p:q: 0.0000001\np:r: 12345678901234567.0\np:s: 09\np:t: +0x10\np:u: -0b11\np:v: 1e400\n"
    "p:w: .5e1\np:x: 0.000001\np:y: 1234567.0\n",
    "big-ints": "p:a: 9223372036854775808\np:b: 18446744073709551616\np:c: -9223372036854775809\n"
    "p:d: [9223372036854775808, 1e400, 0x_1F, 1__0]\n",
    "floats-nested": "p:a: [1e-7, 1e21, 1.5e300, 0.1, 100.0, 1e16, -0.0, 5e-324]\n",
    "empty": "p:a:\np:b: ''\np:c: ~\np:d: null\n",
    "anchors": "p:a: &x hello\np:b: *x\np:c: &m {k: 1}\np:d:\n  <<: *m\n  j: 2\n",
    "merge-no-override": "p:m: &m {k: 1, j: 0}\np:d:\n  <<: *m\n  k: 2\n",
    "bare-key": "a: 1\np:config:b: 2\n",
    "three-colons": "p:x:y: 1\n",
    "html-and-unicode": "p:a: {k: '<a&b>'}\np:b: '<a&b>'\np:c: {k: \"é\\u2028\\a\\b\"}\n",
    "key-order": "p:a: {z: 1, a: 2, B: 3}\n",
    "block-scalars": "p:a: |\n  line1\n  line2\np:b: >\n  folded\n  text\n",
    "non-text-keys": "p:a: {1: x, true: y}\np:b: {1.5: x, null: y, 010: z, yes: w}\n",
    "tags": "p:a: !!str 1\np:b: !!int '7'\np:c: !!float 3\n",
    "tab-and-escape": "p:a: 'x\ty'\np:b: \"\\u00e9\"\n",
}
WHOLE_FILES: dict[str, str] = {
    "empty-file": "",
    "no-config": "encryptionsalt: v1:abc\n",
    "config-list": "config: [1, 2]\n",
    "top-list": "- 1\n",
    "bom": "\ufeffconfig:\n  p:a: 1\n",
    "merge-sequence": "x: &a {k: 1, j: 1}\ny: &b {k: 2, i: 2}\nconfig:\n  p:a: {<<: [*a, *b], j: 3}\n",
    "shipped-dev": (REPO_ROOT / "Pulumi.dev.yaml").read_text(),
    "shipped-prod": (REPO_ROOT / "Pulumi.prod.yaml").read_text(),
}
CASES = {
    **{
        name: "config:\n" + "".join(f"  {line}\n" for line in body.splitlines())
        for name, body in CORPUS.items()
    },
    **WHOLE_FILES,
}
Outcome = dict[str, dict[str, object]] | None  # None: refused


@pytest.fixture(scope="module")
def pulumi_loader() -> Path:
    """The built oracle (cached; the first build takes minutes)."""
    built = subprocess.run(
        ["bash", str(REPO_ROOT / "tools/pulumi_loader/build.sh")],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert built.returncode == 0, f"tools/pulumi_loader/build.sh failed:\n{built.stderr}"
    return Path(built.stdout.strip())


def go_reads(loader: Path, root: Path) -> tuple[Outcome, str]:
    # UTC as the local zone: Go names a zero offset after the machine's zone (pulumi_yaml.py).
    done = subprocess.run(
        [str(loader), str(root / "Pulumi.yaml"), str(root / "Pulumi.s.yaml")],
        capture_output=True,
        text=True,
        env={**os.environ, "TZ": "UTC"},
        timeout=60,
    )
    if done.returncode == 1:
        return None, done.stderr
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout), ""


def python_reads(root: Path) -> tuple[Outcome, str]:
    try:
        raw, secret = read_stack_file("s", root=root)
    except ConfigError as exc:
        return None, str(exc)
    return {key: {"value": value, "secret": key in secret} for key, value in raw.items()}, ""


@pytest.mark.parametrize("name", sorted(CASES))
def test_our_reader_agrees_with_pulumis_loader(name: str, pulumi_loader: Path, tmp_path: Path) -> None:
    shutil.copy(REPO_ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    (tmp_path / "Pulumi.s.yaml").write_text(CASES[name], encoding="utf-8")
    go, go_error = go_reads(pulumi_loader, tmp_path)
    ours, our_error = python_reads(tmp_path)
    if go is None or ours is None:
        assert go is None and ours is None, f"go: {go or go_error}\nours: {ours or our_error}"
    else:
        assert ours == go
