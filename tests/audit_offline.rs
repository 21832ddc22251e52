//! `rotaledger audit ...` as an owner and an auditor run it: checkpoints, proofs and exports
//! made from real stores, verified with no server; forged, tampered, forked and rolled-back
//! inputs are found (exit 1); unreadable inputs cannot be audited (exit 2).

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;
use rotaledger::ledger::KEY_FILE;
use rotaledger::log::Store;
use rotaledger::log::entry::entry_hash;
use rotaledger::log::export::{Header, Line};
use rotaledger::merkle::{CheckpointKey, MemoryNodes, SignedCheckpoint, root};

use crate::util::{append, fill, open_log};

/// The key name (and so the default origin) of the test logs.
const ORIGIN: &str = "rotaledger.test/district-7";

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(crate::util::bin())
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs and asserts the exit code, returning stdout and stderr together.
fn expect(code: i32, args: &[&str]) -> String {
    let (got, out, err) = run(args);
    assert_eq!(
        got,
        code,
        "rotaledger {}\nstdout:\n{out}\nstderr:\n{err}",
        args.join(" ")
    );
    out + &err
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A temporary directory with a store of `n` entries and its checkpoint key.
struct Fixture {
    dir: tempfile::TempDir,
    data: PathBuf,
    /// The verifier key file an auditor is handed.
    key: PathBuf,
}

impl Fixture {
    fn new(n: u64) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        fill(&data, n);
        CheckpointKey::generate_for(crate::util::profile(), ORIGIN)
            .unwrap()
            .save(&data.join(KEY_FILE))
            .unwrap();
        let key = dir.path().join("ledger.pub");
        let out = expect(0, &["audit", "public-key", "--data", s(&data)]);
        std::fs::write(&key, out).unwrap();
        Fixture { dir, data, key }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `audit checkpoint` at `size`, written to `name`.
    fn checkpoint(&self, size: u64, name: &str) -> PathBuf {
        let out = self.path(name);
        let size = size.to_string();
        expect(
            0,
            &[
                "audit",
                "checkpoint",
                "--data",
                s(&self.data),
                "--size",
                &size,
                "--out",
                s(&out),
            ],
        );
        out
    }

    fn prove_inclusion(&self, seq: u64, size: u64, name: &str) -> PathBuf {
        let out = self.path(name);
        let (seq, size) = (seq.to_string(), size.to_string());
        expect(
            0,
            &[
                "audit",
                "prove",
                "inclusion",
                "--data",
                s(&self.data),
                "--seq",
                &seq,
                "--size",
                &size,
                "--out",
                s(&out),
            ],
        );
        out
    }

    fn prove_consistency(&self, old: u64, new: u64, name: &str) -> PathBuf {
        let out = self.path(name);
        let (old, new) = (old.to_string(), new.to_string());
        expect(
            0,
            &[
                "audit",
                "prove",
                "consistency",
                "--data",
                s(&self.data),
                "--old",
                &old,
                "--new",
                &new,
                "--out",
                s(&out),
            ],
        );
        out
    }

    fn export(&self, name: &str) -> PathBuf {
        let out = self.path(name);
        expect(0, &["export", "--data", s(&self.data), "--out", s(&out)]);
        out
    }

    fn entry_hash(&self, seq: u64) -> String {
        let store = Store::open(&self.data).unwrap();
        hex::encode(store.entry(seq).unwrap().unwrap().hash)
    }

    fn write(&self, name: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, content).unwrap();
        p
    }
}

fn inclusion(proof: &Path, cp: &Path, key: &Path, extra: &[&str]) -> (i32, String, String) {
    let mut args = vec![
        "audit",
        "inclusion",
        "--proof",
        s(proof),
        "--checkpoint",
        s(cp),
        "--key",
        s(key),
    ];
    args.extend_from_slice(extra);
    run(&args)
}

fn consistency(old: &Path, new: &Path, proof: &Path, key: &Path) -> (i32, String, String) {
    run(&[
        "audit",
        "consistency",
        "--old",
        s(old),
        "--new",
        s(new),
        "--proof",
        s(proof),
        "--key",
        s(key),
    ])
}

fn audit_export(export: &Path, cp: &Path, key: &Path) -> (i32, String, String) {
    run(&[
        "audit",
        "export",
        "--export",
        s(export),
        "--checkpoint",
        s(cp),
        "--key",
        s(key),
    ])
}

/// Asserts exit 1 and that stdout reports `evidence`.
fn assert_problem(name: &str, (code, out, err): (i32, String, String), evidence: &str) {
    assert_eq!(
        code, 1,
        "{name}: expected exit 1\nstdout:\n{out}\nstderr:\n{err}"
    );
    assert!(out.contains("BAD: "), "{name}: {out}");
    assert!(
        out.contains(evidence),
        "{name}: expected {evidence:?} in\n{out}"
    );
}

/// Asserts exit 2 and that stderr says `why`.
fn assert_cannot_run(name: &str, (code, out, err): (i32, String, String), why: &str) {
    assert_eq!(
        code, 2,
        "{name}: expected exit 2\nstdout:\n{out}\nstderr:\n{err}"
    );
    assert!(err.contains(why), "{name}: expected {why:?} in\n{err}");
}

fn assert_verified(name: &str, (code, out, err): (i32, String, String), what: &str) {
    assert_eq!(
        code, 0,
        "{name}: expected exit 0\nstdout:\n{out}\nstderr:\n{err}"
    );
    assert!(out.contains(what), "{name}: expected {what:?} in\n{out}");
}

/// The proof file with one byte of hash `which` of its `proof` list flipped.
fn flip_proof_byte(path: &Path, which: usize) -> String {
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let h = v["proof"][which].as_str().unwrap();
    let mut bytes = hex::decode(h).unwrap();
    bytes[7] ^= 0x01;
    v["proof"][which] = serde_json::Value::String(hex::encode(bytes));
    serde_json::to_string_pretty(&v).unwrap()
}

#[test]
fn every_command_verifies_good_input() {
    let f = Fixture::new(300);
    let key = std::fs::read_to_string(&f.key).unwrap();
    assert!(key.starts_with(&format!("{ORIGIN}+")), "{key}");

    let cp200 = f.checkpoint(200, "cp200");
    let cp300 = f.checkpoint(300, "cp300");
    let text = std::fs::read_to_string(&cp300).unwrap();
    // The key's name as the origin; a gm ledger's says its profile (FORMAT.md §3.1).
    let origin = crate::util::profile().checkpoint_origin(ORIGIN);
    assert!(text.starts_with(&format!("{origin}\n300\n")), "{text}");

    // Inclusion, with the entry given three ways.
    let proof = f.prove_inclusion(150, 300, "inc-150-300.json");
    let hash = f.entry_hash(150);
    let export = f.export("log.jsonl");
    let expected = format!("verified: entry 150 with hash {hash} is in the log");
    assert_verified(
        "by hash",
        inclusion(&proof, &cp300, &f.key, &["--entry-hash", &hash]),
        &expected,
    );
    assert_verified(
        "by export",
        inclusion(&proof, &cp300, &f.key, &["--export", s(&export)]),
        &expected,
    );
    let from_file = inclusion(&proof, &cp300, &f.key, &[]);
    assert!(
        from_file.1.contains("taken from the proof file"),
        "{}",
        from_file.1
    );
    assert_verified("from the file", from_file, &expected);
    // The key given as the line itself rather than a file; the first and last entries.
    for (seq, size, cp) in [(0, 200, &cp200), (199, 200, &cp200), (299, 300, &cp300)] {
        let proof = f.prove_inclusion(seq, size, "inc.json");
        let (code, out, err) = run(&[
            "audit",
            "inclusion",
            "--proof",
            s(&proof),
            "--checkpoint",
            s(cp),
            "--key",
            key.trim(),
        ]);
        assert_eq!(code, 0, "{seq}/{size}: {out}{err}");
    }

    // Consistency, including the empty proofs of equal sizes and of the empty log.
    let con = f.prove_consistency(200, 300, "con-200-300.json");
    assert_verified(
        "consistency",
        consistency(&cp200, &cp300, &con, &f.key),
        "of 300 entries (root ",
    );
    let same = f.prove_consistency(300, 300, "con-300-300.json");
    assert_verified(
        "same size",
        consistency(&cp300, &cp300, &same, &f.key),
        "extends",
    );
    let cp0 = f.checkpoint(0, "cp0");
    let from0 = f.prove_consistency(0, 300, "con-0-300.json");
    assert_verified(
        "from empty",
        consistency(&cp0, &cp300, &from0, &f.key),
        "extends",
    );

    // The export at its own size and at an earlier checkpoint (the export is longer).
    for cp in [&cp300, &cp200] {
        let size = SignedCheckpoint::parse(&std::fs::read_to_string(cp).unwrap())
            .unwrap()
            .checkpoint
            .size;
        assert_verified(
            "export",
            audit_export(&export, cp, &f.key),
            &format!("verified: the export's first {size} entries have the checkpoint's root"),
        );
    }
    assert_verified(
        "export at 0",
        audit_export(&export, &cp0, &f.key),
        "first 0 entries",
    );

    // A checkpoint to standard output with the default size, and a chosen origin.
    let out = expect(
        0,
        &[
            "audit",
            "checkpoint",
            "--data",
            s(&f.data),
            "--origin",
            "other/log",
        ],
    );
    let other = crate::util::profile().checkpoint_origin("other/log");
    assert!(out.starts_with(&format!("{other}\n300\n")), "{out}");
}

#[test]
fn a_flipped_byte_in_a_proof_is_found() {
    let f = Fixture::new(100);
    let cp60 = f.checkpoint(60, "cp60");
    let cp100 = f.checkpoint(100, "cp100");
    let inc = f.prove_inclusion(37, 100, "inc.json");
    let hash = f.entry_hash(37);
    let con = f.prove_consistency(60, 100, "con.json");
    for which in [0, 3] {
        let bad = f.write("bad-inc.json", flip_proof_byte(&inc, which));
        assert_problem(
            "flipped inclusion proof",
            inclusion(&bad, &cp100, &f.key, &["--entry-hash", &hash]),
            "BAD: inclusion of entry 37: root mismatch: proof leads to",
        );
        let bad = f.write("bad-con.json", flip_proof_byte(&con, which));
        assert_problem(
            "flipped consistency proof",
            consistency(&cp60, &cp100, &bad, &f.key),
            "BAD: consistency from 60 to 100 entries:",
        );
    }
    // The right proof for another entry, or for another size, is not a proof of this one.
    assert_problem(
        "another entry",
        inclusion(&inc, &cp100, &f.key, &["--entry-hash", &f.entry_hash(38)]),
        "the proof is about entry hash",
    );
    assert_problem(
        "another size",
        inclusion(&inc, &cp60, &f.key, &["--entry-hash", &hash]),
        "the proof is for a log of 100 entries, the checkpoint is for 60",
    );
}

#[test]
fn forged_and_tampered_checkpoints_are_found() {
    let f = Fixture::new(100);
    let cp = f.checkpoint(100, "cp100");
    let cp60 = f.checkpoint(60, "cp60");
    let inc = f.prove_inclusion(5, 100, "inc.json");
    let con = f.prove_consistency(60, 100, "con.json");
    let export = f.export("log.jsonl");
    let genuine = SignedCheckpoint::parse(&std::fs::read_to_string(&cp).unwrap()).unwrap();

    // The same statement signed by another key: under another name, under the ledger's
    // name, and under the ledger's name and key id.
    let other = CheckpointKey::generate_for(crate::util::profile(), ORIGIN).unwrap();
    let forged = genuine.checkpoint.sign(&other).unwrap();
    let mut relabelled = forged.clone();
    relabelled.signatures[0].key_id = genuine.signatures[0].key_id;
    let impostor = CheckpointKey::generate_for(crate::util::profile(), "impostor.example").unwrap();
    let cases = [
        (
            "another name",
            genuine.checkpoint.sign(&impostor).unwrap(),
            "no signature by key rotaledger.test/district-7 (key id",
        ),
        (
            "the ledger's name",
            forged,
            "signatures present: rotaledger.test/district-7+",
        ),
        (
            "the ledger's key id",
            relabelled,
            "does not verify over the checkpoint body",
        ),
    ];
    for (what, signed, evidence) in cases {
        let forged = f.write("forged", signed.to_text());
        assert_problem(what, inclusion(&inc, &forged, &f.key, &[]), evidence);
        assert_problem(what, consistency(&cp60, &forged, &con, &f.key), evidence);
        assert_problem(what, audit_export(&export, &forged, &f.key), evidence);
    }

    // The genuine signature over an edited body: another root, another size, another time.
    let text = genuine.to_text();
    let root_line = text.lines().nth(2).unwrap();
    let other_root = {
        let mut r = genuine.checkpoint.root;
        r[0] ^= 1;
        base64::engine::general_purpose::STANDARD.encode(r)
    };
    for (what, tampered) in [
        ("root", text.replacen(root_line, &other_root, 1)),
        ("size", text.replacen("\n100\n", "\n99\n", 1)),
        ("time", text.replacen("time 20", "time 19", 1)),
    ] {
        assert_ne!(tampered, text, "{what}");
        let bad = f.write("tampered", tampered);
        let evidence = "BAD: checkpoint signature:";
        assert_problem(what, inclusion(&inc, &bad, &f.key, &[]), evidence);
        assert_problem(what, consistency(&cp60, &bad, &con, &f.key), evidence);
        assert_problem(what, audit_export(&export, &bad, &f.key), evidence);
    }
}

#[test]
fn a_forked_log_is_found() {
    // The owner keeps two logs under one key: they agree on nothing after the fork point.
    let f = Fixture::new(0);
    let w = open_log(&f.data);
    for i in 0..120 {
        append(
            &w,
            &format!("a{i}"),
            &[format!(r#"{{"branch":"a","n":{i}}}"#)],
        )
        .unwrap();
    }
    w.shutdown();
    drop(w);
    let fork = f.path("fork");
    let w = open_log(&fork);
    for i in 0..150 {
        append(
            &w,
            &format!("b{i}"),
            &[format!(r#"{{"branch":"b","n":{i}}}"#)],
        )
        .unwrap();
    }
    w.shutdown();
    drop(w);
    std::fs::copy(f.data.join(KEY_FILE), fork.join(KEY_FILE)).unwrap();
    let g = Fixture {
        dir: tempfile::tempdir().unwrap(),
        data: fork,
        key: f.key.clone(),
    };

    // Same size, different entries.
    let a100 = f.checkpoint(100, "a100");
    let b100 = g.checkpoint(100, "b100");
    let empty = g.prove_consistency(100, 100, "b-100-100.json");
    assert_problem(
        "same size",
        consistency(&a100, &b100, &empty, &f.key),
        "same size 100 but different roots",
    );
    // The fork grown further: its own consistency proof does not lead from the other root.
    let b150 = g.checkpoint(150, "b150");
    let con = g.prove_consistency(100, 150, "b-100-150.json");
    assert_verified(
        "fork's own history",
        consistency(&b100, &b150, &con, &f.key),
        "extends",
    );
    assert_problem(
        "grown fork",
        consistency(&a100, &b150, &con, &f.key),
        "old root mismatch",
    );
    // An entry of one branch is not in the other.
    let inc = f.prove_inclusion(50, 100, "a-inc.json");
    assert_problem(
        "other branch's entry",
        inclusion(&inc, &b100, &f.key, &[]),
        "root mismatch",
    );
}

#[test]
fn a_rolled_back_log_is_found() {
    let f = Fixture::new(80);
    let cp50 = f.checkpoint(50, "cp50");
    let cp80 = f.checkpoint(80, "cp80");
    let con = f.prove_consistency(50, 80, "con.json");
    // The auditor last saw 80 entries; the log now shows 50.
    assert_problem(
        "rollback",
        consistency(&cp80, &cp50, &con, &f.key),
        "the new checkpoint has 50 entries, fewer than the old checkpoint's 80: the log was rolled back",
    );
    // A proof for other sizes than the checkpoints' is named as such.
    let cp60 = f.checkpoint(60, "cp60");
    assert_problem(
        "sizes",
        consistency(&cp60, &cp80, &con, &f.key),
        "the proof is for a log of 50 entries, the old checkpoint is for 60",
    );
}

#[test]
fn an_altered_export_is_found() {
    let f = Fixture::new(200);
    let cp = f.checkpoint(200, "cp200");
    let cp100 = f.checkpoint(100, "cp100");
    let export = f.export("log.jsonl");
    let text = std::fs::read_to_string(&export).unwrap();

    // A payload edited in place: the chain itself breaks.
    let edited = f.write(
        "edited.jsonl",
        text.replacen(r#"{\"n\":120}"#, r#"{\"n\":121}"#, 1),
    );
    assert_problem(
        "edited",
        audit_export(&edited, &cp, &f.key),
        "BAD: export chain: ",
    );
    let (_, out, _) = audit_export(&edited, &cp, &f.key);
    assert!(out.contains("first bad entry 120: hash mismatch"), "{out}");

    // A history rewritten carefully: entry 120 edited, every later hash recomputed, header
    // updated. The chain verifies; only the signed root tells.
    let rewritten = f.write("rewritten.jsonl", rewrite_from(&text, 120));
    assert_eq!(
        expect(0, &["verify", "--export", s(&rewritten)])
            .matches("verified")
            .count(),
        1
    );
    assert_problem(
        "rewritten",
        audit_export(&rewritten, &cp, &f.key),
        "BAD: root at size 200: the checkpoint signs",
    );
    // The checkpoint before the rewrite still matches the untouched prefix.
    assert_verified(
        "prefix",
        audit_export(&rewritten, &cp100, &f.key),
        "first 100 entries",
    );
    // An inclusion proof checked against the rewritten export's entry fails too.
    let inc = f.prove_inclusion(120, 200, "inc.json");
    assert_problem(
        "rewritten entry",
        inclusion(&inc, &cp, &f.key, &["--export", s(&rewritten)]),
        "the proof is about entry hash",
    );

    // An export shorter than the checkpoint.
    let lines: Vec<&str> = text.lines().collect();
    let short = f.write(
        "short.jsonl",
        rewrite_from(&(lines[..101].join("\n") + "\n"), 200),
    );
    assert_problem(
        "short",
        audit_export(&short, &cp, &f.key),
        "the checkpoint covers 200 entries, the export holds only 100",
    );
}

/// The export `text` with entry `from` edited (if it exists) and every hash from there on,
/// and the header, recomputed: a consistent but different history.
fn rewrite_from(text: &str, from: u64) -> String {
    let mut lines = text.lines();
    let mut header: Header = serde_json::from_str(lines.next().unwrap()).unwrap();
    let p = header.profile().unwrap();
    let mut out = Vec::new();
    let mut hashes = Vec::new();
    let mut prev = [0u8; 32];
    for l in lines {
        let mut line: Line = serde_json::from_str(l).unwrap();
        if line.seq == from {
            line.body = line.body.replace(r#""n":"#, r#""n":1000"#);
        }
        line.prev_hash = hex::encode(prev);
        let h = entry_hash(p, line.seq, &prev, line.body.as_bytes());
        line.hash = hex::encode(h);
        prev = h;
        hashes.push(h);
        out.push(serde_json::to_string(&line).unwrap());
    }
    let (nodes, _) = MemoryNodes::from_entries(p, &hashes).unwrap();
    header.size = hashes.len() as u64;
    header.head_hash = hex::encode(prev);
    header.root = hex::encode(root(&p, header.size, &nodes).unwrap());
    let mut all = vec![serde_json::to_string(&header).unwrap()];
    all.extend(out);
    all.join("\n") + "\n"
}

#[test]
fn unreadable_inputs_cannot_be_audited() {
    let f = Fixture::new(20);
    let cp = f.checkpoint(20, "cp");
    let inc = f.prove_inclusion(3, 20, "inc.json");
    let con = f.prove_consistency(10, 20, "con.json");
    let missing = f.path("missing");
    let garbled_cp = f.write("garbled-cp", "rotaledger.test\nnot a size\n\n— x y\n");
    let garbled_proof = {
        let t = std::fs::read_to_string(&inc).unwrap();
        f.write(
            "garbled.json",
            t.replacen("\"size\": 20", "\"size\": \"20\"", 1),
        )
    };
    let not_json = f.write(
        "not.json",
        "{\n  \"format\": \"rotaledger-proof\",\n  oops\n}\n",
    );
    let bad_key = f.write("bad.pub", "not a key\n");

    let cases: Vec<(&str, (i32, String, String), String)> = vec![
        (
            "missing proof",
            inclusion(&missing, &cp, &f.key, &[]),
            format!("proof file {}", s(&missing)),
        ),
        (
            "missing checkpoint",
            inclusion(&inc, &missing, &f.key, &[]),
            format!("checkpoint {}", s(&missing)),
        ),
        (
            "missing key",
            inclusion(&inc, &cp, &missing, &[]),
            format!("key file {}: no such file", s(&missing)),
        ),
        (
            "garbled key",
            inclusion(&inc, &cp, &bad_key, &[]),
            "line 1: malformed verifier key".into(),
        ),
        (
            "garbled checkpoint",
            inclusion(&inc, &garbled_cp, &f.key, &[]),
            "checkpoint body has 2 lines".into(),
        ),
        (
            "garbled proof",
            inclusion(&garbled_proof, &cp, &f.key, &[]),
            "invalid type: string \"20\", expected u64 at line 7".into(),
        ),
        (
            "not JSON",
            inclusion(&not_json, &cp, &f.key, &[]),
            "key must be a string at line 3 column 3".into(),
        ),
        (
            "wrong kind",
            inclusion(&con, &cp, &f.key, &[]),
            "its kind is \"consistency\", expected \"inclusion\"".into(),
        ),
        (
            "wrong kind",
            consistency(&cp, &cp, &inc, &f.key),
            "its kind is \"inclusion\", expected \"consistency\"".into(),
        ),
        (
            "bad hex",
            inclusion(&inc, &cp, &f.key, &["--entry-hash", "abc"]),
            "--entry-hash is".into(),
        ),
        (
            "missing export",
            audit_export(&missing, &cp, &f.key),
            format!("export {}", s(&missing)),
        ),
        (
            "not an export",
            audit_export(&garbled_cp, &cp, &f.key),
            "not a rotaledger export".into(),
        ),
        (
            "no store",
            run(&["audit", "checkpoint", "--data", s(&missing)]),
            "checkpoint key".into(),
        ),
        (
            "no key",
            run(&["audit", "public-key", "--data", s(&f.path("nothing"))]),
            "checkpoint key".into(),
        ),
        (
            "no store",
            run(&[
                "audit",
                "prove",
                "inclusion",
                "--data",
                s(&missing),
                "--seq",
                "1",
            ]),
            "holds no rotaledger store".into(),
        ),
        (
            "beyond",
            run(&[
                "audit",
                "prove",
                "inclusion",
                "--data",
                s(&f.data),
                "--seq",
                "20",
            ]),
            "no entry 20 in a log of 20 entries".into(),
        ),
        (
            "beyond",
            run(&[
                "audit",
                "prove",
                "consistency",
                "--data",
                s(&f.data),
                "--old",
                "3",
                "--new",
                "21",
            ]),
            "new size 21 is beyond the log's 20 entries".into(),
        ),
        (
            "beyond",
            run(&["audit", "checkpoint", "--data", s(&f.data), "--size", "21"]),
            "size 21 is beyond".into(),
        ),
    ];
    for (name, result, why) in cases {
        assert_cannot_run(name, result, &why);
    }
}

/// The checkpoint of `cp` with one more signature line appended (FORMAT.md §2.5).
fn with_line(cp: &Path, line: &str) -> String {
    format!("{}{line}\n", std::fs::read_to_string(cp).unwrap())
}

#[test]
fn witness_lines_are_ignored_and_malformed_lines_refused() {
    // FORMAT.md §2.5 "Verifying": a well-formed line of another key is ignored; a malformed
    // line, whoever's, makes the checkpoint unreadable (exit 2); the ledger's own line decides.
    let f = Fixture::new(20);
    let cp = f.checkpoint(20, "cp");
    let inc = f.prove_inclusion(3, 20, "inc.json");
    let genuine = SignedCheckpoint::parse(&std::fs::read_to_string(&cp).unwrap()).unwrap();
    // A real cosignature by a witness key, whose base64 has a '+' or '/' so that the URL-safe
    // spelling of the same bytes differs.
    let (witness_line, sig) = (0u8..)
        .map(|seed| {
            let k = CheckpointKey::from_seed("witness.example", &[seed; 32]).unwrap();
            let line = genuine.checkpoint.sign(&k).unwrap().signatures[0].clone();
            (
                line.line(),
                [&line.key_id[..], &line.signature[..]].concat(),
            )
        })
        .find(|(l, _)| l.contains('/') || l.rsplit(' ').next().unwrap().contains('+'))
        .unwrap();
    let cosigned = f.write("cosigned", with_line(&cp, &witness_line));
    assert_verified(
        "cosigned",
        inclusion(&inc, &cosigned, &f.key, &[]),
        "verified: entry 3",
    );

    let url_safe = base64::engine::general_purpose::URL_SAFE.encode(&sig);
    let unpadded = base64::engine::general_purpose::STANDARD_NO_PAD.encode(&sig);
    for (what, line) in [
        ("URL-safe", format!("\u{2014} witness.example {url_safe}")),
        ("unpadded", format!("\u{2014} witness.example {unpadded}")),
        ("a space inside", {
            let b64 = base64::engine::general_purpose::STANDARD.encode(&sig);
            format!("\u{2014} witness.example {} {}", &b64[..40], &b64[40..])
        }),
    ] {
        assert_ne!(line, witness_line, "{what}");
        let bad = f.write("malformed", with_line(&cp, &line));
        assert_cannot_run(
            what,
            inclusion(&inc, &bad, &f.key, &[]),
            "signature line 2 is malformed",
        );
    }

    // The ledger's line with its signature flipped, and a good copy after it: the first
    // decides, so the checkpoint is a forgery (exit 1), not rescued by the second.
    let mut flipped = genuine.clone();
    flipped.signatures[0].signature[0] ^= 1;
    let text = format!("{}{}\n", flipped.to_text(), genuine.signatures[0].line());
    let bad = f.write("flipped-first", text);
    assert_problem(
        "flipped first",
        inclusion(&inc, &bad, &f.key, &[]),
        "does not verify over the checkpoint body",
    );
}

#[test]
fn proof_files_longer_than_their_kind_allows_are_refused() {
    // FORMAT.md §2.4 "Proof length": 64 hashes for inclusion, 65 for consistency.
    let f = Fixture::new(20);
    let cp = f.checkpoint(20, "cp");
    let cp10 = f.checkpoint(10, "cp10");
    let inc = f.prove_inclusion(3, 20, "inc.json");
    let con = f.prove_consistency(10, 20, "con.json");
    let padded = |path: &Path, len: usize| {
        let mut v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        v["proof"] = serde_json::Value::Array(vec!["ab".repeat(32).into(); len]);
        f.write("long.json", serde_json::to_string_pretty(&v).unwrap())
    };
    // At the limit the file is read and the proof simply does not lead to the root (exit 1);
    // one hash more and it is not a proof file (exit 2).
    assert_problem(
        "64 inclusion hashes",
        inclusion(&padded(&inc, 64), &cp, &f.key, &[]),
        "BAD: inclusion of entry 3",
    );
    assert_cannot_run(
        "65 inclusion hashes",
        inclusion(&padded(&inc, 65), &cp, &f.key, &[]),
        "inclusion proof has 65 hashes, more than the 64 any inclusion proof can have",
    );
    assert_problem(
        "65 consistency hashes",
        consistency(&cp10, &cp, &padded(&con, 65), &f.key),
        "BAD: consistency from 10 to 20 entries",
    );
    assert_cannot_run(
        "66 consistency hashes",
        consistency(&cp10, &cp, &padded(&con, 66), &f.key),
        "consistency proof has 66 hashes, more than the 65 any consistency proof can have",
    );
}
