"""When to try a delivery again: exponential backoff with full jitter, capped per try, for at
most ``max_age_seconds`` after the first attempt. A receiver's Retry-After is a floor."""

from __future__ import annotations

from collections.abc import Callable

import msgspec

__all__ = ["RetryPolicy"]


class RetryPolicy(msgspec.Struct, frozen=True, kw_only=True):
    base_seconds: float = 1.0
    cap_seconds: float = 600.0
    max_age_seconds: float = 86_400.0

    def delay(self, failures: int, random: Callable[[], float], retry_after: float | None = None) -> float:
        """Seconds to wait after the ``failures``-th failed attempt (1 for the first).

        Full jitter (uniform in [0, ceiling)) spreads the retries of many events that failed
        together, so a receiver coming back is not hit by all of them at once."""
        ceiling: float = min(self.cap_seconds, self.base_seconds * 2.0 ** min(failures - 1, 62))
        jittered = random() * ceiling
        return max(jittered, retry_after) if retry_after is not None else jittered

    def gives_up(self, age_seconds: float, next_delay: float) -> bool:
        """True when the next attempt would come after the deadline."""
        return age_seconds + next_delay > self.max_age_seconds
