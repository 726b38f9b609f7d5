"""The toxiproxy launcher: found when cached, and a clear failure (never a skip) without Go."""

from __future__ import annotations

from pathlib import Path

import pytest
from realservices import toxiproxy
from realservices.toxiproxy import ToxiproxyUnavailableError, ensure_toxiproxy, start_toxiproxy


def test_without_go_or_a_binary_the_launcher_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # an empty cache
    monkeypatch.setenv("PATH", str(tmp_path))  # neither go nor toxiproxy-server
    monkeypatch.setattr(toxiproxy, "_GO_ELSEWHERE", ())
    with pytest.raises(ToxiproxyUnavailableError, match="no `go` command") as raised:
        ensure_toxiproxy()
    assert toxiproxy.TOXIPROXY_MODULE in str(raised.value)


def test_a_proxy_passes_bytes_and_its_toxics_come_and_go() -> None:
    server = start_toxiproxy()
    try:
        api = server.proxy("kit-check", f"127.0.0.1:{server.url.rsplit(':', 1)[1]}")
        latency = api.add_toxic("latency", latency=10)
        listed = server.request("GET", f"/proxies/{api.name}/toxics")
        assert [t["name"] for t in listed] == [latency]
        api.remove_toxic(latency)
        assert server.request("GET", f"/proxies/{api.name}/toxics") == []
        assert api.port > 0
    finally:
        server.remove_all()
        server.stop()
