"""Logging for a worker: its own lines as they are, a client library's repeats rate-limited.

During an outage aiokafka and botocore log the same error for every connection attempt,
hundreds of thousands of lines a minute. A line whose logger and message template were seen
in the last ``window`` seconds is dropped and counted; the next one let through says how many
were dropped.
"""

from __future__ import annotations

import logging
import time

__all__ = ["RepeatFilter", "configure_logging"]

_LIBRARIES = ("aiokafka", "kafka", "botocore", "boto3", "urllib3")


class RepeatFilter(logging.Filter):
    def __init__(self, window: float = 30.0) -> None:
        super().__init__()
        self.window = window
        self._seen: dict[tuple[str, object], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, record.msg)
        now = time.monotonic()
        last, dropped = self._seen.get(key, (0.0, 0))
        if now - last < self.window:
            self._seen[key] = (last, dropped + 1)
            return False
        if len(self._seen) > 4096:
            self._seen.clear()
        self._seen[key] = (now, 0)
        if dropped:
            record.msg = f"{record.msg} (and {dropped} more like it in the last {self.window:.0f} s)"
        return True


def configure_logging(level: int) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    repeats = RepeatFilter()
    for name in _LIBRARIES:
        library = logging.getLogger(name)
        # Libraries log every rebalance and reconnect at INFO: noise next to the worker's lines.
        library.setLevel(max(level, logging.WARNING))
        library.addFilter(repeats)
