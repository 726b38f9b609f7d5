"""Apache Kafka's jars from Maven Central, fetched once into a cache, with KRaft storage formatted.

The cache is ``$INTERMISSION_CACHE`` or ``~/.cache/intermission``, one directory per Kafka
version. Maven is needed only for the first download; Java 17+ always.
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from ...errors import JavaToolsMissingError, KafkaUnavailableError
from .kafka_jvm import (
    LOG4J2_PROPERTIES,
    find_java,
    free_loopback_port,
    java_major,
    jvm_command,
    server_properties,
)

__all__ = [
    "KAFKA_VERSION",
    "STORAGE_TEMPLATE",
    "ensure_kafka_jars",
    "install_hint",
    "kafka_cache_dir",
    "kafka_uuid",
    "kafka_version",
    "local_kafka_unavailable",
    "remove_stale",
]

# Pinned so every run and every machine uses the same broker. Override with
# INTERMISSION_KAFKA_VERSION to try another release (each version gets its own cache dir).
KAFKA_VERSION = "4.3.1"
# Kafka 4 logs through slf4j 1.7 and ships log4j2 behind it; without a backend the broker would
# log nothing at all, and a broker that fails to start would leave no clue.
_LOG4J_VERSION = "2.25.2"
_DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
_MAVEN_TIMEOUT_S = 900.0
_LOG_TAIL_LINES = 40
_POM_NAME = "intermission-kafka-pom.xml"
# KRaft storage formatted once per cache and copied for each broker: formatting costs a JVM start.
STORAGE_TEMPLATE = "kraft-storage"
_STALE_AFTER_S = 3600.0


def kafka_version() -> str:
    return os.environ.get("INTERMISSION_KAFKA_VERSION", KAFKA_VERSION)


def kafka_cache_dir(version: str | None = None) -> Path:
    """Where the broker's jars live: ``$INTERMISSION_CACHE`` or ``~/.cache/intermission``."""
    base = os.environ.get("INTERMISSION_CACHE")
    root = Path(base) if base else Path.home() / ".cache" / "intermission"
    return root / f"kafka-{version or kafka_version()}"


def install_hint() -> str:
    return (
        f"install Java 17+ and Maven (`mvn`) with access to Maven Central; the first run "
        f"downloads Kafka {kafka_version()} (~45 MB) into {kafka_cache_dir()}"
    )


def local_kafka_unavailable() -> JavaToolsMissingError | None:
    """What stops a local broker from starting here (Java 17+, and Maven until the jars are
    cached), as the error to raise; None when nothing does."""
    java = find_java()
    if java is None:
        return JavaToolsMissingError(
            "java", "`java` is not on PATH (and JAVA_HOME is not set): the local broker needs Java 17+"
        )
    major = java_major(java)
    if major is None or major < 17:
        return JavaToolsMissingError(
            "java", f"{java} is Java {major or 'of unknown version'}; Kafka 4 needs Java 17+"
        )
    if _cache_is_complete(kafka_cache_dir(), kafka_version()):
        return None  # Maven is only needed for the first download
    if shutil.which("mvn") is None:
        return JavaToolsMissingError(
            "mvn",
            f"`mvn` (Maven) is not on PATH, and the Kafka jars are not cached yet in {kafka_cache_dir()}",
        )
    return None


def _cache_is_complete(cache: Path, version: str) -> bool:
    # The directory only appears by an atomic rename after a full download, so existence is
    # almost enough; the stored POM also catches a cache built with other pins.
    pom = cache / _POM_NAME
    return (
        pom.is_file()
        and pom.read_text() == _pom(version)
        and (cache / STORAGE_TEMPLATE / "meta.properties").is_file()
    )


def ensure_kafka_jars(version: str | None = None) -> Path:
    """Return the cache directory holding the broker's jars, populating it once.

    The first call downloads the jars with Maven and formats a KRaft storage template, both
    into a staging directory that is renamed into place only when complete.
    """
    version = version or kafka_version()
    cache = kafka_cache_dir(version)
    if _cache_is_complete(cache, version):
        return cache
    mvn, java = shutil.which("mvn"), find_java()
    if mvn is None or java is None:
        tool = "mvn" if mvn is None else "java"
        missing = "`mvn` (Maven)" if mvn is None else "`java`"
        raise JavaToolsMissingError(
            tool, f"{missing} is not on PATH and {cache} is not populated: {install_hint()}"
        )
    cache.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(cache.parent, f".{cache.name}.tmp-*")
    # Staged next to the final place (same file system, so the rename is atomic): an interrupted
    # run leaves only a ".tmp-" directory, never a cache that looks complete but is not.
    staging = Path(tempfile.mkdtemp(prefix=f".{cache.name}.tmp-", dir=cache.parent))
    try:
        _maven_copy_dependencies(mvn, version, staging)
        _format_storage_template(java, staging)
        (staging / _POM_NAME).write_text(_pom(version))
        _install(staging, cache, version)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if not _cache_is_complete(cache, version):
        raise KafkaUnavailableError(f"Populating {cache} for Kafka {version} failed.")
    return cache


def _install(staging: Path, cache: Path, version: str) -> None:
    if _cache_is_complete(cache, version):
        return  # a parallel run finished first: keep theirs, it may be in use
    if cache.exists():
        shutil.rmtree(cache)  # built with other pins, or by an older version of this module
    with contextlib.suppress(OSError):  # a parallel run renamed first after all
        staging.rename(cache)


def remove_stale(directory: Path, pattern: str) -> None:
    """Delete leftovers of interrupted runs (old enough not to belong to a parallel run)."""
    for stale in directory.glob(pattern):
        with contextlib.suppress(OSError):
            if time.time() - stale.stat().st_mtime > _STALE_AFTER_S:
                if stale.is_dir():
                    shutil.rmtree(stale, ignore_errors=True)
                else:
                    stale.unlink()


def _maven_copy_dependencies(mvn: str, version: str, target: Path) -> None:
    build = target / ".build"
    build.mkdir()
    (build / "pom.xml").write_text(_pom(version))
    command = [
        mvn,
        "-B",  # batch mode: never prompt, no progress bars (CI has no terminal)
        "-q",
        "-ntp",
        "-Dstyle.color=never",
        "-f",
        str(build / "pom.xml"),
        f"{_DEPENDENCY_PLUGIN}:copy-dependencies",
        f"-DoutputDirectory={target}",
        "-DincludeScope=runtime",
    ]
    try:
        result = subprocess.run(
            command,
            cwd=build,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=_MAVEN_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise KafkaUnavailableError(
            f"Maven did not finish downloading Kafka {version} within {_MAVEN_TIMEOUT_S:.0f} s."
        ) from exc
    if result.returncode != 0:
        raise KafkaUnavailableError(
            f"Maven could not download Kafka {version} from Maven Central "
            f"(exit code {result.returncode}). Command: {' '.join(command)}\n"
            + _tail(result.stdout + result.stderr)
        )
    shutil.rmtree(build)


def _tail(output: str) -> str:
    plain = re.sub(r"\x1b\[[0-9;]*m", "", output).strip()  # Maven colours even in batch mode
    return "\n".join(plain.splitlines()[-_LOG_TAIL_LINES:])


def _format_storage_template(java: str, jars: Path) -> None:
    """Format KRaft storage for node 1 into `jars`/kraft-storage.

    With a static quorum (controller.quorum.voters) the formatted files hold no ports or paths,
    so every broker can start from a copy; they differ only in sharing a cluster id, which is
    harmless for brokers that never meet.
    """
    work = jars / ".format"
    work.mkdir()
    (work / "log4j2.properties").write_text(LOG4J2_PROPERTIES)
    properties = server_properties(jars / STORAGE_TEMPLATE, free_loopback_port(), free_loopback_port())
    (work / "server.properties").write_text(properties)
    command = [
        *jvm_command(java, jars, work / "log4j2.properties"),
        "kafka.tools.StorageTool",
        "format",
        "--cluster-id",
        kafka_uuid(),
        "--config",
        str(work / "server.properties"),
    ]
    result = subprocess.run(
        command, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120, check=False
    )
    if result.returncode != 0:
        raise KafkaUnavailableError(
            f"Formatting KRaft storage failed (exit code {result.returncode}).\n"
            + _tail(result.stdout + result.stderr)
        )
    shutil.rmtree(work)


def kafka_uuid() -> str:
    """A random id as Kafka writes them (cluster, directory): the format `random-uuid` prints
    (URL-safe base64 of 16 bytes, no padding), made here to save a JVM start."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


def _pom(version: str) -> str:
    """A throwaway project whose runtime dependencies are exactly the broker plus logging."""

    def dep(group: str, artifact: str, ver: str) -> str:
        return (
            f"    <dependency><groupId>{group}</groupId><artifactId>{artifact}</artifactId>"
            f"<version>{ver}</version></dependency>\n"
        )

    return (
        '<project xmlns="http://maven.apache.org/POM/4.0.0">\n'
        "  <modelVersion>4.0.0</modelVersion>\n"
        "  <groupId>local.intermission</groupId>\n"
        "  <artifactId>kafka-broker-jars</artifactId>\n"
        "  <version>0</version>\n"
        "  <packaging>pom</packaging>\n"
        "  <dependencies>\n"
        + dep("org.apache.kafka", "kafka_2.13", version)
        + dep("org.apache.logging.log4j", "log4j-slf4j-impl", _LOG4J_VERSION)
        + dep("org.apache.logging.log4j", "log4j-core", _LOG4J_VERSION)
        + "  </dependencies>\n</project>\n"
    )
