"""The attacks reuse the kits of the suites they attack (the service's answers, the inbox's
servers): their folders are put on the import path, as pytest does for their own tests."""

from __future__ import annotations

import sys
from pathlib import Path

_TESTS = Path(__file__).resolve().parent.parent
for kit in ("service", "inbox"):
    if str(_TESTS / kit) not in sys.path:
        sys.path.append(str(_TESTS / kit))
