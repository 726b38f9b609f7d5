"""Slow and partial failures between a worker and S3, and between a worker and Kafka.

A real worker process serves runs on real Kafka and SeaweedFS while its path to one of them goes
through a fault proxy: toxiproxy (TCP: latency, resets, bandwidth) or, for S3's HTTP error
answers, `http_faults.HttpFaultProxy`. Each test asserts 0 runs lost and 0 effects repeated, and
prints the throughput it saw (the README's fault section quotes them).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from faultkit import Lane
from http_faults import HttpFaultProxy
from intermission.service.local_services.kafka_jvm import free_loopback_port
from realservices import KafkaService, start_local_kafka
from realservices.plugin import S3Bucket
from realservices.toxiproxy import Proxy, Toxiproxy
from slowflow import padding, serve_through

pytestmark = [pytest.mark.kafka, pytest.mark.s3]

RUNS = 10


def _s3_through(toxiproxy: Toxiproxy, bucket: S3Bucket) -> tuple[Proxy, S3Bucket]:
    """A toxiproxy proxy to the bucket's S3 endpoint, and the bucket as reached through it."""
    upstream = urlsplit(bucket.endpoint_url).netloc
    proxy = toxiproxy.proxy(f"s3-{bucket.name}"[:60], upstream)
    return proxy, dataclasses.replace(bucket, endpoint_url=f"http://{proxy.listen}")


def _object_sizes(bucket: S3Bucket, lane: Lane) -> list[int]:
    listed = bucket.client().list_objects_v2(Bucket=bucket.name, Prefix=f"{lane.name}/")
    return [item["Size"] for item in listed.get("Contents", [])]


def _cut_reads(direct: S3Bucket, proxied: S3Bucket, *, tries: int) -> int:
    """How many of `tries` reads of a 50 KB object through the proxy fail, each on a new
    connection and with no retry: evidence that the toxics bite."""
    direct.client().put_object(Bucket=direct.name, Key="probe", Body=padding(50_000).encode())
    cut = 0
    for _ in range(tries):
        client = boto3.session.Session().client(
            "s3",
            endpoint_url=proxied.endpoint_url,
            region_name=proxied.region,
            aws_access_key_id=proxied.access_key,
            aws_secret_access_key=proxied.secret_key,
            config=Config(retries={"total_max_attempts": 1}, s3={"addressing_style": "path"}),
        )
        try:
            client.get_object(Bucket=proxied.name, Key="probe")["Body"].read()
        except (BotoCoreError, ClientError):
            cut += 1
        finally:
            client.close()
    return cut


async def test_control_without_faults(
    kafka_service: KafkaService, s3_bucket: S3Bucket, tmp_path: Path
) -> None:
    """The same flow on a clean path: the throughput the others compare with."""
    lane = Lane(kafka_service.bootstrap_servers, s3_bucket, tmp_path)
    await serve_through(lane, "no fault (control)", RUNS)


async def test_s3_latency_p99_2s(
    kafka_service: KafkaService, s3_bucket: S3Bucket, toxiproxy: Toxiproxy, tmp_path: Path
) -> None:
    proxy, bucket = _s3_through(toxiproxy, s3_bucket)
    # Uniform over 0-2 s on every answer: mean 1 s, p99 1.98 s.
    proxy.add_toxic("latency", stream="downstream", latency=1000, jitter=1000)
    lane = Lane(kafka_service.bootstrap_servers, bucket, tmp_path)
    await serve_through(lane, "S3 latency p99 2 s", 6)


async def test_s3_answering_slowdown_and_500_on_10_percent(
    kafka_service: KafkaService, s3_bucket: S3Bucket, tmp_path: Path
) -> None:
    # Besides the 10%, a fifth of the conditional writes are stored and answered 500, on every
    # kind of object: the retry of a create meets its own object, a replace its own etag's change.
    async with HttpFaultProxy(s3_bucket.endpoint_url, failure_rate=0.10, conditional_lost=0.2) as faults:
        bucket = dataclasses.replace(s3_bucket, endpoint_url=faults.url)
        lane = Lane(kafka_service.bootstrap_servers, bucket, tmp_path)
        await serve_through(lane, "S3 503/500 on 10%", RUNS)
    print(f"S3 requests by outcome: {dict(faults.counts)}")
    kinds = {path.rsplit("/", 1)[-1] for path in faults.lost_creates + faults.lost_replaces}
    print(
        f"{len(faults.lost_creates)} creates and {len(faults.lost_replaces)} replaces stored and "
        f"answered 500, of {sorted(kinds)}"
    )
    assert faults.counts["slowdown"], faults.counts
    assert faults.lost_creates, faults.counts
    assert faults.lost_replaces, faults.counts


async def test_s3_connections_reset_mid_body(
    kafka_service: KafkaService, s3_bucket: S3Bucket, toxiproxy: Toxiproxy, tmp_path: Path
) -> None:
    proxy, bucket = _s3_through(toxiproxy, s3_bucket)
    # A fifth of the connections is cut after 30 KB of answer, in the middle of a 50 KB
    # snapshot's body; a tenth is reset (RST) 300 ms after it opens, whatever it carries.
    proxy.add_toxic("limit_data", stream="downstream", toxicity=0.2, bytes=30_000)
    proxy.add_toxic("reset_peer", stream="upstream", toxicity=0.1, timeout=300)
    cut = _cut_reads(s3_bucket, bucket, tries=60)
    print(f"{cut} of 60 reads of a 50 KB object on a new connection were cut off")
    assert cut > 0, "the toxics cut no read: this test would test nothing"
    await serve_through(
        Lane(kafka_service.bootstrap_servers, bucket, tmp_path), "S3 resets mid-body", RUNS, pad=50_000
    )


async def test_s3_bandwidth_100_kb_per_s_with_50_kb_snapshots(
    kafka_service: KafkaService, s3_bucket: S3Bucket, toxiproxy: Toxiproxy, tmp_path: Path
) -> None:
    proxy, bucket = _s3_through(toxiproxy, s3_bucket)
    proxy.add_toxic("bandwidth", stream="upstream", rate=100)  # KB/s, each way
    proxy.add_toxic("bandwidth", stream="downstream", rate=100)
    lane = Lane(kafka_service.bootstrap_servers, bucket, tmp_path)
    await serve_through(lane, "S3 at 100 KB/s, 50 KB snapshots", 6, pad=50_000)
    sizes = _object_sizes(s3_bucket, lane)
    print(f"{len(sizes)} objects, {sum(sizes) / 1000:.0f} KB in all, largest {max(sizes) / 1000:.0f} KB")
    assert max(sizes) >= 50_000, sizes


@pytest.fixture
def proxied_kafka(toxiproxy: Toxiproxy) -> Iterator[Proxy]:
    """A broker of the test's own that clients reach only through toxiproxy: it advertises the
    proxy's address, so every connection after the bootstrap goes through the proxy too."""
    broker_port = free_loopback_port()
    proxy = toxiproxy.proxy(f"kafka-{broker_port}", f"127.0.0.1:{broker_port}")
    service = start_local_kafka(
        port=broker_port,
        settings={"advertised.listeners": f"PLAINTEXT://{proxy.listen}"},
    )
    try:
        yield proxy
    finally:
        service.stop()


async def test_broker_latency_1s(proxied_kafka: Proxy, s3_bucket: S3Bucket, tmp_path: Path) -> None:
    proxied_kafka.add_toxic("latency", stream="downstream", latency=1000)
    lane = Lane(proxied_kafka.listen, s3_bucket, tmp_path)
    await serve_through(lane, "broker latency 1 s", 6)
