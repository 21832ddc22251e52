#!/usr/bin/env python3
"""Independent verifier of a rotaledger export, written from docs/FORMAT.md alone.

Usage:  python3 verify_export.py EXPORT.jsonl [--head-hash HEX] [--root HEX]
Needs:  Python 3.8+ and the package of the export's hash, which its header's `crypto` names:
          "blake3" (the default profile; also an older header without `crypto`):
              the blake3 package (pip install blake3)
          "gm" (SM3, GB/T 32905): the gmssl package (pip install gmssl; pure Python, so
              slower: about 450 entries a second, some 4 minutes for 100,000)
        Only the package of the export being checked is imported.

It implements FORMAT.md §1.7 (the export), §1.3 (the entry hash), §1.8 (what a verifier
checks, in that order) and §2.1-2.2 (the Merkle root over the entry hashes), with the hash H
of the export's crypto profile (blake3, or SM3 for a gm ledger). --head-hash and --root
compare the header with values obtained independently (§1.9), e.g. from a signed checkpoint.

Exit codes, as `rotaledger verify --export`: 0 verified, 1 bad (the first bad entry is
named), 2 not an export / could not run (also: the profile's package is not installed).
"""

import argparse
import json
import re
import sys
from datetime import datetime

ENTRY_TAG = b"rotaledger.entry.v1\x00"  # §1.3: 20 bytes
GENESIS = bytes(32)
U64_MAX = 2**64 - 1
HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")
RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"
)


class CannotRun(Exception):
    """The hash of the export's profile is not available here (its package is missing)."""


def blake3_hash():
    try:
        from blake3 import blake3
    except ImportError:
        raise CannotRun('a "blake3" export needs the blake3 package: pip install blake3')
    return lambda data: blake3(data).digest()


def sm3_hash():
    try:
        from gmssl import sm3
    except ImportError:
        raise CannotRun('a "gm" export (SM3) needs the gmssl package: pip install gmssl')
    return lambda data: bytes.fromhex(sm3.sm3_hash(list(data)))


# The header's `crypto` -> the hash H of the profile; no `crypto` is an older blake3 export.
HASHES = {"blake3": blake3_hash, "gm": sm3_hash}
H = None  # bytes -> 32 bytes: chosen once per run from the header, by verify()


class Bad(Exception):
    """The first bad entry: its number and what is wrong."""

    def __init__(self, seq, problem):
        super().__init__(f"first bad entry {seq}: {problem}")
        self.seq = seq


class NotAnExport(Exception):
    pass


def strict_json(text):
    """JSON as FORMAT.md reads it: no repeated members, no NaN/Infinity."""

    def no_dupes(pairs):
        obj = {}
        for k, v in pairs:
            if k in obj:
                raise ValueError(f"duplicate member {k!r}")
            obj[k] = v
        return obj

    def no_constants(name):
        raise ValueError(f"{name} is not JSON")

    return json.loads(text, object_pairs_hook=no_dupes, parse_constant=no_constants)


def is_u64(v):
    return isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= U64_MAX


def is_u32(v):
    return is_u64(v) and v <= 2**32 - 1


def parse_hex(v, what):
    if not isinstance(v, str) or not HEX64.match(v):
        raise ValueError(f"{what} is not 64 hex digits")
    return bytes.fromhex(v)


def entry_hash(seq, prev_hash, body):
    """§1.3."""
    return H(ENTRY_TAG + seq.to_bytes(8, "big") + prev_hash + len(body).to_bytes(8, "big") + body)


def valid_time(s):
    m = RFC3339.match(s)
    if not m:
        return False
    y, mo, d, h, mi, sec = (int(g) for g in m.groups()[:6])
    if h > 23 or mi > 59 or sec > 60:  # RFC 3339 allows a leap second
        return False
    try:
        datetime(y, mo, d)
    except ValueError:
        return False
    if m.group(8) not in ("Z", "z"):
        oh, om = int(m.group(8)[1:3]), int(m.group(8)[4:6])
        if oh > 23 or om > 59:
            return False
    return True


def body_seq(body):
    """§1.8 step 3: the body's own `seq`, or None when the body is not the §1.2 object."""
    try:
        obj = strict_json(body.decode("utf-8"))
    except ValueError:
        return None
    if not isinstance(obj, dict):
        return None
    if set(obj) != {"seq", "recorded_at", "actor", "request_id", "payload"}:
        return None
    if not is_u64(obj["seq"]):
        return None
    if not all(isinstance(obj[k], str) for k in ("recorded_at", "actor", "request_id")):
        return None
    if not valid_time(obj["recorded_at"]):
        return None
    return obj["seq"]


class Tree:
    """§2.1-2.2: RFC 9162 Merkle tree over the entry hashes, as a stack of perfect subtrees."""

    def __init__(self):
        self.stack = []  # (level, hash) of the perfect subtrees, largest first

    def append(self, entry_hash_bytes):
        node = (0, H(b"\x00" + entry_hash_bytes))
        while self.stack and self.stack[-1][0] == node[0]:
            level, left = self.stack.pop()
            node = (level + 1, H(b"\x01" + left + node[1]))
        self.stack.append(node)

    def root(self):
        if not self.stack:
            return H(b"")
        r = self.stack[-1][1]
        for _, left in reversed(self.stack[:-1]):
            r = H(b"\x01" + left + r)
        return r


def read_header(line):
    """§1.7 / §1.8 'Export header'."""
    if line is None:
        raise NotAnExport("the file is empty")
    try:
        h = strict_json(line)
    except ValueError as e:
        raise NotAnExport(f"header is not JSON: {e}")
    members = {"format", "version", "size", "head_hash", "root"}
    if not isinstance(h, dict) or set(h) not in (members, members | {"crypto"}):
        raise NotAnExport("header does not have exactly format, version, [crypto,] size, head_hash, root")
    crypto = h.get("crypto", "blake3")  # absent: an export written before the gm profile
    if (
        not isinstance(h["format"], str)
        or not is_u32(h["version"])
        or not isinstance(crypto, str)
        or not is_u64(h["size"])
    ):
        raise NotAnExport("header member of the wrong type")
    if h["format"] != "rotaledger-export" or h["version"] != 1:
        raise NotAnExport(f"format {h['format']!r} version {h['version']}")
    if crypto not in HASHES:
        raise NotAnExport(f'crypto {crypto!r}: this verifier knows "blake3" and "gm"')
    try:
        return crypto, h["size"], parse_hex(h["head_hash"], "head_hash"), parse_hex(h["root"], "root")
    except ValueError as e:
        raise NotAnExport(str(e))


def decode_line(text):
    """§1.8 step 0 for an export line: (seq, prev_hash, hash, body bytes)."""
    line = strict_json(text)
    if not isinstance(line, dict) or set(line) != {"seq", "prev_hash", "hash", "body"}:
        raise ValueError("not an object with exactly seq, prev_hash, hash, body")
    if not is_u64(line["seq"]):
        raise ValueError("seq is not an integer in 0..2^64")
    if not isinstance(line["body"], str):
        raise ValueError("body is not a string")
    body = line["body"].encode("utf-8")  # raises on lone surrogates: undecodable
    return line["seq"], parse_hex(line["prev_hash"], "prev_hash"), parse_hex(line["hash"], "hash"), body


def lines_of(f):
    """Lines without their final \\n; a last line without \\n counts (§1.8)."""
    for raw in f:
        yield raw[:-1] if raw.endswith(b"\n") else raw


def verify(f):
    """Returns (entries, head hash, root), or raises Bad / NotAnExport / CannotRun."""
    global H
    lines = lines_of(f)
    first = next(lines, None)
    try:
        header_text = None if first is None else first.decode("utf-8")
    except UnicodeDecodeError:
        raise NotAnExport("header is not UTF-8")
    crypto, size, head_hash, root = read_header(header_text)
    H = HASHES[crypto]()

    nxt, prev, tree = 0, GENESIS, Tree()
    for raw in lines:
        # 0. decode
        try:
            seq, prev_hash, stored, body = decode_line(raw.decode("utf-8"))
        except (ValueError, UnicodeError) as e:
            raise Bad(nxt, f"undecodable entry: line {nxt + 2}: {e}")
        # 1. gap
        if seq > nxt:
            raise Bad(nxt, f"gap in sequence numbers: expected entry {nxt}, found entry {seq}")
        # 2. order
        if seq < nxt:
            raise Bad(seq, f"entry {seq} is out of order: expected entry {nxt}")
        # 3. body
        claims = body_seq(body)
        if claims is not None and claims != seq:
            raise Bad(seq, f"the entry stored at position {seq} says it is entry {claims}")
        # 4. hash
        computed = entry_hash(seq, prev_hash, body)
        if computed != stored:
            raise Bad(seq, f"hash mismatch: stored {stored.hex()}, recomputed {computed.hex()}")
        # 5. link
        if prev_hash != prev:
            raise Bad(seq, f"broken link: names previous hash {prev_hash.hex()}, "
                           f"but the previous entry's hash is {prev.hex()}")
        # 6. undecodable body
        if claims is None:
            raise Bad(seq, "undecodable entry: body is not a valid entry object")
        # 7. advance
        tree.append(stored)
        prev, nxt = stored, nxt + 1

    last = max(nxt, 1) - 1
    if size > nxt:  # 8
        raise Bad(nxt, f"the log ends after {nxt} entries but its head says {size}")
    if size < nxt:  # 9
        raise Bad(size, f"entries beyond the head: the head says {size} entries, entry {size} is stored")
    if head_hash != prev:  # 10
        raise Bad(last, f"the head names hash {head_hash.hex()}, the last entry's hash is {prev.hex()}")
    computed_root = tree.root()
    if root != computed_root:  # 11
        raise Bad(last, f"Merkle root mismatch: the head records {root.hex()}, "
                        f"the entries give {computed_root.hex()}")
    return nxt, prev, computed_root


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("export")
    ap.add_argument("--head-hash", help="expected head hash (hex), obtained independently")
    ap.add_argument("--root", help="expected Merkle root (hex), obtained independently")
    args = ap.parse_args()
    try:
        with open(args.export, "rb") as f:
            n, head, root = verify(f)
    except NotAnExport as e:
        print(f"error: {args.export}: not a rotaledger export: {e}", file=sys.stderr)
        return 2
    except CannotRun as e:
        print(f"error: {args.export}: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except Bad as e:
        print(f"BAD: {args.export}: {e}")
        return 1
    for flag, want, got in (("--head-hash", args.head_hash, head), ("--root", args.root, root)):
        if want is not None and want.lower() != got.hex():
            print(f"BAD: {args.export}: verifies, but its {flag[2:]} is {got.hex()}, not {want.lower()}")
            return 1
    print(f"verified: {args.export}: {n} entries, head {head.hex()}, root {root.hex()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
