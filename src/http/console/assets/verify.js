// The auditor's checks of docs/FORMAT.md part 2, in JavaScript: verifier keys, signed
// checkpoints (C2SP signed-note), entry hashes (§1.3), leaf and node hashes (§2.1) and
// RFC 9162 inclusion proofs (§2.3). Pure functions over bytes and text, no DOM and no
// network, so the same module runs in the browser (audit.js) and under Node against the
// worked example of FORMAT.md §2.6 (tests/console_js.rs) and the gm vectors
// (tests/data/gm/check.mjs).
//
// Two crypto profiles: `blake3` (Ed25519 keys, type byte 0x01, blake3 hashes) and `gm`
// (SM2 keys, type byte 0xff, SM3 hashes). A verifier key names its profile; the hashing
// functions of a profile come from one place, hasherFor(profile), and every hashing export
// takes the profile as its last, optional argument (blake3 when left out).
//
// Every failure is a VerifyError whose `code` names the reason; the page turns codes into
// words from the console's message catalogue, so no text a person reads is written here.

import { blake3 } from './vendor/noble-hashes/blake3.js';
import { sha256, sha512 } from './vendor/noble-hashes/sha2.js';
import * as ed from './vendor/noble-ed25519/index.js';
// sm-crypto-v2's UMD build, unmodified: loaded as a module it exports nothing and defines
// globalThis.SmCryptoV2 ({ sm2, sm3, ... }), read once here. (Node must load it as an ES
// module, from a package of "type": "module", as the tests do; as CommonJS it would require
// a package of its own.)
import './vendor/sm-crypto-v2/index.umd.js';

// Synchronous SHA-512 for Ed25519 from @noble/hashes: noble-ed25519's default is WebCrypto,
// which a browser offers only on secure origins (https, localhost), not on plain http over a
// bureau's LAN address.
ed.hashes.sha512 = sha512;

const { sm2: SM2, sm3: sm3Hex } = globalThis.SmCryptoV2;

/** A check failed; `code` names why (a key of the page's messages), `detail` the values. */
export class VerifyError extends Error {
  constructor(code, detail = {}) {
    super(code);
    this.name = 'VerifyError';
    this.code = code;
    this.detail = detail;
  }
}

const fail = (code, detail) => {
  throw new VerifyError(code, detail);
};

/** Most bytes of a checkpoint note (FORMAT.md §2.5). */
export const MAX_NOTE_BYTES = 64 * 1024;
/** Most signature lines of a note. */
export const MAX_SIGNATURES = 100;
/** Most hashes of an inclusion proof (FORMAT.md §2.4, "Proof length"). */
export const MAX_INCLUSION_HASHES = 64;
/** The signed-note signature type of Ed25519 (the `blake3` profile). */
export const ALG_ED25519 = 0x01;
/** The signature type of SM2 with SM3 (the `gm` profile; outside the C2SP registry). */
export const ALG_SM2 = 0xff;
/** The SM2 distinguishing ID every gm signature is made with (GB/T 35276-2017's default). */
export const SM2_ID = '1234567812345678';
/** The order n of the SM2 curve's group (GB/T 32918.5-2017). */
const SM2_N = 0xfffffffeffffffffffffffffffffffff7203df6b21c6052b53bbf40939d54123n;
/** The profile of a caller that names none: today's ledgers. */
export const DEFAULT_PROFILE = 'blake3';
const U64_MAX = (1n << 64n) - 1n;
const SIGNATURE_PREFIX = '\u2014 ';
const ENTRY_TAG = new TextEncoder().encode('rotaledger.entry.v1\0');
const utf8 = (s) => new TextEncoder().encode(s);

/** Lowercase hex of bytes. */
export function toHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Bytes of a hex string (either case), or null when it is not hex of `len` bytes. */
export function fromHex(text, len) {
  if (typeof text !== 'string' || !/^([0-9a-fA-F]{2})*$/.test(text)) return null;
  if (len !== undefined && text.length !== 2 * len) return null;
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function equal(a, b) {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

function be64(n) {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt.asUintN(64, n));
  return out;
}

/**
 * Canonical standard base64 (FORMAT.md §2.5, "Base64"): the standard alphabet, `=` padding
 * exactly as encoding gives it, zero trailing bits, no whitespace. Null for anything else.
 */
export function decodeBase64(text) {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) return null;
  let bin;
  try {
    bin = atob(text);
  } catch {
    return null;
  }
  // One spelling per value: the text must be exactly what encoding the bytes gives back.
  if (btoa(bin) !== text) return null;
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

/** Standard base64 of bytes. */
export function encodeBase64(bytes) {
  return btoa(String.fromCharCode(...bytes));
}

/** SM3 (GB/T 32905-2016) of bytes: 32 bytes. */
export function sm3(bytes) {
  // The library hashes a string's UTF-8; only bytes are meant here.
  if (!(bytes instanceof Uint8Array)) throw new TypeError('sm3 takes a Uint8Array');
  return fromHex(sm3Hex(bytes), 32);
}

/**
 * Does `signature` (r || s, 32 bytes each, big-endian) verify as the SM2 signature
 * (GB/T 32918.2-2016, with SM3: e = SM3(Z_A || message)) of `message` under `publicKey`
 * (65 bytes, 04 || x || y) and the distinguishing ID `id`? False for anything malformed,
 * and for r or s outside [1, n-1] (the standard's steps B1 and B2).
 */
export function sm2Verify(publicKey, message, signature, id = SM2_ID) {
  if (signature.length !== 64 || publicKey.length !== 65 || publicKey[0] !== 4) return false;
  const r = BigInt('0x' + toHex(signature.subarray(0, 32)));
  const s = BigInt('0x' + toHex(signature.subarray(32)));
  if (r < 1n || r >= SM2_N || s < 1n || s >= SM2_N) return false;
  try {
    return SM2.doVerifySignature(message, toHex(signature), toHex(publicKey), { hash: true, userId: id }) === true;
  } catch {
    return false;
  }
}

/**
 * The signature types a verifier key may have: its profile, the public key's length, the
 * hash of its key id, whether the bytes are a point, and how a signature is verified.
 */
const KEY_TYPES = new Map([
  [ALG_ED25519, {
    profile: 'blake3',
    label: 'Ed25519',
    length: 32,
    idHash: sha256,
    // A point at all, read as leniently as the Rust verifier's key parser (ed25519-dalek
    // accepts a y coordinate not reduced mod p); signatures are then verified strictly.
    isPoint(publicKey) {
      try {
        ed.Point.fromBytes(publicKey, true);
        return true;
      } catch {
        return false;
      }
    },
    // Strict RFC 8032.
    verify: (signature, message, publicKey) =>
      signature.length === 64 && ed.verify(signature, message, publicKey, { zip215: false }),
  }],
  [ALG_SM2, {
    profile: 'gm',
    label: 'SM2',
    length: 65,
    idHash: sm3,
    // Uncompressed SEC1 only; x and y reduced mod p and on the curve.
    isPoint(publicKey) {
      if (publicKey[0] !== 4) return false;
      try {
        return SM2.verifyPublicKey(toHex(publicKey)) === true;
      } catch {
        return false;
      }
    },
    verify: (signature, message, publicKey) => sm2Verify(publicKey, message, signature, SM2_ID),
  }],
]);

/** A signed-note key name: non-empty, no white space, no control characters, no `+`. */
function validKeyName(name) {
  return name.length > 0 && !/[\s\p{Cc}+]/u.test(name);
}

/**
 * The signed-note key id: the first 4 bytes of H(name || "\n" || type || key), H being
 * SHA-256 for Ed25519 (type 0x01, the default) and SM3 for SM2 (type 0xff).
 */
export function keyId(name, publicKey, alg = ALG_ED25519) {
  const type = KEY_TYPES.get(alg) ?? fail('key_unsupported', { alg, type: typeByte(alg) });
  return type.idHash(concat(utf8(name), utf8('\n'), Uint8Array.of(alg), publicKey)).slice(0, 4);
}

const typeByte = (b) => '0x' + Number(b).toString(16).padStart(2, '0');

/**
 * Parses a verifier key `<name>+<key id hex>+<base64(type || public key)>` (an optional
 * final newline) and checks that its key id is the one its name and key give. The type is
 * 0x01 (Ed25519, 32-byte key: profile `blake3`) or 0xff (SM2, 65-byte uncompressed SEC1
 * point: profile `gm`). Returns { name, keyId, publicKey, text, alg, profile }.
 */
export function parseVerifierKey(text) {
  const line = text.replace(/\n+$/, '');
  // Only the first two '+' separate fields: the base64 alphabet has '+' too.
  const first = line.indexOf('+');
  const second = first < 0 ? -1 : line.indexOf('+', first + 1);
  if (second < 0) fail('key_malformed', { why: 'name+keyid+key' });
  const name = line.slice(0, first);
  const idHex = line.slice(first + 1, second);
  const b64 = line.slice(second + 1);
  if (!validKeyName(name)) fail('key_malformed', { why: 'name' });
  const stated = /^[0-9a-fA-F]{8}$/.test(idHex) ? fromHex(idHex, 4) : null;
  if (!stated) fail('key_malformed', { why: 'key id' });
  const bytes = decodeBase64(b64);
  if (!bytes || bytes.length === 0) fail('key_malformed', { why: 'base64' });
  const alg = bytes[0];
  const type = KEY_TYPES.get(alg);
  if (!type) fail('key_unsupported', { alg, type: typeByte(alg) });
  if (bytes.length !== 1 + type.length) fail('key_malformed', { why: 'length' });
  const publicKey = bytes.slice(1);
  if (!type.isPoint(publicKey)) fail('key_invalid_point', { alg: type.label });
  const computed = keyId(name, publicKey, alg);
  if (!equal(stated, computed)) {
    fail('key_id_mismatch', { stated: toHex(stated), computed: toHex(computed) });
  }
  return { name, keyId: stated, publicKey, text: line, alg, profile: type.profile };
}

/** `YYYY-MM-DDTHH:MM:SSZ` naming a real instant (years 0000-9999), else false. */
function validTime(s) {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})Z$/.exec(s);
  if (!m) return false;
  const [y, mo, d, h, mi, se] = m.slice(1).map(Number);
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
  return mo >= 1 && mo <= 12 && d >= 1 && d <= days[mo - 1] && h < 24 && mi < 60 && se < 60;
}

/**
 * Parses the four-line body (with its final newline): origin, size, root, time.
 * Returns { origin, size (BigInt), root (32 bytes), time (text) }.
 */
export function parseBody(body) {
  if (!body.endsWith('\n')) fail('note_malformed', { part: 'body' });
  const lines = body.slice(0, -1).split('\n');
  if (lines.some((l) => /\p{Cc}/u.test(l))) fail('note_malformed', { part: 'control' });
  if (lines.length !== 4) fail('note_malformed', { part: 'lines', found: lines.length });
  const [origin, sizeLine, rootLine, timeLine] = lines;
  if (origin.length === 0 || origin.trim() !== origin) {
    fail('note_malformed', { part: 'origin', line: origin });
  }
  if (!/^(0|[1-9][0-9]*)$/.test(sizeLine) || BigInt(sizeLine) > U64_MAX) {
    fail('note_malformed', { part: 'size', line: sizeLine });
  }
  const root = decodeBase64(rootLine);
  if (!root || root.length !== 32) fail('note_malformed', { part: 'root', line: rootLine });
  const time = timeLine.startsWith('time ') ? timeLine.slice(5) : '';
  if (!validTime(time)) fail('note_malformed', { part: 'time', line: timeLine });
  return { origin, size: BigInt(sizeLine), root, time };
}

/** Parses one signature line (without its newline): { name, keyId, signature }. */
function parseSignatureLine(line, number) {
  const bad = (why) => fail('note_malformed', { part: 'signature', line: number, why });
  if (!line.startsWith(SIGNATURE_PREFIX)) bad('prefix');
  const rest = line.slice(SIGNATURE_PREFIX.length);
  const space = rest.indexOf(' ');
  if (space < 0) bad('space');
  const name = rest.slice(0, space);
  if (!validKeyName(name)) bad('name');
  const bytes = decodeBase64(rest.slice(space + 1));
  if (!bytes) bad('base64');
  if (bytes.length < 5) bad('length');
  return { name, keyId: bytes.slice(0, 4), signature: bytes.slice(4) };
}

/**
 * Parses a signed checkpoint (syntax only, FORMAT.md §2.5 steps 1-2): every signature line
 * must be well-formed, whichever key it names. Returns { body, checkpoint, signatures }.
 */
export function parseNote(text) {
  const bytes = utf8(text);
  if (bytes.length > MAX_NOTE_BYTES) fail('note_malformed', { part: 'size limit' });
  const split = text.lastIndexOf('\n\n');
  if (split < 0) fail('note_malformed', { part: 'separator' });
  const body = text.slice(0, split + 1);
  const checkpoint = parseBody(body);
  const block = text.slice(split + 2);
  if (block.length === 0) fail('note_malformed', { part: 'no signatures' });
  const lines = block.split('\n');
  if (lines.pop() !== '') fail('note_malformed', { part: 'signature', why: 'newline' });
  if (lines.length > MAX_SIGNATURES) fail('note_malformed', { part: 'too many signatures' });
  const signatures = lines.map((l, i) => parseSignatureLine(l, i + 1));
  return { body, checkpoint, signatures };
}

/**
 * Verifies a signed checkpoint with a verifier key (FORMAT.md §2.5 steps 3-4): the first
 * signature line with the key's name and key id decides, and must verify over the body
 * bytes by the key's type: strict RFC 8032 Ed25519, or SM2 with SM3 and the ID
 * 1234567812345678. `key` is what parseVerifierKey returns (a key without `alg` is
 * Ed25519). Returns the checkpoint it states.
 */
export function openNote(text, key) {
  const note = parseNote(text);
  const sig = note.signatures.find((s) => s.name === key.name && equal(s.keyId, key.keyId));
  const present = note.signatures.map((s) => `${s.name}+${toHex(s.keyId)}`).join(', ');
  if (!sig) {
    const detail = { key: `${key.name}+${toHex(key.keyId)}`, present };
    // Same name, another key id: a different key under the signer's name.
    if (note.signatures.some((s) => s.name === key.name)) fail('key_id_differs', detail);
    fail('no_signature', detail);
  }
  const type = KEY_TYPES.get(key.alg ?? ALG_ED25519);
  if (!type) fail('key_unsupported', { alg: key.alg, type: typeByte(key.alg) });
  let ok = false;
  try {
    ok = type.verify(sig.signature, utf8(note.body), key.publicKey) === true;
  } catch {
    ok = false;
  }
  if (!ok) fail('bad_signature', { key: `${key.name}+${toHex(key.keyId)}` });
  return note.checkpoint;
}

/** The hashing of a profile whose H is `hash`: FORMAT.md §1.3 and §2.1 over it. */
function hasher(profile, hash) {
  return Object.freeze({
    profile,
    /** H itself. */
    hash,
    /** The entry hash of FORMAT.md §1.3. */
    entryHash: (seq, prevHash, body) =>
      hash(concat(ENTRY_TAG, be64(BigInt(seq)), prevHash, be64(BigInt(body.length)), body)),
    /** The Merkle leaf of an entry hash: H(0x00 || e). */
    leaf: (entry) => hash(concat(Uint8Array.of(0), entry)),
    /** An interior node: H(0x01 || left || right). */
    node: (left, right) => hash(concat(Uint8Array.of(1), left, right)),
  });
}

const HASHERS = new Map([
  ['blake3', hasher('blake3', blake3)],
  ['gm', hasher('gm', sm3)],
]);

/** The profiles hasherFor knows. */
export const PROFILES = Object.freeze([...HASHERS.keys()]);

/**
 * The hashing of a crypto profile (`'blake3'`, `'gm'`; undefined or null is `'blake3'`):
 * { profile, hash, entryHash(seq, prevHash, body), leaf(entry), node(left, right) }, each
 * over bytes, giving 32 bytes. Throws profile_unsupported for any other name.
 */
export function hasherFor(profile) {
  const name = profile ?? DEFAULT_PROFILE;
  return HASHERS.get(name) ?? fail('profile_unsupported', { profile: String(name) });
}

/** The entry hash of FORMAT.md §1.3 under `profile` (blake3 when left out). */
export function entryHash(seq, prevHash, body, profile) {
  return hasherFor(profile).entryHash(seq, prevHash, body);
}

/** The Merkle leaf of an entry hash: H(0x00 || e), under `profile`. */
export function leafHash(entry, profile) {
  return hasherFor(profile).leaf(entry);
}

/** An interior node: H(0x01 || left || right), under `profile`. */
export function nodeHash(left, right, profile) {
  return hasherFor(profile).node(left, right);
}

/**
 * RFC 9162 §2.1.3.2 as FORMAT.md §2.3 spells it: does the proof lead from entry hash `entry`
 * at index `index` to `root` in the tree of `size`, hashing by `profile` (blake3 when left
 * out)? Returns the computed root; throws proof_too_large, index_out_of_range,
 * proof_too_long, proof_too_short or root_mismatch.
 */
export function verifyInclusion(index, size, entry, proof, root, profile) {
  const h = hasherFor(profile);
  let fn = BigInt(index);
  let sn = BigInt(size);
  if (proof.length > MAX_INCLUSION_HASHES) {
    fail('proof_too_large', { len: proof.length, max: MAX_INCLUSION_HASHES });
  }
  if (fn >= sn) fail('index_out_of_range', { index: String(fn), size: String(sn) });
  sn -= 1n;
  let r = h.leaf(entry);
  for (const c of proof) {
    if (c.length !== 32) fail('proof_malformed', {});
    if (sn === 0n) fail('proof_too_long', {});
    if ((fn & 1n) === 1n || fn === sn) {
      r = h.node(c, r);
      if ((fn & 1n) === 0n) {
        while ((fn & 1n) === 0n && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      }
    } else {
      r = h.node(r, c);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  if (sn !== 0n) fail('proof_too_short', {});
  if (!equal(r, root)) fail('root_mismatch', { computed: toHex(r), expected: toHex(root) });
  return r;
}

/**
 * The inclusion check of one entry against a verified checkpoint, from what the JSON API
 * answers: `entry` as `GET /api/v1/entries` gives it ({seq, prev_hash, hash, body}) and the
 * proof's hex hashes from `GET /api/v1/proofs/inclusion`. The entry hash is computed here
 * from the entry's own bytes, by `profile` (the verifier key's; blake3 when left out); the
 * server's hash is only compared with it. Returns { entryHash, leafHash, root } (hex).
 */
export function checkInclusion(checkpoint, seq, entry, proofHex, profile) {
  const h = hasherFor(profile);
  const n = BigInt(seq);
  if (n >= checkpoint.size) {
    fail('seq_out_of_range', { seq: String(n), size: String(checkpoint.size) });
  }
  // A field that is zero or empty may be left out of the JSON (docs/HTTP.md).
  const entrySeq = entry.seq ?? 0;
  const body = typeof entry.body === 'string' ? entry.body : '';
  // The body says where it belongs (FORMAT.md §1.2): it starts with its own seq.
  if (BigInt(entrySeq) !== n || !body.startsWith(`{"seq":${n},`)) {
    fail('entry_seq_differs', { seq: String(n) });
  }
  const prev = fromHex(entry.prev_hash ?? '', 32);
  const stated = fromHex(entry.hash ?? '', 32);
  if (!prev || !stated) fail('entry_malformed', {});
  const computed = h.entryHash(n, prev, utf8(body));
  if (!equal(computed, stated)) {
    fail('entry_hash_differs', { computed: toHex(computed), stated: toHex(stated) });
  }
  const proof = (proofHex ?? []).map((x) => fromHex(x, 32) ?? fail('proof_malformed', {}));
  const root = verifyInclusion(n, checkpoint.size, computed, proof, checkpoint.root, h.profile);
  return { entryHash: toHex(computed), leafHash: toHex(h.leaf(computed)), root: toHex(root) };
}
