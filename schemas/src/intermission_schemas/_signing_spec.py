"""The canonical signed-answer bytes, in words: what ``signing_payload`` builds, written down for
signers in other languages. The README (section "Signed answers") and the AsyncAPI document carry
this text verbatim (a test checks both); ``schemas/testvectors/signed_answers.json`` gives
examples, each checked against ``signing_payload`` and reproduced by a signer in Node.
"""

from __future__ import annotations

__all__ = ["SIGNED_ANSWERS_SPEC"]

_TEXT = r"""
A signature covers the UTF-8 bytes `intermission-answer/1` + LF (0x0A) + the canonical JSON of
one object with exactly these eleven members (here in canonical order):

- `answeredBy`: the resume's `answeredBy` (`""` when absent)
- `calls`: the signature's `calls`, answered ref -> call digest
- `expiresAt`: the signature's `expiresAt`, as a date below
- `issuedAt`: the signature's `issuedAt`, as a date below
- `keyId`: the signature's `keyId`
- `pauseDigest`: the resume's `pauseDigest` (`null` when absent)
- `respond`: the resume's `respond` (`[]` when absent); each entry with all three members
  `metadata` (`null` when absent), `output`, `ref`
- `restart`: the resume's `restart` (`[]` when absent); each entry with all four members `ref`,
  `replaceInput` (`null` when absent), `replacesInput` (`false` when absent), `resumed` (`null`
  when absent)
- `resumeId`, `runId`, `snapshotVersion`: the resume's

Not covered: `type`, `version`, `signature.algorithm`, `signature.value`. The values are those
the worker decodes from the record it receives, so a signer signs what it sends: encode the
event, then build the payload from that JSON.

Canonical JSON: no whitespace; object members sorted by key, compared by Unicode code point
(equal to UTF-8 byte order; JavaScript's default sort compares UTF-16 units, which differs for
characters above U+FFFF), at every depth; arrays keep their order; strings as UTF-8, escaping
only `"` and `\` (as `\"` and `\\`), and U+0000 to U+001F (as `\b`, `\t`, `\n`, `\f`,
`\r`, other ones as `\u00XX`, lowercase hex); everything else, `/`, U+007F and U+2028
included, is written as is (this is JavaScript's `JSON.stringify` for strings); `true`, `false`,
`null`. Numbers keep the kind they have on the wire: a number written without `.`, `e` or `E`
is an integer, written in decimal (`-0` as `0`; keep integers within 64 bits, and within
2^53 for JavaScript); any other number is an IEEE double, written with the shortest digits that
round-trip, in positional form when 1e-5 <= |x| < 1e16, always with a fraction (`1.0`,
`100.0`, `0.00001`, `-0.0`), else in exponent form with no `+` and no leading zeros (`1e16`,
`1.2345678901234568e20`, `1e-6`, `2.5e-8`). So `1.0` on the wire signs as `1.0`, `1` as `1`,
and `1e+21` as `1e21`. `JSON.stringify` writes integral doubles below 1e21 as integers, so in
JavaScript only non-integral numbers and integral ones from 1e21 up take the double form.

Dates (`issuedAt`, `expiresAt`) are signed in Python's `isoformat` of the decoded value:
`YYYY-MM-DDTHH:MM:SS`, then `.ffffff` (six digits) only when the microseconds are not zero, then
the offset as `+HH:MM` or `-HH:MM` (`Z`, `z` and `-00:00` become `+00:00`). More than six
fraction digits are rounded to microseconds. A date without an offset is signed without one,
but send UTC with `Z`: `2026-12-06T17:00:00Z` is signed as `2026-12-06T17:00:00+00:00`,
`2026-12-06T17:00:00.5Z` as `2026-12-06T17:00:00.500000+00:00`.

Call digest (`calls`): lowercase hex SHA-256 of the canonical JSON of the two-element array
`[tool, input]`, with `tool` and `input` of the pending interrupt as `InterruptRaised` shows it
(no prefix). Every answered ref must have one; the worker recomputes it from the stored pause.

`signature.value`: for `hmac-sha256`, the lowercase hex HMAC-SHA256 of the payload under the
UTF-8 bytes of the secret as configured (`INTERMISSION_ANSWER_KEYS=keyId=secret`); for
`ed25519`, the lowercase hex of the 64-byte Ed25519 signature (RFC 8032, pure Ed25519) of the
payload; the worker holds the 32-byte raw public key as hex (`INTERMISSION_APPROVER_KEYS`),
and `keyId` must equal `answeredBy`.
"""
SIGNED_ANSWERS_SPEC = _TEXT.lstrip("\n")
