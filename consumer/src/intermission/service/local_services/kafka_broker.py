"""One local Kafka JVM (broker and KRaft controller), its temporary directory and its log."""

from __future__ import annotations

import contextlib
import hashlib
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path

from ...errors import KafkaUnavailableError
from .kafka_jars import STORAGE_TEMPLATE, kafka_uuid, remove_stale
from .kafka_jvm import (
    LOG4J2_PROPERTIES,
    RESTARTABLE_SETTINGS,
    SINGLE_BROKER_HEAP,
    Quorum,
    java_version_text,
    jvm_command,
    server_properties,
)
from .processes import die_with_parent, loopback_port_is_free

__all__ = ["LocalBroker", "free_broker_ports", "log_tail"]

_STOP_GRACE_S = 15.0
_LOG_TAIL_LINES = 40
# Local brokers listen on ports below Linux's ephemeral range (32768 and up), and below the
# range SeaweedFS uses (11000-30999): a port that is free when chosen cannot later be taken by
# some client's outgoing connection while the broker is down for an outage test.
_PORT_RANGE = range(9000, 11000)


def log_tail(log_path: Path | None) -> str:
    if log_path is None or not log_path.exists():
        return ""
    lines = log_path.read_text(errors="replace").splitlines()[-_LOG_TAIL_LINES:]
    return "\nLast lines of the broker log:\n" + "\n".join(lines)


def _free_broker_port(taken: Sequence[int] = ()) -> int:
    """A free loopback port in `_PORT_RANGE` (see there why not an ephemeral one)."""
    for port in random.sample(_PORT_RANGE, len(_PORT_RANGE)):
        if port not in taken and loopback_port_is_free(port):
            return port
    raise KafkaUnavailableError(
        f"Found no free loopback port for the broker in {_PORT_RANGE.start}-{_PORT_RANGE.stop - 1}."
    )


def free_broker_ports(count: int, taken: Sequence[int] = ()) -> list[int]:
    """`count` distinct free ports in `_PORT_RANGE`, none of them in ``taken``."""
    ports: list[int] = []
    for _ in range(count):
        ports.append(_free_broker_port(taken=[*taken, *ports]))
    return ports


def _own_identity(data: Path, node_id: int) -> None:
    """Make a copy of the storage template this node's: its node id, and a log directory id
    of its own (the controller tells brokers' directories apart by it)."""
    meta = data / "meta.properties"
    directory_id = kafka_uuid()
    lines = []
    for line in meta.read_text().splitlines():
        if line.startswith("node.id="):
            line = f"node.id={node_id}"
        elif line.startswith("directory.id="):
            line = f"directory.id={directory_id}"
        lines.append(line)
    meta.write_text("\n".join(lines) + "\n")


def _class_data_sharing(java: str, jars: Path) -> tuple[list[str], Path, Path | None]:
    """JVM flags that map the broker's classes from a shared archive, about 1 s off each start.

    There is no archive until a broker has run, so the first broker writes one when it exits
    (to a pending name; `LocalBroker.stop` renames it). The archive is keyed by the exact JVM
    build: another JDK must not be handed it. Returns flags, archive path, pending path.
    """
    build = hashlib.sha256(java_version_text(java).encode()).hexdigest()[:12]
    archive = jars / f"broker-classes-{build}.jsa"
    remove_stale(jars, ".broker-classes-*.jsa")  # pending archives of brokers that were killed
    if archive.is_file():
        return [f"-XX:SharedArchiveFile={archive}"], archive, None
    pending = jars / f".broker-classes-{build}-{uuid.uuid4().hex[:8]}.jsa"
    return [f"-XX:ArchiveClassesAtExit={pending}"], archive, pending


class LocalBroker:
    """One broker JVM, its temporary directory and log file.

    ``port`` pins the client port (it must be free); by default one is chosen. ``settings`` are
    server.properties of its own (``auto.create.topics.enable=false``, ...) on top of ours.
    ``quorum`` makes it one node of a local cluster (whose caller chose every port); ``heap``
    is its JVM's -Xmx.
    """

    def __init__(
        self,
        java: str,
        cache: Path,
        *,
        restartable: bool = False,
        port: int | None = None,
        settings: Mapping[str, str] | None = None,
        quorum: Quorum | None = None,
        heap: str = SINGLE_BROKER_HEAP,
    ) -> None:
        if port is not None and not loopback_port_is_free(port):
            raise KafkaUnavailableError(f"127.0.0.1:{port} is already in use; the broker cannot listen there")
        self.work = Path(tempfile.mkdtemp(prefix="intermission-kafka-"))
        self.log_path = self.work / "broker.log"
        self.port = port if port is not None else _free_broker_port()
        self.quorum = quorum
        self.node_id = quorum.node_id if quorum is not None else 1
        self.controller_port = (
            quorum.voters[quorum.node_id] if quorum is not None else _free_broker_port(taken=[self.port])
        )
        self._heap = heap
        self._cache = cache
        self._fresh_data()
        properties = server_properties(
            self.work / "data",
            self.port,
            self.controller_port,
            {**(RESTARTABLE_SETTINGS if restartable else {}), **(settings or {})},
            quorum=quorum,
        )
        (self.work / "server.properties").write_text(properties)
        (self.work / "log4j2.properties").write_text(LOG4J2_PROPERTIES)
        self._java = java
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

    @property
    def crashed(self) -> bool:
        """It exited, and not because `halt()` stopped it."""
        return self.process is not None and self.process.poll() is not None and not self._halted

    def freeze(self) -> None:
        """SIGSTOP the JVM: it holds its connections and answers nothing, as a machine cut off
        from the network or stalled in a long pause would."""
        if self.running:
            assert self.process is not None
            self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        if self.running:
            assert self.process is not None
            self.process.send_signal(signal.SIGCONT)

    def signal_stop(self) -> None:
        """Ask the JVM to shut down (SIGTERM) without waiting; `stop()` waits and cleans up."""
        if self.running and not self._stopped:
            assert self.process is not None
            self._halted = True  # on purpose: stop() is not to report it as a crash
            self.thaw()
            self.process.terminate()

    def halt(self, *, kill: bool) -> None:
        """Stop the JVM and keep its data: SIGKILL, or SIGTERM (a controlled shutdown)."""
        process = self.process
        self._halted = True  # on purpose: stop() is not to report it as a crash
        if process is None or process.poll() is not None:
            return
        self.thaw()  # a frozen JVM would never act on SIGTERM
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

    def reset_data(self) -> None:
        """Replace the (halted) broker's log directory by a freshly formatted one."""
        shutil.rmtree(self.work / "data")
        self._fresh_data()

    def _fresh_data(self) -> None:
        shutil.copytree(self._cache / STORAGE_TEMPLATE, self.work / "data")
        if self.quorum is not None:
            _own_identity(self.work / "data", self.node_id)

    def start(self) -> None:
        """Start the JVM; again after `halt()`, on the same log directory and ports."""
        self._halted = False
        command = [
            *jvm_command(
                self._java, self._cache, self.work / "log4j2.properties", self._cds_flags, heap=self._heap
            ),
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
            self.thaw()
            process.terminate()  # SIGTERM: Kafka shuts down cleanly in well under a second
            try:
                process.wait(timeout=_STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        elif process is not None and report_crash and not self._halted:
            # The broker died before we stopped it: whatever used it probably failed for that reason.
            sys.stderr.write(
                f"Kafka broker exited early, code {process.returncode}.{log_tail(self.log_path)}\n"
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
