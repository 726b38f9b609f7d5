"""Logging for a worker: its own lines as they are, a client library's repeats rate-limited,
as text or as one JSON object per line.

During an outage aiokafka and botocore log the same error for every connection attempt,
hundreds of thousands of lines a minute. A line whose logger and message template were seen
in the last ``window`` seconds is dropped and counted; the next one let through says how many
were dropped.

In JSON, each line carries ``time``, ``level``, ``logger`` and ``message``, the lifecycle
lines' fields (``event``, ``run_id``, ``snapshot_version``, ``resume_id``, ...) as keys of their
own, and ``exception`` with the traceback when there is one.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime
from typing import Literal

from ..observe.log_lines import FIELDS_ATTRIBUTE

__all__ = ["JsonFormatter", "RepeatFilter", "configure_logging"]

_TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

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


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log pipelines that index fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, FIELDS_ATTRIBUTE, None)
        if isinstance(fields, dict):
            line.update({name: value for name, value in fields.items() if name not in line})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        return json.dumps(line, default=str, ensure_ascii=False)


def configure_logging(level: int, log_format: Literal["text", "json"] = "text") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(_TEXT_FORMAT))
    logging.basicConfig(level=level, handlers=[handler])
    repeats = RepeatFilter()
    for name in _LIBRARIES:
        library = logging.getLogger(name)
        # Libraries log every rebalance and reconnect at INFO: noise next to the worker's lines.
        library.setLevel(max(level, logging.WARNING))
        library.addFilter(repeats)
