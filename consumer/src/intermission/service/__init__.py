"""The event-driven service: requests from Kafka, pauses to S3 and the approvals topic,
stateless resumes. See the README's architecture section for the picture.

    ports.py      the two seams: a log of records and an object store
    adapters/     Kafka, S3, and in-process implementations of the seams
    runs/         the per-run rules: requests, claims, expiry, snapshots and their keys
    worker.py     the consumer loop: ordering, offsets, dead letters
    wiring/       settings, building a worker, serving it
    demo/         the embedded default app and flow
"""

from intermission_schemas import Topics

from ..errors import SettingsError, StoreUnavailableError, TamperedSnapshotError
from .ports import PreconditionFailed, Publisher, Record, SnapshotStore, StoredObject, Subscription
from .runs.audit import AuditedStep, RunAudit, audit_run
from .runs.keys import result_key, snapshot_key
from .runs.sealing import Sealer
from .wiring.compose import build_worker, load_app
from .wiring.settings import Settings
from .worker import Worker

__all__ = [
    "AuditedStep",
    "PreconditionFailed",
    "Publisher",
    "Record",
    "RunAudit",
    "Sealer",
    "Settings",
    "SettingsError",
    "SnapshotStore",
    "StoreUnavailableError",
    "StoredObject",
    "Subscription",
    "TamperedSnapshotError",
    "Topics",
    "Worker",
    "audit_run",
    "build_worker",
    "load_app",
    "result_key",
    "snapshot_key",
]
