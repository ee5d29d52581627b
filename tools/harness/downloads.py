"""Verified, cached downloads from Maven Central, and installs assembled from them once.

Artifacts land in Maven's local repository (~/.m2) through `mvn dependency:get`, the ordinary
client, so a machine that already has them never touches the network. Each artifact is checked
against a pinned SHA-256 where we know one, else against the .sha1 Maven stored beside it.
Installs (an unpacked Trino or Elasticsearch) are built in a temporary directory and renamed into
place, so a run that dies half-way leaves no half install behind, and a second run reuses them.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

TRINO_PLUGINS = (
    "tpch",
    "memory",
    "http-event-listener",
    "password-authenticators",
    "exchange-filesystem",
    "jmx",
)
ELASTICSEARCH_VERSION = "8.19.21"
# 2.19 is what most Amazon OpenSearch Service domains run; 3.6.0 (the newest 3.x integration-test
# zip on Maven Central) runs with PRESTO_ON_AWS_OPENSEARCH_VERSION=3.6.0.
OPENSEARCH_VERSION = "2.19.6"

# Known-good digests. The Trino one is also published by Homebrew's formula for 476.
PINNED_SHA256 = {
    "io.trino:trino-server:476:tar.gz": "cfd5accde17e8ebd251eeeb78aed1f490e77bb3a164d95a0f454bf8a7c1cbd3f",
    "org.elasticsearch.distribution.integ-test-zip:elasticsearch:8.19.21:zip": (
        "215d5f3dbf0609a149f6218a9e47b6ae2df34ebbff3c5754e35f15a5e5393c8a"
    ),
    # Its SHA-512 matches the .sha512 Maven Central publishes beside it.
    "org.opensearch.distribution.integ-test-zip:opensearch:2.19.6:zip": (
        "71d6d8b1c637f3faecda0752b184b1cc526fc6eaad59ec1408c6327bb00b9293"
    ),
    "org.opensearch.distribution.integ-test-zip:opensearch:3.6.0:zip": (
        "a91faa1dc1cadc78cb278b4f63847e19e1627a4e9de698e14e7efc14ee37b286"
    ),
}

MVN_TIMEOUT_SECONDS = 1800
_MARKER = ".presto-on-aws-install.json"


class DownloadError(RuntimeError):
    """An artifact could not be fetched or did not verify; the message says which and what to do."""


@dataclass(frozen=True)
class MavenArtifact:
    group: str
    artifact: str
    version: str
    packaging: str
    classifier: str = ""  # e.g. the Trino CLI's runnable jar: "executable"

    @property
    def coordinates(self) -> str:
        tail = f":{self.classifier}" if self.classifier else ""
        return f"{self.group}:{self.artifact}:{self.version}:{self.packaging}{tail}"

    def local_path(self, repository: Path) -> Path:
        suffix = f"-{self.classifier}" if self.classifier else ""
        name = f"{self.artifact}-{self.version}{suffix}.{self.packaging}"
        return repository.joinpath(*self.group.split("."), self.artifact, self.version, name)


def trino_server(version: int | str) -> MavenArtifact:
    return MavenArtifact("io.trino", "trino-server", str(version), "tar.gz")


def trino_cli(version: int | str) -> MavenArtifact:
    """The Trino CLI as users run it: one executable jar."""
    return MavenArtifact("io.trino", "trino-cli", str(version), "jar", "executable")


def trino_jdbc(version: int | str) -> MavenArtifact:
    return MavenArtifact("io.trino", "trino-jdbc", str(version), "jar")


def elasticsearch_zip(version: str = ELASTICSEARCH_VERSION) -> MavenArtifact:
    return MavenArtifact("org.elasticsearch.distribution.integ-test-zip", "elasticsearch", version, "zip")


def opensearch_zip(version: str = OPENSEARCH_VERSION) -> MavenArtifact:
    return MavenArtifact("org.opensearch.distribution.integ-test-zip", "opensearch", version, "zip")


def cache_dir() -> Path:
    """Where unpacked installs live: $PRESTO_ON_AWS_CACHE, else ~/.cache/presto-on-aws."""
    configured = os.environ.get("PRESTO_ON_AWS_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "presto-on-aws"


def shared_cache_dir() -> Path:
    """A cache other local users can read: Elasticsearch runs as its own unprivileged user.

    Root's home is not readable by others, so root keeps this cache under /var/cache instead.
    """
    configured = os.environ.get("PRESTO_ON_AWS_SHARED_CACHE")
    if configured:
        return Path(configured)
    if os.geteuid() == 0:
        return Path("/var/cache/presto-on-aws")
    return cache_dir()


def maven_repository() -> Path:
    configured = os.environ.get("PRESTO_ON_AWS_M2_REPOSITORY")
    return Path(configured) if configured else Path.home() / ".m2" / "repository"


def fetch(
    artifact: MavenArtifact,
    *,
    repository: Path | None = None,
    settings: Path | None = None,
) -> Path:
    """The artifact's path in the local Maven repository, downloading it first if it is missing.

    Maven is told to give up quickly on a connection that does not open, so a machine without
    network fails within seconds with a message naming the artifact, not after a long hang.
    """
    repository = repository or maven_repository()
    path = artifact.local_path(repository)
    if path.is_file():
        return path
    mvn = shutil.which("mvn")
    if mvn is None:
        raise DownloadError(
            f"{artifact.coordinates} is not in {repository} and Maven (mvn) is not installed to fetch it: "
            "install the Debian package 'maven' (the CI script does)"
        )
    args = [
        mvn,
        "-B",
        "-q",
        "-Dstyle.color=never",
        "org.apache.maven.plugins:maven-dependency-plugin:2.8:get",
        f"-Dartifact={artifact.coordinates}",
        "-Dtransitive=false",
        f"-Dmaven.repo.local={repository}",
        # Fail fast without network: short connect timeout, no retries.
        "-Dmaven.wagon.http.retryHandler.count=0",
        "-Dmaven.wagon.httpconnectionManager.ttlSeconds=30",
        "-Dmaven.wagon.rto=60000",
        "-Daether.connector.connectTimeout=10000",
        "-Daether.connector.requestTimeout=60000",
    ]
    if settings is not None:
        args += ["-s", str(settings)]
    started = time.monotonic()
    try:
        result = subprocess.run(
            args, capture_output=True, text=True, timeout=MVN_TIMEOUT_SECONDS, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise DownloadError(
            f"downloading {artifact.coordinates} took longer than {MVN_TIMEOUT_SECONDS}s; "
            "check the network and retry (a finished download is kept in the local Maven repository)"
        ) from exc
    if result.returncode != 0 or not path.is_file():
        detail = _mvn_reason(result.stdout + result.stderr)
        raise DownloadError(
            f"could not download {artifact.coordinates} from Maven Central after "
            f"{time.monotonic() - started:.0f}s: {detail}. Without network, put the file at {path} "
            "(or point PRESTO_ON_AWS_M2_REPOSITORY at a repository that has it)"
        )
    return path


def _mvn_reason(output: str) -> str:
    lines = [line.strip() for line in output.splitlines() if "ERROR" in line or "Could not" in line]
    text = lines[0] if lines else (output.strip().splitlines() or ["mvn failed without output"])[-1]
    text = re.sub(r"\x1b\[[0-9;]*m", "", text)
    return text.removeprefix("[ERROR]").strip()[:400]


def verify(artifact: MavenArtifact, path: Path) -> str:
    """Check the file's digest; return its SHA-256. Raises DownloadError on a mismatch."""
    sha256, sha1 = hashlib.sha256(), hashlib.sha1()
    with open(path, "rb") as handle:
        while chunk := handle.read(4 * 1024 * 1024):
            sha256.update(chunk)
            sha1.update(chunk)
    pinned = PINNED_SHA256.get(artifact.coordinates)
    if pinned is not None and sha256.hexdigest() != pinned:
        raise DownloadError(
            f"{path} does not match the pinned SHA-256 of {artifact.coordinates} "
            f"(got {sha256.hexdigest()}, want {pinned}); delete it and run again"
        )
    if pinned is None:
        sidecar = path.with_name(path.name + ".sha1")
        if not sidecar.is_file():
            raise DownloadError(
                f"{path} has no pinned SHA-256 and no {sidecar.name} beside it to check against"
            )
        expected = sidecar.read_text().split()[0].strip().lower()
        if sha1.hexdigest() != expected:
            raise DownloadError(
                f"{path} does not match {sidecar.name} (got {sha1.hexdigest()}, want {expected}); "
                "delete it and run again"
            )
    return sha256.hexdigest()


def _install(name: str, build: Callable[[Path], None], describe: dict[str, object], root: Path) -> Path:
    """Build an install under root/name once: in a temp dir, then an atomic rename."""
    target = root / name
    if (target / _MARKER).is_file():
        return target
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=root))
    try:
        build(staging)
        (staging / _MARKER).write_text(json.dumps(describe, indent=2, sort_keys=True) + "\n")
        os.chmod(staging, 0o755)
        try:
            os.rename(staging, target)
        except OSError:
            # Another run finished the same install first, or a broken one is in the way.
            if (target / _MARKER).is_file():
                shutil.rmtree(staging, ignore_errors=True)
                return target
            shutil.rmtree(target, ignore_errors=True)
            os.rename(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def trino_install(version: int | str = 476, plugins: Iterable[str] = TRINO_PLUGINS) -> Path:
    """An unpacked Trino server with only the plugins we use, from the full server tarball.

    The full tarball is the only Maven Central artifact with the HTTP event listener for 476.
    Unpacking only bin/, lib/, etc/, secrets-plugin/ and the chosen plugins keeps the install
    small and each node's plugin loading short.
    """
    plugins = tuple(sorted(set(plugins)))
    artifact = trino_server(version)
    tarball = fetch(artifact)
    tag = hashlib.sha256(",".join(plugins).encode()).hexdigest()[:8]

    def build(staging: Path) -> None:
        digest = verify(artifact, tarball)
        _extract_trino(tarball, staging, plugins)
        missing = [p for p in plugins if not (staging / "plugin" / p).is_dir()]
        if missing:
            raise DownloadError(f"trino-server-{version}.tar.gz has no plugin(s) {', '.join(missing)}")
        (staging / ".sha256").write_text(digest + "\n")

    return _install(
        f"trino-server-{version}-{tag}",
        build,
        {"artifact": artifact.coordinates, "plugins": list(plugins)},
        cache_dir(),
    )


def trino_plugins_available(version: int | str = 476) -> set[str]:
    """Names of every plugin in the full server tarball (listed once, then read from the cache)."""
    listing = cache_dir() / f"trino-server-{version}.plugins.json"
    if listing.is_file():
        return set(json.loads(listing.read_text()))
    tarball = fetch(trino_server(version))
    names = set()
    with tarfile.open(tarball, "r:gz") as archive:
        for name in archive.getnames():
            parts = name.split("/")
            if len(parts) >= 3 and parts[1] == "plugin" and parts[2]:
                names.add(parts[2])
    listing.parent.mkdir(parents=True, exist_ok=True)
    staging = listing.with_suffix(f".{os.getpid()}.tmp")
    staging.write_text(json.dumps(sorted(names)) + "\n")
    os.replace(staging, listing)
    return names


def _extract_trino(tarball: Path, dest: Path, plugins: tuple[str, ...]) -> None:
    """Extract the wanted parts of the tarball, hardlinks included.

    About 5,700 entries are hardlinks to a jar elsewhere in the tree, often in a plugin we skip.
    A first pass finds which skipped files are link targets; the second pass extracts those to a
    side store, links to them, and drops the store.
    """
    wanted_plugins = {f"plugin/{p}" for p in plugins}

    def relative(name: str) -> str:
        return name.split("/", 1)[1] if "/" in name else ""

    def keep(rel: str) -> bool:
        if rel in ("", "plugin"):
            return True
        top = rel.split("/", 1)[0]
        if top in ("bin", "lib", "etc", "secrets-plugin") or rel in ("NOTICE", "README.txt"):
            return True
        return "/".join(rel.split("/", 2)[:2]) in wanted_plugins

    with tarfile.open(tarball, "r:gz") as archive:
        members = archive.getmembers()
    link_targets = {relative(m.linkname) for m in members if m.islnk() and keep(relative(m.name))}
    store = dest / ".linkstore"
    with tarfile.open(tarball, "r|gz") as stream:
        for member in stream:
            rel = relative(member.name)
            if not rel or ".." in Path(rel).parts or member.issym():
                continue
            if member.isdir():
                if keep(rel):
                    (dest / rel).mkdir(parents=True, exist_ok=True)
                continue
            if not member.isfile():
                continue
            if keep(rel):
                out = dest / rel
            elif rel in link_targets:
                out = store / rel
            else:
                continue
            out.parent.mkdir(parents=True, exist_ok=True)
            source = stream.extractfile(member)
            assert source is not None
            with open(out, "wb") as handle:
                shutil.copyfileobj(source, handle, 1024 * 1024)
            os.chmod(out, 0o755 if member.mode & 0o111 else 0o644)
    for member in members:
        rel = relative(member.name)
        if not (member.islnk() and keep(rel)):
            continue
        target = relative(member.linkname)
        source_path = dest / target if keep(target) else store / target
        out = dest / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        os.link(source_path, out)
    shutil.rmtree(store, ignore_errors=True)


def elasticsearch_install(version: str = ELASTICSEARCH_VERSION) -> Path:
    """Elasticsearch's integration-test distribution, unpacked where its unprivileged user can read it."""
    return _search_server_install(elasticsearch_zip(version), f"elasticsearch-{version}")


def opensearch_install(version: str = OPENSEARCH_VERSION) -> Path:
    """OpenSearch's integration-test distribution (core only: no security, no ISM plugin), likewise."""
    return _search_server_install(opensearch_zip(version), f"opensearch-{version}")


def _search_server_install(artifact: MavenArtifact, name: str) -> Path:
    archive = fetch(artifact)

    def build(staging: Path) -> None:
        verify(artifact, archive)
        with zipfile.ZipFile(archive) as zipped:
            for info in zipped.infolist():
                rel = info.filename.split("/", 1)[1] if "/" in info.filename else ""
                if not rel or ".." in Path(rel).parts:
                    continue
                out = staging / rel
                if info.is_dir():
                    out.mkdir(parents=True, exist_ok=True)
                    continue
                out.parent.mkdir(parents=True, exist_ok=True)
                with zipped.open(info) as source, open(out, "wb") as handle:
                    shutil.copyfileobj(source, handle, 1024 * 1024)
                mode = (info.external_attr >> 16) & 0o777
                os.chmod(out, 0o755 if mode & 0o111 else 0o644)
        for path in staging.rglob("*"):
            if path.is_dir():
                os.chmod(path, 0o755)

    root = shared_cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o755)
    return _install(name, build, {"artifact": artifact.coordinates}, root)
