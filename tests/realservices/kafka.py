"""A real Apache Kafka broker for the test suite.

`start_kafka()` finds a broker in this order:

1. ``KAFKA_BOOTSTRAP_SERVERS`` names an existing broker: use it, stop nothing.
2. A Docker engine answers: start one with testcontainers' ``KafkaContainer``.
3. Java 17+ is installed: run a single-node KRaft broker (broker and controller in one JVM)
   from the jars that Maven fetches once from Maven Central into a cache directory.

If none works, `KafkaUnavailableError` says what is missing. It never skips: a test that asks for
Kafka and gets none has not tested anything.
"""

from __future__ import annotations

import asyncio
import atexit
import base64
import contextlib
import functools
import hashlib
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from aiokafka.admin import AIOKafkaAdminClient  # type: ignore[import-untyped]

from ._process import Stoppable, die_with_parent

__all__ = [
    "KAFKA_VERSION",
    "LOCAL_MIN_SESSION_TIMEOUT_MS",
    "KafkaService",
    "KafkaUnavailableError",
    "ensure_kafka_jars",
    "fast_consumer_kwargs",
    "kafka_cache_dir",
    "start_kafka",
    "start_local_kafka",
]

# Pinned so every run and every machine tests against the same broker. Override with
# INTERMISSION_KAFKA_VERSION to try another release (each version gets its own cache dir).
KAFKA_VERSION = "4.3.1"
# Kafka 4 logs through slf4j 1.7 and ships log4j2 behind it; without a backend the broker would
# log nothing at all, and a broker that fails to start would leave no clue.
_LOG4J_VERSION = "2.25.2"
_DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
# Used when Docker is the way; the image testcontainers' KafkaContainer is written and tested for.
_DOCKER_IMAGE = "confluentinc/cp-kafka:7.6.0"

_MAVEN_TIMEOUT_S = 900.0
_STOP_GRACE_S = 15.0
_LOG_TAIL_LINES = 40
# group.min.session.timeout.ms of the brokers started here (Kafka's default is 6000): a dead
# consumer leaves the group after its session timeout, so tests that kill workers want it low.
LOCAL_MIN_SESSION_TIMEOUT_MS = 1000
# Local brokers listen on ports below Linux's ephemeral range (32768 and up), and below the
# range SeaweedFS uses (11000-30999): a port that is free when chosen cannot later be taken by
# some client's outgoing connection while the broker is down for an outage test.
_PORT_RANGE = range(9000, 11000)

Source = Literal["env", "docker", "local"]


class KafkaUnavailableError(RuntimeError):
    """No Kafka broker could be found or started; the message says what to install or set."""


@dataclass
class KafkaService(Stoppable):
    """A running broker. `stop()` is idempotent; the object is also a context manager.

    A broker this module started itself (``source == "local"``) can also be taken down and
    brought back for outage tests: `stop_for_outage()` (a controlled shutdown), `kill()`
    (SIGKILL), then `restart()` on the same log directory and the same ports. Brokers from
    ``KAFKA_BOOTSTRAP_SERVERS`` or Docker cannot: those methods raise `KafkaUnavailableError`.
    """

    bootstrap_servers: str
    source: Source
    # The local broker's log while it runs; `stop()` deletes it with the broker's data.
    log_path: Path | None = None
    _stop: Callable[[], None] | None = field(default=None, repr=False)
    _broker: _LocalBroker | None = field(default=None, repr=False)

    @property
    def running(self) -> bool:
        return self._broker is not None and self._broker.running

    def stop_for_outage(self) -> float:
        """Shut the broker down cleanly (SIGTERM), keeping its data; returns the seconds taken."""
        broker = self._restartable("stop")
        started = time.monotonic()
        broker.halt(kill=False)
        return time.monotonic() - started

    def kill(self) -> float:
        """SIGKILL the broker, keeping its data (the next start recovers its logs)."""
        broker = self._restartable("kill")
        started = time.monotonic()
        broker.halt(kill=True)
        return time.monotonic() - started

    def restart(self, *, timeout: float = 90.0) -> float:
        """Start the broker again on the same log directory and ports, and wait until it
        answers metadata requests; returns the seconds that took."""
        broker = self._restartable("restart")
        started = time.monotonic()
        broker.halt(kill=True)  # a no-op when it is already down
        broker.start()
        _wait_until_ready(broker.bootstrap, timeout, process=broker.process, log_path=broker.log_path)
        return time.monotonic() - started

    def _restartable(self, what: str) -> _LocalBroker:
        if self._broker is None:
            raise KafkaUnavailableError(
                f"cannot {what} the Kafka broker at {self.bootstrap_servers}: it comes from "
                f"{'KAFKA_BOOTSTRAP_SERVERS' if self.source == 'env' else self.source!r}, and only a "
                "broker this suite started as a local JVM can be stopped and restarted "
                "(use start_local_kafka(), or the outage_kafka fixture)"
            )
        if self._stop is None:
            raise KafkaUnavailableError(f"cannot {what} the Kafka broker: it was stopped for good")
        return self._broker


def fast_consumer_kwargs(*, session_timeout_ms: int = 6000) -> dict[str, Any]:
    """Keyword arguments for `AIOKafkaConsumer` that keep tests quick.

    The defaults are tuned for production: a fetch waits up to 500 ms for data and group
    membership is checked every 3 s. Tests want a consumer that joins, reads and leaves fast.

    6 s is the broker's default group.min.session.timeout.ms: the lowest value any broker
    (ours, Docker's or an external one) accepts. Brokers this module starts locally accept
    down to `LOCAL_MIN_SESSION_TIMEOUT_MS`, so a test on one can pass less and see a dead
    member replaced sooner.
    """
    return {
        "auto_offset_reset": "earliest",  # tests create the topic, then read what they wrote
        "session_timeout_ms": session_timeout_ms,
        "heartbeat_interval_ms": min(500, session_timeout_ms // 4),
        "fetch_max_wait_ms": 100,
        "retry_backoff_ms": 50,
        "metadata_max_age_ms": 5000,  # notice topics created after the consumer started
    }


def start_kafka(*, startup_timeout: float = 90.0) -> KafkaService:
    """Find or start a broker and wait until it answers metadata requests."""
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "").strip()
    if external:
        _wait_until_ready(external, startup_timeout, process=None, log_path=None)
        return KafkaService(bootstrap_servers=external, source="env")

    problems: list[str] = []
    docker_reason = _docker_unavailable_reason()
    if docker_reason is None:
        try:
            return _start_docker_broker(startup_timeout)
        except Exception as exc:  # fall back to a local broker, but say why
            problem = f"a Docker engine answered but the Kafka container failed: {exc!r}"
            warnings.warn(f"{problem}; trying a local broker instead", stacklevel=2)
            problems.append(problem)
    else:
        problems.append(f"no Docker engine answered ({docker_reason})")

    local_reason = _local_broker_unavailable_reason()
    if local_reason is None:
        return _start_local_broker(startup_timeout)
    problems.append(local_reason)
    raise KafkaUnavailableError(_explain(problems))


def start_local_kafka(*, startup_timeout: float = 90.0) -> KafkaService:
    """Start a broker of our own as a local JVM, whatever KAFKA_BOOTSTRAP_SERVERS or Docker
    offer: the only kind that `KafkaService.stop_for_outage()`, `kill()` and `restart()` can
    take down and bring back."""
    reason = _local_broker_unavailable_reason()
    if reason is not None:
        raise KafkaUnavailableError(
            "Cannot start a local Kafka broker, which this test needs because it stops and "
            f"restarts the broker (a broker from KAFKA_BOOTSTRAP_SERVERS or Docker cannot be): {reason}. "
            f"Install Java 17+ and Maven; the first run downloads Kafka {_kafka_version()} into "
            f"{kafka_cache_dir()}."
        )
    return _start_local_broker(startup_timeout, restartable=True)


def _explain(problems: list[str]) -> str:
    return (
        "Cannot provide an Apache Kafka broker for the tests:\n"
        + "".join(f"  - {p}\n" for p in ["KAFKA_BOOTSTRAP_SERVERS is not set", *problems])
        + "Fix one of these:\n"
        f"  - install Java 17+ and Maven (`mvn`) with access to Maven Central; the first run "
        f"downloads Kafka {_kafka_version()} (~45 MB) into {kafka_cache_dir()}\n"
        "  - start a Docker engine (testcontainers runs the broker)\n"
        "  - set KAFKA_BOOTSTRAP_SERVERS=host:port to use a broker you run yourself"
    )


# --- readiness, shared by all three ways -------------------------------------------------------


def _wait_until_ready(
    bootstrap: str,
    timeout: float,
    *,
    process: subprocess.Popen[bytes] | None,
    log_path: Path | None,
) -> None:
    """Poll until the broker serves metadata; fail early if its process dies."""
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise KafkaUnavailableError(
                f"The Kafka broker exited with code {process.returncode} while starting."
                + _log_tail(log_path)
            )
        try:
            # A port that accepts is cheap to check; only then pay for a metadata round trip.
            _tcp_probe(bootstrap)
            _run_async_in_thread(_describe_cluster(bootstrap))
            return
        except Exception as exc:  # not up yet
            last_error = exc
            time.sleep(0.2)
    raise KafkaUnavailableError(
        f"The Kafka broker at {bootstrap} did not answer within {timeout:.0f} s "
        f"(last error: {last_error!r})." + _log_tail(log_path)
    )


def _tcp_probe(bootstrap: str) -> None:
    host, _, port = bootstrap.split(",")[0].strip().rpartition(":")
    with socket.create_connection((host.strip("[]"), int(port)), timeout=1.0):
        pass


async def _describe_cluster(bootstrap: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    await admin.start()
    try:
        await admin.describe_cluster()
    finally:
        await admin.close()


def _run_async_in_thread(coro: Coroutine[Any, Any, None]) -> None:
    """Run a coroutine to completion on a private loop.

    A separate thread because the caller may already be inside a running event loop (an async
    fixture or test), where `asyncio.run` is not allowed.
    """
    errors: list[BaseException] = []

    def target() -> None:
        try:
            asyncio.run(coro)
        except BaseException as exc:
            errors.append(exc)

    worker = threading.Thread(target=target, name="kafka-probe", daemon=True)
    worker.start()
    worker.join()
    if errors:
        raise errors[0]


def _log_tail(log_path: Path | None) -> str:
    if log_path is None or not log_path.exists():
        return ""
    lines = log_path.read_text(errors="replace").splitlines()[-_LOG_TAIL_LINES:]
    return "\nLast lines of the broker log:\n" + "\n".join(lines)


# --- Docker -------------------------------------------------------------------------------------


def _docker_unavailable_reason() -> str | None:
    """None if a Docker engine answers a ping; else a short reason. Takes about 0.3 s."""
    try:
        import docker  # type: ignore[import-untyped]

        docker.from_env(timeout=3).ping()
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
    return None


def _start_docker_broker(startup_timeout: float) -> KafkaService:
    from testcontainers.community.kafka import KafkaContainer

    container = KafkaContainer(os.environ.get("INTERMISSION_KAFKA_IMAGE", _DOCKER_IMAGE))
    # The container's defaults leave transaction-state replication at 3, which a single broker
    # cannot satisfy: transactional producers would hang.
    container.with_kraft().with_envs(
        KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR="1",
        KAFKA_TRANSACTION_STATE_LOG_MIN_ISR="1",
        KAFKA_TRANSACTION_STATE_LOG_NUM_PARTITIONS="1",
        KAFKA_AUTO_CREATE_TOPICS_ENABLE="true",
    )
    container.start(timeout=int(startup_timeout))
    try:
        bootstrap = container.get_bootstrap_server()
        _wait_until_ready(bootstrap, startup_timeout, process=None, log_path=None)
    except BaseException:
        container.stop()
        raise
    return KafkaService(bootstrap_servers=bootstrap, source="docker", _stop=container.stop)


# --- local broker: jars from Maven Central ------------------------------------------------------


def _kafka_version() -> str:
    return os.environ.get("INTERMISSION_KAFKA_VERSION", KAFKA_VERSION)


def kafka_cache_dir(version: str | None = None) -> Path:
    """Where the broker's jars live: ``$INTERMISSION_CACHE`` or ``~/.cache/intermission``."""
    base = os.environ.get("INTERMISSION_CACHE")
    root = Path(base) if base else Path.home() / ".cache" / "intermission"
    return root / f"kafka-{version or _kafka_version()}"


def _java() -> str | None:
    # JAVA_HOME wins over PATH, as it does for Kafka's own start scripts.
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").is_file():
        return str(Path(java_home) / "bin" / "java")
    return shutil.which("java")


@functools.cache
def _java_version_text(java: str) -> str:
    result = subprocess.run(
        [java, "-version"], capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False
    )
    return result.stderr + result.stdout


def _java_major(java: str) -> int | None:
    match = re.search(r'version "(\d+)(?:\.(\d+))?', _java_version_text(java))
    if match is None:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major  # "1.8.0" means Java 8


def _local_broker_unavailable_reason() -> str | None:
    java = _java()
    if java is None:
        return "`java` is not on PATH (and JAVA_HOME is not set): the local broker needs Java 17+"
    major = _java_major(java)
    if major is None or major < 17:
        return f"{java} is Java {major or 'of unknown version'}; Kafka 4 needs Java 17+"
    if _cache_is_complete(kafka_cache_dir(), _kafka_version()):
        return None  # Maven is only needed for the first download
    if shutil.which("mvn") is None:
        return f"`mvn` (Maven) is not on PATH, and the Kafka jars are not cached yet in {kafka_cache_dir()}"
    return None


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


_POM_NAME = "intermission-kafka-pom.xml"
# KRaft storage formatted once per cache and copied for each broker: formatting costs a JVM start.
_STORAGE_TEMPLATE = "kraft-storage"
_STALE_AFTER_S = 3600.0


def _cache_is_complete(cache: Path, version: str) -> bool:
    # The directory only appears by an atomic rename after a full download, so existence is
    # almost enough; the stored POM also catches a cache built with other pins.
    pom = cache / _POM_NAME
    return (
        pom.is_file()
        and pom.read_text() == _pom(version)
        and (cache / _STORAGE_TEMPLATE / "meta.properties").is_file()
    )


def ensure_kafka_jars(version: str | None = None) -> Path:
    """Return the cache directory holding the broker's jars, populating it once.

    The first call downloads the jars with Maven and formats a KRaft storage template, both
    into a staging directory that is renamed into place only when complete.
    """
    version = version or _kafka_version()
    cache = kafka_cache_dir(version)
    if _cache_is_complete(cache, version):
        return cache
    mvn, java = shutil.which("mvn"), _java()
    if mvn is None or java is None:
        missing = "`mvn` (Maven)" if mvn is None else "`java`"
        raise KafkaUnavailableError(_explain([f"{missing} is not on PATH and {cache} is not populated"]))
    cache.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(cache.parent, f".{cache.name}.tmp-*")
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


def _remove_stale(directory: Path, pattern: str) -> None:
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
    (work / "log4j2.properties").write_text(_LOG4J2_PROPERTIES)
    properties = _server_properties(jars / _STORAGE_TEMPLATE, _free_loopback_port(), _free_loopback_port())
    (work / "server.properties").write_text(properties)
    command = [
        *_jvm_command(java, jars, work / "log4j2.properties"),
        "kafka.tools.StorageTool",
        "format",
        "--cluster-id",
        _kafka_cluster_id(),
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


_LOG4J2_PROPERTIES = """\
status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
"""


# For brokers that outage tests kill: a broker restarted after SIGKILL cannot register again
# until the controller has expired its previous session (broker.session.timeout.ms, 9 s by
# default), so a restart took 12 s. Not used for the shared broker: a session this short could
# fence it while a busy machine starves the JVM.
_RESTARTABLE_SETTINGS = {"broker.heartbeat.interval.ms": "500", "broker.session.timeout.ms": "3000"}


def _server_properties(
    log_dir: Path, broker_port: int, controller_port: int, extra: dict[str, str] | None = None
) -> str:
    settings = {
        # One JVM is both broker and KRaft controller, reachable on loopback only.
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@127.0.0.1:{controller_port}",
        "listeners": f"PLAINTEXT://127.0.0.1:{broker_port},CONTROLLER://127.0.0.1:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{broker_port}",
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "inter.broker.listener.name": "PLAINTEXT",
        "log.dirs": str(log_dir),
        # A single broker cannot hold three replicas of the internal topics; without these,
        # consumer groups and transactions wait forever.
        "offsets.topic.replication.factor": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        # One partition each instead of 50: created on first use, they would otherwise cost
        # seconds on a 2-core machine.
        "offsets.topic.num.partitions": "1",
        "transaction.state.log.num.partitions": "1",
        "group.initial.rebalance.delay.ms": "0",  # the first consumer joins at once
        "group.min.session.timeout.ms": str(LOCAL_MIN_SESSION_TIMEOUT_MS),
        "auto.create.topics.enable": "true",
        "num.partitions": "1",
        "num.network.threads": "2",
        "num.io.threads": "2",
        **(extra or {}),
    }
    return "".join(f"{key}={value}\n" for key, value in settings.items())


def _free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _free_broker_port(taken: Sequence[int] = ()) -> int:
    """A free loopback port in `_PORT_RANGE` (see there why not an ephemeral one)."""
    for port in random.sample(_PORT_RANGE, len(_PORT_RANGE)):
        if port in taken:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise KafkaUnavailableError(
        f"Found no free loopback port for the broker in {_PORT_RANGE.start}-{_PORT_RANGE.stop - 1}."
    )


def _kafka_cluster_id() -> str:
    # The format Kafka's `random-uuid` prints (URL-safe base64 of 16 bytes, no padding), made
    # here to save a JVM start.
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


def _jvm_command(java: str, jars: Path, log4j_config: Path, extra: Sequence[str] = ()) -> list[str]:
    return [
        java,
        "-Xms128m",
        "-Xmx512m",
        # One GC thread and the quick (C1) compiler only: on 2 cores that start in about half the
        # time, and test traffic never needs C2's peak throughput.
        "-XX:+UseSerialGC",
        "-XX:TieredStopAtLevel=1",
        "-XX:-UsePerfData",  # no hsperfdata files in /tmp
        "-XX:+ExitOnOutOfMemoryError",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={log4j_config}",
        *extra,
        "-cp",
        f"{jars}/*",
    ]


def _class_data_sharing(java: str, jars: Path) -> tuple[list[str], Path, Path | None]:
    """JVM flags that map the broker's classes from a shared archive, about 1 s off each start.

    There is no archive until a broker has run, so the first broker writes one when it exits
    (to a pending name; `_LocalBroker.stop` renames it). The archive is keyed by the exact JVM
    build: another JDK must not be handed it. Returns flags, archive path, pending path.
    """
    build = hashlib.sha256(_java_version_text(java).encode()).hexdigest()[:12]
    archive = jars / f"broker-classes-{build}.jsa"
    _remove_stale(jars, ".broker-classes-*.jsa")  # pending archives of brokers that were killed
    if archive.is_file():
        return [f"-XX:SharedArchiveFile={archive}"], archive, None
    pending = jars / f".broker-classes-{build}-{uuid.uuid4().hex[:8]}.jsa"
    return [f"-XX:ArchiveClassesAtExit={pending}"], archive, pending


class _LocalBroker:
    """One broker JVM, its temporary directory and log file."""

    def __init__(self, java: str, cache: Path, *, restartable: bool = False) -> None:
        self.work = Path(tempfile.mkdtemp(prefix="intermission-kafka-"))
        self.log_path = self.work / "broker.log"
        self.port = _free_broker_port()
        self.controller_port = _free_broker_port(taken=[self.port])
        shutil.copytree(cache / _STORAGE_TEMPLATE, self.work / "data")
        properties = _server_properties(
            self.work / "data",
            self.port,
            self.controller_port,
            _RESTARTABLE_SETTINGS if restartable else None,
        )
        (self.work / "server.properties").write_text(properties)
        (self.work / "log4j2.properties").write_text(_LOG4J2_PROPERTIES)
        self._java, self._cache = java, cache
        self._cds_flags, self._archive, self._pending_archive = _class_data_sharing(java, cache)
        self.process: subprocess.Popen[bytes] | None = None
        self._stopped = False
        self._halted = False

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def halt(self, *, kill: bool) -> None:
        """Stop the JVM and keep its data: SIGKILL, or SIGTERM (a controlled shutdown)."""
        process = self.process
        self._halted = True  # on purpose: stop() is not to report it as a crash
        if process is None or process.poll() is not None:
            return
        if kill:
            process.kill()
        else:
            process.terminate()
            try:
                process.wait(timeout=_STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                process.kill()
        process.wait()
        # A broker that exited cleanly may have left the class archive it was asked to write:
        # publish it now, so the restart (and later brokers) start from it.
        if self._publish_archive():
            self._cds_flags, self._archive, self._pending_archive = _class_data_sharing(
                self._java, self._cache
            )

    def start(self) -> None:
        """Start the JVM; again after `halt()`, on the same log directory and ports."""
        self._halted = False
        command = [
            *_jvm_command(self._java, self._cache, self.work / "log4j2.properties", self._cds_flags),
            "kafka.Kafka",
            str(self.work / "server.properties"),
        ]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,  # CI may have no stdin at all
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=die_with_parent(),
            )

    def stop(self, *, report_crash: bool = True) -> None:
        if self._stopped:
            return
        self._stopped = True
        process = self.process
        if process is not None and process.poll() is None:
            process.terminate()  # SIGTERM: Kafka shuts down cleanly in well under a second
            try:
                process.wait(timeout=_STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        elif process is not None and report_crash and not self._halted:
            # The broker died before we stopped it: tests probably failed for that reason.
            sys.stderr.write(
                f"Kafka broker exited early, code {process.returncode}.{_log_tail(self.log_path)}\n"
            )
        self._publish_archive()
        shutil.rmtree(self.work, ignore_errors=True)

    def _publish_archive(self) -> bool:
        """Move a freshly written class archive into place; True if there is one now."""
        pending = self._pending_archive
        if pending is None:
            return False
        with contextlib.suppress(OSError):  # e.g. a read-only cache: then every start is slower
            if pending.is_file() and pending.stat().st_size > 0:
                pending.replace(self._archive)
            pending.unlink(missing_ok=True)
        return self._archive.is_file()


def _start_local_broker(startup_timeout: float, *, restartable: bool = False) -> KafkaService:
    java = _java()
    assert java is not None  # checked by _local_broker_unavailable_reason
    broker = _LocalBroker(java, ensure_kafka_jars(), restartable=restartable)
    atexit.register(broker.stop)  # also stop it if the session ends without teardown
    try:
        broker.start()
        _wait_until_ready(broker.bootstrap, startup_timeout, process=broker.process, log_path=broker.log_path)
    except BaseException:
        broker.stop(report_crash=False)  # the raised error already carries the log's tail
        atexit.unregister(broker.stop)
        raise

    def stop() -> None:
        broker.stop()
        atexit.unregister(broker.stop)

    return KafkaService(
        bootstrap_servers=broker.bootstrap,
        source="local",
        log_path=broker.log_path,
        _stop=stop,
        _broker=broker,
    )
