"""pytest plugin: real Kafka and S3 as fixtures.

Session fixtures start a service the first time a test asks for it, never otherwise, and stop it
when the session ends. A service that cannot start turns every test that needs it into an ERROR
carrying the reason: never a skip, since a skipped integration test looks like a passing one.

Fixtures:
    kafka_service       (session)  KafkaService
    kafka_bootstrap     (function) str, "host:port"
    kafka_topic_prefix  (function) str, unique per test; append your own topic names
    s3_service          (session)  S3Service
    s3_bucket           (function) S3Bucket, a fresh empty bucket

For outage tests, which take a service down and bring it back (never the shared one):
    outage_kafka        (function) KafkaService, a broker of the test's own (a local JVM, even
                                   when KAFKA_BOOTSTRAP_SERVERS or Docker is set): .kill(),
                                   .stop_for_outage(), .restart() on the same data and ports
    outage_s3           (function) S3Service, a SeaweedFS of the test's own:
                                   .stop_for_outage(), .restart() on the same data and ports
    outage_s3_bucket    (function) S3Bucket, a fresh bucket on `outage_s3`
    cluster_kafka       (module)   KafkaService, a 3-broker KRaft cluster of the module's own
                                   (replication 3, min.insync.replicas 2): `.cluster` kills,
                                   freezes and restarts its nodes; each test leaves them running

For slow and partial failures:
    toxiproxy           (function) Toxiproxy, a TCP fault proxy (built with `go install` on
                                   first use); the proxies a test makes are removed after it
Their start times are printed (run pytest with -s to see them).
"""

from __future__ import annotations

import re
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

import pytest

from .kafka import (
    KafkaService,
    KafkaUnavailableError,
    start_kafka,
    start_local_kafka,
    start_local_kafka_cluster,
)
from .s3 import S3Service, S3UnavailableError, s3_client, start_s3, unique_bucket_name
from .toxiproxy import Toxiproxy, ToxiproxyUnavailableError, start_toxiproxy

if TYPE_CHECKING:
    from types_boto3_s3 import S3Client

__all__ = [
    "S3Bucket",
    "cluster_kafka",
    "kafka_bootstrap",
    "kafka_service",
    "kafka_topic_prefix",
    "outage_kafka",
    "outage_s3",
    "outage_s3_bucket",
    "s3_bucket",
    "s3_service",
    "toxiproxy",
    "toxiproxy_service",
]

_T = TypeVar("_T")


@dataclass(frozen=True)
class S3Bucket:
    """Everything a test needs to reach its own bucket."""

    endpoint_url: str
    access_key: str
    secret_key: str
    region: str
    name: str

    def client(self) -> S3Client:
        return s3_client(self.endpoint_url, self.access_key, self.secret_key, self.region)


def pytest_configure(config: pytest.Config) -> None:
    # The root pyproject registers these too; registering here keeps the plugin usable alone
    # under --strict-markers. Registering a marker twice is harmless.
    config.addinivalue_line("markers", "kafka: needs a real Apache Kafka broker")
    config.addinivalue_line("markers", "s3: needs a real S3-compatible server")


def _start_or_error(start: Callable[[], _T]) -> _T:
    try:
        return start()
    except (KafkaUnavailableError, S3UnavailableError, ToxiproxyUnavailableError) as exc:
        message = str(exc)
    # pytest.fail in a fixture's setup is reported as an ERROR of each test that uses it, and
    # pytest caches the failure for the session, so the start is not retried per test. Called
    # outside the except block and with pytrace=False, so that only the message is shown.
    pytest.fail(message, pytrace=False)


def _slug(text: str, limit: int = 40) -> str:
    """Lowercase letters, digits and hyphens: valid in both Kafka topic and S3 bucket names."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:limit].strip("-") or "test"


@pytest.fixture(scope="session")
def kafka_service() -> Iterator[KafkaService]:
    service = _start_or_error(start_kafka)
    try:
        yield service
    finally:
        service.stop()


@pytest.fixture
def kafka_bootstrap(kafka_service: KafkaService) -> str:
    return kafka_service.bootstrap_servers


@pytest.fixture
def kafka_topic_prefix(request: pytest.FixtureRequest) -> str:
    """E.g. ``test-produce-consume-1a2b3c4d-``: tests share one broker, so topics must differ.

    Does not start Kafka by itself; request `kafka_bootstrap` too.
    """
    return f"{_slug(request.node.name)}-{uuid.uuid4().hex[:8]}-"


@pytest.fixture(scope="session")
def s3_service() -> Iterator[S3Service]:
    service = _start_or_error(start_s3)
    try:
        yield service
    finally:
        service.stop()


def _new_bucket(service: S3Service, request: pytest.FixtureRequest) -> S3Bucket:
    name = unique_bucket_name(_slug(request.node.name, limit=40))
    service.client().create_bucket(Bucket=name)
    return S3Bucket(
        endpoint_url=service.endpoint_url,
        access_key=service.access_key,
        secret_key=service.secret_key,
        region=service.region,
        name=name,
    )


@pytest.fixture
def s3_bucket(s3_service: S3Service, request: pytest.FixtureRequest) -> S3Bucket:
    """A new bucket named after the test. Not emptied afterwards: the server's whole data
    directory is deleted when the session ends."""
    return _new_bucket(s3_service, request)


def _timed_start(what: str, start: Callable[[], _T]) -> _T:
    started = time.monotonic()
    service = _start_or_error(start)
    # On stderr, so it shows with -s and in a failing test's captured output.
    print(f"[realservices] {what} started in {time.monotonic() - started:.1f} s", file=sys.stderr)
    return service


@pytest.fixture
def outage_kafka() -> Iterator[KafkaService]:
    """A broker for this test alone, which it may stop, kill and restart. A test that cannot
    have one fails with the reason (never skips)."""
    service = _timed_start("own Kafka broker", start_local_kafka)
    try:
        yield service
    finally:
        service.stop()


@pytest.fixture(scope="module")
def cluster_kafka() -> Iterator[KafkaService]:
    """A 3-broker cluster shared by one module's tests (three JVMs cost seconds to start on
    2 cores): each test must leave every node running, as it found them."""
    service = _timed_start("own 3-broker Kafka cluster", start_local_kafka_cluster)
    try:
        yield service
    finally:
        service.stop()


@pytest.fixture
def strict_kafka() -> Iterator[KafkaService]:
    """A broker for this test alone that creates no topic on use (auto.create.topics.enable is
    false, as in most production clusters): a publish to a missing topic is refused."""
    service = _timed_start(
        "own Kafka broker (no topics created on use)",
        lambda: start_local_kafka(settings={"auto.create.topics.enable": "false"}),
    )
    try:
        yield service
    finally:
        service.stop()


@pytest.fixture
def outage_s3() -> Iterator[S3Service]:
    """A SeaweedFS for this test alone, which it may stop and restart."""
    service = _timed_start("own SeaweedFS", start_s3)
    try:
        yield service
    finally:
        service.stop()


@pytest.fixture
def outage_s3_bucket(outage_s3: S3Service, request: pytest.FixtureRequest) -> S3Bucket:
    """A new bucket on the test's own SeaweedFS (`outage_s3`)."""
    return _new_bucket(outage_s3, request)


@pytest.fixture(scope="session")
def toxiproxy_service() -> Iterator[Toxiproxy]:
    service = _timed_start("toxiproxy", start_toxiproxy)
    try:
        yield service
    finally:
        service.stop()


@pytest.fixture
def toxiproxy(toxiproxy_service: Toxiproxy) -> Iterator[Toxiproxy]:
    """The session's toxiproxy; the proxies (and their toxics) this test makes go with it."""
    try:
        yield toxiproxy_service
    finally:
        toxiproxy_service.remove_all()
