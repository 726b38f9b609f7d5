"""How a local Kafka runs: the Java it needs, the JVM command line, and the broker's settings."""

from __future__ import annotations

import functools
import os
import re
import shutil
import socket
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "CLUSTER_BROKER_HEAP",
    "LOCAL_MIN_SESSION_TIMEOUT_MS",
    "LOG4J2_PROPERTIES",
    "RESTARTABLE_SETTINGS",
    "SINGLE_BROKER_HEAP",
    "Quorum",
    "find_java",
    "free_loopback_port",
    "java_major",
    "java_version_text",
    "jvm_command",
    "lone_quorum",
    "server_properties",
]

# group.min.session.timeout.ms of the brokers started here (Kafka's default is 6000): a dead
# consumer leaves the group after its session timeout, so tests that kill workers want it low.
LOCAL_MIN_SESSION_TIMEOUT_MS = 1000

LOG4J2_PROPERTIES = """\
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
RESTARTABLE_SETTINGS = {"broker.heartbeat.interval.ms": "500", "broker.session.timeout.ms": "3000"}


def find_java() -> str | None:
    # JAVA_HOME wins over PATH, as it does for Kafka's own start scripts.
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").is_file():
        return str(Path(java_home) / "bin" / "java")
    return shutil.which("java")


@functools.cache
def java_version_text(java: str) -> str:
    result = subprocess.run(
        [java, "-version"], capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False
    )
    return result.stderr + result.stdout


def java_major(java: str) -> int | None:
    match = re.search(r'version "(\d+)(?:\.(\d+))?', java_version_text(java))
    if match is None:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major  # "1.8.0" means Java 8


# The heap of a lone broker, and of each broker of a local cluster: three JVMs share two cores
# and the machine's memory with the workers, and local traffic fits in far less.
SINGLE_BROKER_HEAP = "512m"
CLUSTER_BROKER_HEAP = "384m"


def jvm_command(
    java: str, jars: Path, log4j_config: Path, extra: Sequence[str] = (), *, heap: str = SINGLE_BROKER_HEAP
) -> list[str]:
    return [
        java,
        "-Xms128m",
        f"-Xmx{heap}",
        # One GC thread and the quick (C1) compiler only: on 2 cores that start in about half the
        # time, and local traffic never needs C2's peak throughput.
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


@dataclass(frozen=True)
class Quorum:
    """Where a node sits in a local cluster: its id, and every voter's controller port by id."""

    node_id: int
    voters: Mapping[int, int]

    @property
    def replication(self) -> int:
        # Replicas of the internal topics: three where there are three brokers, one otherwise.
        return 3 if len(self.voters) >= 3 else 1


def lone_quorum(controller_port: int) -> Quorum:
    return Quorum(node_id=1, voters={1: controller_port})


def server_properties(
    log_dir: Path,
    broker_port: int,
    controller_port: int,
    extra: dict[str, str] | None = None,
    *,
    quorum: Quorum | None = None,
) -> str:
    quorum = quorum or lone_quorum(controller_port)
    voters = ",".join(f"{node}@127.0.0.1:{port}" for node, port in sorted(quorum.voters.items()))
    replicas = str(quorum.replication)
    min_isr = "2" if quorum.replication >= 3 else "1"
    settings = {
        # Each JVM is both broker and KRaft controller (a combined node), on loopback only.
        "process.roles": "broker,controller",
        "node.id": str(quorum.node_id),
        "controller.quorum.voters": voters,
        "listeners": f"PLAINTEXT://127.0.0.1:{broker_port},CONTROLLER://127.0.0.1:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{broker_port}",
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "inter.broker.listener.name": "PLAINTEXT",
        "log.dirs": str(log_dir),
        # A single broker cannot hold three replicas of the internal topics; without these,
        # consumer groups and transactions wait forever. A cluster of three holds three, and
        # acknowledges a write once two have it (acks=all), so one broker may be down.
        "offsets.topic.replication.factor": replicas,
        "transaction.state.log.replication.factor": replicas,
        "transaction.state.log.min.isr": min_isr,
        "share.coordinator.state.topic.replication.factor": replicas,
        "share.coordinator.state.topic.min.isr": min_isr,
        "default.replication.factor": replicas,
        "min.insync.replicas": min_isr,
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


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
