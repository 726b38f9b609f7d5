"""Implementations of the two seams in ``intermission.service.ports``.

    kafka.py   Kafka (aiokafka): KafkaPublisher, KafkaSubscription, ensure_topics
    s3.py      S3 (boto3): S3SnapshotStore
    local.py   in process: MemoryLog, LocalSnapshotStore (the demo and tests)

Each module keeps its library to itself: its errors become ``intermission.errors`` in one
place, and none of its types appear in a public signature.
"""
