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

from .events import Observation
from .log_lines import LogLines
from .metrics import METRICS, Metrics, MetricSpec
from .observer import NO_OBSERVER, Observer, Observers

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
