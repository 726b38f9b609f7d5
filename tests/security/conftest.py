"""The attacks reuse the kits of the suites they attack (the service's answers, the inbox's
servers): their folders are put on the import path, as pytest does for their own tests."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

_TESTS = Path(__file__).resolve().parent.parent
for kit in ("service", "inbox"):
    if str(_TESTS / kit) not in sys.path:
        sys.path.append(str(_TESTS / kit))

from oidc_kit import Provider, oidc_provider  # noqa: E402  (found through the path set above)


@pytest.fixture(scope="module")
async def provider() -> AsyncIterator[Provider]:
    """A real OIDC provider (node-oidc-provider, tests/oidc/)."""
    async with oidc_provider(["http://127.0.0.1:1/callback"]) as running:
        yield running
