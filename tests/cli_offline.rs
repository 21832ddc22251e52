//! `rotaledger verify` and `rotaledger export` as a user runs them.

use std::process::Command;

use crate::util::{bin, fill, retry_while_locked};

/// Runs the binary; a store this process just closed may still be locked for a moment (see
/// `retry_while_locked`), so that one failure is retried.
fn run(args: &[&str]) -> (i32, String, String) {
    let once = || {
        let out = Command::new(bin()).args(args).output().unwrap();
        let result = (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        );
        if result.0 == 2 && result.2.contains("could not acquire lock") {
            Err(result.2)
        } else {
            Ok(result)
        }
    };
    retry_while_locked(once).unwrap_or_else(|e| panic!("still locked: {e}"))
}

#[test]
fn export_then_verify_and_tampering_is_located() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    fill(&data, 300);
    let data_s = data.to_str().unwrap();
    let (code, out, err) = run(&["verify", "--data", data_s]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("300 entries"), "{out}");

    let export = dir.path().join("log.jsonl");
    let export_s = export.to_str().unwrap();
    let (code, _, err) = run(&["export", "--data", data_s, "--out", export_s]);
    assert_eq!(code, 0, "{err}");
    let (code, out, _) = run(&["verify", "--export", export_s]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("300 entries"), "{out}");

    let text = std::fs::read_to_string(&export).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 301);
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "edited payload",
            text.replacen(r#"{\"n\":120}"#, r#"{\"n\":121}"#, 1),
            "first bad entry 120: hash mismatch",
        ),
        (
            "truncated at a line boundary",
            lines[..201].join("\n") + "\n",
            "first bad entry 200: the log ends after 200 entries but its head says 300",
        ),
        (
            "truncated mid-line",
            text[..text.len() - 40].to_string(),
            "first bad entry 299: undecodable entry",
        ),
        (
            "a stored hash altered",
            alter_line(&lines, 78, |l| {
                let at = l.find(r#""hash":""#).unwrap() + 8;
                let flipped = if &l[at..at + 1] == "0" { "1" } else { "0" };
                format!("{}{flipped}{}", &l[..at], &l[at + 1..])
            }),
            "first bad entry 77: hash mismatch",
        ),
        (
            "two lines swapped",
            swap_lines(&lines, 11, 12),
            "first bad entry 10: gap in sequence numbers: expected entry 10, found entry 11",
        ),
        (
            "two lines swapped and renumbered",
            {
                let swapped = swap_lines(&lines, 11, 12);
                let l: Vec<&str> = swapped.lines().collect();
                let l = alter_line(&l, 11, |s| s.replacen(r#""seq":11,"#, r#""seq":10,"#, 1));
                let l: Vec<&str> = l.lines().collect();
                alter_line(&l, 12, |s| s.replacen(r#""seq":10,"#, r#""seq":11,"#, 1))
            },
            "first bad entry 10: the entry stored at position 10 says it is entry 11",
        ),
        (
            "a line removed",
            [&lines[..51], &lines[52..]].concat().join("\n") + "\n",
            "first bad entry 50: gap in sequence numbers",
        ),
    ];
    for (name, content, expected) in cases {
        let bad = dir.path().join("bad.jsonl");
        std::fs::write(&bad, content).unwrap();
        let (code, out, err) = run(&["verify", "--export", bad.to_str().unwrap()]);
        assert_eq!(code, 1, "{name}: {out}{err}");
        assert!(out.contains(expected), "{name}: {out}");
    }
}

/// The export with line `i` (0 is the header) replaced by `f(line)`.
fn alter_line(lines: &[&str], i: usize, f: impl FnOnce(&str) -> String) -> String {
    let mut v: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    v[i] = f(&v[i]);
    v.join("\n") + "\n"
}

/// The export with lines `a` and `b` exchanged.
fn swap_lines(lines: &[&str], a: usize, b: usize) -> String {
    let mut v = lines.to_vec();
    v.swap(a, b);
    v.join("\n") + "\n"
}

#[test]
fn could_not_run_is_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nothing-here");
    let (code, _, err) = run(&["verify", "--data", missing.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("holds no rotaledger store"), "{err}");
    let notexport = dir.path().join("x.jsonl");
    std::fs::write(&notexport, "hello\n").unwrap();
    let (code, _, err) = run(&["verify", "--export", notexport.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("not a rotaledger export"), "{err}");
}
