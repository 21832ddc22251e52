//! The independent Python verifiers of docs/examples, run as an auditor runs them: on an export
//! of a real ledger of this run's crypto profile (blake3, or gm in the suite's second pass),
//! and against independent SM3/SM2/Ed25519 vectors (tests/data/gm/check_verifiers.py, whose
//! expected values come from OpenSSL and the standards, never from the verifiers).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::{bin, fill, python_for_verifiers, python_with};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn run(python: &str, args: &[&str]) -> (i32, String) {
    let out = Command::new(python)
        .args(args)
        .output()
        .expect("python3 runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

/// `verify_export.py` accepts a real export of this run's profile, with the head and root the
/// ledger states, and refuses one with a changed body byte.
#[test]
fn verify_export_py_checks_a_real_export() {
    let Some(python) = python_for_verifiers("verify_export.py on a real export") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    fill(&data, 40);
    let export = dir.path().join("log.jsonl");
    let out = Command::new(bin())
        .args(["export", "--data"])
        .arg(&data)
        .arg("--out")
        .arg(&export)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&export).unwrap();
    let header: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(header["crypto"], crate::util::profile().name());
    let head = header["head_hash"].as_str().unwrap().to_owned();
    let root_hex = header["root"].as_str().unwrap().to_owned();
    let script: PathBuf = root().join("docs/examples/verify_export.py");
    let script = script.to_str().unwrap();
    let e = export.to_str().unwrap();
    let (code, said) = run(
        &python,
        &[script, e, "--head-hash", &head, "--root", &root_hex],
    );
    assert_eq!(code, 0, "{said}");
    assert!(
        said.contains(&format!("40 entries, head {head}, root {root_hex}")),
        "{said}"
    );

    // One body byte changed (`{"n":17}` to `{"n":71}`): entry 17's hash no longer matches.
    let bent: String = text
        .lines()
        .enumerate()
        .map(|(i, l)| {
            let l = if i == 18 {
                l.replacen(":17}", ":71}", 1)
            } else {
                l.to_owned()
            };
            l + "\n"
        })
        .collect();
    assert_ne!(bent, text);
    std::fs::write(&export, bent).unwrap();
    let (code, said) = run(&python, &[script, e]);
    assert_eq!(code, 1, "{said}");
    assert!(said.contains("BAD") && said.contains("17"), "{said}");
}

/// Both verifiers on both profiles against independent vectors: SM3 of the standard's
/// examples and OpenSSL's SM3, SM2 and Ed25519 signatures made by the `openssl` command, exports
/// and certificates built from them, and their tampered copies.
#[test]
fn the_python_verifiers_pass_the_independent_vectors() {
    let Some(python) = python_with(
        "check_verifiers.py",
        "import blake3, cryptography, gmssl, hashlib; hashlib.new('sm3')",
        "blake3 cryptography gmssl (with SM3 in hashlib)",
    ) else {
        return;
    };
    let openssl = Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !openssl {
        assert!(
            std::env::var_os("ROTALEDGER_REQUIRE_PYTHON").is_none_or(|v| v != "1"),
            "check_verifiers.py needs the openssl command"
        );
        eprintln!("check_verifiers.py: skipped (needs the openssl command)");
        return;
    }
    let script = root().join("tests/data/gm/check_verifiers.py");
    let (code, said) = run(&python, &[script.to_str().unwrap()]);
    assert_eq!(code, 0, "{said}");
    assert!(said.contains(", 0 failed"), "{said}");
}
