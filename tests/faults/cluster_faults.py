"""The faults a 3-broker cluster is put through while runs are in flight, shared by
test_cluster.py (CI-sized) and bench/cluster_faults.py (longer). Each takes nodes down and
returns the monotonic time at which the cluster was whole again."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from faultkit import Lane
from intermission.service.local_services import LocalCluster

DOWN_S = 10.0  # how long a killed node stays down before it is restarted
CUT_OFF_S = 60.0
READY_S = 90.0  # for a node to register again, or for every replica to be in sync


@dataclass(frozen=True)
class ClusterFault:
    inflict: Callable[[LocalCluster, Lane], Awaitable[float]]
    lasts: float  # about how many seconds it lasts: runs keep arriving over that time


def heal(cluster: LocalCluster) -> None:
    """Every node running, registered, and every replica in sync: how each fault starts."""
    for node_id, broker in cluster.brokers.items():
        broker.thaw()
        if not broker.running:
            cluster.restart(node_id, READY_S)
    cluster.wait_registered(READY_S)
    cluster.wait_in_sync(READY_S)


async def _kill_for_a_while(cluster: LocalCluster, victim: int, what: str) -> float:
    cluster.node(victim).halt(kill=True)
    print(f"node {victim} ({what}) SIGKILLed")
    await asyncio.sleep(DOWN_S)
    took = await asyncio.to_thread(cluster.restart, victim, READY_S)
    print(f"node {victim} back after {DOWN_S + took:.1f} s (restart {took:.1f} s)")
    return time.monotonic()


async def leader_sigkilled(cluster: LocalCluster, lane: Lane) -> float:
    """SIGKILL the leader of the requests partition 0 (and whatever else it leads)."""
    victim = await asyncio.to_thread(cluster.leader_of, lane.topics.requests, 0)
    led = [
        f"{topic}[{p}]"
        for topic in (lane.topics.requests, lane.topics.resumes, lane.topics.results)
        for p in range(lane.partitions)
        if await asyncio.to_thread(cluster.leader_of, topic, p) == victim
    ]
    return await _kill_for_a_while(cluster, victim, f"leader of {', '.join(led)}")


async def controller_killed(cluster: LocalCluster, lane: Lane) -> float:
    """SIGKILL the active controller (the KRaft quorum's leader)."""
    victim = await asyncio.to_thread(cluster.active_controller)
    back_at = await _kill_for_a_while(cluster, victim, "active controller")
    print(f"active controller now node {cluster.active_controller()}")
    return back_at


async def rolling_restart(cluster: LocalCluster, lane: Lane) -> float:
    """Restart every node in turn: a controlled shutdown (SIGTERM), then the next node only once
    every replica has caught up again, as an operator rolls a cluster."""
    for node_id in sorted(cluster.brokers):
        started = time.monotonic()
        await asyncio.to_thread(cluster.node(node_id).halt, kill=False)
        await asyncio.to_thread(cluster.restart, node_id, READY_S)
        await asyncio.to_thread(cluster.wait_in_sync, READY_S)
        print(f"node {node_id} restarted and in sync in {time.monotonic() - started:.1f} s")
    return time.monotonic()


async def broker_cut_off(cluster: LocalCluster, lane: Lane) -> float:
    """Freeze (SIGSTOP) the leader of the requests partition 0 for `CUT_OFF_S`: its connections
    stay open and answer nothing, as a broker behind a network partition or in a long pause."""
    victim = await asyncio.to_thread(cluster.leader_of, lane.topics.requests, 0)
    cluster.node(victim).freeze()
    print(f"node {victim} (leader of {lane.topics.requests}[0]) frozen (SIGSTOP)")
    await asyncio.sleep(CUT_OFF_S)
    cluster.node(victim).thaw()
    print(f"node {victim} thawed after {CUT_OFF_S:.0f} s")
    return time.monotonic()


FAULTS = {
    "leader_sigkilled": ClusterFault(leader_sigkilled, lasts=DOWN_S),
    "controller_killed": ClusterFault(controller_killed, lasts=DOWN_S),
    # About how long three restarts, each waiting for the replicas, take on 2 cores.
    "rolling_restart": ClusterFault(rolling_restart, lasts=20.0),
    "broker_cut_off_60s": ClusterFault(broker_cut_off, lasts=CUT_OFF_S),
}
