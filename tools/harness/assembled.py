"""A runnable Trino assembled from Maven Central jars, for releases with no server tarball there.

Maven Central's trino-server tarball stops at 476 (and trino-server-main with it), but each
release's jars are served: trino-main (the server, io.trino.server.Server) and some plugins. The
install has the tarball's shape without its launcher: lib/ is the runtime closure of trino-main
(resolved with Trino's own trino-root as the version BOM, so the versions are the ones its build
pins) plus a tiny main (assembled/TrinoMain.java, compiled here); plugin/<name>/ is each plugin's
runtime closure minus what the SPI provides, with the META-INF/services entry Trino's Maven plugin
writes into the tarball (Central's jars lack it). Built once per version into the cache.

Not served for 477-483, so not in an assembled install: the HTTP event listener (the query log),
the password authenticators (password authentication) and JMX; TrinoFactory says so where it
leaves them out.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import zipfile
from collections.abc import Iterable
from pathlib import Path

from tools.harness.downloads import DownloadError, _install, cache_dir, maven_repository

HERE = Path(__file__).with_name("assembled")
MAIN_CLASS = "TrinoMain"
PLUGINS = ("tpch", "memory", "exchange-filesystem")
NOT_SERVED = ("http-event-listener", "password-authenticators", "jmx")
MVN_TIMEOUT_SECONDS = 900


def assembled_install(version: int, plugins: Iterable[str] = PLUGINS) -> Path:
    plugins = tuple(sorted(set(plugins)))

    def build(staging: Path) -> None:
        _closure("trino-main", version, staging / "lib")
        spi = staging / ".spi"
        _closure("trino-spi", version, spi)
        _main_jar(version, staging)
        for plugin in plugins:
            _plugin(plugin, version, staging / "plugin" / plugin, {p.name for p in spi.iterdir()})
        shutil.rmtree(spi)

    return _install(
        f"trino-assembled-{version}-{'-'.join(plugins)}",
        build,
        {"trino-main": version, "plugins": list(plugins), "not served": list(NOT_SERVED)},
        cache_dir(),
    )


def _closure(artifact: str, version: int, out: Path) -> None:
    """The artifact and its runtime dependencies, at the versions Trino's build pins."""
    mvn = shutil.which("mvn")
    if mvn is None:
        raise DownloadError("assembling Trino needs Maven (mvn): install the Debian package 'maven'")
    args = [
        mvn,
        "-B",
        "-q",
        "-Dstyle.color=never",
        "-f",
        str(HERE / "pom.xml"),
        f"-Dtrino.artifact={artifact}",
        f"-Dtrino.version={version}",
        f"-Dmaven.repo.local={maven_repository()}",
        "dependency:copy-dependencies",
        "-DincludeScope=runtime",
        "-DexcludeTypes=test-jar",
        "-DexcludeClassifiers=tests",
        "-Dmdep.prependGroupId=true",
        f"-DoutputDirectory={out}",
    ]
    done = subprocess.run(args, capture_output=True, text=True, timeout=MVN_TIMEOUT_SECONDS, check=False)
    if done.returncode != 0:
        tail = (done.stdout + done.stderr).strip().splitlines()[-3:]
        raise DownloadError(f"io.trino:{artifact}:{version} and its dependencies: {' / '.join(tail)[:600]}")


def _jdk_tool(name: str) -> str:
    from tools.harness.trino_node import java_home

    return str(java_home() / "bin" / name)


def _main_jar(version: int, staging: Path) -> None:
    classes = staging / ".main"
    classes.mkdir()
    main_jar = staging / "lib" / f"io.trino.trino-main-{version}.jar"
    subprocess.run(
        [
            _jdk_tool("javac"),
            "-d",
            str(classes),
            "--release",
            "25",
            "-cp",
            str(main_jar),
            str(HERE / "TrinoMain.java"),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    with zipfile.ZipFile(staging / "lib" / f"presto-on-aws-trino-main-{version}.jar", "w") as jar:
        jar.writestr("META-INF/MANIFEST.MF", f"Manifest-Version: 1.0\nMain-Class: {MAIN_CLASS}\n")
        jar.write(classes / f"{MAIN_CLASS}.class", f"{MAIN_CLASS}.class")
    shutil.rmtree(classes)


def _plugin(plugin: str, version: int, out: Path, spi_jars: set[str]) -> None:
    _closure(f"trino-{plugin}", version, out)
    for name in spi_jars:  # the SPI and what it exports come from the server, as in the tarball
        (out / name).unlink(missing_ok=True)
    jar = out / f"io.trino.trino-{plugin}-{version}.jar"
    plugin_class = _plugin_class(jar)
    with zipfile.ZipFile(out / f"trino-{plugin}-{version}-services.jar", "w") as services:
        services.writestr("META-INF/services/io.trino.spi.Plugin", plugin_class + "\n")


def _plugin_class(jar: Path) -> str:
    """The class in the jar that implements io.trino.spi.Plugin (javap, since nothing lists it)."""
    with zipfile.ZipFile(jar) as archive:
        candidates = [
            n[: -len(".class")].replace("/", ".") for n in archive.namelist() if n.endswith("Plugin.class")
        ]
    for name in candidates:
        done = subprocess.run(
            [_jdk_tool("javap"), "-cp", str(jar), name], capture_output=True, text=True, check=False
        )
        if "io.trino.spi.Plugin" in done.stdout.split("{", 1)[0]:
            return name
    raise DownloadError(f"{jar.name}: no class implements io.trino.spi.Plugin")


def launch_command(
    install: Path, java: Path, version: int, etc_dir: Path, jvm: list[str], node: dict[str, str]
) -> list[str]:
    """The java command the airlift launcher would run for this install and etc/ (no launcher here).

    The flags launcher 317 (Trino 483's) adds by itself on JDK 25 are added where jvm.config lacks
    them; node.properties goes in as system properties, as the launcher passes it.
    """
    launcher_flags = [
        "-XX:+EnableDynamicAgentLoading",
        "--add-modules=jdk.incubator.vector",
        "--sun-misc-unsafe-memory-access=allow",
        "--enable-native-access=ALL-UNNAMED",
    ]
    return [
        str(java),
        "-cp",
        f"{install}/lib/*",
        *jvm,
        *[f for f in launcher_flags if f not in jvm],
        f"-Dlog.levels-file={etc_dir / 'log.properties'}",
        f"-Dconfig={etc_dir / 'config.properties'}",
        *[f"-D{k}={v}" for k, v in node.items()],
        f"-Dtrino.version={version}",
        MAIN_CLASS,
    ]


def environment(java_home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JAVA_", "_JAVA", "JDK_"))}
    return {**env, "JAVA_HOME": str(java_home)}


def drop_missing_event_listener(etc_dir: Path, install: Path) -> None:
    """Take the HTTP event listener out of a rendered etc/ when the install has no such plugin.

    Its jar is not on Maven Central after 368 (only 476's tarball carries it), so an assembled
    477+ server would refuse to start ("Event listener factory 'http' is not registered"): the
    query log is proven on 476 only. Everything else stays as the renderer wrote it.
    """
    if (install / "plugin" / "http-event-listener").is_dir():
        return
    config = (etc_dir / "config.properties").resolve()
    keep = [
        line
        for line in config.read_text().splitlines()
        if not line.startswith(("event-listener.config-files=", "event.max-output-stage-size="))
    ]
    config.write_text("\n".join(keep) + "\n")
    (etc_dir / "http-event-listener.properties").unlink(missing_ok=True)
