"""Putting a worker together: settings, the app, the adapters, and serving it."""
