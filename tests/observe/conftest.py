"""The operating tests run against the service tests' app (tests/service/service_app.py)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "service"))
