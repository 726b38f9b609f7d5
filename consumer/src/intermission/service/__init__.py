"""The event-driven service: requests from Kafka, pauses to S3 and the approvals topic,
stateless resumes. See the README's architecture section for the picture."""

from ._compose import build_worker, load_app, topics_of
from ._ports import PreconditionFailed, Publisher, Record, SnapshotStore, StoredObject, Subscription
from ._runs import Runs, Topics
from ._sealing import Sealer, TamperedSnapshotError, result_key, snapshot_key
from ._settings import Settings, SettingsError
from ._worker import Worker

__all__ = [
    "PreconditionFailed",
    "Publisher",
    "Record",
    "Runs",
    "Sealer",
    "Settings",
    "SettingsError",
    "SnapshotStore",
    "StoredObject",
    "Subscription",
    "TamperedSnapshotError",
    "Topics",
    "Worker",
    "build_worker",
    "load_app",
    "result_key",
    "snapshot_key",
    "topics_of",
]
