#!/usr/bin/env python3
"""Checks the two Python verifiers of docs/examples/ on both crypto profiles (blake3 and gm)
against independent vectors, not against their own output.

Run:    python3 tests/data/gm/check_verifiers.py        (from anywhere; a few seconds)
Needs:  python3 with blake3, cryptography and gmssl (pip install blake3 cryptography gmssl);
        the openssl command (OpenSSL 3, with SM2) and Python's hashlib with SM3
        (hashlib.new("sm3"), which OpenSSL 3 provides).
Prints one line per check and then "N passed, N failed"; exit code 0 only if none failed.

Where the expected values come from (none from the verifiers' code):
  - SM3: the GB/T 32905-2016 examples ("abc", "abcd" x 16), and OpenSSL's SM3 through hashlib,
    which builds every gm fixture here (entry hashes, Merkle roots, proofs, key ids);
  - SM2: signatures made by the openssl command (pkeyutl -rawin -digest sm3 -pkeyopt
    distid:1234567812345678), both the committed vectors of sm2-openssl-vectors.json (made by
    `python3 check_verifiers.py --make-vectors`, keys chosen so x begins with the bytes/digits
    that trip gmssl's "04" prefix handling) and fresh ones made on each run;
  - Ed25519: signatures made by the openssl command;
  - the Merkle tree and its proofs: the recursive definitions of RFC 9162 §2.1 below, not the
    verifiers' iterative code.
It builds small exports and certificates of both profiles, checks the verifiers accept them,
and that tampered copies are refused with the right exit code and reason.
"""

import base64
import hashlib
import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

sys.dont_write_bytecode = True  # it imports the verifiers: leave no __pycache__ in docs/examples

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE.parent.parent.parent / "docs" / "examples"
VERIFY_EXPORT = EXAMPLES / "verify_export.py"
VERIFY_CERTIFICATE = EXAMPLES / "verify_certificate.py"
VECTORS = HERE / "sm2-openssl-vectors.json"

GM_ID = "1234567812345678"
SM2_N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123  # GB/T 32918.5
ENTRY_TAG = b"rotaledger.entry.v1\x00"
STATEMENT_PREFIX = b"rotaledger certificate statement v1\x00"


def sm3(data):
    """OpenSSL's SM3: the second, independent implementation (the verifier uses gmssl's)."""
    return hashlib.new("sm3", data).digest()


def blake3_hash(data):
    from blake3 import blake3

    return blake3(data).digest()


# ---- results ----

RESULTS = {"passed": 0, "failed": 0}


def check(name, ok, detail=""):
    RESULTS["passed" if ok else "failed"] += 1
    print(f"{'ok  ' if ok else 'FAIL'} {name}" + ("" if ok else f"\n     {detail}"))


def safe(f, *args):
    """f(*args), or the exception's repr: a verifier that raises fails its check, not the run."""
    try:
        return f(*args)
    except Exception as e:  # noqa: BLE001
        return repr(e)


def run(*args, env=None, inp=None):
    p = subprocess.run(args, capture_output=True, env=env, input=inp)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def expect(name, args, code, out_re, env=None):
    """Runs a verifier; checks its exit code and that stdout+stderr match out_re."""
    rc, out, err = run(sys.executable, *map(str, args), env=env)
    text = out + err
    good = rc == code and re.search(out_re, text) is not None and "Traceback" not in text
    check(name, good, f"exit {rc} (want {code}), want /{out_re}/, got: {text.strip()[:600]}")
    return text


def load(path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# ---- openssl ----


def openssl(*args, inp=None):
    return subprocess.run(["openssl", *args], check=True, capture_output=True, input=inp).stdout


def der_to_rs(der):
    """An ECDSA-Sig-Value (SEQUENCE of INTEGER r, INTEGER s), as OpenSSL writes it, to r || s."""
    assert der[0] == 0x30
    i = 2 if der[1] < 0x80 else 2 + (der[1] & 0x7F)
    out = b""
    for _ in range(2):
        assert der[i] == 0x02
        n = der[i + 1]
        out += int.from_bytes(der[i + 2 : i + 2 + n], "big").to_bytes(32, "big")
        i += 2 + n
    assert i == len(der)
    return out


class OpensslKey:
    """A key made and used by the openssl command: SM2 or Ed25519."""

    def __init__(self, kind, tmp):
        self.kind = kind
        self.pem = Path(tempfile.mkstemp(suffix=".pem", dir=tmp)[1])
        if kind == "sm2":
            openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:SM2", "-out", self.pem)
            self.public = openssl("pkey", "-in", self.pem, "-pubout", "-outform", "DER")[-65:]
            assert self.public[0] == 4
        else:
            openssl("genpkey", "-algorithm", "ed25519", "-out", self.pem)
            self.public = openssl("pkey", "-in", self.pem, "-pubout", "-outform", "DER")[-32:]
        self.tmp = tmp

    def secret_scalar(self):
        text = openssl("pkey", "-in", self.pem, "-text", "-noout").decode()
        hexd = re.search(r"priv:\s*((?:[0-9a-f]{2}:?\s*)+)", text).group(1)
        return int(re.sub(r"[^0-9a-f]", "", hexd), 16)

    def sign(self, message, distid=GM_ID):
        msg = Path(tempfile.mkstemp(dir=self.tmp)[1])
        msg.write_bytes(message)
        if self.kind == "sm2":
            der = openssl("pkeyutl", "-sign", "-rawin", "-digest", "sm3", "-pkeyopt",
                          f"distid:{distid}", "-inkey", self.pem, "-in", msg)
            return der_to_rs(der)
        sig = openssl("pkeyutl", "-sign", "-rawin", "-inkey", self.pem, "-in", msg)
        assert len(sig) == 64
        return sig

    def type_byte(self):
        return b"\xff" if self.kind == "sm2" else b"\x01"

    def key_id(self, name):
        data = name.encode() + b"\n" + self.type_byte() + self.public
        return (sm3(data) if self.kind == "sm2" else hashlib.sha256(data).digest())[:4]

    def verifier_key(self, name):
        return f"{name}+{self.key_id(name).hex()}+{base64.b64encode(self.type_byte() + self.public).decode()}"


def make_vectors(tmp):
    """The committed SM2 vectors: OpenSSL keys whose x begins with the byte 0x04 (gmssl's
    CryptSM2 would strip it from x || y as if it were the point's prefix), with the hex digit 0
    and with the hex digit 4 (it would strip them from 04 || x || y), and one other."""
    want = {"x begins with byte 04": lambda x: x[0] == 0x04,
            "x begins with hex digit 0": lambda x: x.hex()[0] == "0" and x[0] != 0x04,
            "x begins with hex digit 4": lambda x: x.hex()[0] == "4",
            "x begins otherwise": lambda x: x.hex()[0] not in "04"}
    keys = {}
    for _ in range(5000):
        k = OpensslKey("sm2", tmp)
        for what, test in want.items():
            if what not in keys and test(k.public[1:33]):
                keys[what] = k
        if len(keys) == len(want):
            break
    messages = [
        b"",
        b"rotaledger/gm\n17\n" + base64.b64encode(bytes(range(32))) + b"\ntime 2026-12-05T08:00:00Z\n",
        STATEMENT_PREFIX + '{"teacher":"T1","summary":{"name":"王小明"}}'.encode(),
        bytes(range(256)) * 4,
    ]
    vectors = []
    for what, k in keys.items():
        for i, m in enumerate(messages):
            for distid in (GM_ID, "ALICE123@YAHOO.COM") if i == 1 else (GM_ID,):
                mf = Path(tmp) / "m"
                mf.write_bytes(m)
                der = openssl("pkeyutl", "-sign", "-rawin", "-digest", "sm3", "-pkeyopt",
                              f"distid:{distid}", "-inkey", k.pem, "-in", mf)
                vectors.append({"key": what, "public_key": k.public.hex(), "message": m.hex(),
                                "distid": distid, "signature_der": der.hex(),
                                "valid_with_id_1234567812345678": distid == GM_ID})
    doc = {
        "what": "SM2 signatures (SM3 digest) made by the openssl command, for "
                "tests/data/gm/check_verifiers.py; public keys are SEC1 uncompressed 04||x||y",
        "made_by": [
            "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:SM2 -out K",
            "openssl pkey -in K -pubout -outform DER  (its last 65 bytes)",
            "openssl pkeyutl -sign -rawin -digest sm3 -pkeyopt distid:ID -inkey K -in MSG",
        ],
        "openssl": openssl("version").decode().strip(),
        "vectors": vectors,
    }
    VECTORS.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {len(vectors)} vectors to {VECTORS}")


# ---- RFC 9162 §2.1, recursively (the verifiers keep a stack; this is the definition) ----


def split(n):
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(H, leaves):
    n = len(leaves)
    if n == 0:
        return H(b"")
    if n == 1:
        return H(b"\x00" + leaves[0])
    k = split(n)
    return H(b"\x01" + mth(H, leaves[:k]) + mth(H, leaves[k:]))


def inclusion_path(H, m, leaves):
    if len(leaves) == 1:
        return []
    k = split(len(leaves))
    if m < k:
        return inclusion_path(H, m, leaves[:k]) + [mth(H, leaves[k:])]
    return inclusion_path(H, m - k, leaves[k:]) + [mth(H, leaves[:k])]


def subproof(H, m, leaves, b):
    n = len(leaves)
    if m == n:
        return [] if b else [mth(H, leaves)]
    k = split(n)
    if m <= k:
        return subproof(H, m, leaves[:k], b) + [mth(H, leaves[k:])]
    return subproof(H, m - k, leaves[k:], False) + [mth(H, leaves[:k])]


def consistency_proof(H, m, leaves):
    return [] if m in (0, len(leaves)) else subproof(H, m, leaves, True)


# ---- fixtures ----


def entry_hash(H, seq, prev, body):
    return H(ENTRY_TAG + seq.to_bytes(8, "big") + prev + len(body).to_bytes(8, "big") + body)


def compact(obj):
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def make_log(H, n):
    """n entries: teacher T1's chain (registered, dispatched D1, returned D1, evaluated D1) at
    seq 1, 3, 6, 8, the others about teacher T2. Returns [(seq, prev, hash, body bytes)]."""
    t1 = {1: "teacher_registered", 3: "teacher_dispatched", 6: "teacher_returned", 8: "teacher_evaluated"}
    log, prev, last = [], bytes(32), {"T1": None, "T2": None}
    for seq in range(n):
        teacher = "T1" if seq in t1 else "T2"
        kind = t1.get(seq, "teacher_registered" if last["T2"] is None else "teacher_promoted")
        payload = {"type": kind, "teacher": teacher,
                   "teacher_prev": None if last[teacher] is None
                   else {"seq": last[teacher][0], "hash": last[teacher][1].hex()}}
        if kind != "teacher_registered" and teacher == "T1":
            payload["dispatch"] = "D1"
        if kind == "teacher_returned":
            payload["reason"] = "期满返回原校"
        body = compact({"seq": seq, "recorded_at": f"2026-11-26T09:{seq % 60:02d}:00.000000Z",
                        "actor": "hr-office", "request_id": f"req-{seq:04d}",
                        "payload": payload}).encode()
        h = entry_hash(H, seq, prev, body)
        log.append((seq, prev, h, body))
        last[teacher] = (seq, h)
        prev = h
    return log


def export_text(H, log, crypto):
    leaves = [h for _, _, h, _ in log]
    header = {"format": "rotaledger-export", "version": 1}
    if crypto is not None:
        header["crypto"] = crypto
    header.update({"size": len(log), "head_hash": (leaves[-1] if log else bytes(32)).hex(),
                   "root": mth(H, leaves).hex()})
    lines = [compact(header)] + [
        compact({"seq": s, "prev_hash": p.hex(), "hash": h.hex(), "body": b.decode()})
        for s, p, h, b in log
    ]
    return "\n".join(lines) + "\n"


def checkpoint(key, name, origin, size, root, sign=None):
    body = f"{origin}\n{size}\n{base64.b64encode(root).decode()}\ntime 2026-12-05T08:00:00Z\n"
    sig = (sign or key.sign)(body.encode())
    return body + f"\n\u2014 {name} {base64.b64encode(key.key_id(name) + sig).decode()}\n"


def certificate(H, key, name, hash_name, log, size):
    origin = name
    leaves = [h for _, _, h, _ in log[:size]]
    root = mth(H, leaves)
    mine = [e for e in log[:size] if json.loads(e[3])["payload"]["teacher"] == "T1"]
    statement = compact({
        "format": "rotaledger-certificate-statement", "version": 1, "origin": origin,
        "size": size, "root": root.hex(), "teacher": "T1", "as_of": "2026-12-05",
        "entries": len(mine), "head": {"seq": mine[-1][0], "hash": mine[-1][2].hex()},
        "schools": {"S00127": "闵行区莘庄第一百二十七初级中学"},
        "summary": {"dispatches": [{"dispatch": "D1", "kind": "rotation", "from_school": "S00001",
                                    "to_school": "S00127", "start_date": "2023-09-01",
                                    "min_end": "2026-09-01", "end": None, "status": "active"}],
                    "credits": {"rotation": {"met": True}}},
    })
    signature = key.key_id(name) + key.sign(STATEMENT_PREFIX + statement.encode())
    cert = {
        "format": "rotaledger-certificate", "version": 1, "hash": hash_name,
        "checkpoint": checkpoint(key, name, origin, size, root),
        "statement": statement, "signature": base64.b64encode(signature).decode(),
        "entries": [{"seq": s, "prev_hash": p.hex(), "hash": h.hex(), "body": b.decode(),
                     "proof": [x.hex() for x in inclusion_path(H, s, leaves)]}
                    for s, p, h, b in mine],
    }
    return cert, statement, root


def consistency_file(H, hash_name, log, old, new):
    leaves = [h for _, _, h, _ in log[:new]]
    return json.dumps({"format": "rotaledger-proof", "version": 1, "kind": "consistency",
                       "hash": hash_name, "old_size": old, "new_size": new,
                       "proof": [x.hex() for x in consistency_proof(H, old, leaves)]}, indent=2)


def write(tmp, name, text):
    p = Path(tmp) / name
    p.write_text(text, encoding="utf-8")
    return p


def hide(tmp, *modules):
    """An environment in which importing these modules fails, as when they are not installed."""
    d = Path(tempfile.mkdtemp(dir=tmp))
    for m in modules:
        (d / m).mkdir()
        (d / m / "__init__.py").write_text(f"raise ImportError('{m} hidden by the test')\n")
    return dict(os.environ, PYTHONPATH=str(d))


# ---- the checks ----


def check_primitives(tmp):
    print("== SM3 and SM2 primitives")
    vx = load(VERIFY_EXPORT)
    vc = load(VERIFY_CERTIFICATE)
    gb = {b"abc": "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0",
          b"abcd" * 16: "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"}
    sm2p = vc.sm2_profile()
    for m, want in gb.items():
        check(f"GB/T 32905 SM3({m[:8].decode()}{'...' if len(m) > 8 else ''}): hashlib (OpenSSL)",
              sm3(m).hex() == want)
        check(f"GB/T 32905 SM3({m[:8].decode()}{'...' if len(m) > 8 else ''}): verify_export's H",
              vx.sm3_hash()(m).hex() == want)
        check(f"GB/T 32905 SM3({m[:8].decode()}{'...' if len(m) > 8 else ''}): verify_certificate's H",
              sm2p.H(m).hex() == want)
    bad = [n for n in range(0, 300) if vx.sm3_hash()(bytes(range(n % 256)) * (1 + n // 256))
           != sm3(bytes(range(n % 256)) * (1 + n // 256))]
    check("verify_export's SM3 = OpenSSL's SM3 for 300 messages of 0..255 bytes", not bad, bad)

    doc = json.loads(VECTORS.read_text())
    vectors = doc["vectors"]
    for v in vectors:
        pub, msg = bytes.fromhex(v["public_key"]), bytes.fromhex(v["message"])
        sig = der_to_rs(bytes.fromhex(v["signature_der"]))
        want = v["valid_with_id_1234567812345678"]
        what = f"{v['key']}, {len(msg)}-byte message, distid {v['distid']}"
        check(f"OpenSSL vector ({what}): {'verifies' if want else 'refused'}",
              safe(sm2p.verify_signature, pub, sig, msg) is want)
        if want:
            check(f"OpenSSL vector ({what}), message changed: refused",
                  safe(sm2p.verify_signature, pub, sig, msg + b"x") is False)
            flipped = sig[:40] + bytes([sig[40] ^ 1]) + sig[41:]
            check(f"OpenSSL vector ({what}), s changed: refused",
                  safe(sm2p.verify_signature, pub, flipped, msg) is False)
    # gmssl itself: which user ID does verify_with_sm3 use?
    from gmssl import sm2

    v = next(v for v in vectors if v["distid"] != GM_ID and v["key"] == "x begins otherwise")
    w = next(w for w in vectors if w["distid"] == GM_ID and w["message"] == v["message"]
             and w["key"] == v["key"])
    g = sm2.CryptSM2(private_key=None, public_key=v["public_key"][2:])
    check("gmssl verify_with_sm3 uses the ID 1234567812345678 (OpenSSL distid:1234567812345678 verifies)",
          g.verify_with_sm3(der_to_rs(bytes.fromhex(w["signature_der"])).hex(),
                            bytes.fromhex(w["message"])) is True)
    check("gmssl verify_with_sm3 uses the ID 1234567812345678 (OpenSSL distid:ALICE123@YAHOO.COM does not)",
          g.verify_with_sm3(der_to_rs(bytes.fromhex(v["signature_der"])).hex(),
                            bytes.fromhex(v["message"])) is False)

    k = OpensslKey("sm2", tmp)
    for msg in (b"fresh checkpoint body\n", STATEMENT_PREFIX + b'{"x":1}'):
        sig = k.sign(msg)
        check(f"fresh OpenSSL SM2 signature ({len(msg)} bytes): verifies",
              safe(sm2p.verify_signature, k.public, sig, msg) is True)
        check(f"fresh OpenSSL SM2 signature ({len(msg)} bytes), other key: refused",
              safe(sm2p.verify_signature, OpensslKey("sm2", tmp).public, sig, msg) is False)
    msg = b"m"
    sig = k.sign(msg)
    r, s = sig[:32], sig[32:]
    n = SM2_N.to_bytes(32, "big")
    for what, bad_sig in [("r = 0", bytes(32) + s), ("s = 0", r + bytes(32)), ("r = n", n + s),
                          ("s = n", r + n), ("all ff", b"\xff" * 64)]:
        got = safe(sm2p.verify_signature, k.public, bad_sig, msg)
        check(f"SM2 signature with {what}: refused, no exception", got is False, got)
    # s*G + t*P = O (t = r + s): made with the secret scalar d, s = -r d / (1 + d) mod n.
    d, r0 = k.secret_scalar(), 1
    s0 = (-r0 * d * pow(1 + d, -1, SM2_N)) % SM2_N
    got = safe(sm2p.verify_signature, k.public, r0.to_bytes(32, "big") + s0.to_bytes(32, "big"), msg)
    check("SM2 signature whose point is at infinity: refused, no exception", got is False, got)


def check_exports(tmp):
    print("== verify_export.py")
    ex = EXAMPLES / "example-export.jsonl"
    expect('the blake3 example export ("crypto":"blake3"): verified', [VERIFY_EXPORT, ex], 0, r"^verified: .*3 entries")
    lines = ex.read_text().split("\n")
    with_b3 = lines[0]
    check('the example export names its profile', '"crypto":"blake3",' in with_b3, with_b3)
    older = with_b3.replace('"crypto":"blake3",', "")
    p = write(tmp, "b3-older.jsonl", "\n".join([older] + lines[1:]))
    expect("the example export without a crypto member (an older export): verified", [VERIFY_EXPORT, p], 0, r"^verified: .*3 entries")
    p = write(tmp, "b3-as-gm.jsonl", "\n".join([with_b3.replace('"blake3"', '"gm"')] + lines[1:]))
    expect('the blake3 example export claiming "crypto":"gm": bad entry 0', [VERIFY_EXPORT, p], 1,
           r"^BAD: .*first bad entry 0: hash mismatch")

    for n in (0, 1, 2, 7, 12):
        log = make_log(sm3, n)
        p = write(tmp, f"gm{n}.jsonl", export_text(sm3, log, "gm"))
        root = mth(sm3, [h for _, _, h, _ in log]).hex()
        head = (log[-1][2] if log else bytes(32)).hex()
        expect(f"gm export of {n} entries: verified with the OpenSSL-SM3 head and root",
               [VERIFY_EXPORT, p], 0, rf"^verified: .*: {n} entries, head {head}, root {root}$")
    check("the gm root of 0 entries is SM3('')",
          mth(sm3, []).hex() == "1ab21d8355cfa17f8e61194831e81a8f22bec8c728fefb747ed035eb5082aa2b")
    log = make_log(sm3, 12)
    good = export_text(sm3, log, "gm")
    root = mth(sm3, [h for _, _, h, _ in log]).hex()
    p = write(tmp, "gm.jsonl", good)
    expect("gm export, --root given and equal: verified", [VERIFY_EXPORT, p, "--root", root], 0, r"^verified")
    expect("gm export, --root given and other: bad", [VERIFY_EXPORT, p, "--root", "00" * 32], 1, r"^BAD: .*root")

    tampered = good.replace("req-0005", "req-0006")
    expect("gm export, entry 5's body changed: bad entry 5, hash mismatch",
           [VERIFY_EXPORT, write(tmp, "t1.jsonl", tampered)], 1, r"first bad entry 5: hash mismatch")
    hdr, rest = good.split("\n", 1)
    h = json.loads(hdr)
    h2 = dict(h, root="ab" * 32)
    expect("gm export, header root changed: bad, Merkle root mismatch",
           [VERIFY_EXPORT, write(tmp, "t2.jsonl", compact(h2) + "\n" + rest)], 1, r"first bad entry 11: Merkle root mismatch")
    no_crypto = {k: v for k, v in h.items() if k != "crypto"}
    expect("gm export without the crypto member (read as blake3): bad entry 0, hash mismatch",
           [VERIFY_EXPORT, write(tmp, "t3.jsonl", compact(no_crypto) + "\n" + rest)], 1, r"first bad entry 0: hash mismatch")
    expect('gm export with "crypto":"blake3": bad entry 0, hash mismatch',
           [VERIFY_EXPORT, write(tmp, "t4.jsonl", compact(dict(h, crypto="blake3")) + "\n" + rest)], 1,
           r"first bad entry 0: hash mismatch")
    # The blake3 hashes of the same log, under "gm": SM3 finds entry 0 wrong.
    b3 = export_text(blake3_hash, make_log(blake3_hash, 12), "blake3")
    expect("blake3 export of the same entries: verified", [VERIFY_EXPORT, write(tmp, "b3b.jsonl", b3)], 0, r"^verified")
    for bad in ('"sm3"', '"GM"', '"gm "', '""', "null", "1", '["gm"]'):
        text = good.replace('"crypto":"gm"', f'"crypto":{bad}', 1)
        expect(f"header crypto {bad}: not an export (exit 2)",
               [VERIFY_EXPORT, write(tmp, "t5.jsonl", text)], 2,
               r"not a rotaledger export: (crypto .*knows \"blake3\" and \"gm\"|header member of the wrong type)")
    text = good.replace('"crypto":"gm"', '"crypto":"gm","extra":1', 1)
    expect("header with crypto and an unknown member: not an export (exit 2)",
           [VERIFY_EXPORT, write(tmp, "t6.jsonl", text)], 2, r"does not have exactly")
    text = good.replace('"crypto":"gm"', '"crypto":"gm","crypto":"gm"', 1)
    expect("header with crypto twice: not an export (exit 2)",
           [VERIFY_EXPORT, write(tmp, "t7.jsonl", text)], 2, r"duplicate member")

    no_gmssl = hide(tmp, "gmssl")
    expect("gm export without gmssl installed: exit 2, says pip install gmssl",
           [VERIFY_EXPORT, p], 2, r"error: .*pip install gmssl", env=no_gmssl)
    expect("blake3 export without gmssl installed: verified", [VERIFY_EXPORT, ex], 0, r"^verified", env=no_gmssl)
    no_blake3 = hide(tmp, "blake3")
    expect("gm export without blake3 installed: verified", [VERIFY_EXPORT, p], 0, r"^verified", env=no_blake3)
    expect("blake3 export without blake3 installed: exit 2, says pip install blake3",
           [VERIFY_EXPORT, ex], 2, r"error: .*pip install blake3", env=no_blake3)


def flip_b64(text, at):
    raw = bytearray(base64.b64decode(text))
    raw[at] ^= 1
    return base64.b64encode(bytes(raw)).decode()


def with_checkpoint_sig(c, f):
    """c with f applied to the base64 of its checkpoint's signature line."""
    body, sigline = c["checkpoint"].rsplit("\n\n", 1)
    prefix, b64 = sigline.rstrip("\n").rsplit(" ", 1)
    c["checkpoint"] = body + "\n\n" + prefix + " " + f(b64) + "\n"


def check_certificate_profile(tmp, profile, key, name, H, hash_name):
    """A certificate of this profile verifies, with a later checkpoint too, and each tampered
    copy is refused with its reason. Returns (certificate file, key file)."""
    VC = VERIFY_CERTIFICATE
    keyfile = write(tmp, f"{hash_name}.pub", key.verifier_key(name) + "\n")
    log = make_log(H, 16)
    cert, statement, root = certificate(H, key, name, hash_name, log, 10)
    good = json.dumps(cert, indent=2, ensure_ascii=False) + "\n"
    cf = write(tmp, f"{hash_name}-cert.json", good)
    out = expect(f"{profile} certificate: verified", [VC, cf, "--key", keyfile], 0,
                 r"^verified: certificate of teacher T1 as of 2026-12-05")
    check(f"{profile} certificate: its certificate hash is {hash_name} of the statement (computed here)",
          f"certificate hash {H(statement.encode()).hex()}" in out, out)
    expect(f"{profile} certificate, the key given as the line itself: verified",
           [VC, cf, "--key", key.verifier_key(name)], 0, r"^verified")

    newer = write(tmp, "newer.cp", checkpoint(key, name, name, 16, mth(H, [h for _, _, h, _ in log])))
    proof_text = consistency_file(H, hash_name, log, 10, 16)
    proof = write(tmp, "proof.json", proof_text)
    expect(f"{profile} certificate with a later checkpoint and its consistency proof: verified",
           [VC, cf, "--key", keyfile, "--checkpoint", newer, "--consistency", proof], 0,
           r"consistency verified")
    other_hash = "blake3" if hash_name == "sm3" else "sm3"
    bad = write(tmp, "proof-x.json", proof_text.replace(f'"{hash_name}"', f'"{other_hash}"'))
    expect(f'{profile} certificate, proof file with "hash":"{other_hash}": REFUSED (consistency)',
           [VC, cf, "--key", keyfile, "--checkpoint", newer, "--consistency", bad], 1,
           r"REFUSED \(consistency\): not a consistency proof file")
    pf = json.loads(proof_text)
    pf["proof"][0] = "00" * 32
    bad = write(tmp, "proof-t.json", json.dumps(pf))
    expect(f"{profile} certificate, a consistency proof hash changed: REFUSED (consistency)",
           [VC, cf, "--key", keyfile, "--checkpoint", newer, "--consistency", bad], 1,
           r"REFUSED \(consistency\).*fork")

    def variant(label, change, reason):
        c = json.loads(good)
        change(c)
        f = write(tmp, "variant.json", json.dumps(c, indent=2, ensure_ascii=False))
        expect(f"{profile} certificate, {label}: REFUSED ({reason})", [VC, f, "--key", keyfile], 1,
               rf"^REFUSED \({re.escape(reason)}\)")

    kid = key.key_id(name)
    variant(f'"hash":"{other_hash}"', lambda c: c.update(hash=other_hash), "malformed")
    variant("the checkpoint signature's r changed",
            lambda c: with_checkpoint_sig(c, lambda b: flip_b64(b, 10)), "checkpoint-signature")
    variant("the checkpoint signature's s changed",
            lambda c: with_checkpoint_sig(c, lambda b: flip_b64(b, 60)), "checkpoint-signature")
    variant("the checkpoint's size changed",
            lambda c: c.update(checkpoint=c["checkpoint"].replace("\n10\n", "\n11\n", 1)),
            "checkpoint-signature")
    variant("another checkpoint (of 16 entries), signed",
            lambda c: c.update(checkpoint=newer.read_text()), "other-checkpoint")
    variant("the statement signature changed",
            lambda c: c.update(signature=flip_b64(c["signature"], 40)), "statement-signature")
    variant("the statement signed without its prefix",
            lambda c: c.update(signature=base64.b64encode(kid + key.sign(c["statement"].encode())).decode()),
            "statement-signature")
    variant("the statement changed",
            lambda c: c.update(statement=c["statement"].replace('"T1"', '"T2"', 1)), "statement-signature")
    variant("an entry's body changed",
            lambda c: c["entries"][1].update(body=c["entries"][1]["body"].replace("req-0003", "req-0004")),
            "entry-hash")
    variant("an inclusion proof hash changed",
            lambda c: c["entries"][0]["proof"].__setitem__(0, "ab" * 32), "inclusion")
    variant("an entry removed", lambda c: c["entries"].pop(1), "chain")
    variant("the last entry removed", lambda c: c["entries"].pop(), "head")
    other = OpensslKey(key.kind, tmp)
    expect(f"{profile} certificate, another key of the same name: REFUSED (checkpoint-signature)",
           [VC, cf, "--key", other.verifier_key(name)], 1,
           r"REFUSED \(checkpoint-signature\): no signature by key")
    n_, _, b64 = key.verifier_key(name).split("+", 2)
    expect(f"{profile} key with a wrong key id: could not run (exit 2)",
           [VC, cf, "--key", f"{n_}+00000000+{b64}"], 2, r"key id does not match")
    return cf, keyfile, variant, root


def check_certificates(tmp):
    print("== verify_certificate.py")
    VC = VERIFY_CERTIFICATE

    # gm: an SM2 key (openssl), SM3 hashes (hashlib).
    name = "rotaledger/minhang/gm"
    key = OpensslKey("sm2", tmp)
    cf, keyfile, variant, root = check_certificate_profile(tmp, "gm (SM2 key)", key, name, sm3, "sm3")
    d = key.secret_scalar()
    for label, sign in [
        ("the checkpoint signed with the distid ALICE123@YAHOO.COM",
         lambda m: key.sign(m, distid="ALICE123@YAHOO.COM")),
        ("a checkpoint signature with s = 0", lambda m: key.sign(m)[:32] + bytes(32)),
        ("a checkpoint signature whose point is at infinity",
         lambda m: (1).to_bytes(32, "big") + ((-d * pow(1 + d, -1, SM2_N)) % SM2_N).to_bytes(32, "big")),
    ]:
        variant(label, lambda c, sign=sign: c.update(checkpoint=checkpoint(key, name, name, 10, root, sign=sign)),
                "checkpoint-signature")
    variant("the statement signed with the distid ALICE123@YAHOO.COM",
            lambda c: c.update(signature=base64.b64encode(key.key_id(name) + key.sign(
                STATEMENT_PREFIX + c["statement"].encode(), distid="ALICE123@YAHOO.COM")).decode()),
            "statement-signature")
    b64 = key.verifier_key(name).split("+", 2)[2]
    sha_kid = hashlib.sha256(name.encode() + b"\n\xff" + key.public).digest()[:4].hex()
    expect("SM2 key with a SHA-256 key id: could not run (exit 2)",
           [VC, cf, "--key", f"{name}+{sha_kid}+{b64}"], 2, r"key id does not match")
    for label, raw, want in [
        ("not on the curve", b"\xff" + key.public[:-1] + bytes([key.public[-1] ^ 1]), r"not an SM2 public key"),
        ("compressed (33 bytes)", b"\xff" + bytes([2 + key.public[-1] % 2]) + key.public[1:33], r"65-byte SM2 key"),
        ("of type 0x02", b"\x02" + key.public, r"0xff and a 65-byte SM2 key"),
    ]:
        kid = sm3(name.encode() + b"\n" + raw)[:4].hex()
        expect(f"SM2 key {label}: could not run (exit 2)",
               [VC, cf, "--key", f"{name}+{kid}+{base64.b64encode(raw).decode()}"], 2, want)
    expect("gm certificate without gmssl installed: exit 2, says pip install gmssl",
           [VC, cf, "--key", keyfile], 2, r"error: .*pip install gmssl", env=hide(tmp, "gmssl"))
    expect("gm certificate without blake3 and cryptography installed: verified",
           [VC, cf, "--key", keyfile], 0, r"^verified", env=hide(tmp, "blake3", "cryptography"))

    # blake3: an Ed25519 key (openssl), blake3 hashes.
    ed = OpensslKey("ed25519", tmp)
    bname = "rotaledger.example/district-7"
    bf, edkey, _, _ = check_certificate_profile(tmp, "blake3 (Ed25519 key)", ed, bname, blake3_hash, "blake3")
    expect("blake3 certificate without gmssl installed: verified",
           [VC, bf, "--key", edkey], 0, r"^verified", env=hide(tmp, "gmssl"))
    expect("blake3 certificate without cryptography installed: exit 2, says pip install blake3 cryptography",
           [VC, bf, "--key", edkey], 2, r"error: .*pip install blake3 cryptography", env=hide(tmp, "cryptography"))

    # The key's profile and the certificate's hash must agree.
    expect("gm certificate checked with an Ed25519 key: REFUSED (malformed)",
           [VC, cf, "--key", edkey], 1, r"^REFUSED \(malformed\): hash is 'sm3'")
    expect("blake3 certificate checked with an SM2 key: REFUSED (malformed)",
           [VC, bf, "--key", keyfile], 1, r"^REFUSED \(malformed\): hash is 'blake3'")


def main():
    with tempfile.TemporaryDirectory() as tmp:
        if sys.argv[1:] == ["--make-vectors"]:
            make_vectors(tmp)
            return 0
        try:
            sm3(b"")
        except ValueError:
            sys.exit("error: this Python's hashlib has no SM3 (it needs OpenSSL 3 with SM3)")
        check_primitives(tmp)
        check_exports(tmp)
        check_certificates(tmp)
    print(f"{RESULTS['passed']} passed, {RESULTS['failed']} failed")
    return 1 if RESULTS["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
