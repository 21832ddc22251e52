#!/usr/bin/env python3
"""Independent verifier of a rotaledger rotation certificate (交流轮岗证明), written from
docs/FORMAT.md alone.

Usage:  python3 verify_certificate.py CERTIFICATE.json --key KEY
            [--checkpoint NEWER --consistency PROOF]
        (KEY: a file holding the one-line verifier key, or the line itself; NEWER: a later
        signed checkpoint of the same log; PROOF: the consistency proof file of AUDIT.md §4
        from the certificate's size to NEWER's)
Needs:  Python 3.8+ and the packages of the ledger's crypto profile, which the verifier
        key's type byte names:
          0x01, Ed25519 (the default profile, blake3 hashes):
              pip install blake3 cryptography
          0xff, SM2 (a gm ledger: SM2 signatures, SM3 hashes):
              pip install gmssl (pure Python)
        Only the packages of the key's profile are imported.

It implements FORMAT.md §2.8 (the certificate and what a checker does, in order), with §1.3
(the entry hash), §2.1 and §2.3 (leaf hashes and inclusion proofs) and §2.5 (the signed
checkpoint, its signature lines and the verifier key), and with --checkpoint §2.4 (the
consistency proof: the certificate's log was not forked since). On success it prints the
teacher, the checkpoint, the certificate hash and each dispatch of the signed summary.

Profiles: an Ed25519 key (type 0x01, key id from SHA-256) checks Ed25519 signatures and
blake3 hashes, and the certificate's and proof file's `hash` must be "blake3"; an SM2 key
(type 0xff, the 65-byte uncompressed point, key id from SM3) checks SM2 signatures (with SM3
and the distinguishing ID "1234567812345678"; 64 bytes r || s) over the same bytes, SM3
hashes, and `hash` must be "sm3". A mismatch is refused as `malformed`.

Exit codes, as `rotaledger audit certificate`: 0 verified, 1 refused (the reason code and the
entry are named), 2 could not run (no such file, not a key, the profile's package missing).
"""

import argparse
import base64
import binascii
import hashlib
import json
import sys
from collections import namedtuple

ENTRY_TAG = b"rotaledger.entry.v1\x00"  # §1.3
STATEMENT_PREFIX = b"rotaledger certificate statement v1\x00"  # §2.8, 36 bytes
MAX_INCLUSION_HASHES = 64  # §2.4: a tree of at most 2^64 - 1 leaves
MAX_CONSISTENCY_HASHES = 65


class Refused(Exception):
    """The certificate is refused: a reason code of §2.8 and what failed."""

    def __init__(self, code, problem):
        super().__init__(f"REFUSED ({code}): {problem}")
        self.code = code


def b64(text, what, code):
    """Canonical standard base64 (§2.5): re-encoding gives the same text."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise Refused(code, f"{what} is not base64")
    if base64.b64encode(raw).decode() != text:
        raise Refused(code, f"{what} is not canonical base64")
    return raw


def hex32(text, what, code="entry-malformed"):
    if (
        not isinstance(text, str)
        or len(text) != 64
        or any(c not in "0123456789abcdef" for c in text)
    ):
        raise Refused(code, f"{what} is not 64 lower-case hex digits")
    return bytes.fromhex(text)


def strict_json(text, code):
    def no_dupes(pairs):
        obj = {}
        for k, v in pairs:
            if k in obj:
                raise ValueError(f"duplicate member {k!r}")
            obj[k] = v
        return obj

    try:
        return json.loads(text, object_pairs_hook=no_dupes)
    except ValueError as e:
        raise Refused(code, f"not JSON: {e}")


# ---- the crypto profiles ----


class CannotRun(Exception):
    """The packages of the key's profile are not installed."""


# hash_name: the certificate's and proof files' `hash`; H: the entry and tree hash; key_id_hash:
# the key id's hash; verify_signature(public key, 64-byte signature, message) -> bool;
# check_key(public key) raises ValueError for a key that is not one.
Profile = namedtuple("Profile", "name hash_name H key_id_hash verify_signature check_key")


def ed25519_profile():
    try:
        from blake3 import blake3
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    except ImportError:
        raise CannotRun("an Ed25519 key (a blake3 ledger) needs: pip install blake3 cryptography")

    def verify_signature(public_key, signature, message):
        try:
            Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
            return True
        except InvalidSignature:
            return False

    return Profile(
        "Ed25519", "blake3", lambda data: blake3(data).digest(),
        lambda data: hashlib.sha256(data).digest(), verify_signature, lambda public_key: None,
    )


def sm2_profile():
    try:
        from gmssl import sm2, sm3
    except ImportError:
        raise CannotRun("an SM2 key (a gm ledger) needs the gmssl package: pip install gmssl")
    curve = {k: int(v, 16) for k, v in sm2.default_ecc_table.items() if k != "g"}
    p, n, a, b = curve["p"], curve["n"], curve["a"], curve["b"]

    def H(data):
        return bytes.fromhex(sm3.sm3_hash(list(data)))

    def check_key(public_key):
        """A 65-byte SEC1 uncompressed point 04 || x || y on the SM2 curve."""
        x = int.from_bytes(public_key[1:33], "big")
        y = int.from_bytes(public_key[33:], "big")
        if public_key[0] != 4 or x >= p or y >= p or (y * y - x * x * x - a * x - b) % p:
            raise ValueError("not an SM2 public key (04 || x || y on the curve)")

    def verify_signature(public_key, signature, message):
        """SM2 with SM3 (GB/T 32918.2): e = SM3(Z_A || message), Z_A with the distinguishing
        ID "1234567812345678" (GB/T 35276-2017), the one gmssl's verify_with_sm3 always uses."""
        r = int.from_bytes(signature[:32], "big")
        s = int.from_bytes(signature[32:], "big")
        if not (1 <= r < n and 1 <= s < n):  # GB/T 32918.2 §7.1 B1-B2; gmssl does not check
            return False
        v = sm2.CryptSM2(private_key=None, public_key="")
        # Set after construction: the constructor's public_key.lstrip("04") would also strip
        # a leading 0 or 4 hex digit of x. gmssl wants x || y in hex.
        v.public_key = public_key[1:].hex()
        try:
            return v.verify_with_sm3(signature.hex(), message) is True
        except (TypeError, ValueError):  # s*G + t*P is the point at infinity: invalid
            return False

    return Profile("SM2", "sm3", H, H, verify_signature, check_key)


# The verifier key's type byte -> (public key length, profile loader).
KEY_TYPES = {0x01: (32, ed25519_profile), 0xFF: (65, sm2_profile)}

# The key's profile, its hash and its signature check: chosen once per run by use_profile().
PROFILE = None
H = None
verify_signature = None


def use_profile(profile):
    global PROFILE, H, verify_signature
    PROFILE, H, verify_signature = profile, profile.H, profile.verify_signature


# ---- the verifier key and the checkpoint (§2.5) ----


def parse_key(line):
    """(name, key id, public key) and the key's profile; ValueError if not a key, CannotRun
    if the profile's packages are missing."""
    name, kid, k = line.strip().split("+", 2)  # base64 may hold "+" too
    raw = base64.b64decode(k, validate=True)
    if base64.b64encode(raw).decode() != k:
        raise ValueError("the key is not canonical base64")
    if not raw or raw[0] not in KEY_TYPES or len(raw) != 1 + KEY_TYPES[raw[0]][0]:
        raise ValueError("not base64 of 0x01 and a 32-byte Ed25519 key, "
                         "nor of 0xff and a 65-byte SM2 key")
    profile = KEY_TYPES[raw[0]][1]()
    profile.check_key(raw[1:])
    kid = bytes.fromhex(kid)
    if kid != profile.key_id_hash(name.encode() + b"\n" + raw)[:4]:
        raise ValueError("the key id does not match the name and key")
    return (name, kid, raw[1:]), profile


def open_checkpoint(text, key):
    """The checkpoint's (origin, size, root) if the key's signature verifies."""
    code = "checkpoint-signature"
    name, kid, pub = key
    split = text.rfind("\n\n")
    if split < 0:
        raise Refused(code, "the checkpoint has no blank line")
    body, sigs = text[: split + 1], text[split + 2 :]
    lines = body[:-1].split("\n")
    if len(lines) != 4 or any(ord(c) < 0x20 for c in body[:-1].replace("\n", "")):
        raise Refused(code, "the checkpoint body is not four lines")
    origin, size, root, time = lines
    if not size.isdigit() or (size != "0" and size.startswith("0")):
        raise Refused(code, f"invalid size line {size!r}")
    if not time.startswith("time "):
        raise Refused(code, f"invalid time line {time!r}")
    root = b64(root, "the root line", code)
    if len(root) != 32:
        raise Refused(code, "the root is not 32 bytes")
    if not sigs.endswith("\n"):
        raise Refused(code, "the last signature line does not end with a newline")
    found = None
    for line in sigs[:-1].split("\n"):
        if not line.startswith("\u2014 "):
            raise Refused(code, f"malformed signature line {line!r}")
        n, _, s = line[2:].partition(" ")
        raw = b64(s, "a signature", code)
        if len(raw) < 5:
            raise Refused(code, "a signature line is too short")
        if found is None and n == name and raw[:4] == kid:
            found = raw[4:]
    if found is None:
        raise Refused(code, f"no signature by key {name}")
    if len(found) != 64 or not verify_signature(pub, found, body.encode()):
        raise Refused(code, f"the signature by {name} does not verify")
    return origin, int(size), root


# ---- inclusion proofs (§2.3) ----


def verify_inclusion(m, n, entry_hash, proof, root):
    if len(proof) > MAX_INCLUSION_HASHES or m >= n:
        return False
    fn, sn, r = m, n - 1, H(b"\x00" + entry_hash)
    for c in proof:
        if sn == 0:
            return False
        if fn % 2 == 1 or fn == sn:
            r = H(b"\x01" + c + r)
            if fn % 2 == 0:
                while fn % 2 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = H(b"\x01" + r + c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


# ---- consistency proofs (§2.4) ----


def verify_consistency(m, n, r1, r2, proof):
    if len(proof) > MAX_CONSISTENCY_HASHES or m > n:
        return False
    if m == n:
        return not proof and r1 == r2
    if m == 0:
        return not proof and r1 == H(b"")
    if not proof:
        return False
    path = ([r1] if m & (m - 1) == 0 else []) + proof
    fn, sn = m - 1, n - 1
    while fn % 2 == 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn % 2 == 1 or fn == sn:
            fr = H(b"\x01" + c + fr)
            sr = H(b"\x01" + c + sr)
            while fn % 2 == 0 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = H(b"\x01" + sr + c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == r1 and sr == r2


def verify_later(origin, size, root, newer_text, proof_text, key):
    """The later checkpoint is the key's, of the same log, and the proof joins the two."""
    try:
        n_origin, n_size, n_root = open_checkpoint(newer_text, key)
    except Refused as e:
        raise Refused("consistency", f"the later checkpoint: {e}")
    p = strict_json(proof_text, "consistency")
    head = (p.get("format"), p.get("version"), p.get("kind"), p.get("hash")) if isinstance(p, dict) else None
    if head != ("rotaledger-proof", 1, "consistency", PROFILE.hash_name):
        raise Refused("consistency", "not a consistency proof file (AUDIT.md §4)")
    if n_origin != origin:
        raise Refused("consistency", f"the later checkpoint is of another log: {n_origin}")
    if n_size < size:
        raise Refused("consistency", f"the later checkpoint has {n_size} entries, fewer than {size}: rolled back")
    if (p.get("old_size"), p.get("new_size")) != (size, n_size):
        raise Refused("consistency", "the proof is for other sizes")
    proof = [hex32(h, "a consistency proof hash", "consistency") for h in p.get("proof", [])]
    if not verify_consistency(size, n_size, root, n_root, proof):
        raise Refused("consistency", f"the proof does not join the logs of {size} and {n_size} entries: a fork")
    return n_size


# ---- the certificate (§2.8) ----

FILE_MEMBERS = ["format", "version", "hash", "checkpoint", "statement", "signature", "entries"]
ENTRY_MEMBERS = ["seq", "prev_hash", "hash", "body", "proof"]
STATEMENT_MEMBERS = [
    "format", "version", "origin", "size", "root", "teacher", "as_of", "entries", "head",
    "schools", "summary",
]


def verify(data, key):
    # 1. The file.
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused("malformed", "not UTF-8")
    c = strict_json(text, "malformed")
    if not isinstance(c, dict) or sorted(c) != sorted(FILE_MEMBERS):
        raise Refused("malformed", f"members are not {FILE_MEMBERS}")
    if (c["format"], c["version"]) != ("rotaledger-certificate", 1):
        raise Refused("malformed", "format or version is not the expected one")
    if c["hash"] != PROFILE.hash_name:
        raise Refused("malformed", f"hash is {c['hash']!r}, but the key is an {PROFILE.name} key, "
                                   f"whose ledger's certificates have {PROFILE.hash_name!r}")
    # 2. The checkpoint.
    origin, size, root = open_checkpoint(c["checkpoint"], key)
    # 3. The statement signature, then the statement.
    name, kid, pub = key
    sig = b64(c["signature"], "the statement signature", "statement-signature")
    if len(sig) != 68 or sig[:4] != kid:
        raise Refused("statement-signature", "not a 68-byte signature by the key's id")
    statement = c["statement"].encode("utf-8")
    if not verify_signature(pub, sig[4:], STATEMENT_PREFIX + statement):
        raise Refused("statement-signature", "it does not verify over the statement")
    st = strict_json(c["statement"], "statement-malformed")
    if sorted(st) != sorted(STATEMENT_MEMBERS) or (st["format"], st["version"]) != (
        "rotaledger-certificate-statement",
        1,
    ):
        raise Refused("statement-malformed", "not a version 1 statement")
    # 4. About this checkpoint.
    for field, s, k in [("origin", st["origin"], origin), ("size", st["size"], size),
                        ("root", st["root"], root.hex())]:
        if s != k:
            raise Refused("other-checkpoint", f"the statement's {field} is {s}, the checkpoint's {k}")
    # 5. Each entry.
    teacher, last_seq, expected, dispatches = st["teacher"], None, None, set()
    for e in c["entries"]:
        if not isinstance(e, dict) or sorted(e) != sorted(ENTRY_MEMBERS):
            raise Refused("malformed", f"an entry's members are not {ENTRY_MEMBERS}")
        seq = e["seq"]
        if not isinstance(seq, int) or (last_seq is not None and seq <= last_seq) or seq >= size:
            raise Refused("entry-order", f"entry {seq} is out of order or beyond the checkpoint")
        prev = hex32(e["prev_hash"], f"entry {seq}: prev_hash")
        stated = hex32(e["hash"], f"entry {seq}: hash")
        body = e["body"].encode("utf-8")
        computed = H(ENTRY_TAG + seq.to_bytes(8, "big") + prev + len(body).to_bytes(8, "big") + body)
        if computed != stated:
            raise Refused("entry-hash", f"entry {seq}: its bytes hash to {computed.hex()}, not {e['hash']}")
        proof = [hex32(h, f"entry {seq}: a proof hash") for h in e["proof"]]
        if not verify_inclusion(seq, size, computed, proof, root):
            raise Refused("inclusion", f"entry {seq}: the proof does not lead to the root of size {size}")
        b = strict_json(e["body"], "entry-malformed")
        if not isinstance(b, dict) or b.get("seq") != seq or not isinstance(b.get("payload"), dict):
            raise Refused("entry-malformed", f"entry {seq}: its body is not an entry body")
        p = b["payload"]
        if "teacher" in p and p["teacher"] != teacher:
            raise Refused("foreign-entry", f"entry {seq} is about teacher {p['teacher']}, not {teacher}")
        if "teacher_prev" not in p:
            raise Refused("foreign-entry", f"entry {seq} is not about a teacher")
        link = p["teacher_prev"]
        link = None if link is None else (link.get("seq"), link.get("hash"))
        if link != expected:
            raise Refused("chain", f"entry {seq}: teacher_prev is {link}, expected {expected}")
        expected = (seq, computed.hex())
        if p.get("type") in ("teacher_returned", "teacher_evaluated") and p.get("dispatch") not in dispatches:
            raise Refused("foreign-entry", f"entry {seq} is about dispatch {p.get('dispatch')}, not one of {teacher}'s")
        if p.get("type") == "teacher_dispatched":
            dispatches.add(p.get("dispatch"))
        last_seq = seq
    # 6. The head.
    head = st["head"]
    if expected != (head.get("seq"), head.get("hash")) or len(c["entries"]) != st["entries"]:
        raise Refused("head", f"the entries end at {expected}, the statement names {head}")
    # 7. The summary's dispatches are the entries'.
    summary = st["summary"] or {}
    for d in summary.get("dispatches", []):
        if d.get("dispatch") not in dispatches:
            raise Refused("summary", f"the summary names dispatch {d.get('dispatch')}, recorded by no entry")
    return st, H(statement), (origin, size, root)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("certificate")
    ap.add_argument("--key", required=True)
    ap.add_argument("--checkpoint")
    ap.add_argument("--consistency")
    a = ap.parse_args()
    if bool(a.checkpoint) != bool(a.consistency):
        print("error: --checkpoint and --consistency go together", file=sys.stderr)
        return 2
    try:
        try:
            with open(a.key, encoding="utf-8") as f:
                line = next(l for l in f if l.strip())
        except FileNotFoundError:
            line = a.key
        key, profile = parse_key(line)
    except (ValueError, StopIteration, OSError, CannotRun) as e:
        print(f"error: --key {a.key}: {e}", file=sys.stderr)
        return 2
    use_profile(profile)
    try:
        with open(a.certificate, "rb") as f:
            data = f.read()
    except OSError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    later = None
    if a.checkpoint:
        try:
            with open(a.checkpoint, encoding="utf-8") as f:
                newer = f.read()
            with open(a.consistency, encoding="utf-8") as f:
                proof = f.read()
        except (OSError, UnicodeDecodeError) as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
    try:
        st, h, (origin, size, root) = verify(data, key)
        if a.checkpoint:
            later = verify_later(origin, size, root, newer, proof, key)
    except Refused as e:
        print(f"{e} [{a.certificate}]")
        return 1
    s = st["summary"] or {}
    print(f"verified: certificate of teacher {st['teacher']} as of {st['as_of']}")
    print(f"  log {st['origin']}, checkpoint size {st['size']}, root {st['root']}")
    print(f"  {st['entries']} entries, head entry {st['head']['seq']}; certificate hash {h.hex()}")
    if s.get("name"):
        print(f"  name (signed in the statement): {s['name']}")
    for d in s.get("dispatches", []):
        print(
            f"  dispatch {d.get('dispatch')} {d.get('kind')} {d.get('from_school')} -> {d.get('to_school')}: "
            f"start {d.get('start_date')}, min_end {d.get('min_end')}, end {d.get('end') or '-'}, {d.get('status')}"
        )
    credits = s.get("credits") or {}
    for k in ("rotation", "leadership", "returning_mentor", "senior_title"):
        print(f"  {k}: {'met' if (credits.get(k) or {}).get('met') else 'not met'}")
    if later is not None:
        print(f"consistency verified: the later checkpoint of {later} entries extends the certificate's; no fork")
    return 0


if __name__ == "__main__":
    sys.exit(main())
