"""Operating a worker: what it reports as it works, and who listens.

events.py       the observations, one frozen type per kind of happening
observer.py     the seam: Observer (one method), NO_OBSERVER, Observers (several as one)
timed_ports.py  the store and the publisher, timed (decorators around the ports)
timed_calls.py  the model and the tools of a step, timed
metrics.py      Prometheus metrics on a registry per worker, and METRICS, their one list
log_lines.py    one structured log line per lifecycle event
partitions.py   what a subscription may say about its partitions: joined, assignment, lag
readiness.py    whether a worker should count as ready
watch.py        the timer: a store probe while idle, and the consumer lag
endpoints.py    /healthz, /readyz and /metrics, served from the worker's event loop
"""

from typing import TYPE_CHECKING, Any

from .events import Observation
from .log_lines import LogLines
from .observer import NO_OBSERVER, Observer, Observers

if TYPE_CHECKING:
    from .metrics import METRICS, Metrics, MetricSpec

__all__ = [
    "METRICS",
    "NO_OBSERVER",
    "LogLines",
    "MetricSpec",
    "Metrics",
    "Observation",
    "Observer",
    "Observers",
]


def __getattr__(name: str) -> Any:
    # prometheus_client loads with the metrics, not with the observation types every step uses:
    # a command that serves no endpoint (demo, replay) never pays for it.
    if name in ("METRICS", "Metrics", "MetricSpec"):
        from . import metrics

        return getattr(metrics, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
