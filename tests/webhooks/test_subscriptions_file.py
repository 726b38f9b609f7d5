"""The subscriptions file: read into frozen subscriptions, and refused at start, naming the
entry, when an entry is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest
from intermission.cli import app
from intermission.errors import SettingsError, WebhookConfigError
from intermission.webhooks import Subscription, SubscriptionFilter, load_subscriptions
from receiver_kit import SECRET
from typer.testing import CliRunner

GOOD = f"""
subscriptions:
  - id: tickets
    url: https://tickets.example.com/hooks
    secret: {SECRET}
    filter: {{tools: [transferMoney], tags: {{team: payments}}}}
    outcomes: true
  - id: chat
    url: http://chat.internal:8080/intermission
    secret: {SECRET}
"""


def test_a_good_file_gives_frozen_subscriptions(tmp_path: Path) -> None:
    path = tmp_path / "hooks.yaml"
    path.write_text(GOOD)
    tickets, chat = load_subscriptions(str(path))
    assert tickets == Subscription(
        id="tickets",
        url="https://tickets.example.com/hooks",
        secret=SECRET,
        filter=SubscriptionFilter(tools=("transferMoney",), tags={"team": "payments"}),
        outcomes=True,
    )
    assert chat.filter == SubscriptionFilter()
    assert not chat.outcomes
    assert SECRET not in repr(tickets)
    with pytest.raises(AttributeError):
        tickets.url = "http://elsewhere"  # type: ignore[misc]


def test_json_files_too(tmp_path: Path) -> None:
    path = tmp_path / "hooks.json"
    path.write_text(f'{{"subscriptions": [{{"id": "a", "url": "https://a.example", "secret": "{SECRET}"}}]}}')
    assert [s.id for s in load_subscriptions(str(path))] == ["a"]


@pytest.mark.parametrize(
    ("entries", "problem"),
    [
        (f"- {{id: a, url: ftp://a.example/x, secret: {SECRET}}}", "http(s) URL"),
        (f"- {{id: a, url: 'https:///nohost', secret: {SECRET}}}", "http(s) URL"),
        ("- {id: a, url: https://a.example}", "secret"),
        ("- {id: a, url: https://a.example, secret: not-a-whsec}", "whsec_"),
        ("- {id: a, url: https://a.example, secret: whsec_c2hvcnQ=}", "16 bytes"),
        (
            f"- {{id: a, url: https://a.example, secret: {SECRET}}}\n"
            f"- {{id: a, url: https://b.example, secret: {SECRET}}}",
            "second subscription with this id",
        ),
        (f"- {{id: 'has space', url: https://a.example, secret: {SECRET}}}", "id"),
        (f"- {{id: a, url: https://a.example, secret: {SECRET}, filter: {{tool: x}}}}", "tool"),
    ],
)
def test_a_bad_entry_is_a_typed_error_naming_it(tmp_path: Path, entries: str, problem: str) -> None:
    path = tmp_path / "hooks.yaml"
    path.write_text("subscriptions:\n" + "\n".join("  " + line for line in entries.splitlines()))
    with pytest.raises(WebhookConfigError) as raised:
        load_subscriptions(str(path))
    assert isinstance(raised.value, SettingsError)
    assert raised.value.variable == "INTERMISSION_WEBHOOKS_FILE"
    assert problem in str(raised.value)
    assert str(path) in str(raised.value)


@pytest.mark.parametrize("content", ["subscriptions: [", "{}", "\xff\xfe"])
def test_an_unreadable_file_is_a_typed_error(tmp_path: Path, content: str) -> None:
    path = tmp_path / "hooks.yaml"
    path.write_bytes(content.encode("latin-1"))
    with pytest.raises(WebhookConfigError):
        load_subscriptions(str(path))
    with pytest.raises(WebhookConfigError, match="cannot be read"):
        load_subscriptions(str(tmp_path / "missing.yaml"))


def test_the_dispatcher_refuses_a_bad_file_at_start_with_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "hooks.yaml"
    path.write_text("subscriptions:\n  - {id: a, url: 'file:///etc/passwd', secret: whsec_eA==}\n")
    result = CliRunner().invoke(
        app, ["webhooks", "--file", str(path), "--bootstrap-servers", "127.0.0.1:1"], env={}
    )
    assert result.exit_code == 2, result.output
    assert "INTERMISSION_WEBHOOKS_FILE" in result.output
    assert "subscriptions[0] (a)" in result.output
