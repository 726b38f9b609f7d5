"""A run's messages from the snapshot store, for the history beside the inbox's forms."""

from __future__ import annotations

from intermission_schemas import Message

from ..service.ports import SnapshotStore
from ..stored import Sealer, StoredRuns
from .context import History
from .view import RunState

__all__ = ["store_history"]


def store_history(store: SnapshotStore, sealer: Sealer) -> History:
    """The final history once a run has a result, else the newest pause's (seals checked)."""
    runs = StoredRuns(store, sealer)

    async def history(state: RunState) -> list[Message] | None:
        if state.result is not None:
            result = await runs.result(state.run_id)
            if result is not None:
                return list(result.messages)
        if state.raised is not None:
            pause = await runs.pause(state.run_id, state.raised.snapshot.version)
            if pause is not None:
                return list(pause.paused.messages)
        return None

    return history
