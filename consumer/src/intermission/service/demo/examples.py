"""A prompt per seed tool, offered by the inbox's start form; the demo's scripted model turns
each into the call it asks for (amount and account, or the choices)."""

from __future__ import annotations

__all__ = ["EXAMPLES"]

EXAMPLES: dict[str, str] = {
    "transferMoney": "Transfer $1000 to ABC123",
    "askQuestion": "Ask me which day suits me: Saturday or Sunday",
}
