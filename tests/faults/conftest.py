"""The fault tests: worker processes, and services that go away and come back.

The tests' own Kafka clients log every failed reconnect while a broker is down for an outage
test (thousands of lines); what matters is asserted and printed by the tests themselves.
"""

import logging

from terminal_check import one_end_per_run  # noqa: F401  (autouse: a run ends once)

logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
