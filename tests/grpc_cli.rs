//! `rotaledger serve` with the CLI client, as an operator runs them.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::util::{bin, school_event};

/// Kills the server if the test fails before stopping it.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `rotaledger serve` on port 0 and returns it with its URL (read from its stdout)
/// once it logs that it is ready (before that every call is answered `UNAVAILABLE`).
fn serve(args: &[&str]) -> (Server, String) {
    let mut child = Command::new(bin())
        .arg("serve")
        .args(["--http", "off"])
        .args(args)
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let server = Server(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    // Reads the log to its end, so the server never blocks on a full pipe.
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("ready: serving the ledger") {
                let _ = ready_tx.send(());
            }
        }
    });
    let line = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the server announces its address");
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    ready_rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the server logs that it is ready");
    (server, format!("http://{addr}"))
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(bin())
        .args(args)
        .env_remove("ROTALEDGER_SERVER")
        .env_remove("ROTALEDGER_TOKEN")
        .env_remove("ROTALEDGER_TOKEN_FILE")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Sends SIGTERM and waits (bounded) for the exit code.
fn terminate(mut s: Server) -> i32 {
    let pid = s.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    for _ in 0..600 {
        if let Some(st) = s.0.try_wait().unwrap() {
            return st.code().unwrap_or(-1);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("the server did not stop on SIGTERM");
}

#[test]
fn serve_append_file_tail_head_verify() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_s = data.to_str().unwrap();
    let (server, url) = serve(&["--data", data_s, "--listen", "127.0.0.1:0"]);

    let file = dir.path().join("events.jsonl");
    let mut text: String = (0..25).map(|i| school_event(i) + "\n").collect();
    text.insert(0, '\n');
    std::fs::write(&file, &text).unwrap();
    let file_s = file.to_str().unwrap();

    let (code, out, err) = run(&[
        "append", "--server", &url, "--file", file_s, "--batch", "10",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("appended 25 events in 3 batches (0 already present); log size 25"),
        "{out}"
    );
    // A rerun appends nothing: the request ids come from the file.
    let (code, out, err) = run(&[
        "append", "--server", &url, "--file", file_s, "--batch", "10", "--json",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["appended"], 0);
    assert_eq!(v["already_present"], 25);
    assert_eq!(v["head"]["size"], 25);

    let (code, out, err) = run(&[
        "tail", "--server", &url, "--from", "20", "--limit", "5", "--json",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 5);
    for (i, l) in lines.iter().enumerate() {
        assert_eq!(l["seq"], 20 + i as u64);
        assert_eq!(l["actor"], "local");
        assert_eq!(l["event"]["school"], format!("S{:04}", 20 + i));
    }

    let (code, out, _) = run(&["head", "--server", &url, "--json"]);
    assert_eq!(code, 0);
    let head: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(head["size"], 25);
    assert_eq!(head["hash"], lines[4]["hash"]);

    let (code, out, err) = run(&["verify", "--server", &url]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("verified") && out.contains("25 entries"),
        "{out}"
    );
    let (code, out, err) = run(&["checkpoint", "--server", &url]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.lines().nth(1) == Some("25"), "{out}");
    assert!(err.contains("signature verified"), "{err}");

    // A refused batch names the file line and says how to resume.
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, format!("{}\n{{oops\n", school_event(99))).unwrap();
    let (code, _, err) = run(&["append", "--server", &url, "--file", bad.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("line 2") && err.contains("InvalidArgument"),
        "{err}"
    );

    assert_eq!(terminate(server), 0, "SIGTERM is a clean exit");
    // The server closed the store: it verifies offline with everything appended.
    let (code, out, err) = run(&["verify", "--data", data_s]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("25 entries"), "{out}");
}

#[test]
fn serve_refuses_unsafe_setups() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_s = data.to_str().unwrap();
    let (code, _, err) = run(&["serve", "--data", data_s, "--listen", "0.0.0.0:0"]);
    assert_eq!(code, 2);
    assert!(err.contains("refusing to listen"), "{err}");

    let cfg = dir.path().join("access.toml");
    let (code, out, _) = run(&["token", "new", "--name", "hr", "--role", "writer"]);
    assert_eq!(code, 0);
    let entry: String = out.lines().skip(2).map(|l| format!("{l}\n")).collect();
    std::fs::write(&cfg, entry).unwrap();
    std::fs::set_permissions(&cfg, std::fs::Permissions::from_mode(0o644)).unwrap();
    let cfg_s = cfg.to_str().unwrap();
    let (code, _, err) = run(&["serve", "--data", data_s, "--config", cfg_s]);
    assert_eq!(code, 2);
    assert!(
        err.contains("readable by group or others") && err.contains("chmod 600"),
        "{err}"
    );

    // Tightened, the same file is accepted and its token works; the hash command agrees.
    std::fs::set_permissions(&cfg, std::fs::Permissions::from_mode(0o600)).unwrap();
    let token = out
        .lines()
        .next()
        .unwrap()
        .strip_prefix("token: ")
        .unwrap()
        .to_owned();
    let (code, hash, _) = run(&["token", "hash", &token]);
    assert_eq!(code, 0);
    assert!(out.contains(hash.trim()), "{out}");
    let (server, url) = serve(&[
        "--data",
        data_s,
        "--listen",
        "127.0.0.1:0",
        "--config",
        cfg_s,
    ]);
    let (code, _, err) = run(&["head", "--server", &url]);
    assert_eq!(code, 2);
    assert!(err.contains("Unauthenticated"), "{err}");
    let (code, out, err) = run(&["head", "--server", &url, "--token", &token]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("size 0"), "{out}");
    // A token file must be private too.
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, format!("{token}\n")).unwrap();
    std::fs::set_permissions(&token_file, std::fs::Permissions::from_mode(0o640)).unwrap();
    let tf = token_file.to_str().unwrap();
    let (code, _, err) = run(&["head", "--server", &url, "--token-file", tf]);
    assert_eq!(code, 2);
    assert!(err.contains("readable by group or others"), "{err}");
    std::fs::set_permissions(&token_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let (code, out, err) = run(&["head", "--server", &url, "--token-file", tf]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(terminate(server), 0);
}

#[test]
fn a_generated_district_loads_through_append_file_with_zero_rejections() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("district.jsonl");
    let file_s = file.to_str().unwrap();
    let (code, out, err) = run(&[
        "generate",
        "--teachers",
        "300",
        "--years",
        "3",
        "--seed",
        "7",
        "--out",
        file_s,
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let text = std::fs::read_to_string(&file).unwrap();
    let lines = text.lines().filter(|l| !l.trim().is_empty()).count();
    let events: usize = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["events"].as_array().expect("append-request lines").len()
        })
        .sum();

    let data = dir.path().join("data");
    let (server, url) = serve(&["--data", data.to_str().unwrap(), "--listen", "127.0.0.1:0"]);
    let (code, out, err) = run(&["append", "--server", &url, "--file", file_s, "--json"]);
    assert_eq!(code, 0, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    // Every line went as its own append, all accepted, in order.
    assert_eq!(v["batches"], lines as u64, "{v}");
    assert_eq!(v["appended"], events as u64, "{v}");
    assert_eq!(v["already_present"], 0, "{v}");
    assert_eq!(v["head"]["size"], events as u64, "{v}");
    // The generator's request ids make a rerun a no-op.
    let (code, out, err) = run(&["append", "--server", &url, "--file", file_s, "--json"]);
    assert_eq!(code, 0, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["appended"], 0, "{v}");
    assert_eq!(v["already_present"], events as u64, "{v}");
    assert_eq!(terminate(server), 0);
}

#[test]
fn serve_demo_loads_a_district_once_and_answers_queries() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo");
    let data_s = data.to_str().unwrap();
    let args = [
        "--demo",
        "--demo-teachers",
        "300",
        "--data",
        data_s,
        "--listen",
        "127.0.0.1:0",
    ];
    let (server, url) = serve(&args);
    // The demo signs people in with its own tokens, kept in its data directory.
    let admin = std::fs::read_to_string(data.join("demo-tokens.txt"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("admin - ").map(str::to_owned))
        .expect("the demo keeps an admin token");
    let (code, out, _) = run(&["head", "--server", &url, "--json"]);
    assert_ne!(code, 0, "the demo refuses a call without a token: {out}");
    let (code, out, err) = run(&["head", "--server", &url, "--json", "--token", &admin]);
    assert_eq!(code, 0, "{out}{err}");
    let head: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let size = head["size"].as_u64().unwrap();
    assert!(
        size > 300,
        "the demo district is loaded before serving: {head}"
    );
    // The generated district's first team (docs/GENERATE.md's ids) is there to query.
    let (code, out, err) = run(&[
        "teams",
        "--server",
        &url,
        "--json",
        "--as-of",
        "2024-01-01",
        "--token",
        &admin,
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let teams: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert!(
        !teams["teams"].as_array().unwrap().is_empty(),
        "the demo has teams: {teams}"
    );
    assert_eq!(terminate(server), 0);

    // A second start serves what is there; nothing is loaded twice.
    let (server, url) = serve(&args);
    let (code, out, _) = run(&["head", "--server", &url, "--json", "--token", &admin]);
    assert_eq!(code, 0);
    let again: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(again["size"].as_u64(), Some(size));
    assert_eq!(again["hash"], head["hash"]);
    assert_eq!(terminate(server), 0);
}
