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
import os
import warnings
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient  # type: ignore[import-untyped]
from aiokafka.admin.config_resource import (  # type: ignore[import-untyped]
    ConfigResource,
    ConfigResourceType,
)
from intermission.errors import JavaToolsMissingError, KafkaUnavailableError
from intermission.service.local_services import (
    KAFKA_VERSION,
    LOCAL_MIN_SESSION_TIMEOUT_MS,
    KafkaService,
    ensure_kafka_jars,
    install_hint,
    kafka_cache_dir,
    wait_for_kafka,
)
from intermission.service.local_services import start_local_kafka as _start_local_broker
from intermission.service.local_services import start_local_kafka_cluster as _start_local_cluster
from intermission.service.local_services.kafka_jars import local_kafka_unavailable

# The broker itself is the product's (intermission.service.local_services, which
# `intermission services up` runs too); what is the suite's own is the order of the ways to
# get one, Docker among them, and the consumer settings that keep tests quick.
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
    "start_local_kafka_cluster",
    "topic_replication",
]

# Used when Docker is the way; the image testcontainers' KafkaContainer is written and tested for.
_DOCKER_IMAGE = "confluentinc/cp-kafka:7.6.0"


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
        wait_for_kafka(external, startup_timeout)
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

    local_problem = local_kafka_unavailable()
    if local_problem is None:
        return _start_local_broker(startup_timeout=startup_timeout)
    problems.append(str(local_problem))
    raise KafkaUnavailableError(_explain(problems))


def start_local_kafka(
    *,
    startup_timeout: float = 90.0,
    settings: dict[str, str] | None = None,
    port: int | None = None,
) -> KafkaService:
    """Start a broker of our own as a local JVM, whatever KAFKA_BOOTSTRAP_SERVERS or Docker
    offer: the only kind that `KafkaService.stop_for_outage()`, `kill()` and `restart()` can
    take down and bring back, and the only kind a test can configure (``settings``: broker
    properties, e.g. ``auto.create.topics.enable``; ``port``: its client port, for a test
    that must know it before the broker starts, as one behind a fault proxy does)."""
    problem = local_kafka_unavailable()
    if problem is not None:
        raise JavaToolsMissingError(
            problem.tool,
            "Cannot start a local Kafka broker, which this test needs because it stops and "
            f"restarts the broker (a broker from KAFKA_BOOTSTRAP_SERVERS or Docker cannot be): "
            f"{problem}. To fix it, {install_hint()}.",
        )
    return _start_local_broker(
        startup_timeout=startup_timeout, restartable=True, settings=settings, port=port
    )


def start_local_kafka_cluster(*, brokers: int = 3, startup_timeout: float = 120.0) -> KafkaService:
    """Start a KRaft cluster of our own (``brokers`` combined broker+controller JVMs, replication
    3, min.insync.replicas 2) whose nodes a test may kill, freeze and restart
    (`KafkaService.cluster`). Always local, as `start_local_kafka`, and for the same reason."""
    problem = local_kafka_unavailable()
    if problem is not None:
        raise JavaToolsMissingError(
            problem.tool,
            f"Cannot start a local Kafka cluster, which this test needs to take its brokers down: "
            f"{problem}. To fix it, {install_hint()}.",
        )
    return _start_local_cluster(brokers, startup_timeout=startup_timeout, restartable=True)


async def topic_replication(
    bootstrap: str, topics: list[str], *, within: float = 30.0
) -> dict[str, tuple[int, int]]:
    """Each topic's replicas per partition (the fewest of its partitions) and its
    min.insync.replicas, as the cluster reports them. A topic created a moment ago may not be
    in every broker's metadata yet: asks again until all are, for up to ``within`` s."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    await admin.start()
    try:
        async with asyncio.timeout(within):
            while True:
                found = await _replication(admin, topics)
                if set(found) == set(topics):
                    return found
                await asyncio.sleep(0.2)
    finally:
        await admin.close()


async def _replication(admin: AIOKafkaAdminClient, topics: list[str]) -> dict[str, tuple[int, int]]:
    described = [t for t in await admin.describe_topics(topics) if t["error_code"] == 0 and t["partitions"]]
    resources = [
        ConfigResource(ConfigResourceType.TOPIC, t["topic"], configs={"min.insync.replicas": None})
        for t in described
    ]
    min_isr: dict[str, int] = {}
    for response in await admin.describe_configs(resources) if resources else []:
        for resource in response.resources:
            for entry in resource[4]:
                if entry[0] == "min.insync.replicas" and entry[1] is not None:
                    min_isr[resource[3]] = int(entry[1])
    return {
        t["topic"]: (min(len(p["replicas"]) for p in t["partitions"]), min_isr[t["topic"]])
        for t in described
        if t["topic"] in min_isr
    }


def _explain(problems: list[str]) -> str:
    return (
        "Cannot provide an Apache Kafka broker for the tests:\n"
        + "".join(f"  - {p}\n" for p in ["KAFKA_BOOTSTRAP_SERVERS is not set", *problems])
        + "Fix one of these:\n"
        f"  - {install_hint()}\n"
        "  - start a Docker engine (testcontainers runs the broker)\n"
        "  - set KAFKA_BOOTSTRAP_SERVERS=host:port to use a broker you run yourself"
    )


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
        wait_for_kafka(bootstrap, startup_timeout)
    except BaseException:
        container.stop()
        raise
    return KafkaService(bootstrap_servers=bootstrap, source="docker", _stop=container.stop)
