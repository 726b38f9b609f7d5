"""A running Kafka broker as a handle: start a local one, wait until one answers, stop it."""

from __future__ import annotations

import atexit
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from aiokafka.admin import AIOKafkaAdminClient  # type: ignore[import-untyped]

from ...errors import KafkaUnavailableError
from .kafka_broker import LocalBroker, log_tail
from .kafka_cluster import LocalCluster
from .kafka_jars import ensure_kafka_jars, local_kafka_unavailable
from .kafka_jvm import find_java
from .processes import Stoppable, run_async_in_thread, tcp_probe

__all__ = ["KafkaService", "KafkaSource", "start_local_kafka", "start_local_kafka_cluster", "wait_for_kafka"]

# Where a broker came from: an address in the environment, a Docker container, or a local JVM.
KafkaSource = Literal["env", "docker", "local"]


@dataclass
class KafkaService(Stoppable):
    """A running broker. `stop()` is idempotent; the object is also a context manager.

    A broker started as a local JVM with ``restartable=True`` can also be taken down and
    brought back for outage tests: `stop_for_outage()` (a controlled shutdown), `kill()`
    (SIGKILL), then `restart()` on the same log directory and the same ports. Other brokers
    cannot: those methods raise `KafkaUnavailableError`.
    """

    bootstrap_servers: str
    source: KafkaSource
    # The local broker's log while it runs; `stop()` deletes it with the broker's data.
    log_path: Path | None = None
    _stop: Callable[[], None] | None = field(default=None, repr=False)
    _broker: LocalBroker | None = field(default=None, repr=False)
    _cluster: LocalCluster | None = field(default=None, repr=False)

    @property
    def running(self) -> bool:
        if self._cluster is not None:
            return self._cluster.running
        return self._broker is not None and self._broker.running

    @property
    def cluster(self) -> LocalCluster:
        """The nodes of a local cluster (`start_local_kafka_cluster`), for fault tests."""
        if self._cluster is None or self._stop is None:
            raise KafkaUnavailableError(
                f"the Kafka at {self.bootstrap_servers} is not a running local cluster "
                "(use start_local_kafka_cluster(), or the cluster_kafka fixture)"
            )
        return self._cluster

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

    def restart(self, *, timeout: float = 90.0, lose_data: bool = False) -> float:
        """Start the broker again on the same log directory and ports, and wait until it
        answers metadata requests; returns the seconds that took. ``lose_data``: it comes back
        with an empty log instead (a disk replaced), so clients' producer state is gone."""
        broker = self._restartable("restart")
        started = time.monotonic()
        broker.halt(kill=True)  # a no-op when it is already down
        if lose_data:
            broker.reset_data()
        broker.start()
        wait_for_kafka(broker.bootstrap, timeout, process=broker.process, log_path=broker.log_path)
        return time.monotonic() - started

    def _restartable(self, what: str) -> LocalBroker:
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


def start_local_kafka(
    *,
    startup_timeout: float = 90.0,
    restartable: bool = False,
    port: int | None = None,
    settings: Mapping[str, str] | None = None,
) -> KafkaService:
    """Start a broker as a local JVM on loopback and wait until it answers metadata requests.

    Raises `JavaToolsMissingError` without Java 17+ (or without Maven before the jars are
    cached). ``restartable`` shortens the broker's session so that a restart after SIGKILL
    registers at once (see `KafkaService.restart`); ``port`` pins the client port; ``settings``
    are broker properties on top of ours (a test's broker that creates no topics on use).
    """
    problem = local_kafka_unavailable()
    if problem is not None:
        raise problem
    java = find_java()
    assert java is not None  # local_kafka_unavailable() says so otherwise
    broker = LocalBroker(java, ensure_kafka_jars(), restartable=restartable, port=port, settings=settings)
    atexit.register(broker.stop)  # also stop it if the process ends without stopping it
    try:
        broker.start()
        wait_for_kafka(broker.bootstrap, startup_timeout, process=broker.process, log_path=broker.log_path)
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


def start_local_kafka_cluster(
    brokers: int = 3,
    *,
    startup_timeout: float = 120.0,
    restartable: bool = False,
    port: int | None = None,
    settings: Mapping[str, str] | None = None,
) -> KafkaService:
    """Start ``brokers`` combined broker+controller JVMs as one KRaft cluster on loopback and
    wait until every broker is registered. With three or more, the internal topics and new
    topics get three replicas and min.insync.replicas 2. ``port`` pins node 1's client port;
    the others get free ones. Raises as `start_local_kafka` does."""
    problem = local_kafka_unavailable()
    if problem is not None:
        raise problem
    java = find_java()
    assert java is not None  # local_kafka_unavailable() says so otherwise
    cluster = LocalCluster(
        java, ensure_kafka_jars(), brokers, restartable=restartable, port=port, settings=settings
    )
    atexit.register(cluster.stop)
    try:
        cluster.start(startup_timeout)
    except BaseException:
        cluster.stop(report_crash=False)
        atexit.unregister(cluster.stop)
        raise

    def stop() -> None:
        cluster.stop()
        atexit.unregister(cluster.stop)

    return KafkaService(bootstrap_servers=cluster.bootstrap, source="local", _stop=stop, _cluster=cluster)


def wait_for_kafka(
    bootstrap: str,
    timeout: float,
    *,
    process: subprocess.Popen[bytes] | None = None,
    log_path: Path | None = None,
) -> None:
    """Poll until the broker serves metadata; fail early if its process dies."""
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise KafkaUnavailableError(
                f"The Kafka broker exited with code {process.returncode} while starting." + log_tail(log_path)
            )
        try:
            # A port that accepts is cheap to check; only then pay for a metadata round trip.
            tcp_probe(bootstrap)
            run_async_in_thread(_describe_cluster(bootstrap))
            return
        except Exception as exc:  # not up yet
            last_error = exc
            time.sleep(0.2)
    raise KafkaUnavailableError(
        f"The Kafka broker at {bootstrap} did not answer within {timeout:.0f} s "
        f"(last error: {last_error!r})." + log_tail(log_path)
    )


async def _describe_cluster(bootstrap: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    await admin.start()
    try:
        await admin.describe_cluster()
    finally:
        await admin.close()
