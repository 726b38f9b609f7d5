"""A 3-broker KRaft cluster (replication 3, min.insync.replicas 2) loses brokers while runs
are in flight (cluster_faults.py): the leader of the partitions carrying them is SIGKILLed, the
active controller is killed, every broker is restarted in turn, one broker is cut off for 60 s.
Nothing is lost, failed, dead-lettered or applied twice; each test prints how long the
outcomes took. A longer version: `uv run python bench/cluster_faults.py`.

The module shares one cluster (`cluster_kafka`): each test finds every node running with all
replicas in sync, and leaves it so.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cluster_faults import FAULTS, heal
from faultkit import Lane, flow_through
from intermission.service.adapters.kafka import ensure_topics
from intermission.service.local_services import LocalCluster
from realservices import KafkaService, topic_replication
from realservices.plugin import S3Bucket

RUNS = 20  # CI-sized: the bench runs more
BEFORE = 8  # runs submitted before the fault, SPACING s apart; the rest spread over the fault
SPACING = 0.3


@pytest.fixture
def cluster(cluster_kafka: KafkaService) -> Iterator[LocalCluster]:
    """The shared cluster, whole before and after the test."""
    nodes = cluster_kafka.cluster
    heal(nodes)
    yield nodes
    heal(nodes)


@pytest.mark.kafka
@pytest.mark.s3
@pytest.mark.parametrize("fault", list(FAULTS))
async def test_cluster_fault_loses_nothing(
    fault: str, cluster_kafka: KafkaService, cluster: LocalCluster, s3_bucket: S3Bucket, tmp_path: Path
) -> None:
    lane = Lane(cluster_kafka.bootstrap_servers, s3_bucket, tmp_path)
    chosen = FAULTS[fault]

    async def outage() -> float:
        return await chosen.inflict(cluster, lane)

    await flow_through(lane, RUNS, before=BEFORE, spacing=SPACING, outage=outage, during=chosen.lasts)


@pytest.mark.kafka
async def test_topics_get_three_replicas_and_min_insync_2_on_three_brokers(
    cluster_kafka: KafkaService, kafka_bootstrap: str, kafka_topic_prefix: str
) -> None:
    on_cluster, on_one = f"{kafka_topic_prefix}cluster", f"{kafka_topic_prefix}single"
    await ensure_topics(cluster_kafka.bootstrap_servers, [on_cluster], 2)
    await ensure_topics(kafka_bootstrap, [on_one], 2)  # the suite's one broker
    assert await topic_replication(cluster_kafka.bootstrap_servers, [on_cluster]) == {on_cluster: (3, 2)}
    assert await topic_replication(kafka_bootstrap, [on_one]) == {on_one: (1, 1)}
    # Explicit replication is taken as given, even on the cluster.
    explicit = f"{kafka_topic_prefix}explicit"
    await ensure_topics(cluster_kafka.bootstrap_servers, [explicit], 1, 2)
    assert (await topic_replication(cluster_kafka.bootstrap_servers, [explicit]))[explicit][0] == 2
