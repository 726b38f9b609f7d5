"""A local Kafka cluster: several combined broker+controller JVMs in one KRaft quorum, on
loopback, with the handles fault tests need (kill, restart, freeze one node; find the leader of
a partition, the active controller)."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient  # type: ignore[import-untyped]

from ...errors import KafkaUnavailableError
from .kafka_broker import LocalBroker, free_broker_ports, log_tail
from .kafka_jvm import CLUSTER_BROKER_HEAP, Quorum
from .processes import run_async_in_thread, tcp_probe

__all__ = ["LocalCluster"]

# KafkaRaftClient's line when a node becomes the quorum's leader, i.e. the active controller.
_LEADER_LINE = re.compile(r"Completed transition to Leader\(.*?epoch=(\d+)")
_POLL_S = 0.25


class LocalCluster:
    """``count`` combined nodes, ids 1..count. ``port``: the first node's client port."""

    def __init__(
        self,
        java: str,
        cache: Path,
        count: int,
        *,
        restartable: bool = False,
        port: int | None = None,
        settings: Mapping[str, str] | None = None,
    ) -> None:
        pinned = [port] if port is not None else []
        client_ports = pinned + free_broker_ports(count - len(pinned), taken=pinned)
        controller_ports = free_broker_ports(count, taken=client_ports)
        voters = {node: controller_ports[node - 1] for node in range(1, count + 1)}
        self.brokers: dict[int, LocalBroker] = {}
        try:
            for node in voters:
                self.brokers[node] = LocalBroker(
                    java,
                    cache,
                    restartable=restartable,
                    port=client_ports[node - 1],
                    settings=settings,
                    quorum=Quorum(node_id=node, voters=voters),
                    heap=CLUSTER_BROKER_HEAP,
                )
        except BaseException:
            self.stop(report_crash=False)
            raise

    @property
    def bootstrap(self) -> str:
        return ",".join(broker.bootstrap for broker in self.brokers.values())

    @property
    def running(self) -> bool:
        return all(broker.running for broker in self.brokers.values())

    @property
    def log_paths(self) -> dict[int, Path]:
        return {node: broker.log_path for node, broker in self.brokers.items()}

    def start(self, timeout: float) -> None:
        """Start every JVM at once (a quorum forms only when most are up), then wait until the
        quorum has every broker registered."""
        for broker in self.brokers.values():
            broker.start()
        self.wait_registered(timeout)

    def node(self, node_id: int) -> LocalBroker:
        try:
            return self.brokers[node_id]
        except KeyError:
            raise KafkaUnavailableError(
                f"the local cluster has no node {node_id} (nodes: {sorted(self.brokers)})"
            ) from None

    def restart(self, node_id: int, timeout: float) -> float:
        """Start a halted (or killed) node again on its own data and ports, and wait until the
        quorum has it registered; returns the seconds taken."""
        broker = self.node(node_id)
        started = time.monotonic()
        broker.halt(kill=True)  # a no-op when it is down already
        broker.start()
        self.wait_registered(timeout)
        return time.monotonic() - started

    def wait_registered(self, timeout: float) -> None:
        """Until every running node answers and the cluster lists every broker."""
        deadline = time.monotonic() + timeout
        last: BaseException | None = None
        while time.monotonic() < deadline:
            for node, broker in self.brokers.items():
                if broker.crashed:
                    raise KafkaUnavailableError(f"Kafka node {node} exited while starting." + _tail(broker))
            try:
                # Open ports are cheap to check, and a client that finds none logs every miss.
                for broker in self.brokers.values():
                    if broker.running:
                        tcp_probe(broker.bootstrap)
                live = run_async_in_thread(_broker_ids(self.bootstrap))
                if live >= set(self.brokers):
                    return
                last = KafkaUnavailableError(f"brokers registered: {sorted(live)}")
            except Exception as exc:  # not up yet
                last = exc
            time.sleep(_POLL_S)
        raise KafkaUnavailableError(
            f"The local Kafka cluster at {self.bootstrap} did not register all "
            f"{len(self.brokers)} brokers within {timeout:.0f} s (last: {last!r})."
            + "".join(_tail(b) for b in self.brokers.values())
        )

    def wait_in_sync(self, timeout: float) -> None:
        """Until every replica of every partition is in sync again (after a node came back), as
        an operator waits between the steps of a rolling restart."""
        deadline = time.monotonic() + timeout
        lagging: object = "unknown"
        while time.monotonic() < deadline:
            try:
                lagging = run_async_in_thread(_partitions_out_of_sync(self.bootstrap))
                if not lagging:
                    return
            except Exception as exc:  # a node is still joining
                lagging = exc
            time.sleep(_POLL_S)
        raise KafkaUnavailableError(f"replicas still out of sync after {timeout:.0f} s: {lagging!r}")

    def leader_of(self, topic: str, partition: int) -> int:
        """The node that leads a partition now."""
        leaders = run_async_in_thread(_leaders(self.bootstrap, topic))
        if partition not in leaders or leaders[partition] < 0:
            raise KafkaUnavailableError(f"{topic}[{partition}] has no leader now ({leaders})")
        return leaders[partition]

    def active_controller(self) -> int:
        """The running node that leads the KRaft quorum, read from the nodes' logs: the one
        that most recently became leader (the highest epoch). Kafka's DescribeCluster does not
        say, in KRaft it names a random broker."""
        best: tuple[int, int] | None = None
        for node, broker in self.brokers.items():
            if not broker.running or not broker.log_path.exists():
                continue
            text = broker.log_path.read_text(errors="replace")
            epochs = [int(m.group(1)) for m in _LEADER_LINE.finditer(text)]
            if epochs and (best is None or max(epochs) > best[0]):
                best = (max(epochs), node)
        if best is None:
            raise KafkaUnavailableError("no running node of the local cluster has led the quorum")
        return best[1]

    def stop(self, *, report_crash: bool = True) -> None:
        # All at once: one by one, each controlled shutdown waits for leadership to move to
        # nodes that are about to stop too.
        for broker in self.brokers.values():
            broker.signal_stop()
        for broker in self.brokers.values():
            broker.stop(report_crash=report_crash)


def _tail(broker: LocalBroker) -> str:
    return f"\n[node {broker.node_id}]" + log_tail(broker.log_path)


async def _admin(bootstrap: str) -> AIOKafkaAdminClient:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    await admin.start()
    return admin


async def _broker_ids(bootstrap: str) -> set[int]:
    admin = await _admin(bootstrap)
    try:
        described = await admin.describe_cluster()
    finally:
        await admin.close()
    return {int(b["node_id"]) for b in described["brokers"]}


async def _described_topics(bootstrap: str, topics: list[str] | None) -> list[dict[str, object]]:
    admin = await _admin(bootstrap)
    try:
        names = topics if topics is not None else await admin.list_topics()
        described: list[dict[str, object]] = await admin.describe_topics(list(names))
    finally:
        await admin.close()
    return described


async def _partitions_out_of_sync(bootstrap: str) -> list[str]:
    lagging: list[str] = []
    for topic in await _described_topics(bootstrap, None):
        for p in topic["partitions"]:  # type: ignore[attr-defined]
            if set(p["isr"]) != set(p["replicas"]):
                lagging.append(f"{topic['topic']}[{p['partition']}] isr={p['isr']} replicas={p['replicas']}")
    return lagging


async def _leaders(bootstrap: str, topic: str) -> dict[int, int]:
    described = await _described_topics(bootstrap, [topic])
    return {
        int(p["partition"]): int(p["leader"])
        for t in described
        for p in t["partitions"]  # type: ignore[attr-defined]
    }
