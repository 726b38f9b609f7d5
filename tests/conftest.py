"""The whole suite: real services as fixtures, and one end per run checked in every test."""

from terminal_check import one_end_per_run  # noqa: F401  (autouse: a run ends once, in every test)

pytest_plugins = ["realservices.plugin"]
