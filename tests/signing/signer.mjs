// A signer for Intermission answers in Node, written from the README ("Signed answers") and the
// AsyncAPI document alone: node:crypto, no npm packages, no Python.
//
//   node signer.mjs vectors <signed_answers.json>   reproduce every test vector; exit 1 on a miss
//   node signer.mjs sign < request.json             print a signed ResumeRequested (JSON text)
//
// request.json: {"raised": <InterruptRaised JSON text>, "respond": {ref: output},
//   "restart": {ref: resumed}, "answeredBy", "resumeId", "issuedAt", "validSeconds",
//   "key": {"algorithm": "hmac-sha256", "keyId", "secret"} | {"algorithm": "ed25519", "keyId", "seed": hex}}
//
// The rule that makes it work: sign what you send. The event is encoded with JSON.stringify,
// that text is parsed again keeping each number's wire form, and the payload is built from it.

import { createHash, createHmac, createPrivateKey, sign } from "node:crypto";
import { readFileSync } from "node:fs";

// -- JSON with numbers as they are written -------------------------------------------------------

class WireNumber {
  constructor(raw) {
    this.raw = raw;
  }
}

function parseWire(text) {
  let i = 0;
  const ws = () => {
    while (i < text.length && " \t\n\r".includes(text[i])) i++;
  };
  const value = () => {
    ws();
    const c = text[i];
    if (c === "{") {
      i++;
      const out = new Map();
      ws();
      if (text[i] === "}") return i++, out;
      for (;;) {
        ws();
        const key = string();
        ws();
        if (text[i++] !== ":") throw new Error(`expected : at ${i}`);
        out.set(key, value());
        ws();
        if (text[i] === ",") i++;
        else if (text[i] === "}") return i++, out;
        else throw new Error(`expected , or } at ${i}`);
      }
    }
    if (c === "[") {
      i++;
      const out = [];
      ws();
      if (text[i] === "]") return i++, out;
      for (;;) {
        out.push(value());
        ws();
        if (text[i] === ",") i++;
        else if (text[i] === "]") return i++, out;
        else throw new Error(`expected , or ] at ${i}`);
      }
    }
    if (c === '"') return string();
    for (const [word, v] of [["true", true], ["false", false], ["null", null]]) {
      if (text.startsWith(word, i)) return (i += word.length), v;
    }
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i));
    if (!m) throw new Error(`unexpected ${c} at ${i}`);
    i += m[0].length;
    return new WireNumber(m[0]);
  };
  const string = () => {
    const m = /^"(?:[^"\\]|\\.)*"/su.exec(text.slice(i));
    if (!m) throw new Error(`expected a string at ${i}`);
    i += m[0].length;
    return JSON.parse(m[0]);
  };
  const out = value();
  ws();
  if (i !== text.length) throw new Error(`trailing text at ${i}`);
  return out;
}

// -- canonical JSON (README: Signed answers) -----------------------------------------------------

function byCodePoint(a, b) {
  const x = Array.from(a, (ch) => ch.codePointAt(0));
  const y = Array.from(b, (ch) => ch.codePointAt(0));
  for (let k = 0; k < Math.min(x.length, y.length); k++) if (x[k] !== y[k]) return x[k] - y[k];
  return x.length - y.length;
}

// A double: shortest round-trip digits; positional when 1e-5 <= |x| < 1e16, always with a
// fraction; otherwise exponent form without "+".
function double(x) {
  if (x === 0) return Object.is(x, -0) ? "-0.0" : "0.0";
  const sign = x < 0 ? "-" : "";
  const [mantissa, exp] = Math.abs(x).toExponential().split("e");
  const digits = mantissa.replace(".", "");
  const e = Number(exp);
  const ax = Math.abs(x);
  if (ax >= 1e-5 && ax < 1e16) {
    if (e >= 0) {
      const whole = digits.length > e + 1 ? digits.slice(0, e + 1) : digits.padEnd(e + 1, "0");
      const frac = digits.length > e + 1 ? digits.slice(e + 1) : "0";
      return `${sign}${whole}.${frac}`;
    }
    return `${sign}0.${"0".repeat(-e - 1)}${digits}`;
  }
  const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
  return `${sign}${m}e${e}`;
}

function number(raw) {
  if (/[.eE]/.test(raw)) return double(Number(raw));
  return BigInt(raw).toString();
}

function canonical(v) {
  if (v === null || v === true || v === false) return String(v);
  if (v instanceof WireNumber) return number(v.raw);
  if (typeof v === "string") return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (v instanceof Map) {
    const keys = [...v.keys()].sort(byCodePoint);
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(v.get(k))}`).join(",")}}`;
  }
  throw new Error(`cannot canonicalise ${typeof v}`);
}

// Python's isoformat of the decoded date: "Z" -> "+00:00", six fraction digits unless zero.
function signedDate(wire) {
  const m = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?([zZ]|[+-]\d{2}:\d{2})?$/.exec(wire);
  if (!m) throw new Error(`a date this signer does not handle: ${wire}`);
  const [, day, time, frac, zone] = m;
  const micros = (frac ?? "").padEnd(6, "0");
  const offset = zone === undefined ? "" : /^[zZ]$|^-00:00$/.test(zone) ? "+00:00" : zone;
  return `${day}T${time}${/^0+$/.test(micros) ? "" : `.${micros}`}${offset}`;
}

function entry(map, members) {
  // Each answer with all its members, the absent ones at their defaults.
  const out = new Map();
  for (const [name, fallback] of members) out.set(name, map.has(name) ? map.get(name) : fallback);
  return out;
}

export function payload(resume) {
  const sig = resume.get("signature");
  const body = new Map([
    ["runId", resume.get("runId")],
    ["snapshotVersion", resume.get("snapshotVersion")],
    ["pauseDigest", resume.has("pauseDigest") ? resume.get("pauseDigest") : null],
    ["resumeId", resume.get("resumeId")],
    ["answeredBy", resume.has("answeredBy") ? resume.get("answeredBy") : ""],
    ["keyId", sig.get("keyId")],
    ["issuedAt", signedDate(sig.get("issuedAt"))],
    ["expiresAt", signedDate(sig.get("expiresAt"))],
    ["calls", sig.get("calls")],
    ["respond", (resume.get("respond") ?? []).map((a) => entry(a, [["ref"], ["output", null], ["metadata", null]]))],
    [
      "restart",
      (resume.get("restart") ?? []).map((a) =>
        entry(a, [["ref"], ["resumed", null], ["replaceInput", null], ["replacesInput", false]]),
      ),
    ],
  ]);
  return Buffer.from(`intermission-answer/1\n${canonical(body)}`, "utf8");
}

export function callDigest(tool, input) {
  return createHash("sha256").update(canonical([tool, input]), "utf8").digest("hex");
}

function ed25519Key(seedHex) {
  // PKCS#8 for an Ed25519 seed: a fixed prefix, then the 32 bytes.
  const der = Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), Buffer.from(seedHex, "hex")]);
  return createPrivateKey({ key: der, format: "der", type: "pkcs8" });
}

export function signatureValue(bytes, key) {
  if (key.algorithm === "ed25519") return sign(null, bytes, ed25519Key(key.seed)).toString("hex");
  return createHmac("sha256", Buffer.from(key.secret, "utf8")).update(bytes).digest("hex");
}

// -- commands ------------------------------------------------------------------------------------

function checkVectors(path) {
  const file = JSON.parse(readFileSync(path, "utf8"));
  const misses = [];
  for (const v of file.vectors) {
    const resume = parseWire(v.resume);
    const got = payload(resume);
    const digests = Object.fromEntries(
      parseWire(v.pending).map((p) => [p.get("ref"), callDigest(p.get("tool"), p.get("input"))]),
    );
    const checks = {
      payload: got.toString("utf8") === v.payload,
      callDigests: JSON.stringify(digests) === JSON.stringify(v.callDigests),
      hmacSha256: signatureValue(got, { algorithm: "hmac-sha256", secret: v.hmacSecret }) === v.hmacSha256,
      ed25519: signatureValue(got, { algorithm: "ed25519", seed: file.ed25519Seed }) === v.ed25519,
    };
    for (const [what, ok] of Object.entries(checks)) if (!ok) misses.push(`${v.name}: ${what}`);
    if (!checks.payload) misses.push(`  got  ${got.toString("utf8")}\n  want ${v.payload}`);
  }
  console.log(JSON.stringify({ vectors: file.vectors.length, misses }));
  return misses.length ? 1 : 0;
}

function signAnswer(request) {
  const raised = parseWire(request.raised);
  const pending = new Map(raised.get("interrupts").map((i) => [i.get("ref"), i]));
  const issued = new Date(request.issuedAt ?? Date.now());
  issued.setUTCMilliseconds(0); // whole seconds: signed as "...:SS+00:00"
  const expires = new Date(issued.getTime() + (request.validSeconds ?? 900) * 1000);
  const wireDate = (d) => d.toISOString().replace(".000Z", "Z");
  const refs = [...Object.keys(request.respond ?? {}), ...Object.keys(request.restart ?? {})];
  const calls = {};
  for (const ref of refs) calls[ref] = callDigest(pending.get(ref).get("tool"), pending.get(ref).get("input"));
  const event = {
    type: "ResumeRequested",
    version: 1,
    runId: raised.get("runId"),
    resumeId: request.resumeId,
    snapshotVersion: Number(raised.get("snapshot").get("version").raw),
    respond: Object.entries(request.respond ?? {}).map(([ref, output]) => ({ ref, output })),
    restart: Object.entries(request.restart ?? {}).map(([ref, resumed]) => ({ ref, resumed })),
    answeredBy: request.answeredBy,
    pauseDigest: raised.get("snapshot").get("sha256"),
    signature: {
      keyId: request.key.keyId,
      algorithm: request.key.algorithm,
      issuedAt: wireDate(issued),
      expiresAt: wireDate(expires),
      calls,
      value: "",
    },
  };
  // Sign what is sent: the payload comes from the very text that goes on the wire.
  // (signature.value is not covered, so filling it in changes nothing signed.)
  event.signature.value = signatureValue(payload(parseWire(JSON.stringify(event))), request.key);
  return JSON.stringify(event);
}

const [command, argument] = process.argv.slice(2);
if (command === "vectors") {
  process.exit(checkVectors(argument));
} else if (command === "sign") {
  process.stdout.write(signAnswer(JSON.parse(readFileSync(0, "utf8"))));
} else {
  console.error("usage: signer.mjs vectors <file> | sign < request.json");
  process.exit(2);
}
