"""The event-driven service: requests from Kafka, pauses to S3 and the approvals topic,
stateless resumes. See the README's architecture section for the picture."""

from ._audit import AuditedStep, RunAudit, audit_run
from ._compose import build_worker, load_app, topics_of
from ._ports import PreconditionFailed, Publisher, Record, SnapshotStore, StoredObject, Subscription
from ._runs import Runs, Topics
from ._sealing import Sealer, TamperedSnapshotError, result_key, snapshot_key
from ._settings import Settings, SettingsError
from ._worker import Worker

__all__ = [
    "AuditedStep",
    "PreconditionFailed",
    "Publisher",
    "Record",
    "RunAudit",
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
    "audit_run",
    "build_worker",
    "load_app",
    "result_key",
    "snapshot_key",
    "topics_of",
]
