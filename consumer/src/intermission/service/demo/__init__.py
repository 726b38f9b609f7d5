"""The embedded default: the seed's tools (``app``) and the whole flow on one machine (``flow``)."""
