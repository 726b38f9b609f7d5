"""Async client for Intermission (filled by the service issue)."""
