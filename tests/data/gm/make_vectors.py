#!/usr/bin/env python3
"""Writes vectors.json: test vectors for the `gm` profile (SM3, SM2) of the console's
verify.js, made without any JavaScript: SM3 by Python's hashlib (OpenSSL's SM3), SM2 key
pairs and signatures by the `openssl` command (OpenSSL 3), the tree and proofs by the small
RFC 9162 code below. The published vectors (GB/T 32905 SM3 examples, the RustCrypto sm2
crate's signature, FORMAT.md §2.6's blake3 example) are written in as published.

Run from anywhere: python3 tests/data/gm/make_vectors.py (needs openssl 3 on the PATH).
SM2 signatures are randomised, so each run writes different signatures, all valid.
"""

import base64
import hashlib
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
DISTID = "1234567812345678"
# The order of the SM2 group (GB/T 32918.5-2017).
N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
P = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF
B = 0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93


def sm3(b: bytes) -> bytes:
    return hashlib.new("sm3", b).digest()


def openssl(*args, stdin=None) -> bytes:
    return subprocess.run(["openssl", *args], input=stdin, capture_output=True, check=True).stdout


class Sm2Key:
    """An SM2 key pair made by OpenSSL, and signing with `openssl pkeyutl`."""

    def __init__(self, tmp: str, label: str):
        self.key = os.path.join(tmp, label + ".pem")
        self.pub = os.path.join(tmp, label + ".pub.pem")
        self.tmp = tmp
        openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:SM2", "-out", self.key)
        openssl("pkey", "-in", self.key, "-pubout", "-out", self.pub)
        spki = openssl("pkey", "-in", self.key, "-pubout", "-outform", "DER")
        # The SubjectPublicKeyInfo ends with the BIT STRING's content: 04 || x || y.
        self.point = spki[-65:]
        assert self.point[0] == 4, spki.hex()

    def sign(self, msg: bytes, distid: str = DISTID) -> bytes:
        """r || s (32 bytes each) of OpenSSL's SM2 signature (SM3, the given ID) of msg."""
        m = os.path.join(self.tmp, "msg.bin")
        sig = os.path.join(self.tmp, "sig.der")
        with open(m, "wb") as f:
            f.write(msg)
        openssl("pkeyutl", "-sign", "-rawin", "-digest", "sm3", "-inkey", self.key,
                "-pkeyopt", "distid:" + distid, "-in", m, "-out", sig)
        # OpenSSL checks its own signature too (and a wrong ID must fail).
        openssl("pkeyutl", "-verify", "-rawin", "-digest", "sm3", "-pubin", "-inkey", self.pub,
                "-pkeyopt", "distid:" + distid, "-in", m, "-sigfile", sig)
        with open(sig, "rb") as f:
            return der_to_raw(f.read())


def der_to_raw(der: bytes) -> bytes:
    """SEQUENCE { INTEGER r, INTEGER s } (short lengths, as for 256-bit values) to r || s."""
    assert der[0] == 0x30 and der[1] == len(der) - 2, der.hex()
    out, at = b"", 2
    for _ in range(2):
        assert der[at] == 0x02
        n = der[at + 1]
        v = int.from_bytes(der[at + 2:at + 2 + n], "big")
        assert 0 < v < N
        out += v.to_bytes(32, "big")
        at += 2 + n
    assert at == len(der)
    return out


def b64(b: bytes) -> str:
    return base64.b64encode(b).decode()


def be64(n: int) -> bytes:
    return n.to_bytes(8, "big")


def entry_hash(H, seq: int, prev: bytes, body: bytes) -> bytes:
    return H(b"rotaledger.entry.v1\0" + be64(seq) + prev + be64(len(body)) + body)


def leaf(H, e: bytes) -> bytes:
    return H(b"\x00" + e)


def node(H, l: bytes, r: bytes) -> bytes:
    return H(b"\x01" + l + r)


def split(n: int) -> int:
    """The largest power of two below n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(H, leaves):
    """RFC 9162 §2.1.1 over leaf hashes."""
    if len(leaves) == 1:
        return leaves[0]
    k = split(len(leaves))
    return node(H, mth(H, leaves[:k]), mth(H, leaves[k:]))


def path(H, m: int, leaves):
    """RFC 9162 §2.1.3.1 PATH(m, D[n]) over leaf hashes."""
    if len(leaves) == 1:
        return []
    k = split(len(leaves))
    if m < k:
        return path(H, m, leaves[:k]) + [mth(H, leaves[k:])]
    return path(H, m - k, leaves[k:]) + [mth(H, leaves[:k])]


def gm_key_text(name: str, point: bytes) -> str:
    kid = sm3(name.encode() + b"\n" + b"\xff" + point)[:4]
    return name + "+" + kid.hex() + "+" + b64(b"\xff" + point)


def main():
    # Independent of the JavaScript, but hashlib's SM3 must itself be right.
    assert sm3(b"abc").hex() == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    ossl = openssl("version").decode().strip()
    v = {
        "about": "Vectors for verify.js's gm profile (SM3, SM2); see README.md here. Made by make_vectors.py with "
        + ossl + " and Python's hashlib (OpenSSL's SM3), except the published ones, each named in its 'source'.",
        "sm3": [
            {"source": "GB/T 32905-2016 example 1", "msg_hex": b"abc".hex(),
             "digest": "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"},
            {"source": "GB/T 32905-2016 example 2", "msg_hex": (b"abcd" * 16).hex(),
             "digest": "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"},
            {"source": "hashlib (OpenSSL)", "msg_hex": "", "digest": sm3(b"").hex()},
            {"source": "hashlib (OpenSSL)", "msg_hex": bytes(range(256)).hex() * 3,
             "digest": sm3(bytes(range(256)) * 3).hex()},
        ],
        "sm2": [],
        "keys": [],
        "notes": [],
        "entries": [],
        "inclusion": [],
        "check": [],
    }

    with tempfile.TemporaryDirectory() as tmp:
        k1 = Sm2Key(tmp, "k1")
        k2 = Sm2Key(tmp, "k2")

        # --- SM2 signatures, raw: verify.js's sm2Verify(publicKey, message, signature, id).
        v["sm2"].append({
            "source": "RustCrypto sm2 crate (tests/dsa.rs), ID example@rustcrypto.org",
            "public_key": "0408D77AE04C01CC4C1104360DD8AF6B6F7DF334283D7C1A6AFD5652407B87BEE5014E2A57C36C150D16324DC664E31E6432359609C4E79847A5B161C8C7364C8A".lower(),
            "distid": "example@rustcrypto.org", "msg_hex": b"testing".hex(),
            "signature": "d1dcccedd9fb785e0f67c16b7c52901625c0b69de9bca2144acc7be713cad2fc"
                         "f7d1eae6e3a157b36c65f672f738ca8b46298bf149a6510072c431b49cd88b1c",
            "valid": True,
        })
        rc = dict(v["sm2"][0])
        v["sm2"].append({**rc, "source": rc["source"] + ", verified under the default ID instead",
                         "distid": DISTID, "valid": False})
        msgs = [b"", b"abc", "第一实验小学 rotaledger\n".encode(), bytes(range(256)) * 5]
        for m in msgs:
            sig = k1.sign(m)
            base = {"source": ossl + " pkeyutl -sign -rawin -digest sm3 -pkeyopt distid:" + DISTID,
                    "public_key": k1.point.hex(), "distid": DISTID, "msg_hex": m.hex(),
                    "signature": sig.hex()}
            v["sm2"].append({**base, "valid": True})
            r, s = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")
            tampered = [
                ("message altered", {"msg_hex": (m + b"!").hex()}),
                ("r altered", {"signature": (sig[:5] + bytes([sig[5] ^ 1]) + sig[6:]).hex()}),
                ("s altered", {"signature": (sig[:60] + bytes([sig[60] ^ 0x80]) + sig[61:]).hex()}),
                ("r and s swapped", {"signature": (sig[32:] + sig[:32]).hex()}),
                ("another key", {"public_key": k2.point.hex()}),
                ("another ID", {"distid": "1234567812345679"}),
                ("r = 0", {"signature": (bytes(32) + sig[32:]).hex()}),
                ("s = 0", {"signature": (sig[:32] + bytes(32)).hex()}),
                ("r = n", {"signature": (N.to_bytes(32, "big") + sig[32:]).hex()}),
                ("s = n", {"signature": (sig[:32] + N.to_bytes(32, "big")).hex()}),
                ("s + n", {"signature": (sig[:32] + ((s + N) % 2**256).to_bytes(32, "big")).hex()}),
                ("63 bytes", {"signature": sig[:63].hex()}),
                ("65 bytes", {"signature": (sig + b"\x00").hex()}),
            ]
            if m == b"abc":
                for why, change in tampered:
                    v["sm2"].append({**base, **change, "source": base["source"] + "; then " + why,
                                     "valid": False})
        # A message signed under another ID verifies under that ID only.
        sig = k1.sign(b"abc", "alice@example.org")
        v["sm2"].append({"source": ossl + " pkeyutl, distid:alice@example.org",
                         "public_key": k1.point.hex(), "distid": "alice@example.org",
                         "msg_hex": b"abc".hex(), "signature": sig.hex(), "valid": True})
        v["sm2"].append({"source": ossl + " pkeyutl, distid:alice@example.org; verified under the default ID",
                         "public_key": k1.point.hex(), "distid": DISTID,
                         "msg_hex": b"abc".hex(), "signature": sig.hex(), "valid": False})

        # --- Verifier keys (parseVerifierKey).
        name = "rotaledger.example/district-7/gm"
        key1 = gm_key_text(name, k1.point)
        kid1 = key1.split("+")[1]
        v["keys"].append({"text": key1, "name": name, "key_id": kid1, "public_key": k1.point.hex(),
                          "profile": "gm", "source": "SM3 key id by hashlib"})
        v["keys"].append({"text": key1 + "\n", "name": name, "key_id": kid1, "public_key": k1.point.hex(),
                          "profile": "gm", "source": "final newline"})
        ed = "rotaledger.example+138da3e9+AXvhOtOTsxh2gg9bugi8DtAsyH8jEL7qh3RCVxXHEXKb"
        v["keys"].append({"text": ed, "name": "rotaledger.example", "key_id": "138da3e9",
                          "public_key": base64.b64decode("AXvhOtOTsxh2gg9bugi8DtAsyH8jEL7qh3RCVxXHEXKb")[1:].hex(),
                          "profile": "blake3", "source": "FORMAT.md §2.6 (Ed25519)"})
        bad_id = kid1[:-1] + ("0" if kid1[-1] != "0" else "1")
        v["keys"].append({"text": key1.replace("+" + kid1 + "+", "+" + bad_id + "+"),
                          "fail": "key_id_mismatch", "source": "key id altered"})
        # The same key under the Ed25519 rule for key ids (SHA-256): not its key id.
        sha_id = hashlib.sha256(name.encode() + b"\n\xff" + k1.point).digest()[:4].hex()
        v["keys"].append({"text": key1.replace("+" + kid1 + "+", "+" + sha_id + "+"),
                          "fail": "key_id_mismatch", "source": "key id by SHA-256 instead of SM3"})
        v["keys"].append({"text": gm_key_text("rotaledger.example/district-8/gm", k1.point).replace(
            "rotaledger.example/district-8/gm", name), "fail": "key_id_mismatch",
            "source": "key id of another name"})
        y = int.from_bytes(k1.point[33:], "big")
        off_curve = k1.point[:33] + ((y + 1) % P).to_bytes(32, "big")
        v["keys"].append({"text": gm_key_text(name, off_curve), "fail": "key_invalid_point",
                          "source": "y + 1: not on the curve (key id computed for it)"})
        # (0, sqrt(b)) is on the curve; written with x = p instead of 0 it is not canonical.
        y0 = pow(B, (P + 1) // 4, P)
        assert y0 * y0 % P == B
        v["keys"].append({"text": gm_key_text(name, b"\x04" + P.to_bytes(32, "big") + y0.to_bytes(32, "big")),
                          "fail": "key_invalid_point", "source": "x = p (the point (0, sqrt(b)) not reduced)"})
        v["keys"].append({"text": gm_key_text(name, b"\x05" + k1.point[1:]), "fail": "key_invalid_point",
                          "source": "SEC1 tag 05"})
        v["keys"].append({"text": gm_key_text(name, bytes(65)), "fail": "key_invalid_point",
                          "source": "65 zero bytes"})
        compressed = bytes([2 + (y & 1)]) + k1.point[1:33]
        v["keys"].append({"text": gm_key_text(name, compressed), "fail": "key_malformed",
                          "source": "compressed point (33 bytes): only 65-byte uncompressed is allowed"})
        v["keys"].append({"text": gm_key_text(name, k1.point + b"\x00"), "fail": "key_malformed",
                          "source": "66-byte key"})
        t2 = b"\x02" + k1.point
        v["keys"].append({"text": name + "+" + sm3(name.encode() + b"\n" + t2)[:4].hex() + "+" + b64(t2),
                          "fail": "key_unsupported", "source": "type byte 0x02"})

        # --- Signed notes (openNote).
        H = sm3
        hashes = [sm3(f"entry-{i}".encode()) for i in range(7)]
        leaves = [leaf(H, e) for e in hashes]
        root3 = mth(H, leaves[:3])
        body = f"{name}\n3\n{b64(root3)}\ntime 2026-11-22T10:00:00Z\n"
        sig = k1.sign(body.encode())
        kid_bytes = bytes.fromhex(kid1)
        line = f"\u2014 {name} {b64(kid_bytes + sig)}\n"
        note = f"{body}\n{line}"
        want = {"origin": name, "size": "3", "root": root3.hex(), "time": "2026-11-22T10:00:00Z"}
        src = "body signed by " + ossl + " pkeyutl (SM2, SM3, ID " + DISTID + ")"
        v["notes"].append({"note": note, "key": key1, "want": want, "source": src})
        # A cosigned note: another key's (k2, another name) line first.
        name2 = "bureau.example/gm"
        key2 = gm_key_text(name2, k2.point)
        line2 = f"\u2014 {name2} {b64(bytes.fromhex(key2.split('+')[1]) + k2.sign(body.encode()))}\n"
        cosigned = f"{body}\n{line2}{line}"
        v["notes"].append({"note": cosigned, "key": key1, "want": want, "source": src + ", cosigned"})
        v["notes"].append({"note": cosigned, "key": key2, "want": want, "source": src + ", the cosigner's key"})
        v["notes"].append({"note": note.replace("\n3\n", "\n4\n"), "key": key1, "fail": "bad_signature",
                           "source": "size altered"})
        v["notes"].append({"note": note.replace("10:00:00Z", "10:00:01Z"), "key": key1, "fail": "bad_signature",
                           "source": "time altered"})
        other_id_sig = k1.sign(body.encode(), "rotaledger")
        v["notes"].append({"note": f"{body}\n\u2014 {name} {b64(kid_bytes + other_id_sig)}\n", "key": key1,
                           "fail": "bad_signature", "source": "signed under the ID 'rotaledger', not " + DISTID})
        v["notes"].append({"note": f"{body}\n\u2014 {name} {b64(kid_bytes + sig[:63])}\n", "key": key1,
                           "fail": "bad_signature", "source": "63-byte signature"})
        v["notes"].append({"note": f"{body}\n\u2014 {name} {b64(kid_bytes + bytes(32) + sig[32:])}\n",
                           "key": key1, "fail": "bad_signature", "source": "r = 0"})
        v["notes"].append({"note": note, "key": gm_key_text(name, k2.point), "fail": "key_id_differs",
                           "source": "same name, another key"})
        v["notes"].append({"note": note, "key": key2, "fail": "no_signature", "source": "another signer"})
        # A key of the same name under the same key id cannot be made; an Ed25519 key can
        # carry the gm name: its own key id, so the line is not its.
        v["notes"].append({"note": note, "key": ed, "fail": "no_signature", "source": "the Ed25519 example key"})

        # FORMAT.md §2.6's signed checkpoint (blake3 profile, Ed25519), byte-exact.
        fmt_note = ("rotaledger.example/district-7\n3\n5aCyDVKl85tHnrJ4DoHYCDjbbECsR85CEZPQjuWwyD4=\n"
                    "time 2026-11-22T10:00:00Z\n\n\u2014 rotaledger.example E42j6d4poKmUxTf9x97x/NEI3ktWKkbuz82"
                    "mrKomW613YQ2wE++gSU5KLjnEOD6D02z/PRI+uafT+PSLwUfMJUzWHQo=\n")
        v["notes"].append({"note": fmt_note, "key": ed, "source": "FORMAT.md §2.6 (Ed25519)", "want": {
            "origin": "rotaledger.example/district-7", "size": "3",
            "root": "e5a0b20d52a5f39b479eb2780e81d80838db6c40ac47ce421193d08ee5b0c83e",
            "time": "2026-11-22T10:00:00Z"}})
        v["notes"].append({"note": fmt_note.replace("\n3\n", "\n4\n"), "key": ed, "fail": "bad_signature",
                           "source": "FORMAT.md §2.6, size altered"})

        # --- Entry hashes, leaves and inclusion, gm and (FORMAT.md §1.10, §2.6) blake3.
        with open(os.path.join(HERE, "../../../docs/FORMAT.md"), encoding="utf-8") as f:
            for text in f:
                try:
                    e = json.loads(text)
                    bytes.fromhex(e["hash"])
                except (ValueError, KeyError, TypeError):
                    continue
                if isinstance(e, dict) and set(e) == {"seq", "prev_hash", "hash", "body"}:
                    v["entries"].append({"profile": "blake3", "seq": str(e["seq"]), "prev": e["prev_hash"],
                                         "body": e["body"], "hash": e["hash"], "leaf": None,
                                         "source": "FORMAT.md §1.10"})
        prev = bytes(32)
        log = []
        for seq in range(7):
            b = ('{"seq":%d,"recorded_at":"2025-09-01T08:00:00.000000Z","actor":"hr","request_id":"r%d",'
                 '"payload":{"type":"note","text":"第%d条"}}' % (seq, seq, seq))
            e = entry_hash(H, seq, prev, b.encode())
            v["entries"].append({"profile": "gm", "seq": str(seq), "prev": prev.hex(), "body": b,
                                 "hash": e.hex(), "leaf": leaf(H, e).hex()})
            log.append((seq, prev, e, b))
            prev = e
        v["entries"].append({"profile": "gm", "seq": str(2**40), "prev": prev.hex(), "body": "",
                             "hash": entry_hash(H, 2**40, prev, b"").hex(),
                             "leaf": leaf(H, entry_hash(H, 2**40, prev, b"")).hex()})
        v["entries"].append({"profile": "gm", "seq": "7", "prev": prev.hex(), "body": "x" * 5000,
                             "hash": entry_hash(H, 7, prev, b"x" * 5000).hex(),
                             "leaf": leaf(H, entry_hash(H, 7, prev, b"x" * 5000)).hex()})
        for size in range(1, 8):
            r = mth(H, leaves[:size])
            for i in range(size):
                p = path(H, i, leaves[:size])
                case = {"profile": "gm", "index": str(i), "size": str(size), "entry": hashes[i].hex(),
                        "proof": [x.hex() for x in p], "root": r.hex()}
                v["inclusion"].append({**case, "want": r.hex()})
                if p and i % 2 == 0:
                    bad = [x.hex() for x in p]
                    bad[-1] = ("%02x" % (int(bad[-1][:2], 16) ^ 1)) + bad[-1][2:]
                    v["inclusion"].append({**case, "proof": bad, "fail": "root_mismatch"})
                if size == 7 and i == 5:
                    v["inclusion"].append({**case, "proof": case["proof"] + [r.hex()], "fail": "proof_too_long"})
                    v["inclusion"].append({**case, "proof": case["proof"][:-1], "fail": "proof_too_short"})
                    v["inclusion"].append({**case, "index": "7", "fail": "index_out_of_range"})
                    # The same proof under the other profile's hash leads elsewhere.
                    v["inclusion"].append({**case, "profile": "blake3", "fail": "root_mismatch"})
        # FORMAT.md §2.6 (blake3): index 1 in size 3, with the published hashes.
        fmt = {"profile": "blake3", "index": "1", "size": "3",
               "entry": "751039283e8d8b02f70e63ec1ab925574409b1874ddb442801b87dc55eb05181",
               "proof": ["627f8625f8913e7298a6b4bb495282011fb5c4297243e8f9db2370462f8d2875",
                         "61e21c8945b77ee1899edd93bcda8d26f063cb92bf316a5ee841b03a9c5f9890"],
               "root": "e5a0b20d52a5f39b479eb2780e81d80838db6c40ac47ce421193d08ee5b0c83e",
               "source": "FORMAT.md §2.6"}
        v["inclusion"].append({**fmt, "want": fmt["root"]})
        v["inclusion"].append({**fmt, "profile": "gm", "fail": "root_mismatch"})
        v["inclusion"].append({**fmt, "profile": None, "want": fmt["root"],
                               "source": "FORMAT.md §2.6, no profile given: blake3"})

        # --- The whole check of an entry as the JSON API gives it (checkInclusion), gm.
        hs = [e for (_, _, e, _) in log]
        lv = [leaf(H, e) for e in hs]
        r7 = mth(H, lv)
        for seq, pv, e, b in log:
            p = [x.hex() for x in path(H, seq, lv)]
            entry = {"seq": seq, "prev_hash": pv.hex(), "hash": e.hex(), "body": b}
            case = {"profile": "gm", "size": "7", "root": r7.hex(), "seq": str(seq), "entry": entry, "proof": p}
            v["check"].append({**case, "want": {"entryHash": e.hex(), "leafHash": leaf(H, e).hex(), "root": r7.hex()}})
            if seq in (0, 4):
                alt = b.replace("条", "项")
                v["check"].append({**case, "entry": {**entry, "body": alt}, "fail": "entry_hash_differs"})
                forged = entry_hash(H, seq, pv, alt.encode()).hex()
                v["check"].append({**case, "entry": {**entry, "body": alt, "hash": forged}, "fail": "root_mismatch"})
                v["check"].append({**case, "profile": "blake3", "fail": "entry_hash_differs"})

    out = os.path.join(HERE, "vectors.json")
    # One case a line: small, and a diff shows which cases changed.
    parts = []
    for k, x in v.items():
        if isinstance(x, list):
            rows = ",\n".join("  " + json.dumps(c, ensure_ascii=False) for c in x)
            parts.append(f" {json.dumps(k)}: [\n{rows}\n ]")
        else:
            parts.append(f" {json.dumps(k)}: {json.dumps(x, ensure_ascii=False)}")
    with open(out, "w", encoding="utf-8") as f:
        f.write("{\n" + ",\n".join(parts) + "\n}\n")
    print(f"wrote {out}: " + ", ".join(f"{k} {len(x)}" for k, x in v.items() if isinstance(x, list)),
          file=sys.stderr)


if __name__ == "__main__":
    main()
