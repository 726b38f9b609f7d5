"""The fault tests: worker processes, and services that go away and come back.

The tests' own Kafka clients log every failed reconnect while a broker is down for an outage
test (thousands of lines); what matters is asserted and printed by the tests themselves.
"""

import logging

logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
