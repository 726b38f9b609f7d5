"""Events as the worker publishes them, for webhook tests."""

from __future__ import annotations

from datetime import UTC, datetime

from intermission.webhooks import Subscription, SubscriptionFilter
from intermission_schemas import InterruptRaised, PendingInterrupt, RunCompleted, SnapshotRef
from receiver_kit import SECRET

AT = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def raised(
    run_id: str = "run-1", tool: str = "transferMoney", tags: dict[str, str] | None = None
) -> InterruptRaised:
    return InterruptRaised(
        run_id=run_id,
        snapshot=SnapshotRef(key=f"runs/{run_id}/snapshots/00000001", version=1, sha256="ab" * 32),
        interrupts=[
            PendingInterrupt(
                ref="call-1",
                tool=tool,
                input={"toAccountId": "ABC123", "amount": 100000},
                description="Transfers money between accounts.",
                token="tok.en-1",
            )
        ],
        created_at=AT,
        tags=tags or {},
    )


def completed(run_id: str = "run-1", tags: dict[str, str] | None = None) -> RunCompleted:
    return RunCompleted(run_id=run_id, text="done", finish_reason="stop", tags=tags or {})


def subscription(
    url: str = "http://127.0.0.1:9/hook",
    *,
    id: str = "tickets",
    tools: tuple[str, ...] = (),
    tags: dict[str, str] | None = None,
    approvers: tuple[str, ...] = (),
    outcomes: bool = False,
) -> Subscription:
    return Subscription(
        id=id,
        url=url,
        secret=SECRET,
        filter=SubscriptionFilter(tools=tools, tags=tags or {}, approvers=approvers),
        outcomes=outcomes,
    )
