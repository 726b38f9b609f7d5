"""Verifying signed answers: who answered, and that they approved the call that will run.

Workers configured with answer keys (``INTERMISSION_ANSWER_KEYS``, ``key_id=secret`` pairs, one
per approval system) check a ResumeRequested's ``signature`` before its answers are collected,
and reject, each with its own reason, leaving the pause open:

    unsigned           no signature, and INTERMISSION_REQUIRE_SIGNED_ANSWERS is set
    bad_signature      unknown key id, a signature that does not match the payload, or refs
                       answered without a signed call digest
    signature_expired  now is past the signature's expiry
    input_mismatch     a signed call digest (tool name + exact input the approver saw) is not the
                       one of the stored pending call
    key_not_bound      an HMAC key speaking for someone it is not bound to: an approver who
                       has an Ed25519 key of her own (only that key speaks for her), a name or
                       group outside the key's binding, or groups in an Ed25519-signed answer
                       (an approver cannot vouch for her own groups)
    replayed           (in claims.py) a signed answer that was applied already, arriving again
                       after its pause was settled
    digest_mismatch    (in claims.py) the pause digest the answer names is not the stored pause's

What is covered is defined once, in ``intermission_schemas.signing_payload``.

Bindings (``INTERMISSION_ANSWER_KEY_BINDINGS``, ``key_id:alice,bob,@finance;slack:@support``) say
whom each approval system's key may speak for: the names, and anyone it says is in one of the
groups. A key without a binding speaks for any name and group (as before bindings existed),
never for an approver with a key of her own.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from datetime import datetime

from intermission_schemas import (
    AnswerProblem,
    PendingInterrupt,
    ResumeRequested,
    call_digest,
    signing_payload,
)

from .names import person, persons

__all__ = ["AnswerKeys", "parse_answer_keys", "parse_key_bindings"]


def parse_answer_keys(text: str) -> dict[str, bytes]:
    """``"ops=secret1,slack=secret2"`` -> {key id: secret}; ValueError on a malformed pair."""
    keys: dict[str, bytes] = {}
    for pair in filter(None, (p.strip() for p in text.split(","))):
        key_id, eq, secret = pair.partition("=")
        if not eq or not key_id.strip() or not secret:
            raise ValueError("answer keys are key_id=secret pairs separated by commas")
        keys[key_id.strip()] = secret.encode()
    return keys


def parse_key_bindings(text: str) -> dict[str, frozenset[str]]:
    """``"ops:alice,@finance;slack:@support"`` -> {key id: names and @groups}; ValueError on a
    malformed entry."""
    bindings: dict[str, frozenset[str]] = {}
    for entry in filter(None, (e.strip() for e in text.split(";"))):
        key_id, colon, names = entry.partition(":")
        members = frozenset(filter(None, (n.strip() for n in names.split(","))))
        if not colon or not key_id.strip() or not members or "@" in members:
            raise ValueError("key bindings are key_id:name,@group entries separated by semicolons")
        bindings[key_id.strip()] = members
    return bindings


class AnswerKeys:
    """HMAC secrets by approval system (``keys``) and Ed25519 public keys by approver
    (``approver_keys``, raw 32 bytes)."""

    def __init__(
        self,
        keys: Mapping[str, bytes],
        *,
        required: bool = False,
        approver_keys: Mapping[str, bytes] | None = None,
        bindings: Mapping[str, frozenset[str]] | None = None,
    ) -> None:
        self.keys = dict(keys)
        self.approver_keys = dict(approver_keys or {})
        # Whose own key exists, by person: "Alice" is alice, and only her key speaks for her.
        self._own_keys = persons(self.approver_keys)
        self.required = required
        self.bindings = dict(bindings or {})

    def verify(
        self, event: ResumeRequested, pending: Sequence[PendingInterrupt], now: datetime
    ) -> frozenset[str]:
        """The answerer's groups this signature vouches for (none when unsigned); AnswerProblem
        unless ``event`` is acceptable as to its signature."""
        signature = event.signature
        if signature is None:
            if person(event.answered_by) in self._own_keys:
                # Her own key is the only proof of her answer: unsigned, anyone could claim it.
                raise AnswerProblem("unsigned", f"{event.answered_by!r} answers with her own key only")
            if self.required:
                raise AnswerProblem("unsigned", "this service accepts signed answers only")
            return frozenset()
        payload = signing_payload(
            event,
            key_id=signature.key_id,
            issued_at=signature.issued_at,
            expires_at=signature.expires_at,
            calls=signature.calls,
        )
        if signature.algorithm == "ed25519":
            self._check_ed25519(event, payload)
        else:
            secret = self.keys.get(signature.key_id)
            if secret is None:
                raise AnswerProblem("bad_signature", f"no answer key {signature.key_id!r} is configured")
            expected = hmac.new(secret, payload, hashlib.sha256).hexdigest()
            # Bytes, not str: compare_digest refuses non-ASCII text with a TypeError, and a
            # forged value must be a rejection, never a failure of the record.
            if not hmac.compare_digest(expected.encode(), signature.value.encode()):
                raise AnswerProblem("bad_signature", "the signature does not match the answer")
            self._check_binding(event, signature.key_id)
        if now >= signature.expires_at:
            raise AnswerProblem(
                "signature_expired", f"the signature expired at {signature.expires_at.isoformat()}"
            )
        answered = [a.ref for a in event.respond] + [a.ref for a in event.restart]
        if unsigned := [ref for ref in answered if ref not in signature.calls]:
            raise AnswerProblem(
                "bad_signature", f"ref(s) {unsigned} are answered without a signed call", unsigned
            )
        by_ref = {interrupt.ref: interrupt for interrupt in pending}
        for ref in answered:
            interrupt = by_ref.get(ref)
            if interrupt is not None and call_digest(interrupt.tool, interrupt.input) != signature.calls[ref]:
                raise AnswerProblem(
                    "input_mismatch",
                    f"ref {ref!r} was approved for another call than the pending {interrupt.tool!r}",
                    [ref],
                )
        return frozenset(event.answered_groups)

    def _check_binding(self, event: ResumeRequested, key_id: str) -> None:
        """An approval system's key speaks only for whom it is bound to."""
        name = event.answered_by
        if person(name) in self._own_keys:
            raise AnswerProblem(
                "key_not_bound", f"{name!r} has a key of her own; answer key {key_id!r} cannot speak for her"
            )
        binding = self.bindings.get(key_id)
        if binding is None:
            return
        groups = {member[1:] for member in binding if member.startswith("@")}
        if stray := sorted(set(event.answered_groups) - groups):
            raise AnswerProblem("key_not_bound", f"answer key {key_id!r} cannot vouch for group(s) {stray}")
        if person(name) not in persons(binding) and not event.answered_groups:
            raise AnswerProblem("key_not_bound", f"answer key {key_id!r} cannot speak for {name!r}")

    def _check_ed25519(self, event: ResumeRequested, payload: bytes) -> None:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        signature = event.signature
        assert signature is not None
        public = self.approver_keys.get(signature.key_id)
        if public is None:
            raise AnswerProblem("bad_signature", f"no approver key {signature.key_id!r} is configured")
        if event.answered_by != signature.key_id:
            # A per-approver key proves who answered: the answer must name that approver.
            raise AnswerProblem(
                "bad_signature", f"signed by {signature.key_id!r} but answered by {event.answered_by!r}"
            )
        if event.answered_groups:
            raise AnswerProblem(
                "key_not_bound", "an approver's own key cannot vouch for her groups; an approval system's can"
            )
        try:
            Ed25519PublicKey.from_public_bytes(public).verify(bytes.fromhex(signature.value), payload)
        except (InvalidSignature, ValueError):
            raise AnswerProblem("bad_signature", "the signature does not match the answer") from None
